//! The timeline's filters and paging, over an index of every change kept in memory.
//!
//! The index holds what filters look at (id, time, watch, watchlist, event, severity,
//! keywords), a few dozen bytes a change; it catches up with the store on each request by
//! reading only the changes added since. A page then decodes only the records it shows
//! (plus, for a text search, the candidates it has to read), newest first.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::WebError;
use crate::data::Severity;
use crate::error::Result;
use crate::store::{ChangeRecord, Store};

/// One change as the filters see it.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: u64,
    pub at: DateTime<Utc>,
    pub watch: Arc<str>,
    pub watchlist: Arc<str>,
    pub event: Arc<str>,
    pub severity: Severity,
    pub keywords: Vec<Arc<str>>,
}

#[derive(Default)]
pub struct ChangeIndex {
    /// Oldest first (ids increase with detection order).
    pub rows: Vec<Row>,
    last_id: u64,
    /// Interned names: a watch's id is stored once, not once per change.
    names: HashMap<String, Arc<str>>,
    /// Distinct watches, watchlists and events, for the filter form's choices.
    pub watches: BTreeSet<Arc<str>>,
    pub watchlists: BTreeSet<Arc<str>>,
    pub events: BTreeSet<Arc<str>>,
}

impl ChangeIndex {
    /// Reads the changes added to the store since the last call.
    pub fn catch_up(&mut self, store: &dyn Store) -> Result<()> {
        let after = self.last_id;
        let mut new = Vec::new();
        store.scan_changes(after, false, &mut |r| {
            new.push(r);
            Ok(true)
        })?;
        for r in new {
            let a = &r.alert;
            let row = Row {
                id: a.id,
                at: a.detected_at,
                watch: self.intern(&a.watch),
                watchlist: self.intern(&a.watchlist),
                event: self.intern(&a.event.to_string()),
                severity: a.severity,
                keywords: a.keywords.iter().map(|k| self.intern(k)).collect(),
            };
            self.last_id = self.last_id.max(row.id);
            self.watches.insert(row.watch.clone());
            self.watchlists.insert(row.watchlist.clone());
            self.events.insert(row.event.clone());
            self.rows.push(row);
        }
        Ok(())
    }

    fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.names.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.names.insert(s.to_string(), a.clone());
        a
    }
}

/// Query parameters of the timeline and `/api/v1/changes`, as sent.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct FilterParams {
    pub watch: Option<String>,
    pub watchlist: Option<String>,
    /// Exact event, or a prefix ending in `.` or `*` (`bill.`, `govuk.*`).
    pub event: Option<String>,
    /// Minimum severity: `info`, `notice`, `major`.
    pub severity: Option<String>,
    pub keyword: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    /// Text searched in title, summary, annotations and the diff's changed lines
    /// (case-insensitive).
    pub q: Option<String>,
    /// Paging cursor: only changes older than this id.
    pub before: Option<String>,
    pub limit: Option<String>,
    /// `all=1`: also the quiet records (versions stored without an alert: settings edits,
    /// invisible changes), hidden by default as `history` hides them without `--all`.
    pub all: Option<String>,
}

/// The validated filter.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub watch: Option<String>,
    pub watchlist: Option<String>,
    pub event: Option<String>,
    pub severity: Option<Severity>,
    pub keyword: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub q: Option<String>,
    pub before: Option<u64>,
    pub limit: usize,
    /// Include quiet records.
    pub all: bool,
}

/// Shown per page unless `limit` says otherwise.
pub const PAGE: usize = 50;
/// Most a page (or a download) may hold.
pub const MAX_LIMIT: usize = 10_000;

fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `YYYY-MM-DD` or RFC 3339; a bare date as `until` means the end of that day.
pub fn parse_time(
    key: &str,
    s: &str,
    end_of_day: bool,
) -> std::result::Result<DateTime<Utc>, WebError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
        WebError::bad_request(format!(
            "{key}: `{}` is not a date (YYYY-MM-DD) or an RFC 3339 time",
            s.chars().take(40).collect::<String>()
        ))
    })?;
    let start = d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    Ok(if end_of_day {
        start + chrono::Duration::days(1) - chrono::Duration::nanoseconds(1)
    } else {
        start
    })
}

impl FilterParams {
    pub fn validate(&self, default_limit: usize) -> std::result::Result<Filter, WebError> {
        let severity = nonempty(&self.severity)
            .map(|s| match s.as_str() {
                "info" => Ok(Severity::Info),
                "notice" => Ok(Severity::Notice),
                "major" => Ok(Severity::Major),
                _ => Err(WebError::bad_request(
                    "severity: one of info, notice, major",
                )),
            })
            .transpose()?;
        let number = |key: &str,
                      v: &Option<String>|
         -> std::result::Result<Option<u64>, WebError> {
            nonempty(v)
                .map(|s| {
                    s.parse::<u64>()
                        .map_err(|_| WebError::bad_request(format!("{key}: not a whole number")))
                })
                .transpose()
        };
        let limit = number("limit", &self.limit)?
            .map_or(default_limit, |n| usize::try_from(n).unwrap_or(MAX_LIMIT))
            .clamp(1, MAX_LIMIT);
        Ok(Filter {
            watch: nonempty(&self.watch),
            watchlist: nonempty(&self.watchlist),
            event: nonempty(&self.event),
            severity,
            keyword: nonempty(&self.keyword),
            since: nonempty(&self.since)
                .map(|s| parse_time("since", &s, false))
                .transpose()?,
            until: nonempty(&self.until)
                .map(|s| parse_time("until", &s, true))
                .transpose()?,
            q: nonempty(&self.q).map(|q| q.to_lowercase()),
            before: number("before", &self.before)?,
            limit,
            all: nonempty(&self.all).is_some_and(|v| !matches!(v.as_str(), "0" | "false" | "off")),
        })
    }
}

