//! Stable cursors: a position anchored to an element id instead of an index, so it stays in the
//! right place while other replicas edit (as Yjs relative positions and Loro cursors do).
//!
//! A cursor sits in a gap between two elements and sticks to one of them, chosen by [`Assoc`].
//! Insertions elsewhere shift it with its element; an insertion exactly in its gap lands on the
//! side away from the anchor. If the anchor is deleted, the cursor resolves to the gap the element
//! left behind. Invariant: resolving never fails for an anchor this replica knows.

use serde::{Deserialize, Serialize};

use super::content::Content;
use super::Sequence;
use crate::clock::Dot;

/// Which neighbour a [`Cursor`] sticks to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Assoc {
    /// Stick to the element before the cursor (at `pos - 1`): text inserted in the cursor's gap
    /// appears after the cursor. Use for the end of a selection or a comment anchor's end.
    Before,
    /// Stick to the element after the cursor (at `pos`): text inserted in the cursor's gap
    /// appears before the cursor, pushing it right (the usual caret, as Yjs's default).
    #[default]
    After,
}

/// A position that survives concurrent edits. Serializable, so it can be shared (presence).
///
/// ```
/// use crdt_core::seq::{Assoc, Sequence, TextContent};
/// use crdt_core::{Dot, ReplicaId};
///
/// let r = ReplicaId::new(1);
/// let mut s: Sequence<TextContent> = Sequence::new();
/// s.local_insert(0, "hello".into(), Dot::new(r, 1)).unwrap();
/// let caret = s.cursor_at(2, Assoc::After); // between "he" and "llo"
/// s.local_insert(0, ">> ".into(), Dot::new(r, 6)).unwrap();
/// assert_eq!(s.resolve_cursor(&caret), Some(5));
/// s.local_delete(3, 3).unwrap(); // delete "hel": the anchor 'l' goes
/// assert_eq!(s.resolve_cursor(&caret), Some(3));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cursor {
    /// The element the cursor sticks to; `None` for the document boundary on the [`Assoc`] side
    /// (the start for `Before`, the end for `After`).
    pub anchor: Option<Dot>,
    /// Which side the anchor is on.
    pub assoc: Assoc,
}

impl<C: Content> Sequence<C> {
    /// A cursor at visible position `pos` (clamped to the length) sticking to the side `assoc`.
    pub fn cursor_at(&self, pos: usize, assoc: Assoc) -> Cursor {
        let pos = pos.min(self.len());
        let anchor = match assoc {
            Assoc::Before => pos.checked_sub(1).and_then(|p| self.id_at(p)),
            Assoc::After => self.id_at(pos),
        };
        Cursor { anchor, assoc }
    }

    /// The current visible position of `cursor`; `None` when its anchor is unknown here.
    pub fn resolve_cursor(&self, cursor: &Cursor) -> Option<usize> {
        match (cursor.anchor, cursor.assoc) {
            (None, Assoc::Before) => Some(0),
            (None, Assoc::After) => Some(self.len()),
            (Some(id), assoc) => {
                let (before, visible) = self.position_of(id)?;
                Some(if assoc == Assoc::Before && visible {
                    before + 1
                } else {
                    before
                })
            }
        }
    }
}
