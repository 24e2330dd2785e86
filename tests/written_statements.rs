//! `written_statements` end to end against a local fake of the Written Statements API
//! (tests/common/parliament.rs) serving the hand-written statements page of
//! tests/fixtures/questions-statements (provenance in its PROVENANCE.md: no real response
//! exists) and copies edited in code; every edit is named where it is made.

mod common;
#[path = "common/parliament.rs"]
mod parliament;

use common::{fixture, Project};
use parliament::FakeParliament;
use serde_json::{json, Value};

const STATEMENTS: &str =
    "questions-statements/GET_writtenstatements_statements__hand-written_2_items.json";

fn items() -> Vec<Value> {
    let v: Value = serde_json::from_slice(&fixture(STATEMENTS)).unwrap();
    v["results"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_statement_made_then_corrected() {
    let fake = FakeParliament::start().await;
    let p = Project::new();
    p.config(&fake.sources());
    p.watchlist(
        "asks.toml",
        "name = \"asks\"\nkeywords = [\"National Referral Mechanism\"]\n\n[[watch]]\nid = \"ho-statements\"\nkind = \"written_statements\"\nsearch = \"modern slavery\"\ndepartment = \"Home Office\"\n",
    );
    fake.with(|f| f.statements = vec![]);
    assert!(p.check_json().is_empty(), "baseline");

    fake.with(|f| f.statements = items());
    let alerts = p.check_json();
    let events: Vec<&str> = alerts
        .iter()
        .map(|a| a["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        ["statement.made"],
        "the DHSC statement is filtered out: {alerts:#?}"
    );
    let a = &alerts[0];
    assert_eq!(
        a["title"],
        "Written statement: Modern Slavery Statutory Guidance"
    );
    assert_eq!(
        a["summary"],
        "Jess Phillips (Labour, Birmingham Yardley), Parliamentary Under-Secretary of State for Safeguarding and Violence Against Women and Girls made a written statement for the Home Office: Modern Slavery Statutory Guidance (Commons, HCWS250, 28 November 2024)"
    );
    assert_eq!(
        a["url"],
        "https://questions-statements.parliament.uk/written-statements/detail/2024-11-28/HCWS250"
    );
    assert_eq!(a["annotations"][0], "Statement: Today I am publishing updated statutory guidance under section 49 of the Modern Slavery Act 2015.");
    assert_eq!(a["keywords"], json!(["National Referral Mechanism"]));
    assert_eq!(a["fields"]["department_id"], 1);

    // Edit: the statement's second paragraph reworded in place.
    let mut edited = items();
    edited[0]["value"]["text"] = json!(edited[0]["value"]["text"].as_str().unwrap().replace(
        "identified and supported",
        "identified, protected and supported"
    ));
    fake.with(|f| f.statements = edited);
    let alerts = p.check_json();
    let events: Vec<&str> = alerts
        .iter()
        .map(|a| a["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["statement.corrected"], "{alerts:#?}");
    let diff = alerts[0]["diff"].as_str().unwrap();
    assert!(diff.contains("+The guidance sets out how victims of modern slavery are identified, protected and supported"), "{diff}");
    assert!(p.check_json().is_empty(), "unchanged");
}
