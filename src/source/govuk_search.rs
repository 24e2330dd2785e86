//! `govuk_search` watches: documents matching a GOV.UK Search API query
//! (`<govuk>api/search.json`: keywords, organisations, document types; newest first) and/or
//! an organisation or finder Atom feed. A document the watch has never matched raises
//! `govuk.new_document`; a match whose `public_timestamp` moved raises `govuk.updated`.
//!
//! Paging stops as soon as a page reaches results already known unchanged (newest first, so
//! the rest is older and known too); matches older than the pages read are carried over from
//! the previous version. Requests go through the shared fetcher, whose `per_host_interval`
//! keeps us within GOV.UK's 10 requests a second.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use futures_util::future::BoxFuture;

use crate::config::{SourceBase, Sources};
use crate::data::{Event, Severity};
use crate::error::{Error, Result};
use crate::source::govuk::{human_time, normalise_time, page_url, Govuk, GOVUK};
use crate::source::kind::{target_of, EventInfo, SourceKind};
use crate::source::{feed, Context, Document, FollowTarget, Job, Observed, Outcome};
use crate::text::{html::fold, humanise};
use crate::watchlist::{KindKeys, KindSyntax, KindTarget, Target, Watch};

/// A GOV.UK Search API query (`search = "modern slavery"` or a table): a `govuk_search`
/// watch's target.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GovukQuery {
    pub keywords: Option<String>,
    /// Organisation slugs, e.g. `home-office`.
    pub organisations: Vec<String>,
    /// Content format / document types, e.g. `guidance`, `statutory_guidance`.
    pub document_types: Vec<String>,
    /// An organisation or finder Atom feed to read instead of / as well as the Search API.
    pub feed: Option<Url>,
}

impl KindTarget for GovukQuery {
    const KIND: &'static str = "govuk_search";
    fn key(&self) -> String {
        format!("{self:?}")
    }
}

const SEARCH_KEYS: &[&str] = &["keywords", "organisations", "document_types", "feed"];

pub struct GovukSearchKind;

impl KindSyntax for GovukSearchKind {
    fn name(&self) -> &'static str {
        GovukQuery::KIND
    }
    fn keys(&self) -> &'static [&'static str] {
        &["search"]
    }
    fn can_follow(&self) -> bool {
        true
    }
    fn parse(&self, keys: &mut KindKeys<'_, '_, '_>) -> Option<Target> {
        let q = keys.search(
            "keywords",
            SEARCH_KEYS,
            |keywords| GovukQuery {
                keywords: Some(keywords),
                ..GovukQuery::default()
            },
            |t| {
                let mut q = GovukQuery::default();
                if let Some(i) = t.get("keywords") {
                    q.keywords = t.string("keywords", i).map(str::to_string);
                }
                if let Some(i) = t.get("organisations") {
                    q.organisations = t.strings("organisations", i);
                }
                if let Some(i) = t.get("document_types") {
                    q.document_types = t.strings("document_types", i);
                }
                if let Some(i) = t.get("feed") {
                    q.feed = t.url("feed", i);
                }
                q
            },
        )?;
        Some(Target::new(q))
    }
}

impl SourceKind for GovukSearchKind {
    fn about(&self) -> &'static str {
        "a GOV.UK Search API query and/or an organisation or finder Atom feed"
    }
    fn events(&self) -> &'static [EventInfo] {
        &[
            EventInfo {
                name: "govuk.new_document",
                severity: Severity::Notice,
                meaning: "a document that matches, not seen before",
            },
            EventInfo {
                name: "govuk.updated",
                severity: Severity::Notice,
                meaning: "a matching document's public timestamp moved",
            },
        ]
    }
    fn bases(&self) -> &'static [SourceBase] {
        &[GOVUK]
    }
    fn human_url(&self, _: &Target, sources: &Sources) -> String {
        page_url(&sources.url(&GOVUK), "/search/all")
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
    fn follows(&self, document: &Document) -> Result<Vec<FollowTarget>> {
        follows(document)
    }
}

