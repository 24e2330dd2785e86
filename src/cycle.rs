//! One check cycle: observe the chosen watches, compare with their stored versions, and
//! commit each watch's new version, alerts (with outbox entries) and state in one
//! transaction. Nothing is delivered here; that is [`crate::notify`]'s job.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Utc};
use futures_util::{FutureExt, StreamExt};
use tracing::Instrument;

use crate::annotate;
use crate::config::Config;
use crate::data::{Alert, Destination, Event, Severity, Tone};
use crate::error::{Error, Result};
use crate::fetch::Fetcher;
use crate::schedule::Clock;
use crate::source::{self, registry, Document, FollowTarget, Job, Observed, Outcome};
use crate::store::{CheckCommit, Followed, NewChange, NewVersion, Store, WatchState};
use crate::text::diff;
use crate::watchlist::{TextFilter, Watch, Watchlists};

/// Longest diff excerpt carried in an alert; the full diff stays in the store.
pub const EXCERPT_CHARS: usize = 3000;

/// Events about a watch itself, raised by the cycle for any kind.
pub const HEALTH_EVENTS: &[source::EventInfo] = &[
    source::EventInfo {
        name: "watch.failing",
        severity: Severity::Info,
        meaning: "a watch failed several checks running (`[health] failing_after`)",
    },
    source::EventInfo {
        name: "watch.recovered",
        severity: Severity::Info,
        meaning: "a failing watch works again",
    },
];

/// Everything a cycle needs, built once at startup.
#[derive(Clone)]
pub struct Engine {
    pub config: Arc<Config>,
    pub watchlists: Arc<Watchlists>,
    pub store: Arc<dyn Store>,
    pub fetcher: Arc<Fetcher>,
    pub clock: Arc<dyn Clock>,
}

/// How one watch's check ended.
#[derive(Debug, Clone, PartialEq)]
pub enum RunResult {
    /// First successful check: version stored, nothing alerted.
    Baseline,
    Unchanged,
    /// A new version; the number of alerts it raised.
    Changed {
        alerts: usize,
    },
    /// A new version recorded without an alert (settings edited, or nothing a reader
    /// sees changed): why.
    Quiet(String),
    Failed(String),
}

/// What one check of a watch would write, for `policywatch test` (nothing is written).
#[derive(Debug, Clone)]
pub struct Preview {
    pub run: RunResult,
    /// The stored version the check started from.
    pub seq: Option<u64>,
    /// The version, alerts, state and follows a real check would commit.
    pub commit: CheckCommit,
}

#[derive(Debug, Clone, Default)]
pub struct CycleReport {
    pub runs: Vec<(String, RunResult)>,
    /// Ids of the alerts recorded, in order.
    pub alerts: Vec<u64>,
}

impl CycleReport {
    pub fn failures(&self) -> usize {
        self.runs
            .iter()
            .filter(|(_, r)| matches!(r, RunResult::Failed(_)))
            .count()
    }
}

impl Engine {
    /// Configured watches followed by the watches searches follow (`follow = true`).
    pub fn all_watches(&self) -> Result<Vec<Arc<Watch>>> {
        let mut watches: Vec<Arc<Watch>> = self.watchlists.watches().cloned().collect();
        let configured: HashSet<String> = watches.iter().map(|w| w.id.clone()).collect();
        for f in self.store.follows()? {
            if configured.contains(&f.target.id) || f.unfollowed_at.is_some() {
                continue;
            }
            // A chat follow lives in its watchlist (while that is configured); a search's
            // follow outlives its search only while the search is configured.
            let w = match &f.watchlist {
                Some(name) => match self.watchlists.lists.iter().find(|l| &l.name == name) {
                    Some(list) => chat_followed_watch(list, &f),
                    None => continue,
                },
                None => match self.watchlists.find(&f.followed_by) {
                    Some(search) => followed_watch(search, &f),
                    None => continue,
                },
            };
            if let Some(w) = w {
                watches.push(Arc::new(w));
            }
        }
        Ok(watches)
    }

    /// Checks the given watches once, now. Watches are observed concurrently (each on its
    /// own task, so parsing uses every core) and each result is committed as soon as it
    /// arrives: memory holds only the watches in flight, not the whole cycle.
    pub async fn check(&self, watches: &[Arc<Watch>]) -> Result<CycleReport> {
        self.check_with_progress(watches, &|_, _| {}).await
    }

