//! Phrase history (`history -S`, like `git log -S`): the versions of a watch in which a
//! phrase first appeared and those in which it disappeared.
//!
//! The phrase matches case-insensitively and across any run of whitespace (a line break
//! in the stored text included). Versions are read one at a time, oldest first.

use chrono::{DateTime, Utc};
use regex::{Regex, RegexBuilder};
use serde::Serialize;

use super::Store;
use crate::error::{Error, Result};

/// Longest phrase accepted.
pub const MAX_PHRASE: usize = 500;

/// A version where the phrase's presence changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhraseChange {
    pub watch: String,
    pub seq: u64,
    pub fetched_at: DateTime<Utc>,
    /// True: present in this version and not in the one before (or this is the first
    /// version). False: gone from this version.
    pub appeared: bool,
    /// The line it is on (in this version, or the last one that had it), shortened.
    pub context: String,
}

impl PhraseChange {
    pub fn kind(&self) -> &'static str {
        if self.appeared {
            "appeared"
        } else {
            "disappeared"
        }
    }
}

/// The matcher for a phrase, or a usage error naming why not.
pub fn phrase_matcher(phrase: &str) -> Result<Regex> {
    let words: Vec<String> = phrase.split_whitespace().map(regex::escape).collect();
    if words.is_empty() {
        return Err(Error::Usage("the phrase is empty".into()));
    }
    if phrase.len() > MAX_PHRASE {
        return Err(Error::Usage(format!(
            "the phrase is longer than {MAX_PHRASE} bytes"
        )));
    }
    RegexBuilder::new(&words.join(r"\s+"))
        .case_insensitive(true)
        .build()
        .map_err(|e| Error::Usage(format!("phrase: {e}")))
}

/// Where the phrase came and went in `watch`'s versions, oldest first.
pub fn phrase_history(store: &dyn Store, watch: &str, phrase: &Regex) -> Result<Vec<PhraseChange>> {
    let mut out = Vec::new();
    let mut last: Option<String> = None;
    store.for_each_version_of(watch, &mut |v| {
        let found = phrase.find(&v.document.text).map(|m| {
            let text = &v.document.text;
            let start = text[..m.start()].rfind('\n').map_or(0, |i| i + 1);
            let end = text[m.end()..]
                .find('\n')
                .map_or(text.len(), |i| m.end() + i);
            shorten(&text[start..end], m.start() - start, m.end() - start)
        });
        match (&last, found) {
            (None, Some(context)) => {
                out.push(PhraseChange {
                    watch: v.watch.clone(),
                    seq: v.seq,
                    fetched_at: v.fetched_at,
                    appeared: true,
                    context: context.clone(),
                });
                last = Some(context);
            }
            (Some(context), None) => {
                out.push(PhraseChange {
                    watch: v.watch.clone(),
                    seq: v.seq,
                    fetched_at: v.fetched_at,
                    appeared: false,
                    context: context.clone(),
                });
                last = None;
            }
            (Some(_), Some(context)) => last = Some(context),
            (None, None) => {}
        }
        Ok(true)
    })?;
    Ok(out)
}

/// The line around a match, cut to about 200 characters centred on it.
fn shorten(line: &str, start: usize, end: usize) -> String {
    const AROUND: usize = 80;
    let from = floor(line, start.saturating_sub(AROUND));
    let to = ceil(line, (end + AROUND).min(line.len()));
    let mut s = String::new();
    if from > 0 {
        s.push('…');
    }
    s.push_str(line[from..to].trim());
    if to < line.len() {
        s.push('…');
    }
    s
}

fn floor(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}
