//! Reading watchlist files: TOML parsed with positions (toml_edit keeps spans, serde does
//! not), so every problem is reported as `file:line:col: message`, and all problems of all
//! files come back at once instead of one per run.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use regex::Regex;
use toml_edit::{ImDocument, Item, TableLike, Value};
use url::Url;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::schedule::Schedule;
use crate::source::html_text::validate_selector;

use super::{
    BillQuery, GovukQuery, Mention, PageMode, Target, TextFilter, Watch, Watchlist, Watchlists,
};

const LIST_KEYS: &[&str] = &[
    "name", "schedule", "timezone", "keywords", "channel", "mentions", "watch",
];
/// Keys every kind of watch takes.
const WATCH_KEYS: &[&str] = &[
    "id",
    "kind",
    "schedule",
    "keywords",
    "channel",
    "mentions",
    "select",
    "ignore_selectors",
    "ignore",
    "follow",
    "allow_redirects",
];
/// Each kind and the keys only it takes.
const KINDS: &[(&str, &[&str])] = &[
    ("page", &["url", "mode"]),
    ("feed", &["url"]),
    ("bill", &["bill"]),
    ("bill_search", &["search"]),
    ("govuk", &["path"]),
    ("govuk_search", &["search"]),
];
const BILL_SEARCH_KEYS: &[&str] = &["term", "session", "house", "bill_type", "rss"];
const GOVUK_SEARCH_KEYS: &[&str] = &["keywords", "organisations", "document_types", "feed"];
const HOUSES: &[&str] = &["Commons", "Lords", "Unassigned"];

/// Loads every `*.toml` in `dir` (sorted by name), validating them all and reporting every
/// problem found, not just the first.
pub fn load_dir(dir: &Path, config: &Config) -> Result<Watchlists> {
    let entries = std::fs::read_dir(dir).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::Invalid(vec![format!(
                "{}: watchlists directory not found (point --watchlists at one)",
                dir.display()
            )])
        } else {
            Error::Io {
                path: dir.to_path_buf(),
                source,
            }
        }
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();

    let mut seen = Seen::default();
    let mut lists = Vec::new();
    let mut problems = Vec::new();
    for path in &files {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{}: cannot read: {e}", path.display()));
                continue;
            }
        };
        match parse_with(&text, path, config, &mut seen) {
            Ok(list) => lists.push(list),
            Err(mut p) => problems.append(&mut p),
        }
    }
    if problems.is_empty() {
        Ok(Watchlists { lists })
    } else {
        Err(Error::Invalid(problems))
    }
}

/// Parses one watchlist file's text; `path` is used in messages.
pub fn parse_file(
    text: &str,
    path: &Path,
    config: &Config,
) -> std::result::Result<Watchlist, Vec<String>> {
    parse_with(text, path, config, &mut Seen::default())
}

/// Watch ids and watchlist names already taken, with where, so a duplicate names both places.
#[derive(Default)]
struct Seen {
    ids: HashMap<String, String>,
    names: HashMap<String, String>,
}

fn parse_with(
    text: &str,
    path: &Path,
    config: &Config,
    seen: &mut Seen,
) -> std::result::Result<Watchlist, Vec<String>> {
    let mut p = Parser {
        text,
        path,
        problems: Vec::new(),
        line_starts: std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect(),
        tz: config.timezone,
    };
    let list = match ImDocument::parse(text) {
        Ok(doc) => p.watchlist(doc.as_table(), config, seen),
        Err(e) => {
            // toml_edit's messages may span lines ("invalid key\nexpected ..."); keep one line.
            let message = e
                .message()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
            p.problem(
                e.span().map_or(0, |s| s.start),
                format!("TOML syntax error: {message}"),
            );
            None
        }
    };
    match list {
        Some(list) if p.problems.is_empty() => Ok(list),
        _ => Err(p.finish()),
    }
}

/// The watchlist's own settings, which its watches fall back to.
struct ListDefaults {
    name: String,
    schedule: Schedule,
    keywords: Vec<String>,
    channel: Option<u64>,
    mentions: Vec<Mention>,
}

/// Collects problems of one file as (byte offset, message).
struct Parser<'a> {
    text: &'a str,
    path: &'a Path,
    problems: Vec<(usize, String)>,
    /// Byte offset of each line's start: locations are looked up, not rescanned.
    line_starts: Vec<usize>,
    /// The zone this file's schedules are read in.
    tz: chrono_tz::Tz,
}

