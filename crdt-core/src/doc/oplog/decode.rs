//! Reads the log [`encode`](super::encode) wrote, checking everything that applying the
//! changes one by one would have checked, in time proportional to the runs and stored
//! operations, not to the changes.
//!
//! Saved documents are remote input: every count is bounded by the bytes that remain before
//! anything is allocated, everything decoded is charged to the snapshot's budget, and:
//! - each graph run continues its replica's events, its first change's parents are well
//!   formed and held, its Lamport start is the honest one, and the replicas fit
//!   ([`CausalGraph::push_run`]);
//! - each run's change widths add up to its length, and its stored operations take exactly
//!   its counters, in order;
//! - an operation kept whole is a valid one-operation change at its counter that does not
//!   cross a change boundary; a compact insert names a text container of the table, a
//!   non-empty slice of the text buffer on character boundaries with the character count it
//!   claims; a delete run's targets are real counters;
//! - commit metadata belongs to the first event of a change and its message is not too long;
//! - the delete runs hold at most [`MAX_DELETES_PER_BYTE`] deletes per byte of the history, the
//!   one count that could otherwise claim changes without paying bytes for them.

use std::collections::BTreeMap;

use super::encode::{DELETE, FAR_DOT, INSERT, NEAR_DOT, NO_DOT, WHOLE};
use super::graph::{CausalGraph, GraphRun};
use super::stored_op::{ObjIndex, OpStore, StoredOp, PACKED_COUNTER_MAX};
use super::{OpLog, WidthRun};
use crate::clock::{Dot, ReplicaId, SeqRange};
use crate::doc::change::{check_container_id, Change};
use crate::doc::commit_meta::CommitMeta;
use crate::doc::format::changes;
use crate::doc::format::snapshot::{read_container_id, read_dot};
use crate::doc::value::{ContainerId, ContainerKind};
use crate::doc::DocError;
use crate::encoding::budget::DecodeBudget;
use crate::encoding::column::{add_delta, unzigzag, ColumnReader};
use crate::encoding::DecodeError;

