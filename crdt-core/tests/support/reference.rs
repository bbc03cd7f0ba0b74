//! A deliberately simple reference implementation of the sequence CRDT, the oracle that the
//! differential tests compare the fast engine (`crdt_core::seq::Sequence`) against.
//!
//! It follows the same algorithm as the engine: FugueMax semantics (Weidner & Kleppmann, "The Art
//! of the Fugue", 2023) implemented the YjsMod way, as in Joseph Gentle's `reference-crdts` and
//! diamond-types' `yjsspan` integrate: every element records the element to its left
//! (`origin_left`) and to its right (`origin_right`) when it was inserted, and a remote insert is
//! placed by scanning the elements between its origins, with a tie-break on the element id
//! (replica id, then counter; the smaller goes first).
//!
//! Invariant: `elements` holds every element ever integrated, exactly one element per entry, in
//! document order; deleted elements stay in place as tombstones. Nothing is run-length encoded,
//! indexed or cached: every lookup is a linear scan, so each operation costs O(n) or more. That is
//! the point: the code is short enough to check by eye, and the engine must agree with it.
//!
//! It consumes the engine's own [`SeqOp`] values, so that both sides see identical operations.

use crdt_core::seq::{Content, SeqOp};
use crdt_core::Dot;

/// One element: a single item of content (one `char` for text) with its id and origins.
#[derive(Clone, Debug)]
struct Element<C> {
    id: Dot,
    origin_left: Option<Dot>,
    origin_right: Option<Dot>,
    deleted: bool,
    /// Always exactly one element long.
    value: C,
}

/// Why the reference refused an operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReferenceError {
    /// The operation names an element this replica does not hold (delivery was not causal).
    UnknownId(Dot),
    /// An insert without content.
    EmptyInsert,
    /// A counter past `u64::MAX`.
    CounterOverflow,
    /// A local edit outside `0..=len`.
    OutOfRange {
        /// Requested end of the edit.
        end: usize,
        /// Visible length.
        len: usize,
    },
}

/// The reference sequence: a flat vector of elements, tombstones included.
#[derive(Clone, Debug)]
pub struct ReferenceSequence<C> {
    elements: Vec<Element<C>>,
}

impl<C: Content> Default for ReferenceSequence<C> {
    fn default() -> Self {
        Self::new()
    }
}

/// The dot `k` places after `first` in its replica's counter sequence.
fn nth_dot(first: Dot, k: u64) -> Result<Dot, ReferenceError> {
    let counter = first
        .counter
        .checked_add(k)
        .ok_or(ReferenceError::CounterOverflow)?;
    Ok(Dot::new(first.replica, counter))
}

/// Splits a run of content into single elements.
fn split_elements<C: Content>(content: &C) -> Vec<C> {
    let mut out = Vec::with_capacity(content.len());
    let mut rest = content.clone();
    while rest.len() > 1 {
        let tail = rest.split_off(1);
        out.push(rest);
        rest = tail;
    }
    if rest.len() == 1 {
        out.push(rest);
    }
    out
}

impl<C: Content> ReferenceSequence<C> {
    /// The empty sequence.
    pub fn new() -> Self {
        ReferenceSequence {
            elements: Vec::new(),
        }
    }

    /// Number of visible (not deleted) elements.
    pub fn len(&self) -> usize {
        self.elements.iter().filter(|e| !e.deleted).count()
    }

    /// True when the element `id` has been integrated (deleted or not).
    pub fn contains(&self, id: Dot) -> bool {
        self.index_of(id).is_some()
    }

    /// The visible elements in document order, one element each.
    pub fn visible(&self) -> impl Iterator<Item = &C> {
        self.elements
            .iter()
            .filter(|e| !e.deleted)
            .map(|e| &e.value)
    }

    /// Every element id in document order, tombstones included (for failure messages).
    pub fn ids(&self) -> Vec<(Dot, bool)> {
        self.elements.iter().map(|e| (e.id, e.deleted)).collect()
    }

    fn index_of(&self, id: Dot) -> Option<usize> {
        self.elements.iter().position(|e| e.id == id)
    }

    fn require(&self, id: Dot) -> Result<usize, ReferenceError> {
        self.index_of(id).ok_or(ReferenceError::UnknownId(id))
    }

    /// Position of an element's left origin: `-1` for the start of the document.
    fn left_position(&self, origin: Option<Dot>) -> isize {
        match origin {
            None => -1,
            // Origins of integrated elements are always present (checked before integration).
            Some(id) => self.index_of(id).map_or(-1, |i| i as isize),
        }
    }

    /// Position of an element's right origin: the document's length for the end.
    fn right_position(&self, origin: Option<Dot>) -> usize {
        match origin {
            None => self.elements.len(),
            Some(id) => self.index_of(id).unwrap_or(self.elements.len()),
        }
    }

    /// Applies a local or remote operation. Returns whether anything changed (a duplicate changes
    /// nothing). Fails, changing nothing, when the operation names an element not held here.
    pub fn apply(&mut self, op: &SeqOp<C>) -> Result<bool, ReferenceError> {
        match op {
            SeqOp::Insert {
                id,
                origin_left,
                origin_right,
                content,
            } => self.apply_insert(*id, *origin_left, *origin_right, content),
            SeqOp::Delete { target, len } => self.apply_delete(*target, *len),
        }
    }

