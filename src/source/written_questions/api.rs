//! The Written Questions API (`<questions_statements>api/writtenquestions/questions`): its
//! rows, decoded leniently (every field may be `null` or absent), and the URLs asked for.

use chrono::NaiveDate;
use serde::Deserialize;
use url::Url;

use crate::error::Result;
use crate::source::parliament::{self, endpoint, ExpandedMember, House, Page};

pub const API: &str = "the Written Questions API";

/// `/writtenquestions/questions` (`{totalResults, results}`). mySociety's cache keeps only
/// the `results` array, so a bare array is accepted too.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum List {
    Envelope {
        #[serde(rename = "totalResults")]
        total_results: Option<usize>,
        results: Option<Vec<Item>>,
    },
    Bare(Vec<Item>),
}

impl List {
    pub fn page(self) -> Page<Row> {
        match self {
            List::Envelope {
                total_results,
                results,
            } => Page {
                items: results
                    .unwrap_or_default()
                    .into_iter()
                    .map(|i| i.value)
                    .collect(),
                total: total_results,
            },
            List::Bare(items) => Page {
                items: items.into_iter().map(|i| i.value).collect(),
                total: None,
            },
        }
    }
}

/// A list row and the single-question response share this shape, `{value, links}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Item {
    pub value: Row,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Row {
    pub id: Option<u32>,
    pub asking_member_id: Option<u32>,
    pub asking_member: Option<ExpandedMember>,
    pub house: Option<String>,
    pub date_tabled: Option<String>,
    pub date_for_answer: Option<String>,
    pub uin: Option<String>,
    pub question_text: Option<String>,
    pub answering_body_id: Option<u32>,
    pub answering_body_name: Option<String>,
    pub is_withdrawn: Option<bool>,
    pub answer_is_holding: Option<bool>,
    pub answering_member_id: Option<u32>,
    pub answering_member: Option<ExpandedMember>,
    pub correcting_member_id: Option<u32>,
    pub correcting_member: Option<ExpandedMember>,
    pub date_answered: Option<String>,
    pub answer_text: Option<String>,
    pub date_answer_corrected: Option<String>,
    pub date_holding_answer: Option<String>,
    pub heading: Option<String>,
    pub attachments: Option<Vec<RowAttachment>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RowAttachment {
    pub url: Option<String>,
    pub title: Option<String>,
    pub file_type: Option<String>,
}

/// Which date a list query filters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    Tabled(NaiveDate),
    Corrected(NaiveDate),
}

/// What a list query asks for besides the date.
#[derive(Debug, Clone, Default)]
pub struct Filters<'a> {
    pub search_term: Option<&'a str>,
    pub answering_body: Option<u32>,
    pub house: Option<House>,
    pub uin: Option<&'a str>,
}

/// `api/writtenquestions/questions?searchTerm=&answeringBodies=&house=&tabledWhenFrom=|
/// correctedWhenFrom=&expandMember=true&skip=&take=`.
pub fn list_url(base: &Url, f: &Filters, since: Option<Since>, skip: usize) -> Result<Url> {
    let mut extra = Vec::new();
    if let Some(u) = f.uin {
        extra.push(("uIN", u.to_string()));
    }
    match since {
        Some(Since::Tabled(d)) => extra.push(("tabledWhenFrom", d.to_string())),
        Some(Since::Corrected(d)) => extra.push(("correctedWhenFrom", d.to_string())),
        None => {}
    }
    parliament::list_url(
        base,
        "api/writtenquestions/questions",
        f.search_term,
        f.answering_body,
        f.house,
        &extra,
        skip,
    )
}

/// `api/writtenquestions/questions/{id}?expandMember=true`: one question in full (list rows
/// cut long texts).
pub fn detail_url(base: &Url, id: u32) -> Result<Url> {
    let mut url = endpoint(base, &format!("api/writtenquestions/questions/{id}"))?;
    url.query_pairs_mut().append_pair("expandMember", "true");
    Ok(url)
}

/// The question's page on the public site.
pub fn public_url(tabled: Option<NaiveDate>, uin: &str) -> String {
    match tabled {
        Some(d) => {
            format!("https://questions-statements.parliament.uk/written-questions/detail/{d}/{uin}")
        }
        None => "https://questions-statements.parliament.uk/written-questions".to_string(),
    }
}
