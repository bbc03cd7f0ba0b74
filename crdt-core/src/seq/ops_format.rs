//! The columnar binary format of a batch of sequence ops ([`Replicated::encode_ops_since`]
//! and the history inside a [`Replicated`] snapshot).
//!
//! Following Automerge's columnar storage and diamond-types' op encoding, each field of the ops
//! is its own column, so that runs of equal values and small deltas dominate:
//!
//! | column | per op | encoding |
//! |---|---|---|
//! | `kinds` | `len << 4 \| continues << 3 \| kind` | varint |
//! | `agents` | index of the op's replica in the table | run-length |
//! | `counters` | first counter minus the replica's expected next counter | zigzag, run-length |
//! | `ref_agents` | per reference (insert: left and right origin; delete: target): 0 for none, else replica index + 1 | run-length |
//! | `ref_counters` | per present reference: its counter minus the op's counter | zigzag varint |
//! | `content` | the content of the live inserts, concatenated (one UTF-8 string for text) | MessagePack |
//!
//! Kinds: an insert with content; an insert of elements that are deleted by a later op of the
//! same batch (their content is never sent: nobody can need it); an insert whose elements and
//! origins are in an accompanying state (snapshot history); a delete forwards; a delete
//! backwards. An insert flagged `continues` has as left origin the previous op's last element and
//! the previous op's right origin, and stores no reference.
//!
//! The body is `replica count, replicas (8 bytes LE each), op count, the six columns (each
//! length-prefixed)`, inside the [`crate::encoding::compress`] envelope (format version, flags,
//! deflated when smaller).
//!
//! Invariant of the decoder: every count is bounded by the bytes present before anything is
//! allocated (every op consumes at least one byte of `kinds`), every replica index is checked,
//! every column must be consumed exactly, the inflated body and every op decoded are charged to
//! the message's [`DecodeBudget`]; failures are [`SeqError`]s, never panics. Semantic validation (causality, known ids) is the caller's.
//!
//! [`Replicated`]: super::Replicated
//! [`Replicated::encode_ops_since`]: super::Replicated::encode_ops_since

use std::collections::BTreeMap;

use super::content::Content;
use super::error::SeqError;
use crate::clock::{Dot, ReplicaId};
use crate::encoding::budget::DecodeBudget;
use crate::encoding::column::{
    add_delta, delta, put_bytes, put_i64, put_u64, unzigzag, zigzag, ColumnReader, RleReader,
    RleWriter,
};
use crate::encoding::compress::{seal, unseal};
use crate::encoding::FormatError;

/// Format version of op batches.
pub(crate) const OPS_FORMAT: u8 = 2;

/// What a decoded op is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WireKind {
    /// Insert with content.
    Insert,
    /// Insert of elements deleted later in the batch: no content.
    InsertDeleted,
    /// Insert whose elements are in an accompanying state: no origins, no content.
    InsertKnown,
    /// Delete of `target, target+1, ...`.
    Delete,
    /// Delete of `target, target-1, ...`.
    DeleteBackward,
}

impl WireKind {
    fn code(self) -> u64 {
        match self {
            WireKind::Insert => 0,
            WireKind::InsertDeleted => 1,
            WireKind::InsertKnown => 2,
            WireKind::Delete => 3,
            WireKind::DeleteBackward => 4,
        }
    }

    fn from_code(code: u64) -> Result<Self, SeqError> {
        Ok(match code {
            0 => WireKind::Insert,
            1 => WireKind::InsertDeleted,
            2 => WireKind::InsertKnown,
            3 => WireKind::Delete,
            4 => WireKind::DeleteBackward,
            _ => return Err(SeqError::Malformed("unknown op kind")),
        })
    }

    fn has_origins(self) -> bool {
        matches!(self, WireKind::Insert | WireKind::InsertDeleted)
    }
}

