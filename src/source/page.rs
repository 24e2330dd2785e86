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
                meaning: "links were added, removed or renamed (`mode = \"links\"`), or a link kept its text but now points elsewhere (any page)",
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
        compare(watch, previous, next)
    }
    /// A page followed from chat (`/follow page`, hosts in `[discord] follow_hosts`).
    fn follow_target(&self, key: &str) -> Option<Target> {
        let url = Url::parse(key).ok()?;
        matches!(url.scheme(), "http" | "https").then(|| {
            Target::new(Page {
                url,
                mode: PageMode::Text,
            })
        })
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
            // Kept so a link whose text stays but whose target moves is still a change.
            fields: links_field(extracted.links),
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
            fields: links_field(extracted.links),
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

pub fn compare(watch: &Watch, previous: &Document, next: &Document) -> Result<Vec<Event>> {
    match watch.target.get::<Page>() {
        Some(Page {
            mode: PageMode::Links,
            ..
        }) => compare_links(previous, next),
        _ => compare_text(previous, next),
    }
}

fn compare_text(previous: &Document, next: &Document) -> Result<Vec<Event>> {
    // Versions stored before invisible characters were dropped may still hold them.
    let changes = diff::diff(&html::strip_invisible(&previous.text), &next.text);
    // Older versions kept no links: nothing to compare them with.
    let (old_links, new_links) = (links_of(previous)?, links_of(next)?);
    let moved = match previous.fields.get("links") {
        Some(_) => LinkChanges::between(&old_links, &new_links).retargeted,
        None => Vec::new(),
    };
    if changes.is_empty() {
        if moved.is_empty() {
            return Ok(Vec::new());
        }
        let mut event = Event::new("page.links_changed", retarget_line(&moved[0]));
        event.annotations = moved.iter().skip(1).map(retarget_line).collect();
        event.diff = Some(retarget_diff(&moved));
        event.keyword_text = moved
            .iter()
            .map(|(_, n)| n.text.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        event.fields = serde_json::json!({ "retargeted": retarget_fields(&moved) });
        return Ok(vec![event]);
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
    event.annotations.extend(moved.iter().map(retarget_line));
    event.diff = Some(if moved.is_empty() {
        changes.unified
    } else {
        format!("{}\n{}", changes.unified.trim_end(), retarget_diff(&moved))
    });
    Ok(vec![event])
}

/// How the links of two versions differ. Links are matched by target first; a link whose
/// text is unique on both versions and whose target moved is "retargeted", not removed
/// and added.
#[derive(Debug, Default)]
struct LinkChanges<'a> {
    added: Vec<&'a Link>,
    removed: Vec<&'a Link>,
    /// Same visible text, new target: (old, new).
    retargeted: Vec<(&'a Link, &'a Link)>,
    /// Same target, new visible text: (old, new).
    renamed: Vec<(&'a Link, &'a Link)>,
}

impl<'a> LinkChanges<'a> {
    fn between(old: &'a [Link], new: &'a [Link]) -> Self {
        let mut c = LinkChanges::default();
        let mut added: Vec<&Link> = new
            .iter()
            .filter(|l| !old.iter().any(|o| o.url == l.url))
            .collect();
        let mut removed: Vec<&Link> = old
            .iter()
            .filter(|l| !new.iter().any(|n| n.url == l.url))
            .collect();
        let unique =
            |list: &[Link], text: &str| list.iter().filter(|l| l.text == text).count() == 1;
        removed.retain(|o| {
            let pair = (!o.text.is_empty() && unique(old, &o.text) && unique(new, &o.text))
                .then(|| added.iter().position(|n| n.text == o.text))
                .flatten();
            match pair {
                Some(i) => {
                    c.retargeted.push((o, added.remove(i)));
                    false
                }
                None => true,
            }
        });
        c.renamed = old
            .iter()
            .filter_map(|o| {
                let n = new.iter().find(|n| n.url == o.url)?;
                (n.text != o.text).then_some((o, n))
            })
            .collect();
        c.added = added;
        c.removed = removed;
        c
    }

    fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.retargeted.is_empty()
            && self.renamed.is_empty()
    }
}

fn retarget_line((old, new): &(&Link, &Link)) -> String {
    format!(
        "Link “{}” now points to {} (was {})",
        new.text, new.url, old.url
    )
}

fn retarget_diff(moved: &[(&Link, &Link)]) -> String {
    moved
        .iter()
        .flat_map(|(o, n)| [format!("-{}", link_line(o)), format!("+{}", link_line(n))])
        .collect::<Vec<_>>()
        .join("\n")
}

fn retarget_fields(moved: &[(&Link, &Link)]) -> serde_json::Value {
    moved
        .iter()
        .map(|(o, n)| serde_json::json!({ "text": n.text, "from": o.url, "to": n.url }))
        .collect()
}

/// The `fields` a page version stores.
#[derive(Default, Deserialize)]
struct Fields {
    #[serde(default)]
    links: Vec<Link>,
}

/// A page version's fields: `{"links": [{"text", "url"}, …]}`, the JSON of serialising the
/// links, built by moving their strings: copying them through `serde_json::to_value` was
/// a tenth of a baseline cycle's CPU.
fn links_field(links: Vec<Link>) -> serde_json::Value {
    let links = links
        .into_iter()
        .map(|Link { url, text }| {
            let mut link = serde_json::Map::new();
            link.insert("url".into(), url.into());
            link.insert("text".into(), text.into());
            serde_json::Value::Object(link)
        })
        .collect();
    let mut fields = serde_json::Map::new();
    fields.insert("links".into(), serde_json::Value::Array(links));
    serde_json::Value::Object(fields)
}

/// The links of a stored page version; one that does not decode is an error, never an
/// empty list (every link would then be new).
fn links_of(doc: &Document) -> Result<Vec<Link>> {
    Ok(crate::source::decode_fields::<Fields>(doc, "page links")?.links)
}

fn compare_links(previous: &Document, next: &Document) -> Result<Vec<Event>> {
    let (old, new) = (links_of(previous)?, links_of(next)?);
    let c = LinkChanges::between(&old, &new);
    if c.is_empty() {
        return Ok(Vec::new());
    }
    let count = |n: usize, what: &str| match n {
        0 => None,
        1 => Some(format!("1 link {what}")),
        n => Some(format!("{n} links {what}")),
    };
    let mut summary = [
        count(c.added.len(), "added"),
        count(c.removed.len(), "removed"),
        count(c.retargeted.len(), "retargeted"),
        count(c.renamed.len(), "renamed"),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    if let Some(first) = c.added.first() {
        let name = if first.text.is_empty() {
            &first.url
        } else {
            &first.text
        };
        summary.push_str(&format!(": “{name}”"));
    }
    let mut event = Event::new("page.links_changed", summary);
    event.diff =
        Some(
            c.added
                .iter()
                .map(|l| format!("+{}", link_line(l)))
                .chain(c.removed.iter().map(|l| format!("-{}", link_line(l))))
                .chain(c.renamed.iter().flat_map(|(o, n)| {
                    [format!("-{}", link_line(o)), format!("+{}", link_line(n))]
                }))
                .chain((!c.retargeted.is_empty()).then(|| retarget_diff(&c.retargeted)))
                .collect::<Vec<_>>()
                .join("\n"),
        );
    event.annotations =
        c.added
            .iter()
            .take(5)
            .map(|l| format!("New: {}", link_line(l)))
            .chain(c.retargeted.iter().map(retarget_line))
            .chain(c.renamed.iter().map(|(o, n)| {
                format!("Link text changed: “{}” → “{}” ({})", o.text, n.text, n.url)
            }))
            .collect();
    event.keyword_text = c
        .added
        .iter()
        .chain(&c.removed)
        .map(|l| l.text.as_str())
        .chain(c.renamed.iter().map(|(_, n)| n.text.as_str()))
        .collect::<Vec<_>>()
        .join("\n");
    event.fields = serde_json::json!({
        "added": c.added,
        "removed": c.removed,
        "retargeted": retarget_fields(&c.retargeted),
        "renamed": c.renamed.iter().map(|(o, n)| serde_json::json!({ "url": n.url, "from": o.text, "to": n.text })).collect::<Vec<_>>(),
    });
    Ok(vec![event])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stored versions (and their hashes) must not change with how the field is built.
    #[test]
    fn links_field_is_the_json_of_the_links() {
        let links = vec![
            Link {
                url: "https://www.gov.uk/guidance/a".into(),
                text: "Guidance \"A\"".into(),
            },
            Link {
                url: "https://www.gov.uk/b?x=1&y=é".into(),
                text: String::new(),
            },
        ];
        let built = links_field(links.clone());
        assert_eq!(built, serde_json::json!({ "links": links }));
        assert_eq!(
            serde_json::to_string(&built).unwrap(),
            serde_json::to_string(&serde_json::json!({ "links": links })).unwrap()
        );
        let doc = Document {
            title: String::new(),
            url: String::new(),
            text: String::new(),
            fields: built,
        };
        assert_eq!(links_of(&doc).unwrap(), links);
    }
}