const MALFORMED: fn(&'static str) -> DecodeError = DecodeError::Malformed;

/// The most deletes a history may hold per byte of its encoding. Everything else a change can
/// hold takes bytes (an inserted character its text, an operation kept whole its columns), but
/// a run of deletes takes a few bytes however long it is, so its length is the one count that
/// could claim changes without paying for them: a saved document claiming four billion deletes
/// in twenty bytes would make every later read of its history (sync, undo, history views)
/// rebuild four billion operations. An honest run deletes characters inserted earlier, whose
/// text is in the same history (a character deleted by several replicas at once is counted
/// once per replica), so four per byte leaves room for every honest document.
const MAX_DELETES_PER_BYTE: u64 = 4;

/// A run as read, before its widths and operations.
struct RunHeader {
    widths: usize,
    ops: usize,
}

impl OpLog {
    /// Reads a log written by [`OpLog::encode`], charging what it builds to `budget`.
    pub(crate) fn decode(raw: &[u8], budget: &mut DecodeBudget) -> Result<OpLog, DocError> {
        let mut r = ColumnReader::new(raw);
        let containers = read_containers(&mut r, budget)?;
        let text = read_text(&mut r, budget)?;
        let (graph, headers) = read_graph(&mut r, budget)?;
        let widths = read_widths(&mut r, &graph, &headers, budget)?;
        let whole = changes::decode_raw(r.bytes("operations kept whole")?, budget)?;
        let store = OpStore::with_tables(text, containers).ok_or(MALFORMED(
            "a container named twice in the operation table, or too many containers",
        ))?;
        let mut reader = OpReader {
            cols: OpColumns::read(&mut r)?,
            store,
            text_at: 0,
            whole: whole.into_iter(),
            deletes: 0,
            replica: ReplicaId(0),
        };
        let mut width_at = 0;
        for (run, header) in graph.runs().iter().zip(&headers) {
            let run_widths = &widths[width_at..width_at + header.widths];
            width_at += header.widths;
            budget.charge_values::<StoredOp>(header.ops, 0, "stored operations")?;
            reader.read_run(run, header.ops, run_widths)?;
        }
        reader.cols.finish()?;
        if reader.text_at != reader.store.text().len() || reader.whole.next().is_some() {
            return Err(MALFORMED("text or operations left over").into());
        }
        if reader.deletes > raw.len() as u64 * MAX_DELETES_PER_BYTE {
            return Err(MALFORMED("more deletes than the history's bytes can hold").into());
        }
        let changes = widths.iter().map(|w| w.count as usize).sum();
        let mut log = OpLog {
            graph,
            ops: reader.store,
            widths: widths.into_iter().collect(),
            meta: BTreeMap::new(),
            changes,
            spare_ops: None,
            #[cfg(test)]
            shadow: Vec::new(),
        };
        log.meta = read_meta(&mut r, &log, budget)?;
        r.finish("history")?;
        #[cfg(test)]
        {
            log.shadow = log.changes().collect();
        }
        Ok(log)
    }
}

fn read_containers(
    r: &mut ColumnReader<'_>,
    budget: &mut DecodeBudget,
) -> Result<Vec<ContainerId>, DecodeError> {
    let n = r.count("containers", 2, r.remaining())?;
    let mut containers = Vec::with_capacity(n);
    for _ in 0..n {
        let id = read_container_id(r, budget)?;
        check_container_id(&id).map_err(MALFORMED)?;
        if id.kind() != ContainerKind::Text {
            return Err(MALFORMED("bad container of the operation table"));
        }
        containers.push(id);
    }
    Ok(containers)
}

fn read_text(r: &mut ColumnReader<'_>, budget: &mut DecodeBudget) -> Result<String, DecodeError> {
    let bytes = r.bytes("inserted text")?;
    if u32::try_from(bytes.len()).is_err() {
        return Err(MALFORMED("inserted text too long"));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| MALFORMED("text is not UTF-8"))?;
    budget.charge(text.len(), "inserted text")?;
    Ok(text.to_owned())
}

/// The graph runs (see `OpLog::encode_graph`), each checked as it is appended, and how many
/// widths and operations each has.
fn read_graph(
    r: &mut ColumnReader<'_>,
    budget: &mut DecodeBudget,
) -> Result<(CausalGraph, Vec<RunHeader>), DocError> {
    let n = r.count("replicas", 8, r.remaining())?;
    budget.charge_values::<ReplicaId>(n, 0, "replicas")?;
    let mut replicas = Vec::with_capacity(n);
    for _ in 0..n {
        let replica = ReplicaId(r.fixed_u64("replica")?);
        // Increasing, as written: no replica twice.
        if replicas.last().is_some_and(|&last| last >= replica) {
            return Err(MALFORMED("replica table out of order").into());
        }
        replicas.push(replica);
    }
    // Each run takes at least a byte in each of its columns.
    let n = r.count("graph runs", 1, r.remaining())?;
    budget.charge_values::<GraphRun>(n, 0, "graph runs")?;
    let mut who = ColumnReader::new(r.bytes("run replicas")?);
    let mut lens = ColumnReader::new(r.bytes("run lengths")?);
    let mut lamports = ColumnReader::new(r.bytes("run lamports")?);
    let mut parents_col = ColumnReader::new(r.bytes("run parents")?);
    let mut counts = ColumnReader::new(r.bytes("run counts")?);
    let replica_at = |c: &mut ColumnReader<'_>| -> Result<ReplicaId, DocError> {
        let i = c.u64("replica index")?;
        usize::try_from(i)
            .ok()
            .and_then(|i| replicas.get(i).copied())
            .ok_or_else(|| MALFORMED("replica index out of range").into())
    };
    let mut graph = CausalGraph::default();
    let mut headers = Vec::with_capacity(n);
    let (mut first_op, mut first_width) = (0usize, 0usize);
    for _ in 0..n {
        let replica = replica_at(&mut who)?;
        let start = graph.version().get(replica).saturating_add(1);
        let end = start
            .checked_add(lens.u64("run length")?)
            .ok_or(MALFORMED("run length overflows"))?;
        let base = graph.max_lamport().saturating_add(1);
        let lamport = add_delta(base, unzigzag(lamports.u64("run lamport")?));
        let parents_n = parents_col.count("parents", 2, parents_col.remaining())?;
        budget.charge_values::<Dot>(parents_n, 0, "parents")?;
        let mut parents = Vec::with_capacity(parents_n);
        for _ in 0..parents_n {
            let replica = replica_at(&mut parents_col)?;
            parents.push(Dot::new(replica, parents_col.u64("parent counter")?));
        }
        let widths = counts.u64("width runs")?;
        let ops = counts.u64("stored operations")?;
        // Bounded by the bytes of their own sections, checked when those are read.
        let (Ok(widths), Ok(ops)) = (usize::try_from(widths), usize::try_from(ops)) else {
            return Err(MALFORMED("too many widths or operations").into());
        };
        if widths == 0 || ops == 0 {
            return Err(MALFORMED("a run without changes or operations").into());
        }
        graph.push_run(GraphRun {
            replica,
            start,
            end,
            lamport,
            parents: parents.into_boxed_slice(),
            first_op,
            first_width,
        })?;
        first_op = first_op
            .checked_add(ops)
            .ok_or(MALFORMED("too many operations"))?;
        first_width = first_width
            .checked_add(widths)
            .ok_or(MALFORMED("too many widths"))?;
        headers.push(RunHeader { widths, ops });
    }
    for (column, what) in [
        (&who, "run replicas"),
        (&lens, "run lengths"),
        (&lamports, "run lamports"),
        (&parents_col, "run parents"),
        (&counts, "run counts"),
    ] {
        column.finish(what)?;
    }
    Ok((graph, headers))
}

