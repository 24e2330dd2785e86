//! The sled 0.34.7 store.
//!
//! Trees: `versions` (watch ␀ seq → lz4(JSON)), `heads` (watch → latest seq and hash),
//! `changes` (id → record), `outbox` (id → entry), `state` (watch → state), `follows`
//! (id → followed). Keys of ordered trees are big-endian so sled's order is delivery order.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::Transactional;

use super::*;
use crate::error::Error;

pub struct SledStore {
    db: sled::Db,
    versions: sled::Tree,
    heads: sled::Tree,
    changes: sled::Tree,
    outbox: sled::Tree,
    state: sled::Tree,
    follows: sled::Tree,
    meta: sled::Tree,
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
            .map_err(|e| Error::StoreOpen {
                path: dir.to_path_buf(),
                reason: e.to_string(),
                hint: "If another policywatch is running on this data directory, stop it first. \
                       If the store is damaged, move the directory aside and start again: the \
                       first check re-baselines every watch without alerting",
            })?;
        Self::from_db(db)
    }

    /// A store that lives in memory and vanishes when dropped.
    pub fn temporary() -> Result<Self> {
        let db = sled::Config::new().temporary(true).open()?;
        Self::from_db(db)
    }

    fn from_db(db: sled::Db) -> Result<Self> {
        Ok(SledStore {
            versions: db.open_tree("versions")?,
            heads: db.open_tree("heads")?,
            changes: db.open_tree("changes")?,
            outbox: db.open_tree("outbox")?,
            state: db.open_tree("state")?,
            follows: db.open_tree("follows")?,
            meta: db.open_tree("meta")?,
            db,
        })
    }

    /// Bytes on disk, as sled counts them.
    pub fn size_on_disk(&self) -> Result<u64> {
        Ok(self.db.size_on_disk()?)
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

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(v)?)
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    Ok(serde_json::from_slice(bytes)?)
}

/// Versions are the bulk of the store: compress them.
fn encode_version(v: &Version) -> Result<Vec<u8>> {
    Ok(lz4_flex::compress_prepend_size(&encode(v)?))
}

fn decode_version(bytes: &[u8]) -> Result<Version> {
    let raw = lz4_flex::decompress_size_prepended(bytes)
        .map_err(|e| Error::Store(format!("corrupt version: {e}")))?;
    decode(&raw)
}

type TxResult<T> = std::result::Result<T, ConflictableTransactionError<Error>>;

fn abort(e: Error) -> ConflictableTransactionError<Error> {
    ConflictableTransactionError::Abort(e)
}

/// Inserts a change and its outbox entry inside a transaction; returns the id.
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
    let channel = alert.channel;
    let record = ChangeRecord {
        alert,
        full_diff: change.full_diff.clone(),
        delivered_at: None,
    };
    changes.insert(&id.to_be_bytes(), encode(&record).map_err(abort)?)?;
    let entry = OutboxEntry {
        id,
        channel,
        attempts: 0,
        next_attempt_at: None,
        last_error: None,
        dead: None,
        nonce: nonce_for(id),
    };
    outbox.insert(&id.to_be_bytes(), encode(&entry).map_err(abort)?)?;
    Ok(id)
}

impl Store for SledStore {
    fn commit(&self, c: CheckCommit) -> Result<Committed> {
        let new_hash = c.document.as_ref().map(document_hash);
        let state_bytes = encode(&c.state)?;
        let result = (
            &self.versions,
            &self.heads,
            &self.changes,
            &self.outbox,
            &self.state,
            &self.follows,
            &self.meta,
        )
            .transaction(|(versions, heads, changes, outbox, state, follows, meta)| {
                let mut committed = Committed::default();
                if let (Some(doc), Some(hash)) = (&c.document, &new_hash) {
                    let head: Option<Head> = heads
                        .get(c.watch.as_bytes())?
                        .map(|b| decode(&b))
                        .transpose()
                        .map_err(abort)?;
                    if head.as_ref().map(|h| &h.hash) != Some(hash) {
                        let seq = head.map_or(1, |h| h.seq + 1);
                        let version = Version {
                            watch: c.watch.clone(),
                            seq,
                            fetched_at: c.fetched_at,
                            hash: hash.clone(),
                            document: doc.clone(),
                        };
                        versions.insert(
                            version_key(&c.watch, seq),
                            encode_version(&version).map_err(abort)?,
                        )?;
                        let head = Head {
                            seq,
                            hash: hash.clone(),
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
                state.insert(c.watch.as_bytes(), state_bytes.clone())?;
                Ok(committed)
            })?;
        Ok(result)
    }

    fn state(&self, watch: &str) -> Result<Option<WatchState>> {
        self.state
            .get(watch.as_bytes())?
            .map(|b| decode(&b))
            .transpose()
    }

    fn states(&self) -> Result<Vec<(String, WatchState)>> {
        self.state
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                Ok((String::from_utf8_lossy(&k).into_owned(), decode(&v)?))
            })
            .collect()
    }

    fn put_state(&self, watch: &str, state: &WatchState) -> Result<()> {
        self.state.insert(watch.as_bytes(), encode(state)?)?;
        Ok(())
    }

    fn latest_version(&self, watch: &str) -> Result<Option<Version>> {
        match self.versions.scan_prefix(watch_prefix(watch)).next_back() {
            Some(kv) => Ok(Some(decode_version(&kv?.1)?)),
            None => Ok(None),
        }
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
        for kv in self.versions.iter() {
            f(decode_version(&kv?.1)?)?;
        }
        Ok(())
    }

    fn change(&self, id: u64) -> Result<Option<ChangeRecord>> {
        self.changes
            .get(id.to_be_bytes())?
            .map(|b| decode(&b))
            .transpose()
    }

    fn changes(&self, filter: &ChangeFilter) -> Result<Vec<ChangeRecord>> {
        let mut out = Vec::new();
        for kv in self.changes.iter() {
            let record: ChangeRecord = decode(&kv?.1)?;
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
        self.outbox.insert(entry.id.to_be_bytes(), encode(entry)?)?;
        Ok(())
    }

    fn mark_delivered(&self, id: u64, at: DateTime<Utc>) -> Result<()> {
        (&self.changes, &self.outbox).transaction(|(changes, outbox)| {
            let key = id.to_be_bytes();
            if let Some(bytes) = changes.get(key)? {
                let mut record: ChangeRecord = decode(&bytes).map_err(abort)?;
                record.delivered_at = Some(at);
                changes.insert(&key, encode(&record).map_err(abort)?)?;
            }
            outbox.remove(&key)?;
            Ok(())
        })?;
        Ok(())
    }

    fn drop_outbox(&self, id: u64) -> Result<bool> {
        Ok(self.outbox.remove(id.to_be_bytes())?.is_some())
    }

    fn record_alert(&self, change: NewChange) -> Result<u64> {
        let id = (&self.changes, &self.outbox, &self.meta)
            .transaction(|(changes, outbox, meta)| insert_change(changes, outbox, meta, &change))?;
        Ok(id)
    }

    fn follows(&self) -> Result<Vec<Followed>> {
        self.follows.iter().map(|kv| decode(&kv?.1)).collect()
    }

    fn unfollow(&self, id: &str) -> Result<bool> {
        Ok(self.follows.remove(id.as_bytes())?.is_some())
    }

    fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}
