//! `written_questions` watches: written parliamentary questions from the Written Questions
//! API, matched on the watch's phrases, answering body and house, and followed until they
//! have a substantive answer. Events, keyed on the question's `id`: `question.tabled`,
//! `question.holding_answer`, `question.answered`, `question.corrected`.
//!
//! A cycle asks for two things, each read to its last page:
//! 1. questions tabled since the day before the last poll, reaching back to the oldest
//!    question still open (so an answer to a question tabled weeks ago is seen), at most
//!    [`FOLLOW_DAYS`]; one query per phrase, as the API takes one search term;
//! 2. questions corrected since the day before the last poll (a correction keeps the
//!    original `dateAnswered`, so it would not show in 1), in one query without a term.
//!
//! So an unchanged cycle of a one-phrase watch costs two requests.
//!
//! Only a question that is new or whose answer dates moved is asked for in full
//! (`/questions/{id}`: list rows cut texts to ~255 characters). The stored document holds
//! the questions followed, with their full texts, so the next cycle compares against them
//! and a correction can be shown as a diff.

use std::collections::HashSet;

use chrono::{Duration, NaiveDate};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{SourceBase, Sources};
use crate::error::{Error, Result};
use crate::event::{Event, Severity};
use crate::source::kind::{target_of, EventInfo, SourceKind};
use crate::source::parliament::{
    self, day, first_paragraph, html_to_text, long_day, looks_cut, observed, read_body, read_pages,
    read_search, search_each, stored, uk_today, window_start, AnsweringBody, Bases, House,
    MemberCache, Tracked, MEMBERS, QUESTIONS_STATEMENTS,
};
use crate::source::{Context, Document, Job, Observed};
use crate::text::diff;
use crate::text::html::fold;
use crate::watchlist::{KindKeys, KindSyntax, KindTarget, Target, Watch};

pub mod api;

use api::{Filters, Row, Since, API};

/// Days an open question is followed for after it was tabled.
pub const FOLLOW_DAYS: i64 = 120;

/// Days looked back on a watch's first run when `tabled_since` is not set.
pub const FIRST_RUN_DAYS: i64 = 14;

/// Questions kept in the document (open ones first, then the latest answered, whose
/// answers are kept to diff a correction against).
pub const MAX_TRACKED: usize = 300;

/// Candidates that did not match the phrases once read in full, so they are not read again.
const MAX_REJECTED: usize = 2_000;

/// A `written_questions` watch's keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    /// Phrases a question must contain (question, heading or answer); none: every question.
    pub phrases: Vec<String>,
    pub answering_body: Option<AnsweringBody>,
    pub house: Option<House>,
    /// How far back the first run looks.
    pub tabled_since: Option<NaiveDate>,
    /// Follow this one question instead of searching.
    pub question: Option<QuestionRef>,
}

impl KindTarget for Query {
    const KIND: &'static str = "written_questions";
    fn key(&self) -> String {
        format!("{self:?}")
    }
}

pub struct WrittenQuestionsKind;

impl KindSyntax for WrittenQuestionsKind {
    fn name(&self) -> &'static str {
        Query::KIND
    }
    fn keys(&self) -> &'static [&'static str] {
        &[
            "search",
            "answering_body",
            "house",
            "tabled_since",
            "question",
        ]
    }
    fn parse(&self, keys: &mut KindKeys<'_, '_, '_>) -> Option<Target> {
        let before = keys.problems();
        let (phrases, house) = read_search(keys, None);
        let answering_body = read_body(keys, "answering_body");
        let tabled_since = keys.get("tabled_since").and_then(|item| {
            let s = keys.string("tabled_since", item)?;
            let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
            if d.is_none() {
                keys.problem(
                    item,
                    format!("`tabled_since` must be a date like 2025-01-31, not `{s}`"),
                );
            }
            d
        });
        let question = keys.get("question").and_then(|item| {
            if item.as_integer().is_some() {
                keys.positive_u32("question", item).map(QuestionRef::Id)
            } else {
                keys.string("question", item)
                    .map(|s| QuestionRef::Uin(s.to_string()))
            }
        });
        if keys.problems() == before
            && phrases.is_empty()
            && answering_body.is_none()
            && question.is_none()
        {
            keys.problem_here(
                "a written_questions watch needs `search` (phrases), `answering_body` or `question` (an id or UIN to follow)",
            );
        }
        (keys.problems() == before).then(|| {
            Target::new(Query {
                phrases,
                answering_body,
                house,
                tabled_since,
                question,
            })
        })
    }
}

