//! The position-tracking TOML reader behind every watchlist message: toml_edit keeps spans
//! (serde does not), so each problem is recorded at its byte offset and reported as
//! `file:line:col: message`, all problems of a file at once.

use std::path::Path;

use regex::Regex;
use toml_edit::{Item, TableLike};
use url::Url;

/// Collects problems of one file as (byte offset, message).
pub(crate) struct Reader<'a> {
    pub(crate) text: &'a str,
    pub(crate) path: &'a Path,
    pub(crate) problems: Vec<(usize, String)>,
    /// Byte offset of each line's start: locations are looked up, not rescanned.
    pub(crate) line_starts: Vec<usize>,
    /// The zone schedules in this file are read in (a watchlist's `timezone`).
    pub(crate) tz: chrono_tz::Tz,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(text: &'a str, path: &'a Path) -> Self {
        Reader {
            text,
            path,
            problems: Vec::new(),
            line_starts: std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect(),
            tz: chrono_tz::UTC,
        }
    }

    pub(crate) fn problem(&mut self, at: usize, message: impl Into<String>) {
        self.problems.push((at, message.into()));
    }

    pub(crate) fn location(&self, at: usize) -> String {
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
    pub(crate) fn finish(mut self) -> Vec<String> {
        self.problems.sort_by_key(|(at, _)| *at);
        self.problems
            .iter()
            .map(|(at, m)| format!("{}: {m}", self.location(*at)))
            .collect()
    }

    /// Where a key starts, else `fallback`.
    pub(crate) fn key_at(&self, table: &dyn TableLike, key: &str, fallback: usize) -> usize {
        table
            .get_key_value(key)
            .and_then(|(k, _)| k.span())
            .map_or(fallback, |s| s.start)
    }

    /// `string "abc"`, `integer 5`, `table`: what was found where something else was expected.
    pub(crate) fn describe(&self, item: &Item) -> String {
        let source = item
            .span()
            .and_then(|s| self.text.get(s))
            .filter(|s| !s.contains('\n') && s.chars().count() <= 40);
        match (item, source) {
            (Item::Value(v), Some(s)) => format!("{} {s}", v.type_name()),
            _ => item.type_name().to_string(),
        }
    }

    pub(crate) fn wrong_type(&mut self, key: &str, expected: &str, item: &Item, at: usize) {
        let found = self.describe(item);
        self.problem(
            start(item, at),
            format!("`{key}` must be {expected}; found {found}"),
        );
    }

    pub(crate) fn string<'i>(&mut self, key: &str, item: &'i Item, at: usize) -> Option<&'i str> {
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
    pub(crate) fn strings(&mut self, key: &str, item: &Item, at: usize) -> Vec<(String, usize)> {
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
    pub(crate) fn string_or_strings(
        &mut self,
        key: &str,
        item: &Item,
        at: usize,
    ) -> Vec<(String, usize)> {
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

    pub(crate) fn bool(&mut self, key: &str, item: &Item, at: usize) -> Option<bool> {
        let b = item.as_bool();
        if b.is_none() {
            self.wrong_type(key, "true or false", item, at);
        }
        b
    }

    pub(crate) fn positive_u32(&mut self, key: &str, item: &Item, at: usize) -> Option<u32> {
        match item.as_integer().map(u32::try_from) {
            Some(Ok(n)) if n > 0 => Some(n),
            _ => {
                self.wrong_type(key, "a positive integer", item, at);
                None
            }
        }
    }

    /// An absolute http(s) URL.
    pub(crate) fn url(&mut self, key: &str, item: &Item, at: usize) -> Option<Url> {
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

    pub(crate) fn regexes(&mut self, list: Vec<(String, usize)>) -> Vec<Regex> {
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
    pub(crate) fn unknown_keys(
        &mut self,
        table: &dyn TableLike,
        allowed: &[&str],
        place: &str,
        at: usize,
    ) {
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
}

pub(crate) use crate::text::did_you_mean;

/// Where an item starts, else `fallback`.
pub(crate) fn start(item: &Item, fallback: usize) -> usize {
    item.span().map_or(fallback, |s| s.start)
}

pub(crate) fn parse_id(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The regex crate's syntax errors are multi-line pictures; keep the one-line reason.
pub(crate) fn regex_reason(e: &regex::Error) -> String {
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
