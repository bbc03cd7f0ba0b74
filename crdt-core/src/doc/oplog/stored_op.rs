//! The operations of the history in the compact form the log keeps them in.
//!
//! Typing is what a history is mostly made of, and an editor commits after every keystroke, so
//! most changes hold one one-character insert or one one-character delete. Kept as they
//! arrive, each would be a heap-allocated `Op` naming its container by a `String`. Instead,
//! as diamond-types keeps its operations in run-length form, the log merges an insert that
//! continues the previous one (the next counter, its left origin the previous insert's last
//! character, the same right origin) into one stored insert, and a delete of the character
//! next to the previous delete's (backspace, or the delete key) into one stored run of
//! deletes, whatever change each came in. Text lives in one buffer; containers are small
//! integers. Other operations (maps, lists, counters, marks) are kept as they are.
//!
//! Merging loses nothing: slicing a merged insert at a change boundary gives back exactly the
//! insert that change made (its left origin is the character before, its right origin the
//! run's), and each delete of a run is one counter, as each was made.

use std::collections::BTreeMap;

use super::local_ops::LocalOps;
use crate::chunked_vec::ChunkedVec;
use crate::clock::{Dot, ReplicaId};
use crate::doc::change::Op;
use crate::doc::value::ContainerId;
use crate::seq::{Content, SeqOp, TextContent};

/// A dot as stored: the replica's index in the store's replica table in the top 16 bits, the
/// counter in the low 48, and 0 for none (the text's start or end; no element has counter 0).
/// Eight bytes instead of a `Dot`'s sixteen and an `Option`'s tag: most of a stored insert is
/// its two origins. A dot that does not fit (a counter from 2^48 on, a 65,537th replica) keeps
/// its operation whole instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct PackedDot(u64);

/// Bits of a packed dot's counter.
const COUNTER_BITS: u32 = 48;
/// The counter bits of a packed dot.
const COUNTER_MASK: u64 = (1 << COUNTER_BITS) - 1;
/// The highest counter a packed dot holds.
pub(super) const PACKED_COUNTER_MAX: u64 = COUNTER_MASK;

impl PackedDot {
    /// No dot.
    pub(super) const NONE: PackedDot = PackedDot(0);
}

/// A container as compact operations name it: its index in the store's container table.
/// Sixteen bits, so that a stored insert is 40 bytes rather than 48 (the enum's tag and the
/// index share the word its other fields leave); the operations on a 65,537th text keep their
/// operations whole instead.
pub(super) type ObjIndex = u16;

/// One stored operation or run of operations, taking counters `start..end()` of its graph
/// run's replica.
#[derive(Clone, Debug)]
pub(super) enum StoredOp {
    /// Characters `start..start + chars` inserted into text `obj`, their text
    /// `bytes..bytes + byte_len` of the log's text buffer.
    TextInsert {
        start: u64,
        obj: ObjIndex,
        left: PackedDot,
        right: PackedDot,
        bytes: u32,
        byte_len: u32,
        chars: u32,
    },
    /// `count` deletes from text `obj`, one counter each: the first deletes `len` characters
    /// from `target`; when `count > 1` each deletes one, the next one after (or, `backward`,
    /// before) the previous one's.
    TextDelete {
        start: u64,
        obj: ObjIndex,
        target: PackedDot,
        len: u64,
        count: u32,
        backward: bool,
    },
    /// Any other operation, as made.
    Whole { start: u64, op: Box<Op> },
}

impl StoredOp {
    /// The first counter it takes.
    pub(super) fn start(&self) -> u64 {
        match self {
            StoredOp::TextInsert { start, .. }
            | StoredOp::TextDelete { start, .. }
            | StoredOp::Whole { start, .. } => *start,
        }
    }

    /// One past the last counter it takes.
    pub(super) fn end(&self) -> u64 {
        match self {
            StoredOp::TextInsert { start, chars, .. } => start + u64::from(*chars),
            StoredOp::TextDelete { start, count, .. } => start + u64::from(*count),
            StoredOp::Whole { start, op } => start + op.width(),
        }
    }
}

/// The operations of the whole history, in the order of the graph's runs, with the text and
/// the container table they share.
#[derive(Clone, Debug, Default)]
pub(super) struct OpStore {
    ops: ChunkedVec<StoredOp>,
    text: String,
    containers: Vec<ContainerId>,
    /// Held as `u32`s, though they fit an [`ObjIndex`]: the map type the build has already.
    container_index: BTreeMap<ContainerId, u32>,
    /// The replicas packed dots name, by index (and the index of each, in `VersionVector`'s
    /// map type, whose code the build has already).
    replicas: Vec<ReplicaId>,
    replica_index: BTreeMap<ReplicaId, u64>,
}

