//! Where everything is kept: every distinct version of every watch, the change history, the
//! outbox of alerts to deliver, each watch's state and the watches that searches follow.
//!
//! The [`Store`] trait is small on purpose; [`SledStore`] is the real implementation (also
//! in memory, for tests, via [`SledStore::temporary`]) and [`FailingStore`] fails on demand.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::data::{Alert, Destination, Outgoing};
use crate::data::{Document, FollowTarget};
use crate::error::Result;

pub mod codec;
mod failing;
pub mod fault;
pub mod history_csv;
pub mod json;
mod phrase;
pub mod recovery;
mod sled_store;

pub use failing::FailingStore;
pub use phrase::{phrase_history, phrase_matcher, Phrase, PhraseChange};
pub use sled_store::{RawRead, SledStore};

/// Receives (tree, key, value) of every record (see [`Store::dump`]).
pub type RawVisitor<'a> = dyn FnMut(&[u8], &[u8], &[u8]) -> Result<()> + 'a;

/// A record a lenient read passed over, named so the user can find it.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    /// `change 42`, `version w v3`, `the change history after change 41`.
    pub what: String,
    pub reason: String,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is unreadable ({})", self.what, self.reason)
    }
}

/// One stored version of a watch's document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub watch: String,
    /// 1 for the baseline, then one more per distinct version.
    pub seq: u64,
    pub fetched_at: DateTime<Utc>,
    /// SHA-256 of the document, hex.
    pub hash: String,
    pub document: Document,
}

/// One entry of the change history: an alert and the full diff behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeRecord {
    pub alert: Alert,
    /// The whole diff; `alert.diff` may be an excerpt of it.
    pub full_diff: String,
    pub delivered_at: Option<DateTime<Utc>>,
    /// Triage marks the team left on the alert's chat message (✅ reviewed, 👀 looking).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reviews: Vec<Review>,
}

/// One triage mark on an alert: who, which mark, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// The member's name as the chat showed it.
    pub by: String,
    /// `reviewed` (✅) or `looking` (👀).
    pub mark: String,
    pub at: DateTime<Utc>,
    /// The member's chat id (to undo the mark when the reaction is removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// The mark names, as stored and shown.
pub const REVIEWED: &str = "reviewed";
pub const LOOKING: &str = "looking";

/// An alert waiting to be delivered, or given up on (dead letter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Equals the change id; the outbox is ordered by it.
    pub id: u64,
    /// Where it goes (`None`: the default destination). Stored as `channel`, a number for
    /// a Discord channel, as before destinations had kinds.
    #[serde(rename = "channel", default)]
    pub destination: Option<Destination>,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Set when delivery was abandoned: the reason the API gave.
    pub dead: Option<String>,
    /// Set (and made durable) just before a send; cleared when its outcome is recorded. Still
    /// set on a later pass, the outcome is unknown: the send may have gone through.
    #[serde(default)]
    pub sending_since: Option<DateTime<Utc>>,
    /// Which of the change's destinations (0 for the first): one entry per destination
    /// its routes send it to.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub slot: u16,
    /// Held until this time (a digest, quiet hours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_until: Option<DateTime<Utc>>,
    /// The digest it goes out in (the route's key); `None`: on its own, as soon as it can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Mentions for this destination, replacing the alert's own (a route's `mentions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mentions: Option<Vec<crate::data::Mention>>,
}

fn is_zero(n: &u16) -> bool {
    *n == 0
}

impl OutboxEntry {
    /// The entry of a new change, queued for `out`.
    pub fn queued(id: u64, slot: u16, out: Outgoing) -> Self {
        OutboxEntry {
            id,
            destination: out.destination,
            attempts: 0,
            next_attempt_at: None,
            last_error: None,
            dead: None,
            slot,
            hold_until: out.hold_until,
            digest: out.digest,
            mentions: out.mentions,
            sending_since: None,
        }
    }
}

/// What the store remembers of a watch between checks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WatchState {
    pub last_check: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_change: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    /// When the scheduler last fired the watch (guards against cron's DST fold).
    pub last_fire: Option<DateTime<Utc>>,
    pub next_run: Option<DateTime<Utc>>,
    /// Whether `watch.failing` was raised and `watch.recovered` not yet.
    pub failing_alerted: bool,
    /// Kind-specific memory (validators, `lastUpdate`, refresh times).
    #[serde(default)]
    pub source: serde_json::Value,
    /// The extraction settings the latest version was made with (`select`, `ignore`, …):
    /// when they are edited the next version is a quiet new baseline, not a change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<std::collections::BTreeMap<String, String>>,
}

