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

/// A phrase, compiled twice: for readable text, and for the same text as it is written in
/// a stored version's JSON (escaped), so most versions are searched without decoding.
#[derive(Debug, Clone)]
pub struct Phrase {
    text: Regex,
    json: Regex,
}

/// The matcher for a phrase, or a usage error naming why not.
pub fn phrase_matcher(phrase: &str) -> Result<Phrase> {
    let words: Vec<&str> = phrase.split_whitespace().collect();
    if words.is_empty() {
        return Err(Error::Usage("the phrase is empty".into()));
    }
    if phrase.len() > MAX_PHRASE {
        return Err(Error::Usage(format!(
            "the phrase is longer than {MAX_PHRASE} bytes"
        )));
    }
    let build = |pattern: String| {
        RegexBuilder::new(&pattern)
            .case_insensitive(true)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| Error::Usage(format!("phrase: {e}")))
    };
    let plain: Vec<String> = words.iter().map(|w| regex::escape(w)).collect();
    // In JSON a line break is `\n`, a tab `\t`, a quote `\"`; other characters (non-ASCII
    // included) are written as they are.
    let escaped: Vec<String> = words
        .iter()
        .map(|w| {
            let quoted = serde_json::to_string(w).unwrap_or_default();
            regex::escape(&quoted[1..quoted.len().saturating_sub(1)])
        })
        .collect();
    Ok(Phrase {
        text: build(plain.join(r"\s+"))?,
        json: build(escaped.join(r"(?:\s|\\[nrt])+"))?,
    })
}

/// The parts of a stored version phrase history reads; the text stays as written.
#[derive(serde::Deserialize)]
struct RawVersion<'a> {
    watch: String,
    seq: u64,
    fetched_at: DateTime<Utc>,
    #[serde(borrow)]
    document: RawDocument<'a>,
}

#[derive(serde::Deserialize)]
struct RawDocument<'a> {
    #[serde(borrow)]
    text: &'a serde_json::value::RawValue,
}

/// Where the phrase came and went in `watch`'s versions, oldest first.
///
/// Two stages on two threads: the store reads and decompresses versions while a worker
/// searches them, so a long history takes the time of the slower stage, not of both.
pub fn phrase_history(
    store: &dyn Store,
    watch: &str,
    phrase: &Phrase,
) -> Result<Vec<PhraseChange>> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(8);
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || search(rx, phrase));
        let read = store.for_each_version_json_of(watch, &mut |bytes| {
            // A worker that stopped (on an error it reports) ends the reading too.
            Ok(tx.send(bytes.to_vec()).is_ok())
        });
        drop(tx);
        let found = worker
            .join()
            .map_err(|_| Error::Store("the phrase search failed".into()))?;
        read?;
        found
    })
}

/// The search stage of [`phrase_history`]: versions' JSON in, changes of presence out.
fn search(
    versions: std::sync::mpsc::Receiver<Vec<u8>>,
    phrase: &Phrase,
) -> Result<Vec<PhraseChange>> {
    let mut out = Vec::new();
    // The text (as written in JSON) of the latest version that had the phrase: decoded only
    // if the phrase then disappears, for the line it was on.
    let mut last: Option<String> = None;
    let context = |raw: &str| -> Result<String> {
        let text: String = serde_json::from_str(raw)?;
        Ok(match phrase.text.find(&text) {
            Some(m) => {
                let start = text[..m.start()].rfind('\n').map_or(0, |i| i + 1);
                let end = text[m.end()..]
                    .find('\n')
                    .map_or(text.len(), |i| m.end() + i);
                shorten(&text[start..end], m.start() - start, m.end() - start)
            }
            None => String::new(),
        })
    };
    for bytes in versions {
        let v: RawVersion = serde_json::from_slice(&bytes)?;
        let raw = v.document.text.get();
        let present = phrase.json.is_match(raw);
        let change = |appeared: bool, context: String| PhraseChange {
            watch: v.watch.clone(),
            seq: v.seq,
            fetched_at: v.fetched_at,
            appeared,
            context,
        };
        match (last.take(), present) {
            (None, true) => out.push(change(true, context(raw)?)),
            (Some(before), false) => out.push(change(false, context(&before)?)),
            _ => {}
        }
        if present {
            last = Some(raw.to_string());
        }
    }
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