impl SourceKind for WrittenQuestionsKind {
    fn about(&self) -> &'static str {
        "written parliamentary questions (Written Questions API), followed until answered"
    }
    fn events(&self) -> &'static [EventInfo] {
        &[
            EventInfo {
                name: "question.tabled",
                severity: Severity::Notice,
                meaning: "a matching question was tabled: who asked which department, what, when it is due",
            },
            EventInfo {
                name: "question.holding_answer",
                severity: Severity::Notice,
                meaning: "a followed question got a holding answer",
            },
            EventInfo {
                name: "question.answered",
                severity: Severity::Major,
                meaning: "a followed question got its substantive answer (first paragraph quoted, whole in `show`)",
            },
            EventInfo {
                name: "question.corrected",
                severity: Severity::Notice,
                meaning: "an answer was corrected (diff of old against new)",
            },
        ]
    }
    fn bases(&self) -> &'static [SourceBase] {
        &[QUESTIONS_STATEMENTS, MEMBERS]
    }
    fn human_url(&self, _: &Target, _: &Sources) -> String {
        "https://questions-statements.parliament.uk/written-questions".into()
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
    /// One question followed from chat (`/follow question`): the key is its id.
    fn follow_target(&self, key: &str) -> Option<Target> {
        Some(Target::new(Query {
            question: Some(QuestionRef::Id(key.parse().ok()?)),
            ..Query::default()
        }))
    }
}

/// Looks up one question (by id, or the latest tabled with a UIN) as a `question = …` watch
/// reads it: its id and a line about it (who it is to, its heading, whether it is answered).
pub async fn look_up(ctx: &Context, q: &QuestionRef) -> Result<(u32, String)> {
    let bases = Bases {
        api: ctx.base(&QUESTIONS_STATEMENTS),
        members: ctx.base(&MEMBERS),
        allow_redirects: Vec::new(),
    };
    let rows = one_question(ctx, &bases, &Query::default(), q).await?;
    let Some((row, id)) = rows.first().and_then(|r| Some((r, r.id?))) else {
        return Err(Error::extract(
            bases.api.as_str(),
            format!("{API}: no such written question"),
        ));
    };
    let status = if row.date_answered.is_some() && row.answer_is_holding != Some(true) {
        "answered".to_string()
    } else if row.answer_is_holding == Some(true) {
        "holding answer given".to_string()
    } else {
        match row.date_for_answer.as_deref() {
            Some(d) => format!(
                "awaiting an answer (due {})",
                long_day(d.get(..10).unwrap_or(d))
            ),
            None => "awaiting an answer".to_string(),
        }
    };
    let about = format!(
        "Written question {} to {}{}: {status}",
        row.uin.as_deref().unwrap_or("?"),
        row.answering_body_name
            .as_deref()
            .unwrap_or("an unnamed body"),
        row.heading
            .as_deref()
            .filter(|h| !h.is_empty())
            .map(|h| format!(", “{h}”"))
            .unwrap_or_default(),
    );
    Ok((id, about))
}

/// `question = 1679326` (id) or `= "HL1234"` (uin).
#[derive(Debug, Clone, PartialEq)]
pub enum QuestionRef {
    Id(u32),
    Uin(String),
}

/// What a watch keeps between cycles.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    /// UK day of the last successful poll.
    pub last_poll: Option<NaiveDate>,
    pub members: MemberCache,
    /// The id of a named answering body, learnt from the first result that names it, so
    /// later queries can filter on it.
    pub body_id: Option<u32>,
    /// Sorted.
    pub rejected: Vec<u32>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Unanswered,
    Holding,
    Answered,
}

