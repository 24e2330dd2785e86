//! Politeness towards each host: two requests to the same `host:port` start at least
//! `per_host_interval` apart, in the order they asked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use url::Url;

/// Entries in the per-host map before stale ones are dropped.
const HOST_MAP_PRUNE: usize = 1024;

type HostSlot = Arc<tokio::sync::Mutex<Option<Instant>>>;

/// Per host (`host:port`): when the last request to it started. The async lock queues
/// callers for that host.
#[derive(Default)]
pub(super) struct HostGate {
    last_start: Mutex<HashMap<String, HostSlot>>,
}

impl HostGate {
    /// Waits until a request to `url`'s host may start: at least `interval` after the
    /// previous one to that host actually started. Callers queue in order (the per-host
    /// lock is fair). Returns the time spent waiting.
    pub(super) async fn wait(&self, url: &Url, interval: Duration) -> Duration {
        if interval.is_zero() {
            return Duration::ZERO;
        }
        let key = format!(
            "{}:{}",
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(0)
        );
        let began = Instant::now();
        let slot = {
            let mut map = self
                .last_start
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if map.len() > HOST_MAP_PRUNE {
                // Nobody is waiting on these, and their interval has passed.
                map.retain(|_, slot| {
                    Arc::strong_count(slot) > 1
                        || slot
                            .try_lock()
                            .map_or(true, |last| last.is_some_and(|t| began - t < interval))
                });
            }
            map.entry(key).or_default().clone()
        };
        let mut last = slot.lock().await;
        if let Some(ready) = last.map(|t| t + interval) {
            if ready > Instant::now() {
                tokio::time::sleep_until(ready).await;
            }
        }
        let now = Instant::now();
        *last = Some(now);
        now - began
    }
}
