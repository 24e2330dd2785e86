//! `govuk` watches: a GOV.UK page read through the Content API (`<govuk>api/content<path>`),
//! normalised into an [`Item`] (stored as the document's `fields`) and a readable text.
//!
//! What moves on every publish (`updated_at`, and `public_updated_at` on republishing) is kept
//! in the item but never alerts on its own: [`compare`] looks at change notes, body text,
//! attachments, title, summary, withdrawal, removal and redirects.
//!
//! Politeness: requests go through the shared fetcher, whose `per_host_interval` (default
//! 0.1 s) keeps us within GOV.UK's 10 requests a second.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use futures_util::future::BoxFuture;

use crate::config::{SourceBase, Sources};
use crate::data::{Event, Severity};
use crate::error::{Error, Result};
use crate::source::conditional::{fetch_if_changed, Fetch};
use crate::source::kind::{target_of, EventInfo, SourceKind};
use crate::source::{Context, Document, Job, Observed, Outcome};
use crate::text::html::{self, fold, fragment_text, Narrowing};
use crate::watchlist::{KindKeys, KindSyntax, KindTarget, Target, Watch};

mod compare;
pub mod sections;

/// `[sources] govuk`: the site, whose `/api/content` and `/api/search.json` are read.
pub const GOVUK: SourceBase = SourceBase {
    key: "govuk",
    default: "https://www.gov.uk/",
    meaning: "GOV.UK (Content API and Search API)",
};

/// The watch path of a page address on the configured GOV.UK site
/// (`https://www.gov.uk/guidance/x?y#z` → `/guidance/x`); `None` for any other address.
pub fn path_of(url: &Url, sources: &Sources) -> Option<String> {
    let site = sources.url(&GOVUK);
    if url.origin() != site.origin() {
        return None;
    }
    let rest = url.path().strip_prefix(site.path())?;
    (!rest.is_empty()).then(|| format!("/{rest}"))
}

/// A `govuk` watch's target: a path on GOV.UK.
#[derive(Debug, Clone, PartialEq)]
pub struct Govuk {
    pub path: String,
}

impl KindTarget for Govuk {
    const KIND: &'static str = "govuk";
    fn key(&self) -> String {
        self.path.clone()
    }
}

pub struct GovukKind;

impl KindSyntax for GovukKind {
    fn name(&self) -> &'static str {
        Govuk::KIND
    }
    fn keys(&self) -> &'static [&'static str] {
        &["path"]
    }
    fn parse(&self, keys: &mut KindKeys<'_, '_, '_>) -> Option<Target> {
        let item = keys.required(
            "path",
            "a GOV.UK path, e.g. `path = \"/government/publications/...\"`",
        )?;
        let path = keys.string("path", item)?;
        if path.starts_with('/') && !path.contains(char::is_whitespace) {
            return Some(Target::new(Govuk {
                path: path.to_string(),
            }));
        }
        // A pasted page address is the likeliest mistake: suggest its path.
        let hint = Url::parse(path)
            .ok()
            .filter(|u| u.host_str().is_some_and(|h| h.ends_with("gov.uk")))
            .map_or(String::new(), |u| {
                format!(" (did you mean `{}`?)", u.path())
            });
        keys.problem(
            item,
            format!("bad GOV.UK path `{path}`: must start with `/`{hint}"),
        );
        None
    }
}

const EVENTS: &[EventInfo] = &[
    EventInfo {
        name: "govuk.major_update",
        severity: Severity::Major,
        meaning: "a new change-history entry (the change note is quoted)",
    },
    EventInfo {
        name: "govuk.silent_edit",
        severity: Severity::Notice,
        meaning: "the body changed with no new change note (major when the change is large)",
    },
    EventInfo {
        name: "govuk.attachment_added",
        severity: Severity::Notice,
        meaning: "a new attachment",
    },
    EventInfo {
        name: "govuk.attachment_changed",
        severity: Severity::Notice,
        meaning: "an attachment was replaced or renamed",
    },
    EventInfo {
        name: "govuk.metadata_changed",
        severity: Severity::Notice,
        meaning: "the title or summary changed",
    },
    EventInfo {
        name: "govuk.withdrawn",
        severity: Severity::Major,
        meaning: "the page was withdrawn (the notice is quoted)",
    },
    EventInfo {
        name: "govuk.removed",
        severity: Severity::Major,
        meaning: "the page is gone (410 / 404)",
    },
    EventInfo {
        name: "govuk.redirected",
        severity: Severity::Notice,
        meaning: "the page now redirects elsewhere",
    },
    EventInfo {
        name: "govuk.restored",
        severity: Severity::Notice,
        meaning: "a removed or withdrawn page is back",
    },
];

