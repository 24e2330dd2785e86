//! The daemon: watches fire on their schedules (driven by a manual clock, no waiting),
//! alerts come out, systemd hears READY/STATUS/WATCHDOG/STOPPING, the watchdog goes quiet
//! when delivery hangs, and the binary stops cleanly on SIGTERM.

mod common;
#[path = "common/running.rs"]
mod running;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use policywatch::config::Config;
use policywatch::cycle::Engine;
use policywatch::daemon::{self, Notice, Notifier, Options, Progress};
use policywatch::data::Destination;
use policywatch::event::{Alert, Severity};
use policywatch::fetch::Fetcher;
use policywatch::notify::stdout::{Format, StdoutSink};
use policywatch::notify::{Delivery, Dispatcher, Sink};
use policywatch::schedule::{BoxFuture, Clock, ManualClock};
use policywatch::source::registry;
use policywatch::store::{ChangeRecord, FailingStore, NewChange, SledStore, Store};
use policywatch::watchlist::{self, Watchlists};
use running::Running;
use tokio::sync::watch;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Serves `pages[version]` for one path; the test moves `version` to change the page.
struct VersionedPage {
    pages: Vec<String>,
    version: Arc<AtomicUsize>,
}

impl Respond for VersionedPage {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let v = self
            .version
            .load(Ordering::SeqCst)
            .min(self.pages.len() - 1);
        ResponseTemplate::new(200).set_body_raw(self.pages[v].clone(), "text/html; charset=utf-8")
    }
}

fn html(title: &str, body: &str) -> String {
    format!(
        "<html><head><title>{title}</title></head><body><main><p>{body}</p></main></body></html>"
    )
}

/// Everything written to it, shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn alerts(&self) -> Vec<Alert> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON alert per line"))
            .collect()
    }
}

/// Keeps every notice, in order.
#[derive(Default)]
struct Recorder(Mutex<Vec<(tokio::time::Instant, Notice)>>);

impl Notifier for Recorder {
    fn notify(&self, notice: &Notice) {
        self.0
            .lock()
            .unwrap()
            .push((tokio::time::Instant::now(), notice.clone()));
    }
}

impl Recorder {
    fn notices(&self) -> Vec<Notice> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, n)| n.clone())
            .collect()
    }
}

fn config(extra: &str) -> Arc<Config> {
    let text =
        format!("[fetch]\nallow_private = true\nretries = 0\ntimeout_secs = 5\nper_host_interval_secs = 0\n{extra}");
    Arc::new(Config::parse(&text, Path::new("policywatch.toml")).unwrap())
}

fn watchlists(text: &str, config: &Config) -> Arc<Watchlists> {
    let list = watchlist::parse_file(
        text,
        Path::new("watchlists/team.toml"),
        config,
        registry::kinds(),
    )
    .unwrap_or_else(|p| panic!("watchlist invalid: {p:?}"));
    Arc::new(Watchlists { lists: vec![list] })
}

fn engine(
    config: Arc<Config>,
    lists: Arc<Watchlists>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
) -> Engine {
    Engine {
        fetcher: Arc::new(Fetcher::new(&config.fetch).unwrap()),
        config,
        watchlists: lists,
        store,
        clock,
    }
}

fn deliver_to(store: Arc<dyn Store>, sink: Arc<dyn Sink>, clock: Arc<dyn Clock>) -> Dispatcher {
    Dispatcher {
        unsent: Default::default(),
        store,
        sink,
        clock,
        retry_base: Duration::from_secs(1),
        retry_max: Duration::from_secs(60),
    }
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, h, m, 0).unwrap()
}

