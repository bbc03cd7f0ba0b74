//! The sequence engine: a replicated list of elements (characters for [`crate::Text`], values for
//! [`crate::List`]) that merges concurrent edits without interleaving them.
//!
//! # Algorithm: FugueMax, implemented the YjsMod way
//!
//! Every element has an id ([`Dot`]: replica and counter) and two origins recorded when it was
//! inserted: `origin_left`, the visible element just before the insertion point, and
//! `origin_right`, the element just after `origin_left` at that time (tombstones included). A
//! remote insert is placed right after its `origin_left`, then scans right over the elements
//! inserted concurrently into the same gap (stopping at its `origin_right`) and picks its place
//! with the integrate loop of Weidner & Kleppmann, "The Art of the Fugue: Minimizing Interleaving
//! in Collaborative Text Editing" (2023): concurrent siblings are ordered by the positions of their
//! origins, with a `scanning` flag that remembers where a run of "right-origin further left"
//! siblings started, and ties (same origins) broken by replica id then counter, the smaller id
//! first. This is the YjsMod formulation diamond-types uses; its result is the FugueMax order.
//!
//! Why this and not the alternatives:
//! - **RGA** (and Automerge's list) orders by left origin and timestamp only. Two users typing
//!   *backwards* at the same place (each new character before the previous one) get their
//!   characters interleaved.
//! - **YATA** (Yjs) also uses two origins but its tie-break can interleave runs in some
//!   concurrent-insertion shapes (the Fugue paper gives the counterexample).
//! - **FugueMax** is *maximally non-interleaving*: concurrent runs never interleave, whether each
//!   was typed forwards or backwards, and it needs nothing beyond the two origins, so it keeps
//!   Yjs's cheap metadata and run-length encoding.
//!
//! # Data structure
//!
//! - Runs of consecutive elements by one replica (each element's left origin the previous one)
//!   are one 16-byte entry, split only when an edit lands inside them; local typing at the end of
//!   the previous insert extends the run in place.
//! - Runs live in a B-tree ([`tree`](self)) indexed by visible length and UTF-16 length, so a
//!   local edit at a position and a UTF-16 conversion are O(log n).
//! - Element ids map to dense local numbers (run-length encoded, `id_map`), and a piecewise map
//!   from those numbers to leaves finds any element in O(log n). Remote integration is O(log n)
//!   plus the scan over concurrent siblings (empty in the common case).
//! - Deleted runs are tombstones: ids and origins only, no content.
//!
//! Invariant kept by [`Sequence`]: the visible content equals the concatenation of the live runs in
//! tree order, and every replica that applied the same set of ops (in any causal order) holds the
//! same runs in the same order.
//!
//! ```
//! use crdt_core::seq::{Sequence, SeqPatch, TextContent};
//! use crdt_core::{Dot, ReplicaId};
//!
//! let (a, b) = (ReplicaId::new(1), ReplicaId::new(2));
//! let mut left: Sequence<TextContent> = Sequence::new();
//! let mut right: Sequence<TextContent> = Sequence::new();
//! // Both type at the start of an empty document concurrently.
//! let op_a = left.local_insert(0, "hello".into(), Dot::new(a, 1)).unwrap();
//! let op_b = right.local_insert(0, "world".into(), Dot::new(b, 1)).unwrap();
//! assert_eq!(right.apply(&op_a).unwrap(), vec![SeqPatch::Insert { pos: 0, len: 5 }]);
//! left.apply(&op_b).unwrap();
//! left.apply(&op_b).unwrap(); // duplicates are no-ops
//! assert_eq!(left.slice(0, left.len()).as_str(), "helloworld");
//! assert_eq!(right.slice(0, right.len()).as_str(), "helloworld");
//! ```

pub(crate) mod batch_ids;
mod content;
mod cursor;
mod error;
mod history;
mod id_map;
mod integrate;
mod neighbour;
mod op;
pub(crate) mod ops_format;
mod replicated;
mod snapshot;
#[cfg(test)]
pub(crate) use snapshot::id_order;
pub(crate) use snapshot::{KnownOrigins, Origins, StateRun};
/// The longest run a snapshot holds, for the document's tests to forge long claims with.
#[cfg(test)]
pub(crate) const MAX_RUN_FOR_TESTS: u32 = tree::MAX_RUN;
/// The snapshot writers the document's tests forge states with.
#[cfg(test)]
pub(crate) mod snapshot_test_support {
    pub(crate) use super::snapshot::{
        write_state, write_state_with_known_origins, write_state_without_content,
    };
}
mod tree;

