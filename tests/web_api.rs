//! The daemon's JSON API and its guards, against a daemon on a store seeded by real check
//! cycles (see tests/common/seeded.rs).

mod common;
#[path = "common/seeded.rs"]
mod seeded;

use reqwest::StatusCode;
use seeded::{free_port, Daemon, Seeded};
use serde_json::Value;

async fn get(url: &str) -> (StatusCode, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn json(url: &str) -> Value {
    let (status, body) = get(url).await;
    assert_eq!(status, StatusCode::OK, "{url}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn events(v: &Value) -> Vec<String> {
    v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["watch"].as_str().unwrap(),
                c["event"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_serves_changes_versions_diffs_phrases_status_and_outbox() {
    let seeded = Seeded::new().await;
    let _daemon = seeded.daemon().await;
    let api = format!("{}/api/v1", seeded.base());

    // Changes: newest first, the same objects as `history --format json`.
    let all = json(&format!("{api}/changes")).await;
    let list = events(&all);
    assert_eq!(list.len(), 5, "{list:?}");
    assert_eq!(list[4], "nrm page.changed");
    assert!(
        list.contains(&"high-streets bill.stage_changed".to_string()),
        "{list:?}"
    );
    let ids: Vec<u64> = all["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert!(all["next"].is_null());

    // Filters narrow.
    let bills = json(&format!("{api}/changes?watchlist=bills")).await;
    assert_eq!(events(&bills), ["high-streets bill.stage_changed"]);
    let by_watch = json(&format!("{api}/changes?watch=nrm&event=page.")).await;
    assert_eq!(events(&by_watch).len(), 4);
    let text = json(&format!("{api}/changes?q=Salvation%20Army")).await;
    assert_eq!(text["changes"].as_array().unwrap().len(), 1);
    let keyword = json(&format!("{api}/changes?keyword=reasonable%20grounds")).await;
    assert!(!events(&keyword).is_empty());
    let future = json(&format!("{api}/changes?since=2999-01-01")).await;
    assert!(events(&future).is_empty());

    // Paging: a cursor to the older page.
    let first = json(&format!("{api}/changes?limit=2")).await;
    assert_eq!(events(&first).len(), 2);
    let next = first["next"].as_str().expect("a next page");
    let second = json(&format!("{}{next}", seeded.base())).await;
    assert_eq!(events(&second).len(), 2);
    assert!(second["changes"][0]["id"].as_u64() < first["changes"][1]["id"].as_u64());

    // One change, with its full diff.
    let id = ids[0];
    let one = json(&format!("{api}/changes/{id}")).await;
    assert_eq!(one["id"], id);
    assert!(one["full_diff"]
        .as_str()
        .unwrap()
        .contains("+Appeals go to the <Home Office> & the courts."));

    // Watches, versions, diffs.
    let watches = json(&format!("{api}/watches")).await;
    let nrm = watches
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["watch"] == "nrm")
        .unwrap();
    assert_eq!(nrm["versions"], 5);
    assert_eq!(nrm["kind"], "page");
    assert!(nrm["follows"].as_str().unwrap().ends_with("/guidance"));
    let versions = json(&format!("{api}/watches/nrm/versions")).await;
    let seqs: Vec<u64> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    assert_eq!(versions[0]["hash"].as_str().unwrap().len(), 64);
    let diff = json(&format!("{api}/watches/nrm/diff?from=1&to=2")).await;
    assert_eq!(diff["from"]["seq"], 1);
    assert!(diff["unified"]
        .as_str()
        .unwrap()
        .contains("-Victims have 30 days to recover."));
    assert!(diff["unified"]
        .as_str()
        .unwrap()
        .contains("+Victims have 45 days to recover."));
    let v3 = json(&format!("{api}/watches/nrm/versions/3")).await;
    assert!(v3["document"]["text"]
        .as_str()
        .unwrap()
        .contains("Salvation Army"));

    // Phrase history: in at v2, out at v4.
    let phrase = json(&format!("{api}/phrase?q=Reasonable%20Grounds&watch=nrm")).await;
    let found: Vec<(u64, bool)> = phrase["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["seq"].as_u64().unwrap(), c["appeared"].as_bool().unwrap()))
        .collect();
    assert_eq!(found, [(2, true), (4, false)]);
    let everywhere = json(&format!("{api}/phrase?q=reasonable%20grounds")).await;
    assert_eq!(everywhere["changes"].as_array().unwrap().len(), 2);

    // Status and outbox (everything was delivered to stdout by `check`).
    let status = json(&format!("{api}/status")).await;
    assert_eq!(status["watches"].as_array().unwrap().len(), 2);
    assert_eq!(status["queued"], 0);
    assert_eq!(json(&format!("{api}/outbox")).await, serde_json::json!([]));

    // Atom: one feed per watchlist, one per watch.
    let (s, atom) = get(&format!("{}/feeds/anti-slavery.atom", seeded.base())).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(atom.matches("<entry>").count(), 4);
    assert!(
        atom.contains("&lt;Home Office&gt; &amp; the courts"),
        "escaped: {atom}"
    );
    let (s, atom) = get(&format!("{}/feeds/watch/high-streets.atom", seeded.base())).await;
    assert_eq!(s, StatusCode::OK);
    assert!(atom.contains("bill.stage_changed"));
    assert_eq!(
        get(&format!("{}/feeds/nope.atom", seeded.base())).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_requests_get_4xx_and_every_response_has_security_headers() {
    let seeded = Seeded::new().await;
    let _daemon = seeded.daemon().await;
    let base = seeded.base();
    let client = reqwest::Client::new();

    for path in [
        "/",
        "/changes/1",
        "/api/v1/changes",
        "/nowhere",
        "/api/v1/nowhere",
        "/style.css",
    ] {
        let r = client.get(format!("{base}{path}")).send().await.unwrap();
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
    }

    let too_long = "a".repeat(5000);
    let cases: Vec<(String, StatusCode)> = vec![
        (
            "/api/v1/changes?since=yesterday".into(),
            StatusCode::BAD_REQUEST,
        ),
        ("/api/v1/changes?limit=-1".into(), StatusCode::BAD_REQUEST),
        ("/api/v1/changes?before=x".into(), StatusCode::BAD_REQUEST),
        (
            "/api/v1/changes?severity=huge".into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/changes?watch=a&watch=b".into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/api/v1/changes?q={too_long}"),
            StatusCode::URI_TOO_LONG,
        ),
        ("/api/v1/changes/99999".into(), StatusCode::NOT_FOUND),
        ("/api/v1/changes/abc".into(), StatusCode::NOT_FOUND),
        (
            "/api/v1/changes/18446744073709551616".into(),
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/v1/watches/..%2F..%2Fetc%2Fpasswd/versions".into(),
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/v1/watches/%2e%2e/versions".into(),
            StatusCode::NOT_FOUND,
        ),
        ("/watches/nrm%00x".into(), StatusCode::NOT_FOUND),
        (
            "/api/v1/watches/nrm/diff?from=1&to=99".into(),
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/v1/watches/nrm/diff?from=one".into(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/watches/nrm/versions/abc".into(),
            StatusCode::BAD_REQUEST,
        ),
        ("/api/v1/phrase?q=".into(), StatusCode::BAD_REQUEST),
        (
            format!("/api/v1/phrase?q={}", "x ".repeat(300)),
            StatusCode::BAD_REQUEST,
        ),
        ("/feeds/..%2Fsecret.atom".into(), StatusCode::NOT_FOUND),
        ("/feeds/anti-slavery.rss".into(), StatusCode::NOT_FOUND),
        ("/changes?since=2026-13-45".into(), StatusCode::NOT_FOUND),
        ("/?since=2026-13-45".into(), StatusCode::BAD_REQUEST),
    ];
    for (path, want) in cases {
        let r = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), want, "{path}");
    }

    // Read-only: no method but GET/HEAD, whatever the path; a body is refused.
    for m in ["POST", "PUT", "DELETE", "PATCH"] {
        let r = client
            .request(
                reqwest::Method::from_bytes(m.as_bytes()).unwrap(),
                format!("{base}/api/v1/outbox"),
            )
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{m}");
    }

    // Without a token, only requests addressed to localhost (no DNS rebinding).
    let r = client
        .get(format!("{base}/api/v1/status"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::MISDIRECTED_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn off_loopback_needs_a_token_and_requests_need_it() {
    let seeded = Seeded::new().await;
    let p = &seeded.project;
    let config = std::fs::read_to_string(p.path().join("policywatch.toml")).unwrap();

    // Non-loopback without a token: a clear refusal at start, exit 2.
    p.config(&config.replace("127.0.0.1:", "0.0.0.0:"));
    let out = p
        .cmd()
        .arg("run")
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not a loopback address") && err.contains("POLICYWATCH_WEB_TOKEN"),
        "{err}"
    );

    // With a token: 401 without it, 200 with it (Bearer, or Basic for browsers).
    let port = free_port();
    p.config(&config.replace(
        &format!("127.0.0.1:{}", seeded.port),
        &format!("127.0.0.1:{port}"),
    ));
    let base = format!("http://127.0.0.1:{port}");
    let _daemon = Daemon::start(p, &base, &[("POLICYWATCH_WEB_TOKEN", "s3cret-token")]).await;
    let client = reqwest::Client::new();
    let status = |r: reqwest::Response| r.status();
    assert_eq!(
        status(
            client
                .get(format!("{base}/api/v1/changes"))
                .send()
                .await
                .unwrap()
        ),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(client.get(format!("{base}/")).send().await.unwrap()),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(
            client
                .get(format!("{base}/api/v1/changes"))
                .bearer_auth("wrong")
                .send()
                .await
                .unwrap()
        ),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(
            client
                .get(format!("{base}/api/v1/changes"))
                .bearer_auth("s3cret-token")
                .send()
                .await
                .unwrap()
        ),
        StatusCode::OK
    );
    assert_eq!(
        status(
            client
                .get(format!("{base}/"))
                .basic_auth("me", Some("s3cret-token"))
                .send()
                .await
                .unwrap()
        ),
        StatusCode::OK
    );
}

/// What the weekly chart counts for one watchlist, over all its bars.
fn charted(page: &str, list: &str) -> usize {
    let chart = &page[page.find("<svg class=\"weekly\"").expect("a weekly chart")..];
    let chart = &chart[..chart.find("</svg>").unwrap()];
    chart
        .split("<title>")
        .skip(1)
        .filter_map(|t| t.strip_prefix(&format!("{list}: ")))
        .map(|t| t.split(' ').next().unwrap().parse::<usize>().unwrap())
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_weekly_chart_counts_what_the_timeline_shows() {
    let seeded = Seeded::new().await;
    // A settings edit: the next check stores a new baseline, quietly.
    let uri = seeded.sources.server.uri();
    seeded.project.watchlist(
        "anti-slavery.toml",
        &format!(
            "name = \"anti-slavery\"\nschedule = \"0 0 1 1 *\"\n\
             [[watch]]\nid = \"nrm\"\nkind = \"page\"\nurl = \"{uri}/guidance\"\nselect = \"main p:first-child\"\n"
        ),
    );
    assert_eq!(seeded.project.check_json(), Vec::<Value>::new());
    let _daemon = seeded.daemon().await;
    let base = seeded.base();
    let quiet = json(&format!("{base}/api/v1/changes?all=1&watch=nrm")).await;
    assert_eq!(events(&quiet)[0], "nrm watch.settings_changed");
    assert_eq!(events(&quiet).len(), 5);

    let (s, page) = get(&format!("{base}/")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(charted(&page, "anti-slavery"), 4, "{page}");
    assert_eq!(charted(&page, "bills"), 1);
    let (_, page) = get(&format!("{base}/?all=1")).await;
    assert_eq!(charted(&page, "anti-slavery"), 5, "{page}");
    assert!(page.contains("quiet records included"));

    // The chart counts by the view's filters, as the list below it does.
    let (_, page) = get(&format!("{base}/?watchlist=bills")).await;
    assert_eq!(charted(&page, "bills"), 1, "{page}");
    assert_eq!(charted(&page, "anti-slavery"), 0, "{page}");
    assert!(page.contains("this view&#39;s filters applied"), "{page}");
    let (_, page) = get(&format!("{base}/?watch=nrm&all=1")).await;
    let nrm = events(&quiet).len();
    assert_eq!(charted(&page, "anti-slavery"), nrm, "{page}");
    assert_eq!(charted(&page, "bills"), 0, "{page}");
    // A page further back does not shrink it; a text search is named as not applied.
    let (_, page) = get(&format!("{base}/?before=2")).await;
    assert_eq!(
        charted(&page, "anti-slavery") + charted(&page, "bills"),
        5,
        "{page}"
    );
    let (_, page) = get(&format!("{base}/?q=zzz-nothing-says-this")).await;
    assert_eq!(charted(&page, "anti-slavery"), 4, "{page}");
    assert!(
        page.contains("the text search is not applied to the chart"),
        "{page}"
    );
}
