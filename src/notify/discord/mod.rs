//! Delivery to Discord through serenity's HTTP layer (a bot token; no gateway).
//!
//! serenity builds each request: [`CreateMessage`] and friends for the payload, its
//! [`Request`] for the route, the `Authorization` header, multipart bodies and the
//! `[discord] api_base` substitution (`HttpBuilder::proxy`). We execute that request
//! ourselves on the reqwest 0.12 client serenity uses, because `Http::request` turns a
//! failed answer into an error that has dropped the headers and the `retry_after` a 429
//! carries, and serenity's own rate limiter ignores the proxy. So the ratelimiter is always
//! off and rate limits are honoured here and in the outbox: a 429 becomes
//! [`Delivery::Retry`] with Discord's `retry_after` (route or global), 5xx / timeouts /
//! connection errors a retry with backoff, other 4xx a dead letter with Discord's reason,
//! and 401/403 a halt.
//!
//! The token is held in [`DiscordToken`], whose `Debug` and `Display` print nothing of it,
//! and every error text that comes back from the HTTP stack is scrubbed of it.
//!
//! This module is the whole of the Discord destination: its [`DiscordKind`] (registered in
//! `notify/registry.rs`), rendering and limits ([`render`]), mention syntax, nonces
//! ([`nonce_for`]) and the sink. Destinations of kind `discord` carry the channel id.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest012 as rq;
use serenity::builder::{
    CreateAllowedMentions, CreateAttachment, CreateEmbed, CreateEmbedFooter, CreateMessage,
};
use serenity::http::{Http, HttpBuilder, LightMethod, Multipart, MultipartUpload, Request, Route};
use serenity::model::channel::Nonce;
use serenity::model::id::{ChannelId, RoleId, UserId};
use serenity::model::Timestamp;

use super::{error_chain, snippet, Delivery, DestinationKind, Idempotency, Sink};
use crate::config::{Config, DiscordSettings};
use crate::data::{Destination, DISCORD};
use crate::error::{Error, Result};
use crate::schedule::BoxFuture;
use crate::store::ChangeRecord;
use render::Message;

pub mod render;

/// The `discord` destination kind: a sink when a bot token is found
/// (`POLICYWATCH_DISCORD_TOKEN` or the `discord-token` credential).
pub struct DiscordKind;

impl DestinationKind for DiscordKind {
    fn name(&self) -> &'static str {
        DISCORD
    }

    fn sink(&self, config: &Config) -> Result<Option<std::sync::Arc<dyn Sink>>> {
        let Some(token) = DiscordToken::from_environment()? else {
            return Ok(None);
        };
        Ok(Some(std::sync::Arc::new(DiscordSink::new(
            token,
            &config.discord,
        )?)))
    }

    fn check(&self, _name: &str, settings: &crate::config::DestinationSettings) -> Vec<String> {
        match settings.channel {
            Some(c) if c > 0 => vec![],
            _ => vec!["a discord destination needs `channel` (a channel id)".into()],
        }
    }
}

/// The nonce of a single alert's message: deterministic, so a resend after a crash carries
/// the same one, and within Discord's 25 characters.
pub fn nonce_for(id: u64) -> String {
    format!("pw{id}")
}

/// Environment variable holding the bot token.
pub const TOKEN_ENV: &str = "POLICYWATCH_DISCORD_TOKEN";
/// Name of the systemd credential (`LoadCredential=discord-token:...`) holding the token.
pub const TOKEN_CREDENTIAL: &str = "discord-token";

/// A rate-limit wait up to this long is sat out inside one send; a longer one goes back
/// to the outbox as a retry time.
const PACE_MAX: Duration = Duration::from_secs(5);
/// Largest error body read from the API.
const ERROR_BODY_MAX: usize = 64 * 1024;

/// The bot token. Never printed: `Debug` and `Display` show a placeholder.
#[derive(Clone)]
pub struct DiscordToken(String);

impl std::fmt::Debug for DiscordToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DiscordToken(<redacted>)")
    }
}

