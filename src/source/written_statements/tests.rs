//! The hand-written statements page (tests/fixtures/questions-statements, in the shape of the
//! published specification; provenance in its PROVENANCE.md), with each edit named.

use super::*;
use crate::source::parliament::decode;

fn rows() -> Vec<Row> {
    let path = format!(
        "{}/tests/fixtures/questions-statements/GET_writtenstatements_statements__hand-written_2_items.json",
        env!("CARGO_MANIFEST_DIR")
    );
    page(decode(&std::fs::read(path).unwrap(), "u", API).unwrap()).items
}

fn named(r: &Row) -> Statement {
    let minister = r
        .member
        .as_ref()
        .and_then(ExpandedMember::named)
        .unwrap_or_else(|| format!("member {}", r.member_id.unwrap_or_default()));
    from_row(r, minister)
}

fn doc(statements: Vec<Statement>, prev: Option<&Listing>) -> (Document, Listing) {
    let mut l = prev.cloned().unwrap_or_default();
    for s in statements {
        l.upsert(s);
    }
    l.settle();
    let d = Document {
        title: "t".into(),
        url: "u".into(),
        text: String::new(),
        fields: serde_json::to_value(&l).unwrap(),
    };
    (d, l)
}

#[test]
fn a_statement_made_then_corrected() {
    let rows = rows();
    let (empty, _) = doc(vec![], None);
    let (v1, l1) = doc(vec![named(&rows[0])], None);
    let e = compare(&empty, &v1).unwrap();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].kind, "statement.made");
    assert_eq!(
        e[0].summary,
        "Jess Phillips (Labour, Birmingham Yardley), Parliamentary Under-Secretary of State for Safeguarding and Violence Against Women and Girls made a written statement for the Home Office: Modern Slavery Statutory Guidance (Commons, HCWS250, 28 November 2024)"
    );
    assert_eq!(
        e[0].annotations,
        [
            "Statement: Today I am publishing updated statutory guidance under section 49 of the Modern Slavery Act 2015.",
            "Attachments: Modern Slavery Statutory Guidance v3.12 (https://questions-statements.parliament.uk/api/writtenstatements/attachment/1)"
        ]
    );
    // Edit: the second paragraph's wording changed in place.
    let mut edited = rows[0].clone();
    edited.text = Some(
        edited
            .text
            .unwrap()
            .replace("identified and supported", "identified"),
    );
    let (v2, l2) = doc(vec![named(&edited)], Some(&l1));
    let e = compare(&v1, &v2).unwrap();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].kind, "statement.corrected");
    let d = e[0].diff.as_deref().unwrap();
    assert!(
        d.contains(
            "-The guidance sets out how victims of modern slavery are identified and supported"
        ),
        "{d}"
    );
    // Edit: a new statement (1800003) that says it corrects 1800001.
    let mut correction = rows[0].clone();
    correction.id = Some(1800003);
    correction.uin = Some("HCWS260".into());
    correction.title = Some("Correction: Modern Slavery Statutory Guidance".into());
    correction.linked_statements = Some(vec![Linked {
        linked_statement_id: Some(1800001),
        link_type: Some("CorrectedStatement".into()),
    }]);
    let (v3, _) = doc(vec![named(&correction)], Some(&l2));
    let e = compare(&v2, &v3).unwrap();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].kind, "statement.corrected");
    assert_eq!(e[0].fields["corrects"], 1800001);
}

#[test]
fn other_departments_and_fuzzy_matches_are_dropped() {
    let rows = rows();
    let q = Query {
        phrases: vec!["modern slavery".into()],
        department: Some(AnsweringBody::Name("home office".into())),
        house: None,
    };
    let mut st = State::default();
    assert!(wanted(&q, &mut st, &rows[0]) && matches(&q, &rows[0]));
    assert_eq!(st.body_id, Some(1));
    assert!(!wanted(&q, &mut st, &rows[1]));
    let q = Query {
        phrases: vec!["slavery act 2016".into()],
        ..Query::default()
    };
    assert!(!matches(&q, &rows[0]));
}

#[test]
fn list_rows_cut_short_are_not_taken_for_a_change() {
    let rows = rows();
    let stored = named(&rows[0]);
    let mut cut = rows[0].clone();
    cut.text = Some("<p>Today I am publishing updated statutory guidance under...".into());
    assert!(!row_moved(&stored, &cut));
    cut.title = Some("Another title".into());
    assert!(row_moved(&stored, &cut));
}

#[test]
fn a_document_stored_before_the_shared_listing_still_reads() {
    let doc = Document {
        title: "t".into(),
        url: "u".into(),
        text: String::new(),
        fields: serde_json::json!({
            "statements": [{"id": 1800001, "uin": "HCWS250", "title": "Modern Slavery"}],
            "known": [1800001]
        }),
    };
    let l = Listing::from_document(&doc).unwrap();
    assert_eq!(l.get(1800001).unwrap().uin, "HCWS250");
    assert!(l.knows(1800001));
    assert_eq!(
        serde_json::to_value(&l).unwrap()["statements"][0]["title"],
        "Modern Slavery"
    );
}
