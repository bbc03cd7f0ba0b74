//! A standalone replicated sequence: a [`Sequence`] (state) plus its replica id, version vector
//! and [`OpLog`](super::history) (history), with the sync pair `encode_ops_since` /
//! `apply_encoded` and full snapshots. [`crate::Text`] and [`crate::List`] are thin wrappers.
//!
//! Wire format of a batch of ops (MessagePack): a format byte, a replica table, the ops as
//! compact tuples referencing the table, and the inserted content of all insert ops concatenated
//! (so a burst of typing is one op and one string on the wire).
//!
//! Applying a batch is all-or-nothing: it is decoded, trimmed against the local version, and
//! fully validated (replica indices, lengths, counters, causal order per replica, every
//! referenced element known or inserted earlier in the batch, capacity) before anything changes.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::content::Content;
use super::error::SeqError;
use super::history::{LoggedOp, OpLog};
use super::op::SeqOp;
use super::Sequence;
use crate::clock::{Dot, ReplicaId, VersionVector};

const OPS_FORMAT: u8 = 1;
const SNAPSHOT_FORMAT: u8 = 1;

const KIND_INSERT: u8 = 0;
const KIND_DELETE: u8 = 1;
const KIND_DELETE_BACKWARD: u8 = 2;

type WireId = (u32, u64);

/// One op run: kind, replica index, first counter, length, and two ids (insert: origins;
/// delete: first target and nothing).
#[derive(Serialize, Deserialize)]
struct WireOp(u8, u32, u64, u64, Option<WireId>, Option<WireId>);

#[derive(Serialize, Deserialize)]
#[serde(bound(deserialize = "C: DeserializeOwned"))]
struct WireOps<C> {
    format: u8,
    replicas: Vec<ReplicaId>,
    ops: Vec<WireOp>,
    content: C,
}

#[derive(Serialize, Deserialize)]
struct WireSnapshot {
    format: u8,
    replica: ReplicaId,
    #[serde(with = "serde_bytes_compat")]
    state: Vec<u8>,
    #[serde(with = "serde_bytes_compat")]
    ops: Vec<u8>,
}

/// Byte vectors as MessagePack binaries (compact), without another dependency.
mod serde_bytes_compat {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        d.deserialize_bytes(V)
    }
}

/// A replicated sequence with its own identity, version and history.
#[derive(Clone, Debug)]
pub struct Replicated<C: Content> {
    replica: ReplicaId,
    seq: Sequence<C>,
    log: OpLog<C>,
}

/// A validated op of a batch, ready to apply.
enum Ready<C> {
    /// Always a [`SeqOp::Insert`].
    Insert(SeqOp<C>),
    Delete {
        id: Dot,
        len: u64,
        target: Dot,
        backward: bool,
    },
}

impl<C: Content> Replicated<C> {
    /// An empty sequence owned by `replica`.
    pub fn new(replica: ReplicaId) -> Self {
        Replicated {
            replica,
            seq: Sequence::new(),
            log: OpLog::default(),
        }
    }

    /// This replica's id.
    pub fn replica(&self) -> ReplicaId {
        self.replica
    }

    /// The state.
    pub fn sequence(&self) -> &Sequence<C> {
        &self.seq
    }

    /// Every op applied here: per replica, the highest counter.
    pub fn version(&self) -> &VersionVector {
        self.log.version()
    }

    fn next_dot(&self) -> Dot {
        Dot::new(self.replica, self.log.version().get(self.replica) + 1)
    }

    /// Local insert of `content` at visible position `pos` (a no-op for empty content).
    pub fn insert(&mut self, pos: usize, content: &C) -> Result<(), SeqError> {
        if content.is_empty() {
            return if pos > self.seq.len() {
                Err(SeqError::OutOfBounds {
                    pos,
                    len: self.seq.len(),
                })
            } else {
                Ok(())
            };
        }
        let id = self.next_dot();
        let (ol, or) = self.seq.local_insert_ref(pos, content, id)?;
        self.log.push_insert(id, ol, or, content);
        Ok(())
    }

    /// Local delete of the visible range `pos..pos+len`.
    pub fn delete(&mut self, pos: usize, len: usize) -> Result<(), SeqError> {
        let mut next = self.next_dot();
        let log = &mut self.log;
        self.seq.local_delete_with(pos, len, |target, n| {
            log.push_delete(next, n, target, false);
            next.counter += n;
        })
    }