async fn hits(server: &MockServer) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for r in server.received_requests().await.unwrap_or_default() {
        *counts.entry(r.url.path().to_string()).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn watches_fire_on_their_schedules_and_changes_are_alerted() {
    let server = MockServer::start().await;
    let often = Arc::new(AtomicUsize::new(0));
    Mock::given(method("GET"))
        .and(path("/often"))
        .respond_with(VersionedPage {
            pages: vec![
                html("Guidance", "Apply by 1 March."),
                html("Guidance", "Apply by 1 April. A consultation is open."),
            ],
            version: often.clone(),
        })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/hourly"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(html("Notices", "Nothing new."), "text/html"),
        )
        .mount(&server)
        .await;

    let config = config("");
    let lists = watchlists(
        &format!(
            r#"
name = "team"
schedule = "*/10 * * * *"
keywords = ["consultation"]

[[watch]]
id = "often"
kind = "page"
url = "{0}/often"

[[watch]]
id = "hourly"
kind = "page"
url = "{0}/hourly"
schedule = "0 * * * *"
"#,
            server.uri()
        ),
        &config,
    );
    let clock = Arc::new(ManualClock::new(at(9, 0)));
    let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
    let out = Captured::default();
    let engine_again = engine(config.clone(), lists.clone(), store.clone(), clock.clone());
    let engine = engine(config, lists, store.clone(), clock.clone());
    let dispatcher = deliver_to(
        store.clone(),
        Arc::new(StdoutSink::to_writer(Format::Json, Box::new(out.clone()))),
        clock.clone(),
    );
    let recorder = Arc::new(Recorder::default());
    let mut daemon = Running::start(engine, dispatcher, recorder.clone());

    // Start: both watches have never run, so both fire now and record baselines.
    let p = daemon.settled(1).await;
    assert_eq!(
        hits(&server).await,
        HashMap::from([("/often".into(), 1), ("/hourly".into(), 1)])
    );
    assert_eq!(p.next_check, Some(at(9, 10)));
    assert_eq!(
        p.status_line(),
        "watching 2 watches; next check 2026-01-05 09:10:00 UTC; 0 alerts queued"
    );
    assert!(out.alerts().is_empty(), "baselines raise no alerts");

    // Between fires nothing runs: the next cycle sees only the fires due at its time.
    clock.set(at(9, 5));
    clock.set(at(9, 10));
    let p = daemon.settled(2).await;
    assert_eq!(
        hits(&server).await,
        HashMap::from([("/often".into(), 2), ("/hourly".into(), 1)])
    );
    assert_eq!(p.next_check, Some(at(9, 20)));

    often.store(1, Ordering::SeqCst);
    clock.set(at(9, 20));
    daemon.settled(3).await;
    let alerts = out.alerts();
    assert_eq!(alerts.len(), 1, "one change, one alert: {alerts:?}");
    let a = &alerts[0];
    assert_eq!(
        (a.watch.as_str(), a.event.as_str()),
        ("often", "page.changed")
    );
    assert_eq!(a.keywords, vec!["consultation".to_string()]);
    assert_eq!(a.detected_at, at(9, 20));
    assert!(a.diff.contains("+Apply by 1 April"), "{}", a.diff);

    // At 10:00 both are due, in one cycle; the 9:30–9:50 fires the jump skipped collapse
    // into that one run.
    clock.set(at(10, 0));
    daemon.settled(4).await;
    assert_eq!(
        hits(&server).await,
        HashMap::from([("/often".into(), 4), ("/hourly".into(), 2)])
    );

    // Three hours pass at once (a suspended machine): one catch-up run each, not eighteen.
    clock.set(at(13, 0));
    let p = daemon.settled(5).await;
    assert_eq!(
        hits(&server).await,
        HashMap::from([("/often".into(), 5), ("/hourly".into(), 3)])
    );
    assert_eq!(p.next_check, Some(at(13, 10)));
    assert_eq!(out.alerts().len(), 1, "unchanged pages raise nothing");

    // Each check recorded when it ran: that is what a restart schedules from.
    let state = store.state("hourly").unwrap().unwrap();
    assert_eq!(state.last_check, Some(at(13, 0)));

    daemon.stop().await;

    // Restarted at 13:30: `often` missed its 13:10 and 13:20 fires and runs at once (once);
    // `hourly` is not due until 14:00 and waits.
    clock.set(at(13, 30));
    let mut restarted = Running::start(
        engine_again,
        deliver_to(
            store.clone(),
            Arc::new(StdoutSink::to_writer(Format::Json, Box::new(out.clone()))),
            clock.clone(),
        ),
        Arc::new(Recorder::default()),
    );
    let p = restarted.settled(1).await;
    assert_eq!(
        hits(&server).await,
        HashMap::from([("/often".into(), 6), ("/hourly".into(), 3)])
    );
    assert_eq!(p.next_check, Some(at(13, 40)));
    clock.set(at(14, 0));
    restarted.settled(2).await;
    assert_eq!(
        hits(&server).await,
        HashMap::from([("/often".into(), 7), ("/hourly".into(), 4)])
    );
    restarted.stop().await;
    let notices = recorder.notices();
    assert_eq!(notices.first(), Some(&Notice::Ready));
    assert_eq!(notices.last(), Some(&Notice::Stopping));
    // STATUS carries the latest state only, so a passing one may be skipped; the daemon
    // idles between cycles long enough for each idle state to be told.
    assert!(
        notices.iter().any(|n| matches!(n, Notice::Status(s)
            if s.starts_with("watching 2 watches; next check 2026-01-05 ")
                && s.ends_with(" UTC; 0 alerts queued"))),
        "{notices:?}"
    );
    assert!(
        !notices.contains(&Notice::Watchdog),
        "no pings unless systemd asks"
    );
}

