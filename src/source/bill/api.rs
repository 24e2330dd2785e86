//! The UK Parliament Bills API (`/api/v1/...`, see the OpenAPI description): response shapes,
//! endpoint URLs, and JSON fetching with errors that say which request failed and why.
//!
//! Shapes are lenient: the API marks most fields nullable, so every field defaults and a
//! `null` where a list or flag is expected reads as empty / false.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::London;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use url::Url;

use crate::config::SourceBase;
use crate::error::{Error, Result};
use crate::source::api_json::{null_default, Collection};
use crate::source::bill_search::BillQuery;
use crate::source::Context;

/// `[sources] parliament_bills`.
pub const BILLS_API: SourceBase = SourceBase {
    key: "parliament_bills",
    default: "https://bills-api.parliament.uk/",
    meaning: "UK Parliament Bills API",
};

/// `[sources] parliament_bills_site`: the human site, for links.
pub const BILLS_SITE: SourceBase = SourceBase {
    key: "parliament_bills_site",
    default: "https://bills.parliament.uk/",
    meaning: "UK Parliament Bills web site (links to bills)",
};

/// Items per page: the size the API serves by default and documents as its page.
pub const PAGE: usize = 20;

/// Pages read from one paged listing at most; a hostile or broken `totalResults` must not
/// keep a cycle paging for ever (20 × 50 = 1,000 items).
pub const MAX_PAGES: usize = 50;

/// The public page of a bill (the web site, not the API).
pub fn public_url(bill_id: u32) -> String {
    format!("https://bills.parliament.uk/bills/{bill_id}")
}

/// A page of a listing (`...SearchResult` in the OpenAPI description).
pub type SearchResult<T> = Collection<T>;

/// `BillSummary`: what `/api/v1/Bills` lists.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BillSummary {
    pub bill_id: u32,
    pub short_title: Option<String>,
    pub former_short_title: Option<String>,
    pub current_house: Option<String>,
    pub originating_house: Option<String>,
    /// UK local time without a timezone (see [`uk_local_to_utc`]).
    pub last_update: Option<String>,
    pub bill_withdrawn: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub is_defeated: bool,
    pub bill_type_id: Option<u32>,
    pub introduced_session_id: Option<u32>,
    #[serde(deserialize_with = "null_default")]
    pub included_session_ids: Vec<u32>,
    #[serde(deserialize_with = "null_default")]
    pub is_act: bool,
    pub current_stage: Option<StageSummary>,
}

