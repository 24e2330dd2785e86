//! `committee` watches: a select committee (by id or name) and/or a search of the UK
//! Parliament Committees API. Each check reads the newest inquiries
//! (`/api/CommitteeBusiness`: calls for evidence with their deadlines, the next oral
//! evidence session with its witnesses), the newest publications (`/api/Publications`) and,
//! when the watch names `organisations`, the published written evidence
//! (`/api/WrittenEvidence`), and keeps them as one [`Snapshot`].
//!
//! `committee.deadline_near` is raised by time passing, not by the source: the snapshot
//! records which calls' reminder windows (`deadline_days` before the closing day) the
//! check's clock has entered, so the version changes when the clock reaches one, once.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use futures_util::future::BoxFuture;

use crate::config::{SourceBase, Sources};
use crate::error::Result;
use crate::event::{Event, Severity};
use crate::source::api_json::{day, long_day, uk_today};
use crate::source::kind::{target_of, EventInfo, SourceKind};
use crate::source::{documents, Context, Document, Job, Observed, Outcome};
use crate::watchlist::{KindKeys, KindSyntax, KindTarget, Target, Watch};

pub mod api;

/// Default days before a call for evidence closes to remind the team.
pub const DEFAULT_DEADLINE_DAYS: u32 = 7;

/// `[sources] committees`: the Committees API.
pub const COMMITTEES: SourceBase = SourceBase {
    key: "committees",
    default: "https://committees-api.parliament.uk/",
    meaning: "UK Parliament Committees API (inquiries, calls for evidence, publications)",
};

pub struct CommitteeKind;

impl KindTarget for CommitteeQuery {
    const KIND: &'static str = "committee";
    fn key(&self) -> String {
        format!("{:?}|{:?}", self.committee, self.search)
    }
}

impl KindSyntax for CommitteeKind {
    fn name(&self) -> &'static str {
        CommitteeQuery::KIND
    }
    fn keys(&self) -> &'static [&'static str] {
        &[
            "committee",
            "search",
            "organisations",
            "deadline_days",
            "documents",
        ]
    }
    fn parse(&self, keys: &mut KindKeys<'_, '_, '_>) -> Option<Target> {
        let before = keys.problems();
        let mut q = CommitteeQuery {
            deadline_days: DEFAULT_DEADLINE_DAYS,
            ..CommitteeQuery::default()
        };
        if let Some(i) = keys.get("committee") {
            q.committee = match i.as_integer() {
                Some(n) if n > 0 => Some(n.to_string()),
                Some(_) => {
                    keys.problem(i, "`committee` must be a positive id or a committee's name");
                    None
                }
                None => keys.string("committee", i).map(str::to_string),
            };
        }
        q.search = keys.optional_string("search");
        if let Some(i) = keys.get("organisations") {
            q.organisations = keys.strings("organisations", i);
        }
        if let Some(i) = keys.get("deadline_days") {
            q.deadline_days = keys.positive_u32("deadline_days", i).unwrap_or_default();
        }
        if let Some(i) = keys.get("documents") {
            q.documents = keys.bool("documents", i).unwrap_or_default();
        }
        keys.need_one_of(
            &["committee", "search"],
            "committee watch needs `committee` (an id such as 203, or a name) and/or `search`",
        );
        (keys.problems() == before).then(|| Target::new(q))
    }
}

