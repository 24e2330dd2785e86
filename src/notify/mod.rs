//! Delivery: the outbox dispatcher hands queued alerts to a [`Sink`] in order per
//! destination, and marks each delivered only after the sink confirms it. Anything not
//! confirmed stays queued.
//!
//! A destination kind (Discord, …) is one module behind [`DestinationKind`], listed once in
//! [`registry`]; the [`Router`] hands each destination to its kind's sink (stdout when no
//! chat is configured). Grouping alerts into messages is generic ([`group`]); rendering,
//! escaping, limits, nonces and mention syntax are each sink's own.
//!
//! When a sink halts (Discord refused the token), the reason is kept in that sink's own
//! entry of the store's sink states so `status` can show it until one of its deliveries
//! succeeds again ([`delivery_halt`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::data::Destination;
use crate::error::Result;
use crate::schedule::{BoxFuture, Clock};
use crate::store::{OutboxEntry, Store};

pub mod digest;
pub mod discord;
pub mod group;
pub mod registry;
pub mod slack;
pub mod stdout;
pub mod teams;
pub mod webhook;

/// What became of one alert handed to a sink.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    Delivered,
    /// Not now: try again after `after` (a rate limit's `retry_after`), or after the
    /// dispatcher's capped exponential backoff when the sink cannot say (outage, 5xx).
    Retry {
        after: Option<Duration>,
        error: String,
    },
    /// Never: the API refused it for good; keep it as a dead letter with the reason.
    Dead(String),
    /// Stop sending altogether (bad credentials); the alert stays queued.
    Halt(String),
}

/// What a destination does with a repeat of an alert, and so what the outbox does with a
/// send whose outcome is unknown (the process died, or the outcome could not be recorded,
/// between the send and its record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Repeats always show (stdout): such a send is counted delivered; never sent twice.
    Never,
    /// The destination drops a repeat sent within this long of the first (Discord's
    /// nonce): such a send is resent within it, else kept as a dead letter for a person.
    DropsRepeatsWithin(Duration),
    /// No idempotency key, and a repeat is better than a loss (Slack, Teams webhooks):
    /// such a send is always resent, so the alert may show twice after a crash.
    MayRepeat,
}

impl Idempotency {
    /// Whether a send begun at `since` with no recorded outcome goes out again at `now`.
    fn resend(self, since: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        match self {
            Idempotency::Never => false,
            Idempotency::DropsRepeatsWithin(window) => {
                now - since < chrono::Duration::from_std(window).unwrap_or_default()
            }
            Idempotency::MayRepeat => true,
        }
    }
}

/// Somewhere alerts go.
pub trait Sink: Send + Sync {
    /// The destination kind it delivers (`discord`, `stdout`, …): its halt is kept under
    /// this name.
    fn name(&self) -> &str {
        "sink"
    }

    /// Whether it delivers alerts that name no destination (Discord: `[discord] channel`).
    fn takes_default(&self) -> bool {
        false
    }

    /// The name of the sink that delivers to `to`: itself, or for a router the sink it
    /// hands `to` to.
    fn sink_name(&self, _to: Option<&Destination>) -> String {
        self.name().to_string()
    }

    /// Delivers alerts for one destination (`None`: the default one), in order. Returns
    /// one outcome per alert attempted; after the first outcome that is not `Delivered` it
    /// may stop (the rest stay queued).
    fn send<'a>(
        &'a self,
        to: Option<&'a Destination>,
        records: &'a [crate::store::ChangeRecord],
    ) -> BoxFuture<'a, Vec<Delivery>>;

    /// Chat messages posted since the last call, with the alerts each carries: the
    /// dispatcher records them so reactions on a message find its alerts.
    fn take_posted(&self) -> Vec<PostedMessage> {
        Vec::new()
    }

    /// What the destination does with a second send of an alert: decides what the outbox
    /// does with a send whose outcome is unknown. By default a repeat always shows and is
    /// not worth it (stdout).
    fn idempotency(&self, _to: Option<&Destination>) -> Idempotency {
        Idempotency::Never
    }

    /// Delivers a digest of `records` to one destination: the alert ids in the order the
    /// sink sent them, and one outcome per alert attempted in that order. By default, the
    /// alerts as usual.
    fn send_digest<'a>(
        &'a self,
        to: Option<&'a Destination>,
        records: &'a [crate::store::ChangeRecord],
    ) -> BoxFuture<'a, (Vec<u64>, Vec<Delivery>)> {
        Box::pin(async move {
            let order = records.iter().map(|r| r.alert.id).collect();
            (order, self.send(to, records).await)
        })
    }
}

