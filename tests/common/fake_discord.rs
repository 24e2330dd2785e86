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
//! It is also the gateway (a websocket on its own port, announced by `GET /gateway`): hello,
//! identify (token and intents checked), READY, heartbeat ACKs, resume (replaying what the
//! session missed; a new identify loses what the old session never got, as Discord does),
//! and the dispatches a test sends: slash commands, component choices, reactions. It checks
//! interaction answers as Discord does: unknown or already answered interactions, the
//! 3-second window (from when the dispatch went out), flags, content and component limits,
//! `allowed_mentions`; deferred answers are edited in through the webhook route. An answer
//! (first or edit) can be given a 429 with a chosen `retry_after` ([`FakeDiscord::rate_limit_answer`]). Slash
//! command registration, the bot's own reactions and threads are recorded.
//!
//! Included with `#[path = "common/fake_discord.rs"] mod fake_discord;`.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
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
    gw: Gateway,
    /// Bumped on every change a test may wait for.
    changed: Option<tokio::sync::watch::Sender<u64>>,
}

type Shared = Arc<Mutex<Inner>>;

pub struct FakeDiscord {
    /// `http://127.0.0.1:PORT/`, for `[discord] api_base`.
    pub base: String,
    inner: Shared,
    task: JoinHandle<()>,
    gw_task: JoinHandle<()>,
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.task.abort();
        self.gw_task.abort();
        // Open gateway connections end with their sender.
        self.lock().gw.conn = None;
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
        let (changed, _) = tokio::sync::watch::channel(0u64);
        inner.lock().unwrap().changed = Some(changed);
        let ws = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        inner.lock().unwrap().gw.url = format!("ws://{}", ws.local_addr().unwrap());
        let gw_task = tokio::spawn(serve_gateway(ws, inner.clone()));
        let app = Router::new()
            .route("/api/v10/channels/{channel}/messages", post(create_message))
            .route("/api/v10/gateway", get(gateway_url))
            .route("/api/v10/gateway/bot", get(gateway_url))
            .route(
                "/api/v10/applications/{app}/guilds/{guild}/commands",
                put(register_commands),
            )
            .route(
                "/api/v10/interactions/{id}/{token}/callback",
                post(interaction_callback),
            )
            .route(
                "/api/v10/webhooks/{app}/{token}/messages/@original",
                patch(edit_original),
            )
            .route(
                "/api/v10/channels/{channel}/messages/{message}/reactions/{emoji}/@me",
                put(own_reaction),
            )
            .route(
                "/api/v10/channels/{channel}/messages/{message}/reactions/{emoji}",
                get(reaction_users),
            )
            .route(
                "/api/v10/channels/{channel}/messages/{message}/threads",
                post(start_thread),
            )
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
            gw_task,
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

// ---------------------------------------------------------------------------------------
// The gateway, interactions and the chat side of the HTTP API.

/// The fake guild, the bot's application (its user id too).
pub const GUILD: u64 = 1_100_000_000_000_000_001;
pub const APP: u64 = 1_200_000_000_000_000_001;
/// Heartbeat interval the fake announces (Discord's usual).
pub const HEARTBEAT_MS: u64 = 41_250;
/// The window Discord gives an interaction's first answer.
pub const ANSWER_WINDOW: Duration = Duration::from_secs(3);

/// A member of the fake guild.
#[derive(Debug, Clone)]
pub struct FakeUser {
    pub id: u64,
    pub name: &'static str,
    pub roles: Vec<u64>,
}

impl FakeUser {
    fn user_json(&self) -> Value {
        json!({"id": self.id.to_string(), "username": self.name, "discriminator": "0",
               "global_name": self.name, "avatar": null, "bot": self.id == APP})
    }
    fn member_json(&self) -> Value {
        json!({"user": self.user_json(), "roles": self.roles.iter().map(u64::to_string).collect::<Vec<_>>(),
               "joined_at": "2025-01-06T09:00:00.000000+00:00", "deaf": false, "mute": false,
               "flags": 0, "nick": null, "permissions": "2248473465835073"})
    }
}

/// One answer the bot gave an interaction.
#[derive(Debug, Clone)]
pub struct InteractionReply {
    pub interaction: u64,
    /// `callback` (the first answer) or `edit` (a deferred answer edited in).
    pub route: &'static str,
    pub body: Value,
    pub files: Vec<(String, Vec<u8>)>,
    /// From the dispatch going out to this answer arriving.
    pub latency: Duration,
}

impl InteractionReply {
    /// The response type (4 message, 5 deferred, 6 deferred update, 7 update); edits: 0.
    pub fn kind(&self) -> u64 {
        self.body["type"].as_u64().unwrap_or(0)
    }
    fn data(&self) -> &Value {
        if self.route == "edit" {
            &self.body
        } else {
            &self.body["data"]
        }
    }
    pub fn content(&self) -> String {
        self.data()["content"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
    pub fn ephemeral(&self) -> bool {
        self.data()["flags"].as_u64().unwrap_or(0) & 64 != 0
    }
    /// The string select menu's options (value, label), if any.
    pub fn choices(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for row in self.data()["components"].as_array().into_iter().flatten() {
            for c in row["components"].as_array().into_iter().flatten() {
                for o in c["options"].as_array().into_iter().flatten() {
                    out.push((
                        o["value"].as_str().unwrap_or_default().into(),
                        o["label"].as_str().unwrap_or_default().into(),
                    ));
                }
            }
        }
        out
    }
}

#[derive(Debug, Clone)]
struct Pending {
    token: String,
    /// When the dispatch went out on a connection (the 3 s start from there).
    sent_at: Option<std::time::Instant>,
    /// The first answer's type, once answered.
    answered: Option<u64>,
    channel: u64,
}

enum Out {
    Frame(Value),
    /// Drop the TCP connection without a close frame.
    Kill,
}

#[derive(Default)]
struct Gateway {
    url: String,
    session: Option<String>,
    sessions: u64,
    seq: u64,
    /// Every dispatch of the current session: (seq, payload, interaction id if any).
    events: Vec<(u64, Value, Option<u64>)>,
    /// Highest seq written to a live connection.
    sent: u64,
    conn: Option<(u64, tokio::sync::mpsc::UnboundedSender<Out>)>,
    conns: u64,
    /// Connections waiting at a hold.
    waiting: usize,
    /// The next this many identifies are refused as a bad token would be (close 4004).
    refuse_identifies: usize,
    refused_identifies: usize,
    identifies: Vec<Value>,
    resumes: Vec<Value>,
    heartbeats: usize,
    /// Dispatches a new identify threw away (the old session never got them).
    lost: usize,
    pending: HashMap<u64, Pending>,
    replies: Vec<InteractionReply>,
    /// Interaction answers refused, with Discord's body.
    refused: Vec<(u16, Value)>,
    commands: Vec<Value>,
    own_reactions: Vec<(u64, u64, String)>,
    /// Who has each reaction on each message now: (message, emoji) → users, oldest first.
    reactions: HashMap<(u64, String), Vec<Value>>,
    /// `GET …/reactions/{emoji}` requests answered (each page counts).
    reaction_reads: usize,
    threads: Vec<(u64, u64, Value)>,
    /// The next interaction answers on a route (`callback` / `edit`) get a 429 with this
    /// `retry_after` (seconds), one per entry, oldest first.
    limit_answers: Vec<(&'static str, f64)>,
    /// Answers given a 429: (route, interaction).
    limited: Vec<(&'static str, u64)>,
    /// While set, new connections are accepted at TCP level and then left hanging (no
    /// websocket handshake) until released: an outage the bot cannot get past.
    held: Option<tokio::sync::watch::Receiver<bool>>,
    hold: Option<tokio::sync::watch::Sender<bool>>,
}

impl Inner {
    fn bump(&self) {
        if let Some(c) = &self.changed {
            c.send_modify(|n| *n += 1);
        }
    }

    fn snowflake(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Queues a dispatch; sent at once on a live connection, else kept for a resume.
    fn dispatch(&mut self, t: &str, d: Value, interaction: Option<u64>) -> u64 {
        self.gw.seq += 1;
        let seq = self.gw.seq;
        let payload = json!({"op": 0, "s": seq, "t": t, "d": d});
        self.gw.events.push((seq, payload.clone(), interaction));
        if let Some((_, tx)) = &self.gw.conn {
            if tx.send(Out::Frame(payload)).is_ok() {
                self.gw.sent = seq;
                if let Some(p) = interaction.and_then(|i| self.gw.pending.get_mut(&i)) {
                    p.sent_at = Some(std::time::Instant::now());
                }
            }
        }
        self.bump();
        seq
    }
}

impl FakeDiscord {
    /// Every identify payload's `d`, in order.
    pub fn identifies(&self) -> Vec<Value> {
        self.lock().gw.identifies.clone()
    }
    pub fn resumes(&self) -> Vec<Value> {
        self.lock().gw.resumes.clone()
    }
    pub fn heartbeats(&self) -> usize {
        self.lock().gw.heartbeats
    }
    /// Dispatches lost to a session that was replaced instead of resumed.
    pub fn lost(&self) -> usize {
        self.lock().gw.lost
    }
    pub fn registered_commands(&self) -> Vec<Value> {
        self.lock().gw.commands.clone()
    }
    /// The bot's own reactions: (channel, message, emoji).
    pub fn own_reactions(&self) -> Vec<(u64, u64, String)> {
        self.lock().gw.own_reactions.clone()
    }
    /// Refuses the next `n` identifies with close code 4004 (authentication failed).
    pub fn refuse_identifies(&self, n: usize) {
        self.lock().gw.refuse_identifies = n;
    }
    pub fn refused_identifies(&self) -> usize {
        self.lock().gw.refused_identifies
    }

    /// How many times the bot read a message's list of reactions.
    pub fn reaction_reads(&self) -> usize {
        self.lock().gw.reaction_reads
    }
    pub fn threads(&self) -> Vec<(u64, u64, Value)> {
        self.lock().gw.threads.clone()
    }
    pub fn replies(&self, interaction: u64) -> Vec<InteractionReply> {
        self.lock()
            .gw
            .replies
            .iter()
            .filter(|r| r.interaction == interaction)
            .cloned()
            .collect()
    }
    /// Answers the next interaction answer on `route` (`callback`, the first answer, or
    /// `edit`, `PATCH @original`) with a 429 carrying `retry_after` seconds in the body
    /// and `Retry-After` header, as Discord does.
    pub fn rate_limit_answer(&self, route: &'static str, retry_after: f64) {
        self.lock().gw.limit_answers.push((route, retry_after));
    }
    /// Answers given a 429: (route, interaction).
    pub fn rate_limited_answers(&self) -> Vec<(&'static str, u64)> {
        self.lock().gw.limited.clone()
    }
    /// Interaction answers Discord would have refused.
    pub fn refused_answers(&self) -> Vec<(u16, Value)> {
        self.lock().gw.refused.clone()
    }
    pub fn connected(&self) -> bool {
        self.lock().gw.conn.is_some()
    }

    /// Waits (on the fake's own changes, not on time) until `ready` holds; panics after
    /// `limit` of no progress, naming `what`.
    pub async fn wait_for(&self, what: &str, ready: impl Fn(&FakeDiscord) -> bool) {
        let mut rx = self.lock().changed.as_ref().unwrap().subscribe();
        loop {
            rx.borrow_and_update();
            if ready(self) {
                return;
            }
            if tokio::time::timeout(Duration::from_secs(20), rx.changed())
                .await
                .is_err()
            {
                panic!("fake Discord: gave up waiting for {what}");
            }
        }
    }

    /// Waits for the bot to have identified or resumed and to hold a live connection.
    pub async fn wait_connected(&self, identifies: usize, resumes: usize) {
        self.wait_for("the bot to connect", |f| {
            let i = f.lock();
            i.gw.conn.is_some()
                && i.gw.identifies.len() >= identifies
                && i.gw.resumes.len() >= resumes
                && i.gw.session.is_some()
        })
        .await
    }

    fn interaction(
        &self,
        user: &FakeUser,
        channel: u64,
        kind: u64,
        data: Value,
        extra: Value,
    ) -> u64 {
        let mut i = self.lock();
        let id = i.snowflake();
        let token = format!("interaction-token-{id}");
        i.gw.pending.insert(
            id,
            Pending {
                token: token.clone(),
                sent_at: None,
                answered: None,
                channel,
            },
        );
        let mut d = json!({
            "id": id.to_string(), "application_id": APP.to_string(), "type": kind,
            "data": data, "guild_id": GUILD.to_string(), "channel_id": channel.to_string(),
            "channel": {"id": channel.to_string(), "type": 0},
            "member": user.member_json(), "token": token, "version": 1,
            "app_permissions": "2248473465835073", "locale": "en-GB", "guild_locale": "en-GB",
            "entitlements": [], "authorizing_integration_owners": {"0": GUILD.to_string()},
            "context": 0, "attachment_size_limit": 10485760
        });
        if let (Some(d), Some(extra)) = (d.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                d.insert(k.clone(), v.clone());
            }
        }
        i.dispatch("INTERACTION_CREATE", d, Some(id));
        id
    }

    /// A member runs a slash command; `options` as Discord sends them. Returns its id.
    pub fn slash(&self, user: &FakeUser, channel: u64, name: &str, options: Value) -> u64 {
        let data = json!({"id": "1400000000000000001", "name": name, "type": 1,
                          "options": options, "guild_id": GUILD.to_string()});
        self.interaction(user, channel, 2, data, json!({}))
    }

    /// A member picks `values` in the select menu `custom_id` of an answer we sent.
    pub fn choose(&self, user: &FakeUser, channel: u64, custom_id: &str, values: &[&str]) -> u64 {
        let message = json!({
            "id": "1400000000000000002", "channel_id": channel.to_string(),
            "author": {"id": APP.to_string(), "username": "policywatch", "discriminator": "0",
                       "global_name": null, "avatar": null, "bot": true},
            "content": "", "timestamp": "2026-03-02T09:00:00.000000+00:00",
            "edited_timestamp": null, "tts": false, "mention_everyone": false, "mentions": [],
            "mention_roles": [], "attachments": [], "embeds": [], "pinned": false, "type": 20,
            "flags": 64, "components": []
        });
        let data = json!({"custom_id": custom_id, "component_type": 3, "values": values});
        self.interaction(user, channel, 3, data, json!({"message": message}))
    }

    /// A member adds (or, `on = false`, removes) a reaction on a message.
    pub fn react(&self, user: &FakeUser, channel: u64, message: u64, emoji: &str, on: bool) {
        let mut d = json!({
            "user_id": user.id.to_string(), "channel_id": channel.to_string(),
            "message_id": message.to_string(), "guild_id": GUILD.to_string(),
            "emoji": {"id": null, "name": emoji}, "burst": false, "type": 0
        });
        if on {
            // Discord sends the member with an add only.
            d["member"] = user.member_json();
            d["message_author_id"] = APP.to_string().into();
        }
        let t = if on {
            "MESSAGE_REACTION_ADD"
        } else {
            "MESSAGE_REACTION_REMOVE"
        };
        let mut i = self.lock();
        let users =
            i.gw.reactions
                .entry((message, emoji.to_string()))
                .or_default();
        let id = user.id.to_string();
        users.retain(|u| u["id"].as_str() != Some(id.as_str()));
        if on {
            users.push(user.user_json());
        }
        i.dispatch(t, d, None);
    }

    /// Gives a message's reaction to `users` without any event, as if they had reacted
    /// while nobody listened (a crowd for paging the list).
    pub fn preset_reactions(&self, message: u64, emoji: &str, users: &[FakeUser]) {
        let mut i = self.lock();
        let list =
            i.gw.reactions
                .entry((message, emoji.to_string()))
                .or_default();
        list.extend(users.iter().map(FakeUser::user_json));
    }

    /// From now on, gateway connections hang before the handshake until [`Self::release_gateway`].
    pub fn hold_gateway(&self) {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let mut i = self.lock();
        i.gw.hold = Some(tx);
        i.gw.held = Some(rx);
    }

    /// Lets held and new gateway connections through.
    pub fn release_gateway(&self) {
        let mut i = self.lock();
        i.gw.held = None;
        if let Some(tx) = i.gw.hold.take() {
            let _ = tx.send(true);
        }
    }

    /// Connections waiting at the hold.
    pub fn held_connections(&self) -> usize {
        self.lock().gw.waiting
    }

    /// Drops the bot's gateway connection without a close frame (a network cut).
    pub fn cut_gateway(&self) {
        let mut i = self.lock();
        if let Some((_, tx)) = i.gw.conn.take() {
            let _ = tx.send(Out::Kill);
        }
        i.bump();
    }

    /// Waits for the final answer of an interaction (a deferred one's edit) and returns
    /// every answer it got.
    pub async fn answered(&self, interaction: u64) -> Vec<InteractionReply> {
        self.wait_for("an interaction answer", |f| {
            let r = f.replies(interaction);
            r.last().is_some_and(|r| !matches!(r.kind(), 5 | 6))
        })
        .await;
        self.replies(interaction)
    }
}

async fn gateway_url(State(inner): State<Shared>) -> Response {
    let url = inner.lock().unwrap().gw.url.clone();
    Json(json!({"url": url, "shards": 1, "session_start_limit":
        {"total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1}}))
    .into_response()
}

async fn serve_gateway(listener: TcpListener, inner: Shared) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(gateway_connection(stream, inner.clone()));
    }
}

fn frame(v: &Value) -> tokio_tungstenite::tungstenite::Message {
    tokio_tungstenite::tungstenite::Message::Text(v.to_string())
}

async fn gateway_connection(stream: TcpStream, inner: Shared) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
    use tokio_tungstenite::tungstenite::Message;
    let held = inner.lock().unwrap().gw.held.clone();
    if let Some(mut held) = held {
        {
            let mut i = inner.lock().unwrap();
            i.gw.waiting += 1;
            i.bump();
        }
        let _ = held.wait_for(|released| *released).await;
        let mut i = inner.lock().unwrap();
        i.gw.waiting -= 1;
        i.bump();
    }
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut sink, mut source) = ws.split();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Out>();
    let me = {
        let mut i = inner.lock().unwrap();
        i.gw.conns += 1;
        i.gw.conns
    };
    let hello = json!({"op": 10, "s": null, "t": null, "d": {"heartbeat_interval": HEARTBEAT_MS}});
    if sink.send(frame(&hello)).await.is_err() {
        return;
    }
    let close = |code: u16, reason: &'static str| {
        Message::Close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        }))
    };
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(Out::Frame(v)) => {
                    if sink.send(frame(&v)).await.is_err() {
                        break;
                    }
                }
                // Dropping the stream closes the socket with no close frame.
                Some(Out::Kill) | None => return,
            },
            msg = source.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Binary(_))) => {
                        let _ = sink.send(close(4002, "Error while decoding payload.")).await;
                        break;
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                let Ok(v) = serde_json::from_str::<Value>(&text) else {
                    let _ = sink.send(close(4002, "Error while decoding payload.")).await;
                    break;
                };
                if let Some((code, reason)) = gateway_op(&inner, &tx, me, &v) {
                    let _ = sink.send(close(code, reason)).await;
                    break;
                }
            }
        }
    }
    let mut i = inner.lock().unwrap();
    if i.gw.conn.as_ref().is_some_and(|(c, _)| *c == me) {
        i.gw.conn = None;
    }
    i.bump();
}

