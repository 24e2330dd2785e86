//! The streaming extractor: html5ever's tokenizer with no tree. It follows the HTML tree
//! builder's rules for the documents most pages are (head, body, blocks, lists, headings,
//! inline formatting closed in order, inline SVG) and gives up, returning `None`, at the
//! first token whose effect on the tree it does not reproduce exactly (tables, misnested
//! formatting, `<select>`, MathML, templates, frames…). The caller then uses the tree. Both
//! paths word text through the same [`Walker`], and `tests/extract_differential.rs` checks
//! they agree on the whole test corpus.
//!
//! Selectors are handled when every part is a type, `*`, `#id`, `.class`, `[attr]` or
//! `[attr=value]`, joined by descendant or child combinators: all of them can be decided
//! from the element and its open ancestors.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
    TokenizerResult,
};
use html5ever::{Attribute, LocalName};
use url::Url;

use super::html::{Link, Walked, Walker};
use super::tokenize::{self, Fed, Item};

/// Why streaming stopped; only for tests and debugging.
pub type Bail = &'static str;

/// A selector list streaming can decide, or `None`.
#[derive(Debug)]
pub struct Compiled {
    alternatives: Vec<Complex>,
}

#[derive(Debug)]
struct Complex {
    /// Left to right; `combinators[i]` joins `parts[i]` and `parts[i + 1]`.
    parts: Vec<Compound>,
    child: Vec<bool>,
}

#[derive(Debug, Default)]
struct Compound {
    tag: Option<String>,
    ids: Vec<String>,
    classes: Vec<String>,
    attrs: Vec<(String, Option<String>)>,
}

/// Attributes whose values selectors compare without case in HTML documents: `[a=v]` on
/// them is left to the tree.
const CASELESS_ATTRS: &[&str] = &[
    "accept",
    "accept-charset",
    "align",
    "alink",
    "axis",
    "bgcolor",
    "charset",
    "checked",
    "clear",
    "codetype",
    "color",
    "compact",
    "declare",
    "defer",
    "dir",
    "direction",
    "disabled",
    "enctype",
    "face",
    "frame",
    "hreflang",
    "http-equiv",
    "lang",
    "language",
    "link",
    "media",
    "method",
    "multiple",
    "nohref",
    "noresize",
    "noshade",
    "nowrap",
    "readonly",
    "rel",
    "rev",
    "rules",
    "scope",
    "scrolling",
    "selected",
    "shape",
    "target",
    "text",
    "type",
    "valign",
    "valuetype",
    "vlink",
];

/// `s` (already accepted by scraper) as a selector list streaming can decide.
pub fn compile(s: &str) -> Option<Compiled> {
    let mut alternatives = Vec::new();
    for alt in s.split(',') {
        alternatives.push(complex(alt)?);
    }
    Some(Compiled { alternatives })
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || !c.is_ascii()
}

fn complex(s: &str) -> Option<Complex> {
    let chars: Vec<char> = s.trim().chars().collect();
    let mut i = 0;
    let mut parts = Vec::new();
    let mut child = Vec::new();
    let ident = |i: &mut usize| -> Option<String> {
        let start = *i;
        while *i < chars.len() && is_ident(chars[*i]) {
            *i += 1;
        }
        (*i > start).then(|| chars[start..*i].iter().collect())
    };
    loop {
        let mut c = Compound::default();
        let start = i;
        if i < chars.len() && chars[i] == '*' {
            i += 1;
        } else if i < chars.len() && is_ident(chars[i]) {
            c.tag = Some(ident(&mut i)?.to_ascii_lowercase());
        }
        loop {
            match chars.get(i) {
                Some('#') => {
                    i += 1;
                    c.ids.push(ident(&mut i)?);
                }
                Some('.') => {
                    i += 1;
                    c.classes.push(ident(&mut i)?);
                }
                Some('[') => {
                    i += 1;
                    let name = ident(&mut i)?.to_ascii_lowercase();
                    let value = match chars.get(i) {
                        Some(']') => None,
                        Some('=') => {
                            i += 1;
                            let v = match chars.get(i) {
                                Some(q @ ('"' | '\'')) => {
                                    let q = *q;
                                    i += 1;
                                    let start = i;
                                    while i < chars.len() && chars[i] != q && chars[i] != '\\' {
                                        i += 1;
                                    }
                                    if chars.get(i) != Some(&q) {
                                        return None;
                                    }
                                    i += 1;
                                    chars[start..i - 1].iter().collect()
                                }
                                _ => ident(&mut i)?,
                            };
                            if CASELESS_ATTRS.contains(&name.as_str()) {
                                return None;
                            }
                            Some(v)
                        }
                        _ => return None,
                    };
                    if chars.get(i) != Some(&']') {
                        return None;
                    }
                    i += 1;
                    c.attrs.push((name, value));
                }
                _ => break,
            }
        }
        if i == start {
            return None;
        }
        parts.push(c);
        let before = i;
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        match chars.get(i) {
            None => break,
            Some('>') => {
                i += 1;
                while i < chars.len() && chars[i].is_whitespace() {
                    i += 1;
                }
                child.push(true);
            }
            Some(_) if i > before => child.push(false),
            Some(_) => return None,
        }
    }
    Some(Complex { parts, child })
}

fn attr<'a>(attrs: &'a [Attribute], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|a| &*a.name.local == name)
        .map(|a| &*a.value)
}

