//! The replay of a concurrent trace: one replica per agent, each transaction made on exactly the
//! merge of its parents, reached through encoded changes as two peers sync (see the parent
//! module's invariant).

use std::collections::BTreeSet;

use crdt_core::{ReplicaId, VersionVector};

use super::{ReplayError, ReplayOutcome, Replica};
use crate::trace::{ConcurrentTrace, TraceKind};

/// The history of a concurrent replay so far: per transaction, the version right after it and
/// the encoded changes it made.
struct History<'a> {
    trace: &'a ConcurrentTrace,
    after: Vec<VersionVector>,
    made: Vec<Vec<u8>>,
}

impl History<'_> {
    /// Brings `replica` up to date with transactions `heads` (and so all their ancestors) by
    /// applying the encoded changes of each one it lacks, oldest first (a causal order, since
    /// every parent precedes its child in the trace).
    fn sync_to<R: Replica>(
        &self,
        replica: &mut R,
        heads: &[usize],
        txn: usize,
    ) -> Result<(), ReplayError> {
        let version = replica.version();
        let mut missing = BTreeSet::new();
        let mut stack: Vec<usize> = heads.to_vec();
        while let Some(j) = stack.pop() {
            if missing.contains(&j) || version.dominates(&self.after[j]) {
                continue;
            }
            missing.insert(j);
            stack.extend_from_slice(&self.trace.txns[j].parents);
        }
        for j in missing {
            replica
                .apply_encoded(&self.made[j])
                .map_err(ReplayError::edit(txn))?;
        }
        Ok(())
    }

    /// The merge of the versions after `parents`.
    fn version_of(&self, parents: &[usize]) -> VersionVector {
        let mut version = VersionVector::new();
        for &p in parents {
            version.merge(&self.after[p]);
        }
        version
    }
}

/// Replays a concurrent trace with one replica per agent (agent `a` has replica id `a + 1`),
/// syncing along the parent edges through encoded changes, then syncs everyone fully.
///
/// Should an agent's replica already know a transaction outside a new transaction's ancestry, the
/// agent continues on a fresh replica (with a fresh id) built from that ancestry, so that every
/// transaction is made on exactly the state its parents describe.
pub fn replay_concurrent<R: Replica>(
    trace: &ConcurrentTrace,
) -> Result<ReplayOutcome<R>, ReplayError> {
    let agents = trace.num_agents;
    let mut replicas: Vec<R> = (1..=agents as u64)
        .map(|id| R::with_replica(ReplicaId::new(id)))
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
        let parents_version = history.version_of(&txn.parents);
        if !parents_version.dominates(&replica.version()) {
            *replica = R::with_replica(ReplicaId::new(next_fresh_id));
            next_fresh_id += 1;
        }
        history.sync_to(replica, &txn.parents, i)?;
        let held = replica.version();
        if held != parents_version {
            return Err(ReplayError::NotAtParents {
                txn: i,
                held,
                expected: parents_version,
            });
        }
        replica
            .apply_txn(&txn.patches)
            .map_err(ReplayError::edit(i))?;
        ops += txn.patches.len();
        history.after.push(replica.version());
        history.made.push(replica.encode_since(&parents_version));
    }
    let everything: Vec<usize> = (0..trace.txns.len()).collect();
    for replica in &mut replicas {
        history.sync_to(replica, &everything, trace.txns.len())?;
    }
    Ok(ReplayOutcome {
        kind: TraceKind::Concurrent,
        ops,
        txns: trace.txns.len(),
        replicas,
        expected: trace.end_content.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::{DocReplica, EngineReplica};
    use crate::trace::Trace;

    fn concurrent(json: &str) -> ConcurrentTrace {
        match Trace::parse(json.as_bytes()) {
            Ok(Trace::Concurrent(t)) => t,
            other => panic!("not a concurrent trace: {other:?}"),
        }
    }

    /// Agent 0 merges txn 1 (txn 2), then makes txn 3 on txn 0 alone ("a"): appending "z" there
    /// puts it after "a". Made on "cba" instead, it would land after "c".
    const AHEAD: &str = r#"{"kind":"concurrent","numAgents":2,"endContent":"cbaz","txns":[
          {"parents":[],"agent":0,"patches":[[0,0,"a"]]},
          {"parents":[0],"agent":1,"patches":[[0,0,"b"]]},
          {"parents":[1],"agent":0,"patches":[[0,0,"c"]]},
          {"parents":[0],"agent":0,"patches":[[1,0,"z"]]}]}"#;

    #[test]
    fn agent_ahead_of_a_transactions_parents_continues_on_a_fresh_replica() {
        let mut outcome = replay_concurrent::<EngineReplica>(&concurrent(AHEAD)).unwrap();
        assert_eq!(outcome.replicas.len(), 2);
        assert_eq!(outcome.replicas[0].text.to_string(), "cbaz");
        assert_eq!(outcome.replicas[0].text.replica(), ReplicaId::new(3));
        assert!(outcome.matches(), "{:?}", outcome.replicas);
    }

    #[test]
    fn docs_replay_a_concurrent_trace_through_their_changes() {
        let mut outcome = replay_concurrent::<DocReplica>(&concurrent(AHEAD)).unwrap();
        assert_eq!(outcome.replicas[0].doc.replica(), ReplicaId::new(3));
        assert!(outcome.matches(), "{:?}", outcome.replicas);
    }

    #[test]
    fn unknown_agents_are_errors() {
        let trace = concurrent(
            r#"{"kind":"concurrent","numAgents":1,"endContent":"","txns":[
              {"parents":[],"agent":1,"patches":[[0,0,"a"]]}]}"#,
        );
        assert!(matches!(
            replay_concurrent::<DocReplica>(&trace),
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
            replay_concurrent::<EngineReplica>(&trace),
            Err(ReplayError::Edit { txn: 1, .. })
        ));
        assert!(matches!(
            replay_concurrent::<DocReplica>(&trace),
            Err(ReplayError::Edit { txn: 1, .. })
        ));
    }
}
