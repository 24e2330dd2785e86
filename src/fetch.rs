//! HTTP for every source: politeness (User-Agent, per-host interval, global concurrency),
//! conditional GET, and limits on everything that comes back.
//!
//! Everything a server sends is treated as hostile:
//!
//! - one deadline ([`FetchSettings::timeout`]) covers connecting, every redirect hop, the
//!   response headers and the whole body read, so a server trickling a byte a second fails
//!   with "timed out after Ns";
//! - the body is streamed and counted *after* decompression, so neither a huge body nor a
//!   gzip bomb can take more than [`FetchSettings::max_body`] bytes of memory;
//! - redirects are followed by hand: at most [`FetchSettings::max_redirects`] hops, loops
//!   and non-http(s) targets are refused with a message saying so;
//! - 5xx, 429, connection failures and timeouts are retried with capped exponential backoff,
//!   honouring `Retry-After` (capped too);
//! - at most [`FetchSettings::concurrency`] requests are in flight, and two requests to the
//!   same host start at least [`FetchSettings::per_host_interval`] apart.
//!
//! Every error message starts with the URL that was asked for and says why.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use reqwest::header::{self, HeaderMap};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use url::Url;

use crate::config::FetchSettings;

/// Conditional-GET validators remembered from the last response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// One GET.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub url: &'a Url,
    /// Sent as `If-None-Match` / `If-Modified-Since` when present.
    pub validators: Option<&'a Validators>,
    /// The `Accept` header.
    pub accept: &'a str,
}

#[derive(Debug)]
pub enum Fetched {
    /// 304: the server says the resource is as it was.
    NotModified,
    Body(Body),
}

/// A successful (2xx) response, body read in full within the cap.
#[derive(Debug, Clone)]
pub struct Body {
    pub status: u16,
    /// Where the response came from, after redirects.
    pub url: Url,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
    pub validators: Validators,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: HTTP {status}{}", reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default())]
    Status {
        url: String,
        status: u16,
        reason: Option<String>,
    },
    #[error("{url}: {reason}")]
    Failed { url: String, reason: String },
    /// The deadline for the whole request (connect, redirects, headers, body) passed.
    #[error("{url}: timed out after {}", fmt_duration(*after))]
    Timeout { url: String, after: Duration },
    /// The body (counted after decompression) is larger than the configured cap.
    #[error("{url}: body larger than {} limit{}", fmt_bytes(*limit), announced.map(|n| format!(" (Content-Length: {n} bytes)")).unwrap_or_default())]
    TooLarge {
        url: String,
        limit: u64,
        /// The length the server announced, when it did.
        announced: Option<u64>,
    },
    /// A redirect that is not followed: loop, too many hops, bad target.
    #[error("{url}: {reason}")]
    Redirect { url: String, reason: String },
    /// The body could not be decoded to text (unknown charset, invalid UTF-8).
    #[error("{url}: {reason}")]
    Decode { url: String, reason: String },
}

impl FetchError {
    /// The HTTP status, when the server answered with an error status.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// How many bytes of an error response are read to quote in [`FetchError::Status`].
const ERROR_BODY_READ: usize = 16 * 1024;
/// How many characters of an error response are quoted.
const ERROR_BODY_QUOTE: usize = 200;
/// How many bytes are sniffed for `<meta charset>` / `<?xml encoding?>`.
const SNIFF_BYTES: usize = 1024;
/// Entries in the per-host map before stale ones are dropped.
const HOST_MAP_PRUNE: usize = 1024;

type HostSlot = Arc<tokio::sync::Mutex<Option<Instant>>>;

pub struct Fetcher {
    client: reqwest::Client,
    settings: FetchSettings,
    permits: Semaphore,
    /// Per host (`host:port`): when the last request to it started. The async lock queues
    /// callers for that host.
    last_start: Mutex<HashMap<String, HostSlot>>,
    requests: AtomicU64,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("settings", &self.settings)
            .field("requests_made", &self.requests_made())
            .finish_non_exhaustive()
    }
}

/// Why one attempt failed, and whether another is worth making.
struct AttemptError {
    error: FetchError,
    retry: bool,
    retry_after: Option<Duration>,
}

impl AttemptError {
    fn fatal(error: FetchError) -> Self {
        AttemptError {
            error,
            retry: false,
            retry_after: None,
        }
    }
    fn transient(error: FetchError) -> Self {
        AttemptError {
            error,
            retry: true,
            retry_after: None,
        }
    }
}