pub use content::{Content, ListContent, TextContent};
pub use cursor::{Assoc, Cursor};
pub use error::SeqError;
pub use op::{SeqOp, SeqPatch};
pub use replicated::Replicated;

use crate::clock::Dot;
use id_map::{IdMap, LeafIndex, NONE};
use tree::{Run, Tree, MAX_RUN};

/// What a remote insert brings: content, or only a length (a run already deleted).
#[derive(Clone, Copy)]
enum Inserted<'a, C> {
    Content(&'a C),
    Tombstone(u64),
}

impl<C: Content> Inserted<'_, C> {
    fn len(&self) -> u64 {
        match self {
            Inserted::Content(c) => c.len() as u64,
            Inserted::Tombstone(n) => *n,
        }
    }
}

/// A replicated sequence of elements held as runs in a B-tree; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct Sequence<C: Content> {
    tree: Tree<C>,
    ids: IdMap,
    index: LeafIndex,
    /// The leaf of the last local edit and the visible position where it starts (leaf
    /// [`NONE`]: no hint). Local edits only change lengths inside that leaf (and split leaves
    /// after it), so its start stays exact; remote ops and edits elsewhere reset it.
    hint: (u32, usize),
    /// The last remote insert's last element and right origin. Integration put that element
    /// before its right origin, and elements never reorder, so a next insert chained to it
    /// (the next character of a replayed run of typing: this left origin, the same right
    /// origin) has its origins in order without comparing them.
    chained: Option<(Dot, Option<Dot>)>,
}

impl<C: Content> Default for Sequence<C> {
    fn default() -> Self {
        Sequence {
            tree: Tree::default(),
            ids: IdMap::default(),
            index: LeafIndex::default(),
            hint: (NONE, 0),
            chained: None,
        }
    }
}

/// Memory statistics of a [`Sequence`] (approximate heap bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeqStats {
    /// Runs in the tree (live and deleted).
    pub runs: usize,
    /// Leaves of the tree.
    pub leaves: usize,
    /// Approximate heap bytes of the tree, content included.
    pub tree_bytes: usize,
    /// Approximate heap bytes of the id map and the leaf index.
    pub index_bytes: usize,
}

impl<C: Content> Sequence<C> {
    /// An empty sequence.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of visible elements.
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    /// True when no element is visible.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Visible length in UTF-16 code units.
    pub fn utf16_len(&self) -> usize {
        self.tree.utf16_len()
    }

    /// True when element `id` has been inserted here (live or deleted).
    pub fn contains(&self, id: Dot) -> bool {
        self.ids.contains(id)
    }

    /// Number of elements ever inserted (live and deleted).
    pub fn total_inserted(&self) -> u64 {
        u64::from(self.ids.next_lv())
    }

    /// [`Tree::find_visible`] through the hint of the last local edit (sequential editing
    /// mostly stays in one leaf), updating the hint.
    fn find_visible_hinted(&mut self, target: usize) -> (u32, usize) {
        let (leaf, start) = self.hint;
        if leaf != NONE && target >= start {
            let len = self.tree.leaves[leaf as usize].content.len();
            if target - start < len {
                return (leaf, target - start);
            }
        }
        let (leaf, t) = self.tree.find_visible(target);
        self.hint = (leaf, target - t);
        (leaf, t)
    }

    /// Checks that `first_id..first_id+n` are fresh, valid ids and fit; returns `n` as `u32`.
    fn check_new_ids(&self, first_id: Dot, n: usize) -> Result<u32, SeqError> {
        let n32 = u32::try_from(n)
            .ok()
            .filter(|&n| n <= MAX_RUN)
            .ok_or(SeqError::CapacityExceeded)?;
        if first_id.counter == 0 || first_id.counter.checked_add(n as u64).is_none() {
            return Err(SeqError::Malformed("element counter is 0 or overflows"));
        }
        if u64::from(self.ids.next_lv()) + u64::from(n32) >= u64::from(NONE) {
            return Err(SeqError::CapacityExceeded);
        }
        if self.ids.overlaps(first_id, n as u64) {
            return Err(SeqError::IdInUse(first_id));
        }
        Ok(n32)
    }

