//! A standalone replicated sequence: a [`Sequence`] (state) plus its replica id, version vector
//! and [`OpLog`](super::history) (history), with the sync pair `encode_ops_since` /
//! `apply_encoded` and full snapshots. [`crate::Text`] and [`crate::List`] are thin wrappers.
//!
//! Wire format of a batch of ops: the columnar format of [`ops_format`](super::ops_format) (a
//! burst of typing is one op, the content of all live inserts one string, deleted content is not
//! sent). A snapshot is the columnar state of [`Sequence::encode_state`] plus the history in the
//! same ops format, whose inserts refer to the state for their origins and content.
//!
//! Applying a batch is all-or-nothing: it is decoded, trimmed against the local version, and
//! fully validated (replica indices, lengths, counters, causal order per replica, every
//! referenced element known or inserted earlier in the batch, capacity) before anything changes.

use super::batch_ids::BatchIds;
use super::content::Content;
use super::error::SeqError;
use super::history::{LoggedOp, OpLog};
use super::op::SeqOp;
use super::ops_format::{decode_ops, decode_ops_within, OpBatch, OpsEncoder, WireKind, WireOp};
use super::Sequence;
use crate::clock::{Dot, ReplicaId, VersionVector};
use crate::encoding::budget::DecodeBudget;
use crate::encoding::column::{put_bytes, ColumnReader};
use crate::encoding::FormatError;

/// Format version of [`Replicated`] snapshots.
const SNAPSHOT_FORMAT: u8 = 2;

/// Cuts a batch's content into one piece per insert with content, in one linear pass, after
/// checking that their lengths add up to exactly the content sent.
fn content_pieces<C: Content>(batch: &OpBatch<C>) -> Result<std::vec::IntoIter<C>, SeqError> {
    let mut lens = Vec::new();
    let mut total = 0usize;
    for op in batch.ops.iter().filter(|op| op.kind == WireKind::Insert) {
        let n = usize::try_from(op.len).map_err(|_| SeqError::CapacityExceeded)?;
        total = total
            .checked_add(n)
            .filter(|&t| t <= batch.content.len())
            .ok_or(SeqError::Malformed("ops need more content than sent"))?;
        lens.push(n);
    }
    if total != batch.content.len() {
        return Err(SeqError::Malformed("content longer than the ops need"));
    }
    Ok(batch.content.split_into(&lens).into_iter())
}

/// A replicated sequence with its own identity, version and history.
#[derive(Clone, Debug)]
pub struct Replicated<C: Content> {
    replica: ReplicaId,
    seq: Sequence<C>,
    log: OpLog,
}

/// A validated op of a batch, ready to apply.
enum Ready<C> {
    /// Always a [`SeqOp::Insert`].
    Insert(SeqOp<C>),
    /// Insert of elements deleted later in the batch.
    Tombstone {
        id: Dot,
        origin_left: Option<Dot>,
        origin_right: Option<Dot>,
        len: u64,
    },
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
        // The sequence accepted the run, so its length is within the engine's run limit.
        self.log.push_insert(id, ol, or, content.len() as u32);
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

    /// The ops `since` lacks, encoded (runs stay runs; content of elements deleted since is
    /// not sent, as the deletes travel in the same batch).
    pub fn encode_ops_since(&self, since: &VersionVector) -> Vec<u8> {
        let mut enc = OpsEncoder::<C>::default();
        for op in self.log.ops_since(since, &self.seq) {
            match op {
                LoggedOp::Insert {
                    id,
                    origin_left,
                    origin_right,
                    len,
                } => {
                    let mut at = id;
                    self.seq.spans_of(id, len, |n, content| {
                        let ol = if at == id {
                            origin_left
                        } else {
                            Some(Dot::new(at.replica, at.counter - 1))
                        };
                        enc.insert(at, ol, origin_right, n, content.as_ref());
                        at.counter += n;
                    });
                }
                LoggedOp::Delete {
                    id,
                    len,
                    target,
                    backward,
                } => enc.delete(id, len, target, backward),
            }
        }
        enc.finish()
    }

