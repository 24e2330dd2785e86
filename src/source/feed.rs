//! `feed` watches: RSS, Atom or JSON Feed, read with feed-rs. Entries keep a stable identity
//! of our own (feed-rs invents a random id for entries with neither guid nor link).

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use crate::config::Sources;
use crate::data::{Event, Severity};
use crate::error::{Error, Result};
use crate::source::conditional::{fetch_if_changed, Fetch};
use crate::source::kind::{target_of, EventInfo, SourceKind};
use crate::source::{Context, Document, Job, Observed, Outcome};
use crate::text::diff;
use crate::text::html::{fold, fragment_text};
use crate::watchlist::{KindKeys, KindSyntax, KindTarget, Target, Watch};

/// A `feed` watch's target.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    pub url: Url,
}

impl KindTarget for Feed {
    const KIND: &'static str = "feed";
    fn key(&self) -> String {
        self.url.to_string()
    }
}

pub struct FeedKind;

impl KindSyntax for FeedKind {
    fn name(&self) -> &'static str {
        Feed::KIND
    }
    fn keys(&self) -> &'static [&'static str] {
        &["url"]
    }
    fn parse(&self, keys: &mut KindKeys<'_, '_, '_>) -> Option<Target> {
        let item = keys.required("url", "an absolute http(s) URL")?;
        let url = keys.url("url", item)?;
        Some(Target::new(Feed { url }))
    }
}

impl SourceKind for FeedKind {
    fn about(&self) -> &'static str {
        "any RSS, Atom or JSON feed"
    }
    fn events(&self) -> &'static [EventInfo] {
        &[
            EventInfo {
                name: "feed.new_entry",
                severity: Severity::Notice,
                meaning: "an entry not seen before",
            },
            EventInfo {
                name: "feed.changed_entry",
                severity: Severity::Notice,
                meaning: "a known entry whose title, date or summary changed",
            },
        ]
    }
    fn human_url(&self, target: &Target, _: &Sources) -> String {
        target
            .get::<Feed>()
            .map_or_else(String::new, |f| f.url.to_string())
    }
    fn observe<'a>(&'a self, ctx: &'a Context, job: &'a Job) -> BoxFuture<'a, Result<Observed>> {
        Box::pin(observe(ctx, job))
    }
    fn compare(&self, watch: &Watch, previous: &Document, next: &Document) -> Result<Vec<Event>> {
        compare(watch, previous, next)
    }
}

/// Entries kept per feed version; a feed of thousands keeps its newest, in feed order.
pub const MAX_ENTRIES: usize = 500;

const ACCEPT_FEED: &str = "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1";

/// One feed entry as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub title: String,
    pub link: Option<String>,
    pub published: Option<String>,
    pub updated: Option<String>,
    pub summary: String,
}

impl Entry {
    fn text(&self) -> String {
        let mut lines = vec![format!("## {}", self.title)];
        if let Some(link) = &self.link {
            lines.push(link.clone());
        }
        if let Some(d) = self.updated.as_ref().or(self.published.as_ref()) {
            lines.push(format!("Date: {d}"));
        }
        if !self.summary.is_empty() {
            lines.push(self.summary.clone());
        }
        lines.join("\n")
    }
}

pub async fn observe(ctx: &Context, job: &Job) -> Result<Observed> {
    let Feed { url } = target_of::<Feed>(&job.watch)?;
    match fetch_if_changed(ctx, job, url, ACCEPT_FEED).await? {
        Fetch::Unchanged(state) => Ok(Observed {
            outcome: Outcome::Unchanged,
            state,
        }),
        Fetch::Changed { body, state } => Ok(Observed {
            outcome: Outcome::Document(parse(&body.bytes, body.url.as_str())?),
            state,
        }),
    }
}

