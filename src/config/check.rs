//! Every problem of a config file at once, each as `file:line:col: message` in a reader's
//! words (no Rust type names), with did-you-mean for misspelt keys, before serde reads it.
//!
//! The keys allowed in each table are read from the `Raw*` structs themselves (see
//! [`fields_of`]), so this list cannot drift from what the config accepts.

use std::path::Path;

use serde::Deserialize;
use toml_edit::{ImDocument, Item, TableLike};

use crate::text::did_you_mean;

/// What `[discord] token` is answered with: secrets do not go in a file people edit and
/// commit.
const TOKEN_HINT: &str = "the Discord bot token does not go in the config file: set it in \
    the environment as POLICYWATCH_DISCORD_TOKEN, or give it to the service as the systemd \
    credential `discord-token` (`LoadCredential=discord-token:/etc/policywatch/discord-token`, \
    read from $CREDENTIALS_DIRECTORY); then remove `token` from here";

/// The field names a `#[derive(Deserialize)]` struct accepts, asked of serde itself.
pub(super) fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    use serde::de::{self, Visitor};

    struct Fields<'a>(&'a mut &'static [&'static str]);

    impl<'de> de::Deserializer<'de> for Fields<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("fields read"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Fields(&mut fields));
    fields
}

/// One table of the file and the keys it takes (`None`: any key, as in `[sources]`).
pub(super) struct Table {
    pub name: &'static str,
    pub keys: Option<&'static [&'static str]>,
    /// Each entry is itself a table with these keys (`[destinations.NAME]`).
    pub entries: Option<&'static [&'static str]>,
}

/// Problems with the keys of `text`: unknown keys (all of them, with did-you-mean), a
/// table where a value belongs and the other way round, and secrets in the file.
pub(super) fn keys(
    text: &str,
    path: &Path,
    top: &[&str],
    tables: &[Table],
) -> Result<Vec<String>, String> {
    let doc = ImDocument::parse(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        let message = e.message().trim().to_string();
        format!("{}: {message}", location(text, path, at))
    })?;
    let mut problems: Vec<(usize, String)> = Vec::new();
    let root = doc.as_table();
    for (key, item) in root.iter() {
        let at = key_at(root, key);
        if !top.contains(&key) {
            problems.push((at, unknown(key, "the config file (top level)", top)));
            continue;
        }
        let Some(table) = tables.iter().find(|t| t.name == key) else {
            if item.is_table_like() {
                problems.push((at, format!("`{key}` is a value, not a table: write `{key} = …` at the top of the file, before any [table]")));
            }
            continue;
        };
        let Some(t) = item.as_table_like() else {
            problems.push((
                at,
                format!("`{key}` is a table: write it as a `[{key}]` section"),
            ));
            continue;
        };
        check_table(t, key, table, &mut problems);
    }
    problems.sort_by_key(|(at, _)| *at);
    Ok(problems
        .into_iter()
        .map(|(at, m)| format!("{}: {m}", location(text, path, at)))
        .collect())
}

fn check_table(t: &dyn TableLike, name: &str, table: &Table, problems: &mut Vec<(usize, String)>) {
    for (key, item) in t.iter() {
        let at = key_at(t, key);
        if name == "discord" && key == "token" {
            problems.push((at, TOKEN_HINT.to_string()));
            continue;
        }
        if let Some(entry_keys) = table.entries {
            match item.as_table_like() {
                Some(entry) => {
                    for (k, _) in entry.iter() {
                        if !entry_keys.contains(&k) {
                            let place = format!("[{name}.{key}]");
                            problems.push((key_at(entry, k), unknown(k, &place, entry_keys)));
                        }
                    }
                }
                None => problems.push((
                    at,
                    format!("`{name}.{key}` is a table: write it as a `[{name}.{key}]` section"),
                )),
            }
            continue;
        }
        if let Some(keys) = table.keys {
            if !keys.contains(&key) {
                problems.push((at, unknown(key, &format!("[{name}]"), keys)));
            }
        }
    }
}

