//! `legislation_effects` watches end to end: `check --format json` against a local
//! legislation.gov.uk serving the real Data Protection Act 2018 changes feed and copies
//! edited for one change each (tests/fixtures/legislation-gov-uk/PROVENANCE.md).

mod common;

use common::{fixture, Project};
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const FEED_PATH: &str = "/changes/affected/ukpga/2018/12/data.feed";
const REAL: &str = "GET_changes_affected_ukpga_2018_12__3_of_2271_unapplied.atom";
const ONE_MORE: &str = "GET_changes_affected_ukpga_2018_12__edited_one_more_effect.atom";
const REORDERED: &str =
    "GET_changes_affected_ukpga_2018_12__edited_reordered_attributes_and_updated.atom";
const APPLIED: &str = "GET_changes_affected_ukpga_2018_12__edited_first_effect_applied.atom";

async fn serve(server: &MockServer, body: ResponseTemplate) {
    server.reset().await;
    Mock::given(method("GET"))
        .and(path(FEED_PATH))
        .respond_with(body)
        .mount(server)
        .await;
}

fn atom(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(
        fixture(&format!("legislation-gov-uk/{name}")),
        "application/atom+xml",
    )
}

fn project(server: &MockServer) -> Project {
    let p = Project::new();
    p.config(&format!(
        "[fetch]\nallow_private = true\nper_host_interval_secs = 0.0\nretry_base_secs = 0.01\nretry_max_secs = 0.05\ntimeout_secs = 5.0\n[sources]\nlegislation = \"{}/\"\n",
        server.uri()
    ));
    p.watchlist(
        "law.toml",
        "name = \"law\"\nkeywords = [\"Data Protection\"]\n\n[[watch]]\nid = \"dpa-effects\"\nkind = \"legislation_effects\"\nlegislation = \"ukpga/2018/12\"\n",
    );
    p
}

fn events(alerts: &[Value]) -> Vec<&str> {
    alerts
        .iter()
        .map(|a| a["event"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_more_effect_then_applied_and_reordering_is_not_a_change() {
    let server = MockServer::start().await;
    let p = project(&server);
    serve(&server, atom(REAL)).await;
    assert!(p.check_json().is_empty(), "baseline");

    // Entries and attributes in another order, a new generation time: nothing.
    serve(&server, atom(REORDERED)).await;
    assert!(p.check_json().is_empty());
    let versions = p.stdout(&["export", "--watch", "dpa-effects"]);
    assert_eq!(
        versions.lines().count(),
        1,
        "no new version stored: {versions}"
    );

    serve(&server, atom(ONE_MORE)).await;
    let alerts = p.check_json();
    assert_eq!(events(&alerts), ["legislation.effect_recorded"]);
    let a = &alerts[0];
    assert_eq!(
        a["summary"],
        "Data Protection Act 2018 s. 68 heading: word substituted by S.I. 2026/386 Sch. 2 para. 23(2)(3)"
    );
    let notes: Vec<&str> = a["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(
        notes[..3],
        [
            "In force: 30 September 2026 (wholly in force)",
            "By: The Data (Use and Access) Act 2025 (Consequential Amendments and Transitional Provision) Regulations 2026 (S.I. 2026/386)",
            "Not yet applied to the revised text",
        ]
    );
    assert_eq!(a["keywords"], serde_json::json!(["Data Protection"]));

    serve(&server, atom(APPLIED)).await;
    let alerts = p.check_json();
    // The effect added before is no longer listed (the real feed has three): not an event.
    assert_eq!(events(&alerts), ["legislation.effect_applied"]);
    assert_eq!(
        alerts[0]["summary"],
        "Revised text published: Data Protection Act 2018 s. 65 heading (word substituted by S.I. 2026/386)"
    );
    assert_eq!(
        alerts[0]["url"],
        "https://www.legislation.gov.uk/ukpga/2018/12/part/3/chapter/4/crossheading/general-obligations"
    );
    assert!(p.check_json().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_that_is_not_a_feed_fails_clearly_and_bad_keys_are_refused() {
    let server = MockServer::start().await;
    let p = project(&server);
    serve(
        &server,
        ResponseTemplate::new(200)
            .set_body_raw("<html><body>Maintenance</body></html>", "text/html"),
    )
    .await;
    let out = p
        .cmd()
        .args(["check", "--format", "json"])
        .output()
        .unwrap();
    // Its only watch failing is every watch failing: exit 3.
    assert_eq!(out.status.code(), Some(3));
    let status = p.stdout(&["status"]);
    assert!(
        status.contains("not an Atom feed (no <feed> element)"),
        "{status}"
    );

    p.watchlist(
        "law.toml",
        "name = \"law\"\n\n[[watch]]\nid = \"x\"\nkind = \"legislation_effects\"\nlegislation = \"../../etc\"\n",
    );
    let out = p.cmd().arg("validate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("watchlists/law.toml:6:15: `../../etc` is not a legislation.gov.uk identifier: expected type/year/number, e.g. \"ukpga/2015/30\""),
        "{stderr}"
    );
}
