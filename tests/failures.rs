//! A watch whose source misbehaves is reported in `status` with its error and failure
//! count; the other watches in the cycle complete and the store stays readable.

mod common;

use std::time::Duration;

use chrono::Timelike;

use common::Project;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test(flavor = "multi_thread")]
async fn each_broken_source_is_reported_and_the_others_complete() {
    let server = MockServer::start().await;
    let ok_page = "<html><body><p>Fine.</p></body></html>";
    Mock::given(path("/ok"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(ok_page.as_bytes().to_vec(), "text/html"),
        )
        .mount(&server)
        .await;
    Mock::given(path("/500"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    Mock::given(path("/big"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(vec![b'a'; 64 * 1024], "text/html"))
        .mount(&server)
        .await;
    Mock::given(path("/pdf"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(b"%PDF-1.7".to_vec(), "application/pdf"),
        )
        .mount(&server)
        .await;
    Mock::given(path("/feed"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(b"<rss><channel><item>".to_vec(), "application/rss+xml"),
        )
        .mount(&server)
        .await;
    Mock::given(path("/latin"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(b"<p>caf\xe9</p>".to_vec(), "text/html; charset=utf-8"),
        )
        .mount(&server)
        .await;

    let p = Project::new();
    p.config("[fetch]\nallow_private = true\nper_host_interval_secs = 0.0\nretries = 1\nretry_base_secs = 0.01\nretry_max_secs = 0.02\ntimeout_secs = 1.0\nmax_body_bytes = 32768\n");
    let u = server.uri();
    p.watchlist(
        "team.toml",
        &format!(
            r#"name = "t"
[[watch]]
id = "ok"
kind = "page"
url = "{u}/ok"
[[watch]]
id = "server-error"
kind = "page"
url = "{u}/500"
[[watch]]
id = "timeout"
kind = "page"
url = "{u}/slow"
[[watch]]
id = "oversized"
kind = "page"
url = "{u}/big"
[[watch]]
id = "not-html"
kind = "page"
url = "{u}/pdf"
[[watch]]
id = "bad-feed"
kind = "feed"
url = "{u}/feed"
[[watch]]
id = "bad-utf8"
kind = "page"
url = "{u}/latin"
"#
        ),
    );
    for round in 1..=2 {
        let out = p
            .cmd()
            .args(["check", "--format", "json"])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "watch failures do not fail the cycle"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("7 watches") && stderr.contains("6 failed"),
            "round {round}: {stderr}"
        );
    }

    let status = p.stdout(&["status", "--format", "json"]);
    let rows = common::status_watches(&status);
    let row = |id: &str| {
        rows.iter()
            .find(|r| r["watch"] == id)
            .unwrap_or_else(|| panic!("{id} in {status}"))
    };
    assert_eq!(row("ok")["consecutive_failures"], 0);
    // The next run comes from the schedule (the config's default, every half hour), after
    // the last check.
    let time = |v: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("a time, not {v}: {e}"))
    };
    let (next, last) = (time(&row("ok")["next_run"]), time(&row("ok")["last_check"]));
    assert!(
        next > last && next - last <= chrono::Duration::minutes(30),
        "{next} after {last}"
    );
    assert_eq!((next.minute() % 30, next.second()), (0, 0), "{next}");
    assert_eq!(
        row("ok")["versions"],
        1,
        "the healthy watch stored its baseline"
    );
    let expect = [
        ("server-error", "HTTP 500"),
        ("timeout", "timed out"),
        ("oversized", "limit"),
        (
            "not-html",
            "expected an HTML page, got content type `application/pdf`",
        ),
        ("bad-feed", "not a valid RSS, Atom or JSON feed"),
        ("bad-utf8", "invalid UTF-8"),
    ];
    for (id, reason) in expect {
        let r = row(id);
        assert_eq!(r["consecutive_failures"], 2, "{id}: {r}");
        let err = r["last_error"].as_str().unwrap_or_default();
        assert!(err.contains(reason), "{id}: expected “{reason}” in “{err}”");
        assert!(err.contains(&u), "{id}: the error names the URL: {err}");
        assert_eq!(r["versions"], 0);
    }
    let text = p.stdout(&["status"]);
    assert!(
        text.contains("server-error [page]: FAILING (2 in a row): "),
        "{text}"
    );
    // The store is still readable after all that.
    assert_eq!(p.stdout(&["export"]).lines().count(), 1);
}

/// Issue 9: a watch's stored state that cannot be decoded is that watch's error, shown by
/// `status`, never read as an empty state; no alert is raised from it and the other
/// watches of the cycle are checked as usual.
#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_stored_state_fails_its_watch_in_status_and_raises_nothing() {
    let server = MockServer::start().await;
    for p in ["/a", "/b"] {
        Mock::given(path(p))
            .respond_with(ResponseTemplate::new(200).set_body_raw(
                format!("<html><body><p>Page {p}.</p></body></html>").into_bytes(),
                "text/html",
            ))
            .mount(&server)
            .await;
    }
    let p = Project::new();
    p.config("[fetch]\nallow_private = true\nper_host_interval_secs = 0.0\nretries = 0\n");
    let u = server.uri();
    p.watchlist(
        "team.toml",
        &format!(
            "name = \"t\"\n[[watch]]\nid = \"a\"\nkind = \"page\"\nurl = \"{u}/a\"\n[[watch]]\nid = \"b\"\nkind = \"page\"\nurl = \"{u}/b\"\n"
        ),
    );
    assert!(p.check_json().is_empty(), "the baseline raises nothing");

    {
        let db = sled::open(p.data()).unwrap();
        let state = db.open_tree("state").unwrap();
        assert!(
            state.get("a").unwrap().is_some(),
            "watch a has a stored state"
        );
        state.insert("a", &b"\x00not json"[..]).unwrap();
        db.flush().unwrap();
    }

    let out = p
        .cmd()
        .args(["check", "--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        common::json_lines(&out.stdout).is_empty(),
        "no alert from an unreadable state: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr.contains("the stored state of watch `a` cannot be read"),
        "{stderr}"
    );

    let status = p.stdout(&["status", "--format", "json"]);
    let rows = common::status_watches(&status);
    let row = |id: &str| {
        rows.iter()
            .find(|r| r["watch"] == id || r["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} in {status}"))
    };
    let (a, b) = (row("a"), row("b"));
    assert!(
        a["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("the stored state of watch `a` cannot be read")),
        "{a}"
    );
    assert_eq!(a["consecutive_failures"], 1, "{a}");
    assert!(b["last_error"].is_null(), "{b}");
    assert_eq!(b["consecutive_failures"], 0, "{b}");

    // The next check starts afresh from the state it recorded, and the stored version
    // still stands: nothing is alerted.
    assert!(p.check_json().is_empty());
}

/// A check whose commit fails (the disk refuses the write) raises nothing and loses
/// nothing: the change it saw is still unrecorded, so the next check, with the store
/// working again, raises it exactly once.
#[tokio::test]
async fn a_check_whose_commit_fails_raises_nothing_loses_nothing_and_the_next_recovers() {
    use std::path::Path;
    use std::sync::Arc;

    use policywatch::config::Config;
    use policywatch::cycle::{Engine, RunResult};
    use policywatch::fetch::Fetcher;
    use policywatch::schedule::SystemClock;
    use policywatch::source::registry;
    use policywatch::store::{FailingStore, SledStore, Store};
    use policywatch::watchlist::{self, Watchlists};

    let server = MockServer::start().await;
    let page = |text: &str| {
        ResponseTemplate::new(200).set_body_raw(
            format!("<main><p>{text}</p></main>").into_bytes(),
            "text/html",
        )
    };
    let first = Mock::given(path("/p"))
        .respond_with(page("The first text."))
        .mount_as_scoped(&server)
        .await;
    let config = Arc::new(
        Config::parse(
            "[fetch]\nallow_private = true\nper_host_interval_secs = 0.0\nretries = 0\n",
            Path::new("policywatch.toml"),
        )
        .unwrap(),
    );
    let list = format!(
        "name = \"t\"\n[[watch]]\nid = \"p\"\nkind = \"page\"\nurl = \"{}/p\"\n",
        server.uri()
    );
    let list =
        watchlist::parse_file(&list, Path::new("t.toml"), &config, registry::kinds()).unwrap();
    let store = Arc::new(FailingStore::new(SledStore::temporary().unwrap()));
    let engine = Engine {
        fetcher: Arc::new(Fetcher::new(&config.fetch).unwrap()),
        config: config.clone(),
        watchlists: Arc::new(Watchlists { lists: vec![list] }),
        store: store.clone(),
        clock: Arc::new(SystemClock),
    };
    let watches = engine.all_watches().unwrap();
    let report = engine.check(&watches).await.unwrap();
    assert_eq!(report.runs, [("p".to_string(), RunResult::Baseline)]);

    drop(first);
    Mock::given(path("/p"))
        .respond_with(page("The second text."))
        .mount(&server)
        .await;
    store.fail_only(&["commit"]);
    let report = engine.check(&watches).await.unwrap();
    match &report.runs[..] {
        [(id, RunResult::Failed(e))] if id == "p" => {
            assert!(e.contains("No space left on device"), "{e}")
        }
        other => panic!("expected the commit's failure, got {other:?}"),
    }
    assert!(
        report.alerts.is_empty(),
        "nothing raised: {:?}",
        report.alerts
    );
    store.fail_only(&[]);
    assert_eq!(
        store.versions("p").unwrap().len(),
        1,
        "nothing half-written"
    );
    assert!(store.outbox().unwrap().is_empty());

    let report = engine.check(&watches).await.unwrap();
    assert_eq!(
        report.runs,
        [("p".to_string(), RunResult::Changed { alerts: 1 })],
        "the change the failed commit saw is raised now"
    );
    let versions = store.versions("p").unwrap();
    assert_eq!(versions.len(), 2);
    assert!(versions[1].document.text.contains("The second text."));
    let outbox = store.outbox().unwrap();
    assert_eq!(outbox.len(), 1, "raised exactly once");
    let change = store.change(outbox[0].id).unwrap().unwrap();
    assert_eq!(change.alert.event, "page.changed");
    assert!(store.state("p").unwrap().unwrap().last_error.is_none());
}
