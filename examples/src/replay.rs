//! Replaying editing traces ([`crate::trace`]) with crdt-core's [`Text`]: the one place that turns
//! a trace into edits, shared by the `replay` binary and the trace tests.
//!
//! - A *sequential* trace is replayed as local edits on one replica.
//! - A *concurrent* trace is replayed with one replica per agent. Before an agent makes
//!   transaction `i`, its replica is brought to *exactly* the merge of `i`'s parents, through the
//!   same path two peers use: the encoded ops of every ancestor transaction it lacks
//!   ([`Text::encode_ops_since`], taken when that transaction was made) are fed to
//!   [`Text::apply_encoded`]. At the end every replica receives everything and must hold the
//!   trace's final content.
//!
//! Invariant kept during a concurrent replay: the state of every replica is a causally closed set
//! of transactions, summarised exactly by its version vector; the version vector after transaction
//! `i` is recorded, so "replica holds transaction `j`" is "its version dominates `after[j]`". This
//! is the replay method of the `editing-traces` collection (Gentle & Kleppmann).
//!
//! ```
//! use examples::replay::replay;
//! use examples::trace::Trace;
//!
//! let json = br#"{"endContent":"hi!","txns":[{"patches":[[0,0,"hi"],[2,0,"!"]]}]}"#;
//! let outcome = replay(&Trace::parse(json).unwrap()).unwrap();
//! assert!(outcome.matches());
//! assert_eq!((outcome.ops, outcome.final_len()), (2, 3));
//! ```

use std::collections::BTreeSet;

use crdt_core::text::TextError;
use crdt_core::{ReplicaId, Text, VersionVector};

use crate::trace::{ConcurrentTrace, Patch, SequentialTrace, Trace, TraceKind};

/// What can go wrong replaying a trace (other than ending with the wrong content, which is
/// reported in [`ReplayOutcome::matches`]).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The engine refused an edit or an encoded batch.
    #[error("transaction {txn}: {source}")]
    Engine {
        /// Index of the transaction being replayed (the final sync counts as `txns.len()`).
        txn: usize,
        /// What the engine said.
        source: TextError,
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

/// The result of a replay: the final replicas and what they hold.
#[derive(Debug)]
pub struct ReplayOutcome {
    /// Sequential or concurrent.
    pub kind: TraceKind,
    /// Number of patches (edits) replayed.
    pub ops: usize,
    /// The final replicas: one for a sequential trace, one per agent for a concurrent one.
    pub replicas: Vec<Text>,
    /// The content the trace says every replica must end with.
    pub expected: String,
}

impl ReplayOutcome {
    /// True when every replica holds exactly the trace's final content.
    pub fn matches(&self) -> bool {
        self.replicas.iter().all(|r| r.to_string() == self.expected)
    }

    /// Length in characters of the first replica's content.
    pub fn final_len(&self) -> usize {
        self.replicas.first().map_or(0, Text::len)
    }

    /// Size of the first replica's full history, encoded as it would be sent to an empty peer.
    pub fn encoded_bytes(&self) -> usize {
        self.replicas
            .first()
            .map_or(0, |r| r.encode_ops_since(&VersionVector::new()).len())
    }
}

/// Replays a trace of either kind.
pub fn replay(trace: &Trace) -> Result<ReplayOutcome, ReplayError> {
    match trace {
        Trace::Sequential(t) => replay_sequential(t),
        Trace::Concurrent(t) => replay_concurrent(t),
    }
}

/// Applies one transaction's patches to `text` as local edits.
fn apply_patches(text: &mut Text, patches: &[Patch], txn: usize) -> Result<(), ReplayError> {
    let engine = |source| ReplayError::Engine { txn, source };
    for patch in patches {
        if patch.delete() > 0 {
            text.delete(patch.pos(), patch.delete()).map_err(engine)?;
        }
        if !patch.insert().is_empty() {
            text.insert(patch.pos(), patch.insert()).map_err(engine)?;
        }
    }
    Ok(())
}

/// Replays a sequential trace as local edits on one replica (id 1), starting from its
/// `startContent`.
pub fn replay_sequential(trace: &SequentialTrace) -> Result<ReplayOutcome, ReplayError> {
    let mut text = Text::new(ReplicaId::new(1));
    if !trace.start_content.is_empty() {
        text.insert(0, &trace.start_content)
            .map_err(|source| ReplayError::Engine { txn: 0, source })?;
    }
    let mut ops = 0;
    for (i, txn) in trace.txns.iter().enumerate() {
        apply_patches(&mut text, &txn.patches, i)?;
        ops += txn.patches.len();
    }
    Ok(ReplayOutcome {
        kind: TraceKind::Sequential,
        ops,
        replicas: vec![text],
        expected: trace.end_content.clone(),
    })
}

/// The history of a concurrent replay so far: per transaction, the version right after it and
/// the encoded ops it made.
struct History<'a> {
    trace: &'a ConcurrentTrace,
    after: Vec<VersionVector>,
    made: Vec<Vec<u8>>,
}

impl History<'_> {
    /// Brings `replica` up to date with transactions `heads` (and so all their ancestors) by
    /// applying the encoded ops of each one it lacks, oldest first (a causal order, since every
    /// parent precedes its child in the trace).
    fn sync_to(&self, replica: &mut Text, heads: &[usize], txn: usize) -> Result<(), ReplayError> {
        let mut missing = BTreeSet::new();
        let mut stack: Vec<usize> = heads.to_vec();
        while let Some(j) = stack.pop() {
            if missing.contains(&j) || replica.version().dominates(&self.after[j]) {
                continue;
            }
            missing.insert(j);
            stack.extend_from_slice(&self.trace.txns[j].parents);
        }
        for j in missing {
            replica
                .apply_encoded(&self.made[j])
                .map_err(|source| ReplayError::Engine { txn, source })?;
        }
        Ok(())
    }
}

