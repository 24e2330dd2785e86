//! `/api/v1/`: the history as JSON. Each handler reads through the same functions the
//! HTML pages use, so both always show the same thing.

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::filter::{self, FilterParams};
use super::{blocking, watch_id, Shared, WebError, WebState};
use crate::store::{phrase_history, phrase_matcher, ChangeRecord, PhraseChange, Version};
use crate::watchlist::Watch;

type ApiResult = std::result::Result<Json<Value>, WebError>;

fn api<T>(r: std::result::Result<T, WebError>) -> std::result::Result<T, WebError> {
    r.map_err(WebError::json)
}

/// A change as `history --format json` prints it (and `show`, with `full_diff`).
pub fn change_json(r: &ChangeRecord, full: bool) -> Value {
    let mut v = serde_json::to_value(&r.alert).unwrap_or(Value::Null);
    v["delivered_at"] = serde_json::to_value(r.delivered_at).unwrap_or(Value::Null);
    if !r.reviews.is_empty() {
        v["reviews"] = serde_json::to_value(&r.reviews).unwrap_or(Value::Null);
    }
    if full {
        v["full_diff"] = r.full_diff.clone().into();
    }
    v
}

/// A page of the filtered timeline, the index brought up to date first.
pub fn changes_page(
    st: &WebState,
    params: &FilterParams,
    default_limit: usize,
) -> std::result::Result<(filter::Filter, filter::Page), WebError> {
    let f = params.validate(default_limit)?;
    let engine = st.live.engine();
    let mut index = st.index.lock().unwrap_or_else(|e| e.into_inner());
    index.catch_up(engine.store.as_ref())?;
    let page = filter::query(&index, engine.store.as_ref(), &f)?;
    Ok((f, page))
}

pub async fn changes(State(st): State<Shared>, Query(params): Query<FilterParams>) -> ApiResult {
    api(blocking(&st, move |st| {
        let (_, page) = changes_page(st, &params, filter::PAGE)?;
        let next = page.next_before.map(|b| {
            let mut p = params.clone();
            p.before = Some(b.to_string());
            format!("/api/v1/changes?{}", filter_query(&p))
        });
        Ok(Json(json!({
            "changes": page.records.iter().map(|r| change_json(r, false)).collect::<Vec<_>>(),
            "next": next,
        })))
    })
    .await)
}

/// The query string that reproduces a filter (for paging and download links).
pub fn filter_query(p: &FilterParams) -> String {
    super::html::query_string(&[
        ("watch", p.watch.clone()),
        ("watchlist", p.watchlist.clone()),
        ("event", p.event.clone()),
        ("severity", p.severity.clone()),
        ("keyword", p.keyword.clone()),
        ("since", p.since.clone()),
        ("until", p.until.clone()),
        ("q", p.q.clone()),
        ("before", p.before.clone()),
        ("limit", p.limit.clone()),
        ("all", p.all.clone()),
    ])
}

pub fn find_change(st: &WebState, id: &str) -> std::result::Result<ChangeRecord, WebError> {
    let missing = || {
        WebError::not_found(format!(
            "no such change `{}`",
            id.chars().take(40).collect::<String>()
        ))
    };
    let n: u64 = id.parse().map_err(|_| missing())?;
    st.live.engine().store.change(n)?.ok_or_else(missing)
}

pub async fn change(State(st): State<Shared>, Path(id): Path<String>) -> ApiResult {
    api(blocking(&st, move |st| {
        Ok(Json(change_json(&find_change(st, &id)?, true)))
    })
    .await)
}

/// A watch as the API lists it: its `status` line and what it follows.
#[derive(Serialize)]
pub struct WatchInfo {
    #[serde(flatten)]
    pub status: crate::status::WatchStatus,
    /// What it looks at: a URL, a bill, a GOV.UK path, a search.
    pub follows: String,
    /// The link to open it at the source, when there is one.
    pub url: Option<String>,
}

