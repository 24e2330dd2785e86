//! Snapshots and events on the real fixtures (and copies edited for one change each).

use super::api::{BillDetail, PublicationList, SearchResult, StageSummary};
use super::*;
use crate::data::Severity;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../../tests/fixtures/bills-api/", $name))
    };
}

const DETAIL: &str = fixture!("GET_Bills_3548__detail.json");
const STAGES: &str = fixture!("GET_Bills_3548_Stages__built_from_detail_currentStage.json");
const PUBS: &str = fixture!("GET_Bills_512_Publications.json");
const PUBS_WITHOUT_2756: &str = fixture!("GET_Bills_512_Publications__without_2756.json");

fn snapshot(detail: &str, publications: &str) -> Snapshot {
    let detail: BillDetail = serde_json::from_str(detail).unwrap();
    let stages: SearchResult<StageSummary> = serde_json::from_str(STAGES).unwrap();
    let pubs: PublicationList = serde_json::from_str(publications).unwrap();
    Snapshot::build(&detail, &stages.items, &pubs.publications)
}

fn events_between(before: &str, after: &str) -> Vec<Event> {
    events::events(&snapshot(before, PUBS), &snapshot(after, PUBS))
}

#[test]
fn renders_a_readable_record() {
    let doc = snapshot(DETAIL, PUBS).into_document();
    assert_eq!(
        doc.title,
        "High Streets (Designation, Review and Improvement Plan) Bill"
    );
    assert_eq!(doc.url, "https://bills.parliament.uk/bills/3548");
    let head: Vec<&str> = doc.text.lines().take(8).collect();
    assert_eq!(
        head,
        [
            "# High Streets (Designation, Review and Improvement Plan) Bill",
            "Bill 3548 · Private Members' Bill (Ballot Bill) · session 38",
            "https://bills.parliament.uk/bills/3548",
            "Long title: A Bill to require local authorities to designate high streets in their area; to require local authorities to undertake and publish periodic reviews of the condition of those high streets; to require local authorities to develop action plans for the improvement of the condition of those high streets; and for connected purposes.",
            "Sponsor: Jack Brereton (Conservative, Stoke-on-Trent South)",
            "Introduced in: Commons",
            "Current stage: Commons: Committee stage",
            "",
        ]
    );
    assert!(doc
        .text
        .contains("## Stages\n- Commons: Committee stage: 13 March 2024\n"));
    // Publications oldest first, with type, house, date and links.
    assert!(doc.text.contains(
        "- 12 April 2010 · Act of Parliament (Commons): Constitutional Reform and Governance Act 2010 c.25\n  http://www.opsi.gov.uk/acts/acts2010/pdf/ukpga_20100025_en.pdf\n  http://www.opsi.gov.uk/acts/acts2010/ukpga_20100025_en_1\n"
    ));
    let first = doc.text.find("4 June 2008").unwrap();
    assert!(first < doc.text.find("12 April 2010").unwrap());
    // The snapshot round-trips through the stored fields.
    assert_eq!(
        Snapshot::from_document(&doc).unwrap().publications.len(),
        41
    );
}

#[test]
fn same_data_same_document() {
    assert_eq!(
        snapshot(DETAIL, PUBS).into_document(),
        snapshot(DETAIL, PUBS).into_document()
    );
    assert!(events_between(DETAIL, DETAIL).is_empty());
}

#[test]
fn stage_change_reads_from_to_with_the_house() {
    let events = events_between(
        DETAIL,
        fixture!("GET_Bills_3548__detail__stage_report.json"),
    );
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    assert_eq!(e.kind, "bill.stage_changed");
    assert_eq!(
        e.summary,
        "Commons: Committee stage → Report stage (sitting 19 April 2024)"
    );
    assert_eq!(e.severity, Severity::Major);
    assert_eq!(e.fields["from"]["stage"], "Committee stage");
    assert_eq!(e.fields["to"]["stage"], "Report stage");
    assert_eq!(e.fields["to"]["house"], "Commons");
    assert_eq!(e.fields["bill_id"], 3548);
    // The long title did not change: keywords are not looked for in it (issue 15).
    assert!(
        !e.keyword_text.contains("designate high streets"),
        "{}",
        e.keyword_text
    );
}