/// A sink that never answers: a hung chat API with no timeout.
struct Hangs;

impl Sink for Hangs {
    fn send<'a>(
        &'a self,
        _: Option<&'a Destination>,
        _: &'a [ChangeRecord],
    ) -> BoxFuture<'a, Vec<Delivery>> {
        Box::pin(std::future::pending())
    }
}

/// Delivers everything at once.
struct Accepts;

impl Sink for Accepts {
    fn send<'a>(
        &'a self,
        _: Option<&'a Destination>,
        r: &'a [ChangeRecord],
    ) -> BoxFuture<'a, Vec<Delivery>> {
        Box::pin(async move { vec![Delivery::Delivered; r.len()] })
    }
}

fn queued_alert() -> NewChange {
    NewChange {
        alert: Alert {
            id: 0,
            watch: "w".into(),
            event: "page.changed".into(),
            title: "Guidance".into(),
            url: "http://127.0.0.1/".into(),
            summary: "Text changed".into(),
            annotations: vec![],
            keywords: vec![],
            diff: String::new(),
            detected_at: at(9, 0),
            severity: Severity::Notice,
            tone: Default::default(),
            watchlist: "team".into(),
            destination: None,
            mentions: vec![],
            from_version: None,
            to_version: None,
            fields: serde_json::Value::Null,
        },
        full_diff: String::new(),
        outgoing: vec![],
    }
}

/// Runs a daemon with no watches and one queued alert for `seconds` of (paused, so
/// instant) tokio time with a 60 s watchdog; returns the notices with their times.
async fn watchdog_run(sink: Arc<dyn Sink>, seconds: u64) -> Vec<(Duration, Notice)> {
    // send_timeout 5 s: a pass over one alert may take 5 s × 2 + 60 s before it counts as hung.
    let config = config("[discord]\nsend_timeout_secs = 5\n");
    let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
    store.record_alert(queued_alert()).unwrap();
    let clock = Arc::new(ManualClock::new(at(9, 0)));
    let engine = engine(config, Arc::default(), store.clone(), clock.clone());
    let dispatcher = deliver_to(store, sink, clock);
    let recorder = Arc::new(Recorder::default());
    let start = tokio::time::Instant::now();
    let daemon = daemon::run_with(
        engine,
        dispatcher,
        tokio::time::sleep(Duration::from_secs(seconds)),
        Options {
            notifier: recorder.clone(),
            watchdog: Some(Duration::from_secs(60)),
            progress: watch::channel(Progress::default()).0,
            status_snapshot: None,
        },
    );
    daemon.await.unwrap();
    let notices = recorder.0.lock().unwrap().clone();
    notices.into_iter().map(|(t, n)| (t - start, n)).collect()
}

#[tokio::test(start_paused = true)]
async fn watchdog_pings_every_half_interval_while_healthy() {
    let notices = watchdog_run(Arc::new(Accepts), 615).await;
    let pings: Vec<Duration> = notices
        .iter()
        .filter(|(_, n)| *n == Notice::Watchdog)
        .map(|(t, _)| *t)
        .collect();
    // Every 30 s over 10 minutes and 15 s, the first at once.
    assert_eq!(pings.len(), 21, "{pings:?}");
    assert!(pings
        .windows(2)
        .all(|w| w[1] - w[0] == Duration::from_secs(30)));
    assert!(notices
        .iter()
        .any(|(_, n)| *n == Notice::Status("watching 0 watches; 0 alerts queued".into())));
}

