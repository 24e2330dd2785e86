//! The body as text: byte-order mark, Content-Type charset, or a declaration sniffed from
//! the first bytes; UTF-8 otherwise.

use super::error_body::sanitize;
use super::{Body, FetchError};

/// How many bytes are sniffed for `<meta charset>` / `<?xml encoding?>`.
const SNIFF_BYTES: usize = 1024;

impl Body {
    /// The body as text. The encoding comes from a byte-order mark, else the Content-Type
    /// `charset`, else a `<meta charset>` / `<?xml encoding?>` in the first 1024 bytes, else
    /// UTF-8. A BOM wins over the header, as in browsers and the WHATWG Encoding standard.
    ///
    /// UTF-8 that is not valid is an error naming the byte offset; so is a charset label no
    /// one knows. Other encodings decode with replacement characters for bad bytes.
    ///
    /// Borrowed when the body is UTF-8 already (most are): a page is not copied to be read.
    pub fn text(&self) -> Result<std::borrow::Cow<'_, str>, FetchError> {
        let fail = |reason: String| FetchError::Decode {
            url: self.url.to_string(),
            reason,
        };
        let label_encoding = |label: &str, whence: &str| {
            let enc = encoding_rs::Encoding::for_label(label.as_bytes()).ok_or_else(|| {
                fail(format!(
                    "unknown charset `{}` in {whence}",
                    sanitize(label, 60)
                ))
            })?;
            if enc == encoding_rs::REPLACEMENT {
                return Err(fail(format!(
                    "charset `{}` in {whence} is not supported",
                    sanitize(label, 60)
                )));
            }
            Ok(enc)
        };

        let (encoding, bom_len) =
            if let Some((enc, len)) = encoding_rs::Encoding::for_bom(&self.bytes) {
                (enc, len)
            } else if let Some(label) = self.content_type.as_deref().and_then(charset_param) {
                (label_encoding(&label, "Content-Type")?, 0)
            } else if let Some((label, whence)) = sniff_charset(&self.bytes) {
                let enc = label_encoding(&label, whence)?;
                // Bytes that spell out an ASCII declaration cannot be UTF-16.
                let enc = if enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE {
                    encoding_rs::UTF_8
                } else if enc == encoding_rs::X_USER_DEFINED {
                    encoding_rs::WINDOWS_1252
                } else {
                    enc
                };
                (enc, 0)
            } else {
                (encoding_rs::UTF_8, 0)
            };

        let content = &self.bytes[bom_len..];
        if encoding == encoding_rs::UTF_8 {
            return match std::str::from_utf8(content) {
                Ok(s) => Ok(s.into()),
                Err(e) => Err(fail(format!(
                    "invalid UTF-8 at byte {}",
                    e.valid_up_to() + bom_len
                ))),
            };
        }
        let (text, _had_errors) = encoding.decode_without_bom_handling(content);
        Ok(text)
    }
}

/// The `charset` parameter of a Content-Type value, unquoted; `None` when absent or empty.
fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'').trim();
        (!value.is_empty()).then(|| value.to_string())
    })
}

/// A charset declared in the first [`SNIFF_BYTES`] bytes: `<?xml … encoding="…"?>`,
/// `<meta charset="…">` or `<meta http-equiv="Content-Type" content="…; charset=…">`.
fn sniff_charset(bytes: &[u8]) -> Option<(String, &'static str)> {
    let head = &bytes[..bytes.len().min(SNIFF_BYTES)];
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();

    let start = lower
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(lower.len());
    if lower[start..].starts_with(b"<?xml") {
        let decl_end = find(&lower[start..], b"?>").map_or(lower.len(), |i| start + i);
        let decl = &lower[start..decl_end];
        if let Some(i) = find(decl, b"encoding") {
            if let Some(v) = attr_value(&decl[i + b"encoding".len()..]) {
                return Some((v, "the XML declaration"));
            }
        }
    }

    let mut from = 0;
    while let Some(i) = find(&lower[from..], b"<meta") {
        let tag_start = from + i + b"<meta".len();
        let tag_end = lower[tag_start..]
            .iter()
            .position(|&b| b == b'>')
            .map_or(lower.len(), |j| tag_start + j);
        let tag = &lower[tag_start..tag_end];
        if let Some(j) = find(tag, b"charset") {
            if let Some(v) = attr_value(&tag[j + b"charset".len()..]) {
                return Some((v, "a <meta> tag"));
            }
        }
        from = tag_end;
    }
    None
}

