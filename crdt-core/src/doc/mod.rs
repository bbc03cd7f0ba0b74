//! The [`Doc`] type; its documentation (why it is built this way) is on the type, which
//! the crate root exports.

mod change;
mod commit_meta;
mod container_snapshot;
mod container_tree;
mod duplicate;
mod event;
pub(crate) mod format;
mod handles;
mod history;
#[cfg(test)]
mod history_batch_tests;
pub mod marks;
mod marks_index;
#[cfg(test)]
mod marks_tests;
mod oplog;
mod replica;
mod restore;
mod rich_text;
pub(crate) mod state;
#[cfg(test)]
mod tests;
mod time_travel;
mod transaction;
mod typing_run;
mod undo;
mod value;

use std::cell::Cell;
use std::collections::BTreeMap;

pub use change::{Change, ChangeError, NewValue, Op, MAX_KEY_LEN, MAX_ROOT_NAME_LEN};
pub use commit_meta::{CommitMeta, MAX_MESSAGE_LEN};
pub use event::{DocEvent, EventOrigin, Patch, PatchAction, PathSegment};
pub use handles::{CounterRef, ListRef, MapRef, TextRef};
pub use history::{HistoryEntry, HistoryError};
pub use marks::{Anchor, Attributes, MarkExpand};
pub use rich_text::{DeltaOp, DeltaRun};
pub use undo::{Selection, StepOutcome, UndoManager, UndoOptions, DEFAULT_CAPTURE_TIMEOUT_MS};
pub use value::{ContainerId, ContainerKind, Materialized, Scalar, Value};

use crate::causal::{BufferLimits, CausalBuffer, CausalChange, CausalError};
use crate::clock::{Dot, ReplicaId, SeqRange, VersionVector};
use crate::encoding::budget::DecodeBudget;
use crate::encoding::{self, DecodeError, EncodingKind};
use crate::seq::SeqError;
use format::snapshot::{self, ContainerSnapshot, Snapshot, SnapshotRef};
use oplog::OpLog;
use state::{ContainerState, DocState, ParentLink, RawPatch};
use transaction::{allocate, Transaction};
use typing_run::TypingRun;

/// Most replicas a document holds events of: what one version vector in a sync frame may carry
/// ([`crate::sync::MAX_VERSION_ENTRIES`]), far above any real document (one per device or tab
/// that ever wrote to it). A change from one more replica is refused with
/// [`DocError::TooManyReplicas`]: past it, the document's version could not be sent.
pub const MAX_REPLICAS: usize = 1 << 16;