#[tokio::test(start_paused = true)]
async fn watchdog_goes_quiet_when_delivery_hangs() {
    let notices = watchdog_run(Arc::new(Hangs), 600).await;
    let pings: Vec<Duration> = notices
        .iter()
        .filter(|(_, n)| *n == Notice::Watchdog)
        .map(|(t, _)| *t)
        .collect();
    // The pass may take 70 s (one alert): pings at 0, 30 and 60 s, then none, so systemd
    // (WatchdogSec=60) restarts the service at about 120 s.
    assert_eq!(
        pings,
        vec![
            Duration::ZERO,
            Duration::from_secs(30),
            Duration::from_secs(60)
        ]
    );
    let stuck = notices.iter().find_map(|(t, n)| match n {
        Notice::Status(s) if s.starts_with("STUCK") => Some((*t, s.clone())),
        _ => None,
    });
    let (t, status) = stuck.expect("a STATUS saying what is stuck");
    assert_eq!(t, Duration::from_secs(90));
    assert!(
        status.starts_with("STUCK: outbox: a delivery pass has run for 90s"),
        "{status}"
    );
    assert_eq!(notices.last().map(|(_, n)| n), Some(&Notice::Stopping));
}

/// Reads sd_notify datagrams the way systemd would, from a socket in a temp dir.
struct NotifySocket {
    socket: std::os::unix::net::UnixDatagram,
    path: std::path::PathBuf,
}

impl NotifySocket {
    fn bind(dir: &Path) -> Self {
        let path = dir.join("notify.sock");
        let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        NotifySocket { socket, path }
    }

    /// Messages until one satisfies `until` (inclusive); panics on a 15 s silence.
    fn read_until(&self, until: impl Fn(&str) -> bool) -> Vec<String> {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = self
                .socket
                .recv(&mut buf)
                .unwrap_or_else(|e| panic!("no notify message ({e}); had {seen:?}"));
            let msg = String::from_utf8_lossy(&buf[..n]).trim().to_string();
            let done = until(&msg);
            seen.push(msg);
            if done {
                return seen;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_reports_to_systemd_survives_sighup_and_exits_cleanly_on_sigterm() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/guidance"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(html("Guidance", "Apply by 1 March."), "text/html"),
        )
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("policywatch.toml"),
        "[fetch]\nallow_private = true\nretries = 0\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("watchlists")).unwrap();
    std::fs::write(
        dir.path().join("watchlists/team.toml"),
        format!(
            "name = \"team\"\nschedule = \"0 * * * *\"\n\n[[watch]]\nid = \"guidance\"\nkind = \"page\"\nurl = \"{}/guidance\"\n",
            server.uri()
        ),
    )
    .unwrap();
    let notify = NotifySocket::bind(dir.path());

    // `exec` keeps the shell's pid, so WATCHDOG_PID can name the daemon as systemd would.
    let child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "WATCHDOG_PID=$$ exec \"{}\" --config policywatch.toml --watchlists watchlists --data data run",
            env!("CARGO_BIN_EXE_policywatch")
        ))
        .current_dir(dir.path())
        .env("NOTIFY_SOCKET", &notify.path)
        .env("WATCHDOG_USEC", "200000")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();

    // STATUS is the latest state (systemd shows only that), so passing states may be
    // skipped; after the first cycle it names the next check.
    let start = notify.read_until(|m| m.contains("next check"));
    assert_eq!(start[0], "READY=1", "{start:?}");
    let status = start.last().unwrap();
    assert!(
        status.starts_with("STATUS=watching 1 watches; next check ")
            && status.ends_with(":00:00 UTC; 0 alerts queued"),
        "{start:?}"
    );
    // WatchdogSec=200ms asks for a ping at least every 100 ms.
    notify.read_until(|m| m == "WATCHDOG=1");

    // While the daemon holds the store, `status` asks the daemon (its control socket) and
    // gets the live report; with no daemon answering, it reads the report the daemon left
    // after its last cycle, and says so.
    for via_daemon in [true, false] {
        if !via_daemon {
            std::fs::remove_file(dir.path().join("data/control.sock")).unwrap();
        }
        let live = common::process(dir.path())
            .args(["status", "--format", "json"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&live.stderr);
        assert!(live.status.success(), "{stderr}");
        assert_eq!(
            stderr.contains("is the daemon running?); showing the daemon's report of "),
            !via_daemon,
            "{stderr}"
        );
        let row = common::status_watches(&String::from_utf8_lossy(&live.stdout))[0].clone();
        assert_eq!(
            (row["watch"].as_str(), row["versions"].as_u64()),
            (Some("guidance"), Some(1))
        );
    }

    // SIGHUP (systemd's ExecReload) never kills it: logged, the lists are read again (a
    // watch added to the file runs), and the daemon keeps pinging.
    std::fs::write(
        dir.path().join("watchlists/team.toml"),
        format!(
            "name = \"team\"\nschedule = \"0 * * * *\"\n\n[[watch]]\nid = \"guidance\"\nkind = \"page\"\nurl = \"{0}/guidance\"\n\n[[watch]]\nid = \"added\"\nkind = \"page\"\nurl = \"{0}/guidance\"\n",
            server.uri()
        ),
    )
    .unwrap();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    notify.read_until(|m| m.starts_with("STATUS=watching 2 watches"));
    notify.read_until(|m| m == "WATCHDOG=1");

    let stopped_at = std::time::Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    notify.read_until(|m| m == "STOPPING=1");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("policywatch run exits within 5 s of SIGTERM")
        .unwrap();
    assert!(stopped_at.elapsed() < Duration::from_secs(5));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");
    // Both signals are in the log, by name.
    assert!(
        stderr.contains("reload requested")
            && stderr.contains("signal=\"SIGHUP\"")
            && stderr.contains("watchlists reloaded"),
        "{stderr}"
    );
    assert!(
        stderr.contains("stop requested") && stderr.contains("signal=\"SIGTERM\""),
        "{stderr}"
    );

    // The store was closed properly and is readable by the next command.
    let status = common::process(dir.path())
        .args(["status", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let row = common::status_watches(&String::from_utf8_lossy(&status.stdout))[0].clone();
    assert_eq!(row["watch"], "guidance");
    assert_eq!(row["versions"], 1);
    assert!(row["last_check"].is_string(), "{row}");
    assert!(row["last_error"].is_null(), "{row}");
}

#[test]
fn systemd_unit_passes_its_checks_where_systemd_analyze_exists() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/check.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .arg(env!("CARGO_BIN_EXE_policywatch"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("skipped") || stdout.contains("(at most 2.0)"),
        "{stdout}"
    );
}

/// Serves a page per path from `version`, and fills the "disk" (sets the store failing) at
/// the `fill_at`-th request counted from when `armed` is set: mid-cycle.
struct FillingDisk {
    pages: Vec<String>,
    version: Arc<AtomicUsize>,
    armed: Arc<AtomicUsize>,
    store: Arc<FailingStore<SledStore>>,
}

impl Respond for FillingDisk {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        // `armed` counts down; reaching 1 on this request fills the disk.
        if self.armed.load(Ordering::SeqCst) > 0 && self.armed.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.store.set_failing(true);
        }
        let v = self
            .version
            .load(Ordering::SeqCst)
            .min(self.pages.len() - 1);
        ResponseTemplate::new(200).set_body_raw(self.pages[v].clone(), "text/html; charset=utf-8")
    }
}