/// Replays a concurrent trace with one replica per agent (agent `a` has replica id `a + 1`),
/// syncing along the parent edges through the encoded-ops path, then syncs everyone fully.
///
/// Should an agent's replica already know a transaction outside a new transaction's ancestry, the
/// agent continues on a fresh replica (with a fresh id) built from that ancestry, so that every
/// transaction is made on exactly the state its parents describe.
pub fn replay_concurrent(trace: &ConcurrentTrace) -> Result<ReplayOutcome, ReplayError> {
    let agents = trace.num_agents;
    let mut replicas: Vec<Text> = (1..=agents as u64)
        .map(|id| Text::new(ReplicaId::new(id)))
        .collect();
    let mut next_fresh_id = agents as u64 + 1;
    let mut history = History {
        trace,
        after: Vec::with_capacity(trace.txns.len()),
        made: Vec::with_capacity(trace.txns.len()),
    };
    let mut ops = 0;
    for (i, txn) in trace.txns.iter().enumerate() {
        let replica = replicas
            .get_mut(txn.agent)
            .ok_or(ReplayError::UnknownAgent {
                txn: i,
                agent: txn.agent,
                agents,
            })?;
        let mut parents_version = VersionVector::new();
        for &p in &txn.parents {
            parents_version.merge(&history.after[p]);
        }
        if !parents_version.dominates(replica.version()) {
            *replica = Text::new(ReplicaId::new(next_fresh_id));
            next_fresh_id += 1;
        }
        history.sync_to(replica, &txn.parents, i)?;
        if replica.version() != &parents_version {
            return Err(ReplayError::NotAtParents {
                txn: i,
                held: replica.version().clone(),
                expected: parents_version,
            });
        }
        apply_patches(replica, &txn.patches, i)?;
        ops += txn.patches.len();
        history.after.push(replica.version().clone());
        history
            .made
            .push(replica.encode_ops_since(&parents_version));
    }
    let everything: Vec<usize> = (0..trace.txns.len()).collect();
    for replica in &mut replicas {
        history.sync_to(replica, &everything, trace.txns.len())?;
    }
    Ok(ReplayOutcome {
        kind: TraceKind::Concurrent,
        ops,
        replicas,
        expected: trace.end_content.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn concurrent(json: &str) -> ConcurrentTrace {
        match Trace::parse(json.as_bytes()) {
            Ok(Trace::Concurrent(t)) => t,
            other => panic!("not a concurrent trace: {other:?}"),
        }
    }

    #[test]
    fn sequential_replay_starts_from_the_start_content() {
        let Ok(Trace::Sequential(trace)) = Trace::parse(
            br#"{"startContent":"h\u00e9llo","endContent":"h\u00e9 world","txns":[{"patches":[[2,3," world"]]}]}"#,
        ) else {
            panic!("a sequential trace");
        };
        let outcome = replay_sequential(&trace).unwrap();
        assert_eq!(outcome.ops, 1);
        assert_eq!(outcome.replicas[0].to_string(), "hé world");
        assert!(outcome.matches());
        assert_eq!(outcome.final_len(), 8);
        assert!(outcome.encoded_bytes() > 0);
    }

    #[test]
    fn agent_ahead_of_a_transactions_parents_continues_on_a_fresh_replica() {
        // Agent 0 merges txn 1 (txn 2), then makes txn 3 on txn 0 alone ("a"): appending "z"
        // there puts it after "a". Made on "cba" instead, it would land after "c".
        let trace = concurrent(
            r#"{"kind":"concurrent","numAgents":2,"endContent":"cbaz","txns":[
              {"parents":[],"agent":0,"patches":[[0,0,"a"]]},
              {"parents":[0],"agent":1,"patches":[[0,0,"b"]]},
              {"parents":[1],"agent":0,"patches":[[0,0,"c"]]},
              {"parents":[0],"agent":0,"patches":[[1,0,"z"]]}]}"#,
        );
        let outcome = replay_concurrent(&trace).unwrap();
        assert_eq!(outcome.replicas.len(), 2);
        assert_eq!(outcome.replicas[0].to_string(), "cbaz");
        assert!(outcome.matches(), "{:?}", outcome.replicas);
        assert_eq!(outcome.replicas[0].replica(), ReplicaId::new(3));
    }

    #[test]
    fn unknown_agents_are_errors() {
        let trace = concurrent(
            r#"{"kind":"concurrent","numAgents":1,"endContent":"","txns":[
              {"parents":[],"agent":1,"patches":[[0,0,"a"]]}]}"#,
        );
        assert!(matches!(
            replay_concurrent(&trace),
            Err(ReplayError::UnknownAgent {
                txn: 0,
                agent: 1,
                agents: 1
            })
        ));
    }

    #[test]
    fn edits_out_of_range_are_errors_naming_the_transaction() {
        let trace = concurrent(
            r#"{"kind":"concurrent","numAgents":1,"endContent":"","txns":[
              {"parents":[],"agent":0,"patches":[[0,0,"a"]]},
              {"parents":[0],"agent":0,"patches":[[5,1,""]]}]}"#,
        );
        assert!(matches!(
            replay_concurrent(&trace),
            Err(ReplayError::Engine { txn: 1, .. })
        ));
    }
}
