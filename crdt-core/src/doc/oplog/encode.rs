//! Writes the log as it is held, so that a saved document's history loads without rebuilding
//! a single change (see [`decode`](super::decode) for the reader and its checks).
//!
//! Layout (inside the snapshot's envelope, which deflates it): the container table (a count,
//! then each container id); the text buffer (a byte string); the graph runs (a count, then per
//! run its replica as 8 bytes LE, first counter, length, Lamport start, its first change's
//! parents as a count and dots, and how many width runs and stored operations it has); the
//! width runs (width, count); the operations kept whole, as a raw batch of one-operation
//! changes in the change format; the stored operations (a kind byte, then an insert's
//! container, left and right origins, byte length and character count; a delete run's
//! container, target, length, count and direction; nothing for an operation kept whole, the
//! next of the batch; origins and targets as [near dots](put_near_dot)); the commit metadata (a count, then per change its first event, message and time).

use super::stored_op::StoredOp;
use super::OpLog;
use crate::clock::{Dot, ReplicaId, SeqRange};
use crate::doc::change::Change;
use crate::doc::format::changes;
use crate::doc::format::snapshot::{put_container_id, put_dot};
use crate::encoding::column::{delta, put_bytes, put_u64, zigzag};

/// Kind bytes of the stored operations.
pub(super) const INSERT: u8 = 0;
pub(super) const DELETE: u8 = 1;
pub(super) const WHOLE: u8 = 2;

/// Tags of a dot an operation names.
pub(super) const NO_DOT: u8 = 0;
pub(super) const NEAR_DOT: u8 = 1;
pub(super) const FAR_DOT: u8 = 2;

impl OpLog {
    /// The log's bytes, read back by [`OpLog::decode`].
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.ops.encode_tables(&mut out);
        let runs = self.graph.runs();
        put_u64(&mut out, runs.len() as u64);
        for (i, run) in runs.iter().enumerate() {
            put_dot(&mut out, Dot::new(run.replica, run.start));
            put_u64(&mut out, run.end - run.start);
            put_u64(&mut out, run.lamport);
            put_u64(&mut out, run.parents.len() as u64);
            for parent in run.parents.iter() {
                put_dot(&mut out, *parent);
            }
            let (widths_end, ops_end) = runs
                .get(i + 1)
                .map_or((self.widths.len(), self.ops.len()), |next| {
                    (next.first_width, next.first_op)
                });
            put_u64(&mut out, (widths_end - run.first_width) as u64);
            put_u64(&mut out, (ops_end - run.first_op) as u64);
        }
        for width in &self.widths {
            put_u64(&mut out, width.width);
            put_u64(&mut out, u64::from(width.count));
        }
        let mut whole = Vec::new();
        let mut ops = Vec::new();
        for (i, run) in runs.iter().enumerate() {
            let (first, end) = self.run_ops(i);
            for index in first..end {
                let stored = self.ops.get(index);
                encode_op(&mut ops, stored, run.replica);
                if let StoredOp::Whole { start, op } = stored {
                    whole.push(Change {
                        id: SeqRange {
                            replica: run.replica,
                            start: *start,
                            end: start + op.width(),
                        },
                        parents: Vec::new(),
                        lamport: 1,
                        ops: vec![(**op).clone()],
                        meta: None,
                    });
                }
            }
        }
        put_bytes(&mut out, &changes::encode_raw(&whole));
        out.extend_from_slice(&ops);
        put_u64(&mut out, self.meta.len() as u64);
        for (dot, meta) in &self.meta {
            put_dot(&mut out, *dot);
            put_optional_bytes(&mut out, meta.message.as_deref().map(str::as_bytes));
            match meta.time {
                Some(time) => {
                    out.push(1);
                    put_u64(&mut out, time);
                }
                None => out.push(0),
            }
        }
        out
    }
}

/// One stored operation's kind and fields (an operation kept whole goes to the batch); dots
/// relative to the op's first counter when they are of its run's `replica`.
fn encode_op(out: &mut Vec<u8>, stored: &StoredOp, replica: ReplicaId) {
    let base = stored.start();
    match stored {
        StoredOp::TextInsert {
            obj,
            left,
            right,
            byte_len,
            chars,
            ..
        } => {
            out.push(INSERT);
            put_u64(out, u64::from(*obj));
            put_near_dot(out, left.get(), replica, base);
            put_near_dot(out, right.get(), replica, base);
            put_u64(out, u64::from(*byte_len));
            put_u64(out, u64::from(*chars));
        }
        StoredOp::TextDelete {
            obj,
            target,
            len,
            count,
            backward,
            ..
        } => {
            out.push(DELETE);
            put_u64(out, u64::from(*obj));
            put_near_dot(out, Some(*target), replica, base);
            put_u64(out, *len);
            put_u64(out, u64::from(*count));
            out.push(u8::from(*backward));
        }
        StoredOp::Whole { .. } => out.push(WHOLE),
    }
}

/// A dot an operation names (an origin, a delete's target), which is usually of the
/// operation's own replica and a few counters before it: a tag (`NO_DOT`; `NEAR_DOT`, then
/// the distance back from `base`, zigzag; `FAR_DOT`, then the dot), so that the common case
/// takes two or three bytes instead of ten.
fn put_near_dot(out: &mut Vec<u8>, dot: Option<Dot>, replica: ReplicaId, base: u64) {
    match dot {
        None => out.push(NO_DOT),
        Some(dot) if dot.replica == replica => {
            out.push(NEAR_DOT);
            put_u64(out, zigzag(delta(dot.counter, base)));
        }
        Some(dot) => {
            out.push(FAR_DOT);
            put_dot(out, dot);
        }
    }
}

fn put_optional_bytes(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        Some(bytes) => {
            out.push(1);
            put_bytes(out, bytes);
        }
        None => out.push(0),
    }
}

impl super::stored_op::OpStore {
    /// The container table and the text buffer.
    pub(super) fn encode_tables(&self, out: &mut Vec<u8>) {
        put_u64(out, self.containers().len() as u64);
        for id in self.containers() {
            put_container_id(out, id);
        }
        put_bytes(out, self.text().as_bytes());
    }
}
