//! `status`: how each watch is doing.

use std::collections::HashMap;

use clap::Args;
use serde::Serialize;

use super::App;
use crate::error::Result;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(long, value_enum, default_value = "text")]
    pub format: StatusFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFormat {
    Text,
    Json,
}

/// One watch's line of `status`.
#[derive(Debug, Serialize)]
pub struct WatchStatus {
    pub watch: String,
    pub kind: &'static str,
    pub watchlist: String,
    pub followed_from: Option<String>,
    pub versions: u64,
    pub last_check: Option<chrono::DateTime<chrono::Utc>>,
    pub last_change: Option<chrono::DateTime<chrono::Utc>>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    pub next_run: Option<chrono::DateTime<chrono::Utc>>,
}

pub fn status(app: &App, args: StatusArgs) -> Result<()> {
    let store = app.open_store()?;
    let engine = app.engine(store.clone())?;
    let states: HashMap<String, _> = store.states()?.into_iter().collect();
    let now = app.clock.now();
    let mut rows = Vec::new();
    for w in engine.all_watches()? {
        let state = states.get(&w.id).cloned().unwrap_or_default();
        let versions = store.latest_version(&w.id)?.map_or(0, |v| v.seq);
        rows.push(WatchStatus {
            watch: w.id.clone(),
            kind: w.target.kind(),
            watchlist: w.list.clone(),
            followed_from: w.followed_from.clone(),
            versions,
            last_check: state.last_check,
            last_change: state.last_change,
            last_error: state.last_error.clone(),
            consecutive_failures: state.consecutive_failures,
            next_run: w.schedule.next_after(now, state.last_fire),
        });
    }
    let outbox = store.outbox()?;
    let dead = outbox.iter().filter(|e| e.dead.is_some()).count();
    let queued = outbox.len() - dead;
    match args.format {
        StatusFormat::Json => {
            for r in &rows {
                println!("{}", serde_json::to_string(r)?);
            }
        }
        StatusFormat::Text => {
            let t = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or("never".to_string(), |t| {
                    t.format("%Y-%m-%d %H:%M").to_string()
                })
            };
            for r in &rows {
                let health = match (&r.last_error, r.consecutive_failures) {
                    (Some(e), n) if n > 0 => format!("FAILING ({n} in a row): {e}"),
                    _ if r.last_check.is_none() => "not checked yet".into(),
                    _ => "ok".into(),
                };
                let followed = r
                    .followed_from
                    .as_ref()
                    .map(|s| format!(" (followed via {s})"))
                    .unwrap_or_default();
                println!(
                    "{} [{}]{followed}: {health}\n    last check {}, last change {}, next run {}, {} versions",
                    r.watch,
                    r.kind,
                    t(r.last_check),
                    t(r.last_change),
                    t(r.next_run),
                    r.versions
                );
            }
            println!("outbox: {queued} queued, {dead} dead");
            if let Some(h) = crate::notify::delivery_halt(store.as_ref())? {
                let since = h.since.format("%Y-%m-%d %H:%M");
                println!("delivery: STOPPED since {since}: {}", h.reason);
            }
        }
    }
    Ok(())
}