impl SourceKind for GovukKind {
    fn about(&self) -> &'static str {
        "a GOV.UK page, read through the Content API"
    }
    fn events(&self) -> &'static [EventInfo] {
        EVENTS
    }
    fn bases(&self) -> &'static [SourceBase] {
        &[GOVUK]
    }
    fn human_url(&self, target: &Target, sources: &Sources) -> String {
        let site = sources.url(&GOVUK);
        match target.get::<Govuk>() {
            Some(g) => page_url(&site, &g.path),
            None => site.to_string(),
        }
    }
    fn reads_previous(&self) -> bool {
        true
    }
    fn observe<'a>(&'a self, ctx: &'a Context, job: &'a Job) -> BoxFuture<'a, Result<Observed>> {
        Box::pin(observe(ctx, job))
    }
    fn compare(&self, watch: &Watch, previous: &Document, next: &Document) -> Result<Vec<Event>> {
        compare(watch, previous, next)
    }
    fn follow_target(&self, key: &str) -> Option<Target> {
        Some(Target::new(Govuk {
            path: key.to_string(),
        }))
    }
}

const ACCEPT_JSON: &str = "application/json";

/// A GOV.UK content item as stored in a version's `fields`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Item {
    /// The path the watch asked for.
    pub path: String,
    /// The item's own path (differs when the path is a route of it).
    pub base_path: String,
    pub schema_name: String,
    pub document_type: String,
    pub title: String,
    pub description: String,
    /// Organisation names, from `links.organisations`.
    pub organisations: Vec<String>,
    pub first_published_at: Option<String>,
    /// Moves on major updates (and on some republishes): kept, never alerted on alone.
    pub public_updated_at: Option<String>,
    /// Moves on every publish: kept for the record only.
    pub updated_at: Option<String>,
    /// Readable body: `## Heading` lines, one line per paragraph, list item or table row.
    pub body: String,
    /// Oldest first, by `public_timestamp` (publishing apps disagree on the order).
    pub change_history: Vec<ChangeNote>,
    pub attachments: Vec<Attachment>,
    pub withdrawn_notice: Option<Withdrawal>,
    /// Where the path now leads: a `redirect` item's destination, or the path the Content
    /// API redirected us to.
    pub redirected_to: Option<String>,
    /// Set when the Content API answers 410 Gone (or serves a `gone` item).
    pub removed: Option<Removal>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChangeNote {
    /// UTC, RFC 3339 (normalised: apps write the same instant with different offsets).
    pub public_timestamp: String,
    pub note: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attachment {
    pub id: Option<String>,
    pub title: String,
    /// Absolute URL.
    pub url: String,
    pub content_type: Option<String>,
    pub file_size: Option<u64>,
    pub number_of_pages: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Withdrawal {
    /// The explanation as readable text.
    pub explanation: String,
    pub withdrawn_at: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Removal {
    pub explanation: String,
    pub alternative_path: Option<String>,
}

impl Attachment {
    /// Identity across versions: Whitehall keeps an attachment's id when its file is replaced.
    fn key(&self) -> &str {
        self.id.as_deref().unwrap_or(&self.url)
    }

    /// "PDF, 1.8 MB, 12 pages".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(t) = &self.content_type {
            parts.push(type_label(t));
        }
        if let Some(size) = self.file_size {
            parts.push(human_size(size));
        }
        match self.number_of_pages {
            Some(1) => parts.push("1 page".into()),
            Some(n) => parts.push(format!("{n} pages")),
            None => {}
        }
        parts.join(", ")
    }

    fn line(&self) -> String {
        let about = self.describe();
        if about.is_empty() {
            format!("- {} <{}>", self.title, self.url)
        } else {
            format!("- {} ({about}) <{}>", self.title, self.url)
        }
    }
}

impl Item {
    /// What a reader reads: title, summary, body. Section-aware diffs run over this.
    pub fn reading(&self) -> String {
        let mut lines = vec![format!("# {}", self.title)];
        if !self.description.is_empty() {
            lines.push(self.description.clone());
        }
        if !self.body.is_empty() {
            lines.push(self.body.clone());
        }
        lines.join("\n")
    }

    /// The document's canonical text (what `diff` and `history` show): the reading text,
    /// then the page's status, attachments and change notes (newest first, as GOV.UK shows).
    pub fn text(&self) -> String {
        if let Some(r) = &self.removed {
            let mut t = format!("# {}\nRemoved from GOV.UK (410 Gone).", self.title);
            if !r.explanation.is_empty() {
                t.push('\n');
                t.push_str(&r.explanation);
            }
            return t;
        }
        if let Some(to) = &self.redirected_to {
            if self.schema_name == "redirect" {
                return format!("# {}\nRedirects to {to}", self.title);
            }
        }
        let mut out = self.reading();
        if let Some(to) = &self.redirected_to {
            out.push_str(&format!("\nMoved: {} now leads to {to}", self.path));
        }
        if let Some(w) = &self.withdrawn_notice {
            out.push_str("\n## Withdrawn");
            if let Some(at) = &w.withdrawn_at {
                out.push_str(&format!("\nWithdrawn on {}", human_time(at)));
            }
            out.push('\n');
            out.push_str(&w.explanation);
        }
        if !self.attachments.is_empty() {
            out.push_str("\n## Documents");
            for a in &self.attachments {
                out.push('\n');
                out.push_str(&a.line());
            }
        }
        if !self.change_history.is_empty() {
            out.push_str("\n## Updates to this page");
            for c in self.change_history.iter().rev() {
                out.push_str(&format!(
                    "\n- {}: {}",
                    human_time(&c.public_timestamp),
                    c.note
                ));
            }
        }
        out
    }

    fn document(&self, site: &Url) -> Document {
        let shown = self
            .redirected_to
            .as_deref()
            .filter(|_| self.schema_name != "redirect")
            .unwrap_or(&self.path);
        Document {
            title: self.title.clone(),
            url: page_url(site, shown),
            text: self.text(),
            fields: serde_json::to_value(self).unwrap_or_default(),
        }
    }
}

/// The public URL of a GOV.UK path (or the URL itself when it is one already).
pub(crate) fn page_url(site: &Url, path: &str) -> String {
    if path.starts_with("http://") || path.starts_with("https://") {
        return path.to_string();
    }
    site.join(path.trim_start_matches('/'))
        .map(|u| u.to_string())
        .unwrap_or_else(|_| format!("{site}{}", path.trim_start_matches('/')))
}

fn api_url(site: &Url, path: &str) -> Result<Url> {
    site.join(&format!("api/content{path}"))
        .map_err(|e| Error::extract(site.as_str(), format!("bad GOV.UK path `{path}`: {e}")))
}

pub async fn observe(ctx: &Context, job: &Job) -> Result<Observed> {
    let Govuk { path } = target_of::<Govuk>(&job.watch)?;
    let site = &ctx.base(&GOVUK);
    let api = api_url(site, path)?;
    let fetched = fetch_if_changed(ctx, job, &api, ACCEPT_JSON).await;
    let previous_title = job.previous.as_ref().map(|d| d.title.clone());
    let (item, state) = match fetched {
        Ok(Fetch::Unchanged(state)) => {
            return Ok(Observed {
                outcome: Outcome::Unchanged,
                state,
            })
        }
        Ok(Fetch::Changed { body, state }) => {
            let json: Value = serde_json::from_slice(&body.bytes).map_err(|e| {
                Error::extract(
                    api.as_str(),
                    format!("the Content API did not answer JSON: {e}"),
                )
            })?;
            let mut item = extract(&json, path, site);
            if item.redirected_to.is_none() {
                item.redirected_to = moved_to(site, &api, &body.url);
            }
            (item, state)
        }
        Err(Error::Fetch(e)) if e.status() == Some(410) => {
            (removed_item(path), serde_json::Value::Null)
        }
        Err(e) => return Err(e),
    };
    let mut item = item;
    if item.title.is_empty() {
        // Redirect and gone items carry no title: keep calling the page what it was.
        item.title = previous_title
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| path.clone());
    }
    Ok(Observed {
        outcome: Outcome::Document(item.document(site)),
        state,
    })
}

