//! `bill` watches: a bill on the UK Parliament Bills API, keyed by bill id (titles change).
//!
//! A cycle asks for the summaries of all its bills at once (`BillIds`, a page of 20 ids per
//! request) and fetches detail, stages and publications only for bills whose `lastUpdate`
//! moved, that have no stored version yet, or whose last full refresh is older than
//! `bills_full_refresh` (in case `lastUpdate` misses a change).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::config::{SourceBase, Sources};
use crate::data::{Event, Severity};
use crate::error::{Error, Result};
use crate::fetch::FetchError;
use crate::source::kind::{EventInfo, SourceKind};
use crate::source::{Context, Document, Job, Observed, Outcome};
use crate::text::diff;
use crate::watchlist::{KindKeys, KindSyntax, KindTarget, Target, Watch};

pub mod api;
mod events;
pub mod snapshot;

/// The bill id of a page address on the configured bills site
/// (`https://bills.parliament.uk/bills/3548/stages` → 3548); `None` for any other address.
pub fn id_of(url: &url::Url, sources: &Sources) -> Option<u32> {
    let site = sources.url(&api::BILLS_SITE);
    if url.origin() != site.origin() {
        return None;
    }
    let mut parts = url.path().strip_prefix(site.path())?.split('/');
    if parts.next()? != "bills" {
        return None;
    }
    parts.next()?.parse().ok().filter(|id| *id > 0)
}

pub use snapshot::Snapshot;

/// A `bill` watch's target: the bill's id (titles change, ids do not).
#[derive(Debug, Clone, PartialEq)]
pub struct Bill {
    pub id: u32,
}

impl KindTarget for Bill {
    const KIND: &'static str = "bill";
    fn key(&self) -> String {
        self.id.to_string()
    }
}

pub struct BillKind;

impl KindSyntax for BillKind {
    fn name(&self) -> &'static str {
        Bill::KIND
    }
    fn keys(&self) -> &'static [&'static str] {
        &["bill"]
    }
    fn parse(&self, keys: &mut KindKeys<'_, '_, '_>) -> Option<Target> {
        let item = keys.required(
            "bill",
            "the bill's id on bills.parliament.uk, e.g. `bill = 3548`",
        )?;
        let id = keys.positive_u32("bill", item)?;
        Some(Target::new(Bill { id }))
    }
}

const EVENTS: &[EventInfo] = &[
    EventInfo {
        name: "bill.stage_changed",
        severity: Severity::Major,
        meaning: "the bill moved to another stage (from → to, house)",
    },
    EventInfo {
        name: "bill.sitting_added",
        severity: Severity::Notice,
        meaning: "a sitting was added to a stage, or given a date",
    },
    EventInfo {
        name: "bill.publication_added",
        severity: Severity::Notice,
        meaning: "a new publication: amendment paper, explanatory notes, a new print",
    },
    EventInfo {
        name: "bill.renamed",
        severity: Severity::Notice,
        meaning: "the short title changed (including Bill → Act)",
    },
    EventInfo {
        name: "bill.royal_assent",
        severity: Severity::Major,
        meaning: "the bill received Royal Assent",
    },
    EventInfo {
        name: "bill.withdrawn",
        severity: Severity::Major,
        meaning: "the bill was withdrawn",
    },
    EventInfo {
        name: "bill.defeated",
        severity: Severity::Major,
        meaning: "the bill was defeated",
    },
    EventInfo {
        name: "bill.changed",
        severity: Severity::Notice,
        meaning:
            "a text change in a version stored by an older release (not readable as a bill record)",
    },
];