    /// Local insert of `content` before visible position `pos`; its elements get ids
    /// `first_id, first_id+1, ...`. Returns the op to send to other replicas.
    pub fn local_insert(
        &mut self,
        pos: usize,
        content: C,
        first_id: Dot,
    ) -> Result<SeqOp<C>, SeqError> {
        let (ol, or) = self.insert_local(pos, &content, first_id)?;
        Ok(SeqOp::Insert {
            id: first_id,
            origin_left: self.ids.opt_dot(ol),
            origin_right: self.ids.opt_dot(or),
            content,
        })
    }

    /// [`Sequence::local_insert`] without building the op: returns the origins as ids.
    pub fn local_insert_ref(
        &mut self,
        pos: usize,
        content: &C,
        first_id: Dot,
    ) -> Result<(Option<Dot>, Option<Dot>), SeqError> {
        let (ol, or) = self.insert_local(pos, content, first_id)?;
        Ok((self.ids.opt_dot(ol), self.ids.opt_dot(or)))
    }

    /// The local insert itself; returns the origins as local versions.
    fn insert_local(
        &mut self,
        pos: usize,
        content: &C,
        first_id: Dot,
    ) -> Result<(u32, u32), SeqError> {
        let n = content.len();
        if n == 0 {
            return Err(SeqError::Malformed("empty insert"));
        }
        if pos > self.len() {
            return Err(SeqError::OutOfBounds {
                pos,
                len: self.len(),
            });
        }
        let n32 = self.check_new_ids(first_id, n)?;
        let (leaf, idx, ol) = if pos == 0 {
            // Leaf 0 always starts at 0; an edit there shifts every other leaf.
            self.hint = (0, 0);
            (0, 0, NONE)
        } else {
            let (leaf, t) = self.find_visible_hinted(pos - 1);
            let (ri, off) = self.tree.leaf_find(leaf, t);
            let run = self.tree.leaves[leaf as usize].runs[ri];
            let ol = run.lv + off;
            if off + 1 == run.len() {
                // Hot path: typing right after the last element this sequence allocated, with
                // the next counter of the same replica, extends that run in place.
                if ol + 1 == self.ids.next_lv()
                    && self.ids.extends_last(first_id)
                    && run.len() + n32 <= MAX_RUN
                {
                    let lv = self.ids.alloc(first_id, n32);
                    self.index.set(lv, lv + n32, leaf);
                    self.tree.extend_run(leaf, ri, t + 1, content);
                    return Ok((ol, run.or));
                }
            } else {
                self.tree.split_run(leaf, ri, off + 1);
            }
            (leaf, ri + 1, ol)
        };
        let or = self.tree.run_at_or_after(leaf, idx).map_or(NONE, |r| r.lv);
        let lv = self.ids.alloc(first_id, n32);
        self.tree.insert_run(
            leaf,
            idx,
            Run::new(lv, n32, ol, or, false),
            Some(content),
            &self.ids,
            &mut self.index,
        );
        Ok((ol, or))
    }

    /// Local delete of the visible range `pos..pos+len`. Returns one op per run of consecutive
    /// ids deleted, in document order.
    pub fn local_delete(&mut self, pos: usize, len: usize) -> Result<Vec<SeqOp<C>>, SeqError> {
        let mut ops: Vec<SeqOp<C>> = Vec::new();
        self.local_delete_with(pos, len, |target, n| {
            if let Some(SeqOp::Delete { target: t, len: l }) = ops.last_mut() {
                if t.replica == target.replica && t.counter + *l == target.counter {
                    *l += n;
                    return;
                }
            }
            ops.push(SeqOp::Delete { target, len: n });
        })?;
        Ok(ops)
    }

    /// [`Sequence::local_delete`] reporting each deleted id run `(first id, len)` to `out`, in
    /// document order, instead of collecting ops.
    pub fn local_delete_with(
        &mut self,
        pos: usize,
        len: usize,
        mut out: impl FnMut(Dot, u64),
    ) -> Result<(), SeqError> {
        let end = pos.saturating_add(len);
        if end > self.len() {
            return Err(SeqError::OutOfBounds {
                pos: end,
                len: self.len(),
            });
        }
        let mut remaining = len;
        while remaining > 0 {
            let (leaf, t) = self.find_visible_hinted(pos);
            let (ri, off) = self.tree.leaf_find(leaf, t);
            let ids = &self.ids;
            let (done, _) =
                self.tree
                    .delete_in_leaf(leaf, ri, off, remaining, ids, &mut self.index, |a, b| {
                        ids.dot_ranges(a, b, |dot, n| out(dot, u64::from(n)))
                    });
            if done == 0 {
                // Cannot happen while pos < len; stop rather than loop forever.
                break;
            }
            remaining -= done;
        }
        Ok(())
    }