/// Results asked for per Search API page.
pub const PAGE_SIZE: usize = 50;

/// Matches listed in the document (newest first); also bounds the pages read per cycle.
pub const MAX_MATCHES: usize = 200;

/// Documents remembered as seen (with their timestamp), so one that drops out of the list
/// and comes back is not announced as new.
const MAX_KNOWN: usize = 5000;

const FIELDS: &[&str] = &[
    "title",
    "link",
    "description",
    "public_timestamp",
    "format",
    "content_store_document_type",
    "organisations",
];

/// A document the search matches.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Match {
    /// GOV.UK path (`/government/...`), or an absolute URL for links off GOV.UK.
    pub link: String,
    /// The public URL.
    pub url: String,
    pub title: String,
    pub description: String,
    /// UTC, RFC 3339.
    pub public_timestamp: Option<String>,
    /// Document type (`guidance`, `statutory_guidance`…), or the format when that is all
    /// there is.
    pub format: Option<String>,
    pub organisations: Vec<String>,
}

/// A document seen at some point, with the timestamp it had last.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Seen {
    pub link: String,
    pub public_timestamp: Option<String>,
}

/// The stored shape of a search's document (`fields`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Listing {
    /// Newest first.
    pub matches: Vec<Match>,
    /// Every document ever matched, by link.
    pub known: Vec<Seen>,
}

impl Listing {
    fn from_document(doc: &Document) -> Result<Listing> {
        crate::source::decode_fields(doc, "GOV.UK search listing")
    }

    /// The timestamp a document had when last seen; `None` when never seen.
    fn seen(&self, link: &str) -> Option<&Option<String>> {
        self.known
            .binary_search_by(|s| s.link.as_str().cmp(link))
            .ok()
            .map(|i| &self.known[i].public_timestamp)
            .or_else(|| {
                self.matches
                    .iter()
                    .find(|m| m.link == link)
                    .map(|m| &m.public_timestamp)
            })
    }
}

impl Match {
    fn from_result(r: &Value, site: &Url) -> Option<Match> {
        let link = r["link"].as_str()?.to_string();
        Some(Match {
            title: r["title"]
                .as_str()
                .map(fold)
                .unwrap_or_else(|| link.clone()),
            url: page_url(site, &link),
            link,
            description: r["description"].as_str().map(fold).unwrap_or_default(),
            public_timestamp: r["public_timestamp"].as_str().map(normalise_time),
            format: r["content_store_document_type"]
                .as_str()
                .or_else(|| r["format"].as_str())
                .map(str::to_string),
            organisations: r["organisations"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|o| {
                    o["title"]
                        .as_str()
                        .or_else(|| o["slug"].as_str())
                        .or_else(|| o.as_str())
                })
                .map(fold)
                .collect(),
        })
    }

    fn from_entry(e: &feed::Entry, site: &Url) -> Option<Match> {
        let link = e.link.as_deref().map(|l| govuk_path(l, site))?;
        Some(Match {
            url: page_url(site, &link),
            link,
            title: e.title.clone(),
            description: e.summary.clone(),
            public_timestamp: e
                .updated
                .as_deref()
                .or(e.published.as_deref())
                .map(normalise_time),
            format: None,
            organisations: Vec::new(),
        })
    }

    /// A GOV.UK path this watch can follow.
    fn followable(&self) -> bool {
        self.link.starts_with('/')
    }

    /// "Guidance · Home Office · 12 March 2025, 9:30am".
    fn about(&self) -> String {
        let mut parts = Vec::new();
        if let Some(f) = &self.format {
            parts.push(humanise(f));
        }
        if !self.organisations.is_empty() {
            parts.push(self.organisations.join(", "));
        }
        if let Some(t) = &self.public_timestamp {
            parts.push(human_time(t));
        }
        parts.join(" · ")
    }

