//! Replaying editing traces ([`crate::trace`]) with crdt-core: the one place that turns a trace
//! into edits, shared by the `replay` binary, the benches and the trace tests.
//!
//! A replay runs on a [`Replica`]: the [`Doc`](crdt_core::Doc) users hold ([`DocReplica`], one
//! commit per trace transaction, as an editor commits) or the bare `Text` engine
//! ([`EngineReplica`], which has no commits). Both go through the same two drivers:
//!
//! - A *sequential* trace is replayed as local edits on one replica ([`replay_sequential`]).
//! - A *concurrent* trace is replayed with one replica per agent ([`replay_concurrent`]). Before an
//!   agent makes transaction `i`, its replica is brought to *exactly* the merge of `i`'s parents,
//!   through the same path two peers use: the encoded changes of every ancestor transaction it
//!   lacks (taken when that transaction was made) are applied. At the end every replica receives
//!   everything and must hold the trace's final content.
//!
//! Invariant kept during a concurrent replay: the state of every replica is a causally closed set
//! of transactions, summarised exactly by its version vector; the version vector after transaction
//! `i` is recorded, so "replica holds transaction `j`" is "its version dominates `after[j]`". This
//! is the replay method of the `editing-traces` collection (Gentle & Kleppmann).
//!
//! ```
//! use crdt_testdata::replay::{replay, DocReplica};
//! use crdt_testdata::Trace;
//!
//! let json = br#"{"endContent":"hi!","txns":[{"patches":[[0,0,"hi"],[2,0,"!"]]}]}"#;
//! let mut outcome = replay::<DocReplica>(&Trace::parse(json).unwrap()).unwrap();
//! assert!(outcome.matches());
//! assert_eq!((outcome.ops, outcome.final_len()), (2, 3));
//! ```

mod concurrent;
mod doc;
mod engine;

use crdt_core::TextError;
use crdt_core::{DocError, ReplicaId, VersionVector};

use crate::trace::{Patch, SequentialTrace, Trace, TraceKind};

pub use self::concurrent::replay_concurrent;
pub use self::doc::{DocReplica, TEXT_NAME};
pub use self::engine::EngineReplica;

/// What a replay drives: one replica of a text, edited locally by transactions and synced with
/// others through encoded changes.
pub trait Replica: Sized {
    /// How reports name this replica kind: `"doc"` or `"engine"`.
    const LABEL: &'static str;

    /// An empty replica with id `replica`.
    fn with_replica(replica: ReplicaId) -> Self;

    /// Applies one trace transaction's patches as local edits (and commits them where the replica
    /// has commits).
    fn apply_txn(&mut self, patches: &[Patch]) -> Result<(), EditError>;

    /// The changes this replica holds.
    fn version(&self) -> VersionVector;

    /// Every change not covered by `since`, encoded as it is sent to a peer.
    fn encode_since(&self, since: &VersionVector) -> Vec<u8>;

    /// Applies changes encoded by [`Replica::encode_since`] on another replica.
    fn apply_encoded(&mut self, bytes: &[u8]) -> Result<(), EditError>;

    /// The visible text.
    fn content(&mut self) -> String;
}

/// A refusal by crdt-core, from the engine or the document.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The `Text` engine refused an edit or an encoded batch.
    #[error(transparent)]
    Engine(#[from] TextError),
    /// The `Doc` refused an edit or an encoded batch.
    #[error(transparent)]
    Doc(#[from] DocError),
}

/// What can go wrong replaying a trace (other than ending with the wrong content, which is
/// reported by [`ReplayOutcome::matches`]).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// crdt-core refused an edit or an encoded batch.
    #[error("transaction {txn}: {source}")]
    Edit {
        /// Index of the transaction being replayed (the final sync counts as `txns.len()`).
        txn: usize,
        /// What crdt-core said.
        source: EditError,
    },
    /// A concurrent trace names an agent outside `0..numAgents`.
    #[error("transaction {txn} is by agent {agent}, but the trace has {agents} agents")]
    UnknownAgent {
        /// Index of the transaction.
        txn: usize,
        /// The agent it names.
        agent: usize,
        /// The trace's `numAgents`.
        agents: usize,
    },
    /// After syncing, a replica did not hold exactly the merge of a transaction's parents.
    #[error("transaction {txn}: replica holds {held:?}, the merge of the parents is {expected:?}")]
    NotAtParents {
        /// Index of the transaction.
        txn: usize,
        /// Version the replica held.
        held: VersionVector,
        /// Merge of the parents' versions.
        expected: VersionVector,
    },
}