/// A chat message a sink posted, and the alerts (change ids) it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct PostedMessage {
    pub message: u64,
    pub changes: Vec<u64>,
}

/// A destination kind: one module (e.g. [`discord`]) registered in [`registry`].
pub trait DestinationKind: Sync {
    /// The `kind` name, as in `[destinations.NAME] kind = "…"` and in stored destinations.
    fn name(&self) -> &'static str;
    /// Its sink, when the config and credentials set one up; `None`: not configured.
    fn sink(&self, config: &crate::config::Config) -> Result<Option<Arc<dyn Sink>>>;
    /// Problems with one `[destinations.NAME]` of this kind. By default a webhook
    /// destination: it takes no `channel`.
    fn check(&self, _name: &str, settings: &crate::config::DestinationSettings) -> Vec<String> {
        match settings.channel {
            Some(_) => vec![format!(
                "`channel` is for discord destinations; a {} destination's webhook URL is a \
                 secret (see the README, Destinations)",
                self.name()
            )],
            None => vec![],
        }
    }
}

/// Problems with `[destinations]`, each `file:line:col: message`: unknown kinds, and what
/// each kind checks.
pub fn check_destinations(config: &crate::config::Config) -> Vec<String> {
    let known: Vec<&str> = registry::kinds().iter().map(|k| k.name()).collect();
    let mut out = Vec::new();
    for (name, d) in &config.destinations {
        match registry::find(&d.kind) {
            None => out.push(format!(
                "{}: unknown destination kind `{}` in [destinations.{name}]; known kinds: {}",
                d.at,
                d.kind,
                known.join(", ")
            )),
            Some(kind) => out.extend(
                kind.check(name, d)
                    .into_iter()
                    .map(|m| format!("{}: [destinations.{name}]: {m}", d.at)),
            ),
        }
    }
    out
}

/// Hands each destination to the sink of its kind. The default destination (`None`) goes
/// to the first configured sink that takes one (Discord's `[discord] channel`); a destination whose kind has no sink
/// configured, and everything when none is, goes to the fallback (stdout).
pub struct Router {
    sinks: Vec<Arc<dyn Sink>>,
    fallback: Arc<dyn Sink>,
}

impl Router {
    pub fn new(sinks: Vec<Arc<dyn Sink>>, fallback: Arc<dyn Sink>) -> Self {
        Router { sinks, fallback }
    }

    fn pick(&self, to: Option<&Destination>) -> &Arc<dyn Sink> {
        let found = match to {
            Some(d) => self.sinks.iter().find(|s| s.name() == d.kind),
            None => self.sinks.iter().find(|s| s.takes_default()),
        };
        found.unwrap_or(&self.fallback)
    }
}

impl Sink for Router {
    fn name(&self) -> &str {
        "router"
    }

    fn sink_name(&self, to: Option<&Destination>) -> String {
        self.pick(to).sink_name(to)
    }

    fn idempotency(&self, to: Option<&Destination>) -> Idempotency {
        self.pick(to).idempotency(to)
    }

    fn take_posted(&self) -> Vec<PostedMessage> {
        self.sinks.iter().flat_map(|s| s.take_posted()).collect()
    }

    fn send<'a>(
        &'a self,
        to: Option<&'a Destination>,
        records: &'a [crate::store::ChangeRecord],
    ) -> BoxFuture<'a, Vec<Delivery>> {
        self.pick(to).send(to, records)
    }

    fn send_digest<'a>(
        &'a self,
        to: Option<&'a Destination>,
        records: &'a [crate::store::ChangeRecord],
    ) -> BoxFuture<'a, (Vec<u64>, Vec<Delivery>)> {
        self.pick(to).send_digest(to, records)
    }
}

/// Every configured destination kind's sink, routed, with `fallback` for the rest.
pub fn sinks(config: &crate::config::Config, fallback: Arc<dyn Sink>) -> Result<Arc<dyn Sink>> {
    let mut sinks = Vec::new();
    for kind in registry::kinds() {
        if let Some(sink) = kind.sink(config)? {
            sinks.push(sink);
        }
    }
    Ok(Arc::new(Router::new(sinks, fallback)))
}

/// An error with its causes (the one helper for it, shared by every sink).
pub(crate) use crate::text::error_chain;

/// An answer body on one line, short, for an error message.
pub(crate) fn snippet(body: &str) -> String {
    let one = crate::text::one_line(body);
    if one.is_empty() {
        "no details".into()
    } else {
        one.chars().take(200).collect()
    }
}

