//! The channel as a control room: slash commands and triage reactions over serenity's
//! gateway client, against the one fake Discord (`tests/common/fake_discord.rs`), which
//! serves the HTTP API and the gateway and checks answers as Discord does (3-second
//! window, flags, limits, allowed mentions). The daemon runs in-process on a manual clock
//! (its cycles are driven by the test); the gateway runs on real sockets and every wait is
//! on an event (the fake's changes, the daemon's progress), never on time passing.

mod common;
#[path = "common/fake_discord.rs"]
mod fake_discord;
#[path = "common/parliament.rs"]
mod parliament;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, TimeZone, Utc};
use common::fixture;
use fake_discord::{FakeDiscord, FakeUser, GUILD};
use policywatch::chat::gateway;
use policywatch::config::Config;
use policywatch::cycle::Engine;
use policywatch::daemon::{self, Options, Progress};
use policywatch::fetch::Fetcher;
use policywatch::live::Live;
use policywatch::notify::discord::{DiscordSink, DiscordToken};
use policywatch::notify::Dispatcher;
use policywatch::schedule::ManualClock;
use policywatch::source::registry;
use policywatch::store::{SledStore, Store};
use policywatch::watchlist;
use serde_json::{json, Value};
use tokio::sync::watch;

const TOKEN: &str = "MTE5NjQ4MjA1NzY0MzY4MjA5Ng.GxYzAb.policywatch-chat-secret_0123456789";
const CHANNEL: u64 = 1_200_000_000_000_000_042;
const OFFICER_ROLE: u64 = 1_500_000_000_000_000_001;

fn officer() -> FakeUser {
    FakeUser {
        id: 1_600_000_000_000_000_001,
        name: "Olivia",
        roles: vec![OFFICER_ROLE],
    }
}

fn member() -> FakeUser {
    FakeUser {
        id: 1_600_000_000_000_000_002,
        name: "Max",
        roles: vec![1_500_000_000_000_000_099],
    }
}

fn json_fixture(name: &str) -> Value {
    serde_json::from_slice(&fixture(&format!("bills-api/{name}"))).unwrap()
}

/// A bill as served: detail, stages, publications.
type Served = (Value, Value, Value);

/// A fake Bills API (summaries by id, search, detail, stages, publications) serving what
/// the test sets, logging every request.
#[derive(Clone, Default)]
struct Bills {
    /// Bill id → (detail, stages, publications).
    bills: Arc<Mutex<HashMap<u32, Served>>>,
    search: Arc<Mutex<Value>>,
    log: Arc<Mutex<Vec<String>>>,
    /// While false, listings wait (a slow API the test releases).
    open: Arc<Mutex<Option<watch::Receiver<bool>>>>,
}

impl Bills {
    fn serve_3548(&self, detail: &str) {
        self.bills.lock().unwrap().insert(
            3548,
            (
                json_fixture(detail),
                json_fixture("GET_Bills_3548_Stages__built_from_detail_currentStage.json"),
                json_fixture("GET_Bills_512_Publications.json"),
            ),
        );
    }

    fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

async fn bills_listing(State(b): State<Bills>, RawQuery(q): RawQuery) -> Response {
    let q = q.unwrap_or_default();
    b.log.lock().unwrap().push(format!("/api/v1/Bills?{q}"));
    let gate = b.open.lock().unwrap().clone();
    if let Some(mut gate) = gate {
        let _ = gate.wait_for(|open| *open).await;
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
        .into_owned()
        .collect();
    if pairs.iter().any(|(k, _)| k == "SearchTerm") {
        return Json(b.search.lock().unwrap().clone()).into_response();
    }
    let bills = b.bills.lock().unwrap();
    let items: Vec<Value> = pairs
        .iter()
        .filter(|(k, _)| k == "BillIds")
        .filter_map(|(_, v)| bills.get(&v.parse().ok()?).map(|b| b.0.clone()))
        .collect();
    Json(json!({"items": items, "totalResults": items.len(), "itemsPerPage": 20})).into_response()
}

async fn bill_part(State(b): State<Bills>, UrlPath(rest): UrlPath<String>) -> Response {
    b.log.lock().unwrap().push(format!("/api/v1/Bills/{rest}"));
    let mut parts = rest.split('/');
    let id: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let bills = b.bills.lock().unwrap();
    let Some((detail, stages, publications)) = bills.get(&id) else {
        return (
            axum::http::StatusCode::NOT_FOUND,
            Json(json!({"title": "Not Found", "status": 404})),
        )
            .into_response();
    };
    match parts.next() {
        None => Json(detail.clone()).into_response(),
        Some("Stages") => Json(stages.clone()).into_response(),
        Some(_) => Json(publications.clone()).into_response(),
    }
}

/// A page server counting every request, with one page whose text the test changes.
#[derive(Clone, Default)]
struct Pages {
    text: Arc<Mutex<String>>,
    hits: Arc<Mutex<usize>>,
}

async fn page(State(p): State<Pages>) -> Response {
    *p.hits.lock().unwrap() += 1;
    let text = p.text.lock().unwrap().clone();
    axum::response::Html(format!(
        "<html><head><title>ICO news</title></head><body><main><p>{text}</p></main></body></html>"
    ))
    .into_response()
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, h, m, 0).unwrap()
}

struct Harness {
    discord: FakeDiscord,
    bills: Bills,
    pages: Pages,
    pages_uri: String,
    live: Arc<Live>,
    store: Arc<SledStore>,
    clock: Arc<ManualClock>,
    progress: watch::Receiver<Progress>,
    _dir: tempfile::TempDir,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Harness {
    /// The daemon (one page watch in watchlist `team`, posting to [`CHANNEL`]) and the
    /// gateway, both running; returns once the bot is connected and its commands registered
    /// and the first cycle is delivered.
    async fn start(extra_discord: &str) -> Harness {
        Harness::start_with("", extra_discord).await
    }

    /// [`Harness::start`] with more `[sources]` lines.
    async fn start_with(extra_sources: &str, extra_discord: &str) -> Harness {
        Harness::start_on(
            FakeDiscord::start(TOKEN).await,
            extra_sources,
            extra_discord,
        )
        .await
    }

    /// [`Harness::start_with`] on a fake Discord the test set up.
    async fn start_on(discord: FakeDiscord, extra_sources: &str, extra_discord: &str) -> Harness {
        let bills = Bills::default();
        bills.serve_3548("GET_Bills_3548__detail.json");
        let bills_uri = serve(
            Router::new()
                .route("/api/v1/Bills", get(bills_listing))
                .route("/api/v1/Bills/{*rest}", get(bill_part))
                .with_state(bills.clone()),
        )
        .await;
        let pages = Pages::default();
        *pages.text.lock().unwrap() = "No news yet.".into();
        let pages_uri = serve(Router::new().fallback(get(page)).with_state(pages.clone())).await;

        let dir = tempfile::tempdir().unwrap();
        let config_text = format!(
            "[fetch]\nallow_private = true\nper_host_interval_secs = 0.0\nretries = 0\ntimeout_secs = 5.0\n\
             [sources]\nparliament_bills = \"{bills_uri}/\"\n{extra_sources}\
             [discord]\napi_base = \"{}\"\nguild = {GUILD}\nmanage_roles = [{OFFICER_ROLE}]\n\
             send_timeout_secs = 5.0\nretry_base_secs = 0.01\nretry_max_secs = 0.05\n{extra_discord}",
            discord.base
        );
        let config = Arc::new(Config::parse(&config_text, Path::new("policywatch.toml")).unwrap());
        let list = watchlist::parse_file(
            &format!(
                "name = \"team\"\nschedule = \"*/10 * * * *\"\nchannel = {CHANNEL}\nkeywords = [\"report stage\"]\n\n\
                 [[watch]]\nid = \"ico-news\"\nkind = \"page\"\nurl = \"{pages_uri}/news\"\n"
            ),
            Path::new("watchlists/team.toml"),
            &config,
            registry::kinds(),
        )
        .unwrap_or_else(|p| panic!("{p:?}"));
        let store = Arc::new(SledStore::open(&dir.path().join("data"), 1 << 20).unwrap());
        let clock = Arc::new(ManualClock::new(at(9, 0)));
        let engine = Engine {
            fetcher: Arc::new(Fetcher::new(&config.fetch).unwrap()),
            config: config.clone(),
            watchlists: Arc::new(watchlist::Watchlists { lists: vec![list] }),
            store: store.clone(),
            clock: clock.clone(),
        };
        let live = Live::fixed(engine);
        let token = DiscordToken::new(TOKEN, "test").unwrap().unwrap();
        let sink = Arc::new(DiscordSink::new(token.clone(), &config.discord).unwrap());
        let dispatcher = Dispatcher {
            unsent: Default::default(),
            store: store.clone(),
            sink,
            clock: clock.clone(),
            retry_base: Duration::from_millis(10),
            retry_max: Duration::from_millis(50),
        };
        let (progress_tx, progress) = watch::channel(Progress::default());
        let options = Options {
            notifier: Arc::new(Silent),
            watchdog: None,
            progress: progress_tx,
            status_snapshot: None,
        };
        let d = tokio::spawn({
            let live = live.clone();
            async move {
                let _ = daemon::run_live(live, dispatcher, std::future::pending(), options).await;
            }
        });
        let g = tokio::spawn(gateway::serve(live.clone(), token));
        let mut h = Harness {
            discord,
            bills,
            pages,
            pages_uri,
            live,
            store,
            clock,
            progress,
            _dir: dir,
            tasks: vec![d, g],
        };
        h.discord.wait_connected(1, 0).await;
        h.discord
            .wait_for("the slash commands", |f| f.registered_commands().len() == 7)
            .await;
        h.settled(1).await;
        h
    }

    /// Waits for the daemon to finish `cycles` cycles and deliver what they found.
    async fn settled(&mut self, cycles: u64) {
        tokio::time::timeout(
            Duration::from_secs(20),
            self.progress
                .wait_for(|p| p.cycles >= cycles && p.settled()),
        )
        .await
        .unwrap_or_else(|_| panic!("daemon did not settle after cycle {cycles}"))
        .expect("daemon alive");
    }

    /// A command line as the daemon answers it (the same code the binary runs).
    fn cli(&self, args: &[&str]) -> String {
        let mut argv = vec!["policywatch"];
        argv.extend_from_slice(args);
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let mut out = Vec::new();
        policywatch::cli::execute_args(&self.live, &argv, &mut out)
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        String::from_utf8(out).unwrap()
    }

    /// Runs a slash command and returns its final answer (checked within the window).
    async fn slash(
        &self,
        user: &FakeUser,
        name: &str,
        options: Value,
    ) -> fake_discord::InteractionReply {
        let id = self.discord.slash(user, CHANNEL, name, options);
        let replies = self.discord.answered(id).await;
        let first = &replies[0];
        eprintln!("/{name}: first answer after {:?}", first.latency);
        assert!(
            first.latency < fake_discord::ANSWER_WINDOW,
            "answered after {:?}",
            first.latency
        );
        assert!(
            self.discord.refused_answers().is_empty(),
            "{:?}",
            self.discord.refused_answers()
        );
        replies.last().unwrap().clone()
    }
}

/// systemd notices go nowhere here.
struct Silent;

impl policywatch::daemon::Notifier for Silent {
    fn notify(&self, _: &policywatch::daemon::Notice) {}
}

fn follow(kind: &str, what: &str) -> Value {
    json!([{"name": kind, "type": 1, "options": [{"name": "what", "type": 3, "value": what}]}])
}

/// Who has marked the change reviewed, in the order the marks were recorded.
fn reviewed_by(store: &dyn Store, change: u64) -> Vec<String> {
    store
        .change(change)
        .unwrap()
        .unwrap()
        .reviews
        .into_iter()
        .filter(|r| r.mark == "reviewed")
        .map(|r| r.by)
        .collect()
}

/// Polls the store (cheap, in memory) until `f` holds: reactions are handled on the bot's
/// own task, which tells nobody when it is done.
async fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..4000 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("gave up waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_bill_by_id_confirms_with_its_stage_checks_it_and_status_names_who() {
    let mut h = Harness::start("threads = true\n").await;
    let intents = h.discord.identifies()[0]["intents"].as_u64().unwrap();
    assert_eq!(
        intents,
        1 | 1 << 10,
        "guilds and guild message reactions only"
    );

    // Without a manage role: a polite refusal, nothing stored, nothing fetched.
    let before = h.bills.requests().len();
    let refused = h.slash(&member(), "follow", follow("bill", "3548")).await;
    assert!(refused.ephemeral());
    assert!(
        refused
            .content()
            .starts_with("Sorry, following and unfollowing are for the roles"),
        "{}",
        refused.content()
    );
    assert!(h.store.follows().unwrap().is_empty());
    assert_eq!(h.bills.requests().len(), before);

    let reply = h.slash(&officer(), "follow", follow("bill", "3548")).await;
    assert_eq!(reply.kind(), 4);
    assert!(reply.ephemeral());
    assert_eq!(
        reply.content(),
        "Following `bill-3548` in watchlist `team`: **High Streets \\(Designation, Review and \
         Improvement Plan\\) Bill**, now at Commons: Committee stage. Its changes will be posted here."
    );
    let follows = h.store.follows().unwrap();
    assert_eq!(follows.len(), 1);
    assert_eq!(
        follows[0].followed_by,
        "Olivia on Discord (user 1600000000000000001)"
    );

    // The follow wakes the scheduler: the bill's baseline is the next cycle.
    h.settled(2).await;
    let watches = h.cli(&["watches"]);
    assert!(
        watches.contains("bill-3548 [bill] list team: schedule `*/10 * * * *` (Europe/London), to discord:1200000000000000042; from followed in chat by Olivia on Discord (user 1600000000000000001) since 2026-01-05 09:00 UTC"),
        "{watches}"
    );
    let status = h.cli(&["status"]);
    assert!(
        status.contains(
            "bill-3548 [bill] (followed via Olivia on Discord (user 1600000000000000001)): ok"
        ),
        "{status}"
    );

    // The bill moves to report stage; the next cycle alerts the channel, with the bot's ✅.
    h.bills
        .serve_3548("GET_Bills_3548__detail__stage_report.json");
    h.clock.set(at(9, 10));
    h.settled(3).await;
    let posted = h.discord.posted();
    let alert = posted
        .iter()
        .find(|p| {
            p.embeds().iter().any(|e| {
                e["title"]
                    .as_str()
                    .is_some_and(|t| t.contains("High Streets"))
            })
        })
        .unwrap_or_else(|| panic!("no bill alert in {posted:#?}"));
    assert_eq!(alert.channel, CHANNEL);
    let text = alert.payload.to_string();
    assert!(text.contains("Report stage"), "{text}");
    h.discord
        .wait_for("the bot's ✅", |f| {
            f.own_reactions()
                .iter()
                .any(|(c, m, e)| *c == CHANNEL && *m == alert.id && e == "✅")
        })
        .await;

    // A major alert opens a thread named after the bill.
    h.discord
        .wait_for("the thread", |f| !f.threads().is_empty())
        .await;
    let threads = h.discord.threads();
    assert_eq!(threads.len(), 1);
    assert_eq!((threads[0].0, threads[0].1), (CHANNEL, alert.id));
    assert!(
        threads[0].2["name"]
            .as_str()
            .unwrap()
            .contains("High Streets"),
        "{:?}",
        threads[0].2
    );

    // Unfollow from chat: gone from status, listed as unfollowed.
    let reply = h
        .slash(
            &officer(),
            "unfollow",
            json!([{"name": "watch", "type": 3, "value": "bill-3548"}]),
        )
        .await;
    assert!(
        reply
            .content()
            .starts_with("No longer following `bill-3548`"),
        "{}",
        reply.content()
    );
    let status = h.cli(&["status"]);
    assert!(status.contains("bill-3548 [bill]: unfollowed"), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_lookup_is_deferred_within_the_window_and_its_answer_edited_in() {
    let h = Harness::start("").await;
    let (release, gate) = watch::channel(false);
    *h.bills.open.lock().unwrap() = Some(gate);
    let id = h
        .discord
        .slash(&officer(), CHANNEL, "follow", follow("bill", "3548"));
    // The Bills API does not answer: the bot defers ("thinking…", only the asker sees it).
    h.discord
        .wait_for("the deferral", |f| !f.replies(id).is_empty())
        .await;
    let first = h.discord.replies(id)[0].clone();
    assert_eq!(first.kind(), 5, "{:?}", first.body);
    assert!(first.ephemeral());
    assert!(
        first.latency < fake_discord::ANSWER_WINDOW,
        "{:?}",
        first.latency
    );
    let _ = release.send(true);
    let replies = h.discord.answered(id).await;
    let done = replies.last().unwrap();
    assert_eq!(done.route, "edit");
    assert!(
        done.content().starts_with("Following `bill-3548`"),
        "{}",
        done.content()
    );
    assert!(
        h.discord.refused_answers().is_empty(),
        "{:?}",
        h.discord.refused_answers()
    );
    assert_eq!(h.store.follows().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_answer_is_retried_after_retry_after_and_arrives_once() {
    let h = Harness::start("").await;
    // A short retry_after: the answer itself is sent again after it, still in the window.
    h.discord.rate_limit_answer("callback", 0.2);
    let id = h
        .discord
        .slash(&officer(), CHANNEL, "follow", follow("bill", "3548"));
    let replies = h.discord.answered(id).await;
    assert_eq!(h.discord.rate_limited_answers(), vec![("callback", id)]);
    assert_eq!(replies.len(), 1, "{replies:?}");
    let answer = &replies[0];
    assert_eq!((answer.route, answer.kind()), ("callback", 4));
    assert!(
        answer.content().starts_with("Following `bill-3548`"),
        "{}",
        answer.content()
    );
    assert!(
        answer.latency >= Duration::from_millis(200)
            && answer.latency < fake_discord::ANSWER_WINDOW,
        "{:?}",
        answer.latency
    );
    assert_eq!(h.store.follows().unwrap().len(), 1);

    // A retry_after that would miss the 3 s window: the bot defers at once and edits the
    // answer in after the wait; that edit's own 429 is waited out too.
    h.discord.rate_limit_answer("callback", 2.6);
    h.discord.rate_limit_answer("edit", 0.1);
    let id = h.discord.slash(&officer(), CHANNEL, "status", json!([]));
    let replies = h.discord.answered(id).await;
    assert_eq!(
        h.discord.rate_limited_answers()[1..],
        [("callback", id), ("edit", id)]
    );
    let routes: Vec<_> = replies.iter().map(|r| (r.route, r.kind())).collect();
    assert_eq!(routes, [("callback", 5), ("edit", 0)], "{replies:?}");
    assert!(replies[0].latency < fake_discord::ANSWER_WINDOW);
    assert!(
        replies[1].content().contains("bill-3548"),
        "{}",
        replies[1].content()
    );
    assert!(
        h.discord.refused_answers().is_empty(),
        "{:?}",
        h.discord.refused_answers()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_bill_by_title_offers_a_choice_and_follows_the_one_chosen() {
    let h = Harness::start("").await;
    *h.bills.search.lock().unwrap() =
        json_fixture("GET_Bills__search__modern_slavery__edited_3_items.json");
    let choice = h
        .slash(&officer(), "follow", follow("bill", "modern slavery"))
        .await;
    assert!(choice.ephemeral());
    assert_eq!(
        choice.content(),
        "Several bills match “modern slavery”. Which one should this channel follow?"
    );
    let offered = choice.choices();
    assert_eq!(
        offered,
        vec![
            (
                "3591".to_string(),
                "Modern Slavery (Victim Support) Bill".to_string()
            ),
            (
                "3592".into(),
                "Modern Slavery (Supply Chain Transparency) Bill".into()
            ),
            (
                "3593".into(),
                "Modern Slavery Act 2015 (Amendment) Bill".into()
            ),
        ]
    );
    assert!(
        h.store.follows().unwrap().is_empty(),
        "nothing followed before choosing"
    );
    assert!(h
        .bills
        .requests()
        .iter()
        .any(|r| r.contains("SearchTerm=modern+slavery")));

    // The chosen bill is looked up again by id (its summary) and followed.
    let mut chosen =
        json_fixture("GET_Bills__search__modern_slavery__edited_3_items.json")["items"][1].clone();
    chosen["billId"] = 3592.into();
    h.bills.bills.lock().unwrap().insert(
        3592,
        (
            chosen,
            json!({"items": [], "totalResults": 0}),
            json!({"publications": []}),
        ),
    );
    let id = h
        .discord
        .choose(&officer(), CHANNEL, "pw-follow-bill", &["3592"]);
    let replies = h.discord.answered(id).await;
    let done = replies.last().unwrap();
    assert_eq!(
        done.kind(),
        7,
        "the choice message is replaced by the answer"
    );
    assert!(
        done.content().starts_with("Following `bill-3592` in watchlist `team`: **Modern Slavery \\(Supply Chain Transparency\\) Bill**, now at Commons: 2nd reading"),
        "{}",
        done.content()
    );
    assert!(done.choices().is_empty(), "the menu is gone");
    let follows = h.store.follows().unwrap();
    assert_eq!(follows.len(), 1);
    assert_eq!(follows[0].target.id, "bill-3592");

    // A member without the role cannot choose either.
    let id = h
        .discord
        .choose(&member(), CHANNEL, "pw-follow-bill", &["3591"]);
    let replies = h.discord.answered(id).await;
    assert!(replies.last().unwrap().content().starts_with("Sorry"));
    assert_eq!(h.store.follows().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_show_and_status_answer_what_the_cli_prints_and_reactions_mark_alerts() {
    let mut h = Harness::start("").await;
    *h.pages.text.lock().unwrap() = "The report stage of the consultation opens.".into();
    h.clock.set(at(9, 10));
    h.settled(2).await;
    let alert = h.discord.posted().last().cloned().expect("a page alert");

    // /history: the CLI's change ids and summaries, newest last.
    let cli = h.cli(&["history", "--watch", "ico-news"]);
    let reply = h
        .slash(
            &member(),
            "history",
            json!([{"name": "watch", "type": 3, "value": "ico-news"}]),
        )
        .await;
    assert!(reply.ephemeral());
    let change_id: u64 = cli.split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(cli.lines().count(), 1, "{cli}");
    assert!(
        reply.content().contains(&format!("`#{change_id}`")),
        "{}",
        reply.content()
    );
    assert!(
        reply.content().contains("page.changed"),
        "{}",
        reply.content()
    );

    // /show: the same change, its full diff attached as the .diff file.
    let reply = h
        .slash(
            &member(),
            "show",
            json!([{"name": "id", "type": 4, "value": change_id}]),
        )
        .await;
    let shown = h.cli(&["show", &change_id.to_string(), "--format", "json"]);
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert!(
        reply
            .content()
            .contains(&format!("`#{change_id}` **ICO news**")),
        "{}",
        reply.content()
    );
    let files = &h.discord.replies(reply.interaction)[0].files;
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].0, format!("ico-news-{change_id}.diff"));
    assert_eq!(
        String::from_utf8_lossy(&files[0].1),
        shown["full_diff"].as_str().unwrap()
    );

    // /diff: the latest two versions' diff, as `diff` prints its lines.
    let reply = h
        .slash(
            &member(),
            "diff",
            json!([{"name": "watch", "type": 3, "value": "ico-news"}]),
        )
        .await;
    let cli_diff = h.cli(&["diff", "ico-news"]);
    assert!(
        reply
            .content()
            .starts_with("```diff\n--- ico-news v1\n+++ ico-news v2\n"),
        "{}",
        reply.content()
    );
    for line in cli_diff
        .lines()
        .filter(|l| l.starts_with('+') || l.starts_with('-'))
        .skip(2)
    {
        assert!(
            reply.content().contains(line),
            "{line} not in {}",
            reply.content()
        );
    }

    // /watches: each watch, its kind and health.
    let reply = h.slash(&member(), "watches", json!([])).await;
    assert!(
        reply
            .content()
            .starts_with("**1 watch**\n`ico-news` [page] in team: last change <t:"),
        "{}",
        reply.content()
    );

    // /status: the CLI's counts.
    let reply = h.slash(&member(), "status", json!([])).await;
    let report = h.live.status().unwrap();
    assert!(
        reply.content().starts_with(&format!(
            "**{} watch{}**, 0 failing · outbox: {} queued, {} dead",
            report.watches.len(),
            if report.watches.len() == 1 { "" } else { "es" },
            report.queued,
            report.dead
        )),
        "{}",
        reply.content()
    );

    // A ✅ from a member marks the alert reviewed by them; `show` prints it; removing it
    // clears it. The bot's own ✅ is not a mark.
    h.discord.react(
        &fake_discord::FakeUser {
            id: fake_discord::APP,
            name: "policywatch",
            roles: vec![],
        },
        CHANNEL,
        alert.id,
        "✅",
        true,
    );
    h.discord.react(&member(), CHANNEL, alert.id, "✅", true);
    let store = h.store.clone();
    eventually("the review mark", || {
        !store.change(change_id).unwrap().unwrap().reviews.is_empty()
    })
    .await;
    let reviews = h.store.change(change_id).unwrap().unwrap().reviews;
    assert_eq!(reviews.len(), 1, "{reviews:?}");
    assert_eq!(
        (reviews[0].by.as_str(), reviews[0].mark.as_str()),
        ("Max", "reviewed")
    );
    let show = h.cli(&["show", &change_id.to_string()]);
    assert!(
        show.contains("reviewed by Max at 2026-01-05 09:10 UTC"),
        "{show}"
    );
    assert!(h.cli(&["history"]).contains("[reviewed: Max]"));
    let json_show: Value =
        serde_json::from_str(&h.cli(&["show", &change_id.to_string(), "--format", "json"]))
            .unwrap();
    assert_eq!(json_show["reviews"][0]["by"], "Max");
    // The history browser's JSON shows the same marks.
    let web =
        policywatch::web::api::change_json(&h.store.change(change_id).unwrap().unwrap(), false);
    assert_eq!(web["reviews"][0]["mark"], "reviewed");

    h.discord.react(&officer(), CHANNEL, alert.id, "👀", true);
    eventually("the looking mark", || {
        store.change(change_id).unwrap().unwrap().reviews.len() == 2
    })
    .await;
    h.discord.react(&member(), CHANNEL, alert.id, "✅", false);
    eventually("the mark cleared", || {
        let r = store.change(change_id).unwrap().unwrap().reviews;
        r.len() == 1 && r[0].mark == "looking"
    })
    .await;
    assert!(!h
        .cli(&["show", &change_id.to_string()])
        .contains("reviewed by"));

    // An add and a removal in one burst may be handled in either order (serenity gives
    // each event its own task): the marks follow who has the reaction in the end.
    let reads = h.discord.reaction_reads();
    h.discord.react(&officer(), CHANNEL, alert.id, "✅", true);
    h.discord.react(&officer(), CHANNEL, alert.id, "✅", false);
    h.discord.react(&member(), CHANNEL, alert.id, "✅", true);
    h.discord
        .wait_for("three reads of the reactions", |f| {
            f.reaction_reads() >= reads + 3
        })
        .await;
    eventually("Max's mark", || {
        reviewed_by(store.as_ref(), change_id).contains(&"Max".to_string())
    })
    .await;
    assert_eq!(
        reviewed_by(h.store.as_ref(), change_id),
        vec!["Max".to_string()]
    );

    // Beyond 100 reactors the list is read page by page: Olivia and Max sort after a
    // crowd of 100 (by user id), so a first page alone would drop Max's mark and miss hers.
    let crowd: Vec<_> = (0..100)
        .map(|n| fake_discord::FakeUser {
            id: 1_590_000_000_000_000_000 + n,
            name: "Crowd",
            roles: vec![],
        })
        .collect();
    h.discord.preset_reactions(alert.id, "✅", &crowd);
    let reads = h.discord.reaction_reads();
    h.discord.react(&officer(), CHANNEL, alert.id, "✅", true);
    eventually("Olivia's mark", || {
        reviewed_by(store.as_ref(), change_id).contains(&"Olivia".to_string())
    })
    .await;
    let reviewed = reviewed_by(h.store.as_ref(), change_id);
    assert_eq!(reviewed.len(), 102, "{reviewed:?}");
    assert!(reviewed.contains(&"Max".to_string()));
    assert_eq!(
        h.discord.reaction_reads(),
        reads + 2,
        "two pages for the one event"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_gateway_resumes_losing_nothing_while_checks_and_delivery_go_on() {
    let mut h = Harness::start("").await;
    *h.pages.text.lock().unwrap() = "First news.".into();
    h.clock.set(at(9, 10));
    h.settled(2).await;
    let first = h.discord.posted().last().cloned().expect("an alert");
    let first_change = h.store.message_changes(first.id).unwrap();
    assert_eq!(first_change.len(), 1);

    // The connection is cut and the way back held: the bot cannot reconnect yet.
    h.discord.hold_gateway();
    h.discord.cut_gateway();
    h.discord
        .wait_for("the bot to try again", |f| f.held_connections() == 1)
        .await;
    // Meanwhile a command and a reaction happen, and a check finds and delivers a change.
    let asked = h.discord.slash(&member(), CHANNEL, "status", json!([]));
    h.discord.react(&officer(), CHANNEL, first.id, "✅", true);
    *h.pages.text.lock().unwrap() = "Second news.".into();
    h.clock.set(at(9, 20));
    h.settled(3).await;
    let posted = h.discord.posted();
    assert!(
        posted
            .last()
            .unwrap()
            .payload
            .to_string()
            .contains("Second news"),
        "{posted:#?}"
    );
    assert!(
        !h.discord.connected(),
        "delivered while the gateway was down"
    );

    // Back: the session is resumed, not replaced, and what it missed arrives.
    h.discord.release_gateway();
    h.discord.wait_connected(1, 1).await;
    let replies = h.discord.answered(asked).await;
    assert!(
        replies[0].content().starts_with("**1 watch**"),
        "{}",
        replies[0].content()
    );
    let store = h.store.clone();
    eventually("the reaction made during the outage", || {
        !store
            .change(first_change[0])
            .unwrap()
            .unwrap()
            .reviews
            .is_empty()
    })
    .await;
    assert_eq!(
        h.discord.identifies().len(),
        1,
        "resumed, not re-identified"
    );
    assert_eq!(h.discord.resumes().len(), 1);
    assert_eq!(h.discord.lost(), 0);
    assert!(h.discord.refused_answers().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_outside_follow_hosts_are_refused_without_any_request() {
    let h = Harness::start("follow_hosts = [\"localhost\"]\n").await;
    let fetched = h.live.engine().fetcher.requests_made();
    let hits = *h.pages.hits.lock().unwrap();
    let loopback = format!("{}/secret", h.pages_uri);
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        loopback.as_str(),
        "http://[::1]/",
        "https://localhost.evil.example/",
        "file:///etc/passwd",
    ] {
        let reply = h.slash(&officer(), "follow", follow("page", url)).await;
        assert!(reply.ephemeral());
        assert!(
            reply.content().starts_with("Sorry, I only follow pages on the hosts this policywatch allows (`[discord] follow_hosts`: localhost)"),
            "{url}: {}",
            reply.content()
        );
    }
    assert_eq!(
        h.live.engine().fetcher.requests_made(),
        fetched,
        "no request made"
    );
    assert_eq!(
        *h.pages.hits.lock().unwrap(),
        hits,
        "the local server saw nothing"
    );
    assert!(h.store.follows().unwrap().is_empty());

    // A host in the list is followed.
    let port = h.pages_uri.rsplit(':').next().unwrap().to_string();
    let allowed = format!("http://localhost:{port}/consultations");
    let reply = h
        .slash(&officer(), "follow", follow("page", &allowed))
        .await;
    assert!(
        reply
            .content()
            .starts_with("Following `page-localhost-consultations`"),
        "{}",
        reply.content()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_question_by_uin_confirms_its_state_and_follows_it_by_id() {
    // The real rows of 111 questions tabled on 2024-11-01, none answered yet.
    let fake = parliament::FakeParliament::start().await;
    let items: Vec<Value> = serde_json::from_slice(&fixture(
        "questions-statements/GET_writtenquestions_questions__results_only_111_unanswered_as_of_2024-11-02.json",
    ))
    .unwrap();
    fake.with(|f| f.questions = items);
    let h = Harness::start_with(
        &format!(
            "questions_statements = \"{0}\"\nmembers = \"{0}\"\n",
            fake.uri
        ),
        "",
    )
    .await;
    let reply = h
        .slash(&officer(), "follow", follow("question", "12355"))
        .await;
    assert_eq!(
        reply.content(),
        "Following `question-1738759` in watchlist `team`: Written question 12355 to Cabinet \
         Office: awaiting an answer \\(due 5 November 2024\\). Its changes will be posted here."
    );
    assert!(fake.with(|f| f.log.iter().any(|r| r.contains("uIN=12355"))));
    let follows = h.store.follows().unwrap();
    assert_eq!(follows.len(), 1);
    assert_eq!(
        (
            follows[0].target.kind.as_str(),
            follows[0].target.target.as_str()
        ),
        ("written_questions", "1738759")
    );

    // By id, the same question: already followed.
    let again = h
        .slash(&officer(), "follow", follow("question", "1738759"))
        .await;
    assert!(
        again
            .content()
            .starts_with("Already watched as `question-1738759`"),
        "{}",
        again.content()
    );
    let bad = h
        .slash(&officer(), "follow", follow("question", "12 355; DROP"))
        .await;
    assert!(
        bad.content()
            .contains("is not a written question id or UIN"),
        "{}",
        bad.content()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_refuses_the_bot_is_tried_again_later_while_alerts_go_out() {
    // The gateway refuses the first identify (close 4004): serenity's client gives up, and
    // policywatch starts a new one after a pause. Delivery does not wait for any of it.
    let discord = FakeDiscord::start(TOKEN).await;
    discord.refuse_identifies(1);
    let mut h = Harness::start_on(discord, "", "").await;
    assert_eq!(h.discord.refused_identifies(), 1);
    assert_eq!(h.discord.identifies().len(), 1);
    *h.pages.text.lock().unwrap() = "News after the gateway came back.".into();
    h.clock.set(at(9, 10));
    h.settled(2).await;
    assert!(h
        .discord
        .posted()
        .last()
        .unwrap()
        .payload
        .to_string()
        .contains("News after the gateway came back"));
    let reply = h.slash(&member(), "status", json!([])).await;
    assert!(
        reply.content().starts_with("**1 watch**"),
        "{}",
        reply.content()
    );
}