/// What a watch follows, in words, and a link to it where the kind has one.
pub fn describe(w: &Watch) -> (String, Option<String>) {
    let key = w.target.key();
    match w.target.kind() {
        "page" | "feed" => (key.clone(), Some(key)),
        "bill" => (
            format!("bill {key}"),
            Some(format!("https://bills.parliament.uk/bills/{key}")),
        ),
        "govuk" => (
            format!("GOV.UK {key}"),
            Some(format!("https://www.gov.uk{key}")),
        ),
        kind => (format!("{kind} {key}"), None),
    }
}

pub fn watch_infos(st: &WebState) -> std::result::Result<Vec<WatchInfo>, WebError> {
    let engine = st.live.engine();
    let report = st.live.status()?;
    let watches = engine.all_watches()?;
    Ok(report
        .watches
        .into_iter()
        .map(|status| {
            let (follows, url) = watches
                .iter()
                .find(|w| w.id == status.watch)
                .map(|w| describe(w))
                .unwrap_or_default();
            WatchInfo {
                status,
                follows,
                url,
            }
        })
        .collect())
}

pub fn watch_info(st: &WebState, id: &str) -> std::result::Result<WatchInfo, WebError> {
    let id = watch_id(id)?;
    watch_infos(st)?
        .into_iter()
        .find(|w| w.status.watch == id)
        .ok_or_else(|| WebError::not_found(format!("no such watch `{id}`")))
}

pub async fn watches(State(st): State<Shared>) -> ApiResult {
    api(blocking(&st, |st| Ok(Json(json!(watch_infos(st)?)))).await)
}

pub async fn watch(State(st): State<Shared>, Path(id): Path<String>) -> ApiResult {
    api(blocking(&st, move |st| Ok(Json(json!(watch_info(st, &id)?)))).await)
}

/// A version without its document.
#[derive(Serialize)]
pub struct VersionInfo {
    pub seq: u64,
    pub fetched_at: chrono::DateTime<chrono::Utc>,
    pub hash: String,
    pub title: String,
    pub url: String,
    /// Length of its readable text, bytes.
    pub text_bytes: usize,
}

/// Versions of a known watch (or of one the store still has versions of), oldest first.
pub fn versions_of(st: &WebState, id: &str) -> std::result::Result<Vec<VersionInfo>, WebError> {
    let id = watch_id(id)?;
    let mut out = Vec::new();
    st.live.engine().store.for_each_version_of(id, &mut |v| {
        out.push(VersionInfo {
            seq: v.seq,
            fetched_at: v.fetched_at,
            hash: v.hash,
            title: v.document.title,
            url: v.document.url,
            text_bytes: v.document.text.len(),
        });
        Ok(true)
    })?;
    if out.is_empty() && watch_info(st, id).is_err() {
        return Err(WebError::not_found(format!("no such watch `{id}`")));
    }
    Ok(out)
}

pub async fn versions(State(st): State<Shared>, Path(id): Path<String>) -> ApiResult {
    api(blocking(&st, move |st| Ok(Json(json!(versions_of(st, &id)?)))).await)
}

fn one_version(st: &WebState, id: &str, seq: u64) -> std::result::Result<Version, WebError> {
    st.live
        .engine()
        .store
        .version(watch_id(id)?, seq)?
        .ok_or_else(|| WebError::not_found(format!("no version {seq} of watch `{id}`")))
}

pub async fn version(
    State(st): State<Shared>,
    Path((id, seq)): Path<(String, String)>,
) -> ApiResult {
    api(blocking(&st, move |st| {
        let seq = seq
            .parse()
            .map_err(|_| WebError::bad_request("version: not a whole number"))?;
        Ok(Json(json!(one_version(st, &id, seq)?)))
    })
    .await)
}

