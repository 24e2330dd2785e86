//! GOV.UK end to end: `policywatch check --format json` against a local Content API and
//! Search API serving real items (tests/fixtures/govuk-content) and hand-written search pages
//! (tests/fixtures/govuk-search); provenance in each directory's PROVENANCE.md.

mod common;

use common::{fixture, Project};
use serde_json::Value;
use wiremock::matchers::{method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SCHOOLS_PATH: &str = "/government/publications/schemes-for-financing-schools";
const SCHOOLS: &str = "publication__statutory_guidance__schemes-for-financing-schools";
const HTML_PATH: &str = "/government/publications/tr4-8ee-mr-derek-mears-environmental-permit-application-advertisement/tr4-8ee-mr-derek-mears-environmental-permit-application";
const SEARCH: &str = "search__home-office-modern-slavery-guidance";

fn json_response(body: Vec<u8>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "application/json")
}

/// Serves a Content API item (`govuk-content/<name>.json`) at `page_path`, replacing what
/// was served there before.
async fn serve_item(server: &MockServer, page_path: &str, name: &str) {
    serve(
        server,
        page_path,
        json_response(fixture(&format!("govuk-content/{name}.json"))),
    )
    .await;
}

async fn serve(server: &MockServer, page_path: &str, response: ResponseTemplate) {
    server.reset().await;
    Mock::given(method("GET"))
        .and(path(format!("/api/content{page_path}")))
        .respond_with(response)
        .mount(server)
        .await;
}

/// A project whose GOV.UK is `server`, with one watchlist.
fn project(server: &MockServer, watches: &str) -> Project {
    let p = Project::new();
    p.config(&format!("[sources]\ngovuk = \"{}/\"\n", server.uri()));
    p.watchlist(
        "home-office.toml",
        &format!("name = \"home-office\"\nkeywords = [\"maintained schools\", \"modern slavery\"]\n{watches}"),
    );
    p
}

fn govuk_watch(id: &str, page_path: &str) -> String {
    format!("[[watch]]\nid = \"{id}\"\nkind = \"govuk\"\npath = \"{page_path}\"\n")
}

