//! Routing, digests and webhook destinations (issue 14), against local fakes of Discord,
//! Slack and Teams that check payload limits and schemas, with an injected clock.

#[path = "common/clocked.rs"]
mod clocked;
mod common;
#[path = "common/fake_discord.rs"]
mod fake_discord;
#[path = "common/fake_webhooks.rs"]
mod fake_webhooks;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use fake_discord::FakeDiscord;
use fake_webhooks::{FakeWebhooks, Step};
use policywatch::config::{Config, DiscordSettings};
use policywatch::data::{Alert, Severity};
use policywatch::notify::discord::{DiscordSink, DiscordToken};
use policywatch::notify::slack::SlackSink;
use policywatch::notify::stdout::{Format, StdoutSink};
use policywatch::notify::teams::TeamsSink;
use policywatch::notify::webhook::WebhookUrl;
use policywatch::notify::{Dispatcher, Router, Sink};
use policywatch::schedule::{Clock, ManualClock};
use policywatch::source::registry;
use policywatch::store::{NewChange, Store};
use policywatch::watchlist::{self, route};

const TOKEN: &str = "test-token";
const CHANNEL: u64 = 42;

const CONFIG: &str = "[destinations.bills-discord]\nkind = \"discord\"\nchannel = 42\n\n\
[destinations.govuk-teams]\nkind = \"teams\"\n\n[destinations.everything-slack]\nkind = \"slack\"\n";

const LIST: &str = r#"name = "team"

[[watch]]
id = "p"
kind = "page"
url = "https://example.org/"

[[route]]
events = ["bill.*"]
to = ["bills-discord"]

[[route]]
events = "govuk.*"
to = "govuk-teams"

[[route]]
to = ["everything-slack"]
deliver = "digest"
digest = "0 8 * * *"
"#;

fn config() -> Config {
    Config::parse(CONFIG, Path::new("policywatch.toml")).unwrap()
}

fn alert(i: u64, event: &str, severity: Severity, at: DateTime<Utc>) -> Alert {
    Alert {
        id: 0,
        watch: format!("{}-{}", event.split('.').next().unwrap(), i % 4),
        event: event.into(),
        title: format!("Document {i} <!channel> *bold* <b>html</b>"),
        url: format!("https://example.org/doc/{i}"),
        summary: format!("Change {i}: ping <@U024BE7LH> and <at>Everyone</at> **now**"),
        annotations: vec![],
        keywords: vec![],
        diff: String::new(),
        detected_at: at,
        severity,
        tone: Default::default(),
        watchlist: "team".into(),
        destination: None,
        mentions: vec![],
        from_version: None,
        to_version: None,
        fields: serde_json::Value::Null,
    }
}

struct Setup {
    store: Arc<dyn Store>,
    dispatcher: Dispatcher,
    clock: Arc<ManualClock>,
}

async fn setup(
    dir: &Path,
    discord: &FakeDiscord,
    hooks: &FakeWebhooks,
    start: DateTime<Utc>,
) -> Setup {
    let store: Arc<dyn Store> = Arc::new(common::reopen_store(dir, 1 << 20));
    let clock = Arc::new(ManualClock::new(start));
    let settings = DiscordSettings {
        api_base: Some(discord.base.parse().unwrap()),
        default_channel: None,
        send_timeout: Duration::from_secs(3),
        deliver_wait: Duration::from_secs(20),
        retry_base: Duration::from_millis(10),
        retry_max: Duration::from_millis(40),
        chat: Default::default(),
    };
    let token = DiscordToken::new(TOKEN, "test").unwrap().unwrap();
    let url = |path: &str| WebhookUrl::new(&format!("{}{path}", hooks.base), "test").unwrap();
    let sinks: Vec<Arc<dyn Sink>> = vec![
        Arc::new(DiscordSink::new(token, &settings).unwrap()),
        Arc::new(
            SlackSink::new(
                vec![("everything-slack".into(), url("/slack/everything"))],
                Duration::from_secs(2),
            )
            .unwrap(),
        ),
        Arc::new(
            TeamsSink::new(
                vec![("govuk-teams".into(), url("/teams/govuk"))],
                Duration::from_secs(2),
            )
            .unwrap(),
        ),
    ];
    let fallback: Arc<dyn Sink> = Arc::new(StdoutSink::to_writer(
        Format::Json,
        Box::new(std::io::sink()),
    ));
    let dispatcher = Dispatcher {
        unsent: Default::default(),
        store: store.clone(),
        sink: Arc::new(Router::new(sinks, fallback)),
        clock: clock.clone(),
        retry_base: Duration::from_millis(10),
        retry_max: Duration::from_millis(40),
    };
    Setup {
        store,
        dispatcher,
        clock,
    }
}

