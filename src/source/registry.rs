//! The one list of source kinds. Adding a kind: write its module under `source/`, then add
//! one line to [`KINDS`].

use std::sync::LazyLock;

use crate::config::SourceBase;
use crate::error::{Error, Result};
use crate::watchlist::{KindSyntax, Kinds, Watch};

use super::kind::SourceKind;
use super::{
    bill, bill_search, committee, feed, govuk, govuk_search, legislation_effects, page,
    statutory_instruments,
};

/// A registered kind, seen as both of its faces.
pub struct Registered {
    pub kind: &'static dyn SourceKind,
    syntax: &'static dyn KindSyntax,
}

const fn register<K: SourceKind>(kind: &'static K) -> Registered {
    Registered { kind, syntax: kind }
}

/// Every kind, in the order `kinds` and error messages list them.
static KINDS: &[Registered] = &[
    register(&page::PageKind),
    register(&feed::FeedKind),
    register(&bill::BillKind),
    register(&bill_search::BillSearchKind),
    register(&govuk::GovukKind),
    register(&govuk_search::GovukSearchKind),
    register(&committee::CommitteeKind),
    register(&statutory_instruments::StatutoryInstrumentsKind),
    register(&legislation_effects::LegislationEffectsKind),
    register(&super::written_questions::WrittenQuestionsKind),
    register(&super::written_statements::WrittenStatementsKind),
    register(&super::hansard::HansardKind),
];

static SYNTAX: LazyLock<Vec<&'static dyn KindSyntax>> =
    LazyLock::new(|| KINDS.iter().map(|r| r.syntax).collect());

/// Every registered kind.
pub fn all() -> impl Iterator<Item = &'static dyn SourceKind> {
    KINDS.iter().map(|r| r.kind)
}

/// The kinds as the watchlist loader takes them.
pub fn kinds() -> Kinds<'static> {
    Kinds(&SYNTAX)
}

/// The kind called `name`.
pub fn find(name: &str) -> Option<&'static dyn SourceKind> {
    all().find(|k| k.name() == name)
}

/// The kind of a watch (always registered: its target was parsed by that kind).
pub fn of(watch: &Watch) -> Result<&'static dyn SourceKind> {
    find(watch.target.kind()).ok_or_else(|| {
        Error::extract(
            watch.id.clone(),
            format!("no source kind `{}` is registered", watch.target.kind()),
        )
    })
}

/// Every `[sources]` key a kind reads, once each, in registry order.
pub fn bases() -> Vec<&'static SourceBase> {
    let mut out: Vec<&'static SourceBase> = Vec::new();
    for b in all().flat_map(|k| k.bases()) {
        if !out.iter().any(|o| o.key == b.key) {
            out.push(b);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_defaults_parse() {
        let names: Vec<&str> = all().map(|k| k.name()).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        for b in bases() {
            assert!(url::Url::parse(b.default).is_ok(), "{}", b.key);
        }
        for k in all() {
            for e in k.events() {
                assert!(e.name.contains('.'), "{}", e.name);
            }
        }
    }
}