/// Why a document operation failed. Nothing is changed when one is returned, except where a
/// variant says otherwise.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DocError {
    /// Bytes could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A change is malformed.
    #[error(transparent)]
    InvalidChange(#[from] ChangeError),
    /// The causal buffer refused a change (malformed id, overlap, or full). Changes of the same
    /// batch before it were applied.
    #[error(transparent)]
    Causal(#[from] CausalError),
    /// A sequence operation failed (e.g. a position out of bounds).
    #[error(transparent)]
    Seq(#[from] SeqError),
    /// A change or handle names a container that does not exist.
    #[error("no container {0:?}")]
    NoSuchContainer(ContainerId),
    /// A container exists with another kind than the operation needs.
    #[error("container {0:?} has another kind")]
    WrongKind(ContainerId),
    /// A change refers to an element that does not exist.
    #[error("unknown element {0:?}")]
    UnknownElement(Dot),
    /// A change inserts an id that exists already.
    #[error("id {0:?} is already in use")]
    IdReused(Dot),
    /// Remote changes were refused against the document's state (their causal past was present
    /// but they refer to things that do not exist); they were dropped, the rest of the batch
    /// applied.
    #[error("{} change(s) rejected, first {first:?}: {reason}", count)]
    Rejected {
        /// The first rejected change.
        first: SeqRange,
        /// Why it was rejected.
        reason: Box<DocError>,
        /// How many were rejected.
        count: usize,
    },
    /// A snapshot's parts do not agree with each other.
    #[error("inconsistent snapshot: {0}")]
    BadSnapshot(&'static str),
    /// A change would add a replica to a document that holds `MAX_REPLICAS` already. It is
    /// refused whole.
    #[error("change {id:?}: the document holds events of {max} replicas already")]
    TooManyReplicas {
        /// The change.
        id: SeqRange,
        /// The limit.
        max: usize,
    },
    /// A change's Lamport timestamp is not one more than the highest in its causal past, as
    /// every honest replica makes it: a forged change (e.g. one near `u64::MAX`, which would
    /// leave no timestamp for anyone's next edit). It is refused whole.
    #[error("change {id:?}: forged lamport timestamp {lamport}, expected {expected}")]
    ForgedLamport {
        /// The change.
        id: SeqRange,
        /// Its timestamp.
        lamport: u64,
        /// One more than the highest timestamp in its causal past.
        expected: u64,
    },
    /// A version asked of the history is not one this document can show
    /// ([`Doc::view_at`], [`Doc::fork_at`], [`Doc::diff`], [`Doc::restore`]).
    #[error(transparent)]
    History(#[from] HistoryError),
    /// The document is a read-only view of a past version ([`Doc::view_at`]): it cannot be
    /// edited nor receive changes. [`Doc::fork_at`] makes an editable copy.
    #[error("the document is a read-only view of a past version")]
    ReadOnly,
    /// A change carries an id range the document already holds, with other content: two
    /// writers used one replica id (or one forged the other's). The batch is refused whole.
    #[error(
        "change {0:?} is already held with different content (its replica id has two writers)"
    )]
    DuplicateDiffers(SeqRange),
}

/// A malformed column or count is a decode error (the snapshot's history reader meets them
/// outside a [`DecodeError`]-returning decoder).
impl From<crate::encoding::FormatError> for DocError {
    fn from(e: crate::encoding::FormatError) -> Self {
        DocError::Decode(DecodeError::Format(e))
    }
}

/// What [`Doc::apply_changes`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// Changes applied by this call, in the order applied (including earlier arrivals that this
    /// call unblocked).
    pub applied: Vec<SeqRange>,
    /// Changes still waiting for their causal past.
    pub pending: usize,
    /// Events those changes wait for that no waiting change holds: what to ask a peer for.
    pub missing: Vec<Dot>,
}

/// A handle returned by [`Doc::subscribe`], to pass to [`Doc::unsubscribe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubscriptionId(u64);

type Subscriber = Box<dyn FnMut(&DocEvent) + Send>;

/// A replicated JSON-like document.
///
/// The document applications embed: a [`Doc`] holds named root containers (maps, lists, texts,
/// counters) whose values are scalars or nested containers, and syncs with any peer by exchanging
/// encoded [`Change`]s.
///
/// * **Transactions.** Local operations apply at once and are grouped into one [`Change`] on
///   [`Doc::commit`]. Uncommitted operations are visible locally but not yet part of
///   [`Doc::version`], [`Doc::encode_changes_since`] or events; [`Doc::save`] and
///   [`Doc::apply_changes`] commit first.
/// * **Causality.** [`Doc::apply_changes`] takes changes in any order and any number of times.
///   Those whose causal past has not arrived wait in a bounded [`CausalBuffer`] and apply when the
///   gap fills; duplicates are no-ops. Replicas that hold the same changes hold the same content.
/// * **Maps** keep every concurrent value of a key; all replicas show the same winner (highest
///   Lamport timestamp, then replica id), and [`MapRef::get_all`] shows the others, as Automerge's
///   conflicts do.
/// * **Texts and lists** use the FugueMax sequence engine (`crate::seq`): concurrent insertions
///   at one place never interleave.
/// * **History and state are separate**: the op log (every change, for catching peers up) and the
///   materialized state (for reading and for fast loads). [`Doc::save`] stores both, so
///   [`Doc::load`] replays nothing.
///
/// ```
/// use crdt_core::{Doc, ReplicaId, VersionVector};
///
/// let mut alice = Doc::with_replica(ReplicaId::new(1));
/// alice.text("body").insert(0, "hello").unwrap();
/// alice.map("meta").set("title", "Notes").unwrap();
/// alice.commit();
///
/// let mut bob = Doc::with_replica(ReplicaId::new(2));
/// bob.apply_changes(&alice.encode_changes_since(&VersionVector::new())).unwrap();
/// bob.text("body").insert(5, " world").unwrap();
/// bob.commit();
///
/// alice.apply_changes(&bob.encode_changes_since(&alice.version())).unwrap();
/// assert_eq!(alice.text("body").to_string(), "hello world");
/// assert_eq!(alice.materialize(), bob.materialize());
///
/// let restored = crdt_core::Doc::load(&alice.save()).unwrap();
/// assert_eq!(restored.materialize(), alice.materialize());
/// ```
pub struct Doc {
    replica: ReplicaId,
    log: OpLog,
    state: DocState,
    buffer: CausalBuffer<Change>,
    txn: Option<Transaction>,
    subscribers: Vec<(SubscriptionId, Subscriber)>,
    next_subscription: u64,
    /// The root id a handle was last asked for by name: an editor asks for its text's handle
    /// at every keystroke, and a copy of this id costs no allocation.
    recent_root: Option<ContainerId>,
}

impl Default for Doc {
    fn default() -> Self {
        Doc::new()
    }
}

impl std::fmt::Debug for Doc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Doc")
            .field("replica", &self.replica)
            .field("version", self.log.version())
            .field("changes", &self.log.len())
            .field("pending", &self.buffer.pending_len())
            .finish()
    }
}

