//! What travels between replicas ([`SeqOp`]) and what a user interface applies ([`SeqPatch`]).
//!
//! An insert op names its first element; the elements of one op get consecutive counters of one
//! replica, and each element's left origin is the element before it in the op (a run). So one
//! `SeqOp::Insert` carries a whole burst of typing, and a `SeqOp::Delete` a whole range of
//! consecutive ids. Origins follow FugueMax / YjsMod (see [`crate::seq`]).

use serde::{Deserialize, Serialize};

use crate::clock::Dot;

/// One sequence operation, as produced locally and applied remotely.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SeqOp<C> {
    /// Insert a run of elements with ids `id, id+1, ...` (same replica, consecutive counters).
    Insert {
        /// Id of the first element.
        id: Dot,
        /// The element immediately left of the insertion when it was made (`None`: the start).
        origin_left: Option<Dot>,
        /// The element immediately right of `origin_left` (tombstones included) when the
        /// insertion was made (`None`: the end).
        origin_right: Option<Dot>,
        /// The elements, in order; never empty.
        content: C,
    },
    /// Delete the elements with ids `target, target+1, ..., target+len-1` (one replica).
    Delete {
        /// First deleted element.
        target: Dot,
        /// Number of consecutive counters of `target.replica` deleted; at least 1.
        len: u64,
    },
}

/// A visible effect of applying an op, in order: apply each to the previous visible sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SeqPatch {
    /// `len` elements appeared at visible position `pos`.
    Insert {
        /// Visible position of the first inserted element.
        pos: usize,
        /// Number of elements.
        len: usize,
    },
    /// The `len` visible elements starting at `pos` disappeared.
    Delete {
        /// Visible position of the first deleted element.
        pos: usize,
        /// Number of elements.
        len: usize,
        /// Their length in UTF-16 code units (equal to `len` for non-text content): what an
        /// editor counting JavaScript string offsets deletes, which the sequence can no longer
        /// measure once the elements are gone.
        len_utf16: usize,
    },
}