/// Handles one payload from the bot; `Some`: close the connection with this code.
fn gateway_op(
    inner: &Shared,
    tx: &tokio::sync::mpsc::UnboundedSender<Out>,
    me: u64,
    v: &Value,
) -> Option<(u16, &'static str)> {
    let mut i = inner.lock().unwrap();
    let token_ok = |i: &Inner, t: &Value| {
        let t = t.as_str().unwrap_or_default();
        t == i.token || t == format!("Bot {}", i.token)
    };
    match v["op"].as_u64() {
        Some(1) => {
            i.gw.heartbeats += 1;
            let _ = tx.send(Out::Frame(
                json!({"op": 11, "s": null, "t": null, "d": null}),
            ));
        }
        Some(2) => {
            if !token_ok(&i, &v["d"]["token"]) || i.gw.refuse_identifies > 0 {
                i.gw.refuse_identifies = i.gw.refuse_identifies.saturating_sub(1);
                i.gw.refused_identifies += 1;
                i.bump();
                return Some((4004, "Authentication failed."));
            }
            i.gw.identifies.push(v["d"].clone());
            // A new session: what the old one never got is lost.
            let sent = i.gw.sent;
            i.gw.lost += i.gw.events.iter().filter(|(s, _, _)| *s > sent).count();
            i.gw.sessions += 1;
            let session = format!("session-{}", i.gw.sessions);
            i.gw.session = Some(session.clone());
            i.gw.events.clear();
            i.gw.seq = 0;
            i.gw.sent = 0;
            i.gw.conn = Some((me, tx.clone()));
            let url = i.gw.url.clone();
            i.dispatch(
                "READY",
                json!({
                    "v": 10,
                    "user": {"id": APP.to_string(), "username": "policywatch", "discriminator": "0",
                             "global_name": null, "avatar": null, "bot": true, "verified": true,
                             "mfa_enabled": false, "flags": 0},
                    "guilds": [{"id": GUILD.to_string(), "unavailable": true}],
                    "session_id": session, "resume_gateway_url": url,
                    "shard": [0, 1],
                    "application": {"id": APP.to_string(), "flags": 0}
                }),
                None,
            );
        }
        Some(6) => {
            let d = &v["d"];
            let same = i.gw.session.as_deref() == d["session_id"].as_str();
            if !token_ok(&i, &d["token"]) || !same {
                // Not resumable: the bot must identify again.
                let _ = tx.send(Out::Frame(
                    json!({"op": 9, "s": null, "t": null, "d": false}),
                ));
                return None;
            }
            i.gw.resumes.push(d.clone());
            let from = d["seq"].as_u64().unwrap_or(0);
            i.gw.conn = Some((me, tx.clone()));
            let missed: Vec<(u64, Value, Option<u64>)> =
                i.gw.events
                    .iter()
                    .filter(|(s, _, _)| *s > from)
                    .cloned()
                    .collect();
            for (seq, payload, interaction) in missed {
                let _ = tx.send(Out::Frame(payload));
                i.gw.sent = i.gw.sent.max(seq);
                if let Some(p) = interaction.and_then(|x| i.gw.pending.get_mut(&x)) {
                    p.sent_at.get_or_insert_with(std::time::Instant::now);
                }
            }
            i.dispatch("RESUMED", json!({}), None);
        }
        Some(_) => return Some((4001, "Unknown opcode.")),
        None => {}
    }
    i.bump();
    None
}

