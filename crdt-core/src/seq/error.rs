//! The one error type of the sequence engine and of [`crate::Text`] / [`crate::List`]:
//! everything that can go wrong with a position, an op, or bytes from outside.

use thiserror::Error;

use crate::clock::Dot;
use crate::encoding::FormatError;

/// Why a sequence operation, conversion or decode was refused. Nothing is changed when one is
/// returned.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SeqError {
    /// A position or range ends past the visible length.
    #[error("position {pos} is out of bounds (length {len})")]
    OutOfBounds {
        /// The offending position (end of the range for ranges).
        pos: usize,
        /// The visible length at the time.
        len: usize,
    },
    /// A UTF-16 offset is past the end or splits a surrogate pair.
    #[error("UTF-16 offset {0} is past the end or inside a surrogate pair")]
    InvalidUtf16Offset(usize),
    /// An op references an element this replica has not seen (deliver ops causally).
    #[error("unknown element id {0:?}")]
    UnknownId(Dot),
    /// A local op tried to reuse ids that are already taken.
    #[error("element id {0:?} is already in use")]
    IdInUse(Dot),
    /// An op or a decoded structure is inconsistent.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// An op depends on ops of its replica that have not been applied yet.
    #[error("missing earlier ops of replica: next expected {expected:?}, got {got:?}")]
    MissingDependency {
        /// The first op this replica needs next from that replica.
        expected: Dot,
        /// What arrived instead.
        got: Dot,
    },
    /// The sequence would exceed its capacity (2^32 - 2 elements ever inserted, or runs of
    /// 2^31 - 1 elements).
    #[error("sequence capacity exceeded")]
    CapacityExceeded,
    /// Bytes could not be decoded.
    #[error("cannot decode: {0}")]
    Decode(String),
    /// A columnar body is malformed (truncated, oversized counts, bad compression).
    #[error("malformed encoding: {0}")]
    Format(#[from] FormatError),
}

impl From<rmp_serde::decode::Error> for SeqError {
    fn from(e: rmp_serde::decode::Error) -> Self {
        SeqError::Decode(e.to_string())
    }
}