/// A watch created by a search's `follow = true`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Followed {
    pub target: FollowTarget,
    /// Id of the search watch that found it.
    pub followed_by: String,
    pub since: DateTime<Utc>,
    /// Set by `unfollow`: the watch is no longer checked, and its search does not follow
    /// it again until `follow` says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unfollowed_at: Option<DateTime<Utc>>,
    /// Set on a follow made in chat (or by hand), which no search backs: the watchlist
    /// whose schedule, keywords and channel the watch takes. `followed_by` then names who.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watchlist: Option<String>,
}

/// An alert to record, before the store has given it an id.
#[derive(Debug, Clone)]
pub struct NewChange {
    /// `id` is assigned by [`Store::commit`].
    pub alert: Alert,
    pub full_diff: String,
    /// Where its routes send it (one outbox entry each); empty: one entry for the alert's
    /// own destination, immediately.
    pub outgoing: Vec<Outgoing>,
}

/// Everything one check of one watch writes, applied in one transaction.
#[derive(Debug, Clone)]
pub struct CheckCommit {
    pub watch: String,
    /// A new distinct version, if the document changed (or this is the baseline).
    pub document: Option<NewVersion>,
    pub fetched_at: DateTime<Utc>,
    pub changes: Vec<NewChange>,
    pub state: WatchState,
    pub follows: Vec<Followed>,
}

/// What [`Store::commit`] assigned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Committed {
    pub seq: Option<u64>,
    pub change_ids: Vec<u64>,
}

/// Which changes `history` wants.
#[derive(Debug, Clone, Default)]
pub struct ChangeFilter {
    pub watch: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

pub trait Store: Send + Sync {
    /// Writes a check's version, changes, outbox entries, state and follows atomically.
    /// A document equal to the latest version stores no new version.
    fn commit(&self, commit: CheckCommit) -> Result<Committed>;

    /// [`Store::commit`] for several checks at once, a result for each, in order. A store
    /// may write them together (cheaper), but one commit that cannot be written fails
    /// only itself.
    fn commit_all(&self, commits: Vec<CheckCommit>) -> Vec<Result<Committed>> {
        commits.into_iter().map(|c| self.commit(c)).collect()
    }

    fn state(&self, watch: &str) -> Result<Option<WatchState>>;
    fn states(&self) -> Result<Vec<(String, WatchState)>>;
    fn put_state(&self, watch: &str, state: &WatchState) -> Result<()>;

    fn latest_version(&self, watch: &str) -> Result<Option<Version>>;
    /// The latest version's number, without reading the version.
    fn latest_seq(&self, watch: &str) -> Result<Option<u64>>;
    fn version(&self, watch: &str, seq: u64) -> Result<Option<Version>>;
    /// Every version of a watch, oldest first.
    fn versions(&self, watch: &str) -> Result<Vec<Version>>;
    /// Every version of every watch, by watch then seq, without holding them all in memory.
    fn for_each_version(&self, f: &mut dyn FnMut(Version) -> Result<()>) -> Result<()>;

    fn change(&self, id: u64) -> Result<Option<ChangeRecord>>;
    /// [`Store::for_each_version_of`] handing over each version as its JSON, undecoded:
    /// phrase history scans a document's text without building every version.
    fn for_each_version_json_of(
        &self,
        watch: &str,
        f: &mut dyn FnMut(&[u8]) -> Result<bool>,
    ) -> Result<()> {
        self.for_each_version_of(watch, &mut |v| f(&serde_json::to_vec(&v)?))
    }
    /// Changes with ids above `after`, oldest first (or newest first), handed to `f` one at
    /// a time until it returns false: the history browser pages without loading them all.
    fn scan_changes(
        &self,
        after: u64,
        newest_first: bool,
        f: &mut dyn FnMut(ChangeRecord) -> Result<bool>,
    ) -> Result<()> {
        let mut all = self.changes(&ChangeFilter::default())?;
        all.retain(|r| r.alert.id > after);
        if newest_first {
            all.reverse();
        }
        for r in all {
            if !f(r)? {
                break;
            }
        }
        Ok(())
    }
    /// One watch's versions, oldest first, one at a time until `f` returns false.
    fn for_each_version_of(
        &self,
        watch: &str,
        f: &mut dyn FnMut(Version) -> Result<bool>,
    ) -> Result<()> {
        for v in self.versions(watch)? {
            if !f(v)? {
                break;
            }
        }
        Ok(())
    }
    /// Changes matching the filter, oldest first.
    fn changes(&self, filter: &ChangeFilter) -> Result<Vec<ChangeRecord>>;

