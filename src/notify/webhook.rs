//! What the webhook destinations (Slack, Teams) share: the webhook URL as a secret read
//! from the environment or a systemd credential, one POST with a timeout whose answer
//! becomes an outbox decision, and the sink that posts a destination's messages in order
//! and halts per webhook ([`WebhookSink`]). Rendering, escaping and limits stay in each
//! service's module ([`Service`]).
//!
//! A webhook URL is a bearer secret (whoever has it can post): it is never logged, never in
//! an error, never in `status`; only the destination's name is. reqwest errors are taken
//! `without_url`, and nothing of the answer but its status and a short body snippet is kept.

use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{error_chain, snippet, Delivery, DestinationKind, Idempotency, Sink};
use crate::config::Config;
use crate::data::Destination;
use crate::error::{Error, Result};
use crate::schedule::BoxFuture;
use crate::store::ChangeRecord;

/// Largest answer body read from a webhook.
const BODY_MAX: usize = 16 * 1024;

/// A webhook URL. Never printed: `Debug` and `Display` show a placeholder.
#[derive(Clone)]
pub struct WebhookUrl(url::Url);

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookUrl(<secret>)")
    }
}

impl std::fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

impl WebhookUrl {
    /// Parses a URL as read from `source`; the error names the source, never the value.
    pub fn new(raw: &str, source: &str) -> Result<Option<WebhookUrl>> {
        let t = raw.trim();
        if t.is_empty() {
            return Ok(None);
        }
        match url::Url::parse(t) {
            Ok(u) if matches!(u.scheme(), "https" | "http") => Ok(Some(WebhookUrl(u))),
            _ => Err(Error::Invalid(vec![format!(
                "the webhook URL in {source} is not an http(s) URL"
            )])),
        }
    }

    pub fn url(&self) -> &url::Url {
        &self.0
    }
}

/// `POLICYWATCH_WEBHOOK_<NAME>`: upper case, `-` as `_`.
pub fn env_var(destination: &str) -> String {
    format!(
        "POLICYWATCH_WEBHOOK_{}",
        destination.to_uppercase().replace('-', "_")
    )
}

/// The credential file name: `webhook-<NAME>`.
pub fn credential(destination: &str) -> String {
    format!("webhook-{destination}")
}

/// The webhook URL of destination `name`: from `POLICYWATCH_WEBHOOK_<NAME>`, else
/// `$CREDENTIALS_DIRECTORY/webhook-<NAME>`; `None` when neither is set.
pub fn from_environment(name: &str) -> Result<Option<WebhookUrl>> {
    from_sources(
        name,
        std::env::var(env_var(name)).ok(),
        std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from),
    )
}

/// [`from_environment`] with the environment passed in (for tests).
pub fn from_sources(
    name: &str,
    env: Option<String>,
    credentials_dir: Option<PathBuf>,
) -> Result<Option<WebhookUrl>> {
    if let Some(v) = env {
        if let Some(url) = WebhookUrl::new(&v, &env_var(name))? {
            return Ok(Some(url));
        }
    }
    let Some(dir) = credentials_dir else {
        return Ok(None);
    };
    let path = dir.join(credential(name));
    match std::fs::read_to_string(&path) {
        Ok(text) => WebhookUrl::new(&text, &format!("the credential {}", credential(name))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io { path, source }),
    }
}

/// What became of one webhook message.
#[derive(Debug, Clone, PartialEq)]
pub enum Posted {
    Ok,
    Retry {
        after: Option<Duration>,
        error: String,
    },
    /// The service will never take this message.
    Rejected(String),
    /// The webhook itself is gone or refused: nothing more can go to this destination.
    Halt(String),
}

/// Posts `body` as JSON to the webhook, never longer than `timeout`. `service` and
/// `destination` name it in errors (the URL never does).
pub async fn post(
    client: &reqwest::Client,
    url: &WebhookUrl,
    body: &serde_json::Value,
    timeout: Duration,
    service: &str,
    destination: &str,
) -> Posted {
    let send = client.post(url.url().clone()).json(body).send();
    let response = match tokio::time::timeout(timeout, send).await {
        Err(_) => {
            return Posted::Retry {
                after: None,
                error: format!(
                    "no answer from {service} (destination `{destination}`) within {}s",
                    timeout.as_secs_f64()
                ),
            }
        }
        Ok(Err(e)) => {
            return Posted::Retry {
                after: None,
                error: format!(
                    "cannot reach {service} (destination `{destination}`): {}",
                    error_chain(&e.without_url())
                ),
            }
        }
        Ok(Ok(r)) => r,
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(24.0 * 3600.0)));
    let body = tokio::time::timeout(timeout, read_capped(response))
        .await
        .unwrap_or_default();
    classify(status, retry_after, &body, service, destination)
}

