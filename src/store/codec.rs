//! The one framing of every stored record (versions, changes, states, heads, outbox entries,
//! follows): a 4-byte header naming the record format and how the body is encoded, then the
//! body.
//!
//! ```text
//! record = "pw" FORMAT CODEC body      CODEC: 0xF0 JSON, 0xF1 lz4 (size-prepended) JSON
//! ```
//!
//! The codec byte has its high bit set, so a header read as the little-endian length that
//! starts an lz4 record written before headers existed would claim about 4 GiB: the two
//! never mix up. Records written before the header (plain JSON; lz4 versions; `Z` + lz4
//! change records) still read. A record of a newer format is an error naming it, never a
//! guess.

use std::borrow::Cow;

use serde::{de::DeserializeOwned, Serialize};

use crate::error::{Error, Result};

/// The format of the records this release writes.
pub const FORMAT: u8 = 1;

const MAGIC: &[u8; 2] = b"pw";
const JSON: u8 = 0xF0;
const LZ4_JSON: u8 = 0xF1;
/// Change records compressed before the header existed.
const OLD_COMPRESSED: u8 = b'Z';

/// How a tree wrote its records before they had a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unframed {
    /// Plain JSON (or `Z` + lz4 JSON).
    Json,
    /// lz4 size-prepended JSON (versions).
    Lz4,
}

/// `v` as a record: JSON, compressed when `compress`.
pub fn encode<T: Serialize>(v: &T, compress: bool) -> Result<Vec<u8>> {
    Ok(encode_json(&serde_json::to_vec(v)?, compress))
}

/// A value already serialised to JSON, as a record.
pub fn encode_json(json: &[u8], compress: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() / if compress { 3 } else { 1 } + 8);
    out.extend_from_slice(MAGIC);
    out.push(FORMAT);
    if compress {
        out.push(LZ4_JSON);
        // What `compress_prepend_size` writes (the size as a little-endian u32, then the
        // block), compressed straight into the record instead of copied into it.
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        let start = out.len();
        out.resize(
            start + lz4_flex::block::get_maximum_output_size(json.len()),
            0,
        );
        let written = lz4_flex::block::compress_into(json, &mut out[start..])
            .expect("room for the largest block was made");
        out.truncate(start + written);
    } else {
        out.push(JSON);
        out.extend_from_slice(json);
    }
    out
}

/// A record's value.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], unframed: Unframed) -> Result<T> {
    Ok(serde_json::from_slice(&json(bytes, unframed)?)?)
}

/// A record's JSON, decompressed but not decoded (for scans that search the text).
pub fn json(bytes: &[u8], unframed: Unframed) -> Result<Cow<'_, [u8]>> {
    match bytes {
        [m0, m1, format, codec @ (JSON | LZ4_JSON), body @ ..] if [*m0, *m1] == *MAGIC => {
            if *format > FORMAT {
                return Err(Error::Store(format!(
                    "a record of format {format} (this release reads up to {FORMAT}): \
                     it was written by a newer policywatch"
                )));
            }
            match *codec {
                LZ4_JSON => lz4(body),
                _ => Ok(Cow::Borrowed(body)),
            }
        }
        [OLD_COMPRESSED, body @ ..] if unframed == Unframed::Json => lz4(body),
        _ if unframed == Unframed::Lz4 => lz4(bytes),
        _ => Ok(Cow::Borrowed(bytes)),
    }
}

fn lz4(body: &[u8]) -> Result<Cow<'_, [u8]>> {
    lz4_flex::decompress_size_prepended(body)
        .map(Cow::Owned)
        .map_err(|e| Error::Store(format!("a compressed record does not decompress: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_with_their_format() {
        let v = serde_json::json!({"text": "a".repeat(200)});
        for compress in [false, true] {
            let bytes = encode(&v, compress).unwrap();
            assert_eq!(&bytes[..3], b"pw\x01");
            for unframed in [Unframed::Json, Unframed::Lz4] {
                assert_eq!(decode::<serde_json::Value>(&bytes, unframed).unwrap(), v);
            }
        }
        assert!(encode(&v, true).unwrap().len() < encode(&v, false).unwrap().len());
    }

    #[test]
    fn records_written_before_the_header_still_read() {
        let v = serde_json::json!({"seq": 3});
        let json = serde_json::to_vec(&v).unwrap();
        let lz4 = lz4_flex::compress_prepend_size(&json);
        let mut z = vec![b'Z'];
        z.extend_from_slice(&lz4);
        let read = |b: &[u8], u| decode::<serde_json::Value>(b, u).unwrap();
        assert_eq!(read(&json, Unframed::Json), v);
        assert_eq!(read(&z, Unframed::Json), v);
        assert_eq!(read(&lz4, Unframed::Lz4), v);
    }

    #[test]
    fn a_newer_format_or_garbage_is_an_error_not_a_value() {
        let mut bytes = encode(&1u8, false).unwrap();
        bytes[2] = FORMAT + 1;
        let e = decode::<u8>(&bytes, Unframed::Json)
            .unwrap_err()
            .to_string();
        assert!(e.contains("newer policywatch"), "{e}");
        assert!(decode::<u8>(b"\x07garbage", Unframed::Lz4).is_err());
        assert!(decode::<u8>(b"{not json", Unframed::Json).is_err());
    }
}
