//! Walking the sequence with its tombstones: the element right after another (the right origin
//! of an insert placed exactly after a given element), and every element in order. How an undo
//! puts deleted text back exactly where its tombstones are, and copies a sequence whole.

use super::{Content, Sequence};
use crate::clock::Dot;

impl<C: Content> Sequence<C> {
    /// The element right after `id` (deleted or not): `Some(None)` when `id` is the last,
    /// `None` when `id` is unknown here.
    pub(crate) fn next_id(&self, id: Dot) -> Option<Option<Dot>> {
        let lv = self.ids.lv_of(id)?;
        let (leaf, ri, off) = self.locate(lv)?;
        let run = self.tree.leaves[leaf as usize].runs[ri];
        if off + 1 < run.len() {
            return Some(Some(self.ids.dot_of(lv + 1)));
        }
        Some(
            self.tree
                .run_at_or_after(leaf, ri + 1)
                .map(|next| self.ids.dot_of(next.lv)),
        )
    }
}

impl<C: Content> Sequence<C> {
    /// Every element in document order, deleted ones included, as runs `(first id, length,
    /// deleted)` of consecutive counters: the sequence's shape, which a copy reproduces so that
    /// ids of the original (tombstones too) map one to one onto the copy's.
    pub(crate) fn element_runs(&self) -> Vec<(Dot, u64, bool)> {
        let mut out = Vec::new();
        for leaf in self.tree.leaves_in_order() {
            for run in &leaf.runs {
                let deleted = run.deleted();
                self.ids.dot_ranges(run.lv, run.end(), |dot, n| {
                    out.push((dot, u64::from(n), deleted))
                });
            }
        }
        out
    }
}
