//! The watchlist side of a source kind: which keys a `[[watch]]` of the kind takes, how they
//! are read (through the shared position-tracking reader, so mistakes come back as
//! `file:line:col: message`), and the parsed target a [`Watch`](super::Watch) carries.
//!
//! The kinds themselves live in `source/` (one module each) and are listed once, in
//! `source::registry`; the loader is handed that list, so this layer never names a kind.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use toml_edit::{Item, TableLike};
use url::Url;

use super::reader::{start, Reader};

/// How a kind reads its own keys of a `[[watch]]` table.
pub trait KindSyntax: Send + Sync {
    /// The `kind` as written in a watchlist, e.g. `bill`.
    fn name(&self) -> &'static str;
    /// Keys only this kind takes, in reading order (the key naming the target first).
    fn keys(&self) -> &'static [&'static str];
    /// Whether `follow = true` means something for it (searches).
    fn can_follow(&self) -> bool {
        false
    }
    /// Reads the kind's keys into its target; `None` when there were problems (each
    /// recorded through `keys`).
    fn parse(&self, keys: &mut KindKeys<'_, '_, '_>) -> Option<Target>;
}

/// Every kind a loader knows, in the order they are listed to users.
#[derive(Clone, Copy)]
pub struct Kinds<'k>(pub &'k [&'k dyn KindSyntax]);

impl<'k> Kinds<'k> {
    pub fn find(&self, name: &str) -> Option<&'k dyn KindSyntax> {
        self.0.iter().copied().find(|k| k.name() == name)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|k| k.name()).collect()
    }
}

/// A kind's parsed target (a bill id, a path, a search query). Implemented by one plain
/// type per kind; [`Target`] carries it type-erased.
pub trait KindTarget: fmt::Debug + PartialEq + Send + Sync + 'static {
    /// The kind's name, as in [`KindSyntax::name`].
    const KIND: &'static str;
    /// What identifies the target among watches of its kind (bill id, path, URL), so a
    /// search's match that is already watched is not followed again.
    fn key(&self) -> String;
}

/// Object-safe face of [`KindTarget`].
trait AnyTarget: fmt::Debug + Send + Sync {
    fn key(&self) -> String;
    fn as_any(&self) -> &dyn Any;
    fn same(&self, other: &dyn AnyTarget) -> bool;
}

impl<T: KindTarget> AnyTarget for T {
    fn key(&self) -> String {
        KindTarget::key(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn same(&self, other: &dyn AnyTarget) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }
}

/// What a watch looks at: its kind and that kind's parsed target.
#[derive(Clone)]
pub struct Target {
    kind: &'static str,
    value: Arc<dyn AnyTarget>,
}

impl Target {
    pub fn new<T: KindTarget>(value: T) -> Self {
        Target {
            kind: T::KIND,
            value: Arc::new(value),
        }
    }

    /// The `kind` as written in a watchlist.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The target as its kind's type; `None` for a watch of another kind.
    pub fn get<T: KindTarget>(&self) -> Option<&T> {
        self.value.as_any().downcast_ref()
    }

    /// See [`KindTarget::key`].
    pub fn key(&self) -> String {
        self.value.key()
    }
}

impl PartialEq for Target {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.value.same(other.value.as_ref())
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

/// One `[[watch]]` table (or a table inside it) as a kind sees it: its keys, and readers
/// that record every problem with its position.
pub struct KindKeys<'r, 'a, 't> {
    reader: &'r mut Reader<'a>,
    table: &'t dyn TableLike,
    at: usize,
    kind: &'static str,
    /// ` `id`` of the watch, for messages (empty when the id is missing).
    label: &'r str,
}

impl<'r, 'a, 't> KindKeys<'r, 'a, 't> {
    pub(crate) fn new(
        reader: &'r mut Reader<'a>,
        table: &'t dyn TableLike,
        at: usize,
        kind: &'static str,
        label: &'r str,
    ) -> Self {
        KindKeys {
            reader,
            table,
            at,
            kind,
            label,
        }
    }

    pub fn get(&self, key: &str) -> Option<&'t Item> {
        self.table.get(key)
    }