/// The change widths of every run; each run's add up to its length.
fn read_widths(
    r: &mut ColumnReader<'_>,
    graph: &CausalGraph,
    headers: &[RunHeader],
    budget: &mut DecodeBudget,
) -> Result<Vec<WidthRun>, DecodeError> {
    let total: usize = headers.iter().map(|h| h.widths).sum();
    if total > r.remaining() / 2 {
        return Err(MALFORMED("more width runs than bytes"));
    }
    budget.charge_values::<WidthRun>(total, 0, "width runs")?;
    let mut widths = Vec::with_capacity(total);
    for (run, header) in graph.runs().iter().zip(headers) {
        let mut covered: u64 = 0;
        for _ in 0..header.widths {
            let width = r.u64("change width")?;
            let count = u32::try_from(r.u64("change count")?)
                .map_err(|_| MALFORMED("change count too large"))?;
            if width == 0 || count == 0 {
                return Err(MALFORMED("an empty change"));
            }
            covered = width
                .checked_mul(u64::from(count))
                .and_then(|n| covered.checked_add(n))
                .ok_or(MALFORMED("change widths overflow"))?;
            widths.push(WidthRun { width, count });
        }
        if covered != run.end - run.start {
            return Err(MALFORMED("change widths do not fill their run"));
        }
    }
    Ok(widths)
}

/// The columns of the stored operations (see `encode`).
struct OpColumns<'a> {
    kinds: ColumnReader<'a>,
    objs: ColumnReader<'a>,
    dot_tags: ColumnReader<'a>,
    dot_values: ColumnReader<'a>,
    lens: ColumnReader<'a>,
    deletes: ColumnReader<'a>,
}

impl<'a> OpColumns<'a> {
    fn read(r: &mut ColumnReader<'a>) -> Result<Self, DecodeError> {
        Ok(OpColumns {
            kinds: ColumnReader::new(r.bytes("operation kinds")?),
            objs: ColumnReader::new(r.bytes("operation containers")?),
            dot_tags: ColumnReader::new(r.bytes("dot tags")?),
            dot_values: ColumnReader::new(r.bytes("dot values")?),
            lens: ColumnReader::new(r.bytes("insert lengths")?),
            deletes: ColumnReader::new(r.bytes("delete runs")?),
        })
    }

    /// Every column read to its end: nothing is left that no operation claimed.
    fn finish(&self) -> Result<(), DecodeError> {
        self.kinds.finish("operation kinds")?;
        self.objs.finish("operation containers")?;
        self.dot_tags.finish("dot tags")?;
        self.dot_values.finish("dot values")?;
        self.lens.finish("insert lengths")?;
        self.deletes.finish("delete runs")?;
        Ok(())
    }
}

/// Reads stored operations run by run, checking each against its run and the change
/// boundaries.
struct OpReader<'a> {
    cols: OpColumns<'a>,
    /// The store being filled, its text and containers already in.
    store: OpStore,
    /// Where the next compact insert's text starts in the buffer.
    text_at: usize,
    whole: std::vec::IntoIter<Change>,
    /// The deletes the delete runs hold, together.
    deletes: u64,
    /// The replica of the run being read.
    replica: ReplicaId,
}

