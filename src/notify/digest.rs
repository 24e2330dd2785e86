//! What every sink's digest shares: the order (major first, then by watchlist and watch,
//! then detection order), the counts per event type, and the grouping by watchlist and
//! watch. How a digest looks and how it is cut into messages is each sink's.

use std::collections::BTreeMap;

use crate::data::Severity;
use crate::store::ChangeRecord;

/// A digest's contents, ready to render.
#[derive(Debug, Clone)]
pub struct Digest<'a> {
    pub total: usize,
    pub major: usize,
    /// `(event, count)`, most frequent first, then by name.
    pub counts: Vec<(String, usize)>,
    /// Alerts in digest order.
    pub items: Vec<&'a ChangeRecord>,
}

/// Puts the records in digest order and counts them.
pub fn digest(records: &[ChangeRecord]) -> Digest<'_> {
    let mut items: Vec<&ChangeRecord> = records.iter().collect();
    items.sort_by(|a, b| {
        let (a, b) = (&a.alert, &b.alert);
        (b.severity == Severity::Major)
            .cmp(&(a.severity == Severity::Major))
            .then_with(|| a.watchlist.cmp(&b.watchlist))
            .then_with(|| a.watch.cmp(&b.watch))
            .then_with(|| a.id.cmp(&b.id))
    });
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in records {
        *counts.entry(r.alert.event.as_str()).or_default() += 1;
    }
    let mut counts: Vec<(String, usize)> = counts
        .into_iter()
        .map(|(e, n)| (e.to_string(), n))
        .collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Digest {
        total: records.len(),
        major: records
            .iter()
            .filter(|r| r.alert.severity == Severity::Major)
            .count(),
        counts,
        items,
    }
}

impl Digest<'_> {
    /// "48 alerts (3 major): page.changed 40, govuk.major_update 5, bill.stage_changed 3".
    pub fn headline(&self) -> String {
        let counts: Vec<String> = self
            .counts
            .iter()
            .map(|(e, n)| format!("{e} {n}"))
            .collect();
        format!(
            "{} alert{} ({} major): {}",
            self.total,
            if self.total == 1 { "" } else { "s" },
            self.major,
            counts.join(", ")
        )
    }
}
