//! Full-state snapshots of a [`Sequence`]: the runs in document order (ids, origins, deleted
//! flag) and the live content, in columns (as Automerge stores its op set and diamond-types its
//! document): decoding rebuilds the tree directly, in O(n log n) for the id index and O(n) for
//! the tree, without replaying any op.
//!
//! | column | per run | encoding |
//! |---|---|---|
//! | `lens` | `len << 1 \| deleted` | varint |
//! | `agents` | replica index of the first id | run-length |
//! | `counters` | first counter minus the replica's expected next counter (the end of its previous run) | zigzag, run-length |
//! | `ref_agents` | left then right origin: 0 for none, 1 for the neighbour (left origin: the last element of the previous run; right origin: the first element of the next run), else replica index + 2; in a state written with [`KnownOrigins`], 0 for the known origin and every other code one higher | run-length |
//! | `ref_counters` | per other origin: its counter minus the run's first counter | zigzag varint |
//! | `content` | the live content, concatenated | MessagePack |
//!
//! The body is `replica count, replicas (8 bytes LE each), run count, the six columns (each
//! length-prefixed)`, inside the [`crate::encoding::compress`] envelope.
//!
//! Decoding never trusts its input: every count is bounded by the bytes present, every id must
//! be fresh, every origin must name an element of the snapshot outside its own run, and the
//! content must match the live runs exactly. Any violation is a [`SeqError`], never a panic.
//! Origins may lie on either side of their run: a remote batch can insert an element whose
//! origins (elements the same batch inserts, so not checkable before applying) come in the wrong
//! order, and it lands deterministically ([`Sequence::apply_validated`]); the snapshot of such a
//! sequence must load, or a replica that accepted the batch could not reload what it holds. The
//! integration walk is bounded by the document, whatever the origins' order.

use std::borrow::Cow;
use std::ops::Range;

use super::content::Content;
use super::error::SeqError;
use super::id_map::{IdMap, LeafIndex, NONE};
use super::ops_format::{read_replicas, ReplicaTable};
use super::tree::{Run, Tree, MAX_RUN};
use super::Sequence;
use crate::clock::{Dot, ReplicaId};
use crate::encoding::budget::DecodeBudget;
use crate::encoding::column::{
    add_delta, delta, put_bytes, put_i64, put_u64, unzigzag, zigzag, ColumnReader, RleReader,
    RleWriter,
};
use crate::encoding::compress::{seal, unseal};
use crate::encoding::FormatError;

/// Format version written in every snapshot.
const FORMAT: u8 = 2;

/// A run's left and right origins.
pub(crate) type Origins = (Option<Dot>, Option<Dot>);

/// Where the origins of a state written without most of them are found: given the first id of
/// every run, in document order, the origins each was inserted with (`None` when unknown). A
/// document's text knows them from the inserts of its history, so its saved state writes only
/// the origins that differ (none, in an intact document): on automerge-paper they were a
/// third of the state. Asked once for all the runs, so that the history can answer in one
/// sweep instead of a search per run; given with the runs' indexes in id order ([`id_order`]),
/// which the reader needs for its id index anyway, so that the sweep need not sort them again.
pub(crate) type KnownOrigins<'k> = &'k mut dyn FnMut(&[Dot], &[usize]) -> Vec<Option<Origins>>;

/// The indexes of `dots` in id order: by replica, then counter (equal ids in the order given).
pub(crate) fn id_order(dots: &[Dot]) -> Vec<usize> {
    crate::sort_keys::sorted_keys(
        dots.iter()
            .map(|d| (d.replica.0, d.counter, 0))
            .zip(0..)
            .collect(),
    )
    .into_iter()
    .map(|(_, i)| i)
    .collect()
}

/// Reads a state's content from its content column and its runs (whose ids say where to find
/// content the column does not hold). A trait object, so that the wasm build holds one copy of
/// the decoder per content type rather than one per caller.
pub(crate) type ContentDecoder<'d, C> =
    &'d mut dyn FnMut(&[u8], &[StateRun], &mut DecodeBudget) -> Result<C, SeqError>;

/// The `ref_agents` code of "the known origin" (the other codes move up by one beside it).
const KNOWN_ORIGIN: u64 = 0;