async fn register_commands(
    State(inner): State<Shared>,
    Path((app, guild)): Path<(u64, u64)>,
    Json(body): Json<Value>,
) -> Response {
    let mut i = inner.lock().unwrap();
    if app != APP || guild != GUILD {
        return error(404, json!({"message": "Unknown Guild", "code": 10004}));
    }
    let Some(list) = body.as_array() else {
        return error(400, json!({"message": "Invalid Form Body", "code": 50035}));
    };
    let name_ok = |n: &Value| {
        n.as_str().is_some_and(|n| {
            (1..=32).contains(&n.chars().count())
                && n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        })
    };
    for c in list {
        let desc = len(&c["description"]);
        if !name_ok(&c["name"]) || !(1..=100).contains(&desc) {
            return error(
                400,
                json!({"message": "Invalid Form Body", "code": 50035, "errors": {"name": c["name"].clone()}}),
            );
        }
        for o in c["options"].as_array().into_iter().flatten() {
            if !name_ok(&o["name"]) || !(1..=100).contains(&len(&o["description"])) {
                return error(
                    400,
                    json!({"message": "Invalid Form Body", "code": 50035, "errors": {"option": o["name"].clone()}}),
                );
            }
        }
    }
    let mut out = Vec::new();
    for c in list {
        let mut c = c.clone();
        c["id"] = i.snowflake().to_string().into();
        c["application_id"] = APP.to_string().into();
        c["guild_id"] = GUILD.to_string().into();
        c["version"] = "1".into();
        c["type"] = c.get("type").cloned().unwrap_or(json!(1));
        c["default_member_permissions"] = c
            .get("default_member_permissions")
            .cloned()
            .unwrap_or(Value::Null);
        out.push(c);
    }
    i.gw.commands = out.clone();
    i.bump();
    Json(Value::Array(out)).into_response()
}