impl std::fmt::Display for DiscordToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl DiscordToken {
    /// A token as read from a variable or file: trimmed, an optional `Bot ` prefix
    /// dropped. `None` when empty; an error when it holds what no token can (the error
    /// does not repeat it).
    pub fn new(raw: &str, source: &str) -> Result<Option<DiscordToken>> {
        let t = raw.trim();
        let t = t.strip_prefix("Bot ").unwrap_or(t).trim();
        if t.is_empty() {
            return Ok(None);
        }
        if !t.chars().all(|c| c.is_ascii_graphic()) {
            return Err(Error::Discord(format!(
                "the Discord token in {source} contains spaces or characters a token cannot have"
            )));
        }
        Ok(Some(DiscordToken(t.to_string())))
    }

    /// From `POLICYWATCH_DISCORD_TOKEN`, else the systemd credential `discord-token` in
    /// `$CREDENTIALS_DIRECTORY`; `None` when neither is set.
    pub fn from_environment() -> Result<Option<DiscordToken>> {
        Self::from_sources(
            std::env::var(TOKEN_ENV).ok(),
            std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from),
        )
    }

    /// [`Self::from_environment`] with the environment passed in (for tests).
    pub fn from_sources(
        env: Option<String>,
        credentials_dir: Option<PathBuf>,
    ) -> Result<Option<DiscordToken>> {
        if let Some(token) = env
            .as_deref()
            .map(|v| Self::new(v, TOKEN_ENV))
            .transpose()?
        {
            if token.is_some() {
                return Ok(token);
            }
        }
        let Some(dir) = credentials_dir else {
            return Ok(None);
        };
        let path = dir.join(TOKEN_CREDENTIAL);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::new(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    /// `text` with every occurrence of the token replaced.
    pub fn scrub(&self, text: &str) -> String {
        text.replace(&self.0, "<redacted>")
    }
}

/// serenity's HTTP client for the bot, on a reqwest 0.12 client with timeouts and no
/// redirects, pointed at `[discord] api_base` when set. The ratelimiter is off: rate limits
/// are handled by the callers, and serenity's limiter would also bypass the proxy.
pub fn http_client(token: &DiscordToken, settings: &DiscordSettings) -> Result<(Http, rq::Client)> {
    let client = rq::Client::builder()
        .use_rustls_tls()
        .connect_timeout(settings.send_timeout)
        .redirect(rq::redirect::Policy::none())
        .user_agent(concat!("policywatch/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Discord(token.scrub(&error_chain(&e))))?;
    let mut builder = HttpBuilder::new(&token.0)
        .client(client.clone())
        .ratelimiter_disabled(true);
    if let Some(base) = &settings.api_base {
        builder = builder.proxy(base.as_str());
    }
    Ok((builder.build(), client))
}

/// A serenity request given at most `limit`; its error as text (serenity's error type is
/// large, and callers only log it).
pub async fn within<T>(
    limit: Duration,
    request: impl std::future::Future<Output = serenity::Result<T>>,
) -> std::result::Result<T, String> {
    match tokio::time::timeout(limit, request).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "no answer from Discord within {}s",
            limit.as_secs_f64()
        )),
    }
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq)]
enum Posted {
    /// Posted; the message id Discord gave (for triage reactions).
    Ok(Option<u64>),
    Retry {
        after: Option<Duration>,
        error: String,
    },
    Rejected(String),
    Halt(String),
}

/// Posts alerts to Discord channels.
pub struct DiscordSink {
    http: Http,
    client: rq::Client,
    token: DiscordToken,
    default_channel: Option<u64>,
    send_timeout: Duration,
    /// Set by a 401/403: this process sends nothing more.
    halted: Mutex<Option<String>>,
    /// A global rate limit: no request before this instant.
    global_until: Mutex<Option<Instant>>,
    /// Per channel: Discord said its bucket is empty until this instant.
    channel_until: Mutex<HashMap<u64, Instant>>,
    /// Triage on (`[discord] guild`): each posted alert message gets the bot's ✅.
    triage: bool,
    /// `[discord] threads`: a thread under each message that carries a major alert.
    threads: bool,
    /// Messages posted since the dispatcher last asked (see [`Sink::take_posted`]).
    posted: Mutex<Vec<super::PostedMessage>>,
}

impl std::fmt::Debug for DiscordSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordSink")
            .field("api", &self.http.proxy)
            .field("default_channel", &self.default_channel)
            .finish_non_exhaustive()
    }
}