    /// Applies a remote op. Idempotent: an op (or the part of an insert) already applied is
    /// skipped. Returns the visible changes, in order. Errors, with nothing changed, on an op
    /// that references unknown ids (deliver ops causally) or is malformed.
    pub fn apply(&mut self, op: &SeqOp<C>) -> Result<Vec<SeqPatch>, SeqError> {
        let mut patches = Vec::new();
        self.apply_reporting(op, true, |p| patches.push(p))?;
        Ok(patches)
    }

    /// Checks that `op` could be applied now (its ids valid, its references known), without
    /// changing anything. [`Sequence::apply`] succeeds exactly when this does.
    pub fn check(&self, op: &SeqOp<C>) -> Result<(), SeqError> {
        self.check_with(op, |_| false)
    }

    /// [`Sequence::check`], treating ids for which `pending` answers true as known (ops earlier
    /// in the same batch).
    pub fn check_with(&self, op: &SeqOp<C>, pending: impl Fn(Dot) -> bool) -> Result<(), SeqError> {
        match op {
            SeqOp::Insert {
                id,
                origin_left,
                origin_right,
                content,
            } => self.check_insert_with(
                *id,
                *origin_left,
                *origin_right,
                content.len() as u64,
                pending,
            ),
            SeqOp::Delete { target, len } => {
                self.check_delete_with(*target, *len, |d, _| u64::from(pending(d)))
            }
        }
    }

    /// [`Sequence::check_with`] for a delete of `target..target+len`, where `pending(d, max)`
    /// says how many consecutive ids from `d` on (at most `max`) are known outside the sequence
    /// (inserted earlier in the same batch), so that runs are checked span by span.
    pub(crate) fn check_delete_with(
        &self,
        target: Dot,
        len: u64,
        pending: impl Fn(Dot, u64) -> u64,
    ) -> Result<(), SeqError> {
        if len == 0 || target.counter == 0 || target.counter.checked_add(len).is_none() {
            return Err(SeqError::Malformed("empty delete or bad counter"));
        }
        // Every target must be known; check span by span.
        let mut c = target.counter;
        let end = target.counter + len;
        while c < end {
            let d = Dot::new(target.replica, c);
            let k = match self.ids.known_prefix(d, end - c) {
                0 => pending(d, end - c).min(end - c),
                k => k,
            };
            if k == 0 {
                return Err(SeqError::UnknownId(d));
            }
            c += k;
        }
        Ok(())
    }

    /// [`Sequence::check_with`] for an insert of `n` elements (with or without content).
    pub(crate) fn check_insert_with(
        &self,
        id: Dot,
        origin_left: Option<Dot>,
        origin_right: Option<Dot>,
        n: u64,
        pending: impl Fn(Dot) -> bool,
    ) -> Result<(), SeqError> {
        let known = |d: Dot| self.ids.contains(d) || pending(d);
        if n == 0 || id.counter == 0 || id.counter.checked_add(n).is_none() {
            return Err(SeqError::Malformed("empty insert or bad counter"));
        }
        if n > u64::from(MAX_RUN) {
            return Err(SeqError::CapacityExceeded);
        }
        for d in origin_left.iter().chain(&origin_right) {
            if !known(*d) {
                return Err(SeqError::UnknownId(*d));
            }
        }
        if origin_left.is_some() && origin_left == origin_right {
            return Err(SeqError::Malformed("origins are equal"));
        }
        Ok(())
    }

    /// Applies an insert of `n` elements that are already deleted (a tombstone run: their
    /// content is not needed, as a later op of the same batch deletes them), validated by the
    /// caller like [`Sequence::apply_validated`].
    pub(crate) fn apply_tombstone_validated(
        &mut self,
        id: Dot,
        origin_left: Option<Dot>,
        origin_right: Option<Dot>,
        n: u64,
    ) -> Result<(), SeqError> {
        self.hint = (NONE, 0);
        self.apply_insert(id, origin_left, origin_right, Inserted::Tombstone(n), false)
            .map(drop)
    }

