//! Snapshots and events on the real Committees API fixtures and copies edited for one
//! change each (tests/fixtures/committees/PROVENANCE.md).

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../../tests/fixtures/committees/", $name))
    };
}

const BUSINESS: &str = fixture!("GET_CommitteeBusiness__CommitteeId_203__assembled.json");
const BUSINESS_CALL: &str =
    fixture!("GET_CommitteeBusiness__CommitteeId_203__edited_new_inquiry_call_for_evidence.json");
const BUSINESS_SESSION: &str =
    fixture!("GET_CommitteeBusiness__CommitteeId_203__edited_evidence_session.json");
const BUSINESS_CLOSED: &str =
    fixture!("GET_CommitteeBusiness__CommitteeId_203__edited_inquiry_closed.json");
const PUBS: &str = fixture!("GET_Publications__CommitteeId_203_5_items.json");
const PUBS_REPORT: &str = fixture!("GET_Publications__CommitteeId_203__edited_new_report.json");
const EVIDENCE_NONE: &str = fixture!("GET_WrittenEvidence__CommitteeId_203__empty.json");
const EVIDENCE_OURS: &str =
    fixture!("GET_WrittenEvidence__CommitteeId_203__edited_own_submission.json");

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn query() -> CommitteeQuery {
    CommitteeQuery {
        committee: Some("203".into()),
        search: None,
        organisations: vec!["Anti-Slavery International".into()],
        deadline_days: DEFAULT_DEADLINE_DAYS,
        documents: false,
    }
}

fn snap(business: &str, pubs: &str, evidence: &str, now: &str) -> Snapshot {
    let base = Url::parse("http://committees.test/").unwrap();
    let b: api::Collection<api::Business> = serde_json::from_str(business).unwrap();
    let p: api::Collection<api::Publication> = serde_json::from_str(pubs).unwrap();
    let e: api::Collection<api::WrittenEvidence> = serde_json::from_str(evidence).unwrap();
    Snapshot::build(
        &base,
        Some("Education Committee".into()),
        &b.items,
        &p.items,
        &e.items,
        &query(),
        at(now),
    )
}