/// Discord's checks of an interaction response message; Err: its error body.
/// A scripted 429 for this answer, if one is queued for its route.
fn rate_limited(i: &mut Inner, route: &'static str, interaction: u64) -> Option<Response> {
    let at = i.gw.limit_answers.iter().position(|(r, _)| *r == route)?;
    let (_, after) = i.gw.limit_answers.remove(at);
    i.gw.limited.push((route, interaction));
    i.bump();
    let mut r = error(
        429,
        json!({"message": "You are being rate limited.", "retry_after": after, "global": false}),
    );
    let headers = r.headers_mut();
    headers.insert("retry-after", (after.ceil() as u64).into());
    headers.insert("x-ratelimit-scope", HeaderValue::from_static("user"));
    Some(r)
}

fn check_reply_data(d: &Value) -> Result<(), Value> {
    let invalid = |m: &str| {
        Err(json!({"message": "Invalid Form Body", "code": 50035, "errors": {"data": m}}))
    };
    if len(&d["content"]) > 2000 {
        return invalid("content: Must be 2000 or fewer in length.");
    }
    if d["flags"]
        .as_u64()
        .is_some_and(|f| f & !(64 | 4 | 4096) != 0)
    {
        return invalid("flags: invalid for an interaction response");
    }
    let am = &d["allowed_mentions"];
    if d.get("content").is_some()
        && (am.is_null() || am["parse"].as_array().is_some_and(|p| !p.is_empty()))
    {
        return Err(
            json!({"message": "Invalid Form Body", "code": 50035, "errors": {"allowed_mentions": "POLICYWATCH_POLICY: must be set, parse empty"}}),
        );
    }
    let rows = d["components"].as_array().cloned().unwrap_or_default();
    if rows.len() > 5 {
        return invalid("components: Must be 5 or fewer in length.");
    }
    for row in &rows {
        for c in row["components"].as_array().into_iter().flatten() {
            let options = c["options"].as_array().cloned().unwrap_or_default();
            if options.len() > 25 {
                return invalid("options: Must be 25 or fewer in length.");
            }
            for o in &options {
                if !(1..=100).contains(&len(&o["label"]))
                    || len(&o["value"]) > 100
                    || len(&o["description"]) > 100
                {
                    return invalid(
                        "select option: label, value and description are 1-100 characters",
                    );
                }
            }
        }
    }
    Ok(())
}

