//! Decoding, normalising and comparing real Written Questions API rows
//! (tests/fixtures/questions-statements; provenance in its PROVENANCE.md). Each edit made to
//! a real row is named where it is made.

use super::*;
use crate::source::parliament::decode;
use url::Url;

fn read(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/questions-statements/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const ANSWERED: &str = "GET_writtenquestions_questions__tabled_2024-01-05_20_answered.json";
const UNANSWERED: &str =
    "GET_writtenquestions_questions__results_only_111_unanswered_as_of_2024-11-02.json";

fn rows(name: &str) -> Vec<Row> {
    decode::<api::List>(&read(name), name, API)
        .unwrap()
        .page()
        .items
}

fn row(name: &str, id: u32) -> Row {
    rows(name).into_iter().find(|r| r.id == Some(id)).unwrap()
}

fn stored(r: &Row) -> Question {
    from_row(
        r,
        "Sir Keir Starmer (Labour, Holborn and St Pancras)".into(),
        r.answering_member_id.map(|id| format!("Minister {id}")),
        r.correcting_member_id.map(|id| format!("Minister {id}")),
    )
}

fn doc(questions: Vec<Question>) -> Document {
    let mut l = Listing::default();
    for q in questions {
        l.upsert(q);
    }
    l.settle();
    Document {
        title: "t".into(),
        url: "u".into(),
        text: String::new(),
        fields: serde_json::to_value(&l).unwrap(),
    }
}

fn kinds(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

#[test]
fn both_real_list_shapes_decode() {
    let answered = decode::<api::List>(&read(ANSWERED), "u", API)
        .unwrap()
        .page();
    assert_eq!((answered.items.len(), answered.total), (20, Some(20)));
    let bare = decode::<api::List>(&read(UNANSWERED), "u", API)
        .unwrap()
        .page();
    assert_eq!((bare.items.len(), bare.total), (111, None));
    let home_office = bare
        .items
        .iter()
        .filter(|r| r.answering_body_name.as_deref() == Some("Home Office"))
        .count();
    assert_eq!(home_office, 10);
}

#[test]
fn status_reads_holding_and_corrected_answers_from_the_dates() {
    // 1679801 had a holding answer, then a substantive one (`answerIsHolding` is false).
    let q = stored(&row(ANSWERED, 1679801));
    assert_eq!(q.status, Status::Answered);
    assert_eq!(q.holding_date.as_deref(), Some("2024-01-11"));
    // 1679326 (Home Office) was corrected; its `dateAnswered` stays the original.
    let q = stored(&row(ANSWERED, 1679326));
    assert_eq!(q.answered_date.as_deref(), Some("2024-01-15"));
    assert_eq!(q.corrected_date.as_deref(), Some("2024-01-29"));
    assert_eq!(q.answering_body, "Home Office");
    assert_eq!(
        q.url,
        "https://questions-statements.parliament.uk/written-questions/detail/2024-01-05/7872"
    );
    let open = stored(&row(UNANSWERED, 1738745));
    assert_eq!(open.status, Status::Unanswered);
    assert!(open.answer.is_none() && open.answered_by.is_none());
}

/// 1738745 (Home Office, unanswered), with the question text edited to mention modern
/// slavery, then given answers step by step.
fn modern_slavery_question() -> Row {
    let mut r = row(UNANSWERED, 1738745);
    r.question_text = Some(
        "To ask the Secretary of State for the Home Department, how many referrals to the \
         National Referral Mechanism for suspected victims of modern slavery were made in 2024."
            .into(),
    );
    r
}

#[test]
fn a_question_moves_from_tabled_to_holding_to_answered_to_corrected() {
    let baseline = doc(vec![]);
    let tabled_row = modern_slavery_question();
    let v1 = doc(vec![stored(&tabled_row)]);
    let e = compare(&baseline, &v1).unwrap();
    assert_eq!(kinds(&e), ["question.tabled"]);
    assert_eq!(
        e[0].summary,
        "Sir Keir Starmer (Labour, Holborn and St Pancras) asked the Home Office (Commons, UIN 12348, answer due 11 November 2024)"
    );
    assert_eq!(e[0].fields["uin"], "12348");
    assert_eq!(e[0].fields["asking_member_id"], 5122);

    // Edit: a holding answer on 5 November.
    let mut holding_row = tabled_row.clone();
    holding_row.answer_is_holding = Some(true);
    holding_row.date_holding_answer = Some("2024-11-05T00:00:00".into());
    holding_row.date_answered = Some("2024-11-05T00:00:00".into());
    holding_row.answering_member_id = Some(4503);
    holding_row.answer_text = Some("<p>I will reply as soon as possible.</p>".into());
    let v2 = doc(vec![stored(&holding_row)]);
    let e = compare(&v1, &v2).unwrap();
    assert_eq!(kinds(&e), ["question.holding_answer"]);
    assert!(
        e[0].summary.starts_with(
            "Holding answer from Minister 4503 for the Home Office on 5 November 2024"
        ),
        "{}",
        e[0].summary
    );

    // Edit: the substantive answer on 12 November, two paragraphs.
    let mut answered_row = holding_row.clone();
    answered_row.answer_is_holding = Some(false);
    answered_row.date_answered = Some("2024-11-12T00:00:00".into());
    answered_row.answer_text = Some(
        "<p>There were 17,004 referrals in 2023.</p><p>Figures for 2024 will follow.</p>".into(),
    );
    let v3 = doc(vec![stored(&answered_row)]);
    let e = compare(&v2, &v3).unwrap();
    assert_eq!(kinds(&e), ["question.answered"]);
    assert!(e[0]
        .annotations
        .contains(&"Answer: There were 17,004 referrals in 2023.".to_string()));
    assert_eq!(
        e[0].diff.as_deref(),
        Some("+There were 17,004 referrals in 2023.\n+Figures for 2024 will follow.\n")
    );

    // Edit: corrected on 20 November.
    let mut corrected_row = answered_row.clone();
    corrected_row.date_answer_corrected = Some("2024-11-20T00:00:00".into());
    corrected_row.correcting_member_id = Some(4503);
    corrected_row.answer_text = Some(
        "<p>There were 17,000 referrals in 2023.</p><p>Figures for 2024 will follow.</p>".into(),
    );
    let v4 = doc(vec![stored(&corrected_row)]);
    let e = compare(&v3, &v4).unwrap();
    assert_eq!(kinds(&e), ["question.corrected"]);
    let d = e[0].diff.as_deref().unwrap();
    assert!(
        d.contains("-There were 17,004 referrals in 2023.")
            && d.contains("+There were 17,000 referrals in 2023."),
        "{d}"
    );
    // Nothing moved: nothing raised.
    assert!(compare(&v4, &v4.clone()).unwrap().is_empty());
}

#[test]
fn filters_drop_other_departments_and_fuzzy_matches() {
    let query = Query {
        phrases: vec!["modern slavery".into()],
        answering_body: Some(AnsweringBody::Name("Home Office".into())),
        ..Query::default()
    };
    let mut st = State::default();
    let ho = modern_slavery_question();
    assert!(wanted(&query, &mut st, &ho) && candidate_matches(&query, &ho));
    assert_eq!(st.body_id, Some(1), "the Home Office's id is learnt");
    // Edit: the same text, answered by the Cabinet Office.
    let mut other = ho.clone();
    other.answering_body_id = Some(53);
    other.answering_body_name = Some("Cabinet Office".into());
    assert!(!wanted(&query, &mut st, &other));
    // A real Home Office question the API might find for "modern slavery" but that does
    // not contain the phrase.
    let fuzzy = row(UNANSWERED, 1738742);
    assert!(wanted(&query, &mut st, &fuzzy) && !candidate_matches(&query, &fuzzy));
}

#[test]
fn urls_carry_the_filters_and_the_window() {
    let base = Url::parse("https://questions-statements-api.parliament.uk/").unwrap();
    let f = Filters {
        search_term: Some("modern slavery"),
        answering_body: Some(1),
        house: Some(House::Commons),
        uin: None,
    };
    let d = NaiveDate::from_ymd_opt(2024, 11, 1).unwrap();
    assert_eq!(
        api::list_url(&base, &f, Some(Since::Tabled(d)), 100).unwrap().as_str(),
        "https://questions-statements-api.parliament.uk/api/writtenquestions/questions?searchTerm=modern+slavery&answeringBodies=1&house=Commons&tabledWhenFrom=2024-11-01&expandMember=true&skip=100&take=100"
    );
    assert_eq!(
        api::detail_url(&base, 7).unwrap().as_str(),
        "https://questions-statements-api.parliament.uk/api/writtenquestions/questions/7?expandMember=true"
    );
}

#[test]
fn the_document_keeps_open_questions_first_when_over_the_bound() {
    let mut l = Listing::default();
    for id in 0..(MAX_TRACKED as u32 + 10) {
        l.upsert(Question {
            id,
            status: if id < 5 {
                Status::Unanswered
            } else {
                Status::Answered
            },
            ..Question::default()
        });
    }
    l.settle();
    assert_eq!(l.items.len(), MAX_TRACKED);
    assert!(l.items.iter().any(|q| q.id == 0), "open questions stay");
    assert_eq!(l.known.len(), MAX_TRACKED + 10);
}

#[test]
fn a_document_stored_before_the_shared_listing_still_reads_and_writes_the_same() {
    // `fields` as the kind's own `Listing` struct wrote them.
    let old = serde_json::json!({
        "questions": [{"id": 9, "uin": "8024", "status": "holding", "holding_date": "2024-12-02"}],
        "known": [3, 9],
        "note": "an unknown field is ignored"
    });
    let doc = Document {
        title: "t".into(),
        url: "u".into(),
        text: String::new(),
        fields: old,
    };
    let l = Listing::from_document(&doc).unwrap();
    assert_eq!(l.get(9).unwrap().uin, "8024");
    assert_eq!(l.get(9).unwrap().status, Status::Holding);
    assert!(l.knows(3) && l.get(3).is_none());
    let again = serde_json::to_value(&l).unwrap();
    assert_eq!(again["questions"][0]["holding_date"], "2024-12-02");
    assert_eq!(again["known"], serde_json::json!([3, 9]));
    assert_eq!(again.as_object().unwrap().len(), 2);
    // A first version without `known` reads as knowing nothing.
    let doc = Document {
        fields: serde_json::json!({"questions": []}),
        ..doc
    };
    assert_eq!(Listing::from_document(&doc).unwrap(), Listing::default());
}