fn unknown(key: &str, place: &str, allowed: &[&str]) -> String {
    format!(
        "unknown key `{key}` in {place}{}; allowed keys: {}",
        did_you_mean(key, allowed),
        allowed.join(", ")
    )
}

fn key_at(table: &dyn TableLike, key: &str) -> usize {
    table
        .get_key_value(key)
        .and_then(|(k, _)| k.span())
        .map_or(0, |s| s.start)
}

pub(super) fn location(text: &str, path: &Path, at: usize) -> String {
    let (line, col) = crate::line_col(text, at);
    format!("{}:{line}:{col}", path.display())
}

/// The dotted key whose value covers byte `at` (`fetch.timeout_secs`), for a serde error
/// that only has a position.
pub(super) fn key_covering(text: &str, at: usize) -> Option<String> {
    let doc = ImDocument::parse(text).ok()?;
    fn walk(t: &dyn TableLike, at: usize, prefix: &str) -> Option<String> {
        for (k, item) in t.iter() {
            let name = if prefix.is_empty() {
                k.to_string()
            } else {
                format!("{prefix}.{k}")
            };
            if let Some(inner) = item.as_table_like() {
                if let Some(found) = walk(inner, at, &name) {
                    return Some(found);
                }
            }
            let covers = |s: Option<std::ops::Range<usize>>| s.is_some_and(|s| s.contains(&at));
            let key_span = t.get_key_value(k).and_then(|(key, _)| key.span());
            if matches!(item, Item::Value(_)) && (covers(item.span()) || covers(key_span)) {
                return Some(name);
            }
        }
        None
    }
    walk(doc.as_table(), at, "")
}

/// A serde message in a reader's words: "expected a number (e.g. 30.0)", never `f64`.
pub(super) fn reword(message: &str) -> String {
    const TYPES: &[(&str, &str)] = &[
        ("f64", "a number (e.g. 30.0)"),
        ("f32", "a number (e.g. 30.0)"),
        ("u64", "a whole number, 0 or more"),
        ("u32", "a whole number, 0 or more"),
        ("u16", "a whole number, 0 or more"),
        ("u8", "a whole number, 0 or more"),
        ("usize", "a whole number, 0 or more"),
        ("i64", "a whole number"),
        ("a boolean", "`true` or `false`"),
        ("bool", "`true` or `false`"),
        ("a map", "a table"),
        ("a sequence", "an array"),
    ];
    let message = message.trim();
    if let Some((found, expected)) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        .and_then(|m| m.split_once(", expected "))
    {
        let expected = expected.trim();
        let expected = TYPES
            .iter()
            .find(|(t, _)| *t == expected)
            .map(|(_, words)| words.to_string())
            .or_else(|| {
                expected
                    .strip_prefix("struct ")
                    .map(|_| "a table".to_string())
            })
            .unwrap_or_else(|| expected.to_string());
        return format!("expected {expected}, found {found}");
    }
    if let Some(field) = message.strip_prefix("missing field ") {
        return format!("{field} is missing");
    }
    message.to_string()
}

/// Where the value of a dotted key starts in `text`.
pub(super) fn position_of(text: &str, dotted: &str) -> Option<usize> {
    let doc = ImDocument::parse(text).ok()?;
    let mut table: &dyn TableLike = doc.as_table();
    let mut parts = dotted.split('.').peekable();
    while let Some(part) = parts.next() {
        let (key, item) = table.get_key_value(part)?;
        if parts.peek().is_none() {
            return key.span().or_else(|| item.span()).map(|s| s.start);
        }
        table = item.as_table_like()?;
    }
    None
}

/// `text` without the dotted key, the rest as written.
pub(super) fn without(text: &str, dotted: &str) -> Option<String> {
    let mut doc: toml_edit::DocumentMut = text.parse().ok()?;
    let mut table: &mut dyn TableLike = doc.as_table_mut();
    let parts: Vec<&str> = dotted.split('.').collect();
    let (last, path) = parts.split_last()?;
    for part in path {
        table = table.get_mut(part)?.as_table_like_mut()?;
    }
    table.remove(last)?;
    Some(doc.to_string())
}
