//! Crash safety: the daemon is killed with SIGKILL at 50 random moments while every cycle
//! finds changes, and restarted; afterwards nothing is missing or repeated in the versions,
//! the history or what reached (a fake) Discord. A store that cannot be opened is a clear
//! message with a way out and exit 1, never a panic.
//!
//! Nothing here depends on how fast the machine is: each kill waits for what the daemon
//! tells "systemd" (READY, then for every other run a cycle under way) before its random
//! delay, and the assertions count versions, changes and posts, never time. The only
//! bounds on time are hang guards (minutes), far beyond any load.

mod common;
#[path = "common/fake_discord.rs"]
mod fake_discord;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fake_discord::{Answer, FakeDiscord};
use serde_json::Value;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const KILLS: usize = 50;
/// How long a run may take to say READY or to start a cycle before the test calls it hung:
/// not a speed requirement, only a guard so a hang fails instead of blocking the suite.
const HANG: Duration = Duration::from_secs(180);
const PAGES: usize = 4;
const CHANNEL: u64 = 42;
const TOKEN: &str = "test-token";

/// Every request gets a new revision of the page: every check is a change.
struct EverChanging {
    served: Arc<Mutex<HashMap<String, u64>>>,
}

impl Respond for EverChanging {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let page = request.url.path().to_string();
        let n = {
            let mut served = self.served.lock().unwrap();
            let n = served.entry(page.clone()).or_default();
            *n += 1;
            *n
        };
        ResponseTemplate::new(200).set_body_raw(
            format!(
                "<html><head><title>Guidance {page}</title></head><body><main>\
                 <p>Revision {n} of {page}.</p></main></body></html>"
            ),
            "text/html; charset=utf-8",
        )
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    pages: MockServer,
    discord: FakeDiscord,
    runtime: tokio::runtime::Runtime,
}

/// Local page server and fake Discord (on a runtime of their own, so the test thread can
/// block on processes), and a project pointing at both.
fn setup() -> Setup {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pages = runtime.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(EverChanging {
                served: Arc::default(),
            })
            .mount(&server)
            .await;
        server
    });
    // The shared fake: strict like Discord, and like Discord with `enforce_nonce` it
    // answers a repeated nonce with the message already created instead of posting again.
    let discord = runtime.block_on(FakeDiscord::start(TOKEN));
    let discord_base = discord.base.trim_end_matches('/').to_string();

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    std::fs::write(
        root.join("policywatch.toml"),
        format!(
            "[fetch]\nallow_private = true\nretries = 0\ntimeout_secs = 5\nper_host_interval_secs = 0\n\n\
             [discord]\napi_base = \"{discord_base}\"\nchannel = {CHANNEL}\n\
             send_timeout_secs = 5\ndeliver_wait_secs = 20\n"
        ),
    )
    .unwrap();
    std::fs::create_dir(root.join("watchlists")).unwrap();
    let mut list = String::from("name = \"team\"\n# Every second: each run of the daemon is mostly cycles.\nschedule = \"*/1 * * * * *\"\n");
    for i in 0..PAGES {
        list.push_str(&format!(
            "\n[[watch]]\nid = \"page-{i}\"\nkind = \"page\"\nurl = \"{}/page-{i}\"\n",
            pages.uri()
        ));
    }
    std::fs::write(root.join("watchlists/team.toml"), list).unwrap();
    Setup {
        _dir: dir,
        root,
        pages,
        discord,
        runtime,
    }
}

fn policywatch(root: &Path) -> Command {
    let mut cmd = common::process(root);
    cmd.env("POLICYWATCH_DISCORD_TOKEN", TOKEN);
    cmd
}