/// `Bill`: `/api/v1/Bills/{id}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BillDetail {
    #[serde(flatten)]
    pub bill: BillSummary,
    #[serde(default)]
    pub long_title: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub sponsors: Vec<Sponsor>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Sponsor {
    pub member: Option<Member>,
    pub organisation: Option<Organisation>,
    pub sort_order: i32,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Member {
    pub name: Option<String>,
    pub party: Option<String>,
    pub house: Option<String>,
    pub member_from: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Organisation {
    pub name: Option<String>,
}

/// `StageSummary`: a stage a bill has reached, in a house, with its sittings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StageSummary {
    /// The bill stage's own id (`billStageId` in sittings).
    pub id: u32,
    /// The kind of stage (`/api/v1/Stages`): 11 is Royal Assent.
    pub stage_id: u32,
    pub session_id: Option<u32>,
    pub description: Option<String>,
    pub house: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub stage_sittings: Vec<Sitting>,
    pub sort_order: i32,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Sitting {
    pub id: u32,
    pub date: Option<String>,
}

/// `BillPublicationList`: `/api/v1/Bills/{id}/Publications` (not paged).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PublicationList {
    #[serde(deserialize_with = "null_default")]
    pub publications: Vec<Publication>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Publication {
    pub id: u32,
    pub title: Option<String>,
    pub publication_type: Option<PublicationType>,
    pub display_date: Option<String>,
    pub house: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub links: Vec<PublicationLink>,
    #[serde(deserialize_with = "null_default")]
    pub files: Vec<PublicationFile>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PublicationType {
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PublicationLink {
    pub title: Option<String>,
    pub url: Option<String>,
    pub content_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PublicationFile {
    pub id: u32,
    pub filename: Option<String>,
    pub content_type: Option<String>,
}

/// Names of the bill types (`/api/v1/BillTypes`, a short, stable reference list), so a
/// bill reads "Government Bill" rather than "type 1".
pub fn bill_type_name(id: u32) -> Option<&'static str> {
    Some(match id {
        1 => "Government Bill",
        2 => "Private Members' Bill (Starting in the House of Lords)",
        3 => "Consolidation Bill",
        4 => "Hybrid Bill",
        5 => "Private Members' Bill (under the Ten Minute Rule)",
        6 => "Private Bill",
        7 => "Private Members' Bill (Ballot Bill)",
        8 => "Private Members' Bill (Presentation Bill)",
        9 => "Draft Bill",
        _ => return None,
    })
}

/// A Bills API date-time read as UK local time (the API gives none), in UTC. Values that do
/// carry an offset are taken as they are. In the autumn fold the earlier instant is used; a
/// time in the spring gap is read an hour later, as clocks show it.
pub fn uk_local_to_utc(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .ok()?;
    let local = London.from_local_datetime(&naive).earliest().or_else(|| {
        London
            .from_local_datetime(&(naive + chrono::Duration::hours(1)))
            .earliest()
    })?;
    Some(local.with_timezone(&Utc))
}

/// The calendar day of a Bills API date-time (sittings and publications are days).
pub fn day(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

/// "13 March 2024".
pub fn long_date(d: NaiveDate) -> String {
    d.format("%-d %B %Y").to_string()
}

/// `base` + a path under it, whether or not the configured base ends in a slash (a mirror
/// may live under a path prefix).
pub fn endpoint(base: &Url, path: &str) -> Result<Url> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        let with_slash = format!("{}/", base.path());
        base.set_path(&with_slash);
    }
    base.join(path)
        .map_err(|e| Error::extract(base.as_str(), format!("cannot build `{path}`: {e}")))
}

/// `/api/v1/Bills?BillIds=..&Skip=..&Take=20`: summaries of up to a page of bills.
pub fn summaries_url(base: &Url, ids: &[u32], skip: usize) -> Result<Url> {
    let mut url = endpoint(base, "api/v1/Bills")?;
    {
        let mut q = url.query_pairs_mut();
        for id in ids {
            q.append_pair("BillIds", &id.to_string());
        }
        q.append_pair("Skip", &skip.to_string());
        q.append_pair("Take", &PAGE.to_string());
    }
    Ok(url)
}

/// `/api/v1/Bills?SearchTerm=..&Session=..&CurrentHouse=..&BillType=..&Skip=..&Take=20`.
pub fn search_url(base: &Url, query: &BillQuery, skip: usize) -> Result<Url> {
    let mut url = endpoint(base, "api/v1/Bills")?;
    {
        let mut q = url.query_pairs_mut();
        if let Some(term) = query.term.as_deref().filter(|t| !t.trim().is_empty()) {
            q.append_pair("SearchTerm", term.trim());
        }
        if let Some(session) = query.session {
            q.append_pair("Session", &session.to_string());
        }
        if let Some(house) = &query.house {
            q.append_pair("CurrentHouse", house);
        }
        if let Some(t) = query.bill_type {
            q.append_pair("BillType", &t.to_string());
        }
        // Newest first, so the first page is the one a new bill lands on.
        q.append_pair("SortOrder", "DateUpdatedDescending");
        q.append_pair("Skip", &skip.to_string());
        q.append_pair("Take", &PAGE.to_string());
    }
    Ok(url)
}

pub fn detail_url(base: &Url, id: u32) -> Result<Url> {
    endpoint(base, &format!("api/v1/Bills/{id}"))
}

pub fn stages_url(base: &Url, id: u32, skip: usize) -> Result<Url> {
    let mut url = endpoint(base, &format!("api/v1/Bills/{id}/Stages"))?;
    url.query_pairs_mut()
        .append_pair("Skip", &skip.to_string())
        .append_pair("Take", &PAGE.to_string());
    Ok(url)
}

pub fn publications_url(base: &Url, id: u32) -> Result<Url> {
    endpoint(base, &format!("api/v1/Bills/{id}/Publications"))
}

/// GETs a URL and reads its JSON body as `T`.
pub async fn get_json<T: DeserializeOwned>(ctx: &Context, url: &Url) -> Result<T> {
    crate::source::api_json::get_json(ctx, url, "Bills API").await
}

/// Every page of a paged listing: `url_for(skip)` until `totalResults` is reached, a page
/// comes back short, or [`MAX_PAGES`].
pub async fn all_pages<T, F>(ctx: &Context, url_for: F) -> Result<Vec<T>>
where
    T: DeserializeOwned,
    F: Fn(usize) -> Result<Url>,
{
    let mut items = Vec::new();
    for _ in 0..MAX_PAGES {
        let url = url_for(items.len())?;
        let page: SearchResult<T> = get_json(ctx, &url).await?;
        let got = page.items.len();
        items.extend(page.items);
        if got == 0 || items.len() as u64 >= page.total_results {
            break;
        }
    }
    Ok(items)
}

/// Summaries of the given bills (at most a page of ids per call, so one request).
pub async fn summaries(ctx: &Context, ids: &[u32]) -> Result<Vec<BillSummary>> {
    let base = &ctx.base(&BILLS_API);
    all_pages(ctx, |skip| summaries_url(base, ids, skip)).await
}

/// A bill's detail; a 404 says plainly that the bill is not there.
pub async fn detail(ctx: &Context, id: u32) -> Result<BillDetail> {
    let url = detail_url(&ctx.base(&BILLS_API), id)?;
    get_json(ctx, &url)
        .await
        .map_err(|e| not_found_as_such(e, id, &url))
}

pub async fn stages(ctx: &Context, id: u32) -> Result<Vec<StageSummary>> {
    let base = &ctx.base(&BILLS_API);
    all_pages(ctx, |skip| stages_url(base, id, skip))
        .await
        .map_err(|e| match stages_url(base, id, 0) {
            Ok(url) => not_found_as_such(e, id, &url),
            Err(_) => e,
        })
}

pub async fn publications(ctx: &Context, id: u32) -> Result<Vec<Publication>> {
    let url = publications_url(&ctx.base(&BILLS_API), id)?;
    let list: PublicationList = get_json(ctx, &url)
        .await
        .map_err(|e| not_found_as_such(e, id, &url))?;
    Ok(list.publications)
}

/// Every page of a Bills API search.
pub async fn search(ctx: &Context, query: &BillQuery) -> Result<Vec<BillSummary>> {
    let base = &ctx.base(&BILLS_API);
    all_pages(ctx, |skip| search_url(base, query, skip)).await
}

fn not_found_as_such(e: Error, id: u32, url: &Url) -> Error {
    match &e {
        Error::Fetch(f) if f.status() == Some(404) => not_found(id, url),
        _ => e,
    }
}

/// The error of a bill the API does not know (a wrong id, or a bill removed).
pub fn not_found(id: u32, url: &Url) -> Error {
    Error::extract(
        url.as_str(),
        format!("bill {id} is not on the Bills API (not found); check the bill id"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_update_is_uk_local_time() {
        // Summer: BST is UTC+1.
        let t = uk_local_to_utc("2024-07-12T23:17:31.2836411").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-07-12T22:17:31.283641100+00:00");
        // Winter: GMT.
        let t = uk_local_to_utc("2024-03-12T23:17:31.2836411").unwrap();
        assert_eq!(
            t.format("%Y-%m-%dT%H:%M:%S").to_string(),
            "2024-03-12T23:17:31"
        );
        // Autumn fold: 01:30 happens twice; the first (BST) is taken.
        let t = uk_local_to_utc("2024-10-27T01:30:00").unwrap();
        assert_eq!(t.format("%H:%M").to_string(), "00:30");
        // Spring gap: 01:30 does not exist; read as 02:30 BST.
        let t = uk_local_to_utc("2024-03-31T01:30:00").unwrap();
        assert_eq!(t.format("%H:%M").to_string(), "01:30");
        assert!(uk_local_to_utc("yesterday").is_none());
    }

    #[test]
    fn endpoints_keep_a_base_path_and_repeat_array_parameters() {
        let base = Url::parse("http://mirror.example/bills").unwrap();
        let url = summaries_url(&base, &[3548, 512], 0).unwrap();
        assert_eq!(
            url.as_str(),
            "http://mirror.example/bills/api/v1/Bills?BillIds=3548&BillIds=512&Skip=0&Take=20"
        );
        let q = BillQuery {
            term: Some("modern slavery".into()),
            session: Some(38),
            house: Some("Commons".into()),
            bill_type: Some(1),
            rss: false,
        };
        let url = search_url(&Url::parse("http://h/").unwrap(), &q, 20).unwrap();
        assert_eq!(
            url.query(),
            Some("SearchTerm=modern+slavery&Session=38&CurrentHouse=Commons&BillType=1&SortOrder=DateUpdatedDescending&Skip=20&Take=20")
        );
    }

    #[test]
    fn nulls_read_as_empty() {
        let s: BillSummary = serde_json::from_str(
            r#"{"billId": 1, "isDefeated": null, "includedSessionIds": null, "currentStage": null}"#,
        )
        .unwrap();
        assert!(!s.is_defeated && s.included_session_ids.is_empty() && s.current_stage.is_none());
    }
}