impl OpReader<'_> {
    /// The `n` stored operations of `run`, whose change widths are `widths`, onto `out`.
    fn read_run(&mut self, run: &GraphRun, n: usize, widths: &[WidthRun]) -> Result<(), DocError> {
        self.replica = run.replica;
        let mut boundaries = ChangeEnds::new(run.start, widths);
        let mut counter = run.start;
        for _ in 0..n {
            if counter >= run.end {
                return Err(MALFORMED("operations beyond their run").into());
            }
            let stored = match self.cols.kinds.u8("operation kind")? {
                INSERT => self.insert(counter)?,
                DELETE => self.delete(counter)?,
                WHOLE => {
                    let op = self.whole_op(run.replica, counter)?;
                    let end = op.end();
                    if end > boundaries.end_of_change_holding(counter) {
                        return Err(MALFORMED("an operation crosses a change boundary").into());
                    }
                    op
                }
                _ => return Err(MALFORMED("unknown stored operation kind").into()),
            };
            counter = stored.end();
            self.store.push_stored(stored);
        }
        if counter != run.end {
            return Err(MALFORMED("operations do not fill their run").into());
        }
        Ok(())
    }

    /// A dot written by `put_near_dot` for an operation of this run starting at `base`.
    fn near_dot(&mut self, base: u64) -> Result<Option<Dot>, DecodeError> {
        Ok(match self.cols.dot_tags.u8("dot tag")? {
            NO_DOT => None,
            NEAR_DOT => {
                let distance = unzigzag(self.cols.dot_values.u64("dot distance")?);
                Some(Dot::new(self.replica, add_delta(base, distance)))
            }
            FAR_DOT => Some(read_dot(&mut self.cols.dot_values)?),
            _ => return Err(MALFORMED("unknown dot tag")),
        })
    }

    fn obj(&mut self) -> Result<ObjIndex, DecodeError> {
        let obj = self.cols.objs.u64("operation container")?;
        if obj >= self.store.containers().len() as u64 {
            return Err(MALFORMED("operation container out of range"));
        }
        // The table holds at most `ObjIndex::MAX + 1` containers (`with_tables`).
        ObjIndex::try_from(obj).map_err(|_| MALFORMED("operation container out of range"))
    }

    fn insert(&mut self, start: u64) -> Result<StoredOp, DecodeError> {
        let obj = self.obj()?;
        let left = self.near_dot(start)?;
        let left = self
            .store
            .pack(left)
            .ok_or(MALFORMED("origin out of range"))?;
        let right = self.near_dot(start)?;
        let right = self
            .store
            .pack(right)
            .ok_or(MALFORMED("origin out of range"))?;
        let chars = self.cols.lens.u64("insert chars")?;
        let byte_len = chars
            .checked_add(self.cols.lens.u64("insert bytes beyond its characters")?)
            .ok_or(MALFORMED("insert length overflows"))?;
        let end = usize::try_from(byte_len)
            .ok()
            .and_then(|n| self.text_at.checked_add(n))
            .ok_or(MALFORMED("insert text out of range"))?;
        let slice = self
            .store
            .text()
            .get(self.text_at..end)
            .ok_or(MALFORMED("insert text out of range"))?;
        if slice.is_empty() || slice.chars().count() as u64 != chars {
            return Err(MALFORMED("insert text does not hold its characters"));
        }
        if start.checked_add(chars).is_none() {
            return Err(MALFORMED("insert counters overflow"));
        }
        let stored = StoredOp::TextInsert {
            start,
            obj,
            left,
            right,
            bytes: self.text_at as u32,
            byte_len: byte_len as u32,
            chars: chars as u32,
        };
        self.text_at = end;
        Ok(stored)
    }

    fn delete(&mut self, start: u64) -> Result<StoredOp, DecodeError> {
        let obj = self.obj()?;
        let target = self
            .near_dot(start)?
            .ok_or(MALFORMED("a delete without a target"))?;
        let len = self.cols.deletes.u64("delete length")?;
        let count = u32::try_from(self.cols.deletes.u64("delete count")?)
            .map_err(|_| MALFORMED("delete count too large"))?;
        let backward = match self.cols.deletes.u8("delete direction")? {
            0 => false,
            1 => true,
            _ => return Err(MALFORMED("unknown delete direction")),
        };
        // Every target of the run is a real counter that packs (below 2^48), so the run's
        // targets stay dots of the target's replica.
        let last = u64::from(count.saturating_sub(1));
        let targets_ok = if backward {
            target.counter > last
        } else {
            target
                .counter
                .checked_add(last)
                .is_some_and(|c| c <= PACKED_COUNTER_MAX && c.checked_add(len).is_some())
        };
        if target.counter == 0
            || len == 0
            || count == 0
            || (count > 1 && len != 1)
            || !targets_ok
            || start.checked_add(u64::from(count)).is_none()
        {
            return Err(MALFORMED("bad delete run"));
        }
        self.deletes = self.deletes.saturating_add(u64::from(count));
        let target = self
            .store
            .pack(Some(target))
            .ok_or(MALFORMED("delete target out of range"))?;
        Ok(StoredOp::TextDelete {
            start,
            obj,
            target,
            len,
            count,
            backward,
        })
    }

    /// The next operation of the batch, which must be a valid one-operation change at
    /// `replica`'s `counter`.
    fn whole_op(&mut self, replica: ReplicaId, counter: u64) -> Result<StoredOp, DocError> {
        let change = self
            .whole
            .next()
            .ok_or(MALFORMED("missing operation kept whole"))?;
        let at = SeqRange {
            replica,
            start: counter,
            end: change.id.end,
        };
        if change.id != at || change.ops.len() != 1 {
            return Err(MALFORMED("operation kept whole out of place").into());
        }
        change.validate()?;
        let op = change.ops.into_iter().next().ok_or(MALFORMED("empty"))?;
        Ok(StoredOp::Whole {
            start: counter,
            op: Box::new(op),
        })
    }
}