/// A question as stored (the document's `fields.questions`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Question {
    pub id: u32,
    pub uin: String,
    pub house: String,
    pub heading: Option<String>,
    pub asked_by: String,
    pub asking_member_id: Option<u32>,
    pub answering_body: String,
    pub answering_body_id: Option<u32>,
    /// `YYYY-MM-DD`.
    pub tabled: Option<String>,
    pub due: Option<String>,
    pub text: String,
    pub status: Status,
    pub holding_date: Option<String>,
    pub answered_date: Option<String>,
    pub answered_by: Option<String>,
    pub answering_member_id: Option<u32>,
    /// The whole answer, paragraphs as lines.
    pub answer: Option<String>,
    pub corrected_date: Option<String>,
    pub corrected_by: Option<String>,
    pub attachments: Vec<Attachment>,
    pub withdrawn: bool,
    pub url: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attachment {
    pub title: String,
    pub url: String,
}

/// What decides whether a question moved: its status and answer dates.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    status: Status,
    holding: Option<String>,
    answered: Option<String>,
    corrected: Option<String>,
    withdrawn: bool,
}

fn ymd(s: Option<&str>) -> Option<String> {
    day(s).map(|d| d.to_string())
}

fn status(r: &Row) -> Status {
    let answered = r.date_answered.is_some()
        && r.answer_text
            .as_deref()
            .is_some_and(|t| !t.trim().is_empty());
    if r.answer_is_holding == Some(true) {
        Status::Holding
    } else if answered {
        Status::Answered
    } else if r.date_holding_answer.is_some() {
        Status::Holding
    } else {
        Status::Unanswered
    }
}

fn row_stamp(r: &Row) -> Stamp {
    Stamp {
        status: status(r),
        holding: ymd(r.date_holding_answer.as_deref()),
        answered: ymd(r.date_answered.as_deref()),
        corrected: ymd(r.date_answer_corrected.as_deref()),
        withdrawn: r.is_withdrawn == Some(true),
    }
}

impl Question {
    fn stamp(&self) -> Stamp {
        Stamp {
            status: self.status,
            holding: self.holding_date.clone(),
            answered: self.answered_date.clone(),
            corrected: self.corrected_date.clone(),
            withdrawn: self.withdrawn,
        }
    }

    fn is_open(&self) -> bool {
        self.status != Status::Answered && !self.withdrawn
    }

    /// "the Home Office".
    fn body(&self) -> String {
        if self.answering_body.is_empty() {
            "the government".into()
        } else {
            format!("the {}", self.answering_body)
        }
    }

    /// "Commons, UIN 8024".
    fn reference(&self) -> String {
        format!("{}, UIN {}", self.house, self.uin)
    }

    fn title(&self) -> String {
        match &self.heading {
            Some(h) if !h.is_empty() => format!("Written question {}: {h}", self.uin),
            _ => format!("Written question {} to {}", self.uin, self.body()),
        }
    }

    /// The full readable record, as stored and shown.
    fn text(&self) -> String {
        let mut lines = vec![format!("## {}", self.title()), self.url.clone()];
        let mut asked = format!(
            "Asked by {} of {} ({})",
            self.asked_by,
            self.body(),
            self.reference()
        );
        if let Some(t) = &self.tabled {
            asked.push_str(&format!(", tabled {}", long_day(t)));
        }
        if let Some(d) = &self.due {
            asked.push_str(&format!(", due {}", long_day(d)));
        }
        lines.push(asked);
        lines.push(format!("Question: {}", self.text));
        if self.withdrawn {
            lines.push("Withdrawn".into());
        }
        if let Some(h) = &self.holding_date {
            lines.push(format!("Holding answer: {}", long_day(h)));
        }
        if let Some(a) = &self.answer {
            let label = match self.status {
                Status::Holding => "Holding answer",
                _ => "Answer",
            };
            let by = self.answered_by.as_deref().unwrap_or("the minister");
            let when = self
                .answered_date
                .as_deref()
                .map(long_day)
                .unwrap_or_default();
            lines.push(format!("{label} by {by}, {when}:"));
            lines.extend(a.lines().map(str::to_string));
        }
        if let Some(c) = &self.corrected_date {
            let by = self.corrected_by.as_deref().unwrap_or("the minister");
            lines.push(format!("Corrected by {by}, {}", long_day(c)));
        }
        for a in &self.attachments {
            lines.push(format!("Attachment: {} {}", a.title, a.url));
        }
        lines.join("\n")
    }

