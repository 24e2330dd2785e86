//! Alerts delivered to Discord: within its limits, pinging nobody, never lost, never twice,
//! never leaking the token. Against a local fake of Discord's API
//! (`tests/common/fake_discord.rs`) that validates like Discord does and can be told to
//! rate-limit, fail or be down.

mod common;
#[path = "common/fake_discord.rs"]
mod fake_discord;

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use common::Project;
use fake_discord::{Answer, FakeDiscord, Posted, Step};
use policywatch::config::DiscordSettings;
use policywatch::data::Destination;
use policywatch::event::{Alert, Severity};
use policywatch::notify::discord::{DiscordSink, DiscordToken};
use policywatch::notify::{backoff, Delivery, Dispatcher, Sink};
use policywatch::schedule::{Clock, ManualClock, SystemClock};
use policywatch::store::{FailingStore, NewChange, SledStore, Store};
use policywatch::watchlist::Mention;
use serde_json::Value;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Shaped like a real bot token, so a leak would be recognisable.
const TOKEN: &str = "MTE5NjQ4MjA1NzY0MzY4MjA5Ng.GxYzAb.policywatch-test-secret_0123456789";
const CHANNEL: u64 = 1_200_000_000_000_000_042;
const RETRY_BASE: Duration = Duration::from_millis(10);
const RETRY_MAX: Duration = Duration::from_millis(40);

fn settings(base: &str) -> DiscordSettings {
    DiscordSettings {
        api_base: Some(base.parse().unwrap()),
        default_channel: None,
        send_timeout: Duration::from_secs(3),
        deliver_wait: Duration::from_secs(20),
        retry_base: RETRY_BASE,
        retry_max: RETRY_MAX,
        chat: Default::default(),
    }
}

fn sink(base: &str) -> Arc<dyn Sink> {
    sink_with(TOKEN, settings(base))
}

fn sink_with(token: &str, settings: DiscordSettings) -> Arc<dyn Sink> {
    let token = DiscordToken::new(token, "test").unwrap().unwrap();
    Arc::new(DiscordSink::new(token, &settings).unwrap())
}

fn dispatcher(store: Arc<dyn Store>, sink: Arc<dyn Sink>, clock: Arc<dyn Clock>) -> Dispatcher {
    Dispatcher {
        unsent: Default::default(),
        store,
        sink,
        clock,
        retry_base: RETRY_BASE,
        retry_max: RETRY_MAX,
    }
}

fn cycle(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap() + chrono::Duration::minutes(30 * n)
}

fn change(watch: &str, title: &str, summary: &str, diff: &str, at: DateTime<Utc>) -> NewChange {
    NewChange {
        alert: Alert {
            id: 0,
            watch: watch.into(),
            event: "page.changed".into(),
            title: title.into(),
            url: format!("https://example.org/{watch}"),
            summary: summary.into(),
            annotations: vec!["Matched keyword: modern slavery".into()],
            keywords: vec!["modern slavery".into()],
            diff: diff.chars().take(3000).collect(),
            detected_at: at,
            severity: Severity::Notice,
            tone: Default::default(),
            watchlist: "anti-slavery".into(),
            destination: Some(Destination::discord(CHANNEL)),
            mentions: vec![],
            from_version: Some(1),
            to_version: Some(2),
            fields: Value::Null,
        },
        full_diff: diff.into(),
        outgoing: vec![],
    }
}

fn small_diff(i: usize) -> String {
    format!("@@ -1,2 +1,2 @@\n The Commissioner said:\n-old wording {i}\n+new wording {i}\n")
}

/// Alert ids of every posted embed, in posting order (from the footer `… · alert N`).
fn posted_ids(posted: &[Posted]) -> Vec<u64> {
    posted
        .iter()
        .flat_map(|p| p.embeds())
        .map(|e| {
            let footer = e["footer"]["text"].as_str().unwrap().to_string();
            footer.rsplit(' ').next().unwrap().parse().unwrap()
        })
        .collect()
}

/// The text with every ``` block removed.
fn without_code_blocks(text: &str) -> String {
    text.split("```").step_by(2).collect()
}

