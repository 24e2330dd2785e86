//! Local fakes of a Slack incoming webhook (`POST /slack/{name}`) and a Teams Workflows
//! webhook (`POST /teams/{name}`), strict about what those services take: Slack Block Kit
//! limits (50 blocks, 3000 characters of section text, 10 context elements, known block
//! types, a `text` fallback) and Teams' Adaptive Card envelope and size cap (28 KB). A
//! payload over a limit gets the service's 400. They can be scripted to answer 429 (with
//! `Retry-After`) or a 5xx, or to stall without taking the message.
//!
//! Included with `#[path = "common/fake_webhooks.rs"] mod fake_webhooks;`.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

#[derive(Debug, Clone)]
pub enum Step {
    TooMany {
        retry_after: u64,
    },
    ServerError(u16),
    /// A 4xx with the service's reason (400: the message is refused; 404: no such webhook).
    ClientError(u16),
    /// Never answers, and does not take the message.
    Stall,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub service: &'static str,
    pub name: String,
    pub payload: Value,
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Step>,
    received: Vec<Received>,
    refused: Vec<(String, String)>,
}

pub struct FakeWebhooks {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    inner: Arc<Mutex<Inner>>,
    task: JoinHandle<()>,
}

impl Drop for FakeWebhooks {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Shared = Arc<Mutex<Inner>>;

impl FakeWebhooks {
    pub async fn start() -> FakeWebhooks {
        let inner: Shared = Arc::default();
        let app = Router::new()
            .route("/slack/{name}", post(slack))
            .route("/teams/{name}", post(teams))
            .with_state(inner.clone());
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", tcp.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(tcp, app).await;
        });
        FakeWebhooks { base, inner, task }
    }

    pub fn script(&self, step: Step, times: usize) {
        let mut i = self.inner.lock().unwrap();
        for _ in 0..times {
            i.script.push_back(step.clone());
        }
    }

    /// Forgets the scripted answers not yet given: every request is taken again.
    pub fn clear_script(&self) {
        self.inner.lock().unwrap().script.clear();
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// (service, why) for every payload refused as invalid.
    pub fn refused(&self) -> Vec<(String, String)> {
        self.inner.lock().unwrap().refused.clone()
    }
}

async fn scripted(inner: &Shared) -> Option<Response> {
    let step = inner.lock().unwrap().script.pop_front();
    match step? {
        Step::TooMany { retry_after } => Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", retry_after.to_string())],
                "rate_limited",
            )
                .into_response(),
        ),
        Step::ServerError(code) => {
            Some((StatusCode::from_u16(code).unwrap(), "internal_error").into_response())
        }
        Step::ClientError(code) => {
            let why = if code == 404 {
                "no_service"
            } else {
                "invalid_payload"
            };
            Some((StatusCode::from_u16(code).unwrap(), why).into_response())
        }
        Step::Stall => {
            std::future::pending::<()>().await;
            None
        }
    }
}

fn refuse(inner: &Shared, service: &str, why: String) -> Response {
    inner
        .lock()
        .unwrap()
        .refused
        .push((service.to_string(), why.clone()));
    (StatusCode::BAD_REQUEST, why).into_response()
}

async fn slack(State(inner): State<Shared>, Path(name): Path<String>, body: String) -> Response {
    if let Some(r) = scripted(&inner).await {
        return r;
    }
    let payload: Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(_) => return refuse(&inner, "slack", "invalid_payload".into()),
    };
    if let Err(why) = slack_valid(&payload) {
        return refuse(&inner, "slack", why);
    }
    inner.lock().unwrap().received.push(Received {
        service: "slack",
        name,
        payload,
    });
    "ok".into_response()
}

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

fn slack_valid(p: &Value) -> Result<(), String> {
    if !p["text"].is_string() {
        return Err("no_text".into());
    }
    let blocks = p["blocks"].as_array().ok_or("invalid_blocks: no blocks")?;
    if blocks.len() > 50 {
        return Err(format!("invalid_blocks: {} blocks", blocks.len()));
    }
    for b in blocks {
        match b["type"].as_str() {
            Some("section") => {
                let t = &b["text"];
                if !matches!(t["type"].as_str(), Some("mrkdwn" | "plain_text"))
                    || chars(&t["text"]) > 3000
                    || chars(&t["text"]) == 0
                {
                    return Err(format!(
                        "invalid_blocks: section text {}",
                        chars(&t["text"])
                    ));
                }
            }
            Some("context") => {
                let e = b["elements"].as_array().ok_or("invalid_blocks: context")?;
                if e.is_empty() || e.len() > 10 || e.iter().any(|x| chars(&x["text"]) > 3000) {
                    return Err("invalid_blocks: context elements".into());
                }
            }
            Some("header") => {
                if chars(&b["text"]["text"]) > 150 {
                    return Err("invalid_blocks: header".into());
                }
            }
            Some("divider") => {}
            other => return Err(format!("invalid_blocks: type {other:?}")),
        }
    }
    Ok(())
}

async fn teams(State(inner): State<Shared>, Path(name): Path<String>, body: String) -> Response {
    if let Some(r) = scripted(&inner).await {
        return r;
    }
    if body.len() > 28 * 1024 {
        return refuse(
            &inner,
            "teams",
            format!("RequestEntityTooLarge: {} bytes", body.len()),
        );
    }
    let payload: Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(_) => return refuse(&inner, "teams", "BadRequest: not JSON".into()),
    };
    let card = &payload["attachments"][0];
    if payload["type"] != "message"
        || card["contentType"] != "application/vnd.microsoft.card.adaptive"
        || card["content"]["type"] != "AdaptiveCard"
        || !card["content"]["body"].is_array()
    {
        return refuse(
            &inner,
            "teams",
            "BadRequest: not an adaptive card message".into(),
        );
    }
    if let Err(why) = teams_mentions_valid(&card["content"]) {
        return refuse(&inner, "teams", why);
    }
    inner.lock().unwrap().received.push(Received {
        service: "teams",
        name,
        payload,
    });
    (StatusCode::ACCEPTED, "").into_response()
}

/// Each mention entity names someone and its `<at>…</at>` text stands in a TextBlock (where
/// Teams looks for it); no `<at>` in a TextBlock lacks its entity.
fn teams_mentions_valid(card: &Value) -> Result<(), String> {
    let blocks: Vec<&str> = card["body"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "TextBlock")
        .filter_map(|b| b["text"].as_str())
        .collect();
    let entities = card["msteams"]["entities"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for e in &entities {
        let text = e["text"].as_str().unwrap_or_default();
        if e["type"] != "mention"
            || !text.starts_with("<at>")
            || e["mentioned"]["id"].as_str().is_none_or(str::is_empty)
            || !blocks.iter().any(|b| b.contains(text))
        {
            return Err(format!("BadRequest: bad mention entity {e}"));
        }
    }
    let tags = blocks
        .iter()
        .map(|b| b.matches("<at>").count())
        .sum::<usize>();
    if tags != entities.len() {
        return Err(format!(
            "BadRequest: {tags} <at> tags for {} mention entities",
            entities.len()
        ));
    }
    Ok(())
}
