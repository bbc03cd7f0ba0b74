//! [`Selection`]: the caret or selected range an undo step gives back, as two stable cursors.
//!
//! Positions would be wrong by the time the step is undone (remote edits move text around);
//! cursors anchored to elements are not. Anchors inside text the step deleted are carried over
//! to the restored copies through the [`IdRemap`], so a selection over deleted text comes back
//! over the restored text (not collapsed at its edge).

use crate::doc::undo::remap::IdRemap;
use crate::seq::Cursor;

/// A selection in a text or list: `anchor` where it started, `head` where the caret is
/// (equal for a plain caret). Make the start cursor with [`Assoc::After`](crate::Assoc) and the
/// end cursor with [`Assoc::Before`](crate::Assoc) so that text others type at either edge
/// stays outside the selection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selection {
    /// Where the selection started.
    pub anchor: Cursor,
    /// Where it ends: the caret.
    pub head: Cursor,
}

impl Selection {
    /// A collapsed selection: a caret at `cursor`.
    pub fn caret(cursor: Cursor) -> Self {
        Selection {
            anchor: cursor,
            head: cursor,
        }
    }

    /// The selection with anchors moved to the restored copies of deleted elements.
    pub(crate) fn remapped(&self, remap: &IdRemap) -> Selection {
        let map = |c: Cursor| Cursor {
            anchor: c.anchor.map(|d| remap.resolve(d)),
            assoc: c.assoc,
        };
        Selection {
            anchor: map(self.anchor),
            head: map(self.head),
        }
    }
}
