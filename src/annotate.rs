//! Annotation: which of the watchlist's keywords an event touches, and in which sentence.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use regex::Regex;

/// A keyword found in text, with the sentence it was found in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordHit {
    /// The keyword as the watchlist spells it.
    pub keyword: String,
    pub sentence: String,
}

/// Longest sentence quoted in an annotation.
const SENTENCE_MAX: usize = 240;

/// Keywords found in `text`: case-insensitive, whole words, phrases matching across any
/// whitespace. Each keyword is reported once, with the first sentence it occurs in.
pub fn find_keywords(keywords: &[String], text: &str) -> Vec<KeywordHit> {
    let mut hits = Vec::new();
    for keyword in keywords {
        if hits
            .iter()
            .any(|h: &KeywordHit| h.keyword.eq_ignore_ascii_case(keyword))
        {
            continue;
        }
        let Some(re) = cached_regex(keyword) else {
            continue;
        };
        if let Some(m) = re.captures(text).and_then(|c| c.get(1)) {
            hits.push(KeywordHit {
                keyword: keyword.clone(),
                sentence: sentence_around(text, m.start(), m.end()),
            });
        }
    }
    hits
}

/// Keyword patterns compiled once per process: watches share their list's keywords, and
/// compiling them per alert dominated cycles with many changes. Shared through an `Arc`:
/// a cloned `Regex` starts with empty search caches and rebuilds them on every alert.
fn cached_regex(keyword: &str) -> Option<std::sync::Arc<Regex>> {
    type Cache = HashMap<String, Option<std::sync::Arc<Regex>>>;
    static CACHE: LazyLock<Mutex<Cache>> = LazyLock::new(Default::default);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry(keyword.to_string())
        .or_insert_with(|| keyword_regex(keyword).map(std::sync::Arc::new))
        .clone()
}

/// A whole-word, case-insensitive pattern for a keyword or phrase; group 1 is the match.
/// Word edges are "not a letter or digit" rather than `\b`, so keywords that begin or end
/// with punctuation ("S.1", "Part 5.") still match as whole words.
pub fn keyword_regex(keyword: &str) -> Option<Regex> {
    let words: Vec<String> = keyword.split_whitespace().map(regex::escape).collect();
    if words.is_empty() {
        return None;
    }
    Regex::new(&format!(
        r"(?i)(?:^|[^\w])({})(?:[^\w]|$)",
        words.join(r"\s+")
    ))
    .ok()
}

/// The sentence (or line) containing the byte range, trimmed to a readable length.
fn sentence_around(text: &str, start: usize, end: usize) -> String {
    let is_break = |c: char| matches!(c, '.' | '!' | '?' | '\n');
    let from = text[..start]
        .char_indices()
        .rev()
        .find(|(i, c)| is_break(*c) && !is_abbreviation_dot(text, *i))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let to = text[end..]
        .char_indices()
        .find(|(i, c)| is_break(*c) && !is_abbreviation_dot(text, end + i))
        .map_or(text.len(), |(i, c)| end + i + c.len_utf8());
    let sentence = crate::text::html::fold(&text[from..to]);
    let sentence = sentence
        .trim_start_matches(['-', '+', '#', ' '])
        .to_string();
    if sentence.chars().count() > SENTENCE_MAX {
        let cut: String = sentence.chars().take(SENTENCE_MAX).collect();
        let cut = cut
            .rsplit_once(' ')
            .map_or(cut.as_str(), |(a, _)| a)
            .to_string();
        format!("{cut}…")
    } else {
        sentence
    }
}

/// A dot inside a number or after a one-letter initial is not a sentence end.
fn is_abbreviation_dot(text: &str, i: usize) -> bool {
    let bytes = text.as_bytes();
    bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(|b| b.is_ascii_alphanumeric())
}

/// The annotation line for a hit: `Keyword “modern slavery”: “…sentence…”`.
pub fn describe(hit: &KeywordHit) -> String {
    format!("Keyword “{}”: “{}”", hit.keyword, hit.sentence)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kws(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn whole_words_and_phrases_case_insensitively() {
        let text = "The Home Office published guidance. Modern\n slavery victims get 45 days.";
        let hits = find_keywords(
            &kws(&["modern slavery", "home office", "slave", "days"]),
            text,
        );
        let found: Vec<&str> = hits.iter().map(|h| h.keyword.as_str()).collect();
        assert_eq!(found, ["modern slavery", "home office", "days"]);
        assert_eq!(hits[1].sentence, "The Home Office published guidance.");
    }

    #[test]
    fn sentences_do_not_break_on_decimals() {
        let hits = find_keywords(
            &kws(&["NRM"]),
            "Version 2.1 of the NRM guidance applies. Other.",
        );
        assert_eq!(hits[0].sentence, "Version 2.1 of the NRM guidance applies.");
    }
}
