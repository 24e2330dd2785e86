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

/// The user this process runs as, for "permission denied" messages: `name (uid N)`.
fn running_as() -> String {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next().map(str::to_string))
        });
    let name = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok();
    match (name, uid) {
        (Some(n), Some(u)) => format!("user `{n}` (uid {u})"),
        (Some(n), None) => format!("user `{n}`"),
        (None, Some(u)) => format!("uid {u}"),
        (None, None) => "this user".into(),
    }
}

/// A data directory that is something else (a file): said before sled tries it.
pub fn not_a_directory(dir: &Path) -> Option<Error> {
    (dir.exists() && !dir.is_dir()).then(|| Error::StoreOpen {
        path: dir.to_path_buf(),
        reason: "it is a file, not a directory".into(),
        hint: "Point --data (POLICYWATCH_DATA) at a directory; to start a new store, move \
               the file aside",
    })
}

/// The error for a store that would not open.
pub fn open_error(dir: &Path, e: &sled::Error) -> Error {
    let path = dir.to_path_buf();
    if let Some(e) = not_a_directory(dir) {
        return e;
    }
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
            let cause = match io.raw_os_error() {
                Some(13) | Some(1) => format!(
                    "permission denied: {} may not read and write {}",
                    running_as(),
                    dir.display()
                ),
                Some(20) => "a part of the path is a file, not a directory".into(),
                _ => io_cause(io),
            };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn io(code: i32) -> sled::Error {
        sled::Error::Io(std::io::Error::from_raw_os_error(code))
    }

    #[test]
    fn each_cause_is_named_with_what_to_do_and_only_damage_sends_to_doctor() {
        let dir = Path::new("/var/lib/policywatch");
        let denied = open_error(dir, &io(13));
        assert_eq!(denied.exit_code(), 1);
        let text = denied.to_string();
        assert!(
            text.starts_with("cannot open the store at /var/lib/policywatch: permission denied: "),
            "{text}"
        );
        assert!(
            text.contains("may not read and write /var/lib/policywatch"),
            "{text}"
        );
        assert!(text.contains("uid "), "names the user: {text}");
        assert!(
            text.contains("Run as the user that owns the data directory"),
            "{text}"
        );
        assert!(text.contains("the store itself is fine"), "{text}");

        let full = open_error(dir, &io(28)).to_string();
        assert!(full.contains("the disk is full"), "{full}");

        let damaged = open_error(
            dir,
            &sled::Error::Corruption {
                at: None,
                bt: Default::default(),
            },
        );
        assert_eq!(damaged.exit_code(), 4);
        assert!(damaged.to_string().contains("policywatch doctor"));
        for e in [denied, open_error(dir, &io(28))] {
            let text = e.to_string();
            assert!(
                !text.contains("doctor")
                    && !text.contains("delete")
                    && !text.contains("remove the"),
                "{text}"
            );
        }
    }

    #[test]
    fn a_file_where_the_data_directory_belongs_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data");
        std::fs::write(&file, "not a store").unwrap();
        let e = not_a_directory(&file).unwrap();
        assert_eq!(e.exit_code(), 1);
        assert!(
            e.to_string().contains("it is a file, not a directory"),
            "{e}"
        );
    }
}