    /// The ops `since` lacks, encoded (runs stay runs).
    pub fn encode_ops_since(&self, since: &VersionVector) -> Vec<u8> {
        let mut replicas = Vec::new();
        let mut table: BTreeMap<ReplicaId, u32> = BTreeMap::new();
        let mut wid = |d: Dot| -> WireId {
            let n = table.len() as u32;
            let i = *table.entry(d.replica).or_insert_with(|| {
                replicas.push(d.replica);
                n
            });
            (i, d.counter)
        };
        let mut ops = Vec::new();
        let mut content = C::default();
        for op in self.log.ops_since(since, &self.seq) {
            match op {
                LoggedOp::Insert {
                    id,
                    origin_left,
                    origin_right,
                    content: c,
                } => {
                    let (a, counter) = wid(id);
                    let ol = origin_left.map(&mut wid);
                    let or = origin_right.map(&mut wid);
                    ops.push(WireOp(KIND_INSERT, a, counter, c.len() as u64, ol, or));
                    content.append(&c);
                }
                LoggedOp::Delete {
                    id,
                    len,
                    target,
                    backward,
                } => {
                    let (a, counter) = wid(id);
                    let kind = if backward {
                        KIND_DELETE_BACKWARD
                    } else {
                        KIND_DELETE
                    };
                    ops.push(WireOp(kind, a, counter, len, Some(wid(target)), None));
                }
            }
        }
        let wire = WireOps {
            format: OPS_FORMAT,
            replicas,
            ops,
            content,
        };
        // Serializing plain data into a Vec cannot fail.
        rmp_serde::to_vec(&wire).unwrap_or_default()
    }

    /// Applies ops made by [`Replicated::encode_ops_since`] on another replica: skips what is
    /// already here, validates everything else, then applies all of it. Returns the number of
    /// op runs applied. On error nothing has changed.
    pub fn apply_encoded(&mut self, bytes: &[u8]) -> Result<usize, SeqError> {
        let wire: WireOps<C> = rmp_serde::from_slice(bytes)?;
        let ready = self.validate(wire)?;
        let n = ready.len();
        for op in ready {
            match op {
                Ready::Insert(op) => {
                    self.seq.apply_validated(&op)?;
                    if let SeqOp::Insert {
                        id,
                        origin_left,
                        origin_right,
                        content,
                    } = &op
                    {
                        self.log
                            .push_insert(*id, *origin_left, *origin_right, content);
                    }
                }
                Ready::Delete {
                    id,
                    len,
                    target,
                    backward,
                } => {
                    let first = if backward {
                        Dot::new(target.replica, target.counter + 1 - len)
                    } else {
                        target
                    };
                    self.seq
                        .apply_validated(&SeqOp::Delete { target: first, len })?;
                    self.log.push_delete(id, len, target, backward);
                }
            }
        }
        Ok(n)
    }