impl Fetcher {
    pub fn new(settings: &FetchSettings) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            .connect_timeout(settings.connect_timeout)
            // Redirects are followed by hand in `attempt`, so each hop is checked, counted,
            // spaced and covered by the one deadline.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| FetchError::Failed {
                url: "(HTTP client)".into(),
                reason: format!("cannot build the HTTP client: {}", error_chain(&e)),
            })?;
        Ok(Fetcher {
            client,
            settings: settings.clone(),
            permits: Semaphore::new(settings.concurrency.max(1)),
            last_start: Mutex::new(HashMap::new()),
            requests: AtomicU64::new(0),
        })
    }

    /// HTTP requests sent so far (every redirect hop and every retry counts).
    pub fn requests_made(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// GET `req.url`, following redirects and retrying transient failures.
    pub async fn get(&self, req: Request<'_>) -> Result<Fetched, FetchError> {
        let url = req.url.as_str();
        if !matches!(req.url.scheme(), "http" | "https") {
            return Err(FetchError::Failed {
                url: url.into(),
                reason: format!(
                    "cannot fetch a `{}:` URL: only http and https are supported",
                    req.url.scheme()
                ),
            });
        }
        let mut retry = 0u32;
        loop {
            let result = {
                let _permit = self
                    .permits
                    .acquire()
                    .await
                    .map_err(|_| FetchError::Failed {
                        url: url.into(),
                        reason: "the fetcher is shutting down".into(),
                    })?;
                self.attempt(&req).await
            };
            match result {
                Ok(fetched) => return Ok(fetched),
                Err(e) if e.retry && retry < self.settings.retries => {
                    let delay = e.retry_after.unwrap_or_else(|| {
                        backoff(retry, self.settings.retry_base, self.settings.retry_max)
                    });
                    tracing::debug!(
                        error = %e.error,
                        retry = retry + 1,
                        of = self.settings.retries,
                        delay_ms = delay.as_millis() as u64,
                        "retrying"
                    );
                    tokio::time::sleep(delay).await;
                    retry += 1;
                }
                Err(e) => return Err(e.error),
            }
        }
    }

    /// One attempt: every redirect hop and the body read, under one deadline.
    async fn attempt(&self, req: &Request<'_>) -> Result<Fetched, AttemptError> {
        let asked = req.url.as_str();
        let timeout = self.settings.timeout;
        let timed_out = || {
            AttemptError::transient(FetchError::Timeout {
                url: asked.into(),
                after: timeout,
            })
        };
        let mut deadline: Option<Instant> = None;
        let mut visited: Vec<Url> = Vec::new();
        let mut current = req.url.clone();

        let resp = loop {
            // Waiting for our turn at a host is politeness, not the server's slowness: it
            // does not count against the deadline.
            let waited = self.wait_for_host(&current).await;
            let hop_deadline = match deadline {
                Some(d) => d + waited,
                None => Instant::now() + timeout,
            };
            deadline = Some(hop_deadline);

            let mut builder = self
                .client
                .get(current.clone())
                .header(header::ACCEPT, req.accept);
            if let Some(v) = req.validators {
                if let Some(e) = &v.etag {
                    builder = builder.header(header::IF_NONE_MATCH, e);
                }
                if let Some(m) = &v.last_modified {
                    builder = builder.header(header::IF_MODIFIED_SINCE, m);
                }
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let resp = match tokio::time::timeout_at(hop_deadline, builder.send()).await {
                Err(_) => return Err(timed_out()),
                Ok(Err(e)) => return Err(self.send_error(asked, &current, &e)),
                Ok(Ok(r)) => r,
            };

            let status = resp.status();
            if !matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
                break resp;
            }
            let next = self.redirect_target(asked, &current, status, resp.headers())?;
            visited.push(current);
            if visited.contains(&next) {
                let chain: Vec<&str> = visited.iter().map(Url::as_str).collect();
                return Err(AttemptError::fatal(FetchError::Redirect {
                    url: asked.into(),
                    reason: format!("redirect loop: {} → {next}", chain.join(" → ")),
                }));
            }
            if visited.len() > self.settings.max_redirects {
                return Err(AttemptError::fatal(FetchError::Redirect {
                    url: asked.into(),
                    reason: format!(
                        "too many redirects (more than {}; last to {next})",
                        self.settings.max_redirects
                    ),
                }));
            }
            current = next;
        };
        let deadline = deadline.expect("set on the first hop");

        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            let retry = status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
            let retry_after = resp
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| retry_after(v, SystemTime::now(), self.settings.retry_max));
            let reason = error_reason(resp, deadline).await;
            return Err(AttemptError {
                error: FetchError::Status {
                    url: asked.into(),
                    status: status.as_u16(),
                    reason,
                },
                retry,
                retry_after,
            });
        }

        let header_str = |name: header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let validators = Validators {
            etag: header_str(header::ETAG),
            last_modified: header_str(header::LAST_MODIFIED),
        };
        let content_type = header_str(header::CONTENT_TYPE);
        let final_url = resp.url().clone();
        let bytes = self.read_body(asked, resp, deadline).await?;
        Ok(Fetched::Body(Body {
            status: status.as_u16(),
            url: final_url,
            content_type,
            bytes,
            validators,
        }))
    }

    /// Streams the body up to the cap (counted after decompression) before the deadline.
    async fn read_body(
        &self,
        asked: &str,
        mut resp: reqwest::Response,
        deadline: Instant,
    ) -> Result<Vec<u8>, AttemptError> {
        let limit = self.settings.max_body;
        let too_large = |announced| {
            AttemptError::fatal(FetchError::TooLarge {
                url: asked.into(),
                limit,
                announced,
            })
        };
        // reqwest drops Content-Length when it decompresses, so this is the real size.
        let announced = resp.content_length();
        if let Some(n) = announced {
            if n > limit {
                return Err(too_large(Some(n)));
            }
        }
        let initial = announced.unwrap_or(0).min(limit).min(1024 * 1024);
        let mut bytes = Vec::with_capacity(usize::try_from(initial).unwrap_or(0));
        loop {
            let chunk = match tokio::time::timeout_at(deadline, resp.chunk()).await {
                Err(_) => {
                    return Err(AttemptError::transient(FetchError::Timeout {
                        url: asked.into(),
                        after: self.settings.timeout,
                    }))
                }
                Ok(Err(e)) => {
                    // reqwest calls every body error a decode error; only one that did not
                    // come from the connection is about decompression.
                    let chain = error_chain(&e);
                    let what = if e.is_decode() && !chain.contains("from connection") {
                        "could not decompress the body"
                    } else {
                        "failed reading the body"
                    };
                    return Err(AttemptError {
                        error: FetchError::Failed {
                            url: asked.into(),
                            reason: format!("{what}: {chain}"),
                        },
                        retry: e.is_timeout(),
                        retry_after: None,
                    });
                }
                Ok(Ok(None)) => return Ok(bytes),
                Ok(Ok(Some(c))) => c,
            };
            if bytes.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_large(None));
            }
            bytes.extend_from_slice(&chunk);
        }
    }

    /// Where a 3xx points, if it may be followed.
    fn redirect_target(
        &self,
        asked: &str,
        current: &Url,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> Result<Url, AttemptError> {
        let fail = |reason: String| {
            AttemptError::fatal(FetchError::Redirect {
                url: asked.into(),
                reason,
            })
        };
        let location = headers.get(header::LOCATION).ok_or_else(|| {
            fail(format!(
                "redirect (HTTP {}) without a Location",
                status.as_u16()
            ))
        })?;
        let location = location.to_str().map_err(|_| {
            fail(format!(
                "redirect (HTTP {}) with a Location that is not text",
                status.as_u16()
            ))
        })?;
        let next = current.join(location).map_err(|e| {
            fail(format!(
                "redirect to `{}` refused: not a valid URL ({e})",
                sanitize(location, ERROR_BODY_QUOTE)
            ))
        })?;
        if !matches!(next.scheme(), "http" | "https") {
            return Err(fail(format!(
                "redirect to `{}` refused: only http and https redirects are followed",
                sanitize(next.as_str(), ERROR_BODY_QUOTE)
            )));
        }
        Ok(next)
    }

    /// Classifies an error from sending a request (before any response).
    fn send_error(&self, asked: &str, current: &Url, e: &reqwest::Error) -> AttemptError {
        let hop = if current.as_str() == asked {
            String::new()
        } else {
            format!(" (redirected to {current})")
        };
        let chain = error_chain(e);
        if e.is_connect() {
            let reason = if e.is_timeout() {
                format!(
                    "could not connect{hop}: timed out after {} (connect timeout)",
                    fmt_duration(self.settings.connect_timeout)
                )
            } else {
                format!("could not connect{hop}: {chain}")
            };
            return AttemptError::transient(FetchError::Failed {
                url: asked.into(),
                reason,
            });
        }
        if e.is_timeout() {
            return AttemptError::transient(FetchError::Timeout {
                url: asked.into(),
                after: self.settings.timeout,
            });
        }
        let reason = if chain.contains("message head is too large") {
            format!("response headers too large{hop}: {chain}")
        } else {
            format!("request failed{hop}: {chain}")
        };
        AttemptError::fatal(FetchError::Failed {
            url: asked.into(),
            reason,
        })
    }

    /// Waits until a request to `url`'s host may start: at least `per_host_interval` after
    /// the previous one to that host actually started. Callers queue in order (the per-host
    /// lock is fair). Returns the time spent waiting.
    async fn wait_for_host(&self, url: &Url) -> Duration {
        let interval = self.settings.per_host_interval;
        if interval.is_zero() {
            return Duration::ZERO;
        }
        let key = format!(
            "{}:{}",
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(0)
        );
        let began = Instant::now();
        let slot = {
            let mut map = self
                .last_start
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if map.len() > HOST_MAP_PRUNE {
                // Nobody is waiting on these, and their interval has passed.
                map.retain(|_, slot| {
                    Arc::strong_count(slot) > 1
                        || slot
                            .try_lock()
                            .map_or(true, |last| last.is_some_and(|t| began - t < interval))
                });
            }
            map.entry(key).or_default().clone()
        };
        let mut last = slot.lock().await;
        if let Some(ready) = last.map(|t| t + interval) {
            if ready > Instant::now() {
                tokio::time::sleep_until(ready).await;
            }
        }
        let now = Instant::now();
        *last = Some(now);
        now - began
    }
}