#[tokio::test]
async fn hostile_text_a_huge_diff_and_forty_alerts_arrive_without_a_400_or_a_ping() {
    let fake = FakeDiscord::start(TOKEN).await;
    let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());

    // 1: a 300 KB diff.
    let mut huge = String::from("@@ -1,3000 +1,3000 @@\n");
    let mut n = 0;
    while huge.len() < 300 * 1024 {
        huge.push_str(&format!(
            "-The Secretary of State must publish guidance, paragraph {n}.\n"
        ));
        huge.push_str(&format!(
            "+The Secretary of State may publish guidance, paragraph {n}.\n"
        ));
        n += 1;
    }
    store
        .record_alert(change(
            "guidance",
            "Statutory guidance",
            "Text changed: +3000 −3000 lines",
            &huge,
            cycle(0),
        ))
        .unwrap();
    // 2: a page whose text tries to ping, fake a link and break the fence.
    let hostile =
        "Thanks @everyone and @here! Ask <@&123> or <@456>. [click](https://evil.example) ```";
    let mut c = change(
        "commissioner",
        hostile,
        hostile,
        &format!("@@ -1 +1 @@\n-Old\n+{hostile}\n"),
        cycle(0),
    );
    c.alert.annotations = vec![hostile.into()];
    c.alert.keywords = vec!["@everyone".into(), "[click](https://evil.example)".into()];
    store.record_alert(c).unwrap();
    // 3: the subscribers the watchlist configured: these, and only these, are pinged.
    let mut c = change(
        "bill-3548",
        "Crime and Policing Bill",
        "Commons: Committee stage → Report stage",
        &small_diff(3),
        cycle(0),
    );
    c.alert.mentions = vec![Mention::User(555), Mention::Role(777)];
    store.record_alert(c).unwrap();
    // 4..=40: an ordinary busy cycle.
    for i in 4..=40 {
        store
            .record_alert(change(
                &format!("page-{i}"),
                &format!("Publications page {i}"),
                "Text changed: +1 −1 lines",
                &small_diff(i),
                cycle(0),
            ))
            .unwrap();
    }

    let d = dispatcher(store.clone(), sink(&fake.base), Arc::new(SystemClock));
    let report = d
        .drain_until(Utc::now() + chrono::Duration::seconds(20))
        .await
        .unwrap();
    assert_eq!(
        (report.delivered, report.waiting, report.dead),
        (40, 0, 0),
        "{report:?}"
    );

    assert!(
        fake.rejections().is_empty(),
        "Discord refused: {:?}",
        fake.rejections()
    );
    let posted = fake.posted();
    assert_eq!(
        posted_ids(&posted),
        (1..=40).collect::<Vec<u64>>(),
        "each once, in order"
    );
    // 10 embeds a message at most, the huge diff's file alone in its message: 4 or 5.
    assert!(
        posted.len() <= 5,
        "grouped into few messages, got {}",
        posted.len()
    );

    for p in &posted {
        let has_subscribers = p
            .embeds()
            .iter()
            .any(|e| e["title"] == "Crime and Policing Bill");
        if has_subscribers {
            assert!(!p.pinged.everyone);
            assert_eq!(
                (p.pinged.users.clone(), p.pinged.roles.clone()),
                (vec![555], vec![777])
            );
            assert_eq!(p.payload["content"], "<@555> <@&777>");
        } else {
            assert!(p.pinged.nobody(), "pinged {:?}", p.pinged);
        }
        assert_eq!(
            p.payload["allowed_mentions"]["parse"],
            serde_json::json!([])
        );
        // No scraped text can form a mention anywhere in the message, nor a link outside
        // the diff's code block (where Discord shows text as it is).
        let text = p.payload.to_string();
        for needle in ["@everyone", "@here", "<@&123>", "<@456>"] {
            assert!(!text.contains(needle), "`{needle}` left live in {text}");
        }
        let outside_code = without_code_blocks(&text);
        for needle in ["[click](", "](https://evil"] {
            assert!(
                !outside_code.contains(needle),
                "`{needle}` left live in {outside_code}"
            );
        }
    }

    // The hostile page reads as its text, escaped, with its diff fence intact.
    let embed = posted
        .iter()
        .flat_map(|p| p.embeds())
        .find(|e| e["footer"]["text"].as_str().unwrap().ends_with("alert 2"))
        .unwrap();
    let description = embed["description"].as_str().unwrap();
    assert!(embed["title"]
        .as_str()
        .unwrap()
        .contains("\\[click\\]\\(https://evil.example\\)"));
    assert_eq!(description.matches("```").count(), 2, "{description}");
    assert!(description.contains("```diff\n"));

    // The huge diff: an excerpt, a note, and the whole diff as a file.
    let with_file: Vec<&Posted> = posted.iter().filter(|p| !p.files.is_empty()).collect();
    assert_eq!(with_file.len(), 1);
    let (name, bytes) = &with_file[0].files[0];
    assert_eq!(name, "guidance-1.diff");
    assert_eq!(bytes, huge.as_bytes());
    let first = &with_file[0].embeds()[0];
    let description = first["description"].as_str().unwrap();
    assert!(description.contains("Diff too long"), "{description}");
    assert!(description.contains("full diff attached as `guidance-1.diff`"));
    assert!(description.chars().count() <= 4096);
}

