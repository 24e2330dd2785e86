//! Shared test helpers: a temp project (config, watchlists, data dir) and the binary
//! run against it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

/// A throwaway policywatch setup: `policywatch.toml`, `watchlists/`, `data/`.
pub struct Project {
    pub dir: TempDir,
}

impl Project {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("watchlists")).unwrap();
        let p = Project { dir };
        // Fast, polite-enough defaults for loopback servers.
        p.config("");
        p
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn data(&self) -> PathBuf {
        self.path().join("data")
    }

    /// Writes `policywatch.toml`: test defaults (no delays) plus `extra` TOML.
    pub fn config(&self, extra: &str) {
        let base = "[fetch]\nallow_private = true\nper_host_interval_secs = 0.0\nretry_base_secs = 0.01\nretry_max_secs = 0.05\ntimeout_secs = 5.0\n";
        let text = if extra.contains("[fetch]") {
            extra.to_string()
        } else {
            format!("{base}{extra}")
        };
        std::fs::write(self.path().join("policywatch.toml"), text).unwrap();
    }

    pub fn watchlist(&self, name: &str, text: &str) {
        std::fs::write(self.path().join("watchlists").join(name), text).unwrap();
    }

    /// The binary, pointed at this project, with no Discord token from the environment.
    pub fn cmd(&self) -> Command {
        let mut c = Command::from_std(process(self.path()));
        c.env("POLICYWATCH_LOG", "warn");
        c
    }

    /// Runs `check --format json`, expects success, returns the alerts printed.
    pub fn check_json(&self) -> Vec<Value> {
        let out = self
            .cmd()
            .args(["check", "--format", "json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "check failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        json_lines(&out.stdout)
    }

    /// Runs a command, whatever its outcome: (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let out = self.cmd().args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs a command, expects success, returns stdout.
    pub fn stdout(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// The binary as a plain process (for tests that spawn, signal or kill it), pointed at the
/// project layout in `root`, with no Discord token or systemd sockets from the environment.
pub fn process(root: &Path) -> std::process::Command {
    process_on(root, "data")
}

/// [`process`] on another data directory of the project (a restore or import target).
pub fn process_on(root: &Path, data: &str) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_policywatch"));
    c.current_dir(root)
        .env_remove("POLICYWATCH_DISCORD_TOKEN")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .args([
            "--config",
            "policywatch.toml",
            "--watchlists",
            "watchlists",
            "--data",
            data,
        ]);
    c
}

/// The watches of `status --format json` (one document; its `watches` array).
pub fn status_watches(stdout: &str) -> Vec<Value> {
    let doc: Value = serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("status is not one JSON document: {e}: {stdout}"));
    doc["watches"].as_array().cloned().unwrap_or_default()
}

pub fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// Reads a fixture from `tests/fixtures`.
pub fn fixture(path: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The commissioner's home page as HTML, with a view counter and a "last updated" box that
/// change on every visit and must be ignored (`tests/page.rs` serves it; the extraction
/// differential test reads it too).
pub fn commissioner_page(extra_paragraph: &str, views: u32, updated: &str, indent: &str) -> String {
    let text = String::from_utf8(fixture("pages/iasc-commissioner-homepage.txt")).unwrap();
    let mut html = String::from("<!doctype html><html><head><title>Independent Anti-Slavery Commissioner</title>\n<script>var t = Date.now();</script></head><body>\n<nav><a href=\"/\">Home</a></nav>\n<main>\n");
    for (i, para) in text
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .take(8)
        .enumerate()
    {
        if i == 0 {
            html.push_str(&format!(
                "{indent}<h1>{}</h1>\n",
                para.lines().next().unwrap()
            ));
        } else {
            html.push_str(&format!("{indent}<p>{}</p>\n", para.trim()));
        }
    }
    if !extra_paragraph.is_empty() {
        html.push_str(&format!("<p>{extra_paragraph}</p>\n"));
    }
    html.push_str(&format!("<div class=\"updated\">Last updated {updated}</div>\n<p>Page views: {views}</p>\n</main>\n<footer>© Crown copyright</footer></body></html>"));
    html
}

/// Opens the store at `dir` again after this process dropped its last handle, as a
/// restart would. sled finishes its last writes on background threads that hold the
/// directory's lock a moment after the drop (a real restart is a new process, whose lock
/// the kernel freed at exit), so "in use" is retried until those threads let go.
pub fn reopen_store(dir: &Path, cache_capacity: u64) -> policywatch::store::SledStore {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match policywatch::store::SledStore::open(dir, cache_capacity) {
            Ok(store) => return store,
            Err(e) if e.to_string().contains("in use") && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(e) => panic!("could not reopen the store at {}: {e}", dir.display()),
        }
    }
}