impl DiscordSink {
    pub fn new(token: DiscordToken, settings: &DiscordSettings) -> Result<DiscordSink> {
        let (http, client) = http_client(&token, settings)?;
        Ok(DiscordSink {
            http,
            client,
            token,
            default_channel: settings.default_channel,
            send_timeout: settings.send_timeout,
            halted: Mutex::new(None),
            global_until: Mutex::new(None),
            channel_until: Mutex::new(HashMap::new()),
            triage: settings.chat.guild.is_some(),
            threads: settings.chat.threads,
            posted: Mutex::new(Vec::new()),
        })
    }

    /// The HTTP client serenity builds requests with (the chat side shares it).
    pub fn http(&self) -> &Http {
        &self.http
    }

    /// After a message went through: remember it for reactions, add the bot's ✅ so
    /// members can tick it, and open a thread for a major alert. Best effort: the alert
    /// was delivered whatever becomes of these.
    async fn after_post(
        &self,
        channel: u64,
        message: Option<u64>,
        ids: &[u64],
        records: &[ChangeRecord],
    ) {
        let Some(message) = message else {
            return;
        };
        self.posted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(super::PostedMessage {
                message,
                changes: ids.to_vec(),
            });
        if self.triage {
            let emoji =
                serenity::model::channel::ReactionType::Unicode(crate::data::REVIEWED_EMOJI.into());
            let react = self.http.create_reaction(
                ChannelId::new(channel),
                serenity::model::id::MessageId::new(message),
                &emoji,
            );
            if let Err(e) = within(self.send_timeout, react).await {
                tracing::warn!(message, error = %self.token.scrub(&e), "could not add the triage reaction");
            }
        }
        let major = records
            .iter()
            .filter(|r| ids.contains(&r.alert.id))
            .find(|r| r.alert.severity == crate::data::Severity::Major);
        if let (true, Some(r)) = (self.threads, major) {
            let name: String = r.alert.title.chars().take(100).collect();
            let builder = serenity::builder::CreateThread::new(name);
            let thread = self.http.create_thread_from_message(
                ChannelId::new(channel),
                serenity::model::id::MessageId::new(message),
                &builder,
                None,
            );
            if let Err(e) = within(self.send_timeout, thread).await {
                tracing::warn!(message, error = %self.token.scrub(&e), "could not open a thread for the alert");
            }
        }
    }

    /// Posts one message; never more than `send_timeout` per request.
    async fn post(&self, channel: u64, message: &Message, nonce: &str) -> Posted {
        if let Some(wait) = self.rate_limit_wait(channel) {
            if wait > PACE_MAX {
                return Posted::Retry {
                    after: Some(wait),
                    error: format!(
                        "waiting {:.1}s for Discord's rate limit",
                        wait.as_secs_f64()
                    ),
                };
            }
            tokio::time::sleep(wait).await;
        }
        let request = match self.request(channel, message, nonce) {
            Ok(r) => r,
            Err(e) => return Posted::Halt(self.token.scrub(&e)),
        };
        let response = match tokio::time::timeout(self.send_timeout, request.send()).await {
            Err(_) => {
                return Posted::Retry {
                    after: None,
                    error: format!(
                        "no answer from Discord within {}s",
                        self.send_timeout.as_secs_f64()
                    ),
                }
            }
            Ok(Err(e)) => {
                return Posted::Retry {
                    after: None,
                    error: format!(
                        "cannot reach Discord: {}",
                        self.token.scrub(&error_chain(&e))
                    ),
                }
            }
            Ok(Ok(r)) => r,
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        self.note_bucket(channel, &headers);
        // Read the body either way (a success's too, so the connection can be reused);
        // the message is posted whatever becomes of it.
        let body = tokio::time::timeout(self.send_timeout, read_capped(response))
            .await
            .unwrap_or_default();
        if (200..300).contains(&status) {
            let id = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("id")?.as_str()?.parse().ok());
            return Posted::Ok(id);
        }
        let body = self.token.scrub(&String::from_utf8_lossy(&body));
        classify(status, &headers, &body, &mut |global_wait| {
            let until = Instant::now() + global_wait;
            *self.global_until.lock().unwrap_or_else(|e| e.into_inner()) = Some(until);
        })
    }

