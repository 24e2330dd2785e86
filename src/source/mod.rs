//! Sources: fetch a watch's target and extract it into a normalised [`Document`]; compare two
//! documents of a kind into [`Event`](crate::data::Event)s. One submodule per kind, each
//! implementing [`SourceKind`]; [`registry`] is the one list of them.
//!
//! Extraction is synchronous and returns owned data (scraper's `Html` is not `Send`).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::config::SourceBase;
use crate::fetch::{Body, Fetched, Fetcher, Request};
use crate::watchlist::Watch;

pub mod api_json;
pub mod bill;
pub mod bill_search;
pub mod committee;
pub mod conditional;
pub mod documents;
pub mod feed;
pub mod govuk;
pub mod govuk_search;
pub mod hansard;
pub mod kind;
pub mod legislation_effects;
pub mod page;
pub mod parliament;
pub mod registry;
pub mod statutory_instruments;
pub mod written_questions;
pub mod written_statements;

pub use kind::{EventInfo, SourceKind};

/// The plain data a kind produces, defined in [`crate::data`].
pub use crate::data::{Document, FollowTarget};

/// One watch to observe in a cycle, with what the store knows of it.
#[derive(Debug, Clone)]
pub struct Job {
    pub watch: Arc<Watch>,
    /// Whether the watch has a stored version (a baseline).
    pub has_version: bool,
    /// The latest stored version's document, for the kinds that read it while observing
    /// ([`SourceKind::reads_previous`]); `None` for the others, whose previous version is only loaded
    /// once a changed document needs comparing.
    pub previous: Option<Document>,
    /// What the kind kept from its last run (validators, `lastUpdate`, refresh times).
    pub state: serde_json::Value,
}

/// What observing a watch found.
#[derive(Debug, Clone)]
pub struct Observed {
    pub outcome: Outcome,
    /// Replaces the job's `state` once the check is committed.
    pub state: serde_json::Value,
}

#[derive(Debug, Clone)]
pub enum Outcome {
    /// The source says nothing changed (304, or `lastUpdate` did not move): nothing to extract.
    Unchanged,
    Document(Document),
}

/// Everything a source needs from outside: HTTP, configuration, the time of the cycle.
#[derive(Clone)]
pub struct Context {
    pub fetcher: Arc<Fetcher>,
    pub config: Arc<Config>,
    pub now: DateTime<Utc>,
}

impl Context {
    /// The base URL configured for `base` in `[sources]`, else its default.
    pub fn base(&self, base: &SourceBase) -> url::Url {
        self.config.sources.url(base)
    }

    /// A plain GET (no validators; redirects only within the site or to `allow_redirects`):
    /// the body, or an error. No validators are sent, so a 304 is the server misbehaving.
    pub async fn get(
        &self,
        url: &url::Url,
        accept: &str,
        allow_redirects: &[String],
    ) -> crate::error::Result<Body> {
        let request = Request {
            url,
            validators: None,
            accept,
            allow_redirects,
        };
        match self.fetcher.get(request).await? {
            Fetched::Body(body) => Ok(body),
            Fetched::NotModified => Err(crate::error::Error::extract(
                url.as_str(),
                "unexpected 304 Not Modified",
            )),
        }
    }
}

/// A kind's structured `fields` of a stored document. `null` (a version stored before the
/// kind kept fields) reads as the empty value; anything else that does not decode is an
/// error for the watch, never an empty value (a search would then call every known
/// match new).
pub fn decode_fields<T: serde::de::DeserializeOwned + Default>(
    doc: &Document,
    what: &str,
) -> crate::error::Result<T> {
    if doc.fields.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(doc.fields.clone()).map_err(|e| {
        crate::error::Error::extract(
            doc.url.clone(),
            format!("the stored {what} cannot be read ({e}); was it written by a newer release?"),
        )
    })
}

/// What a kind kept from its last run (`Job::state`): `null` (never run) reads as the
/// empty value; anything else that does not decode is an error for the watch.
pub fn decode_state<T: serde::de::DeserializeOwned + Default>(
    job: &Job,
) -> crate::error::Result<T> {
    if job.state.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(job.state.clone()).map_err(|e| {
        crate::error::Error::extract(
            job.watch.id.clone(),
            format!("the stored state of the watch cannot be read ({e})"),
        )
    })
}

/// Whether two documents differ in a way the kind cares about (no new version otherwise).
pub fn same(previous: &Document, next: &Document) -> bool {
    previous == next
}
