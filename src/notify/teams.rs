//! The Microsoft Teams destination: a Teams Workflows webhook ("post to a channel when a
//! webhook request is received"), taking an Adaptive Card as a message attachment. (The old
//! Office 365 connector URLs are retired and not supported.)
//!
//! `[destinations.NAME] kind = "teams"`; the webhook URL is a secret read from
//! `POLICYWATCH_WEBHOOK_<NAME>` or `$CREDENTIALS_DIRECTORY/webhook-<NAME>`.
//!
//! Limit: Teams refuses a message over about 28 KB; one message's JSON is kept under
//! [`PAYLOAD_MAX`] bytes, several alerts to a card while they fit.
//!
//! Scraped text is made inert: it goes only into `TextRun`s of `RichTextBlock`s, which Teams
//! does not read as Markdown (so `**bold**`, `[x](y)` show as written), and `<`, `>` become
//! the small look-alikes `﹤`, `﹥`, so no HTML or `<at>` mention can form. Links are ours:
//! the title's `selectAction` opens the change.
//!
//! Teams Workflows webhooks take no idempotency key: a message accepted whose answer was
//! lost (a timeout, a crash before the outbox recorded it) is sent again. Nothing is lost.

use serde_json::{json, Value};

use super::digest::digest;
use super::group::{group, Batch};
use super::webhook::{chars, cut, Outgoing, Service, WebhookSink};
use crate::data::{Mention, Severity, Tone};
use crate::store::ChangeRecord;

pub const KIND: &str = "teams";
/// Our ceiling on one message's JSON (Teams: about 28 KB).
pub const PAYLOAD_MAX: usize = 26_000;
const TITLE_MAX: usize = 200;
const SUMMARY_MAX: usize = 900;
const DIFF_MAX: usize = 1200;

/// The `teams` destination kind.
pub struct TeamsKind;

/// Posts Adaptive Cards to Teams Workflows webhooks, one per named destination.
pub type TeamsSink = WebhookSink<TeamsKind>;

impl Service for TeamsKind {
    const KIND: &'static str = KIND;
    const NAME: &'static str = "Teams";

    fn render(records: &[ChangeRecord]) -> Vec<Outgoing> {
        let cards = group(records.iter().map(|r| (r.alert.detected_at, render(r))));
        cards.iter().map(Card::outgoing).collect()
    }

    fn render_digest(records: &[ChangeRecord]) -> Vec<Outgoing> {
        render_digest(records).iter().map(Card::outgoing).collect()
    }
}

/// Scraped text for a `TextRun`: no angle brackets, no controls or bidi overrides.
pub fn inert(s: &str) -> String {
    s.chars()
        .filter(|c| {
            !((c.is_control() && *c != '\n')
                || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
        })
        .map(|c| match c {
            '<' => '﹤',
            '>' => '﹥',
            c => c,
        })
        .collect()
}

use crate::text::one_line;

fn run(text: String) -> Value {
    json!({"type": "TextRun", "text": text})
}

fn paragraph(runs: Vec<Value>) -> Value {
    json!({"type": "RichTextBlock", "inlines": runs})
}

fn link(url: &str) -> Option<String> {
    let u = url::Url::parse(url.trim()).ok()?;
    (matches!(u.scheme(), "http" | "https") && u.as_str().len() <= 2000).then(|| u.to_string())
}

fn title_run(url: &str, title: &str, colour: &str) -> Value {
    let mut r = json!({
        "type": "TextRun",
        "text": cut(&inert(&one_line(title)), TITLE_MAX, chars),
        "weight": "Bolder",
        "color": colour,
    });
    if let Some(u) = link(url) {
        r["selectAction"] = json!({"type": "Action.OpenUrl", "url": u});
    }
    r
}

fn colour(severity: Severity, tone: Tone) -> &'static str {
    match (severity, tone) {
        (Severity::Info, _) => "Default",
        (_, Tone::Good) => "Good",
        (_, Tone::Bad) => "Attention",
        (Severity::Major, Tone::Neutral) => "Warning",
        (Severity::Notice, Tone::Neutral) => "Accent",
    }
}

/// One alert's card elements.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub id: u64,
    pub body: Vec<Value>,
    /// Teams users to mention (user principal names or object ids).
    pub mentions: Vec<String>,
    pub bytes: usize,
}

/// One card (one Teams message).
#[derive(Debug, Clone, Default)]
pub struct Card {
    pub alert_ids: Vec<u64>,
    pub body: Vec<Value>,
    pub mentions: Vec<String>,
    pub bytes: usize,
}

/// The Teams users among `mentions` (a route's or the watch's); other services' mentions
/// are not Teams' to ping.
fn teams_users<'a>(mentions: impl IntoIterator<Item = &'a Mention>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in mentions {
        if let Mention::TeamsUser(id) = m {
            if !out.contains(id) {
                out.push(id.clone());
            }
        }
    }
    out
}

/// What a mention adds to a card's JSON: its `<at>` text and its entity.
fn mention_bytes(mentions: &[String]) -> usize {
    mentions.iter().map(|m| 3 * m.len() + 120).sum()
}

/// The envelope and card keys.
const OVERHEAD: usize = 600;

impl Card {
    fn outgoing(&self) -> Outgoing {
        Outgoing {
            alert_ids: self.alert_ids.clone(),
            payload: self.payload(),
        }
    }