    /// The HTTP request for a message, built by serenity.
    fn request(
        &self,
        channel: u64,
        message: &Message,
        nonce: &str,
    ) -> std::result::Result<rq::RequestBuilder, String> {
        let mut payload = CreateMessage::new()
            .embeds(message.embeds.iter().map(embed).collect())
            .allowed_mentions(allowed_mentions(message))
            .nonce(Nonce::String(nonce.to_string()))
            .enforce_nonce(true);
        if let Some(content) = &message.content {
            payload = payload.content(content.clone());
        }
        let route = Route::ChannelMessages {
            channel_id: ChannelId::new(channel),
        };
        let mut request = Request::new(route, LightMethod::Post);
        match &message.attachment {
            None => {
                let body = serde_json::to_vec(&payload).map_err(|e| e.to_string())?;
                request = request.body(Some(body));
            }
            Some(a) => {
                let file = CreateAttachment::bytes(a.data.clone(), a.filename.clone());
                // In the payload the file is described (id 0); its bytes go as `files[0]`.
                payload = payload.add_file(CreateAttachment::bytes(Vec::new(), a.filename.clone()));
                let payload_json = serde_json::to_string(&payload).map_err(|e| e.to_string())?;
                request = request.multipart(Some(Multipart {
                    upload: MultipartUpload::Attachments(vec![file]),
                    fields: vec![],
                    payload_json: Some(payload_json),
                }));
            }
        }
        request
            .build(&self.client, self.http.token(), self.http.proxy.as_deref())
            .map_err(|e| format!("cannot build the Discord request: {e}"))
    }

    /// How long to wait before the next request to `channel`, if Discord asked for a pause.
    fn rate_limit_wait(&self, channel: u64) -> Option<Duration> {
        let now = Instant::now();
        let global = *self.global_until.lock().unwrap_or_else(|e| e.into_inner());
        let route = self
            .channel_until
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&channel)
            .copied();
        global
            .into_iter()
            .chain(route)
            .filter(|t| *t > now)
            .max()
            .map(|t| t - now)
    }

    /// Remembers an emptied bucket (`X-RateLimit-Remaining: 0`) so the next message to the
    /// channel waits for `X-RateLimit-Reset-After` instead of earning a 429.
    fn note_bucket(&self, channel: u64, headers: &rq::header::HeaderMap) {
        let remaining = header_f64(headers, "x-ratelimit-remaining");
        let reset = header_f64(headers, "x-ratelimit-reset-after");
        if let (Some(r), Some(reset)) = (remaining, reset) {
            let mut map = self.channel_until.lock().unwrap_or_else(|e| e.into_inner());
            if r <= 0.0 {
                map.insert(channel, Instant::now() + secs(reset));
            } else {
                map.remove(&channel);
            }
        }
    }

    fn halt(&self, reason: &str) {
        *self.halted.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason.to_string());
    }
}

impl Sink for DiscordSink {
    fn name(&self) -> &str {
        DISCORD
    }

    /// Discord drops a message whose nonce it saw from the same bot in the last few
    /// minutes (`enforce_nonce`); two is well inside that.
    fn idempotency(&self, _to: Option<&Destination>) -> Idempotency {
        Idempotency::DropsRepeatsWithin(Duration::from_secs(120))
    }

    fn takes_default(&self) -> bool {
        true
    }

