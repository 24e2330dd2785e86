//! `hansard` end to end: `policywatch check --format json` against a local fake of the
//! Hansard API and the Members API (tests/common/parliament.rs) serving the real
//! contributions of tests/fixtures/hansard (provenance in its PROVENANCE.md) and copies
//! edited in code; every edit is named where it is made.

mod common;
#[path = "common/parliament.rs"]
mod parliament;

use common::{fixture, Project};
use parliament::FakeParliament;
use serde_json::{json, Value};

const SPOKEN: &str =
    "hansard/GET_search_contributions_Spoken__artificial_superintelligence_2_results.json";

/// Baroness Doocey's and Lord Hanson's contributions to one Lords debate (30 June 2026).
fn real_rows() -> Vec<Value> {
    let v: Value = serde_json::from_slice(&fixture(SPOKEN)).unwrap();
    v["Results"].as_array().unwrap().clone()
}

/// Edit: a later contribution to the same debate (new ContributionExtId, later order, by
/// Lord Alton, text ours).
fn later_contribution() -> Value {
    let mut c = real_rows()[0].clone();
    c["MemberName"] = json!("Lord Alton of Liverpool");
    c["MemberId"] = json!(738);
    c["AttributedTo"] = json!("Lord Alton of Liverpool (CB)");
    c["ContributionExtId"] = json!("0B1C2D3E-4F50-4A6B-8C7D-9E0F1A2B3C4D");
    c["ItemId"] = json!(49938800);
    c["OrderInDebateSection"] = json!(61);
    c["ContributionTextFull"] = json!("My Lords, I support the amendment.\r\n\r\nArtificial superintelligence is no longer a distant prospect, and the Minister's offer of a review is welcome.");
    c
}

fn serve(fake: &FakeParliament, rows: Vec<Value>) {
    fake.with(|f| {
        f.contributions.insert("Spoken".into(), rows);
    });
}

fn project(fake: &FakeParliament) -> Project {
    let p = Project::new();
    p.config(&fake.sources());
    p.watchlist(
        "asks.toml",
        "name = \"asks\"\nkeywords = [\"national security\"]\n\n[[watch]]\nid = \"asi-hansard\"\nkind = \"hansard\"\nsearch = \"artificial superintelligence\"\nhouse = \"lords\"\ncontributions = [\"spoken\"]\n",
    );
    p
}

#[tokio::test(flavor = "multi_thread")]
async fn two_mentions_in_a_debate_are_one_alert_and_a_later_contribution_one_more() {
    let fake = FakeParliament::start().await;
    let p = project(&fake);
    serve(&fake, vec![]);
    assert!(p.check_json().is_empty(), "baseline");
    let log = fake.take_log();
    assert_eq!(log.len(), 1, "one request: {log:?}");
    assert!(
        log[0].starts_with("/search/contributions/Spoken.json?queryParameters.searchTerm=%22artificial+superintelligence%22&queryParameters.startDate=")
            && log[0].contains("&queryParameters.house=Lords&queryParameters.orderBy=SittingDateDesc&queryParameters.skip=0&queryParameters.take=100"),
        "{log:?}"
    );

    serve(&fake, real_rows());
    let alerts = p.check_json();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a["event"], "hansard.mentioned");
    assert_eq!(
        a["title"],
        "Hansard: National Security (State Threats) Bill (Lords, 30 June 2026)"
    );
    assert_eq!(
        a["summary"],
        "“artificial superintelligence” in Lords Chamber, 30 June 2026: National Security (State Threats) Bill — Baroness Doocey (LD); Lord Hanson of Flint (Lab)"
    );
    assert_eq!(
        a["url"],
        "https://hansard.parliament.uk/Lords/2026-06-30/debates/A9B3AF3E-F1BD-4588-90E6-FE3100192187/NationalSecurityStateThreatsBill"
    );
    let annotations: Vec<&str> = a["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(annotations[0], "Baroness Doocey (LD): “We are drawing a distinction between the AI tools we use today and what experts term artificial superintelligence, or ASI.”");
    assert!(annotations[1].starts_with("Lord Hanson of Flint (Lab): “Amendment 5 seeks to expand the scope of the preparatory conduct offence"), "{annotations:?}");
    assert_eq!(a["keywords"], json!(["national security"]));
    let contributions = a["fields"]["contributions"].as_array().unwrap();
    assert_eq!(contributions.len(), 2);
    assert_eq!(contributions[0]["member_id"], 4197);
    assert_eq!(a["fields"]["sitting_date"], "2026-06-30");

    let mut rows = real_rows();
    rows.push(later_contribution());
    serve(&fake, rows);
    let alerts = p.check_json();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert!(
        alerts[0]["summary"]
            .as_str()
            .unwrap()
            .ends_with("— Lord Alton of Liverpool (CB) (1 new, 2 reported before)"),
        "{}",
        alerts[0]["summary"]
    );
    assert_eq!(
        alerts[0]["fields"]["contributions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(alerts[0]["annotations"][0], "Lord Alton of Liverpool (CB): “Artificial superintelligence is no longer a distant prospect, and the Minister's offer of a review is welcome.”");

    fake.take_log();
    assert!(p.check_json().is_empty(), "unchanged");
    let log = fake.take_log();
    assert_eq!(
        log.len(),
        1,
        "an unchanged cycle costs one request: {log:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fuzzy_match_without_the_phrase_and_the_other_house_raise_nothing() {
    let fake = FakeParliament::start().await;
    let p = project(&fake);
    serve(&fake, vec![]);
    assert!(p.check_json().is_empty());
    // Edit: Lord Hanson's contribution with the phrase taken out ("superintelligent AI").
    let mut fuzzy = real_rows()[1].clone();
    fuzzy["ContributionTextFull"] = json!(fuzzy["ContributionTextFull"]
        .as_str()
        .unwrap()
        .replace("artificial superintelligence", "superintelligent AI"));
    // Edit: Baroness Doocey's contribution moved to the Commons.
    let mut commons = real_rows()[0].clone();
    commons["House"] = json!("Commons");
    serve(&fake, vec![fuzzy, commons]);
    assert!(p.check_json().is_empty());
}