impl Doc {
    /// An empty document with a random replica id.
    pub fn new() -> Self {
        Doc::with_replica(ReplicaId::random())
    }

    /// An empty document with the given replica id. Two live replicas must never share an id.
    pub fn with_replica(replica: ReplicaId) -> Self {
        Doc {
            replica,
            log: OpLog::default(),
            state: DocState::default(),
            buffer: CausalBuffer::new(BufferLimits::default()),
            txn: None,
            subscribers: Vec::new(),
            next_subscription: 0,
            recent_root: None,
        }
    }

    /// Sets how many remote changes may wait for their causal past.
    pub fn set_buffer_limits(&mut self, limits: BufferLimits) {
        let applied = self.buffer.applied().clone();
        let pending: Vec<Change> = self.buffer.pending().map(waiting_change).collect();
        self.buffer = CausalBuffer::with_applied(applied, limits);
        for change in pending {
            // Re-buffering changes that waited before cannot release any: their pasts are
            // still missing. Past the new limit they are dropped, as the caller asked.
            let _ = self.buffer.insert(to_causal(change), 0);
        }
    }

    /// This replica's id.
    pub fn replica(&self) -> ReplicaId {
        self.replica
    }

    /// The committed changes this document holds (changes waiting in the buffer excluded).
    pub fn version(&self) -> VersionVector {
        self.log.version().clone()
    }

    /// Number of committed changes in the history.
    pub fn change_count(&self) -> usize {
        self.log.len()
    }

    /// Number of remote changes waiting for their causal past.
    pub fn pending_count(&self) -> usize {
        self.buffer.pending_len()
    }

    // ----- containers -----

