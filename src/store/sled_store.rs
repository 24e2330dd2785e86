//! The sled 0.34.7 store.
//!
//! Trees: `versions` (watch ␀ seq → version, compressed), `heads` (watch → latest seq and
//! hash), `changes` (id → record, compressed), `outbox` (id → entry), `state` (watch →
//! state, without its check times), `checked` (watch → last check and last success, 16
//! bytes), `follows` (id → followed), `sinks` (sink name → that sink's own state, e.g. a
//! delivery halt). Every record but the check times carries the [`codec`] header (format
//! version, compression); records written before it still read. Keys of ordered trees are
//! big-endian so sled's order is delivery order.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

use super::codec::{self, Unframed};
use super::*;
use crate::error::Error;

/// One raw record, or where reading a tree stopped and why.
pub type RawRead = std::result::Result<(Vec<u8>, Vec<u8>), String>;

pub struct SledStore {
    /// Writes hold it shared; a backup holds it alone, so a backup taken while the daemon
    /// runs is one consistent moment of every tree.
    gate: std::sync::RwLock<()>,
    db: sled::Db,
    versions: sled::Tree,
    heads: sled::Tree,
    changes: sled::Tree,
    outbox: sled::Tree,
    state: sled::Tree,
    checked: sled::Tree,
    follows: sled::Tree,
    sinks: sled::Tree,
    meta: sled::Tree,
    /// Chat message id (big-endian) → the change ids it carries.
    messages: sled::Tree,
}

#[derive(Serialize, Deserialize)]
struct Head {
    seq: u64,
    hash: String,
}

