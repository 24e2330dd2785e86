//! History browser speed (issue 12): a timeline page over 100,000 stored changes and a
//! phrase history over 1,000 versions of a 200 KB document, each served by the real web
//! service on loopback from a sled store on disk. Target: under 200 ms each.
//!
//! A benchmark, not part of `cargo test`; run it with `bench/web.sh`, or
//!   cargo test --release --bench web_speed -- --ignored --nocapture
//! WEB_CHANGES (100000), WEB_VERSIONS (1000) and WEB_DOC_KB (200) scale it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use policywatch::config::Config;
use policywatch::cycle::Engine;
use policywatch::fetch::Fetcher;
use policywatch::live::Live;
use policywatch::schedule::SystemClock;
use policywatch::source::Document;
use policywatch::store::{CheckCommit, NewChange, NewVersion, SledStore, Store, WatchState};
use policywatch::watchlist::Watchlists;
use policywatch::web;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn alert(i: usize) -> NewChange {
    let lists = ["uk-anti-slavery", "immigration", "bills", "commissioners"];
    let severities = ["info", "notice", "major"];
    let events = [
        "page.changed",
        "govuk.major_update",
        "bill.stage_changed",
        "feed.new_entry",
    ];
    let at = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
        + chrono::Duration::minutes(i as i64 * 7);
    let alert = serde_json::from_value(serde_json::json!({
        "id": 0,
        "watch": format!("watch-{}", i % 200),
        "event": events[i % 4],
        "title": format!("Guidance document {}", i % 200),
        "url": "https://www.gov.uk/guidance/example",
        "summary": format!("Text changed: +{} −1 lines", i % 9),
        "annotations": [format!("Section {} edited", i % 13)],
        "keywords": if i % 5 == 0 { vec!["modern slavery"] } else { vec![] },
        "diff": "-old line\n+new line\n",
        "detected_at": at,
        "severity": severities[i % 3],
        "watchlist": lists[i % 4],
    }))
    .expect("an alert");
    NewChange {
        alert,
        full_diff: format!("@@ -1,2 +1,2 @@\n context\n-old line {i}\n+new line {i}\n"),
        outgoing: vec![],
    }
}

/// A ~`kb` KB document; version `v` differs in one line, and has the phrase in the middle
/// third of the versions only.
fn document(v: usize, versions: usize, kb: usize) -> Document {
    let para =
        "The Home Office publishes statutory guidance on modern slavery for frontline staff \
                in England and Wales, covering identification, referral and support of victims. ";
    let mut text = String::with_capacity(kb * 1024 + 200);
    let mut n = 0;
    while text.len() < kb * 1024 {
        text.push_str(&format!("{n}. {para}\n"));
        n += 1;
    }
    text.push_str(&format!("Version note {v}.\n"));
    if v > versions / 3 && v <= 2 * versions / 3 {
        text.push_str("A reasonable grounds decision is made within 5 working days.\n");
    }
    Document {
        title: "Modern slavery: statutory guidance".into(),
        url: "https://www.gov.uk/government/publications/modern-slavery".into(),
        text,
        fields: serde_json::Value::Null,
    }
}

async fn median_ms(client: &reqwest::Client, url: &str, runs: usize) -> (f64, f64, usize) {
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let r = client.get(url).send().await.unwrap();
        assert!(r.status().is_success(), "{url}: {}", r.status());
        bytes = r.bytes().await.unwrap().len();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let first = times[0];
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (first, times[times.len() / 2], bytes)
}

#[test]
#[ignore = "benchmark: run with bench/web.sh"]
fn timeline_and_phrase_history_answer_within_200_ms() {
    let changes: usize = env_or("WEB_CHANGES", 100_000);
    let versions: usize = env_or("WEB_VERSIONS", 1_000);
    let kb: usize = env_or("WEB_DOC_KB", 200);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open(dir.path(), 64 * 1024 * 1024).unwrap());

    let t = Instant::now();
    let at = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    for chunk in 0..changes.div_ceil(500) {
        let n = (changes - chunk * 500).min(500);
        store
            .commit(CheckCommit {
                watch: "seed".into(),
                document: None,
                fetched_at: at,
                changes: (0..n).map(|i| alert(chunk * 500 + i)).collect(),
                state: WatchState::default(),
                follows: vec![],
            })
            .unwrap();
    }
    for v in 1..=versions {
        store
            .commit(CheckCommit {
                watch: "guidance".into(),
                document: Some(NewVersion::new(document(v, versions, kb))),
                fetched_at: at + chrono::Duration::hours(v as i64),
                changes: vec![],
                state: WatchState::default(),
                follows: vec![],
            })
            .unwrap();
    }
    store.flush().unwrap();
    eprintln!(
        "seeded {changes} changes and {versions} versions of a {kb} KB document in {:.1}s ({:.0} MB on disk)",
        t.elapsed().as_secs_f64(),
        store.size_on_disk().unwrap() as f64 / 1e6
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let config = Config::default();
        let engine = Engine {
            fetcher: Arc::new(Fetcher::new(&config.fetch).unwrap()),
            config: Arc::new(config),
            watchlists: Arc::new(Watchlists::default()),
            store: store.clone(),
            clock: Arc::new(SystemClock),
        };
        let live = Live::fixed(engine);
        let addr: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
        let settings = policywatch::config::WebSettings { listen: Some(addr) };
        let (listener, access) = web::bind(&settings, None).await.unwrap().unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(web::serve(listener, web::WebState::new(live), access));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();

        let mut missed = Vec::new();
        let cases = [
            ("timeline, first page", "/".to_string()),
            ("timeline, page 100", "/?before=95000".to_string()),
            (
                "timeline, filtered by watchlist and event",
                "/?watchlist=bills&event=bill.".to_string(),
            ),
            (
                "timeline, text search",
                "/?q=new%20line%2099999".to_string(),
            ),
            ("API changes, 50", "/api/v1/changes".to_string()),
            (
                "phrase history, 1 watch",
                "/phrase?q=reasonable%20grounds&watch=guidance".to_string(),
            ),
            (
                "API phrase, 1 watch",
                "/api/v1/phrase?q=reasonable%20grounds&watch=guidance".to_string(),
            ),
        ];
        eprintln!(
            "{:<44} {:>10} {:>10} {:>10}",
            "request", "first ms", "median ms", "bytes"
        );
        for (name, path) in cases {
            let (first, median, bytes) = median_ms(&client, &format!("{base}{path}"), 7).await;
            eprintln!("{name:<44} {first:>10.1} {median:>10.1} {bytes:>10}");
            // Text search reads every candidate record; it is measured, not held to the target.
            if median >= 200.0 && !name.contains("text search") {
                missed.push(name);
            }
        }
        assert!(missed.is_empty(), "over 200 ms: {missed:?}");
    });
}