    /// The key that names the target; its absence is reported with `hint`.
    pub fn required(&mut self, key: &str, hint: &str) -> Option<&'t Item> {
        let item = self.table.get(key);
        if item.is_none() {
            let (kind, label) = (self.kind, self.label);
            self.reader.problem(
                self.at,
                format!("{kind} watch{label} is missing `{key}`: {hint}"),
            );
        }
        item
    }

    /// Whether the table has no keys at all.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// How many problems were recorded so far (compare before and after reading a part).
    pub fn problems(&self) -> usize {
        self.reader.problems.len()
    }

    /// Records a problem at `item`.
    pub fn problem(&mut self, item: &Item, message: impl Into<String>) {
        self.reader.problem(start(item, self.at), message);
    }

    /// Records a problem at the start of this table.
    pub fn problem_here(&mut self, message: impl Into<String>) {
        self.reader.problem(self.at, message);
    }

    /// `key` must be `expected` (e.g. "a search term or a table"); says what was found.
    pub fn wrong_type(&mut self, key: &str, expected: &str, item: &Item) {
        self.reader.wrong_type(key, expected, item, self.at);
    }

    /// A non-empty string, trimmed.
    pub fn string(&mut self, key: &str, item: &'t Item) -> Option<&'t str> {
        self.reader.string(key, item, self.at)
    }

    /// `key`'s string, when it is there.
    pub fn optional_string(&mut self, key: &str) -> Option<String> {
        let item = self.get(key)?;
        self.string(key, item).map(str::to_string)
    }

    /// Records `hint` at the table when it has none of `keys`.
    pub fn need_one_of(&mut self, keys: &[&str], hint: &str) {
        if keys.iter().all(|k| self.get(k).is_none()) {
            self.problem_here(hint);
        }
    }

    /// One string or an array of them.
    pub fn strings(&mut self, key: &str, item: &Item) -> Vec<String> {
        self.reader
            .string_or_strings(key, item, self.at)
            .into_iter()
            .map(|(s, _)| s)
            .collect()
    }

    pub fn bool(&mut self, key: &str, item: &Item) -> Option<bool> {
        self.reader.bool(key, item, self.at)
    }

    pub fn positive_u32(&mut self, key: &str, item: &Item) -> Option<u32> {
        self.reader.positive_u32(key, item, self.at)
    }

    /// An absolute http(s) URL.
    pub fn url(&mut self, key: &str, item: &Item) -> Option<Url> {
        self.reader.url(key, item, self.at)
    }

    /// One of `allowed` (matched case-insensitively, returned as spelled there); otherwise
    /// "unknown {what} `x`; valid {whats}: …".
    pub fn choice(
        &mut self,
        key: &str,
        item: &'t Item,
        allowed: &[&'static str],
        what: (&str, &str),
    ) -> Option<&'static str> {
        let given = self.string(key, item)?;
        let found = allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(given))
            .copied();
        if found.is_none() {
            self.problem(
                item,
                format!(
                    "unknown {} `{given}`; valid {}: {}",
                    what.0,
                    what.1,
                    allowed.join(", ")
                ),
            );
        }
        found
    }

    /// A table inside the watch (e.g. `search = { … }`), its unknown keys reported as
    /// "unknown key `x` in {place}"; `None` (after reporting) if `item` is not a table.
    pub fn table<'s>(
        &'s mut self,
        key: &str,
        item: &'t Item,
        allowed: &[&str],
        expected: &str,
        place: &str,
    ) -> Option<KindKeys<'s, 'a, 't>> {
        let Some(table) = item.as_table_like() else {
            self.wrong_type(key, expected, item);
            return None;
        };
        let at = start(item, self.at);
        self.reader.unknown_keys(table, allowed, place, at);
        Some(KindKeys {
            reader: self.reader,
            table,
            at,
            kind: self.kind,
            label: self.label,
        })
    }

    /// `search` as the search kinds take it: `what` as one string, given to `text`, or a
    /// table of `allowed` keys read by `table` (an empty table is a problem naming them).
    /// `None` after any problem.
    pub fn search<T>(
        &mut self,
        what: &str,
        allowed: &[&str],
        text: impl FnOnce(String) -> T,
        table: impl FnOnce(&mut KindKeys<'_, 'a, 't>) -> T,
    ) -> Option<T> {
        let hint = format!("{what}, or a table of {}", allowed.join(", "));
        let item = self.required("search", &hint)?;
        if item.is_str() {
            return self.string("search", item).map(|s| text(s.to_string()));
        }
        let before = self.problems();
        let expected = format!("{what} or a table");
        let place = format!("a {} `search`", self.kind);
        let mut t = self.table("search", item, allowed, &expected, &place)?;
        let found = table(&mut t);
        if t.is_empty() {
            t.problem_here(format!(
                "`search` is empty; give at least one of: {}",
                allowed.join(", ")
            ));
        }
        (t.problems() == before).then_some(found)
    }
}