fn json_lines(out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Reads what the daemon tells "systemd" until a message satisfies `until` (kept, with
/// everything before it, in `into`); panics if none comes within [`HANG`].
fn wait_for(socket: &UnixDatagram, into: &mut Vec<String>, until: impl Fn(&str) -> bool) {
    let mut buf = [0u8; 4096];
    socket.set_read_timeout(Some(HANG)).unwrap();
    loop {
        let n = socket
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("the daemon said nothing for {HANG:?} ({e}): {into:?}"));
        let lines: Vec<String> = String::from_utf8_lossy(&buf[..n])
            .lines()
            .map(|l| l.trim().to_string())
            .collect();
        let done = lines.iter().any(|m| until(m));
        into.extend(lines);
        if done {
            return;
        }
    }
}

/// Reads what the daemons told "systemd", without waiting.
fn drain(socket: &UnixDatagram, into: &mut Vec<String>) {
    let mut buf = [0u8; 4096];
    socket.set_nonblocking(true).unwrap();
    while let Ok(n) = socket.recv(&mut buf) {
        for line in String::from_utf8_lossy(&buf[..n]).lines() {
            into.push(line.trim().to_string());
        }
    }
    socket.set_nonblocking(false).unwrap();
}

#[test]
fn sigkill_at_random_moments_loses_and_repeats_nothing() {
    let s = setup();
    let notify_path = s.root.join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    let log = s.root.join("daemon.log");
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5EED_C0FF_EE00);
    // Seeded, so a failure replays with CRASH_SEED.
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut notices = Vec::new();
    let mut readies = 0;
    let mut cycles_seen = 0;

    for kill in 0..KILLS {
        let mut child: Child = policywatch(&s.root)
            .arg("run")
            .env("NOTIFY_SOCKET", &notify_path)
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .unwrap(),
            )
            .spawn()
            .unwrap();
        // Anywhere from fetching through committing, flushing and posting: a cycle starts
        // at once (watches are overdue) and then every second. Every run gets as far as
        // READY, every other one into a cycle, before its random delay (whatever the load).
        let before = notices.len();
        wait_for(&notify, &mut notices, |m| m == "READY=1");
        if kill % 2 == 1 {
            wait_for(&notify, &mut notices, |m| m.starts_with("STATUS=checking"));
        }
        std::thread::sleep(Duration::from_millis(rng.u64(..1200)));
        if let Ok(Some(status)) = child.try_wait() {
            let mut text = String::new();
            std::fs::File::open(&log)
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            panic!("policywatch run exited by itself ({status}):\n{text}");
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        drain(&notify, &mut notices);
        readies += notices[before..].iter().filter(|m| *m == "READY=1").count();
        cycles_seen += notices[before..]
            .iter()
            .filter(|m| m.starts_with("STATUS=checking"))
            .count();
    }

    // Two last clean runs deliver whatever the killed ones left queued; the second finds a
    // change on every page whatever the killed runs managed to record.
    for _ in 0..2 {
        let check = policywatch(&s.root)
            .args(["check", "--format", "json"])
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stderr)
        );
    }

    // Versions: per watch, seq 1..=n with none missing, each a revision not seen before.
    let versions = json_lines(&policywatch(&s.root).arg("export").output().unwrap());
    let mut latest: BTreeMap<String, u64> = BTreeMap::new();
    let mut revisions: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for v in &versions {
        let watch = v["watch"].as_str().unwrap().to_string();
        let seq = v["seq"].as_u64().unwrap();
        let expected = latest.get(&watch).map_or(1, |s| s + 1);
        assert_eq!(seq, expected, "{watch}: version {expected} missing");
        latest.insert(watch.clone(), seq);
        let text = v["document"]["text"].as_str().unwrap();
        let n: u64 = text
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected page text {text:?}"));
        revisions.entry(watch).or_default().push(n);
    }
    assert_eq!(latest.len(), PAGES, "every watch has versions: {latest:?}");
    for (watch, revs) in &revisions {
        assert!(
            revs.windows(2).all(|w| w[0] < w[1]),
            "{watch}: a revision stored twice or out of order: {revs:?}"
        );
    }

    // History: exactly one page.changed per version after the baseline, naming it.
    let history = json_lines(
        &policywatch(&s.root)
            .args(["history", "--format", "json"])
            .output()
            .unwrap(),
    );
    let mut per_version: HashMap<(String, u64), usize> = HashMap::new();
    for h in &history {
        assert_eq!(h["event"], "page.changed", "{h}");
        let watch = h["watch"].as_str().unwrap().to_string();
        let to = h["to_version"].as_u64().unwrap();
        assert_eq!(h["from_version"].as_u64(), Some(to - 1), "{h}");
        let revs = &revisions[&watch];
        let (old, new) = (revs[to as usize - 2], revs[to as usize - 1]);
        let diff = h["diff"].as_str().unwrap();
        assert!(
            diff.contains(&format!("-Revision {old} "))
                && diff.contains(&format!("+Revision {new} ")),
            "alert for {watch} v{to} shows the wrong change:\n{diff}"
        );
        assert!(h["delivered_at"].is_string(), "undelivered: {h}");
        *per_version.entry((watch, to)).or_default() += 1;
    }
    for (watch, n) in &latest {
        for to in 2..=*n {
            assert_eq!(
                per_version.get(&(watch.clone(), to)),
                Some(&1),
                "{watch} version {to}: changes in history must appear exactly once"
            );
        }
    }
    assert_eq!(per_version.len(), history.len());

    // Discord: every alert in exactly one accepted message (by the `… · alert N` footers).
    let messages = s.discord.posted();
    let repeats = s
        .discord
        .answers()
        .iter()
        .filter(|a| matches!(a, Answer::Deduplicated(_)))
        .count();
    let mut posted: HashMap<u64, usize> = HashMap::new();
    for m in &messages {
        for e in m.embeds() {
            let id: u64 = e["footer"]["text"]
                .as_str()
                .and_then(|t| t.rsplit("alert ").next()?.trim().parse().ok())
                .unwrap_or_else(|| panic!("an embed without its alert id: {e}"));
            *posted.entry(id).or_default() += 1;
        }
    }
    let ids: HashSet<u64> = history.iter().map(|h| h["id"].as_u64().unwrap()).collect();
    assert_eq!(posted.keys().copied().collect::<HashSet<_>>(), ids);
    assert!(
        posted.values().all(|n| *n == 1),
        "an alert posted twice: {posted:?}"
    );
    assert!(messages.iter().all(|m| m.channel == CHANNEL));

    // The kills really landed in the middle of things: every run was ready, every other one
    // was killed in a cycle (counted, not timed). The last check changed every page once
    // more, so each watch has at least that change.
    assert_eq!(readies, KILLS, "every run got as far as READY");
    assert!(
        cycles_seen >= KILLS / 2,
        "only {cycles_seen} cycles started"
    );
    assert!(
        history.len() >= PAGES,
        "only {} changes recorded",
        history.len()
    );
    eprintln!(
        "{KILLS} kills (seed {seed:#x}): {readies} runs ready, {cycles_seen} cycles \
         started, {} versions, {} changes, {} Discord messages, {} resends absorbed by nonce",
        versions.len(),
        history.len(),
        messages.len(),
        repeats
    );
    drop(s.discord);
    drop(s.pages);
    s.runtime.shutdown_background();
}

