//! Sources: fetch a watch's target and extract it into a normalised [`Document`]; compare two
//! documents of a kind into typed [`Event`]s. One submodule per kind; this module only
//! dispatches.
//!
//! Extraction is synchronous and returns owned data (scraper's `Html` is not `Send`).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::fetch::Fetcher;
use crate::watchlist::{Target, Watch};

pub mod bill;
pub mod bill_search;
pub mod conditional;
pub mod feed;
pub mod govuk;
pub mod govuk_search;
pub mod html_text;
pub mod page;

/// A watched document, normalised: what is stored as a version, diffed and exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub title: String,
    pub url: String,
    /// Canonical readable text: what `diff` and `history` show. Equal text means no change
    /// for text-based kinds.
    pub text: String,
    /// Kind-specific structured fields (bill stages, change notes, feed entries, links).
    #[serde(default)]
    pub fields: serde_json::Value,
}

/// One watch to observe in a cycle, with what the store knows of it.
#[derive(Debug, Clone)]
pub struct Job {
    pub watch: Arc<Watch>,
    /// Whether the watch has a stored version (a baseline).
    pub has_version: bool,
    /// The latest stored version's document, for the kinds that read it while observing
    /// ([`reads_previous`]); `None` for the others, whose previous version is only loaded
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

/// A watch that a search asks to follow (`follow = true`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowTarget {
    /// Id for the new watch, derived from the target so it is stable (e.g. `bill-3548`).
    pub id: String,
    /// `bill` or `govuk`.
    pub kind: String,
    /// Bill id for `bill`, path for `govuk`.
    pub target: String,
    /// Human title, for `status`.
    pub title: String,
}

/// Observes one job of any kind but `bill` (bills are observed together, in batches, by
/// [`bill::observe_batch`]).
pub async fn observe_one(ctx: &Context, job: &Job) -> Result<Observed> {
    match &job.watch.target {
        Target::Page { .. } => page::observe(ctx, job).await,
        Target::Feed { .. } => feed::observe(ctx, job).await,
        Target::BillSearch(_) => bill_search::observe(ctx, job).await,
        Target::Govuk { .. } => govuk::observe(ctx, job).await,
        Target::GovukSearch(_) => govuk_search::observe(ctx, job).await,
        Target::Bill { .. } => Err(Error::extract(
            job.watch.id.clone(),
            "bill watches are observed in batches",
        )),
    }
}

/// Kinds whose observation reads the previous document (searches carry their known
/// matches forward; GOV.UK keeps a page's title through a redirect). The others are
/// spared decoding a stored version on every check that turns out unchanged.
pub fn reads_previous(target: &Target) -> bool {
    matches!(
        target,
        Target::BillSearch(_) | Target::GovukSearch(_) | Target::Govuk { .. }
    )
}

/// Whether two documents differ in a way the kind cares about (no new version otherwise).
pub fn same(previous: &Document, next: &Document) -> bool {
    previous == next
}

/// The events between two versions of a watch's document.
pub fn compare(watch: &Watch, previous: &Document, next: &Document) -> Vec<Event> {
    match &watch.target {
        Target::Page { .. } => page::compare(watch, previous, next),
        Target::Feed { .. } => feed::compare(watch, previous, next),
        Target::Bill { .. } => bill::compare(watch, previous, next),
        Target::BillSearch(_) => bill_search::compare(watch, previous, next),
        Target::Govuk { .. } => govuk::compare(watch, previous, next),
        Target::GovukSearch(_) => govuk_search::compare(watch, previous, next),
    }
}

/// Watches a search's document asks to follow (only consulted when `follow = true`).
pub fn follows(watch: &Watch, document: &Document) -> Vec<FollowTarget> {
    match &watch.target {
        Target::BillSearch(_) => bill_search::follows(document),
        Target::GovukSearch(_) => govuk_search::follows(document),
        _ => Vec::new(),
    }
}