fn removed_item(path: &str) -> Item {
    Item {
        path: path.to_string(),
        base_path: path.to_string(),
        removed: Some(Removal::default()),
        ..Item::default()
    }
}

/// The path the Content API redirected us to, when it did.
fn moved_to(site: &Url, asked: &Url, got: &Url) -> Option<String> {
    if got.path() == asked.path() && got.host_str() == asked.host_str() {
        return None;
    }
    let prefix = site.join("api/content").ok()?;
    if got.host_str() == prefix.host_str() {
        if let Some(rest) = got.path().strip_prefix(prefix.path()) {
            if rest.starts_with('/') {
                return Some(rest.to_string());
            }
        }
    }
    Some(got.to_string())
}

/// Normalises a Content API item. Total: a field missing from one schema is left empty.
pub fn extract(json: &Value, path: &str, site: &Url) -> Item {
    let s = |v: &Value| v.as_str().map(str::to_string);
    let details = &json["details"];
    let schema_name = s(&json["schema_name"]).unwrap_or_default();
    let mut item = Item {
        path: path.to_string(),
        base_path: s(&json["base_path"]).unwrap_or_else(|| path.to_string()),
        document_type: s(&json["document_type"]).unwrap_or_default(),
        title: json["title"].as_str().map(fold).unwrap_or_default(),
        description: json["description"].as_str().map(fold).unwrap_or_default(),
        organisations: json["links"]["organisations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["title"].as_str().map(fold))
            .collect(),
        first_published_at: s(&json["first_published_at"]).map(|t| normalise_time(&t)),
        public_updated_at: s(&json["public_updated_at"]).map(|t| normalise_time(&t)),
        updated_at: s(&json["updated_at"]).map(|t| normalise_time(&t)),
        schema_name,
        ..Item::default()
    };
    match item.schema_name.as_str() {
        "redirect" => {
            item.redirected_to = redirect_destination(json, path);
            return item;
        }
        "gone" => {
            item.removed = Some(Removal {
                explanation: details["explanation"]
                    .as_str()
                    .map(|h| fold(&fragment_text(h)))
                    .unwrap_or_default(),
                alternative_path: s(&details["alternative_path"]),
            });
            return item;
        }
        _ => {}
    }
    item.body = body_text(json);
    item.change_history = change_history(details);
    item.attachments = attachments(details, site);
    item.withdrawn_notice = json["withdrawn_notice"]["explanation"]
        .as_str()
        .map(|explanation| Withdrawal {
            explanation: fold(&fragment_text(explanation)),
            withdrawn_at: s(&json["withdrawn_notice"]["withdrawn_at"]).map(|t| normalise_time(&t)),
        });
    item
}

/// A `redirect` item's destination for the watched path (exact entry first, then prefix).
fn redirect_destination(json: &Value, path: &str) -> Option<String> {
    let redirects = json["redirects"].as_array()?;
    let dest = |r: &Value| r["destination"].as_str().map(str::to_string);
    redirects
        .iter()
        .find(|r| r["path"].as_str() == Some(path))
        .or_else(|| {
            redirects.iter().find(|r| {
                r["type"].as_str() == Some("prefix")
                    && r["path"].as_str().is_some_and(|p| path.starts_with(p))
            })
        })
        .or_else(|| redirects.first())
        .and_then(dest)
}

/// The body as readable text, from `details.body` (HTML, or the multi-type array form),
/// guide `parts`, and collection groups (with the titles of their documents).
fn body_text(json: &Value) -> String {
    let details = &json["details"];
    let mut blocks = Vec::new();
    if let Some(html) = html_of(&details["body"]) {
        blocks.push(fragment_text(&html));
    }
    for part in details["parts"].as_array().into_iter().flatten() {
        if let Some(title) = part["title"].as_str() {
            blocks.push(format!("## {}", fold(title)));
        }
        if let Some(html) = html_of(&part["body"]) {
            blocks.push(fragment_text(&html));
        }
    }
    let linked = json["links"]["documents"].as_array();
    for group in details["collection_groups"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(title) = group["title"].as_str() {
            blocks.push(format!("## {}", fold(title)));
        }
        if let Some(html) = html_of(&group["body"]) {
            blocks.push(fragment_text(&html));
        }
        for id in group["documents"].as_array().into_iter().flatten() {
            let doc = linked
                .into_iter()
                .flatten()
                .find(|d| d["content_id"] == *id);
            if let Some(d) = doc {
                let title = d["title"].as_str().map(fold).unwrap_or_default();
                let path = d["base_path"].as_str().unwrap_or_default();
                blocks.push(format!("- {title} <{path}>"));
            }
        }
    }
    blocks.retain(|b| !b.is_empty());
    blocks.join("\n")
}

fn html_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => parts
            .iter()
            .find(|p| p["content_type"] == "text/html")
            .or_else(|| parts.first())
            .and_then(|p| p["content"].as_str().map(str::to_string)),
        _ => None,
    }
}