/// The reason quoted in a [`FetchError::Status`]: the status text and, when the body is
/// text, its first ~200 characters, cleaned up. Never fails: a body that cannot be read in
/// time is simply not quoted.
async fn error_reason(mut resp: reqwest::Response, deadline: Instant) -> Option<String> {
    let status_text = resp.status().canonical_reason().map(str::to_string);
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.to_ascii_lowercase());
    let mut bytes = Vec::new();
    while bytes.len() < ERROR_BODY_READ {
        match tokio::time::timeout_at(deadline, resp.chunk()).await {
            Ok(Ok(Some(c))) => {
                let room = ERROR_BODY_READ - bytes.len();
                bytes.extend_from_slice(&c[..c.len().min(room)]);
            }
            _ => break,
        }
    }
    let texty = match &content_type {
        Some(ct) => {
            ct.starts_with("text/")
                || ct.contains("json")
                || ct.contains("xml")
                || ct.contains("javascript")
        }
        None => !bytes.contains(&0),
    };
    let snippet = if texty && !bytes.is_empty() {
        let text = String::from_utf8_lossy(&bytes);
        let html = content_type.as_deref().is_some_and(|c| c.contains("html"))
            || text.trim_start().starts_with('<');
        let text = if html {
            strip_tags(&text)
        } else {
            text.into_owned()
        };
        Some(sanitize(&text, ERROR_BODY_QUOTE)).filter(|s| !s.is_empty())
    } else {
        None
    };
    match (status_text, snippet) {
        (Some(s), Some(b)) => Some(format!("{s}: {b}")),
        (Some(s), None) => Some(s),
        (None, b) => b,
    }
}