impl SourceKind for CommitteeKind {
    fn about(&self) -> &'static str {
        "a select committee (id or name) and/or a search: inquiries, calls for evidence, sessions, publications"
    }
    fn events(&self) -> &'static [EventInfo] {
        &[
            EventInfo {
                name: "committee.inquiry_opened",
                severity: Severity::Major,
                meaning: "a new inquiry (or other committee business)",
            },
            EventInfo {
                name: "committee.call_for_evidence",
                severity: Severity::Major,
                meaning: "a new open call for evidence, with its closing date",
            },
            EventInfo {
                name: "committee.deadline_near",
                severity: Severity::Major,
                meaning: "a call for evidence closes within `deadline_days` (default 7): once, raised by the clock",
            },
            EventInfo {
                name: "committee.evidence_session",
                severity: Severity::Notice,
                meaning: "an oral evidence session scheduled (or moved), with its witnesses",
            },
            EventInfo {
                name: "committee.publication",
                severity: Severity::Notice,
                meaning: "a report, government response, correspondence or evidence published (Major for reports and responses), with document links; with `documents = true` also a new version of a document, diffed by page",
            },
            EventInfo {
                name: "committee.inquiry_closed",
                severity: Severity::Notice,
                meaning: "an inquiry closed",
            },
            EventInfo {
                name: "committee.own_evidence_published",
                severity: Severity::Major,
                meaning: "written evidence from one of the watch's `organisations` published",
            },
        ]
    }
    fn bases(&self) -> &'static [SourceBase] {
        &[COMMITTEES]
    }
    fn human_url(&self, target: &Target, _: &Sources) -> String {
        match target
            .get::<CommitteeQuery>()
            .and_then(|q| q.committee.as_deref())
            .and_then(|c| c.parse::<u64>().ok())
        {
            Some(id) => format!("{SITE}/committee/{id}/"),
            None => format!("{SITE}/"),
        }
    }
    fn reads_previous(&self) -> bool {
        // The documents already read are carried over from the previous version.
        true
    }
    fn observe<'a>(&'a self, ctx: &'a Context, job: &'a Job) -> BoxFuture<'a, Result<Observed>> {
        Box::pin(async move {
            let q = target_of::<CommitteeQuery>(&job.watch)?;
            let base = ctx.base(&COMMITTEES);
            let doc = observe(ctx, &base, q, job.previous.as_ref(), &job.watch).await?;
            Ok(Observed {
                outcome: Outcome::Document(doc),
                state: serde_json::Value::Null,
            })
        })
    }
    fn compare(&self, _: &Watch, previous: &Document, next: &Document) -> Result<Vec<Event>> {
        compare(previous, next)
    }
}

/// What a `committee` watch asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CommitteeQuery {
    /// Committee id or name.
    pub committee: Option<String>,
    /// Committees API `SearchTerm`.
    pub search: Option<String>,
    /// Organisations whose published written evidence raises its own event (ours).
    pub organisations: Vec<String>,
    pub deadline_days: u32,
    /// Fetch the documents behind new publications and report what is in them.
    pub documents: bool,
}

/// The stored shape of a committee watch's document (`fields`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Snapshot {
    pub committee: Option<String>,
    /// Newest opened first.
    pub inquiries: Vec<Inquiry>,
    /// Newest first.
    pub publications: Vec<Publication>,
    /// Written evidence from the watch's organisations.
    pub own_evidence: Vec<Evidence>,
    /// Calls whose reminder window the clock has entered (submission period ids).
    pub reminded: BTreeSet<u64>,
    /// Text of the documents behind publications (`documents = true`), newest first.
    pub documents: Vec<DocText>,
}

/// A document behind a publication, as read (`documents = true`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DocText {
    /// Where it was fetched from (the API's file URL): its identity.
    pub fetch: String,
    pub name: String,
    pub publication: u64,
    /// What the listing said of the file (name and size): a change means a new version.
    pub listed: String,
    pub sha: String,
    pub page_count: usize,
    pub format: Option<documents::Format>,
    /// The watch's keywords found, with pages.
    pub hits: Vec<documents::KeywordPages>,
    /// Text by page (empty when the document could not be read).
    pub pages: Vec<String>,
    /// Why the document could not be read.
    pub error: Option<String>,
}

impl DocText {
    /// "2 pages; modern slavery: 14×, pp. 3, 7, 22…" or why it could not be read.
    pub fn describe(&self) -> String {
        if let Some(e) = &self.error {
            return format!("not read: {e}");
        }
        let format = self.format.unwrap_or(documents::Format::Pdf);
        let pages = if format == documents::Format::Pdf {
            format!(
                "{} page{}",
                self.page_count,
                if self.page_count == 1 { "" } else { "s" }
            )
        } else {
            "HTML".to_string()
        };
        if self.hits.is_empty() {
            format!("{pages}; none of the watch's keywords")
        } else {
            let hits: Vec<String> = self.hits.iter().map(|h| h.describe(format)).collect();
            format!("{pages}; {}", hits.join("; "))
        }
    }
}

/// Documents kept with a version (newest first); older ones are dropped.
pub const MAX_DOCUMENTS: usize = 20;
/// Documents fetched per check at most; the rest wait for the next check.
pub const DOCUMENTS_PER_CHECK: usize = 5;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Inquiry {
    pub id: u64,
    pub title: String,
    /// Business type ("Inquiry", "Pre-appointment hearing"…).
    pub kind: String,
    pub opened: Option<NaiveDate>,
    pub closed: Option<NaiveDate>,
    pub calls: Vec<Call>,
    pub next_session: Option<Session>,
    pub url: String,
}