impl Compound {
    fn matches(&self, name: &str, attrs: &[Attribute]) -> bool {
        if self
            .tag
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case(name))
        {
            return false;
        }
        if !self.ids.iter().all(|id| attr(attrs, "id") == Some(id)) {
            return false;
        }
        if !self.classes.is_empty() {
            let Some(class) = attr(attrs, "class") else {
                return false;
            };
            if !self
                .classes
                .iter()
                .all(|c| class.split_ascii_whitespace().any(|k| k == c))
            {
                return false;
            }
        }
        self.attrs.iter().all(|(n, v)| {
            attrs.iter().any(|a| {
                &*a.name.local == n.as_str() && v.as_deref().is_none_or(|v| *a.value == *v)
            })
        })
    }
}

impl Complex {
    fn matches(&self, name: &str, attrs: &[Attribute], ancestors: &[Open]) -> bool {
        let last = self.parts.len() - 1;
        self.parts[last].matches(name, attrs) && self.ancestors_match(last, ancestors)
    }

    /// Whether parts before `k` match among `ancestors` (nearest last).
    fn ancestors_match(&self, k: usize, ancestors: &[Open]) -> bool {
        if k == 0 {
            return true;
        }
        let part = &self.parts[k - 1];
        if self.child[k - 1] {
            match ancestors.split_last() {
                Some((parent, rest)) => {
                    part.matches(&parent.name, &parent.attrs) && self.ancestors_match(k - 1, rest)
                }
                None => false,
            }
        } else {
            (0..ancestors.len()).rev().any(|p| {
                part.matches(&ancestors[p].name, &ancestors[p].attrs)
                    && self.ancestors_match(k - 1, &ancestors[..p])
            })
        }
    }
}

impl Compiled {
    fn matches(&self, name: &str, attrs: &[Attribute], ancestors: &[Open]) -> bool {
        self.alternatives
            .iter()
            .any(|c| c.matches(name, attrs, ancestors))
    }
}

/// An element on the stack of open elements.
struct Open {
    name: LocalName,
    attrs: Vec<Attribute>,
    /// Inserted order, which is document order here.
    order: usize,
    /// An SVG element.
    foreign: bool,
}

impl Open {
    fn is(&self, names: &[&str]) -> bool {
        !self.foreign && names.contains(&&*self.name)
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Initial,
    BeforeHtml,
    BeforeHead,
    InHead,
    AfterHead,
    InBody,
    InTable,
    InTableBody,
    InRow,
    InCell,
}

impl Mode {
    fn before_body(self) -> bool {
        matches!(
            self,
            Mode::Initial | Mode::BeforeHtml | Mode::BeforeHead | Mode::InHead | Mode::AfterHead
        )
    }
}

enum Capture {
    Waiting,
    Open(usize, String),
    Done(String),
}

impl Capture {
    fn done(self) -> Option<String> {
        match self {
            Capture::Waiting => None,
            Capture::Open(_, s) | Capture::Done(s) => Some(s),
        }
    }
}

struct Root<'b> {
    /// (index of the `select` entry, document order): the tree path's order.
    key: (usize, usize),
    depth: usize,
    walker: Walker<'b, usize>,
}

const FORMATTING: &[&str] = &[
    "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u",
];
const IMPLIED_END: &[&str] = &[
    "dd", "dt", "li", "option", "optgroup", "p", "rb", "rp", "rt", "rtc",
];
const SCOPE: &[&str] = &[
    "applet", "caption", "html", "table", "td", "th", "marquee", "object", "template",
];
const SPECIAL: &[&str] = &[
    "address",
    "applet",
    "area",
    "article",
    "aside",
    "base",
    "basefont",
    "bgsound",
    "blockquote",
    "body",
    "br",
    "button",
    "caption",
    "center",
    "col",
    "colgroup",
    "dd",
    "details",
    "dir",
    "div",
    "dl",
    "dt",
    "embed",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "frame",
    "frameset",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "hgroup",
    "hr",
    "html",
    "iframe",
    "img",
    "input",
    "isindex",
    "li",
    "link",
    "listing",
    "main",
    "marquee",
    "menu",
    "meta",
    "nav",
    "noembed",
    "noframes",
    "noscript",
    "object",
    "ol",
    "p",
    "param",
    "plaintext",
    "pre",
    "script",
    "section",
    "select",
    "source",
    "style",
    "summary",
    "table",
    "tbody",
    "td",
    "template",
    "textarea",
    "tfoot",
    "th",
    "thead",
    "title",
    "tr",
    "track",
    "ul",
    "wbr",
    "xmp",
];
const TABLE_CONTEXT: &[&str] = &["html", "table", "template"];
const TABLE_BODY_CONTEXT: &[&str] = &["tbody", "tfoot", "thead", "template", "html"];
const TABLE_ROW_CONTEXT: &[&str] = &["tr", "template", "html"];
const HEADINGS: &[&str] = &["h1", "h2", "h3", "h4", "h5", "h6"];
const CLOSES_P: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "header",
    "hgroup",
    "main",
    "nav",
    "ol",
    "p",
    "search",
    "section",
    "summary",
    "ul",
    "menu",
];
const BLOCK_ENDS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "button",
    "center",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "header",
    "hgroup",
    "listing",
    "main",
    "menu",
    "nav",
    "ol",
    "pre",
    "search",
    "section",
    "summary",
    "ul",
];
/// What the "in head" rules insert (also when met in the body).
const HEAD_ELEMENTS: &[&str] = &[
    "base", "basefont", "bgsound", "link", "meta", "title", "noscript", "noframes", "style",
    "script",
];
/// Start tags that leave SVG for HTML.
const BREAKOUT: &[&str] = &[
    "b",
    "big",
    "blockquote",
    "body",
    "br",
    "center",
    "code",
    "dd",
    "div",
    "dl",
    "dt",
    "em",
    "embed",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "hr",
    "i",
    "img",
    "li",
    "listing",
    "menu",
    "meta",
    "nobr",
    "ol",
    "p",
    "pre",
    "ruby",
    "s",
    "small",
    "span",
    "strong",
    "strike",
    "sub",
    "sup",
    "table",
    "tt",
    "u",
    "ul",
    "var",
];

