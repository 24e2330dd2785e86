//! Backup, restore, import and doctor: getting the store back whatever happened to it.
//!
//! A backup is every record of every sled tree, taken at one moment (writes wait while it
//! is read, so the daemon may keep running), as JSON Lines: a header, one line per record
//! (tree, key and value in hex) and a trailer with the count, so a cut-off file is caught.
//! `restore` loads one into an empty directory. `import` loads `export` output (versions)
//! into a store. `doctor` reads every record, names the damaged ones and copies every
//! readable one into a new store.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::codec::Unframed;
use super::sled_store::{decode_change, decode_version, id_of, version_name};
use super::{SledStore, Store, Version};
use crate::error::{Error, Result};
use crate::text::one_line;

const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Header {
    policywatch_backup: u32,
    created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Serialize, Deserialize)]
struct Record {
    t: String,
    k: String,
    v: String,
}

#[derive(Serialize, Deserialize)]
struct Trailer {
    records: u64,
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes a consistent backup of `store` to `file` (atomically: a half-written backup never
/// has the final name). Returns the number of records.
pub fn backup(store: &dyn Store, file: &Path) -> Result<u64> {
    let tmp = file.with_extension("partial");
    let io = io_err(file);
    let mut w = BufWriter::new(std::fs::File::create(&tmp).map_err(&io)?);
    let header = Header {
        policywatch_backup: FORMAT,
        created_at: chrono::Utc::now(),
    };
    serde_json::to_writer(&mut w, &header)?;
    writeln!(w).map_err(&io)?;
    let mut n = 0u64;
    store.dump(&mut |tree, k, v| {
        let r = Record {
            t: hex::encode(tree),
            k: hex::encode(k),
            v: hex::encode(v),
        };
        serde_json::to_writer(&mut w, &r)?;
        writeln!(w).map_err(&io)?;
        n += 1;
        Ok(())
    })?;
    serde_json::to_writer(&mut w, &Trailer { records: n })?;
    writeln!(w).map_err(&io)?;
    let f = w.into_inner().map_err(|e| io(e.into_error()))?;
    f.sync_all().map_err(&io)?;
    std::fs::rename(&tmp, file).map_err(&io)?;
    Ok(n)
}

/// Refuses a target directory that already holds something.
fn empty_target(dir: &Path) -> Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(Error::Usage(format!(
                    "{} is not empty: restore and import write a new store; point --data at a new \
                     or empty directory",
                    dir.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

/// Loads a backup into a new store at `dir` (which must be absent or empty).
pub fn restore(file: &Path, dir: &Path, cache_capacity: u64) -> Result<u64> {
    empty_target(dir)?;
    let io = io_err(file);
    let reader = BufReader::new(std::fs::File::open(file).map_err(&io)?);
    let bad = |line: usize, why: String| {
        Error::Usage(format!(
            "{}:{line}: not a policywatch backup: {why}",
            file.display()
        ))
    };
    let store = SledStore::open(dir, cache_capacity)?;
    let mut n = 0u64;
    let mut complete = false;
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(&io)?;
        if i == 0 {
            let h: Header = serde_json::from_str(&line).map_err(|e| bad(1, e.to_string()))?;
            if h.policywatch_backup != FORMAT {
                return Err(bad(
                    1,
                    format!("format {} is not known", h.policywatch_backup),
                ));
            }
            continue;
        }
        if let Ok(t) = serde_json::from_str::<Trailer>(&line) {
            if t.records != n {
                return Err(bad(
                    i + 1,
                    format!("{} records announced, {n} read", t.records),
                ));
            }
            complete = true;
            break;
        }
        let r: Record = serde_json::from_str(&line).map_err(|e| bad(i + 1, e.to_string()))?;
        let hex = |s: &str| hex::decode(s).map_err(|e| bad(i + 1, e.to_string()));
        store.put_raw(&hex(&r.t)?, &hex(&r.k)?, &hex(&r.v)?)?;
        n += 1;
    }
    if !complete {
        return Err(bad(
            n as usize + 1,
            "the file ends before its trailer: the backup is incomplete".into(),
        ));
    }
    store.flush()?;
    Ok(n)
}

/// Loads `export` output (one version per line) into `store`. Returns (added, already there).
pub fn import(file: &Path, store: &SledStore) -> Result<(u64, u64)> {
    let io = io_err(file);
    let reader = BufReader::new(std::fs::File::open(file).map_err(&io)?);
    let (mut added, mut known) = (0, 0);
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(&io)?;
        if line.trim().is_empty() {
            continue;
        }
        let v: Version = serde_json::from_str(&line).map_err(|e| {
            Error::Usage(format!(
                "{}:{}: not a line of `policywatch export` output: {e}",
                file.display(),
                i + 1
            ))
        })?;
        if store.import_version(&v)? {
            added += 1;
        } else {
            known += 1;
        }
    }
    store.flush()?;
    Ok((added, known))
}

/// A directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What `doctor` found.
#[derive(Debug, Default)]
pub struct DoctorReport {
    /// The store only opened once its snapshot was set aside (sled rebuilds from its log).
    pub snapshot_damaged: bool,
    /// What sled said about the snapshot.
    pub snapshot_error: Option<String>,
    /// Readable records per tree.
    pub read: Vec<(String, u64)>,
    /// Every record (or run of records) that could not be read, named, with the reason.
    pub lost: Vec<String>,
    /// Where the readable records were copied, when anything was damaged.
    pub salvaged_into: Option<PathBuf>,
}

impl DoctorReport {
    pub fn damaged(&self) -> bool {
        self.snapshot_damaged || !self.lost.is_empty()
    }
}

/// Copies a store's files but its snapshot and lock (so sled rebuilds from its log), with
/// the directory of large values (`blobs/`) whole: without it those values are lost.
fn copy_store(from: &Path, to: &Path) -> Result<()> {
    for entry in std::fs::read_dir(from).map_err(io_err(from))? {
        let entry = entry.map_err(io_err(from))?;
        let name = entry.file_name();
        let path = entry.path();
        let lossy = name.to_string_lossy();
        if lossy.starts_with("snap.") || lossy == "owner.pid" || lossy == "control.sock" {
            continue;
        }
        if path.is_dir() {
            std::fs::create_dir_all(to.join(&name)).map_err(io_err(to))?;
            copy_store(&path, &to.join(&name))?;
        } else if path.is_file() {
            std::fs::copy(&path, to.join(&name)).map_err(io_err(&path))?;
        }
    }
    Ok(())
}

/// Records the readable records say exist but that are not among them: sled rebuilding
/// its index from a log cut short drops the newest records without a word. Each head names
/// its watch's latest version, the change counter the last id given out (none is ever
/// deleted), and each outbox entry its change.
fn missing(good: &[(Vec<u8>, Vec<u8>, Vec<u8>)], unreadable: &[(Vec<u8>, Vec<u8>)]) -> Vec<String> {
    use std::collections::{BTreeMap, BTreeSet};
    fn tree<'g>(
        good: &'g [(Vec<u8>, Vec<u8>, Vec<u8>)],
        name: &'static str,
    ) -> impl Iterator<Item = (&'g [u8], &'g [u8])> {
        good.iter()
            .filter(move |(t, _, _)| t.as_slice() == name.as_bytes())
            .map(|(_, k, v)| (k.as_slice(), v.as_slice()))
    }
    let id = |k: &[u8]| {
        <[u8; 8]>::try_from(k.get(..8)?)
            .ok()
            .map(u64::from_be_bytes)
    };
    let mut versions: BTreeMap<&[u8], BTreeSet<u64>> = BTreeMap::new();
    let undecoded = unreadable
        .iter()
        .filter(|(t, _)| t.as_slice() == b"versions")
        .map(|(_, k)| k.as_slice());
    for k in tree(good, "versions").map(|(k, _)| k).chain(undecoded) {
        if let Some(i) = k.iter().position(|b| *b == 0) {
            if let Some(seq) = k.get(i + 1..).and_then(id) {
                versions.entry(&k[..i]).or_default().insert(seq);
            }
        }
    }
    let mut lost = Vec::new();
    for (watch, v) in tree(good, "heads") {
        let head = super::codec::decode::<serde_json::Value>(v, Unframed::Json)
            .ok()
            .and_then(|h| h["seq"].as_u64())
            .unwrap_or(0);
        // Likewise each watch's newest versions.
        let newest = versions
            .get(watch)
            .and_then(|h| h.last().copied())
            .unwrap_or(0);
        let gone: Vec<u64> = (newest + 1..=head).collect();
        if !gone.is_empty() {
            lost.push(format!(
                "versions {} of {} (its latest is v{head}; they are not in sled's log)",
                runs(&gone, "v"),
                String::from_utf8_lossy(watch)
            ));
        }
    }
    // Changes found but undecodable were named with their reason already.
    let changes: BTreeSet<u64> = tree(good, "changes")
        .map(|(k, _)| k)
        .chain(
            unreadable
                .iter()
                .filter(|(t, _)| t.as_slice() == b"changes")
                .map(|(_, k)| k.as_slice()),
        )
        .filter_map(id)
        .collect();
    let given = tree(good, "meta")
        .find(|(k, _)| *k == b"next_change_id")
        .and_then(|(_, v)| id(v))
        .map_or(0, |next| next.saturating_sub(1));
    let referenced: BTreeSet<u64> = tree(good, "outbox").filter_map(|(k, _)| id(k)).collect();
    // A cut log loses the newest: the ids after the last readable one. (Gaps below it are
    // records named unreadable, or lost before a salvage.)
    let newest = changes.last().copied().unwrap_or(0);
    let gone: Vec<u64> = (newest + 1..=given)
        .chain(referenced)
        .filter(|i| !changes.contains(i))
        .collect::<BTreeSet<u64>>()
        .into_iter()
        .collect();
    if !gone.is_empty() {
        lost.push(format!(
            "changes {} (ids up to {} were given out; they are not in sled's log)",
            runs(&gone, ""),
            given.max(*gone.last().unwrap_or(&0))
        ));
    }
    lost
}

/// `3–5, 9` for [3, 4, 5, 9], each number after `prefix`.
fn runs(sorted: &[u64], prefix: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1] == sorted[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            format!("{prefix}{}", sorted[i])
        } else {
            format!("{prefix}{}–{prefix}{}", sorted[i], sorted[j])
        });
        i = j + 1;
    }
    out.join(", ")
}