    /// [`Engine::check`], calling `progress` as each watch's result is recorded (for a
    /// progress bar).
    pub async fn check_with_progress(
        &self,
        watches: &[Arc<Watch>],
        progress: &(dyn Fn(&str, &RunResult) + Sync),
    ) -> Result<CycleReport> {
        Ok(self.cycle(watches, progress, None).await?.0)
    }

    /// Checks the given watches exactly as [`Engine::check`] does, but commits nothing:
    /// what each check would write comes back instead (`policywatch test`).
    pub async fn preview(&self, watches: &[Arc<Watch>]) -> Result<Vec<(String, Preview)>> {
        let (_, previews) = self
            .cycle(watches, &|_, _| {}, Some(Mutex::new(Vec::new())))
            .await?;
        Ok(previews.unwrap_or_default())
    }

    async fn cycle(
        &self,
        watches: &[Arc<Watch>],
        progress: &(dyn Fn(&str, &RunResult) + Sync),
        dry_run: Option<Mutex<Vec<(String, Preview)>>>,
    ) -> Result<(CycleReport, Option<Vec<(String, Preview)>>)> {
        let cycle = Cycle {
            engine: self,
            progress,
            dry_run,
            now: self.clock.now(),
            ctx: source::Context {
                fetcher: self.fetcher.clone(),
                config: self.config.clone(),
                now: self.clock.now(),
            },
            known_targets: OnceLock::new(),
            report: Mutex::new(CycleReport::default()),
        };
        // Kinds that observe in batches get all their watches at once; the rest go one by one.
        let mut batches: Vec<(&'static dyn source::SourceKind, Vec<Arc<Watch>>)> = Vec::new();
        let mut others = Vec::new();
        for w in watches {
            match registry::of(w) {
                Ok(kind) if kind.batched() => {
                    match batches.iter_mut().find(|(k, _)| k.name() == kind.name()) {
                        Some((_, list)) => list.push(w.clone()),
                        None => batches.push((kind, vec![w.clone()])),
                    }
                }
                _ => others.push(w.clone()),
            }
        }
        let batched = futures_util::future::join_all(
            batches
                .into_iter()
                .map(|(kind, list)| cycle.batch(kind, list)),
        );
        let (batched, others) = tokio::join!(batched, cycle.others(others));
        batched.into_iter().collect::<Result<Vec<()>>>()?;
        others?;
        let previews = cycle
            .dry_run
            .map(|p| p.into_inner().unwrap_or_else(|e| e.into_inner()));
        let report = cycle.report.into_inner().unwrap_or_else(|e| e.into_inner());
        Ok((report, previews))
    }
}

/// One running check cycle.
struct Cycle<'a> {
    engine: &'a Engine,
    progress: &'a (dyn Fn(&str, &RunResult) + Sync),
    /// Set for `policywatch test`: each commit is kept here instead of written.
    dry_run: Option<Mutex<Vec<(String, Preview)>>>,
    now: DateTime<Utc>,
    ctx: source::Context,
    /// Every watch's (kind, target), worked out the first time a search offers something
    /// to follow (see [`Cycle::known_targets`]).
    known_targets: OnceLock<HashSet<(String, String)>>,
    report: Mutex<CycleReport>,
}

/// A job with what the store knew before it ran.
struct Loaded {
    job: Job,
    seq: Option<u64>,
    state: WatchState,
}