enum Flow {
    Continue,
    Raw(RawKind),
}

type Step = Result<Flow, Bail>;

struct State<'b> {
    base: Option<&'b Url>,
    select: &'b [Compiled],
    ignore: &'b [Compiled],
    mode: Mode,
    /// Quirks mode from the doctype: `Some(true)` quirks, `Some(false)` no quirks, `None` a
    /// doctype not classified here (tables are then left to the tree).
    quirks: Option<bool>,
    /// Inside `<title>`, `<style>`, `<script>`…: characters are its text, any end tag ends it.
    raw: bool,
    skip_lf: bool,
    stack: Vec<Open>,
    /// The form element pointer (its order), if any.
    form: Option<usize>,
    order: usize,
    /// The walk of the whole document, when nothing is selected.
    whole: Option<Walker<'b, usize>>,
    roots: Vec<Root<'b>>,
    finished: Vec<Root<'b>>,
    links: Vec<Link>,
    title: Capture,
    h1: Capture,
    bailed: Option<Bail>,
}

fn ws(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0C' | '\r' | ' ')
}

impl<'b> State<'b> {
    fn walkers(&mut self) -> impl Iterator<Item = &mut Walker<'b, usize>> {
        self.whole
            .iter_mut()
            .chain(self.roots.iter_mut().map(|r| &mut r.walker))
    }

    fn chars(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        for w in self.walkers() {
            w.text(text);
        }
        for c in [&mut self.title, &mut self.h1] {
            if let Capture::Open(_, s) = c {
                s.push_str(text);
            }
        }
    }

    fn current(&self) -> Option<&Open> {
        self.stack.last()
    }

    fn current_is(&self, names: &[&str]) -> bool {
        self.current().is_some_and(|o| o.is(names))
    }

    fn insert(
        &mut self,
        name: LocalName,
        attrs: Vec<Attribute>,
        foreign: bool,
    ) -> Result<(), Bail> {
        let depth = self.stack.len() + 1;
        let ignored = self
            .ignore
            .iter()
            .any(|s| s.matches(&name, &attrs, &self.stack));
        let selected = self
            .select
            .iter()
            .position(|s| s.matches(&name, &attrs, &self.stack));
        if foreign && selected.is_some() {
            return Err("a selector matches inside SVG");
        }
        let get = |n: &str| attr(&attrs, n);
        for w in self
            .whole
            .iter_mut()
            .chain(self.roots.iter_mut().map(|r| &mut r.walker))
        {
            w.open(depth, &name, get, ignored);
        }
        if let Some(index) = selected {
            let mut walker = Walker::new(self.base);
            walker.open(depth, &name, get, ignored);
            self.roots.push(Root {
                key: (index, self.order),
                depth,
                walker,
            });
        }
        if &*name == "title" {
            if let Capture::Waiting = self.title {
                self.title = Capture::Open(depth, String::new());
            }
        } else if &*name == "h1" && !foreign {
            if let Capture::Waiting = self.h1 {
                self.h1 = Capture::Open(depth, String::new());
            }
        }
        self.stack.push(Open {
            name,
            attrs,
            order: self.order,
            foreign,
        });
        self.order += 1;
        Ok(())
    }

    fn insert_tag(&mut self, tag: Tag) -> Result<(), Bail> {
        self.insert(tag.name, tag.attrs, false)
    }

    fn void(&mut self, tag: Tag) -> Result<(), Bail> {
        self.insert_tag(tag)?;
        self.pop();
        Ok(())
    }

    fn raw(&mut self, tag: Tag, kind: RawKind) -> Step {
        self.insert_tag(tag)?;
        self.raw = true;
        Ok(Flow::Raw(kind))
    }

    fn implied(&mut self, name: &str) -> Result<(), Bail> {
        self.insert(LocalName::from(name), Vec::new(), false)
    }

    /// Pops the current node; returns whether it was a formatting element.
    fn pop(&mut self) -> bool {
        let Some(open) = self.stack.pop() else {
            return false;
        };
        let depth = self.stack.len() + 1;
        let has_href = attr(&open.attrs, "href").is_some();
        let links = &mut self.links;
        for w in self
            .whole
            .iter_mut()
            .chain(self.roots.iter_mut().map(|r| &mut r.walker))
        {
            w.close(depth, &open.name, has_href, links);
        }
        while self.roots.last().is_some_and(|r| r.depth == depth) {
            let root = self.roots.pop().expect("just seen");
            self.finished.push(root);
        }
        for c in [&mut self.title, &mut self.h1] {
            if matches!(c, Capture::Open(d, _) if *d == depth) {
                let Capture::Open(_, s) = std::mem::replace(c, Capture::Waiting) else {
                    unreachable!()
                };
                *c = Capture::Done(s);
            }
        }
        !open.foreign && FORMATTING.contains(&&*open.name)
    }

    /// Pops until an element `until` accepts has been popped. Popping a formatting element
    /// on the way would make the tree builder recreate it later: not followed here.
    fn pop_until(&mut self, until: impl Fn(&Open) -> bool) -> Result<(), Bail> {
        while let Some(top) = self.stack.last() {
            let done = until(top);
            if self.pop() && !done {
                return Err("a formatting element closed implicitly");
            }
            if done {
                return Ok(());
            }
        }
        Ok(())
    }

    fn generate_implied_end(&mut self, except: Option<&str>) {
        while self
            .current()
            .is_some_and(|o| o.is(IMPLIED_END) && Some(&*o.name) != except)
        {
            self.pop();
        }
    }

    fn in_scope(&self, target: impl Fn(&Open) -> bool, extra: &[&str]) -> bool {
        for o in self.stack.iter().rev() {
            if target(o) {
                return true;
            }
            if o.is(SCOPE) || o.is(extra) {
                return false;
            }
        }
        false
    }

    fn has_in_scope(&self, name: &str, extra: &[&str]) -> bool {
        self.in_scope(|o| !o.foreign && &*o.name == name, extra)
    }

    fn close_p(&mut self) -> Result<(), Bail> {
        self.generate_implied_end(Some("p"));
        self.pop_until(|o| o.is(&["p"]))
    }

    fn close_p_in_button_scope(&mut self) -> Result<(), Bail> {
        if self.has_in_scope("p", &["button"]) {
            self.close_p()?;
        }
        Ok(())
    }

    fn token(&mut self, item: Item<'_>) -> Step {
        let skip_lf = std::mem::take(&mut self.skip_lf);
        let token = match item {
            Item::Text(text) => return self.text_run(text, skip_lf),
            Item::Token(token) => token,
        };
        match token {
            Token::ParseError(_) | Token::CommentToken(_) => Ok(Flow::Continue),
            Token::DoctypeToken(d) => {
                if self.mode == Mode::Initial {
                    let standard = d.name.as_deref() == Some("html")
                        && d.public_id.is_none()
                        && d.system_id
                            .as_deref()
                            .is_none_or(|s| s == "about:legacy-compat")
                        && !d.force_quirks;
                    self.quirks = standard.then_some(false);
                    self.mode = Mode::BeforeHtml;
                }
                Ok(Flow::Continue)
            }
            Token::NullCharacterToken => {
                let body = matches!(self.mode, Mode::InBody | Mode::InCell);
                if body && !self.raw && !self.in_foreign() {
                    Ok(Flow::Continue)
                } else {
                    Err("a NUL character")
                }
            }
            Token::CharacterTokens(text) => self.text_run(&text, skip_lf),
            Token::EOFToken => self.eof(),
            Token::TagToken(tag) => {
                if self.raw {
                    // The tokenizer ends raw text only at its own end tag.
                    self.raw = false;
                    self.pop();
                    return Ok(Flow::Continue);
                }
                if self.in_foreign() {
                    self.foreign_tag(tag)
                } else {
                    self.tag(tag)
                }
            }
        }
    }

    /// A run of text; `skip_lf`: straight after a start tag whose first newline is dropped.
    fn text_run(&mut self, text: &str, skip_lf: bool) -> Step {
        let text = match text.strip_prefix('\n') {
            Some(rest) if skip_lf => rest,
            _ => text,
        };
        self.characters(text)
    }

    fn in_foreign(&self) -> bool {
        self.current().is_some_and(|o| o.foreign)
    }

    fn characters(&mut self, text: &str) -> Step {
        if self.raw || self.in_foreign() {
            self.chars(text);
            return Ok(Flow::Continue);
        }
        let mut text = text;
        loop {
            match self.mode {
                Mode::Initial | Mode::BeforeHtml | Mode::BeforeHead => {
                    text = text.trim_start_matches(ws);
                    if text.is_empty() {
                        return Ok(Flow::Continue);
                    }
                    self.anything_else()?;
                }
                Mode::InHead | Mode::AfterHead => {
                    let rest = text.trim_start_matches(ws);
                    self.chars(&text[..text.len() - rest.len()]);
                    text = rest;
                    if text.is_empty() {
                        return Ok(Flow::Continue);
                    }
                    self.anything_else()?;
                }
                Mode::InBody | Mode::InCell => {
                    self.chars(text);
                    return Ok(Flow::Continue);
                }
                Mode::InTable | Mode::InTableBody | Mode::InRow => {
                    // Only whitespace stays where it is in a table; other text moves out.
                    if self.current_is(&["table", "tbody", "tfoot", "thead", "tr"])
                        && text.chars().all(ws)
                    {
                        self.chars(text);
                        return Ok(Flow::Continue);
                    }
                    return Err("text inside a table outside its cells");
                }
            }
        }
    }

    /// The "anything else" step of the modes before the body: the implied element.
    fn anything_else(&mut self) -> Result<(), Bail> {
        match self.mode {
            Mode::Initial => {
                self.quirks = Some(true);
                self.mode = Mode::BeforeHtml;
            }
            Mode::BeforeHtml => {
                self.implied("html")?;
                self.mode = Mode::BeforeHead;
            }
            Mode::BeforeHead => {
                self.implied("head")?;
                self.mode = Mode::InHead;
            }
            Mode::InHead => {
                self.pop();
                self.mode = Mode::AfterHead;
            }
            Mode::AfterHead => {
                self.implied("body")?;
                self.mode = Mode::InBody;
            }
            _ => {}
        }
        Ok(())
    }

    fn eof(&mut self) -> Step {
        if self.raw {
            self.raw = false;
            self.pop();
        }
        while self.mode.before_body() {
            self.anything_else()?;
        }
        while !self.stack.is_empty() {
            self.pop();
        }
        Ok(Flow::Continue)
    }

    fn tag(&mut self, tag: Tag) -> Step {
        let start = tag.kind == TagKind::StartTag;
        let owned = tag.name.clone();
        let name: &str = &owned;
        loop {
            match self.mode {
                Mode::InTable => return self.in_table(tag),
                Mode::InTableBody => return self.in_table_body(tag),
                Mode::InRow => return self.in_row(tag),
                Mode::InCell => return self.in_cell(tag),
                Mode::Initial => self.anything_else()?,
                Mode::BeforeHtml => {
                    if start && name == "html" {
                        self.insert_tag(tag)?;
                        self.mode = Mode::BeforeHead;
                        return Ok(Flow::Continue);
                    }
                    if !start && !matches!(name, "head" | "body" | "html" | "br") {
                        return Ok(Flow::Continue);
                    }
                    self.anything_else()?;
                }
                Mode::BeforeHead => {
                    if start && name == "html" {
                        return self.html_again(&tag);
                    }
                    if start && name == "head" {
                        self.insert_tag(tag)?;
                        self.mode = Mode::InHead;
                        return Ok(Flow::Continue);
                    }
                    if !start && !matches!(name, "head" | "body" | "html" | "br") {
                        return Ok(Flow::Continue);
                    }
                    self.anything_else()?;
                }
                Mode::InHead => {
                    if start {
                        match name {
                            "html" => return self.html_again(&tag),
                            "head" => return Ok(Flow::Continue),
                            "template" => return Err("<template>"),
                            n if HEAD_ELEMENTS.contains(&n) => return self.head_element(tag),
                            _ => {}
                        }
                    } else {
                        match name {
                            "head" => {
                                self.pop();
                                self.mode = Mode::AfterHead;
                                return Ok(Flow::Continue);
                            }
                            "template" => return Err("</template>"),
                            "body" | "html" | "br" => {}
                            _ => return Ok(Flow::Continue),
                        }
                    }
                    self.anything_else()?;
                }
                Mode::AfterHead => {
                    if start {
                        match name {
                            "html" => return self.html_again(&tag),
                            "body" => {
                                self.insert_tag(tag)?;
                                self.mode = Mode::InBody;
                                return Ok(Flow::Continue);
                            }
                            "frameset" => return Err("<frameset>"),
                            "base" | "basefont" | "bgsound" | "link" | "meta" | "noframes"
                            | "script" | "style" | "template" | "title" => {
                                return Err("a head element after </head>")
                            }
                            "head" => return Ok(Flow::Continue),
                            _ => {}
                        }
                    } else {
                        match name {
                            "template" => return Err("</template>"),
                            "body" | "html" | "br" => {}
                            _ => return Ok(Flow::Continue),
                        }
                    }
                    self.anything_else()?;
                }
                Mode::InBody => {
                    return if start {
                        self.start_in_body(tag)
                    } else {
                        self.end_in_body(tag)
                    };
                }
            }
        }
    }

    /// `<html>` again: its attributes would be added to the root element.
    fn html_again(&self, tag: &Tag) -> Step {
        if tag.attrs.is_empty() {
            Ok(Flow::Continue)
        } else {
            Err("a second <html> with attributes")
        }
    }

    /// One of [`HEAD_ELEMENTS`], by the "in head" rules.
    fn head_element(&mut self, tag: Tag) -> Step {
        match &*tag.name {
            "title" => self.raw(tag, RawKind::Rcdata),
            // Scripting is on in the tree builder scraper uses: <noscript> is raw text.
            "noscript" | "noframes" | "style" => self.raw(tag, RawKind::Rawtext),
            "script" => self.raw(tag, RawKind::ScriptData),
            _ => {
                self.void(tag)?;
                Ok(Flow::Continue)
            }
        }
    }

    fn start_in_body(&mut self, mut tag: Tag) -> Step {
        let owned = tag.name.clone();
        let name: &str = &owned;
        match name {
            "html" | "body" => {
                if tag.attrs.is_empty() {
                    return Ok(Flow::Continue);
                }
                return Err("a second <html> or <body> with attributes");
            }
            "table" => {
                match self.quirks {
                    Some(true) => {}
                    Some(false) => self.close_p_in_button_scope()?,
                    None => return Err("a table under an unclassified doctype"),
                }
                self.insert_tag(tag)?;
                self.mode = Mode::InTable;
                return Ok(Flow::Continue);
            }
            "template" | "frameset" | "plaintext" | "select" | "applet" | "marquee" | "object"
            | "math" | "rb" | "rtc" | "rp" | "rt" => {
                return Err("an element whose rules are not followed");
            }
            "caption" | "col" | "colgroup" | "frame" | "head" | "tbody" | "td" | "tfoot" | "th"
            | "thead" | "tr" => return Ok(Flow::Continue),
            _ => {}
        }
        if HEAD_ELEMENTS.contains(&name) {
            return self.head_element(tag);
        }
        if CLOSES_P.contains(&name) {
            self.close_p_in_button_scope()?;
            self.insert_tag(tag)?;
            return Ok(Flow::Continue);
        }
        match name {
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                self.close_p_in_button_scope()?;
                if self.current_is(HEADINGS) {
                    self.pop();
                }
                self.insert_tag(tag)?;
            }
            "pre" | "listing" => {
                self.close_p_in_button_scope()?;
                self.insert_tag(tag)?;
                self.skip_lf = true;
            }
            "form" => {
                if self.form.is_none() {
                    self.close_p_in_button_scope()?;
                    self.form = Some(self.order);
                    self.insert_tag(tag)?;
                }
            }
            "li" | "dd" | "dt" => {
                let closes: &[&str] = if name == "li" { &["li"] } else { &["dd", "dt"] };
                let mut to_close = None;
                for o in self.stack.iter().rev() {
                    if o.is(closes) {
                        to_close = Some(o.name.clone());
                        break;
                    }
                    if o.is(SPECIAL) && !o.is(&["address", "div", "p"]) {
                        break;
                    }
                }
                if let Some(close) = to_close {
                    self.generate_implied_end(Some(&close));
                    self.pop_until(|o| o.is(&[&*close]))?;
                }
                self.close_p_in_button_scope()?;
                self.insert_tag(tag)?;
            }
            "button" => {
                if self.has_in_scope("button", &[]) {
                    self.generate_implied_end(None);
                    self.pop_until(|o| o.is(&["button"]))?;
                }
                self.insert_tag(tag)?;
            }
            "a" => {
                if self.stack.iter().any(|o| o.is(&["a"])) {
                    return Err("<a> inside <a>");
                }
                self.insert_tag(tag)?;
            }
            "nobr" => {
                if self.has_in_scope("nobr", &[]) {
                    return Err("<nobr> inside <nobr>");
                }
                self.insert_tag(tag)?;
            }
            "area" | "br" | "embed" | "img" | "keygen" | "wbr" | "input" | "param" | "source"
            | "track" => self.void(tag)?,
            "image" => {
                tag.name = LocalName::from("img");
                self.void(tag)?;
            }
            "hr" => {
                self.close_p_in_button_scope()?;
                self.void(tag)?;
            }
            "textarea" => {
                self.skip_lf = true;
                return self.raw(tag, RawKind::Rcdata);
            }
            "xmp" => {
                self.close_p_in_button_scope()?;
                return self.raw(tag, RawKind::Rawtext);
            }
            "iframe" | "noembed" => return self.raw(tag, RawKind::Rawtext),
            "optgroup" | "option" => {
                if self.current_is(&["option"]) {
                    self.pop();
                }
                self.insert_tag(tag)?;
            }
            "svg" => {
                let closed = tag.self_closing;
                self.insert(tag.name, tag.attrs, true)?;
                if closed {
                    self.pop();
                }
            }
            _ => self.insert_tag(tag)?,
        }
        Ok(Flow::Continue)
    }

    fn end_in_body(&mut self, tag: Tag) -> Step {
        let owned = tag.name.clone();
        let name: &str = &owned;
        match name {
            "template" => return Err("</template>"),
            // After </body> and </html> the tree builder still puts what follows in the body.
            "body" | "html" => {}
            "form" => {
                let Some(form) = self.form.take() else {
                    return Ok(Flow::Continue);
                };
                if !self.in_scope(|o| o.order == form, &[]) {
                    return Ok(Flow::Continue);
                }
                self.generate_implied_end(None);
                if self.current().is_some_and(|o| o.order == form) {
                    self.pop();
                } else {
                    return Err("</form> around open elements");
                }
            }
            "p" => {
                if !self.has_in_scope("p", &["button"]) {
                    self.implied("p")?;
                }
                self.close_p()?;
            }
            "li" | "dd" | "dt" => {
                let extra: &[&str] = if name == "li" { &["ol", "ul"] } else { &[] };
                if self.has_in_scope(name, extra) {
                    self.generate_implied_end(Some(name));
                    self.pop_until(|o| o.is(&[name]))?;
                }
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                if self.in_scope(|o| o.is(HEADINGS), &[]) {
                    self.generate_implied_end(None);
                    self.pop_until(|o| o.is(HEADINGS))?;
                }
            }
            "applet" | "marquee" | "object" => {}
            "br" => {
                return self.start_in_body(Tag {
                    kind: TagKind::StartTag,
                    attrs: Vec::new(),
                    ..tag
                })
            }
            n if BLOCK_ENDS.contains(&n) => {
                if self.has_in_scope(n, &[]) {
                    self.generate_implied_end(None);
                    self.pop_until(|o| o.is(&[n]))?;
                }
            }
            n if FORMATTING.contains(&n) => {
                if self.current_is(&[n]) {
                    self.pop();
                } else if self.stack.iter().any(|o| o.is(&[n])) {
                    return Err("misnested formatting");
                } else {
                    self.any_other_end(n)?;
                }
            }
            n => self.any_other_end(n)?,
        }
        Ok(Flow::Continue)
    }

    fn in_table_scope(&self, target: impl Fn(&Open) -> bool) -> bool {
        for o in self.stack.iter().rev() {
            if target(o) {
                return true;
            }
            if o.is(TABLE_CONTEXT) {
                return false;
            }
        }
        false
    }

    /// Pops until the current node is one of `context`.
    fn clear_to(&mut self, context: &[&str]) -> Result<(), Bail> {
        while !self.current_is(context) {
            if self.stack.is_empty() || self.pop() {
                return Err("a formatting element closed implicitly");
            }
        }
        Ok(())
    }

    /// Pops the current node, which must be `name`.
    fn pop_expected(&mut self, names: &[&str]) -> Result<(), Bail> {
        if !self.current_is(names) {
            return Err("an unexpected element in a table");
        }
        self.pop();
        Ok(())
    }

    /// The insertion mode the open elements call for, after a table closes.
    fn reset_mode(&mut self) -> Result<(), Bail> {
        for (i, o) in self.stack.iter().enumerate().rev() {
            if o.foreign {
                continue;
            }
            self.mode = match &*o.name {
                "td" | "th" if i > 0 => Mode::InCell,
                "tr" => Mode::InRow,
                "tbody" | "thead" | "tfoot" => Mode::InTableBody,
                "table" => Mode::InTable,
                "body" => Mode::InBody,
                "select" | "caption" | "colgroup" | "template" | "head" | "html" | "frameset" => {
                    return Err("an insertion mode not followed")
                }
                _ => continue,
            };
            return Ok(());
        }
        self.mode = Mode::InBody;
        Ok(())
    }

    /// Closes the open cell (its formatting elements go with it: the cell is a marker).
    fn close_cell(&mut self) {
        self.generate_implied_end(None);
        while let Some(top) = self.stack.last() {
            let cell = top.is(&["td", "th"]);
            self.pop();
            if cell {
                break;
            }
        }
        self.mode = Mode::InRow;
    }

    fn in_table(&mut self, tag: Tag) -> Step {
        let owned = tag.name.clone();
        let name: &str = &owned;
        if tag.kind == TagKind::StartTag {
            match name {
                "tbody" | "tfoot" | "thead" => {
                    self.clear_to(TABLE_CONTEXT)?;
                    self.insert_tag(tag)?;
                    self.mode = Mode::InTableBody;
                    Ok(Flow::Continue)
                }
                "td" | "th" | "tr" => {
                    self.clear_to(TABLE_CONTEXT)?;
                    self.implied("tbody")?;
                    self.mode = Mode::InTableBody;
                    self.tag(tag)
                }
                "style" | "script" => self.head_element(tag),
                "input"
                    if attr(&tag.attrs, "type")
                        .is_some_and(|t| t.eq_ignore_ascii_case("hidden")) =>
                {
                    self.void(tag)?;
                    Ok(Flow::Continue)
                }
                _ => Err("an element moved out of a table"),
            }
        } else {
            match name {
                "table" => {
                    if self.in_table_scope(|o| o.is(&["table"])) {
                        self.pop_until(|o| o.is(&["table"]))?;
                        self.reset_mode()?;
                    }
                    Ok(Flow::Continue)
                }
                "body" | "caption" | "col" | "colgroup" | "html" | "tbody" | "td" | "tfoot"
                | "th" | "thead" | "tr" => Ok(Flow::Continue),
                _ => Err("an end tag moved out of a table"),
            }
        }
    }

    fn in_table_body(&mut self, tag: Tag) -> Step {
        let owned = tag.name.clone();
        let name: &str = &owned;
        let start = tag.kind == TagKind::StartTag;
        match (start, name) {
            (true, "tr") => {
                self.clear_to(TABLE_BODY_CONTEXT)?;
                self.insert_tag(tag)?;
                self.mode = Mode::InRow;
                Ok(Flow::Continue)
            }
            (true, "td" | "th") => {
                self.clear_to(TABLE_BODY_CONTEXT)?;
                self.implied("tr")?;
                self.mode = Mode::InRow;
                self.tag(tag)
            }
            (false, "tbody" | "tfoot" | "thead") => {
                if self.in_table_scope(|o| o.is(&[name])) {
                    self.clear_to(TABLE_BODY_CONTEXT)?;
                    self.pop_expected(&["tbody", "tfoot", "thead"])?;
                    self.mode = Mode::InTable;
                }
                Ok(Flow::Continue)
            }
            (true, "caption" | "col" | "colgroup" | "tbody" | "tfoot" | "thead")
            | (false, "table") => {
                // html5ever's set here: table, tbody, tfoot.
                if self.in_table_scope(|o| o.is(&["table", "tbody", "tfoot"])) {
                    self.clear_to(TABLE_BODY_CONTEXT)?;
                    self.pop_expected(&["tbody", "tfoot", "thead"])?;
                    self.mode = Mode::InTable;
                    return self.tag(tag);
                }
                Ok(Flow::Continue)
            }
            (false, "body" | "caption" | "col" | "colgroup" | "html" | "td" | "th" | "tr") => {
                Ok(Flow::Continue)
            }
            _ => self.in_table(tag),
        }
    }

    fn in_row(&mut self, tag: Tag) -> Step {
        let owned = tag.name.clone();
        let name: &str = &owned;
        let start = tag.kind == TagKind::StartTag;
        match (start, name) {
            (true, "td" | "th") => {
                self.clear_to(TABLE_ROW_CONTEXT)?;
                self.insert_tag(tag)?;
                self.mode = Mode::InCell;
                Ok(Flow::Continue)
            }
            (false, "tr") => {
                if self.in_table_scope(|o| o.is(&["tr"])) {
                    self.clear_to(TABLE_ROW_CONTEXT)?;
                    self.pop_expected(&["tr"])?;
                    self.mode = Mode::InTableBody;
                }
                Ok(Flow::Continue)
            }
            (true, "caption" | "col" | "colgroup" | "tbody" | "tfoot" | "thead" | "tr")
            | (false, "table") => {
                if self.in_table_scope(|o| o.is(&["tr"])) {
                    self.clear_to(TABLE_ROW_CONTEXT)?;
                    self.pop_expected(&["tr"])?;
                    self.mode = Mode::InTableBody;
                    return self.tag(tag);
                }
                Ok(Flow::Continue)
            }
            (false, "tbody" | "tfoot" | "thead") => {
                if self.in_table_scope(|o| o.is(&[name])) && self.in_table_scope(|o| o.is(&["tr"]))
                {
                    self.clear_to(TABLE_ROW_CONTEXT)?;
                    self.pop_expected(&["tr"])?;
                    self.mode = Mode::InTableBody;
                    return self.tag(tag);
                }
                Ok(Flow::Continue)
            }
            (false, "body" | "caption" | "col" | "colgroup" | "html" | "td" | "th") => {
                Ok(Flow::Continue)
            }
            _ => self.in_table(tag),
        }
    }

    fn in_cell(&mut self, tag: Tag) -> Step {
        let owned = tag.name.clone();
        let name: &str = &owned;
        let start = tag.kind == TagKind::StartTag;
        match (start, name) {
            (false, "td" | "th") => {
                if self.in_table_scope(|o| o.is(&[name])) {
                    self.generate_implied_end(None);
                    while let Some(top) = self.stack.last() {
                        let done = top.is(&[name]);
                        self.pop();
                        if done {
                            break;
                        }
                    }
                    self.mode = Mode::InRow;
                }
                Ok(Flow::Continue)
            }
            (
                true,
                "caption" | "col" | "colgroup" | "tbody" | "td" | "tfoot" | "th" | "thead" | "tr",
            ) => {
                if self.in_table_scope(|o| o.is(&["td", "th"])) {
                    self.close_cell();
                    return self.tag(tag);
                }
                Ok(Flow::Continue)
            }
            (false, "body" | "caption" | "col" | "colgroup" | "html") => Ok(Flow::Continue),
            (false, "table" | "tbody" | "tfoot" | "thead" | "tr") => {
                if self.in_table_scope(|o| o.is(&[name])) {
                    self.close_cell();
                    return self.tag(tag);
                }
                Ok(Flow::Continue)
            }
            (true, _) => self.start_in_body(tag),
            (false, _) => self.end_in_body(tag),
        }
    }

    fn any_other_end(&mut self, name: &str) -> Result<(), Bail> {
        let mut at = None;
        for (i, o) in self.stack.iter().enumerate().rev() {
            if o.is(&[name]) {
                at = Some(i);
                break;
            }
            if o.is(SPECIAL) {
                return Ok(());
            }
        }
        let Some(at) = at else {
            return Ok(());
        };
        self.generate_implied_end(Some(name));
        while self.stack.len() > at {
            if self.pop() {
                return Err("a formatting element closed implicitly");
            }
        }
        Ok(())
    }

    /// A tag while the current node is an SVG element.
    fn foreign_tag(&mut self, tag: Tag) -> Step {
        let integration = self
            .current()
            .is_some_and(|o| matches!(&*o.name, "foreignobject" | "desc" | "title"));
        if tag.kind == TagKind::StartTag {
            if integration {
                return Err("markup inside an SVG title, desc or foreignObject");
            }
            let name: &str = &tag.name;
            let font_breakout = name == "font"
                && tag
                    .attrs
                    .iter()
                    .any(|a| matches!(&*a.name.local, "color" | "face" | "size"));
            if BREAKOUT.contains(&name) || font_breakout {
                return Err("HTML inside SVG");
            }
            let closed = tag.self_closing;
            self.insert(tag.name, tag.attrs, true)?;
            if closed {
                self.pop();
            }
            return Ok(Flow::Continue);
        }
        if self
            .current()
            .is_some_and(|o| o.name.eq_ignore_ascii_case(&tag.name))
        {
            self.pop();
            Ok(Flow::Continue)
        } else {
            Err("a misnested SVG end tag")
        }
    }
}