/// One decoded op run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WireOp {
    pub(crate) kind: WireKind,
    /// First op id (for inserts, the first element's id).
    pub(crate) id: Dot,
    /// Number of ops (elements inserted or deleted); not checked for zero here.
    pub(crate) len: u64,
    /// Insert: left origin; delete: first target.
    pub(crate) a: Option<Dot>,
    /// Insert: right origin.
    pub(crate) b: Option<Dot>,
}

/// A decoded batch: the ops and the content of the [`WireKind::Insert`] ops, concatenated.
pub(crate) struct OpBatch<C> {
    pub(crate) ops: Vec<WireOp>,
    pub(crate) content: C,
}

/// The replica table a columnar body starts with, built while encoding: replicas in order of
/// first use, each with its index. Asking again for the replica of the previous call costs no
/// hashing (consecutive ops and references mostly name one replica).
#[derive(Default)]
pub(crate) struct ReplicaTable {
    replicas: Vec<ReplicaId>,
    // Not a hash map: what is encoded may come from a hostile peer, and std's hash keys are
    // fixed on wasm32-unknown-unknown.
    index: BTreeMap<ReplicaId, u64>,
    last: Option<(ReplicaId, u32)>,
}

impl ReplicaTable {
    /// The index of `r`, adding it when new; and whether it was new.
    pub(crate) fn index_of(&mut self, r: ReplicaId) -> (u32, bool) {
        if let Some((last, i)) = self.last {
            if last == r {
                return (i, false);
            }
        }
        let next = self.replicas.len() as u32;
        // u64 in the map (the map type of `VersionVector`: no new code in the wasm build);
        // every value is a u32 index inserted here.
        let i = *self.index.entry(r).or_insert(u64::from(next)) as u32;
        let new = i == next;
        if new {
            self.replicas.push(r);
        }
        self.last = Some((r, i));
        (i, new)
    }

    /// The replicas, in index order.
    pub(crate) fn replicas(&self) -> &[ReplicaId] {
        &self.replicas
    }
}

/// Builds an encoded batch op by op.
pub(crate) struct OpsEncoder<C> {
    table: ReplicaTable,
    expected: Vec<u64>,
    ops: u64,
    kinds: Vec<u8>,
    agents: RleWriter,
    counters: RleWriter,
    ref_agents: RleWriter,
    ref_counters: Vec<u8>,
    content: C,
    /// Last element and right origin of the previous op when it was an insert with origins.
    last_insert: Option<(Dot, Option<Dot>)>,
}

impl<C: Content> Default for OpsEncoder<C> {
    fn default() -> Self {
        OpsEncoder {
            table: ReplicaTable::default(),
            expected: Vec::new(),
            ops: 0,
            kinds: Vec::new(),
            agents: RleWriter::default(),
            counters: RleWriter::default(),
            ref_agents: RleWriter::default(),
            ref_counters: Vec::new(),
            content: C::default(),
            last_insert: None,
        }
    }
}

impl<C: Content> OpsEncoder<C> {
    fn agent(&mut self, r: ReplicaId) -> u32 {
        let (a, new) = self.table.index_of(r);
        if new {
            self.expected.push(1);
        }
        a
    }

    fn head(&mut self, kind: WireKind, continues: bool, id: Dot, len: u64) {
        self.ops += 1;
        put_u64(
            &mut self.kinds,
            (len << 4) | (u64::from(continues) << 3) | kind.code(),
        );
        let a = self.agent(id.replica);
        self.agents.push(u64::from(a));
        let expected = &mut self.expected[a as usize];
        self.counters.push(zigzag(delta(id.counter, *expected)));
        *expected = id.counter.wrapping_add(len);
    }

    fn reference(&mut self, base: u64, d: Option<Dot>) {
        match d {
            None => self.ref_agents.push(0),
            Some(d) => {
                let a = self.agent(d.replica);
                self.ref_agents.push(u64::from(a) + 1);
                put_i64(&mut self.ref_counters, delta(d.counter, base));
            }
        }
    }