impl Cycle<'_> {
    /// What a search must not follow: every watch's (kind, target), unfollowed targets
    /// included. Only a search with something to follow needs it: the daemon runs a cycle
    /// per due watch, and building it in every one was quadratic in the number of watches
    /// (a thousand page watches held about 200 MB of copies at once).
    fn known_targets(&self) -> Result<&HashSet<(String, String)>> {
        if let Some(known) = self.known_targets.get() {
            return Ok(known);
        }
        let engine = self.engine;
        let known = engine
            .all_watches()?
            .iter()
            .map(|w| (w.target.kind().to_string(), w.target.key()))
            .chain(engine.store.follows()?.into_iter().filter_map(|f| {
                f.unfollowed_at?;
                Some((f.target.kind, f.target.target))
            }))
            .collect();
        Ok(self.known_targets.get_or_init(|| known))
    }

    /// What a search watch (`follow = true`) offers to follow in `doc` that is not watched
    /// or unfollowed already.
    fn new_targets(
        &self,
        watch: &Watch,
        kind: &dyn source::SourceKind,
        doc: &Document,
    ) -> Result<Vec<FollowTarget>> {
        if !watch.follow {
            return Ok(Vec::new());
        }
        let offered = kind.follows(doc)?;
        if offered.is_empty() {
            return Ok(offered);
        }
        let known = self.known_targets()?;
        Ok(offered
            .into_iter()
            .filter(|t| !known.contains(&(t.kind.clone(), t.target.clone())))
            .collect())
    }

    fn load(&self, watch: Arc<Watch>) -> Result<Loaded> {
        let store = &self.engine.store;
        let state = store.state(&watch.id)?.unwrap_or_default();
        let reads_previous = registry::of(&watch).is_ok_and(|k| k.reads_previous());
        let (seq, previous) = if reads_previous {
            let latest = store.latest_version(&watch.id)?;
            (latest.as_ref().map(|v| v.seq), latest.map(|v| v.document))
        } else {
            (store.latest_seq(&watch.id)?, None)
        };
        Ok(Loaded {
            seq,
            job: Job {
                has_version: seq.is_some(),
                watch,
                previous,
                state: state.source.clone(),
            },
            state,
        })
    }

    /// The previous document, loaded now if observing did not need it.
    fn previous(&self, job: &mut Job, seq: Option<u64>) -> Result<Option<Document>> {
        if let Some(doc) = job.previous.take() {
            return Ok(Some(doc));
        }
        match seq {
            Some(seq) => Ok(self
                .engine
                .store
                .version(&job.watch.id, seq)?
                .map(|v| v.document)),
            None => Ok(None),
        }
    }

    /// A batched kind's watches go together (bills: summaries are asked for 20 at a time).
    async fn batch(
        &self,
        kind: &'static dyn source::SourceKind,
        watches: Vec<Arc<Watch>>,
    ) -> Result<()> {
        if watches.is_empty() {
            return Ok(());
        }
        let mut loaded = Vec::new();
        let mut failed = Vec::new();
        for w in watches {
            match self.load(w.clone()) {
                Ok(l) => loaded.push(l),
                Err(e) => {
                    failed.extend(self.settle(failed_job(w), None, WatchState::default(), Err(e)))
                }
            }
        }
        self.record(failed);
        let mut known: HashMap<String, (Option<u64>, WatchState)> = HashMap::new();
        let jobs = loaded
            .into_iter()
            .map(|l| {
                known.insert(l.job.watch.id.clone(), (l.seq, l.state));
                l.job
            })
            .collect();
        let span = tracing::info_span!("batch", kind = kind.name(), watches = known.len());
        let observed = kind.observe_batch(&self.ctx, jobs).instrument(span).await;
        let mut group = Vec::new();
        for (job, result) in observed {
            let (seq, state) = known.remove(&job.watch.id).unwrap_or_default();
            group.extend(self.settle(job, seq, state, result.map(Ready::from)));
            if group.len() == GROUP_MAX {
                self.record(std::mem::take(&mut group));
            }
        }
        self.record(group);
        Ok(())
    }

    /// Every other watch: a bounded number in flight, each settled as it finishes.
    async fn others(&self, watches: Vec<Arc<Watch>>) -> Result<()> {
        let in_flight = self.engine.config.fetch.concurrency.max(1) * 2;
        let mut results = futures_util::stream::iter(watches)
            .map(|watch| {
                let ctx = self.ctx.clone();
                let loaded = self.load(watch.clone());
                async move {
                    let Loaded { job, seq, state } = match loaded {
                        Ok(loaded) => loaded,
                        // What the store holds for the watch cannot be read: that watch
                        // fails (recorded, shown by `status`); the cycle goes on.
                        Err(e) => return (failed_job(watch), None, WatchState::default(), Err(e)),
                    };
                    let watch = job.watch.clone();
                    let span =
                        tracing::info_span!("watch", id = %watch.id, kind = watch.target.kind());
                    let task = tokio::spawn(
                        async move {
                            let result = match registry::of(&job.watch) {
                                Ok(kind) => kind.observe(&ctx, &job).await,
                                Err(e) => Err(e),
                            };
                            // Made ready to store here, on the thread that extracted it.
                            (job, result.map(Ready::from))
                        }
                        .instrument(span),
                    );
                    match task.await {
                        Ok((job, result)) => (job, seq, state, result),
                        // A panic in one source fails that watch, not the cycle.
                        Err(e) => {
                            let job = Job {
                                has_version: seq.is_some(),
                                previous: None,
                                state: state.source.clone(),
                                watch,
                            };
                            let url = human_url(&job.watch, &self.engine.config);
                            let failed = Err(Error::extract(url, format!("check aborted: {e}")));
                            (job, seq, state, failed)
                        }
                    }
                }
            })
            .buffer_unordered(in_flight);
        // Each wait ends with every check that has finished by then (up to GROUP_MAX),
        // written together in one transaction. The writing is done here, in the cycle's
        // own task: a cycle that is not polled (the daemon paused on a full disk) writes
        // nothing behind its back.
        while let Some(first) = results.next().await {
            let mut group = Vec::new();
            let mut next = Some(first);
            while let Some((job, seq, state, result)) = next {
                group.extend(self.settle(job, seq, state, result));
                next = match group.len() < GROUP_MAX {
                    true => results.next().now_or_never().flatten(),
                    false => None,
                };
            }
            self.record(group);
        }
        Ok(())
    }

    /// Turns one watch's result into its commit (version, alerts, state, follows), to be
    /// written by [`Cycle::record`]; in a dry run it is kept as a preview instead (`None`).
    fn settle(
        &self,
        mut job: Job,
        seq: Option<u64>,
        mut state: WatchState,
        result: Result<Ready>,
    ) -> Option<Settled> {
        // Everything that can fail about this watch happens here, before anything is
        // committed: observing, reading the previous version, comparing, following.
        let settings = extraction_settings(&job.watch);
        let edited = state
            .settings
            .as_ref()
            .filter(|old| **old != settings)
            .cloned();
        let result = result.and_then(|ready| {
            let kind = registry::of(&job.watch)?;
            let Ready { version, state } = ready;
            let found = match version {
                None => Found::Unchanged,
                Some(version) => {
                    let follows = self.new_targets(&job.watch, kind, &version.document)?;
                    match self.previous(&mut job, seq)? {
                        None => Found::Baseline { version, follows },
                        Some(prev) if source::same(&prev, &version.document) => {
                            Found::Same { follows }
                        }
                        // Edited settings make a new baseline, not a change of the page.
                        Some(prev) if edited.is_some() => Found::Quiet {
                            quiet: quiet_change(
                                &job.watch,
                                &prev,
                                &version.document,
                                "watch.settings_changed",
                                settings_summary(edited.as_ref(), &settings),
                            ),
                            version,
                            follows,
                        },
                        Some(prev) => {
                            let doc = &version.document;
                            let events = kind.compare(&job.watch, &prev, doc)?;
                            if events.is_empty() {
                                Found::Quiet {
                                    quiet: quiet_change(
                                        &job.watch,
                                        &prev,
                                        doc,
                                        "watch.quiet",
                                        why_quiet(&prev, doc),
                                    ),
                                    version,
                                    follows,
                                }
                            } else {
                                Found::Changed {
                                    version,
                                    events,
                                    follows,
                                }
                            }
                        }
                    }
                }
            };
            Ok((state, found))
        });
        let (watch, now) = (&job.watch, self.now);
        state.last_check = Some(now);
        let mut commit = CheckCommit {
            watch: watch.id.clone(),
            document: None,
            fetched_at: now,
            changes: Vec::new(),
            state: WatchState::default(),
            follows: Vec::new(),
        };
        let run = match result {
            Ok((source_state, found)) => {
                state.source = source_state;
                state.settings = Some(settings);
                state.last_success = Some(now);
                state.last_error = None;
                state.consecutive_failures = 0;
                if state.failing_alerted {
                    state.failing_alerted = false;
                    commit.changes.push(health_alert(
                        &self.engine.config,
                        watch,
                        "watch.recovered",
                        "Working again".into(),
                        now,
                    ));
                }
                match found {
                    Found::Unchanged => RunResult::Unchanged,
                    Found::Same { follows } => {
                        commit.follows = new_follows(watch, follows, now);
                        RunResult::Unchanged
                    }
                    Found::Baseline { version, follows } => {
                        commit.follows = new_follows(watch, follows, now);
                        commit.document = Some(version);
                        RunResult::Baseline
                    }
                    Found::Changed {
                        version,
                        events,
                        follows,
                    } => {
                        commit.follows = new_follows(watch, follows, now);
                        for event in events {
                            let alert = alert_for(watch, &version.document, event, seq, now);
                            commit.changes.push(alert);
                        }
                        let alerts = commit.changes.len();
                        if alerts > 0 {
                            state.last_change = Some(now);
                        }
                        commit.document = Some(version);
                        RunResult::Changed { alerts }
                    }
                    Found::Quiet {
                        version,
                        quiet,
                        follows,
                    } => {
                        commit.follows = new_follows(watch, follows, now);
                        let why = quiet.summary.clone();
                        let record = record_for(watch, &version.document, quiet, seq, now);
                        commit.changes.push(record);
                        commit.document = Some(version);
                        RunResult::Quiet(why)
                    }
                }
            }
            Err(e) => {
                let message = e.to_string();
                // Reported by the caller (check prints it, the daemon logs it).
                tracing::debug!(watch = %watch.id, error = %message, "check failed");
                state.last_error = Some(message.clone());
                state.consecutive_failures += 1;
                if state.consecutive_failures >= self.engine.config.failing_after
                    && !state.failing_alerted
                {
                    state.failing_alerted = true;
                    let summary = format!(
                        "Failing {} checks running: {message}",
                        state.consecutive_failures
                    );
                    commit.changes.push(health_alert(
                        &self.engine.config,
                        watch,
                        "watch.failing",
                        summary,
                        now,
                    ));
                }
                RunResult::Failed(message)
            }
        };
        commit.state = state;
        self.engine.route(&mut commit.changes);
        if let Some(previews) = &self.dry_run {
            let preview = Preview {
                run: run.clone(),
                seq,
                commit,
            };
            let mut previews = previews.lock().unwrap_or_else(|e| e.into_inner());
            previews.push((watch.id.clone(), preview));
            return None;
        }
        Some(Settled { run, commit })
    }

    /// Writes settled checks together (see [`Store::commit_all`]) and reports each.
    fn record(&self, settled: Vec<Settled>) {
        if settled.is_empty() {
            return;
        }
        let (runs, commits): (Vec<_>, Vec<_>) = settled
            .into_iter()
            .map(|s| ((s.commit.watch.clone(), s.run), s.commit))
            .unzip();
        let committed = self.engine.store.commit_all(commits);
        for ((watch, run), committed) in runs.into_iter().zip(committed) {
            (self.progress)(&watch, &run);
            let mut report = self.report.lock().unwrap_or_else(|e| e.into_inner());
            match committed {
                Ok(committed) => {
                    report.alerts.extend(committed.change_ids);
                    report.runs.push((watch, run));
                }
                Err(e) => {
                    tracing::error!(watch = %watch, error = %e, "could not record the check");
                    report.runs.push((watch, RunResult::Failed(e.to_string())));
                }
            }
        }
    }
}

