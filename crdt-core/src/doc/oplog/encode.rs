//! Writes the log as it is held, so that a saved document's history loads without rebuilding
//! a single change (see [`decode`](super::decode) for the reader and its checks).
//!
//! Layout (inside the snapshot's envelope, which deflates it): the container table (a count,
//! then each container id); the text buffer (a byte string); the graph runs (see
//! [`OpLog::encode_graph`]); the
//! width runs (width, count); the operations kept whole, as a raw batch of one-operation
//! changes in the change format; the stored operations as six columns (a kind byte each; the
//! container of each compact one; origin and target tags and values, see
//! [`OpColumns::near_dot`]; an insert's character count and bytes beyond it; a delete run's
//! length, count and direction; an operation kept whole is the next of the batch); the commit
//! metadata (a count, then per change its first event, message and time).

use std::collections::BTreeMap;

use super::stored_op::{OpStore, StoredOp};
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
        self.encode_graph(&mut out);
        for width in self.widths.iter() {
            put_u64(&mut out, width.width);
            put_u64(&mut out, u64::from(width.count));
        }
        let mut whole = Vec::new();
        let mut ops = OpColumns::default();
        for (i, run) in runs.iter().enumerate() {
            let (first, end) = self.run_ops(i);
            for index in first..end {
                let stored = self.ops.get(index);
                ops.push(&self.ops, stored, run.replica);
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
        ops.write(&mut out);
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

impl OpLog {
    /// The graph runs: a table of their replicas (a count, then each as 8 bytes LE, in
    /// increasing order), the run count, and five columns: each run's replica (an index into
    /// the table), length, Lamport start (zigzag, from one more than the highest Lamport time
    /// before it: 0 for a replica continuing alone), first change's parents (a count, then
    /// each parent's replica index and counter), and its counts of width runs and stored
    /// operations. A run's first counter is not written: it continues its replica's events.
    fn encode_graph(&self, out: &mut Vec<u8>) {
        let runs = self.graph.runs();
        // Inserted one by one, not collected: collecting into a map sorts, and a sort is
        // kilobytes of the wasm build.
        let mut replicas: BTreeMap<ReplicaId, u64> = BTreeMap::new();
        for run in runs {
            replicas.insert(run.replica, 0);
            for parent in run.parents.iter() {
                replicas.insert(parent.replica, 0);
            }
        }
        for (i, index) in replicas.values_mut().enumerate() {
            *index = i as u64;
        }
        put_u64(out, replicas.len() as u64);
        for replica in replicas.keys() {
            out.extend_from_slice(&replica.0.to_le_bytes());
        }
        put_u64(out, runs.len() as u64);
        let mut columns: [Vec<u8>; 5] = Default::default();
        let [who, lens, lamports, parents, counts] = &mut columns;
        let mut max_lamport = 0u64;
        for (i, run) in runs.iter().enumerate() {
            put_u64(who, replicas[&run.replica]);
            put_u64(lens, run.end - run.start);
            put_u64(
                lamports,
                zigzag(delta(run.lamport, max_lamport.saturating_add(1))),
            );
            max_lamport = max_lamport.max(run.lamport_of(run.end - 1));
            put_u64(parents, run.parents.len() as u64);
            for parent in run.parents.iter() {
                put_u64(parents, replicas[&parent.replica]);
                put_u64(parents, parent.counter);
            }
            let (widths_end, ops_end) = self.run_ends(i);
            put_u64(counts, (widths_end - run.first_width) as u64);
            put_u64(counts, (ops_end - run.first_op) as u64);
        }
        for column in &columns {
            put_bytes(out, column);
        }
    }
}

/// The stored operations, one column per kind of field, so that deflate meets like with like
/// (kinds, containers, origin tags, origin distances, lengths, delete runs).
#[derive(Default)]
struct OpColumns {
    kinds: Vec<u8>,
    objs: Vec<u8>,
    dot_tags: Vec<u8>,
    dot_values: Vec<u8>,
    lens: Vec<u8>,
    deletes: Vec<u8>,
}

impl OpColumns {
    /// One stored operation (an operation kept whole goes to the batch, only its kind here);
    /// dots relative to the op's first counter when they are of its run's `replica`.
    fn push(&mut self, store: &OpStore, stored: &StoredOp, replica: ReplicaId) {
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
                self.kinds.push(INSERT);
                put_u64(&mut self.objs, u64::from(*obj));
                self.near_dot(store.unpack(*left), replica, base);
                self.near_dot(store.unpack(*right), replica, base);
                // A character takes at least one byte: the excess is 0 for ASCII.
                put_u64(&mut self.lens, u64::from(*chars));
                // Wrapping: only a forged store (in the tests) has fewer bytes than characters.
                put_u64(&mut self.lens, u64::from(byte_len.wrapping_sub(*chars)));
            }
            StoredOp::TextDelete {
                obj,
                target,
                len,
                count,
                backward,
                ..
            } => {
                self.kinds.push(DELETE);
                put_u64(&mut self.objs, u64::from(*obj));
                self.near_dot(store.unpack(*target), replica, base);
                put_u64(&mut self.deletes, *len);
                put_u64(&mut self.deletes, u64::from(*count));
                self.deletes.push(u8::from(*backward));
            }
            StoredOp::Whole { .. } => self.kinds.push(WHOLE),
        }
    }

    /// A dot an operation names (an origin, a delete's target), which is usually of the
    /// operation's own replica and a few counters before it: a tag (`NO_DOT`; `NEAR_DOT`, then
    /// the distance from `base`, zigzag; `FAR_DOT`, then the dot), so that the common case
    /// takes two or three bytes instead of ten.
    fn near_dot(&mut self, dot: Option<Dot>, replica: ReplicaId, base: u64) {
        match dot {
            None => self.dot_tags.push(NO_DOT),
            Some(dot) if dot.replica == replica => {
                self.dot_tags.push(NEAR_DOT);
                put_u64(&mut self.dot_values, zigzag(delta(dot.counter, base)));
            }
            Some(dot) => {
                self.dot_tags.push(FAR_DOT);
                put_dot(&mut self.dot_values, dot);
            }
        }
    }

    /// The columns, each a byte string, in the order `decode` reads them.
    fn write(&self, out: &mut Vec<u8>) {
        for column in [
            &self.kinds,
            &self.objs,
            &self.dot_tags,
            &self.dot_values,
            &self.lens,
            &self.deletes,
        ] {
            put_bytes(out, column);
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