    fn text(&self) -> String {
        let mut lines = vec![format!("## {}", self.title), self.url.clone()];
        let about = self.about();
        if !about.is_empty() {
            lines.push(about);
        }
        if !self.description.is_empty() {
            lines.push(self.description.clone());
        }
        lines.join("\n")
    }
}

/// The GOV.UK path of a link on the site (the configured base or www.gov.uk); other links
/// are kept whole.
fn govuk_path(link: &str, site: &Url) -> String {
    let Ok(u) = Url::parse(link) else {
        return link.to_string();
    };
    let ours = u.host_str() == site.host_str()
        && u.port_or_known_default() == site.port_or_known_default();
    if ours || u.host_str() == Some("www.gov.uk") {
        let base = if ours { site.path() } else { "/" };
        if let Some(rest) = u.path().strip_prefix(base.trim_end_matches('/')) {
            return rest.to_string();
        }
    }
    link.to_string()
}

fn uses_api(q: &GovukQuery) -> bool {
    q.keywords.as_deref().is_some_and(|k| !k.trim().is_empty())
        || !q.organisations.is_empty()
        || !q.document_types.is_empty()
}

fn describe(q: &GovukQuery) -> String {
    let mut parts = Vec::new();
    if let Some(k) = q.keywords.as_deref().filter(|k| !k.trim().is_empty()) {
        parts.push(format!("“{k}”"));
    }
    if !q.organisations.is_empty() {
        parts.push(format!("from {}", q.organisations.join(", ")));
    }
    if !q.document_types.is_empty() {
        parts.push(
            q.document_types
                .iter()
                .map(|t| humanise(t))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    if let Some(f) = &q.feed {
        parts.push(format!("feed {f}"));
    }
    format!("GOV.UK documents matching {}", parts.join(", "))
}

/// The Search API URL for one page.
pub fn search_url(site: &Url, q: &GovukQuery, start: usize, count: usize) -> Result<Url> {
    let mut url = site
        .join("api/search.json")
        .map_err(|e| Error::extract(site.as_str(), format!("bad GOV.UK base: {e}")))?;
    {
        let mut p = url.query_pairs_mut();
        if let Some(k) = q.keywords.as_deref().filter(|k| !k.trim().is_empty()) {
            p.append_pair("q", k);
        }
        for o in &q.organisations {
            p.append_pair("filter_organisations", o);
        }
        for t in &q.document_types {
            p.append_pair("filter_content_store_document_type", t);
        }
        p.append_pair("order", "-public_timestamp");
        for f in FIELDS {
            p.append_pair("fields", f);
        }
        p.append_pair("count", &count.to_string());
        p.append_pair("start", &start.to_string());
    }
    Ok(url)
}

/// The public search page for the query, as the document's link.
fn finder_url(site: &Url, q: &GovukQuery) -> String {
    if !uses_api(q) {
        if let Some(f) = &q.feed {
            return f.to_string();
        }
    }
    let mut url = site.join("search/all").unwrap_or_else(|_| site.clone());
    {
        let mut p = url.query_pairs_mut();
        if let Some(k) = &q.keywords {
            p.append_pair("keywords", k);
        }
        for o in &q.organisations {
            p.append_pair("organisations[]", o);
        }
        p.append_pair("order", "updated-newest");
    }
    url.to_string()
}

async fn get_bytes(ctx: &Context, url: &Url, accept: &str) -> Result<Vec<u8>> {
    Ok(ctx.get(url, accept, &[]).await?.bytes)
}

/// Search API results, newest first, reading pages until one reaches what `previous` knows
/// unchanged. Returns the matches and whether every result was read.
async fn search(
    ctx: &Context,
    q: &GovukQuery,
    previous: Option<&Listing>,
) -> Result<(Vec<Match>, bool)> {
    let site = &ctx.base(&GOVUK);
    let mut found: Vec<Match> = Vec::new();
    // Results read so far (some may be unusable), the next page's `start`.
    let mut read = 0;
    loop {
        let url = search_url(site, q, read, PAGE_SIZE)?;
        let bytes = get_bytes(ctx, &url, "application/json").await?;
        let json: Value = serde_json::from_slice(&bytes).map_err(|e| {
            Error::extract(
                url.as_str(),
                format!("the Search API did not answer JSON: {e}"),
            )
        })?;
        let Some(results) = json["results"].as_array() else {
            return Err(Error::extract(
                url.as_str(),
                "the Search API answer has no `results`",
            ));
        };
        let page: Vec<Match> = results
            .iter()
            .filter_map(|r| Match::from_result(r, site))
            .collect();
        let total = json["total"].as_u64().unwrap_or(0) as usize;
        let reached_known = previous.is_some_and(|p| {
            page.iter()
                .any(|m| p.seen(&m.link).is_some_and(|ts| *ts == m.public_timestamp))
        });
        read += results.len();
        found.extend(page);
        let complete = results.is_empty() || read >= total;
        if complete || reached_known || found.len() >= MAX_MATCHES {
            return Ok((found, complete));
        }
    }
}

async fn read_feed(ctx: &Context, url: &Url) -> Result<Vec<Match>> {
    let bytes = get_bytes(
        ctx,
        url,
        "application/atom+xml, application/rss+xml;q=0.9, */*;q=0.1",
    )
    .await?;
    let doc = feed::parse(&bytes, url.as_str())?;
    let entries = feed::entries_of(&doc)?;
    let site = &ctx.base(&GOVUK);
    Ok(entries
        .iter()
        .filter_map(|e| Match::from_entry(e, site))
        .collect())
}

pub async fn observe(ctx: &Context, job: &Job) -> Result<Observed> {
    let q = target_of::<GovukQuery>(&job.watch)?;
    if !uses_api(q) && q.feed.is_none() {
        return Err(Error::extract(
            job.watch.id.clone(),
            "the search has no keywords, organisations, document types or feed",
        ));
    }
    let previous = job
        .previous
        .as_ref()
        .map(Listing::from_document)
        .transpose()?;
    let (searched, from_feed) = futures_util::try_join!(
        async {
            if uses_api(q) {
                search(ctx, q, previous.as_ref()).await
            } else {
                Ok((Vec::new(), true))
            }
        },
        async {
            match &q.feed {
                Some(url) => read_feed(ctx, url).await,
                None => Ok(Vec::new()),
            }
        }
    )?;
    let listing = merge(searched, from_feed, previous.unwrap_or_default());
    let site = &ctx.base(&GOVUK);
    let title = describe(q);
    let mut text = vec![format!("# {title}")];
    if listing.matches.is_empty() {
        text.push("(no matching documents)".into());
    }
    text.extend(listing.matches.iter().map(Match::text));
    let document = Document {
        title,
        url: finder_url(site, q),
        text: text.join("\n"),
        fields: serde_json::to_value(&listing)?,
    };
    Ok(Observed {
        outcome: Outcome::Document(document),
        state: job.state.clone(),
    })
}

/// The new listing: what was read now, plus previous matches older than anything read when
/// the search was not read to its end (they were not looked at, so they still stand).
fn merge(
    (searched, complete): (Vec<Match>, bool),
    from_feed: Vec<Match>,
    previous: Listing,
) -> Listing {
    let oldest_read = searched
        .iter()
        .filter_map(|m| m.public_timestamp.clone())
        .min();
    let mut matches = searched;
    for m in from_feed {
        if !matches.iter().any(|s| s.link == m.link) {
            matches.push(m);
        }
    }
    if !complete {
        let carried = previous.matches.iter().filter(|p| {
            !matches.iter().any(|m| m.link == p.link)
                && match (&p.public_timestamp, &oldest_read) {
                    (Some(t), Some(oldest)) => t < oldest,
                    _ => true,
                }
        });
        matches.extend(carried.cloned().collect::<Vec<_>>());
    }
    // Newest first; undated last. Stable, so equal stamps keep the API's order.
    matches.sort_by(|a, b| b.public_timestamp.cmp(&a.public_timestamp));
    matches.truncate(MAX_MATCHES);

    let mut known = previous.known;
    for m in &matches {
        match known.binary_search_by(|s| s.link.cmp(&m.link)) {
            Ok(i) => known[i].public_timestamp.clone_from(&m.public_timestamp),
            Err(i) => known.insert(
                i,
                Seen {
                    link: m.link.clone(),
                    public_timestamp: m.public_timestamp.clone(),
                },
            ),
        }
    }
    if known.len() > MAX_KNOWN {
        // Forget the longest-unchanged documents first.
        let mut by_age: Vec<usize> = (0..known.len()).collect();
        by_age.sort_by(|&a, &b| known[a].public_timestamp.cmp(&known[b].public_timestamp));
        let drop: std::collections::HashSet<usize> =
            by_age[..known.len() - MAX_KNOWN].iter().copied().collect();
        known = known
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !drop.contains(i))
            .map(|(_, s)| s)
            .collect();
    }
    Listing { matches, known }
}

pub fn compare(watch: &Watch, previous: &Document, next: &Document) -> Result<Vec<Event>> {
    let prev = Listing::from_document(previous)?;
    let mut events = Vec::new();
    // Oldest first, so alerts read in the order things happened.
    for m in Listing::from_document(next)?.matches.iter().rev() {
        match prev.seen(&m.link) {
            None => events.push(new_document(m, &next.title)),
            // A followed match is watched as a `govuk` page of its own, which reports the
            // update with its change note; announcing the timestamp here too would be noise.
            Some(old) if *old != m.public_timestamp && !(watch.follow && m.followable()) => {
                events.push(updated(m, old.as_deref(), &next.title))
            }
            Some(_) => {}
        }
    }
    Ok(events)
}

fn new_document(m: &Match, search: &str) -> Event {
    let about = m.about();
    let summary = if about.is_empty() {
        format!("New on GOV.UK: {}", m.title)
    } else {
        format!("New on GOV.UK: {} ({about})", m.title)
    };
    let mut e = Event::new("govuk.new_document", summary);
    e.title = Some(m.title.clone());
    e.url = Some(m.url.clone());
    e.severity = Severity::Notice;
    if !m.description.is_empty() {
        e.annotations.push(format!("Summary: {}", m.description));
    }
    e.annotations.push(format!("Found by: {search}"));
    e.keyword_text = format!("{}\n{}", m.title, m.description);
    e.diff = Some(m.text().lines().map(|l| format!("+{l}\n")).collect());
    e.fields = serde_json::to_value(m).unwrap_or_default();
    e
}

fn updated(m: &Match, old: Option<&str>, search: &str) -> Event {
    let when = |t: Option<&str>| t.map_or_else(|| "no date".to_string(), human_time);
    let mut e = Event::new(
        "govuk.updated",
        format!(
            "Updated on GOV.UK: {} (public timestamp {} → {})",
            m.title,
            when(old),
            when(m.public_timestamp.as_deref())
        ),
    );
    e.title = Some(m.title.clone());
    e.url = Some(m.url.clone());
    e.annotations.push(format!("Found by: {search}"));
    e.keyword_text = format!("{}\n{}", m.title, m.description);
    e.fields = serde_json::json!({ "match": m, "previous_public_timestamp": old });
    e
}

/// Matches on GOV.UK, to be followed as `govuk` watches.
pub fn follows(document: &Document) -> Result<Vec<FollowTarget>> {
    Ok(Listing::from_document(document)?
        .matches
        .iter()
        .filter(|m| m.followable())
        .map(|m| FollowTarget {
            id: format!("govuk-{}", slug(&m.link)),
            kind: Govuk::KIND.into(),
            target: m.link.clone(),
            title: m.title.clone(),
        })
        .collect())
}

/// `/government/publications/Modern-Slavery` → `government-publications-modern-slavery`.
pub fn slug(path: &str) -> String {
    let mut s = String::with_capacity(path.len());
    for c in path.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') {
            s.push('-');
        }
    }
    s.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests;
