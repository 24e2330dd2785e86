//! `page` watches: any HTML page, narrowed by CSS selectors, compared as readable text or
//! as its set of links.

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::Sources;
use crate::data::{Event, Severity};
use crate::error::{Error, Result};
use crate::source::conditional::{fetch_if_changed, Fetch};
use crate::source::kind::{target_of, EventInfo, SourceKind};
use crate::source::{Context, Document, Job, Observed, Outcome};
use crate::text::diff;
use crate::text::html::{self, Link, Narrowing};
use crate::watchlist::{KindKeys, KindSyntax, KindTarget, Target, Watch};

const ACCEPT_HTML: &str = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1";

/// A `page` watch's target.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub url: Url,
    pub mode: PageMode,
}

impl KindTarget for Page {
    const KIND: &'static str = "page";
    fn key(&self) -> String {
        self.url.to_string()
    }
}

/// `page` watches compare readable text, or only the set of links (`mode = "links"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageMode {
    #[default]
    Text,
    Links,
}

pub struct PageKind;

impl KindSyntax for PageKind {
    fn name(&self) -> &'static str {
        Page::KIND
    }
    fn keys(&self) -> &'static [&'static str] {
        &["url", "mode"]
    }
    fn parse(&self, keys: &mut KindKeys<'_, '_, '_>) -> Option<Target> {
        let url = keys
            .required("url", "an absolute http(s) URL")
            .and_then(|i| keys.url("url", i));
        // `mode` is read even without a `url`, so one run reports everything.
        let mode = match keys.get("mode") {
            Some(m) => match keys.choice("mode", m, &["text", "links"], ("mode", "modes"))? {
                "links" => PageMode::Links,
                _ => PageMode::Text,
            },
            None => PageMode::Text,
        };
        Some(Target::new(Page { url: url?, mode }))
    }
}

impl SourceKind for PageKind {
    fn about(&self) -> &'static str {
        "any HTML page, narrowed by CSS selectors, compared as text or as its links"
    }
    fn events(&self) -> &'static [EventInfo] {
        &[
            EventInfo {
                name: "page.changed",
                severity: Severity::Notice,
                meaning: "the page's text changed (major when a fifth or more of it changed)",
            },
            EventInfo {
                name: "page.links_changed",
                severity: Severity::Notice,
                meaning: "links were added to or removed from the page (`mode = \"links\"`)",
            },
        ]
    }
    fn human_url(&self, target: &Target, _: &Sources) -> String {
        target
            .get::<Page>()
            .map_or_else(String::new, |p| p.url.to_string())
    }
    fn observe<'a>(&'a self, ctx: &'a Context, job: &'a Job) -> BoxFuture<'a, Result<Observed>> {
        Box::pin(observe(ctx, job))
    }
    fn compare(&self, watch: &Watch, previous: &Document, next: &Document) -> Result<Vec<Event>> {
        Ok(compare(watch, previous, next))
    }
}

pub async fn observe(ctx: &Context, job: &Job) -> Result<Observed> {
    let Page { url, mode } = target_of::<Page>(&job.watch)?;
    let (body, state) = match fetch_if_changed(ctx, job, url, ACCEPT_HTML).await? {
        Fetch::Unchanged(state) => {
            return Ok(Observed {
                outcome: Outcome::Unchanged,
                state,
            })
        }
        Fetch::Changed { body, state } => (body, state),
    };
    if let Some(ct) = &body.content_type {
        let essence = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !(essence.contains("html") || essence.is_empty()) {
            return Err(Error::extract(
                url.as_str(),
                format!("expected an HTML page, got content type `{essence}`"),
            ));
        }
    }
    let html = body.text()?;
    let filter = &job.watch.filter;
    let extracted = html::extract(
        &html,
        Some(&body.url),
        Narrowing {
            select: &filter.select,
            ignore_selectors: &filter.ignore_selectors,
            ignore: &filter.ignore,
        },
    )
    .map_err(|reason| Error::extract(url.as_str(), reason))?;
    let document = match mode {
        PageMode::Text => Document {
            title: extracted.title,
            // Where the text came from: the final URL when the page redirected.
            url: body.url.to_string(),
            text: extracted.text,
            fields: serde_json::Value::Null,
        },
        PageMode::Links => Document {
            title: extracted.title,
            // Where the text came from: the final URL when the page redirected.
            url: body.url.to_string(),
            text: extracted
                .links
                .iter()
                .map(link_line)
                .collect::<Vec<_>>()
                .join("\n"),
            fields: serde_json::json!({ "links": extracted.links }),
        },
    };
    Ok(Observed {
        outcome: Outcome::Document(document),
        state,
    })
}

