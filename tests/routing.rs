//! Routing, digests and webhook destinations (issue 14), against local fakes of Discord,
//! Slack and Teams that check payload limits and schemas, with an injected clock.

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
use policywatch::store::{NewChange, SledStore, Store};
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
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir, 1 << 20).unwrap());
    let clock = Arc::new(ManualClock::new(start));
    let settings = DiscordSettings {
        api_base: Some(discord.base.parse().unwrap()),
        default_channel: None,
        send_timeout: Duration::from_secs(3),
        deliver_wait: Duration::from_secs(20),
        retry_base: Duration::from_millis(10),
        retry_max: Duration::from_millis(40),
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
    let config = config();
    let list = watchlist::parse_file(
        LIST,
        Path::new("watchlists/team.toml"),
        &config,
        registry::kinds(),
    )
    .unwrap();
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