impl OpStore {
    /// An empty store whose compact inserts' text is `text` and containers `containers` (what
    /// a decoder fills with [`push_stored`](Self::push_stored)); `None` when a container is
    /// named twice.
    pub(super) fn with_tables(text: String, containers: Vec<ContainerId>) -> Option<OpStore> {
        let mut container_index = BTreeMap::new();
        for (i, id) in containers.iter().enumerate() {
            if container_index
                .insert(id.clone(), u32::from(ObjIndex::try_from(i).ok()?))
                .is_some()
            {
                return None;
            }
        }
        Some(OpStore {
            ops: ChunkedVec::default(),
            text,
            containers,
            container_index,
            replicas: Vec::new(),
            replica_index: BTreeMap::new(),
        })
    }

    /// Appends a decoded stored operation (its checks are the decoder's).
    pub(super) fn push_stored(&mut self, op: StoredOp) {
        self.ops.push(op);
    }

    /// `dot` packed, interning its replica; `Some(NONE)` for no dot, `None` when it does not
    /// fit a packed dot.
    pub(super) fn pack(&mut self, dot: Option<Dot>) -> Option<PackedDot> {
        let Some(dot) = dot else {
            return Some(PackedDot::NONE);
        };
        if dot.counter == 0 || dot.counter >> COUNTER_BITS != 0 {
            return None;
        }
        // A lone writer's dots all name one replica, the last interned: checked first.
        let index = if self.replicas.last() == Some(&dot.replica) {
            (self.replicas.len() - 1) as u64
        } else if let Some(&index) = self.replica_index.get(&dot.replica) {
            index
        } else {
            let index = self.replicas.len() as u64;
            if index >> (64 - COUNTER_BITS) != 0 {
                return None;
            }
            self.replicas.push(dot.replica);
            self.replica_index.insert(dot.replica, index);
            index
        };
        Some(PackedDot(index << COUNTER_BITS | dot.counter))
    }

    /// The dot `packed` stands for; `None` for no dot.
    pub(super) fn unpack(&self, packed: PackedDot) -> Option<Dot> {
        if packed == PackedDot::NONE {
            return None;
        }
        let replica = *self.replicas.get((packed.0 >> COUNTER_BITS) as usize)?;
        Some(Dot::new(replica, packed.0 & COUNTER_MASK))
    }

    /// The containers the compact operations name, by their numbers.
    pub(super) fn containers(&self) -> &[ContainerId] {
        &self.containers
    }

    /// The text of every compact insert, in order.
    pub(super) fn text(&self) -> &str {
        &self.text
    }

    /// Number of stored operations.
    pub(super) fn len(&self) -> usize {
        self.ops.len()
    }

    /// The stored operations, for the tests to forge hostile histories with.
    #[cfg(test)]
    pub(super) fn ops_vec(&self) -> Vec<StoredOp> {
        self.ops.iter().cloned().collect()
    }

    /// The container table, for the tests to forge oversized ones with.
    #[cfg(test)]
    pub(super) fn containers_mut(&mut self) -> &mut Vec<ContainerId> {
        &mut self.containers
    }

    /// Replaces the stored operations (the tests' forged ones).
    #[cfg(test)]
    pub(super) fn set_ops(&mut self, ops: Vec<StoredOp>) {
        self.ops = ops.into_iter().collect();
    }

    /// The stored operation at `index`.
    pub(super) fn get(&self, index: usize) -> &StoredOp {
        &self.ops[index]
    }

    /// One past the last counter of the stored op at `index`, if there is one.
    pub(super) fn end_of(&self, index: usize) -> Option<u64> {
        self.ops.get(index).map(StoredOp::end)
    }

    /// The first index in `range` whose stored operation ends after `counter` (the one
    /// holding it, when one does); `range.end` when none does. A binary search: a range's
    /// operations take increasing counters.
    pub(super) fn first_ending_after(&self, range: std::ops::Range<usize>, counter: u64) -> usize {
        self.ops.partition_point(range, |op| op.end() <= counter)
    }