    /// Calls `f(len, content)` for the elements `id..id+n` in consecutive spans, in id order:
    /// `content` is the span's content when its elements are live, `None` when they are
    /// deleted. Stops at the first unknown element.
    pub(crate) fn spans_of(&self, id: Dot, n: u64, mut f: impl FnMut(u64, Option<C>)) {
        let Ok(ranges) = self.ids.lv_ranges(id, n) else {
            return;
        };
        let mut pending: Option<(u64, Option<C>)> = None;
        for (start, len) in ranges {
            let (mut lv, end) = (start, start + len);
            while lv < end {
                let Some((leaf, ri, off)) = self.locate(lv) else {
                    // The id map and the tree always agree.
                    return;
                };
                let l = &self.tree.leaves[leaf as usize];
                let run = l.runs[ri];
                let take = run.end().min(end) - lv;
                let content = (!run.deleted()).then(|| {
                    let at = self.tree.content_offset(leaf, ri) + off as usize;
                    l.content.slice(at, at + take as usize)
                });
                match (&mut pending, content) {
                    (Some((plen, Some(pc))), Some(c)) => {
                        *plen += u64::from(take);
                        pc.append(&c);
                    }
                    (Some((plen, None)), None) => *plen += u64::from(take),
                    (p, c) => {
                        if let Some((plen, pc)) = p.take() {
                            f(plen, pc);
                        }
                        *p = Some((u64::from(take), c));
                    }
                }
                lv += take;
            }
        }
        if let Some((plen, pc)) = pending {
            f(plen, pc);
        }
    }

    /// Applies an op already validated by the caller ([`Sequence::check_with`] plus origin
    /// order where checkable): like [`Sequence::apply`] but does not refuse origins in the wrong
    /// order (which a batch cannot check for elements it inserts itself); such an insert still
    /// lands deterministically.
    pub(crate) fn apply_validated(&mut self, op: &SeqOp<C>) -> Result<(), SeqError> {
        self.apply_reporting(op, false, drop)
    }

    /// Errors unless element `left` is before element `right` (both known).
    pub(crate) fn check_origin_order(&self, left: Dot, right: Dot) -> Result<(), SeqError> {
        let lv = |d: Dot| self.ids.lv_of(d).ok_or(SeqError::UnknownId(d));
        if self.cmp_lv(lv(left)?, lv(right)?)? != std::cmp::Ordering::Less {
            return Err(SeqError::Malformed(
                "origin_left is not before origin_right",
            ));
        }
        Ok(())
    }

    /// Errors unless `n` more elements fit.
    pub(crate) fn check_capacity(&self, n: u64) -> Result<(), SeqError> {
        if u64::from(self.ids.next_lv()) + n >= u64::from(NONE) {
            return Err(SeqError::CapacityExceeded);
        }
        Ok(())
    }

    /// True when all of elements `id..id+n` are known.
    pub(crate) fn ids_known(&self, id: Dot, n: u64) -> bool {
        self.ids.known_prefix(id, n) == n
    }

    /// Applies a remote insert; returns its patch (none for a duplicate or a tombstone).
    /// `strict` refuses origins in the wrong order.
    fn apply_insert(
        &mut self,
        id: Dot,
        origin_left: Option<Dot>,
        origin_right: Option<Dot>,
        inserted: Inserted<'_, C>,
        strict: bool,
    ) -> Result<Option<SeqPatch>, SeqError> {
        let n = inserted.len();
        if n == 0 || id.counter == 0 || id.counter.checked_add(n).is_none() {
            return Err(SeqError::Malformed("empty insert or bad counter"));
        }
        let known = self.ids.known_prefix(id, n);
        if known == n {
            return Ok(None);
        }
        let trimmed;
        let (id, origin_left, inserted) = if known > 0 {
            // The first `known` elements arrived before: keep the rest, chained to them.
            let rest = match inserted {
                Inserted::Content(c) => {
                    trimmed = c.slice(known as usize, n as usize);
                    Inserted::Content(&trimmed)
                }
                Inserted::Tombstone(n) => Inserted::Tombstone(n - known),
            };
            (
                Dot::new(id.replica, id.counter + known),
                Some(Dot::new(id.replica, id.counter + known - 1)),
                rest,
            )
        } else {
            (id, origin_left, inserted)
        };
        let len = usize::try_from(inserted.len()).map_err(|_| SeqError::CapacityExceeded)?;
        let n32 = self.check_new_ids(id, len)?;
        let lv_of = |d: Option<Dot>| match d {
            None => Ok(NONE),
            Some(d) => self.ids.lv_of(d).ok_or(SeqError::UnknownId(d)),
        };
        let (ol, or) = (lv_of(origin_left)?, lv_of(origin_right)?);
        let chained = origin_left.is_some()
            && self.chained == Some((origin_left.unwrap_or(id), origin_right));
        let next_to = match ol {
            NONE => None,
            _ => self.next_to(ol, or),
        };
        if strict
            && ol != NONE
            && or != NONE
            && !chained
            && next_to.is_none()
            && self.cmp_lv(ol, or)? != std::cmp::Ordering::Less
        {
            return Err(SeqError::Malformed(
                "origin_left is not before origin_right",
            ));
        }
        let lv = self.ids.alloc(id, n32);
        let content = match inserted {
            Inserted::Content(c) => Some(c),
            Inserted::Tombstone(_) => None,
        };
        let pos = self.integrate(lv, n32, ol, or, content, next_to);
        self.chained = Some((
            Dot::new(id.replica, id.counter + u64::from(n32) - 1),
            origin_right,
        ));
        Ok(content.map(|c| SeqPatch::Insert { pos, len: c.len() }))
    }

