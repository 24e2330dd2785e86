//! HTML to readable text: one line per heading, paragraph, list item and table row;
//! whitespace folded; scripts, styles and ignored regions dropped. Layout-only edits
//! (indentation, wrapping, attributes) therefore never change the text.
//!
//! Walks the tree iteratively, so deeply nested documents cannot overflow the stack.

use std::collections::HashSet;

use ego_tree::iter::Edge;
use regex::Regex;

use super::stream;
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
fn is_skipped(name: &str) -> bool {
    matches!(
        name,
        "script" | "style" | "noscript" | "template" | "head" | "svg" | "iframe" | "object"
    )
}

/// Elements that start and end a line of their own.
fn is_block(name: &str) -> bool {
    matches!(
        name,
        "address"
            | "article"
            | "aside"
            | "blockquote"
            | "dd"
            | "details"
            | "dialog"
            | "div"
            | "dl"
            | "dt"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "footer"
            | "form"
            | "header"
            | "hr"
            | "li"
            | "main"
            | "nav"
            | "ol"
            | "p"
            | "pre"
            | "section"
            | "summary"
            | "table"
            | "tbody"
            | "thead"
            | "tfoot"
            | "tr"
            | "ul"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "caption"
            | "body"
            | "html"
    )
}

fn parse_selectors(list: &[String]) -> Result<Vec<Selector>, String> {
    list.iter()
        .map(|s| Selector::parse(s).map_err(|e| format!("bad CSS selector `{s}`: {e}")))
        .collect()
}

/// Checks a CSS selector the way extraction will use it.
pub fn validate_selector(s: &str) -> Result<(), String> {
    parse_selectors(&[s.to_string()]).map(|_| ())
}

/// Extracts readable text and links from an HTML document: streaming when the page and
/// the selectors allow it (most pages), through html5ever's tree otherwise. Both give the
/// same result; `tests/extract_differential.rs` holds them to it.
pub fn extract(
    html: &str,
    base: Option<&Url>,
    narrowing: Narrowing<'_>,
) -> Result<Extracted, String> {
    let (select, ignore) = checked(html, narrowing)?;
    let walked = match streaming(html, base, narrowing) {
        Some(Ok(walked)) => walked,
        _ => walk_tree(html, base, &select, &ignore),
    };
    finish(walked, narrowing)
}

/// [`extract`] through the tree only (the reference the streaming path is tested against).
pub fn extract_by_tree(
    html: &str,
    base: Option<&Url>,
    narrowing: Narrowing<'_>,
) -> Result<Extracted, String> {
    let (select, ignore) = checked(html, narrowing)?;
    finish(walk_tree(html, base, &select, &ignore), narrowing)
}

/// What every extraction checks first: the nesting depth, then the selectors (parsed for
/// the tree: `select`, then ignore).
fn checked(html: &str, narrowing: Narrowing<'_>) -> Result<(Vec<Selector>, Vec<Selector>), String> {
    check_depth(html)?;
    Ok((
        parse_selectors(narrowing.select)?,
        parse_selectors(narrowing.ignore_selectors)?,
    ))
}

/// [`extract`] by streaming only: `Err` names what streaming leaves to the tree.
pub fn extract_streaming(
    html: &str,
    base: Option<&Url>,
    narrowing: Narrowing<'_>,
) -> Result<Result<Extracted, String>, &'static str> {
    if let Err(e) = checked(html, narrowing) {
        return Ok(Err(e));
    }
    match streaming(html, base, narrowing) {
        Some(walked) => walked.map(|w| finish(w, narrowing)),
        None => Err("a selector streaming cannot decide"),
    }
}

fn check_depth(html: &str) -> Result<(), String> {
    let depth = nesting_depth(html);
    if depth > MAX_DEPTH {
        return Err(format!(
            "HTML nested about {depth} levels deep (limit {MAX_DEPTH}): not a page a person reads"
        ));
    }
    Ok(())
}

/// The streaming walk, or `None` when a selector needs the tree.
fn streaming(
    html: &str,
    base: Option<&Url>,
    narrowing: Narrowing<'_>,
) -> Option<Result<Walked, &'static str>> {
    let compile = |list: &[String]| -> Option<Vec<stream::Compiled>> {
        list.iter().map(|s| stream::compile(s)).collect()
    };
    let select = compile(narrowing.select)?;
    let ignore = compile(narrowing.ignore_selectors)?;
    Some(stream::walk(html, base, &select, &ignore))
}