/// Issue 16, acceptance 1 (with the failing-store wrapper; a real small filesystem needs
/// mount privileges the test suite does not assume): the disk fills in the middle of a
/// cycle, then is freed. The daemon keeps running (checks paused, said in STATUS), no alert
/// is lost, none printed twice; and a send whose delivery cannot be recorded is not sent
/// again.
#[tokio::test]
async fn a_full_disk_pauses_checks_and_loses_or_doubles_nothing() {
    let server = MockServer::start().await;
    let version = Arc::new(AtomicUsize::new(0));
    let armed = Arc::new(AtomicUsize::new(0));
    let store = Arc::new(FailingStore::new(SledStore::temporary().unwrap()));
    for p in ["a", "b", "c", "d"] {
        Mock::given(path(format!("/{p}")))
            .respond_with(FillingDisk {
                pages: vec![
                    html(p, "First text."),
                    html(p, "Second text."),
                    html(p, "Third text."),
                ],
                version: version.clone(),
                armed: armed.clone(),
                store: store.clone(),
            })
            .mount(&server)
            .await;
    }
    let config = config("concurrency = 1\n");
    let mut list = String::from("name = \"team\"\nschedule = \"*/10 * * * *\"\n");
    for p in ["a", "b", "c", "d"] {
        list.push_str(&format!(
            "\n[[watch]]\nid = \"{p}\"\nkind = \"page\"\nurl = \"{}/{p}\"\n",
            server.uri()
        ));
    }
    let lists = watchlists(&list, &config);
    let clock = Arc::new(ManualClock::new(at(9, 0)));
    let dyn_store: Arc<dyn Store> = store.clone();
    let out = Captured::default();
    let recorder = Arc::new(Recorder::default());
    let mut daemon = Running::start(
        engine(config, lists, dyn_store.clone(), clock.clone()),
        deliver_to(
            dyn_store.clone(),
            Arc::new(StdoutSink::to_writer(Format::Json, Box::new(out.clone()))),
            clock.clone(),
        ),
        recorder.clone(),
    );
    daemon.settled(1).await;

    // Every page changes; the disk fills on the third request of the cycle.
    version.store(1, Ordering::SeqCst);
    armed.store(3, Ordering::SeqCst);
    clock.set(at(9, 10));
    let paused = tokio::time::timeout(
        Duration::from_secs(20),
        daemon
            .progress
            .wait_for(|p| p.paused.is_some() && !p.delivering),
    )
    .await
    .expect("checks pause")
    .unwrap()
    .clone();
    assert!(
        paused
            .status_line()
            .contains("CHECKS PAUSED: the store cannot be written (the disk is full"),
        "{}",
        paused.status_line()
    );
    assert!(daemon.is_running(), "the daemon keeps running");
    // Only checks recorded (and flushed) before the disk filled may have been delivered.
    let early = out.alerts().len();
    assert!(
        early <= 2,
        "{early} alerts delivered from a cycle that filled the disk"
    );

    // Space is freed: within the retry interval the daemon resumes, reruns what it could
    // not record, and every change is alerted exactly once.
    store.set_failing(false);
    clock.advance(chrono::Duration::seconds(31));
    // Rounds cut short by the pause end too, so count rounds from here on, not exactly.
    // "Resumed and settled" can be reported before the rerun of what could not be
    // recorded, so wait for that rerun's alerts too (on progress reports, not on time).
    let quiet = |p: &Progress| p.paused.is_none() && p.settled() && p.next_check == Some(at(9, 20));
    let p = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let p = daemon.progress.borrow_and_update().clone();
            if quiet(&p) && out.alerts().len() >= 4 {
                return p;
            }
            daemon.progress.changed().await.expect("daemon alive");
        }
    })
    .await
    .unwrap_or_else(|_| {
        let alerted: Vec<String> = out.alerts().into_iter().map(|a| a.watch).collect();
        panic!(
            "checks did not resume, rerun and settle: {:?}, alerts for {alerted:?}",
            *daemon.progress.borrow()
        )
    });
    let mut watches: Vec<String> = out.alerts().into_iter().map(|a| a.watch).collect();
    watches.sort();
    assert_eq!(watches, ["a", "b", "c", "d"], "each change once, none lost");

    // A send that goes through but cannot be recorded: printed once, never again.
    version.store(2, Ordering::SeqCst);
    store.fail_only(&["mark_delivered"]);
    clock.set(at(9, 20));
    daemon.settled(p.cycles + 1).await;
    assert!(!out.alerts().is_empty());
    store.fail_only(&[]);
    clock.set(at(9, 30));
    daemon.settled(p.cycles + 2).await;
    let mut second: Vec<String> = out.alerts()[4..].iter().map(|a| a.watch.clone()).collect();
    second.sort();
    assert_eq!(
        second,
        ["a", "b", "c", "d"],
        "each printed once, none again"
    );
    assert!(
        store.outbox().unwrap().is_empty(),
        "reconciled as delivered"
    );
    let notices = recorder.notices();
    assert!(notices
        .iter()
        .any(|n| matches!(n, Notice::Status(s) if s.contains("CHECKS PAUSED"))));

    daemon.stop().await;
}

