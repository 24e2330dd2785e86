//! A store that fails on demand, for testing that a broken disk gives clear errors and
//! loses nothing that was already written.

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};

use super::*;
use crate::error::Error;

/// Wraps a real store; while `failing` is set, every call fails with a store error.
pub struct FailingStore<S> {
    inner: S,
    failing: AtomicBool,
}

impl<S: Store> FailingStore<S> {
    pub fn new(inner: S) -> Self {
        FailingStore {
            inner,
            failing: AtomicBool::new(false),
        }
    }

    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    fn check(&self) -> Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            Err(Error::Store("injected failure: disk unavailable".into()))
        } else {
            Ok(())
        }
    }
}

impl<S: Store> Store for FailingStore<S> {
    fn commit(&self, c: CheckCommit) -> Result<Committed> {
        self.check()?;
        self.inner.commit(c)
    }
    fn state(&self, watch: &str) -> Result<Option<WatchState>> {
        self.check()?;
        self.inner.state(watch)
    }
    fn states(&self) -> Result<Vec<(String, WatchState)>> {
        self.check()?;
        self.inner.states()
    }
    fn put_state(&self, watch: &str, state: &WatchState) -> Result<()> {
        self.check()?;
        self.inner.put_state(watch, state)
    }
    fn latest_version(&self, watch: &str) -> Result<Option<Version>> {
        self.check()?;
        self.inner.latest_version(watch)
    }
    fn latest_seq(&self, watch: &str) -> Result<Option<u64>> {
        self.check()?;
        self.inner.latest_seq(watch)
    }
    fn version(&self, watch: &str, seq: u64) -> Result<Option<Version>> {
        self.check()?;
        self.inner.version(watch, seq)
    }
    fn versions(&self, watch: &str) -> Result<Vec<Version>> {
        self.check()?;
        self.inner.versions(watch)
    }
    fn for_each_version(&self, f: &mut dyn FnMut(Version) -> Result<()>) -> Result<()> {
        self.check()?;
        self.inner.for_each_version(f)
    }
    fn change(&self, id: u64) -> Result<Option<ChangeRecord>> {
        self.check()?;
        self.inner.change(id)
    }
    fn changes(&self, filter: &ChangeFilter) -> Result<Vec<ChangeRecord>> {
        self.check()?;
        self.inner.changes(filter)
    }
    fn outbox(&self) -> Result<Vec<OutboxEntry>> {
        self.check()?;
        self.inner.outbox()
    }
    fn put_outbox(&self, entry: &OutboxEntry) -> Result<()> {
        self.check()?;
        self.inner.put_outbox(entry)
    }
    fn mark_delivered(&self, ids: &[u64], at: DateTime<Utc>) -> Result<()> {
        self.check()?;
        self.inner.mark_delivered(ids, at)
    }
    fn drop_outbox(&self, id: u64) -> Result<bool> {
        self.check()?;
        self.inner.drop_outbox(id)
    }
    fn record_alert(&self, change: NewChange) -> Result<u64> {
        self.check()?;
        self.inner.record_alert(change)
    }
    fn sink_state(&self, sink: &str) -> Result<Option<serde_json::Value>> {
        self.check()?;
        self.inner.sink_state(sink)
    }
    fn put_sink_state(&self, sink: &str, state: Option<&serde_json::Value>) -> Result<()> {
        self.check()?;
        self.inner.put_sink_state(sink, state)
    }
    fn sink_states(&self) -> Result<Vec<(String, serde_json::Value)>> {
        self.check()?;
        self.inner.sink_states()
    }
    fn follows(&self) -> Result<Vec<Followed>> {
        self.check()?;
        self.inner.follows()
    }
    fn refollow(&self, id: &str) -> Result<bool> {
        self.check()?;
        self.inner.refollow(id)
    }
    fn unfollow(&self, id: &str) -> Result<bool> {
        self.check()?;
        self.inner.unfollow(id)
    }
    fn flush(&self) -> Result<()> {
        self.check()?;
        self.inner.flush()
    }
}