impl SourceKind for BillKind {
    fn about(&self) -> &'static str {
        "a bill on the UK Parliament Bills API, by id"
    }
    fn events(&self) -> &'static [EventInfo] {
        EVENTS
    }
    fn bases(&self) -> &'static [SourceBase] {
        &[api::BILLS_API, api::BILLS_SITE]
    }
    fn human_url(&self, target: &Target, sources: &Sources) -> String {
        let site = sources.url(&api::BILLS_SITE);
        match target.get::<Bill>() {
            Some(b) => site
                .join(&format!("bills/{}", b.id))
                .map_or_else(|_| site.to_string(), |u| u.to_string()),
            None => site.to_string(),
        }
    }
    fn batched(&self) -> bool {
        true
    }
    fn observe<'a>(&'a self, ctx: &'a Context, job: &'a Job) -> BoxFuture<'a, Result<Observed>> {
        Box::pin(async move {
            let mut done = observe_batch(ctx, vec![job.clone()]).await;
            done.pop().map_or_else(
                || Err(Error::extract(job.watch.id.clone(), "bill not observed")),
                |(_, r)| r,
            )
        })
    }
    fn observe_batch<'a>(
        &'a self,
        ctx: &'a Context,
        jobs: Vec<Job>,
    ) -> BoxFuture<'a, Vec<(Job, Result<Observed>)>> {
        Box::pin(observe_batch(ctx, jobs))
    }
    fn compare(&self, watch: &Watch, previous: &Document, next: &Document) -> Result<Vec<Event>> {
        Ok(compare(watch, previous, next))
    }
    fn follow_target(&self, key: &str) -> Option<Target> {
        Some(Target::new(Bill {
            id: key.parse().ok()?,
        }))
    }
}

/// What a bill watch keeps between cycles.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BillState {
    /// The summary's `lastUpdate` at the last full fetch, read as UK local time and kept in
    /// UTC (RFC 3339); kept as the API wrote it if it could not be read.
    pub last_update: Option<String>,
    /// When detail, stages and publications were last fetched.
    pub refreshed_at: Option<DateTime<Utc>>,
}

/// Why a bill is fetched in full this cycle (`None`: the summary says nothing changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    NoVersion,
    Updated,
    Due,
}

/// `lastUpdate` in the form kept in [`BillState`].
pub fn normalise_last_update(raw: Option<&str>) -> Option<String> {
    let raw = raw?;
    Some(api::uk_local_to_utc(raw).map_or_else(|| raw.to_string(), |t| t.to_rfc3339()))
}

/// Decides whether a bill needs its detail, stages and publications this cycle.
pub fn refresh_needed(
    has_version: bool,
    state: &BillState,
    last_update: Option<&str>,
    now: DateTime<Utc>,
    full_refresh: std::time::Duration,
) -> Option<Refresh> {
    if !has_version {
        return Some(Refresh::NoVersion);
    }
    let seen = normalise_last_update(last_update);
    if seen.is_none() || seen != state.last_update {
        return Some(Refresh::Updated);
    }
    let interval = chrono::Duration::from_std(full_refresh).unwrap_or(chrono::Duration::MAX);
    match state.refreshed_at {
        Some(at) if now.signed_duration_since(at) < interval => None,
        _ => Some(Refresh::Due),
    }
}

