//! Applying a received run of typing as one insert.
//!
//! A history sent to a new replica is mostly keystrokes, one change each, and each is one
//! insert chained to the previous one: the next counter, its left origin the character just
//! inserted, the same right origin. Integrating those one character at a time looks up both
//! origins in the sequence for every character. Integrating them as one insert gives the same
//! sequence (it is how the author's own document recorded them, see `change::try_extend`), so
//! [`apply_changes`](super::Doc::apply_changes) holds such a run back and applies it whole when
//! something else comes. A chained insert needs no check against the state: its container and
//! right origin are the run's, checked with its first character, and its left origin is the
//! run's last character.

use super::change::{try_extend, Change, Op};
use super::state::{DocState, RawPatch};
use super::DocError;
use crate::clock::Dot;
use crate::seq::{SeqOp, TextContent};

/// The held-back insert: its first event's Lamport time and the insert, grown by the chained
/// ones.
#[derive(Default)]
pub(super) struct TypingRun {
    pending: Option<(Dot, u64, Op)>,
}

/// The change's only operation when it is one text insert.
fn lone_insert(change: &Change) -> Option<&Op> {
    match change.ops.as_slice() {
        [op @ Op::Text {
            op: SeqOp::Insert { .. },
            ..
        }] => Some(op),
        _ => None,
    }
}

impl TypingRun {
    /// Takes `change` into the held-back insert when it only continues it; then the change
    /// needs neither a check nor an application of its own.
    pub(super) fn absorb(&mut self, change: &Change) -> bool {
        let (
            Some((_, _, Op::Text { obj, op: held })),
            Some(Op::Text {
                obj: next_obj,
                op: next,
            }),
        ) = (self.pending.as_mut(), lone_insert(change))
        else {
            return false;
        };
        obj == next_obj && try_extend::<TextContent>(held, next)
    }

    /// Holds back `change` (which passed the state's checks) when it is a lone text insert;
    /// returns whether it did, else the caller applies it.
    pub(super) fn hold(&mut self, change: &Change) -> bool {
        debug_assert!(self.pending.is_none(), "flushed before a new change");
        let Some(op) = lone_insert(change) else {
            return false;
        };
        let dot = Dot::new(change.id.replica, change.id.start);
        self.pending = Some((dot, change.lamport, op.clone()));
        true
    }

    /// Applies the held-back insert, if any, to `state`.
    pub(super) fn flush(
        &mut self,
        state: &mut DocState,
        out: &mut Vec<RawPatch>,
    ) -> Result<(), DocError> {
        match self.pending.take() {
            Some((dot, lamport, op)) => state.apply_op(dot, lamport, &op, out),
            None => Ok(()),
        }
    }
}