/// Opens the store for `doctor`, a panic inside sled (which some damage provokes) read as
/// damage, so `doctor` can still report and salvage.
fn open_or_damaged(dir: &Path, cache_capacity: u64) -> Result<SledStore> {
    // sled's panic message would be printed as if policywatch had crashed: the damage is
    // reported instead.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let opened = std::panic::catch_unwind(|| SledStore::open(dir, cache_capacity));
    std::panic::set_hook(hook);
    opened.unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("no reason given");
        Err(Error::StoreDamaged {
            path: dir.to_path_buf(),
            reason: format!("sled gave up reading its files ({})", one_line(why)),
        })
    })
}

/// Checks every record of the store at `dir`; when anything is damaged, copies every
/// readable record into a new store at `into`. The damaged store is never modified.
pub fn doctor(dir: &Path, into: &Path, cache_capacity: u64) -> Result<DoctorReport> {
    let mut report = DoctorReport::default();
    let mut scratch = None;
    let store = match open_or_damaged(dir, cache_capacity) {
        Ok(s) => s,
        Err(Error::StoreDamaged { reason, .. }) => {
            // sled rebuilds its index from the log when the snapshot is gone: try that on a
            // copy, never on the original.
            let copy = Scratch(dir.with_extension(format!("doctor-{}", std::process::id())));
            std::fs::create_dir_all(copy.path()).map_err(io_err(copy.path()))?;
            copy_store(dir, copy.path())?;
            report.snapshot_damaged = true;
            report.snapshot_error = Some(reason);
            match open_or_damaged(copy.path(), cache_capacity) {
                Ok(opened) => {
                    scratch = Some(copy);
                    opened
                }
                Err(e) => {
                    // The reason alone: the scratch copy's path means nothing to anyone.
                    let why = match e {
                        Error::StoreDamaged { reason, .. } => reason,
                        other => other.to_string(),
                    };
                    report.lost.push(format!(
                        "every record: the store does not open without its snapshot either \
                         ({why}), so no record can be read"
                    ));
                    return Ok(report);
                }
            }
        }
        Err(e) => return Err(e),
    };

    let mut good: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> = Vec::new();
    // Records found but not decodable (named already).
    let mut unreadable: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for tree in store.tree_names() {
        let name = String::from_utf8_lossy(&tree).into_owned();
        let mut read = 0u64;
        let mut last: Option<Vec<u8>> = None;
        for kv in store.raw_tree(&tree)? {
            match kv {
                Ok((k, v)) => {
                    let named = |k: &[u8]| match name.as_str() {
                        "versions" => format!("version {}", version_name(k)),
                        "changes" => format!("change {}", id_of(k)),
                        "outbox" => format!("outbox entry {}", id_of(k)),
                        _ => format!("{name} record `{}`", String::from_utf8_lossy(k)),
                    };
                    let check: std::result::Result<(), String> = match name.as_str() {
                        "versions" => decode_version(&v).map(drop).map_err(|e| e.to_string()),
                        "changes" => decode_change(&v).map(drop).map_err(|e| e.to_string()),
                        "outbox" | "state" | "heads" | "follows" | "sinks" => {
                            super::codec::decode::<serde_json::Value>(&v, Unframed::Json)
                                .map(drop)
                                .map_err(|e| e.to_string())
                        }
                        "checked" if v.len() != 16 => Err(format!("{} bytes, not 16", v.len())),
                        _ => Ok(()),
                    };
                    match check {
                        Ok(()) => {
                            read += 1;
                            last = Some(k.clone());
                            good.push((tree.clone(), k, v));
                        }
                        Err(why) => {
                            report.lost.push(format!("{}: {why}", named(&k)));
                            unreadable.push((tree.clone(), k));
                        }
                    }
                }
                Err(why) => {
                    let after =
                        last.as_deref()
                            .map_or("its start".to_string(), |k| match name.as_str() {
                                "versions" => format!("version {}", version_name(k)),
                                "changes" | "outbox" => format!("id {}", id_of(k)),
                                _ => format!("`{}`", String::from_utf8_lossy(k)),
                            });
                    report
                        .lost
                        .push(format!("the rest of `{name}` after {after}: {why}"));
                }
            }
        }
        if name != "__sled__default" || read > 0 {
            report.read.push((name, read));
        }
    }
    // Rebuilt from a log that gave nothing back, from a store that held something: sled
    // could not read its log (cut short, overwritten), and every record is lost. Say so
    // rather than report an empty store as whole.
    let log_bytes = std::fs::metadata(dir.join("db")).map_or(0, |m| m.len());
    if report.snapshot_damaged && good.is_empty() && log_bytes > 0 {
        report.lost.push(format!(
            "every record: sled could not read its log ({log_bytes} bytes in `db`) without its \
             snapshot either, so nothing could be salvaged"
        ));
    }
    report.lost.extend(missing(&good, &unreadable));
    if report.damaged() && !good.is_empty() {
        empty_target(into)?;
        let salvaged = SledStore::open(into, cache_capacity)?;
        for (t, k, v) in &good {
            salvaged.put_raw(t, k, v)?;
        }
        salvaged.flush()?;
        report.salvaged_into = Some(into.to_path_buf());
    }
    drop(store);
    drop(scratch);
    Ok(report)
}
