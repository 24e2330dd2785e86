//! The daemon: fires each watch on its cron schedule, delivers the outbox between cycles,
//! and stops cleanly on a shutdown signal. Every commit is one sled transaction, so
//! stopping mid-cycle leaves nothing half-written: the interrupted watches simply run
//! again at their next fire.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::cycle::Engine;
use crate::error::Result;
use crate::notify::Dispatcher;
use crate::watchlist::Watch;

/// Runs until `shutdown` resolves.
pub async fn run(
    engine: Engine,
    dispatcher: Dispatcher,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    tokio::pin!(shutdown);
    let clock = engine.clock.clone();
    let mut next_fire: HashMap<String, DateTime<Utc>> = HashMap::new();
    notify_systemd(&[sd_notify::NotifyState::Ready]);
    loop {
        let now = clock.now();
        let watches = engine.all_watches()?;
        let mut due: Vec<Arc<Watch>> = Vec::new();
        for w in &watches {
            let next = match next_fire.get(&w.id) {
                Some(t) => *t,
                None => first_fire(&engine, w, now)?,
            };
            if next <= now {
                due.push(w.clone());
            } else {
                next_fire.insert(w.id.clone(), next);
            }
        }
        next_fire.retain(|id, _| watches.iter().any(|w| &w.id == id));

        if !due.is_empty() {
            tracing::info!(watches = due.len(), "cycle starting");
            tokio::select! {
                report = engine.check(&due) => {
                    let report = report?;
                    tracing::info!(alerts = report.alerts.len(), failed = report.failures(), "cycle done");
                }
                _ = &mut shutdown => break,
            }
            for w in &due {
                let next = w.schedule.next_after(now, Some(now));
                let mut state = engine.store.state(&w.id)?.unwrap_or_default();
                state.last_fire = Some(now);
                state.next_run = next;
                engine.store.put_state(&w.id, &state)?;
                if let Some(next) = next {
                    next_fire.insert(w.id.clone(), next);
                }
            }
            engine.store.flush()?;
        }

        let drained = tokio::select! {
            r = dispatcher.drain_once() => r,
            _ = &mut shutdown => break,
        };
        let retry_at = match drained {
            Ok(r) => {
                if let Some(reason) = &r.halted {
                    tracing::error!(reason = %reason, "delivery stopped; alerts stay queued");
                }
                r.next_attempt.filter(|_| r.halted.is_none())
            }
            Err(e) => {
                tracing::error!(error = %e, "delivery failed; alerts stay queued");
                None
            }
        };
        notify_systemd(&[sd_notify::NotifyState::Watchdog]);

        let wake = next_fire.values().copied().chain(retry_at).min();
        let Some(wake) = wake else {
            // Nothing scheduled at all (no watches): wait for the signal.
            shutdown.await;
            break;
        };
        tokio::select! {
            _ = clock.sleep_until(wake) => {}
            _ = &mut shutdown => break,
        }
    }
    notify_systemd(&[sd_notify::NotifyState::Stopping]);
    engine.store.flush()?;
    tracing::info!("stopped");
    Ok(())
}

/// When a watch first fires after start: now if it has never run or missed a fire while
/// the daemon was down, else its next scheduled time.
fn first_fire(engine: &Engine, w: &Watch, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let state = engine.store.state(&w.id)?.unwrap_or_default();
    let last = state.last_fire.or(state.last_check);
    Ok(match last {
        None => now,
        Some(last) => match w.schedule.next_after(last, Some(last)) {
            Some(t) if t <= now => now,
            Some(t) => t,
            None => DateTime::<Utc>::MAX_UTC,
        },
    })
}

fn notify_systemd(states: &[sd_notify::NotifyState]) {
    // Outside systemd NOTIFY_SOCKET is unset and this does nothing.
    let _ = sd_notify::notify(false, states);
}