    fn take_posted(&self) -> Vec<super::PostedMessage> {
        std::mem::take(&mut *self.posted.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn send<'a>(
        &'a self,
        to: Option<&'a Destination>,
        records: &'a [ChangeRecord],
    ) -> BoxFuture<'a, Vec<Delivery>> {
        // A Discord destination's address is its channel id; anything else (or none) goes
        // to `[discord] channel`.
        let channel = to
            .filter(|d| d.kind == DISCORD)
            .and_then(|d| d.to.parse::<u64>().ok());
        Box::pin(async move {
            if let Some(reason) = self
                .halted
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
            {
                return vec![Delivery::Halt(reason)];
            }
            let Some(channel) = channel.or(self.default_channel).filter(|c| *c != 0) else {
                return records
                    .iter()
                    .map(|r| {
                        Delivery::Dead(format!(
                            "no Discord channel configured for watchlist `{}` (set `channel` in the \
                             watchlist or the watch, or `[discord] channel` in the config, then \
                             `policywatch outbox retry {}`)",
                            r.alert.watchlist, r.alert.id
                        ))
                    })
                    .collect();
            };
            let messages = render::group(records.iter().map(render::render).collect());
            let mut outcomes = Vec::with_capacity(records.len());
            for message in &messages {
                let nonce = message_nonce(&message.alert_ids);
                match self.post(channel, message, &nonce).await {
                    Posted::Ok(id) => {
                        self.after_post(channel, id, &message.alert_ids, records)
                            .await;
                        outcomes.extend(message.alert_ids.iter().map(|_| Delivery::Delivered))
                    }
                    Posted::Rejected(reason) if message.alert_ids.len() > 1 => {
                        // Find the alert Discord objects to: post the group's alerts one by one.
                        tracing::warn!(channel, reason = %reason, "grouped message rejected; sending its alerts singly");
                        for id in &message.alert_ids {
                            let Some(record) = records.iter().find(|r| r.alert.id == *id) else {
                                continue;
                            };
                            let single = render::group(vec![render::render(record)]);
                            let outcome = self.post(channel, &single[0], &nonce_for(*id)).await;
                            if let Posted::Ok(message) = outcome {
                                self.after_post(channel, message, &[*id], records).await;
                            }
                            if !self.push_outcome(&mut outcomes, 1, outcome) {
                                return outcomes;
                            }
                        }
                    }
                    outcome => {
                        if !self.push_outcome(&mut outcomes, message.alert_ids.len(), outcome) {
                            return outcomes;
                        }
                    }
                }
            }
            outcomes
        })
    }
}

impl DiscordSink {
    /// Records a message's outcome for its `n` alerts; false when sending must stop.
    fn push_outcome(&self, outcomes: &mut Vec<Delivery>, n: usize, posted: Posted) -> bool {
        match posted {
            Posted::Ok(_) => {
                outcomes.extend((0..n).map(|_| Delivery::Delivered));
                true
            }
            Posted::Rejected(reason) => {
                outcomes.extend((0..n).map(|_| Delivery::Dead(reason.clone())));
                true
            }
            Posted::Retry { after, error } => {
                tracing::warn!(error = %error, "Discord delivery will be retried");
                outcomes.push(Delivery::Retry { after, error });
                false
            }
            Posted::Halt(reason) => {
                tracing::error!(reason = %reason, "Discord delivery stopped");
                self.halt(&reason);
                outcomes.push(Delivery::Halt(reason));
                false
            }
        }
    }
}

/// The nonce of a message: the outbox entry's own (`pw<id>`) for a single alert; for a
/// group, one that names exactly its alerts. Discord drops a repeat of a nonce it has seen,
/// so a resend of the same group is not posted twice, while a different group (regrouped
/// after a dead letter or an `outbox drop`/`retry`) can never be mistaken for one that went
/// through, which would mark unposted alerts delivered.
fn message_nonce(ids: &[u64]) -> String {
    use sha2::{Digest, Sha256};
    if let [one] = ids {
        return nonce_for(*one);
    }
    let mut h = Sha256::new();
    for id in ids {
        h.update(id.to_be_bytes());
    }
    let hash = hex::encode(h.finalize());
    let nonce = format!("pw{}g{}", ids[0], &hash[..8]);
    // Discord takes at most 25 characters.
    if nonce.len() <= 25 {
        nonce
    } else {
        format!("pwg{}", &hash[..22])
    }
}