struct Sink<'b> {
    state: RefCell<State<'b>>,
}

impl TokenSink for Sink<'_> {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        // Only a tag may suspend the tokenizer (it asserts the rest continue): after
        // giving up, the other tokens are skipped until the next tag stops it.
        let tag = matches!(token, Token::TagToken(_));
        let stop = if tag {
            TokenSinkResult::Script(())
        } else {
            TokenSinkResult::Continue
        };
        let mut state = self.state.borrow_mut();
        if state.bailed.is_some() {
            return stop;
        }
        match state.token(Item::Token(token)) {
            Ok(Flow::Continue) => TokenSinkResult::Continue,
            Ok(Flow::Raw(kind)) => TokenSinkResult::RawData(kind),
            Err(reason) => {
                state.bailed = Some(reason);
                stop
            }
        }
    }

    fn adjusted_current_node_present_but_not_in_html_namespace(&self) -> bool {
        self.state.borrow().in_foreign()
    }
}

/// Walks `html` without building a tree; `Err` says why streaming cannot.
pub fn walk<'b>(
    html: &str,
    base: Option<&'b Url>,
    select: &'b [Compiled],
    ignore: &'b [Compiled],
) -> Result<Walked, Bail> {
    // Our own tokenizer first; html5ever's for what it leaves (see `tokenize`).
    let mut state = State::new(html, base, select, ignore);
    let fed = tokenize::tokenize(html, |token| match state.token(token)? {
        Flow::Continue => Ok(None),
        Flow::Raw(kind) => Ok(Some(kind)),
    });
    match fed {
        Fed::Done => state.finish(),
        Fed::Stopped(reason) => Err(reason),
        Fed::Unsure(_) => walk_tokenized_by_html5ever(html, base, select, ignore),
    }
}