#[test]
fn a_new_sitting_names_its_stage_and_day() {
    let events = events_between(
        DETAIL,
        fixture!("GET_Bills_3548__detail__sitting_added.json"),
    );
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    assert_eq!(e.kind, "bill.sitting_added");
    assert_eq!(
        e.summary,
        "Commons: Committee stage — sitting on 20 March 2024"
    );
    assert_eq!(e.severity, Severity::Notice);
    assert_eq!(e.fields["date"], "2024-03-20");
    assert_eq!(e.fields["stage"], "Committee stage");
}

#[test]
fn a_sitting_moved_says_from_and_to() {
    let moved = DETAIL.replace("2024-03-13T00:00:00", "2024-03-27T00:00:00");
    let events = events_between(DETAIL, &moved);
    assert_eq!(
        events[0].summary,
        "Commons: Committee stage — sitting moved from 13 March 2024 to 27 March 2024"
    );
    assert_eq!(events[0].fields["previous_date"], "2024-03-13");
}

#[test]
fn a_new_publication_gives_type_title_date_and_links() {
    let events = events::events(
        &snapshot(DETAIL, PUBS_WITHOUT_2756),
        &snapshot(DETAIL, PUBS),
    );
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    assert_eq!(e.kind, "bill.publication_added");
    assert_eq!(
        e.summary,
        "Act of Parliament (Commons): Constitutional Reform and Governance Act 2010 c.25 (12 April 2010)"
    );
    assert_eq!(
        e.url.as_deref(),
        Some("http://www.opsi.gov.uk/acts/acts2010/pdf/ukpga_20100025_en.pdf")
    );
    assert_eq!(
        e.annotations,
        [
            "Link (application/pdf): http://www.opsi.gov.uk/acts/acts2010/pdf/ukpga_20100025_en.pdf",
            "Link (text/html): http://www.opsi.gov.uk/acts/acts2010/ukpga_20100025_en_1",
        ]
    );
    assert_eq!(e.fields["type"], "Act of Parliament");
    assert_eq!(e.fields["links"].as_array().unwrap().len(), 2);
    assert!(e
        .keyword_text
        .starts_with("Constitutional Reform and Governance Act 2010 c.25\n"));
}

#[test]
fn many_new_publications_do_not_flood() {
    let none = r#"{"billId": 512, "publications": []}"#;
    let events = events::events(&snapshot(DETAIL, none), &snapshot(DETAIL, PUBS));
    assert_eq!(events.len(), 11);
    assert_eq!(events[10].summary, "31 more publications");
}

#[test]
fn rename_is_not_a_new_bill_and_says_old_and_new() {
    let events = events_between(DETAIL, fixture!("GET_Bills_3548__detail__renamed.json"));
    assert_eq!(events.len(), 1, "{events:#?}");
    let e = &events[0];
    assert_eq!(e.kind, "bill.renamed");
    assert_eq!(
        e.summary,
        "Renamed: High Streets (Designation, Review and Improvement Plan) Bill → High Streets (Designation and Review) Bill"
    );
    assert_eq!(e.fields["became_act"], false);
}