fn change_history(details: &Value) -> Vec<ChangeNote> {
    let mut notes: Vec<ChangeNote> = details["change_history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            Some(ChangeNote {
                public_timestamp: normalise_time(c["public_timestamp"].as_str()?),
                note: c["note"].as_str().map(fold).unwrap_or_default(),
            })
        })
        .collect();
    // Normalised timestamps sort as instants; the sort is stable for equal ones.
    notes.sort_by(|a, b| a.public_timestamp.cmp(&b.public_timestamp));
    notes
}

/// `details.attachments` (the structured list), else the rendered `details.documents` blocks
/// of older publications (first link of each block).
fn attachments(details: &Value, site: &Url) -> Vec<Attachment> {
    let structured: Vec<Attachment> = details["attachments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| {
            let url = a["url"].as_str()?;
            Some(Attachment {
                id: a["id"]
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| a["id"].as_u64().map(|n| n.to_string())),
                title: a["title"].as_str().map(fold).unwrap_or_default(),
                url: page_url(site, url),
                content_type: a["content_type"]
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| (a["attachment_type"] == "html").then(|| "text/html".to_string())),
                file_size: a["file_size"].as_u64(),
                number_of_pages: a["number_of_pages"].as_u64(),
            })
        })
        .collect();
    if !structured.is_empty() {
        return structured;
    }
    details["documents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|block| {
            let html = block.as_str()?;
            let found = html::extract(html, Some(site), Narrowing::default()).ok()?;
            let link = found.links.into_iter().find(|l| !l.text.is_empty())?;
            Some(Attachment {
                id: None,
                title: link.text,
                content_type: type_from_extension(&link.url),
                url: link.url,
                file_size: None,
                number_of_pages: None,
            })
        })
        .collect()
}