fn kinds(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

const JAN: &str = "2027-01-05T09:00:00Z";

#[test]
fn reads_the_real_publications_with_their_documents() {
    let s = snap(BUSINESS, PUBS, EVIDENCE_NONE, JAN);
    assert_eq!(s.publications.len(), 5);
    let report = s.publications.iter().find(|p| p.id == 46004).unwrap();
    assert_eq!(report.kind, "Report");
    assert_eq!(report.paper.as_deref(), Some("HC 429"));
    assert_eq!(report.date, NaiveDate::from_ymd_opt(2024, 12, 13));
    assert_eq!(
        report.documents[0].fetch,
        "http://committees.test/api/Publications/46004/Document/228742/OriginalFormat"
    );
    assert_eq!(s.inquiries.len(), 2);
    let doc = s.into_document(&query(), "u".into());
    assert!(doc
        .text
        .contains("## Report: First Report - Appointment of Sir Ian Bauckham"));
}

#[test]
fn the_same_data_is_the_same_document() {
    let a = snap(BUSINESS, PUBS, EVIDENCE_NONE, JAN);
    let b = snap(BUSINESS, PUBS, EVIDENCE_NONE, "2027-01-06T09:00:00Z");
    assert_eq!(a, b);
    assert!(events(&a, &b).is_empty());
}

#[test]
fn a_new_inquiry_with_a_call_raises_two_events_with_the_closing_date() {
    let a = snap(BUSINESS, PUBS, EVIDENCE_NONE, JAN);
    let b = snap(BUSINESS_CALL, PUBS, EVIDENCE_NONE, JAN);
    let ev = events(&a, &b);
    assert_eq!(
        kinds(&ev),
        ["committee.inquiry_opened", "committee.call_for_evidence"]
    );
    assert_eq!(
        ev[0].summary,
        "New inquiry: Children's social care and modern slavery (opened 4 January 2027)"
    );
    assert_eq!(
        ev[1].summary,
        "Call for written evidence: Children's social care and modern slavery — closes 12 February 2027"
    );
    assert_eq!(
        ev[1].url.as_deref(),
        Some("https://committees.parliament.uk/work/9001/")
    );
}

#[test]
fn the_deadline_reminder_comes_once_when_the_clock_reaches_the_window() {
    let early = snap(BUSINESS_CALL, PUBS, EVIDENCE_NONE, JAN);
    // 6 February (UK) is 6 days before 12 February: inside the 7-day window.
    let near = snap(BUSINESS_CALL, PUBS, EVIDENCE_NONE, "2027-02-06T08:00:00Z");
    let nearer = snap(BUSINESS_CALL, PUBS, EVIDENCE_NONE, "2027-02-10T08:00:00Z");
    assert!(early.reminded.is_empty());
    let ev = events(&early, &near);
    assert_eq!(kinds(&ev), ["committee.deadline_near"]);
    assert_eq!(
        ev[0].summary,
        "Call for written evidence closes 12 February 2027: Children's social care and modern slavery"
    );
    assert!(events(&near, &nearer).is_empty());
    // The window starts exactly deadline_days before: 5 February, UK time.
    let edge = snap(BUSINESS_CALL, PUBS, EVIDENCE_NONE, "2027-02-05T00:30:00Z");
    assert_eq!(edge.reminded.len(), 1);
    let before = snap(BUSINESS_CALL, PUBS, EVIDENCE_NONE, "2027-02-04T23:30:00Z");
    assert!(before.reminded.is_empty());
}

#[test]
fn an_evidence_session_names_its_witnesses_and_a_closure_is_told() {
    let a = snap(BUSINESS_CALL, PUBS, EVIDENCE_NONE, JAN);
    let b = snap(BUSINESS_SESSION, PUBS, EVIDENCE_NONE, JAN);
    let ev = events(&a, &b);
    assert_eq!(kinds(&ev), ["committee.evidence_session"]);
    assert_eq!(
        ev[0].summary,
        "Oral evidence session 24 February 2027 09:30: Children's social care and modern slavery"
    );
    assert_eq!(
        ev[0].annotations,
        ["Witnesses: Eleanor Lyons (Commissioner, Independent Anti-Slavery Commissioner); Anti-Slavery International"]
    );
    let c = snap(BUSINESS_CLOSED, PUBS, EVIDENCE_NONE, "2027-07-01T09:00:00Z");
    let ev = events(&b, &c);
    assert_eq!(kinds(&ev), ["committee.inquiry_closed"]);
    assert_eq!(
        ev[0].summary,
        "Inquiry closed: Children's social care and modern slavery (30 June 2027)"
    );
}

#[test]
fn a_new_report_carries_its_document_links() {
    let a = snap(BUSINESS_CLOSED, PUBS, EVIDENCE_NONE, JAN);
    let b = snap(BUSINESS_CLOSED, PUBS_REPORT, EVIDENCE_NONE, JAN);
    let ev = events(&a, &b);
    assert_eq!(kinds(&ev), ["committee.publication"]);
    assert_eq!(
        ev[0].summary,
        "Report published 30 June 2027: Second Report - Children's social care and modern slavery (HC 612)"
    );
    assert_eq!(
        ev[0].url.as_deref(),
        Some("https://committees.parliament.uk/publications/46100/documents/229001/default/")
    );
    assert_eq!(
        ev[0].annotations,
        ["Document: HC 612 - Children's social care and modern slavery.pdf https://committees.parliament.uk/publications/46100/documents/229001/default/"]
    );
    assert_eq!(ev[0].severity, Severity::Major);
}

#[test]
fn our_own_written_evidence_going_live_has_its_own_event() {
    let a = snap(BUSINESS_CALL, PUBS, EVIDENCE_NONE, JAN);
    let b = snap(BUSINESS_CALL, PUBS, EVIDENCE_OURS, JAN);
    let ev = events(&a, &b);
    assert_eq!(kinds(&ev), ["committee.own_evidence_published"]);
    assert_eq!(
        ev[0].summary,
        "Written evidence from Anti-Slavery International published: Children's social care and modern slavery"
    );
    // Someone else's evidence is not ours.
    let mut q = query();
    q.organisations = vec!["Unseen".into()];
    let e: api::Collection<api::WrittenEvidence> = serde_json::from_str(EVIDENCE_OURS).unwrap();
    let base = Url::parse("http://committees.test/").unwrap();
    assert!(own_evidence(&base, &e.items[0], &q.organisations).is_none());
}

#[test]
fn hostile_shapes_read_leniently_or_fail_clearly() {
    // Nulls everywhere a list is expected.
    let b: api::Collection<api::Business> = serde_json::from_str(
        r#"{"items": [{"id": 1, "title": null, "openSubmissionPeriods": null, "closedSubmissionPeriods": null, "type": null}]}"#,
    )
    .unwrap();
    assert_eq!(b.items.len(), 1);
    let e = serde_json::from_str::<api::Collection<api::Business>>(r#"{"items": "nope"}"#);
    assert!(e.is_err());
}