/// Maps an answer to what the outbox should do.
pub fn classify(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    service: &str,
    destination: &str,
) -> Posted {
    let said = snippet(&String::from_utf8_lossy(body));
    match status {
        200..=299 => Posted::Ok,
        429 => Posted::Retry {
            after: retry_after,
            error: format!(
                "rate limited by {service} (destination `{destination}`){}",
                retry_after
                    .map(|a| format!(", retry after {:.0}s", a.as_secs_f64()))
                    .unwrap_or_default()
            ),
        },
        408 | 500..=599 => Posted::Retry {
            after: retry_after,
            error: format!("{service} answered {status} (destination `{destination}`): {said}"),
        },
        401 | 403 | 404 | 410 => Posted::Halt(format!(
            "{service} refused the webhook of destination `{destination}` ({status}: {said}); \
             set a working URL in {} or the credential {} and restart; alerts stay queued",
            env_var(destination),
            credential(destination)
        )),
        _ => Posted::Rejected(format!(
            "{service} rejected the message for destination `{destination}` ({status}: {said})"
        )),
    }
}

async fn read_capped(mut response: reqwest::Response) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        out.extend_from_slice(&chunk);
        if out.len() >= BODY_MAX {
            out.truncate(BODY_MAX);
            break;
        }
    }
    out
}

/// One message ready to post: the alerts it carries and its JSON body.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub alert_ids: Vec<u64>,
    pub payload: serde_json::Value,
}

/// A webhook service: its names and its rendering, all that differs between Slack and
/// Teams. Every service is a destination kind whose sink is a [`WebhookSink`].
pub trait Service: Send + Sync + 'static {
    /// The destination kind (`slack`).
    const KIND: &'static str;
    /// The service in messages (`Slack`).
    const NAME: &'static str;
    /// Alerts as messages, in order, within the service's limits.
    fn render(records: &[ChangeRecord]) -> Vec<Outgoing>;
    /// A digest of the alerts, in as few messages as the limits allow.
    fn render_digest(records: &[ChangeRecord]) -> Vec<Outgoing>;
}

impl<S: Service> DestinationKind for S {
    fn name(&self) -> &'static str {
        S::KIND
    }

    fn sink(&self, config: &Config) -> Result<Option<Arc<dyn Sink>>> {
        let names = config.destinations_of(S::KIND);
        if names.is_empty() {
            return Ok(None);
        }
        let mut hooks = Vec::new();
        for name in names {
            hooks.push((name.clone(), from_environment(&name)?));
        }
        Ok(Some(Arc::new(WebhookSink::<S>::new(
            hooks,
            config.discord.send_timeout,
        )?)))
    }
}

/// Posts a service's messages to its webhooks, one per named destination.
pub struct WebhookSink<S> {
    client: reqwest::Client,
    hooks: Vec<(String, Option<WebhookUrl>)>,
    timeout: Duration,
    service: PhantomData<S>,
}

impl<S: Service> WebhookSink<S> {
    pub fn new(hooks: Vec<(String, Option<WebhookUrl>)>, timeout: Duration) -> Result<Self> {
        // No redirects: a redirect would carry the alert elsewhere.
        let client = reqwest::Client::builder()
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("policywatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Invalid(vec![format!("cannot build the webhook client: {e}")]))?;
        Ok(WebhookSink {
            client,
            hooks,
            timeout,
            service: PhantomData,
        })
    }

    /// Posts the messages in order; stops at the first that must wait or cannot go.
    async fn deliver(&self, to: Option<&Destination>, messages: Vec<Outgoing>) -> Vec<Delivery> {
        let name = to.map(|d| d.to.as_str()).unwrap_or_default();
        let Some(url) = self
            .hooks
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, u)| u.as_ref())
        else {
            return vec![Delivery::Halt(format!(
                "no webhook URL for {} destination `{name}`: set {} or the credential {}; alerts stay queued",
                S::KIND,
                env_var(name),
                credential(name)
            ))];
        };
        let mut out = Vec::new();
        for m in messages {
            let posted = post(&self.client, url, &m.payload, self.timeout, S::NAME, name).await;
            let n = m.alert_ids.len();
            match posted {
                Posted::Ok => out.extend((0..n).map(|_| Delivery::Delivered)),
                Posted::Rejected(reason) => {
                    out.extend((0..n).map(|_| Delivery::Dead(reason.clone())))
                }
                Posted::Retry { after, error } => {
                    tracing::warn!(error = %error, "webhook delivery will be retried");
                    out.push(Delivery::Retry { after, error });
                    break;
                }
                Posted::Halt(reason) => {
                    tracing::error!(reason = %reason, "webhook delivery stopped");
                    out.push(Delivery::Halt(reason));
                    break;
                }
            }
        }
        out
    }
}

impl<S: Service> Sink for WebhookSink<S> {
    fn name(&self) -> &str {
        S::KIND
    }

    /// Webhooks take no idempotency key: an alert whose send has an unknown outcome is sent
    /// again rather than lost (at least once; see the README).
    fn idempotency(&self, _to: Option<&Destination>) -> Idempotency {
        Idempotency::MayRepeat
    }

