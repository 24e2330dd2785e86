//! The Slack destination: Slack incoming webhooks, Block Kit payloads.
//!
//! `[destinations.NAME] kind = "slack"`; the webhook URL is a secret read from
//! `POLICYWATCH_WEBHOOK_<NAME>` or `$CREDENTIALS_DIRECTORY/webhook-<NAME>` (see
//! [`super::webhook`]). A destination of this kind carries the destination's name.
//!
//! Limits (Slack's Block Kit reference): at most 50 blocks per message, 3000 characters per
//! section text, 10 context elements, 150 characters of header; the top-level `text` is the
//! notification fallback. Slack documents no total size for a webhook message, so one
//! message's JSON is kept under [`PAYLOAD_MAX`] bytes, well inside what it takes.
//!
//! Scraped text is made inert in Slack's mrkdwn: `&`, `<`, `>` become entities (so
//! `<!channel>`, `<@U…>` and `<url|label>` cannot form) and the formatting characters
//! `*`, `_`, `~` and `` ` `` become look-alikes that Slack does not parse, so `*bold*`
//! shows as written. HTML means nothing to Slack and arrives as the entities.
//!
//! Slack's webhooks take no idempotency key: a message Slack accepted whose answer was lost
//! (a timeout, a crash before the outbox recorded it) is sent again. Nothing is lost.

use serde_json::{json, Value};

use super::digest::digest;
use super::group::{group, Batch};
use super::webhook::{chars, cut, escape_angle, Outgoing, Service, WebhookSink};
use crate::data::{Mention, Severity};
use crate::store::ChangeRecord;

pub const KIND: &str = "slack";
pub const BLOCKS_MAX: usize = 50;
pub const SECTION_TEXT_MAX: usize = 3000;
pub const CONTEXT_ELEMENTS_MAX: usize = 10;
pub const HEADER_MAX: usize = 150;
/// Our ceiling on one message's JSON.
pub const PAYLOAD_MAX: usize = 40_000;
/// The notification fallback text.
const FALLBACK_MAX: usize = 300;
const SUMMARY_MAX: usize = 900;
const DIFF_MAX: usize = 1200;
const TITLE_MAX: usize = 200;
/// One digest line.
const LINE_MAX: usize = 500;

/// The `slack` destination kind.
pub struct SlackKind;

/// Posts to Slack incoming webhooks, one per named destination.
pub type SlackSink = WebhookSink<SlackKind>;

impl Service for SlackKind {
    const KIND: &'static str = KIND;
    const NAME: &'static str = "Slack";

    fn render(records: &[ChangeRecord]) -> Vec<Outgoing> {
        let messages = group(records.iter().map(|r| (r.alert.detected_at, render(r))));
        messages.iter().map(Message::outgoing).collect()
    }

    fn render_digest(records: &[ChangeRecord]) -> Vec<Outgoing> {
        render_digest(records)
            .iter()
            .map(Message::outgoing)
            .collect()
    }
}

/// Scraped text made inert in mrkdwn (see the module comment).
pub fn mrkdwn(s: &str) -> String {
    escape_angle(s)
        .chars()
        .map(|c| match c {
            '*' => '∗',
            '_' => 'ˍ',
            '~' => '∼',
            '`' => 'ˋ',
            c => c,
        })
        .collect()
}

use crate::text::one_line;

/// A link Slack will take: http(s), and nothing that could end the `<url|label>` form.
fn link(url: &str) -> Option<String> {
    let u = url::Url::parse(url.trim()).ok()?;
    if !matches!(u.scheme(), "http" | "https") {
        return None;
    }
    let s = u.to_string().replace('|', "%7C").replace('>', "%3E");
    (s.len() <= 2000).then_some(s)
}

/// `*<url|title>*`, or the bold title when there is no usable link.
fn linked_title(url: &str, title: &str) -> String {
    let t = cut(&mrkdwn(&one_line(title)), TITLE_MAX, chars);
    match link(url) {
        Some(u) => format!("*<{u}|{t}>*"),
        None => format!("*{t}*"),
    }
}