/// A check settled and waiting to be written.
struct Settled {
    run: RunResult,
    commit: CheckCommit,
}

/// The most checks written in one transaction: enough to share sled's per-transaction
/// cost, few enough that a group's documents are a small part of memory.
const GROUP_MAX: usize = 32;

/// A job for a watch whose stored data could not be loaded: it only records the failure.
fn failed_job(watch: Arc<Watch>) -> Job {
    Job {
        watch,
        has_version: false,
        previous: None,
        state: serde_json::Value::Null,
    }
}

/// What observing a watch gave, a new document already made ready to store (its JSON
/// and hash worked out, see [`NewVersion`]) by whichever thread observed it.
struct Ready {
    /// `None`: the source said nothing changed (304, or nothing new since last time).
    version: Option<NewVersion>,
    state: serde_json::Value,
}

impl From<Observed> for Ready {
    fn from(Observed { outcome, state }: Observed) -> Self {
        let version = match outcome {
            Outcome::Unchanged => None,
            Outcome::Document(doc) => Some(NewVersion::new(doc)),
        };
        Ready { version, state }
    }
}

/// What observing and comparing found, before it is committed.
enum Found {
    Unchanged,
    /// A document equal to the stored version.
    Same {
        follows: Vec<FollowTarget>,
    },
    Baseline {
        version: NewVersion,
        follows: Vec<FollowTarget>,
    },
    Changed {
        version: NewVersion,
        events: Vec<Event>,
        follows: Vec<FollowTarget>,
    },
    /// A new version that raises no alert; `quiet` is its history entry.
    Quiet {
        version: NewVersion,
        quiet: Event,
        follows: Vec<FollowTarget>,
    },
}