fn events(alerts: &[Value]) -> Vec<&str> {
    alerts
        .iter()
        .map(|a| a["event"].as_str().unwrap())
        .collect()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn whitespace_republish_is_quiet_and_an_unannounced_edit_is_a_silent_edit() {
    let server = MockServer::start().await;
    let p = project(&server, &govuk_watch("permit", HTML_PATH));
    serve_item(&server, HTML_PATH, "html_publication__v1_published").await;
    assert!(p.check_json().is_empty(), "the first check is a baseline");

    serve_item(&server, HTML_PATH, "html_publication__v2_updated").await;
    assert!(
        p.check_json().is_empty(),
        "whitespace edits and a new timestamp raise nothing"
    );

    serve_item(
        &server,
        HTML_PATH,
        "html_publication__v2_updated__body-edited-no-note",
    )
    .await;
    let alerts = p.check_json();
    assert_eq!(events(&alerts), ["govuk.silent_edit"], "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a["watch"], "permit");
    assert_eq!(
        a["summary"],
        "Edited without a change note: Volume: +1 −1 paragraphs; How to comment on the application: +1 paragraph"
    );
    assert_eq!(a["url"], format!("{}{HTML_PATH}", server.uri()));
    let annotations = strings(&a["annotations"]);
    assert!(
        annotations.contains(&"Volume: +1 −1 paragraphs"),
        "{annotations:?}"
    );
    let diff = a["diff"].as_str().unwrap();
    assert!(
        diff.contains("@@ Volume\n") && diff.contains("+6.5 cubic metres per day"),
        "{diff}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_change_note_listed_last_is_a_major_update_with_sections_and_keywords() {
    let server = MockServer::start().await;
    let p = project(&server, &govuk_watch("schools", SCHOOLS_PATH));
    serve_item(&server, SCHOOLS_PATH, SCHOOLS).await;
    assert!(p.check_json().is_empty());

    serve_item(
        &server,
        SCHOOLS_PATH,
        &format!("{SCHOOLS}__new-note-listed-last__annex-b-added"),
    )
    .await;
    let alerts = p.check_json();
    assert_eq!(events(&alerts), ["govuk.major_update"], "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(
        a["summary"],
        "Major update, 1 March 2016, 10:00am: “Added Annex B: loans to schools, and made clear that the guidance also applies to maintained schools.”"
    );
    assert_eq!(a["severity"], "major");
    let annotations = strings(&a["annotations"]);
    assert!(
        annotations.contains(&"Annex B: loans to schools: +3 paragraphs"),
        "{annotations:?}"
    );
    assert_eq!(a["keywords"], serde_json::json!(["maintained schools"]));
    assert!(a["diff"]
        .as_str()
        .unwrap()
        .contains("+## Annex B: loans to schools"));

    // The same version again is no news; the history keeps both versions.
    assert!(p.check_json().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn withdrawal_quotes_the_explanation() {
    let server = MockServer::start().await;
    let pigs_path = "/government/publications/a-guide-for-pig-keepers";
    let pigs = "publication__guidance__withdrawn__a-guide-for-pig-keepers";
    let p = project(&server, &govuk_watch("pigs", pigs_path));
    serve_item(&server, pigs_path, &format!("{pigs}__before-withdrawal")).await;
    assert!(p.check_json().is_empty());
    serve_item(&server, pigs_path, pigs).await;
    let alerts = p.check_json();
    assert_eq!(events(&alerts), ["govuk.withdrawn"]);
    assert_eq!(
        alerts[0]["summary"],
        "Withdrawn on 13 January 2015, 1:05pm: “This information is now out of date. For our current guidance please read guidance for keepers of sheep, goats and pigs.”"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn attachments_added_and_replaced() {
    let server = MockServer::start().await;
    let closing_path = "/government/publications/further-businesses-and-premises-to-close";
    let closing = "publication__guidance__further-businesses-and-premises-to-close__17-change-notes__with-attachments";
    let p = project(&server, &govuk_watch("closing", closing_path));
    serve_item(&server, closing_path, closing).await;
    assert!(p.check_json().is_empty());

    serve_item(
        &server,
        closing_path,
        &format!("{closing}__attachment-added-no-note"),
    )
    .await;
    let alerts = p.check_json();
    assert_eq!(events(&alerts), ["govuk.attachment_added"]);
    assert!(alerts[0]["summary"]
        .as_str()
        .unwrap()
        .ends_with(", without a change note"));

    serve_item(
        &server,
        closing_path,
        &format!("{closing}__attachment-replaced__new-note-listed-last"),
    )
    .await;
    let alerts = p.check_json();
    // Against the version with four attachments: one replaced, one gone, and a note.
    assert_eq!(
        events(&alerts),
        ["govuk.major_update", "govuk.attachment_changed"],
        "{alerts:#?}"
    );
    assert!(alerts[1]["summary"]
        .as_str()
        .unwrap()
        .ends_with("change note: “Updated the guidance PDF to reflect the rules on face coverings in places of worship.”"));
    assert!(strings(&alerts[0]["annotations"]).contains(
        &"Attachment removed: “Face coverings: businesses and venues where they must be worn”"
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn title_and_summary_changes_are_metadata_changes() {
    let server = MockServer::start().await;
    let p = project(&server, &govuk_watch("schools", SCHOOLS_PATH));
    serve_item(&server, SCHOOLS_PATH, SCHOOLS).await;
    assert!(p.check_json().is_empty());
    serve_item(
        &server,
        SCHOOLS_PATH,
        &format!("{SCHOOLS}__title-and-summary-edited"),
    )
    .await;
    let alerts = p.check_json();
    assert_eq!(events(&alerts), ["govuk.metadata_changed"]);
    assert!(alerts[0]["summary"]
        .as_str()
        .unwrap()
        .starts_with("Changed title “Schemes for financing schools” → “Schemes for financing maintained schools”"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_410_is_reported_once() {
    let server = MockServer::start().await;
    let p = project(&server, &govuk_watch("schools", SCHOOLS_PATH));
    serve_item(&server, SCHOOLS_PATH, SCHOOLS).await;
    assert!(p.check_json().is_empty());

    serve(&server, SCHOOLS_PATH, ResponseTemplate::new(410)).await;
    let alerts = p.check_json();
    assert_eq!(events(&alerts), ["govuk.removed"]);
    assert_eq!(
        alerts[0]["summary"],
        "Removed from GOV.UK (the Content API answers 410 Gone)"
    );
    assert_eq!(alerts[0]["title"], "Schemes for financing schools");
    assert!(p.check_json().is_empty(), "still gone: reported once");
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_give_the_new_path() {
    let server = MockServer::start().await;
    let p = project(&server, &govuk_watch("schools", SCHOOLS_PATH));
    serve_item(&server, SCHOOLS_PATH, SCHOOLS).await;
    assert!(p.check_json().is_empty());

    // The Content API redirects to the item's new path.
    let new_path = "/government/publications/schemes-for-financing-maintained-schools";
    serve(
        &server,
        SCHOOLS_PATH,
        ResponseTemplate::new(301)
            .insert_header("location", format!("/api/content{new_path}").as_str()),
    )
    .await;
    Mock::given(path(format!("/api/content{new_path}")))
        .respond_with(json_response(fixture(&format!(
            "govuk-content/{SCHOOLS}.json"
        ))))
        .mount(&server)
        .await;
    let alerts = p.check_json();
    assert_eq!(events(&alerts), ["govuk.redirected"], "{alerts:#?}");
    assert_eq!(
        alerts[0]["summary"],
        format!("Redirected: {SCHOOLS_PATH} now leads to {new_path}")
    );
    assert!(
        p.check_json().is_empty(),
        "the same redirect is reported once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_item_gives_the_new_path() {
    let server = MockServer::start().await;
    let p = project(&server, &govuk_watch("schools", SCHOOLS_PATH));
    serve_item(&server, SCHOOLS_PATH, SCHOOLS).await;
    assert!(p.check_json().is_empty());
    serve_item(
        &server,
        SCHOOLS_PATH,
        &format!("{SCHOOLS}__replaced-by-redirect-item"),
    )
    .await;
    let alerts = p.check_json();
    assert_eq!(events(&alerts), ["govuk.redirected"]);
    assert_eq!(alerts[0]["title"], "Schemes for financing schools");
    assert!(alerts[0]["summary"]
        .as_str()
        .unwrap()
        .ends_with("now leads to /government/publications/schemes-for-financing-local-authority-maintained-schools"));
}

/// Serves a search page for any query, and the schools item for every Content API path.
async fn serve_search(server: &MockServer, page: &str) {
    server.reset().await;
    Mock::given(path("/api/search.json"))
        .respond_with(json_response(fixture(&format!("govuk-search/{page}.json"))))
        .mount(server)
        .await;
    Mock::given(path_regex("^/api/content/"))
        .respond_with(json_response(fixture(&format!(
            "govuk-content/{SCHOOLS}.json"
        ))))
        .mount(server)
        .await;
}

fn content_requests(requests: &[wiremock::Request], page_path: &str) -> usize {
    requests
        .iter()
        .filter(|r| r.url.path() == format!("/api/content{page_path}"))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_search_match_is_announced_once_and_followed_from_the_next_cycle() {
    let server = MockServer::start().await;
    let p = project(
        &server,
        "[[watch]]\nid = \"ho-guidance\"\nkind = \"govuk_search\"\nfollow = true\nsearch = { keywords = \"modern slavery\", organisations = [\"home-office\"] }\n",
    );
    serve_search(&server, &format!("{SEARCH}__baseline")).await;
    assert!(p.check_json().is_empty(), "baseline");

    let new_path =
        "/government/publications/modern-slavery-victim-support-recovery-needs-assessment";
    serve_search(&server, &format!("{SEARCH}__new-result")).await;
    let alerts = p.check_json();
    assert_eq!(events(&alerts), ["govuk.new_document"], "{alerts:#?}");
    assert_eq!(
        alerts[0]["title"],
        "Modern slavery: victim support and the recovery needs assessment"
    );
    assert_eq!(alerts[0]["url"], format!("{}{new_path}", server.uri()));
    assert_eq!(alerts[0]["keywords"], serde_json::json!(["modern slavery"]));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        content_requests(&requests, new_path),
        0,
        "followed only once the cycle ends"
    );
    assert!(
        content_requests(&requests, "/government/publications/duty-to-notify-the-home-office-of-potential-victims-of-modern-slavery") == 1,
        "the baseline's matches are checked as govuk watches in the next cycle"
    );

    serve_search(&server, &format!("{SEARCH}__new-result")).await;
    assert!(
        p.check_json().is_empty(),
        "exactly one new_document; the followed page's first check is a baseline"
    );
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        content_requests(&requests, new_path),
        1,
        "checked as a govuk watch"
    );
    let status = p.stdout(&["status"]);
    assert!(
        status.contains(
            "govuk-government-publications-modern-slavery-victim-support-recovery-needs-assessment"
        ),
        "{status}"
    );

    // From then on the followed page raises its own govuk alerts.
    server.reset().await;
    Mock::given(path("/api/search.json"))
        .respond_with(json_response(fixture(&format!(
            "govuk-search/{SEARCH}__new-result.json"
        ))))
        .mount(&server)
        .await;
    Mock::given(path(format!("/api/content{new_path}")))
        .respond_with(json_response(fixture(&format!(
            "govuk-content/{SCHOOLS}__new-note-listed-last__annex-b-added.json"
        ))))
        .mount(&server)
        .await;
    Mock::given(path_regex("^/api/content/"))
        .respond_with(json_response(fixture(&format!(
            "govuk-content/{SCHOOLS}.json"
        ))))
        .mount(&server)
        .await;
    let alerts = p.check_json();
    assert_eq!(events(&alerts), ["govuk.major_update"], "{alerts:#?}");
    assert_eq!(
        alerts[0]["watch"],
        "govuk-government-publications-modern-slavery-victim-support-recovery-needs-assessment"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_moved_timestamp_is_an_update() {
    let server = MockServer::start().await;
    let p = project(
        &server,
        "[[watch]]\nid = \"ho-guidance\"\nkind = \"govuk_search\"\nsearch = \"modern slavery\"\n",
    );
    serve_search(&server, &format!("{SEARCH}__baseline")).await;
    assert!(p.check_json().is_empty());
    serve_search(
        &server,
        &format!("{SEARCH}__duty-to-notify-timestamp-moved"),
    )
    .await;
    let alerts = p.check_json();
    assert_eq!(events(&alerts), ["govuk.updated"]);
    assert_eq!(
        alerts[0]["summary"],
        "Updated on GOV.UK: Modern slavery: duty to notify (public timestamp 11 June 2024, 9:00am → 18 February 2025, 4:05pm)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn search_pages_are_read_only_as_far_as_needed() {
    let server = MockServer::start().await;
    let p = project(
        &server,
        "[[watch]]\nid = \"ho-guidance\"\nkind = \"govuk_search\"\nsearch = { keywords = \"modern slavery\", organisations = [\"home-office\"], document_types = [\"guidance\", \"statutory_guidance\"] }\n",
    );
    for (start, page) in [("0", "page-1-of-2"), ("2", "page-2-of-2")] {
        Mock::given(path("/api/search.json"))
            .and(query_param("start", start))
            .and(query_param("q", "modern slavery"))
            .and(query_param("filter_organisations", "home-office"))
            .and(query_param("order", "-public_timestamp"))
            .respond_with(json_response(fixture(&format!(
                "govuk-search/{SEARCH}__{page}.json"
            ))))
            .mount(&server)
            .await;
    }
    assert!(p.check_json().is_empty());
    let starts = |requests: &[wiremock::Request]| -> Vec<String> {
        requests
            .iter()
            .filter_map(|r| {
                r.url
                    .query_pairs()
                    .find(|(k, _)| k == "start")
                    .map(|(_, v)| v.into_owned())
            })
            .collect()
    };
    let first = server.received_requests().await.unwrap();
    assert_eq!(starts(&first), ["0", "2"], "the baseline reads every page");
    let types: Vec<String> = first[0]
        .url
        .query_pairs()
        .filter(|(k, _)| k == "filter_content_store_document_type")
        .map(|(_, v)| v.into_owned())
        .collect();
    assert_eq!(types, ["guidance", "statutory_guidance"]);

    assert!(p.check_json().is_empty());
    let all = server.received_requests().await.unwrap();
    assert_eq!(
        starts(&all[first.len()..]),
        ["0"],
        "page 1 reaches known results: no more pages"
    );
    // Nothing changed, so the stored listing still has the match only page 2 carries.
    let exported = p.stdout(&["export", "--watch", "ho-guidance"]);
    assert_eq!(exported.lines().count(), 1, "one version: {exported}");
    assert!(
        exported.contains("National referral mechanism guidance: adult"),
        "{exported}"
    );
}

/// `test --url` with a GOV.UK page address: the page is read through the Content API as a
/// `govuk` watch would read it (its path taken from the address), and nothing is stored.
#[tokio::test(flavor = "multi_thread")]
async fn test_url_reads_a_govuk_page_from_its_address() {
    let server = MockServer::start().await;
    serve_item(&server, SCHOOLS_PATH, SCHOOLS).await;
    let p = Project::new();
    p.config(&format!("[sources]\ngovuk = \"{}/\"\n", server.uri()));
    let address = format!("{}{SCHOOLS_PATH}?tab=x#contents", server.uri());
    let stdout = p.stdout(&["test", "--url", &address, "--kind", "govuk"]);
    assert!(stdout.contains("(govuk): nothing was stored"), "{stdout}");
    assert!(stdout.contains("Schemes for financing schools"), "{stdout}");
    assert!(!p.data().exists(), "no data directory was created");

    // An address elsewhere says what --kind govuk takes, and where GOV.UK is.
    let (code, _, stderr) = p.run(&[
        "test",
        "--url",
        "https://example.org/guidance/x",
        "--kind",
        "govuk",
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--url `https://example.org/guidance/x` is not a page on GOV.UK")
            && stderr.contains(&server.uri()),
        "{stderr}"
    );
}