    /// [`Sequence::apply`] for a caller that wants no patches: none is collected.
    pub(crate) fn apply_unobserved(&mut self, op: &SeqOp<C>) -> Result<(), SeqError> {
        self.apply_reporting(op, true, drop)
    }

    /// Applies a remote op, reporting its patches to `out`; `strict` refuses an insert whose
    /// origins come in the wrong order (see [`Sequence::apply_validated`]).
    fn apply_reporting(
        &mut self,
        op: &SeqOp<C>,
        strict: bool,
        out: impl FnMut(SeqPatch),
    ) -> Result<(), SeqError> {
        self.hint = (NONE, 0);
        match op {
            SeqOp::Insert {
                id,
                origin_left,
                origin_right,
                content,
            } => self
                .apply_insert(
                    *id,
                    *origin_left,
                    *origin_right,
                    Inserted::Content(content),
                    strict,
                )
                .map(|patch| patch.into_iter().for_each(out)),
            SeqOp::Delete { target, len } => self.apply_delete(*target, *len, out),
        }
    }

    /// Applies a remote delete, reporting patches to `out`.
    fn apply_delete(
        &mut self,
        target: Dot,
        len: u64,
        mut out: impl FnMut(SeqPatch),
    ) -> Result<(), SeqError> {
        if len == 0 || target.counter == 0 || target.counter.checked_add(len).is_none() {
            return Err(SeqError::Malformed("empty delete or bad counter"));
        }
        // Most deletes name elements of one span of ids: no vector for those.
        let (single, many);
        let ranges: &[(u32, u32)] = match self.ids.lv_range_within_span(target, len) {
            Some(range) => {
                single = [range];
                &single
            }
            None => {
                many = self
                    .ids
                    .lv_ranges(target, len)
                    .map_err(SeqError::UnknownId)?;
                &many
            }
        };
        let mut last: Option<SeqPatch> = None;
        for &(start, n) in ranges {
            let (mut lv, end) = (start, start + n);
            while lv < end {
                let Some((leaf, ri, off)) = self.locate(lv) else {
                    // The id map and the tree always agree; stop rather than panic.
                    break;
                };
                let run = self.tree.leaves[leaf as usize].runs[ri];
                let take = run.end().min(end) - lv;
                if !run.deleted() {
                    let pos = self.tree.leaf_start(leaf)
                        + self.tree.content_offset(leaf, ri)
                        + off as usize;
                    let (_, units) = self.tree.delete_in_leaf(
                        leaf,
                        ri,
                        off,
                        take as usize,
                        &self.ids,
                        &mut self.index,
                        |_, _| {},
                    );
                    match &mut last {
                        Some(SeqPatch::Delete {
                            pos: p,
                            len: l,
                            len_utf16: u,
                        }) if *p == pos => {
                            *l += take as usize;
                            *u += units;
                        }
                        _ => {
                            if let Some(p) = last.take() {
                                out(p);
                            }
                            last = Some(SeqPatch::Delete {
                                pos,
                                len: take as usize,
                                len_utf16: units,
                            });
                        }
                    }
                }
                lv += take;
            }
        }
        if let Some(p) = last {
            out(p);
        }
        Ok(())
    }

    /// Leaf, run index and offset of local version `lv`.
    fn locate(&self, lv: u32) -> Option<(u32, usize, u32)> {
        let leaf = self.index.get(lv)?;
        let (ri, off) = self.tree.leaf_find_lv(leaf, lv)?;
        Some((leaf, ri, off))
    }