    /// Decodes, trims and validates a batch against the current state (see the module docs).
    fn validate(&self, wire: WireOps<C>) -> Result<Vec<Ready<C>>, SeqError> {
        if wire.format != OPS_FORMAT {
            return Err(SeqError::Malformed("unknown ops format"));
        }
        let replica = |i: u32| {
            wire.replicas
                .get(i as usize)
                .copied()
                .ok_or(SeqError::Malformed("replica index out of range"))
        };
        let dot = |w: Option<WireId>| -> Result<Option<Dot>, SeqError> {
            w.map(|(i, c)| Ok(Dot::new(replica(i)?, c))).transpose()
        };
        let mut version = self.log.version().clone();
        // Element ids inserted earlier in this batch: replica -> (start -> end).
        let mut pending: BTreeMap<(ReplicaId, u64), u64> = BTreeMap::new();
        let is_pending = |pending: &BTreeMap<(ReplicaId, u64), u64>, d: Dot| {
            pending
                .range(..=(d.replica, d.counter))
                .next_back()
                .is_some_and(|(&(r, _), &end)| r == d.replica && d.counter < end)
        };
        let mut content_used = 0usize;
        let mut new_elements = 0u64;
        let mut out = Vec::new();
        for WireOp(kind, agent, counter, len, a, b) in wire.ops {
            let id = Dot::new(replica(agent)?, counter);
            if len == 0 || counter == 0 || counter.checked_add(len).is_none() {
                return Err(SeqError::Malformed("bad op counter or length"));
            }
            let have = version.get(id.replica);
            let end = counter + len; // exclusive
            if kind == KIND_INSERT {
                let start = content_used;
                content_used = content_used
                    .checked_add(usize::try_from(len).map_err(|_| SeqError::CapacityExceeded)?)
                    .filter(|&u| u <= wire.content.len())
                    .ok_or(SeqError::Malformed("ops need more content than sent"))?;
                if have + 1 >= end {
                    continue;
                }
                if counter > have + 1 {
                    return Err(SeqError::MissingDependency {
                        expected: Dot::new(id.replica, have + 1),
                        got: id,
                    });
                }
                let k = have + 1 - counter;
                let id = Dot::new(id.replica, counter + k);
                let origin_left = if k > 0 {
                    Some(Dot::new(id.replica, id.counter - 1))
                } else {
                    dot(a)?
                };
                let origin_right = dot(b)?;
                let content = wire.content.slice(start + k as usize, content_used);
                let op = SeqOp::Insert {
                    id,
                    origin_left,
                    origin_right,
                    content,
                };
                self.seq.check_with(&op, |d| is_pending(&pending, d))?;
                if let (Some(l), Some(r)) = (origin_left, origin_right) {
                    if self.seq.contains(l) && self.seq.contains(r) {
                        self.seq.check_origin_order(l, r)?;
                    }
                }
                new_elements += len - k;
                pending.insert((id.replica, id.counter), end);
                version.set(id.replica, end - 1);
                out.push(Ready::Insert(op));
            } else if kind == KIND_DELETE || kind == KIND_DELETE_BACKWARD {
                let backward = kind == KIND_DELETE_BACKWARD;
                let target = dot(a)?.ok_or(SeqError::Malformed("delete without target"))?;
                if have + 1 >= end {
                    continue;
                }
                if counter > have + 1 {
                    return Err(SeqError::MissingDependency {
                        expected: Dot::new(id.replica, have + 1),
                        got: id,
                    });
                }
                let k = have + 1 - counter;
                let len = len - k;
                let target = if backward {
                    Dot::new(
                        target.replica,
                        target
                            .counter
                            .checked_sub(k)
                            .ok_or(SeqError::Malformed("delete target underflow"))?,
                    )
                } else {
                    Dot::new(target.replica, target.counter.saturating_add(k))
                };
                let first = if backward {
                    target
                        .counter
                        .checked_add(1)
                        .and_then(|c| c.checked_sub(len))
                        .filter(|&c| c > 0)
                        .ok_or(SeqError::Malformed("delete target underflow"))?
                } else {
                    target.counter
                };
                let check = SeqOp::<C>::Delete {
                    target: Dot::new(target.replica, first),
                    len,
                };
                self.seq.check_with(&check, |d| is_pending(&pending, d))?;
                version.set(id.replica, end - 1);
                out.push(Ready::Delete {
                    id: Dot::new(id.replica, counter + k),
                    len,
                    target,
                    backward,
                });
            } else {
                return Err(SeqError::Malformed("unknown op kind"));
            }
        }
        if content_used != wire.content.len() {
            return Err(SeqError::Malformed("content longer than the ops need"));
        }
        self.seq.check_capacity(new_elements)?;
        Ok(out)
    }

    /// Full snapshot: state plus history, so the loaded copy can keep syncing.
    pub fn encode_state(&self) -> Vec<u8> {
        let wire = WireSnapshot {
            format: SNAPSHOT_FORMAT,
            replica: self.replica,
            state: self.seq.encode_state(),
            ops: self.encode_ops_since(&VersionVector::new()),
        };
        rmp_serde::to_vec(&wire).unwrap_or_default()
    }