impl Parser<'_> {
    fn problem(&mut self, at: usize, message: impl Into<String>) {
        self.problems.push((at, message.into()));
    }

    fn location(&self, at: usize) -> String {
        let at = at.min(self.text.len());
        let line = self.line_starts.partition_point(|&start| start <= at);
        let start = self.line_starts[line - 1];
        let col = self
            .text
            .get(start..at)
            .map_or(1, |s| s.chars().count() + 1);
        format!("{}:{line}:{col}", self.path.display())
    }

    /// Problems in the order they appear in the file.
    fn finish(mut self) -> Vec<String> {
        self.problems.sort_by_key(|(at, _)| *at);
        self.problems
            .iter()
            .map(|(at, m)| format!("{}: {m}", self.location(*at)))
            .collect()
    }

    /// Where a key starts, else `fallback`.
    fn key_at(&self, table: &dyn TableLike, key: &str, fallback: usize) -> usize {
        table
            .get_key_value(key)
            .and_then(|(k, _)| k.span())
            .map_or(fallback, |s| s.start)
    }

    /// `string "abc"`, `integer 5`, `table`: what was found where something else was expected.
    fn describe(&self, item: &Item) -> String {
        let source = item
            .span()
            .and_then(|s| self.text.get(s))
            .filter(|s| !s.contains('\n') && s.chars().count() <= 40);
        match (item, source) {
            (Item::Value(v), Some(s)) => format!("{} {s}", v.type_name()),
            _ => item.type_name().to_string(),
        }
    }

    fn wrong_type(&mut self, key: &str, expected: &str, item: &Item, at: usize) {
        let found = self.describe(item);
        self.problem(
            start(item, at),
            format!("`{key}` must be {expected}; found {found}"),
        );
    }

    fn string<'i>(&mut self, key: &str, item: &'i Item, at: usize) -> Option<&'i str> {
        match item.as_str() {
            Some(s) if !s.trim().is_empty() => Some(s.trim()),
            Some(_) => {
                self.problem(start(item, at), format!("`{key}` is empty"));
                None
            }
            None => {
                self.wrong_type(key, "a string", item, at);
                None
            }
        }
    }

    /// An array of non-empty strings, each with where it starts.
    fn strings(&mut self, key: &str, item: &Item, at: usize) -> Vec<(String, usize)> {
        let Some(array) = item.as_array() else {
            self.wrong_type(key, "an array of strings", item, at);
            return Vec::new();
        };
        let mut out = Vec::new();
        for v in array.iter() {
            let v_at = v.span().map_or(start(item, at), |s| s.start);
            match v.as_str() {
                Some(s) if !s.trim().is_empty() => out.push((s.trim().to_string(), v_at)),
                Some(_) => self.problem(v_at, format!("`{key}` has an empty string")),
                None => self.problem(
                    v_at,
                    format!(
                        "`{key}` must be an array of strings; found {} in it",
                        v.type_name()
                    ),
                ),
            }
        }
        out
    }

    /// One string or an array of them.
    fn string_or_strings(&mut self, key: &str, item: &Item, at: usize) -> Vec<(String, usize)> {
        if item.is_str() {
            self.string(key, item, at)
                .map(|s| vec![(s.to_string(), start(item, at))])
                .unwrap_or_default()
        } else if item.is_array() {
            self.strings(key, item, at)
        } else {
            self.wrong_type(key, "a string or an array of strings", item, at);
            Vec::new()
        }
    }

    fn bool(&mut self, key: &str, item: &Item, at: usize) -> Option<bool> {
        let b = item.as_bool();
        if b.is_none() {
            self.wrong_type(key, "true or false", item, at);
        }
        b
    }

    fn positive_u32(&mut self, key: &str, item: &Item, at: usize) -> Option<u32> {
        match item.as_integer().map(u32::try_from) {
            Some(Ok(n)) if n > 0 => Some(n),
            _ => {
                self.wrong_type(key, "a positive integer", item, at);
                None
            }
        }
    }

    fn schedule(&mut self, item: &Item, at: usize) -> Option<Schedule> {
        let expr = self.string("schedule", item, at)?;
        match Schedule::parse_in(expr, self.tz) {
            Ok(s) => Some(s),
            Err(e) => {
                let message = if e.contains(expr) {
                    e
                } else {
                    format!("bad cron expression `{expr}`: {e}")
                };
                self.problem(start(item, at), message);
                None
            }
        }
    }

    /// Keywords as written, deduplicated case-insensitively.
    fn keywords(&mut self, item: &Item, at: usize) -> Vec<String> {
        let words = self.strings("keywords", item, at);
        merge_keywords(&[], words.into_iter().map(|(w, _)| w))
    }

    /// A Discord channel id: an integer, or a string of digits (ids are often quoted).
    fn channel(&mut self, item: &Item, at: usize) -> Option<u64> {
        let id = match item {
            Item::Value(Value::Integer(n)) => u64::try_from(*n.value()).ok(),
            Item::Value(Value::String(s)) => parse_id(s.value()),
            _ => None,
        };
        match id {
            Some(id) if id > 0 => Some(id),
            _ => {
                self.wrong_type(
                    "channel",
                    "a Discord channel id (an integer or a string of digits)",
                    item,
                    at,
                );
                None
            }
        }
    }

    fn mentions(&mut self, item: &Item, at: usize) -> Vec<Mention> {
        let mut out = Vec::new();
        for (m, m_at) in self.strings("mentions", item, at) {
            let parsed = m.split_once(':').and_then(|(who, id)| {
                let id = parse_id(id.trim())?;
                match who.trim() {
                    "user" => Some(Mention::User(id)),
                    "role" => Some(Mention::Role(id)),
                    _ => None,
                }
            });
            match parsed {
                Some(mention) if !out.contains(&mention) => out.push(mention),
                Some(_) => {}
                None => self.problem(
                    m_at,
                    format!("bad mention `{m}`: expected `user:ID` or `role:ID` with a numeric Discord id"),
                ),
            }
        }
        out
    }

    /// An absolute http(s) URL.
    fn url(&mut self, key: &str, item: &Item, at: usize) -> Option<Url> {
        let s = self.string(key, item, at)?;
        let reason = match Url::parse(s) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
                return Some(u)
            }
            Ok(u) if !matches!(u.scheme(), "http" | "https") => {
                format!("scheme `{}` is not http or https", u.scheme())
            }
            Ok(_) => "no host".to_string(),
            Err(e) => e.to_string(),
        };
        self.problem(
            start(item, at),
            format!("bad URL `{s}`: {reason}; `{key}` must be an absolute http(s) URL"),
        );
        None
    }

    fn selectors(&mut self, list: Vec<(String, usize)>) -> Vec<String> {
        let mut out = Vec::new();
        for (s, at) in list {
            match validate_selector(&s) {
                Ok(()) => out.push(s),
                Err(e) => self.problem(at, e),
            }
        }
        out
    }

    fn regexes(&mut self, list: Vec<(String, usize)>) -> Vec<Regex> {
        let mut out = Vec::new();
        for (s, at) in list {
            match Regex::new(&s) {
                Ok(r) => out.push(r),
                Err(e) => self.problem(at, format!("bad regex `{s}`: {}", regex_reason(&e))),
            }
        }
        out
    }

    /// Unknown keys in `table`, each named with the keys allowed there.
    fn unknown_keys(&mut self, table: &dyn TableLike, allowed: &[&str], place: &str, at: usize) {
        for (key, _) in table.iter() {
            if !allowed.contains(&key) {
                let k_at = self.key_at(table, key, at);
                self.problem(
                    k_at,
                    format!(
                        "unknown key `{key}` in {place}{}; allowed keys: {}",
                        did_you_mean(key, allowed),
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    fn watchlist(
        &mut self,
        root: &toml_edit::Table,
        config: &Config,
        seen: &mut Seen,
    ) -> Option<Watchlist> {
        self.unknown_keys(root, LIST_KEYS, "a watchlist", 0);

        let name = match root.get("name") {
            None => {
                self.problem(
                    0,
                    "missing `name`: every watchlist needs one, e.g. `name = \"Modern slavery\"`",
                );
                None
            }
            Some(item) => self
                .string("name", item, 0)
                .map(|n| (n.to_string(), start(item, 0))),
        };
        if let Some((name, at)) = &name {
            let here = self.location(*at);
            match seen.names.get(name) {
                Some(first) => {
                    let message = format!("duplicate watchlist name `{name}` (also at {first})");
                    self.problem(*at, message);
                }
                None => {
                    seen.names.insert(name.clone(), here);
                }
            }
        }
        if let Some(item) = root.get("timezone") {
            if let Some(name) = self.string("timezone", item, 0) {
                match crate::schedule::parse_timezone(name) {
                    Ok(tz) => self.tz = tz,
                    Err(e) => self.problem(start(item, 0), e),
                }
            }
        }
        let schedule = root.get("schedule").and_then(|i| self.schedule(i, 0));
        let keywords = root
            .get("keywords")
            .map(|i| self.keywords(i, 0))
            .unwrap_or_default();
        let channel = root.get("channel").and_then(|i| self.channel(i, 0));
        let mentions = root
            .get("mentions")
            .map(|i| self.mentions(i, 0))
            .unwrap_or_default();
        let defaults = ListDefaults {
            name: name.clone().map(|(n, _)| n).unwrap_or_default(),
            schedule: schedule.unwrap_or_else(|| config.default_schedule.in_timezone(self.tz)),
            keywords,
            channel,
            mentions,
        };

        let mut watches = Vec::new();
        if let Some(item) = root.get("watch") {
            let at = start(item, 0);
            let tables: Vec<(&dyn TableLike, usize)> = match item {
                Item::ArrayOfTables(a) => a
                    .iter()
                    .map(|t| (t as &dyn TableLike, t.span().map_or(at, |s| s.start)))
                    .collect(),
                Item::Value(Value::Array(a)) if a.iter().all(Value::is_inline_table) => a
                    .iter()
                    .filter_map(|v| {
                        let t = v.as_inline_table()?;
                        Some((t as &dyn TableLike, v.span().map_or(at, |s| s.start)))
                    })
                    .collect(),
                _ => {
                    self.wrong_type("watch", "an array of tables (`[[watch]]`)", item, at);
                    Vec::new()
                }
            };
            for (table, t_at) in tables {
                if let Some(w) = self.watch(table, t_at, &defaults, seen) {
                    watches.push(Arc::new(w));
                }
            }
        }

        Some(Watchlist {
            name: name?.0,
            file: self.path.to_path_buf(),
            schedule: defaults.schedule,
            keywords: defaults.keywords,
            channel: defaults.channel,
            mentions: defaults.mentions,
            watches,
        })
    }

    /// One `[[watch]]` table starting at `at`, resolved against the list's defaults; `None`
    /// when it has problems (already recorded).
    fn watch(
        &mut self,
        t: &dyn TableLike,
        at: usize,
        list: &ListDefaults,
        seen: &mut Seen,
    ) -> Option<Watch> {
        let before = self.problems.len();

        let id = match t.get("id") {
            None => {
                self.problem(at, "watch is missing `id`");
                None
            }
            Some(item) => self.watch_id(item, at, seen),
        };
        let label = id.as_deref().map_or(String::new(), |i| format!(" `{i}`"));

        let kind_names: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
        let kind = match t.get("kind") {
            None => {
                self.problem(
                    at,
                    format!(
                        "watch{label} is missing `kind` (one of: {})",
                        kind_names.join(", ")
                    ),
                );
                None
            }
            Some(item) => self.string("kind", item, at).and_then(|k| {
                let found = KINDS.iter().find(|(name, _)| *name == k);
                if found.is_none() {
                    self.problem(
                        start(item, at),
                        format!(
                            "unknown kind `{k}`{}; valid kinds: {}",
                            did_you_mean(k, &kind_names),
                            kind_names.join(", ")
                        ),
                    );
                }
                found.copied()
            }),
        };

        for (key, _) in t.iter() {
            if WATCH_KEYS.contains(&key) || kind.is_some_and(|(_, own)| own.contains(&key)) {
                continue;
            }
            let elsewhere: Vec<&str> = KINDS
                .iter()
                .filter(|(_, keys)| keys.contains(&key))
                .map(|(k, _)| *k)
                .collect();
            let k_at = self.key_at(t, key, at);
            match kind {
                Some((k, own)) if !elsewhere.is_empty() => self.problem(
                    k_at,
                    format!(
                        "`{key}` does not apply to a `{k}` watch (only to {}); a `{k}` watch takes: {}",
                        elsewhere.join(", "),
                        own.join(", ")
                    ),
                ),
                Some((k, own)) => {
                    let allowed = watch_keys(own);
                    self.problem(
                        k_at,
                        format!(
                            "unknown key `{key}` in a `{k}` watch{}; allowed keys: {}",
                            did_you_mean(key, &allowed),
                            allowed.join(", ")
                        ),
                    )
                }
                // The kind is unknown or missing (reported above): only flag keys no kind takes.
                None if elsewhere.is_empty() => {
                    let mut own: Vec<&str> = Vec::new();
                    for k in KINDS.iter().flat_map(|(_, keys)| keys.iter()) {
                        if !own.contains(k) {
                            own.push(k);
                        }
                    }
                    let allowed = watch_keys(&own);
                    self.problem(
                        k_at,
                        format!(
                            "unknown key `{key}` in a watch{}; allowed keys: {}",
                            did_you_mean(key, &allowed),
                            allowed.join(", ")
                        ),
                    );
                }
                None => {}
            }
        }

        let target = kind.and_then(|(k, _)| self.target(k, t, at, &label));

        let schedule = t.get("schedule").and_then(|i| self.schedule(i, at));
        let own_keywords = t
            .get("keywords")
            .map(|i| self.keywords(i, at))
            .unwrap_or_default();
        let channel = t.get("channel").and_then(|i| self.channel(i, at));
        let mentions = t.get("mentions").map(|i| self.mentions(i, at));
        let select = match t.get("select") {
            Some(i) => {
                let list = self.string_or_strings("select", i, at);
                self.selectors(list)
            }
            None => Vec::new(),
        };
        let ignore_selectors = match t.get("ignore_selectors") {
            Some(i) => {
                let list = self.strings("ignore_selectors", i, at);
                self.selectors(list)
            }
            None => Vec::new(),
        };
        let ignore = match t.get("ignore") {
            Some(i) => {
                let list = self.strings("ignore", i, at);
                self.regexes(list)
            }
            None => Vec::new(),
        };
        let follow = match t.get("follow") {
            Some(i) => {
                let f = self.bool("follow", i, at);
                if let Some((k, _)) = kind.filter(|(k, _)| !k.ends_with("_search")) {
                    self.problem(
                        self.key_at(t, "follow", at),
                        format!(
                            "`follow` only applies to bill_search and govuk_search watches, not `{k}`"
                        ),
                    );
                }
                f.unwrap_or(false)
            }
            None => false,
        };

        let allow_redirects = t
            .get("allow_redirects")
            .map(|i| self.strings("allow_redirects", i, at))
            .unwrap_or_default()
            .into_iter()
            .map(|(host, _)| host)
            .collect();

        if self.problems.len() > before {
            return None;
        }
        Some(Watch {
            id: id?,
            list: list.name.clone(),
            target: target?,
            schedule: schedule.unwrap_or_else(|| list.schedule.clone()),
            keywords: merge_keywords(&list.keywords, own_keywords),
            channel: channel.or(list.channel),
            mentions: mentions.unwrap_or_else(|| list.mentions.clone()),
            filter: TextFilter {
                select,
                ignore_selectors,
                ignore,
            },
            follow,
            followed_from: None,
            allow_redirects,
        })
    }

    /// A valid, not yet taken watch id.
    fn watch_id(&mut self, item: &Item, at: usize, seen: &mut Seen) -> Option<String> {
        let id = self.string("id", item, at)?;
        let id_at = start(item, at);
        if !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            self.problem(
                id_at,
                format!("bad watch id `{id}`: use only letters, digits, `.`, `_` and `-`"),
            );
            return None;
        }
        let here = self.location(id_at);
        if let Some(first) = seen.ids.get(id) {
            let message = format!("duplicate watch id `{id}` (also at {first})");
            self.problem(id_at, message);
            return None;
        }
        seen.ids.insert(id.to_string(), here);
        Some(id.to_string())
    }

    /// The kind-specific part of a watch.
    fn target(&mut self, kind: &str, t: &dyn TableLike, at: usize, label: &str) -> Option<Target> {
        let (key, hint) = match kind {
            "page" | "feed" => ("url", "an absolute http(s) URL"),
            "bill" => (
                "bill",
                "the bill's id on bills.parliament.uk, e.g. `bill = 3548`",
            ),
            "bill_search" => (
                "search",
                "a search term, or a table of term, session, house, bill_type, rss",
            ),
            "govuk" => (
                "path",
                "a GOV.UK path, e.g. `path = \"/government/publications/...\"`",
            ),
            _ => (
                "search",
                "keywords, or a table of keywords, organisations, document_types, feed",
            ),
        };
        let Some(item) = t.get(key) else {
            self.problem(
                at,
                format!("{kind} watch{label} is missing `{key}`: {hint}"),
            );
            // Still check `mode` so one run reports everything.
            if kind == "page" {
                if let Some(m) = t.get("mode") {
                    self.page_mode(m, at);
                }
            }
            return None;
        };
        match kind {
            "page" => {
                let url = self.url("url", item, at);
                let mode = match t.get("mode") {
                    Some(m) => self.page_mode(m, at),
                    None => Some(PageMode::Text),
                };
                Some(Target::Page {
                    url: url?,
                    mode: mode?,
                })
            }
            "feed" => self.url("url", item, at).map(|url| Target::Feed { url }),
            "bill" => self
                .positive_u32("bill", item, at)
                .map(|id| Target::Bill { id }),
            "bill_search" => self.bill_search(item, at).map(Target::BillSearch),
            "govuk" => self.govuk_path(item, at).map(|path| Target::Govuk { path }),
            _ => self.govuk_search(item, at).map(Target::GovukSearch),
        }
    }

    fn page_mode(&mut self, item: &Item, at: usize) -> Option<PageMode> {
        match self.string("mode", item, at)? {
            "text" => Some(PageMode::Text),
            "links" => Some(PageMode::Links),
            other => {
                self.problem(
                    start(item, at),
                    format!("unknown mode `{other}`; valid modes: text, links"),
                );
                None
            }
        }
    }

    fn govuk_path(&mut self, item: &Item, at: usize) -> Option<String> {
        let path = self.string("path", item, at)?;
        if path.starts_with('/') && !path.contains(char::is_whitespace) {
            return Some(path.to_string());
        }
        // A pasted page address is the likeliest mistake: suggest its path.
        let hint = Url::parse(path)
            .ok()
            .filter(|u| u.host_str().is_some_and(|h| h.ends_with("gov.uk")))
            .map_or(String::new(), |u| {
                format!(" (did you mean `{}`?)", u.path())
            });
        self.problem(
            start(item, at),
            format!("bad GOV.UK path `{path}`: must start with `/`{hint}"),
        );
        None
    }

    fn bill_search(&mut self, item: &Item, at: usize) -> Option<BillQuery> {
        if item.is_str() {
            let term = self.string("search", item, at)?;
            return Some(BillQuery {
                term: Some(term.to_string()),
                ..BillQuery::default()
            });
        }
        let Some(t) = item.as_table_like() else {
            self.wrong_type("search", "a search term or a table", item, at);
            return None;
        };
        let at = start(item, at);
        let before = self.problems.len();
        self.unknown_keys(t, BILL_SEARCH_KEYS, "a bill_search `search`", at);
        let mut q = BillQuery::default();
        if let Some(i) = t.get("term") {
            q.term = self.string("term", i, at).map(str::to_string);
        }
        if let Some(i) = t.get("session") {
            q.session = self.positive_u32("session", i, at);
        }
        if let Some(i) = t.get("house") {
            if let Some(h) = self.string("house", i, at) {
                q.house = HOUSES
                    .iter()
                    .find(|c| c.eq_ignore_ascii_case(h))
                    .map(|c| c.to_string());
                if q.house.is_none() {
                    self.problem(
                        start(i, at),
                        format!("unknown house `{h}`; valid houses: {}", HOUSES.join(", ")),
                    );
                }
            }
        }
        if let Some(i) = t.get("bill_type") {
            q.bill_type = self.positive_u32("bill_type", i, at);
        }
        if let Some(i) = t.get("rss") {
            q.rss = self.bool("rss", i, at).unwrap_or(false);
        }
        if t.is_empty() {
            self.problem(
                at,
                format!(
                    "`search` is empty; give at least one of: {}",
                    BILL_SEARCH_KEYS.join(", ")
                ),
            );
        }
        (self.problems.len() == before).then_some(q)
    }

    fn govuk_search(&mut self, item: &Item, at: usize) -> Option<GovukQuery> {
        if item.is_str() {
            let keywords = self.string("search", item, at)?;
            return Some(GovukQuery {
                keywords: Some(keywords.to_string()),
                ..GovukQuery::default()
            });
        }
        let Some(t) = item.as_table_like() else {
            self.wrong_type("search", "search keywords or a table", item, at);
            return None;
        };
        let at = start(item, at);
        let before = self.problems.len();
        self.unknown_keys(t, GOVUK_SEARCH_KEYS, "a govuk_search `search`", at);
        let mut q = GovukQuery::default();
        if let Some(i) = t.get("keywords") {
            q.keywords = self.string("keywords", i, at).map(str::to_string);
        }
        for (key, field) in [
            ("organisations", &mut q.organisations),
            ("document_types", &mut q.document_types),
        ] {
            if let Some(i) = t.get(key) {
                *field = self
                    .string_or_strings(key, i, at)
                    .into_iter()
                    .map(|(s, _)| s)
                    .collect();
            }
        }
        if let Some(i) = t.get("feed") {
            q.feed = self.url("feed", i, at);
        }
        if t.is_empty() {
            self.problem(
                at,
                format!(
                    "`search` is empty; give at least one of: {}",
                    GOVUK_SEARCH_KEYS.join(", ")
                ),
            );
        }
        (self.problems.len() == before).then_some(q)
    }
}

/// A watch's keys in reading order: `id`, `kind`, the kind's own, then the common ones.
fn watch_keys<'k>(own: &[&'k str]) -> Vec<&'k str> {
    let mut keys = vec!["id", "kind"];
    keys.extend(own);
    keys.extend(WATCH_KEYS.iter().filter(|k| !matches!(**k, "id" | "kind")));
    keys
}

