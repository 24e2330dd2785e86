//! A stored document's JSON, written here rather than by serde_json: the same bytes (the
//! version hash is taken over them, so they must never differ; see the tests), with
//! strings escaped eight bytes at a time. serde_json looks up every byte of a string in a
//! table; a page's text is tens of kilobytes with a few newlines to escape, and escaping
//! it was a twentieth of a baseline cycle's CPU.

use serde_json::Value;

use crate::data::Document;

/// `doc` as serde_json's compact form writes it, appended to `out`.
pub fn document(doc: &Document, out: &mut Vec<u8>) {
    // Field order and names as `#[derive(Serialize)]` on `Document` gives them.
    out.extend_from_slice(b"{\"title\":");
    string(&doc.title, out);
    out.extend_from_slice(b",\"url\":");
    string(&doc.url, out);
    out.extend_from_slice(b",\"text\":");
    string(&doc.text, out);
    out.extend_from_slice(b",\"fields\":");
    value(&doc.fields, out);
    out.push(b'}');
}

/// `v` as serde_json's compact form writes it.
fn value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::String(s) => string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                value(item, out);
            }
            out.push(b']');
        }
        // A map iterates in the order serde_json writes it (sorted, or insertion order
        // with its `preserve_order` feature).
        Value::Object(map) => {
            out.push(b'{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(k, out);
                out.push(b':');
                value(item, out);
            }
            out.push(b'}');
        }
        // Numbers, booleans and null are short and their formatting is serde_json's own.
        scalar => {
            // Writing to a Vec cannot fail, and a scalar always serialises.
            let _ = serde_json::to_writer(&mut *out, scalar);
        }
    }
}

const ONES: u64 = u64::from_le_bytes([0x01; 8]);
const HIGH: u64 = u64::from_le_bytes([0x80; 8]);

/// High bit set in the lowest byte of `x` that JSON must escape (a control character, `"`
/// or `\`); bits above it may be set wrongly (a borrow), so only the lowest counts.
fn escapes_in(x: u64) -> u64 {
    let zero = |y: u64| y.wrapping_sub(ONES) & !y & HIGH;
    (x.wrapping_sub(0x20 * ONES) & !x & HIGH)
        | zero(x ^ (u64::from(b'"') * ONES))
        | zero(x ^ (u64::from(b'\\') * ONES))
}

/// `s` as a JSON string, escaped exactly as serde_json escapes it: `"`, `\` and the short
/// forms `\b \f \n \r \t`; other control characters as `\u00xx`; everything else as it is.
pub fn string(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let (mut from, mut i) = (0, 0);
    while i < bytes.len() {
        match bytes.get(i..i + 8) {
            Some(block) => {
                let found = escapes_in(u64::from_le_bytes(block.try_into().unwrap_or_default()));
                if found == 0 {
                    i += 8;
                    continue;
                }
                i += (found.trailing_zeros() / 8) as usize;
            }
            None if needs_escape(bytes[i]) => {}
            None => {
                i += 1;
                continue;
            }
        }
        out.extend_from_slice(&bytes[from..i]);
        escape(bytes[i], out);
        i += 1;
        from = i;
    }
    out.extend_from_slice(&bytes[from..]);
    out.push(b'"');
}

fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

fn escape(b: u8, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match b {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x0C => b'f',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        _ => {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xF)],
            ]);
            return;
        }
    };
    out.extend_from_slice(&[b'\\', short]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(s: &str) -> String {
        let mut out = Vec::new();
        string(s, &mut out);
        String::from_utf8(out).unwrap()
    }

    /// Every byte value that can start or sit inside a string, at every offset within an
    /// eight-byte block and across block edges.
    #[test]
    fn strings_are_escaped_byte_for_byte_as_serde_json_escapes_them() {
        let mut specials: Vec<String> = (0u8..0x80).map(|b| char::from(b).to_string()).collect();
        specials.extend(["é", "\u{a0}", "\u{2028}", "😀", "\u{7f}", "\u{ff}"].map(String::from));
        for special in &specials {
            for before in 0..17 {
                for after in [0, 1, 7, 8, 9] {
                    let s = format!("{}{special}{}", "a".repeat(before), "b".repeat(after));
                    assert_eq!(ours(&s), serde_json::to_string(&s).unwrap(), "{s:?}");
                }
            }
        }
        // Runs of escapes, and escapes next to multi-byte characters.
        for s in [
            "",
            "\"\"\"\"\"\"\"\"\"",
            "\\\n\\\n\t\r\u{1}\u{1f}",
            "é\"é\\é\né",
            "😀\u{0}😀",
        ] {
            assert_eq!(ours(s), serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn pseudo_random_strings_are_escaped_as_serde_json_escapes_them() {
        let alphabet: Vec<char> = "ab \n\t\r\"\\/é€😀\u{0}\u{1f}\u{7f}\u{a0}<>&"
            .chars()
            .collect();
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..5_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 40) as usize;
            let s: String = (0..len)
                .map(|k| alphabet[((seed >> (k % 50)) as usize + k * 7) % alphabet.len()])
                .collect();
            assert_eq!(ours(&s), serde_json::to_string(&s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn documents_are_written_byte_for_byte_as_serde_json_writes_them() {
        let doc = Document {
            title: "Guidance \"A\"\n".into(),
            url: "https://www.gov.uk/a?x=1&y=é".into(),
            text: "Line one\nLine\ttwo \\ three\u{1}".repeat(40),
            fields: serde_json::json!({
                "links": [{"url": "https://a/b", "text": "A \"b\""}, {"url": "", "text": ""}],
                "stages": [{"n": 1, "f": 1.5, "neg": -3, "big": u64::MAX, "none": null,
                            "yes": true, "nested": {"z": [], "a": {}}}],
                "zeta": "last", "alpha": "first",
            }),
        };
        let mut out = Vec::new();
        document(&doc, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(&doc).unwrap()
        );
        let empty = Document {
            title: String::new(),
            url: String::new(),
            text: String::new(),
            fields: Value::Null,
        };
        let mut out = Vec::new();
        document(&empty, &mut out);
        assert_eq!(out, serde_json::to_vec(&empty).unwrap());
    }

    /// What a cycle makes ready on its worker threads is what the store would have written.
    #[test]
    fn a_new_version_carries_its_documents_json_and_hash() {
        let doc = Document {
            title: "T".into(),
            url: "https://x/".into(),
            text: "a\nb \"c\"".into(),
            fields: serde_json::json!({"links": [{"url": "https://x/y", "text": "y"}]}),
        };
        let version = crate::store::NewVersion::new(doc.clone());
        assert_eq!(version.json(), serde_json::to_vec(&doc).unwrap());
        assert_eq!(version.hash(), crate::store::document_hash(&doc));
        assert_eq!(
            version.hash(),
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
                serde_json::to_vec(&doc).unwrap()
            ))
        );
        assert_eq!(version.document, doc);
    }
}