/// Drops `<...>` tags and the contents of `<script>`/`<style>`, crudely: good enough for a
/// one-line quote of an error page.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        out.push(' ');
        let tag = &rest[open..];
        let lower: String = tag.chars().take(8).collect::<String>().to_ascii_lowercase();
        let skip_to = if lower.starts_with("<script") {
            find_ci(tag, "</script").map(|i| i + 1)
        } else if lower.starts_with("<style") {
            find_ci(tag, "</style").map(|i| i + 1)
        } else {
            Some(0)
        };
        let Some(skip_to) = skip_to else {
            return out;
        };
        match tag[skip_to..].find('>') {
            Some(close) => rest = &tag[skip_to + close + 1..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// One line of at most `max` characters with no control characters; whitespace runs folded.
fn sanitize(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut space = false;
    for c in text.chars() {
        let c = if c.is_whitespace() { ' ' } else { c };
        if c == ' ' {
            space = !out.is_empty();
            continue;
        }
        if c.is_control() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}') {
            continue;
        }
        if space {
            if count + 1 >= max {
                out.push('…');
                return out;
            }
            out.push(' ');
            count += 1;
            space = false;
        }
        if count >= max {
            out.push('…');
            return out;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// An error and its sources, without repeats, on one line.
fn error_chain(e: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let msg = err.to_string();
        // Wrappers that say nothing their sources do not: reqwest's "error sending request
        // for url (...)" repeats the URL the message starts with; hyper-util's
        // "client error (Connect)" and reqwest's "error decoding response body" only name
        // the stage.
        let noise = err.source().is_some()
            && (msg.starts_with("error sending request")
                || msg.starts_with("client error (")
                || msg == "error decoding response body");
        if !noise && !parts.iter().any(|p| p.contains(&msg)) {
            parts.push(msg);
        }
        next = err.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

/// Backoff before retry number `retry + 1`: `base` doubling each time, capped at `max`.
pub fn backoff(retry: u32, base: Duration, max: Duration) -> Duration {
    let factor = 1u32.checked_shl(retry).unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(max)
}

/// How long a `Retry-After` value (delay in seconds, or an HTTP date) asks to wait from
/// `now`, capped at `cap`. `None` when the value is neither.
pub fn retry_after(value: &str, now: SystemTime, cap: Duration) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs).min(cap));
    }
    let when = parse_http_date(value)?;
    let wait = when.duration_since(now).unwrap_or(Duration::ZERO);
    Some(wait.min(cap))
}

