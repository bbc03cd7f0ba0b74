//! The history of a document: every [`Change`] it has applied, in the order applied (a causal
//! order), in a form that costs a few bytes per change rather than a few hundred.
//!
//! A change is not kept as a `Change` value. Its place in causal history goes to the
//! [`CausalGraph`](graph::CausalGraph), whose runs collapse a replica's consecutive changes
//! into one entry; its operations go to the [`OpStore`](stored_op::OpStore), which merges runs
//! of typing and deleting across changes; where one change ends and the next starts is a
//! run-length column of change widths; commit messages and times sit in a map of the few
//! changes that have them. `Change`s are rebuilt, exactly as they were applied, when sync,
//! history or undo asks for them.
//!
//! History is not state: the materialized content lives in [`DocState`](super::state::DocState).

mod decode;
mod encode;
mod graph;
mod local_ops;
mod stored_op;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::chunked_vec::ChunkedVec;
use crate::clock::{Dot, ReplicaId, SeqRange, VersionVector};
use crate::doc::change::{Change, Op};
use crate::doc::commit_meta::CommitMeta;
use crate::doc::value::ContainerId;
use crate::doc::DocError;
use crate::encoding::DecodeError;
use graph::{CausalGraph, GraphRun};
use stored_op::{OpStore, TextCursor};

pub(crate) use stored_op::TextSlicer;

pub(crate) use local_ops::LocalOps;

/// `count` consecutive changes of one width.
#[derive(Clone, Copy, Debug)]
struct WidthRun {
    width: u64,
    count: u32,
}

/// Every change applied, in causal order.
#[derive(Clone, Debug, Default)]
pub(crate) struct OpLog {
    graph: CausalGraph,
    ops: OpStore,
    /// The widths of the changes, run-length: each graph run's from its `first_width` on.
    widths: ChunkedVec<WidthRun>,
    /// The commit messages and times, by the change's first event.
    meta: BTreeMap<Dot, Box<CommitMeta>>,
    changes: usize,
    /// The operation buffers of the last local commit, emptied, for the next transaction
    /// (boxed: a transaction per keystroke moves a pointer, not the buffers' headers).
    spare_ops: Option<Box<LocalOps>>,
    /// Every change as pushed, for the tests to compare the rebuilt ones with.
    #[cfg(test)]
    shadow: Vec<Change>,
}

/// Where an element is in the log: the index of the stored op holding it, and one past the
/// last stored op of its graph run (the ops from it on take the run's next counters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OpAt {
    op: usize,
    ops_end: usize,
}

/// An element the log's inserts made: where it is, and the origins it was inserted with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InsertAt {
    pub(crate) at: OpAt,
    pub(crate) origins: (Option<Dot>, Option<Dot>),
}

impl OpLog {
    /// Appends a change whose causal past is in the log.
    pub(crate) fn push(&mut self, change: Change) {
        let Change {
            id,
            parents,
            lamport,
            ops,
            meta,
        } = change;
        self.push_parts(id, &parents, lamport, ops, meta);
    }

    /// Appends this replica's own change `id`, made on the log's heads (what a local commit
    /// makes): as [`push`](Self::push), without building a parents vector when the change
    /// follows the only head, as every keystroke of a lone editor does.
    pub(crate) fn push_local(
        &mut self,
        id: SeqRange,
        lamport: u64,
        mut ops: Box<LocalOps>,
        meta: Option<Box<CommitMeta>>,
    ) {
        let sole_head = self.graph.sole_head();
        let heads;
        let parents: &[Dot] = match &sole_head {
            Some(head) => std::slice::from_ref(head),
            None => {
                heads = self.heads();
                &heads
            }
        };
        #[cfg(test)]
        self.shadow.push(Change {
            id,
            parents: parents.to_vec(),
            lamport,
            ops: std::mem::take(&mut ops.made),
            meta: meta.clone(),
        });
        let started = self.push_run(id, parents, lamport, meta);
        self.ops.append_local(id.replica, &mut ops, !started);
        ops.release_large_buffers();
        self.spare_ops = Some(ops);
    }