/// Issue 16, acceptance 6: one host that never answers among 20 watches on a 10-second
/// schedule. The other 19 are checked every 10 s (the server's request log) while the hung
/// one is still waiting; the hung one then reports its timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_host_delays_only_its_own_watch() {
    let server = MockServer::start().await;
    let hung = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(html("Page", "Same text."), "text/html")
                .set_delay(Duration::from_secs(3600)),
        )
        .mount(&hung)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(html("Page", "Same text."), "text/html"),
        )
        .mount(&server)
        .await;
    let config = Arc::new(
        Config::parse(
            "[fetch]\nallow_private = true\nretries = 0\ntimeout_secs = 2\nper_host_interval_secs = 0\n",
            Path::new("policywatch.toml"),
        )
        .unwrap(),
    );
    let mut list = String::from("name = \"team\"\nschedule = \"*/10 * * * * *\"\n");
    list.push_str(&format!(
        "\n[[watch]]\nid = \"hung\"\nkind = \"page\"\nurl = \"{}/hung\"\n",
        hung.uri()
    ));
    for i in 1..20 {
        list.push_str(&format!(
            "\n[[watch]]\nid = \"w{i}\"\nkind = \"page\"\nurl = \"{}/w{i}\"\n",
            server.uri()
        ));
    }
    let lists = watchlists(&list, &config);
    let clock = Arc::new(ManualClock::new(at(9, 0)));
    let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
    let out = Captured::default();
    let daemon = Running::start(
        engine(config, lists, store.clone(), clock.clone()),
        deliver_to(
            store.clone(),
            Arc::new(StdoutSink::to_writer(Format::Json, Box::new(out.clone()))),
            clock.clone(),
        ),
        Arc::new(Recorder::default()),
    );
    let only_hung_left = |p: &Progress, rounds: u64| p.checking == Some(1) && p.cycles >= rounds;
    let wait = |rounds: u64| {
        let mut progress = daemon.progress.clone();
        async move {
            tokio::time::timeout(
                Duration::from_secs(1),
                progress.wait_for(|p| only_hung_left(p, rounds)),
            )
            .await
            .unwrap_or_else(|_| panic!("round {rounds} of the 19 did not finish while one hung"))
            .unwrap()
            .clone()
        }
    };
    // 9:00:00: all 20 start; the 19 finish, the hung one is still waiting.
    wait(0).await;
    // 9:00:10 and 9:00:20: the 19 run again each time, well inside the hung one's timeout.
    clock.set(at(9, 0) + chrono::Duration::seconds(10));
    wait(1).await;
    clock.set(at(9, 0) + chrono::Duration::seconds(20));
    wait(2).await;
    let counts = hits(&server).await;
    assert_eq!(counts.len(), 19);
    assert!(
        counts.values().all(|n| *n == 3),
        "each of the 19 checked at :00, :10 and :20: {counts:?}"
    );
    assert_eq!(hung.received_requests().await.unwrap().len(), 1);
    // The hung one ends with its timeout, recorded for `status`.
    let mut progress = daemon.progress.clone();
    let failed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Some(e) = store.state("hung").unwrap().and_then(|s| s.last_error) {
                return e;
            }
            let _ = progress.changed().await;
        }
    })
    .await
    .expect("the hung watch reports");
    assert!(failed.contains("timed out after 2s"), "{failed}");
    daemon.stop().await;
}