async fn interaction_callback(
    State(inner): State<Shared>,
    Path((id, token)): Path<(u64, String)>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let (body, files) = match read_body(&headers, request).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut i = inner.lock().unwrap();
    let refuse = |i: &mut Inner, status: u16, b: Value| {
        i.gw.refused.push((status, b.clone()));
        i.bump();
        error(status, b)
    };
    let unknown = json!({"message": "Unknown interaction", "code": 10062});
    let Some(p) = i.gw.pending.get(&id).cloned().filter(|p| p.token == token) else {
        return refuse(&mut i, 404, unknown);
    };
    let latency = p.sent_at.map(|t| t.elapsed()).unwrap_or_default();
    if p.sent_at.is_none() || latency > ANSWER_WINDOW {
        return refuse(&mut i, 404, unknown);
    }
    if let Some(r) = rate_limited(&mut i, "callback", id) {
        return r;
    }
    if p.answered.is_some() {
        return refuse(
            &mut i,
            400,
            json!({"message": "Interaction has already been acknowledged.", "code": 40060}),
        );
    }
    let kind = body["type"].as_u64().unwrap_or(0);
    if !matches!(kind, 4..=7) {
        return refuse(
            &mut i,
            400,
            json!({"message": "Invalid Form Body", "code": 50035, "errors": {"type": "invalid response type"}}),
        );
    }
    if let Err(b) = check_reply_data(&body["data"]) {
        return refuse(&mut i, 400, b);
    }
    i.gw.pending.get_mut(&id).unwrap().answered = Some(kind);
    i.gw.replies.push(InteractionReply {
        interaction: id,
        route: "callback",
        body,
        files,
        latency,
    });
    i.bump();
    StatusCode::NO_CONTENT.into_response()
}