/// First a dispatcher that meets a rate limit, a server error and an outage (and is then
/// "restarted": dropped with its store), then a fresh one on the same data directory.
#[tokio::test]
async fn through_429_500_and_an_outage_every_alert_arrives_once_in_order_across_a_restart() {
    let fake = FakeDiscord::start(TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let open = || -> Arc<dyn Store> { Arc::new(common::reopen_store(dir.path(), 4 << 20)) };

    let store = open();
    let mut expected = Vec::new();
    for c in 0..3 {
        for i in 0..4 {
            let id = store
                .record_alert(change(
                    &format!("w{c}-{i}"),
                    &format!("Doc {c}.{i}"),
                    "Changed",
                    &small_diff(i),
                    cycle(c),
                ))
                .unwrap();
            expected.push(id);
        }
    }
    store.flush().unwrap();

    fake.script(
        Step::RateLimited {
            retry_after: 0.01,
            global: false,
        },
        1,
    );
    fake.script(Step::ServerError(500), 2);
    fake.script(Step::Down, 3);

    // Before the restart: time moves only when told, so each pass makes one attempt.
    let clock = Arc::new(ManualClock::new(cycle(1)));
    let d = dispatcher(store.clone(), sink(&fake.base), clock.clone());
    let r = d.drain_once().await.unwrap();
    assert_eq!((r.delivered, r.waiting), (0, 12));
    let head = store.outbox().unwrap()[0].clone();
    assert!(
        head.last_error
            .as_deref()
            .unwrap()
            .contains("rate limited by Discord"),
        "{head:?}"
    );
    // Discord's retry_after, not the backoff.
    assert_eq!(
        head.next_attempt_at,
        Some(clock.now() + chrono::Duration::milliseconds(10))
    );

    clock.advance(chrono::Duration::seconds(1));
    d.drain_once().await.unwrap();
    let head = store.outbox().unwrap()[0].clone();
    assert_eq!(head.attempts, 2);
    assert!(
        head.last_error
            .as_deref()
            .unwrap()
            .contains("Discord answered 500"),
        "{head:?}"
    );
    let wait = chrono::Duration::from_std(backoff(2, RETRY_BASE, RETRY_MAX)).unwrap();
    assert_eq!(head.next_attempt_at, Some(clock.now() + wait));

    clock.advance(chrono::Duration::seconds(1));
    d.drain_once().await.unwrap();
    clock.advance(chrono::Duration::seconds(1));
    d.drain_once().await.unwrap();
    let head = store.outbox().unwrap()[0].clone();
    assert!(
        head.last_error
            .as_deref()
            .unwrap()
            .contains("cannot reach Discord"),
        "{head:?}"
    );
    assert!(fake.posted().is_empty());
    drop(d);
    drop(store);

    // After the restart: same data directory, new sink; the queue survived.
    let store = open();
    assert_eq!(store.outbox().unwrap().len(), 12);
    let d = dispatcher(store.clone(), sink(&fake.base), Arc::new(SystemClock));
    let r = d
        .drain_until(Utc::now() + chrono::Duration::seconds(20))
        .await
        .unwrap();
    assert_eq!((r.delivered, r.waiting, r.dead), (12, 0, 0), "{r:?}");

    let posted = fake.posted();
    assert_eq!(posted_ids(&posted), expected, "every alert once, in order");
    assert_eq!(posted.len(), 3, "one message per cycle");
    let answers = fake.answers();
    assert_eq!(
        answers[..6],
        [
            Answer::Status(429),
            Answer::Status(500),
            Answer::Status(500),
            Answer::Dropped,
            Answer::Dropped,
            Answer::Dropped
        ]
    );
    assert!(store.outbox().unwrap().is_empty());
    for id in expected {
        assert!(store.change(id).unwrap().unwrap().delivered_at.is_some());
    }
}

#[tokio::test]
async fn a_resend_after_a_crash_is_not_posted_twice() {
    let fake = FakeDiscord::start(TOKEN).await;
    let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
    for i in 0..3 {
        store
            .record_alert(change(
                &format!("w{i}"),
                "Doc",
                "Changed",
                &small_diff(i),
                cycle(0),
            ))
            .unwrap();
    }

    // The process sends, then dies before marking anything delivered.
    let records: Vec<_> = store
        .outbox()
        .unwrap()
        .iter()
        .map(|e| store.change(e.id).unwrap().unwrap())
        .collect();
    let first = sink(&fake.base)
        .send(Some(&Destination::discord(CHANNEL)), &records)
        .await;
    assert_eq!(first, vec![Delivery::Delivered; 3]);
    assert_eq!(
        store.outbox().unwrap().len(),
        3,
        "nothing marked: the crash"
    );

    // On restart the same alerts go again, with the same nonce; Discord keeps one.
    let d = dispatcher(store.clone(), sink(&fake.base), Arc::new(SystemClock));
    let r = d
        .drain_until(Utc::now() + chrono::Duration::seconds(10))
        .await
        .unwrap();
    assert_eq!(r.delivered, 3);
    let posted = fake.posted();
    assert_eq!(posted.len(), 1, "posted once");
    // The group's nonce: the first alert's id and a hash of all three.
    assert!(
        posted[0].nonce().unwrap().starts_with("pw1g"),
        "{:?}",
        posted[0].nonce()
    );
    assert_eq!(posted[0].payload["enforce_nonce"], true);
    assert_eq!(
        fake.answers(),
        vec![
            Answer::Posted(posted[0].id),
            Answer::Deduplicated(posted[0].id)
        ]
    );
    assert!(store.outbox().unwrap().is_empty());
}

#[tokio::test]
async fn a_post_whose_answer_is_lost_is_retried_and_not_posted_twice() {
    let fake = FakeDiscord::start(TOKEN).await;
    let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
    store
        .record_alert(change("w", "Doc", "Changed", &small_diff(1), cycle(0)))
        .unwrap();
    // Discord creates the message, but the answer never arrives in time.
    fake.script(Step::PostThenStall(Duration::from_secs(3)), 1);
    let mut s = settings(&fake.base);
    s.send_timeout = Duration::from_millis(300);
    let d = dispatcher(store.clone(), sink_with(TOKEN, s), Arc::new(SystemClock));
    let r = d
        .drain_until(Utc::now() + chrono::Duration::seconds(10))
        .await
        .unwrap();
    assert_eq!(r.delivered, 1);
    assert_eq!(fake.posted().len(), 1);
    let id = fake.posted()[0].id;
    assert_eq!(
        fake.answers(),
        vec![Answer::Posted(id), Answer::Deduplicated(id)]
    );
}

#[tokio::test]
async fn an_emptied_rate_limit_bucket_is_waited_out_instead_of_earning_a_429() {
    let fake = FakeDiscord::start(TOKEN).await;
    fake.bucket(1, Duration::from_millis(100));
    let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
    for c in 0..3 {
        store
            .record_alert(change("w", "Doc", "Changed", &small_diff(1), cycle(c)))
            .unwrap();
    }
    let d = dispatcher(store.clone(), sink(&fake.base), Arc::new(SystemClock));
    let started = std::time::Instant::now();
    let r = d.drain_once().await.unwrap();
    assert_eq!(r.delivered, 3, "{r:?}");
    assert!(
        fake.answers()
            .iter()
            .all(|a| matches!(a, Answer::Posted(_))),
        "{:?}",
        fake.answers()
    );
    // Two waits of about the window: paced, not hammered.
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn a_refused_alert_becomes_a_dead_letter_with_discords_reason_and_the_rest_go_on() {
    let fake = FakeDiscord::start(TOKEN).await;
    let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
    for i in 1..=3 {
        store
            .record_alert(change(
                &format!("w{i}"),
                "Doc",
                "Changed",
                &small_diff(i),
                cycle(0),
            ))
            .unwrap();
    }
    let mut lost = change("w4", "Doc", "Changed", &small_diff(4), cycle(1));
    lost.alert.destination = None;
    store.record_alert(lost).unwrap();

    // Discord refuses the grouped message, then alert 1 on its own; 2 and 3 go through.
    let refusal = Step::Refuse {
        code: 50008,
        message: "Cannot send messages in a non-text channel",
    };
    fake.script(refusal, 2);
    let d = dispatcher(store.clone(), sink(&fake.base), Arc::new(SystemClock));
    let r = d
        .drain_until(Utc::now() + chrono::Duration::seconds(10))
        .await
        .unwrap();
    assert_eq!((r.delivered, r.dead, r.waiting), (2, 2, 0), "{r:?}");

    let outbox = store.outbox().unwrap();
    let reasons: Vec<(u64, String)> = outbox
        .iter()
        .map(|e| (e.id, e.dead.clone().unwrap()))
        .collect();
    assert_eq!(reasons.len(), 2);
    assert_eq!(reasons[0].0, 1);
    assert_eq!(
        reasons[0].1,
        "Discord rejected the message (400, code 50008: Cannot send messages in a non-text channel)"
    );
    assert_eq!(reasons[1].0, 4);
    assert!(
        reasons[1]
            .1
            .starts_with("no Discord channel configured for watchlist `anti-slavery`"),
        "{}",
        reasons[1].1
    );
    assert_eq!(posted_ids(&fake.posted()), vec![2, 3]);
}

/// Collects everything logged, at every level and from every crate.
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

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn the_token_appears_in_no_log_line_and_no_error() {
    let logs = Captured::default();
    // Global, with the `log` bridge, so reqwest's and sled's `log` records are caught too
    // (and those of the other tests in this binary, which use the same token).
    use tracing_subscriber::util::SubscriberInitExt;
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish()
        .try_init()
        .expect("only this test installs a subscriber");

    let fake = FakeDiscord::start(TOKEN).await;
    let store: Arc<dyn Store> = Arc::new(SledStore::temporary().unwrap());
    let mut seen = Vec::new();
    let record = |i: usize| change(&format!("w{i}"), "Doc", "Changed", &small_diff(i), cycle(0));

    // Delivered; rate limited; refused as invalid; refused for the token; unreachable.
    store.record_alert(record(1)).unwrap();
    let d = dispatcher(store.clone(), sink(&fake.base), Arc::new(SystemClock));
    fake.script(
        Step::RateLimited {
            retry_after: 0.01,
            global: true,
        },
        1,
    );
    fake.script(Step::ServerError(503), 1);
    let r = d
        .drain_until(Utc::now() + chrono::Duration::seconds(10))
        .await
        .unwrap();
    assert_eq!(r.delivered, 1);
    assert_eq!(
        fake.authorizations().last().map(String::as_str),
        Some(format!("Bot {TOKEN}").as_str())
    );

    let wrong = "MTE5NjQ4MjA1NzY0MzY4MjA5Ng.GxYzAb.a-wrong-token-also-secret_99";
    store.record_alert(record(2)).unwrap();
    let d = dispatcher(
        store.clone(),
        sink_with(wrong, settings(&fake.base)),
        Arc::new(SystemClock),
    );
    let r = d
        .drain_until(Utc::now() + chrono::Duration::seconds(10))
        .await
        .unwrap();
    let halted = r.halted.clone().expect("401 halts delivery");
    assert!(halted.contains("401"), "{halted}");
    seen.push(halted);
    seen.push(format!(
        "{d:?}",
        d = DiscordToken::new(wrong, "test").unwrap().unwrap()
    ));

    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/", l.local_addr().unwrap())
    };
    let unreachable = sink_with(TOKEN, settings(&closed));
    let records = vec![store.change(2).unwrap().unwrap()];
    for outcome in unreachable
        .send(Some(&Destination::discord(CHANNEL)), &records)
        .await
    {
        seen.push(format!("{outcome:?}"));
    }
    assert!(
        seen.iter().any(|s| s.contains("cannot reach Discord")),
        "{seen:?}"
    );

    for e in store.outbox().unwrap() {
        seen.extend(e.last_error.clone());
        seen.extend(e.dead.clone());
    }
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("hyper_util") && logs.contains("sled"),
        "every crate's records caught"
    );
    assert!(
        logs.contains("Discord delivery stopped"),
        "the halt is logged"
    );
    for secret in [
        TOKEN,
        wrong,
        "policywatch-test-secret",
        "a-wrong-token-also-secret",
    ] {
        assert!(!logs.contains(secret), "token in the logs");
        for s in &seen {
            assert!(!s.contains(secret), "token in an error: {s}");
        }
    }
}