/// Runs `cmd` to its end, or fails the test if it is still running after [`HANG`].
fn not_hung(cmd: &mut Command) -> Output {
    let out = assert_cmd::Command::from_std(std::mem::replace(cmd, Command::new("true")))
        .timeout(HANG)
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some(),
        "still running after {HANG:?}: it waited on the lock"
    );
    out
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_clear_failure(out: &Output, says: &[&str]) {
    let err = stderr_of(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for s in says {
        assert!(err.contains(s), "expected {s:?} in: {err}");
    }
}

#[test]
fn a_data_directory_that_is_a_file_is_reported_with_a_way_out() {
    let s = setup();
    std::fs::write(s.root.join("data"), "not a directory").unwrap();
    let out = policywatch(&s.root).arg("status").output().unwrap();
    assert_clear_failure(
        &out,
        &[
            "cannot open the store at data",
            "it is a file, not a directory",
            "Point --data (POLICYWATCH_DATA) at a directory; to start a new store, move the file aside",
        ],
    );
    // The real cause is named; history is never advised away.
    assert!(!stderr_of(&out).contains("damaged"), "{}", stderr_of(&out));

    // The way out the message gives: move it aside; the first check re-baselines every
    // watch and raises no alert flood.
    std::fs::rename(s.root.join("data"), s.root.join("data.broken")).unwrap();
    let check = policywatch(&s.root)
        .args(["check", "--format", "json"])
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", stderr_of(&check));
    assert!(check.stdout.is_empty(), "no alerts on re-baseline");
    assert!(
        stderr_of(&check).contains(&format!("{PAGES} baseline")),
        "{}",
        stderr_of(&check)
    );
    assert!(s.discord.posted().is_empty());
    s.runtime.shutdown_background();
}

static SOCKETS: AtomicU64 = AtomicU64::new(0);

#[test]
fn a_store_locked_by_a_running_daemon_is_reported_not_waited_on() {
    let s = setup();
    let notify_path = s.root.join(format!(
        "lock{}.sock",
        SOCKETS.fetch_add(1, Ordering::Relaxed)
    ));
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify.set_read_timeout(Some(HANG)).unwrap();
    let mut daemon = policywatch(&s.root)
        .arg("run")
        .env("NOTIFY_SOCKET", &notify_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = notify.recv(&mut buf).expect("the daemon says READY");
    assert_eq!(&buf[..n], b"READY=1\n");

    // Commands that need the store ask the running daemon over its control socket
    // (tests/cli_beside_daemon.rs compares their output). Waiting on the lock would wait
    // for ever: the hang guard turns that into a failure.
    let out = not_hung(policywatch(&s.root).arg("history"));
    assert!(out.status.success(), "{}", stderr_of(&out));
    // With no daemon answering (its socket gone), they say the store is busy.
    // (`status` falls back to the daemon's snapshot: tests/daemon.rs.)
    std::fs::remove_file(s.root.join("data/control.sock")).unwrap();
    let out = not_hung(policywatch(&s.root).arg("history"));
    assert_clear_failure(
        &out,
        &[
            "cannot open the store at data: it is in use by another policywatch process (pid ",
            "If another policywatch is running on this data directory, stop it first",
            "Nothing is wrong with the store",
        ],
    );
    assert!(
        !stderr_of(&out).contains("start again"),
        "{}",
        stderr_of(&out)
    );
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    // Once it is gone the store opens again.
    let out = policywatch(&s.root).arg("status").output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    s.runtime.shutdown_background();
}