/// An HTTP date in any of the three forms RFC 9110 allows.
fn parse_http_date(value: &str) -> Option<SystemTime> {
    use chrono::{DateTime, NaiveDateTime};
    let naive = DateTime::parse_from_rfc2822(value)
        .ok()
        .map(|d| d.naive_utc())
        .or_else(|| {
            // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
            NaiveDateTime::parse_from_str(value, "%A, %d-%b-%y %H:%M:%S GMT").ok()
        })
        .or_else(|| {
            // asctime: Sun Nov  6 08:49:37 1994
            let folded = value.split_whitespace().collect::<Vec<_>>().join(" ");
            NaiveDateTime::parse_from_str(&folded, "%a %b %e %H:%M:%S %Y").ok()
        })?;
    let secs = naive.and_utc().timestamp();
    if secs >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs as u64))
    } else {
        Some(SystemTime::UNIX_EPOCH)
    }
}

/// "10 MiB", "512 KiB", "1000 bytes".
fn fmt_bytes(n: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    const GIB: u64 = 1024 * 1024 * 1024;
    match n {
        n if n >= GIB && n % GIB == 0 => format!("{} GiB", n / GIB),
        n if n >= MIB && n % MIB == 0 => format!("{} MiB", n / MIB),
        n if n >= KIB && n % KIB == 0 => format!("{} KiB", n / KIB),
        n if n >= MIB => format!("{:.1} MiB", n as f64 / MIB as f64),
        n => format!("{n} bytes"),
    }
}

/// "30s", "1.5s", "0.25s".
fn fmt_duration(d: Duration) -> String {
    let mut s = format!("{:.3}", d.as_secs_f64());
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    let _ = write!(s, "s");
    s
}

