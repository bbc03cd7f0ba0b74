//! The [`List`] type; its documentation (why it is built this way) is on the type, which
//! the crate root exports.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::clock::{ReplicaId, VersionVector};
use crate::seq::{Assoc, Cursor, ListContent, Replicated, SeqError};

/// Errors of [`List`] operations and decoding (the sequence engine's error type).
pub type ListError = SeqError;

/// A collaborative list.
///
/// [`List<T>`]: a standalone collaborative list of values, the sequence engine (`crate::seq`,
/// FugueMax) over `ListContent<T>`, with the same sync pair as [`crate::Text`]. Runs of values
/// inserted together by one replica are one entry in memory and on the wire. Invariant: the list
/// is the same on every replica that applied the same ops, in any causal order.
///
/// ```
/// use crdt_core::{List, ReplicaId};
///
/// let mut a: List<String> = List::new(ReplicaId::new(1));
/// let mut b: List<String> = List::new(ReplicaId::new(2));
/// a.insert(0, "milk".to_string()).unwrap();
/// b.apply_encoded(&a.encode_ops_since(b.version())).unwrap();
/// a.insert(1, "eggs".to_string()).unwrap();
/// b.insert(0, "bread".to_string()).unwrap();
/// let to_b = a.encode_ops_since(b.version());
/// a.apply_encoded(&b.encode_ops_since(a.version())).unwrap();
/// b.apply_encoded(&to_b).unwrap();
/// assert_eq!(a.iter().cloned().collect::<Vec<_>>(), ["bread", "milk", "eggs"]);
/// assert_eq!(a.get(0), b.get(0));
/// ```
#[derive(Clone, Debug)]
pub struct List<T: Clone + fmt::Debug + Serialize + DeserializeOwned> {
    inner: Replicated<ListContent<T>>,
}

impl<T: Clone + fmt::Debug + Serialize + DeserializeOwned> List<T> {
    /// An empty list edited by `replica`.
    pub fn new(replica: ReplicaId) -> Self {
        List {
            inner: Replicated::new(replica),
        }
    }

    /// Inserts `value` before position `pos`.
    pub fn insert(&mut self, pos: usize, value: T) -> Result<(), ListError> {
        self.inner.insert(pos, &ListContent(vec![value]))
    }

    /// Inserts `values` (one run) before position `pos`.
    pub fn insert_many(&mut self, pos: usize, values: Vec<T>) -> Result<(), ListError> {
        self.inner.insert(pos, &ListContent(values))
    }

    /// Appends `value` at the end.
    pub fn push(&mut self, value: T) -> Result<(), ListError> {
        self.insert(self.len(), value)
    }

    /// Deletes `len` values starting at `pos`.
    pub fn delete(&mut self, pos: usize, len: usize) -> Result<(), ListError> {
        self.inner.delete(pos, len)
    }

    /// The value at `pos`, if any (O(log n)).
    pub fn get(&self, pos: usize) -> Option<&T> {
        self.inner.sequence().get_element(pos)
    }

    /// The values in order.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.inner.sequence().iter().flat_map(|c| c.0.iter())
    }

    /// The values as a vector.
    pub fn to_vec(&self) -> Vec<T> {
        self.iter().cloned().collect()
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.inner.sequence().len()
    }

    /// True when the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A stable cursor at `pos`.
    pub fn cursor_at(&self, pos: usize, assoc: Assoc) -> Cursor {
        self.inner.sequence().cursor_at(pos, assoc)
    }

    /// Current position of `cursor`; `None` if its anchor is unknown here.
    pub fn resolve_cursor(&self, cursor: &Cursor) -> Option<usize> {
        self.inner.sequence().resolve_cursor(cursor)
    }

    /// Every op applied here, as a version vector.
    pub fn version(&self) -> &VersionVector {
        self.inner.version()
    }

    /// The ops a replica at `since` lacks, encoded.
    pub fn encode_ops_since(&self, since: &VersionVector) -> Vec<u8> {
        self.inner.encode_ops_since(since)
    }

    /// Applies ops from [`List::encode_ops_since`]; all-or-nothing. Returns op runs applied.
    pub fn apply_encoded(&mut self, bytes: &[u8]) -> Result<usize, ListError> {
        self.inner.apply_encoded(bytes)
    }

    /// Full snapshot (state and history).
    pub fn encode_state(&self) -> Vec<u8> {
        self.inner.encode_state()
    }

    /// Loads a snapshot from [`List::encode_state`], validating it.
    pub fn decode_state(bytes: &[u8]) -> Result<Self, ListError> {
        Ok(List {
            inner: Replicated::decode_state(bytes)?,
        })
    }

    /// The replicated sequence underneath (state, history).
    pub fn replicated(&self) -> &Replicated<ListContent<T>> {
        &self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_edits_sync_and_snapshot() {
        let mut a: List<u32> = List::new(ReplicaId::new(1));
        let mut b: List<u32> = List::new(ReplicaId::new(2));
        a.insert_many(0, vec![1, 2, 3]).unwrap();
        a.push(4).unwrap();
        assert_eq!(a.replicated().history_runs(), 1);
        b.apply_encoded(&a.encode_ops_since(b.version())).unwrap();
        a.delete(1, 2).unwrap();
        b.insert(2, 99).unwrap();
        let to_b = a.encode_ops_since(b.version());
        a.apply_encoded(&b.encode_ops_since(a.version())).unwrap();
        b.apply_encoded(&to_b).unwrap();
        assert_eq!(a.to_vec(), vec![1, 99, 4]);
        assert_eq!(b.to_vec(), a.to_vec());
        assert_eq!((a.get(1), a.get(3)), (Some(&99), None));
        let c = a.cursor_at(2, Assoc::After);
        b.insert(0, 7).unwrap();
        a.apply_encoded(&b.encode_ops_since(a.version())).unwrap();
        assert_eq!(a.resolve_cursor(&c), Some(3));
        let back: List<u32> = List::decode_state(&a.encode_state()).unwrap();
        assert_eq!(back.to_vec(), vec![7, 1, 99, 4]);
        assert!(a.insert(9, 1).is_err());
        assert!(a.delete(3, 2).is_err());
        assert!(List::<u32>::decode_state(b"\x01\x02").is_err());
    }
}