/// What one pass over the outbox did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DrainReport {
    pub delivered: usize,
    pub waiting: usize,
    pub dead: usize,
    /// Set when the sink asked to stop (e.g. 401/403), with its reason.
    pub halted: Option<String>,
    /// Earliest time a waiting entry may be tried again.
    pub next_attempt: Option<DateTime<Utc>>,
}

/// Backoff for the n-th failed attempt: base doubling, capped.
pub use crate::backoff::delay as backoff;

pub struct Dispatcher {
    pub store: Arc<dyn Store>,
    pub sink: Arc<dyn Sink>,
    pub clock: Arc<dyn Clock>,
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Alerts (id, slot) marked "being sent" in the store by a pass that then stopped
    /// before sending anything (the disk filled between the mark and its flush). This
    /// process knows they were not sent, though the store says otherwise until it can be
    /// written again: the next pass sends them. Empty at start: after a crash the outcome
    /// is truly unknown.
    pub unsent: std::sync::Mutex<std::collections::HashSet<(u64, u16)>>,
}

impl Dispatcher {
    /// Whether this process knows `e` was not sent although marked "being sent".
    fn known_unsent(&self, e: &OutboxEntry) -> bool {
        let unsent = self.unsent.lock().unwrap_or_else(|p| p.into_inner());
        unsent.contains(&(e.id, e.slot))
    }

    /// [`Dispatcher::known_unsent`], forgetting it: it is being sent now.
    fn take_unsent(&self, e: &OutboxEntry) -> bool {
        let mut unsent = self.unsent.lock().unwrap_or_else(|p| p.into_inner());
        unsent.remove(&(e.id, e.slot))
    }

