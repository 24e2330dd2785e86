//! Hostile content, as opposed to hostile transport (`hostile_servers.rs`): a page nested
//! absurdly deep, a charset nobody knows, XML that tries entity expansion, a feed of 10,000
//! entries. Each ends the watch's check with a clear error or a bounded document, within
//! bounded memory, and the rest of the cycle completes.

#[path = "common/hostile.rs"]
mod hostile;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use policywatch::config::Config;
use policywatch::cycle::{Engine, RunResult};
use policywatch::fetch::Fetcher;
use policywatch::schedule::SystemClock;
use policywatch::source::feed::MAX_ENTRIES;
use policywatch::source::registry;
use policywatch::store::{SledStore, Store};
use policywatch::watchlist::{self, Watchlists};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Memory a whole cycle over the hostile watches may add to this process.
const MEMORY_BOUND: u64 = 96 * 1024 * 1024;

fn billion_laughs() -> String {
    let mut dtd = String::from("<!DOCTYPE rss [\n<!ENTITY lol0 \"lol\">\n");
    for i in 1..10 {
        let prev = format!("&lol{};", i - 1);
        dtd.push_str(&format!("<!ENTITY lol{i} \"{}\">\n", prev.repeat(10)));
    }
    dtd.push_str("]>\n");
    format!("<?xml version=\"1.0\"?>\n{dtd}<rss version=\"2.0\"><channel><title>t</title><item><guid>1</guid><title>&lol9;</title></item></channel></rss>")
}

fn huge_feed(entries: usize) -> String {
    let items: String = (0..entries)
        .map(|i| format!("<item><guid>entry-{i}</guid><title>Modern slavery update {i}</title><description>Statement number {i} on the National Referral Mechanism.</description></item>"))
        .collect();
    format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Big</title>{items}</channel></rss>")
}

async fn mount(server: &MockServer, at: &str, body: Vec<u8>, content_type: &str) {
    Mock::given(path(at))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, content_type))
        .mount(server)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_content_gives_clear_errors_in_bounded_memory_and_the_cycle_completes() {
    let server = MockServer::start().await;
    let deep = "<html><body>".to_string() + &"<div>".repeat(300_000) + "deep";
    mount(&server, "/deep", deep.into_bytes(), "text/html").await;
    mount(
        &server,
        "/charset",
        b"<p>hello</p>".to_vec(),
        "text/html; charset=klingon",
    )
    .await;
    mount(
        &server,
        "/laughs",
        billion_laughs().into_bytes(),
        "application/rss+xml",
    )
    .await;
    mount(
        &server,
        "/huge-feed",
        huge_feed(10_000).into_bytes(),
        "application/rss+xml",
    )
    .await;
    mount(
        &server,
        "/fine",
        b"<main><p>Fine.</p></main>".to_vec(),
        "text/html",
    )
    .await;

    let config = Arc::new(
        Config::parse(
            "[fetch]\nallow_private = true\nper_host_interval_secs = 0.0\nretries = 0\ntimeout_secs = 10.0\n",
            Path::new("policywatch.toml"),
        )
        .unwrap(),
    );
    let u = server.uri();
    let list = format!(
        "name = \"hostile\"\n\
         [[watch]]\nid = \"deep\"\nkind = \"page\"\nurl = \"{u}/deep\"\n\
         [[watch]]\nid = \"charset\"\nkind = \"page\"\nurl = \"{u}/charset\"\n\
         [[watch]]\nid = \"laughs\"\nkind = \"feed\"\nurl = \"{u}/laughs\"\n\
         [[watch]]\nid = \"huge-feed\"\nkind = \"feed\"\nurl = \"{u}/huge-feed\"\n\
         [[watch]]\nid = \"fine\"\nkind = \"page\"\nurl = \"{u}/fine\"\n"
    );
    let list = watchlist::parse_file(&list, Path::new("hostile.toml"), &config, registry::kinds())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(SledStore::open(&dir.path().join("data"), config.store.cache_capacity).unwrap());
    let engine = Engine {
        fetcher: Arc::new(Fetcher::new(&config.fetch).unwrap()),
        config: config.clone(),
        watchlists: Arc::new(Watchlists { lists: vec![list] }),
        store: store.clone(),
        clock: Arc::new(SystemClock),
    };

    let meter = hostile::PeakMeter::start();
    let started = Instant::now();
    let watches = engine.all_watches().unwrap();
    let report = engine.check(&watches).await.unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(20), "cycle took {elapsed:?}");
    if let Some(growth) = meter.growth("the hostile content cycle") {
        assert!(growth < MEMORY_BOUND, "memory grew by {} MiB", growth >> 20);
    }

    let run = |id: &str| {
        report
            .runs
            .iter()
            .find(|(w, _)| w == id)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("{id} did not run"))
    };
    let failed = |id: &str, reason: &str| match run(id) {
        RunResult::Failed(e) => {
            assert!(e.contains(reason), "{id}: expected “{reason}” in “{e}”");
            assert_eq!(
                store.state(id).unwrap().unwrap().last_error.as_deref(),
                Some(e.as_str())
            );
        }
        other => panic!("{id}: expected a failure, got {other:?}"),
    };
    failed("deep", "levels deep (limit 1000)");
    failed("charset", "klingon");
    assert_eq!(
        run("fine"),
        RunResult::Baseline,
        "the healthy watch completes"
    );

    // Entity expansion is refused or not performed: never a multi-megabyte title.
    match run("laughs") {
        RunResult::Failed(e) => assert!(e.contains(&format!("{u}/laughs")), "{e}"),
        RunResult::Baseline => {
            let v = store.latest_version("laughs").unwrap().unwrap();
            assert!(
                v.document.text.len() < 10_000,
                "expanded to {} bytes",
                v.document.text.len()
            );
        }
        other => panic!("laughs: {other:?}"),
    }

    // A 10,000-entry feed keeps its newest entries, in feed order.
    assert_eq!(run("huge-feed"), RunResult::Baseline);
    let v = store.latest_version("huge-feed").unwrap().unwrap();
    let entries = v.document.fields["entries"].as_array().unwrap();
    assert_eq!(entries.len(), MAX_ENTRIES);
    assert_eq!(entries[0]["title"], "Modern slavery update 0");
}
