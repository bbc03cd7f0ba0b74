//! The binary formats of documents: encoded changes (what peers exchange) and snapshots (what is
//! saved). Bytes are touched here and nowhere else in the document code.
//!
//! The columnar primitives used by the sequence engine's formats live here too: `column`
//! (LEB128 varints, zigzag, run-length columns, a bounded reader; errors are [`FormatError`]) and
//! [`compress`] (the version + flags envelope, deflated when smaller, inflated within a ratio and
//! an absolute limit).
//!
//! # Format
//!
//! Every encoding starts with a 6-byte header, then a MessagePack body (rmp-serde, structs as
//! arrays):
//!
//! | bytes | meaning |
//! |---|---|
//! | 0..4 | magic `b"CRDT"` |
//! | 4 | kind: `b'C'` changes, `b'S'` snapshot |
//! | 5 | format version, currently `2` |
//! | 6.. | body, in the envelope of [`compress`]: a version byte, a flags byte, then the MessagePack bytes, deflated when that makes them smaller |
//!
//! * Changes body: an array of changes, each `[id, deps, lamport, ops]` where `id` is
//!   `[replica, start, end]` (counters `start..end`), `deps` a map replica → highest counter, and
//!   `ops` the operations (see [`Op`](crate::doc::Op)). Runs of typing are one text insert each.
//! * Snapshot body: `[version, changes, pending, containers, parents]`: the history (so that any
//!   peer can still be caught up), changes still waiting for their causal past, and the
//!   materialized state of every container (texts and lists as the sequence engine's own
//!   run-length encoded state), so that loading does not replay operations.
//!
//! Decoding is bounded: every length is checked against the bytes that remain before anything is
//! allocated (MessagePack strings, byte strings and arrays are read from the input slice, and
//! collections grow with the elements actually present). Every failure is a [`DecodeError`].

use serde::de::DeserializeOwned;
use serde::Serialize;

pub(crate) mod column;
pub mod compress;

pub use column::FormatError;

/// The first four bytes of every encoding.
pub const MAGIC: [u8; 4] = *b"CRDT";
/// The current format version.
pub const FORMAT_VERSION: u8 = 2;

/// What an encoding holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodingKind {
    /// Changes, as exchanged by peers.
    Changes,
    /// A whole document.
    Snapshot,
}

impl EncodingKind {
    fn byte(self) -> u8 {
        match self {
            EncodingKind::Changes => b'C',
            EncodingKind::Snapshot => b'S',
        }
    }
}

/// Why bytes could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than a header.
    #[error("input too short ({0} bytes) to hold a header")]
    TooShort(usize),
    /// The bytes do not start with the magic.
    #[error("not a crdt-core encoding (bad magic)")]
    BadMagic,
    /// The encoding holds something else than was expected.
    #[error("expected {expected:?}, found kind byte {found:#04x}")]
    WrongKind {
        /// What the caller asked for.
        expected: EncodingKind,
        /// The kind byte found.
        found: u8,
    },
    /// A format version this build does not read.
    #[error("unsupported format version {0} (this build reads {FORMAT_VERSION})")]
    UnsupportedVersion(u8),
    /// The body is not valid.
    #[error("malformed body: {0}")]
    Body(String),
    /// Bytes remain after the body.
    #[error("{0} unexpected bytes after the body")]
    TrailingBytes(usize),
}

/// Encodes `body` with the header for `kind`.
pub(crate) fn encode<T: Serialize + ?Sized>(kind: EncodingKind, body: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&MAGIC);
    out.push(kind.byte());
    out.push(FORMAT_VERSION);
    // Serializing our own types into a Vec cannot fail: every map key is a string or an integer
    // and no Serialize impl here returns an error.
    let raw = rmp_serde::to_vec(body).expect("encoding into a Vec cannot fail");
    out.extend_from_slice(&compress::seal(FORMAT_VERSION, &raw));
    out
}

/// Checks the header for `kind` and decodes the body.
pub(crate) fn decode<T: DeserializeOwned>(
    kind: EncodingKind,
    bytes: &[u8],
) -> Result<T, DecodeError> {
    if bytes.len() < 6 {
        return Err(DecodeError::TooShort(bytes.len()));
    }
    if bytes[..4] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    if bytes[4] != kind.byte() {
        return Err(DecodeError::WrongKind {
            expected: kind,
            found: bytes[4],
        });
    }
    if bytes[5] != FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion(bytes[5]));
    }
    let inflated = compress::unseal(FORMAT_VERSION, &bytes[6..])
        .map_err(|e| DecodeError::Body(e.to_string()))?;
    let mut body: &[u8] = &inflated;
    let value = {
        let mut de = rmp_serde::Deserializer::new(&mut body);
        T::deserialize(&mut de).map_err(|e| DecodeError::Body(e.to_string()))?
    };
    if !body.is_empty() {
        return Err(DecodeError::TrailingBytes(body.len()));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_errors_are_typed() {
        let ok = encode(EncodingKind::Changes, &vec![1u32, 2, 3]);
        assert_eq!(
            decode::<Vec<u32>>(EncodingKind::Changes, &ok).unwrap(),
            vec![1, 2, 3]
        );
        assert_eq!(
            decode::<Vec<u32>>(EncodingKind::Changes, &ok[..3]),
            Err(DecodeError::TooShort(3))
        );
        let mut bad = ok.clone();
        bad[0] = b'X';
        assert_eq!(
            decode::<Vec<u32>>(EncodingKind::Changes, &bad),
            Err(DecodeError::BadMagic)
        );
        assert!(matches!(
            decode::<Vec<u32>>(EncodingKind::Snapshot, &ok),
            Err(DecodeError::WrongKind { .. })
        ));
        let mut v9 = ok.clone();
        v9[5] = 9;
        assert_eq!(
            decode::<Vec<u32>>(EncodingKind::Changes, &v9),
            Err(DecodeError::UnsupportedVersion(9))
        );
        let mut trailing = ok.clone();
        trailing.push(0);
        assert_eq!(
            decode::<Vec<u32>>(EncodingKind::Changes, &trailing),
            Err(DecodeError::TrailingBytes(1))
        );
        // An array header claiming 2^32-1 elements with none present: an error, no allocation.
        let mut huge = ok[..6].to_vec();
        huge.extend_from_slice(&[FORMAT_VERSION, 0, 0xdd, 0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(
            decode::<Vec<u64>>(EncodingKind::Changes, &huge),
            Err(DecodeError::Body(_))
        ));
    }
}
