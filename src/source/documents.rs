//! The documents behind links (`documents = true`): a PDF or HTML document fetched within
//! the fetch limits, its text extracted page by page, the watch's keywords counted with
//! their page numbers, and a by-page diff between two versions.
//!
//! PDF text comes from `pdf-extract` (pure Rust, on lopdf). Every PDF is hostile until shown
//! otherwise, so before parsing:
//! - the body is already capped by the fetcher (`fetch.max_body_bytes`);
//! - every Flate-compressed stream is inflated once, counting, and the PDF is refused when
//!   they expand past [`Limits::max_inflated`] together (a PDF bomb), before lopdf ever
//!   decompresses one;
//! - extraction runs on a blocking thread under [`Limits::timeout`], and a panic inside the
//!   parser is caught and reported as a malformed PDF.
//!
//! A timed-out extraction cannot be stopped mid-parse: its thread runs on (bounded in memory
//! by the pre-scan) and its result is dropped; the watch reports the timeout.

use std::io::Read;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::annotate::keyword_regex;
use crate::error::{Error, Result};
use crate::source::Context;
use crate::text::diff;
use crate::text::html::{self as html_text, fold, Narrowing};

const ACCEPT_DOCUMENT: &str = "application/pdf, text/html;q=0.9, */*;q=0.1";

/// Bounds on extracting one document.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes all compressed streams of a PDF may expand to, together.
    pub max_inflated: u64,
    pub timeout: Duration,
    /// Pages kept (the rest are dropped, and the count says so).
    pub max_pages: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_inflated: 64 * 1024 * 1024,
            timeout: Duration::from_secs(30),
            max_pages: 2000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Pdf,
    Html,
    Text,
}

/// A document's text, page by page (HTML and plain text are one page).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Extracted {
    pub format: Format,
    pub pages: Vec<String>,
    /// Pages in the document, counting any beyond [`Limits::max_pages`].
    pub page_count: usize,
}

/// A keyword found in a document: how often, on which pages (1-based).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeywordPages {
    pub keyword: String,
    pub count: usize,
    pub pages: Vec<usize>,
}

/// Pages listed in a keyword summary before "…".
const PAGES_SHOWN: usize = 8;

impl KeywordPages {
    /// "modern slavery: 14×, pp. 3, 7, 22…".
    pub fn describe(&self, format: Format) -> String {
        if format != Format::Pdf {
            return format!("{}: {}×", self.keyword, self.count);
        }
        let shown: Vec<String> = self
            .pages
            .iter()
            .take(PAGES_SHOWN)
            .map(|p| p.to_string())
            .collect();
        let more = if self.pages.len() > PAGES_SHOWN {
            "…"
        } else {
            ""
        };
        let pp = if self.pages.len() == 1 { "p." } else { "pp." };
        format!(
            "{}: {}×, {pp} {}{more}",
            self.keyword,
            self.count,
            shown.join(", ")
        )
    }
}

/// Whether the bytes are a PDF (by signature, whatever the server calls them).
pub fn is_pdf(bytes: &[u8]) -> bool {
    find(&bytes[..bytes.len().min(1024)], b"%PDF-").is_some()
}

/// Refuses a PDF whose Flate streams expand past `max_inflated` bytes together.
pub fn prescan_pdf(bytes: &[u8], max_inflated: u64) -> std::result::Result<(), String> {
    let mut total: u64 = 0;
    let mut at = 0;
    while let Some(found) = find(&bytes[at..], b"stream") {
        let keyword = at + found;
        let mut start = keyword + b"stream".len();
        at = start;
        // `endstream` contains `stream` too: only the opening keyword starts data.
        if keyword >= 3 && &bytes[keyword - 3..keyword] == b"end" {
            continue;
        }
        match bytes.get(start) {
            Some(b'\r') if bytes.get(start + 1) == Some(&b'\n') => start += 2,
            Some(b'\n') | Some(b'\r') => start += 1,
            _ => continue,
        }
        // zlib header: CMF 0x78 (deflate, 32K window), checksum over CMF/FLG.
        let (Some(&cmf), Some(&flg)) = (bytes.get(start), bytes.get(start + 1)) else {
            continue;
        };
        if cmf & 0x0f != 8 || (u16::from(cmf) << 8 | u16::from(flg)) % 31 != 0 {
            continue;
        }
        let end = find(&bytes[start..], b"endstream").map_or(bytes.len(), |e| start + e);
        let budget = max_inflated.saturating_sub(total) + 1;
        let mut decoder = flate2::read::ZlibDecoder::new(&bytes[start..end]).take(budget);
        let inflated = std::io::copy(&mut decoder, &mut std::io::sink()).unwrap_or(0);
        total += inflated;
        if total > max_inflated {
            return Err(format!(
                "PDF refused: its compressed streams expand to more than {} MiB (a PDF bomb?)",
                max_inflated / (1024 * 1024)
            ));
        }
        at = end;
    }
    Ok(())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Extracts text synchronously (call [`extract`] from async code: it bounds the time).
pub fn extract_blocking(
    bytes: &[u8],
    content_type: Option<&str>,
    limits: Limits,
) -> std::result::Result<Extracted, String> {
    if is_pdf(bytes) {
        prescan_pdf(bytes, limits.max_inflated)?;
        let pages = std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem_by_pages(bytes))
            .map_err(|_| "malformed PDF: the parser gave up on it".to_string())?
            .map_err(|e| format!("malformed PDF: {e}"))?;
        let page_count = pages.len();
        let pages = pages
            .into_iter()
            .take(limits.max_pages)
            .map(|p| tidy(&p))
            .collect();
        return Ok(Extracted {
            format: Format::Pdf,
            pages,
            page_count,
        });
    }
    let text = String::from_utf8_lossy(bytes);
    let html =
        content_type.is_some_and(|c| c.contains("html")) || text.trim_start().starts_with('<');
    if html {
        let page = html_text::extract(&text, None, Narrowing::default())?;
        return Ok(Extracted {
            format: Format::Html,
            pages: vec![page.text],
            page_count: 1,
        });
    }
    if content_type.is_some_and(|c| c.starts_with("text/")) {
        return Ok(Extracted {
            format: Format::Text,
            pages: vec![tidy(&text)],
            page_count: 1,
        });
    }
    Err(format!(
        "not a PDF or HTML document ({})",
        content_type.unwrap_or("no content type")
    ))
}