    /// Buffers for a new local transaction starting at counter `start`: the last commit's,
    /// emptied.
    pub(crate) fn take_spare_ops(&mut self, start: u64) -> Box<LocalOps> {
        let mut ops = self.spare_ops.take().unwrap_or_default();
        ops.begin(start);
        ops
    }

    /// Records change `id` in the graph, its width and its commit metadata; returns whether it
    /// started a graph run (then its first op may not merge into the last stored one).
    fn push_run(
        &mut self,
        id: SeqRange,
        parents: &[Dot],
        lamport: u64,
        meta: Option<Box<CommitMeta>>,
    ) -> bool {
        let started = self
            .graph
            .push(id, parents, lamport, self.ops.len(), self.widths.len());
        self.push_width(id.len(), started);
        if let Some(meta) = meta {
            self.meta.insert(Dot::new(id.replica, id.start), meta);
        }
        self.changes += 1;
        started
    }

    /// Appends change `id` of parents `parents`, Lamport time `lamport`, operations `ops`.
    fn push_parts(
        &mut self,
        id: SeqRange,
        parents: &[Dot],
        lamport: u64,
        ops: Vec<Op>,
        meta: Option<Box<CommitMeta>>,
    ) {
        #[cfg(test)]
        self.shadow.push(Change {
            id,
            parents: parents.to_vec(),
            lamport,
            ops: ops.clone(),
            meta: meta.clone(),
        });
        let started = self.push_run(id, parents, lamport, meta);
        let mut counter = id.start;
        let mut may_merge = !started;
        for op in ops {
            let width = op.width();
            self.ops.push(Dot::new(id.replica, counter), op, may_merge);
            may_merge = true;
            counter += width;
        }
    }

    /// Records the width of the change just pushed: one more of the last width run, or a new
    /// one (always a new one when the change started a graph run).
    fn push_width(&mut self, width: u64, started: bool) {
        if !started {
            if let Some(last) = self.widths.last_mut() {
                if last.width == width && last.count < u32::MAX {
                    last.count += 1;
                    return;
                }
            }
        }
        self.widths.push(WidthRun { width, count: 1 });
    }

    /// The frontier of the log, sorted: the parents of the next local change.
    pub(crate) fn heads(&self) -> Vec<Dot> {
        self.graph.heads()
    }

    /// The version the log covers.
    pub(crate) fn version(&self) -> &VersionVector {
        self.graph.version()
    }

    /// Highest Lamport timestamp of any operation in the log.
    pub(crate) fn max_lamport(&self) -> u64 {
        self.graph.max_lamport()
    }

    /// Number of changes.
    pub(crate) fn len(&self) -> usize {
        self.changes
    }

    /// The Lamport timestamp an honest replica gives `change`; `None` when part of its causal
    /// past is not in the log (see [`CausalGraph::expected_lamport`]).
    pub(crate) fn expected_lamport(&self, change: &Change) -> Option<u64> {
        self.graph.expected_lamport(change)
    }

