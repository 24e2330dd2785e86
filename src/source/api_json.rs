//! The JSON APIs of Parliament (Bills, Committees, Statutory Instruments): one GET that
//! reads the body as `T`, with an error naming the API and the request when it is not what
//! the API documents.

use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use url::Url;

use crate::error::{Error, Result};
use crate::source::Context;

const ACCEPT_JSON: &str = "application/json, text/json;q=0.9";

/// GETs `url` and reads its JSON body as `T`; `api` names the API in the error
/// ("not a Committees API response: …").
pub async fn get_json<T: DeserializeOwned>(ctx: &Context, url: &Url, api: &str) -> Result<T> {
    // One request may serve many watches: only the API's own site.
    let body = ctx.get(url, ACCEPT_JSON, &[]).await?;
    serde_json::from_slice(&body.bytes)
        .map_err(|e| Error::extract(url.as_str(), format!("not a {api} response: {e}")))
}

/// A listing as these APIs page it (`SearchResult` of the Bills API, `ResourceCollection`
/// of the Committees and Statutory Instruments APIs): `{items, totalResults}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "T: Deserialize<'de>"))]
pub struct Collection<T> {
    #[serde(default, deserialize_with = "null_default")]
    pub items: Vec<T>,
    #[serde(default, deserialize_with = "null_default")]
    pub total_results: u64,
}

/// GETs one page of a listing and reads its items.
pub async fn get_items<T: DeserializeOwned>(ctx: &Context, url: &Url, api: &str) -> Result<Vec<T>> {
    Ok(get_json::<Collection<T>>(ctx, url, api).await?.items)
}

/// `null` read as the type's default (these APIs mark nearly every field nullable).
pub fn null_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The calendar day of an API date-time (`2024-12-17T10:15:00`, UK local time, no zone).
pub fn day(s: Option<&str>) -> Option<NaiveDate> {
    crate::source::bill::api::day(s?)
}

/// "13 March 2024", or "no date".
pub fn long_day(d: Option<NaiveDate>) -> String {
    d.map_or_else(
        || "no date".to_string(),
        crate::source::bill::api::long_date,
    )
}

/// Today in the UK: deadlines and coming-into-force dates are UK calendar days.
pub fn uk_today(now: chrono::DateTime<chrono::Utc>) -> NaiveDate {
    now.with_timezone(&chrono_tz::Europe::London).date_naive()
}
