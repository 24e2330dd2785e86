//! A check cycle run in-process on a [`Project`](super::Project)'s config, watchlists and
//! data directory, with a clock the test moves: for events raised by time passing
//! (`committee.deadline_near`, `si.in_force`), which the binary's wall clock cannot reach.
//! Same engine, sled store and fetcher as `policywatch check`.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use policywatch::config::Config;
use policywatch::cycle::Engine;
use policywatch::event::Alert;
use policywatch::fetch::Fetcher;
use policywatch::schedule::ManualClock;
use policywatch::source::registry;
use policywatch::store::{SledStore, Store};
use policywatch::watchlist;

pub struct Clocked {
    pub engine: Engine,
    pub store: Arc<SledStore>,
    pub clock: Arc<ManualClock>,
}

impl Clocked {
    /// The project at `root` (`policywatch.toml`, `watchlists/`, `data/`), at `now`.
    pub fn open(root: &Path, now: DateTime<Utc>) -> Clocked {
        let config = Config::load(&root.join("policywatch.toml")).unwrap();
        let watchlists =
            watchlist::load_dir(&root.join("watchlists"), &config, registry::kinds()).unwrap();
        let store =
            Arc::new(SledStore::open(&root.join("data"), config.store.cache_capacity).unwrap());
        let clock = Arc::new(ManualClock::new(now));
        let engine = Engine {
            fetcher: Arc::new(Fetcher::new(&config.fetch).unwrap()),
            config: Arc::new(config),
            watchlists: Arc::new(watchlists),
            store: store.clone(),
            clock: clock.clone(),
        };
        Clocked {
            engine,
            store,
            clock,
        }
    }

    /// One cycle over every watch at the clock's time; the alerts it recorded, as
    /// `check --format json` would print them.
    pub async fn check_at(&self, now: DateTime<Utc>) -> Vec<Alert> {
        self.clock.set(now);
        let watches = self.engine.all_watches().unwrap();
        let report = self.engine.check(&watches).await.unwrap();
        for (watch, run) in &report.runs {
            assert!(
                !matches!(run, policywatch::cycle::RunResult::Failed(_)),
                "{watch}: {run:?}"
            );
        }
        report
            .alerts
            .iter()
            .map(|id| self.store.change(*id).unwrap().unwrap().alert)
            .collect()
    }
}

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}