fn link_line(l: &Link) -> String {
    if l.text.is_empty() {
        l.url.clone()
    } else {
        format!("{} <{}>", l.text, l.url)
    }
}

pub fn compare(watch: &Watch, previous: &Document, next: &Document) -> Vec<Event> {
    match watch.target.get::<Page>() {
        Some(Page {
            mode: PageMode::Links,
            ..
        }) => compare_links(previous, next),
        _ => compare_text(previous, next),
    }
}

fn compare_text(previous: &Document, next: &Document) -> Vec<Event> {
    let changes = diff::diff(&previous.text, &next.text);
    if changes.is_empty() {
        return Vec::new();
    }
    let mut event = Event::new(
        "page.changed",
        format!("Text changed: {}", changes.summary()),
    );
    event.annotations = changes
        .word_edits
        .iter()
        .filter(|(o, n)| !o.is_empty() && !n.is_empty() && o.len() + n.len() < 160)
        .take(3)
        .map(|(o, n)| format!("“{o}” → “{n}”"))
        .collect();
    if previous.title != next.title && !next.title.is_empty() {
        event
            .annotations
            .insert(0, format!("Title: “{}” → “{}”", previous.title, next.title));
    }
    event.severity = if changes.percent >= 20 {
        Severity::Major
    } else {
        Severity::Notice
    };
    event.keyword_text = changes
        .added_lines
        .iter()
        .chain(&changes.removed_lines)
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    event.diff = Some(changes.unified);
    vec![event]
}

fn links_of(doc: &Document) -> Vec<Link> {
    serde_json::from_value(doc.fields["links"].clone()).unwrap_or_default()
}

fn compare_links(previous: &Document, next: &Document) -> Vec<Event> {
    let old = links_of(previous);
    let new = links_of(next);
    let added: Vec<&Link> = new
        .iter()
        .filter(|l| !old.iter().any(|o| o.url == l.url))
        .collect();
    let removed: Vec<&Link> = old
        .iter()
        .filter(|l| !new.iter().any(|n| n.url == l.url))
        .collect();
    if added.is_empty() && removed.is_empty() {
        return Vec::new();
    }
    let count = |n: usize, what: &str| match n {
        0 => None,
        1 => Some(format!("1 link {what}")),
        n => Some(format!("{n} links {what}")),
    };
    let mut summary = [count(added.len(), "added"), count(removed.len(), "removed")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
    if let Some(first) = added.first() {
        let name = if first.text.is_empty() {
            &first.url
        } else {
            &first.text
        };
        summary.push_str(&format!(": “{name}”"));
    }
    let mut event = Event::new("page.links_changed", summary);
    event.diff = Some(
        added
            .iter()
            .map(|l| format!("+{}", link_line(l)))
            .chain(removed.iter().map(|l| format!("-{}", link_line(l))))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    event.annotations = added
        .iter()
        .take(5)
        .map(|l| format!("New: {}", link_line(l)))
        .collect();
    event.keyword_text = added
        .iter()
        .chain(&removed)
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    event.fields = serde_json::json!({ "added": added, "removed": removed });
    vec![event]
}