/// Maps a failed answer to what the outbox should do. `on_global` is told the wait of a
/// global rate limit, which holds every channel.
fn classify(
    status: u16,
    headers: &rq::header::HeaderMap,
    body: &str,
    on_global: &mut dyn FnMut(Duration),
) -> Posted {
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let message = json
        .get("message")
        .and_then(|m| m.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| snippet(body));
    match status {
        429 => {
            let after = retry_after_of(headers, &json);
            let global = json
                .get("global")
                .and_then(|g| g.as_bool())
                .unwrap_or(false)
                || header_str(headers, "x-ratelimit-global").is_some_and(|g| g == "true")
                || header_str(headers, "x-ratelimit-scope").is_some_and(|s| s == "global");
            if let (true, Some(wait)) = (global, after) {
                on_global(wait);
            }
            Posted::Retry {
                after,
                error: format!(
                    "rate limited by Discord ({}){}",
                    if global { "global" } else { "this channel" },
                    after
                        .map(|a| format!(", retry after {:.2}s", a.as_secs_f64()))
                        .unwrap_or_default()
                ),
            }
        }
        401 | 403 => Posted::Halt(format!(
            "Discord refused the bot token or its permissions ({status}: {message}); fix the \
             token or the bot's access and restart policywatch; alerts stay queued"
        )),
        408 => Posted::Retry {
            after: None,
            error: format!("Discord answered {status}: {message}"),
        },
        400..=499 => {
            let code = json.get("code").and_then(|c| c.as_i64());
            let details = json
                .get("errors")
                .map(|e| {
                    let mut out = Vec::new();
                    flatten_errors(e, "", &mut out);
                    out
                })
                .unwrap_or_default();
            let mut reason = format!("Discord rejected the message ({status}");
            if let Some(code) = code {
                reason.push_str(&format!(", code {code}"));
            }
            reason.push_str(&format!(": {message}"));
            if !details.is_empty() {
                reason.push_str(&format!(" — {}", details.join("; ")));
            }
            reason.push(')');
            Posted::Rejected(reason)
        }
        _ => Posted::Retry {
            after: None,
            error: format!("Discord answered {status}: {message}"),
        },
    }
}

/// The wait a 429 asks for: the body's `retry_after` (seconds, a float), else the
/// `Retry-After` or `X-RateLimit-Reset-After` header.
pub fn retry_after_of(
    headers: &rq::header::HeaderMap,
    json: &serde_json::Value,
) -> Option<Duration> {
    json.get("retry_after")
        .and_then(|v| v.as_f64())
        .or_else(|| header_f64(headers, "retry-after"))
        .or_else(|| header_f64(headers, "x-ratelimit-reset-after"))
        .map(secs)
}

/// Discord's nested `errors` object as `path: message` lines.
fn flatten_errors(v: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    let serde_json::Value::Object(map) = v else {
        return;
    };
    for (k, v) in map {
        if k == "_errors" {
            for e in v.as_array().into_iter().flatten() {
                let msg = e
                    .get("message")
                    .and_then(|m| m.as_str())
                    .unwrap_or("invalid");
                out.push(format!("{path}: {msg}"));
            }
        } else {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            flatten_errors(v, &p, out);
        }
    }
}

fn embed(e: &render::Embed) -> CreateEmbed {
    let mut out = CreateEmbed::new()
        .title(e.title.clone())
        .description(e.description.clone())
        .colour(e.color)
        .fields(
            e.fields
                .iter()
                .map(|f| (f.name.clone(), f.value.clone(), f.inline)),
        )
        .footer(CreateEmbedFooter::new(e.footer.clone()));
    if let Some(url) = &e.url {
        out = out.url(url.clone());
    }
    if let Ok(t) = Timestamp::from_unix_timestamp(e.timestamp.timestamp()) {
        out = out.timestamp(t);
    }
    out
}

/// Nothing may ping but the subscribers policywatch itself put in the content.
fn allowed_mentions(m: &Message) -> CreateAllowedMentions {
    CreateAllowedMentions::new()
        .users(
            m.users
                .iter()
                .filter(|id| **id != 0)
                .map(|id| UserId::new(*id)),
        )
        .roles(
            m.roles
                .iter()
                .filter(|id| **id != 0)
                .map(|id| RoleId::new(*id)),
        )
}

async fn read_capped(mut response: rq::Response) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        out.extend_from_slice(&chunk);
        if out.len() >= ERROR_BODY_MAX {
            out.truncate(ERROR_BODY_MAX);
            break;
        }
    }
    out
}

fn header_str<'h>(headers: &'h rq::header::HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn header_f64(headers: &rq::header::HeaderMap, name: &str) -> Option<f64> {
    header_str(headers, name).and_then(|v| v.trim().parse().ok())
}