    /// The small integer naming `obj`, interned on first use. The last interned container is
    /// checked first: runs of typing name one text.
    pub(super) fn intern(&mut self, obj: &ContainerId) -> Option<ObjIndex> {
        if let Some(last) = self.containers.len().checked_sub(1) {
            if self.containers[last] == *obj {
                return ObjIndex::try_from(last).ok();
            }
        }
        if let Some(&index) = self.container_index.get(obj) {
            // Every value was inserted from an `ObjIndex`.
            return ObjIndex::try_from(index).ok();
        }
        let index = ObjIndex::try_from(self.containers.len()).ok()?;
        self.containers.push(obj.clone());
        self.container_index.insert(obj.clone(), u32::from(index));
        Some(index)
    }

    /// Appends `op`, which takes counters from `dot` on; merges it into the last stored
    /// operation when `may_merge` (the last one belongs to the same graph run) and it
    /// continues it.
    pub(super) fn push(&mut self, dot: Dot, op: Op, may_merge: bool) {
        let stored = match &op {
            Op::Text { obj, op: seq_op } => self.compact_text_op(dot, obj, seq_op),
            _ => None,
        };
        let Some(stored) = stored else {
            self.ops.push(StoredOp::Whole {
                start: dot.counter,
                op: Box::new(op),
            });
            return;
        };
        if let Op::Text {
            op: SeqOp::Insert { content, .. },
            ..
        } = &op
        {
            // The stored insert names these bytes (`bytes` was the buffer's length).
            self.push_text(content.as_str());
        }
        if may_merge && self.merge_into_last(&stored, dot.replica) {
            return;
        }
        self.ops.push(stored);
    }

    /// Appends `text` to the buffer of inserted text, growing it by half rather than doubling:
    /// it holds every character ever typed and lives as long as the document, so doubling
    /// would leave it a third empty on average. Growing copies it, as doubling does, but the
    /// copies still add up to a few times what it holds.
    fn push_text(&mut self, text: &str) {
        let (len, room) = (self.text.len(), self.text.capacity() - self.text.len());
        if text.len() > room {
            self.text.reserve_exact(text.len().max(len / 2).max(64));
        }
        self.text.push_str(text);
    }

    /// The compact form of a text operation, or `None` when one of its numbers does not fit
    /// it (then it is stored whole).
    pub(super) fn compact_text_op(
        &mut self,
        dot: Dot,
        obj: &ContainerId,
        op: &SeqOp<TextContent>,
    ) -> Option<StoredOp> {
        match op {
            SeqOp::Insert {
                origin_left,
                origin_right,
                content,
                ..
            } => self.compact_insert(
                dot.counter,
                obj,
                (*origin_left, *origin_right),
                (self.text.len(), content.as_str().len()),
                content.len(),
            ),
            SeqOp::Delete { target, len } => Some(StoredOp::TextDelete {
                start: dot.counter,
                obj: self.intern(obj)?,
                target: self.pack(Some(*target))?,
                len: *len,
                count: 1,
                backward: false,
            }),
        }
    }

    /// The compact form of an insert into `obj` taking counters from `start`, its `chars`
    /// characters at `(offset, length)` in bytes of the text buffer they will be in; `None`
    /// when one of its numbers does not fit it.
    pub(super) fn compact_insert(
        &mut self,
        start: u64,
        obj: &ContainerId,
        (left, right): (Option<Dot>, Option<Dot>),
        (offset, length): (usize, usize),
        chars: usize,
    ) -> Option<StoredOp> {
        let bytes = u32::try_from(offset).ok()?;
        let byte_len = u32::try_from(length)
            .ok()
            .filter(|&n| bytes.checked_add(n).is_some())?;
        Some(StoredOp::TextInsert {
            start,
            obj: self.intern(obj)?,
            left: self.pack(left)?,
            right: self.pack(right)?,
            bytes,
            byte_len,
            chars: u32::try_from(chars).ok()?,
        })
    }

    /// Extends the last stored operation by `next` when `next` continues it.
    fn merge_into_last(&mut self, next: &StoredOp, replica: ReplicaId) -> bool {
        // The left origin a continuing insert has: the last character, of this run's replica
        // (interned when `next` was packed, if `next` names it).
        let last_end = self.ops.last().map_or(0, StoredOp::end);
        let previous_char = self.packed(replica, last_end.wrapping_sub(1));
        match self.ops.last_mut() {
            Some(last) => merge_runs(last, next, previous_char),
            None => false,
        }
    }