    fn fields(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "uin": self.uin,
            "house": self.house,
            "asked_by": self.asked_by,
            "asking_member_id": self.asking_member_id,
            "answering_body": self.answering_body,
            "answering_body_id": self.answering_body_id,
            "tabled": self.tabled,
            "due": self.due,
            "status": self.status,
            "holding_date": self.holding_date,
            "answered_date": self.answered_date,
            "answered_by": self.answered_by,
            "answering_member_id": self.answering_member_id,
            "corrected_date": self.corrected_date,
            "corrected_by": self.corrected_by,
            "attachments": self.attachments,
        })
    }
}

impl Tracked for Question {
    const FIELD: &'static str = "questions";
    const MAX_KEPT: usize = MAX_TRACKED;
    fn id(&self) -> u32 {
        self.id
    }
    /// Open questions stay in the document before answered ones.
    fn keep_first(&self) -> bool {
        self.is_open()
    }
}

/// The stored shape of a watch's document (`fields.questions`, `fields.known`).
pub type Listing = parliament::Listing<Question>;

/// Observes a watch: the document of followed questions and the state to keep.
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
    let rows = match &query.question {
        Some(q) => one_question(ctx, bases, query, q).await?,
        None => search(ctx, bases, query, &prev, &st, today).await?,
    };
    let mut next = prev.clone();
    let mut seen = HashSet::new();
    for row in rows {
        let Some(id) = row.id else { continue };
        if !seen.insert(id) {
            continue;
        }
        if let Some(old) = prev.get(id) {
            if old.stamp() != row_stamp(&row) {
                let full = detail(ctx, bases, id).await?;
                next.upsert(question(ctx, bases, &mut st, &full).await);
            }
            continue;
        }
        if prev.knows(id) {
            // Followed once and since dropped from the document: only a correction is news.
            if row.date_answer_corrected.is_some() {
                let full = detail(ctx, bases, id).await?;
                next.upsert(question(ctx, bases, &mut st, &full).await);
            }
            continue;
        }
        if query.question.is_none() && !wanted(query, &mut st, &row) {
            continue;
        }
        let full = if query.question.is_some() || candidate_matches(query, &row) {
            detail(ctx, bases, id).await?
        } else if looks_cut_row(&row) && st.rejected.binary_search(&id).is_err() {
            let full = detail(ctx, bases, id).await?;
            if !candidate_matches(query, &full) {
                reject(&mut st, id);
                continue;
            }
            full
        } else {
            continue;
        };
        next.upsert(question(ctx, bases, &mut st, &full).await);
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
        "https://questions-statements.parliament.uk/written-questions",
        "(no questions followed)",
        Question::text,
    )
}

/// The rows of the two queries (tabled since, corrected since).
async fn search(
    ctx: &Context,
    bases: &Bases,
    query: &Query,
    prev: &Listing,
    st: &State,
    today: NaiveDate,
) -> Result<Vec<Row>> {
    let first = query
        .tabled_since
        .unwrap_or(today - Duration::days(FIRST_RUN_DAYS));
    let mut from = window_start(st.last_poll, first);
    let oldest_open = prev
        .items
        .iter()
        .filter(|q| q.is_open())
        .filter_map(|q| day(q.tabled.as_deref()))
        .min();
    if let Some(open) = oldest_open {
        from = from.min(open.max(today - Duration::days(FOLLOW_DAYS)));
    }
    let filters = filters(query, st);
    let mut rows = search_each(
        ctx,
        API,
        &bases.allow_redirects,
        &query.phrases,
        |term, skip| {
            let f = Filters {
                search_term: term,
                ..filters.clone()
            };
            api::list_url(&bases.api, &f, Some(Since::Tabled(from)), skip)
        },
        api::List::page,
    )
    .await?;
    // Corrections can only concern questions already followed, so they are asked for
    // without a search term (which may not be in a correction), in one query.
    if let Some(last) = st.last_poll.filter(|_| !prev.known.is_empty()) {
        let since = window_start(Some(last), last);
        rows.extend(
            read_pages(
                ctx,
                API,
                &bases.allow_redirects,
                |skip| api::list_url(&bases.api, &filters, Some(Since::Corrected(since)), skip),
                api::List::page,
            )
            .await?,
        );
    }
    Ok(rows)
}