impl Filter {
    /// A quiet record shows with `all`, or when its event is asked for by name.
    fn hides_as_quiet(&self, r: &Row) -> bool {
        !self.all && crate::data::is_quiet(&r.event) && self.event.as_deref() != Some(&*r.event)
    }

    /// What the weekly chart's caption says of the filters it counts by.
    pub fn chart_caption(&self) -> String {
        let narrowed = self.watch.is_some()
            || self.watchlist.is_some()
            || self.event.is_some()
            || self.severity.is_some()
            || self.keyword.is_some()
            || self.since.is_some()
            || self.until.is_some();
        let mut caption = "Changes per week, by watchlist (last 12 weeks)".to_string();
        if narrowed {
            caption.push_str(", this view's filters applied");
        }
        if self.all {
            caption.push_str(", quiet records included");
        }
        if self.q.is_some() {
            caption.push_str("; the text search is not applied to the chart");
        }
        caption
    }

    fn row_matches(&self, r: &Row) -> bool {
        self.before.is_none_or(|b| r.id < b) && self.charts(r)
    }

    /// Whether the weekly chart counts `r`: every filter of the view but the page it is on
    /// and the text search (which would read every record of twelve weeks; the chart's
    /// caption says so when one is set).
    pub fn charts(&self, r: &Row) -> bool {
        if self.watch.as_deref().is_some_and(|w| *r.watch != *w)
            || self
                .watchlist
                .as_deref()
                .is_some_and(|w| *r.watchlist != *w)
            || self.severity.is_some_and(|s| rank(r.severity) < rank(s))
            || self.since.is_some_and(|t| r.at < t)
            || self.until.is_some_and(|t| r.at > t)
        {
            return false;
        }
        if self.hides_as_quiet(r) {
            return false;
        }
        if let Some(e) = &self.event {
            let prefix = e.strip_suffix('*').unwrap_or(e);
            let hit = if prefix.ends_with('.') || e.ends_with('*') {
                r.event.starts_with(prefix)
            } else {
                *r.event == **e
            };
            if !hit {
                return false;
            }
        }
        if let Some(k) = &self.keyword {
            if !r.keywords.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                return false;
            }
        }
        true
    }

    fn text_matches(&self, record: &ChangeRecord) -> bool {
        let Some(q) = &self.q else { return true };
        let a = &record.alert;
        let has = |s: &str| s.to_lowercase().contains(q.as_str());
        // Only what changed: a diff's context lines belong to other changes too.
        let changed_lines = || {
            record
                .full_diff
                .lines()
                .filter(|l| l.starts_with(['+', '-']))
                .any(has)
        };
        has(&a.title) || has(&a.summary) || a.annotations.iter().any(|n| has(n)) || changed_lines()
    }
}

fn rank(s: Severity) -> u8 {
    match s {
        Severity::Info => 0,
        Severity::Notice => 1,
        Severity::Major => 2,
    }
}

/// One page of matching changes, newest first.
pub struct Page {
    pub records: Vec<ChangeRecord>,
    /// Id to pass as `before` for the next (older) page, when there is one.
    pub next_before: Option<u64>,
}

/// The matching changes, newest first, at most `filter.limit` of them.
pub fn query(index: &ChangeIndex, store: &dyn Store, filter: &Filter) -> Result<Page> {
    let mut records = Vec::new();
    let mut more = false;
    for row in index.rows.iter().rev() {
        if !filter.row_matches(row) {
            continue;
        }
        if records.len() == filter.limit {
            // One more match exists only if it passes the text test too.
            if filter.q.is_none() {
                more = true;
                break;
            }
        }
        let Some(record) = store.change(row.id)? else {
            continue;
        };
        if !filter.text_matches(&record) {
            continue;
        }
        if records.len() == filter.limit {
            more = true;
            break;
        }
        records.push(record);
    }
    let next_before = more.then(|| records.last().map(|r| r.alert.id)).flatten();
    Ok(Page {
        records,
        next_before,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u64, event: &str) -> Row {
        Row {
            id,
            at: Utc::now(),
            watch: Arc::from("w"),
            watchlist: Arc::from("l"),
            event: Arc::from(event),
            severity: Severity::Info,
            keywords: Vec::new(),
        }
    }

    #[test]
    fn quiet_records_show_only_when_asked_for() {
        let quiet = row(2, "watch.settings_changed");
        let change = row(1, "page.changed");
        let filter = |params: FilterParams| params.validate(PAGE).unwrap();
        let default = filter(FilterParams::default());
        assert!(default.row_matches(&change));
        assert!(
            !default.row_matches(&quiet),
            "hidden by default, as in `history`"
        );
        let all = filter(FilterParams {
            all: Some("1".into()),
            ..Default::default()
        });
        assert!(all.row_matches(&quiet) && all.row_matches(&change));
        let named = filter(FilterParams {
            event: Some("watch.settings_changed".into()),
            ..Default::default()
        });
        assert!(named.row_matches(&quiet), "asked for by name");
        let off = filter(FilterParams {
            all: Some("0".into()),
            ..Default::default()
        });
        assert!(!off.row_matches(&quiet));
    }
}