/// Parses feed bytes (feed-rs sniffs the encoding) into a document.
pub fn parse(bytes: &[u8], url: &str) -> Result<Document> {
    let parse = || {
        feed_rs::parser::parse(bytes)
            .map_err(|e| Error::extract(url, format!("not a valid RSS, Atom or JSON feed: {e}")))
    };
    let feed = parse()?;
    // A second parse tells ids the feed carries from ids feed-rs made up.
    let again = parse()?;
    let mut entries: Vec<Entry> = Vec::new();
    for (entry, twin) in feed.entries.iter().zip(&again.entries).take(MAX_ENTRIES) {
        let title = entry
            .title
            .as_ref()
            .map(|t| fold(&t.content))
            .unwrap_or_default();
        let link = entry.links.first().map(|l| l.href.clone());
        let summary = entry
            .summary
            .as_ref()
            .map(|t| text_of(&t.content, t.content_type.as_ref()))
            .or_else(|| {
                entry
                    .content
                    .as_ref()
                    .and_then(|c| c.body.as_ref().map(|b| text_of(b, c.content_type.as_ref())))
            })
            .unwrap_or_default();
        let id = if entry.id == twin.id && !entry.id.is_empty() {
            entry.id.clone()
        } else if let Some(link) = &link {
            link.clone()
        } else {
            let digest = Sha256::digest(format!("{title}\n{summary}"));
            format!("sha256:{}", hex::encode(&digest[..12]))
        };
        if entries.iter().any(|e| e.id == id) {
            continue;
        }
        entries.push(Entry {
            id,
            title,
            link,
            published: entry.published.map(|d| d.to_rfc3339()),
            updated: entry.updated.map(|d| d.to_rfc3339()),
            summary,
        });
    }
    let title = feed.title.map(|t| fold(&t.content)).unwrap_or_default();
    let text = entries
        .iter()
        .map(Entry::text)
        .collect::<Vec<_>>()
        .join("\n\n");
    Ok(Document {
        title,
        url: url.to_string(),
        text,
        fields: serde_json::json!({ "entries": entries }),
    })
}

fn text_of(content: &str, content_type: &str) -> String {
    if content_type.contains("html") || content.contains('<') {
        fragment_text(content)
    } else {
        fold(content)
    }
}

/// The `fields` a feed version stores.
#[derive(Default, Deserialize)]
struct Fields {
    #[serde(default)]
    entries: Vec<Entry>,
}

/// The entries of a stored feed version; one that does not decode is an error, never an
/// empty feed (every entry would then be new).
pub fn entries_of(doc: &Document) -> Result<Vec<Entry>> {
    Ok(crate::source::decode_fields::<Fields>(doc, "feed entries")?.entries)
}

pub fn compare(_watch: &Watch, previous: &Document, next: &Document) -> Result<Vec<Event>> {
    let old = entries_of(previous)?;
    let mut events = Vec::new();
    for entry in entries_of(next)? {
        match old.iter().find(|o| o.id == entry.id) {
            None => {
                let mut e = Event::new(
                    "feed.new_entry",
                    format!("New in {}: {}", name_of(next), entry.title),
                );
                e.title = Some(entry.title.clone());
                e.url = entry.link.clone();
                e.keyword_text = format!("{}\n{}", entry.title, entry.summary);
                e.diff = Some(entry.text().lines().map(|l| format!("+{l}\n")).collect());
                e.fields = serde_json::to_value(&entry).unwrap_or_default();
                events.push(e);
            }
            Some(o)
                if o.title != entry.title || o.summary != entry.summary || o.link != entry.link =>
            {
                let changes = diff::diff(&o.text(), &entry.text());
                let mut e = Event::new(
                    "feed.changed_entry",
                    format!(
                        "Entry changed in {}: {} ({})",
                        name_of(next),
                        entry.title,
                        changes.summary()
                    ),
                );
                e.title = Some(entry.title.clone());
                e.url = entry.link.clone();
                e.keyword_text = changes.added_lines.join("\n");
                e.diff = Some(changes.unified);
                e.fields = serde_json::to_value(&entry).unwrap_or_default();
                events.push(e);
            }
            Some(_) => {}
        }
    }
    Ok(events)
}

fn name_of(doc: &Document) -> &str {
    if doc.title.is_empty() {
        &doc.url
    } else {
        &doc.title
    }
}
