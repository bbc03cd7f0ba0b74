//! Applying a received run of typing, or of backspacing, as one operation.
//!
//! A history sent to a new replica is mostly keystrokes, one change each. A typed character is
//! one insert chained to the previous one: the next counter, its left origin the character just
//! inserted, the same right origin. Integrating those one character at a time looks up both
//! origins in the sequence for every character. Integrating them as one insert gives the same
//! sequence (it is how the author's own document recorded them, see `change::try_extend`), so
//! [`apply_changes`](super::Doc::apply_changes) holds such a run back and applies it whole when
//! something else comes. A chained insert needs no check against the state: its container and
//! right origin are the run's, checked with its first character, and its left origin is the
//! run's last character.
//!
//! A backspace (or a forward delete) is a delete of the character next, by id, to the one the
//! previous change deleted. Deleting by id does not depend on the order, and deleting a range of
//! ids at once finds each element as deleting them one by one does, so such a run is held back
//! too and applied as one delete of the ids it covers. Each delete is checked against the state
//! as it comes (its ids must be elements of the text; deleting hides them, it never removes
//! them, so what the held run deletes does not change the check).

use super::change::{try_extend, Change, Op};
use super::state::{DocState, RawPatch};
use super::DocError;
use crate::clock::Dot;
use crate::doc::value::ContainerId;
use crate::seq::{SeqOp, TextContent};

/// The held-back operation.
enum Held {
    /// An insert, grown by the chained ones, with its first event and Lamport time.
    Insert(Dot, u64, Op),
    /// Deletes from text `obj` of the elements `first..first + len` (counters of one replica),
    /// with the first delete's event and Lamport time.
    Delete {
        dot: Dot,
        lamport: u64,
        obj: ContainerId,
        first: Dot,
        len: u64,
    },
}

/// The held-back run, if any.
#[derive(Default)]
pub(super) struct TypingRun {
    pending: Option<Held>,
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

/// The text and the elements deleted when the change's only operation is one text delete.
fn lone_delete(change: &Change) -> Option<(&ContainerId, Dot, u64)> {
    match change.ops.as_slice() {
        [Op::Text {
            obj,
            op: SeqOp::Delete { target, len },
        }] => Some((obj, *target, *len)),
        _ => None,
    }
}

impl TypingRun {
    /// Takes `change` into the held-back run when it only continues it (checking a delete
    /// against `state` first); then the change needs no check or application of its own.
    pub(super) fn absorb(&mut self, change: &Change, state: &DocState) -> bool {
        match self.pending.as_mut() {
            Some(Held::Insert(_, _, Op::Text { obj, op: held })) => match lone_insert(change) {
                Some(Op::Text {
                    obj: next_obj,
                    op: next,
                }) => obj == next_obj && try_extend::<TextContent>(held, next),
                _ => false,
            },
            Some(Held::Delete {
                obj, first, len, ..
            }) => {
                let Some((next_obj, target, n)) = lone_delete(change) else {
                    return false;
                };
                let end = first.counter.saturating_add(*len);
                let continues = next_obj == obj
                    && target.replica == first.replica
                    && (target.counter == end
                        || target.counter.checked_add(n) == Some(first.counter));
                if !continues || state.check_change(change).is_err() {
                    return false;
                }
                if target.counter < first.counter {
                    *first = target;
                }
                *len += n;
                true
            }
            _ => false,
        }
    }

    /// Holds back `change` (which passed the state's checks) when it is a lone text insert or
    /// delete; returns whether it did, else the caller applies it.
    pub(super) fn hold(&mut self, change: &Change) -> bool {
        debug_assert!(self.pending.is_none(), "flushed before a new change");
        let dot = Dot::new(change.id.replica, change.id.start);
        if let Some(op) = lone_insert(change) {
            self.pending = Some(Held::Insert(dot, change.lamport, op.clone()));
            return true;
        }
        if let Some((obj, first, len)) = lone_delete(change) {
            self.pending = Some(Held::Delete {
                dot,
                lamport: change.lamport,
                obj: obj.clone(),
                first,
                len,
            });
            return true;
        }
        false
    }

    /// Applies the held-back operation, if any, to `state`.
    pub(super) fn flush(
        &mut self,
        state: &mut DocState,
        out: &mut Vec<RawPatch>,
    ) -> Result<(), DocError> {
        match self.pending.take() {
            Some(Held::Insert(dot, lamport, op)) => state.apply_op(dot, lamport, &op, out),
            Some(Held::Delete {
                dot,
                lamport,
                obj,
                first,
                len,
            }) => {
                let op = Op::Text {
                    obj,
                    op: SeqOp::Delete { target: first, len },
                };
                state.apply_op(dot, lamport, &op, out)
            }
            None => Ok(()),
        }
    }
}