async fn edit_original(
    State(inner): State<Shared>,
    Path((app, token)): Path<(u64, String)>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let (body, files) = match read_body(&headers, request).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut i = inner.lock().unwrap();
    let found =
        i.gw.pending
            .iter()
            .find(|(_, p)| p.token == token)
            .map(|(id, p)| (*id, p.clone()));
    let Some((id, p)) = found.filter(|_| app == APP) else {
        return error(404, json!({"message": "Unknown Webhook", "code": 10015}));
    };
    if p.answered.is_none() {
        // Nothing to edit until the interaction was answered (or deferred).
        return error(404, json!({"message": "Unknown Message", "code": 10008}));
    }
    if let Some(r) = rate_limited(&mut i, "edit", id) {
        return r;
    }
    if let Err(b) = check_reply_data(&body) {
        i.gw.refused.push((400, b.clone()));
        return error(400, b);
    }
    let latency = p.sent_at.map(|t| t.elapsed()).unwrap_or_default();
    i.gw.replies.push(InteractionReply {
        interaction: id,
        route: "edit",
        body: body.clone(),
        files,
        latency,
    });
    let message_id = i.snowflake();
    i.bump();
    let posted = Posted {
        id: message_id,
        channel: p.channel,
        payload: body,
        files: vec![],
        pinged: Pinged::default(),
    };
    Json(message_json(&posted)).into_response()
}

