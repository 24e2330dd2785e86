//! Watchlists: `watchlists/*.toml`, each a team's list of watches. Parsed and validated
//! once into immutable [`Watch`]es (parse → validate → use); every mistake is reported as
//! `file:line:col: message`.

use std::path::PathBuf;
use std::sync::Arc;

use regex::Regex;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::schedule::Schedule;

/// Every watchlist of a directory, validated.
#[derive(Debug, Clone, Default)]
pub struct Watchlists {
    pub lists: Vec<Watchlist>,
}

/// One watchlist file.
#[derive(Debug, Clone)]
pub struct Watchlist {
    pub name: String,
    pub file: PathBuf,
    pub schedule: Schedule,
    pub keywords: Vec<String>,
    pub channel: Option<u64>,
    pub mentions: Vec<Mention>,
    pub watches: Vec<Arc<Watch>>,
}

/// One watch, with the watchlist's defaults already applied.
#[derive(Debug, Clone)]
pub struct Watch {
    pub id: String,
    /// Name of the watchlist it belongs to.
    pub list: String,
    pub target: Target,
    pub schedule: Schedule,
    /// The watchlist's keywords followed by the watch's own.
    pub keywords: Vec<String>,
    pub channel: Option<u64>,
    pub mentions: Vec<Mention>,
    pub filter: TextFilter,
    /// For searches: start following each match as a watch of its own.
    pub follow: bool,
    /// Set on watches created by a search's `follow`: the search watch's id.
    pub followed_from: Option<String>,
    /// Hosts a redirect may lead to besides the watch's own site.
    pub allow_redirects: Vec<String>,
}

/// What a watch looks at, per kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Page { url: Url, mode: PageMode },
    Feed { url: Url },
    Bill { id: u32 },
    BillSearch(BillQuery),
    Govuk { path: String },
    GovukSearch(GovukQuery),
}

impl Target {
    /// The `kind` as written in a watchlist.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Page { .. } => "page",
            Target::Feed { .. } => "feed",
            Target::Bill { .. } => "bill",
            Target::BillSearch(_) => "bill_search",
            Target::Govuk { .. } => "govuk",
            Target::GovukSearch(_) => "govuk_search",
        }
    }
}

/// `page` watches compare readable text, or only the set of links (`mode = "links"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageMode {
    #[default]
    Text,
    Links,
}

/// A Bills API search and/or the all-bills RSS feed (`search = "slavery"` or a table).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BillQuery {
    /// `SearchTerm`; bills whose titles match.
    pub term: Option<String>,
    pub session: Option<u32>,
    /// `Commons`, `Lords` or `Unassigned`.
    pub house: Option<String>,
    pub bill_type: Option<u32>,
    /// Also read the all-bills RSS feed, keeping items whose title or long title matches `term`.
    pub rss: bool,
}

/// A GOV.UK Search API query (`search = "modern slavery"` or a table).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GovukQuery {
    pub keywords: Option<String>,
    /// Organisation slugs, e.g. `home-office`.
    pub organisations: Vec<String>,
    /// Content format / document types, e.g. `guidance`, `statutory_guidance`.
    pub document_types: Vec<String>,
    /// An organisation or finder Atom feed to read instead of / as well as the Search API.
    pub feed: Option<Url>,
}

/// What to keep of a page before comparing: `select` narrows it, `ignore_selectors` and
/// `ignore` patterns remove noise.
#[derive(Debug, Clone, Default)]
pub struct TextFilter {
    /// CSS selectors, validated at load time.
    pub select: Vec<String>,
    pub ignore_selectors: Vec<String>,
    /// Regexes; matching text is removed before comparison.
    pub ignore: Vec<Regex>,
}

/// Someone the watchlist asks to be pinged with its alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Mention {
    User(u64),
    Role(u64),
}

impl Watchlists {
    /// Every configured watch, in file order.
    pub fn watches(&self) -> impl Iterator<Item = &Arc<Watch>> {
        self.lists.iter().flat_map(|l| l.watches.iter())
    }

    pub fn find(&self, id: &str) -> Option<&Arc<Watch>> {
        self.watches().find(|w| w.id == id)
    }

    pub fn list(&self, name: &str) -> Option<&Watchlist> {
        self.lists.iter().find(|l| l.name == name)
    }
}

mod load;

pub use load::{load_dir, parse_file};