/// The CLI end to end: `check` with the token in the environment posts to Discord instead
/// of stdout; a failing watch raises one `watch.failing`, a recovery one `watch.recovered`.
#[tokio::test(flavor = "multi_thread")]
async fn check_posts_alerts_and_watch_health_to_discord_once_each_way() {
    let fake = FakeDiscord::start(TOKEN).await;
    let pages = MockServer::start().await;
    let serve = |body: &'static str, status: u16| {
        let pages = &pages;
        async move {
            pages.reset().await;
            Mock::given(path("/notices"))
                .respond_with(
                    ResponseTemplate::new(status)
                        .set_body_raw(body.as_bytes().to_vec(), "text/html"),
                )
                .mount(pages)
                .await;
        }
    };
    let p = Project::new();
    p.config(&format!(
        "[fetch]\nallow_private = true\nper_host_interval_secs = 0.0\nretries = 0\nretry_base_secs = 0.01\nretry_max_secs = 0.02\ntimeout_secs = 5.0\n\
         [discord]\napi_base = \"{}\"\nchannel = {CHANNEL}\nretry_base_secs = 0.01\nretry_max_secs = 0.05\ndeliver_wait_secs = 20.0\n\
         [health]\nfailing_after = 2\n",
        fake.base
    ));
    p.watchlist(
        "team.toml",
        &format!(
            "name = \"anti-slavery\"\nmentions = [\"role:777\"]\n[[watch]]\nid = \"notices\"\nkind = \"page\"\nurl = \"{}/notices\"\n",
            pages.uri()
        ),
    );
    let check = |p: &Project| {
        let mut cmd = p.cmd();
        cmd.env("POLICYWATCH_DISCORD_TOKEN", TOKEN)
            .args(["check", "--format", "json"]);
        async move {
            let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
                .await
                .unwrap();
            let (stdout, stderr) = (
                String::from_utf8(out.stdout).unwrap(),
                String::from_utf8(out.stderr).unwrap(),
            );
            // 3 when its only watch failed (the 503 rounds); delivery runs either way.
            let failed = stderr.contains("1 of 1 watch failed");
            assert_eq!(
                out.status.code(),
                Some(if failed { 3 } else { 0 }),
                "{stderr}"
            );
            assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
            (stdout, stderr)
        }
    };

    serve("<html><body><p>Notice one.</p></body></html>", 200).await;
    check(&p).await;
    assert!(fake.posted().is_empty(), "a baseline alerts nothing");

    serve("<html><body><p>Notice one.</p><p>New notice: @everyone read [this](https://evil.example).</p></body></html>", 200).await;
    let (stdout, stderr) = check(&p).await;
    assert_eq!(stdout, "", "alerts go to Discord, not stdout");
    assert!(stderr.contains("1 alert delivered"), "{stderr}");
    let posted = fake.posted();
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].payload["content"], "<@&777>");
    assert_eq!(
        (posted[0].pinged.everyone, posted[0].pinged.roles.clone()),
        (false, vec![777])
    );
    let embed = &posted[0].embeds()[0];
    assert_eq!(embed["fields"][0]["value"], "page.changed");
    assert!(embed["description"]
        .as_str()
        .unwrap()
        .contains("+New notice: @\u{200B}everyone"));

    // Down twice: one watch.failing; a third failure says nothing more.
    serve("", 503).await;
    for _ in 0..3 {
        check(&p).await;
    }
    serve("<html><body><p>Notice one.</p><p>New notice: @everyone read [this](https://evil.example).</p></body></html>", 200).await;
    check(&p).await;
    check(&p).await;

    let events: Vec<String> = fake
        .posted()
        .iter()
        .flat_map(|m| m.embeds())
        .map(|e| e["fields"][0]["value"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(events, ["page.changed", "watch.failing", "watch.recovered"]);
    let health: Vec<Value> = fake
        .posted()
        .iter()
        .flat_map(|m| m.embeds())
        .skip(1)
        .collect();
    for e in &health {
        assert_eq!(e["color"], 0x95A5A6, "watch health is grey");
    }
    assert!(health[0]["description"]
        .as_str()
        .unwrap()
        .contains("Failing 2 checks running"));
    assert!(fake.posted().iter().all(|m| !m.pinged.everyone));
    let unique: HashSet<_> = fake
        .posted()
        .iter()
        .map(|m| m.nonce().unwrap().to_string())
        .collect();
    assert_eq!(unique.len(), fake.posted().len());
}

/// A refused token stops delivery, keeps the alerts queued and shows in `status`.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_token_stops_delivery_and_status_says_so() {
    let fake = FakeDiscord::start(TOKEN).await;
    let pages = MockServer::start().await;
    let p = Project::new();
    p.config(&format!(
        "[fetch]\nallow_private = true\nper_host_interval_secs = 0.0\nretries = 0\n[discord]\napi_base = \"{}\"\nchannel = {CHANNEL}\nretry_base_secs = 0.01\n",
        fake.base
    ));
    p.watchlist(
        "team.toml",
        &format!(
            "name = \"t\"\n[[watch]]\nid = \"n\"\nkind = \"page\"\nurl = \"{}/n\"\n",
            pages.uri()
        ),
    );
    let run = |p: &Project, args: &'static [&'static str], token: &'static str| {
        let mut cmd = p.cmd();
        cmd.env("POLICYWATCH_DISCORD_TOKEN", token).args(args);
        async move {
            let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
                .await
                .unwrap();
            assert!(out.status.success());
            String::from_utf8(out.stdout).unwrap() + &String::from_utf8(out.stderr).unwrap()
        }
    };
    for (i, body) in ["<p>one</p>", "<p>two</p>"].iter().enumerate() {
        pages.reset().await;
        Mock::given(path("/n"))
            .respond_with(
                ResponseTemplate::new(200).set_body_raw(body.as_bytes().to_vec(), "text/html"),
            )
            .mount(&pages)
            .await;
        let out = run(&p, &["check"], "wrong-token-value").await;
        assert!(!out.contains("wrong-token-value"));
        if i == 1 {
            assert!(out.contains("delivery stopped"), "{out}");
            assert!(out.contains("1 queued"), "{out}");
        }
    }
    let status = run(&p, &["status"], "wrong-token-value").await;
    assert!(status.contains("401"), "{status}");
    assert!(!status.contains("wrong-token-value"));
    assert!(fake.posted().is_empty());

    // With the right token the queued alert goes out and the halt is cleared.
    let out = run(&p, &["check"], TOKEN).await;
    assert!(out.contains("1 alert delivered"), "{out}");
    assert_eq!(fake.posted().len(), 1);
}