    /// The root text `name` (created on first write).
    pub fn text(&mut self, name: &str) -> TextRef<'_> {
        let id = self.root_id(name, ContainerKind::Text);
        TextRef::new(self, id)
    }

    /// The root map `name` (created on first write).
    pub fn map(&mut self, name: &str) -> MapRef<'_> {
        let id = self.root_id(name, ContainerKind::Map);
        MapRef::new(self, id)
    }

    /// The root list `name` (created on first write).
    pub fn list(&mut self, name: &str) -> ListRef<'_> {
        let id = self.root_id(name, ContainerKind::List);
        ListRef::new(self, id)
    }

    /// The id of root `name` of `kind`: a copy of the one last asked for when it is that one
    /// (a reference count, where a new id allocates its name).
    fn root_id(&mut self, name: &str, kind: ContainerKind) -> ContainerId {
        match &self.recent_root {
            Some(id @ ContainerId::Root { name: n, kind: k }) if **n == *name && *k == kind => {
                id.clone()
            }
            _ => {
                let id = ContainerId::root(name, kind);
                self.recent_root = Some(id.clone());
                id
            }
        }
    }

    /// The root counter `name` (created on first write).
    pub fn counter(&mut self, name: &str) -> CounterRef<'_> {
        let id = self.root_id(name, ContainerKind::Counter);
        CounterRef::new(self, id)
    }

    /// The text `id` (a root, or one created in a map or list).
    pub fn text_at(&mut self, id: &ContainerId) -> Result<TextRef<'_>, DocError> {
        self.check_handle(id, ContainerKind::Text)?;
        Ok(TextRef::new(self, id.clone()))
    }

    /// The map `id`.
    pub fn map_at(&mut self, id: &ContainerId) -> Result<MapRef<'_>, DocError> {
        self.check_handle(id, ContainerKind::Map)?;
        Ok(MapRef::new(self, id.clone()))
    }

    /// The list `id`.
    pub fn list_at(&mut self, id: &ContainerId) -> Result<ListRef<'_>, DocError> {
        self.check_handle(id, ContainerKind::List)?;
        Ok(ListRef::new(self, id.clone()))
    }

    /// The counter `id`.
    pub fn counter_at(&mut self, id: &ContainerId) -> Result<CounterRef<'_>, DocError> {
        self.check_handle(id, ContainerKind::Counter)?;
        Ok(CounterRef::new(self, id.clone()))
    }

    /// Every container the state holds (roots once touched, and created ones), for the fuzz
    /// checks that walk them.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn container_ids(&self) -> Vec<ContainerId> {
        self.state.containers.keys().cloned().collect()
    }

    /// Every change of the history, rebuilt, for the fuzz checks that apply them one by one.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn all_changes(&self) -> Vec<Change> {
        self.log.changes().collect()
    }

    fn check_handle(&self, id: &ContainerId, kind: ContainerKind) -> Result<(), DocError> {
        if id.kind() != kind {
            return Err(DocError::WrongKind(id.clone()));
        }
        if let ContainerId::Created { .. } = id {
            if self.state.container(id).is_none() {
                return Err(DocError::NoSuchContainer(id.clone()));
            }
        }
        Ok(())
    }

    /// Every non-empty root container as a plain tree, keyed by root name (a name used by roots
    /// of several kinds is keyed `name:kind` for all but maps). Two replicas that hold the same
    /// changes materialize equal trees.
    pub fn materialize(&self) -> BTreeMap<String, Materialized> {
        let roots: Vec<&ContainerId> = self
            .state
            .containers
            .keys()
            .filter(|id| matches!(id, ContainerId::Root { .. }))
            .collect(); // in order already: the keys of a BTreeMap
        let mut out = BTreeMap::new();
        for id in roots {
            let value = self.state.materialize(id);
            let empty = match &value {
                Materialized::Map(m) => m.is_empty(),
                Materialized::List(l) => l.is_empty(),
                Materialized::Text(t) => t.is_empty(),
                Materialized::Counter(n) => *n == 0,
                Materialized::Scalar(_) => false,
            };
            if empty {
                continue;
            }
            if let ContainerId::Root { name, kind } = id {
                let key = if *kind == ContainerKind::Map {
                    name.to_string()
                } else {
                    format!("{name}:{kind}")
                };
                out.insert(key, value);
            }
        }
        out
    }

    /// The container `id` as a plain tree (empty when it does not exist).
    pub fn materialize_container(&self, id: &ContainerId) -> Materialized {
        self.state.materialize(id)
    }

    // ----- transactions -----

    /// Allocates `width` counters for a local operation and returns its dot and Lamport time.
    fn allocate(&mut self, width: u64) -> (Dot, u64) {
        allocate(&mut self.txn, &mut self.log, self.replica, width)
    }

    /// Records a local operation (already applied to the state) and its patches.
    fn record(&mut self, op: Op, patches: Vec<RawPatch>) {
        // `allocate` ran before every `record`, so the transaction exists.
        let Some(txn) = self.txn.as_mut() else {
            return;
        };
        txn.patches.extend(patches);
        txn.ops.op(op);
    }

    /// Ends the open transaction: its operations become one [`Change`] in the history, and
    /// subscribers receive its patches. Does nothing when no operation is open.
    pub fn commit(&mut self) -> Option<SeqRange> {
        self.commit_meta(None)
    }

    /// [`Doc::commit`], recording `meta` in the change.
    fn commit_meta(&mut self, meta: Option<Box<CommitMeta>>) -> Option<SeqRange> {
        let txn = self.txn.take()?;
        if txn.ops.is_empty() {
            return None;
        }
        let id = SeqRange {
            replica: self.replica,
            start: txn.start,
            end: txn.next,
        };
        // Its parents are the log's heads: nothing applies to the log while a local
        // transaction is open (`apply_changes` commits first).
        self.log.push_local(id, txn.lamport, txn.ops, meta);
        let released = self.buffer.mark_applied(id);
        self.emit(EventOrigin::Local, txn.patches);
        if !released.is_empty() {
            // Remote changes that waited for this replica's own events (possible only when a
            // peer holds events of ours that this document lost): apply them now.
            let mut patches = Vec::new();
            for change in released.into_iter().map(from_causal) {
                if check_replica_count(&self.log, &change).is_ok()
                    && check_lamport(&self.log, &change).is_ok()
                    && self.state.check_change(&change).is_ok()
                    && self.state.apply_change(&change, &mut patches).is_ok()
                {
                    self.log.push(change);
                }
            }
            self.emit(EventOrigin::Remote, patches);
        }
        Some(id)
    }

    // ----- sync -----

    /// Encodes every committed change not covered by `since`, in causal order: what a peer at
    /// version `since` lacks.
    ///
    /// For a peer that holds nothing (`since` empty) it is the whole history in the form the
    /// log holds it (graph runs, merged operations: a few bytes per run of typing, not per
    /// change), which a document that holds nothing takes in without rebuilding a change.
    pub fn encode_changes_since(&self, since: &VersionVector) -> Vec<u8> {
        if since.is_empty() && self.log.len() > 0 {
            return format::encode_history(&self.log.encode());
        }
        let changes = self.log.changes_since(since);
        format::encode_changes(&changes)
    }

    /// Applies encoded changes from any peer, in any order, any number of times.
    ///
    /// Commits the open transaction first. Malformed input is refused whole with a typed error
    /// and changes nothing; so is a batch holding a change whose id range the document already
    /// holds with other content ([`DocError::DuplicateDiffers`]; an identical duplicate is a
    /// no-op). Changes whose causal past is missing wait and apply when it arrives.
    /// Changes that contradict the document (they refer to elements or containers that do not
    /// exist although their causal past is here) are dropped and reported as
    /// [`DocError::Rejected`] after the rest of the batch is applied.
    pub fn apply_changes(&mut self, bytes: &[u8]) -> Result<ApplyOutcome, DocError> {
        let mut applied = Vec::new();
        self.apply_batch(bytes, Some(&mut applied))?;
        Ok(ApplyOutcome {
            applied,
            pending: self.buffer.pending_len(),
            missing: self.buffer.missing(),
        })
    }

    /// [`Doc::apply_changes`], listing the applied changes' ids in `applied` when given. The
    /// sync protocol does not ask: a whole history's list is 24 bytes a change (6 MB for
    /// automerge-paper's, three quarters of what applying it holds at its peak).
    fn apply_batch(
        &mut self,
        bytes: &[u8],
        mut applied: Option<&mut Vec<SeqRange>>,
    ) -> Result<(), DocError> {
        if self.state.read_only {
            return Err(DocError::ReadOnly);
        }
        self.commit();
        let batch = format::ChangeBatch::open(bytes)?;
        let mut history = match batch.history() {
            Some((raw, mut budget)) => Some((OpLog::decode(raw, &mut budget)?, budget)),
            None => None,
        };
        // A batch is checked whole before any of it stands (one forged change refuses the
        // batch), without holding all of its changes: holding a whole history as changes took
        // 42 times the memory of the document it built (63 MB for automerge-paper's), and wasm
        // memory never shrinks.
        // - A document that holds something decodes the batch twice: pass 1 checks every
        //   change and keeps none, pass 2 applies them.
        // - A document that holds nothing (a replica joining) decodes it once, checking each
        //   change as it applies it; a refused batch puts the document back as it was, which
        //   costs nothing when there was nothing. Decoding is a third of taking in a history.
        let joining = (self.log.len() == 0
            && self.buffer.pending_len() == 0
            && self.state.containers.is_empty())
        .then(|| self.buffer.limits());
        if let Some(limits) = joining {
            if let Some((log, budget)) = history.take() {
                return self.join_history(log, budget, limits, applied);
            }
        }
        let checking = Cell::new(joining.is_none());
        let invalid = Cell::new(None);
        let mut count = 0;
        let mut patches = Vec::new();
        let mut rejected: Vec<(SeqRange, DocError)> = Vec::new();
        let mut first_error = None;
        let mut typing = TypingRun::default();
        let (buffer, state, log) = (&mut self.buffer, &mut self.state, &mut self.log);
        let mut each = |change: Change, following: usize| {
            if count == 0 {
                count = following + 1;
                // Reserved: doubling a whole history's ids (24 bytes a change) copied and
                // briefly held half as much again. Bounded by what the decoder took in.
                if let Some(applied) = applied.as_deref_mut() {
                    applied.reserve_exact(count);
                }
            }
            // Once applying met a causal error, a joining replica only checks the rest.
            let check_only = checking.get() || first_error.is_some();
            if check_only || joining.is_some() {
                // Against the log as it grows when joining: a change the batch repeats with
                // other content is refused there, where pass 2 drops the copy as a duplicate.
                if let Err(e) = check_received(log, &change) {
                    invalid.set(Some(e));
                    return false;
                }
                if check_only {
                    return true;
                }
            }
            let weight = bytes.len() / count + 64;
            let result = buffer.insert_with(to_causal(change), weight, |c| {
                let change = from_causal(c);
                check_replica_count(log, &change)?;
                check_lamport(log, &change)?;
                if !typing.absorb(&change, state) {
                    typing.flush(state, &mut patches)?;
                    state.check_change(&change)?;
                    if !typing.hold(&change) {
                        state.apply_change(&change, &mut patches)?;
                    }
                }
                if let Some(applied) = applied.as_deref_mut() {
                    applied.push(change.id);
                }
                log.push(change);
                Ok::<(), DocError>(())
            });
            match result {
                Ok(delivery) => rejected.extend(delivery.rejected),
                Err(e) => first_error = Some(e),
            }
            joining.is_some() || first_error.is_none()
        };
        // A whole history sent to a document that holds something: its changes, rebuilt.
        let pass = |each: &mut dyn FnMut(Change, usize) -> bool| match &history {
            Some((log, _)) => {
                let total = log.len();
                for (i, change) in log.changes().enumerate() {
                    if !each(change, total - i - 1) {
                        break;
                    }
                }
                Ok(())
            }
            None => batch.for_each(each).map_err(DocError::from),
        };
        if checking.get() {
            pass(&mut each)?;
            if let Some(e) = invalid.take() {
                return Err(e);
            }
            checking.set(false);
        }
        // Pass 1, when it ran, read these very bytes without error, and decoding is
        // deterministic: pass 2 meets no decoding error and no invalid change. Were it to,
        // what it applied is still flushed and reported.
        let decoded = pass(&mut each).and_then(|()| invalid.take().map_or(Ok(()), Err));
        if let (Some(limits), Err(_)) = (joining, &decoded) {
            // Refused whole: back to holding nothing, and no event for what was undone.
            self.state = self.state.emptied();
            self.log = OpLog::default();
            self.buffer = CausalBuffer::new(limits);
            return decoded;
        }
        // The held-back run follows changes already checked and logged: it applies.
        let flushed = typing.flush(&mut self.state, &mut patches);
        self.emit(EventOrigin::Remote, patches);
        decoded?;
        flushed?;
        if let Some(e) = first_error {
            return Err(DocError::Causal(e));
        }
        let count = rejected.len();
        // Moved out, not cloned: `DocError::clone` is the only clone of it in the wasm build.
        if let Some((first, reason)) = rejected.into_iter().next() {
            return Err(DocError::Rejected {
                first,
                reason: Box::new(reason),
                count,
            });
        }
        Ok(())
    }

    /// Takes in a whole history (`log`, decoded and checked as a saved document's is) into a
    /// document that holds nothing: its state is built from the log's stored operations (a
    /// merged run of typing is one insert, a run of backspaces one delete), each validated and
    /// checked against the state as a change is, and the log is kept as decoded. All or
    /// nothing: an operation the state refuses (an honest history has none: its author applied
    /// every change) refuses the whole history, and the document goes back to holding
    /// nothing, with no event.
    fn join_history(
        &mut self,
        log: OpLog,
        mut budget: DecodeBudget,
        limits: BufferLimits,
        applied: Option<&mut Vec<SeqRange>>,
    ) -> Result<(), DocError> {
        // The list of applied ids is charged to the message's budget (what decoding it left)
        // before it is built: a run of deletes claims changes for a few bytes.
        if applied.is_some() {
            budget.charge_values::<SeqRange>(log.len(), 0, "applied change ids")?;
        }
        let mut patches = Vec::new();
        let state = &mut self.state;
        // The log's operations are merged already: no typing run to hold back.
        let built = log.for_each_op(&mut |change| {
            change.validate()?;
            state.check_change(&change)?;
            state.apply_change(&change, &mut patches)
        });
        if let Err(e) = built {
            self.state = self.state.emptied();
            return Err(e);
        }
        if let Some(applied) = applied {
            *applied = log.change_ids();
        }
        self.buffer = CausalBuffer::with_applied(log.version().clone(), limits);
        self.log = log;
        self.emit(EventOrigin::Remote, patches);
        Ok(())
    }

    // ----- snapshots -----

    /// Commits, then encodes the whole document: history, waiting changes, and the materialized
    /// state, so that [`Doc::load`] needs no replay.
    pub fn save(&mut self) -> Vec<u8> {
        self.commit();
        // Both in id order already: they come from BTreeMaps. (A sort would be kilobytes of the
        // wasm build.)
        let containers: Vec<(&ContainerId, ContainerSnapshot)> = self
            .state
            .containers
            .iter()
            .map(|(id, c)| (id, ContainerSnapshot::of(id, c, &self.log)))
            .collect();
        let parents: Vec<(&ContainerId, &ParentLink)> = self
            .state
            .parents
            .iter()
            .map(|(id, link)| (id, &**link))
            .collect();
        let waiting: Vec<Change> = self.buffer.pending().map(waiting_change).collect();
        let pending: Vec<&Change> = waiting.iter().collect();
        let snapshot = SnapshotRef {
            version: self.log.version(),
            history: self.log.encode(),
            pending,
            containers,
            parents,
        };
        encoding::frame(EncodingKind::Snapshot, &snapshot::encode_raw(&snapshot))
    }

    /// Loads a snapshot made by [`Doc::save`], with a fresh random replica id (so that two
    /// loads of one snapshot never share an id).
    pub fn load(bytes: &[u8]) -> Result<Doc, DocError> {
        Doc::load_with_replica(bytes, ReplicaId::random())
    }

    /// Loads a snapshot and continues as replica `replica`. Only reuse the id that saved it
    /// when no other copy of that replica is alive.
    ///
    /// Refuses, with [`DocError::BadSnapshot`], a snapshot whose parts disagree: a version
    /// other than its history's, a waiting change that is ready, or containers that do not form
    /// the tree operations build (a value naming a container the snapshot lacks, a container
    /// named by two places, parent links that miss or cycle).
    pub fn load_with_replica(bytes: &[u8], replica: ReplicaId) -> Result<Doc, DocError> {
        // One budget for the whole snapshot: envelope, history, and every container's state.
        let budget = &mut DecodeBudget::for_input(bytes.len());
        let raw = encoding::unframe(EncodingKind::Snapshot, bytes, budget)?;
        let snapshot: Snapshot = snapshot::decode_raw(&raw, budget)?;
        for change in &snapshot.pending {
            change.validate()?;
        }
        let log = OpLog::decode(snapshot.history, budget)?;
        if *log.version() != snapshot.version {
            return Err(DocError::BadSnapshot("version does not match the history"));
        }
        let mut state = DocState::default();
        for (id, container) in snapshot.containers {
            if id.kind() != container.kind() {
                return Err(DocError::BadSnapshot("container state of the wrong kind"));
            }
            let container = container.into_state(&id, &log, budget)?;
            state.containers.insert(id, Box::new(container));
        }
        for (id, link) in snapshot.parents {
            if !state.containers.contains_key(&id) {
                return Err(DocError::BadSnapshot("parent link of a missing container"));
            }
            state.parents.insert(id, Box::new(link));
        }
        container_tree::check_container_tree(&state)?;
        // Container states hold no marks: they are the history's mark operations.
        state.marks.rebuild(log.whole_ops(), |obj| {
            match state.containers.get(obj).map(|c| &**c) {
                Some(ContainerState::Text(seq)) => Some(seq),
                _ => None,
            }
        });
        let mut buffer = CausalBuffer::with_applied(log.version().clone(), BufferLimits::default());
        for change in snapshot.pending {
            let released = buffer.insert(to_causal(change), 0)?;
            if !released.is_empty() {
                return Err(DocError::BadSnapshot("a waiting change was ready"));
            }
        }
        Ok(Doc {
            replica,
            log,
            state,
            buffer,
            txn: None,
            subscribers: Vec::new(),
            next_subscription: 0,
            recent_root: None,
        })
    }

    // ----- events -----

    /// Calls `callback` after each local commit and each remote apply that changed something,
    /// with patches describing what changed (the operations made while someone is subscribed:
    /// a document nobody listens to builds no patches).
    pub fn subscribe(
        &mut self,
        callback: impl FnMut(&DocEvent) + Send + 'static,
    ) -> SubscriptionId {
        let id = SubscriptionId(self.next_subscription);
        self.next_subscription += 1;
        self.subscribers.push((id, Box::new(callback)));
        self.state.patches_wanted = true;
        id
    }

    /// Stops a subscription; returns whether it existed.
    pub fn unsubscribe(&mut self, id: SubscriptionId) -> bool {
        let before = self.subscribers.len();
        self.subscribers.retain(|(s, _)| *s != id);
        self.state.patches_wanted = !self.subscribers.is_empty();
        before != self.subscribers.len()
    }

    fn emit(&mut self, origin: EventOrigin, raw: Vec<RawPatch>) {
        if raw.is_empty() || self.subscribers.is_empty() {
            return;
        }
        let patches = raw
            .into_iter()
            .map(|(obj, action)| Patch {
                path: self.state.path_of(&obj),
                obj,
                action,
            })
            .collect();
        let event = DocEvent { origin, patches };
        for (_, subscriber) in &mut self.subscribers {
            subscriber(&event);
        }
    }
}

