//! `bill` and `bill_search` watches end to end: the binary's `check --format json` against a
//! local Bills API serving the real fixtures (and copies edited for one change each).

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use common::{fixture, Project};
use serde_json::{json, Value};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const DETAIL: &str = "bills-api/GET_Bills_3548__detail.json";
const STAGES: &str = "bills-api/GET_Bills_3548_Stages__built_from_detail_currentStage.json";
/// No publications fixture of bill 3548 exists; bill 512's real list stands in.
const PUBS: &str = "bills-api/GET_Bills_512_Publications.json";

fn json_fixture(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

/// What the fake Bills API serves for one bill.
#[derive(Clone)]
struct Served {
    detail: Value,
    stages: Value,
    publications: Value,
}

impl Served {
    fn bill_3548(detail: &str, publications: &str) -> Served {
        Served {
            detail: json_fixture(detail),
            stages: json_fixture(STAGES),
            publications: json_fixture(publications),
        }
    }
}

/// The `Skip`/`Take` page of a listing, as the API pages `/Stages`.
fn page(listing: &Value, r: &Request) -> Value {
    let arg = |name: &str, default: usize| {
        r.url
            .query_pairs()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(default)
    };
    let items = listing["items"].as_array().cloned().unwrap_or_default();
    let (skip, take) = (arg("Skip", 0), arg("Take", 20));
    let page: Vec<Value> = items.iter().skip(skip).take(take).cloned().collect();
    json!({ "items": page, "totalResults": items.len(), "itemsPerPage": take })
}

/// A fake Bills API whose bills can be swapped between checks.
struct BillsApi {
    server: MockServer,
    bills: Arc<Mutex<HashMap<u64, Served>>>,
}

impl BillsApi {
    async fn start() -> BillsApi {
        let server = MockServer::start().await;
        let bills: Arc<Mutex<HashMap<u64, Served>>> = Arc::default();
        // `/api/v1/Bills?BillIds=..`: the summaries of the bills asked for (a `Bill` is a
        // `BillSummary` with more fields, so the detail is listed as it is).
        let b = bills.clone();
        Mock::given(method("GET"))
            .and(path("/api/v1/Bills"))
            .and(wiremock::matchers::query_param_contains("BillIds", ""))
            .respond_with(move |r: &Request| {
                let bills = b.lock().unwrap();
                let items: Vec<Value> = r
                    .url
                    .query_pairs()
                    .filter(|(k, _)| k == "BillIds")
                    .filter_map(|(_, v)| {
                        bills.get(&v.parse::<u64>().ok()?).map(|s| s.detail.clone())
                    })
                    .collect();
                ResponseTemplate::new(200).set_body_json(
                    json!({ "items": items, "totalResults": items.len(), "itemsPerPage": 20 }),
                )
            })
            .mount(&server)
            .await;
        let b = bills.clone();
        Mock::given(method("GET"))
            .and(path_regex(r"^/api/v1/Bills/\d+(/Stages|/Publications)?$"))
            .respond_with(move |r: &Request| {
                let parts: Vec<&str> = r.url.path().split('/').collect();
                let id: u64 = parts[4].parse().unwrap();
                let bills = b.lock().unwrap();
                let Some(bill) = bills.get(&id) else {
                    return ResponseTemplate::new(404)
                        .set_body_json(json!({ "title": "Not Found", "status": 404 }));
                };
                let body = match parts.get(5) {
                    None => bill.detail.clone(),
                    Some(&"Stages") => page(&bill.stages, r),
                    Some(_) => bill.publications.clone(),
                };
                ResponseTemplate::new(200).set_body_json(body)
            })
            .mount(&server)
            .await;
        BillsApi { server, bills }
    }

    fn serve(&self, id: u64, bill: Served) {
        self.bills.lock().unwrap().insert(id, bill);
    }

    /// Paths (with query) requested so far.
    async fn requests(&self) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| match r.url.query() {
                Some(q) => format!("{}?{q}", r.url.path()),
                None => r.url.path().to_string(),
            })
            .collect()
    }
}