/// Records 3 bill, 5 GOV.UK and 40 page alerts detected at `at`, routed by the watchlist.
fn record_cycle(store: &dyn Store, at: DateTime<Utc>) -> Vec<u64> {
    let mut alerts = Vec::new();
    for i in 0..3 {
        alerts.push(alert(i, "bill.stage_changed", Severity::Major, at));
    }
    for i in 0..5 {
        alerts.push(alert(10 + i, "govuk.major_update", Severity::Notice, at));
    }
    for i in 0..40 {
        alerts.push(alert(100 + i, "page.changed", Severity::Notice, at));
    }
    record_routed(store, LIST, alerts, at)
}

/// Alert ids in a Slack message (from the `alert N)` of each digest line).
fn slack_ids(payload: &serde_json::Value) -> Vec<u64> {
    let text = serde_json::to_string(&payload["blocks"]).unwrap();
    text.split("alert ")
        .skip(1)
        .filter_map(|s| s.split(')').next()?.parse().ok())
        .collect()
}

fn teams_ids(payload: &serde_json::Value) -> Vec<u64> {
    let text = serde_json::to_string(&payload["attachments"]).unwrap();
    text.split(" · alert ")
        .skip(1)
        .filter_map(|s| s.split('"').next()?.parse().ok())
        .collect()
}

