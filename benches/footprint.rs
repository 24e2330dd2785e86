//! Footprint: 1,000 unchanged page watches checked hourly for 30 simulated days by the real
//! daemon loop (manual clock, local server), reporting data-directory growth and peak
//! memory. Targets (issue 6): under 5 MB growth, under 100 MB peak.
//!
//! A benchmark, not part of `cargo test`; run it with `bench/footprint.sh`, or
//!   FOOTPRINT_MODE=304 cargo test --release --bench footprint -- --ignored --nocapture
//! FOOTPRINT_MODE: `304` (the server honours ETags) or `same` (full body every time);
//! FOOTPRINT_WATCHES (1000) and FOOTPRINT_DAYS (30) scale it.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use chrono::{TimeZone, Utc};
use policywatch::config::Config;
use policywatch::cycle::Engine;
use policywatch::daemon::{self, Notice, Notifier, Options, Progress};
use policywatch::fetch::Fetcher;
use policywatch::notify::stdout::{Format, StdoutSink};
use policywatch::notify::Dispatcher;
use policywatch::schedule::ManualClock;
use policywatch::store::{ChangeFilter, SledStore, Store};
use policywatch::watchlist::{self, Watchlists};
use tokio::sync::watch;

/// The daemon's allocator (see `src/main.rs`), so the memory measured is what it uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ETAG: &str = "\"v1\"";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A page of realistic size (about 6 KB of text), the same on every request.
fn page(n: &str) -> String {
    let para = "The Commissioner's office publishes guidance, annual reports and letters \
                to ministers on modern slavery and human trafficking. ";
    let body: String = (0..40).map(|i| format!("<p>{i}. {para}</p>")).collect();
    format!("<html><head><title>Page {n}</title></head><body><main>{body}</main></body></html>")
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// (VmHWM, VmRSS) in KiB, from /proc.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

struct Quiet;

impl Notifier for Quiet {
    fn notify(&self, _: &Notice) {}
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run with bench/footprint.sh"]
async fn footprint_of_unchanged_watches_checked_hourly() {
    let mode: String = env_or("FOOTPRINT_MODE", "304".to_string());
    let watches: usize = env_or("FOOTPRINT_WATCHES", 1000);
    let days: i64 = env_or("FOOTPRINT_DAYS", 30);
    let honour_etags = mode == "304";

    let app = axum::Router::new().route(
        "/page/{n}",
        axum::routing::get(
            move |axum::extract::Path(n): axum::extract::Path<String>, headers: HeaderMap| async move {
                let matches = headers
                    .get(header::IF_NONE_MATCH)
                    .is_some_and(|v| v.as_bytes() == ETAG.as_bytes());
                if honour_etags && matches {
                    return StatusCode::NOT_MODIFIED.into_response();
                }
                let mut response = (
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    page(&n),
                )
                    .into_response();
                if honour_etags {
                    response
                        .headers_mut()
                        .insert(header::ETAG, ETAG.parse().unwrap());
                }
                response
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let config = Arc::new(
        Config::parse(
            "[fetch]\nallow_private = true\nper_host_interval_secs = 0\nretries = 0\n",
            Path::new("policywatch.toml"),
        )
        .unwrap(),
    );
    let mut list = String::from("name = \"bench\"\nschedule = \"0 * * * *\"\n");
    for i in 0..watches {
        list.push_str(&format!(
            "[[watch]]\nid = \"page-{i}\"\nkind = \"page\"\nurl = \"{base}/page/{i}\"\n"
        ));
    }
    let list = watchlist::parse_file(
        &list,
        Path::new("bench.toml"),
        &config,
        policywatch::source::registry::kinds(),
    )
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sled = Arc::new(SledStore::open(&data, config.store.cache_capacity).unwrap());
    let store: Arc<dyn Store> = sled.clone();
    let start = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let engine = Engine {
        fetcher: Arc::new(Fetcher::new(&config.fetch).unwrap()),
        config: config.clone(),
        watchlists: Arc::new(Watchlists { lists: vec![list] }),
        store: store.clone(),
        clock: clock.clone(),
    };
    let dispatcher = Dispatcher {
        unsent: Default::default(),
        store: store.clone(),
        sink: Arc::new(StdoutSink::to_writer(
            Format::Json,
            Box::new(std::io::sink()),
        )),
        clock: clock.clone(),
        retry_base: Duration::from_secs(1),
        retry_max: Duration::from_secs(60),
    };
    let (progress_tx, progress) = watch::channel(Progress::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let daemon = tokio::spawn(daemon::run_with(
        engine,
        dispatcher,
        async {
            let _ = stopped.await;
        },
        Options {
            notifier: Arc::new(Quiet),
            watchdog: None,
            progress: progress_tx,
            status_snapshot: None,
        },
    ));

    let settle = |cycles: u64| {
        let mut progress = progress.clone();
        async move {
            progress
                .wait_for(|p| p.cycles >= cycles && p.settled())
                .await
                .expect("daemon alive")
                .clone()
        }
    };
    settle(1).await;
    let baseline_bytes = dir_bytes(&data);
    let (baseline_hwm, _) = memory_kib();

    let hours = days * 24;
    let mut largest = baseline_bytes;
    let began = Instant::now();
    for h in 1..=hours {
        clock.set(start + chrono::Duration::hours(h));
        let p = settle(h as u64 + 1).await;
        assert_eq!(p.watches, watches);
        // sled's log grows between segment clean-ups: the peak is what the disk must hold.
        largest = largest.max(dir_bytes(&data));
        if h % 24 == 0 {
            let (hwm, rss) = memory_kib();
            eprintln!(
                "day {:>2}: data {:>6.2} MB, rss {:>5.1} MB, peak {:>5.1} MB",
                h / 24,
                mb(dir_bytes(&data)),
                rss as f64 / 1024.0,
                hwm as f64 / 1024.0
            );
        }
    }
    let took = began.elapsed();
    stop.send(()).unwrap();
    daemon.await.unwrap().unwrap();
    store.flush().unwrap();

    let end_bytes = dir_bytes(&data);
    let (peak_kib, _) = memory_kib();
    let checks = watches as u64 * hours as u64;
    let growth = end_bytes.saturating_sub(baseline_bytes);
    let peak_growth = largest.max(end_bytes).saturating_sub(baseline_bytes);
    let states = sled.states().unwrap().len();
    let changes = store.changes(&ChangeFilter::default()).unwrap().len();
    println!(
        "footprint ({mode}): {watches} watches x {hours} hourly checks = {checks} checks in {:.0}s\n  \
         data dir {:.2} MB after the baselines -> {:.2} MB after {days} days: +{:.2} MB, \
         {:.1} KB per 1,000 checks (sled size_on_disk {:.2} MB); \
         at most +{:.2} MB along the way\n  \
         peak memory (VmHWM) {:.1} MB ({:.1} MB after the baselines)\n  \
         {states} watch states, {changes} changes recorded",
        took.as_secs_f64(),
        mb(baseline_bytes),
        mb(end_bytes),
        mb(growth),
        growth as f64 / 1000.0 / (checks as f64 / 1000.0),
        mb(sled.size_on_disk().unwrap()),
        mb(peak_growth),
        peak_kib as f64 / 1024.0,
        baseline_hwm as f64 / 1024.0,
    );
    assert_eq!(changes, 0, "unchanged pages must raise nothing");
    for w in 0..watches {
        assert_eq!(
            store
                .latest_version(&format!("page-{w}"))
                .unwrap()
                .map(|v| v.seq),
            Some(1),
            "unchanged checks add no version"
        );
    }
    assert!(
        peak_growth < 5_000_000,
        "data directory grew {:.2} MB (target < 5 MB)",
        mb(peak_growth)
    );
    assert!(
        peak_kib < 100 * 1024,
        "peak memory {:.1} MB (target < 100 MB)",
        peak_kib as f64 / 1024.0
    );
}
