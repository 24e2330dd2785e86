//! Text helpers shared by every stage: HTML → readable text and whitespace folding
//! ([`html`]), line/word diffs ([`diff`]), and the one way to word a key or an error chain
//! for people. They import nothing of the pipeline.

pub mod diff;
pub mod html;
mod stream;
pub mod tokenize;

pub use html::fold as one_line;

/// `short_title` → `Short title`: a key or a code for people (`_` and `-` become spaces,
/// whitespace folds, the first letter is upper case). Empty in, empty out.
pub fn humanise(key: &str) -> String {
    let spaced = one_line(&key.replace(['_', '-'], " "));
    let mut chars = spaced.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// An error and its sources on one line, without repeats: the sources are where reqwest and
/// serenity say what actually went wrong.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let msg = err.to_string();
        // Wrappers that say nothing their sources do not: reqwest's "error sending request
        // for url (...)" repeats the URL the message starts with; hyper-util's
        // "client error (Connect)" and reqwest's "error decoding response body" only name
        // the stage.
        let noise = err.source().is_some()
            && (msg.starts_with("error sending request")
                || msg.starts_with("client error (")
                || msg == "error decoding response body");
        if !noise && !parts.iter().any(|p| p.contains(&msg)) {
            parts.push(msg);
        }
        next = err.source().map(|s| s as &dyn std::error::Error);
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

/// ` (did you mean `x`?)` for the closest allowed word within two edits, else nothing.
pub fn did_you_mean(word: &str, allowed: &[&str]) -> String {
    allowed
        .iter()
        .map(|a| (edit_distance(word, a), a))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map_or(String::new(), |(_, a)| format!(" (did you mean `{a}`?)"))
}

pub fn edit_distance(a: &str, b: &str) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_as_words() {
        assert_eq!(humanise("short_title"), "Short title");
        assert_eq!(humanise("statutory_guidance"), "Statutory guidance");
        assert_eq!(humanise(" royal-assent \n"), "Royal assent");
        assert_eq!(humanise(""), "");
    }

    #[test]
    fn an_error_chain_names_each_new_cause_once() {
        #[derive(Debug)]
        struct E(&'static str, Option<Box<E>>);
        impl std::fmt::Display for E {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for E {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.1.as_deref().map(|e| e as _)
            }
        }
        let e = E(
            "error sending request for url (http://x/)",
            Some(Box::new(E(
                "connection refused",
                Some(Box::new(E("refused", None))),
            ))),
        );
        assert_eq!(error_chain(&e), "connection refused");
        assert_eq!(error_chain(&E("plain", None)), "plain");
    }
}
