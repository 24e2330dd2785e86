//! Issue 16: a damaged store loses only what is damaged; backups, restores and imports give
//! back exactly what was there.

mod common;

use std::path::Path;

use common::Project;
use policywatch::store::{recovery, SledStore};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn serve(server: &MockServer, pages: &[(&str, &str)]) {
    server.reset().await;
    for (p, text) in pages {
        Mock::given(path(*p))
            .respond_with(
                ResponseTemplate::new(200).set_body_raw(
                    format!(
                        "<html><head><title>{p}</title></head><body><p>{text}</p></body></html>"
                    )
                    .into_bytes(),
                    "text/html",
                ),
            )
            .mount(server)
            .await;
    }
}

/// A project with three page watches, checked three times with changes: 3 × 3 versions, 6
/// changes.
async fn project_with_history(server: &MockServer) -> Project {
    let p = Project::new();
    let mut list = String::from("name = \"t\"\n");
    for id in ["a", "b", "c"] {
        list.push_str(&format!(
            "\n[[watch]]\nid = \"{id}\"\nkind = \"page\"\nurl = \"{}/{id}\"\n",
            server.uri()
        ));
    }
    p.watchlist("t.toml", &list);
    for round in 0..3 {
        let t = format!("text {round}");
        serve(server, &[("/a", &t), ("/b", &t), ("/c", &t)]).await;
        p.check_json();
    }
    p
}

fn run(p: &Project, args: &[&str]) -> std::process::Output {
    p.cmd().args(args).output().unwrap()
}

/// The binary on another data directory of the project.
fn run_on(p: &Project, data: &str, args: &[&str]) -> std::process::Output {
    common::process_on(p.path(), data)
        .env("POLICYWATCH_LOG", "warn")
        .args(args)
        .output()
        .unwrap()
}

