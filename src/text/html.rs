//! HTML to readable text: one line per heading, paragraph, list item and table row;
//! whitespace folded; scripts, styles and ignored regions dropped. Layout-only edits
//! (indentation, wrapping, attributes) therefore never change the text.
//!
//! Walks the tree iteratively, so deeply nested documents cannot overflow the stack.

use std::collections::HashSet;

use ego_tree::iter::Edge;
use regex::Regex;
use scraper::{Html, Node, Selector};
use serde::{Deserialize, Serialize};
use url::Url;

/// A link found on a page.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Link {
    pub url: String,
    pub text: String,
}

/// What a page yields after narrowing and cleaning.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extracted {
    pub title: String,
    pub text: String,
    pub links: Vec<Link>,
}

/// Selectors and patterns, already validated by the watchlist loader.
#[derive(Debug, Clone, Copy, Default)]
pub struct Narrowing<'a> {
    pub select: &'a [String],
    pub ignore_selectors: &'a [String],
    pub ignore: &'a [Regex],
}

/// Elements whose content is never text a reader sees.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "head", "svg", "iframe", "object",
];

/// Elements that start and end a line of their own.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "dd",
    "details",
    "dialog",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "thead",
    "tfoot",
    "tr",
    "ul",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "caption",
    "body",
    "html",
];

fn parse_selectors(list: &[String]) -> Result<Vec<Selector>, String> {
    list.iter()
        .map(|s| Selector::parse(s).map_err(|e| format!("bad CSS selector `{s}`: {e}")))
        .collect()
}

/// Checks a CSS selector the way extraction will use it.
pub fn validate_selector(s: &str) -> Result<(), String> {
    parse_selectors(&[s.to_string()]).map(|_| ())
}

/// Extracts readable text and links from an HTML document.
pub fn extract(
    html: &str,
    base: Option<&Url>,
    narrowing: Narrowing<'_>,
) -> Result<Extracted, String> {
    let depth = nesting_depth(html);
    if depth > MAX_DEPTH {
        return Err(format!(
            "HTML nested about {depth} levels deep (limit {MAX_DEPTH}): not a page a person reads"
        ));
    }
    let doc = Html::parse_document(html);
    let select = parse_selectors(narrowing.select)?;
    let ignore = parse_selectors(narrowing.ignore_selectors)?;

    let ignored: HashSet<ego_tree::NodeId> = ignore
        .iter()
        .flat_map(|s| doc.select(s).map(|e| e.id()))
        .collect();

    let roots: Vec<ego_tree::NodeRef<'_, Node>> = if select.is_empty() {
        vec![doc.tree.root()]
    } else {
        let mut seen = HashSet::new();
        let mut roots = Vec::new();
        for s in &select {
            for e in doc.select(s) {
                if seen.insert(e.id()) {
                    roots.push(*e);
                }
            }
        }
        if roots.is_empty() {
            return Err(format!(
                "`select` ({}) matched nothing on the page: has its layout changed?",
                narrowing.select.join(", ")
            ));
        }
        roots
    };

    let mut out = TextBuilder::default();
    let mut links = Vec::new();
    for root in roots {
        walk(root, base, &ignored, &mut out, &mut links);
        out.break_line();
    }

    let title = Selector::parse("title")
        .ok()
        .and_then(|s| doc.select(&s).next())
        .map(|t| fold(&t.text().collect::<String>()))
        .filter(|t| !t.is_empty())
        .or_else(|| {
            Selector::parse("h1")
                .ok()
                .and_then(|s| doc.select(&s).next())
                .map(|t| fold(&t.text().collect::<String>()))
        })
        .unwrap_or_default();

    let text = apply_ignore(&out.finish(), narrowing.ignore);
    links.sort();
    links.dedup_by(|a, b| a.url == b.url);
    Ok(Extracted { title, text, links })
}

/// Readable text of an HTML fragment (e.g. a GOV.UK `body`), no narrowing.
pub fn fragment_text(html: &str) -> String {
    if nesting_depth(html) > MAX_DEPTH {
        // Too deep to parse cheaply: keep the words, drop the markup.
        return fold(&TAG.replace_all(html, " "));
    }
    let doc = Html::parse_fragment(html);
    let mut out = TextBuilder::default();
    let mut links = Vec::new();
    walk(doc.tree.root(), None, &HashSet::new(), &mut out, &mut links);
    out.finish()
}

