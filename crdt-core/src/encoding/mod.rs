//! The codec primitives every binary format of the crate is built from, and the header that
//! frames the document's encodings. Nothing here knows what a document, a change or a sequence
//! is: the document's formats (`doc::format`), the sequence engine's
//! (`seq::ops_format`, `seq::snapshot`) and the sync protocol's frames
//! (`sync::message`) sit above these modules and depend only downward on them.
//!
//! * `column`: LEB128 varints, zigzag, deltas, run-length columns and a bounded reader; its
//!   errors are [`FormatError`].
//! * [`compress`]: the version + flags envelope, deflated when smaller, inflated within a ratio
//!   and an absolute limit.
//! * `budget`: the `DecodeBudget` every decoder of one message charges, a fixed multiple of the
//!   bytes received ([`budget::DECODE_RATIO`], at most [`budget::MAX_DECODED`]).
//! * `msgpack`: MessagePack writers and a bounded reader, written by hand (no serde in the
//!   decoding path of the wasm build).
//!
//! # Header
//!
//! Every document encoding starts with a 6-byte header, then its body:
//!
//! | bytes | meaning |
//! |---|---|
//! | 0..4 | magic `b"CRDT"` ([`MAGIC`]) |
//! | 4 | kind ([`EncodingKind`]): `b'C'` changes, `b'H'` a whole history, `b'S'` snapshot |
//! | 5 | format version ([`FORMAT_VERSION`]), currently `6` |
//! | 6.. | body, in the envelope of [`compress`]: a version byte, a flags byte, then the body, deflated when that makes it smaller |
//!
//! A header of another kind or version is refused with a [`DecodeError`] before the body is
//! read; the bodies are described with the formats (`doc::format`).
//!
//! Decoding is bounded by what was received, not by what the bytes claim: every length is
//! checked against the bytes that remain before anything is allocated, run-length columns hold
//! no more values than expected, and the bytes inflated and the memory of every value decoded
//! are charged to one `DecodeBudget` per message. Every failure is a [`FormatError`], or a
//! [`DecodeError`] for a whole encoding.

use std::borrow::Cow;

pub(crate) mod budget;
pub(crate) mod column;
pub mod compress;
pub(crate) mod msgpack;

pub use budget::{DECODE_RATIO, MAX_DECODED};
pub use column::FormatError;

use budget::DecodeBudget;

/// The first four bytes of every encoding.
pub const MAGIC: [u8; 4] = *b"CRDT";
/// The current format version.
pub const FORMAT_VERSION: u8 = 6;

/// What an encoding holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodingKind {
    /// Changes, as exchanged by peers.
    Changes,
    /// A whole history, as exchanged by peers: what a peer that holds nothing lacks, in the
    /// form a document's log holds it (what a joining replica takes in without rebuilding a
    /// change).
    History,
    /// A whole document.
    Snapshot,
}

impl EncodingKind {
    pub(crate) fn byte(self) -> u8 {
        match self {
            EncodingKind::Changes => b'C',
            EncodingKind::History => b'H',
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
    /// A column, count or envelope is malformed (truncated, oversized count, bad compression).
    #[error("malformed encoding: {0}")]
    Format(#[from] FormatError),
    /// A decoded structure is inconsistent (an index out of range, columns that disagree).
    #[error("malformed body: {0}")]
    Malformed(&'static str),
    /// An operation of a kind this build does not know (made by a newer build): the change
    /// cannot be applied here.
    #[error("operation kind {0} is unknown to this build (upgrade to apply these changes)")]
    UnknownOpKind(u64),
}

/// Wraps the raw body `raw` in the header for `kind` and the envelope.
pub(crate) fn frame(kind: EncodingKind, raw: &[u8]) -> Vec<u8> {
    let sealed = compress::seal(FORMAT_VERSION, raw);
    let mut out = Vec::with_capacity(6 + sealed.len());
    out.extend_from_slice(&MAGIC);
    out.push(kind.byte());
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&sealed);
    out
}

/// Checks the header for `kind` and opens the envelope: the raw body, its inflated bytes charged
/// to `budget`.
pub(crate) fn unframe<'a>(
    kind: EncodingKind,
    bytes: &'a [u8],
    budget: &mut DecodeBudget,
) -> Result<Cow<'a, [u8]>, DecodeError> {
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
    Ok(compress::unseal(FORMAT_VERSION, &bytes[6..], budget)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_errors_are_typed() {
        let ok = frame(EncodingKind::Changes, b"body");
        assert_eq!(
            unframe(EncodingKind::Changes, &ok, &mut DecodeBudget::for_input(64))
                .unwrap()
                .as_ref(),
            b"body"
        );
        assert_eq!(
            unframe(
                EncodingKind::Changes,
                &ok[..3],
                &mut DecodeBudget::for_input(64)
            ),
            Err(DecodeError::TooShort(3))
        );
        let mut bad = ok.clone();
        bad[0] = b'X';
        assert_eq!(
            unframe(
                EncodingKind::Changes,
                &bad,
                &mut DecodeBudget::for_input(64)
            ),
            Err(DecodeError::BadMagic)
        );
        assert!(matches!(
            unframe(
                EncodingKind::Snapshot,
                &ok,
                &mut DecodeBudget::for_input(64)
            ),
            Err(DecodeError::WrongKind { .. })
        ));
        let mut v9 = ok.clone();
        v9[5] = 9;
        assert_eq!(
            unframe(EncodingKind::Changes, &v9, &mut DecodeBudget::for_input(64)),
            Err(DecodeError::UnsupportedVersion(9))
        );
        // The envelope's own version must match too.
        let mut inner = ok.clone();
        inner[6] = 2;
        assert_eq!(
            unframe(
                EncodingKind::Changes,
                &inner,
                &mut DecodeBudget::for_input(64)
            ),
            Err(DecodeError::Format(FormatError::UnsupportedVersion(2)))
        );
        assert_eq!(
            unframe(
                EncodingKind::Changes,
                &ok[..6],
                &mut DecodeBudget::for_input(64)
            ),
            Err(DecodeError::Format(FormatError::Truncated(
                "envelope header"
            )))
        );
    }
}