/// After an attribute name: optional spaces, `=`, optional spaces, a quoted or bare value.
fn attr_value(rest: &[u8]) -> Option<String> {
    let mut i = 0;
    while i < rest.len() && rest[i].is_ascii_whitespace() {
        i += 1;
    }
    if rest.get(i) != Some(&b'=') {
        return None;
    }
    i += 1;
    while i < rest.len() && rest[i].is_ascii_whitespace() {
        i += 1;
    }
    let quote = match rest.get(i) {
        Some(&q @ (b'"' | b'\'')) => {
            i += 1;
            Some(q)
        }
        _ => None,
    };
    let value: Vec<u8> = rest[i..]
        .iter()
        .take_while(|&&b| match quote {
            Some(q) => b != q && b != b';',
            None => !b.is_ascii_whitespace() && !matches!(b, b';' | b'"' | b'\'' | b'>' | b'/'),
        })
        .copied()
        .collect();
    let value = String::from_utf8_lossy(&value).trim().to_string();
    (!value.is_empty()).then_some(value)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::super::Validators;
    use super::*;
    use url::Url;

    fn body(content_type: Option<&str>, bytes: &[u8]) -> Body {
        Body {
            status: 200,
            url: Url::parse("http://example.test/page").unwrap(),
            content_type: content_type.map(str::to_string),
            bytes: bytes.to_vec(),
            validators: Validators::default(),
        }
    }

    #[test]
    fn text_decoding() {
        assert_eq!(
            body(Some("text/html; charset=ISO-8859-1"), b"caf\xe9")
                .text()
                .unwrap(),
            "café"
        );
        assert_eq!(
            body(Some("text/html; charset=\"utf-8\""), "café".as_bytes())
                .text()
                .unwrap(),
            "café"
        );
        assert_eq!(body(None, b"\xef\xbb\xbfhi").text().unwrap(), "hi");
        assert_eq!(
            body(Some("text/plain; charset=iso-8859-1"), b"\xef\xbb\xbfhi")
                .text()
                .unwrap(),
            "hi"
        );
        assert_eq!(body(None, b"\xff\xfeh\0i\0").text().unwrap(), "hi");
        assert_eq!(
            body(
                None,
                b"<html><head><meta charset='windows-1252'></head>\x93q\x94"
            )
            .text()
            .unwrap(),
            "<html><head><meta charset='windows-1252'></head>\u{201c}q\u{201d}"
        );
        assert_eq!(
            body(
                None,
                b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\">\xe9"
            )
            .text()
            .unwrap()
            .chars()
            .last(),
            Some('é')
        );
        assert_eq!(
            body(
                None,
                b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>\xe9</a>"
            )
            .text()
            .unwrap(),
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>é</a>"
        );
        assert_eq!(
            body(None, b"<meta charset=\"utf-16\">ok").text().unwrap(),
            "<meta charset=\"utf-16\">ok"
        );
        let e = body(None, b"ok\xffno").text().unwrap_err().to_string();
        assert_eq!(e, "http://example.test/page: invalid UTF-8 at byte 2");
        let e = body(Some("text/html; charset=klingon"), b"x")
            .text()
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown charset `klingon`"), "{e}");
        let e = body(None, b"<meta charset=klingon>")
            .text()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown charset `klingon` in a <meta> tag"),
            "{e}"
        );
        assert!(body(None, b"").text().unwrap().is_empty());
    }

    #[test]
    fn sniffers_never_panic() {
        for input in [
            &b"<meta"[..],
            b"<meta charset",
            b"<meta charset=",
            b"<meta charset='",
            b"<?xml",
            b"<?xml encoding",
            b"<?xml encoding=\"",
            b"\xff\xff<meta charset=\xff>",
        ] {
            let _ = sniff_charset(input);
            let _ = body(None, input).text();
        }
        assert_eq!(charset_param("text/html; charset="), None);
        assert_eq!(
            charset_param("text/html;charset=UTF-8"),
            Some("UTF-8".into())
        );
    }
}