    /// [`Store::changes`] that hands each unreadable record to `skip` and goes on (unless
    /// `skip` returns an error).
    fn changes_skipping(
        &self,
        filter: &ChangeFilter,
        skip: &mut dyn FnMut(Unreadable) -> Result<()>,
    ) -> Result<Vec<ChangeRecord>> {
        let _ = skip;
        self.changes(filter)
    }

    /// Every version (of `watch`, or of all watches), handing each unreadable record to
    /// `skip` and going on.
    fn versions_skipping(
        &self,
        watch: Option<&str>,
        f: &mut dyn FnMut(Version) -> Result<()>,
        skip: &mut dyn FnMut(Unreadable) -> Result<()>,
    ) -> Result<()> {
        let _ = skip;
        match watch {
            Some(w) => self.versions(w)?.into_iter().try_for_each(f),
            None => self.for_each_version(f),
        }
    }

    /// The outbox in delivery order, dead letters included.
    fn outbox(&self) -> Result<Vec<OutboxEntry>>;
    fn put_outbox(&self, entry: &OutboxEntry) -> Result<()>;
    /// Removes the changes' entries (every destination's) from the outbox and stamps the
    /// changes as delivered, in one transaction.
    fn mark_delivered(&self, ids: &[u64], at: DateTime<Utc>) -> Result<()> {
        let keys: Vec<(u64, u16)> = self
            .outbox()?
            .iter()
            .filter(|e| ids.contains(&e.id))
            .map(|e| (e.id, e.slot))
            .collect();
        self.mark_sent(&keys, at)
    }
    /// Removes these entries (change id, slot) from the outbox and stamps their changes as
    /// delivered, all in one transaction: alerts posted together in one message are marked
    /// together, so a crash cannot leave part of a message queued to be posted again.
    fn mark_sent(&self, keys: &[(u64, u16)], at: DateTime<Utc>) -> Result<()>;
    /// Removes a change's entries without delivering them; true if there were any.
    fn drop_outbox(&self, id: u64) -> Result<bool>;
    /// Removes one entry (change id, slot: one destination of the change) without
    /// delivering it; true if it was there.
    fn drop_outbox_entry(&self, id: u64, slot: u16) -> Result<bool>;
    /// Records an alert that belongs to no check (e.g. `watch.failing` raised at delivery),
    /// with its outbox entry; returns its id.
    fn record_alert(&self, change: NewChange) -> Result<u64>;

    /// What a sink (a destination kind) keeps between runs, e.g. why it halted: its own
    /// entry in a tree of sink states, by sink name.
    fn sink_state(&self, sink: &str) -> Result<Option<serde_json::Value>>;
    /// Replaces (Some) or removes (None) a sink's state.
    fn put_sink_state(&self, sink: &str, state: Option<&serde_json::Value>) -> Result<()>;
    /// Every sink's state, by sink name.
    fn sink_states(&self) -> Result<Vec<(String, serde_json::Value)>>;

    /// Every follow, the unfollowed ones included (see [`Followed::unfollowed_at`]).
    fn follows(&self) -> Result<Vec<Followed>>;
    /// Follows again a watch that was unfollowed; true if it was.
    fn refollow(&self, id: &str) -> Result<bool>;
    /// Stops following, and remembers it so the search does not follow it again; true if
    /// the watch was followed.
    fn unfollow(&self, id: &str) -> Result<bool>;
    /// Adds a follow (or follows again one that was unfollowed, taking the new one's
    /// attribution); false if it was already followed.
    fn follow(&self, follow: &Followed) -> Result<bool>;

    /// Adds (`on`) or removes a triage mark of one member on a change; true if that changed
    /// anything. A member has at most one mark of each kind per change.
    fn set_review(&self, change: u64, review: &Review, on: bool) -> Result<bool>;
    /// Remembers which changes a posted chat message carries (for reactions on it).
    fn put_message(&self, message: u64, changes: &[u64]) -> Result<()>;
    /// The changes a posted chat message carries (empty when it is not ours).
    fn message_changes(&self, message: u64) -> Result<Vec<u64>>;

    /// Makes everything written so far durable.
    fn flush(&self) -> Result<()>;