impl ReplayError {
    /// Wraps a refusal during transaction `txn`.
    fn edit(txn: usize) -> impl Fn(EditError) -> ReplayError {
        move |source| ReplayError::Edit { txn, source }
    }
}

/// The result of a replay: the final replicas and what they must hold.
#[derive(Debug)]
pub struct ReplayOutcome<R> {
    /// Sequential or concurrent.
    pub kind: TraceKind,
    /// Number of patches (edits) replayed.
    pub ops: usize,
    /// Number of trace transactions replayed (a start content counts as one).
    pub txns: usize,
    /// The final replicas: one for a sequential trace, one per agent for a concurrent one.
    pub replicas: Vec<R>,
    /// The content the trace says every replica must end with.
    pub expected: String,
}

impl<R: Replica> ReplayOutcome<R> {
    /// True when every replica holds exactly the trace's final content.
    pub fn matches(&mut self) -> bool {
        let expected = &self.expected;
        self.replicas.iter_mut().all(|r| r.content() == *expected)
    }

    /// Length in characters of the first replica's content.
    pub fn final_len(&mut self) -> usize {
        self.replicas
            .first_mut()
            .map_or(0, |r| r.content().chars().count())
    }

    /// Size of the first replica's full history, encoded as it would be sent to an empty peer.
    pub fn encoded_bytes(&self) -> usize {
        self.replicas
            .first()
            .map_or(0, |r| r.encode_since(&VersionVector::new()).len())
    }
}

/// Replays a trace of either kind on replicas of kind `R`.
pub fn replay<R: Replica>(trace: &Trace) -> Result<ReplayOutcome<R>, ReplayError> {
    match trace {
        Trace::Sequential(t) => replay_sequential(t),
        Trace::Concurrent(t) => replay_concurrent(t),
    }
}

/// Replays a sequential trace as local edits on one replica (id 1): its `startContent` as a first
/// transaction, then each of its transactions.
pub fn replay_sequential<R: Replica>(
    trace: &SequentialTrace,
) -> Result<ReplayOutcome<R>, ReplayError> {
    let mut replica = R::with_replica(ReplicaId::new(1));
    let mut txns = 0;
    if !trace.start_content.is_empty() {
        let start = [Patch(0, 0, trace.start_content.clone())];
        replica.apply_txn(&start).map_err(ReplayError::edit(0))?;
        txns += 1;
    }
    let mut ops = 0;
    for (i, txn) in trace.txns.iter().enumerate() {
        replica
            .apply_txn(&txn.patches)
            .map_err(ReplayError::edit(i))?;
        ops += txn.patches.len();
    }
    txns += trace.txns.len();
    Ok(ReplayOutcome {
        kind: TraceKind::Sequential,
        ops,
        txns,
        replicas: vec![replica],
        expected: trace.end_content.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sequential(json: &[u8]) -> SequentialTrace {
        match Trace::parse(json) {
            Ok(Trace::Sequential(t)) => t,
            other => panic!("not a sequential trace: {other:?}"),
        }
    }

    const START: &[u8] = br#"{"startContent":"h\u00e9llo","endContent":"h\u00e9 world","txns":[{"patches":[[2,3," world"]]}]}"#;

    #[test]
    fn sequential_replay_starts_from_the_start_content() {
        let mut outcome = replay_sequential::<EngineReplica>(&sequential(START)).unwrap();
        assert_eq!((outcome.ops, outcome.txns), (1, 2));
        assert_eq!(outcome.replicas[0].text.to_string(), "hé world");
        assert!(outcome.matches());
        assert_eq!(outcome.final_len(), 8);
        assert!(outcome.encoded_bytes() > 0);
    }

    #[test]
    fn a_doc_commits_one_change_per_transaction() {
        let mut outcome = replay_sequential::<DocReplica>(&sequential(START)).unwrap();
        assert!(outcome.matches());
        assert_eq!(outcome.replicas[0].doc.change_count(), 2);
        assert_eq!(outcome.final_len(), 8);
    }
}