    fn apply_insert(
        &mut self,
        first: Dot,
        origin_left: Option<Dot>,
        origin_right: Option<Dot>,
        content: &C,
    ) -> Result<bool, ReferenceError> {
        let values = split_elements(content);
        if values.is_empty() {
            return Err(ReferenceError::EmptyInsert);
        }
        nth_dot(first, values.len() as u64 - 1)?;
        if !self.contains(first) {
            if let Some(left) = origin_left {
                self.require(left)?;
            }
        }
        if let Some(right) = origin_right {
            self.require(right)?;
        }
        let mut changed = false;
        for (k, value) in values.into_iter().enumerate() {
            let id = nth_dot(first, k as u64)?;
            if self.contains(id) {
                continue;
            }
            let origin_left = if k == 0 {
                origin_left
            } else {
                Some(nth_dot(first, k as u64 - 1)?)
            };
            self.integrate(Element {
                id,
                origin_left,
                origin_right,
                deleted: false,
                value,
            });
            changed = true;
        }
        Ok(changed)
    }

    fn apply_delete(&mut self, target: Dot, len: u64) -> Result<bool, ReferenceError> {
        let mut indices = Vec::new();
        for k in 0..len {
            indices.push(self.require(nth_dot(target, k)?)?);
        }
        let mut changed = false;
        for i in indices {
            changed |= !self.elements[i].deleted;
            self.elements[i].deleted = true;
        }
        Ok(changed)
    }

    /// The YjsMod integrate loop (FugueMax order), one element at a time.
    ///
    /// Scan right from just after `origin_left` up to `origin_right`. For each element `other`
    /// met on the way, compare its origins' positions with ours:
    /// - its left origin is left of ours: it belongs to an enclosing subtree, stop;
    /// - same left origin, its right origin is left of ours: it might precede us, keep scanning
    ///   but remember the last safe place (`scanning`);
    /// - same left origin and same right origin: a true conflict, the smaller id goes first;
    /// - same left origin, right origin further right: we go after it;
    /// - its left origin is right of ours: it is inside a sibling's subtree, skip it.
    fn integrate(&mut self, new: Element<C>) {
        let left = self.left_position(new.origin_left);
        let right = self.right_position(new.origin_right);
        let mut destination = (left + 1) as usize;
        let mut scanning = false;
        let mut i = destination;
        loop {
            if !scanning {
                destination = i;
            }
            if i == self.elements.len() || i == right {
                break;
            }
            let other = &self.elements[i];
            let other_left = self.left_position(other.origin_left);
            let other_right = self.right_position(other.origin_right);
            if other_left < left {
                break;
            }
            if other_left == left {
                if other_right < right {
                    scanning = true;
                } else if other_right == right {
                    if new.id < other.id {
                        break;
                    }
                    scanning = false;
                } else {
                    scanning = false;
                }
            }
            i += 1;
        }
        self.elements.insert(destination, new);
    }

    /// Index in `elements` where an insert at visible position `pos` goes: just before the
    /// `pos`-th visible element, after any tombstones that precede it (or the end).
    fn insertion_index(&self, pos: usize) -> usize {
        let mut seen = 0;
        for (i, e) in self.elements.iter().enumerate() {
            if !e.deleted {
                if seen == pos {
                    return i;
                }
                seen += 1;
            }
        }
        self.elements.len()
    }

    /// A local insert at visible position `pos`, as the reference itself would make it (left
    /// origin: the entry just before the insertion point, tombstone or not; right origin: the
    /// next visible element). Used to test the reference on its own.
    pub fn local_insert(
        &mut self,
        pos: usize,
        content: C,
        first_id: Dot,
    ) -> Result<SeqOp<C>, ReferenceError> {
        let len = self.len();
        if pos > len {
            return Err(ReferenceError::OutOfRange { end: pos, len });
        }
        let index = self.insertion_index(pos);
        let op = SeqOp::Insert {
            id: first_id,
            origin_left: index.checked_sub(1).map(|i| self.elements[i].id),
            origin_right: self.elements.get(index).map(|e| e.id),
            content,
        };
        self.apply(&op)?;
        Ok(op)
    }

    /// A local delete of the visible range `pos..pos + len`: one op per run of consecutive
    /// counters of one replica.
    pub fn local_delete(
        &mut self,
        pos: usize,
        len: usize,
    ) -> Result<Vec<SeqOp<C>>, ReferenceError> {
        let visible = self.len();
        if pos + len > visible {
            return Err(ReferenceError::OutOfRange {
                end: pos + len,
                len: visible,
            });
        }
        let ids: Vec<Dot> = self
            .elements
            .iter()
            .filter(|e| !e.deleted)
            .skip(pos)
            .take(len)
            .map(|e| e.id)
            .collect();
        let mut ops: Vec<SeqOp<C>> = Vec::new();
        for id in ids {
            if let Some(SeqOp::Delete { target, len }) = ops.last_mut() {
                if target.replica == id.replica && target.counter + *len == id.counter {
                    *len += 1;
                    continue;
                }
            }
            ops.push(SeqOp::Delete { target: id, len: 1 });
        }
        for op in &ops {
            self.apply(op)?;
        }
        Ok(ops)
    }
}
