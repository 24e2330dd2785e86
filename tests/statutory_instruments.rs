//! `statutory_instruments` watches end to end against a local Statutory Instruments API
//! serving fixtures built from the API's schemas with values from real instruments under
//! the Modern Slavery Act 2015 (tests/fixtures/statutory-instruments/PROVENANCE.md). The
//! coming-into-force reminder runs the same engine in-process with a clock the test moves.

#[path = "common/clocked.rs"]
mod clocked;
mod common;

use clocked::{at, Clocked};
use common::{fixture, Project};
use serde_json::Value;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const LISTING: &str = "GET_v2_StatutoryInstrument__ActOfParliamentId__baseline.json";
const LISTING_NEW: &str =
    "GET_v2_StatutoryInstrument__ActOfParliamentId__edited_new_instrument.json";
const LISTING_MADE: &str =
    "GET_v2_StatutoryInstrument__ActOfParliamentId__edited_new_instrument_made.json";

/// The new instrument `tiScAm27` as served: (detail, business items) fixtures.
type NewSi = Option<(&'static str, &'static str)>;
const LAID: NewSi = Some((
    "GET_v2_StatutoryInstrument_tiScAm27__laid.json",
    "GET_v2_StatutoryInstrument_tiScAm27_BusinessItems__laid.json",
));
const MADE: NewSi = Some((
    "GET_v2_StatutoryInstrument_tiScAm27__made.json",
    "GET_v2_StatutoryInstrument_tiScAm27_BusinessItems__approved.json",
));

fn json(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(
        fixture(&format!("statutory-instruments/{name}")),
        "application/json",
    )
}

async fn serve(server: &MockServer, listing: &str, new: NewSi) {
    server.reset().await;
    let mount = |p: String, body: ResponseTemplate| {
        Mock::given(method("GET")).and(path(p)).respond_with(body)
    };
    Mock::given(method("GET"))
        .and(path("/api/v2/ActOfParliament"))
        .and(query_param("Name", "Modern Slavery Act 2015"))
        .respond_with(json(
            "GET_v2_ActOfParliament__Name_Modern_Slavery_Act_2015.json",
        ))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/StatutoryInstrument"))
        .and(query_param("ActOfParliamentId", "mSa2015X"))
        .respond_with(json(listing))
        .mount(server)
        .await;
    for id in ["tiSc1833", "dTnO1743"] {
        mount(
            format!("/api/v2/StatutoryInstrument/{id}"),
            json(&format!("GET_v2_StatutoryInstrument_{id}.json")),
        )
        .mount(server)
        .await;
        mount(
            format!("/api/v2/StatutoryInstrument/{id}/BusinessItems"),
            json(&format!(
                "GET_v2_StatutoryInstrument_{id}_BusinessItems.json"
            )),
        )
        .mount(server)
        .await;
    }
    if let Some((detail, items)) = new {
        mount("/api/v2/StatutoryInstrument/tiScAm27".into(), json(detail))
            .mount(server)
            .await;
        mount(
            "/api/v2/StatutoryInstrument/tiScAm27/BusinessItems".into(),
            json(items),
        )
        .mount(server)
        .await;
    }
}

fn project(server: &MockServer) -> Project {
    let p = Project::new();
    p.config(&format!(
        "[fetch]\nallow_private = true\nper_host_interval_secs = 0.0\nretry_base_secs = 0.01\nretry_max_secs = 0.05\ntimeout_secs = 5.0\n[sources]\nstatutory_instruments = \"{}/\"\n",
        server.uri()
    ));
    p.watchlist(
        "law.toml",
        "name = \"law\"\nkeywords = [\"supply chains\"]\n\n[[watch]]\nid = \"msa-instruments\"\nkind = \"statutory_instruments\"\nact = \"Modern Slavery Act 2015\"\n",
    );
    p
}

fn events(alerts: &[Value]) -> Vec<&str> {
    alerts
        .iter()
        .map(|a| a["event"].as_str().unwrap())
        .collect()
}

const NAME: &str =
    "The Modern Slavery Act 2015 (Transparency in Supply Chains) (Amendment) Regulations 2027";

#[tokio::test(flavor = "multi_thread")]
async fn laid_then_made_with_its_procedure_step() {
    let server = MockServer::start().await;
    let p = project(&server);
    serve(&server, LISTING, None).await;
    assert!(p.check_json().is_empty(), "baseline");

    serve(&server, LISTING_NEW, LAID).await;
    let alerts = p.check_json();
    assert_eq!(events(&alerts), ["si.laid"]);
    assert_eq!(
        alerts[0]["summary"],
        format!("New instrument: {NAME} — Draft affirmative, laid: Commons 1 March 2027, Lords 1 March 2027")
    );
    assert_eq!(alerts[0]["keywords"], serde_json::json!(["supply chains"]));
    assert_eq!(alerts[0]["severity"], "major");
    assert!(p.check_json().is_empty());

    serve(&server, LISTING_MADE, MADE).await;
    let alerts = p.check_json();
    assert_eq!(events(&alerts), ["si.made", "si.procedure_step"]);
    assert_eq!(
        alerts[0]["summary"],
        format!("Made 20 April 2027: {NAME} (SI 2027/412)")
    );
    assert_eq!(
        alerts[0]["annotations"],
        serde_json::json!([
            "Comes into force 1 June 2027",
            format!("Keyword “supply chains”: “{NAME}”")
        ])
    );
    assert_eq!(
        alerts[0]["url"],
        "https://www.legislation.gov.uk/uksi/2027/412/contents/made"
    );
    assert_eq!(
        alerts[1]["summary"],
        format!("Approved by the House of Commons (Commons), 14 April 2027: {NAME} (SI 2027/412)")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn in_force_once_when_the_clock_reaches_the_day() {
    let server = MockServer::start().await;
    let p = project(&server);
    serve(&server, LISTING_MADE, MADE).await;
    let c = Clocked::open(p.path(), at("2027-04-21T09:00:00Z"));
    assert!(c.check_at(at("2027-04-21T09:00:00Z")).await.is_empty());
    // 22:30 UTC on 31 May is still 31 May in London (BST).
    assert!(c.check_at(at("2027-05-31T22:30:00Z")).await.is_empty());
    let alerts = c.check_at(at("2027-05-31T23:30:00Z")).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].event, "si.in_force");
    assert_eq!(
        alerts[0].summary,
        format!("In force from 1 June 2027: {NAME} (SI 2027/412)")
    );
    assert_eq!(
        alerts[0].annotations,
        [
            "in accordance with regulation 1".to_string(),
            format!("Keyword “supply chains”: “{NAME}”")
        ]
    );
    for day in ["2027-06-02T09:00:00Z", "2028-01-01T09:00:00Z"] {
        assert!(c.check_at(at(day)).await.is_empty(), "{day}: once only");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_act_is_a_clear_error() {
    let server = MockServer::start().await;
    let p = project(&server);
    Mock::given(method("GET"))
        .and(path("/api/v2/ActOfParliament"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("[]", "application/json"))
        .mount(&server)
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
        status.contains("no Act of Parliament is named `Modern Slavery Act 2015`"),
        "{status}"
    );
    let (code, stderr) = {
        p.watchlist(
            "law.toml",
            "name = \"law\"\n\n[[watch]]\nid = \"x\"\nkind = \"statutory_instruments\"\n",
        );
        let out = p.cmd().arg("validate").output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("watchlists/law.toml:3:1: statutory_instruments watch needs `act`"),
        "{stderr}"
    );
}