    /// Applies ops made by [`Replicated::encode_ops_since`] on another replica: skips what is
    /// already here, validates everything else, then applies all of it. Returns the number of
    /// op runs applied. On error nothing has changed.
    pub fn apply_encoded(&mut self, bytes: &[u8]) -> Result<usize, SeqError> {
        let batch: OpBatch<C> = decode_ops(bytes)?;
        let ready = self.validate(batch)?;
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
                        // Validated: within the engine's run limit.
                        self.log.push_insert(
                            *id,
                            *origin_left,
                            *origin_right,
                            content.len() as u32,
                        );
                    }
                }
                Ready::Tombstone {
                    id,
                    origin_left,
                    origin_right,
                    len,
                } => {
                    self.seq
                        .apply_tombstone_validated(id, origin_left, origin_right, len)?;
                    // Validated: within the engine's run limit.
                    self.log
                        .push_insert(id, origin_left, origin_right, len as u32);
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

    /// Trims and validates a decoded batch against the current state (see the module docs).
    /// A tombstone insert is accepted as it stands (its elements arrive deleted); a well-formed
    /// batch deletes them with a later op.
    fn validate(&self, batch: OpBatch<C>) -> Result<Vec<Ready<C>>, SeqError> {
        let mut version = self.log.version().clone();
        // Element ids inserted earlier in this batch.
        let mut pending = BatchIds::default();
        let mut pieces = content_pieces(&batch)?;
        let mut new_elements = 0u64;
        let mut out = Vec::new();
        for WireOp {
            kind,
            id,
            len,
            a,
            b,
        } in batch.ops
        {
            let counter = id.counter;
            if len == 0 || counter == 0 || counter.checked_add(len).is_none() {
                return Err(SeqError::Malformed("bad op counter or length"));
            }
            let have = version.get(id.replica);
            let end = counter + len; // exclusive
            match kind {
                WireKind::Insert | WireKind::InsertDeleted => {
                    // content_pieces checked there is one piece per insert with content.
                    let piece = if kind == WireKind::Insert {
                        Some(pieces.next().unwrap_or_default())
                    } else {
                        None
                    };
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
                        a
                    };
                    let origin_right = b;
                    self.seq
                        .check_insert_with(id, origin_left, origin_right, len - k, |d| {
                            pending.contains(d)
                        })?;
                    if let (Some(l), Some(r)) = (origin_left, origin_right) {
                        if self.seq.contains(l) && self.seq.contains(r) {
                            self.seq.check_origin_order(l, r)?;
                        }
                    }
                    new_elements += len - k;
                    pending.insert(id.replica, id.counter, end);
                    version.set(id.replica, end - 1);
                    out.push(match piece {
                        Some(piece) => Ready::Insert(SeqOp::Insert {
                            id,
                            origin_left,
                            origin_right,
                            content: if k > 0 {
                                piece.slice(k as usize, piece.len())
                            } else {
                                piece
                            },
                        }),
                        None => Ready::Tombstone {
                            id,
                            origin_left,
                            origin_right,
                            len: len - k,
                        },
                    });
                }
                WireKind::Delete | WireKind::DeleteBackward => {
                    let backward = kind == WireKind::DeleteBackward;
                    let target = a.ok_or(SeqError::Malformed("delete without target"))?;
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
                    self.seq.check_delete_with(
                        Dot::new(target.replica, first),
                        len,
                        |d, max| pending.run_from(d, max),
                    )?;
                    version.set(id.replica, end - 1);
                    out.push(Ready::Delete {
                        id: Dot::new(id.replica, counter + k),
                        len,
                        target,
                        backward,
                    });
                }
                WireKind::InsertKnown => {
                    return Err(SeqError::Malformed("insert without origins in a batch"))
                }
            }
        }
        self.seq.check_capacity(new_elements)?;
        Ok(out)
    }

    /// Full snapshot: the columnar state ([`Sequence::encode_state`]) plus the history, whose
    /// inserts take their origins and content from the state, so the loaded copy can keep
    /// syncing. Layout: format version, replica id (8 bytes LE), the state (length-prefixed),
    /// the history (the rest).
    pub fn encode_state(&self) -> Vec<u8> {
        let state = self.seq.encode_state();
        let mut enc = OpsEncoder::<C>::default();
        for op in self.log.ops_since_without_origins(&VersionVector::new()) {
            match op {
                LoggedOp::Insert { id, len, .. } => enc.insert_known(id, len),
                LoggedOp::Delete {
                    id,
                    len,
                    target,
                    backward,
                } => enc.delete(id, len, target, backward),
            }
        }
        let history = enc.finish();
        let mut out = Vec::with_capacity(16 + state.len() + history.len());
        out.push(SNAPSHOT_FORMAT);
        out.extend_from_slice(&self.replica.0.to_le_bytes());
        put_bytes(&mut out, &state);
        out.extend_from_slice(&history);
        out
    }

    /// Loads a snapshot made by [`Replicated::encode_state`]. The state is rebuilt directly;
    /// the history is validated against it (every op must be consistent with the state) but not
    /// replayed.
    pub fn decode_state(bytes: &[u8]) -> Result<Self, SeqError> {
        let mut r = ColumnReader::new(bytes);
        let format = r.u8("snapshot format")?;
        if format != SNAPSHOT_FORMAT {
            return Err(FormatError::UnsupportedVersion(format).into());
        }
        let replica = ReplicaId(r.fixed_u64("replica id")?);
        // One budget for the whole snapshot, shared by its state and its history.
        let budget = &mut DecodeBudget::for_input(bytes.len());
        let seq = Sequence::<C>::decode_state_within(r.bytes("state")?, budget)?;
        let history: OpBatch<C> = decode_ops_within(r.take(r.remaining(), "history")?, budget)?;
        // Validate the history against an empty log whose sequence is the loaded state: every
        // insert's elements must exist there, every delete's targets too.
        let mut shell = Replicated {
            replica,
            seq,
            log: OpLog::default(),
        };
        shell.load_history(history)?;
        Ok(shell)
    }

    /// Rebuilds the log from a snapshot's history: gap-free counters per replica, inserts
    /// exactly the elements of the state (origins read from it), delete targets present.
    fn load_history(&mut self, history: OpBatch<C>) -> Result<(), SeqError> {
        if !history.content.is_empty() {
            return Err(SeqError::Malformed("history carries content"));
        }
        let mut inserted = 0u64;
        for WireOp {
            kind,
            id,
            len,
            a,
            b: _,
        } in history.ops
        {
            let counter = id.counter;
            if len == 0
                || counter != self.log.version().get(id.replica) + 1
                || counter.checked_add(len).is_none()
            {
                return Err(SeqError::Malformed("history counters are not gap-free"));
            }
            match kind {
                WireKind::InsertKnown => {
                    let len32 = u32::try_from(len)
                        .map_err(|_| SeqError::Malformed("history insert too long"))?;
                    let (ol, or) = self
                        .seq
                        .known_run_origins(id, len)
                        .ok_or(SeqError::Malformed("history insert missing from state"))?;
                    inserted += len;
                    self.log.push_insert(id, ol, or, len32);
                }
                WireKind::Delete | WireKind::DeleteBackward => {
                    let backward = kind == WireKind::DeleteBackward;
                    let target = a.ok_or(SeqError::Malformed("delete without target"))?;
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
                    if !self.seq.ids_known(Dot::new(target.replica, first), len) {
                        return Err(SeqError::Malformed("history delete target missing"));
                    }
                    self.log.push_delete(id, len, target, backward);
                }
                WireKind::Insert | WireKind::InsertDeleted => {
                    return Err(SeqError::Malformed("history insert outside the state"))
                }
            }
        }
        if inserted != self.seq.total_inserted() {
            return Err(SeqError::Malformed("history does not match the state"));
        }
        Ok(())
    }

    /// Approximate heap bytes of state and history.
    pub fn heap_size(&self, content_bytes: impl Fn(&C) -> usize + Copy) -> usize {
        let s = self.seq.stats(content_bytes);
        s.tree_bytes + s.index_bytes + self.log.heap_bytes()
    }

    /// Approximate heap bytes of the history alone.
    pub fn history_heap_size(&self) -> usize {
        self.log.heap_bytes()
    }

    /// Number of runs in the history (statistics).
    pub fn history_runs(&self) -> usize {
        self.log.entry_count()
    }
}