/// The disk fills between marking alerts "being sent" and flushing that mark: the pass
/// stops before sending anything. Once the store works again the next pass prints the
/// alert, once; it used to count it delivered unprinted ("no recorded outcome").
#[tokio::test]
async fn an_alert_marked_but_not_sent_when_the_disk_fills_is_sent_once_it_is_freed() {
    let store = Arc::new(FailingStore::new(SledStore::temporary().unwrap()));
    store.record_alert(queued_alert()).unwrap();
    let out = Captured::default();
    let dyn_store: Arc<dyn Store> = store.clone();
    let dispatcher = deliver_to(
        dyn_store.clone(),
        Arc::new(StdoutSink::to_writer(Format::Json, Box::new(out.clone()))),
        Arc::new(ManualClock::new(at(9, 0))),
    );
    store.fail_only(&["flush"]);
    let err = dispatcher.drain_once().await.unwrap_err();
    assert!(err.to_string().contains("No space left on device"), "{err}");
    assert!(
        out.alerts().is_empty(),
        "nothing is sent before the mark is durable"
    );
    let marked = dyn_store.outbox().unwrap();
    assert!(
        marked[0].sending_since.is_some(),
        "the store says it is being sent"
    );

    store.fail_only(&[]);
    let report = dispatcher.drain_once().await.unwrap();
    assert_eq!(report.delivered, 1);
    let alerted: Vec<String> = out.alerts().into_iter().map(|a| a.title).collect();
    assert_eq!(alerted, ["Guidance"], "printed exactly once");
    assert!(dyn_store.outbox().unwrap().iter().all(|e| e.dead.is_none()));
    assert_eq!(dispatcher.drain_once().await.unwrap().delivered, 0);
    assert_eq!(out.alerts().len(), 1);
}