/// What walking a page gives, before it is finished into [`Extracted`].
pub(crate) struct Walked {
    /// One per selected element, in the order the tree path walks them (one for the whole
    /// document when nothing is selected).
    pub(crate) texts: Vec<TextBuilder>,
    pub(crate) links: Vec<Link>,
    /// The text of the first `<title>` and of the first `<h1>`, unfolded.
    pub(crate) title: Option<String>,
    pub(crate) h1: Option<String>,
}

fn walk_tree(html: &str, base: Option<&Url>, select: &[Selector], ignore: &[Selector]) -> Walked {
    let doc = Html::parse_document(html);
    let ignored: HashSet<ego_tree::NodeId> = ignore
        .iter()
        .flat_map(|s| doc.select(s).map(|e| e.id()))
        .collect();
    let roots: Vec<ego_tree::NodeRef<'_, Node>> = if select.is_empty() {
        vec![doc.tree.root()]
    } else {
        let mut seen = HashSet::new();
        let mut roots = Vec::new();
        for s in select {
            for e in doc.select(s) {
                if seen.insert(e.id()) {
                    roots.push(*e);
                }
            }
        }
        roots
    };
    let mut links = Vec::new();
    let texts = roots
        .into_iter()
        .map(|root| walk(root, base, &ignored, &mut links))
        .collect();
    let first_text = |name: &str| {
        Selector::parse(name)
            .ok()
            .and_then(|s| doc.select(&s).next())
            .map(|t| t.text().collect::<String>())
    };
    Walked {
        texts,
        links,
        title: first_text("title"),
        h1: first_text("h1"),
    }
}

fn finish(walked: Walked, narrowing: Narrowing<'_>) -> Result<Extracted, String> {
    if !narrowing.select.is_empty() && walked.texts.is_empty() {
        return Err(format!(
            "`select` ({}) matched nothing on the page: has its layout changed?",
            narrowing.select.join(", ")
        ));
    }
    let mut text = String::new();
    for t in walked.texts {
        let t = t.finish();
        if text.is_empty() {
            // The whole page, or the first selected element: kept, not copied.
            text = t;
        } else if !t.is_empty() {
            text.push('\n');
            text.push_str(&t);
        }
    }
    let title = walked
        .title
        .map(|t| fold(&t))
        .filter(|t| !t.is_empty())
        .or_else(|| walked.h1.map(|t| fold(&t)))
        .unwrap_or_default();
    let text = apply_ignore(text, narrowing.ignore);
    let mut links = walked.links;
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
    let mut links = Vec::new();
    walk(doc.tree.root(), None, &HashSet::new(), &mut links).finish()
}

/// Walks one subtree of a parsed document.
fn walk(
    root: ego_tree::NodeRef<'_, Node>,
    base: Option<&Url>,
    ignored: &HashSet<ego_tree::NodeId>,
    links: &mut Vec<Link>,
) -> TextBuilder {
    let mut w = Walker::new(base);
    for edge in root.traverse() {
        match edge {
            Edge::Open(node) => match node.value() {
                Node::Text(t) => w.text(t),
                Node::Element(e) => w.open(
                    node.id(),
                    e.name(),
                    |n| e.attr(n),
                    ignored.contains(&node.id()),
                ),
                _ => {}
            },
            Edge::Close(node) => {
                if let Node::Element(e) = node.value() {
                    w.close(node.id(), e.name(), e.attr("href").is_some(), links);
                }
            }
        }
    }
    w.out
}

/// One walk over a subtree, fed element by element: lines of text and links. The tree
/// walk and the streaming extractor share it, so both word text the same way.
pub(crate) struct Walker<'b, K> {
    base: Option<&'b Url>,
    pub(crate) out: TextBuilder,
    link_stack: Vec<(String, usize)>,
    /// While inside a skipped element, everything down to its close is dropped.
    skipping: Option<K>,
}

impl<'b, K: Copy + PartialEq> Walker<'b, K> {
    pub(crate) fn new(base: Option<&'b Url>) -> Self {
        Self::with_room(base, 0)
    }

    /// A walker whose text has room for `bytes` from the start. A page's text is rarely
    /// longer than its HTML; growing by doubling instead copied it several times into
    /// fresh memory.
    pub(crate) fn with_room(base: Option<&'b Url>, bytes: usize) -> Self {
        Walker {
            base,
            out: TextBuilder {
                text: String::with_capacity(bytes),
                ..TextBuilder::default()
            },
            link_stack: Vec::new(),
            skipping: None,
        }
    }

    pub(crate) fn text(&mut self, t: &str) {
        if self.skipping.is_none() {
            self.out.push_text(t);
        }
    }