/// Stdout of a command that must succeed on another data directory.
fn out_on(p: &Project, data: &str, args: &[&str]) -> String {
    let o = run_on(p, data, args);
    assert!(o.status.success(), "{args:?} on {data}: {}", stderr(&o));
    stdout(&o)
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn export_import_export_is_identical_and_backup_restore_too() {
    let server = MockServer::start().await;
    let p = project_with_history(&server).await;
    let export = p.stdout(&["export"]);
    assert_eq!(export.lines().count(), 9);
    std::fs::write(p.path().join("export.jsonl"), &export).unwrap();

    let out = run_on(&p, "imported", &["import", "export.jsonl"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("imported 9 versions"),
        "{}",
        stderr(&out)
    );
    assert_eq!(out_on(&p, "imported", &["export"]), export);
    // Importing again adds nothing and rewrites nothing.
    let out = run_on(&p, "imported", &["import", "export.jsonl"]);
    assert!(
        stderr(&out).contains("imported 0 versions"),
        "{}",
        stderr(&out)
    );

    let out = run(&p, &["backup", "store.backup"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run_on(&p, "restored", &["restore", "store.backup"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out_on(&p, "restored", &["export"]), export);
    assert_eq!(
        out_on(&p, "restored", &["history", "--format", "json"]),
        p.stdout(&["history", "--format", "json"])
    );
    // Restore never writes over a store.
    let out = run(&p, &["restore", "store.backup"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("is not empty"), "{}", stderr(&out));
    // A cut-off backup is refused, not half restored.
    let text = std::fs::read_to_string(p.path().join("store.backup")).unwrap();
    let cut: String = text.lines().take(5).map(|l| format!("{l}\n")).collect();
    std::fs::write(p.path().join("cut.backup"), cut).unwrap();
    let out = run_on(&p, "cut", &["restore", "cut.backup"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("incomplete"), "{}", stderr(&out));
}

/// A backup taken while another thread keeps committing is one consistent moment: every
/// change it holds has its outbox entry and its version.
#[test]
fn a_backup_taken_during_writes_is_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(SledStore::open(&dir.path().join("data"), 1 << 20).unwrap());
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            use policywatch::store::Store;
            for i in 0..300u32 {
                store
                    .put_raw(b"versions", format!("w\0{i:08}").as_bytes(), b"x")
                    .unwrap();
                store
                    .put_raw(b"heads", b"w", i.to_string().as_bytes())
                    .unwrap();
            }
            store.flush().unwrap();
        })
    };
    let file = dir.path().join("b.backup");
    let n = recovery::backup(store.as_ref(), &file).unwrap();
    writer.join().unwrap();
    let restored = dir.path().join("restored");
    assert_eq!(recovery::restore(&file, &restored, 1 << 20).unwrap(), n);
}

fn change_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn corrupt_change_records_are_skipped_named_and_salvaged_around() {
    let server = MockServer::start().await;
    let p = project_with_history(&server).await;
    let before = p.stdout(&["history", "--format", "json"]);
    assert_eq!(before.lines().count(), 6);
    {
        let store = SledStore::open(&p.data(), 1 << 20).unwrap();
        store
            .put_raw(b"changes", &change_key(2), b"\x00garbage")
            .unwrap();
        store
            .put_raw(b"changes", &change_key(5), b"Z\x01\x02")
            .unwrap();
        use policywatch::store::Store;
        store.flush().unwrap();
    }
    // history and export go on past the bad records, naming them.
    let out = run(&p, &["history"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 4, "{}", stdout(&out));
    assert!(
        stderr(&out).contains("skipped: change 2 is unreadable"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("skipped: change 5 is unreadable"),
        "{}",
        stderr(&out)
    );
    let out = run(&p, &["history", "--watch", "a"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&p, &["show", "2"]);
    assert!(
        stderr(&out).contains("change 2 is unreadable"),
        "{}",
        stderr(&out)
    );
    assert!(run(&p, &["export"]).status.success());
    let out = run(&p, &["status"]);
    assert!(
        out.status.success(),
        "history damage does not hide status: {}",
        stderr(&out)
    );

    // doctor names both, salvages the rest, exits 4.
    let out = run(&p, &["doctor"]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let report = stdout(&out);
    assert!(report.contains("LOST: change 2:"), "{report}");
    assert!(report.contains("LOST: change 5:"), "{report}");
    assert!(report.contains("changes: 4 records readable"), "{report}");
    assert!(report.contains("versions: 9 records readable"), "{report}");
    let salvaged = p.path().join("data.salvaged");
    assert!(salvaged.is_dir());
    let s = salvaged.to_str().unwrap();
    let out = run_on(&p, s, &["history"]);
    assert_eq!(stdout(&out).lines().count(), 4);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    assert_eq!(out_on(&p, s, &["export"]), p.stdout(&["export"]));
    // A healthy store: doctor says so and exits 0.
    let out = run_on(&p, s, &["doctor"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("store OK"));
}

fn snapshot_files(data: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("snap.")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flipped_snapshot_is_damage_with_exit_4_and_doctor_recovers_everything() {
    let server = MockServer::start().await;
    let p = project_with_history(&server).await;
    let export = p.stdout(&["export"]);
    let history = p.stdout(&["history", "--format", "json"]);
    let snaps = snapshot_files(&p.data());
    assert!(!snaps.is_empty(), "sled wrote a snapshot");
    for snap in &snaps {
        let mut bytes = std::fs::read(snap).unwrap();
        let mid = bytes.len() / 2;
        for b in bytes.iter_mut().skip(mid.saturating_sub(16)).take(32) {
            *b ^= 0xff;
        }
        std::fs::write(snap, bytes).unwrap();
    }
    let out = run(&p, &["status", "--format", "json"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "no old report shown as current");
    assert!(stderr(&out).contains("store damaged"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("policywatch doctor"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("start again"), "{}", stderr(&out));

    let out = run(&p, &["doctor"]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("snapshot: damaged"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains("LOST"), "{}", stdout(&out));
    let s = p.path().join("data.salvaged");
    let s = s.to_str().unwrap();
    assert_eq!(out_on(&p, s, &["export"]), export);
    assert_eq!(out_on(&p, s, &["history", "--format", "json"]), history);
}

/// Page text of `words` words that lz4 cannot squeeze much (a seeded mix of words and
/// numbers), different for each page and round.
fn prose(seed: u64, words: usize) -> String {
    const VOCABULARY: &[&str] = &[
        "guidance",
        "victim",
        "referral",
        "decision",
        "statutory",
        "support",
        "national",
        "mechanism",
        "competent",
        "authority",
        "reasonable",
        "grounds",
        "conclusive",
        "exploitation",
        "recovery",
        "period",
        "assistance",
        "duty",
        "notify",
        "first",
        "responder",
        "organisation",
        "trafficking",
        "slavery",
        "servitude",
        "forced",
        "labour",
        "child",
        "adult",
        "consent",
        "interview",
        "evidence",
        "review",
    ];
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut out = String::new();
    for i in 0..words {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let w = VOCABULARY[(x >> 33) as usize % VOCABULARY.len()];
        out.push_str(w);
        out.push(' ');
        if i % 7 == 0 {
            out.push_str(&format!("{} ", (x >> 40) % 100_000));
        }
        if i % 60 == 59 {
            out.push_str("</p><p>");
        }
    }
    out
}

/// Copies the data directory to `name`, with its `db` (sled's log) cut to `percent` of its
/// length.
fn cut_copy(p: &Project, name: &str, percent: u64) -> std::path::PathBuf {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if path.is_dir() {
                copy(&path, &to.join(entry.file_name()));
            } else if entry.file_name() != "owner.pid" {
                std::fs::copy(&path, to.join(entry.file_name())).unwrap();
            }
        }
    }
    let to = p.path().join(name);
    copy(&p.data(), &to);
    let db = to.join("db");
    let len = std::fs::metadata(&db).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    f.set_len(len * percent / 100).unwrap();
    to
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_db_loses_only_what_was_cut_and_doctor_names_it() {
    // A store several sled segments long: 16 pages of ~30 KB, three versions each.
    let server = MockServer::start().await;
    let p = Project::new();
    let ids: Vec<String> = (0..16).map(|i| format!("p{i}")).collect();
    let mut list = String::from("name = \"t\"\n");
    for id in &ids {
        list.push_str(&format!(
            "\n[[watch]]\nid = \"{id}\"\nkind = \"page\"\nurl = \"{}/{id}\"\n",
            server.uri()
        ));
    }
    p.watchlist("t.toml", &list);
    for round in 0..3u64 {
        let texts: Vec<String> = (0..ids.len() as u64)
            .map(|i| prose(round * 100 + i, 4000))
            .collect();
        let paths: Vec<String> = ids.iter().map(|id| format!("/{id}")).collect();
        let pages: Vec<(&str, &str)> = paths
            .iter()
            .zip(&texts)
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        serve(&server, &pages).await;
        p.check_json();
    }
    let export = p.stdout(&["export"]);
    let history = p.stdout(&["history", "--format", "json"]);
    let versions: std::collections::HashSet<&str> = export.lines().collect();
    let changes: std::collections::HashSet<&str> = history.lines().collect();
    assert_eq!((versions.len(), changes.len()), (48, 32));
    assert!(std::fs::metadata(p.data().join("db")).unwrap().len() > 1 << 21);

    let mut nothing_left = 0;
    for percent in [75, 50, 90, 5, 0] {
        let data = cut_copy(&p, &format!("cut{percent}"), percent);
        let data = data.to_str().unwrap();
        let into = format!("{data}.salvaged");
        let out = run_on(&p, data, &["doctor", "--into", &into]);
        let report = format!("{}{}", stdout(&out), stderr(&out));
        eprintln!("doctor on a db cut to {percent}%:\n{report}");
        // Never a crash: the damage is named, exit 4.
        assert_eq!(out.status.code(), Some(4), "{report}");
        assert!(!report.contains("panicked"), "{report}");
        // What it salvaged is what was there, record for record; and it says it lost
        // something exactly when it did (sled may rebuild from the log all the cut left,
        // or only part of it, or nothing: which records sit where is sled's business).
        let (got_versions, got_changes) = if std::path::Path::new(&into).exists() {
            (
                out_on(&p, &into, &["export"]),
                out_on(&p, &into, &["history", "--format", "json"]),
            )
        } else {
            Default::default()
        };
        for line in got_versions.lines() {
            let short = &line[..200.min(line.len())];
            assert!(
                versions.contains(line),
                "a version that was not there: {short}"
            );
        }
        // A change may come back as an earlier state of its record (before its delivery
        // was recorded): the same change, maybe not yet marked delivered.
        let undelivered = |line: &str| {
            let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
            v["delivered_at"] = serde_json::Value::Null;
            v
        };
        let all: Vec<serde_json::Value> = changes.iter().map(|l| undelivered(l)).collect();
        for line in got_changes.lines() {
            let short = &line[..200.min(line.len())];
            assert!(
                all.contains(&undelivered(line)),
                "a change that was not there: {short}"
            );
        }
        let whole = got_versions == export && got_changes.lines().count() == changes.len();
        let counts = format!(
            "{} of {} versions, {} of {} changes salvaged:\n{report}",
            got_versions.lines().count(),
            versions.len(),
            got_changes.lines().count(),
            changes.len()
        );
        // It never claims nothing was lost, and a loss is named, or, where the log itself
        // was cut so that nothing left can show it, said to be possible.
        assert!(!report.contains("no record was lost"), "{report}");
        assert!(!report.contains("loses nothing"), "{report}");
        if !whole {
            assert!(
                report.contains("LOST: ") || report.contains("gone without a trace"),
                "{counts}"
            );
        }
        if got_versions.is_empty() && got_changes.is_empty() {
            // A cut that leaves sled nothing it can rebuild from is said to be that: every
            // record lost, or (a log cut to nothing) gone without a trace.
            assert!(
                report.contains("LOST: every record: ") || report.contains("gone without a trace"),
                "{report}"
            );
            assert!(report.contains("nothing was salvaged"), "{report}");
            nothing_left += 1;
        }
        // Each cut is reported the same way on a second run: doctor changed nothing.
        let again = run_on(&p, data, &["doctor", "--into", &format!("{data}.again")]);
        assert_eq!(stdout(&again).replace(".again", ".salvaged"), stdout(&out));
    }
    // Where sled's records sit depends on how it grouped its writes, so which cut leaves
    // nothing varies; a log cut to nothing at all always does.
    assert!(
        nothing_left >= 1,
        "no cut left the store with nothing to salvage"
    );
}
