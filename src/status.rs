//! Watch health as `status` shows it, and the snapshot the daemon leaves for it.
//!
//! The daemon holds sled's lock, so another process cannot open the store while it runs.
//! After every cycle the daemon writes the same report to `status.json` in the data
//! directory, and `status` reads that when the store is busy: monitoring needs no stop.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cycle::Engine;
use crate::error::{Error, Result};
use crate::notify::{delivery_halt, DeliveryHalt};
use crate::store::WatchState;

/// One watch's line of `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchStatus {
    pub watch: String,
    pub kind: String,
    pub watchlist: String,
    pub followed_from: Option<String>,
    pub versions: u64,
    pub last_check: Option<DateTime<Utc>>,
    pub last_change: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    pub next_run: Option<DateTime<Utc>>,
    /// The zone the watch's schedule is read in (IANA name); times are shown in it.
    #[serde(default = "default_timezone")]
    pub timezone: String,
}

fn default_timezone() -> String {
    crate::schedule::DEFAULT_TIMEZONE.name().to_string()
}

/// Everything `status` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    pub generated_at: DateTime<Utc>,
    pub watches: Vec<WatchStatus>,
    pub queued: usize,
    pub dead: usize,
    pub delivery_halt: Option<DeliveryHalt>,
    /// Problems of an edit to the watchlists or config that the daemon refused to load
    /// (it keeps running the previous lists until they are fixed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watchlist_problems: Vec<String>,
    /// Watches a search found and the team unfollowed: not checked, not followed again
    /// until `policywatch follow`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unfollowed: Vec<Unfollowed>,
}

/// A watch unfollowed by hand, as `status` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unfollowed {
    pub watch: String,
    pub kind: String,
    pub title: String,
    /// The search that found it.
    pub followed_by: String,
    pub unfollowed_at: DateTime<Utc>,
}

/// Reads the report from the store.
pub fn collect(engine: &Engine) -> Result<StatusReport> {
    let store = &engine.store;
    let now = engine.clock.now();
    let states: HashMap<String, _> = store.states()?.into_iter().collect();
    let mut watches = Vec::new();
    for w in engine.all_watches()? {
        let state = states.get(&w.id).cloned().unwrap_or_default();
        watches.push(WatchStatus {
            watch: w.id.clone(),
            kind: w.target.kind().to_string(),
            watchlist: w.list.clone(),
            followed_from: w.followed_from.clone(),
            versions: store.latest_seq(&w.id)?.unwrap_or(0),
            last_check: state.last_check,
            last_change: state.last_change,
            last_error: state.last_error.clone(),
            consecutive_failures: state.consecutive_failures,
            next_run: w.schedule.next_after(now, last_fired(&state)),
            timezone: w.schedule.timezone().name().to_string(),
        });
    }
    let outbox = store.outbox()?;
    let dead = outbox.iter().filter(|e| e.dead.is_some()).count();
    Ok(StatusReport {
        generated_at: now,
        watches,
        queued: outbox.len() - dead,
        dead,
        delivery_halt: delivery_halt(store.as_ref())?,
        watchlist_problems: Vec::new(),
        unfollowed: store
            .follows()?
            .into_iter()
            .filter_map(|f| {
                Some(Unfollowed {
                    unfollowed_at: f.unfollowed_at?,
                    watch: f.target.id,
                    kind: f.target.kind,
                    title: f.target.title,
                    followed_by: f.followed_by,
                })
            })
            .collect(),
    })
}

/// When the scheduler last fired a watch, which its next run must come after (cron's DST
/// fold): every check sets `last_check`; `last_fire` is only in states written by earlier
/// releases.
pub fn last_fired(state: &WatchState) -> Option<DateTime<Utc>> {
    match (state.last_fire, state.last_check) {
        (Some(f), Some(c)) => Some(f.max(c)),
        (f, c) => f.or(c),
    }
}

/// Where the daemon leaves its report.
pub fn snapshot_path(data: &Path) -> PathBuf {
    data.join("status.json")
}

/// Writes the report atomically (a reader never sees half a file).
pub fn write_snapshot(path: &Path, report: &StatusReport) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(report)?).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// The daemon's last report, if it left one.
pub fn read_snapshot(path: &Path) -> Result<Option<StatusReport>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}
