//! A local fake of Discord's Create Message endpoint, strict where Discord is strict.
//!
//! `POST /api/v10/channels/{id}/messages` (the path serenity builds once `api_base` replaces
//! `https://discord.com`), JSON or multipart (`payload_json` + `files[n]`). It checks the bot
//! token, validates like Discord (content 2000, 10 embeds, title 256, description 4096,
//! 25 fields of 256/1024, footer 2048, 6000 per message, well-formed URLs, nonce ≤ 25,
//! upload size) and answers Discord's error bodies (`{"code":50035,"errors":…,"message":
//! "Invalid Form Body"}`). It works out who a posted message would ping under Discord's
//! `allowed_mentions` rules, and dedupes `enforce_nonce` posts by returning the original.
//!
//! On top it enforces policywatch's own policy, so a slip fails loudly: `allowed_mentions`
//! must be present, `parse` empty, and the users and roles allowed exactly those mentioned
//! in the content.
//!
//! It can be scripted to fail: 429 (with a tiny `retry_after`), 5xx, 401/403, "down"
//! (connections accepted and closed unanswered), or post a message and then stall so the
//! client never learns it went through.
//!
//! Included with `#[path = "common/fake_discord.rs"] mod fake_discord;`.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One scripted answer, used by the next request (or, for `Down`, the next connection).
#[derive(Debug, Clone)]
pub enum Step {
    RateLimited {
        retry_after: f64,
        global: bool,
    },
    ServerError(u16),
    /// The connection is accepted and closed without an answer.
    Down,
    Unauthorized,
    Forbidden,
    /// A 400 as Discord gives for a message it will never take.
    Refuse {
        code: u64,
        message: &'static str,
    },
    /// Posts the message, then answers only after this long.
    PostThenStall(Duration),
}

/// Who a message pinged, by Discord's rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pinged {
    pub everyone: bool,
    pub users: Vec<u64>,
    pub roles: Vec<u64>,
}

impl Pinged {
    pub fn nobody(&self) -> bool {
        !self.everyone && self.users.is_empty() && self.roles.is_empty()
    }
}

#[derive(Debug, Clone)]
pub struct Posted {
    pub id: u64,
    pub channel: u64,
    pub payload: Value,
    /// (filename, bytes) of each uploaded file.
    pub files: Vec<(String, Vec<u8>)>,
    pub pinged: Pinged,
}