/// The first id of every run, in order.
fn first_ids(runs: &[StateRun]) -> Vec<Dot> {
    runs.iter().map(|r| r.id).collect()
}

/// The left one of a run's origins.
fn left(origins: Origins) -> Option<Dot> {
    origins.0
}

/// The right one of a run's origins.
fn right(origins: Origins) -> Option<Dot> {
    origins.1
}

/// One run of a snapshot, with ids resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StateRun {
    pub(crate) id: Dot,
    pub(crate) len: u32,
    pub(crate) deleted: bool,
    pub(crate) origin_left: Option<Dot>,
    pub(crate) origin_right: Option<Dot>,
}

/// The last element of a run.
fn last_of(run: &StateRun) -> Dot {
    Dot::new(
        run.id.replica,
        run.id
            .counter
            .wrapping_add(u64::from(run.len))
            .wrapping_sub(1),
    )
}

/// Writes runs and content in the snapshot format (any runs: tests hand-make bad ones), the
/// content as serde's MessagePack.
#[cfg(test)]
pub(crate) fn write_state<C: Content>(runs: &[StateRun], content: &C) -> Vec<u8> {
    write_state_raw(runs, &serde_content(content), None)
}

/// Writes runs with an empty content column (a document's text whose characters its history
/// holds), for the tests to forge such states.
#[cfg(test)]
pub(crate) fn write_state_without_content(runs: &[StateRun]) -> Vec<u8> {
    write_state_raw(runs, &[], None)
}

/// Writes runs with an empty content column and the origins `known` gives left out, for the
/// tests to forge such states.
#[cfg(test)]
pub(crate) fn write_state_with_known_origins(runs: &[StateRun], known: KnownOrigins) -> Vec<u8> {
    write_state_raw(runs, &[], Some(known))
}

/// The content as serde's MessagePack. Serializing content (a string, or a vector of
/// serializable values) into a Vec does not fail for the content types of this crate.
fn serde_content<C: Content>(content: &C) -> Vec<u8> {
    rmp_serde::to_vec(content).unwrap_or_default()
}

/// Writes runs and already encoded content in the snapshot format; with `known`, an origin it
/// gives is written as [`KNOWN_ORIGIN`].
fn write_state_raw(runs: &[StateRun], content: &[u8], known: Option<KnownOrigins>) -> Vec<u8> {
    let base = u64::from(known.is_some());
    let known = known.map_or_else(Vec::new, |k| {
        let firsts = first_ids(runs);
        k(&firsts, &id_order(&firsts))
    });
    let mut table = ReplicaTable::default();
    let mut expected: Vec<u64> = Vec::new();
    let mut agent = |r: ReplicaId, expected: &mut Vec<u64>| {
        let (a, new) = table.index_of(r);
        if new {
            expected.push(1);
        }
        a
    };
    let mut lens = Vec::with_capacity(runs.len() * 2);
    let (mut agents, mut counters, mut ref_agents) = (
        RleWriter::default(),
        RleWriter::default(),
        RleWriter::default(),
    );
    let mut ref_counters = Vec::with_capacity(runs.len() * 2);
    for (i, run) in runs.iter().enumerate() {
        put_u64(
            &mut lens,
            (u64::from(run.len) << 1) | u64::from(run.deleted),
        );
        let a = agent(run.id.replica, &mut expected);
        agents.push(u64::from(a));
        let e = &mut expected[a as usize];
        counters.push(zigzag(delta(run.id.counter, *e)));
        *e = run.id.counter.wrapping_add(u64::from(run.len));
        let prev_last = i.checked_sub(1).map(|p| last_of(&runs[p]));
        let next_first = runs.get(i + 1).map(|n| n.id);
        let known_here = known.get(i).copied().flatten();
        for (origin, neighbour, side) in [
            (
                run.origin_left,
                prev_last,
                left as fn(Origins) -> Option<Dot>,
            ),
            (run.origin_right, next_first, right),
        ] {
            match origin {
                o if known_here.map(side) == Some(o) => ref_agents.push(KNOWN_ORIGIN),
                None => ref_agents.push(base),
                Some(o) if Some(o) == neighbour => ref_agents.push(base + 1),
                Some(o) => {
                    let oa = agent(o.replica, &mut expected);
                    ref_agents.push(u64::from(oa) + base + 2);
                    put_i64(&mut ref_counters, delta(o.counter, run.id.counter));
                }
            }
        }
    }
    let mut raw = Vec::with_capacity(lens.len() * 3 + content.len() + 64);
    put_u64(&mut raw, table.replicas().len() as u64);
    for r in table.replicas() {
        raw.extend_from_slice(&r.0.to_le_bytes());
    }
    put_u64(&mut raw, runs.len() as u64);
    put_bytes(&mut raw, &lens);
    put_bytes(&mut raw, &agents.finish());
    put_bytes(&mut raw, &counters.finish());
    put_bytes(&mut raw, &ref_agents.finish());
    put_bytes(&mut raw, &ref_counters);
    put_bytes(&mut raw, content);
    seal(FORMAT, &raw)
}

