//! `committee` watches end to end: `policywatch check --format json` against a local
//! Committees API serving the real publications and edited copies
//! (tests/fixtures/committees/PROVENANCE.md), and real public-domain PDFs behind a new report
//! (tests/fixtures/documents/PROVENANCE.md). The deadline reminder, raised by time passing,
//! runs the same engine in-process with a clock the test moves.

#[path = "common/clocked.rs"]
mod clocked;
mod common;

use clocked::{at, Clocked};
use common::{fixture, Project};
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BUSINESS: &str = "GET_CommitteeBusiness__CommitteeId_203__assembled.json";
const BUSINESS_CALL: &str =
    "GET_CommitteeBusiness__CommitteeId_203__edited_new_inquiry_call_for_evidence.json";
const BUSINESS_SESSION: &str =
    "GET_CommitteeBusiness__CommitteeId_203__edited_evidence_session.json";
const BUSINESS_CLOSED: &str = "GET_CommitteeBusiness__CommitteeId_203__edited_inquiry_closed.json";
const PUBS: &str = "GET_Publications__CommitteeId_203_5_items.json";
const PUBS_REPORT: &str = "GET_Publications__CommitteeId_203__edited_new_report.json";
const PUBS_REVISED: &str =
    "GET_Publications__CommitteeId_203__edited_new_report_revised_document.json";
const EVIDENCE: &str = "GET_WrittenEvidence__CommitteeId_203__empty.json";
const EVIDENCE_OURS: &str = "GET_WrittenEvidence__CommitteeId_203__edited_own_submission.json";
const PDF_2006: &str = "documents/state-dept-guidance-bulletin-25-macau-2006.pdf";
const PDF_2017: &str = "documents/state-dept-guidance-bulletin-33-macau-2017.pdf";
const REPORT_PDF_PATH: &str = "/api/Publications/46100/Document/229001/OriginalFormat";

/// What the fake Committees API serves right now.
struct Serving<'a> {
    business: &'a str,
    publications: &'a str,
    evidence: &'a str,
    /// The new report's document: a fixture path, or a response made by the test.
    report_pdf: Option<ResponseTemplate>,
}

async fn serve(server: &MockServer, s: Serving<'_>) {
    server.reset().await;
    let json = |name: &str| {
        ResponseTemplate::new(200)
            .set_body_raw(fixture(&format!("committees/{name}")), "application/json")
    };
    for (p, name) in [
        ("/api/CommitteeBusiness", s.business),
        ("/api/Publications", s.publications),
        ("/api/WrittenEvidence", s.evidence),
    ] {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(json(name))
            .mount(server)
            .await;
    }
    if let Some(pdf) = s.report_pdf {
        Mock::given(method("GET"))
            .and(path(REPORT_PDF_PATH))
            .respond_with(pdf)
            .mount(server)
            .await;
    }
}

fn pdf(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(fixture(name), "application/pdf")
}

fn project(server: &MockServer) -> Project {
    let p = Project::new();
    p.config(&format!(
        "[fetch]\nallow_private = true\nper_host_interval_secs = 0.0\nretry_base_secs = 0.01\nretry_max_secs = 0.05\ntimeout_secs = 5.0\nmax_body_bytes = 10485760\n[sources]\ncommittees = \"{}/\"\n",
        server.uri()
    ));
    p.watchlist(
        "evidence.toml",
        r#"name = "evidence"
keywords = ["Macau", "modern slavery"]

[[watch]]
id = "education-committee"
kind = "committee"
committee = 203
organisations = ["Anti-Slavery International"]
documents = true
"#,
    );
    p
}

fn events(alerts: &[Value]) -> Vec<&str> {
    alerts
        .iter()
        .map(|a| a["event"].as_str().unwrap())
        .collect()
}

