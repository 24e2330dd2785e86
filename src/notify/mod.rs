//! Delivery: the outbox dispatcher hands queued alerts to a [`Sink`] (Discord, or stdout
//! when no chat is configured) in order per channel, and marks each delivered only after
//! the sink confirms it. Anything not confirmed stays queued.
//!
//! When a sink halts (Discord refused the token), the reason is kept in the store so
//! `status` can show it until a delivery succeeds again ([`delivery_halt`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::schedule::{BoxFuture, Clock};
use crate::store::{ChangeRecord, OutboxEntry, Store, WatchState};

pub mod discord;
pub mod render;
pub mod stdout;

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

/// Somewhere alerts go.
pub trait Sink: Send + Sync {
    /// Delivers alerts for one channel, in order. Returns one outcome per alert attempted;
    /// after the first outcome that is not `Delivered` it may stop (the rest stay queued).
    fn send<'a>(
        &'a self,
        channel: Option<u64>,
        records: &'a [ChangeRecord],
    ) -> BoxFuture<'a, Vec<Delivery>>;
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
}

impl Dispatcher {
    /// One pass: sends every due entry, channel by channel, in id order. A channel stops at
    /// its first entry that cannot be delivered now, so later alerts never overtake it.
    pub async fn drain_once(&self) -> Result<DrainReport> {
        let now = self.clock.now();
        let mut report = DrainReport::default();
        let mut by_channel: BTreeMap<Option<u64>, Vec<OutboxEntry>> = BTreeMap::new();
        for entry in self.store.outbox()? {
            if entry.dead.is_some() {
                report.dead += 1;
                continue;
            }
            by_channel.entry(entry.channel).or_default().push(entry);
        }
        for (channel, entries) in by_channel {
            let first_due = entries[0].next_attempt_at.is_none_or(|t| t <= now);
            if !first_due {
                report.waiting += entries.len();
                report.next_attempt = min_time(report.next_attempt, entries[0].next_attempt_at);
                continue;
            }
            let mut records = Vec::with_capacity(entries.len());
            for e in &entries {
                match self.store.change(e.id)? {
                    Some(r) => records.push(r),
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
            let outcomes = self.sink.send(channel, &records).await;
            let mut stopped = false;
            let mut delivered = Vec::new();
            for (i, entry) in entries.iter().enumerate() {
                let Some(outcome) = outcomes.get(i).filter(|_| !stopped) else {
                    report.waiting += 1;
                    continue;
                };
                match outcome {
                    Delivered => delivered.push(entry.id),
                    Delivery::Retry { after, error } => {
                        let mut e = (*entry).clone();
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
                        e.attempts += 1;
                        e.dead = Some(reason.clone());
                        e.last_error = Some(reason.clone());
                        self.store.put_outbox(&e)?;
                        report.dead += 1;
                    }
                    Delivery::Halt(reason) => {
                        let mut e = (*entry).clone();
                        e.last_error = Some(reason.clone());
                        self.store.put_outbox(&e)?;
                        report.halted = Some(reason.clone());
                        report.waiting += 1;
                        stopped = true;
                    }
                }
            }
            self.store.mark_delivered(&delivered, self.clock.now())?;
            report.delivered += delivered.len();
            if report.halted.is_some() {
                break;
            }
        }
        match &report.halted {
            Some(reason) => set_delivery_halt(self.store.as_ref(), Some(reason), now)?,
            None if report.delivered > 0 => set_delivery_halt(self.store.as_ref(), None, now)?,
            None => {}
        }
        self.store.flush()?;
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

/// The chat sink the config asks for, if any (None: alerts go to stdout): Discord when a
/// bot token is found (`POLICYWATCH_DISCORD_TOKEN` or the `discord-token` credential).
pub fn chat_sink(config: &crate::config::Config) -> Result<Option<Arc<dyn Sink>>> {
    let Some(token) = discord::DiscordToken::from_environment()? else {
        return Ok(None);
    };
    let sink = discord::DiscordSink::new(token, &config.discord)?;
    Ok(Some(Arc::new(sink)))
}

/// Where the delivery halt is kept: the watch-state tree, under a key no watch id can
/// have (watch ids never contain a NUL), so the store needs no new tree.
const DELIVERY_STATE_KEY: &str = "\u{0}delivery";

/// Delivery stopped by the sink (e.g. Discord answered 401/403), as `status` reports it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DeliveryHalt {
    pub since: DateTime<Utc>,
    pub reason: String,
}

/// Whether delivery is stopped, and why.
pub fn delivery_halt(store: &dyn Store) -> Result<Option<DeliveryHalt>> {
    Ok(store.state(DELIVERY_STATE_KEY)?.and_then(|s| {
        Some(DeliveryHalt {
            since: s.last_check?,
            reason: s.last_error?,
        })
    }))
}

/// Records (Some) or clears (None) the delivery halt; keeps the first time it was seen.
fn set_delivery_halt(store: &dyn Store, reason: Option<&str>, now: DateTime<Utc>) -> Result<()> {
    let current = delivery_halt(store)?;
    let state = match (reason, &current) {
        (None, None) => return Ok(()),
        (Some(r), Some(h)) if h.reason == r => return Ok(()),
        (None, Some(_)) => WatchState::default(),
        (Some(r), _) => WatchState {
            last_check: Some(current.map_or(now, |h| h.since)),
            last_error: Some(r.to_string()),
            ..WatchState::default()
        },
    };
    store.put_state(DELIVERY_STATE_KEY, &state)
}