    /// `counter` of `replica` packed, if the replica is interned (no interning: a dot the
    /// store does not know yet cannot equal a packed one).
    pub(super) fn packed(&self, replica: ReplicaId, counter: u64) -> Option<PackedDot> {
        // A lone writer's replica is the last interned: checked first, as `pack` does.
        let index = match self.replicas.last() {
            Some(last) if *last == replica => (self.replicas.len() - 1) as u64,
            _ => *self.replica_index.get(&replica)?,
        };
        Some(PackedDot(index << COUNTER_BITS | (counter & COUNTER_MASK)))
    }

    /// Appends the operations of a local transaction (its first counter just after the log's
    /// last stored op when `may_merge`), their text after the store's; `local` is left empty.
    pub(super) fn append_local(
        &mut self,
        replica: ReplicaId,
        local: &mut LocalOps,
        may_merge: bool,
    ) {
        let base = self.text.len();
        if u32::try_from(base + local.text.len()).is_err() {
            // The text buffer would outgrow its offsets: the operations go in whole.
            return self.append_local_whole(replica, local, may_merge);
        }
        self.push_text(&local.text);
        let mut may_merge = may_merge;
        for mut stored in local.ops.drain(..) {
            if let StoredOp::TextInsert { bytes, .. } = &mut stored {
                // Fits: checked above for the whole buffer.
                *bytes += base as u32;
            }
            if !(may_merge && self.merge_into_last(&stored, replica)) {
                self.ops.push(stored);
            }
            may_merge = true;
        }
        local.text.clear();
    }

    /// [`append_local`](Self::append_local) rebuilding every operation as made and storing it
    /// whole.
    #[cold]
    fn append_local_whole(&mut self, replica: ReplicaId, local: &mut LocalOps, may_merge: bool) {
        let mut made = Vec::new();
        let mut cursor = TextCursor::default();
        for (index, stored) in local.ops.iter().enumerate() {
            let (from, to) = (stored.start(), stored.end());
            self.slice_into(
                &local.text,
                replica,
                index,
                stored,
                from,
                to,
                &mut cursor,
                &mut made,
            );
        }
        let mut counter = local.ops.first().map_or(0, StoredOp::start);
        local.ops.clear();
        local.text.clear();
        let mut may_merge = may_merge;
        for op in made {
            let width = op.width();
            self.push(Dot::new(replica, counter), op, may_merge);
            counter += width;
            may_merge = true;
        }
    }

    /// The operations taking counters `from..to` of `replica`, which the stored operation at
    /// `index` starts to cover, sliced to that range, in order; `index` is left at the last
    /// one used. `cursor` remembers where in the text buffer the last slice ended, so that
    /// slicing a long run change by change stays linear.
    pub(super) fn ops_in(
        &self,
        replica: ReplicaId,
        index: &mut usize,
        from: u64,
        to: u64,
        cursor: &mut TextCursor,
    ) -> Vec<Op> {
        let mut out = Vec::with_capacity(1);
        let mut counter = from;
        while counter < to && *index < self.ops.len() {
            let stored = &self.ops[*index];
            let end = stored.end().min(to);
            self.slice_into(
                &self.text, replica, *index, stored, counter, end, cursor, &mut out,
            );
            counter = end;
            if end == stored.end() {
                *index += 1;
            }
        }
        out
    }

    /// The stored operation at `index` whole, as the operation that made it (a merged insert
    /// as one insert of all its characters; a delete run's delete at `counter`).
    pub(super) fn op_at(
        &self,
        replica: ReplicaId,
        index: usize,
        counter: u64,
    ) -> Option<(Dot, Op)> {
        let stored = self.ops.get(index)?;
        let (from, to) = match stored {
            StoredOp::TextDelete { .. } => (counter, counter + 1),
            _ => (stored.start(), stored.end()),
        };
        let mut out = Vec::with_capacity(1);
        self.slice_into(
            &self.text,
            replica,
            index,
            stored,
            from,
            to,
            &mut TextCursor::default(),
            &mut out,
        );
        out.pop().map(|op| (Dot::new(replica, from), op))
    }