fn project(api: &MockServer, watches: &str) -> Project {
    let p = Project::new();
    p.config(&format!(
        "[sources]\nparliament_bills = \"{0}/\"\nbills_rss = \"{0}/rss/allbills.rss\"\n",
        api.uri()
    ));
    p.watchlist(
        "bills.toml",
        &format!(
            "name = \"bills\"\nschedule = \"0 0 * * * *\"\nkeywords = [\"high streets\", \"immigration\", \"Constitutional Reform\"]\n\n{watches}"
        ),
    );
    p
}

const HIGH_STREETS: &str = "[[watch]]\nid = \"high-streets\"\nkind = \"bill\"\nbill = 3548\n";

/// Baseline on the real bill, then serve `detail` / `publications` and check again.
async fn alerts_after(detail: &str, publications: &str) -> Vec<Value> {
    alerts_after_with(detail, publications, "").await
}

/// As [`alerts_after`], with more `policywatch.toml`.
async fn alerts_after_with(detail: &str, publications: &str, config: &str) -> Vec<Value> {
    let api = BillsApi::start().await;
    api.serve(3548, Served::bill_3548(DETAIL, PUBS_BEFORE));
    let p = project(&api.server, HIGH_STREETS);
    if !config.is_empty() {
        p.config(&format!(
            "[sources]\nparliament_bills = \"{}/\"\n{config}",
            api.server.uri()
        ));
    }
    assert_eq!(
        p.check_json(),
        Vec::<Value>::new(),
        "the first check is a baseline"
    );
    api.serve(3548, Served::bill_3548(detail, publications));
    let alerts = p.check_json();
    // Nothing more to say about an unchanged bill, however often it is checked.
    assert_eq!(p.check_json(), Vec::<Value>::new());
    alerts
}

const PUBS_BEFORE: &str = "bills-api/GET_Bills_512_Publications__without_2756.json";