/// `question = …`: the one row it names (by id, or the latest tabled with that uin).
async fn one_question(
    ctx: &Context,
    bases: &Bases,
    query: &Query,
    q: &QuestionRef,
) -> Result<Vec<Row>> {
    match q {
        QuestionRef::Id(id) => Ok(vec![detail(ctx, bases, *id).await?]),
        QuestionRef::Uin(uin) => {
            let f = Filters {
                uin: Some(uin),
                house: query.house,
                ..Filters::default()
            };
            let mut rows = read_pages(
                ctx,
                API,
                &bases.allow_redirects,
                |skip| api::list_url(&bases.api, &f, None, skip),
                api::List::page,
            )
            .await?;
            rows.sort_by(|a, b| b.date_tabled.cmp(&a.date_tabled));
            rows.truncate(1);
            if rows.is_empty() {
                let url = api::list_url(&bases.api, &f, None, 0)?;
                return Err(Error::extract(
                    url.as_str(),
                    format!("{API}: no written question with UIN {uin}"),
                ));
            }
            Ok(rows)
        }
    }
}

/// The API filters but the search term.
fn filters<'a>(query: &'a Query, st: &State) -> Filters<'a> {
    Filters {
        search_term: None,
        answering_body: query
            .answering_body
            .as_ref()
            .and_then(|b| b.api_id(st.body_id)),
        house: query.house,
        uin: None,
    }
}

/// Whether a row is for the watch's answering body and house (the API is asked to filter
/// too, but a named body is only filtered here until its id is known).
fn wanted(query: &Query, st: &mut State, row: &Row) -> bool {
    if let Some(h) = query.house {
        if !h.is(row.house.as_deref()) {
            return false;
        }
    }
    query.answering_body.as_ref().is_none_or(|b| {
        b.accepts(
            row.answering_body_id,
            row.answering_body_name.as_deref(),
            &mut st.body_id,
        )
    })
}

