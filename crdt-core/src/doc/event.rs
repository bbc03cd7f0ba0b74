//! Change events: what a [`Doc`](crate::Doc) tells its subscribers after each local commit or
//! remote apply, as patches a UI can apply without re-reading the document.

use crate::doc::marks::Attributes;
use crate::doc::value::{ContainerId, Scalar, Value};

/// One step of a path from a root container down to a nested one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathSegment {
    /// A root container, by name.
    Root(String),
    /// A map entry, by key.
    Key(String),
    /// A list element, by visible index.
    Index(usize),
}

/// What happened to one container.
#[derive(Clone, Debug, PartialEq)]
pub enum PatchAction {
    /// `key` now shows `value` (the winner among `conflicts + 1` concurrent values).
    MapPut {
        /// The key.
        key: String,
        /// The winning value.
        value: Value,
        /// How many other concurrent values the key holds.
        conflicts: usize,
    },
    /// `key` no longer holds a value.
    MapDelete {
        /// The key.
        key: String,
    },
    /// `text` was inserted at `index` (Unicode scalar values).
    TextInsert {
        /// Position of the first inserted character.
        index: usize,
        /// The same position in UTF-16 code units (what JavaScript strings and most editors
        /// count), computed at the time of the change.
        index_utf16: usize,
        /// The inserted characters.
        text: String,
        /// Their formatting (the marks covering them; empty when none).
        attributes: Attributes,
    },
    /// `len` characters were deleted at `index`.
    TextDelete {
        /// Position of the first deleted character.
        index: usize,
        /// The same position in UTF-16 code units, computed at the time of the change.
        index_utf16: usize,
        /// Number of characters.
        len: usize,
        /// Length of the deleted characters in UTF-16 code units: with `index_utf16`, the range
        /// a JavaScript string or an editor counting UTF-16 removes.
        len_utf16: usize,
    },
    /// The formatting key `key` of the `len` characters at `index` is now `value` (`None`:
    /// removed). Only ranges whose value changed are reported.
    TextMark {
        /// Position of the first character.
        index: usize,
        /// The same position in UTF-16 code units.
        index_utf16: usize,
        /// Number of characters.
        len: usize,
        /// Their length in UTF-16 code units.
        len_utf16: usize,
        /// The formatting key.
        key: String,
        /// The new value, or `None` when the key no longer applies.
        value: Option<Scalar>,
    },
    /// `values` were inserted at `index`.
    ListInsert {
        /// Position of the first inserted element.
        index: usize,
        /// The inserted elements.
        values: Vec<Value>,
    },
    /// `len` elements were deleted at `index`.
    ListDelete {
        /// Position of the first deleted element.
        index: usize,
        /// Number of elements.
        len: usize,
    },
    /// The counter changed by `delta`.
    CounterAdd {
        /// The amount added.
        delta: i64,
    },
}

/// One change to one container.
#[derive(Clone, Debug, PartialEq)]
pub struct Patch {
    /// The container changed.
    pub obj: ContainerId,
    /// Where it sits, from a root; `None` when it is not reachable (e.g. its map entry was
    /// overwritten concurrently).
    pub path: Option<Vec<PathSegment>>,
    /// What happened.
    pub action: PatchAction,
}

/// Where a batch of patches came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventOrigin {
    /// A local transaction, at commit.
    Local,
    /// Changes from another replica.
    Remote,
}

/// What subscribers receive: the patches of one commit or one apply, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct DocEvent {
    /// Local commit or remote apply.
    pub origin: EventOrigin,
    /// The patches, in the order they happened.
    pub patches: Vec<Patch>,
}