/// Lines folded, blank runs collapsed: what is compared and shown.
fn tidy(page: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for line in page.lines() {
        let line = fold(line);
        if line.is_empty() && out.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

/// [`extract_blocking`] on a blocking thread, within `limits.timeout`.
pub async fn extract(
    bytes: Vec<u8>,
    content_type: Option<String>,
    limits: Limits,
) -> std::result::Result<Extracted, String> {
    let task = tokio::task::spawn_blocking(move || {
        extract_blocking(&bytes, content_type.as_deref(), limits)
    });
    match tokio::time::timeout(limits.timeout, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(format!("malformed document: extraction failed ({e})")),
        Err(_) => Err(format!(
            "document refused: extracting its text took longer than {:?}",
            limits.timeout
        )),
    }
}

/// A fetched document, ready to store and report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FetchedDocument {
    pub url: String,
    pub extracted: Extracted,
}

/// GETs a document (within the fetch limits) and extracts its text.
/// `allow_redirects`: the watch's hosts a document link may redirect to.
pub async fn fetch(
    ctx: &Context,
    url: &Url,
    allow_redirects: &[String],
    limits: Limits,
) -> Result<FetchedDocument> {
    let body = ctx.get(url, ACCEPT_DOCUMENT, allow_redirects).await?;
    let extracted = extract(body.bytes, body.content_type, limits)
        .await
        .map_err(|m| Error::extract(url.as_str(), m))?;
    Ok(FetchedDocument {
        url: url.to_string(),
        extracted,
    })
}

/// Each keyword found, with its count and pages.
pub fn keyword_pages(keywords: &[String], pages: &[String]) -> Vec<KeywordPages> {
    let mut out: Vec<KeywordPages> = Vec::new();
    for k in keywords {
        if out.iter().any(|h| h.keyword.eq_ignore_ascii_case(k)) {
            continue;
        }
        let Some(re) = keyword_regex(k) else {
            continue;
        };
        let mut hit = KeywordPages {
            keyword: k.clone(),
            count: 0,
            pages: Vec::new(),
        };
        for (i, page) in pages.iter().enumerate() {
            // The pattern consumes one edge character; count non-overlapping hits of the
            // captured keyword by restarting after each.
            let mut n = 0;
            let mut from = 0;
            while let Some(m) = re.captures_at(page, from).and_then(|c| c.get(1)) {
                n += 1;
                from = m.end();
            }
            if n > 0 {
                hit.count += n;
                hit.pages.push(i + 1);
            }
        }
        if hit.count > 0 {
            out.push(hit);
        }
    }
    out
}

/// The text as stored and shown: pages separated by a marker line.
pub fn text_with_pages(ex: &Extracted) -> String {
    if ex.format != Format::Pdf {
        return ex.pages.join("\n");
    }
    let mut out = String::new();
    for (i, p) in ex.pages.iter().enumerate() {
        out.push_str(&format!("--- page {} ---\n", i + 1));
        out.push_str(p);
        out.push('\n');
    }
    if ex.page_count > ex.pages.len() {
        out.push_str(&format!(
            "--- {} more pages not kept ---\n",
            ex.page_count - ex.pages.len()
        ));
    }
    out
}

/// Pages of a stored text (inverse of [`text_with_pages`] for PDFs).
pub fn pages_of(text: &str) -> Vec<String> {
    let mut pages: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.starts_with("--- page ") && line.ends_with(" ---") {
            if let Some(p) = current.take() {
                pages.push(p);
            }
            current = Some(String::new());
            continue;
        }
        let page = current.get_or_insert_with(String::new);
        if !page.is_empty() {
            page.push('\n');
        }
        page.push_str(line);
    }
    pages.extend(current);
    pages
}

/// A diff between two versions by page: each changed page under its own heading.
pub fn diff_by_page(old: &[String], new: &[String]) -> (String, Vec<usize>) {
    let mut out = String::new();
    let mut changed = Vec::new();
    for i in 0..old.len().max(new.len()) {
        let a = old.get(i).map(String::as_str).unwrap_or("");
        let b = new.get(i).map(String::as_str).unwrap_or("");
        if a == b {
            continue;
        }
        let d = diff::diff(a, b);
        let what = match (old.get(i), new.get(i)) {
            (None, Some(_)) => "added".to_string(),
            (Some(_), None) => "removed".to_string(),
            _ => d.summary(),
        };
        out.push_str(&format!("@@ page {} ({what}) @@\n", i + 1));
        out.push_str(&d.unified);
        changed.push(i + 1);
    }
    (out, changed)
}

/// "pp. 2, 5" / "p. 3".
pub fn page_list(pages: &[usize]) -> String {
    let list: Vec<String> = pages.iter().map(|p| p.to_string()).collect();
    if pages.len() == 1 {
        format!("p. {}", list[0])
    } else {
        format!("pp. {}", list.join(", "))
    }
}

#[cfg(test)]
mod tests;