/// Seconds from the API as a duration; nonsense becomes a short pause, not a panic.
fn secs(s: f64) -> Duration {
    if s.is_finite() && s > 0.0 {
        Duration::from_secs_f64(s.min(24.0 * 3600.0))
    } else {
        Duration::from_millis(100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> rq::header::HeaderMap {
        let mut h = rq::header::HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn token_is_never_displayed_and_is_scrubbed() {
        let t = DiscordToken::new(" Bot abc.DEF-123 \n", "test")
            .unwrap()
            .unwrap();
        assert_eq!(format!("{t:?} {t}"), "DiscordToken(<redacted>) <redacted>");
        assert_eq!(
            t.scrub("header Bot abc.DEF-123 bad"),
            "header Bot <redacted> bad"
        );
        assert!(DiscordToken::new("  \n", "test").unwrap().is_none());
        let err = DiscordToken::new("abc def", "POLICYWATCH_DISCORD_TOKEN").unwrap_err();
        assert!(!err.to_string().contains("abc"), "{err}");
    }

    #[test]
    fn token_comes_from_env_else_the_credential_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(DiscordToken::from_sources(None, Some(dir.path().into()))
            .unwrap()
            .is_none());
        std::fs::write(dir.path().join(TOKEN_CREDENTIAL), "file-token\n").unwrap();
        let from_file = DiscordToken::from_sources(None, Some(dir.path().into()))
            .unwrap()
            .unwrap();
        assert_eq!(from_file.0, "file-token");
        let from_env =
            DiscordToken::from_sources(Some("env-token".into()), Some(dir.path().into()))
                .unwrap()
                .unwrap();
        assert_eq!(from_env.0, "env-token");
        // An empty variable does not hide the credential.
        let empty_env = DiscordToken::from_sources(Some(String::new()), Some(dir.path().into()))
            .unwrap()
            .unwrap();
        assert_eq!(empty_env.0, "file-token");
    }

    #[test]
    fn a_message_nonce_names_exactly_its_alerts() {
        assert_eq!(message_nonce(&[7]), "pw7");
        let group = message_nonce(&[7, 8, 9]);
        assert!(group.starts_with("pw7g") && group.len() <= 25, "{group}");
        assert_eq!(
            group,
            message_nonce(&[7, 8, 9]),
            "the same group, the same nonce"
        );
        assert_ne!(group, message_nonce(&[7, 8]));
        assert_ne!(group, message_nonce(&[7, 9]));
        assert!(message_nonce(&[u64::MAX - 1, u64::MAX]).len() <= 25);
    }

    #[test]
    fn answers_map_to_outbox_decisions() {
        let mut global = None;
        let mut on_global = |d: Duration| global = Some(d);
        let r = classify(
            429,
            &headers(&[]),
            r#"{"message":"You are being rate limited.","retry_after":0.25,"global":false}"#,
            &mut on_global,
        );
        assert!(
            matches!(r, Posted::Retry { after: Some(d), .. } if d == Duration::from_millis(250))
        );
        let r = classify(
            429,
            &headers(&[("retry-after", "2"), ("x-ratelimit-global", "true")]),
            "",
            &mut on_global,
        );
        assert!(
            matches!(r, Posted::Retry { after: Some(d), ref error } if d == Duration::from_secs(2) && error.contains("global"))
        );
        assert_eq!(global, Some(Duration::from_secs(2)));

        let mut ignore = |_| {};
        assert!(matches!(
            classify(502, &headers(&[]), "<html>bad gateway</html>", &mut ignore),
            Posted::Retry { after: None, .. }
        ));
        let body = r#"{"code":50035,"errors":{"embeds":{"0":{"description":{"_errors":[{"code":"BASE_TYPE_MAX_LENGTH","message":"Must be 4096 or fewer in length."}]}}}},"message":"Invalid Form Body"}"#;
        match classify(400, &headers(&[]), body, &mut ignore) {
            Posted::Rejected(reason) => assert_eq!(
                reason,
                "Discord rejected the message (400, code 50035: Invalid Form Body — embeds.0.description: Must be 4096 or fewer in length.)"
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify(401, &headers(&[]), r#"{"message": "401: Unauthorized", "code": 0}"#, &mut ignore),
            Posted::Halt(r) if r.contains("401: Unauthorized")
        ));
        assert!(matches!(
            classify(
                403,
                &headers(&[]),
                r#"{"message": "Missing Access", "code": 50001}"#,
                &mut ignore
            ),
            Posted::Halt(_)
        ));
    }
}