/// A call for evidence (a submission period).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Call {
    pub id: u64,
    /// "written evidence", "oral evidence", "petition".
    pub kind: String,
    pub opens: Option<NaiveDate>,
    pub closes: Option<NaiveDate>,
    /// Listed among the open submission periods.
    pub open: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Session {
    pub id: u64,
    pub name: String,
    /// As the API gives it (UK local time).
    pub start: Option<String>,
    pub private: bool,
    pub witnesses: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Publication {
    pub id: u64,
    /// "Report", "Government Response", "Correspondence"…
    pub kind: String,
    pub description: String,
    pub date: Option<NaiveDate>,
    /// "HC 429" / "HL Paper 12".
    pub paper: Option<String>,
    pub committee: Option<String>,
    pub inquiries: Vec<String>,
    pub documents: Vec<DocLink>,
    /// The HTML version, when there is one.
    pub html: Option<String>,
}

/// A document behind a publication: a public link, and where the API serves the file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DocLink {
    pub name: String,
    pub url: String,
    pub fetch: String,
    pub size: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Evidence {
    pub id: u64,
    /// The watch's organisation it matched.
    pub organisation: String,
    pub witnesses: Vec<String>,
    pub inquiry: Option<String>,
    pub date: Option<NaiveDate>,
    pub reference: Option<String>,
    pub url: String,
    pub fetch: String,
}

const SITE: &str = "https://committees.parliament.uk";

/// Reads the committee's inquiries, publications and (with `organisations`) written
/// evidence into a document.
pub async fn observe(
    ctx: &Context,
    base: &Url,
    q: &CommitteeQuery,
    previous: Option<&Document>,
    watch: &Watch,
) -> Result<Document> {
    let committee = match q.committee.as_deref() {
        Some(key) => Some(api::resolve_committee(ctx, base, key).await?),
        None => None,
    };
    let id = committee.as_ref().map(|c| c.0);
    let search = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let business_url = api::business_url(base, id, search)?;
    let publications_url = api::publications_url(base, id, search)?;
    let (businesses, publications) = futures_util::try_join!(
        api::businesses(ctx, &business_url),
        api::publications(ctx, &publications_url)
    )?;
    let evidence = if q.organisations.is_empty() {
        Vec::new()
    } else {
        let url = api::written_evidence_url(base, id, search)?;
        api::written_evidence(ctx, &url).await?
    };
    let mut snapshot = Snapshot::build(
        base,
        committee.map(|c| c.1),
        &businesses,
        &publications,
        &evidence,
        q,
        ctx.now,
    );
    if q.documents {
        let before = previous
            .map(Snapshot::from_document)
            .transpose()?
            .unwrap_or_default();
        snapshot.documents = read_documents(ctx, &snapshot, &before, watch).await;
    }
    let url = match id {
        Some(id) => format!("{SITE}/committee/{id}/"),
        None => business_url.to_string(),
    };
    Ok(snapshot.into_document(q, url))
}

fn text(s: &Option<String>) -> String {
    s.as_deref().map(str::trim).unwrap_or_default().to_string()
}

fn call_kind(t: Option<&str>) -> String {
    match t {
        Some("OralEvidence") => "oral evidence".into(),
        Some("Petition") => "petitions".into(),
        Some("WrittenEvidence") | None => "written evidence".into(),
        Some(other) => other.to_string(),
    }
}

impl Snapshot {
    pub fn build(
        base: &Url,
        committee: Option<String>,
        businesses: &[api::Business],
        publications: &[api::Publication],
        evidence: &[api::WrittenEvidence],
        q: &CommitteeQuery,
        now: DateTime<Utc>,
    ) -> Snapshot {
        let mut inquiries: Vec<Inquiry> = businesses.iter().map(inquiry).collect();
        inquiries.sort_by_key(|i| std::cmp::Reverse(i.id));
        inquiries.dedup_by_key(|i| i.id);
        let mut pubs: Vec<Publication> =
            publications.iter().map(|p| publication(base, p)).collect();
        pubs.sort_by(|a, b| b.date.cmp(&a.date).then(b.id.cmp(&a.id)));
        pubs.dedup_by_key(|p| p.id);
        let mut own: Vec<Evidence> = evidence
            .iter()
            .filter_map(|e| own_evidence(base, e, &q.organisations))
            .collect();
        own.sort_by_key(|e| std::cmp::Reverse(e.id));
        own.dedup_by_key(|e| e.id);
        let today = uk_today(now);
        let window = chrono::Days::new(u64::from(q.deadline_days));
        let reminded = inquiries
            .iter()
            .flat_map(|i| &i.calls)
            .filter(|c| {
                // Once entered, a window stays recorded (also after the call closes), so
                // the version does not change again when the deadline passes.
                c.closes.is_some_and(|closes| {
                    closes
                        .checked_sub_days(window)
                        .is_some_and(|from| today >= from)
                })
            })
            .map(|c| c.id)
            .collect();
        Snapshot {
            committee,
            inquiries,
            publications: pubs,
            own_evidence: own,
            reminded,
            documents: Vec::new(),
        }
    }

    pub fn from_document(doc: &Document) -> Result<Snapshot> {
        serde_json::from_value(doc.fields.clone()).map_err(|e| {
            crate::error::Error::extract(
                doc.url.clone(),
                format!("stored committee version unreadable: {e}"),
            )
        })
    }

    pub fn into_document(self, q: &CommitteeQuery, url: String) -> Document {
        let title = match (&self.committee, &q.search) {
            (Some(c), Some(s)) => format!("{c}: “{s}”"),
            (Some(c), None) => c.clone(),
            (None, Some(s)) => format!("Committees: “{s}”"),
            (None, None) => "Committees".into(),
        };
        let mut lines = Vec::new();
        for i in &self.inquiries {
            lines.push(format!("## {} ({}, {})", i.title, i.kind, i.id));
            lines.push(format!(
                "Opened {}{}",
                long_day(i.opened),
                i.closed
                    .map(|d| format!(", closed {}", long_day(Some(d))))
                    .unwrap_or_default()
            ));
            for c in &i.calls {
                lines.push(format!(
                    "Call for {} ({}): closes {}",
                    c.kind,
                    if c.open { "open" } else { "closed" },
                    long_day(c.closes)
                ));
            }
            if let Some(s) = &i.next_session {
                lines.push(format!(
                    "Next session: {} {}: {}",
                    s.name,
                    s.start.as_deref().unwrap_or("(no date)"),
                    s.witnesses.join("; ")
                ));
            }
        }
        for p in &self.publications {
            lines.push(format!(
                "## {}: {} ({})",
                p.kind,
                p.description,
                long_day(p.date)
            ));
            for d in &p.documents {
                lines.push(format!("{} {}", d.name, d.url));
            }
        }
        for e in &self.own_evidence {
            lines.push(format!(
                "## Written evidence {} from {} ({})",
                e.reference.as_deref().unwrap_or(""),
                e.organisation,
                long_day(e.date)
            ));
        }
        for d in &self.documents {
            lines.push(format!("=== Document: {} ({}) ===", d.name, d.describe()));
            if let Some(format) = d.format {
                let ex = documents::Extracted {
                    format,
                    pages: d.pages.clone(),
                    page_count: d.page_count,
                };
                lines.push(documents::text_with_pages(&ex));
            }
        }
        let fields = serde_json::to_value(&self).unwrap_or_default();
        Document {
            title,
            url,
            text: lines.join("\n"),
            fields,
        }
    }
}

fn inquiry(b: &api::Business) -> Inquiry {
    let calls = b
        .open_submission_periods
        .iter()
        .map(|p| (p, true))
        .chain(b.closed_submission_periods.iter().map(|p| (p, false)))
        .map(|(p, open)| Call {
            id: p.id,
            kind: call_kind(p.submission_type.as_deref()),
            opens: day(p.start_date.as_deref()),
            closes: day(p.end_date.as_deref()),
            open,
        })
        .collect();
    let next_session = b.next_oral_evidence_session.as_ref().map(|a| Session {
        id: a.id,
        name: text(&a.name),
        start: a.start_date.clone(),
        private: a.is_private,
        witnesses: a
            .attendees
            .iter()
            .map(api::Person::describe)
            .filter(|w| !w.is_empty())
            .collect(),
    });
    Inquiry {
        id: b.id,
        title: text(&b.title),
        kind: b
            .kind
            .as_ref()
            .map(|t| text(&t.name))
            .unwrap_or_else(|| "Inquiry".into()),
        opened: day(b.open_date.as_deref()),
        closed: day(b.close_date.as_deref()),
        calls,
        next_session,
        url: format!("{SITE}/work/{}/", b.id),
    }
}

fn publication(base: &Url, p: &api::Publication) -> Publication {
    let documents = p
        .documents
        .iter()
        .map(|d| {
            let file = d.files.first();
            DocLink {
                name: file
                    .and_then(|f| f.file_name.clone())
                    .unwrap_or_else(|| format!("document {}", d.document_id)),
                url: format!(
                    "{SITE}/publications/{}/documents/{}/default/",
                    p.id, d.document_id
                ),
                fetch: api::document_url(base, p.id, d.document_id)
                    .map(|u| u.to_string())
                    .unwrap_or_default(),
                size: file.and_then(|f| f.file_size),
            }
        })
        .collect();
    Publication {
        id: p.id,
        kind: p
            .kind
            .as_ref()
            .map(|t| text(&t.name))
            .unwrap_or_else(|| "Publication".into()),
        description: text(&p.description),
        date: day(p.publication_start_date.as_deref()),
        paper: p
            .hc_number
            .as_ref()
            .or(p.hl_paper.as_ref())
            .and_then(|n| n.number.clone()),
        committee: p.committee.as_ref().and_then(|c| c.name.clone()),
        inquiries: p.businesses.iter().map(|b| text(&b.title)).collect(),
        documents,
        html: p.additional_content_url.clone(),
    }
}

/// The written evidence, if one of `organisations` submitted it (case-insensitive, on the
/// organisation's or the witness's name).
fn own_evidence(
    base: &Url,
    e: &api::WrittenEvidence,
    organisations: &[String],
) -> Option<Evidence> {
    let names = e.witnesses.iter().flat_map(|w| {
        w.organisations
            .iter()
            .filter_map(|o| o.name.clone())
            .chain(w.name.clone())
    });
    let names: Vec<String> = names.map(|n| n.to_lowercase()).collect();
    let organisation = organisations.iter().find(|org| {
        let org = org.trim().to_lowercase();
        !org.is_empty() && names.iter().any(|n| n.contains(&org))
    })?;
    Some(Evidence {
        id: e.id,
        organisation: organisation.clone(),
        witnesses: e.witnesses.iter().map(api::Person::describe).collect(),
        inquiry: e.committee_business.as_ref().map(|b| text(&b.title)),
        date: day(e.publication_date.as_deref()),
        reference: e.internal_reference.clone(),
        url: format!("{SITE}/writtenevidence/{}/html/", e.id),
        fetch: api::written_evidence_document_url(base, e.id)
            .map(|u| u.to_string())
            .unwrap_or_default(),
    })
}

/// The documents of the newest publications: carried over when the listing shows the same
/// file, fetched and read when new or changed (at most [`DOCUMENTS_PER_CHECK`] a check). A
/// document that cannot be read keeps its error, so it is reported once, not refetched on
/// every check.
async fn read_documents(
    ctx: &Context,
    now: &Snapshot,
    before: &Snapshot,
    watch: &Watch,
) -> Vec<DocText> {
    let (keywords, allow_redirects) = (&watch.keywords, &watch.allow_redirects);
    let mut out: Vec<DocText> = Vec::new();
    let mut fetched = 0;
    for p in &now.publications {
        for d in &p.documents {
            if out.len() >= MAX_DOCUMENTS {
                return out;
            }
            let listed = format!("{} {}", d.name, d.size.unwrap_or(0));
            if let Some(old) = before
                .documents
                .iter()
                .find(|o| o.fetch == d.fetch && o.listed == listed)
            {
                out.push(old.clone());
                continue;
            }
            if fetched >= DOCUMENTS_PER_CHECK {
                continue;
            }
            fetched += 1;
            let mut text = DocText {
                fetch: d.fetch.clone(),
                name: d.name.clone(),
                publication: p.id,
                listed,
                ..DocText::default()
            };
            let read = match Url::parse(&d.fetch) {
                Ok(url) => {
                    documents::fetch(ctx, &url, allow_redirects, documents::Limits::default())
                        .await
                        .map_err(|e| e.to_string())
                }
                Err(e) => Err(format!("{}: bad document URL: {e}", d.fetch)),
            };
            match read {
                Ok(doc) => {
                    let ex = doc.extracted;
                    text.hits = documents::keyword_pages(keywords, &ex.pages);
                    text.sha = sha_of(&ex.pages);
                    text.page_count = ex.page_count;
                    text.format = Some(ex.format);
                    text.pages = ex.pages;
                }
                Err(e) => {
                    tracing::warn!(document = %d.fetch, error = %e, "document not read");
                    text.error = Some(e);
                }
            }
            out.push(text);
        }
    }
    out
}

fn sha_of(pages: &[String]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in pages {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..12])
}