    /// Element `id` opens; `attr` reads its attributes; `ignored` when an ignore selector
    /// matched it.
    pub(crate) fn open<'a>(
        &mut self,
        id: K,
        name: &str,
        attr: impl Fn(&str) -> Option<&'a str>,
        ignored: bool,
    ) {
        if self.skipping.is_some() {
            return;
        }
        let out = &mut self.out;
        if ignored || is_skipped(name) {
            self.skipping = Some(id);
            return;
        }
        match name {
            "br" => out.break_line(),
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                out.break_line();
                const PREFIXES: [&str; 6] = ["# ", "## ", "### ", "#### ", "##### ", "###### "];
                let level = name[1..].parse::<usize>().unwrap_or(1);
                out.prefix(PREFIXES[level.clamp(1, 6) - 1]);
            }
            "li" => {
                out.break_line();
                out.prefix("- ");
            }
            "td" | "th" => out.cell(),
            "img" => {
                if let Some(alt) = attr("alt").map(fold).filter(|a| !a.is_empty()) {
                    out.push_text(&format!(" [{alt}] "));
                }
            }
            _ if is_block(name) => out.break_line(),
            _ => {}
        }
        if name == "a" {
            if let Some(href) = attr("href") {
                self.link_stack.push((href.to_string(), out.mark()));
            }
        }
    }

    /// Element `id` closes; `has_href` when it has an `href` attribute.
    pub(crate) fn close(&mut self, id: K, name: &str, has_href: bool, links: &mut Vec<Link>) {
        if let Some(skipped) = self.skipping {
            if skipped == id {
                self.skipping = None;
            }
            return;
        }
        if name == "a" && has_href {
            if let Some((href, mark)) = self.link_stack.pop() {
                if let Some(url) = absolute(&href, self.base) {
                    links.push(Link {
                        url,
                        text: fold(&self.out.since(mark)),
                    });
                }
            }
        } else if name == "tr" || is_block(name) || name.starts_with('h') && name.len() == 2 {
            self.out.break_line();
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
    // `String::from` hands over the URL's own string; `to_string` formatted a copy.
    matches!(url.scheme(), "http" | "https").then(|| String::from(url))
}

/// Deepest element nesting accepted. Real pages stay under a hundred; the HTML parser's
/// cost grows with the square of the depth, so a hostile page must be refused before it.
pub const MAX_DEPTH: usize = 1000;

static TAG: std::sync::LazyLock<Regex> =
    std::sync::LazyLock::new(|| Regex::new(r"<[^>]*>").expect("valid regex"));

/// How [`nesting_depth`] counts an element's start tag.
#[derive(PartialEq)]
enum Nesting {
    /// Opens a level that its end tag closes.
    Opens,
    /// Never has a closing tag.
    Void,
    /// Its end tag may be left out (`<li>` after `<li>`): not counted, so long lists and
    /// tables written that way are not mistaken for deep nesting.
    OptionalEnd,
}

fn nesting_of(lower_name: &[u8]) -> Nesting {
    match lower_name {
        b"area" | b"base" | b"br" | b"col" | b"embed" | b"hr" | b"img" | b"input" | b"link"
        | b"meta" | b"param" | b"source" | b"track" | b"wbr" => Nesting::Void,
        b"p" | b"li" | b"dt" | b"dd" | b"tr" | b"td" | b"th" | b"option" | b"optgroup"
        | b"thead" | b"tbody" | b"tfoot" | b"colgroup" | b"rb" | b"rt" | b"rp" | b"html"
        | b"head" | b"body" => Nesting::OptionalEnd,
        _ => Nesting::Opens,
    }
}

/// Approximate maximum tag nesting, in one linear pass over the bytes (no parsing).
pub fn nesting_depth(html: &str) -> usize {
    let bytes = html.as_bytes();
    let (mut depth, mut max) = (0usize, 0usize);
    let mut i = 0;
    while let Some(off) = memchr::memchr(b'<', &bytes[i..]) {
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
        // Names in the lists are short: longer ones always open a level.
        let mut lower = [0u8; 10];
        let nesting = match bytes.get(start..start + name_len) {
            Some(name) if name.len() <= lower.len() => {
                for (l, b) in lower.iter_mut().zip(name) {
                    *l = b.to_ascii_lowercase();
                }
                nesting_of(&lower[..name_len])
            }
            _ => Nesting::Opens,
        };
        if nesting == Nesting::OptionalEnd {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
        } else if nesting == Nesting::Opens {
            let end = memchr::memchr(b'>', &bytes[start..]).map(|p| start + p);
            if end.is_some_and(|e| e > 0 && bytes[e - 1] == b'/') {
                continue;
            }
            depth += 1;
            max = max.max(depth);
        }
    }
    max
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
    // Every invisible character is outside ASCII; `is_ascii` is one fast pass.
    if !s.is_ascii() && s.chars().any(is_invisible) {
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
    let mut out = String::with_capacity(s.len());
    fold_into(s, &mut out);
    out
}

/// How [`fold_into`] reads a byte: part of a word, ASCII whitespace, or the start of a
/// character outside ASCII (decoded only then).
const WORD: u8 = 0;
const SPACE: u8 = 1;
const WIDE: u8 = 2;
static BYTE_CLASS: [u8; 256] = {
    let mut t = [WORD; 256];
    let mut b = 128;
    while b < 256 {
        t[b] = WIDE;
        b += 1;
    }
    // `char::is_whitespace` on ASCII.
    t[b'\t' as usize] = SPACE;
    t[b'\n' as usize] = SPACE;
    t[0x0B] = SPACE;
    t[0x0C] = SPACE;
    t[b'\r' as usize] = SPACE;
    t[b' ' as usize] = SPACE;
    t
};

/// [`fold`], appended to `out`, in one pass. It runs over every line of every page, so
/// text already folded (ASCII words each followed by one space) is found with a tight
/// table-driven loop and copied as one slice; only what breaks that is looked at closely.
fn fold_into(s: &str, out: &mut String) {
    // (is whitespace, is invisible, byte length) of the character at `i`, outside ASCII.
    let wide = |i: usize| {
        let c = s[i..].chars().next().unwrap_or(' ');
        (
            c.is_whitespace() || c == '\u{a0}',
            is_invisible(c),
            c.len_utf8(),
        )
    };
    let bytes = s.as_bytes();
    let n = bytes.len();
    let class = |i: usize| BYTE_CLASS[bytes[i] as usize];
    let mut any = false;
    // A run of words to copy as it is: [from, to).
    let mut run: Option<(usize, usize)> = None;
    let mut i = 0;
    loop {
        let gap = i;
        let mut space = false;
        while i < n {
            match class(i) {
                WORD => break,
                SPACE => {
                    space = true;
                    i += 1;
                }
                _ => {
                    let (white, invisible, len) = wide(i);
                    if !white && !invisible {
                        break;
                    }
                    space |= white;
                    i += len;
                }
            }
        }
        if i >= n {
            break;
        }
        let word = i;
        loop {
            i = skip_folded(bytes, i);
            while i < n && class(i) == WORD {
                i += 1;
            }
            // A single space between two ASCII words keeps the text as it is.
            if i + 1 < n && bytes[i] == b' ' && class(i + 1) == WORD {
                i += 1;
                continue;
            }
            if i < n && class(i) == WIDE {
                let (white, invisible, len) = wide(i);
                if !white && !invisible {
                    i += len;
                    continue;
                }
            }
            break;
        }
        match run {
            // One plain space since the run: the run goes on.
            Some((from, _)) if word == gap + 1 && bytes[gap] == b' ' => run = Some((from, i)),
            _ => {
                if let Some((from, to)) = run.take() {
                    out.push_str(&s[from..to]);
                }
                if space && any {
                    out.push(' ');
                }
                run = Some((word, i));
                any = true;
            }
        }
    }
    if let Some((from, to)) = run {
        out.push_str(&s[from..to]);
    }
}

/// From `i`, skips whole 8-byte blocks of text that is folded already: ASCII words, each
/// space followed by a word byte. Most of a page's text is like that, and a block is
/// tested in a few word operations instead of byte by byte; a block with anything else
/// in it (other whitespace, control or non-ASCII bytes, two spaces) is left to the caller.
fn skip_folded(bytes: &[u8], mut i: usize) -> usize {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    const LOW7: u64 = u64::from_le_bytes([0x7f; 8]);
    // High bit set in each byte that is 0x20 or below, or outside ASCII (exact: the
    // subtraction cannot borrow across bytes because each has its high bit set first).
    let special = |x: u64| (!((x | HIGH) - 0x21 * ONES) | x) & HIGH;
    // High bit set in each byte that is exactly a space.
    let space = |x: u64| {
        let y = x ^ (0x20 * ONES);
        !(((y & LOW7) + LOW7) | y) & HIGH
    };
    while let (Some(block), Some(next)) = (bytes.get(i..i + 8), bytes.get(i + 1..i + 9)) {
        let block = u64::from_le_bytes(block.try_into().unwrap_or_default());
        let next = u64::from_le_bytes(next.try_into().unwrap_or_default());
        let spaces = space(block);
        // Only spaces are special, and the byte after each space is not.
        if special(block) & !spaces != 0 || spaces & special(next) != 0 {
            break;
        }
        i += 8;
    }
    i
}

/// Removes every match of the ignore patterns, line by line, dropping lines left empty.
fn apply_ignore(text: String, ignore: &[Regex]) -> String {
    if ignore.is_empty() {
        return text;
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
pub(crate) struct TextBuilder {
    /// The finished lines, joined by newlines.
    text: String,
    lines: usize,
    current: String,
    prefix: &'static str,
    cells: usize,
}

impl TextBuilder {
    fn push_text(&mut self, t: &str) {
        self.current.push_str(t);
    }

    fn prefix(&mut self, p: &'static str) {
        self.prefix = p;
    }

    fn cell(&mut self) {
        if self.cells > 0 {
            self.current.push_str(" | ");
        }
        self.cells += 1;
    }

    /// Position in the text of the current line, for link text.
    fn mark(&self) -> usize {
        self.lines << 32 | self.current.len()
    }

    fn since(&self, mark: usize) -> String {
        let (line, pos) = (mark >> 32, mark & 0xffff_ffff);
        if line == self.lines {
            self.current.get(pos..).unwrap_or_default().to_string()
        } else {
            // The link spanned a line break: its text is the tail of the current line.
            self.current.clone()
        }
    }

    fn break_line(&mut self) {
        let before = self.text.len();
        if self.lines > 0 {
            self.text.push('\n');
        }
        let line = self.text.len();
        self.text.push_str(self.prefix);
        fold_into(&self.current, &mut self.text);
        if self.text.len() == line + self.prefix.len() {
            // Nothing but the prefix: no line.
            self.text.truncate(before);
        } else {
            self.lines += 1;
        }
        self.current.clear();
        self.prefix = "";
        self.cells = 0;
    }

    fn finish(mut self) -> String {
        self.break_line();
        self.text
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

    /// `fold` as it was written before the one-pass version: the reference it must match.
    fn fold_reference(s: &str) -> String {
        let s: String = s.chars().filter(|c| !is_invisible(*c)).collect();
        s.split(|c: char| c.is_whitespace() || c == '\u{a0}')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn one_pass_fold_matches_the_reference() {
        let alphabet: Vec<char> =
            "ab Z.\t\n\r\x0b\x0c\u{a0}\u{85}\u{2003}\u{3000}\u{200b}\u{ad}\u{feff}\u{180e}é€😀"
                .chars()
                .collect();
        let mut rng = fastrand::Rng::with_seed(17);
        for _ in 0..5000 {
            let s: String = (0..rng.usize(0..24))
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            assert_eq!(fold(&s), fold_reference(&s), "{s:?}");
        }
    }

    /// Long runs of folded text go through `skip_folded`'s 8-byte blocks: every kind of
    /// byte that must stop a block, at every offset, is compared with the reference.
    #[test]
    fn block_skipping_fold_matches_the_reference() {
        let stops = [
            " ", "  ", "\t", "\n", "\r", "\x0b", "\x0c", "\x01", "\x7f", "\u{a0}", "\u{200b}", "é",
            "😀", "\u{3000}", "\u{85}",
        ];
        let mut rng = fastrand::Rng::with_seed(29);
        for _ in 0..5000 {
            let mut s = String::new();
            for _ in 0..rng.usize(1..12) {
                let word: String = (0..rng.usize(1..11))
                    .map(|_| char::from(rng.u8(b'!'..=b'~')))
                    .collect();
                s.push_str(&word);
                s.push_str(if rng.u8(..) < 40 {
                    stops[rng.usize(..stops.len())]
                } else {
                    " "
                });
            }
            assert_eq!(fold(&s), fold_reference(&s), "{s:?}");
        }
        // Folded text is skipped in blocks up to the last whole block before its end; a
        // double space stops it at the block holding it.
        let clean = format!("{}end", "Victims of modern slavery ".repeat(10));
        assert_eq!(skip_folded(clean.as_bytes(), 0), (clean.len() - 1) / 8 * 8);
        let doubled = clean.replacen("of modern", "of  modern", 3);
        assert_eq!(
            skip_folded(doubled.as_bytes(), 0),
            8,
            "\"Victims \" then \"of  mode\""
        );
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
