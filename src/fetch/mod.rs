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
//! - redirects are followed by hand: at most [`FetchSettings::max_redirects`] hops; loops,
//!   non-http(s) targets and other sites (unless the watch's `allow_redirects` lists them)
//!   are refused with a message saying so ([`policy`]);
//! - internal addresses (loopback, private, link-local, unique-local), in the URL or from
//!   DNS, are refused unless `[fetch] allow_private` ([`policy`]);
//! - an error response is quoted in one short cleaned line ([`error_body`]);
//! - 5xx, 429, connection failures and timeouts are retried with capped exponential backoff,
//!   honouring `Retry-After` (capped too; [`retry`], [`crate::backoff`]);
//! - at most [`FetchSettings::concurrency`] requests are in flight, and two requests to the
//!   same host start at least [`FetchSettings::per_host_interval`] apart ([`politeness`]);
//! - the body is decoded to text by its declared or sniffed charset ([`charset`]).
//!
//! Every error message starts with the URL that was asked for and says why.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::header::{self, HeaderMap};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use url::Url;

use crate::config::FetchSettings;
use crate::text::error_chain;

mod charset;
mod error_body;
mod policy;
mod politeness;
mod retry;

use error_body::{error_reason, sanitize, ERROR_BODY_QUOTE};
pub use policy::{internal_class, redirect_allowed, registrable_domain, InternalAddress};
use politeness::HostGate;
pub use retry::retry_after;

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
    /// Hosts (or `host:port`) a redirect may lead to besides the asked URL's own site.
    pub allow_redirects: &'a [String],
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
    /// The address policy refused the request: an internal address without
    /// `[fetch] allow_private`.
    #[error("{url}: {reason}")]
    Refused { url: String, reason: String },
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

pub struct Fetcher {
    client: reqwest::Client,
    settings: FetchSettings,
    permits: Semaphore,
    hosts: HostGate,
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
        Self::with_fixed_hosts(settings, &[])
    }

    /// A fetcher whose DNS answers `hosts` itself (as `/etc/hosts` would) and asks the
    /// system for any other name: for tests of the address policy.
    pub fn with_fixed_hosts(
        settings: &FetchSettings,
        hosts: &[(&str, std::net::IpAddr)],
    ) -> Result<Self, FetchError> {
        let mut fixed: std::collections::HashMap<String, Vec<std::net::IpAddr>> =
            std::collections::HashMap::new();
        for (name, ip) in hosts {
            fixed
                .entry(name.to_ascii_lowercase())
                .or_default()
                .push(*ip);
        }
        let client = reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            // Every answer is checked against the address policy before connecting.
            .dns_resolver(policy::resolver(settings.allow_private, fixed))
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
            hosts: HostGate::default(),
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
                        crate::backoff::delay(
                            retry + 1,
                            self.settings.retry_base,
                            self.settings.retry_max,
                        )
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
            let waited = self
                .hosts
                .wait(&current, self.settings.per_host_interval)
                .await;
            let hop_deadline = match deadline {
                Some(d) => d + waited,
                None => Instant::now() + timeout,
            };
            deadline = Some(hop_deadline);
            policy::check_literal(&current, self.settings.allow_private).map_err(|e| {
                AttemptError::fatal(FetchError::Refused {
                    url: asked.into(),
                    reason: refused_hop(asked, &current, &e),
                })
            })?;

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
            let next =
                self.redirect_target(asked, &current, status, resp.headers(), req.allow_redirects)?;
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
        allow_redirects: &[String],
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
        if !policy::redirect_allowed(current, &next, allow_redirects) {
            let with_port = |u: &Url, host: String| match u.port() {
                Some(p) => format!("{host}:{p}"),
                None => host,
            };
            let site = with_port(
                current,
                policy::registrable_domain(current.host_str().unwrap_or_default()),
            );
            let target = with_port(&next, next.host_str().unwrap_or_default().to_string());
            return Err(fail(format!(
                "redirect to `{}` refused: it leaves {site} (list `{}` in the watch's \
                 `allow_redirects` to follow it)",
                sanitize(next.as_str(), ERROR_BODY_QUOTE),
                sanitize(&target, ERROR_BODY_QUOTE)
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
        if let Some(refused) = find_source::<policy::InternalAddress>(e) {
            return AttemptError::fatal(FetchError::Refused {
                url: asked.into(),
                reason: refused_hop(asked, current, refused),
            });
        }
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
}

/// The first error of type `T` in `e`'s source chain.
fn find_source<'e, T: StdError + 'static>(e: &'e (dyn StdError + 'static)) -> Option<&'e T> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(t) = err.downcast_ref::<T>() {
            return Some(t);
        }
        next = err.source();
    }
    None
}

/// The reason for a refused hop, naming the redirect when it was not the asked URL.
fn refused_hop(asked: &str, current: &Url, e: &policy::InternalAddress) -> String {
    if current.as_str() == asked {
        e.to_string()
    } else {
        format!("redirect to `{current}` refused: {e}")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(fmt_bytes(10 * 1024 * 1024), "10 MiB");
        assert_eq!(fmt_bytes(512), "512 bytes");
        assert_eq!(fmt_duration(Duration::from_secs(30)), "30s");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(fmt_duration(Duration::from_millis(250)), "0.25s");
    }
}
