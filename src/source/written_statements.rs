//! `written_statements` watches: written ministerial statements from the Written Statements
//! API (`<questions_statements>api/writtenstatements/statements`), matched on the watch's
//! phrases, department and house. Events: `statement.made` (title, minister, department,
//! first paragraph, attachments) and `statement.corrected` (a statement whose text changed,
//! or a new statement linked to one already reported as its `CorrectedStatement`).
//!
//! A cycle asks once per phrase (read to its last page) for statements made since the day
//! before the last poll; only a new or changed statement is asked for in full
//! (`/statements/{id}`).

use std::collections::HashSet;

use chrono::{Duration, NaiveDate};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::config::{SourceBase, Sources};
use crate::error::{Error, Result};
use crate::event::{Event, Severity};
use crate::source::kind::{target_of, EventInfo, SourceKind};
use crate::source::parliament::{
    self, day, endpoint, first_paragraph, html_to_text, long_day, looks_cut, observed, read_body,
    read_search, search_each, stored, uk_today, window_start, AnsweringBody, Bases, ExpandedMember,
    House, MemberCache, Page, Tracked, MEMBERS, QUESTIONS_STATEMENTS,
};
use crate::source::{Context, Document, Job, Observed};
use crate::text::diff;
use crate::text::html::fold;
use crate::watchlist::{KindKeys, KindSyntax, KindTarget, Target, Watch};

pub const API: &str = "the Written Statements API";

/// Days looked back on a watch's first run.
pub const FIRST_RUN_DAYS: i64 = 14;

/// Statements kept in the document (to diff a correction against), newest first.
pub const MAX_KEPT: usize = 200;

/// A `written_statements` watch's keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    pub phrases: Vec<String>,
    pub department: Option<AnsweringBody>,
    pub house: Option<House>,
}

impl KindTarget for Query {
    const KIND: &'static str = "written_statements";
    fn key(&self) -> String {
        format!("{self:?}")
    }
}

pub struct WrittenStatementsKind;

impl KindSyntax for WrittenStatementsKind {
    fn name(&self) -> &'static str {
        Query::KIND
    }
    fn keys(&self) -> &'static [&'static str] {
        &["search", "department", "house"]
    }
    fn parse(&self, keys: &mut KindKeys<'_, '_, '_>) -> Option<Target> {
        let before = keys.problems();
        let (phrases, house) = read_search(keys, None);
        let department = read_body(keys, "department");
        if keys.problems() == before && phrases.is_empty() && department.is_none() {
            keys.problem_here(
                "a written_statements watch needs `search` (phrases) or `department`",
            );
        }
        (keys.problems() == before).then(|| {
            Target::new(Query {
                phrases,
                department,
                house,
            })
        })
    }
}

impl SourceKind for WrittenStatementsKind {
    fn about(&self) -> &'static str {
        "written ministerial statements (Written Statements API)"
    }
    fn events(&self) -> &'static [EventInfo] {
        &[
            EventInfo {
                name: "statement.made",
                severity: Severity::Major,
                meaning: "a matching written statement: title, minister, department, first paragraph, attachments",
            },
            EventInfo {
                name: "statement.corrected",
                severity: Severity::Notice,
                meaning: "a statement's text changed, or a correcting statement was made (diff)",
            },
        ]
    }
    fn bases(&self) -> &'static [SourceBase] {
        &[QUESTIONS_STATEMENTS, MEMBERS]
    }
    fn human_url(&self, _: &Target, _: &Sources) -> String {
        "https://questions-statements.parliament.uk/written-statements".into()
    }
    fn reads_previous(&self) -> bool {
        true
    }
    fn observe<'a>(&'a self, ctx: &'a Context, job: &'a Job) -> BoxFuture<'a, Result<Observed>> {
        Box::pin(async move {
            let query = target_of::<Query>(&job.watch)?;
            let bases = Bases::of(ctx, &QUESTIONS_STATEMENTS, &job.watch);
            observed(observe(ctx, &bases, query, job.previous.as_ref(), &job.state).await)
        })
    }
    fn compare(&self, _: &Watch, previous: &Document, next: &Document) -> Result<Vec<Event>> {
        compare(previous, next)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub last_poll: Option<NaiveDate>,
    pub members: MemberCache,
    pub body_id: Option<u32>,
}