fn walk(
    root: ego_tree::NodeRef<'_, Node>,
    base: Option<&Url>,
    ignored: &HashSet<ego_tree::NodeId>,
    out: &mut TextBuilder,
    links: &mut Vec<Link>,
) {
    // While inside a skipped element, everything down to its close is dropped.
    let mut skipping: Option<ego_tree::NodeId> = None;
    let mut link_stack: Vec<(String, usize)> = Vec::new();
    for edge in root.traverse() {
        match edge {
            Edge::Open(node) => {
                if skipping.is_some() {
                    continue;
                }
                match node.value() {
                    Node::Text(t) => out.push_text(t),
                    Node::Element(e) => {
                        let name = e.name();
                        if ignored.contains(&node.id()) || SKIPPED.contains(&name) {
                            skipping = Some(node.id());
                            continue;
                        }
                        match name {
                            "br" => out.break_line(),
                            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                                out.break_line();
                                let level = name[1..].parse::<usize>().unwrap_or(1);
                                out.prefix(&format!("{} ", "#".repeat(level)));
                            }
                            "li" => {
                                out.break_line();
                                out.prefix("- ");
                            }
                            "td" | "th" => out.cell(),
                            "img" => {
                                if let Some(alt) = e.attr("alt").map(fold).filter(|a| !a.is_empty())
                                {
                                    out.push_text(&format!(" [{alt}] "));
                                }
                            }
                            _ if BLOCKS.contains(&name) => out.break_line(),
                            _ => {}
                        }
                        if name == "a" {
                            if let Some(href) = e.attr("href") {
                                link_stack.push((href.to_string(), out.mark()));
                            }
                        }
                    }
                    _ => {}
                }
            }
            Edge::Close(node) => {
                if let Some(id) = skipping {
                    if id == node.id() {
                        skipping = None;
                    }
                    continue;
                }
                if let Node::Element(e) = node.value() {
                    let name = e.name();
                    if name == "a" && e.attr("href").is_some() {
                        if let Some((href, mark)) = link_stack.pop() {
                            if let Some(url) = absolute(&href, base) {
                                links.push(Link {
                                    url,
                                    text: fold(&out.since(mark)),
                                });
                            }
                        }
                    } else if name == "tr"
                        || BLOCKS.contains(&name)
                        || name.starts_with('h') && name.len() == 2
                    {
                        out.break_line();
                    }
                }
            }
        }
    }
}

fn absolute(href: &str, base: Option<&Url>) -> Option<String> {
    let href = href.trim();
    if href.is_empty()
        || href.starts_with('#')
        || href.starts_with("javascript:")
        || href.starts_with("mailto:")
    {
        return None;
    }
    let url = match base {
        Some(b) => b.join(href).ok()?,
        None => Url::parse(href).ok()?,
    };
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

/// Deepest element nesting accepted. Real pages stay under a hundred; the HTML parser's
/// cost grows with the square of the depth, so a hostile page must be refused before it.
pub const MAX_DEPTH: usize = 1000;

static TAG: std::sync::LazyLock<Regex> =
    std::sync::LazyLock::new(|| Regex::new(r"<[^>]*>").expect("valid regex"));

/// Elements that never have a closing tag.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

/// Elements whose end tag may be left out (`<li>` after `<li>`): not counted, so long
/// lists and tables written that way are not mistaken for deep nesting.
const OPTIONAL_END: &[&str] = &[
    "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "thead", "tbody", "tfoot",
    "colgroup", "rb", "rt", "rp", "html", "head", "body",
];

/// Approximate maximum tag nesting, in one linear pass over the bytes (no parsing).
pub fn nesting_depth(html: &str) -> usize {
    let bytes = html.as_bytes();
    let (mut depth, mut max) = (0usize, 0usize);
    let mut i = 0;
    while let Some(off) = memchr_lt(&bytes[i..]) {
        i += off + 1;
        let closing = bytes.get(i) == Some(&b'/');
        let start = i + usize::from(closing);
        let name_len = bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        if name_len == 0 {
            continue;
        }
        let name = &html[start..start + name_len];
        let is = |list: &[&str]| list.iter().any(|n| n.eq_ignore_ascii_case(name));
        if is(OPTIONAL_END) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
        } else if !is(VOID) {
            let end = bytes[start..]
                .iter()
                .position(|b| *b == b'>')
                .map(|p| start + p);
            if end.is_some_and(|e| e > 0 && bytes[e - 1] == b'/') {
                continue;
            }
            depth += 1;
            max = max.max(depth);
        }
    }
    max
}

fn memchr_lt(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|b| *b == b'<')
}

/// Characters no reader sees: zero-width spaces and joiners, word joiner, soft hyphen,
/// byte-order mark, bidi marks and isolates, variation selectors. A page that gains or
/// loses them has not changed for anyone reading it.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
        | '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

/// `s` without [invisible](is_invisible) characters (borrowed when it has none).
pub fn strip_invisible(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(is_invisible) {
        s.chars()
            .filter(|c| !is_invisible(*c))
            .collect::<String>()
            .into()
    } else {
        s.into()
    }
}