    /// An insert of `len` elements from `id`, with its content, or `None` when every element
    /// is deleted by a later op of the batch.
    pub(crate) fn insert(
        &mut self,
        id: Dot,
        origin_left: Option<Dot>,
        origin_right: Option<Dot>,
        len: u64,
        content: Option<&C>,
    ) {
        let kind = if content.is_some() {
            WireKind::Insert
        } else {
            WireKind::InsertDeleted
        };
        let continues = match (self.last_insert, origin_left) {
            (Some((last, or)), Some(l)) => l == last && or == origin_right,
            _ => false,
        };
        self.head(kind, continues, id, len);
        if !continues {
            self.reference(id.counter, origin_left);
            self.reference(id.counter, origin_right);
        }
        if let Some(c) = content {
            self.content.append(c);
        }
        self.last_insert = Some((
            Dot::new(id.replica, id.counter.wrapping_add(len).wrapping_sub(1)),
            origin_right,
        ));
    }

    /// An insert whose elements and origins are in the accompanying state.
    pub(crate) fn insert_known(&mut self, id: Dot, len: u64) {
        self.head(WireKind::InsertKnown, false, id, len);
        self.last_insert = None;
    }

    /// Delete ops `id..id+len` of elements from `target` onwards (downwards when `backward`).
    pub(crate) fn delete(&mut self, id: Dot, len: u64, target: Dot, backward: bool) {
        let kind = if backward {
            WireKind::DeleteBackward
        } else {
            WireKind::Delete
        };
        self.head(kind, false, id, len);
        self.reference(id.counter, Some(target));
        self.last_insert = None;
    }

    /// The encoded batch.
    pub(crate) fn finish(self) -> Vec<u8> {
        let mut raw = Vec::with_capacity(self.kinds.len() * 2 + self.content.len() + 64);
        put_u64(&mut raw, self.table.replicas().len() as u64);
        for r in self.table.replicas() {
            raw.extend_from_slice(&r.0.to_le_bytes());
        }
        put_u64(&mut raw, self.ops);
        put_bytes(&mut raw, &self.kinds);
        put_bytes(&mut raw, &self.agents.finish());
        put_bytes(&mut raw, &self.counters.finish());
        put_bytes(&mut raw, &self.ref_agents.finish());
        put_bytes(&mut raw, &self.ref_counters);
        // Serializing content (a string, or a vector of serializable values) into a Vec does
        // not fail for the content types of this crate.
        put_bytes(
            &mut raw,
            &rmp_serde::to_vec(&self.content).unwrap_or_default(),
        );
        seal(OPS_FORMAT, &raw)
    }
}

/// Reads the replica table at the start of a body: each replica distinct.
pub(crate) fn read_replicas(r: &mut ColumnReader<'_>) -> Result<Vec<ReplicaId>, SeqError> {
    let n = r.count("replica table", 8, r.remaining())?;
    // Grown as entries are read (each takes 8 bytes), not sized from the count.
    let mut replicas = Vec::new();
    // Each replica with its index: ordered (hostile input; no fixed-key hashing), and the map
    // type of `VersionVector` (no new code in the wasm build).
    let mut seen = BTreeMap::new();
    for i in 0..n {
        let id = ReplicaId(r.fixed_u64("replica id")?);
        if seen.insert(id, i as u64).is_some() {
            return Err(SeqError::Malformed("duplicate replica in table"));
        }
        replicas.push(id);
    }
    Ok(replicas)
}

/// Reads optional references: `0` for none, else a replica index + 1 and a counter delta.
pub(crate) struct RefReader<'a> {
    agents: RleReader<'a>,
    counters: ColumnReader<'a>,
}

impl<'a> RefReader<'a> {
    /// A reader over the agent and counter columns of references.
    pub(crate) fn new(agents: &'a [u8], counters: &'a [u8]) -> Self {
        RefReader {
            agents: RleReader::new(agents, "reference agents"),
            counters: ColumnReader::new(counters),
        }
    }