#[test]
fn royal_assent_names_the_act_and_day_and_the_rename_to_act() {
    let events = events_between(
        DETAIL,
        fixture!("GET_Bills_3548__detail__royal_assent.json"),
    );
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    // Royal Assent is not also told as a stage change, nor as a rename: one fact, one event.
    assert_eq!(kinds, ["bill.royal_assent"]);
    assert_eq!(
        events[0].summary,
        "Royal Assent: High Streets (Designation, Review and Improvement Plan) Act 2024, 24 May 2024"
    );
    assert_eq!(events[0].severity, Severity::Major);
    assert_eq!(events[0].fields["date"], "2024-05-24");
    assert_eq!(
        events[0].fields["act"],
        "High Streets (Designation, Review and Improvement Plan) Act 2024"
    );
    assert_eq!(
        events[0].annotations,
        ["Renamed: High Streets (Designation, Review and Improvement Plan) Bill → High Streets (Designation, Review and Improvement Plan) Act 2024"]
    );
    let doc = snapshot(fixture!("GET_Bills_3548__detail__royal_assent.json"), PUBS).into_document();
    assert!(doc
        .text
        .contains("\nCurrent stage: Royal Assent\nStatus: Act of Parliament\n"));
    assert!(doc
        .text
        .contains("\nFormerly: High Streets (Designation, Review and Improvement Plan) Bill\n"));
}

#[test]
fn withdrawn_and_defeated_are_major_and_say_where() {
    let events = events_between(DETAIL, fixture!("GET_Bills_3548__detail__withdrawn.json"));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "bill.withdrawn");
    assert_eq!(
        events[0].summary,
        "Withdrawn on 15 March 2024 at Commons: Committee stage"
    );
    assert_eq!(events[0].severity, Severity::Major);
    assert_eq!(events[0].fields["withdrawn"], "2024-03-15");

    let events = events_between(DETAIL, fixture!("GET_Bills_3548__detail__defeated.json"));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "bill.defeated");
    assert_eq!(events[0].summary, "Defeated at Commons: Committee stage");
    assert_eq!(events[0].severity, Severity::Major);
    assert_eq!(events[0].fields["stage"]["stage"], "Committee stage");
}

#[test]
fn refresh_only_when_last_update_moved_or_due() {
    let hour = std::time::Duration::from_secs(3600);
    let now: DateTime<Utc> = "2024-03-13T12:00:00Z".parse().unwrap();
    let lu = "2024-03-12T23:17:31.2836411";
    let state = BillState {
        last_update: normalise_last_update(Some(lu)),
        refreshed_at: Some(now - chrono::Duration::minutes(30)),
    };
    assert_eq!(
        state.last_update.as_deref(),
        Some("2024-03-12T23:17:31.283641100+00:00")
    );
    assert_eq!(refresh_needed(true, &state, Some(lu), now, hour), None);
    assert_eq!(
        refresh_needed(false, &state, Some(lu), now, hour),
        Some(Refresh::NoVersion)
    );
    assert_eq!(
        refresh_needed(true, &state, Some("2024-03-13T09:00:00"), now, hour),
        Some(Refresh::Updated)
    );
    let later = now + chrono::Duration::minutes(31);
    assert_eq!(
        refresh_needed(true, &state, Some(lu), later, hour),
        Some(Refresh::Due)
    );
    assert_eq!(
        refresh_needed(true, &BillState::default(), Some(lu), now, hour),
        Some(Refresh::Updated)
    );
}

#[test]
fn a_bills_page_address_gives_its_id() {
    let url = |s: &str| url::Url::parse(s).unwrap();
    let site = crate::config::Sources::default();
    assert_eq!(
        id_of(&url("https://bills.parliament.uk/bills/3548"), &site),
        Some(3548)
    );
    assert_eq!(
        id_of(
            &url("https://bills.parliament.uk/bills/3548/stages?x#y"),
            &site
        ),
        Some(3548)
    );
    for other in [
        "https://bills.parliament.uk/bills/0",
        "https://bills.parliament.uk/bills/abc",
        "https://bills.parliament.uk/bills",
        "https://bills.parliament.uk/acts/3548",
        "https://www.gov.uk/bills/3548",
    ] {
        assert_eq!(id_of(&url(other), &site), None, "{other}");
    }
}
