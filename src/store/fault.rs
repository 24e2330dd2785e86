//! What went wrong with the store, in words that lead to the right action: a full disk, a
//! permission, another process holding the lock, or damaged files. Only damage sends the
//! user to `doctor`; nothing here ever advises throwing the store away.

use std::path::{Path, PathBuf};

use crate::error::Error;

/// The file in the data directory naming the process that holds the store.
pub fn owner_file(dir: &Path) -> PathBuf {
    dir.join("owner.pid")
}

/// Records this process as the store's holder (best effort: only used in messages).
pub fn claim(dir: &Path) {
    let _ = std::fs::write(owner_file(dir), std::process::id().to_string());
}

/// The cause of an I/O failure in one phrase, and whether it is "disk full".
pub fn io_cause(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(28) => "the disk is full (No space left on device)".into(),
        Some(122) => "the disk quota is exhausted".into(),
        Some(30) => "the file system is read-only".into(),
        Some(13) | Some(1) => format!("permission denied ({e})"),
        _ => e.to_string(),
    }
}

/// Whether a store error message says the disk is full.
pub fn is_disk_full(message: &str) -> bool {
    message.contains("No space left on device")
        || message.contains("disk is full")
        || message.contains("os error 28")
}

/// The error for a store that would not open.
pub fn open_error(dir: &Path, e: &sled::Error) -> Error {
    let path = dir.to_path_buf();
    match e {
        sled::Error::Io(io) => {
            let text = io.to_string();
            if text.contains("could not acquire lock")
                || io.kind() == std::io::ErrorKind::WouldBlock
            {
                let holder = std::fs::read_to_string(owner_file(dir))
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok())
                    .filter(|pid| Path::new(&format!("/proc/{pid}")).exists())
                    .map(|pid| format!(" (pid {pid})"))
                    .unwrap_or_default();
                return Error::StoreOpen {
                    path,
                    reason: format!("it is in use by another policywatch process{holder}"),
                    hint:
                        "If another policywatch is running on this data directory, stop it first \
                           (`status` reads the daemon's own report meanwhile). Nothing is wrong \
                           with the store",
                };
            }
            let cause = io_cause(io);
            let hint = match io.raw_os_error() {
                Some(28) | Some(122) => {
                    "Free some space (or grow the file system) and try again; the store is \
                     consistent and nothing in it is lost"
                }
                Some(13) | Some(1) | Some(30) => {
                    "Run as the user that owns the data directory (the service's user), or fix \
                     its ownership; the store itself is fine"
                }
                Some(20) => {
                    "Point --data (POLICYWATCH_DATA) at a directory; to start a new store, move \
                     the file aside"
                }
                _ => "Check the data directory and the disk, then try again",
            };
            Error::StoreOpen {
                path,
                reason: cause,
                hint,
            }
        }
        sled::Error::Corruption { .. } | sled::Error::ReportableBug(_) => Error::StoreDamaged {
            path,
            reason: e.to_string(),
        },
        other => Error::StoreOpen {
            path,
            reason: other.to_string(),
            hint: "Check the data directory and the disk, then try again",
        },
    }
}

/// How long a flush may take before it is reported as failed (a full or failing disk can
/// make sled's flush wait forever).
pub const FLUSH_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Flushes `store` on a blocking thread, giving up after `limit`: the caller is told, and
/// never hangs. (A flush that gave up may still finish in the background; sled's writes are
/// atomic, so the store stays consistent either way.)
pub async fn flush_bounded(
    store: &std::sync::Arc<dyn super::Store>,
    limit: std::time::Duration,
) -> crate::error::Result<()> {
    let s = store.clone();
    match tokio::time::timeout(limit, tokio::task::spawn_blocking(move || s.flush())).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(Error::Store(format!("flush failed: {e}"))),
        Err(_) => Err(Error::Store(format!(
            "writing to disk did not finish within {}s (is the disk full or failing?)",
            limit.as_secs()
        ))),
    }
}

/// A store error in words for a log line or a status: "the disk is full" first when it is.
pub fn describe(e: &Error) -> String {
    let text = e.to_string();
    if is_disk_full(&text) {
        format!("the disk is full ({text})")
    } else {
        text
    }
}
