//! Alerts with nothing missing and nothing extra (issue 15): every stored change alerts or
//! is visibly quiet, a settings edit is not a page change, a link that moves is news on any
//! page, and characters nobody sees are not.

mod common;

use common::Project;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn serve(server: &MockServer, html: &str) {
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/guidance"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(html.as_bytes().to_vec(), "text/html; charset=utf-8"),
        )
        .mount(server)
        .await;
}

fn page(body: &str) -> String {
    format!(
        "<html><head><title>Modern slavery guidance</title></head><body>\
         <nav><a href=\"/\">Home</a></nav><main>{body}</main><footer>Crown copyright</footer></body></html>"
    )
}

fn project(server: &MockServer, extra: &str) -> Project {
    let p = Project::new();
    p.watchlist(
        "team.toml",
        &format!(
            r#"name = "team"
keywords = ["modern slavery"]

[[watch]]
id = "guidance"
kind = "page"
url = "{}/guidance"
{extra}
"#,
            server.uri()
        ),
    );
    p
}

fn history_all(p: &Project) -> Vec<serde_json::Value> {
    common::json_lines(
        p.stdout(&["history", "--all", "--format", "json"])
            .as_bytes(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn links_mode_text_change_alerts() {
    let server = MockServer::start().await;
    let p = project(&server, "mode = \"links\"");
    serve(
        &server,
        &page(r#"<a href="/files/report.pdf">Annual report 2025</a>"#),
    )
    .await;
    assert!(p.check_json().is_empty(), "baseline");
    serve(
        &server,
        &page(r#"<a href="/files/report.pdf">Annual report 2025 (corrected)</a>"#),
    )
    .await;
    let alerts = p.check_json();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["event"], "page.links_changed");
    assert_eq!(alerts[0]["summary"], "1 link renamed");
    assert!(
        alerts[0]["annotations"][0].as_str().unwrap().starts_with(
            "Link text changed: “Annual report 2025” → “Annual report 2025 (corrected)”"
        ),
        "{alerts:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_link_that_moves_alerts_on_a_plain_text_page() {
    let server = MockServer::start().await;
    let p = project(&server, "select = \"main\"");
    let body = |file: &str| {
        page(&format!(
            r#"<p>How to identify victims of modern slavery.</p><p><a href="/files/{file}">Read the guidance</a></p>"#
        ))
    };
    serve(&server, &body("guidance-v1.pdf")).await;
    assert!(p.check_json().is_empty(), "baseline");
    serve(&server, &body("guidance-v2.pdf")).await;
    let alerts = p.check_json();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a["event"], "page.links_changed");
    assert_eq!(
        a["summary"],
        format!(
            "Link “Read the guidance” now points to {0}/files/guidance-v2.pdf (was {0}/files/guidance-v1.pdf)",
            server.uri()
        )
    );
    // The unchanged sentence with the keyword is not a keyword match.
    assert_eq!(a["keywords"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn invisible_characters_raise_nothing() {
    let server = MockServer::start().await;
    let p = project(&server, "select = \"main\"");
    serve(
        &server,
        &page("<p>Victims of modern slavery</p><p>Support is available.</p>"),
    )
    .await;
    assert!(p.check_json().is_empty(), "baseline");
    serve(
        &server,
        &page(
            "<p>\u{FEFF}Vic\u{00AD}tims\u{200B} of mod\u{200D}ern\u{200E} slavery\u{FE0F}</p>\
             <p>\u{2066}Support\u{2060} is available.\u{2069}</p>",
        ),
    )
    .await;
    assert!(p.check_json().is_empty(), "invisible characters alerted");
    assert!(history_all(&p).is_empty(), "no version stored either");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_select_edit_is_a_quiet_new_baseline() {
    let server = MockServer::start().await;
    let p = project(&server, "select = \"main\"");
    serve(&server, &page("<p>Support is available.</p>")).await;
    assert!(p.check_json().is_empty(), "baseline");

    p.watchlist(
        "team.toml",
        &format!(
            "name = \"team\"\n[[watch]]\nid = \"guidance\"\nkind = \"page\"\nurl = \"{}/guidance\"\nselect = \"body\"\n",
            server.uri()
        ),
    );
    let alerts = p.check_json();
    assert!(alerts.is_empty(), "a settings edit alerted: {alerts:#?}");

    // Not in the plain history, visible with --all, with why.
    assert_eq!(p.stdout(&["history"]), "");
    let all = history_all(&p);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0]["event"], "watch.settings_changed");
    assert_eq!(
        all[0]["summary"],
        r#"Settings changed (select: ["main"] → ["body"]): new baseline, no alert"#
    );
    let text = p.stdout(&["history", "--all"]);
    assert!(text.contains("watch.settings_changed"), "{text}");
    let show = p.stdout(&["show", &all[0]["id"].to_string()]);
    assert!(show.contains("recorded without an alert"), "{show}");

    // And the next real change compares with the new baseline.
    serve(&server, &page("<p>Support is available now.</p>")).await;
    let alerts = p.check_json();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["event"], "page.changed");
    assert!(
        !alerts[0]["diff"].as_str().unwrap().contains("+Home"),
        "the whole page again: {}",
        alerts[0]["diff"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stored_change_without_an_event_is_visible_with_why() {
    // A link with no visible text is added: the text is the same, no link moved, yet the
    // stored links changed. The version is stored and says so in `history --all`.
    let server = MockServer::start().await;
    let p = project(&server, "select = \"main\"");
    serve(&server, &page("<p><a href=\"/a\">A</a></p>")).await;
    assert!(p.check_json().is_empty(), "baseline");
    serve(
        &server,
        &page("<p><a href=\"/a\">A</a> <a href=\"/b\"></a></p>"),
    )
    .await;
    let alerts = p.check_json();
    assert!(alerts.is_empty(), "{alerts:#?}");
    let all = history_all(&p);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0]["event"], "watch.quiet");
    assert_eq!(
        all[0]["summary"],
        "Stored without an alert: fields no alert is about: `links`"
    );
}