/// Reads runs and content written by [`write_state_raw`] (with `known` when it was written with
/// it), the content by `decode`; checks structure only.
fn read_state<C: Content>(
    bytes: &[u8],
    budget: &mut DecodeBudget,
    known: Option<KnownOrigins>,
    decode: ContentDecoder<C>,
) -> Result<(Vec<StateRun>, Vec<usize>, C), SeqError> {
    let RunsAndBody {
        runs,
        by_id,
        raw,
        content_at,
    } = read_runs(bytes, budget, known)?;
    // Last: the content may be read from elsewhere by the runs' ids (a document's texts take
    // theirs from its history).
    let content: C = decode(&raw[content_at], &runs, budget)?;
    Ok((runs, by_id, content))
}

/// A state's runs, their indexes in id order, its unsealed body, and where the content column
/// lies in that body.
struct RunsAndBody<'b> {
    runs: Vec<StateRun>,
    by_id: Vec<usize>,
    raw: Cow<'b, [u8]>,
    content_at: Range<usize>,
}

/// The runs of a state written by [`write_state_raw`], their indexes in id order, the unsealed
/// body, and where its content column lies in it. Not generic, so the wasm build holds one
/// copy for every content type.
fn read_runs<'b>(
    bytes: &'b [u8],
    budget: &mut DecodeBudget,
    known: Option<KnownOrigins>,
) -> Result<RunsAndBody<'b>, SeqError> {
    let base = u64::from(known.is_some());
    let raw = unseal(FORMAT, bytes, budget)?;
    let mut r = ColumnReader::new(&raw);
    let replicas = read_replicas(&mut r)?;
    let n = r.count("run count", 1, r.remaining())?;
    let mut lens = ColumnReader::new(r.bytes("run lengths")?);
    if n > lens.remaining() {
        return Err(FormatError::CountTooLarge {
            what: "run count",
            claimed: n as u64,
            remaining: lens.remaining(),
        }
        .into());
    }
    let mut agents = RleReader::new(r.bytes("agents")?, "agents");
    let mut counters = RleReader::new(r.bytes("counters")?, "counters");
    let mut ref_agents = RleReader::new(r.bytes("reference agents")?, "reference agents");
    let mut ref_counters = ColumnReader::new(r.bytes("reference counters")?);
    // The content is the last column: it ends the body (`finish` checks nothing follows).
    let content_len = r.bytes("content")?.len();
    r.finish("snapshot")?;
    let content_at = raw.len() - content_len..raw.len();
    let mut expected = vec![1u64; replicas.len()];
    // Each run is decoded here, then becomes a span, an id-index entry and a tree run. Charged
    // before the vector is reserved: `n` is bounded by the bytes of its column, and the budget
    // by the bytes received.
    budget.charge_values::<StateRun>(n.saturating_mul(4), 0, "runs")?;
    let mut runs = Vec::with_capacity(n);
    for _ in 0..n {
        let l = lens.u64("run lengths")?;
        let len = u32::try_from(l >> 1)
            .ok()
            .filter(|&len| len > 0 && len <= MAX_RUN)
            .ok_or(SeqError::Malformed("bad run length or counter"))?;
        let agent = usize::try_from(agents.next_value()?)
            .ok()
            .filter(|&a| a < replicas.len())
            .ok_or(SeqError::Malformed("replica index out of range"))?;
        let counter = add_delta(expected[agent], unzigzag(counters.next_value()?));
        expected[agent] = counter.wrapping_add(u64::from(len));
        runs.push(StateRun {
            id: Dot::new(replicas[agent], counter),
            len,
            deleted: l & 1 != 0,
            origin_left: None,
            origin_right: None,
        });
    }
    // Charged with the runs: the sort's pairs take four `u64`s a run, its result one `usize`.
    let firsts = first_ids(&runs);
    let by_id = id_order(&firsts);
    // Origins, once every run's id is known (a right origin may name the next run).
    let known = match known {
        Some(k) => {
            // The answers, and what finding them takes per run (the ids, where each is): about
            // four answers' worth.
            budget.charge_values::<Option<Origins>>(runs.len() * 4, 0, "known origins")?;
            let table = k(&firsts, &by_id);
            if table.len() != runs.len() {
                return Err(SeqError::Malformed("known origins of other runs"));
            }
            table
        }
        None => Vec::new(),
    };
    for i in 0..runs.len() {
        let first = runs[i].id;
        let prev_last = i.checked_sub(1).map(|p| last_of(&runs[p]));
        let next_first = runs.get(i + 1).map(|n| n.id);
        let known_here = known.get(i).copied().flatten();
        let mut origin = |neighbour: Option<Dot>,
                          side: fn(Origins) -> Option<Dot>|
         -> Result<Option<Dot>, SeqError> {
            match ref_agents.next_value()? {
                KNOWN_ORIGIN if base == 1 => known_here
                    .map(side)
                    .ok_or(SeqError::Malformed("known origin of an unknown element")),
                a if a == base => Ok(None),
                a if a == base + 1 => neighbour
                    .map(Some)
                    .ok_or(SeqError::Malformed("neighbour origin at the edge")),
                a => {
                    let replica = usize::try_from(a - base - 2)
                        .ok()
                        .and_then(|i| replicas.get(i))
                        .ok_or(SeqError::Malformed("replica index out of range"))?;
                    let d = ref_counters.i64("reference counters")?;
                    Ok(Some(Dot::new(*replica, add_delta(first.counter, d))))
                }
            }
        };
        let ol = origin(prev_last, left)?;
        let or = origin(next_first, right)?;
        runs[i].origin_left = ol;
        runs[i].origin_right = or;
    }
    lens.finish("run lengths")?;
    agents.finish()?;
    counters.finish()?;
    ref_agents.finish()?;
    ref_counters.finish("reference counters")?;
    Ok(RunsAndBody {
        runs,
        by_id,
        raw,
        content_at,
    })
}