impl Posted {
    pub fn embeds(&self) -> Vec<Value> {
        self.payload["embeds"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn nonce(&self) -> Option<&str> {
        self.payload["nonce"].as_str()
    }
}

/// What each request got, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Posted(u64),
    Deduplicated(u64),
    Status(u16),
    Dropped,
}

#[derive(Default)]
struct Inner {
    token: String,
    script: VecDeque<Step>,
    posted: Vec<Posted>,
    nonces: HashMap<(u64, String), u64>,
    answers: Vec<Answer>,
    rejections: Vec<(u16, Value)>,
    authorizations: Vec<String>,
    next_id: u64,
    /// Per-channel bucket like Discord's: this many posts per window, announced in
    /// `X-RateLimit-*` headers; one more inside the window earns a 429.
    bucket: Option<(u32, Duration)>,
    windows: HashMap<u64, (std::time::Instant, u32)>,
}

type Shared = Arc<Mutex<Inner>>;

pub struct FakeDiscord {
    /// `http://127.0.0.1:PORT/`, for `[discord] api_base`.
    pub base: String,
    inner: Shared,
    task: JoinHandle<()>,
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeDiscord {
    /// Starts the fake; requests must carry `Authorization: Bot <token>`.
    pub async fn start(token: &str) -> FakeDiscord {
        let inner: Shared = Arc::new(Mutex::new(Inner {
            token: token.to_string(),
            next_id: 1_300_000_000_000_000_000,
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/api/v10/channels/{channel}/messages", post(create_message))
            .layer(DefaultBodyLimit::max(32 * 1024 * 1024))
            // One request per connection, so "down" can refuse each attempt at accept.
            .layer(axum::middleware::map_response(
                |mut r: Response| async move {
                    r.headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                    r
                },
            ))
            .with_state(inner.clone());
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = tcp.local_addr().expect("addr");
        let listener = ScriptedListener {
            tcp,
            inner: inner.clone(),
        };
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeDiscord {
            base: format!("http://{addr}/"),
            inner,
            task,
        }
    }

    /// Queues `step` for the next `times` requests.
    pub fn script(&self, step: Step, times: usize) {
        let mut inner = self.lock();
        for _ in 0..times {
            inner.script.push_back(step.clone());
        }
    }

    /// Limits each channel to `limit` posts per `window`, as Discord does.
    pub fn bucket(&self, limit: u32, window: Duration) {
        self.lock().bucket = Some((limit, window));
    }

    pub fn posted(&self) -> Vec<Posted> {
        self.lock().posted.clone()
    }

    pub fn answers(&self) -> Vec<Answer> {
        self.lock().answers.clone()
    }

    /// Bodies of the 4xx answers given for invalid messages.
    pub fn rejections(&self) -> Vec<(u16, Value)> {
        self.lock().rejections.clone()
    }

    /// `Authorization` headers seen.
    pub fn authorizations(&self) -> Vec<String> {
        self.lock().authorizations.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Accepts connections, closing unanswered those a `Down` step claims.
struct ScriptedListener {
    tcp: TcpListener,
    inner: Shared,
}

impl axum::serve::Listener for ScriptedListener {
    type Io = TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            if matches!(inner.script.front(), Some(Step::Down)) {
                inner.script.pop_front();
                inner.answers.push(Answer::Dropped);
                drop(stream);
                continue;
            }
            return (stream, addr);
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

fn error(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), Json(body)).into_response()
}

async fn create_message(
    State(inner): State<Shared>,
    Path(channel): Path<u64>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let (step, token) = {
        let mut i = inner.lock().unwrap();
        i.authorizations.push(auth.clone());
        (i.script.pop_front(), i.token.clone())
    };
    let record = |a: Answer| inner.lock().unwrap().answers.push(a);
    if auth != format!("Bot {token}") {
        record(Answer::Status(401));
        return error(401, json!({"message": "401: Unauthorized", "code": 0}));
    }
    let mut bucket_headers = None;
    {
        let mut i = inner.lock().unwrap();
        if let Some((limit, window)) = i.bucket {
            let now = std::time::Instant::now();
            let w = i.windows.entry(channel).or_insert((now, 0));
            if now.duration_since(w.0) >= window {
                *w = (now, 0);
            }
            let reset_after = window.saturating_sub(now.duration_since(w.0)).as_secs_f64();
            if w.1 >= limit {
                i.answers.push(Answer::Status(429));
                drop(i);
                let body = json!({"message": "You are being rate limited.", "retry_after": reset_after, "global": false});
                return error(429, body);
            }
            w.1 += 1;
            bucket_headers = Some((limit - w.1, reset_after));
        }
    }
    let mut stall = None;
    match step {
        Some(Step::RateLimited {
            retry_after,
            global,
        }) => {
            record(Answer::Status(429));
            let mut r = error(
                429,
                json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": global}),
            );
            let h = r.headers_mut();
            h.insert("retry-after", HeaderValue::from(retry_after.ceil() as u64));
            h.insert(
                "x-ratelimit-scope",
                HeaderValue::from_static(if global { "global" } else { "user" }),
            );
            if global {
                h.insert("x-ratelimit-global", HeaderValue::from_static("true"));
            }
            return r;
        }
        Some(Step::ServerError(code)) => {
            record(Answer::Status(code));
            return error(code, json!({"message": "Internal Server Error", "code": 0}));
        }
        Some(Step::Unauthorized) => {
            record(Answer::Status(401));
            return error(401, json!({"message": "401: Unauthorized", "code": 0}));
        }
        Some(Step::Forbidden) => {
            record(Answer::Status(403));
            return error(403, json!({"message": "Missing Access", "code": 50001}));
        }
        Some(Step::Refuse { code, message }) => {
            let body = json!({"code": code, "message": message});
            let mut i = inner.lock().unwrap();
            i.answers.push(Answer::Status(400));
            i.rejections.push((400, body.clone()));
            return error(400, body);
        }
        Some(Step::PostThenStall(d)) => stall = Some(d),
        // A Down step reached here only if the connection was already open: treat as down.
        Some(Step::Down) => {
            record(Answer::Dropped);
            return error(503, json!({"message": "down", "code": 0}));
        }
        None => {}
    }

    let (payload, files) = match read_body(&headers, request).await {
        Ok(x) => x,
        Err(r) => {
            record(Answer::Status(400));
            return r;
        }
    };
    if let Err((status, body)) = validate(&payload, &files) {
        let mut i = inner.lock().unwrap();
        i.answers.push(Answer::Status(status));
        i.rejections.push((status, body.clone()));
        return error(status, body);
    }

    let response = {
        let mut i = inner.lock().unwrap();
        let nonce = payload["nonce"].as_str().map(str::to_string);
        let enforce = payload["enforce_nonce"].as_bool().unwrap_or(false);
        let seen = nonce
            .as_ref()
            .filter(|_| enforce)
            .and_then(|n| i.nonces.get(&(channel, n.clone())).copied());
        if let Some(original) = seen {
            // Discord answers a repeat with the message already created.
            i.answers.push(Answer::Deduplicated(original));
            let p = i.posted.iter().find(|p| p.id == original).unwrap().clone();
            message_json(&p)
        } else {
            let id = i.next_id;
            i.next_id += 1;
            let p = Posted {
                id,
                channel,
                pinged: pings(&payload),
                payload,
                files,
            };
            if let (Some(n), true) = (nonce, enforce) {
                i.nonces.insert((channel, n), id);
            }
            i.answers.push(Answer::Posted(id));
            let body = message_json(&p);
            i.posted.push(p);
            body
        }
    };
    if let Some(d) = stall {
        tokio::time::sleep(d).await;
    }
    let mut r = (StatusCode::OK, Json(response)).into_response();
    if let Some((remaining, reset_after)) = bucket_headers {
        let h = r.headers_mut();
        h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
        h.insert(
            "x-ratelimit-reset-after",
            HeaderValue::from_str(&format!("{reset_after:.3}")).unwrap(),
        );
    }
    r
}

type Files = Vec<(String, Vec<u8>, String)>;

/// The payload and uploaded files (filename, bytes, form field name).
async fn read_body(
    headers: &HeaderMap,
    request: Request,
) -> Result<(Value, Vec<(String, Vec<u8>)>), Response> {
    let bad = |m: &str| error(400, json!({"code": 50109, "message": m}));
    let is_multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !is_multipart {
        let bytes = Bytes::from_request(request, &())
            .await
            .map_err(|_| bad("The request body contains invalid JSON."))?;
        let v = serde_json::from_slice(&bytes)
            .map_err(|_| bad("The request body contains invalid JSON."))?;
        return Ok((v, Vec::new()));
    }
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|_| bad("Invalid multipart body"))?;
    let mut payload = None;
    let mut files: Files = Vec::new();
    while let Ok(Some(field)) = form.next_field().await {
        let name = field.name().unwrap_or_default().to_string();
        let filename = field.file_name().map(str::to_string);
        let data = field
            .bytes()
            .await
            .map_err(|_| bad("Invalid multipart body"))?;
        if name == "payload_json" {
            payload = Some(
                serde_json::from_slice(&data)
                    .map_err(|_| bad("The request body contains invalid JSON."))?,
            );
        } else if let Some(filename) = filename {
            files.push((filename, data.to_vec(), name));
        }
    }
    let payload: Value = payload.unwrap_or_else(|| json!({}));
    // Each attachment described in the payload needs its `files[id]` part.
    for a in payload["attachments"].as_array().into_iter().flatten() {
        let id = a["id"].as_u64().unwrap_or(u64::MAX);
        if !files.iter().any(|f| f.2 == format!("files[{id}]")) {
            return Err(error(
                400,
                json!({"code": 50035, "message": "Invalid Form Body", "errors": {"attachments": {"0": {"_errors": [{"code": "ATTACHMENT_NOT_FOUND", "message": "Attachment data not found"}]}}}}),
            ));
        }
    }
    if files.iter().map(|f| f.1.len()).sum::<usize>() > 10 * 1024 * 1024 {
        return Err(error(
            413,
            json!({"code": 40005, "message": "Request entity too large"}),
        ));
    }
    Ok((payload, files.into_iter().map(|(n, d, _)| (n, d)).collect()))
}

fn len(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// Discord's checks, plus policywatch's mention policy. Err: status and error body.
fn validate(p: &Value, files: &[(String, Vec<u8>)]) -> Result<(), (u16, Value)> {
    let mut errors = serde_json::Map::new();
    let mut add = |path: &[&str], code: &str, message: String| {
        let mut node = &mut errors;
        for part in path {
            node = node
                .entry(part.to_string())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .unwrap();
        }
        node.entry("_errors")
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .unwrap()
            .push(json!({"code": code, "message": message}));
    };
    let max = |add: &mut dyn FnMut(&[&str], &str, String), path: &[&str], v: &Value, n: usize| {
        if len(v) > n {
            add(
                path,
                "BASE_TYPE_MAX_LENGTH",
                format!("Must be {n} or fewer in length."),
            );
        }
    };

    max(&mut add, &["content"], &p["content"], 2000);
    let embeds = p["embeds"].as_array().cloned().unwrap_or_default();
    if embeds.len() > 10 {
        add(
            &["embeds"],
            "BASE_TYPE_MAX_LENGTH",
            "Must be 10 or fewer in length.".into(),
        );
    }
    let mut total = 0;
    for (i, e) in embeds.iter().enumerate() {
        let i = i.to_string();
        max(&mut add, &["embeds", &i, "title"], &e["title"], 256);
        max(
            &mut add,
            &["embeds", &i, "description"],
            &e["description"],
            4096,
        );
        max(
            &mut add,
            &["embeds", &i, "footer", "text"],
            &e["footer"]["text"],
            2048,
        );
        if let Some(url) = e["url"].as_str() {
            let ok = url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
            if !ok {
                add(
                    &["embeds", &i, "url"],
                    "URL_TYPE_INVALID_URL",
                    "Not a well formed URL.".into(),
                );
            }
        }
        if e["color"].as_u64().is_some_and(|c| c > 0xFF_FFFF) {
            add(
                &["embeds", &i, "color"],
                "NUMBER_TYPE_MAX",
                "int value should be less than or equal to 16777215.".into(),
            );
        }
        let fields = e["fields"].as_array().cloned().unwrap_or_default();
        if fields.len() > 25 {
            add(
                &["embeds", &i, "fields"],
                "BASE_TYPE_MAX_LENGTH",
                "Must be 25 or fewer in length.".into(),
            );
        }
        for (j, f) in fields.iter().enumerate() {
            let j = j.to_string();
            for (key, n) in [("name", 256), ("value", 1024)] {
                if len(&f[key]) == 0 {
                    add(
                        &["embeds", &i, "fields", &j, key],
                        "BASE_TYPE_REQUIRED",
                        "This field is required".into(),
                    );
                }
                max(&mut add, &["embeds", &i, "fields", &j, key], &f[key], n);
            }
            total += len(&f["name"]) + len(&f["value"]);
        }
        total += len(&e["title"])
            + len(&e["description"])
            + len(&e["footer"]["text"])
            + len(&e["author"]["name"]);
    }
    if total > 6000 {
        add(
            &["embeds"],
            "MAX_EMBED_SIZE_EXCEEDED",
            "Embed size exceeds maximum size of 6000".into(),
        );
    }
    if let Some(n) = p.get("nonce") {
        let ok = match n {
            Value::String(s) => s.chars().count() <= 25,
            Value::Number(_) | Value::Null => true,
            _ => false,
        };
        if !ok {
            add(
                &["nonce"],
                "BASE_TYPE_MAX_LENGTH",
                "Must be 25 or fewer in length.".into(),
            );
        }
    }
    let am = &p["allowed_mentions"];
    let parse: Vec<&str> = am["parse"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
        .collect();
    let ids = |key: &str| -> Vec<u64> {
        am[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().and_then(|s| s.parse().ok()).or(v.as_u64()))
            .collect()
    };
    let (users, roles) = (ids("users"), ids("roles"));
    if parse.contains(&"users") && !users.is_empty()
        || parse.contains(&"roles") && !roles.is_empty()
    {
        add(
            &["allowed_mentions"],
            "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
            "parse:[\"users\"] and users: [ids...] are mutually exclusive.".into(),
        );
    }
    if !errors.is_empty() {
        return Err((
            400,
            json!({"code": 50035, "errors": errors, "message": "Invalid Form Body"}),
        ));
    }
    if len(&p["content"]) == 0 && embeds.is_empty() && files.is_empty() {
        return Err((
            400,
            json!({"code": 50006, "message": "Cannot send an empty message"}),
        ));
    }

    // policywatch's own policy, stricter than Discord.
    let content = p["content"].as_str().unwrap_or_default();
    let policy = if am.is_null() {
        Some("allowed_mentions must be set explicitly")
    } else if !parse.is_empty() {
        Some("allowed_mentions.parse must be empty")
    } else if users.iter().any(|u| !content.contains(&format!("<@{u}>")))
        || roles.iter().any(|r| !content.contains(&format!("<@&{r}>")))
    {
        Some("allowed_mentions lists someone the content does not mention")
    } else {
        None
    };
    if let Some(reason) = policy {
        return Err((
            400,
            json!({"code": 50035, "message": "Invalid Form Body", "errors": {"allowed_mentions": {"_errors": [{"code": "POLICYWATCH_POLICY", "message": reason}]}}}),
        ));
    }
    Ok(())
}

/// Who Discord would ping: mentions in the content (embeds never ping), filtered by
/// `allowed_mentions` (absent: everything in the content pings).
fn pings(p: &Value) -> Pinged {
    let content = p["content"].as_str().unwrap_or_default();
    let am = &p["allowed_mentions"];
    let parse: Vec<String> = if am.is_null() {
        vec!["users".into(), "roles".into(), "everyone".into()]
    } else {
        am["parse"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    let listed = |key: &str| -> Vec<u64> {
        am[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().and_then(|s| s.parse().ok()).or(v.as_u64()))
            .collect()
    };
    let re_user = regex::Regex::new(r"<@!?(\d+)>").unwrap();
    let re_role = regex::Regex::new(r"<@&(\d+)>").unwrap();
    let users = re_user
        .captures_iter(content)
        .filter_map(|c| c[1].parse().ok())
        .filter(|id| parse.iter().any(|p| p == "users") || listed("users").contains(id))
        .collect();
    let roles = re_role
        .captures_iter(content)
        .filter_map(|c| c[1].parse().ok())
        .filter(|id| parse.iter().any(|p| p == "roles") || listed("roles").contains(id))
        .collect();
    Pinged {
        everyone: parse.iter().any(|p| p == "everyone")
            && (content.contains("@everyone") || content.contains("@here")),
        users,
        roles,
    }
}

fn message_json(p: &Posted) -> Value {
    json!({
        "id": p.id.to_string(),
        "channel_id": p.channel.to_string(),
        "type": 0,
        "content": p.payload["content"].as_str().unwrap_or_default(),
        "embeds": p.payload["embeds"],
        "nonce": p.payload["nonce"],
        "attachments": p.files.iter().enumerate().map(|(i, (name, data))| json!({
            "id": (p.id + 1 + i as u64).to_string(), "filename": name, "size": data.len()
        })).collect::<Vec<_>>(),
        "mention_everyone": p.pinged.everyone,
        "mention_roles": p.pinged.roles.iter().map(u64::to_string).collect::<Vec<_>>(),
        "mentions": p.pinged.users.iter().map(|u| json!({"id": u.to_string()})).collect::<Vec<_>>(),
        "timestamp": "2026-03-02T09:00:00.000000+00:00",
        "tts": false,
        "pinned": false,
    })
}