impl Body {
    /// The body as text. The encoding comes from a byte-order mark, else the Content-Type
    /// `charset`, else a `<meta charset>` / `<?xml encoding?>` in the first 1024 bytes, else
    /// UTF-8. A BOM wins over the header, as in browsers and the WHATWG Encoding standard.
    ///
    /// UTF-8 that is not valid is an error naming the byte offset; so is a charset label no
    /// one knows. Other encodings decode with replacement characters for bad bytes.
    pub fn text(&self) -> Result<String, FetchError> {
        let fail = |reason: String| FetchError::Decode {
            url: self.url.to_string(),
            reason,
        };
        let label_encoding = |label: &str, whence: &str| {
            let enc = encoding_rs::Encoding::for_label(label.as_bytes()).ok_or_else(|| {
                fail(format!(
                    "unknown charset `{}` in {whence}",
                    sanitize(label, 60)
                ))
            })?;
            if enc == encoding_rs::REPLACEMENT {
                return Err(fail(format!(
                    "charset `{}` in {whence} is not supported",
                    sanitize(label, 60)
                )));
            }
            Ok(enc)
        };

        let (encoding, bom_len) =
            if let Some((enc, len)) = encoding_rs::Encoding::for_bom(&self.bytes) {
                (enc, len)
            } else if let Some(label) = self.content_type.as_deref().and_then(charset_param) {
                (label_encoding(&label, "Content-Type")?, 0)
            } else if let Some((label, whence)) = sniff_charset(&self.bytes) {
                let enc = label_encoding(&label, whence)?;
                // Bytes that spell out an ASCII declaration cannot be UTF-16.
                let enc = if enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE {
                    encoding_rs::UTF_8
                } else if enc == encoding_rs::X_USER_DEFINED {
                    encoding_rs::WINDOWS_1252
                } else {
                    enc
                };
                (enc, 0)
            } else {
                (encoding_rs::UTF_8, 0)
            };

        let content = &self.bytes[bom_len..];
        if encoding == encoding_rs::UTF_8 {
            return match std::str::from_utf8(content) {
                Ok(s) => Ok(s.to_string()),
                Err(e) => Err(fail(format!(
                    "invalid UTF-8 at byte {}",
                    e.valid_up_to() + bom_len
                ))),
            };
        }
        let (text, _had_errors) = encoding.decode_without_bom_handling(content);
        Ok(text.into_owned())
    }
}

/// The `charset` parameter of a Content-Type value, unquoted; `None` when absent or empty.
fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'').trim();
        (!value.is_empty()).then(|| value.to_string())
    })
}

/// A charset declared in the first [`SNIFF_BYTES`] bytes: `<?xml … encoding="…"?>`,
/// `<meta charset="…">` or `<meta http-equiv="Content-Type" content="…; charset=…">`.
fn sniff_charset(bytes: &[u8]) -> Option<(String, &'static str)> {
    let head = &bytes[..bytes.len().min(SNIFF_BYTES)];
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();

    let start = lower
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(lower.len());
    if lower[start..].starts_with(b"<?xml") {
        let decl_end = find(&lower[start..], b"?>").map_or(lower.len(), |i| start + i);
        let decl = &lower[start..decl_end];
        if let Some(i) = find(decl, b"encoding") {
            if let Some(v) = attr_value(&decl[i + b"encoding".len()..]) {
                return Some((v, "the XML declaration"));
            }
        }
    }

    let mut from = 0;
    while let Some(i) = find(&lower[from..], b"<meta") {
        let tag_start = from + i + b"<meta".len();
        let tag_end = lower[tag_start..]
            .iter()
            .position(|&b| b == b'>')
            .map_or(lower.len(), |j| tag_start + j);
        let tag = &lower[tag_start..tag_end];
        if let Some(j) = find(tag, b"charset") {
            if let Some(v) = attr_value(&tag[j + b"charset".len()..]) {
                return Some((v, "a <meta> tag"));
            }
        }
        from = tag_end;
    }
    None
}

