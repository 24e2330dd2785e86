//! A store that fails on demand, for testing that a broken disk gives clear errors and
//! loses nothing that was already written.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::*;
use crate::error::Error;

/// Wraps a real store; while `failing` is set, every call fails with a store error, as a
/// full disk makes them (`No space left on device`). [`FailingStore::fail_only`] fails just
/// some operations (e.g. `mark_delivered`: a send that went through but could not be
/// recorded).
pub struct FailingStore<S> {
    inner: S,
    failing: AtomicBool,
    only: Mutex<Vec<&'static str>>,
}

impl<S: Store> FailingStore<S> {
    pub fn new(inner: S) -> Self {
        FailingStore {
            inner,
            failing: AtomicBool::new(false),
            only: Mutex::new(Vec::new()),
        }
    }

    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Fails only these operations (by method name); empty: none.
    pub fn fail_only(&self, ops: &[&'static str]) {
        *self.only.lock().unwrap_or_else(|e| e.into_inner()) = ops.to_vec();
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn fail(&self, op: &'static str) -> Result<()> {
        let only = self
            .only
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&op);
        if self.failing.load(Ordering::SeqCst) || only {
            Err(Error::Store(format!(
                "{op}: No space left on device (os error 28) [injected]"
            )))
        } else {
            Ok(())
        }
    }
}

impl<S: Store> Store for FailingStore<S> {
    fn commit(&self, c: CheckCommit) -> Result<Committed> {
        self.fail("commit")?;
        self.inner.commit(c)
    }
    fn commit_all(&self, commits: Vec<CheckCommit>) -> Vec<Result<Committed>> {
        if self.fail("commit").is_err() {
            return commits.into_iter().map(|c| self.commit(c)).collect();
        }
        self.inner.commit_all(commits)
    }
    fn state(&self, watch: &str) -> Result<Option<WatchState>> {
        self.fail("state")?;
        self.inner.state(watch)
    }
    fn states(&self) -> Result<Vec<(String, WatchState)>> {
        self.fail("states")?;
        self.inner.states()
    }
    fn put_state(&self, watch: &str, state: &WatchState) -> Result<()> {
        self.fail("put_state")?;
        self.inner.put_state(watch, state)
    }
    fn latest_version(&self, watch: &str) -> Result<Option<Version>> {
        self.fail("latest_version")?;
        self.inner.latest_version(watch)
    }
    fn latest_seq(&self, watch: &str) -> Result<Option<u64>> {
        self.fail("latest_seq")?;
        self.inner.latest_seq(watch)
    }
    fn version(&self, watch: &str, seq: u64) -> Result<Option<Version>> {
        self.fail("version")?;
        self.inner.version(watch, seq)
    }
    fn versions(&self, watch: &str) -> Result<Vec<Version>> {
        self.fail("versions")?;
        self.inner.versions(watch)
    }
    fn for_each_version(&self, f: &mut dyn FnMut(Version) -> Result<()>) -> Result<()> {
        self.fail("for_each_version")?;
        self.inner.for_each_version(f)
    }
    fn change(&self, id: u64) -> Result<Option<ChangeRecord>> {
        self.fail("change")?;
        self.inner.change(id)
    }
    fn changes(&self, filter: &ChangeFilter) -> Result<Vec<ChangeRecord>> {
        self.fail("changes")?;
        self.inner.changes(filter)
    }
    fn outbox(&self) -> Result<Vec<OutboxEntry>> {
        self.fail("outbox")?;
        self.inner.outbox()
    }
    fn put_outbox(&self, entry: &OutboxEntry) -> Result<()> {
        self.fail("put_outbox")?;
        self.inner.put_outbox(entry)
    }
    fn mark_delivered(&self, ids: &[u64], at: DateTime<Utc>) -> Result<()> {
        self.fail("mark_delivered")?;
        self.inner.mark_delivered(ids, at)
    }
    fn mark_sent(&self, keys: &[(u64, u16)], at: DateTime<Utc>) -> Result<()> {
        // Recording a delivery, whichever form: one name for tests to fail.
        self.fail("mark_delivered")?;
        self.inner.mark_sent(keys, at)
    }
    fn drop_outbox(&self, id: u64) -> Result<bool> {
        self.fail("drop_outbox")?;
        self.inner.drop_outbox(id)
    }
    fn drop_outbox_entry(&self, id: u64, slot: u16) -> Result<bool> {
        self.fail("drop_outbox")?;
        self.inner.drop_outbox_entry(id, slot)
    }
    fn record_alert(&self, change: NewChange) -> Result<u64> {
        self.fail("record_alert")?;
        self.inner.record_alert(change)
    }
    fn sink_state(&self, sink: &str) -> Result<Option<serde_json::Value>> {
        self.fail("sink_state")?;
        self.inner.sink_state(sink)
    }
    fn put_sink_state(&self, sink: &str, state: Option<&serde_json::Value>) -> Result<()> {
        self.fail("put_sink_state")?;
        self.inner.put_sink_state(sink, state)
    }
    fn sink_states(&self) -> Result<Vec<(String, serde_json::Value)>> {
        self.fail("sink_states")?;
        self.inner.sink_states()
    }
    fn follows(&self) -> Result<Vec<Followed>> {
        self.fail("follows")?;
        self.inner.follows()
    }
    fn refollow(&self, id: &str) -> Result<bool> {
        self.fail("refollow")?;
        self.inner.refollow(id)
    }
    fn unfollow(&self, id: &str) -> Result<bool> {
        self.fail("unfollow")?;
        self.inner.unfollow(id)
    }
    fn follow(&self, follow: &Followed) -> Result<bool> {
        self.fail("follow")?;
        self.inner.follow(follow)
    }
    fn set_review(&self, change: u64, review: &Review, on: bool) -> Result<bool> {
        self.fail("set_review")?;
        self.inner.set_review(change, review, on)
    }
    fn put_message(&self, message: u64, changes: &[u64]) -> Result<()> {
        self.fail("put_message")?;
        self.inner.put_message(message, changes)
    }
    fn message_changes(&self, message: u64) -> Result<Vec<u64>> {
        self.fail("message_changes")?;
        self.inner.message_changes(message)
    }
    fn dump(&self, f: &mut RawVisitor<'_>) -> Result<()> {
        self.fail("dump")?;
        self.inner.dump(f)
    }
    fn flush(&self) -> Result<()> {
        self.fail("flush")?;
        self.inner.flush()
    }
}
