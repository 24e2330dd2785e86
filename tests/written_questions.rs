//! `written_questions` end to end: `policywatch check --format json` against a local fake of
//! the Written Questions API and the Members API (tests/common/parliament.rs) serving the
//! real rows of tests/fixtures/questions-statements and tests/fixtures/members (provenance in
//! their PROVENANCE.md), and copies edited in code. Every edit is named where it is made.

mod common;
#[path = "common/parliament.rs"]
mod parliament;

use common::{fixture, Project};
use parliament::{item, Failure, FakeParliament};
use serde_json::{json, Value};

const UNANSWERED: &str = "questions-statements/GET_writtenquestions_questions__results_only_111_unanswered_as_of_2024-11-02.json";
const MEMBERS: &str = "members/GET_Members_Search__3_items_assembled_upstream.json";

/// The 111 real rows (their `value`s) tabled on 2024-11-01: none about modern slavery, 10
/// to the Home Office.
fn real_rows() -> Vec<Value> {
    let items: Vec<Value> = serde_json::from_slice(&fixture(UNANSWERED)).unwrap();
    items.into_iter().map(|i| i["value"].clone()).collect()
}

fn row(id: u64) -> Value {
    real_rows().into_iter().find(|r| r["id"] == id).unwrap()
}

/// Edit: real Home Office question 1738745 (UIN 12348), its text changed to ask about modern
/// slavery and its asker changed to Keir Starmer (4514, in the members fixture).
fn modern_slavery_question() -> Value {
    let mut q = row(1738745);
    q["questionText"] = json!("To ask the Secretary of State for the Home Department, how many referrals to the National Referral Mechanism for suspected victims of modern slavery were made in 2024.");
    q["askingMemberId"] = json!(4514);
    q
}

/// Edit: real Cabinet Office question 1738759, its text changed to mention modern slavery.
fn cabinet_office_question() -> Value {
    let mut q = row(1738759);
    q["questionText"] = json!("To ask the Minister for the Cabinet Office, what modern slavery checks are made on government suppliers.");
    q
}

/// Edit: real Home Office question 1738742, its text changed to contain both words but not
/// the phrase (the API's search would find it).
fn fuzzy_question() -> Value {
    let mut q = row(1738742);
    q["questionText"] = json!("To ask the Secretary of State for the Home Department, what modern methods are used to detect slavery at ports.");
    q
}

/// Edit: a holding answer given on 2024-11-11 by Jess Phillips (expanded, as the API does
/// with `expandMember=true`).
fn with_holding_answer(mut q: Value) -> Value {
    q["answerIsHolding"] = json!(true);
    q["dateHoldingAnswer"] = json!("2024-11-11T00:00:00");
    q["dateAnswered"] = json!("2024-11-11T00:00:00");
    q["answeringMemberId"] = json!(4503);
    q["answeringMember"] = json!({"id": 4503, "name": "Jess Phillips", "party": "Labour", "memberFrom": "Birmingham Yardley"});
    q["answerText"] = json!("<p>I will reply to the hon. Member as soon as possible.</p>");
    q
}

/// Edit: the substantive answer on 2024-11-18, two paragraphs and an attachment.
fn with_answer(mut q: Value) -> Value {
    q["answerIsHolding"] = json!(false);
    q["dateAnswered"] = json!("2024-11-18T00:00:00");
    q["answerText"] = json!("<p>In 2023 there were 17,004 referrals to the National Referral Mechanism.</p><p>Statistics for 2024 will be published in March.</p>");
    q["attachmentCount"] = json!(1);
    q["attachments"] = json!([{"url": "https://questions-statements.parliament.uk/api/Attachment/1", "title": "NRM statistics 2023", "fileType": "XLSX", "fileSizeBytes": 20480}]);
    q
}

/// Edit: the answer corrected on 2024-11-25 (the number), as the API shows a correction.
fn with_correction(mut q: Value) -> Value {
    q["answerIsCorrection"] = json!(true);
    q["dateAnswerCorrected"] = json!("2024-11-25T00:00:00");
    q["correctingMemberId"] = json!(4503);
    q["correctingMember"] = q["answeringMember"].clone();
    q["answerText"] = json!("<p>In 2023 there were 17,000 referrals to the National Referral Mechanism.</p><p>Statistics for 2024 will be published in March.</p>");
    q
}

fn serve(fake: &FakeParliament, rows: Vec<Value>) {
    fake.with(|f| f.questions = rows.into_iter().map(|r| item(r, "Questions")).collect());
}

async fn fake() -> FakeParliament {
    let fake = FakeParliament::start().await;
    let members: Value = serde_json::from_slice(&fixture(MEMBERS)).unwrap();
    fake.with(|f| f.members = members["items"].as_array().unwrap().clone());
    fake
}

