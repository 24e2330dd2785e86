//! CSS selector mistakes in a reader's words: which part of the selector is wrong, and why
//! (the parser's own "Unexpected EOL" names neither).

use scraper::Selector;

/// Checks a selector (or a comma-separated list) the way extraction parses it; the error
/// is a whole message: "bad CSS selector `main > p[`: in `p[`, `[` is never closed …".
pub fn check(selector: &str) -> Result<(), String> {
    let Err(whole) = Selector::parse(selector) else {
        return Ok(());
    };
    let why = explain(selector).unwrap_or_else(|| reason(&whole.to_string(), selector));
    Err(format!("bad CSS selector `{selector}`: {why}"))
}

/// The failing comma-separated part, and within it the failing compound, explained.
fn explain(selector: &str) -> Option<String> {
    if selector.trim().is_empty() {
        return Some("it is empty".into());
    }
    let parts = split_top_level(selector, |c| c == ',');
    let several = parts.len() > 1;
    for part in &parts {
        let part = part.trim();
        if part.is_empty() {
            return Some("there is nothing between two commas (or after the last one)".into());
        }
        let Err(e) = Selector::parse(part) else {
            continue;
        };
        // The shortest run of compounds that fails shows where the mistake is.
        let compounds =
            split_top_level(part, |c| c.is_whitespace() || matches!(c, '>' | '+' | '~'));
        let compounds: Vec<&str> = compounds
            .iter()
            .map(|c| c.trim())
            .filter(|c| !c.is_empty())
            .collect();
        let last = part.trim_end().chars().last();
        if matches!(last, Some('>' | '+' | '~')) {
            return Some(format!(
                "nothing follows the combinator `{}` at its end",
                last.unwrap_or('>')
            ));
        }
        let bad = compounds
            .iter()
            .find(|c| Selector::parse(c).is_err())
            .copied()
            .unwrap_or(part);
        let detail = unclosed(bad).unwrap_or_else(|| {
            let e = match Selector::parse(bad) {
                Err(e) => e.to_string(),
                Ok(_) => e.to_string(),
            };
            reason(&e, bad)
        });
        let place = if bad != part || several {
            format!("in `{bad}`, ")
        } else {
            String::new()
        };
        return Some(format!("{place}{detail}"));
    }
    None
}

/// `[`, `(` or a quote left open in `s`, in words.
fn unclosed(s: &str) -> Option<String> {
    let mut stack = Vec::new();
    let mut quote = None;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '(') => stack.push(c),
            (None, ']' | ')') => {
                let open = if c == ']' { '[' } else { '(' };
                if stack.pop() != Some(open) {
                    return Some(format!("`{c}` closes nothing that was opened"));
                }
            }
            _ => {}
        }
    }
    if let Some(q) = quote {
        return Some(format!("the quote {q} is never closed"));
    }
    stack.pop().map(|open| match open {
        '[' => "`[` is never closed (an attribute test looks like `[name]` or `[name=\"value\"]`)"
            .to_string(),
        _ => "`(` is never closed".to_string(),
    })
}

/// The parser's message turned into ours.
fn reason(parser: &str, part: &str) -> String {
    if let Some(token) = parser
        .strip_prefix("Token \"")
        .and_then(|t| t.strip_suffix("\" was not expected"))
    {
        return format!("`{token}` is not expected there");
    }
    if parser.contains("Unexpected EOL") {
        return format!("`{part}` ends where more was expected");
    }
    if let Some(name) = between(parser, "UnsupportedPseudoClassOrElement(", ")") {
        return format!(
            "`:{}` is not a pseudo-class or pseudo-element that can be matched on a fetched page \
             (states such as :hover or :visited never apply)",
            name.trim().trim_end_matches(',').trim().trim_matches('"')
        );
    }
    const KINDS: &[(&str, &str)] = &[
        ("EmptySelector", "it selects nothing: `#`, `.` and `:` need a name after them"),
        ("DanglingCombinator", "a combinator (`>`, `+`, `~`) has nothing after it"),
        ("ClassNeedsIdent", "`.` must be followed by a class name"),
        ("NoQualifiedNameInAttributeSelector", "`[` must be followed by an attribute name"),
        (
            "UnexpectedTokenInAttributeSelector",
            "the attribute test is malformed: write `[name]`, `[name=\"value\"]` or `[name^=\"start\"]`",
        ),
        ("InvalidQualNameInAttr", "the attribute name is not valid"),
        ("ExplicitNamespaceUnexpectedToken", "namespaces (`ns|name`) are not supported"),
    ];
    if let Some((_, words)) = KINDS.iter().find(|(kind, _)| parser.contains(kind)) {
        return (*words).to_string();
    }
    if parser.contains("pseudoelement") {
        return "a pseudo-element (`::before`, …) selects no text of the page".into();
    }
    "it is not valid CSS".into()
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(&s[from..from + len])
}

/// Splits `s` where `at` matches outside brackets, parentheses and quotes.
fn split_top_level(s: &str, at: impl Fn(char) -> bool) -> Vec<&str> {
    let (mut depth, mut quote, mut start) = (0i32, None, 0);
    let mut out = Vec::new();
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '(') => depth += 1,
            (None, ']' | ')') => depth -= 1,
            (None, c) if depth <= 0 && at(c) => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn the_wrong_part_is_named_with_why() {
        let cases = [
            ("main", None),
            ("main > p, .news a[href$=\".pdf\"]", None),
            (
                "main > p[",
                Some("bad CSS selector `main > p[`: in `p[`, `[` is never closed (an attribute test looks like `[name]` or `[name=\"value\"]`)"),
            ),
            (
                "div[class=",
                Some("bad CSS selector `div[class=`: `[` is never closed (an attribute test looks like `[name]` or `[name=\"value\"]`)"),
            ),
            (
                "main >",
                Some("bad CSS selector `main >`: nothing follows the combinator `>` at its end"),
            ),
            (
                "main, , footer",
                Some("bad CSS selector `main, , footer`: there is nothing between two commas (or after the last one)"),
            ),
            (
                "main, a:hover",
                Some("bad CSS selector `main, a:hover`: in `a:hover`, `:hover` is not a pseudo-class or pseudo-element that can be matched on a fetched page (states such as :hover or :visited never apply)"),
            ),
            (
                "main #",
                Some("bad CSS selector `main #`: in `#`, it selects nothing: `#`, `.` and `:` need a name after them"),
            ),
            (
                "p..x",
                Some("bad CSS selector `p..x`: `.` must be followed by a class name"),
            ),
        ];
        for (selector, expected) in cases {
            assert_eq!(check(selector).err().as_deref(), expected, "{selector}");
        }
    }
}