fn row_text(row: &Row) -> String {
    [
        row.heading.as_deref(),
        row.question_text.as_deref(),
        row.answer_text.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("\n")
}

fn candidate_matches(query: &Query, row: &Row) -> bool {
    parliament::matches(&query.phrases, &html_to_text(&row_text(row)))
}

fn looks_cut_row(row: &Row) -> bool {
    [row.question_text.as_deref(), row.answer_text.as_deref()]
        .into_iter()
        .flatten()
        .any(looks_cut)
}

fn reject(st: &mut State, id: u32) {
    if let Err(i) = st.rejected.binary_search(&id) {
        st.rejected.insert(i, id);
    }
    if st.rejected.len() > MAX_REJECTED {
        st.rejected.remove(0);
    }
}

async fn detail(ctx: &Context, bases: &Bases, id: u32) -> Result<Row> {
    let url = api::detail_url(&bases.api, id)?;
    let item: api::Item = parliament::get_json(ctx, &url, API, &bases.allow_redirects).await?;
    if item.value.id != Some(id) {
        return Err(Error::extract(
            url.as_str(),
            format!("{API}: asked for question {id}, got {:?}", item.value.id),
        ));
    }
    Ok(item.value)
}

/// A row, its members named, as stored.
async fn question(ctx: &Context, bases: &Bases, st: &mut State, r: &Row) -> Question {
    let members = &bases.members;
    let asked_by = st
        .members
        .name(
            ctx,
            members,
            r.asking_member_id,
            r.asking_member.as_ref(),
            None,
        )
        .await;
    let answered_by = if r.answering_member_id.is_some() || r.answering_member.is_some() {
        Some(
            st.members
                .name(
                    ctx,
                    members,
                    r.answering_member_id,
                    r.answering_member.as_ref(),
                    None,
                )
                .await,
        )
    } else {
        None
    };
    let corrected_by = if r.date_answer_corrected.is_some()
        && (r.correcting_member_id.is_some() || r.correcting_member.is_some())
    {
        Some(
            st.members
                .name(
                    ctx,
                    members,
                    r.correcting_member_id,
                    r.correcting_member.as_ref(),
                    None,
                )
                .await,
        )
    } else {
        None
    };
    from_row(r, asked_by, answered_by, corrected_by)
}

/// A row as stored, with its members already named.
pub fn from_row(
    r: &Row,
    asked_by: String,
    answered_by: Option<String>,
    corrected_by: Option<String>,
) -> Question {
    let uin = r.uin.as_deref().map(fold).unwrap_or_default();
    let tabled = day(r.date_tabled.as_deref());
    let stamp = row_stamp(r);
    Question {
        id: r.id.unwrap_or_default(),
        url: api::public_url(tabled, &uin),
        uin,
        house: r.house.clone().unwrap_or_else(|| "Commons".into()),
        heading: r.heading.as_deref().map(fold).filter(|h| !h.is_empty()),
        asked_by,
        asking_member_id: r.asking_member_id,
        answering_body: r
            .answering_body_name
            .as_deref()
            .map(fold)
            .unwrap_or_default(),
        answering_body_id: r.answering_body_id,
        tabled: tabled.map(|d| d.to_string()),
        due: ymd(r.date_for_answer.as_deref()),
        text: r
            .question_text
            .as_deref()
            .map(html_to_text)
            .unwrap_or_default(),
        status: stamp.status,
        holding_date: stamp.holding,
        answered_date: stamp.answered,
        answered_by,
        answering_member_id: r.answering_member_id,
        answer: r
            .answer_text
            .as_deref()
            .map(html_to_text)
            .filter(|a| !a.is_empty()),
        corrected_date: stamp.corrected,
        corrected_by,
        attachments: r
            .attachments
            .iter()
            .flatten()
            .filter_map(|a| {
                Some(Attachment {
                    url: a.url.clone()?,
                    title: a
                        .title
                        .as_deref()
                        .map(fold)
                        .filter(|t| !t.is_empty())
                        .or_else(|| a.file_type.clone())
                        .unwrap_or_else(|| "attachment".into()),
                })
            })
            .collect(),
        withdrawn: stamp.withdrawn,
    }
}

/// "Written questions to the Home Office matching “modern slavery” (Commons)".
pub fn describe(query: &Query) -> String {
    if let Some(q) = &query.question {
        return match q {
            QuestionRef::Id(id) => format!("Written question {id}"),
            QuestionRef::Uin(uin) => format!("Written question UIN {uin}"),
        };
    }
    let mut s = "Written questions".to_string();
    if let Some(b) = &query.answering_body {
        s.push_str(&format!(" to {}", b.describe()));
    }
    if !query.phrases.is_empty() {
        let quoted: Vec<String> = query.phrases.iter().map(|p| format!("“{p}”")).collect();
        s.push_str(&format!(" matching {}", quoted.join(" or ")));
    }
    if let Some(h) = query.house {
        s.push_str(&format!(" ({})", h.api()));
    }
    s
}

/// The events between two versions of a watch's document, oldest question first.
pub fn compare(previous: &Document, next: &Document) -> Result<Vec<Event>> {
    let prev = Listing::from_document(previous)?;
    let next = Listing::from_document(next)?;
    let mut events = Vec::new();
    for q in next.items.iter().rev() {
        match prev.get(q.id) {
            None if prev.knows(q.id) => {
                if q.corrected_date.is_some() {
                    events.push(corrected(q, None));
                }
            }
            None => {
                events.push(tabled(q));
                match q.status {
                    Status::Holding => events.push(holding(q)),
                    Status::Answered => events.push(answered(q)),
                    Status::Unanswered => {}
                }
            }
            Some(old) => {
                let holding_moved = q.status == Status::Holding
                    && (old.status == Status::Unanswered || old.holding_date != q.holding_date);
                if holding_moved {
                    events.push(holding(q));
                } else if q.status == Status::Answered && old.status != Status::Answered {
                    events.push(answered(q));
                } else if q.status == Status::Answered
                    && (old.corrected_date != q.corrected_date || old.answer != q.answer)
                {
                    events.push(corrected(q, Some(old)));
                }
            }
        }
    }
    Ok(events)
}

fn base_event(kind: &str, q: &Question, summary: String) -> Event {
    let mut e = Event::new(kind, summary);
    e.title = Some(q.title());
    e.url = Some(q.url.clone());
    e.keyword_text = [q.heading.as_deref(), Some(&q.text), q.answer.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n");
    e.fields = q.fields();
    e
}

fn plus_lines(text: &str) -> String {
    text.lines().map(|l| format!("+{l}\n")).collect()
}

fn tabled(q: &Question) -> Event {
    let mut about = q.reference();
    if let Some(d) = &q.due {
        about.push_str(&format!(", answer due {}", long_day(d)));
    }
    let mut e = base_event(
        "question.tabled",
        q,
        format!("{} asked {} ({about})", q.asked_by, q.body()),
    );
    e.annotations.push(format!("Question: {}", q.text));
    e.diff = Some(plus_lines(&q.text));
    e
}

fn answer_lines(q: &Question, e: &mut Event) {
    if let Some(a) = &q.answer {
        e.annotations
            .push(format!("Answer: {}", first_paragraph(a)));
        e.diff = Some(plus_lines(a));
    }
    if !q.attachments.is_empty() {
        let list: Vec<String> = q
            .attachments
            .iter()
            .map(|a| format!("{} ({})", a.title, a.url))
            .collect();
        e.annotations
            .push(format!("Attachments: {}", list.join("; ")));
    }
}

fn holding(q: &Question) -> Event {
    let when = q
        .holding_date
        .as_deref()
        .or(q.answered_date.as_deref())
        .map(long_day)
        .unwrap_or_default();
    let by = q.answered_by.as_deref().unwrap_or("the minister");
    let mut e = base_event(
        "question.holding_answer",
        q,
        format!(
            "Holding answer from {by} for {} on {when} to {}'s question ({})",
            q.body(),
            q.asked_by,
            q.reference()
        ),
    );
    e.annotations.push(format!("Question: {}", q.text));
    answer_lines(q, &mut e);
    e
}

fn answered(q: &Question) -> Event {
    let when = q.answered_date.as_deref().map(long_day).unwrap_or_default();
    let by = q.answered_by.as_deref().unwrap_or("The minister");
    let mut e = base_event(
        "question.answered",
        q,
        format!(
            "{by} answered {}'s question for {} on {when} ({})",
            q.asked_by,
            q.body(),
            q.reference()
        ),
    );
    e.severity = Severity::Major;
    e.annotations.push(format!("Question: {}", q.text));
    answer_lines(q, &mut e);
    if let Some(h) = &q.holding_date {
        e.annotations
            .push(format!("After a holding answer on {}", long_day(h)));
    }
    e
}

fn corrected(q: &Question, old: Option<&Question>) -> Event {
    let when = q
        .corrected_date
        .as_deref()
        .map(long_day)
        .unwrap_or_default();
    let by = q
        .corrected_by
        .as_deref()
        .or(q.answered_by.as_deref())
        .unwrap_or("the minister");
    let mut e = base_event(
        "question.corrected",
        q,
        format!(
            "Answer corrected by {by} for {} on {when} ({}'s question, {})",
            q.body(),
            q.asked_by,
            q.reference()
        ),
    );
    e.annotations.push(format!("Question: {}", q.text));
    let new = q.answer.clone().unwrap_or_default();
    match old.and_then(|o| o.answer.as_deref()) {
        Some(old_answer) => {
            let changes = diff::diff(old_answer, &new);
            e.annotations
                .push(format!("Answer changed: {}", changes.summary()));
            e.diff = Some(changes.unified);
        }
        None => {
            e.annotations
                .push("The earlier answer is no longer held; the corrected answer is below".into());
            e.diff = Some(plus_lines(&new));
        }
    }
    if let Some(a) = &q.answer {
        e.annotations
            .push(format!("Corrected answer: {}", first_paragraph(a)));
    }
    e
}

#[cfg(test)]
mod tests;
