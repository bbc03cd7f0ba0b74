//! The operations of the open local transaction, kept in the form the log stores them in.
//!
//! An editor commits after every keystroke, so the path from a handle's edit to the log is the
//! one a user feels. Building an [`Op`] per edit costs a `TextContent` and a clone of the
//! container's id, two allocations freed again when the log compacts the op at commit. Instead
//! a text edit is recorded here already compact: its container interned, its origins packed,
//! its characters appended to the transaction's own text buffer (reused from commit to commit).
//! On commit the log appends the buffer to its text and the operations to its store, merging
//! them into its typing runs as it merges received ones. Uncommitted operations stay out of the
//! log: its readers never see a transaction that is still open.
//!
//! Other operations (maps, lists, counters, marks, and what an undo makes) are kept whole, as
//! the log keeps them. Consecutive operations merge exactly as the log would merge them, so
//! the change a commit makes is the one the log rebuilds.

use super::stored_op::{merge_runs, OpStore, StoredOp};
use super::OpLog;
use crate::clock::{Dot, ReplicaId};
use crate::doc::change::{self, Op};
use crate::doc::value::ContainerId;
use crate::seq::{SeqOp, TextContent};

/// The operations of one open transaction, taking counters from `start` on.
#[derive(Clone, Debug, Default)]
pub(crate) struct LocalOps {
    /// The operations, compact where they can be; text offsets count in `text`.
    pub(super) ops: Vec<StoredOp>,
    /// The characters the compact inserts hold.
    pub(super) text: String,
    /// The counter the next operation takes.
    next: u64,
    /// The text of the insert being made, as the engine takes it (kept from commit to
    /// commit: an insert allocates no content).
    scratch: TextContent,
    /// The operations as made, for the log's tests to compare the rebuilt changes with.
    #[cfg(test)]
    pub(super) made: Vec<Op>,
}

impl LocalOps {
    /// Starts a transaction whose first operation takes counter `start`, keeping the buffers.
    pub(crate) fn begin(&mut self, start: u64) {
        self.ops.clear();
        self.text.clear();
        self.next = start;
        #[cfg(test)]
        self.made.clear();
    }

    /// Gives back the room a large transaction (a paste, a load of edits in one commit) left in
    /// the buffers, keeping what typing needs: they live as long as the document does.
    pub(super) fn release_large_buffers(&mut self) {
        const KEPT_OPS: usize = 32;
        const KEPT_BYTES: usize = 1024;
        if self.ops.capacity() > KEPT_OPS {
            self.ops.shrink_to(KEPT_OPS);
        }
        if self.text.capacity() > KEPT_BYTES {
            self.text.shrink_to(KEPT_BYTES);
        }
        self.scratch.shrink_to(KEPT_BYTES);
    }

    /// `text` as the engine's content, in a buffer kept for the next insert.
    pub(crate) fn content_of(&mut self, text: &str) -> &TextContent {
        self.scratch.assign(text);
        &self.scratch
    }

    /// True when no operation was recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Records the local insert of `text` (`chars` characters) into text `obj` between
    /// `left` and `right`.
    pub(crate) fn text_insert(
        &mut self,
        log: &mut OpLog,
        replica: ReplicaId,
        obj: &ContainerId,
        (left, right): (Option<Dot>, Option<Dot>),
        text: &str,
        chars: u64,
    ) {
        let start = self.next;
        // Built only where it is kept: the content and the container's id are allocations.
        let whole = || Op::Text {
            obj: obj.clone(),
            op: SeqOp::Insert {
                id: Dot::new(replica, start),
                origin_left: left,
                origin_right: right,
                content: TextContent::from(text),
            },
        };
        #[cfg(test)]
        self.remember(whole());
        let place = (self.text.len(), text.len());
        let compact = log
            .ops
            .compact_insert(start, obj, (left, right), place, chars as usize);
        let Some(compact) = compact else {
            return self.push_whole(whole());
        };
        self.text.push_str(text);
        self.push_compact(&log.ops, replica, compact, chars);
    }

    /// Records the local delete of `len` characters from `target` in text `obj` (one counter).
    pub(crate) fn text_delete(
        &mut self,
        log: &mut OpLog,
        replica: ReplicaId,
        obj: &ContainerId,
        target: Dot,
        len: u64,
    ) {
        let op = SeqOp::Delete { target, len };
        // Built only where it is kept: cloning the container id costs an allocation.
        let whole = || Op::Text {
            obj: obj.clone(),
            op: op.clone(),
        };
        #[cfg(test)]
        self.remember(whole());
        let compact = log
            .ops
            .compact_text_op(Dot::new(replica, self.next), obj, &op);
        let Some(stored) = compact else {
            return self.push_whole(whole());
        };
        self.push_compact(&log.ops, replica, stored, 1);
    }

    /// Records any other local operation, kept whole (a list insert continuing the last one
    /// extends it, as typing does).
    pub(crate) fn op(&mut self, op: Op) {
        #[cfg(test)]
        self.remember(op.clone());
        self.push_whole(op);
    }

    /// Appends `stored` (taking `width` counters), merged into the last operation when it
    /// continues it.
    fn push_compact(&mut self, store: &OpStore, replica: ReplicaId, stored: StoredOp, width: u64) {
        self.next += width;
        if let Some(last) = self.ops.last_mut() {
            let previous_char = store.packed(replica, last.end().wrapping_sub(1));
            if merge_runs(last, &stored, previous_char) {
                return;
            }
        }
        self.ops.push(stored);
    }

    /// Appends `op` whole, extending the last whole operation when `op` continues it.
    fn push_whole(&mut self, op: Op) {
        let width = op.width();
        let start = self.next;
        self.next += width;
        if let Some(StoredOp::Whole { op: last, .. }) = self.ops.last_mut() {
            if extends(last, &op) {
                return;
            }
        }
        self.ops.push(StoredOp::Whole {
            start,
            op: Box::new(op),
        });
    }

    /// Keeps `op` as made, merged as a transaction has always merged its ops.
    #[cfg(test)]
    fn remember(&mut self, op: Op) {
        if let Some(last) = self.made.last_mut() {
            if extends(last, &op) {
                return;
            }
        }
        self.made.push(op);
    }
}

/// Extends `last` by `next` when both act on one text or list and `next` continues `last`'s
/// insert.
fn extends(last: &mut Op, next: &Op) -> bool {
    match (last, next) {
        (
            Op::Text {
                obj: last_obj,
                op: prev,
            },
            Op::Text { obj, op: next },
        ) => last_obj == obj && change::try_extend(prev, next),
        (
            Op::List {
                obj: last_obj,
                op: prev,
            },
            Op::List { obj, op: next },
        ) => last_obj == obj && change::try_extend(prev, next),
        _ => false,
    }
}
