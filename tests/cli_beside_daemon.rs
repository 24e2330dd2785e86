//! The command line beside a running daemon: store commands print exactly what they print
//! with the daemon stopped (the daemon runs them for us over `data/control.sock`), and
//! `history -S` traces a phrase through a watch's versions.

mod common;
#[path = "common/seeded.rs"]
mod seeded;

use seeded::Seeded;

/// Every read command, in each of its formats.
fn commands(change: &str) -> Vec<Vec<String>> {
    let c = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        c(&["history"]),
        c(&["history", "--format", "json"]),
        c(&["history", "--format", "csv", "--watch", "nrm"]),
        c(&["history", "--grep", "salvation"]),
        c(&["history", "-S", "reasonable grounds"]),
        c(&["history", "-S", "reasonable grounds", "--format", "json"]),
        c(&["show", change]),
        c(&["show", change, "--format", "json"]),
        c(&["diff", "nrm"]),
        c(&["diff", "nrm", "--from", "1", "--to", "3"]),
        c(&["diff", "high-streets"]),
        c(&["export"]),
        c(&["export", "--watch", "nrm"]),
        c(&["status"]),
        c(&["status", "--format", "json"]),
        c(&["outbox", "list"]),
        // Failures too: same message, same exit code.
        c(&["show", "9999"]),
        c(&["diff", "nrm", "--from", "1", "--to", "42"]),
        c(&["unfollow", "nothing-followed"]),
        c(&["outbox", "retry", "77"]),
    ]
}

fn run(s: &Seeded, args: &[String]) -> (Option<i32>, String, String) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_on(s, "data", &args)
}

#[tokio::test(flavor = "multi_thread")]
async fn store_commands_print_the_same_with_the_daemon_running() {
    let s = Seeded::new().await;
    let history = s.project.stdout(&["history", "--format", "json"]);
    let last = common::json_lines(history.as_bytes()).last().unwrap()["id"].to_string();

    let stopped: Vec<_> = commands(&last).iter().map(|a| run(&s, a)).collect();
    assert!(stopped[0].1.lines().count() >= 5, "{:?}", stopped[0]);
    assert_eq!(stopped[16].0, Some(2), "{:?}", stopped[16]);

    let daemon = s.daemon().await;
    // The status document says when it was made.
    let when = regex::Regex::new(r#""generated_at":"[^"]*""#).unwrap();
    for (args, before) in commands(&last).iter().zip(&stopped) {
        let (code, out, err) = run(&s, args);
        assert_eq!(code, before.0, "{args:?}: exit code (stderr: {err})");
        assert_eq!(
            when.replace_all(&out, ""),
            when.replace_all(&before.1, ""),
            "{args:?}: stdout differs"
        );
        if before.0 != Some(0) {
            assert_eq!(err, before.2, "{args:?}: the same error");
        }
    }
    daemon.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn history_dash_s_names_the_versions_that_added_and_removed_a_phrase() {
    let s = Seeded::new().await;
    let out = s
        .project
        .stdout(&["history", "-S", "Reasonable  grounds", "--watch", "nrm"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("nrm") && lines[0].contains(" v2 "),
        "{out}"
    );
    assert!(
        lines[0].contains("appeared") && lines[0].contains("A reasonable grounds decision"),
        "{out}"
    );
    assert!(
        lines[1].contains(" v4 ") && lines[1].contains("disappeared"),
        "{out}"
    );

    // A phrase never stored: nothing. An empty phrase: a usage error.
    assert_eq!(s.project.stdout(&["history", "-S", "no such words"]), "");
    let empty = s
        .project
        .cmd()
        .args(["history", "-S", "  "])
        .output()
        .unwrap();
    assert_eq!(empty.status.code(), Some(2));
}

/// The binary on another data directory of the project (a restore target).
fn run_on(s: &Seeded, data: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = common::process_on(s.project.path(), data)
        .env("POLICYWATCH_LOG", "warn")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_while_the_daemon_runs_goes_through_it_and_restores_identically() {
    let s = Seeded::new().await;
    let export = s.project.stdout(&["export"]);
    let history = s.project.stdout(&["history", "--format", "json"]);
    assert!(export.lines().count() >= 5, "{export}");

    let daemon = s.daemon().await;
    // The daemon holds the store's lock, so only its control socket can take the backup
    // (a relative path would be the daemon's: give it whole).
    let file = s.project.path().join("live.backup");
    let file = file.to_str().unwrap();
    let (code, out, err) = run(&s, &["backup".into(), file.into()]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.starts_with("backed up ") && out.trim_end().ends_with(&format!("records to {file}")),
        "{out}"
    );
    // Without the socket the same command cannot reach the store at all: it was the daemon.
    std::fs::rename(
        s.project.data().join("control.sock"),
        s.project.path().join("control.sock.aside"),
    )
    .unwrap();
    let (code, _, err) = run(&s, &["backup".into(), format!("{file}.2")]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("in use by another policywatch process"),
        "{err}"
    );
    daemon.stop();

    // Restored into an empty directory: the same versions, changes and outbox.
    let (code, _, err) = run_on(&s, "restored", &["restore", file]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("restored "), "{err}");
    let (code, restored_export, err) = run_on(&s, "restored", &["export"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(restored_export, export);
    let (_, restored_history, _) = run_on(&s, "restored", &["history", "--format", "json"]);
    assert_eq!(restored_history, history);
    let (_, restored_outbox, _) = run_on(&s, "restored", &["outbox", "list"]);
    assert_eq!(restored_outbox, s.project.stdout(&["outbox", "list"]));
    // And a backup of the restored store is the live backup, record for record (after
    // the header line, which says when it was taken).
    let again = s.project.path().join("again.backup");
    let (code, _, err) = run_on(&s, "restored", &["backup", again.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    let records = |path: &std::path::Path| -> Vec<String> {
        let text = std::fs::read_to_string(path).unwrap();
        text.lines().skip(1).map(str::to_string).collect()
    };
    let live = records(std::path::Path::new(file));
    assert!(live.len() > 10, "{live:?}");
    assert!(
        records(&again) == live,
        "the restored store differs from the backup"
    );
}