impl SledStore {
    /// Opens (or creates) the store in `dir`, with a page cache of `cache_capacity` bytes.
    pub fn open(dir: &Path, cache_capacity: u64) -> Result<Self> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_capacity)
            .open()
            .map_err(|e| super::fault::open_error(dir, &e))?;
        super::fault::claim(dir);
        Self::from_db(db)
    }

    /// A store that lives in memory and vanishes when dropped.
    pub fn temporary() -> Result<Self> {
        let db = sled::Config::new().temporary(true).open()?;
        Self::from_db(db)
    }

    fn from_db(db: sled::Db) -> Result<Self> {
        Ok(SledStore {
            gate: std::sync::RwLock::new(()),
            versions: db.open_tree("versions")?,
            heads: db.open_tree("heads")?,
            changes: db.open_tree("changes")?,
            outbox: db.open_tree("outbox")?,
            state: db.open_tree("state")?,
            checked: db.open_tree("checked")?,
            follows: db.open_tree("follows")?,
            sinks: db.open_tree("sinks")?,
            meta: db.open_tree("meta")?,
            messages: db.open_tree("messages")?,
            db,
        }
        .migrated())
    }

    /// Stores written before sinks had their own tree kept Discord's delivery halt as a
    /// fake watch `"\0delivery"` in `state`: move it to the `discord` sink's state.
    fn migrated(self) -> Self {
        const OLD_HALT: &[u8] = b"\0delivery";
        if let Ok(Some(bytes)) = self.state.get(OLD_HALT) {
            let old: Option<WatchState> = decode(&bytes).ok();
            if let Some((since, reason)) = old.and_then(|s| Some((s.last_check?, s.last_error?))) {
                let halt = serde_json::json!({"halt": {"since": since, "reason": reason}});
                if let Ok(bytes) = encode(&halt) {
                    let _ = self.sinks.insert(crate::data::DISCORD, bytes);
                }
            }
            let _ = self.state.remove(OLD_HALT);
            let _ = self.checked.remove(OLD_HALT);
        }
        self
    }

    /// Puts the check times kept in `checked` back into a state read from `state`.
    fn merge_checked(&self, watch: &str, state: &mut WatchState) -> Result<()> {
        if let Some(bytes) = self.checked.get(watch.as_bytes())? {
            let (check, success) = decode_checked(&bytes);
            state.last_check = check.or(state.last_check);
            state.last_success = success.or(state.last_success);
        }
        Ok(())
    }

    /// Marks a follow unfollowed (`Some`) or followed again (`None`); true if that changed
    /// anything.
    fn set_unfollowed(&self, id: &str, at: Option<DateTime<Utc>>) -> Result<bool> {
        let Some(bytes) = self.follows.get(id.as_bytes())? else {
            return Ok(false);
        };
        let mut f: Followed = decode(&bytes)?;
        if f.unfollowed_at.is_some() == at.is_some() {
            return Ok(false);
        }
        f.unfollowed_at = at;
        self.follows.insert(id.as_bytes(), encode(&f)?)?;
        Ok(true)
    }

    /// Bytes on disk, as sled counts them.
    pub fn size_on_disk(&self) -> Result<u64> {
        Ok(self.db.size_on_disk()?)
    }

    /// Shared hold on the write gate (see [`SledStore::backup`]).
    fn writing(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.gate.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes one raw record (restore, doctor's salvage).
    pub fn put_raw(&self, tree: &[u8], key: &[u8], value: &[u8]) -> Result<()> {
        let _w = self.writing();
        self.db.open_tree(tree)?.insert(key, value)?;
        Ok(())
    }

    /// The raw records of one tree, each read on its own so that one unreadable place ends
    /// only the rest of that tree's scan: (key, value) or the error where reading stopped.
    pub fn raw_tree(&self, tree: &[u8]) -> Result<Vec<RawRead>> {
        let mut out = Vec::new();
        for kv in self.db.open_tree(tree)?.iter() {
            match kv {
                Ok((k, v)) => out.push(Ok((k.to_vec(), v.to_vec()))),
                Err(e) => {
                    out.push(Err(e.to_string()));
                    break;
                }
            }
        }
        Ok(out)
    }

    pub fn tree_names(&self) -> Vec<Vec<u8>> {
        self.db
            .tree_names()
            .into_iter()
            .map(|n| n.to_vec())
            .collect()
    }

    /// Adds a version read from `export` output: its head moves to it when it is the
    /// latest. A version already there with the same hash is skipped; with another hash it
    /// is an error (importing would rewrite history).
    pub fn import_version(&self, v: &Version) -> Result<bool> {
        let _w = self.writing();
        let key = version_key(&v.watch, v.seq);
        if let Some(existing) = self.versions.get(&key)? {
            let existing = decode_version(&existing)?;
            if existing.hash == v.hash {
                return Ok(false);
            }
            return Err(Error::Store(format!(
                "cannot import {} v{}: the store already has another version {} of it",
                v.watch, v.seq, v.seq
            )));
        }
        self.versions.insert(key, encode_version(v)?)?;
        let head: Option<Head> = self
            .heads
            .get(v.watch.as_bytes())?
            .map(|b| decode(&b))
            .transpose()?;
        if head.as_ref().is_none_or(|h| h.seq < v.seq) {
            let head = Head {
                seq: v.seq,
                hash: v.hash.clone(),
            };
            self.heads.insert(v.watch.as_bytes(), encode(&head)?)?;
        }
        Ok(true)
    }
}

/// The key of a change or outbox record, as the id it names.
pub(super) fn id_of(key: &[u8]) -> String {
    <[u8; 8]>::try_from(key)
        .map_or_else(|_| hex::encode(key), |b| u64::from_be_bytes(b).to_string())
}

/// The key of a version record, as `watch v3`.
pub(super) fn version_name(key: &[u8]) -> String {
    match key.iter().position(|b| *b == 0) {
        Some(i) if key.len() == i + 9 => format!(
            "{} v{}",
            String::from_utf8_lossy(&key[..i]),
            u64::from_be_bytes(key[i + 1..].try_into().unwrap_or_default())
        ),
        _ => String::from_utf8_lossy(key).into_owned(),
    }
}

fn version_key(watch: &str, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(watch.len() + 9);
    k.extend_from_slice(watch.as_bytes());
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn watch_prefix(watch: &str) -> Vec<u8> {
    let mut k = watch.as_bytes().to_vec();
    k.push(0);
    k
}

/// A state's stored form without its check times, and those times on their own.
fn split_state(state: &WatchState) -> Result<(Vec<u8>, [u8; 16])> {
    let mut rest = state.clone();
    let check = rest.last_check.take();
    let success = rest.last_success.take();
    let millis = |t: Option<DateTime<Utc>>| t.map_or(i64::MIN, |t| t.timestamp_millis());
    let mut times = [0u8; 16];
    times[..8].copy_from_slice(&millis(check).to_be_bytes());
    times[8..].copy_from_slice(&millis(success).to_be_bytes());
    Ok((encode(&rest)?, times))
}

fn decode_checked(bytes: &[u8]) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let at = |range: std::ops::Range<usize>| {
        let raw = i64::from_be_bytes(bytes.get(range)?.try_into().ok()?);
        (raw != i64::MIN)
            .then(|| DateTime::<Utc>::from_timestamp_millis(raw))
            .flatten()
    };
    (at(0..8), at(8..16))
}

/// A watch's stored state that does not decode: never read as an empty state.
fn unreadable_state(watch: &str, e: &Error) -> Error {
    Error::Store(format!(
        "the stored state of watch `{watch}` cannot be read ({e}); the next check records a fresh one"
    ))
}

/// Small records (states, heads, outbox entries, follows), framed by [`codec`].
fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    codec::encode(v, false)
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    codec::decode(bytes, Unframed::Json)
}

/// Versions are the bulk of the store: compressed.
fn encode_version(v: &Version) -> Result<Vec<u8>> {
    codec::encode(v, true)
}