fn one(alerts: Vec<Value>) -> Value {
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    alerts.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn stage_change() {
    let a = one(alerts_after(
        "bills-api/GET_Bills_3548__detail__stage_report.json",
        PUBS_BEFORE,
    )
    .await);
    assert_eq!(a["event"], "bill.stage_changed");
    assert_eq!(a["watch"], "high-streets");
    assert_eq!(
        a["title"],
        "High Streets (Designation, Review and Improvement Plan) Bill"
    );
    assert_eq!(a["url"], "https://bills.parliament.uk/bills/3548");
    assert_eq!(
        a["summary"],
        "Commons: Committee stage → Report stage (sitting 19 April 2024)"
    );
    assert_eq!(a["severity"], "major");
    assert_eq!(a["fields"]["from"]["stage"], "Committee stage");
    assert_eq!(a["fields"]["to"]["stage"], "Report stage");
    assert_eq!(a["fields"]["to"]["house"], "Commons");
    // The title (with "high streets") did not change: keywords come only from what did.
    assert_eq!(a["keywords"], json!([]));
    let diff = a["diff"].as_str().unwrap();
    assert!(
        diff.contains("-Current stage: Commons: Committee stage"),
        "{diff}"
    );
    assert!(
        diff.contains("+Current stage: Commons: Report stage"),
        "{diff}"
    );
    assert!(
        diff.contains("+- Commons: Report stage: 19 April 2024"),
        "{diff}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sitting_added() {
    let a = one(alerts_after(
        "bills-api/GET_Bills_3548__detail__sitting_added.json",
        PUBS_BEFORE,
    )
    .await);
    assert_eq!(a["event"], "bill.sitting_added");
    assert_eq!(
        a["summary"],
        "Commons: Committee stage — sitting on 20 March 2024"
    );
    assert_eq!(a["severity"], "notice");
    assert_eq!(a["fields"]["stage"], "Committee stage");
    assert_eq!(a["fields"]["house"], "Commons");
    assert_eq!(a["fields"]["date"], "2024-03-20");
}

#[tokio::test(flavor = "multi_thread")]
async fn publication_added() {
    // The publication comes without a lastUpdate move; the full refresh (due at every
    // cycle here) still finds it.
    let a = one(alerts_after_with(DETAIL, PUBS, "[bills]\nfull_refresh_hours = 0.0\n").await);
    assert_eq!(a["event"], "bill.publication_added");
    assert_eq!(a["severity"], "notice");
    assert_eq!(
        a["summary"],
        "Act of Parliament (Commons): Constitutional Reform and Governance Act 2010 c.25 (12 April 2010)"
    );
    assert_eq!(
        a["url"],
        "http://www.opsi.gov.uk/acts/acts2010/pdf/ukpga_20100025_en.pdf"
    );
    assert_eq!(
        a["annotations"][0],
        "Link (application/pdf): http://www.opsi.gov.uk/acts/acts2010/pdf/ukpga_20100025_en.pdf"
    );
    assert_eq!(a["fields"]["type"], "Act of Parliament");
    assert_eq!(
        a["fields"]["title"],
        "Constitutional Reform and Governance Act 2010 c.25"
    );
    assert_eq!(
        a["fields"]["links"][1]["url"],
        "http://www.opsi.gov.uk/acts/acts2010/ukpga_20100025_en_1"
    );
    // Keywords are found in publication titles too, and not in the unchanged bill title.
    assert_eq!(a["keywords"], json!(["Constitutional Reform"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn renamed() {
    let a = one(alerts_after(
        "bills-api/GET_Bills_3548__detail__renamed.json",
        PUBS_BEFORE,
    )
    .await);
    assert_eq!(a["event"], "bill.renamed");
    assert_eq!(
        a["summary"],
        "Renamed: High Streets (Designation, Review and Improvement Plan) Bill → High Streets (Designation and Review) Bill"
    );
    assert_eq!(a["title"], "High Streets (Designation and Review) Bill");
    assert_eq!(
        a["fields"]["from"],
        "High Streets (Designation, Review and Improvement Plan) Bill"
    );
    assert_eq!(a["fields"]["became_act"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn royal_assent_and_rename_to_act() {
    let alerts = alerts_after(
        "bills-api/GET_Bills_3548__detail__royal_assent.json",
        PUBS_BEFORE,
    )
    .await;
    let events: Vec<&str> = alerts
        .iter()
        .map(|a| a["event"].as_str().unwrap())
        .collect();
    // One fact, one alert: the rename to an Act is part of the Royal Assent alert.
    assert_eq!(events, ["bill.royal_assent"]);
    let a = &alerts[0];
    assert_eq!(
        a["summary"],
        "Royal Assent: High Streets (Designation, Review and Improvement Plan) Act 2024, 24 May 2024"
    );
    assert_eq!(a["severity"], "major");
    assert_eq!(
        a["fields"]["act"],
        "High Streets (Designation, Review and Improvement Plan) Act 2024"
    );
    assert_eq!(a["fields"]["date"], "2024-05-24");
    assert_eq!(
        a["annotations"],
        json!([
            "Renamed: High Streets (Designation, Review and Improvement Plan) Bill → High Streets (Designation, Review and Improvement Plan) Act 2024",
            "Keyword “high streets”: “High Streets (Designation, Review and Improvement Plan) Act 2024”"
        ])
    );
    assert_eq!(
        a["fields"]["renamed_from"],
        "High Streets (Designation, Review and Improvement Plan) Bill"
    );
    // The new title is what changed, so its keyword matches once.
    assert_eq!(a["keywords"], json!(["high streets"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn withdrawn() {
    let a = one(alerts_after(
        "bills-api/GET_Bills_3548__detail__withdrawn.json",
        PUBS_BEFORE,
    )
    .await);
    assert_eq!(a["event"], "bill.withdrawn");
    assert_eq!(
        a["summary"],
        "Withdrawn on 15 March 2024 at Commons: Committee stage"
    );
    assert_eq!(a["severity"], "major");
    assert_eq!(a["fields"]["withdrawn"], "2024-03-15");
}

#[tokio::test(flavor = "multi_thread")]
async fn defeated() {
    let a = one(alerts_after(
        "bills-api/GET_Bills_3548__detail__defeated.json",
        PUBS_BEFORE,
    )
    .await);
    assert_eq!(a["event"], "bill.defeated");
    assert_eq!(a["summary"], "Defeated at Commons: Committee stage");
    assert_eq!(a["severity"], "major");
    assert_eq!(a["fields"]["stage"]["house"], "Commons");
}

#[tokio::test(flavor = "multi_thread")]
async fn history_reads_as_the_bills_timeline() {
    let api = BillsApi::start().await;
    api.serve(3548, Served::bill_3548(DETAIL, PUBS_BEFORE));
    let p = project(&api.server, HIGH_STREETS);
    p.check_json();
    for step in [
        "bills-api/GET_Bills_3548__detail__sitting_added.json",
        "bills-api/GET_Bills_3548__detail__stage_report.json",
        "bills-api/GET_Bills_3548__detail__royal_assent.json",
    ] {
        api.serve(3548, Served::bill_3548(step, PUBS_BEFORE));
        p.check_json();
    }
    let history = p.stdout(&["history", "--watch", "high-streets"]);
    // One line per event, oldest first: the bill's parliamentary timeline.
    let narratives: Vec<&str> = history
        .lines()
        .map(|l| {
            l.split_once(" bill.")
                .unwrap()
                .1
                .split_once(' ')
                .unwrap()
                .1
                .trim()
        })
        .collect();
    assert_eq!(
        narratives,
        [
            "Commons: Committee stage — sitting on 20 March 2024",
            "Commons: Committee stage → Report stage (sitting 19 April 2024)",
            "Royal Assent: High Streets (Designation, Review and Improvement Plan) Act 2024, 24 May 2024",
        ],
        "{history}"
    );
}

/// 40 bills: the real 3548 and 39 copies of it under other ids (built here, for scale).
fn forty_bills(api: &BillsApi) -> String {
    let mut watches = String::new();
    for id in 3548..3588u64 {
        let mut bill = Served::bill_3548(DETAIL, PUBS_BEFORE);
        bill.detail["billId"] = json!(id);
        api.serve(id, bill);
        watches.push_str(&format!(
            "[[watch]]\nid = \"bill-{id}\"\nkind = \"bill\"\nbill = {id}\n\n"
        ));
    }
    watches
}

#[tokio::test(flavor = "multi_thread")]
async fn forty_bills_unchanged_cost_two_requests_and_a_moved_one_only_its_own_three() {
    let api = BillsApi::start().await;
    let p = project(&api.server, &forty_bills(&api));
    assert_eq!(p.check_json(), Vec::<Value>::new());
    let baseline = api.requests().await.len();
    // Two summary pages, then every bill's detail, stages and publications.
    assert_eq!(baseline, 2 + 40 * 3);

    assert_eq!(p.check_json(), Vec::<Value>::new());
    let quiet: Vec<String> = api.requests().await.split_off(baseline);
    assert_eq!(quiet.len(), 2, "{quiet:#?}");
    assert!(
        quiet
            .iter()
            .all(|r| r.starts_with("/api/v1/Bills?BillIds=")),
        "{quiet:#?}"
    );

    let mut moved = Served::bill_3548(
        "bills-api/GET_Bills_3548__detail__stage_report.json",
        PUBS_BEFORE,
    );
    moved.detail["billId"] = json!(3560);
    api.serve(3560, moved);
    let alerts = p.check_json();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["watch"], "bill-3560");
    assert_eq!(alerts[0]["event"], "bill.stage_changed");
    let mut extra: Vec<String> = api.requests().await.split_off(baseline + 2);
    extra.retain(|r| !r.starts_with("/api/v1/Bills?BillIds="));
    extra.sort();
    assert_eq!(
        extra,
        [
            "/api/v1/Bills/3560",
            "/api/v1/Bills/3560/Publications",
            "/api/v1/Bills/3560/Stages?Skip=0&Take=20",
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_bill_is_an_error_in_status_not_an_alert() {
    let api = BillsApi::start().await;
    api.serve(3548, Served::bill_3548(DETAIL, PUBS_BEFORE));
    let p = project(
        &api.server,
        &format!("{HIGH_STREETS}\n[[watch]]\nid = \"typo\"\nkind = \"bill\"\nbill = 99999\n"),
    );
    assert_eq!(p.check_json(), Vec::<Value>::new());
    let status = p.stdout(&["status"]);
    assert!(
        status.contains("typo [bill]: FAILING (1 in a row): ")
            && status.contains("bill 99999 is not on the Bills API (not found); check the bill id"),
        "{status}"
    );
    assert!(status.contains("high-streets [bill]: ok"), "{status}");
    // Still failing: one `watch.failing` when it has failed `failing_after` (3) times, then
    // nothing however long it goes on.
    let later: Vec<Value> = (0..5).flat_map(|_| p.check_json()).collect();
    let events: Vec<(&str, &str)> = later
        .iter()
        .map(|a| (a["watch"].as_str().unwrap(), a["event"].as_str().unwrap()))
        .collect();
    assert_eq!(events, [("typo", "watch.failing")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn summaries_failing_fails_every_bill_watch() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let p = project(
        &server,
        &format!("{HIGH_STREETS}\n[[watch]]\nid = \"other\"\nkind = \"bill\"\nbill = 512\n"),
    );
    // Every watch failed: exit 3, saying what they share.
    let out = p
        .cmd()
        .args(["check", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).ends_with(
            "policywatch: 2 of 2 watches failed: the sources answered with server errors (5xx)\n"
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = p.stdout(&["status"]);
    for w in ["high-streets", "other"] {
        assert!(
            status.contains(&format!("{w} [bill]: FAILING (1 in a row): ")),
            "{status}"
        );
    }
    assert!(status.contains("HTTP 503"), "{status}");
}

async fn serve_search(api: &BillsApi, body: &str) {
    Mock::given(method("GET"))
        .and(path("/api/v1/Bills"))
        .and(wiremock::matchers::query_param_contains("SearchTerm", ""))
        .respond_with(ResponseTemplate::new(200).set_body_raw(fixture(body), "application/json"))
        .mount(&api.server)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_bill_in_a_search_raises_one_bill_new_and_is_followed_from_the_next_cycle() {
    let api = BillsApi::start().await;
    let p = project(
        &api.server,
        "[[watch]]\nid = \"rates\"\nkind = \"bill_search\"\nsearch = \"business rates\"\nfollow = true\n",
    );
    let search =
        Mock::given(method("GET"))
            .and(path("/api/v1/Bills"))
            .and(wiremock::matchers::query_param(
                "SearchTerm",
                "business rates",
            ));
    search
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixture("bills-api/GET_Bills__search__no_items.json"),
            "application/json",
        ))
        .up_to_n_times(1)
        .mount(&api.server)
        .await;
    assert_eq!(p.check_json(), Vec::<Value>::new());

    serve_search(&api, "bills-api/GET_Bills__search_trimmed_1_item.json").await;
    api.serve(
        2818,
        Served {
            detail: json_fixture("bills-api/GET_Bills_2818__detail__from_search_item.json"),
            stages: json_fixture(
                "bills-api/GET_Bills_2818_Stages__built_from_search_item_currentStage.json",
            ),
            publications: json_fixture("bills-api/GET_Bills_2818_Publications__empty.json"),
        },
    );
    let a = one(p.check_json());
    assert_eq!(a["event"], "bill.new");
    assert_eq!(a["watch"], "rates");
    assert_eq!(a["title"], "Abolition of Business Rates Bill");
    assert_eq!(a["url"], "https://bills.parliament.uk/bills/2818");
    assert_eq!(
        a["summary"],
        "New bill: Abolition of Business Rates Bill — Commons: 2nd reading"
    );
    assert_eq!(a["fields"]["id"], 2818);
    assert_eq!(a["fields"]["stage"], "2nd reading");
    assert_eq!(
        a["fields"]["bill_type"],
        "Private Members' Bill (under the Ten Minute Rule)"
    );

    // Next cycle: no second bill.new; the bill is now checked as a bill of its own.
    assert_eq!(p.check_json(), Vec::<Value>::new());
    let status = p.stdout(&["status"]);
    assert!(
        status.contains("bill-2818 [bill] (followed via rates): ok"),
        "{status}"
    );
    assert!(
        api.requests()
            .await
            .iter()
            .any(|r| r == "/api/v1/Bills/2818/Publications"),
        "the followed bill was fetched in full"
    );
    // And it alerts like any bill.
    let mut moved = json_fixture("bills-api/GET_Bills_2818__detail__from_search_item.json");
    moved["shortTitle"] = json!("Business Rates (Abolition) Bill");
    moved["lastUpdate"] = json!("2021-06-01T09:00:00");
    api.serve(
        2818,
        Served {
            detail: moved,
            stages: json_fixture(
                "bills-api/GET_Bills_2818_Stages__built_from_search_item_currentStage.json",
            ),
            publications: json_fixture("bills-api/GET_Bills_2818_Publications__empty.json"),
        },
    );
    let a = one(p.check_json());
    assert_eq!(
        (a["watch"].as_str(), a["event"].as_str()),
        (Some("bill-2818"), Some("bill.renamed"))
    );

    // `watches` says where each watch came from: the file, or the search that follows it.
    let watches = p.stdout(&["watches"]);
    let followed = watches
        .lines()
        .find(|l| l.starts_with("bill-2818 [bill]"))
        .unwrap_or_else(|| panic!("{watches}"));
    assert!(
        followed.contains("; from followed by search `rates` since "),
        "{watches}"
    );
    assert!(
        watches.lines().any(|l| l.starts_with("rates [bill_search]")
            && l.ends_with("; from watchlists/bills.toml:5")),
        "{watches}"
    );

    // Unfollow holds across cycles and restarts (each command is a new process), while
    // the search still finds the bill; status says so.
    assert_eq!(
        p.stdout(&["unfollow", "bill-2818"]),
        "no longer following bill-2818\n"
    );
    let fetched = |reqs: &[String]| {
        reqs.iter()
            .filter(|r| r.as_str() == "/api/v1/Bills/2818/Publications")
            .count()
    };
    let before = fetched(&api.requests().await);
    for _ in 0..2 {
        assert_eq!(p.check_json(), Vec::<Value>::new());
    }
    assert_eq!(
        fetched(&api.requests().await),
        before,
        "unfollowed bill fetched"
    );
    let status = p.stdout(&["status"]);
    assert!(!status.contains("(followed via rates)"), "{status}");
    assert!(
        status.contains("bill-2818 [bill]: unfollowed ")
            && status.contains(
                "(found by search rates; `policywatch follow bill-2818` follows it again)"
            ),
        "{status}"
    );
    // Only an explicit follow brings it back.
    assert_eq!(
        p.stdout(&["follow", "bill-2818"]),
        "following bill-2818 again\n"
    );
    assert_eq!(p.check_json(), Vec::<Value>::new());
    let status = p.stdout(&["status"]);
    assert!(
        status.contains("bill-2818 [bill] (followed via rates): ok"),
        "{status}"
    );
    let out = p.cmd().args(["follow", "bill-2818"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "policywatch: no such unfollowed watch `bill-2818`\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_bill_in_the_rss_raises_one_bill_new() {
    let api = BillsApi::start().await;
    serve_search(&api, "bills-api/GET_Bills__search__no_items.json").await;
    let rss = |name: &'static str| {
        Mock::given(method("GET"))
            .and(path("/rss/allbills.rss"))
            .respond_with(
                ResponseTemplate::new(200).set_body_raw(fixture(name), "application/rss+xml"),
            )
    };
    let p = project(
        &api.server,
        "[[watch]]\nid = \"immigration\"\nkind = \"bill_search\"\nsearch = { term = \"immigration\", rss = true }\n",
    );
    let first = rss("bills-rss/allbills__2025-02-01__without_3929.rss")
        .mount_as_scoped(&api.server)
        .await;
    assert_eq!(p.check_json(), Vec::<Value>::new());
    drop(first);

    let full = rss("bills-rss/allbills__2025-02-01.rss")
        .mount_as_scoped(&api.server)
        .await;
    let a = one(p.check_json());
    assert_eq!(a["event"], "bill.new");
    assert_eq!(a["title"], "Border Security, Asylum and Immigration Bill");
    assert_eq!(a["url"], "https://bills.parliament.uk/bills/3929");
    assert_eq!(
        a["summary"],
        "New bill: Border Security, Asylum and Immigration Bill — Commons: 2nd reading"
    );
    assert!(
        a["annotations"][0]
            .as_str()
            .unwrap()
            .starts_with("Long title: A Bill to make provision about border security; to make provision about immigration and asylum;"),
        "{a:#}"
    );
    assert_eq!(a["keywords"], json!(["immigration"]));
    assert_eq!(a["fields"]["stage"], "2nd reading");
    drop(full);

    // The feed repeats the bill's guid with an older, stale item: still one bill, not new.
    let _repeated = rss("bills-rss/allbills__2025-02-01__3929_repeated_stale.rss")
        .mount_as_scoped(&api.server)
        .await;
    assert_eq!(p.check_json(), Vec::<Value>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_of_stages_is_read() {
    let api = BillsApi::start().await;
    // 23 stages (copies of the real current stage under new ids, built for paging), the
    // last with a sitting that only the second page carries.
    let mut bill = Served::bill_3548(DETAIL, PUBS_BEFORE);
    let stage = bill.stages["items"][0].clone();
    let items: Vec<Value> = (0..23)
        .map(|i| {
            let mut s = stage.clone();
            s["id"] = json!(20000 + i);
            s["sortOrder"] = json!(i);
            s["description"] = json!(format!("Stage {i}"));
            s["stageSittings"] = json!([]);
            s
        })
        .collect();
    bill.stages = json!({ "items": items, "totalResults": 23, "itemsPerPage": 20 });
    api.serve(3548, bill.clone());
    let p = project(&api.server, HIGH_STREETS);
    p.check_json();
    let stages: Vec<String> = api
        .requests()
        .await
        .into_iter()
        .filter(|r| r.contains("/Stages"))
        .collect();
    assert_eq!(
        stages,
        [
            "/api/v1/Bills/3548/Stages?Skip=0&Take=20",
            "/api/v1/Bills/3548/Stages?Skip=20&Take=20"
        ]
    );
    // A sitting added to the last stage (on the second page) is found.
    bill.stages["items"][22]["stageSittings"] = json!([{ "id": 777, "stageId": 8, "billStageId": 20022, "billId": 3548, "date": "2024-06-05T00:00:00" }]);
    bill.detail["lastUpdate"] = json!("2024-06-01T10:00:00");
    api.serve(3548, bill);
    let a = one(p.check_json());
    assert_eq!(a["summary"], "Commons: Stage 22 — sitting on 5 June 2024");
}

/// `test --url` with a bill's address on the bills site: the bill is read through the API
/// as a `bill` watch would read it, and nothing is stored.
#[tokio::test(flavor = "multi_thread")]
async fn test_url_reads_a_bill_from_its_address() {
    let api = BillsApi::start().await;
    api.serve(3548, Served::bill_3548(DETAIL, PUBS_BEFORE));
    let p = Project::new();
    let uri = api.server.uri();
    p.config(&format!(
        "[sources]\nparliament_bills = \"{uri}/\"\nparliament_bills_site = \"{uri}/\"\n"
    ));
    let stdout = p.stdout(&[
        "test",
        "--url",
        &format!("{uri}/bills/3548/stages"),
        "--kind",
        "bill",
    ]);
    assert!(stdout.contains("(bill): nothing was stored"), "{stdout}");
    assert!(
        stdout.contains("High Streets (Designation, Review and Improvement Plan) Bill"),
        "{stdout}"
    );
    assert!(stdout.contains("Committee stage"), "{stdout}");
    assert!(api
        .requests()
        .await
        .iter()
        .any(|r| r == "/api/v1/Bills/3548"));
    assert!(!p.data().exists(), "no data directory was created");

    // An address that is not a bill's page says what --kind bill takes.
    let (code, _, stderr) = p.run(&[
        "test",
        "--url",
        "https://www.gov.uk/bills/3548",
        "--kind",
        "bill",
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--url `https://www.gov.uk/bills/3548` is not a bill's page")
            && stderr.contains(&format!("{uri}/bills/<id>")),
        "{stderr}"
    );
}
