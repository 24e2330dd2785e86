//! The UK Parliament Committees API (`/api/...`, see `parliament-committees.openapi.json`):
//! the response shapes read, lenient (every field defaults, `null` reads as empty), and the
//! requests made.

use serde::Deserialize;
use url::Url;

use crate::error::{Error, Result};
pub use crate::source::api_json::Collection;
use crate::source::api_json::{get_items, null_default};
use crate::source::bill::api::endpoint;
use crate::source::Context;

/// Items asked for per listing: the newest page is where anything new lands.
pub const TAKE: usize = 50;

const API: &str = "Committees API";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CommitteeSummary {
    pub id: u64,
    pub name: Option<String>,
    pub house: Option<String>,
}

/// `CommitteeBusinessSummary`: an inquiry (or other business) of a committee.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Business {
    pub id: u64,
    pub title: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<BusinessType>,
    pub open_date: Option<String>,
    pub close_date: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub open_submission_periods: Vec<SubmissionPeriod>,
    #[serde(deserialize_with = "null_default")]
    pub closed_submission_periods: Vec<SubmissionPeriod>,
    pub next_oral_evidence_session: Option<Activity>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BusinessType {
    pub name: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub is_inquiry: bool,
}

/// `SubmissionPeriodSummary`: a call for evidence and its deadline.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubmissionPeriod {
    pub id: u64,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    /// `OralEvidence`, `WrittenEvidence` or `Petition`.
    pub submission_type: Option<String>,
}

/// `ActivitySummary`: a scheduled session, with who attends.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Activity {
    pub id: u64,
    pub name: Option<String>,
    pub start_date: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub is_private: bool,
    #[serde(deserialize_with = "null_default")]
    pub attendees: Vec<Person>,
}

/// `ActivityPerson` / `Submitter`: a witness, possibly for organisations.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Person {
    pub name: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub organisations: Vec<Organisation>,
    pub additional_context: Option<String>,
}

impl Person {
    /// "Jane Doe (Director, Anti-Slavery International)".
    pub fn describe(&self) -> String {
        let name = self.name.clone().unwrap_or_default();
        let orgs: Vec<String> = self
            .organisations
            .iter()
            .filter_map(|o| {
                let n = o.name.as_deref()?.trim();
                Some(
                    match o.role.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
                        Some(role) => format!("{role}, {n}"),
                        None => n.to_string(),
                    },
                )
            })
            .collect();
        match (name.trim().is_empty(), orgs.is_empty()) {
            (_, true) => name.trim().to_string(),
            (true, false) => orgs.join("; "),
            (false, false) => format!("{} ({})", name.trim(), orgs.join("; ")),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Organisation {
    pub name: Option<String>,
    pub role: Option<String>,
}

/// `Publication`: a report, government response, correspondence, evidence…
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Publication {
    pub id: u64,
    pub description: Option<String>,
    pub publication_start_date: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<PublicationType>,
    #[serde(deserialize_with = "null_default")]
    pub documents: Vec<DocumentFiles>,
    pub hc_number: Option<PaperNumber>,
    pub hl_paper: Option<PaperNumber>,
    pub additional_content_url: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub businesses: Vec<Business>,
    pub committee: Option<CommitteeSummary>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PublicationType {
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PaperNumber {
    pub number: Option<String>,
}

/// `Document`: one document of a publication, in one or more file formats.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DocumentFiles {
    pub document_id: u64,
    #[serde(deserialize_with = "null_default")]
    pub files: Vec<DocumentFile>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DocumentFile {
    pub file_name: Option<String>,
    pub file_size: Option<u64>,
    pub file_data_format: Option<String>,
}

/// `WrittenEvidence`: a published submission.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WrittenEvidence {
    pub id: u64,
    pub publication_date: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub witnesses: Vec<Person>,
    pub committee_business: Option<Business>,
    pub internal_reference: Option<String>,
}

fn listing(base: &Url, path: &str, params: &[(&str, String)]) -> Result<Url> {
    let mut url = endpoint(base, path)?;
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    Ok(url)
}

/// The committee a watch names: an id as it is, a name looked up (`/api/Committees`).
pub async fn resolve_committee(ctx: &Context, base: &Url, key: &str) -> Result<(u64, String)> {
    let key = key.trim();
    if let Ok(id) = key.parse::<u64>() {
        return Ok((id, format!("committee {id}")));
    }
    let url = listing(
        base,
        "api/Committees",
        &[("SearchTerm", key.to_string()), ("Take", TAKE.to_string())],
    )?;
    let found: Vec<CommitteeSummary> = get_items(ctx, &url, API).await?;
    let named = |c: &CommitteeSummary| c.name.clone().unwrap_or_default();
    if let Some(c) = found
        .iter()
        .find(|c| named(c).trim().eq_ignore_ascii_case(key))
    {
        return Ok((c.id, named(c)));
    }
    match found.as_slice() {
        [one] => Ok((one.id, named(one))),
        [] => Err(Error::extract(
            url.as_str(),
            format!("no committee is named `{key}`; give its id or its exact name"),
        )),
        many => Err(Error::extract(
            url.as_str(),
            format!(
                "`{key}` names {} committees ({}); give the id or the exact name",
                many.len(),
                many.iter()
                    .take(5)
                    .map(|c| format!("{} = {}", c.id, named(c)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

fn filters(committee: Option<u64>, search: Option<&str>) -> Vec<(&'static str, String)> {
    let mut p = Vec::new();
    if let Some(id) = committee {
        p.push(("CommitteeId", id.to_string()));
    }
    if let Some(s) = search {
        p.push(("SearchTerm", s.to_string()));
    }
    p
}

/// `/api/CommitteeBusiness`: inquiries, newest opened first.
pub fn business_url(base: &Url, committee: Option<u64>, search: Option<&str>) -> Result<Url> {
    let mut p = filters(committee, search);
    p.push(("SortOrder", "DateOpenedNewest".into()));
    p.push(("Take", TAKE.to_string()));
    listing(base, "api/CommitteeBusiness", &p)
}

/// `/api/Publications`: newest published first.
pub fn publications_url(base: &Url, committee: Option<u64>, search: Option<&str>) -> Result<Url> {
    let mut p = filters(committee, search);
    p.push(("SortOrder", "PublicationDateDescending".into()));
    p.push(("Take", TAKE.to_string()));
    listing(base, "api/Publications", &p)
}

/// `/api/WrittenEvidence`: published submissions.
pub fn written_evidence_url(
    base: &Url,
    committee: Option<u64>,
    search: Option<&str>,
) -> Result<Url> {
    let mut p = filters(committee, search);
    p.push(("Take", TAKE.to_string()));
    listing(base, "api/WrittenEvidence", &p)
}

pub async fn businesses(ctx: &Context, url: &Url) -> Result<Vec<Business>> {
    get_items(ctx, url, API).await
}

pub async fn publications(ctx: &Context, url: &Url) -> Result<Vec<Publication>> {
    get_items(ctx, url, API).await
}

pub async fn written_evidence(ctx: &Context, url: &Url) -> Result<Vec<WrittenEvidence>> {
    get_items(ctx, url, API).await
}

/// Where the API serves a publication's document (what `documents = true` fetches).
pub fn document_url(base: &Url, publication: u64, document: u64) -> Result<Url> {
    endpoint(
        base,
        &format!("api/Publications/{publication}/Document/{document}/OriginalFormat"),
    )
}

/// Where the API serves a written submission as PDF.
pub fn written_evidence_document_url(base: &Url, id: u64) -> Result<Url> {
    endpoint(base, &format!("api/WrittenEvidence/{id}/Document/Pdf"))
}