    /// Document order of two known elements, tombstones included (`None` when either is
    /// unknown). Stable: concurrent inserts never reorder existing elements. O(log n).
    pub(crate) fn cmp_ids(&self, a: Dot, b: Dot) -> Option<std::cmp::Ordering> {
        let (a, b) = (self.ids.lv_of(a)?, self.ids.lv_of(b)?);
        self.cmp_lv(a, b).ok()
    }

    /// Where `a` is ([`Sequence::locate`]) when `b` is the element right after it in document
    /// order, tombstones included, or when nothing follows it and `b` is [`NONE`]: what an
    /// insert's origins are when the insert comes in the order it was made (its right origin
    /// names what followed its left origin then). One lookup, where ordering the two takes two
    /// and a walk up the tree, and integrating the insert right after `a` needs no other;
    /// `None` leaves both questions to the general path.
    fn next_to(&self, a: u32, b: u32) -> Option<(u32, usize, u32)> {
        let (leaf, ri, off) = self.locate(a)?;
        let l = &self.tree.leaves[leaf as usize];
        let run = l.runs[ri];
        let follows = if off + 1 < run.len() {
            run.lv + off + 1 == b
        } else {
            match (l.runs.get(ri + 1), l.next) {
                (Some(next), _) => next.lv == b,
                (None, NONE) => b == NONE,
                (None, next) => {
                    (self.tree.leaves[next as usize].runs.first()).is_some_and(|r| r.lv == b)
                }
            }
        };
        follows.then_some((leaf, ri, off))
    }

    /// Document order of two elements.
    fn cmp_lv(&self, a: u32, b: u32) -> Result<std::cmp::Ordering, SeqError> {
        if a == b {
            return Ok(std::cmp::Ordering::Equal);
        }
        let missing = |lv| SeqError::UnknownId(self.ids.dot_of(lv));
        let (la, ra, oa) = self.locate(a).ok_or_else(|| missing(a))?;
        let (lb, rb, ob) = self.locate(b).ok_or_else(|| missing(b))?;
        Ok(if la == lb {
            (ra, oa).cmp(&(rb, ob))
        } else {
            self.tree.cmp_leaves(la, lb)
        })
    }

    /// Origins of element `id` as they were sent when it was inserted: its left origin (the
    /// element before it in its insert run, or the run's origin) and its run's right origin.
    /// `None` when `id` is unknown.
    pub fn origins_of(&self, id: Dot) -> Option<(Option<Dot>, Option<Dot>)> {
        let lv = self.ids.lv_of(id)?;
        let (leaf, ri, off) = self.locate(lv)?;
        let run = self.tree.leaves[leaf as usize].runs[ri];
        let ol = if off == 0 { run.ol } else { lv - 1 };
        Some((self.ids.opt_dot(ol), self.ids.opt_dot(run.or)))
    }

    /// [`Sequence::origins_of`] for the first element of `id..id+n`, when all of them are
    /// known (`None` otherwise): one id lookup for both questions, and the left origin inside a
    /// run read from the id itself (loading a snapshot's history asks this for every insert).
    pub(crate) fn known_run_origins(&self, id: Dot, n: u64) -> Option<(Option<Dot>, Option<Dot>)> {
        let lv = self.ids.lv_if_known(id, n)?;
        let (leaf, ri, off) = self.locate(lv)?;
        let run = self.tree.leaves[leaf as usize].runs[ri];
        // Inside a run, ids are consecutive counters of one replica: the element before `id`
        // is `id - 1` (counter >= 2, as ids start at 1 and `off > 0`).
        let ol = if off == 0 {
            self.ids.opt_dot(run.ol)
        } else {
            Some(Dot::new(id.replica, id.counter - 1))
        };
        Some((ol, self.ids.opt_dot(run.or)))
    }

