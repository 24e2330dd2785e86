//! `page` watches end to end: baseline, one alert per real change, silence for noise.

mod common;

use common::{commissioner_page as page, Project};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn serve(server: &MockServer, html: String) {
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/home"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(html.into_bytes(), "text/html; charset=utf-8"),
        )
        .mount(server)
        .await;
}

fn project(server: &MockServer) -> Project {
    let p = Project::new();
    p.watchlist(
        "team.toml",
        &format!(
            r#"name = "anti-slavery"
schedule = "0 0 * * * *"
keywords = ["National Referral Mechanism", "modern slavery", "Home Office"]

[[watch]]
id = "iasc-home"
kind = "page"
url = "{}/home"
select = "main"
ignore_selectors = [".updated"]
ignore = ['Page views: \d+']
"#,
            server.uri()
        ),
    );
    p
}

#[tokio::test(flavor = "multi_thread")]
async fn first_check_is_a_baseline_then_one_alert_per_change_then_silence() {
    let server = MockServer::start().await;
    let p = project(&server);
    serve(&server, page("", 10, "1 May", "")).await;
    assert_eq!(
        p.check_json(),
        Vec::<serde_json::Value>::new(),
        "baseline alerts nothing"
    );

    let added =
        "The Home Office will consult on changes to the National Referral Mechanism in 2027.";
    serve(&server, page(added, 11, "2 May", "")).await;
    let alerts = p.check_json();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a["event"], "page.changed");
    assert_eq!(a["watch"], "iasc-home");
    assert_eq!(a["title"], "Independent Anti-Slavery Commissioner");
    assert_eq!(a["url"], format!("{}/home", server.uri()));
    assert!(
        a["summary"]
            .as_str()
            .unwrap()
            .starts_with("Text changed: +1 −0 line"),
        "{a:#}"
    );
    assert!(
        a["diff"].as_str().unwrap().contains(&format!("+{added}")),
        "{}",
        a["diff"]
    );
    assert_eq!(
        a["keywords"],
        serde_json::json!(["National Referral Mechanism", "Home Office"])
    );
    assert!(a["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n.as_str().unwrap().contains(added)));
    for field in ["id", "detected_at", "annotations", "diff", "summary"] {
        assert!(!a[field].is_null(), "missing {field}");
    }
    chrono::DateTime::parse_from_rfc3339(a["detected_at"].as_str().unwrap()).expect("RFC 3339");

    assert!(
        p.check_json().is_empty(),
        "an unchanged page alerts nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn whitespace_ignored_regions_and_ignored_patterns_alert_nothing() {
    let server = MockServer::start().await;
    let p = project(&server);
    serve(&server, page("", 10, "1 May", "")).await;
    assert!(p.check_json().is_empty());

    // Re-indented markup, a new view count, a new "last updated" date, outside-`select`
    // navigation: none of it is the text the team watches.
    let mut noisy = page("", 99_999, "30 June", "      ");
    noisy = noisy.replace(
        "<nav><a href=\"/\">Home</a></nav>",
        "<nav><a href=\"/\">Start</a></nav>",
    );
    noisy = noisy.replace(". ", ".   \n  ");
    serve(&server, noisy).await;
    assert!(p.check_json().is_empty(), "noise must not alert");

    let versions = p.stdout(&["export"]);
    assert_eq!(
        versions.lines().count(),
        1,
        "no new version for noise: {versions}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn links_mode_reports_a_new_pdf_with_its_text() {
    let server = MockServer::start().await;
    let p = Project::new();
    p.watchlist(
        "team.toml",
        &format!(
            r#"name = "anti-slavery"
keywords = ["annual report"]

[[watch]]
id = "iasc-publications"
kind = "page"
url = "{}/publications"
mode = "links"
select = "main"
"#,
            server.uri()
        ),
    );
    let list = |extra: &str| {
        format!("<html><body><main><ul><li><a href=\"/files/strategy.pdf\">Strategic plan 2022-2024</a></li>{extra}</ul></main></body></html>")
    };
    let serve_list = |html: String| {
        let server = &server;
        async move {
            server.reset().await;
            Mock::given(path("/publications"))
                .respond_with(
                    ResponseTemplate::new(200).set_body_raw(html.into_bytes(), "text/html"),
                )
                .mount(server)
                .await;
        }
    };
    serve_list(list("")).await;
    assert!(p.check_json().is_empty());
    serve_list(list(
        "<li><a href=\"files/annual-report-2026.pdf\">Annual Report 2025-26 (PDF)</a></li>",
    ))
    .await;
    let alerts = p.check_json();
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(a["event"], "page.links_changed");
    assert_eq!(a["summary"], "1 link added: “Annual Report 2025-26 (PDF)”");
    let pdf = format!("{}/files/annual-report-2026.pdf", server.uri());
    assert!(a["diff"].as_str().unwrap().contains(&pdf), "{}", a["diff"]);
    assert_eq!(a["keywords"], serde_json::json!(["annual report"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn same_bytes_are_not_reparsed_but_new_extraction_settings_are_applied() {
    let server = MockServer::start().await;
    let p = project(&server);
    // No validators at all: every check gets the full body back.
    serve(&server, page("", 10, "1 May", "")).await;
    assert!(p.check_json().is_empty());
    assert!(p.check_json().is_empty(), "identical bytes: unchanged");

    // Same bytes, but the team now ignores the first paragraph too: the page must be
    // read again under the new settings, not skipped because its bytes did not move.
    let list = std::fs::read_to_string(p.path().join("watchlists/team.toml")).unwrap();
    p.watchlist(
        "team.toml",
        &list.replace(
            "ignore_selectors = [\".updated\"]",
            "ignore_selectors = [\".updated\", \"h1\"]",
        ),
    );
    // Read again, stored as a quiet new baseline (issue 15: a settings edit is not a page
    // change), with the difference it made kept for `show`.
    assert!(p.check_json().is_empty(), "a settings edit alerted");
    let all = p.stdout(&["history", "--all", "--format", "json"]);
    let all = common::json_lines(all.as_bytes());
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0]["event"], "watch.settings_changed");
    let show = p.stdout(&["show", &all[0]["id"].to_string()]);
    assert!(
        show.contains("-# The Independent Anti-Slavery Commissioner's Office"),
        "{show}"
    );
}

/// Issue 16: a page whose server redirects to another site (here another loopback port,
/// an "internal" page) stores nothing from it and says why; a redirect within the site is
/// followed and the alert names the final URL.
#[tokio::test(flavor = "multi_thread")]
async fn redirects_leave_the_site_only_when_allowed_and_alerts_name_the_final_url() {
    let server = MockServer::start().await;
    let internal = MockServer::start().await;
    Mock::given(path("/secret"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(b"<p>internal secret</p>".to_vec(), "text/html"),
        )
        .mount(&internal)
        .await;
    Mock::given(path("/old"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/secret", internal.uri())),
        )
        .mount(&server)
        .await;
    let p = Project::new();
    p.watchlist(
        "team.toml",
        &format!(
            "name = \"t\"\n\n[[watch]]\nid = \"moved\"\nkind = \"page\"\nurl = \"{}/old\"\n",
            server.uri()
        ),
    );
    let out = p
        .cmd()
        .args(["check", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success() || out.status.code() == Some(3));
    assert!(out.stdout.is_empty(), "nothing alerted");
    let status = p.stdout(&["status"]);
    assert!(status.contains("refused: it leaves 127.0.0.1"), "{status}");
    assert!(!status.contains("internal secret"), "{status}");
    // Times are shown in the schedule's zone (Europe/London by default), named.
    assert!(
        status.contains(" BST,") || status.contains(" GMT,"),
        "{status}"
    );
    let export = p.stdout(&["export"]);
    assert!(
        !export.contains("internal secret"),
        "no version stored: {export}"
    );
    assert!(internal.received_requests().await.unwrap().is_empty());

    // Within the site: followed; the stored version and the alert carry the final URL.
    server.reset().await;
    Mock::given(path("/old"))
        .respond_with(ResponseTemplate::new(301).insert_header("location", "/new"))
        .mount(&server)
        .await;
    Mock::given(path("/new"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(b"<p>first</p>".to_vec(), "text/html"),
        )
        .mount(&server)
        .await;
    assert!(p.check_json().is_empty(), "baseline");
    server.reset().await;
    Mock::given(path("/old"))
        .respond_with(ResponseTemplate::new(301).insert_header("location", "/new"))
        .mount(&server)
        .await;
    Mock::given(path("/new"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(b"<p>second</p>".to_vec(), "text/html"),
        )
        .mount(&server)
        .await;
    let alerts = p.check_json();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["url"], format!("{}/new", server.uri()));
}