impl<C: Content> Sequence<C> {
    /// Encodes the full state: the runs in document order (ids, origins, deleted flag) and the
    /// live content, in columns (LEB128, run-length, deltas; deflated when smaller).
    pub fn encode_state(&self) -> Vec<u8> {
        self.encode_state_with(&serde_content)
    }

    /// [`Sequence::encode_state`] with the content written by `encode` instead of serde's
    /// MessagePack (a document's own types have a hand-written codec of the same bytes: see
    /// `doc::format::value_pack`).
    pub(crate) fn encode_state_with(&self, encode: &dyn Fn(&C) -> Vec<u8>) -> Vec<u8> {
        self.encode_state_known(encode, None)
    }

    /// [`Sequence::encode_state_with`], leaving out the origins `known` gives (see
    /// [`KnownOrigins`]); [`Sequence::decode_state_known`] with the same answers reads it.
    pub(crate) fn encode_state_known(
        &self,
        encode: &dyn Fn(&C) -> Vec<u8>,
        known: Option<KnownOrigins>,
    ) -> Vec<u8> {
        let (runs, content) = self.state_runs();
        write_state_raw(&runs, &encode(&content), known)
    }

    /// The runs a snapshot writes, in document order, with their origins resolved to ids, and
    /// the live content.
    pub(crate) fn state_runs(&self) -> (Vec<StateRun>, C) {
        let mut tree_runs: Vec<Run> = Vec::with_capacity(self.tree.run_count());
        let mut content = C::default();
        for leaf in self.tree.leaves_in_order() {
            content.append(&leaf.content);
            tree_runs.extend_from_slice(&leaf.runs);
        }
        let mut runs: Vec<StateRun> = tree_runs
            .iter()
            .map(|r| StateRun {
                id: self.ids.dot_of(r.lv),
                len: r.len(),
                deleted: r.deleted(),
                origin_left: None,
                origin_right: None,
            })
            .collect();
        // Origins: most are the neighbouring run's last (left) or first (right) element, whose
        // ids are known from the pass above; only the others need an id lookup.
        for i in 0..runs.len() {
            let r = tree_runs[i];
            runs[i].origin_left = if r.ol == NONE {
                None
            } else if i > 0 && tree_runs[i - 1].end() - 1 == r.ol {
                Some(last_of(&runs[i - 1]))
            } else {
                Some(self.ids.dot_of(r.ol))
            };
            runs[i].origin_right = if r.or == NONE {
                None
            } else if tree_runs.get(i + 1).is_some_and(|n| n.lv == r.or) {
                Some(runs[i + 1].id)
            } else {
                Some(self.ids.dot_of(r.or))
            };
        }
        (runs, content)
    }

