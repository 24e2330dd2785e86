//! Watchlists reloaded live: an edit adding a watch is picked up by the running daemon
//! (baseline, then alerts); an edit with a syntax error keeps the running watches and is
//! shown by `status`, `reload` and the web status page until fixed.

mod common;
#[path = "common/seeded.rs"]
mod seeded;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use seeded::Seeded;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

async fn api(s: &Seeded, p: &str) -> Value {
    reqwest::get(format!("{}/api/v1/{p}", s.base()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Polls the API until `ok` holds (the daemon works on its own clock).
async fn until(s: &Seeded, p: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = api(s, p).await;
        if ok(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: last answer {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn page(text: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(
        format!("<html><head><title>Notice</title></head><body><main><p>{text}</p></main></body></html>"),
        "text/html",
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_watchlist_is_picked_up_and_a_broken_one_keeps_the_running_lists() {
    let s = Seeded::new().await;
    let server = &s.sources.server;
    let text = Arc::new(Mutex::new("Consultation opens in May."));
    let t = text.clone();
    Mock::given(method("GET"))
        .and(path("/notice"))
        .respond_with(move |_: &wiremock::Request| page(&t.lock().unwrap()))
        .mount(server)
        .await;
    let _daemon = s.daemon().await;

    // A new watchlist file, checked every second: noticed by the daemon on its own.
    let list = format!(
        "name = \"notices\"\nschedule = \"* * * * * *\"\n[[watch]]\nid = \"notice\"\nkind = \"page\"\nurl = \"{}/notice\"\n",
        server.uri()
    );
    s.project.watchlist("notices.toml", &list);
    until(
        &s,
        "watches/notice/versions",
        "a baseline of the new watch",
        |v| v.as_array().is_some_and(|a| a.len() == 1),
    )
    .await;
    assert_eq!(
        api(&s, "changes?watch=notice").await["changes"],
        serde_json::json!([])
    );

    // Then it alerts like any watch.
    *text.lock().unwrap() = "Consultation opens in June.";
    let changes = until(
        &s,
        "changes?watch=notice",
        "an alert of the new watch",
        |v| v["changes"].as_array().is_some_and(|a| !a.is_empty()),
    )
    .await;
    assert_eq!(changes["changes"][0]["event"], "page.changed");

    // A syntax error: `reload` says where, exit 2; the running watches stay.
    std::fs::write(
        s.project.path().join("watchlists/notices.toml"),
        list.replace("kind = \"page\"", "kind = \"page"),
    )
    .unwrap();
    let out = s.project.cmd().arg("reload").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("notices.toml:5:"), "{err}");
    let status = s.project.stdout(&["status"]);
    assert!(status.contains("an edit was NOT loaded"), "{status}");
    assert!(status.contains("notices.toml:5:"), "{status}");
    assert!(
        status.contains("notice [page]"),
        "the new watch still runs: {status}"
    );
    let html = reqwest::get(format!("{}/status", s.base()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Watchlist edit not loaded") && html.contains("notices.toml:5:"));
    let watches = api(&s, "watches").await;
    assert_eq!(watches.as_array().unwrap().len(), 3);

    // Fixed, and the watch removed: `reload` applies it; history stays.
    std::fs::remove_file(s.project.path().join("watchlists/notices.toml")).unwrap();
    let out = s.project.stdout(&["reload"]);
    assert_eq!(out.trim(), "reloaded: 2 watchlists, 2 watches");
    assert!(!s.project.stdout(&["status"]).contains("NOT loaded"));
    assert_eq!(api(&s, "watches").await.as_array().unwrap().len(), 2);
    assert!(!api(&s, "changes?watch=notice").await["changes"]
        .as_array()
        .unwrap()
        .is_empty());
}