    /// Hands every record of every tree (tree, key, value) to `f`, at one consistent
    /// moment: writes wait meanwhile. What `backup` writes.
    fn dump(&self, f: &mut RawVisitor<'_>) -> Result<()> {
        let _ = f;
        Err(crate::error::Error::Store(
            "this store cannot be backed up".into(),
        ))
    }
}

/// A watch the store has never seen is a mistake to point out, not an empty answer.
pub fn known_watch(store: &dyn Store, watch: &str) -> Result<()> {
    if store.latest_seq(watch)?.is_some() || store.state(watch)?.is_some() {
        return Ok(());
    }
    Err(crate::error::Error::NotFound {
        what: "watch",
        id: watch.to_string(),
    })
}

/// The changes `history` lists (and `/history` in chat): those matching `filter`, oldest
/// first, quiet records only with `all`; unreadable records go to `skip`.
pub fn history(
    store: &dyn Store,
    filter: &ChangeFilter,
    all: bool,
    skip: &mut dyn FnMut(Unreadable) -> Result<()>,
) -> Result<Vec<ChangeRecord>> {
    if let Some(watch) = &filter.watch {
        known_watch(store, watch)?;
    }
    Ok(store
        .changes_skipping(filter, skip)?
        .into_iter()
        .filter(|r| all || !crate::data::is_quiet(&r.alert.event))
        .collect())
}

/// Two stored versions of a watch and their diff, as `diff` (and `/diff`) show them:
/// `to` defaults to the latest, `from` to the one before `to`.
pub fn version_diff(
    store: &dyn Store,
    watch: &str,
    from: Option<u64>,
    to: Option<u64>,
) -> Result<(Version, Version, crate::text::diff::Changes)> {
    known_watch(store, watch)?;
    let latest = store
        .latest_version(watch)?
        .ok_or_else(|| crate::error::Error::NotFound {
            what: "stored version of watch",
            id: watch.to_string(),
        })?;
    let to = to.unwrap_or(latest.seq);
    let from = from.unwrap_or(to.saturating_sub(1).max(1));
    let version = |seq: u64| {
        store
            .version(watch, seq)?
            .ok_or_else(|| crate::error::Error::NotFound {
                what: "version",
                id: format!("{watch} v{seq}"),
            })
    };
    let (a, b) = (version(from)?, version(to)?);
    let changes = crate::text::diff::diff(&a.document.text, &b.document.text);
    Ok((a, b, changes))
}

/// One triage mark as `show` prints it: `reviewed by alice at 2026-01-05 09:12 UTC`.
pub fn review_line(r: &Review) -> String {
    format!(
        "{} by {} at {}",
        r.mark,
        r.by,
        r.at.format("%Y-%m-%d %H:%M UTC")
    )
}

/// The marks of a change as `history` appends them: `  [reviewed: alice; looking: bob]`.
pub fn review_tag(reviews: &[Review]) -> String {
    if reviews.is_empty() {
        return String::new();
    }
    let marks: Vec<String> = reviews
        .iter()
        .map(|r| format!("{}: {}", r.mark, r.by))
        .collect();
    format!("  [{}]", marks.join("; "))
}

/// A document to store as a version, with the JSON that is stored and its hash worked out
/// once, where the document is made: a cycle makes it on the thread that extracted the
/// text, while that text is still in the core's cache (serialising it later on the thread
/// that writes read all of it back from memory).
#[derive(Debug, Clone, PartialEq)]
pub struct NewVersion {
    pub document: Document,
    json: Vec<u8>,
    hash: String,
}

impl NewVersion {
    pub fn new(document: Document) -> Self {
        let (json, hash) = with_document_json(&document, |json| (json.to_vec(), json_hash(json)));
        NewVersion {
            document,
            json,
            hash,
        }
    }

    /// What [`document_hash`] gives for the document.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The document's JSON, as stored in the version record.
    pub(crate) fn json(&self) -> &[u8] {
        &self.json
    }
}

/// Content hash of a document: equal documents, equal hashes.
pub fn document_hash(document: &Document) -> String {
    with_document_json(document, json_hash)
}

/// `document`'s JSON (the bytes stored and hashed), in this thread's scratch buffer.
pub(crate) fn with_document_json<R>(document: &Document, f: impl FnOnce(&[u8]) -> R) -> R {
    let Ok(r) = codec::with_written::<_, std::convert::Infallible>(
        |out| {
            json::document(document, out);
            Ok(())
        },
        f,
    );
    r
}

/// [`document_hash`] of a document already serialised to JSON.
pub(crate) fn json_hash(json: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(json))
}
