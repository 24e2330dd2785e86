//! A tokenizer for the HTML most pages are, giving exactly the tokens html5ever's would.
//! html5ever's tokenizer works a character at a time and was the largest part of a
//! baseline check (bench/cycle.sh); this one scans with `memchr` between markup.
//!
//! It stops with [`Fed::Unsure`] at the first construct whose tokens it does not reproduce
//! exactly (NUL, bogus comments, CDATA, any doctype but `<!DOCTYPE html>`, character
//! references that need the legacy rules, comment-like text in scripts, parse errors in
//! tags), and the caller tokenizes the page again with html5ever.
//! `tests/extract_differential.rs` compares the two token by token on every test document
//! (and mutations of each), on generated markup and on character soup.

use std::borrow::Cow;

use html5ever::data::NAMED_ENTITIES;
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{Doctype, Tag, TagKind, Token};
use html5ever::{namespace_url, ns, Attribute, LocalName, QualName};

/// What the consumer is handed: a run of text, borrowed (a page's text is not copied into
/// a string of its own for every run of it), or any other token as html5ever gives it.
#[derive(Debug)]
pub enum Item<'t> {
    Text(&'t str),
    Token(Token),
}

/// How tokenizing a page ended.
#[derive(Debug, PartialEq)]
pub enum Fed<E> {
    /// Every token, up to and including the end of file, was handed over.
    Done,
    /// Something html5ever must tokenize; why.
    Unsure(&'static str),
    /// The consumer stopped at a token.
    Stopped(E),
}

/// Hands each token of `html` to `sink`, which answers with the raw-text state to switch
/// to after a start tag (as html5ever's tree builder does), if any.
pub fn tokenize<E>(
    html: &str,
    mut sink: impl FnMut(Item<'_>) -> Result<Option<RawKind>, E>,
) -> Fed<E> {
    if memchr::memchr(0, html.as_bytes()).is_some() {
        return Fed::Unsure("a NUL character");
    }
    // The input stream's own preprocessing: a leading BOM goes, CR LF and CR become LF.
    let html = html.strip_prefix('\u{feff}').unwrap_or(html);
    let html: Cow<'_, str> = if memchr::memchr(b'\r', html.as_bytes()).is_some() {
        Cow::Owned(html.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(html)
    };
    let mut t = Tokenizer {
        s: &html,
        pos: 0,
        text: String::new(),
        spare: String::new(),
    };
    match t.run(&mut sink) {
        Ok(()) => Fed::Done,
        Err(Stop::Unsure(why)) => Fed::Unsure(why),
        Err(Stop::Sink(e)) => Fed::Stopped(e),
    }
}

enum Stop<E> {
    Unsure(&'static str),
    Sink(E),
}

type Step<E> = Result<(), Stop<E>>;

struct Tokenizer<'a> {
    s: &'a str,
    pos: usize,
    /// Characters waiting to be handed over as one token.
    text: String,
    /// A buffer for attribute values, kept between them.
    spare: String,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0c' | b' ')
}

fn is_ws_char(c: char) -> bool {
    c.is_ascii() && is_ws(c as u8)
}

impl<'a> Tokenizer<'a> {
    fn bytes(&self) -> &[u8] {
        self.s.as_bytes()
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.bytes().get(i).copied()
    }

    fn flush<E>(
        &mut self,
        sink: &mut impl FnMut(Item<'_>) -> Result<Option<RawKind>, E>,
    ) -> Step<E> {
        if self.text.is_empty() {
            return Ok(());
        }
        let handed = sink(Item::Text(&self.text)).map_err(Stop::Sink);
        self.text.clear();
        handed?;
        Ok(())
    }

    fn run<E>(&mut self, sink: &mut impl FnMut(Item<'_>) -> Result<Option<RawKind>, E>) -> Step<E> {
        loop {
            let rest = &self.bytes()[self.pos..];
            let Some(n) = memchr::memchr2(b'<', b'&', rest) else {
                self.text.push_str(&self.s[self.pos..]);
                self.pos = self.s.len();
                self.flush(sink)?;
                sink(Item::Token(Token::EOFToken)).map_err(Stop::Sink)?;
                return Ok(());
            };
            self.text.push_str(&self.s[self.pos..self.pos + n]);
            self.pos += n;
            if self.bytes()[self.pos] == b'&' {
                self.char_ref()?;
                continue;
            }
            self.markup(sink)?;
        }
    }

    /// At `<` in text.
    fn markup<E>(
        &mut self,
        sink: &mut impl FnMut(Item<'_>) -> Result<Option<RawKind>, E>,
    ) -> Step<E> {
        let start = self.pos;
        match self.at(start + 1) {
            Some(b) if b.is_ascii_alphabetic() => {
                self.flush(sink)?;
                self.pos += 1;
                let tag = self.tag(TagKind::StartTag)?;
                let name = tag.name.clone();
                let raw = sink(Item::Token(Token::TagToken(tag))).map_err(Stop::Sink)?;
                if let Some(kind) = raw {
                    self.raw_text(sink, kind, &name)?;
                }
                Ok(())
            }
            Some(b'/') => match self.at(start + 2) {
                Some(b) if b.is_ascii_alphabetic() => {
                    self.flush(sink)?;
                    self.pos += 2;
                    let tag = self.tag(TagKind::EndTag)?;
                    sink(Item::Token(Token::TagToken(tag))).map_err(Stop::Sink)?;
                    Ok(())
                }
                _ => Err(Stop::Unsure("`</` not followed by a tag name")),
            },
            Some(b'!') => self.declaration(sink),
            Some(b'?') => Err(Stop::Unsure("`<?`")),
            // `<` before anything else (or at the end) is text.
            _ => {
                self.text.push('<');
                self.pos += 1;
                Ok(())
            }
        }
    }

    /// At `<!`: a comment or `<!DOCTYPE html>`.
    fn declaration<E>(
        &mut self,
        sink: &mut impl FnMut(Item<'_>) -> Result<Option<RawKind>, E>,
    ) -> Step<E> {
        let start = self.pos;
        let rest = &self.s[start + 2..];
        if let Some(body) = rest.strip_prefix("--") {
            if body.starts_with('>') || body.starts_with("->") {
                return Err(Stop::Unsure("an abruptly closed comment"));
            }
            let Some(end) = body.find("-->") else {
                return Err(Stop::Unsure("a comment without its end"));
            };
            let comment = &body[..end];
            if comment.contains("--!") {
                return Err(Stop::Unsure("`--!` in a comment"));
            }
            self.flush(sink)?;
            sink(Item::Token(Token::CommentToken(StrTendril::from_slice(
                comment,
            ))))
            .map_err(Stop::Sink)?;
            self.pos = start + 4 + end + 3;
            return Ok(());
        }
        // Bytes, not str slices: the page may have any character where these are not.
        if rest
            .as_bytes()
            .get(..7)
            .is_some_and(|b| b.eq_ignore_ascii_case(b"doctype"))
        {
            let after = &rest[7..];
            let name = after.trim_start_matches(is_ws_char);
            if name.len() < after.len()
                && name
                    .as_bytes()
                    .get(..4)
                    .is_some_and(|b| b.eq_ignore_ascii_case(b"html"))
            {
                let tail = &name[4..];
                let close = tail.trim_start_matches(is_ws_char);
                if close.starts_with('>') {
                    self.flush(sink)?;
                    sink(Item::Token(Token::DoctypeToken(Doctype {
                        name: Some(StrTendril::from_slice("html")),
                        public_id: None,
                        system_id: None,
                        force_quirks: false,
                    })))
                    .map_err(Stop::Sink)?;
                    self.pos = self.s.len() - close.len() + 1;
                    return Ok(());
                }
            }
            return Err(Stop::Unsure("a doctype other than `<!DOCTYPE html>`"));
        }
        Err(Stop::Unsure("`<!` that is not a comment or doctype"))
    }

    /// The tag whose name starts at `pos`, through its `>`.
    fn tag<E>(&mut self, kind: TagKind) -> Result<Tag, Stop<E>> {
        let name = self.name(|b| is_ws(b) || b == b'/' || b == b'>', &[])?;
        let mut tag = Tag {
            kind,
            name: LocalName::from(&*name),
            self_closing: false,
            attrs: Vec::new(),
        };
        loop {
            self.skip_ws();
            match self.at(self.pos) {
                None => return Err(Stop::Unsure("the end of the page inside a tag")),
                Some(b'>') => {
                    self.pos += 1;
                    return Ok(tag);
                }
                Some(b'/') => {
                    if self.at(self.pos + 1) != Some(b'>') {
                        return Err(Stop::Unsure("`/` inside a tag"));
                    }
                    tag.self_closing = true;
                    self.pos += 2;
                    return Ok(tag);
                }
                Some(b'=') => return Err(Stop::Unsure("an attribute name starting with `=`")),
                Some(_) => {}
            }
            let name = self.name(|b| is_ws(b) || matches!(b, b'/' | b'>' | b'='), b"\"'<")?;
            self.skip_ws();
            let quoted = self.at(self.pos) == Some(b'=');
            let value = if quoted {
                self.pos += 1;
                self.skip_ws();
                self.attr_value()?
            } else {
                StrTendril::new()
            };
            // html5ever keeps the first of duplicate attributes.
            if !tag.attrs.iter().any(|a| *a.name.local == *name) {
                tag.attrs.push(Attribute {
                    name: QualName::new(None, ns!(), LocalName::from(&*name)),
                    value,
                });
            }
            // After a value html5ever wants whitespace, `/` or `>` (a bare value ends only
            // at whitespace or `>`).
            if let Some(b) = self.at(self.pos).filter(|_| quoted) {
                if !(is_ws(b) || b == b'/' || b == b'>') {
                    return Err(Stop::Unsure("an attribute not followed by a space"));
                }
            }
        }
    }

    /// A tag or attribute name up to a byte `end` accepts, lowercased; `bad` bytes in it are
    /// parse errors html5ever handles its own way.
    fn name<E>(&mut self, end: impl Fn(u8) -> bool, bad: &[u8]) -> Result<Cow<'a, str>, Stop<E>> {
        let start = self.pos;
        let len = self.bytes()[start..]
            .iter()
            .position(|&b| end(b))
            .unwrap_or(self.s.len() - start);
        let raw = &self.s[start..start + len];
        if raw.bytes().any(|b| bad.contains(&b)) {
            return Err(Stop::Unsure("a quote or `<` in an attribute name"));
        }
        self.pos += len;
        // Most pages write names in lower case already: no copy then.
        Ok(if raw.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(raw.to_ascii_lowercase())
        } else {
            Cow::Borrowed(raw)
        })
    }

    fn skip_ws(&mut self) {
        while self.at(self.pos).is_some_and(is_ws) {
            self.pos += 1;
        }
    }

    /// An attribute's value at `pos` (after `=` and any whitespace), references decoded.
    fn attr_value<E>(&mut self) -> Result<StrTendril, Stop<E>> {
        // References are decoded onto `text`: it holds the value meanwhile (in the buffer
        // kept for values) and gets the waiting text back after.
        let saved = std::mem::replace(&mut self.text, std::mem::take(&mut self.spare));
        let result = match self.at(self.pos) {
            Some(q @ (b'"' | b'\'')) => {
                self.pos += 1;
                loop {
                    let rest = &self.bytes()[self.pos..];
                    match memchr::memchr2(q, b'&', rest) {
                        None => break Err(Stop::Unsure("the end of the page inside a value")),
                        Some(n) => {
                            self.text.push_str(&self.s[self.pos..self.pos + n]);
                            self.pos += n;
                            if self.bytes()[self.pos] == q {
                                self.pos += 1;
                                break Ok(());
                            }
                            if let Err(e) = self.char_ref() {
                                break Err(e);
                            }
                        }
                    }
                }
            }
            // `>` straight after `=`: an empty value (html5ever reports it and goes on).
            Some(b'>') => Ok(()),
            Some(_) => loop {
                match self.at(self.pos) {
                    None => break Err(Stop::Unsure("the end of the page inside a value")),
                    Some(b) if is_ws(b) || b == b'>' => break Ok(()),
                    Some(b'"' | b'\'' | b'<' | b'=' | b'`') => {
                        break Err(Stop::Unsure(
                            "a quote, `<`, `=` or backtick in a bare value",
                        ))
                    }
                    Some(b'&') => {
                        if let Err(e) = self.char_ref() {
                            break Err(e);
                        }
                    }
                    Some(_) => {
                        let rest = &self.s[self.pos..];
                        let len = rest
                            .bytes()
                            .position(|b| {
                                is_ws(b)
                                    || matches!(b, b'>' | b'&' | b'"' | b'\'' | b'<' | b'=' | b'`')
                            })
                            .unwrap_or(rest.len());
                        self.text.push_str(&rest[..len]);
                        self.pos += len;
                    }
                }
            },
            None => Err(Stop::Unsure("the end of the page inside a tag")),
        };
        let mut value = std::mem::replace(&mut self.text, saved);
        let tendril = StrTendril::from_slice(&value);
        value.clear();
        self.spare = value;
        result.map(|()| tendril)
    }

    /// At `&`: the character reference it starts (or the `&` itself) onto `text`.
    fn char_ref<E>(&mut self) -> Step<E> {
        let after = self.pos + 1;
        match self.at(after) {
            Some(b'#') => self.numeric_ref(after + 1),
            Some(b) if b.is_ascii_alphanumeric() => {
                let rest = &self.s[after..];
                let len = rest
                    .bytes()
                    .position(|b| !b.is_ascii_alphanumeric())
                    .unwrap_or(rest.len());
                let name = &rest[..len];
                if rest.as_bytes().get(len) == Some(&b';') {
                    let mut key = String::with_capacity(len + 1);
                    key.push_str(name);
                    key.push(';');
                    if let Some(&(a, b)) = NAMED_ENTITIES.get(&*key) {
                        if a != 0 {
                            self.push_code(a);
                            if b != 0 {
                                self.push_code(b);
                            }
                            self.pos = after + len + 1;
                            return Ok(());
                        }
                    }
                }
                // Without its `;` a name only counts when a legacy one starts it (`&copy`,
                // `&notin`): those rules are html5ever's to apply.
                // (No entity name is longer than 32 characters.)
                let legacy = (1..=len.min(32))
                    .any(|k| NAMED_ENTITIES.get(&name[..k]).is_some_and(|v| v.0 != 0));
                if legacy {
                    return Err(Stop::Unsure("a character reference without its `;`"));
                }
                self.text.push('&');
                self.text.push_str(name);
                self.pos = after + len;
                Ok(())
            }
            _ => {
                self.text.push('&');
                self.pos = after;
                Ok(())
            }
        }
    }

    /// `&#…;` with `start` after the `#`.
    fn numeric_ref<E>(&mut self, start: usize) -> Step<E> {
        let (hex, digits_at) = match self.at(start) {
            Some(b'x' | b'X') => (true, start + 1),
            _ => (false, start),
        };
        let rest = &self.bytes()[digits_at..];
        let len = rest
            .iter()
            .position(|b| {
                !(if hex {
                    b.is_ascii_hexdigit()
                } else {
                    b.is_ascii_digit()
                })
            })
            .unwrap_or(rest.len());
        if len == 0 || len > 7 || rest.get(len) != Some(&b';') {
            return Err(Stop::Unsure("a numeric reference html5ever must read"));
        }
        let digits = &self.s[digits_at..digits_at + len];
        let code = u32::from_str_radix(digits, if hex { 16 } else { 10 })
            .map_err(|_| Stop::Unsure("a numeric reference html5ever must read"))?;
        let plain = matches!(code, 0x09 | 0x0A | 0x0C | 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFDCF | 0xFDF0..=0x10FFFF)
            && code & 0xFFFE != 0xFFFE;
        if !plain {
            return Err(Stop::Unsure("a numeric reference to a replaced character"));
        }
        self.push_code(code);
        self.pos = digits_at + len + 1;
        Ok(())
    }

    fn push_code(&mut self, code: u32) {
        self.text
            .push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
    }

    /// The text of a raw-text element, then its end tag.
    fn raw_text<E>(
        &mut self,
        sink: &mut impl FnMut(Item<'_>) -> Result<Option<RawKind>, E>,
        kind: RawKind,
        name: &LocalName,
    ) -> Step<E> {
        let refs = match kind {
            RawKind::Rcdata => true,
            RawKind::Rawtext | RawKind::ScriptData => false,
            RawKind::ScriptDataEscaped(_) => {
                return Err(Stop::Unsure("escaped script data"));
            }
        };
        let mut from = self.pos;
        let end = loop {
            let Some(n) = memchr::memmem::find(&self.bytes()[from..], b"</") else {
                break None;
            };
            let at = from + n;
            let after = at + 2 + name.len();
            let matches = self
                .s
                .get(at + 2..after)
                .is_some_and(|s| s.eq_ignore_ascii_case(name));
            if matches {
                match self.at(after) {
                    Some(b'>') => break Some((at, after + 1)),
                    Some(b) if is_ws(b) || b == b'/' => {
                        return Err(Stop::Unsure(
                            "an end tag of raw text with more than its name",
                        ))
                    }
                    _ => {}
                }
            }
            from = at + 2;
        };
        let body_end = end.map_or(self.s.len(), |(at, _)| at);
        let body = &self.s[self.pos..body_end];
        if kind == RawKind::ScriptData && body.contains("<!--") {
            return Err(Stop::Unsure("`<!--` inside a script"));
        }
        if refs {
            let mut at = self.pos;
            while let Some(n) = memchr::memchr(b'&', &self.bytes()[at..body_end]) {
                self.text.push_str(&self.s[at..at + n]);
                self.pos = at + n;
                self.char_ref()?;
                if self.pos > body_end {
                    return Err(Stop::Unsure("a reference running into an end tag"));
                }
                at = self.pos;
            }
            self.text.push_str(&self.s[at..body_end]);
        } else {
            self.text.push_str(body);
        }
        self.pos = body_end;
        self.flush(sink)?;
        if let Some((_, next)) = end {
            self.pos = next;
            sink(Item::Token(Token::TagToken(Tag {
                kind: TagKind::EndTag,
                name: name.clone(),
                self_closing: false,
                attrs: Vec::new(),
            })))
            .map_err(Stop::Sink)?;
        }
        Ok(())
    }
}
