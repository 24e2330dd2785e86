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
    let out = s.project.cmd().args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
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
    for (args, before) in commands(&last).iter().zip(&stopped) {
        let (code, out, err) = run(&s, args);
        assert_eq!(code, before.0, "{args:?}: exit code (stderr: {err})");
        assert_eq!(out, before.1, "{args:?}: stdout differs");
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