/// [`walk`] with html5ever's tokenizer.
fn walk_tokenized_by_html5ever<'b>(
    html: &str,
    base: Option<&'b Url>,
    select: &'b [Compiled],
    ignore: &'b [Compiled],
) -> Result<Walked, Bail> {
    let tokenizer = Tokenizer::new(
        Sink {
            state: RefCell::new(State::new(html, base, select, ignore)),
        },
        TokenizerOpts::default(),
    );
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    if let TokenizerResult::Script(()) = tokenizer.feed(&input) {
        let reason = tokenizer.sink.state.borrow().bailed;
        return Err(reason.unwrap_or("stopped"));
    }
    tokenizer.end();
    tokenizer.sink.state.into_inner().finish()
}

impl<'b> State<'b> {
    fn new(
        html: &str,
        base: Option<&'b Url>,
        select: &'b [Compiled],
        ignore: &'b [Compiled],
    ) -> Self {
        State {
            base,
            select,
            ignore,
            mode: Mode::Initial,
            quirks: None,
            raw: false,
            skip_lf: false,
            stack: Vec::with_capacity(32),
            form: None,
            order: 0,
            whole: select
                .is_empty()
                .then(|| Walker::with_room(base, html.len())),
            roots: Vec::new(),
            finished: Vec::new(),
            links: Vec::new(),
            title: Capture::Waiting,
            h1: Capture::Waiting,
            bailed: None,
        }
    }

    fn finish(self) -> Result<Walked, Bail> {
        if let Some(reason) = self.bailed {
            return Err(reason);
        }
        let mut roots: Vec<Root<'_>> = self.finished;
        roots.sort_by_key(|r| r.key);
        let texts = self
            .whole
            .into_iter()
            .chain(roots.into_iter().map(|r| r.walker))
            .map(|w| w.out)
            .collect();
        Ok(Walked {
            texts,
            links: self.links,
            title: self.title.done(),
            h1: self.h1.done(),
        })
    }
}