    pub fn payload(&self) -> Value {
        let mut msteams = json!({"width": "Full"});
        let mut body = Vec::new();
        if !self.mentions.is_empty() {
            // Mentions are ours, not scraped: the only TextBlock, whose `<at>` tags Teams
            // resolves through the entities (ids checked when the watchlist was read).
            let at = |m: &String| format!("<at>{m}</at>");
            let text: Vec<String> = self.mentions.iter().map(at).collect();
            body.push(json!({"type": "TextBlock", "text": text.join(" "), "wrap": true}));
            msteams["entities"] = self
                .mentions
                .iter()
                .map(|m| json!({"type": "mention", "text": at(m), "mentioned": {"id": m, "name": m}}))
                .collect();
        }
        body.extend(self.body.iter().cloned());
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "msteams": msteams,
                    "body": body,
                }
            }]
        })
    }
}

impl Batch for Card {
    type Item = Rendered;
    fn empty() -> Self {
        Card::default()
    }
    fn fits(&self, r: &Rendered) -> bool {
        self.bytes + r.bytes + OVERHEAD <= PAYLOAD_MAX
    }
    fn add(&mut self, r: Rendered) {
        if r.id != 0 {
            self.alert_ids.push(r.id);
        }
        for m in r.mentions {
            if !self.mentions.contains(&m) {
                self.mentions.push(m);
            }
        }
        self.body.extend(r.body);
        self.bytes += r.bytes;
    }
}

fn rendered(id: u64, body: Vec<Value>, mentions: Vec<String>) -> Rendered {
    let bytes = body
        .iter()
        .map(|b| serde_json::to_string(b).map_or(0, |s| s.len() + 1))
        .sum::<usize>()
        + mention_bytes(&mentions);
    Rendered {
        id,
        body,
        mentions,
        bytes,
    }
}

/// One alert: a container with the linked title, summary, notes, keywords, diff excerpt and
/// a line naming event, watch, watchlist and alert id.
pub fn render(r: &ChangeRecord) -> Rendered {
    let a = &r.alert;
    let title = if a.title.trim().is_empty() {
        &a.watch
    } else {
        &a.title
    };
    let mut items = vec![paragraph(vec![title_run(
        &a.url,
        title,
        colour(a.severity, a.tone),
    )])];
    if !a.summary.trim().is_empty() {
        items.push(paragraph(vec![run(cut(
            &inert(a.summary.trim()),
            SUMMARY_MAX,
            chars,
        ))]));
    }
    let mut notes: Vec<String> = a
        .annotations
        .iter()
        .take(8)
        .map(|n| format!("• {}", cut(&inert(&one_line(n)), 300, chars)))
        .collect();
    if !a.keywords.is_empty() {
        notes.push(format!(
            "Keywords: {}",
            cut(&inert(&one_line(&a.keywords.join(", "))), 300, chars)
        ));
    }
    if !notes.is_empty() {
        items.push(paragraph(vec![run(notes.join("\n"))]));
    }
    let diff = a.diff.trim_end();
    if !diff.is_empty() {
        let mut d = run(cut(&inert(diff), DIFF_MAX, chars));
        d["fontType"] = json!("Monospace");
        items.push(paragraph(vec![d]));
    }
    let mut context = run(inert(&one_line(&format!(
        "{} · {} · {} · alert {}",
        a.event, a.watch, a.watchlist, a.id
    ))));
    context["isSubtle"] = json!(true);
    context["size"] = json!("Small");
    items.push(paragraph(vec![context]));
    rendered(
        a.id,
        vec![json!({"type": "Container", "separator": true, "items": items})],
        teams_users(&a.mentions),
    )
}

/// A digest: the counts per event type, then one line per alert, major first, grouped by
/// watchlist and watch, in as few cards as the size cap allows.
pub fn render_digest(records: &[ChangeRecord]) -> Vec<Card> {
    let d = digest(records);
    let head = rendered(
        0,
        vec![paragraph(vec![json!({
            "type": "TextRun",
            "text": inert(&format!("Digest: {}", d.headline())),
            "weight": "Bolder",
        })])],
        teams_users(records.iter().flat_map(|r| &r.alert.mentions)),
    );
    let mut items = vec![head];
    let mut current: Option<(&str, &str)> = None;
    for r in &d.items {
        let a = &r.alert;
        let mut runs = Vec::new();
        if current != Some((a.watchlist.as_str(), a.watch.as_str())) {
            current = Some((a.watchlist.as_str(), a.watch.as_str()));
            runs.push(json!({
                "type": "TextRun",
                "text": inert(&format!("{} › {}\n", a.watchlist, a.watch)),
                "weight": "Bolder",
            }));
        }
        if a.severity == Severity::Major {
            runs.push(json!({"type": "TextRun", "text": "major ", "color": "Warning", "weight": "Bolder"}));
        }
        runs.push(title_run(
            &a.url,
            if a.title.is_empty() {
                &a.watch
            } else {
                &a.title
            },
            "Default",
        ));
        runs.push(run(format!(
            " — {} ({}, alert {})",
            cut(&inert(&one_line(&a.summary)), 200, chars),
            a.event,
            a.id
        )));
        items.push(rendered(a.id, vec![paragraph(runs)], vec![]));
    }
    // The headline leads the first card: key it with the rest so it shares it.
    group(items.into_iter().map(|r| ((), r)))
}
