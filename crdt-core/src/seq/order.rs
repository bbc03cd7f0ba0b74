//! Document order of two elements by id, tombstones included: what an undo needs to put back
//! several deleted runs that sit in one gap between visible elements in their original order.

use std::cmp::Ordering;

use super::{Content, Sequence};
use crate::clock::Dot;

impl<C: Content> Sequence<C> {
    /// Whether element `a` comes before, at or after element `b` in the sequence (deleted ones
    /// included). `None` when either id is unknown here.
    pub(crate) fn cmp_ids(&self, a: Dot, b: Dot) -> Option<Ordering> {
        let a = self.ids.lv_of(a)?;
        let b = self.ids.lv_of(b)?;
        self.cmp_lv(a, b).ok()
    }
}