/// Walks a run's change boundaries forward: the end of the change holding a counter.
struct ChangeEnds<'w> {
    widths: std::slice::Iter<'w, WidthRun>,
    current: Option<WidthRun>,
    /// First counter of the change `current` describes next.
    start: u64,
}

impl<'w> ChangeEnds<'w> {
    fn new(start: u64, widths: &'w [WidthRun]) -> Self {
        let mut widths = widths.iter();
        let current = widths.next().copied();
        ChangeEnds {
            widths,
            current,
            start,
        }
    }

    /// One past the last counter of the change holding `counter` (counters asked in
    /// increasing order); 0 when no change holds it.
    fn end_of_change_holding(&mut self, counter: u64) -> u64 {
        while let Some(WidthRun { width, count }) = self.current {
            let end = self.start + width;
            if counter < end {
                return end;
            }
            // Skip whole changes of this width run before `counter`.
            let skip = ((counter - self.start) / width).min(u64::from(count));
            let skip = skip.max(1);
            self.start += skip * width;
            let left = count - skip as u32;
            self.current = if left == 0 {
                self.widths.next().copied()
            } else {
                Some(WidthRun { width, count: left })
            };
        }
        0
    }
}

/// The commit metadata, each of the first event of a change of `log`.
fn read_meta(
    r: &mut ColumnReader<'_>,
    log: &OpLog,
    budget: &mut DecodeBudget,
) -> Result<BTreeMap<Dot, Box<CommitMeta>>, DocError> {
    let n = r.count("commit metadata", 11, r.remaining())?;
    budget.charge_values::<CommitMeta>(n, 0, "commit metadata")?;
    let mut meta = BTreeMap::new();
    for _ in 0..n {
        let dot = read_dot(r)?;
        let message = match r.u8("message flag")? {
            0 => None,
            1 => {
                let bytes = r.bytes("commit message")?;
                budget.charge(bytes.len(), "commit message")?;
                Some(
                    std::str::from_utf8(bytes)
                        .map_err(|_| MALFORMED("commit message is not UTF-8"))?
                        .to_owned(),
                )
            }
            _ => return Err(MALFORMED("bad message flag").into()),
        };
        let time = match r.u8("time flag")? {
            0 => None,
            1 => Some(r.u64("commit time")?),
            _ => return Err(MALFORMED("bad time flag").into()),
        };
        let change = log
            .change_containing(dot)
            .filter(|c| c.id.start == dot.counter)
            .ok_or(MALFORMED("commit metadata of no change"))?;
        let entry = CommitMeta { message, time };
        entry.check(change.id)?;
        if meta.insert(dot, Box::new(entry)).is_some() {
            return Err(MALFORMED("commit metadata given twice").into());
        }
    }
    Ok(meta)
}