fn annotations(alert: &Value) -> Vec<&str> {
    alert["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn inquiries_sessions_publications_documents_and_our_evidence() {
    let server = MockServer::start().await;
    let p = project(&server);
    let serving = |business, publications, evidence, report_pdf| Serving {
        business,
        publications,
        evidence,
        report_pdf,
    };

    serve(&server, serving(BUSINESS, PUBS, EVIDENCE, None)).await;
    assert!(
        p.check_json().is_empty(),
        "the first check is a silent baseline"
    );
    assert!(p.check_json().is_empty(), "nothing changed");

    serve(&server, serving(BUSINESS_CALL, PUBS, EVIDENCE, None)).await;
    let alerts = p.check_json();
    assert_eq!(
        events(&alerts),
        ["committee.inquiry_opened", "committee.call_for_evidence"]
    );
    assert_eq!(
        alerts[0]["summary"],
        "New inquiry: Children's social care and modern slavery (opened 4 January 2027)"
    );
    assert_eq!(alerts[0]["keywords"], serde_json::json!(["modern slavery"]));
    assert_eq!(
        alerts[1]["summary"],
        "Call for written evidence: Children's social care and modern slavery — closes 12 February 2027"
    );
    assert_eq!(
        alerts[1]["url"],
        "https://committees.parliament.uk/work/9001/"
    );
    assert_eq!(annotations(&alerts[1])[0], "Deadline: 12 February 2027");

    serve(&server, serving(BUSINESS_SESSION, PUBS, EVIDENCE, None)).await;
    let alerts = p.check_json();
    assert_eq!(events(&alerts), ["committee.evidence_session"]);
    assert_eq!(
        alerts[0]["summary"],
        "Oral evidence session 24 February 2027 09:30: Children's social care and modern slavery"
    );
    assert_eq!(
        annotations(&alerts[0])[0],
        "Witnesses: Eleanor Lyons (Commissioner, Independent Anti-Slavery Commissioner); Anti-Slavery International"
    );

    // A new report, its PDF read: page count and keywords with their pages.
    serve(
        &server,
        serving(BUSINESS_SESSION, PUBS_REPORT, EVIDENCE, Some(pdf(PDF_2006))),
    )
    .await;
    let alerts = p.check_json();
    assert_eq!(events(&alerts), ["committee.publication"]);
    let report = &alerts[0];
    assert_eq!(
        report["summary"],
        "Report published 30 June 2027: Second Report - Children's social care and modern slavery (HC 612)"
    );
    assert_eq!(
        report["url"],
        "https://committees.parliament.uk/publications/46100/documents/229001/default/"
    );
    let notes = annotations(report);
    assert_eq!(
        notes[0],
        "Document: HC 612 - Children's social care and modern slavery.pdf https://committees.parliament.uk/publications/46100/documents/229001/default/"
    );
    assert!(
        notes[1].starts_with(
            "HC 612 - Children's social care and modern slavery.pdf: 2 pages; Macau: "
        ) && notes[1].ends_with("×, pp. 1, 2"),
        "{notes:?}"
    );
    // `show` prints the document's text, page by page.
    let id = report["id"].as_u64().unwrap().to_string();
    let shown = p.stdout(&["show", &id]);
    assert!(
        shown.contains("--- page 1 ---\nOFFICE OF THE GEOGRAPHER AND GLOBAL ISSUES"),
        "{shown}"
    );
    assert!(shown.contains("--- page 2 ---"), "{shown}");

    // The listing shows a revised file: the new version is diffed by page.
    serve(
        &server,
        serving(
            BUSINESS_SESSION,
            PUBS_REVISED,
            EVIDENCE,
            Some(pdf(PDF_2017)),
        ),
    )
    .await;
    let alerts = p.check_json();
    assert_eq!(events(&alerts), ["committee.publication"]);
    assert_eq!(
        alerts[0]["summary"],
        "New version of HC 612 - Children's social care and modern slavery.pdf (Second Report - Children's social care and modern slavery): pp. 1, 2 changed"
    );
    let diff = alerts[0]["diff"].as_str().unwrap();
    assert!(diff.starts_with("@@ page 1 ("), "{diff}");
    assert!(diff.contains("+No. 33 August 16. 2017"), "{diff}");

    serve(
        &server,
        serving(
            BUSINESS_SESSION,
            PUBS_REVISED,
            EVIDENCE_OURS,
            Some(pdf(PDF_2017)),
        ),
    )
    .await;
    let alerts = p.check_json();
    assert_eq!(events(&alerts), ["committee.own_evidence_published"]);
    assert_eq!(
        alerts[0]["summary"],
        "Written evidence from Anti-Slavery International published: Children's social care and modern slavery"
    );
    assert_eq!(
        alerts[0]["url"],
        "https://committees.parliament.uk/writtenevidence/130001/html/"
    );

    serve(
        &server,
        serving(
            BUSINESS_CLOSED,
            PUBS_REVISED,
            EVIDENCE_OURS,
            Some(pdf(PDF_2017)),
        ),
    )
    .await;
    let alerts = p.check_json();
    assert_eq!(events(&alerts), ["committee.inquiry_closed"]);
    assert_eq!(
        alerts[0]["summary"],
        "Inquiry closed: Children's social care and modern slavery (30 June 2027)"
    );
    assert!(p.check_json().is_empty(), "nothing twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_deadline_reminder_comes_once_when_the_clock_gets_there() {
    let server = MockServer::start().await;
    let p = project(&server);
    serve(
        &server,
        Serving {
            business: BUSINESS_CALL,
            publications: PUBS,
            evidence: EVIDENCE,
            report_pdf: None,
        },
    )
    .await;
    let c = Clocked::open(p.path(), at("2027-01-05T09:00:00Z"));
    assert!(c.check_at(at("2027-01-05T09:00:00Z")).await.is_empty());
    assert!(c.check_at(at("2027-02-04T09:00:00Z")).await.is_empty());
    // 5 February is 7 days before the call closes on 12 February.
    let alerts = c.check_at(at("2027-02-05T09:00:00Z")).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].event, "committee.deadline_near");
    assert_eq!(
        alerts[0].summary,
        "Call for written evidence closes 12 February 2027: Children's social care and modern slavery"
    );
    assert_eq!(alerts[0].url, "https://committees.parliament.uk/work/9001/");
    for day in [
        "2027-02-06T09:00:00Z",
        "2027-02-12T09:00:00Z",
        "2027-02-20T09:00:00Z",
    ] {
        let again = c.check_at(at(day)).await;
        assert!(again.is_empty(), "{day}: never repeated: {again:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_documents_are_refused_clearly_and_the_watch_keeps_working() {
    use std::io::Write;
    let server = MockServer::start().await;
    let p = project(&server);
    p.config(&format!(
        "[fetch]\nallow_private = true\nper_host_interval_secs = 0.0\nretry_base_secs = 0.01\nretry_max_secs = 0.05\ntimeout_secs = 5.0\n[sources]\ncommittees = \"{}/\"\n",
        server.uri()
    ));
    let base = |pdf| Serving {
        business: BUSINESS_SESSION,
        publications: PUBS_REPORT,
        evidence: EVIDENCE,
        report_pdf: Some(pdf),
    };
    // A 50 MB "PDF": beyond the 10 MB fetch limit.
    let mut big = b"%PDF-1.7\n".to_vec();
    big.resize(50 * 1024 * 1024, b' ');
    // A PDF bomb: 200 MB of zeros in one Flate stream.
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..200 {
        z.write_all(&zeros).unwrap();
    }
    let packed = z.finish().unwrap();
    let mut bomb = format!(
        "%PDF-1.4\n1 0 obj\n<< /Length {} /Filter /FlateDecode >>\nstream\n",
        packed.len()
    )
    .into_bytes();
    bomb.extend_from_slice(&packed);
    bomb.extend_from_slice(b"\nendstream\nendobj\n%%EOF\n");
    let truncated = fixture(PDF_2017)[..20_000].to_vec();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (big, "body larger than 10 MiB limit"),
        (truncated, "malformed PDF"),
        (
            bomb,
            "PDF refused: its compressed streams expand to more than 64 MiB (a PDF bomb?)",
        ),
    ];
    for (body, expected) in cases {
        let server_pdf = ResponseTemplate::new(200).set_body_raw(body, "application/pdf");
        std::fs::remove_dir_all(p.data()).ok();
        serve(
            &server,
            Serving {
                publications: PUBS,
                ..base(server_pdf.clone())
            },
        )
        .await;
        assert!(p.check_json().is_empty());
        serve(&server, base(server_pdf)).await;
        let alerts = p.check_json();
        assert_eq!(events(&alerts), ["committee.publication"], "{expected}");
        let notes = annotations(&alerts[0]);
        assert!(
            notes[1]
                .starts_with("HC 612 - Children's social care and modern slavery.pdf: not read: ")
                && notes[1].contains(expected),
            "{notes:?}"
        );
        // The watch is healthy and the next check is quiet: the error is not retried.
        assert!(p.check_json().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_response_that_is_not_the_api_fails_the_watch_with_a_clear_error() {
    let server = MockServer::start().await;
    let p = project(&server);
    Mock::given(method("GET"))
        .and(path("/api/CommitteeBusiness"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(r#"{"items": "nope"}"#, "application/json"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(r#"{"items": []}"#, "application/json"),
        )
        .mount(&server)
        .await;
    let out = p
        .cmd()
        .args(["check", "--format", "json"])
        .output()
        .unwrap();
    // The project's only watch failed, so every watch did: exit 3 (issue 15).
    assert_eq!(out.status.code(), Some(3), "every watch failed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("education-committee: ") && stderr.contains("/api/CommitteeBusiness?CommitteeId=203&SortOrder=DateOpenedNewest&Take=50: not a Committees API response: invalid type: string \"nope\", expected a sequence"),
        "{stderr}"
    );
    let status = p.stdout(&["status"]);
    assert!(status.contains("not a Committees API response"), "{status}");
}