/// ` (did you mean `x`?)` for the closest allowed word within two edits, else nothing.
fn did_you_mean(word: &str, allowed: &[&str]) -> String {
    allowed
        .iter()
        .map(|a| (edit_distance(word, a), a))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map_or(String::new(), |(_, a)| format!(" (did you mean `{a}`?)"))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// Where an item starts, else `fallback`.
fn start(item: &Item, fallback: usize) -> usize {
    item.span().map_or(fallback, |s| s.start)
}

fn parse_id(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `base` then `extra`, keeping the first spelling of each keyword (case-insensitive).
fn merge_keywords(base: &[String], extra: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = HashSet::new();
    base.iter()
        .cloned()
        .chain(extra)
        .filter(|k| seen.insert(k.to_lowercase()))
        .collect()
}

/// The regex crate's syntax errors are multi-line pictures; keep the one-line reason.
fn regex_reason(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(s) => s
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("error: "))
            .unwrap_or(s)
            .to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> std::result::Result<Watchlist, Vec<String>> {
        parse_file(text, Path::new("watchlists/team.toml"), &Config::default())
    }

    fn problems(text: &str) -> Vec<String> {
        parse(text).expect_err("should be invalid")
    }

    #[test]
    fn resolves_defaults_into_each_watch() {
        let list = parse(
            r#"
name = "Modern slavery"
schedule = "*/10 * * * *"
keywords = ["forced labour", "Modern Slavery"]
channel = "123456789012345678"
mentions = ["role:42"]

[[watch]]
id = "iasc"
kind = "page"
url = "https://www.antislaverycommissioner.co.uk/news/"
mode = "links"
keywords = ["modern slavery", "NRM"]
select = "main"
ignore = ['\d+ views']

[[watch]]
id = "bills"
kind = "bill_search"
search = { term = "slavery", house = "lords", rss = true }
follow = true
schedule = "0 8 * * Mon-Fri"
channel = 7
mentions = ["user:9"]
"#,
        )
        .unwrap();
        assert_eq!(list.name, "Modern slavery");
        assert_eq!(list.watches.len(), 2);
        let page = &list.watches[0];
        assert_eq!(page.list, "Modern slavery");
        assert_eq!(page.keywords, ["forced labour", "Modern Slavery", "NRM"]);
        assert_eq!(page.schedule.expr(), "*/10 * * * *");
        assert_eq!(page.channel, Some(123456789012345678));
        assert_eq!(page.mentions, [Mention::Role(42)]);
        assert_eq!(page.filter.select, ["main"]);
        assert!(page.filter.ignore[0].is_match("12 views"));
        assert!(!page.follow);
        assert_eq!(page.followed_from, None);
        assert!(matches!(
            &page.target,
            Target::Page {
                mode: PageMode::Links,
                ..
            }
        ));

        let search = &list.watches[1];
        assert_eq!(
            search.target,
            Target::BillSearch(BillQuery {
                term: Some("slavery".into()),
                house: Some("Lords".into()),
                rss: true,
                ..BillQuery::default()
            })
        );
        assert!(search.follow);
        assert_eq!(search.schedule.expr(), "0 8 * * Mon-Fri");
        assert_eq!(search.channel, Some(7));
        assert_eq!(search.mentions, [Mention::User(9)]);
        assert_eq!(search.keywords, ["forced labour", "Modern Slavery"]);
    }

    #[test]
    fn falls_back_to_the_configured_schedule() {
        let list =
            parse("name = \"x\"\n[[watch]]\nid = \"b\"\nkind = \"bill\"\nbill = 3548\n").unwrap();
        let config = Config::default();
        assert_eq!(list.schedule, config.default_schedule);
        assert_eq!(list.watches[0].target, Target::Bill { id: 3548 });
        assert_eq!(list.watches[0].channel, None);
    }

    #[test]
    fn reports_every_problem_with_its_position() {
        let text = "name = \"x\"\nschedule = \"* * *\"\n\n[[watch]]\nid = \"a b\"\nkind = \"pgae\"\n\n[[watch]]\nid = \"ok\"\nkind = \"govuk\"\npath = \"https://www.gov.uk/guidance/x\"\nfollow = true\n";
        let p = problems(text);
        assert_eq!(p.len(), 5, "{p:#?}");
        assert!(
            p[0].starts_with("watchlists/team.toml:2:12: cron expression `* * *` has 3 fields"),
            "{}",
            p[0]
        );
        assert!(
            p[1].starts_with("watchlists/team.toml:5:6: bad watch id `a b`"),
            "{}",
            p[1]
        );
        assert!(p[2].starts_with("watchlists/team.toml:6:8: unknown kind `pgae` (did you mean `page`?); valid kinds: page, feed, bill, bill_search, govuk, govuk_search"), "{}", p[2]);
        assert_eq!(p[3], "watchlists/team.toml:11:8: bad GOV.UK path `https://www.gov.uk/guidance/x`: must start with `/` (did you mean `/guidance/x`?)");
        assert_eq!(p[4], "watchlists/team.toml:12:1: `follow` only applies to bill_search and govuk_search watches, not `govuk`");
    }

    #[test]
    fn keys_of_another_kind_are_named_as_such() {
        let p = problems("name = \"x\"\n[[watch]]\nid = \"b\"\nkind = \"bill\"\nbill = 1\nurl = \"https://example.org/\"\n");
        assert_eq!(p, ["watchlists/team.toml:6:1: `url` does not apply to a `bill` watch (only to page, feed); a `bill` watch takes: bill"]);
    }

    #[test]
    fn search_tables_and_mentions_are_checked() {
        let p = problems(
            "name = \"x\"\nmentions = [\"everyone\"]\n[[watch]]\nid = \"g\"\nkind = \"govuk_search\"\n[watch.search]\norganisation = \"home-office\"\nfeed = \"feed.atom\"\n",
        );
        assert_eq!(p.len(), 3, "{p:#?}");
        assert_eq!(p[0], "watchlists/team.toml:2:13: bad mention `everyone`: expected `user:ID` or `role:ID` with a numeric Discord id");
        assert_eq!(p[1], "watchlists/team.toml:7:1: unknown key `organisation` in a govuk_search `search` (did you mean `organisations`?); allowed keys: keywords, organisations, document_types, feed");
        assert!(
            p[2].starts_with(
                "watchlists/team.toml:8:8: bad URL `feed.atom`: relative URL without a base"
            ),
            "{}",
            p[2]
        );
    }

    #[test]
    fn wrong_types_say_what_was_expected() {
        let p = problems("name = \"x\"\nchannel = \"#general\"\n[[watch]]\nid = \"b\"\nkind = \"bill\"\nbill = \"3548\"\n");
        assert_eq!(
            p,
            [
                "watchlists/team.toml:2:11: `channel` must be a Discord channel id (an integer or a string of digits); found string \"#general\"",
                "watchlists/team.toml:6:8: `bill` must be a positive integer; found string \"3548\"",
            ]
        );
    }

    #[test]
    fn structural_mistakes_are_reported() {
        assert_eq!(
            problems("name = \"x\"\n[watch]\nid = \"a\"\n"),
            ["watchlists/team.toml:2:1: `watch` must be an array of tables (`[[watch]]`); found table"]
        );
        assert_eq!(
            problems("name = \"x\"\nwatch = [{ url = \"https://example.org/\", colour = 1 }]\n"),
            [
                "watchlists/team.toml:2:10: watch is missing `id`",
                "watchlists/team.toml:2:10: watch is missing `kind` (one of: page, feed, bill, bill_search, govuk, govuk_search)",
                "watchlists/team.toml:2:42: unknown key `colour` in a watch; allowed keys: id, kind, url, mode, bill, search, path, schedule, keywords, channel, mentions, select, ignore_selectors, ignore, follow, allow_redirects",
            ]
        );
        assert_eq!(
            problems("name = \"x\"\n[[watch]]\nid = \"s\"\nkind = \"bill_search\"\nsearch = {}\n[[watch]]\nid = \"s\"\nkind = \"bill_search\"\nsearch = \"x\"\n"),
            [
                "watchlists/team.toml:5:10: `search` is empty; give at least one of: term, session, house, bill_type, rss",
                "watchlists/team.toml:7:6: duplicate watch id `s` (also at watchlists/team.toml:3:6)",
            ]
        );
        assert_eq!(
            problems("name = \"x\"\nname = \"y\"\n"),
            ["watchlists/team.toml:2:1: TOML syntax error: duplicate key `name` in document root"]
        );
    }

    #[test]
    fn an_empty_file_needs_a_name() {
        assert_eq!(
            problems(""),
            ["watchlists/team.toml:1:1: missing `name`: every watchlist needs one, e.g. `name = \"Modern slavery\"`"]
        );
    }
}