    /// Loads a snapshot made by [`Replicated::encode_state`]. The state is rebuilt directly;
    /// the history is validated against it (every op must be consistent with the state) but not
    /// replayed.
    pub fn decode_state(bytes: &[u8]) -> Result<Self, SeqError> {
        let wire: WireSnapshot = rmp_serde::from_slice(bytes)?;
        if wire.format != SNAPSHOT_FORMAT {
            return Err(SeqError::Malformed("unknown snapshot format"));
        }
        let seq = Sequence::<C>::decode_state(&wire.state)?;
        let ops: WireOps<C> = rmp_serde::from_slice(&wire.ops)?;
        // Validate the history against an empty log whose sequence is the loaded state: every
        // insert's elements must exist there, every delete's targets too.
        let mut shell = Replicated {
            replica: wire.replica,
            seq,
            log: OpLog::default(),
        };
        let ready = shell.validate_history(ops)?;
        for op in ready {
            match op {
                Ready::Insert(SeqOp::Insert {
                    id,
                    origin_left,
                    origin_right,
                    content,
                }) => shell
                    .log
                    .push_insert(id, origin_left, origin_right, &content),
                Ready::Insert(SeqOp::Delete { .. }) => {}
                Ready::Delete {
                    id,
                    len,
                    target,
                    backward,
                } => shell.log.push_delete(id, len, target, backward),
            }
        }
        Ok(shell)
    }

    /// Validation of a snapshot's history: gap-free counters per replica, ids present in the
    /// state, content lengths consistent.
    fn validate_history(&self, wire: WireOps<C>) -> Result<Vec<Ready<C>>, SeqError> {
        if wire.format != OPS_FORMAT {
            return Err(SeqError::Malformed("unknown ops format"));
        }
        let replica = |i: u32| {
            wire.replicas
                .get(i as usize)
                .copied()
                .ok_or(SeqError::Malformed("replica index out of range"))
        };
        let dot = |w: Option<WireId>| -> Result<Option<Dot>, SeqError> {
            w.map(|(i, c)| Ok(Dot::new(replica(i)?, c))).transpose()
        };
        let mut version = VersionVector::new();
        let mut used = 0usize;
        let mut out = Vec::new();
        let mut inserted = 0u64;
        for WireOp(kind, agent, counter, len, a, b) in wire.ops {
            let id = Dot::new(replica(agent)?, counter);
            if len == 0
                || counter != version.get(id.replica) + 1
                || counter.checked_add(len).is_none()
            {
                return Err(SeqError::Malformed("history counters are not gap-free"));
            }
            version.set(id.replica, counter + len - 1);
            let present = |d: Dot, n: u64| self.seq.ids_known(d, n);
            match kind {
                KIND_INSERT => {
                    let start = used;
                    used = usize::try_from(len)
                        .ok()
                        .and_then(|l| used.checked_add(l))
                        .filter(|&u| u <= wire.content.len())
                        .ok_or(SeqError::Malformed("history needs more content"))?;
                    if !present(id, len) {
                        return Err(SeqError::Malformed("history insert missing from state"));
                    }
                    inserted += len;
                    out.push(Ready::Insert(SeqOp::Insert {
                        id,
                        origin_left: dot(a)?,
                        origin_right: dot(b)?,
                        content: wire.content.slice(start, used),
                    }));
                }
                KIND_DELETE | KIND_DELETE_BACKWARD => {
                    let backward = kind == KIND_DELETE_BACKWARD;
                    let target = dot(a)?.ok_or(SeqError::Malformed("delete without target"))?;
                    let first = if backward {
                        target
                            .counter
                            .checked_add(1)
                            .and_then(|c| c.checked_sub(len))
                    } else {
                        Some(target.counter)
                    }
                    .filter(|&c| c > 0)
                    .ok_or(SeqError::Malformed("delete target underflow"))?;
                    if !present(Dot::new(target.replica, first), len) {
                        return Err(SeqError::Malformed("history delete target missing"));
                    }
                    out.push(Ready::Delete {
                        id,
                        len,
                        target,
                        backward,
                    });
                }
                _ => return Err(SeqError::Malformed("unknown op kind")),
            }
        }
        if used != wire.content.len() || inserted != self.seq.total_inserted() {
            return Err(SeqError::Malformed("history does not match the state"));
        }
        Ok(out)
    }

    /// Approximate heap bytes of state and history.
    pub fn heap_size(&self, content_bytes: impl Fn(&C) -> usize + Copy) -> usize {
        let s = self.seq.stats(content_bytes);
        s.tree_bytes + s.index_bytes + self.log.heap_bytes(content_bytes)
    }

    /// Approximate heap bytes of the history alone.
    pub fn history_heap_size(&self, content_bytes: impl Fn(&C) -> usize) -> usize {
        self.log.heap_bytes(content_bytes)
    }

    /// Number of runs in the history (statistics).
    pub fn history_runs(&self) -> usize {
        self.log.entry_count()
    }
}