/// Collapses runs of whitespace (including non-breaking spaces) to one space and trims;
/// drops invisible characters.
pub fn fold(s: &str) -> String {
    let s = strip_invisible(s);
    let mut out = String::with_capacity(s.len());
    for word in s.split(|c: char| c.is_whitespace() || c == '\u{a0}') {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Removes every match of the ignore patterns, line by line, dropping lines left empty.
fn apply_ignore(text: &str, ignore: &[Regex]) -> String {
    if ignore.is_empty() {
        return text.to_string();
    }
    text.lines()
        .map(|line| {
            let mut l = line.to_string();
            for re in ignore {
                l = re.replace_all(&l, "").into_owned();
            }
            fold(&l)
        })
        .filter(|l| !l.is_empty() && l != "-" && !l.chars().all(|c| c == '#'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Accumulates lines; whitespace inside a line is folded when the line ends.
#[derive(Default)]
struct TextBuilder {
    lines: Vec<String>,
    current: String,
    prefix: String,
    cells: usize,
}

impl TextBuilder {
    fn push_text(&mut self, t: &str) {
        self.current.push_str(t);
    }

    fn prefix(&mut self, p: &str) {
        self.prefix = p.to_string();
    }

    fn cell(&mut self) {
        if self.cells > 0 {
            self.current.push_str(" | ");
        }
        self.cells += 1;
    }

    /// Position in the text of the current line, for link text.
    fn mark(&self) -> usize {
        self.lines.len() << 32 | self.current.len()
    }

    fn since(&self, mark: usize) -> String {
        let (line, pos) = (mark >> 32, mark & 0xffff_ffff);
        if line == self.lines.len() {
            self.current.get(pos..).unwrap_or_default().to_string()
        } else {
            // The link spanned a line break: its text is the tail of the current line.
            self.current.clone()
        }
    }

    fn break_line(&mut self) {
        let folded = fold(&self.current);
        if !folded.is_empty() {
            self.lines.push(format!("{}{}", self.prefix, folded));
        }
        self.current.clear();
        self.prefix.clear();
        self.cells = 0;
    }

    fn finish(mut self) -> String {
        self.break_line();
        self.lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(html: &str) -> String {
        extract(html, None, Narrowing::default()).unwrap().text
    }

    #[test]
    fn blocks_become_lines_and_scripts_vanish() {
        let html = "<html><head><title>T</title><style>p{}</style></head><body>\
            <h2>Annex  B</h2><p>First\n   para</p><ul><li>one</li><li>two</li></ul>\
            <table><tr><th>a</th><td>b</td></tr></table><script>var x=1</script></body></html>";
        assert_eq!(text(html), "## Annex B\nFirst para\n- one\n- two\na | b");
    }

    #[test]
    fn invisible_characters_are_not_text() {
        let plain = "<p>Victims of modern slavery</p><p>Guidance</p>";
        let hidden =
            "<p>\u{FEFF}Vic\u{00AD}tims\u{200B} of mod\u{200D}ern\u{200E} slavery\u{FE0F}</p>\
            <p>\u{2066}Guid\u{2060}ance\u{2069}</p>";
        assert_eq!(text(plain), text(hidden));
    }

    #[test]
    fn whitespace_and_layout_do_not_change_text() {
        let a = "<div><p>Victims   of modern slavery</p></div>";
        let b = "<div>\n  <p class=\"x\">\n Victims of\n modern slavery </p>\n</div>";
        assert_eq!(text(a), text(b));
    }

    #[test]
    fn select_and_ignore_narrow_the_page() {
        let html = "<main><p>keep</p><div class=ad>Advert</div></main><footer>drop</footer>";
        let select = vec!["main".to_string()];
        let ignore_selectors = vec![".ad".to_string()];
        let ignore = vec![Regex::new(r"\d+ views").unwrap()];
        let n = Narrowing {
            select: &select,
            ignore_selectors: &ignore_selectors,
            ignore: &ignore,
        };
        assert_eq!(extract(html, None, n).unwrap().text, "keep");
    }

    #[test]
    fn links_are_absolute_with_their_text() {
        let base = Url::parse("https://example.org/pubs/").unwrap();
        let html =
            r##"<p><a href="report.pdf">Annual <b>report</b></a> <a href="#top">top</a></p>"##;
        let e = extract(html, Some(&base), Narrowing::default()).unwrap();
        assert_eq!(
            e.links,
            vec![Link {
                url: "https://example.org/pubs/report.pdf".into(),
                text: "Annual report".into()
            }]
        );
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing_and_moderate_nesting_works() {
        let html = "<div>".repeat(900) + "deep" + &"</div>".repeat(900);
        assert!(text(&html).contains("deep"));
        let hostile = "<div>".repeat(200_000);
        let err = extract(&hostile, None, Narrowing::default()).unwrap_err();
        assert!(
            err.contains("nested about 200000 levels deep (limit 1000)"),
            "{err}"
        );
        assert_eq!(fragment_text(&("<span>".repeat(5000) + "words")), "words");
    }

    #[test]
    fn void_and_self_closed_elements_do_not_count_as_nesting() {
        let html = "<div>".to_string() + &"<br><img src=x><input/><li>item".repeat(3000) + "</div>";
        assert_eq!(nesting_depth(&html), 1);
    }
}