/// A [`Version`]'s JSON exactly as serde writes it, around a document already serialised
/// (so committing a version serialises its document once, for the hash and the record).
fn version_record_json(
    watch: &str,
    seq: u64,
    fetched_at: DateTime<Utc>,
    hash: &str,
    document_json: &[u8],
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(document_json.len() + watch.len() + 160);
    out.extend_from_slice(b"{\"watch\":");
    serde_json::to_writer(&mut out, watch)?;
    out.extend_from_slice(b",\"seq\":");
    serde_json::to_writer(&mut out, &seq)?;
    out.extend_from_slice(b",\"fetched_at\":");
    serde_json::to_writer(&mut out, &fetched_at)?;
    out.extend_from_slice(b",\"hash\":");
    serde_json::to_writer(&mut out, hash)?;
    out.extend_from_slice(b",\"document\":");
    out.extend_from_slice(document_json);
    out.push(b'}');
    Ok(out)
}

pub(super) fn decode_version(bytes: &[u8]) -> Result<Version> {
    codec::decode(bytes, Unframed::Lz4).map_err(|e| Error::Store(format!("corrupt version: {e}")))
}

/// A stored version's JSON, decompressed but not decoded.
fn version_json(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>> {
    codec::json(bytes, Unframed::Lz4).map_err(|e| Error::Store(format!("corrupt version: {e}")))
}

/// Change records carry whole diffs: compressed too.
fn encode_change(r: &ChangeRecord) -> Result<Vec<u8>> {
    codec::encode(r, true)
}

/// A change record (framed, or written before the header: plain JSON or `Z` + lz4).
pub(super) fn decode_change(bytes: &[u8]) -> Result<ChangeRecord> {
    codec::decode(bytes, Unframed::Json)
}

type TxResult<T> = std::result::Result<T, ConflictableTransactionError<Error>>;

fn abort(e: Error) -> ConflictableTransactionError<Error> {
    ConflictableTransactionError::Abort(e)
}

/// An outbox key: the change id, then the slot when not 0 (so entries written before
/// destinations had slots keep their keys), big-endian: delivery order.
fn outbox_key(id: u64, slot: u16) -> Vec<u8> {
    let mut k = id.to_be_bytes().to_vec();
    if slot != 0 {
        k.extend_from_slice(&slot.to_be_bytes());
    }
    k
}

/// Inserts a change and its outbox entries inside a transaction; returns the id.
const NEXT_CHANGE_ID: &[u8] = b"next_change_id";

fn insert_change(
    changes: &TransactionalTree,
    outbox: &TransactionalTree,
    meta: &TransactionalTree,
    change: &NewChange,
) -> TxResult<u64> {
    // Our own counter rather than sled's generate_id (which jumps by a million after each
    // restart): ids stay short for `show 42`, and only grow, so history and outbox order
    // follow detection order.
    let id = meta
        .get(NEXT_CHANGE_ID)?
        .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
        .map_or(1, u64::from_be_bytes);
    meta.insert(NEXT_CHANGE_ID, &(id + 1).to_be_bytes())?;
    let mut alert = change.alert.clone();
    alert.id = id;
    let destination = alert.destination.clone();
    let record = ChangeRecord {
        alert,
        full_diff: change.full_diff.clone(),
        delivered_at: None,
        reviews: Vec::new(),
    };
    changes.insert(&id.to_be_bytes(), encode_change(&record).map_err(abort)?)?;
    // Recorded for the history only: nothing to deliver.
    if crate::data::is_quiet(&record.alert.event) {
        return Ok(id);
    }
    let outgoing = if change.outgoing.is_empty() {
        vec![Outgoing {
            destination,
            ..Outgoing::default()
        }]
    } else {
        change.outgoing.clone()
    };
    for (slot, out) in outgoing.into_iter().enumerate() {
        let slot = u16::try_from(slot).unwrap_or(u16::MAX);
        let entry = OutboxEntry::queued(id, slot, out);
        outbox.insert(outbox_key(id, slot), encode(&entry).map_err(abort)?)?;
    }
    Ok(id)
}

/// A commit with what can be computed outside the transaction already computed: the
/// state's two records (the document's JSON and hash come with it, see [`super::NewVersion`]).
struct Prepared {
    commit: CheckCommit,
    state: Vec<u8>,
    checked: [u8; 16],
}

impl Prepared {
    fn of(commit: CheckCommit) -> Result<Self> {
        let (state, checked) = split_state(&commit.state)?;
        Ok(Prepared {
            commit,
            state,
            checked,
        })
    }
}

impl SledStore {
    /// Writes the commits in one transaction: all of them or none. Several checks that
    /// finish together share one transaction, because sled seals and writes a log buffer
    /// for every transaction (most of a baseline's store time when each had its own).
    fn write_group(&self, group: &[Prepared]) -> Result<Vec<Committed>> {
        let result = (
            &self.versions,
            &self.heads,
            &self.changes,
            &self.outbox,
            &self.state,
            &self.checked,
            &self.follows,
            &self.meta,
        )
            .transaction(
                |(versions, heads, changes, outbox, state, checked, follows, meta)| {
                    let mut all = Vec::with_capacity(group.len());
                    for p in group {
                        let c = &p.commit;
                        let mut committed = Committed::default();
                        if let Some(version) = &c.document {
                            let hash = version.hash();
                            let head: Option<Head> = heads
                                .get(c.watch.as_bytes())?
                                .map(|b| decode(&b))
                                .transpose()
                                .map_err(abort)?;
                            if head.as_ref().map(|h| h.hash.as_str()) != Some(hash) {
                                let seq = head.map_or(1, |h| h.seq + 1);
                                let json = version_record_json(
                                    &c.watch,
                                    seq,
                                    c.fetched_at,
                                    hash,
                                    version.json(),
                                )
                                .map_err(abort)?;
                                versions.insert(
                                    version_key(&c.watch, seq),
                                    codec::encode_json(&json, true),
                                )?;
                                let head = Head {
                                    seq,
                                    hash: hash.to_string(),
                                };
                                heads.insert(c.watch.as_bytes(), encode(&head).map_err(abort)?)?;
                                committed.seq = Some(seq);
                            }
                        }
                        for change in &c.changes {
                            let mut change = change.clone();
                            // Alerts name the version they were raised for.
                            if change.alert.to_version.is_none() && committed.seq.is_some() {
                                change.alert.to_version = committed.seq;
                            }
                            committed
                                .change_ids
                                .push(insert_change(changes, outbox, meta, &change)?);
                        }
                        for f in &c.follows {
                            follows.insert(f.target.id.as_bytes(), encode(f).map_err(abort)?)?;
                        }
                        // Most checks change nothing but their times: only those 16 bytes
                        // are written then, which keeps sled's log (and the disk) from
                        // growing with every hourly check.
                        let key = c.watch.as_bytes();
                        if state.get(key)?.as_deref() != Some(p.state.as_slice()) {
                            state.insert(key, p.state.clone())?;
                        }
                        checked.insert(key, &p.checked)?;
                        all.push(committed);
                    }
                    Ok(all)
                },
            )?;
        Ok(result)
    }
}

impl Store for SledStore {
    fn commit(&self, c: CheckCommit) -> Result<Committed> {
        let _w = self.writing();
        let mut committed = self.write_group(&[Prepared::of(c)?])?;
        Ok(committed.pop().unwrap_or_default())
    }

    fn commit_all(&self, commits: Vec<CheckCommit>) -> Vec<Result<Committed>> {
        let _w = self.writing();
        let mut results: Vec<Option<Result<Committed>>> = Vec::with_capacity(commits.len());
        let (mut slots, mut group) = (Vec::new(), Vec::new());
        for c in commits {
            match Prepared::of(c) {
                Ok(p) => {
                    slots.push(results.len());
                    group.push(p);
                    results.push(None);
                }
                Err(e) => results.push(Some(Err(e))),
            }
        }
        match self.write_group(&group) {
            Ok(committed) => {
                for (slot, c) in slots.iter().zip(committed) {
                    results[*slot] = Some(Ok(c));
                }
            }
            // One unwritable commit must not fail the others: each is tried on its own.
            Err(e) if group.len() == 1 => results[slots[0]] = Some(Err(e)),
            Err(_) => {
                for (slot, p) in slots.iter().zip(&group) {
                    let one = self.write_group(std::slice::from_ref(p));
                    results[*slot] = Some(one.map(|mut c| c.pop().unwrap_or_default()));
                }
            }
        }
        // Every slot was filled above, either when preparing or when writing.
        results.into_iter().flatten().collect()
    }

    fn state(&self, watch: &str) -> Result<Option<WatchState>> {
        let Some(bytes) = self.state.get(watch.as_bytes())? else {
            return Ok(None);
        };
        let mut state: WatchState = decode(&bytes).map_err(|e| unreadable_state(watch, &e))?;
        self.merge_checked(watch, &mut state)?;
        Ok(Some(state))
    }

    fn states(&self) -> Result<Vec<(String, WatchState)>> {
        self.state
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                let watch = String::from_utf8_lossy(&k).into_owned();
                // One unreadable record is that watch's error, not the whole listing's.
                let mut state = match decode::<WatchState>(&v) {
                    Ok(state) => state,
                    Err(e) => WatchState {
                        last_error: Some(unreadable_state(&watch, &e).to_string()),
                        ..WatchState::default()
                    },
                };
                self.merge_checked(&watch, &mut state)?;
                Ok((watch, state))
            })
            .collect()
    }

    fn put_state(&self, watch: &str, state: &WatchState) -> Result<()> {
        let _w = self.writing();
        let (state_bytes, checked_bytes) = split_state(state)?;
        (&self.state, &self.checked).transaction(|(s, c)| {
            s.insert(watch.as_bytes(), state_bytes.clone())?;
            c.insert(watch.as_bytes(), &checked_bytes)?;
            Ok(())
        })?;
        Ok(())
    }

    fn latest_version(&self, watch: &str) -> Result<Option<Version>> {
        match self.versions.scan_prefix(watch_prefix(watch)).next_back() {
            Some(kv) => Ok(Some(decode_version(&kv?.1)?)),
            None => Ok(None),
        }
    }

    fn latest_seq(&self, watch: &str) -> Result<Option<u64>> {
        Ok(self
            .heads
            .get(watch.as_bytes())?
            .map(|b| decode::<Head>(&b))
            .transpose()?
            .map(|h| h.seq))
    }

    fn version(&self, watch: &str, seq: u64) -> Result<Option<Version>> {
        self.versions
            .get(version_key(watch, seq))?
            .map(|b| decode_version(&b))
            .transpose()
    }

    fn versions(&self, watch: &str) -> Result<Vec<Version>> {
        self.versions
            .scan_prefix(watch_prefix(watch))
            .map(|kv| decode_version(&kv?.1))
            .collect()
    }

    fn for_each_version(&self, f: &mut dyn FnMut(Version) -> Result<()>) -> Result<()> {
        self.versions_skipping(None, f, &mut |u| {
            Err(Error::Store(format!(
                "{} is unreadable: {}",
                u.what, u.reason
            )))
        })
    }

    fn versions_skipping(
        &self,
        watch: Option<&str>,
        f: &mut dyn FnMut(Version) -> Result<()>,
        skip: &mut dyn FnMut(Unreadable) -> Result<()>,
    ) -> Result<()> {
        let iter = match watch {
            Some(w) => self.versions.scan_prefix(watch_prefix(w)),
            None => self.versions.iter(),
        };
        let mut last = None;
        for kv in iter {
            let (k, v) = match kv {
                Ok(kv) => kv,
                Err(e) => {
                    let after = last.map_or("the start".to_string(), |n: String| n);
                    skip(Unreadable {
                        what: format!("the versions after {after}"),
                        reason: e.to_string(),
                    })?;
                    break;
                }
            };
            last = Some(version_name(&k));
            match decode_version(&v) {
                Ok(version) => f(version)?,
                Err(e) => skip(Unreadable {
                    what: format!("version {}", version_name(&k)),
                    reason: e.to_string(),
                })?,
            }
        }
        Ok(())
    }

    fn change(&self, id: u64) -> Result<Option<ChangeRecord>> {
        self.changes
            .get(id.to_be_bytes())?
            .map(|b| {
                decode_change(&b)
                    .map_err(|e| Error::Store(format!("change {id} is unreadable: {e}")))
            })
            .transpose()
    }

    fn scan_changes(
        &self,
        after: u64,
        newest_first: bool,
        f: &mut dyn FnMut(ChangeRecord) -> Result<bool>,
    ) -> Result<()> {
        let range = self.changes.range(after.saturating_add(1).to_be_bytes()..);
        let mut visit = |kv: sled::Result<(sled::IVec, sled::IVec)>| -> Result<bool> {
            f(decode_change(&kv?.1)?)
        };
        if newest_first {
            for kv in range.rev() {
                if !visit(kv)? {
                    break;
                }
            }
        } else {
            for kv in range {
                if !visit(kv)? {
                    break;
                }
            }
        }
        Ok(())
    }

    fn for_each_version_of(
        &self,
        watch: &str,
        f: &mut dyn FnMut(Version) -> Result<bool>,
    ) -> Result<()> {
        for kv in self.versions.scan_prefix(watch_prefix(watch)) {
            if !f(decode_version(&kv?.1)?)? {
                break;
            }
        }
        Ok(())
    }

    fn for_each_version_json_of(
        &self,
        watch: &str,
        f: &mut dyn FnMut(&[u8]) -> Result<bool>,
    ) -> Result<()> {
        for kv in self.versions.scan_prefix(watch_prefix(watch)) {
            if !f(&version_json(&kv?.1)?)? {
                break;
            }
        }
        Ok(())
    }

    fn changes(&self, filter: &ChangeFilter) -> Result<Vec<ChangeRecord>> {
        self.changes_skipping(filter, &mut |u| {
            Err(Error::Store(format!(
                "{} is unreadable: {}",
                u.what, u.reason
            )))
        })
    }

    fn changes_skipping(
        &self,
        filter: &ChangeFilter,
        skip: &mut dyn FnMut(Unreadable) -> Result<()>,
    ) -> Result<Vec<ChangeRecord>> {
        let mut out = Vec::new();
        let mut last = None;
        for kv in self.changes.iter() {
            let (k, v) = match kv {
                Ok(kv) => kv,
                Err(e) => {
                    let after = last.map_or("the start".to_string(), |id| format!("change {id}"));
                    skip(Unreadable {
                        what: format!("the change history after {after}"),
                        reason: e.to_string(),
                    })?;
                    break;
                }
            };
            last = Some(id_of(&k));
            let record = match decode_change(&v) {
                Ok(r) => r,
                Err(e) => {
                    skip(Unreadable {
                        what: format!("change {}", id_of(&k)),
                        reason: e.to_string(),
                    })?;
                    continue;
                }
            };
            let a = &record.alert;
            if filter.watch.as_ref().is_some_and(|w| *w != a.watch)
                || filter.since.is_some_and(|t| a.detected_at < t)
                || filter.until.is_some_and(|t| a.detected_at > t)
            {
                continue;
            }
            out.push(record);
        }
        Ok(out)
    }

    fn outbox(&self) -> Result<Vec<OutboxEntry>> {
        self.outbox.iter().map(|kv| decode(&kv?.1)).collect()
    }

    fn put_outbox(&self, entry: &OutboxEntry) -> Result<()> {
        let _w = self.writing();
        self.outbox
            .insert(outbox_key(entry.id, entry.slot), encode(entry)?)?;
        Ok(())
    }

    fn mark_sent(&self, keys: &[(u64, u16)], at: DateTime<Utc>) -> Result<()> {
        let _w = self.writing();
        (&self.changes, &self.outbox).transaction(|(changes, outbox)| {
            for (id, slot) in keys {
                let key = id.to_be_bytes();
                if let Some(bytes) = changes.get(key)? {
                    let mut record = decode_change(&bytes).map_err(abort)?;
                    // The first delivery is when the team heard of it.
                    if record.delivered_at.is_none() {
                        record.delivered_at = Some(at);
                        changes.insert(&key, encode_change(&record).map_err(abort)?)?;
                    }
                }
                outbox.remove(outbox_key(*id, *slot))?;
            }
            Ok(())
        })?;
        Ok(())
    }

    fn drop_outbox(&self, id: u64) -> Result<bool> {
        let _w = self.writing();
        let keys: Vec<sled::IVec> = self
            .outbox
            .scan_prefix(id.to_be_bytes())
            .keys()
            .collect::<std::result::Result<_, _>>()?;
        for k in &keys {
            self.outbox.remove(k)?;
        }
        Ok(!keys.is_empty())
    }

    fn drop_outbox_entry(&self, id: u64, slot: u16) -> Result<bool> {
        let _w = self.writing();
        Ok(self.outbox.remove(outbox_key(id, slot))?.is_some())
    }

    fn record_alert(&self, change: NewChange) -> Result<u64> {
        let _w = self.writing();
        let id = (&self.changes, &self.outbox, &self.meta)
            .transaction(|(changes, outbox, meta)| insert_change(changes, outbox, meta, &change))?;
        Ok(id)
    }

    fn sink_state(&self, sink: &str) -> Result<Option<serde_json::Value>> {
        self.sinks
            .get(sink.as_bytes())?
            .map(|b| decode(&b))
            .transpose()
    }

    fn put_sink_state(&self, sink: &str, state: Option<&serde_json::Value>) -> Result<()> {
        match state {
            Some(s) => self.sinks.insert(sink.as_bytes(), encode(s)?)?,
            None => self.sinks.remove(sink.as_bytes())?,
        };
        Ok(())
    }

    fn sink_states(&self) -> Result<Vec<(String, serde_json::Value)>> {
        self.sinks
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                Ok((String::from_utf8_lossy(&k).into_owned(), decode(&v)?))
            })
            .collect()
    }

    fn follows(&self) -> Result<Vec<Followed>> {
        self.follows.iter().map(|kv| decode(&kv?.1)).collect()
    }

    fn unfollow(&self, id: &str) -> Result<bool> {
        self.set_unfollowed(id, Some(Utc::now()))
    }

    fn refollow(&self, id: &str) -> Result<bool> {
        self.set_unfollowed(id, None)
    }

    fn follow(&self, follow: &Followed) -> Result<bool> {
        let _w = self.writing();
        let key = follow.target.id.as_bytes();
        if let Some(bytes) = self.follows.get(key)? {
            let old: Followed = decode(&bytes)?;
            if old.unfollowed_at.is_none() {
                return Ok(false);
            }
        }
        self.follows.insert(key, encode(follow)?)?;
        Ok(true)
    }

    fn set_review(&self, change: u64, review: &Review, on: bool) -> Result<bool> {
        let _w = self.writing();
        let key = change.to_be_bytes();
        let changed = self.changes.transaction(|changes| {
            let Some(bytes) = changes.get(key)? else {
                return Ok(false);
            };
            let mut record = decode_change(&bytes).map_err(abort)?;
            let same = |r: &Review| r.mark == review.mark && r.user == review.user;
            let before = record.reviews.len();
            if on {
                if record.reviews.iter().any(same) {
                    return Ok(false);
                }
                record.reviews.push(review.clone());
            } else {
                record.reviews.retain(|r| !same(r));
                if record.reviews.len() == before {
                    return Ok(false);
                }
            }
            changes.insert(&key, encode_change(&record).map_err(abort)?)?;
            Ok(true)
        })?;
        Ok(changed)
    }

    fn put_message(&self, message: u64, changes: &[u64]) -> Result<()> {
        let _w = self.writing();
        self.messages
            .insert(message.to_be_bytes(), encode(&changes.to_vec())?)?;
        Ok(())
    }

    fn message_changes(&self, message: u64) -> Result<Vec<u64>> {
        Ok(match self.messages.get(message.to_be_bytes())? {
            Some(bytes) => decode(&bytes)?,
            None => Vec::new(),
        })
    }

    fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    /// Every tree's every record, at one consistent moment: writes wait meanwhile.
    fn dump(&self, f: &mut RawVisitor<'_>) -> Result<()> {
        let _alone = self.gate.write().unwrap_or_else(|e| e.into_inner());
        for name in self.db.tree_names() {
            let tree = self.db.open_tree(&name)?;
            for kv in tree.iter() {
                let (k, v) = kv?;
                f(&name, &k, &v)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::data::{Alert, Destination, Severity};
    use crate::store::NewVersion;

    fn doc(text: &str) -> Document {
        Document {
            title: "T".into(),
            url: "https://example.org/".into(),
            text: text.into(),
            fields: serde_json::Value::Null,
        }
    }

    fn alert(watch: &str) -> NewChange {
        NewChange {
            alert: Alert {
                id: 0,
                watch: watch.into(),
                event: "page.changed".into(),
                title: "T".into(),
                url: "https://example.org/".into(),
                summary: "Text changed".into(),
                annotations: vec![],
                keywords: vec![],
                diff: String::new(),
                detected_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
                severity: Severity::Notice,
                tone: Default::default(),
                watchlist: "t".into(),
                destination: Some(Destination::discord(7)),
                mentions: vec![],
                from_version: Some(1),
                to_version: None,
                fields: serde_json::Value::Null,
            },
            full_diff: "+b\n".into(),
            outgoing: vec![],
        }
    }

    #[test]
    fn a_version_record_is_what_serde_writes_and_its_hash_the_documents() {
        let document = Document {
            title: "T \"q\"".into(),
            url: "https://example.org/é".into(),
            text: "line\n\u{2028}tab\t".into(),
            fields: serde_json::json!({"links": [{"url": "u", "text": "t"}]}),
        };
        let json = serde_json::to_vec(&document).unwrap();
        let hash = super::super::json_hash(&json);
        assert_eq!(hash, document_hash(&document));
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
        let version = Version {
            watch: "w\"1".into(),
            seq: 42,
            fetched_at: at,
            hash: hash.clone(),
            document,
        };
        assert_eq!(
            version_record_json("w\"1", 42, at, &hash, &json).unwrap(),
            serde_json::to_vec(&version).unwrap()
        );
    }

    fn commit(store: &SledStore, text: &str, changes: Vec<NewChange>, hour: u32) -> Committed {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, hour, 0, 0).unwrap();
        store
            .commit(CheckCommit {
                watch: "w".into(),
                document: Some(NewVersion::new(doc(text))),
                fetched_at: at,
                changes,
                state: WatchState {
                    last_check: Some(at),
                    last_success: Some(at),
                    source: serde_json::json!({"etag": "x"}),
                    ..WatchState::default()
                },
                follows: vec![],
            })
            .unwrap()
    }

    /// Checks written together each get their own result, in order; one whose stored head
    /// cannot be read fails alone, and the others are written.
    #[test]
    fn a_group_of_commits_is_written_and_a_bad_one_fails_only_itself() {
        let store = SledStore::temporary().unwrap();
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap();
        let check = |watch: &str, text: &str, changes: Vec<NewChange>| CheckCommit {
            watch: watch.into(),
            document: Some(NewVersion::new(doc(text))),
            fetched_at: at,
            changes,
            state: WatchState::default(),
            follows: vec![],
        };
        store.put_raw(b"heads", b"bad", b"not a head").unwrap();
        let results = store.commit_all(vec![
            check("a", "x", vec![alert("a")]),
            check("bad", "y", vec![alert("bad")]),
            check("c", "z", vec![alert("c")]),
        ]);
        assert_eq!(results.len(), 3);
        let ok = |seq, ids: Vec<u64>| Committed {
            seq: Some(seq),
            change_ids: ids,
        };
        assert_eq!(results[0].as_ref().unwrap(), &ok(1, vec![1]));
        assert!(results[1].is_err(), "{:?}", results[1]);
        assert_eq!(results[2].as_ref().unwrap(), &ok(1, vec![2]));
        assert_eq!(store.version("a", 1).unwrap().unwrap().document.text, "x");
        assert_eq!(store.version("c", 1).unwrap().unwrap().document.text, "z");
        assert!(store.versions("bad").unwrap().is_empty());
        let watches: Vec<String> = store
            .outbox()
            .unwrap()
            .iter()
            .map(|e| store.change(e.id).unwrap().unwrap().alert.watch)
            .collect();
        assert_eq!(watches, ["a", "c"]);
        // A group with nothing wrong: one transaction, ids in the order given.
        let results = store.commit_all(vec![
            check("c", "z2", vec![alert("c")]),
            check("a", "x2", vec![alert("a")]),
        ]);
        let results: Vec<Committed> = results.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(results, [ok(2, vec![3]), ok(2, vec![4])]);
    }

    #[test]
    fn versions_changes_and_outbox_are_written_together() {
        let store = SledStore::temporary().unwrap();
        assert_eq!(commit(&store, "a", vec![], 1).seq, Some(1));
        assert_eq!(
            commit(&store, "a", vec![], 2).seq,
            None,
            "same document, no version"
        );
        let c = commit(&store, "b", vec![alert("w"), alert("w")], 3);
        assert_eq!(
            c,
            Committed {
                seq: Some(2),
                change_ids: vec![1, 2]
            }
        );
        let record = store.change(2).unwrap().unwrap();
        assert_eq!(record.alert.to_version, Some(2));
        assert_eq!(record.full_diff, "+b\n");
        let outbox = store.outbox().unwrap();
        assert_eq!(
            outbox
                .iter()
                .map(|e| (e.id, e.destination.clone()))
                .collect::<Vec<_>>(),
            [
                (1, Some(Destination::discord(7))),
                (2, Some(Destination::discord(7)))
            ]
        );
        // Stored as before destinations had kinds: `"channel":7`.
        let raw = store.outbox.get(1u64.to_be_bytes()).unwrap().unwrap();
        assert!(String::from_utf8_lossy(&raw).contains("\"channel\":7"));

        store.mark_delivered(&[1, 2], Utc::now()).unwrap();
        assert!(store.outbox().unwrap().is_empty());
        assert!(store.change(1).unwrap().unwrap().delivered_at.is_some());
        let texts: Vec<String> = store
            .versions("w")
            .unwrap()
            .into_iter()
            .map(|v| v.document.text)
            .collect();
        assert_eq!(texts, ["a", "b"]);
    }

    #[test]
    fn records_carry_their_format_and_records_written_before_it_still_read() {
        let store = SledStore::temporary().unwrap();
        commit(&store, "a", vec![alert("w")], 1);
        for tree in [&store.versions, &store.changes, &store.state, &store.heads] {
            let (_, v) = tree.iter().next().unwrap().unwrap();
            assert_eq!(&v[..3], b"pw\x01", "framed with the format");
        }
        // As an earlier release wrote them: a bare lz4 version, plain JSON state and change.
        let mut old = store.version("w", 1).unwrap().unwrap();
        old.seq = 2;
        let raw = lz4_flex::compress_prepend_size(&serde_json::to_vec(&old).unwrap());
        store.versions.insert(version_key("w", 2), raw).unwrap();
        let state = WatchState {
            last_error: Some("old".into()),
            ..WatchState::default()
        };
        store
            .state
            .insert("w", serde_json::to_vec(&state).unwrap())
            .unwrap();
        let record = store.change(1).unwrap().unwrap();
        store
            .changes
            .insert(1u64.to_be_bytes(), serde_json::to_vec(&record).unwrap())
            .unwrap();
        assert_eq!(store.version("w", 2).unwrap().unwrap().seq, 2);
        assert_eq!(
            store.state("w").unwrap().unwrap().last_error.as_deref(),
            Some("old")
        );
        assert_eq!(store.change(1).unwrap().unwrap(), record);
    }

    #[test]
    fn check_times_live_apart_from_the_rest_of_the_state() {
        let store = SledStore::temporary().unwrap();
        commit(&store, "a", vec![], 1);
        let before = store.state.get("w").unwrap().unwrap();
        commit(&store, "a", vec![], 2);
        // An unchanged check rewrites only its times.
        assert_eq!(store.state.get("w").unwrap().unwrap(), before);
        let state = store.state("w").unwrap().unwrap();
        let two = Utc.with_ymd_and_hms(2026, 1, 1, 2, 0, 0).unwrap();
        assert_eq!(
            (state.last_check, state.last_success),
            (Some(two), Some(two))
        );
        assert_eq!(state.source["etag"], "x");
        assert_eq!(store.states().unwrap()[0].1, state);
    }
}