    /// One pass: sends every due entry, destination by destination, in id order. A
    /// destination stops at its first entry that cannot be delivered now, so later alerts
    /// never overtake it; a sink that halts is not asked again in this pass.
    pub async fn drain_once(&self) -> Result<DrainReport> {
        let now = self.clock.now();
        let mut report = DrainReport::default();
        // By destination, then digest (`None`: alerts that go out on their own).
        type Group = (Option<Destination>, Option<String>);
        let mut groups: BTreeMap<Group, Vec<OutboxEntry>> = BTreeMap::new();
        for entry in self.store.outbox()? {
            if entry.dead.is_some() {
                report.dead += 1;
                continue;
            }
            groups
                .entry((entry.destination.clone(), entry.digest.clone()))
                .or_default()
                .push(entry);
        }
        // A send cut short (its alerts still marked `sending_since`) is finished first, with
        // exactly the alerts it had: the sink groups them as before, so each message keeps
        // its nonce and Discord's dedup never swallows an alert that was not in it. The rest
        // of the destination follows, unless that stops it.
        let mut work: Vec<(Group, Vec<OutboxEntry>)> = Vec::new();
        for (group, entries) in groups {
            let (interrupted, rest): (Vec<_>, Vec<_>) =
                entries.into_iter().partition(|e| e.sending_since.is_some());
            if !interrupted.is_empty() {
                work.push((group.clone(), interrupted));
            }
            if !rest.is_empty() {
                work.push((group, rest));
            }
        }
        let mut stopped_destinations: Vec<Group> = Vec::new();
        // Sinks that halted in this pass, and those that delivered (their halt is over).
        let mut halted: BTreeMap<String, String> = BTreeMap::new();
        let mut delivering: BTreeSet<String> = BTreeSet::new();
        for ((destination, digest), entries) in work {
            // Held for a digest or quiet hours: not yet.
            let (entries, held): (Vec<OutboxEntry>, Vec<OutboxEntry>) = entries
                .into_iter()
                .partition(|e| e.hold_until.is_none_or(|t| t <= now));
            report.waiting += held.len();
            for e in &held {
                report.next_attempt = min_time(report.next_attempt, e.hold_until);
            }
            if entries.is_empty() {
                continue;
            }
            let sink_name = self.sink.sink_name(destination.as_ref());
            let group = (destination.clone(), digest.clone());
            if halted.contains_key(&sink_name) || stopped_destinations.contains(&group) {
                report.waiting += entries.len();
                continue;
            }
            let first_due = entries[0].next_attempt_at.is_none_or(|t| t <= now);
            if !first_due {
                report.waiting += entries.len();
                report.next_attempt = min_time(report.next_attempt, entries[0].next_attempt_at);
                // Later alerts of the destination never overtake it.
                stopped_destinations.push(group);
                continue;
            }
            let mut records = Vec::with_capacity(entries.len());
            for e in &entries {
                match self.store.change(e.id)? {
                    Some(mut r) => {
                        // A route's mentions replace the watch's for this destination.
                        if let Some(m) = &e.mentions {
                            r.alert.mentions = m.clone();
                        }
                        records.push(r)
                    }
                    // An outbox entry whose change is gone cannot be delivered: drop it.
                    None => {
                        self.store.drop_outbox(e.id)?;
                    }
                }
            }
            let entries: Vec<&OutboxEntry> = entries
                .iter()
                .filter(|e| records.iter().any(|r| r.alert.id == e.id))
                .collect();
            // At most once: an entry whose earlier send has an unknown outcome (its result
            // could not be recorded) is sent again only while the destination drops repeats;
            // otherwise it is counted delivered (stdout: it was printed) or, for a chat,
            // kept as a dead letter for a person to retry. Never posted twice.
            let (entries, records) = {
                let mut keep = Vec::new();
                let mut keep_records = Vec::new();
                let mut unknown = Vec::new();
                let idempotency = self.sink.idempotency(destination.as_ref());
                for (e, r) in entries.into_iter().zip(records) {
                    let resend = e
                        .sending_since
                        .is_none_or(|since| idempotency.resend(since, now) || self.known_unsent(e));
                    if resend {
                        keep.push(e);
                        keep_records.push(r);
                    } else {
                        unknown.push(e);
                    }
                }
                for e in unknown {
                    tracing::warn!(
                        alert = e.id,
                        "an earlier send of this alert has no recorded outcome; not sending it again"
                    );
                    if idempotency == Idempotency::Never {
                        self.store.mark_sent(&[(e.id, e.slot)], now)?;
                        report.delivered += 1;
                    } else {
                        let mut dead = e.clone();
                        let reason = "delivery outcome unknown (it could not be recorded); \
                                      `policywatch outbox retry ID` sends it again"
                            .to_string();
                        dead.sending_since = None;
                        dead.dead = Some(reason.clone());
                        dead.last_error = Some(reason);
                        self.store.put_outbox(&dead)?;
                        report.dead += 1;
                    }
                }
                (keep, keep_records)
            };
            if entries.is_empty() {
                continue;
            }
            // Record the attempt, durably, before sending: if that cannot be written (a full
            // disk), nothing is sent, and this process remembers that (see `unsent`).
            let to_mark: Vec<&OutboxEntry> = entries
                .iter()
                .copied()
                .filter(|e| e.sending_since.is_none() || self.take_unsent(e))
                .collect();
            let marked: Result<()> = async {
                for e in &to_mark {
                    let mut marked = (*e).clone();
                    marked.sending_since = Some(now);
                    self.store.put_outbox(&marked)?;
                }
                crate::store::fault::flush_bounded(&self.store, crate::store::fault::FLUSH_LIMIT)
                    .await
            }
            .await;
            if let Err(e) = marked {
                self.unsent
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(to_mark.iter().map(|e| (e.id, e.slot)));
                return Err(e);
            }
            let (order, outcomes) = match digest {
                Some(_) => self.sink.send_digest(destination.as_ref(), &records).await,
                None => {
                    let order = records.iter().map(|r| r.alert.id).collect();
                    (order, self.sink.send(destination.as_ref(), &records).await)
                }
            };
            // Remembered so triage reactions on the message find its alerts; a failure
            // costs only the triage of that message.
            for m in self.sink.take_posted() {
                if let Err(e) = self.store.put_message(m.message, &m.changes) {
                    tracing::warn!(message = m.message, error = %e, "could not record the posted message");
                }
            }
            // Entries in the order the sink sent them (a digest reorders).
            let entries: Vec<&OutboxEntry> = order
                .iter()
                .filter_map(|id| entries.iter().find(|e| e.id == *id).copied())
                .collect();
            let mut stopped = false;
            let mut delivered = Vec::new();
            for (i, entry) in entries.iter().enumerate() {
                let Some(outcome) = outcomes.get(i).filter(|_| !stopped) else {
                    // Not attempted after all: no longer "being sent".
                    let mut e = (*entry).clone();
                    e.sending_since = None;
                    self.store.put_outbox(&e)?;
                    report.waiting += 1;
                    continue;
                };
                match outcome {
                    Delivered => delivered.push((entry.id, entry.slot)),
                    Delivery::Retry { after, error } => {
                        let mut e = (*entry).clone();
                        e.sending_since = None;
                        e.attempts += 1;
                        let wait = after.unwrap_or_else(|| {
                            backoff(e.attempts, self.retry_base, self.retry_max)
                        });
                        let at =
                            self.clock.now() + chrono::Duration::from_std(wait).unwrap_or_default();
                        e.next_attempt_at = Some(at);
                        e.last_error = Some(error.clone());
                        self.store.put_outbox(&e)?;
                        report.waiting += 1;
                        report.next_attempt = min_time(report.next_attempt, Some(at));
                        stopped = true;
                    }
                    Delivery::Dead(reason) => {
                        let mut e = (*entry).clone();
                        e.sending_since = None;
                        e.attempts += 1;
                        e.dead = Some(reason.clone());
                        e.last_error = Some(reason.clone());
                        self.store.put_outbox(&e)?;
                        report.dead += 1;
                    }
                    Delivery::Halt(reason) => {
                        let mut e = (*entry).clone();
                        e.sending_since = None;
                        e.last_error = Some(reason.clone());
                        self.store.put_outbox(&e)?;
                        report.halted.get_or_insert_with(|| reason.clone());
                        halted.insert(sink_name.clone(), reason.clone());
                        report.waiting += 1;
                        stopped = true;
                    }
                }
            }
            self.store.mark_sent(&delivered, self.clock.now())?;
            report.delivered += delivered.len();
            if !delivered.is_empty() {
                delivering.insert(sink_name);
            }
            if stopped {
                stopped_destinations.push(group.clone());
            }
        }
        for (sink, reason) in &halted {
            set_delivery_halt(self.store.as_ref(), sink, Some(reason), now)?;
        }
        for sink in delivering.difference(&halted.keys().cloned().collect()) {
            set_delivery_halt(self.store.as_ref(), sink, None, now)?;
        }
        crate::store::fault::flush_bounded(&self.store, crate::store::fault::FLUSH_LIMIT).await?;
        Ok(report)
    }