/// Observes every bill watch of a cycle together, so summaries are asked for in batches.
pub async fn observe_batch(ctx: &Context, jobs: Vec<Job>) -> Vec<(Job, Result<Observed>)> {
    let ids: Vec<Option<u32>> = jobs
        .iter()
        .map(|j| j.watch.target.get::<Bill>().map(|b| b.id))
        .collect();
    let mut unique: Vec<u32> = ids.iter().flatten().copied().collect();
    unique.sort_unstable();
    unique.dedup();

    // One request per page of ids; chunks are independent, so a failed one fails only its
    // own bills.
    let chunks: Vec<&[u32]> = unique.chunks(api::PAGE).collect();
    let answers =
        futures_util::future::join_all(chunks.iter().map(|c| api::summaries(ctx, c))).await;
    let mut summaries: HashMap<u32, Result<api::BillSummary, std::sync::Arc<Error>>> =
        HashMap::new();
    for (chunk, answer) in chunks.iter().zip(answers) {
        match answer {
            Ok(list) => {
                for s in list {
                    if chunk.contains(&s.bill_id) {
                        summaries.insert(s.bill_id, Ok(s));
                    }
                }
            }
            Err(e) => {
                let e = std::sync::Arc::new(e);
                for id in *chunk {
                    summaries.insert(*id, Err(e.clone()));
                }
            }
        }
    }

    let observations = jobs.iter().zip(&ids).map(|(job, id)| {
        let summary = id.map(|id| (id, summaries.get(&id)));
        async move {
            match summary {
                None => Err(Error::extract(
                    job.watch.id.clone(),
                    format!("not a bill watch ({})", job.watch.target.kind()),
                )),
                Some((id, None)) => {
                    let url = api::detail_url(&ctx.base(&api::BILLS_API), id)?;
                    Err(api::not_found(id, &url))
                }
                Some((_, Some(Err(e)))) => Err(duplicate(e)),
                Some((id, Some(Ok(summary)))) => observe_one(ctx, job, id, summary).await,
            }
        }
    });
    let results = futures_util::future::join_all(observations).await;
    jobs.into_iter().zip(results).collect()
}

async fn observe_one(
    ctx: &Context,
    job: &Job,
    id: u32,
    summary: &api::BillSummary,
) -> Result<Observed> {
    let state: BillState = crate::source::decode_state(job)?;
    let refresh = refresh_needed(
        job.has_version,
        &state,
        summary.last_update.as_deref(),
        ctx.now,
        ctx.config.bills_full_refresh,
    );
    if refresh.is_none() {
        return Ok(Observed {
            outcome: Outcome::Unchanged,
            state: job.state.clone(),
        });
    }
    let (detail, stages, publications) = futures_util::try_join!(
        api::detail(ctx, id),
        api::stages(ctx, id),
        api::publications(ctx, id)
    )?;
    let document = Snapshot::build(&detail, &stages, &publications).into_document();
    let state = BillState {
        // The summary's value, not the detail's: it is what the next cycle compares with.
        last_update: normalise_last_update(summary.last_update.as_deref()),
        refreshed_at: Some(ctx.now),
    };
    Ok(Observed {
        outcome: Outcome::Document(document),
        state: serde_json::to_value(state)?,
    })
}

/// Each job gets its own error from a shared failure (errors are not `Clone`).
fn duplicate(e: &Error) -> Error {
    match e {
        Error::Fetch(FetchError::Status {
            url,
            status,
            reason,
        }) => Error::Fetch(FetchError::Status {
            url: url.clone(),
            status: *status,
            reason: reason.clone(),
        }),
        Error::Fetch(FetchError::Failed { url, reason }) => Error::Fetch(FetchError::Failed {
            url: url.clone(),
            reason: reason.clone(),
        }),
        Error::Extract { url, reason } => Error::extract(url.clone(), reason.clone()),
        other => Error::extract("bills summaries", other.to_string()),
    }
}

pub fn compare(_watch: &Watch, previous: &Document, next: &Document) -> Vec<Event> {
    match (
        Snapshot::from_document(previous),
        Snapshot::from_document(next),
    ) {
        (Some(p), Some(n)) => {
            // Each alert shows the record's diff: the changed lines of the timeline.
            let unified = diff::diff(&previous.text, &next.text).unified;
            let mut events = events::events(&p, &n);
            for e in &mut events {
                e.diff.get_or_insert_with(|| unified.clone());
            }
            events
        }
        // A version stored in another shape: say what changed in the text rather than nothing.
        _ => {
            let changes = diff::diff(&previous.text, &next.text);
            let mut e = Event::new(
                "bill.changed",
                format!("{} changed ({})", next.title, changes.summary()),
            );
            e.keyword_text = changes.added_lines.join("\n");
            e.diff = Some(changes.unified);
            vec![e]
        }
    }
}

#[cfg(test)]
mod tests;