    /// Pushes onto `out` the operations the stored op at `index` (of `replica`'s run) made,
    /// each with its first counter, as few as applying them allows: a merged insert whole (the
    /// chained inserts it merged), a run of one-character deletes as one delete of the
    /// characters it covers (deleting by id does not depend on the order, so it deletes what
    /// they delete), any other operation as made. `false` when they do not take the stored
    /// op's counters exactly or a delete names no dot (only a forged history does that).
    pub(super) fn merged_ops_of(
        &self,
        replica: ReplicaId,
        index: usize,
        out: &mut Vec<(u64, Op)>,
    ) -> bool {
        let stored = self.get(index);
        if let StoredOp::TextDelete {
            start,
            obj,
            target,
            len: 1,
            count,
            backward,
        } = stored
        {
            if *count > 1 {
                let lowest = match backward {
                    true => delete_target(*target, *count - 1, true),
                    false => *target,
                };
                let Some(lowest) = self.unpack(lowest) else {
                    return false;
                };
                let op = SeqOp::Delete {
                    target: lowest,
                    len: u64::from(*count),
                };
                let obj = self.containers[*obj as usize].clone();
                out.push((*start, Op::Text { obj, op }));
                return true;
            }
        }
        let (from, to) = (stored.start(), stored.end());
        let mut ops = Vec::with_capacity(1);
        let cursor = &mut TextCursor::default();
        self.slice_into(
            &self.text, replica, index, stored, from, to, cursor, &mut ops,
        );
        let mut counter = from;
        for op in ops {
            let width = op.width();
            out.push((counter, op));
            counter += width;
        }
        counter == to
    }

    /// Pushes onto `out` the operations `stored` (at `index`) made with counters `from..to`.
    #[allow(clippy::too_many_arguments)]
    fn slice_into(
        &self,
        text: &str,
        replica: ReplicaId,
        index: usize,
        stored: &StoredOp,
        from: u64,
        to: u64,
        cursor: &mut TextCursor,
        out: &mut Vec<Op>,
    ) {
        match stored {
            StoredOp::TextInsert {
                start,
                obj,
                left,
                right,
                bytes,
                byte_len,
                chars,
            } => {
                let run = &text[*bytes as usize..(*bytes + *byte_len) as usize];
                let ascii = *byte_len == *chars;
                let text = cursor.slice(index, run, ascii, from - start, to - start);
                let origin_left = if from == *start {
                    self.unpack(*left)
                } else {
                    Some(Dot::new(replica, from - 1))
                };
                out.push(Op::Text {
                    obj: self.containers[*obj as usize].clone(),
                    op: SeqOp::Insert {
                        id: Dot::new(replica, from),
                        origin_left,
                        origin_right: self.unpack(*right),
                        content: TextContent::from(text),
                    },
                });
            }
            StoredOp::TextDelete {
                start,
                obj,
                target,
                len,
                backward,
                ..
            } => {
                for j in from - start..to - start {
                    // `j` < count, so the target stays within the run checked when merging or
                    // decoding: a dot of the target's replica.
                    let Some(target) = self.unpack(delete_target(*target, j as u32, *backward))
                    else {
                        continue;
                    };
                    out.push(Op::Text {
                        obj: self.containers[*obj as usize].clone(),
                        op: SeqOp::Delete { target, len: *len },
                    });
                }
            }
            StoredOp::Whole { op, .. } => out.push((**op).clone()),
        }
    }

    /// The operations in `range` kept whole (marks, maps, lists, counters), with their first
    /// counters.
    pub(super) fn whole_ops(
        &self,
        range: std::ops::Range<usize>,
    ) -> impl Iterator<Item = (u64, &Op)> {
        self.ops.range(range).filter_map(|stored| match stored {
            StoredOp::Whole { start, op } => Some((*start, &**op)),
            _ => None,
        })
    }
}

/// The target of the `j`th delete of a run starting at `target` (within the run, checked when
/// merging and when decoding, so it stays a dot of the same replica).
pub(super) fn delete_target(target: PackedDot, j: u32, backward: bool) -> PackedDot {
    let j = u64::from(j);
    PackedDot(if backward {
        target.0.wrapping_sub(j)
    } else {
        target.0.wrapping_add(j)
    })
}

/// Where in a merged insert's text the last slice ended: `(op index, char offset, byte
/// offset)`, so that the next slice of the same insert starts there instead of at its first
/// character.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct TextCursor {
    at: Option<(usize, u64, usize)>,
}