    /// Every change, in the order applied.
    pub(crate) fn changes(&self) -> impl Iterator<Item = Change> + '_ {
        (0..self.graph.runs().len()).flat_map(move |run| self.run_changes(run, 0))
    }

    /// The ids of every change, in the order applied, read from the graph runs and their
    /// change widths (no change is rebuilt).
    pub(crate) fn change_ids(&self) -> Vec<SeqRange> {
        let mut ids = Vec::with_capacity(self.changes);
        for (i, run) in self.graph.runs().iter().enumerate() {
            let (widths_end, _) = self.run_ends(i);
            let mut start = run.start;
            for w in run.first_width..widths_end {
                let WidthRun { width, count } = self.widths[w];
                for _ in 0..count {
                    ids.push(SeqRange {
                        replica: run.replica,
                        start,
                        end: start + width,
                    });
                    start += width;
                }
            }
        }
        ids
    }

    /// Hands `each` every operation of the log, in the order applied, as a one-operation
    /// change (no parents, no metadata) with its own first event and Lamport time, merged as
    /// the log stores them: a merged insert whole (all the characters typed in one go, across
    /// changes), a run of backspaces or forward deletes as one delete of what it covers, any
    /// other operation as made. Applying them in this order builds the state applying the
    /// changes builds (a merged insert is the chained inserts it merged, which is how the
    /// author's document recorded them; deleting by id does not depend on the order), at the
    /// cost of the stored operations rather than of the changes. Stops at the first error
    /// `each` returns.
    pub(crate) fn for_each_op(
        &self,
        each: &mut dyn FnMut(Change) -> Result<(), DocError>,
    ) -> Result<(), DocError> {
        let mut ops = Vec::with_capacity(1);
        for (i, run) in self.graph.runs().iter().enumerate() {
            let (first, end) = self.run_ops(i);
            for index in first..end {
                if !self.ops.merged_ops_of(run.replica, index, &mut ops) {
                    return Err(DecodeError::Malformed(
                        "a stored operation whose operations do not take its counters",
                    )
                    .into());
                }
                for (start, op) in ops.drain(..) {
                    each(Change {
                        id: SeqRange {
                            replica: run.replica,
                            start,
                            end: start + op.width(),
                        },
                        parents: Vec::new(),
                        lamport: run.lamport_of(start),
                        ops: vec![op],
                        meta: None,
                    })?;
                }
            }
        }
        Ok(())
    }

    /// The changes holding events not covered by `since`, in the log's (causal) order.
    pub(crate) fn changes_since(&self, since: &VersionVector) -> Vec<Change> {
        // The first run not covered, then the log from there on, less what `since` covers:
        // in log order without sorting (at the cost of passing over the covered runs logged
        // after the first uncovered one).
        let Some(first) = self.graph.first_run_not_in(since) else {
            return Vec::new();
        };
        let runs = self.graph.runs();
        (first..runs.len())
            .filter(|&i| runs[i].end - 1 > since.get(runs[i].replica))
            .flat_map(|i| self.run_changes(i, since.get(runs[i].replica)))
            .collect()
    }

    /// The change holding the event `dot`, if the log holds it.
    pub(crate) fn change_containing(&self, dot: Dot) -> Option<Change> {
        let run = self.graph.run_containing(dot)?;
        self.run_changes(run, dot.counter - 1).next()
    }

    /// The change whose id is exactly `id`, if the log holds one.
    pub(crate) fn get(&self, id: SeqRange) -> Option<Change> {
        let change = self.change_containing(Dot::new(id.replica, id.start))?;
        (change.id == id).then_some(change)
    }

    /// The changes of `replica` holding events after counter `after`, in counter order (what
    /// an undo manager has not seen yet of its own replica's edits).
    pub(crate) fn changes_of_after(&self, replica: ReplicaId, after: u64) -> Vec<Change> {
        self.graph
            .runs_of_after(replica, after)
            .iter()
            .flat_map(|&(_, run)| self.run_changes(run, after))
            .collect()
    }

    /// The operation holding the event `dot` with its first event: a merged insert whole (all
    /// the characters typed in one go, across changes), one delete of a run of deletes, any
    /// other operation as made. What undo reads to bring back deleted content or a replaced
    /// value.
    pub(crate) fn op_at(&self, dot: Dot) -> Option<(Dot, Op)> {
        let run = self.graph.run_containing(dot)?;
        let (first_op, ops_end) = self.run_ops(run);
        let index = self.ops.first_ending_after(first_op..ops_end, dot.counter);
        (index < ops_end)
            .then(|| {
                self.ops
                    .op_at(self.graph.runs()[run].replica, index, dot.counter)
            })
            .flatten()
    }

    /// Appends to `out` the text of the elements `dot.counter..dot.counter + len` of
    /// `dot.replica` as the log's inserts into `obj` made them (what a saved text's live runs
    /// name instead of holding their characters). `false` when some element was not inserted
    /// into `obj` by a change of the log. Any order of calls costs time linear in the text
    /// sliced (with the same `slicer`). `at` is where `dot` is, when the caller knows it
    /// ([`OpLog::locate_inserts`]): then no search is needed.
    pub(crate) fn text_of(
        &self,
        obj: &ContainerId,
        dot: Dot,
        len: u64,
        mut at: Option<OpAt>,
        slicer: &mut TextSlicer,
        out: &mut String,
    ) -> bool {
        let (mut counter, mut left) = (dot.counter, len);
        while left > 0 {
            let OpAt { op, ops_end } = match at.take() {
                Some(at) => at,
                None => {
                    let Some(run) = self.graph.run_containing(Dot::new(dot.replica, counter))
                    else {
                        return false;
                    };
                    let (first_op, ops_end) = self.run_ops(run);
                    let op = self.ops.first_ending_after(first_op..ops_end, counter);
                    OpAt { op, ops_end }
                }
            };
            match self.ops.insert_text(op, obj, counter, left, slicer, out) {
                Some(taken) if taken > 0 => {
                    counter += taken;
                    left -= taken;
                    // The next op of the same graph run takes the next counters.
                    if op + 1 < ops_end {
                        at = Some(OpAt {
                            op: op + 1,
                            ops_end,
                        });
                    }
                }
                _ => return false,
            }
        }
        true
    }

    /// For each of `dots` (whose indexes in id order are `by_id`, see `seq::id_order`), where
    /// the log's insert into text `obj` that made that character
    /// is and the origins it gave it (see `OpStore::insert_origins`), or `None` when no insert
    /// of the log made it in `obj`: what a saved text's runs take instead of writing their
    /// origins, and where their characters are. Looked up in id order, in one sweep over each
    /// replica's stored ops rather than a search per dot: a saved text's runs come in document
    /// order, which jumps about the history (on automerge-paper a search per run made opening
    /// 15% slower).
    pub(crate) fn locate_inserts(
        &self,
        obj: &ContainerId,
        dots: &[Dot],
        by_id: &[usize],
    ) -> Vec<Option<InsertAt>> {
        let mut found = vec![None; dots.len()];
        // The graph run swept last, and the stored op the sweep reached in it: a replica's
        // runs, and the ops in each, follow its counters.
        let mut at: Option<(usize, usize)> = None;
        for &i in by_id {
            let Some(&dot) = dots.get(i) else { continue };
            let run = match at {
                Some((run, _)) if self.graph.runs()[run].contains(dot) => run,
                _ => match self.graph.run_containing(dot) {
                    Some(run) => run,
                    None => continue,
                },
            };
            let (first_op, ops_end) = self.run_ops(run);
            let mut op = match at {
                Some((swept, op)) if swept == run => op,
                _ => first_op,
            };
            while op < ops_end && self.ops.end_of(op).is_some_and(|end| end <= dot.counter) {
                op += 1;
            }
            at = Some((run, op));
            found[i] = self
                .ops
                .insert_origins(op, obj, dot.replica, dot.counter)
                .map(|origins| InsertAt {
                    at: OpAt { op, ops_end },
                    origins,
                });
        }
        found
    }

    /// The mark operations (and other operations kept whole) of the whole log with their
    /// dots and Lamport times, in log order: what rebuilding the marks index reads, without
    /// rebuilding any change.
    pub(crate) fn whole_ops(&self) -> impl Iterator<Item = (Dot, u64, &Op)> + '_ {
        let runs = self.graph.runs();
        (0..runs.len()).flat_map(move |i| {
            let run = &runs[i];
            let (first, end) = self.run_ops(i);
            self.ops.whole_ops(first..end).map(move |(counter, op)| {
                (Dot::new(run.replica, counter), run.lamport_of(counter), op)
            })
        })
    }

    /// The indexes of graph run `run`'s stored operations: its first, and one past its last.
    fn run_ops(&self, run: usize) -> (usize, usize) {
        (self.graph.runs()[run].first_op, self.run_ends(run).1)
    }

    /// One past the index of graph run `run`'s last width run and last stored operation: where
    /// the next run's start, or the columns' ends for the last run.
    fn run_ends(&self, run: usize) -> (usize, usize) {
        self.graph
            .runs()
            .get(run + 1)
            .map_or((self.widths.len(), self.ops.len()), |next| {
                (next.first_width, next.first_op)
            })
    }

    /// The changes of graph run `run` whose last event is after counter `after`, rebuilt.
    fn run_changes(&self, run: usize, after: u64) -> RunChanges<'_> {
        let runs = self.graph.runs();
        let graph_run = &runs[run];
        let (widths_end, ops_end) = self.run_ends(run);
        let mut changes = RunChanges {
            log: self,
            run: graph_run,
            counter: graph_run.start,
            width: graph_run.first_width,
            used: 0,
            widths_end,
            op: graph_run.first_op,
            ops_end,
            cursor: TextCursor::default(),
        };
        changes.skip_through(after);
        changes
    }
}