    /// Each webhook halts on its own: a revoked URL stops only its destination.
    fn sink_name(&self, to: Option<&Destination>) -> String {
        format!(
            "{}:{}",
            S::KIND,
            to.map(|d| d.to.as_str()).unwrap_or_default()
        )
    }

    fn send<'a>(
        &'a self,
        to: Option<&'a Destination>,
        records: &'a [ChangeRecord],
    ) -> BoxFuture<'a, Vec<Delivery>> {
        Box::pin(async move { self.deliver(to, S::render(records)).await })
    }

    fn send_digest<'a>(
        &'a self,
        to: Option<&'a Destination>,
        records: &'a [ChangeRecord],
    ) -> BoxFuture<'a, (Vec<u64>, Vec<Delivery>)> {
        Box::pin(async move {
            let messages = S::render_digest(records);
            let order: Vec<u64> = messages.iter().flat_map(|m| m.alert_ids.clone()).collect();
            (order, self.deliver(to, messages).await)
        })
    }
}

/// `&`, `<` and `>` as entities: what Slack and Teams need so that scraped text can open no
/// mention (`<!channel>`, `<@U…>`, `<at>`), link or tag.
pub fn escape_angle(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            // Bidi overrides: text that displays in another order than it reads.
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => {}
            c => out.push(c),
        }
    }
    out
}

/// `s` cut to at most `max` characters (as counted by `count`), at a character boundary and
/// never inside an `&…;` entity, with an ellipsis when cut.
pub fn cut(s: &str, max: usize, count: fn(&str) -> usize) -> String {
    if count(s) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let budget = max.saturating_sub(1);
    let mut used = 0;
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        // An entity is one token.
        let token_len = if c == '&' {
            rest.find(';').map_or(1, |i| i + 1)
        } else {
            c.len_utf8()
        };
        let token = &rest[..token_len];
        let n = count(token);
        if used + n > budget {
            break;
        }
        out.push_str(token);
        used += n;
        rest = &rest[token_len..];
    }
    out.push('…');
    out
}

/// Characters, as Slack and Teams count text length.
pub fn chars(s: &str) -> usize {
    s.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_is_never_displayed_and_comes_from_env_else_credential() {
        let dir = tempfile::tempdir().unwrap();
        assert!(from_sources("team-a", None, Some(dir.path().into()))
            .unwrap()
            .is_none());
        std::fs::write(
            dir.path().join("webhook-team-a"),
            "https://hooks.example/services/SECRET\n",
        )
        .unwrap();
        let u = from_sources("team-a", None, Some(dir.path().into()))
            .unwrap()
            .unwrap();
        assert_eq!(u.url().path(), "/services/SECRET");
        assert_eq!(format!("{u} {u:?}"), "<secret> WebhookUrl(<secret>)");
        let e = from_sources("team-a", Some("not a url SECRET".into()), None).unwrap_err();
        assert!(!e.to_string().contains("SECRET"), "{e}");
        assert!(e.to_string().contains("POLICYWATCH_WEBHOOK_TEAM_A"), "{e}");
    }

    #[test]
    fn answers_map_to_outbox_decisions() {
        let r = classify(429, Some(Duration::from_secs(3)), b"", "Slack", "news");
        assert!(matches!(r, Posted::Retry { after: Some(d), .. } if d.as_secs() == 3));
        assert!(matches!(
            classify(503, None, b"busy", "Teams", "t"),
            Posted::Retry { after: None, .. }
        ));
        assert!(matches!(
            classify(404, None, b"no_service", "Slack", "news"),
            Posted::Halt(r) if r.contains("`news`") && r.contains("POLICYWATCH_WEBHOOK_NEWS")
        ));
        assert!(matches!(
            classify(400, None, b"invalid_blocks", "Slack", "news"),
            Posted::Rejected(r) if r.contains("invalid_blocks")
        ));
    }

    #[tokio::test]
    async fn a_failed_post_names_the_destination_never_the_url() {
        let url = WebhookUrl::new("http://127.0.0.1:1/services/T0/B0/SECRET", "test")
            .unwrap()
            .unwrap();
        let client = reqwest::Client::new();
        let body = serde_json::json!({"text": "x"});
        let r = post(
            &client,
            &url,
            &body,
            Duration::from_secs(5),
            "Slack",
            "news",
        )
        .await;
        let Posted::Retry { error, .. } = r else {
            panic!("{r:?}")
        };
        assert!(error.contains("destination `news`"), "{error}");
        assert!(
            !error.contains("SECRET") && !error.contains("/services/"),
            "{error}"
        );
    }

    #[test]
    fn escaping_and_cutting() {
        assert_eq!(
            escape_angle("<!channel> & <@U123>"),
            "&lt;!channel&gt; &amp; &lt;@U123&gt;"
        );
        let c = cut(&escape_angle(&"<".repeat(100)), 10, chars);
        assert!(chars(&c) <= 10 && c.ends_with("&lt;…"), "{c}");
    }
}
