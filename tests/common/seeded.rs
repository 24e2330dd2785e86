//! A store seeded by real check cycles against local fake servers, and the daemon started
//! on it with the web service on loopback. Shared by the web and CLI-beside-daemon tests.
//!
//! Seeded history: watchlist `anti-slavery` with a `page` watch `nrm` of 5 versions (the
//! phrase "reasonable grounds" appears in v2 and disappears in v4) and watchlist `bills` with
//! a `bill` watch `high-streets` (bill 3548: Committee stage, then Report stage).
//!
//! Included with `#[path = "common/seeded.rs"] mod seeded;` next to `mod common;`.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::common::{fixture, process, Project};

/// Never fires during a test: the daemon serves, it does not check.
const YEARLY: &str = "0 0 1 1 *";

pub const NRM_VERSIONS: [&[&str]; 5] = [
    &["Victims have 30 days to recover.", "Support is available."],
    &[
        "Victims have 45 days to recover.",
        "A reasonable grounds decision is made within 5 working days.",
        "Support is available.",
    ],
    &[
        "Victims have 45 days to recover.",
        "A reasonable grounds decision is made within 5 working days.",
        "Support is available from the Salvation Army.",
    ],
    &[
        "Victims have 45 days to recover.",
        "A conclusive decision follows later.",
        "Support is available from the Salvation Army.",
    ],
    &[
        "Victims have 45 days to recover.",
        "A conclusive decision follows later.",
        "Support is available from the Salvation Army.",
        "Appeals go to the <Home Office> & the courts.",
    ],
];

fn html(paragraphs: &[&str]) -> String {
    let body: String = paragraphs
        .iter()
        .map(|p| format!("<p>{}</p>", p.replace('&', "&amp;").replace('<', "&lt;")))
        .collect();
    format!("<html><head><title>NRM guidance</title></head><body><main>{body}</main></body></html>")
}

/// The fake sources: one page and the Bills API, contents swappable between checks.
pub struct Sources {
    pub server: MockServer,
    page: Arc<Mutex<String>>,
    bill_detail: Arc<Mutex<Value>>,
}

impl Sources {
    pub async fn start() -> Sources {
        let server = MockServer::start().await;
        let page = Arc::new(Mutex::new(html(NRM_VERSIONS[0])));
        let detail: Value =
            serde_json::from_slice(&fixture("bills-api/GET_Bills_3548__detail.json")).unwrap();
        let bill_detail = Arc::new(Mutex::new(detail));
        let pg = page.clone();
        Mock::given(method("GET"))
            .and(path("/guidance"))
            .respond_with(move |_: &Request| {
                ResponseTemplate::new(200)
                    .set_body_raw(pg.lock().unwrap().clone().into_bytes(), "text/html")
            })
            .mount(&server)
            .await;
        let d = bill_detail.clone();
        Mock::given(method("GET"))
            .and(path("/api/v1/Bills"))
            .respond_with(move |_: &Request| {
                let detail = d.lock().unwrap().clone();
                ResponseTemplate::new(200).set_body_json(
                    json!({"items": [detail], "totalResults": 1, "itemsPerPage": 20}),
                )
            })
            .mount(&server)
            .await;
        let d = bill_detail.clone();
        let stages: Value = serde_json::from_slice(&fixture(
            "bills-api/GET_Bills_3548_Stages__built_from_detail_currentStage.json",
        ))
        .unwrap();
        let pubs: Value =
            serde_json::from_slice(&fixture("bills-api/GET_Bills_512_Publications.json")).unwrap();
        Mock::given(method("GET"))
            .and(path_regex(r"^/api/v1/Bills/3548(/Stages|/Publications)?$"))
            .respond_with(move |r: &Request| {
                let body = if r.url.path().ends_with("/Stages") {
                    stages.clone()
                } else if r.url.path().ends_with("/Publications") {
                    pubs.clone()
                } else {
                    d.lock().unwrap().clone()
                };
                ResponseTemplate::new(200).set_body_json(body)
            })
            .mount(&server)
            .await;
        Sources {
            server,
            page,
            bill_detail,
        }
    }

    pub fn serve_page(&self, paragraphs: &[&str]) {
        *self.page.lock().unwrap() = html(paragraphs);
    }

    pub fn serve_bill(&self, fixture_name: &str) {
        *self.bill_detail.lock().unwrap() = serde_json::from_slice(&fixture(fixture_name)).unwrap();
    }
}

/// A project whose store holds the seeded history; `listen` is the web address.
pub struct Seeded {
    pub project: Project,
    pub sources: Sources,
    pub port: u16,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Seeded {
    pub async fn new() -> Seeded {
        let sources = Sources::start().await;
        let project = Project::new();
        let port = free_port();
        let uri = sources.server.uri();
        project.config(&format!(
            "[fetch]\nallow_private = true\nper_host_interval_secs = 0.0\nretry_base_secs = 0.01\nretry_max_secs = 0.05\ntimeout_secs = 5.0\n\
             [sources]\nparliament_bills = \"{uri}/\"\n[web]\nlisten = \"127.0.0.1:{port}\"\n"
        ));
        project.watchlist(
            "anti-slavery.toml",
            &format!(
                "name = \"anti-slavery\"\nschedule = \"{YEARLY}\"\nkeywords = [\"Home Office\", \"reasonable grounds\"]\n\
                 [[watch]]\nid = \"nrm\"\nkind = \"page\"\nurl = \"{uri}/guidance\"\n"
            ),
        );
        project.watchlist(
            "bills.toml",
            &format!(
                "name = \"bills\"\nschedule = \"{YEARLY}\"\nkeywords = [\"high streets\"]\n\
                 [[watch]]\nid = \"high-streets\"\nkind = \"bill\"\nbill = 3548\n"
            ),
        );
        project.check_json();
        for (i, version) in NRM_VERSIONS.iter().enumerate().skip(1) {
            sources.serve_page(version);
            if i == 2 {
                sources.serve_bill("bills-api/GET_Bills_3548__detail__stage_report.json");
            }
            assert!(!project.check_json().is_empty(), "version {i} alerts");
        }
        Seeded {
            project,
            sources,
            port,
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts `policywatch run` and waits until its web service answers.
    pub async fn daemon(&self) -> Daemon {
        Daemon::start(&self.project, &self.base(), &[]).await
    }
}

/// A running `policywatch run`; stopped (SIGTERM) when dropped.
pub struct Daemon {
    pub child: std::process::Child,
}

impl Daemon {
    pub async fn start(project: &Project, base: &str, env: &[(&str, &str)]) -> Daemon {
        let mut cmd = process(project.path());
        cmd.arg("run")
            .env("POLICYWATCH_LOG", "warn")
            .stdout(std::process::Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start the daemon");
        let daemon = Daemon { child };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        let auth = env
            .iter()
            .find(|(k, _)| *k == "POLICYWATCH_WEB_TOKEN")
            .map(|(_, v)| format!("Bearer {v}"))
            .unwrap_or_default();
        loop {
            let r = client
                .get(format!("{base}/api/v1/status"))
                .header("authorization", &auth)
                .send()
                .await;
            if r.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon's web service did not come up"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The control socket is bound before the web service: it is there too.
        assert!(project.data().join("control.sock").exists());
        daemon
    }

    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
        }
    }
}