#[derive(Debug, Default, Deserialize)]
pub struct DiffParams {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The diff of two versions, as `policywatch diff` computes it (defaults: the last two).
pub struct VersionDiff {
    pub from: Version,
    pub to: Version,
    pub changes: crate::text::diff::Changes,
}

pub fn version_diff(
    st: &WebState,
    id: &str,
    p: &DiffParams,
) -> std::result::Result<VersionDiff, WebError> {
    let id = watch_id(id)?;
    let seq = |key: &str, v: &Option<String>| -> std::result::Result<Option<u64>, WebError> {
        v.as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse()
                    .map_err(|_| WebError::bad_request(format!("{key}: not a version number")))
            })
            .transpose()
    };
    let latest = st
        .live
        .engine()
        .store
        .latest_seq(id)?
        .ok_or_else(|| WebError::not_found(format!("no stored version of watch `{id}`")))?;
    let to = seq("to", &p.to)?.unwrap_or(latest);
    let from = seq("from", &p.from)?.unwrap_or(to.saturating_sub(1).max(1));
    let (from, to) = (one_version(st, id, from)?, one_version(st, id, to)?);
    let changes = crate::text::diff::diff(&from.document.text, &to.document.text);
    Ok(VersionDiff { from, to, changes })
}

pub async fn diff(
    State(st): State<Shared>,
    Path(id): Path<String>,
    Query(p): Query<DiffParams>,
) -> ApiResult {
    api(blocking(&st, move |st| {
        let d = version_diff(st, &id, &p)?;
        let side = |v: &Version| json!({"seq": v.seq, "fetched_at": v.fetched_at, "hash": v.hash});
        Ok(Json(json!({
            "watch": d.to.watch,
            "from": side(&d.from),
            "to": side(&d.to),
            "summary": if d.changes.is_empty() { "no text differences".to_string() } else { d.changes.summary() },
            "unified": d.changes.unified,
        })))
    })
    .await)
}

#[derive(Debug, Default, Deserialize)]
pub struct PhraseParams {
    pub q: Option<String>,
    pub watch: Option<String>,
}

/// Phrase history for one watch, or every watch with versions.
pub fn phrase_changes(
    st: &WebState,
    p: &PhraseParams,
) -> std::result::Result<Vec<PhraseChange>, WebError> {
    let q = p.q.as_deref().unwrap_or("");
    let matcher = phrase_matcher(q)?;
    let engine = st.live.engine();
    let watches: Vec<String> = match p.watch.as_deref().filter(|w| !w.is_empty()) {
        Some(w) => vec![watch_id(w)?.to_string()],
        None => engine.all_watches()?.iter().map(|w| w.id.clone()).collect(),
    };
    let mut out = Vec::new();
    for w in watches {
        out.extend(phrase_history(engine.store.as_ref(), &w, &matcher)?);
    }
    Ok(out)
}

pub async fn phrase(State(st): State<Shared>, Query(p): Query<PhraseParams>) -> ApiResult {
    api(blocking(&st, move |st| {
        let changes = phrase_changes(st, &p)?;
        Ok(Json(json!({ "phrase": p.q, "changes": changes })))
    })
    .await)
}

pub async fn status(State(st): State<Shared>) -> ApiResult {
    api(blocking(&st, |st| Ok(Json(json!(st.live.status()?)))).await)
}

/// An outbox entry with what its alert is about.
#[derive(Serialize)]
pub struct OutboxRow {
    #[serde(flatten)]
    pub entry: crate::store::OutboxEntry,
    pub state: &'static str,
    pub watch: Option<String>,
    pub event: Option<String>,
    pub summary: Option<String>,
}

pub fn outbox_rows(st: &WebState) -> std::result::Result<Vec<OutboxRow>, WebError> {
    let store = st.live.engine().store;
    let mut rows = Vec::new();
    for entry in store.outbox()? {
        let record = store.change(entry.id)?;
        rows.push(OutboxRow {
            state: if entry.dead.is_some() {
                "dead"
            } else if entry.last_error.is_some() {
                "retrying"
            } else {
                "queued"
            },
            watch: record.as_ref().map(|r| r.alert.watch.clone()),
            event: record.as_ref().map(|r| r.alert.event.to_string()),
            summary: record.as_ref().map(|r| r.alert.summary.clone()),
            entry,
        });
    }
    Ok(rows)
}

pub async fn outbox(State(st): State<Shared>) -> ApiResult {
    api(blocking(&st, |st| Ok(Json(json!(outbox_rows(st)?)))).await)
}

pub async fn not_found() -> WebError {
    WebError::not_found("no such API path (see README: JSON API)").json()
}