/// The changes of one graph run, rebuilt one by one from the log's columns.
struct RunChanges<'a> {
    log: &'a OpLog,
    run: &'a GraphRun,
    /// The next change's first counter.
    counter: u64,
    /// The width run of the next change, and how many of its changes came before it.
    width: usize,
    used: u32,
    widths_end: usize,
    /// The first stored op that may hold the next change's ops.
    op: usize,
    ops_end: usize,
    cursor: TextCursor,
}

impl RunChanges<'_> {
    /// Moves past the changes whose last event is at or before counter `after`, without
    /// rebuilding them (a binary search for the op, a walk over the width runs).
    fn skip_through(&mut self, after: u64) {
        while self.width < self.widths_end {
            let WidthRun { width, count } = self.log.widths[self.width];
            let left = u64::from(count - self.used);
            // Whole changes of this width run that end at or before `after`.
            let ending_by = after.saturating_sub(self.counter.saturating_sub(1)) / width.max(1);
            if ending_by == 0 {
                break;
            }
            let skip = ending_by.min(left);
            self.counter += skip * width;
            self.used += skip as u32;
            if self.used == count {
                self.width += 1;
                self.used = 0;
            }
            if skip < left {
                break;
            }
        }
        self.op = self
            .log
            .ops
            .first_ending_after(self.op..self.ops_end, self.counter);
    }
}

impl Iterator for RunChanges<'_> {
    type Item = Change;

    fn next(&mut self) -> Option<Change> {
        if self.width >= self.widths_end {
            return None;
        }
        let WidthRun { width, count } = self.log.widths[self.width];
        let (replica, start) = (self.run.replica, self.counter);
        let end = start + width;
        self.used += 1;
        if self.used == count {
            self.width += 1;
            self.used = 0;
        }
        self.counter = end;
        let parents = if start == self.run.start {
            self.run.parents.to_vec()
        } else {
            vec![Dot::new(replica, start - 1)]
        };
        let mut op = self.op;
        let ops = self
            .log
            .ops
            .ops_in(replica, &mut op, start, end, &mut self.cursor);
        self.op = op.min(self.ops_end);
        Some(Change {
            id: SeqRange {
                replica,
                start,
                end,
            },
            parents,
            lamport: self.run.lamport_of(start),
            ops,
            meta: self.log.meta.get(&Dot::new(replica, start)).cloned(),
        })
    }
}