impl TextCursor {
    /// Characters `from..to` of `run` (the text of the stored op at `index`; `ascii` when
    /// every character is one byte).
    fn slice<'t>(
        &mut self,
        index: usize,
        run: &'t str,
        ascii: bool,
        from: u64,
        to: u64,
    ) -> &'t str {
        if ascii {
            return &run[from as usize..to as usize];
        }
        let (mut chars, mut byte) = match self.at {
            Some((i, c, b)) if i == index && c <= from => (c, b),
            _ => (0, 0),
        };
        let advance = |chars: &mut u64, byte: &mut usize, target: u64| {
            for ch in run[*byte..].chars() {
                if *chars == target {
                    break;
                }
                *byte += ch.len_utf8();
                *chars += 1;
            }
        };
        advance(&mut chars, &mut byte, from);
        let begin = byte;
        advance(&mut chars, &mut byte, to);
        self.at = Some((index, chars, byte));
        &run[begin..byte]
    }
}

/// Extends stored operation `last` by `next` when `next` continues it: an insert typed right
/// after it (`previous_char` is `last`'s last character, packed), or the delete of the
/// character next to a one-character delete's. Returns whether it did.
pub(super) fn merge_runs(
    last: &mut StoredOp,
    next: &StoredOp,
    previous_char: Option<PackedDot>,
) -> bool {
    let last_end = last.end();
    match (last, next) {
        (
            StoredOp::TextInsert {
                obj,
                right,
                bytes,
                byte_len,
                chars,
                ..
            },
            StoredOp::TextInsert {
                start: next_start,
                obj: next_obj,
                left: next_left,
                right: next_right,
                bytes: next_bytes_at,
                byte_len: next_bytes,
                chars: next_chars,
            },
        ) => {
            let continues = *obj == *next_obj
                && *next_start == last_end
                && Some(*next_left) == previous_char
                && last_end - 1 <= COUNTER_MASK
                && *right == *next_right
                && bytes.checked_add(*byte_len) == Some(*next_bytes_at);
            let (Some(b), Some(c)) = (
                byte_len.checked_add(*next_bytes),
                chars.checked_add(*next_chars),
            ) else {
                return false;
            };
            if !continues {
                return false;
            }
            *byte_len = b;
            *chars = c;
            true
        }
        (
            StoredOp::TextDelete {
                obj,
                target,
                len,
                count,
                backward,
                ..
            },
            StoredOp::TextDelete {
                start: next_start,
                obj: next_obj,
                target: next_target,
                len: next_len,
                count: next_count,
                backward: next_backward,
            },
        ) => {
            // `next` may be a run itself (a transaction's deletes, merged before its commit).
            if *obj != *next_obj
                || *next_start != last_end
                || *len != 1
                || *next_len != 1
                || count.checked_add(*next_count).is_none()
            {
                return false;
            }
            // Packed dots of one replica differ by their counters; counter 0 never packs,
            // so a step that would leave the replica's bits cannot equal a packed target.
            let last_target = delete_target(*target, *count - 1, *backward).0;
            let forward = last_target.checked_add(1) == Some(next_target.0);
            let back = last_target.checked_sub(1) == Some(next_target.0);
            // The direction of each side that is a run must be the step's.
            let fits = |run_count: u32, run_backward: bool| match run_count {
                1 => true,
                _ => run_backward == back,
            };
            if !(forward || back) || !fits(*count, *backward) || !fits(*next_count, *next_backward)
            {
                return false;
            }
            *backward = back;
            *count += *next_count;
            true
        }
        _ => false,
    }
}

/// Characters per checkpoint of [`TextSlicer`]: a slice of a non-ASCII insert starts at most
/// this many characters from a known byte offset.
const CHECKPOINT_CHARS: usize = 32;

/// Slices inserts' text by character offsets, in any order, in time linear in the slices: for
/// each non-ASCII insert it slices, the byte offset of every [`CHECKPOINT_CHARS`]th character,
/// found once (a saved document may ask for slices of one long insert in any order).
#[derive(Debug, Default)]
pub(crate) struct TextSlicer {
    /// Per non-ASCII stored op sliced, where its entry starts in `flat`.
    entries: BTreeMap<u64, u64>,
    /// The entries: a character count (two words, low first), then the byte offset of every
    /// checkpoint character. One vector and a map of `u64`s: no new collection types in the
    /// wasm build.
    flat: Vec<u32>,
}

