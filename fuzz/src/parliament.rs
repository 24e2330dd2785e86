//! Harnesses for the Parliament search kinds' parsers (`written_questions`,
//! `written_statements`, `hansard`): two versions of a search page (before, separator,
//! after), each decoded and normalised as a cycle would (members named from the expanded
//! responses, no lookups), then compared. A listing compared with itself raises nothing;
//! normalising a page twice gives the same listing; events only ever have the kinds'
//! documented names.

use policywatch::source::parliament::{decode, ExpandedMember};
use policywatch::source::{hansard, written_questions as wq, written_statements as ws};

use crate::parts;

fn check_events(kind: &str, events: &[policywatch::event::Event], allowed: &[&str]) {
    for e in events {
        assert!(
            allowed.contains(&e.kind.as_str()),
            "{kind}: undocumented event {}",
            e.kind
        );
    }
}

fn questions_listing(bytes: &[u8], previous: &wq::Listing) -> Option<wq::Listing> {
    let list: wq::api::List = decode(bytes, "fuzz", wq::api::API).ok()?;
    let mut next = previous.clone();
    for r in list.page().items.iter().filter(|r| r.id.is_some()) {
        let name = |m: &Option<ExpandedMember>| m.as_ref().and_then(ExpandedMember::named);
        next.upsert(wq::from_row(
            r,
            name(&r.asking_member).unwrap_or_else(|| "a member".into()),
            name(&r.answering_member),
            name(&r.correcting_member),
        ));
    }
    next.settle();
    Some(next)
}

/// Two Written Questions API pages.
pub fn questions_json(data: &[u8]) {
    let p = parts(data, 2);
    let empty = wq::Listing::default();
    let Some(a) = questions_listing(p[0], &empty) else {
        return;
    };
    assert_eq!(questions_listing(p[0], &empty).as_ref(), Some(&a), "deterministic");
    let b = questions_listing(p[1], &a).unwrap_or_else(|| a.clone());
    let (da, db) = (
        wq::document("fuzz".into(), &a).unwrap(),
        wq::document("fuzz".into(), &b).unwrap(),
    );
    assert!(wq::compare(&da, &da).unwrap().is_empty(), "a listing differs from itself");
    let allowed = [
        "question.tabled",
        "question.holding_answer",
        "question.answered",
        "question.corrected",
    ];
    check_events("written_questions", &wq::compare(&da, &db).unwrap(), &allowed);
    check_events(
        "written_questions",
        &wq::compare(&wq::document("fuzz".into(), &empty).unwrap(), &da).unwrap(),
        &allowed,
    );
}

fn statements_listing(bytes: &[u8], previous: &ws::Listing) -> Option<ws::Listing> {
    let list: ws::List = decode(bytes, "fuzz", ws::API).ok()?;
    let mut next = previous.clone();
    for r in ws::rows(list).iter().filter(|r| r.id.is_some()) {
        let minister = r
            .member
            .as_ref()
            .and_then(ExpandedMember::named)
            .unwrap_or_else(|| "a minister".into());
        next.upsert(ws::from_row(r, minister));
    }
    next.settle();
    Some(next)
}

/// Two Written Statements API pages.
pub fn statements_json(data: &[u8]) {
    let p = parts(data, 2);
    let empty = ws::Listing::default();
    let Some(a) = statements_listing(p[0], &empty) else {
        return;
    };
    let b = statements_listing(p[1], &a).unwrap_or_else(|| a.clone());
    let (da, db) = (
        ws::document("fuzz".into(), &a).unwrap(),
        ws::document("fuzz".into(), &b).unwrap(),
    );
    assert!(ws::compare(&da, &da).unwrap().is_empty(), "a listing differs from itself");
    check_events(
        "written_statements",
        &ws::compare(&da, &db).unwrap(),
        &["statement.made", "statement.corrected"],
    );
}

/// Two Hansard contribution search pages, for the phrase "modern slavery" and the phrase
/// of the real fixture.
pub fn hansard_json(data: &[u8]) {
    let p = parts(data, 2);
    let query = hansard::Query {
        phrases: vec![
            "modern slavery".into(),
            "artificial superintelligence".into(),
        ],
        house: None,
        contributions: vec![],
    };
    let page = |bytes: &[u8]| -> Option<Vec<hansard::Row>> {
        let r: hansard::SearchResult = decode(bytes, "fuzz", hansard::API).ok()?;
        Some(r.results.unwrap_or_default())
    };
    let empty = hansard::Listing::default();
    let Some(rows_a) = page(p[0]) else {
        return;
    };
    let a = hansard::listing_from(&empty, &query, rows_a.clone());
    assert_eq!(hansard::listing_from(&empty, &query, rows_a.clone()), a, "deterministic");
    assert_eq!(
        hansard::listing_from(&a, &query, rows_a),
        a,
        "the same page twice adds nothing"
    );
    let b = match page(p[1]) {
        Some(rows) => hansard::listing_from(&a, &query, rows),
        None => a.clone(),
    };
    let (da, db) = (
        hansard::document("fuzz".into(), &a).unwrap(),
        hansard::document("fuzz".into(), &b).unwrap(),
    );
    assert!(hansard::compare(&da, &da).unwrap().is_empty(), "a listing differs from itself");
    let events = hansard::compare(&da, &db).unwrap();
    check_events("hansard", &events, &["hansard.mentioned"]);
    for e in &events {
        assert!(!e.annotations.is_empty(), "a mention quotes what was said");
    }
}