    /// The visible content as chunks (each leaf's live content), in order.
    pub fn iter(&self) -> impl Iterator<Item = &C> + '_ {
        self.tree
            .leaves_in_order()
            .map(|l| &l.content)
            .filter(|c| !c.is_empty())
    }

    /// The visible elements `start..end` (clamped to the visible length).
    pub fn slice(&self, start: usize, end: usize) -> C {
        let end = end.min(self.len());
        let mut out = C::default();
        if start >= end {
            return out;
        }
        let (mut leaf, mut t) = self.tree.find_visible(start);
        let mut remaining = end - start;
        while remaining > 0 && leaf != NONE {
            let l = &self.tree.leaves[leaf as usize];
            let take = (l.content.len() - t.min(l.content.len())).min(remaining);
            if take > 0 {
                out.append(&l.content.slice(t, t + take));
            }
            remaining -= take;
            leaf = l.next;
            t = 0;
        }
        out
    }

    /// The visible content as one value.
    pub fn to_content(&self) -> C {
        let mut out = C::default();
        for c in self.iter() {
            out.append(c);
        }
        out
    }

    /// Visible position of the element at UTF-16 offset `utf16` (O(log n)). Errors when the
    /// offset is past the end or inside a surrogate pair.
    pub fn utf16_to_pos(&self, utf16: usize) -> Result<usize, SeqError> {
        if utf16 >= self.utf16_len() {
            return if utf16 == self.utf16_len() {
                Ok(self.len())
            } else {
                Err(SeqError::InvalidUtf16Offset(utf16))
            };
        }
        let (leaf, before, t) = self.tree.find_utf16(utf16);
        let off = self.tree.leaves[leaf as usize]
            .content
            .offset_of_utf16(t)
            .ok_or(SeqError::InvalidUtf16Offset(utf16))?;
        Ok(before + off)
    }

    /// UTF-16 offset of visible position `pos` (O(log n)).
    pub fn pos_to_utf16(&self, pos: usize) -> Result<usize, SeqError> {
        if pos >= self.len() {
            return if pos == self.len() {
                Ok(self.utf16_len())
            } else {
                Err(SeqError::OutOfBounds {
                    pos,
                    len: self.len(),
                })
            };
        }
        let (leaf, t) = self.tree.find_visible(pos);
        Ok(self.tree.leaf_start_utf16(leaf)
            + self.tree.leaves[leaf as usize].content.utf16_offset(t))
    }

    /// Id of the visible element at `pos`, if `pos < len`.
    pub fn id_at(&self, pos: usize) -> Option<Dot> {
        if pos >= self.len() {
            return None;
        }
        let (leaf, t) = self.tree.find_visible(pos);
        let (ri, off) = self.tree.leaf_find(leaf, t);
        let run = self.tree.leaves[leaf as usize].runs.get(ri)?;
        Some(self.ids.dot_of(run.lv + off))
    }

    /// Id of the visible element at `pos` and the leaf content holding it with its offset.
    fn element_at(&self, pos: usize) -> Option<(&C, usize)> {
        if pos >= self.len() {
            return None;
        }
        let (leaf, t) = self.tree.find_visible(pos);
        Some((&self.tree.leaves[leaf as usize].content, t))
    }

    /// Visible elements before element `id`, and whether `id` itself is visible. `None` when
    /// `id` is unknown.
    pub fn position_of(&self, id: Dot) -> Option<(usize, bool)> {
        let lv = self.ids.lv_of(id)?;
        let (leaf, ri, off) = self.locate(lv)?;
        let run = self.tree.leaves[leaf as usize].runs[ri];
        let before = self.tree.leaf_start(leaf)
            + self.tree.content_offset(leaf, ri)
            + if run.deleted() { 0 } else { off as usize };
        Some((before, !run.deleted()))
    }

    /// Memory statistics; `content_bytes` gives the heap bytes of one content value.
    pub fn stats(&self, content_bytes: impl Fn(&C) -> usize) -> SeqStats {
        SeqStats {
            runs: self.tree.run_count(),
            leaves: self.tree.leaves.len(),
            tree_bytes: self.tree.heap_bytes(content_bytes),
            index_bytes: self.ids.heap_bytes() + self.index.pieces() * 16,
        }
    }

    /// Checks every internal invariant (tests and fuzzing); panics when one fails.
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn check_invariants(&self) {
        self.tree.check(&self.index);
        let total: u32 = self
            .tree
            .leaves
            .iter()
            .flat_map(|l| &l.runs)
            .map(Run::len)
            .sum();
        assert_eq!(
            total,
            self.ids.next_lv(),
            "every allocated element is in exactly one run"
        );
    }
}

impl<T: Clone + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned>
    Sequence<ListContent<T>>
{
    /// The visible element at `pos` (O(log n)).
    pub fn get_element(&self, pos: usize) -> Option<&T> {
        let (content, off) = self.element_at(pos)?;
        content.0.get(off)
    }
}

#[cfg(test)]
mod tests;
