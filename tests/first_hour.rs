//! A newcomer's commands (issue 15): `test` shows what a watch would store and alert
//! without storing anything; `watches` lists every watch and where it came from.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::Project;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn serve(server: &MockServer, route: &str, body: &str, content_type: &str) {
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(body.as_bytes().to_vec(), content_type),
        )
        .mount(server)
        .await;
}

fn page(news: &str) -> String {
    format!(
        "<html><head><title>Guidance</title></head><body><nav>Menu</nav>\
         <main><h1>Modern slavery guidance</h1><p>{news}</p><p>Updated 3 minutes ago</p></main>\
         <footer>Footer</footer></body></html>"
    )
}

/// Every file under `dir` with a digest of its bytes: what "the store is unchanged" means.
fn snapshot(dir: &Path) -> BTreeMap<String, (usize, u64)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                let digest = {
                    use std::hash::{Hash, Hasher};
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    bytes.hash(&mut h);
                    h.finish()
                };
                out.insert(
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    (bytes.len(), digest),
                );
            }
        }
    }
    out
}

fn watchlist(server: &MockServer) -> String {
    format!(
        r#"name = "team"
keywords = ["modern slavery", "referral"]

[[watch]]
id = "guidance"
kind = "page"
url = "{uri}/guidance"
select = "main"
ignore = ['Updated \d+ minutes ago']

[[watch]]
id = "news"
kind = "feed"
url = "{uri}/feed.xml"
schedule = "0 9 * * Mon-Fri"
channel = 123456789012345678
"#,
        uri = server.uri()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn test_shows_the_text_and_the_diff_and_stores_nothing() {
    let server = MockServer::start().await;
    serve(&server, "/guidance", &page("First text."), "text/html").await;
    let p = Project::new();
    p.watchlist("team.toml", &watchlist(&server));
    p.stdout(&["check", "--watch", "guidance"]);

    server.reset().await;
    serve(
        &server,
        "/guidance",
        &page("New referral rules apply."),
        "text/html",
    )
    .await;
    let before = snapshot(&p.data());
    let out = p.cmd().args(["test", "guidance"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("test of guidance (page): nothing was stored\nchanged: a check would store version 2 and raise 1 alert\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("--- text ---\n# Modern slavery guidance\nNew referral rules apply.\n"),
        "{stdout}"
    );
    assert!(!stdout.contains("Menu"), "select = main: {stdout}");
    assert!(!stdout.contains("Updated 3"), "ignore: {stdout}");
    assert!(
        stdout.contains("--- diff against stored version 1 ---"),
        "{stdout}"
    );
    assert!(stdout.contains("-First text."), "{stdout}");
    assert!(stdout.contains("+New referral rules apply."), "{stdout}");
    assert!(
        stdout.contains("--- what a check would record ---\nMAJOR [page.changed] Guidance: Text changed: +1 −1 lines"),
        "{stdout}"
    );
    assert_eq!(before, snapshot(&p.data()), "test wrote to the store");

    // JSON: the same, for scripts.
    let json: serde_json::Value =
        serde_json::from_str(&p.stdout(&["test", "guidance", "--format", "json"])).unwrap();
    assert_eq!(json["result"], "changed");
    assert_eq!(json["version"], 1);
    assert_eq!(json["would_store"], 2);
    assert_eq!(json["alerts"][0]["event"], "page.changed");
    assert_eq!(
        json["alerts"][0]["keywords"],
        serde_json::json!(["referral"])
    );
    assert_eq!(before, snapshot(&p.data()), "test --format json wrote");

    // The change is still there for the real check.
    let alerts = p.check_json();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["event"], "page.changed");
}

#[tokio::test(flavor = "multi_thread")]
async fn test_of_a_feed_prints_the_kinds_fields_and_creates_no_store() {
    let server = MockServer::start().await;
    let feed = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>News</title><link>https://example.org/</link>
<item><title>Modern slavery statement</title><link>https://example.org/a</link><guid>a</guid></item>
</channel></rss>"#;
    serve(&server, "/feed.xml", feed, "application/rss+xml").await;
    let p = Project::new();
    p.watchlist("team.toml", &watchlist(&server));
    let stdout = p.stdout(&["test", "news"]);
    assert!(
        stdout.starts_with("test of news (feed): nothing was stored\nfirst version: a check would store it as the baseline (no alert)\n"),
        "{stdout}"
    );
    assert!(stdout.contains("Modern slavery statement"), "{stdout}");
    assert!(stdout.contains("--- fields ---"), "{stdout}");
    assert!(!p.data().exists(), "no data directory was created");
}

#[tokio::test(flavor = "multi_thread")]
async fn test_url_tries_a_page_no_watchlist_names() {
    let server = MockServer::start().await;
    serve(&server, "/guidance", &page("Draft text."), "text/html").await;
    let p = Project::new();
    std::fs::remove_dir(p.path().join("watchlists")).unwrap();
    let url = format!("{}/guidance", server.uri());
    let stdout = p.stdout(&[
        "test",
        "--url",
        &url,
        "--select",
        "main",
        "--ignore",
        r"Updated \d+ minutes ago",
    ]);
    assert!(
        stdout.starts_with(&format!("test of {url} (page): nothing was stored\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains("--- text ---\n# Modern slavery guidance\nDraft text.\n"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("Footer") && !stdout.contains("Updated"),
        "{stdout}"
    );
    assert!(!p.data().exists());

    // A bad selector is a usage error that says what is wrong with it.
    let out = p
        .cmd()
        .args(["test", "--url", &url, "--select", "main > p["])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad CSS selector `main > p[`"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn test_of_an_unknown_watch_is_a_usage_error() {
    let server = MockServer::start().await;
    let p = Project::new();
    p.watchlist("team.toml", &watchlist(&server));
    let out = p.cmd().args(["test", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "policywatch: unknown watch `nope`\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn watches_lists_kind_schedule_destination_and_origin() {
    let server = MockServer::start().await;
    let p = Project::new();
    p.config("schedule = \"*/30 * * * *\"\n[fetch]\nallow_private = true\n");
    p.watchlist("team.toml", &watchlist(&server));
    let stdout = p.stdout(&["watches"]);
    assert_eq!(
        stdout,
        "guidance [page] list team: schedule `*/30 * * * *` (Europe/London), to stdout; from watchlists/team.toml:4\n\
         news [feed] list team: schedule `0 9 * * Mon-Fri` (Europe/London), to discord:123456789012345678; from watchlists/team.toml:11\n\
         2 watches\n"
    );
    let rows = common::json_lines(p.stdout(&["watches", "--format", "json"]).as_bytes());
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["watch"], "news");
    assert_eq!(rows[1]["kind"], "feed");
    assert_eq!(rows[1]["schedule"], "0 9 * * Mon-Fri");
    assert_eq!(rows[1]["destination"], "discord:123456789012345678");
    assert_eq!(rows[1]["file"], "watchlists/team.toml:11");
}

#[test]
fn help_separates_global_options_describes_arguments_and_gives_examples_and_exit_codes() {
    let p = Project::new();
    let top = p.stdout(&["--help"]);
    assert!(top.contains("Global options:"), "{top}");
    assert!(top.contains("Examples:"), "{top}");
    for code in [
        "  0  done",
        "  2  bad configuration or usage",
        "  3  every watch",
        "  4  the store is damaged",
    ] {
        assert!(top.contains(code), "{code} in {top}");
    }
    let commands = [
        "run", "check", "validate", "history", "show", "diff", "export", "status", "outbox",
        "unfollow", "follow", "kinds", "backup", "restore", "import", "doctor", "reload", "test",
        "watches",
    ];
    // Every option and argument says what it is.
    let bare =
        regex::Regex::new(r"^\s+(-\w, )?(--[a-z-]+|\[[A-Z_]+\]|<[A-Z_]+>)( <[A-Z_]+>)?\s*(\[.*)?$")
            .unwrap();
    for command in commands {
        let help = p.stdout(&[command, "--help"]);
        for line in help.lines() {
            assert!(
                !bare.is_match(line),
                "{command}: undescribed `{line}` in {help}"
            );
        }
        assert!(
            help.contains("Examples:\n  policywatch"),
            "{command}: {help}"
        );
        // The command's own options come first, the global ones after, under their heading.
        let global = help
            .find("Global options:")
            .unwrap_or_else(|| panic!("{command}: {help}"));
        assert!(help[global..].contains("--data <DIR>"), "{command}: {help}");
        assert!(
            !help[..global].contains("--data <DIR>"),
            "{command}: {help}"
        );
    }
    let show = p.stdout(&["show", "--help"]);
    assert!(show.contains("Change id"), "{show}");
    let diff = p.stdout(&["diff", "--help"]);
    assert!(diff.contains("sequence number"), "{diff}");
    // Only the formats a command has are offered.
    assert!(show.contains("[possible values: text, json]"), "{show}");
    let out = p
        .cmd()
        .args(["show", "1", "--format", "csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
