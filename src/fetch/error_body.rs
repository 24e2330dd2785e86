//! What of an error response is quoted: the status text and a short, cleaned excerpt of a
//! text body. Error pages can carry anything (stack traces, internal names), and the quote
//! ends up in `status`, logs and `watch.failing` alerts, so it is kept to one short line.

use reqwest::header;
use tokio::time::Instant;

/// How many bytes of an error response are read to quote in [`super::FetchError::Status`].
const ERROR_BODY_READ: usize = 16 * 1024;
/// How many characters of an error response are quoted.
pub(super) const ERROR_BODY_QUOTE: usize = 80;

/// The reason quoted in a [`super::FetchError::Status`]: the status text and, when the body
/// is text, its first [`ERROR_BODY_QUOTE`] characters, cleaned up. Never fails: a body that
/// cannot be read in time is simply not quoted.
pub(super) async fn error_reason(mut resp: reqwest::Response, deadline: Instant) -> Option<String> {
    let status_text = resp.status().canonical_reason().map(str::to_string);
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.to_ascii_lowercase());
    let mut bytes = Vec::new();
    while bytes.len() < ERROR_BODY_READ {
        match tokio::time::timeout_at(deadline, resp.chunk()).await {
            Ok(Ok(Some(c))) => {
                let room = ERROR_BODY_READ - bytes.len();
                bytes.extend_from_slice(&c[..c.len().min(room)]);
            }
            _ => break,
        }
    }
    let texty = match &content_type {
        Some(ct) => {
            ct.starts_with("text/")
                || ct.contains("json")
                || ct.contains("xml")
                || ct.contains("javascript")
        }
        None => !bytes.contains(&0),
    };
    let snippet = if texty && !bytes.is_empty() {
        let text = String::from_utf8_lossy(&bytes);
        let html = content_type.as_deref().is_some_and(|c| c.contains("html"))
            || text.trim_start().starts_with('<');
        let text = if html {
            strip_tags(&text)
        } else {
            text.into_owned()
        };
        Some(sanitize(&text, ERROR_BODY_QUOTE)).filter(|s| !s.is_empty())
    } else {
        None
    };
    match (status_text, snippet) {
        (Some(s), Some(b)) => Some(format!("{s}: {b}")),
        (Some(s), None) => Some(s),
        (None, b) => b,
    }
}

/// Drops `<...>` tags and the contents of `<script>`/`<style>`, crudely: good enough for a
/// one-line quote of an error page.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        out.push(' ');
        let tag = &rest[open..];
        let lower: String = tag.chars().take(8).collect::<String>().to_ascii_lowercase();
        let skip_to = if lower.starts_with("<script") {
            find_ci(tag, "</script").map(|i| i + 1)
        } else if lower.starts_with("<style") {
            find_ci(tag, "</style").map(|i| i + 1)
        } else {
            Some(0)
        };
        let Some(skip_to) = skip_to else {
            return out;
        };
        match tag[skip_to..].find('>') {
            Some(close) => rest = &tag[skip_to + close + 1..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// One line of at most `max` characters with no control characters; whitespace runs folded.
pub(super) fn sanitize(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut space = false;
    for c in text.chars() {
        let c = if c.is_whitespace() { ' ' } else { c };
        if c == ' ' {
            space = !out.is_empty();
            continue;
        }
        if c.is_control() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}') {
            continue;
        }
        if space {
            if count + 1 >= max {
                out.push('…');
                return out;
            }
            out.push(' ');
            count += 1;
            space = false;
        }
        if count >= max {
            out.push('…');
            return out;
        }
        out.push(c);
        count += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_and_strip() {
        assert_eq!(sanitize("  a\n\tb\u{7}c  ", 200), "a bc");
        assert_eq!(sanitize("abcdef", 3), "abc…");
        assert_eq!(
            sanitize(
                &strip_tags(
                    "<html><style>x{}</style><h1>Not</h1> <p>here</p><script>alert(1)</script>"
                ),
                200
            ),
            "Not here"
        );
        assert_eq!(strip_tags("a <b"), "a  ");
    }
}