/// The events between two versions of a committee watch.
pub fn compare(previous: &Document, next: &Document) -> Result<Vec<Event>> {
    Ok(events(
        &Snapshot::from_document(previous)?,
        &Snapshot::from_document(next)?,
    ))
}

pub fn events(old: &Snapshot, new: &Snapshot) -> Vec<Event> {
    let mut out = Vec::new();
    let old_calls: BTreeSet<u64> = old
        .inquiries
        .iter()
        .flat_map(|i| i.calls.iter().map(|c| c.id))
        .collect();
    for i in &new.inquiries {
        let before = old.inquiries.iter().find(|o| o.id == i.id);
        if before.is_none() {
            let mut e = Event::new(
                "committee.inquiry_opened",
                format!(
                    "New {}: {} (opened {})",
                    i.kind.to_lowercase(),
                    i.title,
                    long_day(i.opened)
                ),
            );
            e.severity = Severity::Major;
            e.keyword_text = i.title.clone();
            out.push(about_inquiry(e, i));
        }
        for c in &i.calls {
            if old_calls.contains(&c.id) || !c.open {
                continue;
            }
            let mut e = Event::new(
                "committee.call_for_evidence",
                format!(
                    "Call for {}: {} — closes {}",
                    c.kind,
                    i.title,
                    long_day(c.closes)
                ),
            );
            e.severity = Severity::Major;
            e.keyword_text = i.title.clone();
            e.annotations
                .push(format!("Deadline: {}", long_day(c.closes)));
            e.fields = serde_json::json!({ "inquiry": i.id, "call": c.id, "closes": c.closes });
            out.push(about_inquiry(e, i));
        }
        for c in &i.calls {
            // Only open calls are worth a reminder (a call first seen already closed is not).
            if !c.open || !new.reminded.contains(&c.id) || old.reminded.contains(&c.id) {
                continue;
            }
            let mut e = Event::new(
                "committee.deadline_near",
                format!(
                    "Call for {} closes {}: {}",
                    c.kind,
                    long_day(c.closes),
                    i.title
                ),
            );
            e.severity = Severity::Major;
            e.keyword_text = i.title.clone();
            e.fields = serde_json::json!({ "inquiry": i.id, "call": c.id, "closes": c.closes });
            out.push(about_inquiry(e, i));
        }
        if let Some(s) = &i.next_session {
            let seen = before
                .and_then(|b| b.next_session.as_ref())
                .is_some_and(|o| o.id == s.id && o.start == s.start);
            if !seen {
                let when = s
                    .start
                    .as_deref()
                    .and_then(crate::source::bill::api::uk_local_to_utc)
                    .map(|t| {
                        t.with_timezone(&chrono_tz::Europe::London)
                            .format("%-d %B %Y %H:%M")
                            .to_string()
                    })
                    .unwrap_or_else(|| "date to be confirmed".into());
                let mut e = Event::new(
                    "committee.evidence_session",
                    format!("Oral evidence session {when}: {}", i.title),
                );
                if s.witnesses.is_empty() {
                    e.annotations.push("Witnesses not yet announced".into());
                } else {
                    e.annotations
                        .push(format!("Witnesses: {}", s.witnesses.join("; ")));
                }
                e.keyword_text = format!("{}\n{}", i.title, s.witnesses.join("\n"));
                out.push(about_inquiry(e, i));
            }
        }
        if let (Some(b), Some(closed)) = (before, i.closed) {
            if b.closed.is_none() {
                let mut e = Event::new(
                    "committee.inquiry_closed",
                    format!(
                        "{} closed: {} ({})",
                        i.kind,
                        i.title,
                        long_day(Some(closed))
                    ),
                );
                e.keyword_text = i.title.clone();
                out.push(about_inquiry(e, i));
            }
        }
    }
    for p in &new.publications {
        if old.publications.iter().any(|o| o.id == p.id) {
            continue;
        }
        let mut e = Event::new(
            "committee.publication",
            format!(
                "{} published {}: {}{}",
                p.kind,
                long_day(p.date),
                p.description,
                p.paper
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ),
        );
        e.severity = if p.kind.eq_ignore_ascii_case("report")
            || p.kind.to_lowercase().contains("government response")
        {
            Severity::Major
        } else {
            Severity::Notice
        };
        e.title = Some(p.description.clone());
        e.url = p
            .documents
            .first()
            .map(|d| d.url.clone())
            .or_else(|| p.html.clone());
        let mut texts = String::new();
        for d in &p.documents {
            e.annotations
                .push(format!("Document: {} {}", d.name, d.url));
            if let Some(t) = new.documents.iter().find(|t| t.fetch == d.fetch) {
                e.annotations.push(format!("{}: {}", d.name, t.describe()));
                // The text goes with the change, so `show` prints it.
                if let Some(format) = t.format {
                    let ex = documents::Extracted {
                        format,
                        pages: t.pages.clone(),
                        page_count: t.page_count,
                    };
                    texts.push_str(&format!("=== {} ===\n", d.name));
                    texts.push_str(&documents::text_with_pages(&ex));
                }
            }
        }
        if !texts.is_empty() {
            e.diff = Some(texts);
        }
        if let Some(h) = &p.html {
            e.annotations.push(format!("HTML version: {h}"));
        }
        e.keyword_text = format!("{}\n{}", p.description, p.inquiries.join("\n"));
        e.fields = serde_json::to_value(p).unwrap_or_default();
        out.push(e);
    }
    for t in &new.documents {
        let Some(old) = old.documents.iter().find(|o| o.fetch == t.fetch) else {
            continue;
        };
        if old.sha == t.sha || t.error.is_some() {
            continue;
        }
        let (diff, pages) = documents::diff_by_page(&old.pages, &t.pages);
        let publication = new.publications.iter().find(|p| p.id == t.publication);
        let mut e = Event::new(
            "committee.publication",
            format!(
                "New version of {}{}: {} changed",
                t.name,
                publication
                    .map(|p| format!(" ({})", p.description))
                    .unwrap_or_default(),
                if pages.is_empty() {
                    "no page".to_string()
                } else {
                    documents::page_list(&pages)
                }
            ),
        );
        e.title = Some(publication.map_or_else(|| t.name.clone(), |p| p.description.clone()));
        e.url = publication
            .and_then(|p| p.documents.iter().find(|d| d.fetch == t.fetch))
            .map(|d| d.url.clone());
        e.annotations.push(format!("{}: {}", t.name, t.describe()));
        e.keyword_text = crate::text::diff::diff(&old.pages.join("\n"), &t.pages.join("\n"))
            .added_lines
            .join("\n");
        e.diff = Some(diff);
        e.fields = serde_json::json!({ "publication": t.publication, "document": t.fetch, "pages_changed": pages, "revised": true });
        out.push(e);
    }
    for ev in &new.own_evidence {
        if old.own_evidence.iter().any(|o| o.id == ev.id) {
            continue;
        }
        let mut e = Event::new(
            "committee.own_evidence_published",
            format!(
                "Written evidence from {} published{}",
                ev.organisation,
                ev.inquiry
                    .as_deref()
                    .map(|i| format!(": {i}"))
                    .unwrap_or_default()
            ),
        );
        e.severity = Severity::Major;
        e.url = Some(ev.url.clone());
        e.title = Some(format!("Written evidence from {}", ev.organisation));
        e.annotations
            .push(format!("Submitted by: {}", ev.witnesses.join("; ")));
        e.keyword_text = ev.inquiry.clone().unwrap_or_default();
        e.fields = serde_json::to_value(ev).unwrap_or_default();
        out.push(e);
    }
    out
}

fn about_inquiry(mut e: Event, i: &Inquiry) -> Event {
    e.title = Some(i.title.clone());
    e.url = Some(i.url.clone());
    if e.fields.is_null() {
        e.fields = serde_json::json!({ "inquiry": i.id });
    }
    e
}

#[cfg(test)]
mod tests;