    /// The live elements as runs of consecutive ids (first id, length), in document order:
    /// the runs a snapshot writes, without the deleted ones.
    pub(crate) fn live_id_runs(&self) -> impl Iterator<Item = (Dot, u32)> + '_ {
        self.tree
            .leaves_in_order()
            .flat_map(|leaf| leaf.runs.iter())
            .filter(|r| !r.deleted())
            .map(|r| (self.ids.dot_of(r.lv), r.len()))
    }

    /// Decodes a snapshot made by [`Sequence::encode_state`], validating everything (counts
    /// bounded by the bytes present, ids fresh, origins known and on the correct side, content
    /// matching the live runs); rebuilds the tree without replaying ops.
    ///
    /// What it decodes is bounded by a budget of [`DECODE_RATIO`](crate::encoding::DECODE_RATIO)
    /// times the length of `bytes`.
    pub fn decode_state(bytes: &[u8]) -> Result<Self, SeqError> {
        Self::decode_state_within(bytes, &mut DecodeBudget::for_input(bytes.len()))
    }

    /// [`Sequence::decode_state`], charging `budget` (shared with the rest of the message).
    pub(crate) fn decode_state_within(
        bytes: &[u8],
        budget: &mut DecodeBudget,
    ) -> Result<Self, SeqError> {
        Self::decode_state_with(bytes, budget, &mut |b, _, budget| {
            // The content owns at most its bytes; serde sizes no vector past a small cap.
            budget.charge_values::<C>(1, b.len(), "content")?;
            Ok(rmp_serde::from_slice(b)?)
        })
    }

    /// [`Sequence::decode_state`] with the content read by `decode` (the counterpart of
    /// [`Sequence::encode_state_with`]) from the content column and the runs (whose ids say
    /// where to find content the column does not hold), charging `budget`.
    pub(crate) fn decode_state_with(
        bytes: &[u8],
        budget: &mut DecodeBudget,
        decode: ContentDecoder<C>,
    ) -> Result<Self, SeqError> {
        Self::decode_state_known(bytes, budget, None, decode)
    }

    /// [`Sequence::decode_state_with`] of a state written by [`Sequence::encode_state_known`],
    /// asking `known` for the origins it left out. Those are checked as every other origin is.
    pub(crate) fn decode_state_known(
        bytes: &[u8],
        budget: &mut DecodeBudget,
        known: Option<KnownOrigins>,
        decode: ContentDecoder<C>,
    ) -> Result<Self, SeqError> {
        let (wire, by_id, content) = read_state::<C>(bytes, budget, known, decode)?;
        // Pass 1: ids, in document order (local versions follow document order).
        let mut spans = Vec::with_capacity(wire.len());
        let mut next: u32 = 0;
        let mut live = 0usize;
        for run in &wire {
            if run.id.counter == 0 {
                return Err(SeqError::Malformed("bad run length or counter"));
            }
            if run.id.counter.checked_add(u64::from(run.len)).is_none() {
                return Err(SeqError::Malformed("counter overflow"));
            }
            next = next
                .checked_add(run.len)
                .filter(|&n| n < NONE)
                .ok_or(SeqError::CapacityExceeded)?;
            if !run.deleted {
                live += run.len as usize;
            }
            spans.push((run.id, run.len));
        }
        if live != content.len() {
            return Err(SeqError::Malformed(
                "content length does not match live runs",
            ));
        }
        let ids = IdMap::from_runs(&spans, &by_id).map_err(SeqError::Malformed)?;
        drop(spans);
        // Pass 2: origins, which must be known and outside their own run.
        let mut runs = Vec::with_capacity(wire.len());
        let mut lv = 0u32;
        let resolve = |o: Option<Dot>| -> Result<u32, SeqError> {
            match o {
                None => Ok(NONE),
                Some(d) => ids.lv_of(d).ok_or(SeqError::UnknownId(d)),
            }
        };
        for (i, run) in wire.iter().enumerate() {
            // Local versions follow document order: the previous run's last element is `lv - 1`
            // and the next run's first is `lv + len`, so neighbour origins (most of them) need
            // no id lookup.
            let ol = match run.origin_left {
                Some(o) if i > 0 && o == last_of(&wire[i - 1]) => lv - 1,
                o => resolve(o)?,
            };
            let or = match run.origin_right {
                Some(o) if wire.get(i + 1).is_some_and(|n| n.id == o) => lv + run.len,
                o => resolve(o)?,
            };
            let inside = |o: u32| o != NONE && lv <= o && o < lv + run.len;
            if inside(ol) || inside(or) {
                return Err(SeqError::Malformed("origin inside its own run"));
            }
            runs.push(Run::new(lv, run.len, ol, or, run.deleted));
            lv += run.len;
        }
        drop(wire);
        let tree = Tree::build(runs, content);
        let mut index = LeafIndex::default();
        for (i, leaf) in tree.leaves.iter().enumerate() {
            if let (Some(first), Some(last)) = (leaf.runs.first(), leaf.runs.last()) {
                index.set(first.lv, last.end(), i as u32);
            }
        }
        Ok(Sequence {
            tree,
            ids,
            index,
            hint: (NONE, 0),
            chained: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::clock::{Dot, ReplicaId};
    use crate::seq::{SeqOp, Sequence, TextContent};

    /// A remote insert whose origins come in the wrong order (its left origin after its right
    /// one) lands deterministically; the sequence's snapshot loads to the same content and
    /// re-encodes identically (fuzz/crashers/text_apply_encoded: such a text could not be
    /// reloaded).
    #[test]
    fn a_sequence_holding_an_insert_with_origins_in_the_wrong_order_round_trips() {
        let a = ReplicaId::new(1);
        let mut seq: Sequence<TextContent> = Sequence::new();
        seq.local_insert(0, TextContent::from("abc"), Dot::new(a, 1))
            .expect("in range");
        let wrong = SeqOp::Insert {
            id: Dot::new(ReplicaId::new(2), 1),
            origin_left: Some(Dot::new(a, 3)),
            origin_right: Some(Dot::new(a, 1)),
            content: TextContent::from("X"),
        };
        assert!(seq.apply(&wrong).is_err(), "apply checks the order it can");
        seq.apply_validated(&wrong).expect("known origins");
        seq.check_invariants();
        let bytes = seq.encode_state();
        let loaded = Sequence::<TextContent>::decode_state(&bytes).expect("its snapshot loads");
        assert_eq!(loaded.to_content(), seq.to_content());
        assert_eq!(loaded.encode_state(), bytes);
        loaded.check_invariants();
    }

    /// With the side check relaxed, every single-bit change of a snapshot is still refused or
    /// decodes to a sequence that passes its invariants.
    #[test]
    fn bit_flips_of_a_snapshot_are_refused_or_decode_consistently() {
        let a = ReplicaId::new(1);
        let mut seq: Sequence<TextContent> = Sequence::new();
        seq.local_insert(0, TextContent::from("ab"), Dot::new(a, 1))
            .expect("in range");
        let honest = seq.encode_state();
        assert!(Sequence::<TextContent>::decode_state(&honest).is_ok());
        for i in 0..honest.len() {
            let mut forged = honest.clone();
            forged[i] ^= 0x01;
            if let Ok(s) = Sequence::<TextContent>::decode_state(&forged) {
                s.check_invariants();
            }
        }
    }
}