fn section(text: String) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&text, SECTION_TEXT_MAX, chars)}})
}

/// One alert as Block Kit blocks.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub id: u64,
    pub blocks: Vec<Value>,
    pub fallback: String,
    pub bytes: usize,
}

/// One Slack message.
#[derive(Debug, Clone, Default)]
pub struct Message {
    pub alert_ids: Vec<u64>,
    pub blocks: Vec<Value>,
    pub fallback: Vec<String>,
    pub bytes: usize,
}

impl Message {
    fn outgoing(&self) -> Outgoing {
        Outgoing {
            alert_ids: self.alert_ids.clone(),
            payload: self.payload(),
        }
    }

    pub fn payload(&self) -> Value {
        let text = cut(&self.fallback.join(" · "), FALLBACK_MAX, chars);
        json!({
            "text": text,
            "mrkdwn": false,
            "unfurl_links": false,
            "unfurl_media": false,
            "blocks": self.blocks,
        })
    }
}

/// Room for the fallback text and the payload's own keys.
const OVERHEAD: usize = FALLBACK_MAX * 6 + 200;

impl Batch for Message {
    type Item = Rendered;
    fn empty() -> Self {
        Message::default()
    }
    fn fits(&self, r: &Rendered) -> bool {
        self.blocks.len() + r.blocks.len() <= BLOCKS_MAX
            && self.bytes + r.bytes + OVERHEAD <= PAYLOAD_MAX
    }
    fn add(&mut self, r: Rendered) {
        self.alert_ids.push(r.id);
        self.blocks.extend(r.blocks);
        self.fallback.push(r.fallback);
        self.bytes += r.bytes;
    }
}

fn rendered(id: u64, blocks: Vec<Value>, fallback: String) -> Rendered {
    let bytes = blocks
        .iter()
        .map(|b| serde_json::to_string(b).map_or(0, |s| s.len() + 1))
        .sum();
    Rendered {
        id,
        blocks,
        fallback,
        bytes,
    }
}

/// One alert: title and summary, notes and keywords, a diff excerpt, and a context line.
pub fn render(r: &ChangeRecord) -> Rendered {
    let a = &r.alert;
    let title = if a.title.trim().is_empty() {
        &a.watch
    } else {
        &a.title
    };
    let mut text = linked_title(&a.url, title);
    if !a.summary.trim().is_empty() {
        text.push('\n');
        text.push_str(&cut(&mrkdwn(a.summary.trim()), SUMMARY_MAX, chars));
    }
    for note in a.annotations.iter().take(8) {
        text.push_str(&format!(
            "\n• {}",
            cut(&mrkdwn(&one_line(note)), 300, chars)
        ));
    }
    if !a.keywords.is_empty() {
        text.push_str(&format!(
            "\nKeywords: {}",
            cut(&mrkdwn(&one_line(&a.keywords.join(", "))), 300, chars)
        ));
    }
    let pings = pings(&a.mentions);
    let mut blocks = Vec::new();
    if !pings.is_empty() {
        blocks.push(section(pings.clone()));
    }
    blocks.push(section(text));
    let diff = a.diff.trim_end();
    if !diff.is_empty() {
        // Inside a code block mrkdwn is not parsed; the look-alike backticks keep the
        // fence closed and the entities keep mentions out.
        let body = cut(&mrkdwn(diff), DIFF_MAX, chars);
        blocks.push(section(format!("```{body}```")));
    }
    let context = format!(
        "{} · {} · {} · alert {}",
        a.event, a.watch, a.watchlist, a.id
    );
    blocks.push(json!({"type": "context", "elements": [
        {"type": "mrkdwn", "text": cut(&mrkdwn(&one_line(&context)), SECTION_TEXT_MAX, chars)}
    ]}));
    blocks.push(json!({"type": "divider"}));
    let mut fallback = mrkdwn(&one_line(&format!("{}: {}", a.event, title)));
    if !pings.is_empty() {
        // The notification text pings too.
        fallback = format!("{pings} {fallback}");
    }
    rendered(a.id, blocks, fallback)
}