impl TextSlicer {
    /// Characters `from..to` of `run` (the text of the stored op at `index`, `ascii` when every
    /// character is one byte); `None` when the run has fewer characters.
    fn slice<'t>(
        &mut self,
        index: usize,
        run: &'t str,
        ascii: bool,
        from: usize,
        to: usize,
    ) -> Option<&'t str> {
        if ascii {
            return run.get(from..to);
        }
        let entry = match self.entries.get(&(index as u64)) {
            Some(&entry) => entry as usize,
            None => self.add_entry(index, run),
        };
        let chars = u64::from(self.flat[entry]) | u64::from(self.flat[entry + 1]) << 32;
        let checkpoints = &self.flat[entry + 2..];
        let byte_at = |at: usize| -> Option<usize> {
            if at as u64 >= chars {
                return (at as u64 == chars).then_some(run.len());
            }
            let base = *checkpoints.get(at / CHECKPOINT_CHARS)? as usize;
            let (offset, _) = run.get(base..)?.char_indices().nth(at % CHECKPOINT_CHARS)?;
            Some(base + offset)
        };
        run.get(byte_at(from)?..byte_at(to)?)
    }

    /// Finds the checkpoints of `run`, the text of the stored op at `index`; returns where its
    /// entry starts.
    fn add_entry(&mut self, index: usize, run: &str) -> usize {
        let entry = self.flat.len();
        self.flat.extend([0, 0]);
        let mut chars = 0u64;
        for (byte, _) in run.char_indices() {
            if chars.is_multiple_of(CHECKPOINT_CHARS as u64) {
                // A run's bytes are within the log's text, whose offsets are `u32`s.
                self.flat.push(byte as u32);
            }
            chars += 1;
        }
        self.flat[entry] = chars as u32;
        self.flat[entry + 1] = (chars >> 32) as u32;
        self.entries.insert(index as u64, entry as u64);
        entry
    }
}

impl OpStore {
    /// Appends to `out` the characters `counter..counter + len` (at most; returns how many) of
    /// the insert stored at `index` when it inserted them into `obj`; `None` when it is not
    /// such an insert.
    pub(super) fn insert_text(
        &self,
        index: usize,
        obj: &ContainerId,
        counter: u64,
        len: u64,
        slicer: &mut TextSlicer,
        out: &mut String,
    ) -> Option<u64> {
        let stored = self.ops.get(index)?;
        let (start, end) = (stored.start(), stored.end());
        if counter < start || counter >= end {
            return None;
        }
        let take = len.min(end - counter);
        let (from, to) = (
            (counter - start) as usize,
            (counter - start + take) as usize,
        );
        let text = match stored {
            StoredOp::TextInsert {
                obj: o,
                bytes,
                byte_len,
                chars,
                ..
            } if self.containers.get(*o as usize) == Some(obj) => {
                let run = self
                    .text
                    .get(*bytes as usize..(*bytes as usize).checked_add(*byte_len as usize)?)?;
                slicer.slice(index, run, byte_len == chars, from, to)?
            }
            StoredOp::Whole { op, .. } => match &**op {
                Op::Text {
                    obj: o,
                    op: SeqOp::Insert { content, .. },
                } if o == obj => {
                    let run = content.as_str();
                    slicer.slice(index, run, run.len() == content.len(), from, to)?
                }
                _ => return None,
            },
            _ => return None,
        };
        out.push_str(text);
        Some(take)
    }

    /// The origins the insert stored at `index` gave character `counter` of `replica` when it
    /// inserted it into `obj`: the insert's own for its first character, else the character
    /// before it and the insert's right origin (how the engine's runs split). `None` when it is
    /// not such an insert.
    pub(super) fn insert_origins(
        &self,
        index: usize,
        obj: &ContainerId,
        replica: ReplicaId,
        counter: u64,
    ) -> Option<(Option<Dot>, Option<Dot>)> {
        let stored = self.ops.get(index)?;
        if counter < stored.start() || counter >= stored.end() {
            return None;
        }
        let (left, right) = match stored {
            StoredOp::TextInsert {
                obj: o,
                left,
                right,
                ..
            } if self.containers.get(*o as usize) == Some(obj) => {
                (self.unpack(*left), self.unpack(*right))
            }
            StoredOp::Whole { op, .. } => match &**op {
                Op::Text {
                    obj: o,
                    op:
                        SeqOp::Insert {
                            origin_left,
                            origin_right,
                            ..
                        },
                } if o == obj => (*origin_left, *origin_right),
                _ => return None,
            },
            _ => return None,
        };
        if counter == stored.start() {
            Some((left, right))
        } else {
            Some((Some(Dot::new(replica, counter - 1)), right))
        }
    }
}