async fn routes_and_a_0800_digest(start: DateTime<Utc>, digest_at: DateTime<Utc>) {
    let dir = tempfile::tempdir().unwrap();
    let discord = FakeDiscord::start(TOKEN).await;
    let hooks = FakeWebhooks::start().await;
    let s = setup(dir.path(), &discord, &hooks, start).await;
    let ids = record_cycle(s.store.as_ref(), start);

    s.dispatcher.drain_once().await.unwrap();
    let posted = discord.posted();
    let embeds: usize = posted.iter().map(|p| p.embeds().len()).sum();
    assert_eq!(embeds, 3, "the 3 bill alerts to Discord");
    assert!(posted.iter().all(|p| p.channel == CHANNEL));
    let teams: Vec<u64> = hooks
        .received()
        .iter()
        .filter(|r| r.service == "teams")
        .flat_map(|r| teams_ids(&r.payload))
        .collect();
    assert_eq!(teams, ids[3..8], "the 5 GOV.UK alerts to Teams");
    assert!(
        hooks.received().iter().all(|r| r.service != "slack"),
        "the digest waits for 08:00"
    );

    // A minute before 08:00 local time: still nothing.
    s.clock.set(digest_at - chrono::Duration::minutes(1));
    s.dispatcher.drain_once().await.unwrap();
    assert!(hooks.received().iter().all(|r| r.service != "slack"));

    s.clock.set(digest_at);
    let r = s.dispatcher.drain_once().await.unwrap();
    assert_eq!(r.waiting, 0, "{r:?}");
    let slack: Vec<_> = hooks
        .received()
        .into_iter()
        .filter(|r| r.service == "slack")
        .collect();
    assert_eq!(slack.len(), 1, "48 alerts fit one Slack message");
    let listed = slack_ids(&slack[0].payload);
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(sorted, ids, "all 48 alerts, once each");
    assert_eq!(listed[..3], ids[..3], "major first");
    let text = serde_json::to_string(&slack[0].payload).unwrap();
    // Counts per event type, most first (`_` shown as a look-alike that mrkdwn ignores).
    assert!(
        text.contains(
            "48 alerts (3 major): page.changed 40, govuk.majorˍupdate 5, bill.stageˍchanged 3"
        ),
        "{text}"
    );
    assert!(hooks.refused().is_empty(), "{:?}", hooks.refused());
    assert!(s.store.outbox().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn bills_to_discord_govuk_to_teams_everything_in_a_0800_london_digest_in_winter() {
    // 08:00 in London in January is 08:00 UTC.
    routes_and_a_0800_digest(
        Utc.with_ymd_and_hms(2026, 1, 14, 6, 30, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 1, 14, 8, 0, 0).unwrap(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn and_in_summer() {
    // 08:00 BST is 07:00 UTC.
    routes_and_a_0800_digest(
        Utc.with_ymd_and_hms(2026, 7, 15, 5, 30, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 7, 15, 7, 0, 0).unwrap(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_outages_and_a_kill_mid_digest_lose_and_repeat_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let discord = FakeDiscord::start(TOKEN).await;
    let hooks = FakeWebhooks::start().await;
    let start = Utc.with_ymd_and_hms(2026, 1, 14, 6, 30, 0).unwrap();
    let digest_at = Utc.with_ymd_and_hms(2026, 1, 14, 8, 0, 0).unwrap();
    let ids = {
        let s = setup(dir.path(), &discord, &hooks, start).await;
        let ids = record_cycle(s.store.as_ref(), start);
        // Teams: 429 then 503, then it takes the message.
        hooks.script(Step::TooMany { retry_after: 0 }, 1);
        hooks.script(Step::ServerError(503), 1);
        for _ in 0..4 {
            s.dispatcher.drain_once().await.unwrap();
            s.clock.set(s.clock.now() + chrono::Duration::seconds(1));
        }
        // The digest: Slack says 429, then the process dies while the next attempt hangs.
        s.clock.set(digest_at);
        hooks.script(Step::TooMany { retry_after: 1 }, 1);
        let r = s.dispatcher.drain_once().await.unwrap();
        assert!(r.next_attempt.is_some(), "{r:?}");
        s.clock.set(digest_at + chrono::Duration::seconds(2));
        hooks.script(Step::Stall, 1);
        let killed =
            tokio::time::timeout(Duration::from_millis(300), s.dispatcher.drain_once()).await;
        assert!(killed.is_err(), "the stalled send was cut off");
        ids
        // Store, dispatcher and sinks dropped here: the process is gone.
    };
    // Restart on the same data directory; Slack answers 500 once, then works.
    let s = setup(
        dir.path(),
        &discord,
        &hooks,
        digest_at + chrono::Duration::minutes(5),
    )
    .await;
    hooks.script(Step::ServerError(500), 1);
    for _ in 0..3 {
        s.dispatcher.drain_once().await.unwrap();
        s.clock.set(s.clock.now() + chrono::Duration::seconds(5));
    }
    assert!(
        s.store.outbox().unwrap().is_empty(),
        "{:?}",
        s.store.outbox()
    );

    let mut seen: HashMap<(&str, u64), usize> = HashMap::new();
    let received = hooks.received();
    for r in &received {
        let got = match r.service {
            "slack" => slack_ids(&r.payload),
            _ => teams_ids(&r.payload),
        };
        for id in got {
            *seen.entry((r.service, id)).or_default() += 1;
        }
    }
    for id in &ids {
        assert_eq!(
            seen.get(&("slack", *id)),
            Some(&1),
            "alert {id} in exactly one digest"
        );
    }
    for id in &ids[3..8] {
        assert_eq!(
            seen.get(&("teams", *id)),
            Some(&1),
            "alert {id} once to Teams"
        );
    }
    assert_eq!(
        discord
            .posted()
            .iter()
            .map(|p| p.embeds().len())
            .sum::<usize>(),
        3
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn scraped_markup_is_inert_in_slack_and_teams() {
    let dir = tempfile::tempdir().unwrap();
    let discord = FakeDiscord::start(TOKEN).await;
    let hooks = FakeWebhooks::start().await;
    let start = Utc.with_ymd_and_hms(2026, 1, 14, 6, 30, 0).unwrap();
    let s = setup(dir.path(), &discord, &hooks, start).await;
    record_cycle(s.store.as_ref(), start);
    s.clock
        .set(Utc.with_ymd_and_hms(2026, 1, 14, 8, 0, 0).unwrap());
    s.dispatcher.drain_once().await.unwrap();
    s.dispatcher.drain_once().await.unwrap();
    for r in hooks.received() {
        let text = serde_json::to_string(&r.payload).unwrap();
        for raw in ["<!channel>", "<@U024BE7LH>", "<at>", "<b>"] {
            assert!(
                !text.contains(raw),
                "{} carries `{raw}` as markup: {text}",
                r.service
            );
        }
        if r.service == "slack" {
            // mrkdwn would make these bold.
            assert!(
                !text.contains("*bold*") && !text.contains("**now**"),
                "{text}"
            );
        } else {
            // Teams reads Markdown only in TextBlocks: scraped text is only in TextRuns.
            assert!(!text.contains("\"type\":\"TextBlock\""), "{text}");
        }
    }
    let slack = hooks
        .received()
        .into_iter()
        .find(|r| r.service == "slack")
        .unwrap();
    let text = serde_json::to_string(&slack.payload).unwrap();
    assert!(
        text.contains("&lt;!channel&gt;") && text.contains("∗bold∗"),
        "{text}"
    );
}

#[test]
fn validate_names_a_route_to_an_unknown_destination_with_its_position() {
    let p = common::Project::new();
    p.config("[destinations.team-slack]\nkind = \"slack\"\n");
    p.watchlist(
        "team.toml",
        "name = \"team\"\n\n[[route]]\nto = [\"team-slak\"]\n",
    );
    let out = p.cmd().arg("validate").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "team.toml:4:7: route sends to unknown destination `team-slak` (did you mean `team-slack`?); configured destinations: team-slack"
        ),
        "{err}"
    );
}

/// Everything the binary printed for one command line: exit code, stdout, stderr.
fn everything(p: &common::Project, env: &[(&str, String)], args: &[&str]) -> String {
    let mut cmd = p.cmd();
    cmd.env("POLICYWATCH_LOG", "warn,policywatch=debug");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.args(args).output().unwrap();
    format!(
        "$ policywatch {} (exit {:?})\n{}{}",
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A project with one page watch (its text moved by the returned counter) routed to the
/// Slack destination `team-slack` and the Teams destination `team-teams`; `check` waits
/// at most a second for deliveries.
async fn webhook_project() -> (
    common::Project,
    wiremock::MockServer,
    Arc<std::sync::atomic::AtomicUsize>,
) {
    let pages = wiremock::MockServer::start().await;
    let version = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    struct Page(Arc<std::sync::atomic::AtomicUsize>);
    impl wiremock::Respond for Page {
        fn respond(&self, _: &wiremock::Request) -> wiremock::ResponseTemplate {
            let v = self.0.load(std::sync::atomic::Ordering::SeqCst);
            wiremock::ResponseTemplate::new(200).set_body_raw(
                format!("<html><head><title>Guidance</title></head><body><main><p>Revision {v}</p></main></body></html>"),
                "text/html",
            )
        }
    }
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(Page(version.clone()))
        .mount(&pages)
        .await;
    let p = common::Project::new();
    p.config(
        "[fetch]\nallow_private = true\nper_host_interval_secs = 0.0\ntimeout_secs = 5.0\n\
         [discord]\ndeliver_wait_secs = 1\nretry_base_secs = 0.05\nretry_max_secs = 0.1\nsend_timeout_secs = 2\n\
         [destinations.team-slack]\nkind = \"slack\"\n[destinations.team-teams]\nkind = \"teams\"\n",
    );
    p.watchlist(
        "team.toml",
        &format!(
            "name = \"team\"\n[[watch]]\nid = \"guidance\"\nkind = \"page\"\nurl = \"{}/guidance\"\n\
             [[route]]\nto = [\"team-slack\", \"team-teams\"]\n",
            pages.uri()
        ),
    );
    (p, pages, version)
}

#[tokio::test(flavor = "multi_thread")]
async fn outbox_retry_and_drop_can_take_one_destination_of_an_alert() {
    let hooks = FakeWebhooks::start().await;
    let (p, _pages, version) = webhook_project().await;
    let env = [
        (
            "POLICYWATCH_WEBHOOK_TEAM_SLACK",
            format!("{}/slack/a", hooks.base),
        ),
        (
            "POLICYWATCH_WEBHOOK_TEAM_TEAMS",
            format!("{}/teams/b", hooks.base),
        ),
    ];
    let run = |args: &[&str]| {
        let out = p
            .cmd()
            .envs(env.iter().cloned())
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code(), text)
    };
    run(&["check"]);
    version.store(1, std::sync::atomic::Ordering::SeqCst);
    // Both services refuse the message: a dead letter for each destination.
    hooks.script(Step::ClientError(400), 2);
    run(&["check"]);
    let (_, list) = run(&["outbox", "list"]);
    assert_eq!(list.matches("dead: ").count(), 2, "{list}");
    let id = list.split_whitespace().next().unwrap().to_string();

    // Only the Slack copy again, by the destination's name.
    let (code, said) = run(&["outbox", "retry", &id, "--to", "team-slack"]);
    assert_eq!(code, Some(0), "{said}");
    assert_eq!(
        said.trim(),
        format!("alert {id} queued for delivery to slack:team-slack")
    );
    let (_, list) = run(&["outbox", "list"]);
    assert!(list.contains("to slack:team-slack: retrying"), "{list}");
    assert!(list.contains("to teams:team-teams: dead: "), "{list}");
    // A destination the alert does not wait for is an error naming both.
    let (code, said) = run(&["outbox", "drop", &id, "--to", "nowhere"]);
    assert_eq!(code, Some(2), "{said}");
    assert!(said.contains(&format!("{id} to nowhere")), "{said}");
    // The Teams copy dropped, as `outbox list` names it.
    let (code, said) = run(&["outbox", "drop", &id, "--to", "teams:team-teams"]);
    assert_eq!(code, Some(0), "{said}");
    assert_eq!(
        said.trim(),
        format!("alert {id} dropped for teams:team-teams")
    );

    let before = hooks.received().len();
    run(&["check"]);
    let sent: Vec<&str> = hooks.received()[before..]
        .iter()
        .map(|r| r.service)
        .collect();
    assert_eq!(sent, ["slack"], "only the Slack copy goes out");
    assert_eq!(run(&["outbox", "list"]).1.trim(), "outbox is empty");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_url_appears_in_no_log_error_status_or_outbox_listing_whatever_the_webhook_does()
{
    let hooks = FakeWebhooks::start().await;
    let (p, _pages, version) = webhook_project().await;
    // The secrets: each webhook's path (as Slack's and Teams' are), and a port where
    // nothing listens for "connection refused".
    let slack = format!("{}/slack/T0SECRET1-B0SECRET2-slacktoken", hooks.base);
    let teams = format!("{}/teams/workflows-SECRET3-teamssig", hooks.base);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refused = format!("http://127.0.0.1:{closed}/slack/T0SECRET4-refused");
    let env = |slack: &str| {
        vec![
            ("POLICYWATCH_WEBHOOK_TEAM_SLACK", slack.to_string()),
            ("POLICYWATCH_WEBHOOK_TEAM_TEAMS", teams.clone()),
        ]
    };
    let ok = env(&slack);
    let mut seen = String::new();
    // What anyone looking would see: `status` (text and JSON), the outbox, `validate`.
    let look = |env: &[(&str, String)]| {
        [
            &["status"][..],
            &["status", "--format", "json"],
            &["outbox", "list"],
            &["validate"],
        ]
        .iter()
        .map(|args| everything(&p, env, args))
        .collect::<String>()
    };

    seen.push_str(&everything(&p, &ok, &["check"]));
    version.store(1, std::sync::atomic::Ordering::SeqCst);
    // 5xx: retried, and the error kept for `status` and the outbox.
    hooks.script(Step::ServerError(500), 1000);
    seen.push_str(&everything(&p, &ok, &["check"]));
    seen.push_str(&look(&ok));
    // 404: the webhook is gone; the destination halts, naming where to set the URL.
    hooks.clear_script();
    hooks.script(Step::ClientError(404), 1000);
    seen.push_str(&everything(&p, &ok, &["check"]));
    seen.push_str(&look(&ok));
    // 400: the message is refused; dead letters with the service's reason.
    hooks.clear_script();
    hooks.script(Step::ClientError(400), 1000);
    seen.push_str(&everything(&p, &ok, &["check"]));
    seen.push_str(&look(&ok));
    // Nothing listening: connection refused.
    hooks.clear_script();
    let broken = env(&refused);
    let id = {
        let out = p.stdout(&["history", "--format", "json"]);
        common::json_lines(out.as_bytes())[0]["id"].to_string()
    };
    seen.push_str(&everything(&p, &broken, &["outbox", "retry", &id]));
    seen.push_str(&everything(&p, &broken, &["check"]));
    seen.push_str(&look(&broken));
    // A URL that is not a URL at all: the error names the variable, not the value.
    let garbage = env("not a url T0SECRET5");
    seen.push_str(&everything(&p, &garbage, &["check"]));
    seen.push_str(&everything(&p, &garbage, &["validate"]));
    // Working again: retried and delivered.
    seen.push_str(&everything(&p, &ok, &["outbox", "retry", &id]));
    seen.push_str(&everything(&p, &ok, &["check"]));
    seen.push_str(&look(&ok));

    // The failures were really seen (so the check below is not vacuous)…
    for said in [
        "Slack answered 500 (destination `team-slack`)",
        "Teams answered 500 (destination `team-teams`)",
        "Slack refused the webhook of destination `team-slack` (404",
        "set a working URL in POLICYWATCH_WEBHOOK_TEAM_SLACK",
        "Slack rejected the message for destination `team-slack` (400",
        "cannot reach Slack (destination `team-slack`)",
        "POLICYWATCH_WEBHOOK_TEAM_SLACK is not an http(s) URL",
        "to slack:team-slack",
        "to teams:team-teams",
    ] {
        assert!(seen.contains(said), "never said {said:?}:\n{seen}");
    }
    assert!(
        hooks.received().iter().any(|r| r.service == "slack")
            && hooks.received().iter().any(|r| r.service == "teams"),
        "delivered in the end"
    );
    // …and no URL, nor any part of one that is secret, was ever printed.
    // Not even the webhooks' host and port (the page watch's server is another port).
    let hooks_at = hooks.base.trim_start_matches("http://").to_string();
    let refused_at = format!("127.0.0.1:{closed}");
    for secret in [
        slack.as_str(),
        teams.as_str(),
        refused.as_str(),
        hooks_at.as_str(),
        refused_at.as_str(),
        "SECRET",
        "slacktoken",
        "teamssig",
        "/slack/",
        "/teams/",
    ] {
        assert!(!seen.contains(secret), "`{secret}` printed:\n{seen}");
    }
}

/// Records `alerts` detected at `at`, routed by the watchlist `list`.
fn record_routed(store: &dyn Store, list: &str, alerts: Vec<Alert>, at: DateTime<Utc>) -> Vec<u64> {
    let config = config();
    let list = watchlist::parse_file(
        list,
        Path::new("watchlists/team.toml"),
        &config,
        registry::kinds(),
    )
    .unwrap_or_else(|p| panic!("{p:?}"));
    alerts
        .into_iter()
        .map(|a| {
            let outgoing = route::plan(&list.routes, &a, at, list.schedule.timezone());
            store
                .record_alert(NewChange {
                    alert: a,
                    full_diff: String::new(),
                    outgoing,
                })
                .unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn route_mentions_reach_slack_and_teams_in_their_own_syntax() {
    let dir = tempfile::tempdir().unwrap();
    let discord = FakeDiscord::start(TOKEN).await;
    let hooks = FakeWebhooks::start().await;
    let start = Utc.with_ymd_and_hms(2026, 1, 14, 6, 30, 0).unwrap();
    let s = setup(dir.path(), &discord, &hooks, start).await;
    let list = r#"name = "team"

[[watch]]
id = "p"
kind = "page"
url = "https://example.org/"

[[route]]
events = ["bill.*"]
to = ["bills-discord", "everything-slack", "govuk-teams"]
mentions = ["role:987654321", "slack-user:U024BE7LH", "slack-group:S0614TZR7", "teams-user:alice@example.org"]

[[route]]
events = ["govuk.*"]
to = ["everything-slack"]
deliver = "digest"
digest = "0 8 * * *"
mentions = ["slack-group:S0614TZR7", "teams-user:bob@example.org"]
"#;
    let alerts = vec![
        alert(1, "bill.stage_changed", Severity::Major, start),
        alert(2, "govuk.major_update", Severity::Notice, start),
        alert(3, "govuk.major_update", Severity::Notice, start),
    ];
    record_routed(s.store.as_ref(), list, alerts, start);
    s.dispatcher.drain_once().await.unwrap();
    s.clock
        .set(Utc.with_ymd_and_hms(2026, 1, 14, 8, 0, 0).unwrap());
    s.dispatcher.drain_once().await.unwrap();
    assert!(hooks.refused().is_empty(), "{:?}", hooks.refused());
    assert!(s.store.outbox().unwrap().is_empty());

    let received = hooks.received();
    let slack: Vec<String> = received
        .iter()
        .filter(|r| r.service == "slack")
        .map(|r| serde_json::to_string(&r.payload).unwrap())
        .collect();
    assert_eq!(slack.len(), 2, "the bill alert, then the 08:00 digest");
    // Slack: its own ids as Slack writes them, in the blocks and the notification text.
    let bill = &received
        .iter()
        .find(|r| r.service == "slack")
        .unwrap()
        .payload;
    assert!(
        bill["text"]
            .as_str()
            .unwrap()
            .starts_with("<@U024BE7LH> <!subteam^S0614TZR7> "),
        "{bill}"
    );
    assert_eq!(
        bill["blocks"][0]["text"]["text"],
        "<@U024BE7LH> <!subteam^S0614TZR7>"
    );
    // The digest pings its route's mentions once.
    assert_eq!(
        slack[1].matches("<!subteam^S0614TZR7>").count(),
        2,
        "{}",
        slack[1]
    );
    assert!(!slack[1].contains("<@U024BE7LH>"), "{}", slack[1]);
    for text in &slack {
        // No other service's mention.
        for other in ["alice", "bob", "987654321", "<@&", "<at>"] {
            assert!(!text.contains(other), "{other} in {text}");
        }
    }
    // Teams: a mention entity per user, its `<at>` text in the card's one TextBlock (the
    // fake refuses a card whose tags and entities do not match).
    let teams: Vec<&serde_json::Value> = received
        .iter()
        .filter(|r| r.service == "teams")
        .map(|r| &r.payload)
        .collect();
    assert_eq!(teams.len(), 1);
    let card = &teams[0]["attachments"][0]["content"];
    assert_eq!(
        card["msteams"]["entities"],
        serde_json::json!([{
            "type": "mention",
            "text": "<at>alice@example.org</at>",
            "mentioned": {"id": "alice@example.org", "name": "alice@example.org"}
        }])
    );
    assert_eq!(card["body"][0]["type"], "TextBlock");
    assert_eq!(card["body"][0]["text"], "<at>alice@example.org</at>");
    let text = serde_json::to_string(card).unwrap();
    // (The alerts' scraped text quotes `<@U024BE7LH>`, made inert: not a mention.)
    for other in ["<@U024BE7LH>", "S0614TZR7", "987654321", "bob"] {
        assert!(!text.contains(other), "{other} in {text}");
    }
    // Discord: only its role, allowed explicitly.
    let posted = discord.posted();
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].payload["content"], "<@&987654321>");
    assert_eq!(posted[0].pinged.roles, [987654321]);
    assert!(posted[0].pinged.users.is_empty() && !posted[0].pinged.everyone);
}

#[tokio::test(flavor = "multi_thread")]
async fn quiet_hours_hold_minor_alerts_and_release_them_as_a_digest_at_their_end_in_the_lists_zone()
{
    use std::sync::atomic::{AtomicUsize, Ordering};
    // Three pages: two get a small edit (notice), one is rewritten (major).
    struct Pages(Arc<AtomicUsize>);
    impl wiremock::Respond for Pages {
        fn respond(&self, r: &wiremock::Request) -> wiremock::ResponseTemplate {
            let v = self.0.load(Ordering::SeqCst);
            let page = r.url.path().trim_start_matches('/');
            let mut paras: Vec<String> = (0..12)
                .map(|i| format!("Paragraph {i} of the {page} guidance, unchanged."))
                .collect();
            if v > 0 {
                if page == "major" {
                    paras = vec![format!(
                        "The {page} guidance is withdrawn; see the new code."
                    )];
                } else {
                    paras[3] = format!("Paragraph 3 of the {page} guidance, amended.");
                }
            }
            let body: String = paras.iter().map(|p| format!("<p>{p}</p>")).collect();
            wiremock::ResponseTemplate::new(200).set_body_raw(
                format!("<html><head><title>{page}</title></head><body><main>{body}</main></body></html>"),
                "text/html",
            )
        }
    }
    let version = Arc::new(AtomicUsize::new(0));
    let pages = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(Pages(version.clone()))
        .mount(&pages)
        .await;
    let hooks = FakeWebhooks::start().await;
    let p = common::Project::new();
    p.config("[destinations.night-slack]\nkind = \"slack\"\n");
    let mut list = String::from(
        "name = \"team\"\ntimezone = \"America/New_York\"\n\n[[route]]\nto = \"night-slack\"\nquiet_hours = \"22:00-07:00\"\n",
    );
    for id in ["minor-a", "minor-b", "major"] {
        list.push_str(&format!(
            "\n[[watch]]\nid = \"{id}\"\nkind = \"page\"\nurl = \"{}/{id}\"\n",
            pages.uri()
        ));
    }
    p.watchlist("team.toml", &list);

    // 20:00 in New York (01:00 UTC): baselines. 23:30 there (04:30 UTC): three changes.
    let c = clocked::Clocked::open(p.path(), clocked::at("2026-01-15T01:00:00Z"));
    assert!(c
        .check_at(clocked::at("2026-01-15T01:00:00Z"))
        .await
        .is_empty());
    version.store(1, Ordering::SeqCst);
    let alerts = c.check_at(clocked::at("2026-01-15T04:30:00Z")).await;
    let severity = |w: &str| alerts.iter().find(|a| a.watch == w).unwrap().severity;
    assert_eq!(
        [severity("minor-a"), severity("minor-b"), severity("major")],
        [Severity::Notice, Severity::Notice, Severity::Major]
    );
    let url = WebhookUrl::new(&format!("{}/slack/night", hooks.base), "test").unwrap();
    let slack: Arc<dyn Sink> = Arc::new(
        SlackSink::new(vec![("night-slack".into(), url)], Duration::from_secs(2)).unwrap(),
    );
    let store: Arc<dyn Store> = c.store.clone();
    let dispatcher = Dispatcher {
        unsent: Default::default(),
        store: store.clone(),
        sink: Arc::new(Router::new(
            vec![slack],
            Arc::new(StdoutSink::to_writer(
                Format::Json,
                Box::new(std::io::sink()),
            )),
        )),
        clock: c.clock.clone(),
        retry_base: Duration::from_millis(10),
        retry_max: Duration::from_millis(40),
    };
    let watches_in = |r: &fake_webhooks::Received| -> Vec<String> {
        let text = serde_json::to_string(&r.payload).unwrap();
        ["minor-a", "minor-b", "major"]
            .into_iter()
            .filter(|w| text.contains(&format!(" · {w} · ")) || text.contains(&format!("› {w}*")))
            .map(str::to_string)
            .collect()
    };

    // The major change goes at once, in the quiet hours; the two minor ones wait.
    let r = dispatcher.drain_once().await.unwrap();
    assert_eq!(r.waiting, 2, "{r:?}");
    let got = hooks.received();
    assert_eq!(got.len(), 1);
    assert_eq!(watches_in(&got[0]), ["major"]);
    // 07:00 in London (07:00 UTC) is 02:00 in New York: still quiet there. So is 06:59.
    for t in ["2026-01-15T07:00:00Z", "2026-01-15T11:59:00Z"] {
        c.clock.set(clocked::at(t));
        dispatcher.drain_once().await.unwrap();
        assert_eq!(hooks.received().len(), 1, "released early, at {t}");
    }
    // 07:00 in New York (12:00 UTC): one digest with both.
    c.clock.set(clocked::at("2026-01-15T12:00:00Z"));
    let r = dispatcher.drain_once().await.unwrap();
    assert_eq!(r.waiting, 0, "{r:?}");
    let got = hooks.received();
    assert_eq!(got.len(), 2, "one digest message");
    assert_eq!(watches_in(&got[1]), ["minor-a", "minor-b"]);
    assert!(
        got[1].payload["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .starts_with("*Digest:* 2 alerts"),
        "{}",
        got[1].payload
    );
    assert!(store.outbox().unwrap().is_empty());
    assert!(hooks.refused().is_empty(), "{:?}", hooks.refused());
}