/// Checks a received `change` as far as it can be before applying it: its own consistency
/// ([`Change::validate`]), and that it is not another change under an id range `log` holds.
fn check_received(log: &OpLog, change: &Change) -> Result<(), DocError> {
    change.validate()?;
    duplicate::check_duplicate(log, change)
}

/// Refuses a change from a new replica when the document holds [`MAX_REPLICAS`] already.
fn check_replica_count(log: &OpLog, change: &Change) -> Result<(), DocError> {
    let version = log.version();
    if version.get(change.id.replica) == 0 && version.len() >= MAX_REPLICAS {
        return Err(DocError::TooManyReplicas {
            id: change.id,
            max: MAX_REPLICAS,
        });
    }
    Ok(())
}

/// Refuses `change` unless its Lamport timestamp is exactly what an honest replica would have
/// given it on top of `log` (which holds its causal past).
fn check_lamport(log: &OpLog, change: &Change) -> Result<(), DocError> {
    let expected = log
        .expected_lamport(change)
        .ok_or(DocError::BadSnapshot("a change precedes its causal past"))?;
    if change.lamport != expected {
        return Err(DocError::ForgedLamport {
            id: change.id,
            lamport: change.lamport,
            expected,
        });
    }
    Ok(())
}

/// `change` as the causal buffer holds it: its parents moved to the buffer's field (not
/// copied: every received change would cost an allocation for them).
fn to_causal(mut change: Change) -> CausalChange<Change> {
    CausalChange {
        id: change.id,
        parents: std::mem::take(&mut change.parents),
        payload: change,
    }
}

/// The change the buffer released, its parents back in place.
fn from_causal(causal: CausalChange<Change>) -> Change {
    let mut change = causal.payload;
    change.parents = causal.parents;
    change
}

/// A copy of a change waiting in the buffer, with its parents.
fn waiting_change(causal: &CausalChange<Change>) -> Change {
    Change {
        parents: causal.parents.clone(),
        ..causal.payload.clone()
    }
}

impl crate::sync::SyncDoc for Doc {
    type Error = DocError;

    fn version(&self) -> VersionVector {
        Doc::version(self)
    }

    fn encode_changes_since(&self, since: &VersionVector) -> Vec<u8> {
        Doc::encode_changes_since(self, since)
    }

    fn apply_changes(&mut self, bytes: &[u8]) -> Result<(), DocError> {
        self.apply_batch(bytes, None)
    }
}
