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
    with_json(v, |json| encode_json(json, compress))
}

/// A value already serialised to JSON, as a record.
pub fn encode_json(json: &[u8], compress: bool) -> Vec<u8> {
    let header = [
        MAGIC[0],
        MAGIC[1],
        FORMAT,
        if compress { LZ4_JSON } else { JSON },
    ];
    if !compress {
        return [&header[..], json].concat();
    }
    // lz4 needs room for its worst case, which a fresh buffer would zero and fault in for
    // every version (it was most of a baseline's memory traffic): compress into this
    // thread's scratch, then copy out only what was written.
    with_scratch(&LZ4_SCRATCH, |scratch| {
        let room = lz4_flex::block::get_maximum_output_size(json.len());
        if scratch.len() < room {
            scratch.resize(room, 0);
        }
        let written = lz4_flex::block::compress_into(json, &mut scratch[..room])
            .expect("room for the largest block was made");
        // What `compress_prepend_size` writes: the size as a little-endian u32, then the block.
        let mut out = Vec::with_capacity(header.len() + 4 + written);
        out.extend_from_slice(&header);
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(&scratch[..written]);
        out
    })
}

/// `v` serialised to JSON in this thread's scratch buffer and handed to `f`: a document's
/// JSON is hashed and framed, never kept, so it needs no buffer of its own that grows by
/// doubling for every page.
pub fn with_json<T: Serialize, R>(v: &T, f: impl FnOnce(&[u8]) -> R) -> Result<R> {
    with_written(|scratch| Ok(serde_json::to_writer(scratch, v)?), f)
}

/// What `write` writes, in this thread's scratch buffer, handed to `f` (see [`with_json`]).
pub fn with_written<R, E>(
    write: impl FnOnce(&mut Vec<u8>) -> std::result::Result<(), E>,
    f: impl FnOnce(&[u8]) -> R,
) -> std::result::Result<R, E> {
    with_scratch(&JSON_SCRATCH, |scratch| {
        scratch.clear();
        write(scratch)?;
        Ok(f(scratch))
    })
}

/// Scratch buffers kept larger than this are let go after use, so one huge document does
/// not pin its size in every thread.
const SCRATCH_KEEP: usize = 1 << 20;

thread_local! {
    static LZ4_SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    static JSON_SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn with_scratch<R>(
    slot: &'static std::thread::LocalKey<std::cell::RefCell<Vec<u8>>>,
    f: impl FnOnce(&mut Vec<u8>) -> R,
) -> R {
    slot.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => {
            let r = f(&mut scratch);
            if scratch.capacity() > SCRATCH_KEEP {
                *scratch = Vec::new();
            }
            r
        }
        // Only re-entry (which nothing does today) finds it taken: a buffer of its own.
        Err(_) => f(&mut Vec::new()),
    })
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

    /// Records are compressed in a buffer each thread reuses: one written after a larger
    /// one (or after one too large to keep the buffer) is still exactly what lz4's
    /// size-prepended block of its own JSON is, and reads back.
    #[test]
    fn records_compressed_one_after_another_are_each_their_own() {
        let values = [
            serde_json::json!({"text": "long version ".repeat(5000)}),
            serde_json::json!({"text": "short"}),
            serde_json::json!({"text": "x".repeat(SCRATCH_KEEP + 10)}),
            serde_json::json!({"seq": 2}),
        ];
        for v in &values {
            let bytes = encode(v, true).unwrap();
            let json = serde_json::to_vec(v).unwrap();
            let mut expected = b"pw\x01\xF1".to_vec();
            expected.extend_from_slice(&lz4_flex::compress_prepend_size(&json));
            assert_eq!(bytes, expected);
            assert_eq!(
                &decode::<serde_json::Value>(&bytes, Unframed::Lz4).unwrap(),
                v
            );
        }
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