    /// The next reference, relative to counter `base`.
    pub(crate) fn next(
        &mut self,
        replicas: &[ReplicaId],
        base: u64,
    ) -> Result<Option<Dot>, SeqError> {
        let a = self.agents.next_value()?;
        if a == 0 {
            return Ok(None);
        }
        let replica = usize::try_from(a - 1)
            .ok()
            .and_then(|i| replicas.get(i))
            .ok_or(SeqError::Malformed("replica index out of range"))?;
        let d = self.counters.i64("reference counters")?;
        Ok(Some(Dot::new(*replica, add_delta(base, d))))
    }

    /// Errors unless both columns were consumed.
    pub(crate) fn finish(&self) -> Result<(), SeqError> {
        self.agents.finish()?;
        self.counters.finish("reference counters")?;
        Ok(())
    }
}

/// Decodes a batch made by [`OpsEncoder`] within the budget of its own length; checks structure
/// only (see the module docs).
pub(crate) fn decode_ops<C: Content>(bytes: &[u8]) -> Result<OpBatch<C>, SeqError> {
    decode_ops_within(bytes, &mut DecodeBudget::for_input(bytes.len()))
}

/// [`decode_ops`], charging `budget` (shared with the rest of the message).
pub(crate) fn decode_ops_within<C: Content>(
    bytes: &[u8],
    budget: &mut DecodeBudget,
) -> Result<OpBatch<C>, SeqError> {
    let raw = unseal(OPS_FORMAT, bytes, budget)?;
    let mut r = ColumnReader::new(&raw);
    let replicas = read_replicas(&mut r)?;
    let n = r.count("op count", 1, r.remaining())?;
    let mut kinds = ColumnReader::new(r.bytes("kinds")?);
    if n > kinds.remaining() {
        return Err(FormatError::CountTooLarge {
            what: "op count",
            claimed: n as u64,
            remaining: kinds.remaining(),
        }
        .into());
    }
    let mut agents = RleReader::new(r.bytes("agents")?, "agents");
    let mut counters = RleReader::new(r.bytes("counters")?, "counters");
    let mut refs = RefReader::new(r.bytes("reference agents")?, r.bytes("reference counters")?);
    let content_bytes = r.bytes("content")?;
    r.finish("op batch")?;
    // The content owns at most its bytes; serde sizes no vector past a small cap from a count.
    budget.charge_values::<C>(1, content_bytes.len(), "op content")?;
    let content: C = rmp_serde::from_slice(content_bytes)?;
    let mut expected = vec![1u64; replicas.len()];
    let mut ops: Vec<WireOp> = Vec::new();
    for _ in 0..n {
        budget.charge_values::<WireOp>(1, 0, "ops")?;
        let k = kinds.u64("kinds")?;
        let kind = WireKind::from_code(k & 7)?;
        let continues = k & 8 != 0;
        let len = k >> 4;
        let agent = usize::try_from(agents.next_value()?)
            .ok()
            .filter(|&a| a < replicas.len())
            .ok_or(SeqError::Malformed("replica index out of range"))?;
        let counter = add_delta(expected[agent], unzigzag(counters.next_value()?));
        expected[agent] = counter.wrapping_add(len);
        let id = Dot::new(replicas[agent], counter);
        let (a, b) = match kind {
            _ if continues => {
                let prev = ops
                    .last()
                    .filter(|p| kind.has_origins() && p.kind.has_origins())
                    .ok_or(SeqError::Malformed(
                        "continuation without a previous insert",
                    ))?;
                let last = prev.id.counter.wrapping_add(prev.len).wrapping_sub(1);
                (Some(Dot::new(prev.id.replica, last)), prev.b)
            }
            WireKind::Insert | WireKind::InsertDeleted => (
                refs.next(&replicas, counter)?,
                refs.next(&replicas, counter)?,
            ),
            WireKind::InsertKnown => (None, None),
            WireKind::Delete | WireKind::DeleteBackward => (
                Some(
                    refs.next(&replicas, counter)?
                        .ok_or(SeqError::Malformed("delete without target"))?,
                ),
                None,
            ),
        };
        ops.push(WireOp {
            kind,
            id,
            len,
            a,
            b,
        });
    }
    kinds.finish("kinds")?;
    agents.finish()?;
    counters.finish()?;
    refs.finish()?;
    Ok(OpBatch { ops, content })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seq::TextContent;

    fn d(r: u64, c: u64) -> Dot {
        Dot::new(ReplicaId::new(r), c)
    }

    #[test]
    fn round_trip_with_continuations() {
        let mut e: OpsEncoder<TextContent> = OpsEncoder::default();
        e.insert(d(1, 1), None, None, 3, Some(&"abc".into()));
        // Continues the previous insert: no references stored.
        e.insert(d(1, 4), Some(d(1, 3)), None, 2, None);
        e.insert(d(1, 6), Some(d(1, 5)), None, 1, Some(&"f".into()));
        e.insert(d(2, 1), Some(d(1, 2)), Some(d(1, 3)), 2, Some(&"xy".into()));
        e.delete(d(1, 7), 2, d(1, 5), true);
        e.delete(d(2, 3), 1, d(1, 1), false);
        e.insert_known(d(2, 4), 5);
        let bytes = e.finish();
        let batch: OpBatch<TextContent> = decode_ops(&bytes).unwrap();
        assert_eq!(batch.content.as_str(), "abcfxy");
        let k = |kind, id, len, a, b| WireOp {
            kind,
            id,
            len,
            a,
            b,
        };
        assert_eq!(
            batch.ops,
            vec![
                k(WireKind::Insert, d(1, 1), 3, None, None),
                k(WireKind::InsertDeleted, d(1, 4), 2, Some(d(1, 3)), None),
                k(WireKind::Insert, d(1, 6), 1, Some(d(1, 5)), None),
                k(WireKind::Insert, d(2, 1), 2, Some(d(1, 2)), Some(d(1, 3))),
                k(WireKind::DeleteBackward, d(1, 7), 2, Some(d(1, 5)), None),
                k(WireKind::Delete, d(2, 3), 1, Some(d(1, 1)), None),
                k(WireKind::InsertKnown, d(2, 4), 5, None, None),
            ]
        );
    }

    #[test]
    fn structural_errors() {
        let mut e: OpsEncoder<TextContent> = OpsEncoder::default();
        e.insert(d(1, 1), None, None, 1, Some(&"a".into()));
        let good = e.finish();
        assert!(decode_ops::<TextContent>(&good).is_ok());
        // A body claiming 2^40 replicas or ops: refused before allocating.
        for body in [
            vec![0x80, 0x80, 0x80, 0x80, 0x80, 0x20],
            vec![0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20],
        ] {
            let mut bytes = vec![OPS_FORMAT, 0];
            bytes.extend_from_slice(&body);
            assert!(matches!(
                decode_ops::<TextContent>(&bytes),
                Err(SeqError::Format(FormatError::CountTooLarge { .. }))
            ));
        }
        // A continuation first, or after a delete.
        let mut raw = Vec::new();
        put_u64(&mut raw, 1);
        raw.extend_from_slice(&1u64.to_le_bytes());
        put_u64(&mut raw, 1);
        put_bytes(&mut raw, &[(1 << 4) | 8]);
        put_bytes(&mut raw, &[1, 0]);
        put_bytes(&mut raw, &[1, 0]);
        put_bytes(&mut raw, &[]);
        put_bytes(&mut raw, &[]);
        put_bytes(&mut raw, &rmp_serde::to_vec("a").unwrap());
        assert_eq!(
            decode_ops::<TextContent>(&seal(OPS_FORMAT, &raw)).err(),
            Some(SeqError::Malformed(
                "continuation without a previous insert"
            ))
        );
    }
}