async fn own_reaction(
    State(inner): State<Shared>,
    Path((channel, message, emoji)): Path<(u64, u64, String)>,
) -> Response {
    let mut i = inner.lock().unwrap();
    let bot = json!({"id": APP.to_string(), "username": "policywatch", "discriminator": "0",
                     "global_name": null, "avatar": null, "bot": true});
    let users = i.gw.reactions.entry((message, emoji.clone())).or_default();
    if !users.iter().any(|u| u["id"] == bot["id"]) {
        users.push(bot);
    }
    i.gw.own_reactions.push((channel, message, emoji));
    i.bump();
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /channels/{c}/messages/{m}/reactions/{emoji}?limit=&after=`: who reacted, paged
/// like Discord: by user id, those after `after`, at most `limit` (1–100, default 25).
async fn reaction_users(
    State(inner): State<Shared>,
    Path((_channel, message, emoji)): Path<(u64, u64, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    let q = q.unwrap_or_default();
    let param = |name: &str| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.parse::<u64>().ok())
    };
    let limit = param("limit").unwrap_or(25) as usize;
    let after = param("after").unwrap_or(0);
    if !(1..=100).contains(&limit) {
        return error(
            400,
            json!({"message": "Invalid Form Body", "code": 50035, "errors": {"limit": "1-100"}}),
        );
    }
    let mut i = inner.lock().unwrap();
    i.gw.reaction_reads += 1;
    let id = |u: &Value| u["id"].as_str().and_then(|s| s.parse::<u64>().ok());
    let mut users: Vec<Value> =
        i.gw.reactions
            .get(&(message, emoji))
            .map(|u| {
                u.iter()
                    .filter(|u| id(u).is_some_and(|id| id > after))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
    users.sort_by_key(|u| id(u));
    users.truncate(limit);
    i.bump();
    Json(Value::Array(users)).into_response()
}

async fn start_thread(
    State(inner): State<Shared>,
    Path((channel, message)): Path<(u64, u64)>,
    Json(body): Json<Value>,
) -> Response {
    let mut i = inner.lock().unwrap();
    let name_len = len(&body["name"]);
    if !(1..=100).contains(&name_len) {
        return error(
            400,
            json!({"message": "Invalid Form Body", "code": 50035, "errors": {"name": "1-100 characters"}}),
        );
    }
    i.gw.threads.push((channel, message, body.clone()));
    i.bump();
    Json(
        json!({"id": message.to_string(), "type": 11, "guild_id": GUILD.to_string(),
                "parent_id": channel.to_string(), "name": body["name"], "position": 0,
                "permission_overwrites": [], "nsfw": false, "owner_id": APP.to_string(),
                "thread_metadata": {"archived": false, "auto_archive_duration": 1440,
                    "archive_timestamp": "2026-03-02T09:00:00.000000+00:00", "locked": false}}),
    )
    .into_response()
}