fn project(fake: &FakeParliament, watches: &str) -> Project {
    let p = Project::new();
    p.config(&fake.sources());
    p.watchlist(
        "asks.toml",
        &format!("name = \"asks\"\nkeywords = [\"National Referral Mechanism\"]\n{watches}"),
    );
    p
}

const HOME_OFFICE: &str = "[[watch]]\nid = \"ho-questions\"\nkind = \"written_questions\"\nsearch = \"modern slavery\"\nanswering_body = \"Home Office\"\nhouse = \"commons\"\ntabled_since = \"2024-11-01\"\n";

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
async fn a_question_is_reported_when_tabled_held_answered_and_corrected_and_nothing_else() {
    let fake = fake().await;
    let p = project(&fake, HOME_OFFICE);
    serve(&fake, real_rows());
    assert!(p.check_json().is_empty(), "the first check is a baseline");
    let first = fake.take_log();
    assert!(
        first[0].starts_with("/api/writtenquestions/questions?searchTerm=modern+slavery&house=Commons&tabledWhenFrom=2024-11-01&expandMember=true&skip=0&take=100"),
        "{first:?}"
    );

    // A new Home Office question on modern slavery, one to another department, and one
    // the API's search finds that does not contain the phrase.
    let mut rows = real_rows();
    rows.retain(|r| ![1738745, 1738759, 1738742].contains(&r["id"].as_u64().unwrap()));
    let mut served = rows.clone();
    served.extend([
        modern_slavery_question(),
        cabinet_office_question(),
        fuzzy_question(),
    ]);
    serve(&fake, served.clone());
    let alerts = p.check_json();
    assert_eq!(events(&alerts), ["question.tabled"], "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a["watch"], "ho-questions");
    assert_eq!(a["title"], "Written question 12348 to the Home Office");
    assert_eq!(
        a["summary"],
        "Sir Keir Starmer (Labour, Holborn and St Pancras) asked the Home Office (Commons, UIN 12348, answer due 11 November 2024)"
    );
    assert_eq!(
        a["url"],
        "https://questions-statements.parliament.uk/written-questions/detail/2024-11-01/12348"
    );
    let annotations = strings(&a["annotations"]);
    assert!(
        annotations[0].starts_with(
            "Question: To ask the Secretary of State for the Home Department, how many referrals"
        ),
        "{annotations:?}"
    );
    assert_eq!(a["keywords"], json!(["National Referral Mechanism"]));
    assert_eq!(a["fields"]["id"], 1738745);
    assert_eq!(a["fields"]["uin"], "12348");
    assert_eq!(a["fields"]["asking_member_id"], 4514);
    fake.take_log();

    let set = |q: Value| {
        let mut s = rows.clone();
        s.extend([q, cabinet_office_question(), fuzzy_question()]);
        s
    };
    serve(&fake, set(with_holding_answer(modern_slavery_question())));
    let alerts = p.check_json();
    let log = fake.take_log();
    assert!(
        log.iter().any(|l| l.starts_with(
            "/api/writtenquestions/questions?answeringBodies=1&house=Commons&correctedWhenFrom="
        )),
        "corrections are asked for once a question is followed: {log:?}"
    );
    assert!(
        log.iter().any(|l| l.starts_with(
            "/api/writtenquestions/questions?searchTerm=modern+slavery&answeringBodies=1&house=Commons&tabledWhenFrom="
        )),
        "the Home Office's id, learnt from its first result, is sent: {log:?}"
    );
    assert_eq!(events(&alerts), ["question.holding_answer"], "{alerts:#?}");
    assert_eq!(
        alerts[0]["summary"],
        "Holding answer from Jess Phillips (Labour, Birmingham Yardley) for the Home Office on 11 November 2024 to Sir Keir Starmer (Labour, Holborn and St Pancras)'s question (Commons, UIN 12348)"
    );

    serve(
        &fake,
        set(with_answer(with_holding_answer(modern_slavery_question()))),
    );
    let alerts = p.check_json();
    assert_eq!(events(&alerts), ["question.answered"], "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(
        a["summary"],
        "Jess Phillips (Labour, Birmingham Yardley) answered Sir Keir Starmer (Labour, Holborn and St Pancras)'s question for the Home Office on 18 November 2024 (Commons, UIN 12348)"
    );
    let annotations = strings(&a["annotations"]);
    assert!(
        annotations.contains(
            &"Answer: In 2023 there were 17,004 referrals to the National Referral Mechanism."
        ),
        "{annotations:?}"
    );
    assert!(annotations.contains(&"Attachments: NRM statistics 2023 (https://questions-statements.parliament.uk/api/Attachment/1)"), "{annotations:?}");
    assert_eq!(a["severity"], "major");
    let show = p.stdout(&["show", &a["id"].to_string()]);
    assert!(
        show.contains("Statistics for 2024 will be published in March."),
        "the whole answer is in `show`: {show}"
    );

    serve(
        &fake,
        set(with_correction(with_answer(with_holding_answer(
            modern_slavery_question(),
        )))),
    );
    let alerts = p.check_json();
    assert_eq!(events(&alerts), ["question.corrected"], "{alerts:#?}");
    let diff = alerts[0]["diff"].as_str().unwrap();
    assert!(
        diff.contains("-In 2023 there were 17,004 referrals")
            && diff.contains("+In 2023 there were 17,000 referrals"),
        "{diff}"
    );
    fake.take_log();

    // Unchanged: nothing raised, at most two requests (tabled since, corrected since).
    assert!(p.check_json().is_empty());
    let log = fake.take_log();
    assert!(
        log.len() <= 2,
        "an unchanged cycle made {} requests: {log:?}",
        log.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn members_are_looked_up_once_and_cached_across_cycles() {
    let fake = fake().await;
    let p = project(&fake, HOME_OFFICE);
    serve(&fake, vec![]);
    assert!(p.check_json().is_empty());
    serve(&fake, vec![modern_slavery_question()]);
    assert_eq!(events(&p.check_json()), ["question.tabled"]);
    // Edit: a second modern slavery question from the same member (id and uin changed).
    let mut second = modern_slavery_question();
    second["id"] = json!(1738999);
    second["uin"] = json!("12999");
    serve(&fake, vec![modern_slavery_question(), second]);
    let alerts = p.check_json();
    assert_eq!(events(&alerts), ["question.tabled"]);
    assert!(alerts[0]["summary"]
        .as_str()
        .unwrap()
        .starts_with("Sir Keir Starmer (Labour, Holborn and St Pancras) asked"));
    let lookups = fake.with(|f| {
        f.log
            .iter()
            .filter(|l| l.starts_with("/api/Members/4514"))
            .count()
    });
    assert_eq!(lookups, 1, "one lookup for two questions over two cycles");
}

/// Edit: 333 questions (the 111 real ones, then twice the same with ids and uins offset),
/// so a search most of them match takes three pages of 100.
fn three_pages() -> Vec<Value> {
    let mut rows = real_rows();
    for copy in 1..=2u64 {
        for mut v in real_rows() {
            v["id"] = json!(v["id"].as_u64().unwrap() + copy * 1_000_000);
            v["uin"] = json!(format!("{copy}{}", v["uin"].as_str().unwrap()));
            rows.push(v);
        }
    }
    rows
}

#[tokio::test(flavor = "multi_thread")]
async fn three_pages_are_all_seen_and_a_failure_on_page_two_loses_and_doubles_nothing() {
    let fake = fake().await;
    let p = project(
        &fake,
        "[[watch]]\nid = \"all-commons\"\nkind = \"written_questions\"\nhouse = \"commons\"\nsearch = \"Secretary of State\"\n",
    );
    serve(&fake, vec![]);
    assert!(p.check_json().is_empty(), "baseline");
    serve(&fake, three_pages());
    fake.with(|f| {
        f.failures.push(Failure {
            path: "/api/writtenquestions/questions".into(),
            skip: Some(100),
            status: 500,
            body: b"{\"title\":\"Internal Server Error\"}".to_vec(),
        });
    });
    let out = p
        .cmd()
        .args(["check", "--format", "json"])
        .output()
        .unwrap();
    // The project's only watch failed, so every watch did: exit 3 (issue 15).
    assert_eq!(out.status.code(), Some(3), "every watch failed");
    assert!(
        common::json_lines(&out.stdout).is_empty(),
        "nothing partial is reported"
    );
    let status = p.stdout(&["status", "--format", "json"]);
    let row = common::status_watches(&status)
        .into_iter()
        .find(|r| r["watch"] == "all-commons")
        .unwrap();
    assert!(
        row["last_error"].as_str().unwrap().contains("HTTP 500"),
        "{row}"
    );
    assert!(
        row["last_error"].as_str().unwrap().contains("skip=100"),
        "the error names the page: {row}"
    );

    fake.with(|f| f.failures.clear());
    let alerts = p.check_json();
    let expected = three_pages()
        .iter()
        .filter(|r| {
            r["questionText"]
                .as_str()
                .unwrap()
                .contains("Secretary of State")
        })
        .count();
    assert!(expected > 200, "three pages: {expected}");
    assert_eq!(alerts.len(), expected, "{:#?}", events(&alerts));
    assert!(alerts.iter().all(|a| a["event"] == "question.tabled"));
    let mut ids: Vec<u64> = alerts
        .iter()
        .map(|a| a["fields"]["id"].as_u64().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), expected, "no duplicates");
    assert!(
        ids.iter().any(|&id| id > 1_000_000),
        "rows from page 3 are seen"
    );
    let log = fake.take_log();
    assert!(log.iter().any(|l| l.contains("skip=200")), "{log:?}");
    assert!(p.check_json().is_empty(), "the next cycle repeats nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_responses_fail_only_their_watch_with_a_clear_error() {
    let fake = fake().await;
    let p = project(
        &fake,
        &format!("{HOME_OFFICE}\n[[watch]]\nid = \"statements\"\nkind = \"written_statements\"\nsearch = \"modern slavery\"\n"),
    );
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "malformed",
            b"<html><body>Service unavailable</body></html>".to_vec(),
            "the response is not valid JSON",
        ),
        (
            "truncated",
            b"{\"totalResults\": 3, \"results\": [{\"value\": {\"id\": 1".to_vec(),
            "the response is cut short",
        ),
        (
            "wrong shape",
            b"{\"totalResults\": 3, \"results\": {\"value\": 1}}".to_vec(),
            "the response is not in the shape expected",
        ),
    ];
    for (what, body, expect) in cases {
        fake.with(|f| {
            f.failures = vec![Failure {
                path: "/api/writtenquestions/questions".into(),
                skip: None,
                status: 200,
                body,
            }]
        });
        let out = p
            .cmd()
            .args(["check", "--format", "json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{what}");
        let status = p.stdout(&["status", "--format", "json"]);
        let rows = common::status_watches(&status);
        let row = |id: &str| rows.iter().find(|r| r["watch"] == id).unwrap().clone();
        let err = row("ho-questions")["last_error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            err.contains(expect) && err.contains("Written Questions API"),
            "{what}: {err}"
        );
        assert!(
            err.contains("/api/writtenquestions/questions?"),
            "{what}: the error names the URL: {err}"
        );
        assert!(
            row("statements")["last_error"].is_null(),
            "{what}: the other watch completes"
        );
    }
    // Oversized: larger than the fetch cap.
    p.config(&format!("{}[fetch]\nallow_private = true\nper_host_interval_secs = 0.0\nretry_base_secs = 0.01\nretry_max_secs = 0.05\ntimeout_secs = 5.0\nmax_body_bytes = 65536\n", fake.sources()));
    fake.with(|f| {
        f.failures = vec![Failure {
            path: "/api/writtenquestions/questions".into(),
            skip: None,
            status: 200,
            body: serde_json::to_vec(&json!({"totalResults": 1, "results": [item(json!({"id": 1, "questionText": "x".repeat(100_000)}), "Questions")]})).unwrap(),
        }]
    });
    let out = p
        .cmd()
        .args(["check", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let status = p.stdout(&["status"]);
    assert!(status.contains("limit"), "{status}");
}

#[test]
fn watchlist_mistakes_in_the_parliament_kinds_are_reported_with_their_place() {
    let p = Project::new();
    p.watchlist(
        "asks.toml",
        "name = \"asks\"\n\n[[watch]]\nid = \"q\"\nkind = \"written_questions\"\nhouse = \"commons\"\n\n[[watch]]\nid = \"q2\"\nkind = \"written_questions\"\nsearch = \"modern slavery\"\ntabled_since = \"last week\"\n\n[[watch]]\nid = \"h\"\nkind = \"hansard\"\nsearch = \"modern slavery\"\ncontributions = [\"spoken\", \"video\"]\nhouse = \"upper\"\n",
    );
    let out = p.cmd().arg("validate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    for expected in [
        "watchlists/asks.toml:3:1: a written_questions watch needs `search` (phrases), `answering_body` or `question` (an id or UIN to follow)",
        "watchlists/asks.toml:12:16: `tabled_since` must be a date like 2025-01-31, not `last week`",
        "watchlists/asks.toml:18:17: unknown contribution type `video`; valid types: spoken, written",
        "watchlists/asks.toml:19:9: unknown house `upper`; valid houses: commons, lords, both",
    ] {
        assert!(stderr.contains(expected), "expected {expected}\nin:\n{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_question_is_followed_by_id() {
    let fake = fake().await;
    let p = project(
        &fake,
        "[[watch]]\nid = \"one\"\nkind = \"written_questions\"\nquestion = 1738745\n",
    );
    serve(&fake, vec![modern_slavery_question()]);
    assert!(p.check_json().is_empty(), "baseline");
    fake.take_log();
    assert!(p.check_json().is_empty(), "unchanged");
    assert_eq!(
        fake.take_log(),
        ["/api/writtenquestions/questions/1738745?expandMember=true"],
        "one request a cycle"
    );
    serve(
        &fake,
        vec![with_answer(with_holding_answer(modern_slavery_question()))],
    );
    let alerts = p.check_json();
    assert_eq!(events(&alerts), ["question.answered"], "{alerts:#?}");
    assert_eq!(
        alerts[0]["title"],
        "Written question 12348 to the Home Office"
    );
}
