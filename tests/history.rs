//! Reading back what was stored: `history`, `show`, `diff --from --to` and `export`.

mod common;

use common::Project;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn serve(server: &MockServer, body: &str) {
    server.reset().await;
    Mock::given(path("/guidance"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(body.as_bytes().to_vec(), "text/html"),
        )
        .mount(server)
        .await;
}

fn html(paragraphs: &[&str]) -> String {
    let body: String = paragraphs.iter().map(|p| format!("<p>{p}</p>")).collect();
    format!("<html><head><title>NRM guidance</title></head><body><main>{body}</main></body></html>")
}

/// Three versions: baseline, a changed time limit, an added paragraph.
async fn three_versions(server: &MockServer, p: &Project) {
    serve(
        server,
        &html(&["Victims have 30 days to recover.", "Support is available."]),
    )
    .await;
    p.check_json();
    serve(
        server,
        &html(&["Victims have 45 days to recover.", "Support is available."]),
    )
    .await;
    assert_eq!(p.check_json().len(), 1);
    serve(
        server,
        &html(&[
            "Victims have 45 days to recover.",
            "Support is available.",
            "Appeals go to the Home Office.",
        ]),
    )
    .await;
    assert_eq!(p.check_json().len(), 1);
}

fn project(server: &MockServer) -> Project {
    let p = Project::new();
    p.watchlist(
        "team.toml",
        &format!(
            "name = \"t\"\nkeywords = [\"Home Office\"]\n[[watch]]\nid = \"nrm\"\nkind = \"page\"\nurl = \"{}/guidance\"\n",
            server.uri()
        ),
    );
    p
}

#[tokio::test(flavor = "multi_thread")]
async fn history_show_diff_and_export_return_what_was_stored() {
    let server = MockServer::start().await;
    let p = project(&server);
    three_versions(&server, &p).await;

    // history: two changes, oldest first, in every format.
    let text = p.stdout(&["history", "--watch", "nrm"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("page.changed") && lines[0].contains("+1 −1 lines"),
        "{text}"
    );
    assert!(lines[1].contains("+1 −0 line"), "{text}");
    let json = common::json_lines(p.stdout(&["history", "--format", "json"]).as_bytes());
    assert_eq!(json.len(), 2);
    assert_eq!(json[1]["keywords"], serde_json::json!(["Home Office"]));
    assert!(
        !json[0]["delivered_at"].is_null(),
        "printed alerts are marked delivered"
    );
    let csv = p.stdout(&["history", "--format", "csv"]);
    assert!(
        csv.starts_with("id,detected_at,watch,event,title,url,summary,keywords,delivered_at\n"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 3);
    let grep = p.stdout(&["history", "--grep", "45 days"]);
    assert_eq!(
        grep.lines().count(),
        2,
        "both diffs mention 45 days: {grep}"
    );
    let grep = p.stdout(&["history", "--grep", "appeals"]);
    assert_eq!(grep.lines().count(), 1, "{grep}");
    assert!(p.stdout(&["history", "--until", "2000-01-01"]).is_empty());
    assert_eq!(
        p.stdout(&["history", "--since", "2000-01-01"])
            .lines()
            .count(),
        2
    );

    // show: the change in full, with its diff.
    let id = json[0]["id"].as_u64().unwrap().to_string();
    let shown = p.stdout(&["show", &id]);
    assert!(
        shown.contains("-Victims have 30 days to recover."),
        "{shown}"
    );
    assert!(
        shown.contains("+Victims have 45 days to recover."),
        "{shown}"
    );

    // diff between any two versions.
    let d = p.stdout(&["diff", "nrm", "--from", "1", "--to", "3"]);
    assert!(d.starts_with("--- nrm v1 ("), "{d}");
    assert!(
        d.contains("-Victims have 30 days to recover.\n+Victims have 45 days to recover."),
        "{d}"
    );
    assert!(d.contains("+Appeals go to the Home Office."), "{d}");
    let d = p.stdout(&["diff", "nrm"]);
    assert!(
        d.contains("--- nrm v2") && d.contains("+++ nrm v3"),
        "default is the last two: {d}"
    );

    // export: every version, byte for byte what is stored and shown.
    let export = p.stdout(&["export"]);
    let versions = common::json_lines(export.as_bytes());
    assert_eq!(versions.len(), 3);
    let seqs: Vec<u64> = versions
        .iter()
        .map(|v| v["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(
        versions[0]["document"]["text"],
        "Victims have 30 days to recover.\nSupport is available."
    );
    assert_eq!(
        versions[2]["document"]["text"],
        "Victims have 45 days to recover.\nSupport is available.\nAppeals go to the Home Office."
    );
    // Exporting twice gives identical bytes: nothing is regenerated on the way out.
    assert_eq!(export, p.stdout(&["export"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_change_or_watch_is_a_clear_error() {
    let server = MockServer::start().await;
    let p = project(&server);
    // Silence is not an answer: each names what does not exist, and exits 2 (usage).
    for (args, message) in [
        (
            &["show", "999999"][..],
            "policywatch: no such change `999999`\n",
        ),
        (
            &["history", "--watch", "nope"][..],
            "policywatch: no such watch `nope`\n",
        ),
        (
            &["export", "--watch", "nope"][..],
            "policywatch: no such watch `nope`\n",
        ),
        (&["diff", "nope"][..], "policywatch: no such watch `nope`\n"),
    ] {
        let out = p.cmd().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), message, "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let out = p.cmd().args(["check", "--watch", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown watch `nope`"));
}
