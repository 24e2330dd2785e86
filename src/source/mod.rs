//! Sources: fetch a watch's target and extract it into a normalised [`Document`]; compare two
//! documents of a kind into [`Event`](crate::event::Event)s. One submodule per kind, each
//! implementing [`SourceKind`]; [`registry`] is the one list of them.
//!
//! Extraction is synchronous and returns owned data (scraper's `Html` is not `Send`).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::config::SourceBase;
use crate::fetch::Fetcher;
use crate::watchlist::Watch;

pub mod bill;
pub mod bill_search;
pub mod conditional;
pub mod feed;
pub mod govuk;
pub mod govuk_search;
pub mod html_text;
pub mod kind;
pub mod page;
pub mod registry;

pub use kind::{EventInfo, SourceKind};

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

/// Whether two documents differ in a way the kind cares about (no new version otherwise).
pub fn same(previous: &Document, next: &Document) -> bool {
    previous == next
}