fn type_from_extension(url: &str) -> Option<String> {
    let ext = url.rsplit('.').next()?.to_ascii_lowercase();
    let t = match ext.as_str() {
        "pdf" => "application/pdf",
        "csv" => "text/csv",
        "odt" => "application/vnd.oasis.opendocument.text",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => return None,
    };
    Some(t.to_string())
}

/// "PDF", "HTML", "Word document"… for a MIME type.
pub fn type_label(mime: &str) -> String {
    let m = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let label = match m.as_str() {
        "application/pdf" => "PDF",
        "text/html" => "HTML",
        "text/csv" => "CSV",
        "application/msword"
        | "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => {
            "Word document"
        }
        "application/vnd.ms-excel"
        | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => {
            "Excel spreadsheet"
        }
        "application/vnd.oasis.opendocument.text" => "ODT document",
        "application/vnd.oasis.opendocument.spreadsheet" => "ODS spreadsheet",
        _ => return m,
    };
    label.to_string()
}

fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1024 * 1024 => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
        b if b >= 1024 => format!("{} KB", (b + 512) / 1024),
        b => format!("{b} bytes"),
    }
}

/// RFC 3339 in UTC to the second, so one instant written with different offsets (as
/// publishing apps do) compares equal. Unparseable input is kept as it came.
pub(crate) fn normalise_time(raw: &str) -> String {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| {
            t.with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::Secs, true)
        })
        .unwrap_or_else(|_| raw.to_string())
}

/// "19 August 2020, 3:53pm" in UK time, as GOV.UK writes dates.
pub(crate) fn human_time(ts: &str) -> String {
    match DateTime::parse_from_rfc3339(ts) {
        Ok(t) => t
            .with_timezone(&chrono_tz::Europe::London)
            .format("%-d %B %Y, %-I:%M%P")
            .to_string(),
        Err(_) => ts.to_string(),
    }
}

pub fn compare(_watch: &Watch, previous: &Document, next: &Document) -> Result<Vec<Event>> {
    Ok(compare::events(&item_of(previous)?, &item_of(next)?))
}

/// The stored item of a version (an empty item for a version that predates the fields);
/// one that does not decode is an error, never an empty item.
pub fn item_of(doc: &Document) -> Result<Item> {
    crate::source::decode_fields(doc, "GOV.UK item")
}

#[cfg(test)]
mod tests;