/// The Slack mentions among `mentions` (a route's or the watch's), as Slack writes them:
/// `<@U…>` for a user, `<!subteam^S…>` for a user group. Their ids were checked when the
/// watchlist was read, so they go into the markup as they are; other services' mentions
/// are not Slack's to ping.
pub fn pings<'a>(mentions: impl IntoIterator<Item = &'a Mention>) -> String {
    let mut out: Vec<String> = Vec::new();
    for m in mentions {
        let ping = match m {
            Mention::SlackUser(id) => format!("<@{id}>"),
            Mention::SlackGroup(id) => format!("<!subteam^{id}>"),
            _ => continue,
        };
        if !out.contains(&ping) {
            out.push(ping);
        }
    }
    out.join(" ")
}

/// A digest: a headline with the counts per event type, then one line per alert (major
/// first, grouped by watchlist and watch), lines packed into as few sections and messages
/// as the limits allow.
pub fn render_digest(records: &[ChangeRecord]) -> Vec<Message> {
    let d = digest(records);
    let pings = pings(records.iter().flat_map(|r| &r.alert.mentions));
    let head = rendered(
        0,
        vec![section(
            format!("*Digest:* {} {pings}", mrkdwn(&d.headline()))
                .trim_end()
                .to_string(),
        )],
        format!(
            "{pings} {}",
            mrkdwn(&format!("policywatch digest: {}", d.headline()))
        )
        .trim_start()
        .to_string(),
    );
    // Lines, each tagged with its alert; a heading line starts each watchlist › watch.
    let mut lines: Vec<(Option<u64>, String)> = Vec::new();
    let mut current: Option<(&str, &str)> = None;
    for r in &d.items {
        let a = &r.alert;
        if current != Some((a.watchlist.as_str(), a.watch.as_str())) {
            current = Some((a.watchlist.as_str(), a.watch.as_str()));
            lines.push((
                None,
                format!("*{} › {}*", mrkdwn(&a.watchlist), mrkdwn(&a.watch)),
            ));
        }
        let major = if a.severity == Severity::Major {
            "*major* "
        } else {
            ""
        };
        let line = format!(
            "• {major}{} — {} ({}, alert {})",
            linked_title(
                &a.url,
                if a.title.is_empty() {
                    &a.watch
                } else {
                    &a.title
                }
            ),
            cut(&mrkdwn(&one_line(&a.summary)), 200, chars),
            a.event,
            a.id
        );
        lines.push((Some(a.id), cut(&line, LINE_MAX, chars)));
    }
    // Lines into sections of at most SECTION_TEXT_MAX characters, each with its alerts.
    let mut sections: Vec<(Rendered, Vec<u64>)> = Vec::new();
    let mut text = String::new();
    let mut ids = Vec::new();
    for (id, line) in lines {
        if !text.is_empty() && chars(&text) + chars(&line) + 1 > SECTION_TEXT_MAX {
            let blocks = vec![section(std::mem::take(&mut text))];
            sections.push((rendered(0, blocks, String::new()), std::mem::take(&mut ids)));
        }
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&line);
        ids.extend(id);
    }
    if !text.is_empty() {
        sections.push((rendered(0, vec![section(text)], String::new()), ids));
    }
    // Sections into messages; the headline leads the first.
    let mut messages: Vec<Message> = vec![];
    let mut m = Message::empty();
    m.add(head);
    m.alert_ids.clear();
    for (s, ids) in sections {
        if !m.fits(&s) {
            messages.push(std::mem::replace(&mut m, Message::empty()));
        }
        if m.fallback.is_empty() {
            m.fallback.push("policywatch digest (continued)".into());
        }
        m.blocks.extend(s.blocks);
        m.bytes += s.bytes;
        m.alert_ids.extend(ids);
    }
    messages.push(m);
    messages
}
