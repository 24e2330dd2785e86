//! Reading watchlist files: TOML parsed with positions (toml_edit keeps spans, serde does
//! not), so every problem is reported as `file:line:col: message`, and all problems of all
//! files come back at once instead of one per run.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use toml_edit::{ImDocument, Item, TableLike, Value};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::schedule::Schedule;

use super::kind::{KindKeys, Kinds};
use super::reader::{did_you_mean, parse_id, start, Reader};
use super::route::Route;
use super::{Mention, TextFilter, Watch, Watchlist, Watchlists};
use crate::data::Severity;

const LIST_KEYS: &[&str] = &[
    "name", "schedule", "timezone", "keywords", "channel", "mentions", "watch", "route",
];
/// Keys of a `[[route]]`.
const ROUTE_KEYS: &[&str] = &[
    "watches",
    "events",
    "severity",
    "keywords",
    "to",
    "deliver",
    "digest",
    "quiet_hours",
    "mentions",
    "stop",
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
/// Loads every `*.toml` in `dir` (sorted by name), validating them all and reporting every
/// problem found, not just the first.
pub fn load_dir(dir: &Path, config: &Config, kinds: Kinds<'_>) -> Result<Watchlists> {
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
        match parse_with(&text, path, config, kinds, &mut seen) {
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
    kinds: Kinds<'_>,
) -> std::result::Result<Watchlist, Vec<String>> {
    parse_with(text, path, config, kinds, &mut Seen::default())
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
    kinds: Kinds<'_>,
    seen: &mut Seen,
) -> std::result::Result<Watchlist, Vec<String>> {
    let mut p = Reader::new(text, path);
    p.tz = config.timezone;
    let list = match ImDocument::parse(text) {
        Ok(doc) => p.watchlist(doc.as_table(), config, kinds, seen),
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

/// The tables of `[[key]]` (or an array of inline tables), each with where it starts.
fn tables_of<'i>(
    r: &mut Reader<'_>,
    key: &str,
    form: &str,
    item: &'i Item,
) -> Vec<(&'i dyn TableLike, usize)> {
    let at = start(item, 0);
    match item {
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
            r.wrong_type(key, &format!("an array of tables (`{form}`)"), item, at);
            Vec::new()
        }
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

/// Watchlist-specific readers on top of the shared TOML reader.
impl Reader<'_> {
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
            let parsed = Mention::parse(&m);
            match parsed {
                Some(mention) if !out.contains(&mention) => out.push(mention),
                Some(_) => {}
                None => self.problem(
                    m_at,
                    format!("bad mention `{m}`: expected `user:ID` or `role:ID` (a numeric Discord id), `slack-user:ID` or `slack-group:ID` (a Slack id such as U024BE7LH or S0614TZR7), or `teams-user:ID` (a user principal name or object id)"),
                ),
            }
        }
        out
    }

    fn selectors(&mut self, list: Vec<(String, usize)>) -> Vec<String> {
        let mut out = Vec::new();
        for (s, at) in list {
            match super::css::check(&s) {
                Ok(()) => out.push(s),
                Err(e) => self.problem(at, e),
            }
        }
        out
    }

    fn watchlist(
        &mut self,
        root: &toml_edit::Table,
        config: &Config,
        kinds: Kinds<'_>,
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
            for (table, t_at) in tables_of(self, "watch", "[[watch]]", item) {
                if let Some(w) = self.watch(table, t_at, &defaults, kinds, seen) {
                    watches.push(Arc::new(w));
                }
            }
        }

        let mut routes = Vec::new();
        if let Some(item) = root.get("route") {
            let list_name = defaults.name.clone();
            for (n, (table, t_at)) in tables_of(self, "route", "[[route]]", item)
                .into_iter()
                .enumerate()
            {
                if let Some(r) = self.route(table, t_at, &format!("{list_name}#{}", n + 1), config)
                {
                    routes.push(r);
                }
            }
        }

        Some(Watchlist {
            routes,
            name: name?.0,
            file: self.path.to_path_buf(),
            schedule: defaults.schedule,
            keywords: defaults.keywords,
            channel: defaults.channel,
            mentions: defaults.mentions,
            watches,
        })
    }

    /// One `[[route]]` table starting at `at`; `None` when it has problems (recorded).
    fn route(&mut self, t: &dyn TableLike, at: usize, key: &str, config: &Config) -> Option<Route> {
        use super::route::{Deliver, QuietHours};
        let before = self.problems.len();
        self.unknown_keys(t, ROUTE_KEYS, "a route", at);
        let globs = |r: &mut Self, k: &str| {
            t.get(k)
                .map(|i| r.string_or_strings(k, i, at))
                .unwrap_or_default()
                .into_iter()
                .map(|(s, _)| s)
                .collect::<Vec<_>>()
        };
        let watches = globs(self, "watches");
        let events = globs(self, "events");
        let keywords = globs(self, "keywords");
        let severity = t.get("severity").and_then(|i| {
            let s = self.string("severity", i, at)?;
            match s {
                "info" => Some(Severity::Info),
                "notice" => Some(Severity::Notice),
                "major" => Some(Severity::Major),
                _ => {
                    self.problem(
                        start(i, at),
                        format!("bad severity `{s}`: expected `info`, `notice` or `major`"),
                    );
                    None
                }
            }
        });
        let mut to = Vec::new();
        match t.get("to") {
            None => self.problem(
                at,
                "route is missing `to`: the destinations it sends to, e.g. `to = [\"team-slack\"]`",
            ),
            Some(i) => {
                for (name, n_at) in self.string_or_strings("to", i, at) {
                    match config.destination(&name) {
                        Some(d) => to.push(d),
                        None => {
                            let known: Vec<&str> =
                                config.destinations.keys().map(String::as_str).collect();
                            let message = format!(
                                "route sends to unknown destination `{name}`{}; {}",
                                did_you_mean(&name, &known),
                                if known.is_empty() {
                                    "no destinations are configured (add `[destinations.NAME]` to the config)".to_string()
                                } else {
                                    format!("configured destinations: {}", known.join(", "))
                                }
                            );
                            self.problem(n_at, message);
                        }
                    }
                }
            }
        }
        let digest = t.get("digest").and_then(|i| {
            let expr = self.string("digest", i, at)?;
            match Schedule::parse_in(expr, self.tz) {
                Ok(s) => Some(s),
                Err(e) => {
                    self.problem(start(i, at), format!("digest: {e}"));
                    None
                }
            }
        });
        let deliver = match t.get("deliver") {
            None => Some(Deliver::Immediately),
            Some(i) => match self.string("deliver", i, at) {
                Some("immediately") => Some(Deliver::Immediately),
                Some("digest") => match digest.clone() {
                    Some(s) => Some(Deliver::Digest(Box::new(s))),
                    None => {
                        if t.get("digest").is_none() {
                            self.problem(
                                start(i, at),
                                "`deliver = \"digest\"` needs `digest`, a cron schedule such as \"0 8 * * Mon-Fri\"",
                            );
                        }
                        None
                    }
                },
                Some(other) => {
                    self.problem(
                        start(i, at),
                        format!("bad deliver `{other}`: expected `immediately` or `digest`"),
                    );
                    None
                }
                None => None,
            },
        };
        let quiet_hours = t.get("quiet_hours").and_then(|i| {
            let s = self.string("quiet_hours", i, at)?;
            match QuietHours::parse(s) {
                Ok(q) => Some(q),
                Err(e) => {
                    self.problem(start(i, at), e);
                    None
                }
            }
        });
        let mentions = t.get("mentions").map(|i| self.mentions(i, at));
        let stop = t
            .get("stop")
            .and_then(|i| self.bool("stop", i, at))
            .unwrap_or(false);
        if self.problems.len() != before {
            return None;
        }
        Some(Route {
            key: key.to_string(),
            watches,
            events,
            severity,
            keywords,
            to,
            deliver: deliver?,
            quiet_hours,
            mentions,
            stop,
        })
    }

    /// One `[[watch]]` table starting at `at`, resolved against the list's defaults; `None`
    /// when it has problems (already recorded).
    fn watch(
        &mut self,
        t: &dyn TableLike,
        at: usize,
        list: &ListDefaults,
        kinds: Kinds<'_>,
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

        let kind_names = kinds.names();
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
                let found = kinds.find(k);
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
                found
            }),
        };

        for (key, _) in t.iter() {
            if WATCH_KEYS.contains(&key) || kind.is_some_and(|k| k.keys().contains(&key)) {
                continue;
            }
            let elsewhere: Vec<&str> = kinds
                .0
                .iter()
                .filter(|k| k.keys().contains(&key))
                .map(|k| k.name())
                .collect();
            let k_at = self.key_at(t, key, at);
            match kind.map(|k| (k.name(), k.keys())) {
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
                    for k in kinds.0.iter().flat_map(|k| k.keys().iter()) {
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

        let target = kind.and_then(|k| k.parse(&mut KindKeys::new(self, t, at, k.name(), &label)));

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
                if let Some(k) = kind.filter(|k| !k.can_follow()) {
                    let followers: Vec<&str> = kinds
                        .0
                        .iter()
                        .filter(|k| k.can_follow())
                        .map(|k| k.name())
                        .collect();
                    self.problem(
                        self.key_at(t, "follow", at),
                        format!(
                            "`follow` only applies to {} watches, not `{}`",
                            and_list(&followers),
                            k.name()
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
            origin: self
                .location(at)
                .rsplit_once(':')
                .map(|(file_line, _col)| file_line.to_string()),
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
}

/// A watch's keys in reading order: `id`, `kind`, the kind's own, then the common ones.
fn watch_keys<'k>(own: &[&'k str]) -> Vec<&'k str> {
    let mut keys = vec!["id", "kind"];
    keys.extend(own);
    keys.extend(WATCH_KEYS.iter().filter(|k| !matches!(**k, "id" | "kind")));
    keys
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::bill::Bill;
    use crate::source::bill_search::BillQuery;
    use crate::source::page::{Page, PageMode};
    use crate::source::registry;
    use crate::watchlist::Target;

    fn parse(text: &str) -> std::result::Result<Watchlist, Vec<String>> {
        parse_file(
            text,
            Path::new("watchlists/team.toml"),
            &Config::default(),
            registry::kinds(),
        )
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
            page.target.get::<Page>(),
            Some(Page {
                mode: PageMode::Links,
                ..
            })
        ));

        let search = &list.watches[1];
        assert_eq!(
            search.target,
            Target::new(BillQuery {
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
        assert_eq!(list.watches[0].target, Target::new(Bill { id: 3548 }));
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
        assert!(p[2].starts_with("watchlists/team.toml:6:8: unknown kind `pgae` (did you mean `page`?); valid kinds: page, feed, bill, bill_search, govuk, govuk_search, committee, statutory_instruments, legislation_effects"), "{}", p[2]);
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
        assert_eq!(p[0], "watchlists/team.toml:2:13: bad mention `everyone`: expected `user:ID` or `role:ID` (a numeric Discord id), `slack-user:ID` or `slack-group:ID` (a Slack id such as U024BE7LH or S0614TZR7), or `teams-user:ID` (a user principal name or object id)");
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
        // Every registered kind's name and keys, in registry order, so a new kind does not
        // break this test.
        let kinds = registry::kinds();
        let mut own: Vec<&str> = Vec::new();
        for k in kinds.0 {
            own.extend(
                k.keys()
                    .iter()
                    .filter(|key| !own.contains(key))
                    .collect::<Vec<_>>(),
            );
        }
        assert_eq!(
            problems("name = \"x\"\nwatch = [{ url = \"https://example.org/\", colour = 1 }]\n"),
            [
                "watchlists/team.toml:2:10: watch is missing `id`".to_string(),
                format!(
                    "watchlists/team.toml:2:10: watch is missing `kind` (one of: {})",
                    kinds.names().join(", ")
                ),
                format!(
                    "watchlists/team.toml:2:42: unknown key `colour` in a watch; allowed keys: {}",
                    watch_keys(&own).join(", ")
                ),
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