    /// Drains until the outbox is empty, the sink halts, or `deadline` passes; sleeps
    /// (through the clock) between passes while entries wait for their retry time.
    pub async fn drain_until(&self, deadline: DateTime<Utc>) -> Result<DrainReport> {
        let mut total = DrainReport::default();
        loop {
            let r = self.drain_once().await?;
            total.delivered += r.delivered;
            total.dead = r.dead;
            total.waiting = r.waiting;
            total.halted = r.halted.clone();
            total.next_attempt = r.next_attempt;
            if r.waiting == 0 || r.halted.is_some() {
                return Ok(total);
            }
            match r.next_attempt {
                Some(t) if t <= deadline => self.clock.sleep_until(t).await,
                // Waiting on something with no time set: the pass delivered nothing new.
                _ => return Ok(total),
            }
        }
    }
}

use Delivery::Delivered;

fn min_time(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Delivery stopped by a sink (e.g. Discord answered 401/403), as `status` reports it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DeliveryHalt {
    pub since: DateTime<Utc>,
    pub reason: String,
    /// The sink (destination kind) that stopped.
    #[serde(default)]
    pub sink: String,
}

/// A sink's state in the store: `{"halt": {since, reason}}` while it is halted.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct SinkState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    halt: Option<Halt>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Halt {
    since: DateTime<Utc>,
    reason: String,
}

fn sink_state(store: &dyn Store, sink: &str) -> Result<SinkState> {
    Ok(store
        .sink_state(sink)?
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default())
}

/// Whether delivery is stopped, and why: the first halted sink.
pub fn delivery_halt(store: &dyn Store) -> Result<Option<DeliveryHalt>> {
    Ok(delivery_halts(store)?.into_iter().next())
}

/// Every halted sink.
pub fn delivery_halts(store: &dyn Store) -> Result<Vec<DeliveryHalt>> {
    Ok(store
        .sink_states()?
        .into_iter()
        .filter_map(|(sink, v)| {
            let h = serde_json::from_value::<SinkState>(v).ok()?.halt?;
            Some(DeliveryHalt {
                since: h.since,
                reason: h.reason,
                sink,
            })
        })
        .collect())
}

/// Records (Some) or clears (None) a sink's halt; keeps the first time it was seen.
fn set_delivery_halt(
    store: &dyn Store,
    sink: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut state = sink_state(store, sink)?;
    let halt = reason.map(|r| Halt {
        since: state.halt.as_ref().map_or(now, |h| h.since),
        reason: r.to_string(),
    });
    if state.halt == halt {
        return Ok(());
    }
    state.halt = halt;
    let value = serde_json::to_value(&state)?;
    let empty = value.as_object().is_some_and(|o| o.is_empty());
    store.put_sink_state(sink, (!empty).then_some(&value))
}