/// What decides how a watch's document is extracted: its target (URL, mode, bill id…)
/// and its narrowing. Keywords, schedule and channel are not among them.
fn extraction_settings(watch: &Watch) -> std::collections::BTreeMap<String, String> {
    let f = &watch.filter;
    let list = |v: &[String]| format!("{v:?}");
    [
        ("target", format!("{:?}", watch.target)),
        ("select", list(&f.select)),
        ("ignore_selectors", list(&f.ignore_selectors)),
        (
            "ignore",
            list(&f.ignore.iter().map(|r| r.to_string()).collect::<Vec<_>>()),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// "Settings changed (select: ["main"] → ["body"]): new baseline, no alert".
fn settings_summary(
    old: Option<&std::collections::BTreeMap<String, String>>,
    new: &std::collections::BTreeMap<String, String>,
) -> String {
    let edits: Vec<String> = new
        .iter()
        .filter_map(|(k, v)| {
            let before = old.and_then(|o| o.get(k))?;
            (before != v).then(|| format!("{k}: {before} → {v}"))
        })
        .collect();
    format!(
        "Settings changed ({}): new baseline, no alert",
        edits.join("; ")
    )
}

/// Why a new version raised no event, in a reader's words.
fn why_quiet(prev: &Document, next: &Document) -> String {
    let strip = |t: &str| crate::text::html::strip_invisible(t).into_owned();
    let mut parts = Vec::new();
    if prev.text != next.text {
        parts.push(if strip(&prev.text) == strip(&next.text) {
            "only invisible characters changed in the text".to_string()
        } else {
            "the text changed in a way this watch does not alert on".to_string()
        });
    }
    if prev.title != next.title {
        parts.push(format!("title “{}” → “{}”", prev.title, next.title));
    }
    if prev.url != next.url {
        parts.push(format!("address {} → {}", prev.url, next.url));
    }
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let mut fields: Vec<String> = keys(&prev.fields);
    fields.extend(keys(&next.fields));
    fields.sort();
    fields.dedup();
    let changed: Vec<String> = fields
        .into_iter()
        .filter(|k| prev.fields.get(k) != next.fields.get(k))
        .map(|k| match prev.fields.get(&k) {
            None => format!("`{k}` recorded for the first time"),
            Some(_) => format!("`{k}`"),
        })
        .collect();
    if !changed.is_empty() {
        parts.push(format!("fields no alert is about: {}", changed.join(", ")));
    } else if prev.fields != next.fields {
        parts.push("fields no alert is about".into());
    }
    format!("Stored without an alert: {}", parts.join("; "))
}

/// The history entry of a quiet version: the reason, and the text diff for `show`.
fn quiet_change(
    _watch: &Watch,
    prev: &Document,
    next: &Document,
    kind: &str,
    summary: String,
) -> Event {
    let mut e = Event::new(kind, summary);
    e.severity = Severity::Info;
    let changes = diff::diff(&prev.text, &next.text);
    if !changes.is_empty() {
        e.diff = Some(changes.unified);
    }
    e
}

/// [`alert_for`] without keyword matching or mentions: nobody is told about it.
fn record_for(
    watch: &Watch,
    doc: &Document,
    event: Event,
    from_version: Option<u64>,
    now: chrono::DateTime<chrono::Utc>,
) -> NewChange {
    let mut change = alert_for(watch, doc, event, from_version, now);
    change.alert.keywords.clear();
    change.alert.annotations.clear();
    change.alert.mentions.clear();
    change
}

/// The follows a search offered (not already watched: see [`Cycle::known_targets`]), as
/// the store keeps them.
fn new_follows(
    watch: &Watch,
    follows: Vec<FollowTarget>,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<Followed> {
    follows
        .into_iter()
        .map(|target| Followed {
            target,
            followed_by: watch.id.clone(),
            since: now,
            unfollowed_at: None,
            watchlist: None,
        })
        .collect()
}

/// The watch a follow made in chat stands for, with its watchlist's keywords, channel and
/// schedule; `followed_from` names who followed it.
fn chat_followed_watch(list: &crate::watchlist::Watchlist, f: &Followed) -> Option<Watch> {
    let target = registry::find(&f.target.kind)?.follow_target(&f.target.target)?;
    Some(Watch {
        id: f.target.id.clone(),
        list: list.name.clone(),
        target,
        schedule: list.schedule.clone(),
        keywords: list.keywords.clone(),
        channel: list.channel,
        mentions: list.mentions.clone(),
        filter: TextFilter::default(),
        follow: false,
        followed_from: Some(f.followed_by.clone()),
        origin: None,
        allow_redirects: Vec::new(),
    })
}

/// The watch a follow stands for, with its search's keywords, channel and schedule.
fn followed_watch(search: &Watch, f: &Followed) -> Option<Watch> {
    let target = registry::find(&f.target.kind)?.follow_target(&f.target.target)?;
    Some(Watch {
        id: f.target.id.clone(),
        list: search.list.clone(),
        target,
        schedule: search.schedule.clone(),
        keywords: search.keywords.clone(),
        channel: search.channel,
        mentions: search.mentions.clone(),
        filter: TextFilter::default(),
        follow: false,
        followed_from: Some(search.id.clone()),
        origin: None,
        // A followed watch is read from the same API as its search.
        allow_redirects: search.allow_redirects.clone(),
    })
}

/// Builds the alert for one event: keywords matched, annotations, diff excerpt.
fn alert_for(
    watch: &Watch,
    doc: &Document,
    event: Event,
    from_version: Option<u64>,
    now: chrono::DateTime<chrono::Utc>,
) -> NewChange {
    let hits = annotate::find_keywords(&watch.keywords, &event.keyword_text);
    let mut annotations = event.annotations;
    annotations.extend(hits.iter().map(annotate::describe));
    let full_diff = event.diff.unwrap_or_default();
    NewChange {
        alert: Alert {
            id: 0,
            watch: watch.id.clone(),
            event: event.kind,
            title: event.title.filter(|t| !t.is_empty()).unwrap_or_else(|| {
                if doc.title.is_empty() {
                    watch.id.clone()
                } else {
                    doc.title.clone()
                }
            }),
            url: event.url.unwrap_or_else(|| doc.url.clone()),
            summary: event.summary,
            annotations,
            keywords: hits.into_iter().map(|h| h.keyword).collect(),
            diff: diff::excerpt(&full_diff, EXCERPT_CHARS),
            detected_at: now,
            severity: event.severity,
            tone: event.tone,
            watchlist: watch.list.clone(),
            destination: watch.channel.map(Destination::discord),
            mentions: watch.mentions.clone(),
            from_version,
            to_version: None,
            fields: event.fields,
        },
        full_diff,
        outgoing: Vec::new(),
    }
}

impl Engine {
    /// Applies each alert's watchlist's `[[route]]`s: where and when it goes. A watchlist
    /// with no routes (or an alert none matches) leaves the alert to its own destination.
    fn route(&self, changes: &mut [NewChange]) {
        for c in changes {
            let Some(list) = self
                .watchlists
                .lists
                .iter()
                .find(|l| l.name == c.alert.watchlist)
            else {
                continue;
            };
            if list.routes.is_empty() {
                continue;
            }
            c.outgoing = crate::watchlist::route::plan(
                &list.routes,
                &c.alert,
                c.alert.detected_at,
                list.schedule.timezone(),
            );
        }
    }
}

/// `watch.failing` / `watch.recovered`.
fn health_alert(
    config: &Config,
    watch: &Watch,
    kind: &str,
    summary: String,
    now: chrono::DateTime<chrono::Utc>,
) -> NewChange {
    NewChange {
        alert: Alert {
            id: 0,
            watch: watch.id.clone(),
            event: kind.to_string(),
            title: format!("{} ({})", watch.id, watch.target.kind()),
            url: human_url(watch, config),
            summary,
            annotations: Vec::new(),
            keywords: Vec::new(),
            diff: String::new(),
            detected_at: now,
            severity: Severity::Info,
            tone: Tone::Neutral,
            watchlist: watch.list.clone(),
            destination: watch.channel.map(Destination::discord),
            mentions: Vec::new(),
            from_version: None,
            to_version: None,
            fields: serde_json::Value::Null,
        },
        full_diff: String::new(),
        outgoing: Vec::new(),
    }
}

/// A link for a watch, for alerts that are about the watch rather than a document.
pub fn human_url(watch: &Watch, config: &Config) -> String {
    registry::of(watch).map_or_else(
        |_| String::new(),
        |k| k.human_url(&watch.target, &config.sources),
    )
}
