//! Watchlists: `watchlists/*.toml`, each a team's list of watches. Parsed and validated
//! once into immutable [`Watch`]es (parse → validate → use); every mistake is reported as
//! `file:line:col: message`.

use std::path::PathBuf;
use std::sync::Arc;

use regex::Regex;

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
    /// `[[route]]`s, in file order; none: every alert goes to its own destination.
    pub routes: Vec<route::Route>,
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
    /// Where a watchlist defines it, `file:line` (`None` for a followed watch).
    pub origin: Option<String>,
    /// Hosts a redirect may lead to besides the watch's own site.
    pub allow_redirects: Vec<String>,
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

pub mod css;
mod kind;
mod load;
mod reader;
pub mod route;

pub use crate::data::Mention;
pub use kind::{KindKeys, KindSyntax, KindTarget, Kinds, Target};
pub use load::{load_dir, parse_file};
