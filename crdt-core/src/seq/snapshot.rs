//! Full-state snapshots of a [`Sequence`]: the runs in document order (ids, origins, deleted
//! flag) and the live content, MessagePack-encoded. Decoding rebuilds the tree directly, in
//! O(n log n) for the id index and O(n) for the tree, without replaying any op.
//!
//! Decoding never trusts its input: every length is bounded by the bytes present (rmp-serde
//! checks lengths against the slice), every id must be fresh, every origin must name an element
//! of the snapshot that lies on the correct side of the run, and the content must match the live
//! runs exactly. Any violation is a [`SeqError`], never a panic.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::content::Content;
use super::error::SeqError;
use super::id_map::{IdMap, LeafIndex, NONE};
use super::tree::{Run, Tree, MAX_RUN};
use super::Sequence;
use crate::clock::{Dot, ReplicaId};

/// Format version written in every snapshot.
const FORMAT: u8 = 1;

/// An element id on the wire: (index into the replica table, counter).
type WireId = (u32, u64);

/// One run: replica index, first counter, length, deleted, left origin, right origin.
#[derive(Serialize, Deserialize)]
struct WireRun(u32, u64, u32, bool, Option<WireId>, Option<WireId>);

#[derive(Serialize, Deserialize)]
#[serde(bound(deserialize = "C: DeserializeOwned"))]
struct WireState<C> {
    format: u8,
    replicas: Vec<ReplicaId>,
    runs: Vec<WireRun>,
    content: C,
}

impl<C: Content> Sequence<C> {
    /// Encodes the full state (see the [module docs](self)).
    pub fn encode_state(&self) -> Vec<u8> {
        let mut replicas: Vec<ReplicaId> = Vec::with_capacity(self.ids.replica_count());
        let mut table = std::collections::BTreeMap::new();
        let mut wire_id = |d: Dot| -> WireId {
            let n = table.len() as u32;
            let i = *table.entry(d.replica).or_insert_with(|| {
                replicas.push(d.replica);
                n
            });
            (i, d.counter)
        };
        let mut runs = Vec::with_capacity(self.tree.run_count());
        let mut content = C::default();
        for leaf in self.tree.leaves_in_order() {
            content.append(&leaf.content);
            for r in &leaf.runs {
                let id = wire_id(self.ids.dot_of(r.lv));
                let ol = self.ids.opt_dot(r.ol).map(&mut wire_id);
                let or = self.ids.opt_dot(r.or).map(&mut wire_id);
                runs.push(WireRun(id.0, id.1, r.len(), r.deleted(), ol, or));
            }
        }
        let state = WireState {
            format: FORMAT,
            replicas,
            runs,
            content,
        };
        // Serializing plain data into a Vec cannot fail.
        rmp_serde::to_vec(&state).unwrap_or_default()
    }

    /// Decodes a snapshot made by [`Sequence::encode_state`], validating everything.
    pub fn decode_state(bytes: &[u8]) -> Result<Self, SeqError> {
        let state: WireState<C> = rmp_serde::from_slice(bytes)?;
        if state.format != FORMAT {
            return Err(SeqError::Malformed("unknown snapshot format"));
        }
        let mut seen = std::collections::BTreeSet::new();
        if !state.replicas.iter().all(|r| seen.insert(*r)) {
            return Err(SeqError::Malformed("duplicate replica in table"));
        }
        let dot = |(i, c): WireId| -> Result<Dot, SeqError> {
            let r = state
                .replicas
                .get(i as usize)
                .ok_or(SeqError::Malformed("replica index out of range"))?;
            Ok(Dot::new(*r, c))
        };
        // Pass 1: ids, in document order (local versions follow document order).
        let mut spans = Vec::with_capacity(state.runs.len());
        let mut next: u32 = 0;
        let mut live = 0usize;
        for WireRun(agent, counter, len, deleted, _, _) in &state.runs {
            let id = dot((*agent, *counter))?;
            if *len == 0 || *len > MAX_RUN || id.counter == 0 {
                return Err(SeqError::Malformed("bad run length or counter"));
            }
            if id.counter.checked_add(u64::from(*len)).is_none() {
                return Err(SeqError::Malformed("counter overflow"));
            }
            next = next
                .checked_add(*len)
                .filter(|&n| n < NONE)
                .ok_or(SeqError::CapacityExceeded)?;
            if !deleted {
                live += *len as usize;
            }
            spans.push((id, *len));
        }
        if live != state.content.len() {
            return Err(SeqError::Malformed(
                "content length does not match live runs",
            ));
        }
        let ids = IdMap::from_runs(&spans).map_err(SeqError::Malformed)?;
        // Pass 2: origins, which must be known and on the correct sides.
        let mut runs = Vec::with_capacity(state.runs.len());
        let mut lv = 0u32;
        for WireRun(_, _, len, deleted, ol, or) in &state.runs {
            let resolve = |w: &Option<WireId>| -> Result<u32, SeqError> {
                match w {
                    None => Ok(NONE),
                    Some(w) => {
                        let d = dot(*w)?;
                        ids.lv_of(d).ok_or(SeqError::UnknownId(d))
                    }
                }
            };
            let (ol, or) = (resolve(ol)?, resolve(or)?);
            if (ol != NONE && ol >= lv) || (or != NONE && or < lv + len) {
                return Err(SeqError::Malformed("origin on the wrong side of its run"));
            }
            runs.push(Run::new(lv, *len, ol, or, *deleted));
            lv += len;
        }
        let tree = Tree::build(runs, state.content);
        let mut index = LeafIndex::default();
        for (i, leaf) in tree.leaves.iter().enumerate() {
            if let (Some(first), Some(last)) = (leaf.runs.first(), leaf.runs.last()) {
                index.set(first.lv, last.end(), i as u32);
            }
        }
        Ok(Sequence { tree, ids, index })
    }
}