/// `{totalResults, results: [{value, links}]}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct List {
    pub total_results: Option<usize>,
    pub results: Option<Vec<Item>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Item {
    pub value: Row,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Row {
    pub id: Option<u32>,
    pub member_id: Option<u32>,
    pub member: Option<ExpandedMember>,
    pub member_role: Option<String>,
    pub uin: Option<String>,
    pub date_made: Option<String>,
    pub answering_body_id: Option<u32>,
    pub answering_body_name: Option<String>,
    pub title: Option<String>,
    pub text: Option<String>,
    pub house: Option<String>,
    pub linked_statements: Option<Vec<Linked>>,
    pub attachments: Option<Vec<RowAttachment>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Linked {
    pub linked_statement_id: Option<u32>,
    pub link_type: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RowAttachment {
    pub url: Option<String>,
    pub title: Option<String>,
    pub file_type: Option<String>,
}

/// A statement as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Statement {
    pub id: u32,
    pub uin: String,
    pub house: String,
    pub title: String,
    /// `YYYY-MM-DD`.
    pub made: Option<String>,
    /// "Name (Party, Constituency)".
    pub minister: String,
    pub member_id: Option<u32>,
    pub role: Option<String>,
    pub department: String,
    pub department_id: Option<u32>,
    /// The whole statement, paragraphs as lines.
    pub text: String,
    pub attachments: Vec<(String, String)>,
    /// The statement this one corrects (`CorrectedStatement` link).
    pub corrects: Option<u32>,
    pub url: String,
}

impl Statement {
    fn heading(&self) -> String {
        format!("Written statement: {}", self.title)
    }

    fn about(&self) -> String {
        let mut s = format!("{}, {}", self.house, self.uin);
        if let Some(d) = &self.made {
            s.push_str(&format!(", {}", long_day(d)));
        }
        s
    }

    fn record(&self) -> String {
        let mut lines = vec![
            format!("## {}", self.heading()),
            self.url.clone(),
            format!(
                "Made by {} for the {} ({})",
                self.minister_and_role(),
                self.department,
                self.about()
            ),
        ];
        lines.extend(self.text.lines().map(str::to_string));
        for (t, u) in &self.attachments {
            lines.push(format!("Attachment: {t} {u}"));
        }
        lines.join("\n")
    }

    fn minister_and_role(&self) -> String {
        match &self.role {
            Some(r) if !r.is_empty() => format!("{}, {r},", self.minister),
            _ => self.minister.clone(),
        }
    }

    /// What a re-read compares: a change in any of these is a correction.
    fn content(&self) -> (&str, &str, &[(String, String)]) {
        (&self.title, &self.text, &self.attachments)
    }
}

impl Tracked for Statement {
    const FIELD: &'static str = "statements";
    const MAX_KEPT: usize = MAX_KEPT;
    fn id(&self) -> u32 {
        self.id
    }
}

/// The stored shape of a watch's document (`fields.statements`, `fields.known`).
pub type Listing = parliament::Listing<Statement>;

/// `api/writtenstatements/statements?searchTerm=&answeringBodies=&house=&madeWhenFrom=
/// &expandMember=true&skip=&take=`.
pub fn list_url(
    base: &Url,
    search_term: Option<&str>,
    department: Option<u32>,
    house: Option<House>,
    since: NaiveDate,
    skip: usize,
) -> Result<Url> {
    parliament::list_url(
        base,
        "api/writtenstatements/statements",
        search_term,
        department,
        house,
        &[("madeWhenFrom", since.to_string())],
        skip,
    )
}

pub fn detail_url(base: &Url, id: u32) -> Result<Url> {
    let mut url = endpoint(base, &format!("api/writtenstatements/statements/{id}"))?;
    url.query_pairs_mut().append_pair("expandMember", "true");
    Ok(url)
}

pub fn public_url(made: Option<NaiveDate>, uin: &str) -> String {
    match made {
        Some(d) => format!(
            "https://questions-statements.parliament.uk/written-statements/detail/{d}/{uin}"
        ),
        None => "https://questions-statements.parliament.uk/written-statements".into(),
    }
}

fn page(l: List) -> Page<Row> {
    Page {
        items: l
            .results
            .unwrap_or_default()
            .into_iter()
            .map(|i| i.value)
            .collect(),
        total: l.total_results,
    }
}

/// The statement a row corrects, if it says so.
fn corrects(r: &Row) -> Option<u32> {
    r.linked_statements.iter().flatten().find_map(|l| {
        l.link_type
            .as_deref()
            .filter(|t| t.eq_ignore_ascii_case("CorrectedStatement"))
            .and(l.linked_statement_id)
    })
}

/// What a list row shows that a stored statement can be compared with (list texts may be
/// cut, so only their start is compared).
fn row_moved(old: &Statement, r: &Row) -> bool {
    let title = r.title.as_deref().map(fold).unwrap_or_default();
    let text = html_to_text(r.text.as_deref().unwrap_or_default());
    let start = text.trim_end_matches("...").trim_end();
    title != old.title || !old.text.starts_with(start) || corrects(r) != old.corrects
}

pub async fn observe(
    ctx: &Context,
    bases: &Bases,
    query: &Query,
    previous: Option<&Document>,
    state: &Value,
) -> Result<(Document, Value)> {
    let mut st: State = stored(state)?;
    let prev = Listing::previous(previous)?;
    let today = uk_today(ctx.now);
    let since = window_start(st.last_poll, today - Duration::days(FIRST_RUN_DAYS));
    let department = query.department.as_ref().and_then(|d| d.api_id(st.body_id));
    let rows = search_each(
        ctx,
        API,
        &bases.allow_redirects,
        &query.phrases,
        |term, skip| list_url(&bases.api, term, department, query.house, since, skip),
        page,
    )
    .await?;
    let mut next = prev.clone();
    let mut seen = HashSet::new();
    for row in rows {
        let Some(id) = row.id else { continue };
        if !seen.insert(id) {
            continue;
        }
        if let Some(old) = prev.get(id) {
            if row_moved(old, &row) {
                let full = detail(ctx, bases, id).await?;
                next.upsert(statement(ctx, bases, &mut st, &full).await);
            }
            continue;
        }
        if prev.knows(id) {
            continue;
        }
        // A correction of a statement already reported is news whatever it says.
        let correction = corrects(&row).is_some_and(|c| prev.knows(c));
        if !correction && !wanted(query, &mut st, &row) {
            continue;
        }
        let full = if correction || matches(query, &row) {
            detail(ctx, bases, id).await?
        } else if looks_cut(row.text.as_deref().unwrap_or_default()) {
            let full = detail(ctx, bases, id).await?;
            if !matches(query, &full) {
                continue;
            }
            full
        } else {
            continue;
        };
        next.upsert(statement(ctx, bases, &mut st, &full).await);
    }
    next.settle();
    st.last_poll = Some(today);
    Ok((
        document(describe(query), &next)?,
        serde_json::to_value(&st)?,
    ))
}

/// The stored document of a listing.
pub fn document(title: String, listing: &Listing) -> Result<Document> {
    listing.document(
        title,
        "https://questions-statements.parliament.uk/written-statements",
        "(no statements yet)",
        Statement::record,
    )
}

/// A list page's rows.
pub fn rows(list: List) -> Vec<Row> {
    page(list).items
}

fn wanted(query: &Query, st: &mut State, row: &Row) -> bool {
    if query.house.is_some_and(|h| !h.is(row.house.as_deref())) {
        return false;
    }
    query.department.as_ref().is_none_or(|d| {
        d.accepts(
            row.answering_body_id,
            row.answering_body_name.as_deref(),
            &mut st.body_id,
        )
    })
}

fn matches(query: &Query, row: &Row) -> bool {
    let text = format!(
        "{}\n{}",
        row.title.as_deref().unwrap_or_default(),
        html_to_text(row.text.as_deref().unwrap_or_default())
    );
    parliament::matches(&query.phrases, &text)
}

async fn detail(ctx: &Context, bases: &Bases, id: u32) -> Result<Row> {
    let url = detail_url(&bases.api, id)?;
    let item: Item = parliament::get_json(ctx, &url, API, &bases.allow_redirects).await?;
    if item.value.id != Some(id) {
        return Err(Error::extract(
            url.as_str(),
            format!("{API}: asked for statement {id}, got {:?}", item.value.id),
        ));
    }
    Ok(item.value)
}

async fn statement(ctx: &Context, bases: &Bases, st: &mut State, r: &Row) -> Statement {
    let minister = st
        .members
        .name(ctx, &bases.members, r.member_id, r.member.as_ref(), None)
        .await;
    from_row(r, minister)
}

pub fn from_row(r: &Row, minister: String) -> Statement {
    let uin = r.uin.as_deref().map(fold).unwrap_or_default();
    let made = day(r.date_made.as_deref());
    Statement {
        id: r.id.unwrap_or_default(),
        url: public_url(made, &uin),
        uin,
        house: r.house.clone().unwrap_or_else(|| "Commons".into()),
        title: r.title.as_deref().map(fold).unwrap_or_default(),
        made: made.map(|d| d.to_string()),
        minister,
        member_id: r.member_id,
        role: r.member_role.as_deref().map(fold).filter(|s| !s.is_empty()),
        department: r
            .answering_body_name
            .as_deref()
            .map(fold)
            .unwrap_or_default(),
        department_id: r.answering_body_id,
        text: html_to_text(r.text.as_deref().unwrap_or_default()),
        attachments: r
            .attachments
            .iter()
            .flatten()
            .filter_map(|a| {
                let title = a
                    .title
                    .as_deref()
                    .map(fold)
                    .filter(|t| !t.is_empty())
                    .or_else(|| a.file_type.clone())
                    .unwrap_or_else(|| "attachment".into());
                Some((title, a.url.clone()?))
            })
            .collect(),
        corrects: corrects(r),
    }
}

/// "Written statements from the Home Office matching “modern slavery”".
pub fn describe(q: &Query) -> String {
    let mut s = "Written statements".to_string();
    if let Some(d) = &q.department {
        s.push_str(&format!(" from {}", d.describe()));
    }
    if !q.phrases.is_empty() {
        let quoted: Vec<String> = q.phrases.iter().map(|p| format!("“{p}”")).collect();
        s.push_str(&format!(" matching {}", quoted.join(" or ")));
    }
    if let Some(h) = q.house {
        s.push_str(&format!(" ({})", h.api()));
    }
    s
}

pub fn compare(previous: &Document, next: &Document) -> Result<Vec<Event>> {
    let prev = Listing::from_document(previous)?;
    let next = Listing::from_document(next)?;
    let mut events = Vec::new();
    for s in next.items.iter().rev() {
        match prev.get(s.id) {
            Some(old) if old.content() != s.content() => events.push(corrected(s, Some(old))),
            Some(_) => {}
            None if prev.knows(s.id) => {}
            None => match s.corrects.filter(|c| prev.knows(*c)) {
                Some(c) => events.push(corrected(s, prev.get(c))),
                None => events.push(made(s)),
            },
        }
    }
    Ok(events)
}

fn base_event(kind: &str, s: &Statement, summary: String) -> Event {
    let mut e = Event::new(kind, summary);
    e.title = Some(s.heading());
    e.url = Some(s.url.clone());
    e.keyword_text = format!("{}\n{}", s.title, s.text);
    e.fields = serde_json::json!({
        "id": s.id,
        "uin": s.uin,
        "house": s.house,
        "made": s.made,
        "minister": s.minister,
        "member_id": s.member_id,
        "role": s.role,
        "department": s.department,
        "department_id": s.department_id,
        "corrects": s.corrects,
        "attachments": s.attachments.iter().map(|(t, u)| serde_json::json!({"title": t, "url": u})).collect::<Vec<_>>(),
    });
    e
}

fn attachments(s: &Statement, e: &mut Event) {
    if !s.attachments.is_empty() {
        let list: Vec<String> = s
            .attachments
            .iter()
            .map(|(t, u)| format!("{t} ({u})"))
            .collect();
        e.annotations
            .push(format!("Attachments: {}", list.join("; ")));
    }
}

fn made(s: &Statement) -> Event {
    let mut e = base_event(
        "statement.made",
        s,
        format!(
            "{} made a written statement for the {}: {} ({})",
            s.minister_and_role().trim_end_matches(','),
            s.department,
            s.title,
            s.about()
        ),
    );
    e.severity = Severity::Major;
    e.annotations
        .push(format!("Statement: {}", first_paragraph(&s.text)));
    attachments(s, &mut e);
    e.diff = Some(s.record().lines().map(|l| format!("+{l}\n")).collect());
    e
}

fn corrected(s: &Statement, old: Option<&Statement>) -> Event {
    let mut e = base_event(
        "statement.corrected",
        s,
        format!(
            "Written statement corrected for the {}: {} ({})",
            s.department,
            s.title,
            s.about()
        ),
    );
    match old {
        Some(old) => {
            let changes = diff::diff(&old.record(), &s.record());
            e.annotations
                .push(format!("Changed: {}", changes.summary()));
            e.diff = Some(changes.unified);
        }
        None => {
            e.annotations
                .push(format!("Statement: {}", first_paragraph(&s.text)));
            e.diff = Some(s.record().lines().map(|l| format!("+{l}\n")).collect());
        }
    }
    attachments(s, &mut e);
    e
}

#[cfg(test)]
mod tests;
