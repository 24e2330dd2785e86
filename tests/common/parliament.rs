//! A local fake of the Parliament APIs the `written_questions`, `written_statements` and
//! `hansard` kinds read, serving rows the test sets (real fixtures and named edits of them):
//!
//! - `GET /api/writtenquestions/questions` and `/api/writtenstatements/statements`:
//!   `{totalResults, results}` paged by `skip`/`take`; `/…/{id}`: one `{value, links}` item;
//! - `GET /search/contributions/{Spoken|Written}.json`: `{Results, TotalResultCount}` paged
//!   by `queryParameters.skip`/`take`;
//! - `GET /api/Members/{id}`: one item of the members fixture, or 404.
//!
//! It filters as loosely as the real search does: a row matches a search term when it
//! contains each of the term's words somewhere (so "modern methods … slavery" matches
//! "modern slavery", and the watch's own phrase matching must drop it), and it honours
//! `answeringBodies` and `house`. It ignores dates: the fixtures are from 2024 and 2026,
//! the clock is today's. Every request is logged (path and query) so tests can count them
//! and check the parameters sent. A request can be scripted to fail with any status and
//! body.
//!
//! Included with `#[path = "common/parliament.rs"] mod parliament;`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// A scripted failure: requests whose path starts with `path` (and, when set, whose skip
/// is `skip`) get `status` and `body`.
#[derive(Debug, Clone)]
pub struct Failure {
    pub path: String,
    pub skip: Option<usize>,
    pub status: u16,
    pub body: Vec<u8>,
}

#[derive(Debug, Default)]
pub struct Fake {
    /// `{value, links}` items.
    pub questions: Vec<Value>,
    pub statements: Vec<Value>,
    /// Hansard rows, per contribution type (`Spoken`, `Written`).
    pub contributions: HashMap<String, Vec<Value>>,
    /// Members API items.
    pub members: Vec<Value>,
    pub failures: Vec<Failure>,
    /// `path?query` of every request, in order.
    pub log: Vec<String>,
}

#[derive(Clone)]
pub struct FakeParliament {
    pub state: Arc<Mutex<Fake>>,
    pub uri: String,
}

impl FakeParliament {
    pub async fn start() -> FakeParliament {
        let state = Arc::new(Mutex::new(Fake::default()));
        let shared = state.clone();
        let app = Router::new().fallback(move |uri: Uri| {
            let state = shared.clone();
            async move { handle(&state, &uri) }
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let uri = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeParliament { state, uri }
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut Fake) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    /// The requests logged since the last call, emptying the log.
    pub fn take_log(&self) -> Vec<String> {
        self.with(|f| std::mem::take(&mut f.log))
    }

    /// `[sources]` pointing every Parliament API at this fake.
    pub fn sources(&self) -> String {
        format!(
            "[sources]\nquestions_statements = \"{0}\"\nhansard = \"{0}\"\nmembers = \"{0}\"\n",
            self.uri
        )
    }
}

/// Wraps a row as the APIs list it.
pub fn item(value: Value, kind: &str) -> Value {
    let id = value["id"].clone();
    json!({ "value": value, "links": [{ "rel": "self", "href": format!("/{kind}/{id}"), "method": "GET" }] })
}

fn query(uri: &Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn json_response(status: u16, body: Vec<u8>) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", "application/json; charset=utf-8")
        .body(Body::from(body))
        .unwrap()
}

/// Whether a row passes the search term (every word, anywhere, any case), the UIN, the
/// answering bodies and the house asked for.
fn passes(row: &Value, q: &HashMap<String, String>, prefix: &str) -> bool {
    let v = if row.get("value").is_some() {
        &row["value"]
    } else {
        row
    };
    if let Some(term) = q.get(&format!("{prefix}searchTerm")) {
        let text: String = [
            "questionText",
            "heading",
            "answerText",
            "title",
            "text",
            "ContributionTextFull",
        ]
        .iter()
        .filter_map(|k| v[*k].as_str())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
        let words = term.trim_matches('"').to_lowercase();
        if !words.split_whitespace().all(|w| text.contains(w)) {
            return false;
        }
    }
    if let Some(uin) = q.get("uIN") {
        if v["uin"].as_str() != Some(uin.as_str()) {
            return false;
        }
    }
    if let Some(body) = q.get("answeringBodies") {
        if v["answeringBodyId"]
            .as_u64()
            .map(|id| id.to_string())
            .as_ref()
            != Some(body)
        {
            return false;
        }
    }
    if let Some(house) = q.get(&format!("{prefix}house")) {
        let h = v["house"]
            .as_str()
            .or(v["House"].as_str())
            .unwrap_or_default();
        if !h.eq_ignore_ascii_case(house) {
            return false;
        }
    }
    true
}

fn page(rows: &[Value], q: &HashMap<String, String>, prefix: &str) -> (Vec<Value>, usize) {
    let rows: Vec<Value> = rows
        .iter()
        .filter(|r| passes(r, q, prefix))
        .cloned()
        .collect();
    let num = |k: &str, d: usize| {
        q.get(&format!("{prefix}{k}"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (skip, take) = (num("skip", 0), num("take", 20));
    let end = (skip + take).min(rows.len());
    (rows.get(skip..end).unwrap_or_default().to_vec(), rows.len())
}

fn handle(state: &Mutex<Fake>, uri: &Uri) -> Response {
    let mut fake = state.lock().unwrap();
    let path = uri.path().to_string();
    fake.log.push(format!(
        "{path}{}",
        uri.query().map(|q| format!("?{q}")).unwrap_or_default()
    ));
    let q = query(uri);
    let skip: Option<usize> = q
        .get("skip")
        .or_else(|| q.get("queryParameters.skip"))
        .and_then(|s| s.parse().ok());
    if let Some(f) = fake
        .failures
        .iter()
        .find(|f| path.starts_with(&f.path) && (f.skip.is_none() || f.skip == skip))
    {
        return json_response(f.status, f.body.clone());
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let by_id = |items: &[Value], id: &str| {
        items
            .iter()
            .find(|i| {
                i["value"]["id"]
                    .as_u64()
                    .is_some_and(|v| v.to_string() == id)
            })
            .cloned()
    };
    let found = match segments.as_slice() {
        ["api", "writtenquestions", "questions"] => {
            let (rows, total) = page(&fake.questions, &q, "");
            Some(json!({ "totalResults": total, "results": rows }))
        }
        ["api", "writtenquestions", "questions", id] => by_id(&fake.questions, id),
        ["api", "writtenstatements", "statements"] => {
            let (rows, total) = page(&fake.statements, &q, "");
            Some(json!({ "totalResults": total, "results": rows }))
        }
        ["api", "writtenstatements", "statements", id] => by_id(&fake.statements, id),
        ["search", "contributions", file] => {
            let kind = file.trim_end_matches(".json");
            let rows = fake.contributions.get(kind).cloned().unwrap_or_default();
            let (rows, total) = page(&rows, &q, "queryParameters.");
            Some(json!({
                "SearchTerms": [q.get("queryParameters.searchTerm")],
                "SpokenResultCount": 0,
                "WrittenResultCount": 0,
                "Results": rows,
                "TotalResultCount": total,
            }))
        }
        ["api", "Members", id] => by_id(&fake.members, id),
        _ => None,
    };
    match found {
        Some(v) => json_response(200, serde_json::to_vec(&v).unwrap()),
        None => json_response(
            404,
            br#"{"type":"https://tools.ietf.org/html/rfc7231#section-6.5.4","title":"Not Found","status":404}"#.to_vec(),
        ),
    }
}