/// After an attribute name: optional spaces, `=`, optional spaces, a quoted or bare value.
fn attr_value(rest: &[u8]) -> Option<String> {
    let mut i = 0;
    while i < rest.len() && rest[i].is_ascii_whitespace() {
        i += 1;
    }
    if rest.get(i) != Some(&b'=') {
        return None;
    }
    i += 1;
    while i < rest.len() && rest[i].is_ascii_whitespace() {
        i += 1;
    }
    let quote = match rest.get(i) {
        Some(&q @ (b'"' | b'\'')) => {
            i += 1;
            Some(q)
        }
        _ => None,
    };
    let value: Vec<u8> = rest[i..]
        .iter()
        .take_while(|&&b| match quote {
            Some(q) => b != q && b != b';',
            None => !b.is_ascii_whitespace() && !matches!(b, b';' | b'"' | b'\'' | b'>' | b'/'),
        })
        .copied()
        .collect();
    let value = String::from_utf8_lossy(&value).trim().to_string();
    (!value.is_empty()).then_some(value)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(content_type: Option<&str>, bytes: &[u8]) -> Body {
        Body {
            status: 200,
            url: Url::parse("http://example.test/page").unwrap(),
            content_type: content_type.map(str::to_string),
            bytes: bytes.to_vec(),
            validators: Validators::default(),
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        assert_eq!(backoff(0, base, max), Duration::from_millis(100));
        assert_eq!(backoff(1, base, max), Duration::from_millis(200));
        assert_eq!(backoff(3, base, max), Duration::from_millis(800));
        assert_eq!(backoff(4, base, max), max);
        assert_eq!(backoff(200, base, max), max);
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // 1994-11-06 08:49:37
        let cap = Duration::from_secs(60);
        assert_eq!(retry_after("0", now, cap), Some(Duration::ZERO));
        assert_eq!(retry_after(" 5 ", now, cap), Some(Duration::from_secs(5)));
        assert_eq!(retry_after("99999999999999999999999", now, cap), Some(cap));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now, cap),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Sunday, 06-Nov-94 08:49:47 GMT", now, cap),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after("Sun Nov  6 08:49:57 1994", now, cap),
            Some(Duration::from_secs(20))
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now, cap),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("-1", now, cap), None);
        assert_eq!(retry_after("soon", now, cap), None);
        assert_eq!(retry_after("", now, cap), None);
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_bytes(10 * 1024 * 1024), "10 MiB");
        assert_eq!(fmt_bytes(512), "512 bytes");
        assert_eq!(fmt_duration(Duration::from_secs(30)), "30s");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(fmt_duration(Duration::from_millis(250)), "0.25s");
    }

    #[test]
    fn sanitize_and_strip() {
        assert_eq!(sanitize("  a\n\tb\u{7}c  ", 200), "a bc");
        assert_eq!(sanitize("abcdef", 3), "abc…");
        assert_eq!(
            sanitize(
                &strip_tags(
                    "<html><style>x{}</style><h1>Not</h1> <p>here</p><script>alert(1)</script>"
                ),
                200
            ),
            "Not here"
        );
        assert_eq!(strip_tags("a <b"), "a  ");
    }

    #[test]
    fn text_decoding() {
        assert_eq!(
            body(Some("text/html; charset=ISO-8859-1"), b"caf\xe9")
                .text()
                .unwrap(),
            "café"
        );
        assert_eq!(
            body(Some("text/html; charset=\"utf-8\""), "café".as_bytes())
                .text()
                .unwrap(),
            "café"
        );
        assert_eq!(body(None, b"\xef\xbb\xbfhi").text().unwrap(), "hi");
        assert_eq!(
            body(Some("text/plain; charset=iso-8859-1"), b"\xef\xbb\xbfhi")
                .text()
                .unwrap(),
            "hi"
        );
        assert_eq!(body(None, b"\xff\xfeh\0i\0").text().unwrap(), "hi");
        assert_eq!(
            body(
                None,
                b"<html><head><meta charset='windows-1252'></head>\x93q\x94"
            )
            .text()
            .unwrap(),
            "<html><head><meta charset='windows-1252'></head>\u{201c}q\u{201d}"
        );
        assert_eq!(
            body(
                None,
                b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\">\xe9"
            )
            .text()
            .unwrap()
            .chars()
            .last(),
            Some('é')
        );
        assert_eq!(
            body(
                None,
                b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>\xe9</a>"
            )
            .text()
            .unwrap(),
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>é</a>"
        );
        assert_eq!(
            body(None, b"<meta charset=\"utf-16\">ok").text().unwrap(),
            "<meta charset=\"utf-16\">ok"
        );
        let e = body(None, b"ok\xffno").text().unwrap_err().to_string();
        assert_eq!(e, "http://example.test/page: invalid UTF-8 at byte 2");
        let e = body(Some("text/html; charset=klingon"), b"x")
            .text()
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown charset `klingon`"), "{e}");
        let e = body(None, b"<meta charset=klingon>")
            .text()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown charset `klingon` in a <meta> tag"),
            "{e}"
        );
        assert!(body(None, b"").text().unwrap().is_empty());
    }

    #[test]
    fn sniffers_never_panic() {
        for input in [
            &b"<meta"[..],
            b"<meta charset",
            b"<meta charset=",
            b"<meta charset='",
            b"<?xml",
            b"<?xml encoding",
            b"<?xml encoding=\"",
            b"\xff\xff<meta charset=\xff>",
        ] {
            let _ = sniff_charset(input);
            let _ = body(None, input).text();
        }
        assert_eq!(charset_param("text/html; charset="), None);
        assert_eq!(
            charset_param("text/html;charset=UTF-8"),
            Some("UTF-8".into())
        );
    }
}