/// Issue 16: a post that went through but whose delivery could not be recorded (a full
/// disk) is sent again only with its nonce, within Discord's dedup window: posted once.
/// Past that window it is never posted blind: it becomes a dead letter saying why.
#[tokio::test]
async fn a_post_whose_delivery_cannot_be_recorded_is_not_posted_twice() {
    let fake = FakeDiscord::start(TOKEN).await;
    let failing = Arc::new(FailingStore::new(SledStore::temporary().unwrap()));
    let store: Arc<dyn Store> = failing.clone();
    for i in 0..3 {
        store
            .record_alert(change(
                &format!("w{i}"),
                "Doc",
                "Changed",
                &small_diff(i),
                cycle(0),
            ))
            .unwrap();
    }
    let clock = Arc::new(policywatch::schedule::ManualClock::new(Utc::now()));
    let d = dispatcher(store.clone(), sink(&fake.base), clock.clone());
    failing.fail_only(&["mark_delivered"]);
    assert!(
        d.drain_once().await.is_err(),
        "the delivery could not be recorded"
    );
    assert_eq!(fake.posted().len(), 1, "the post went through");
    failing.fail_only(&[]);
    clock.advance(chrono::Duration::seconds(30));
    let r = d.drain_once().await.unwrap();
    assert_eq!(r.delivered, 3);
    assert_eq!(
        fake.posted().len(),
        1,
        "posted once: the repeat was dropped by its nonce"
    );
    assert!(store.outbox().unwrap().is_empty());

    // Past the window: never posted blind.
    store
        .record_alert(change("w9", "Doc", "Changed", &small_diff(9), cycle(0)))
        .unwrap();
    failing.fail_only(&["mark_delivered"]);
    assert!(d.drain_once().await.is_err());
    failing.fail_only(&[]);
    clock.advance(chrono::Duration::minutes(10));
    let r = d.drain_once().await.unwrap();
    assert_eq!((r.delivered, r.dead), (0, 1));
    assert_eq!(fake.posted().len(), 2, "not posted again");
    let dead = store.outbox().unwrap();
    assert!(
        dead[0]
            .dead
            .as_deref()
            .unwrap()
            .contains("delivery outcome unknown"),
        "{dead:?}"
    );
}
