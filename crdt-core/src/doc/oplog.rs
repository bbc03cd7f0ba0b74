//! The history of a document: every [`Change`] it has applied, in the order applied (a causal
//! order), indexed by replica so that "everything not covered by this version" is found by a
//! binary search per replica rather than a scan of the whole log.
//!
//! History is not state: the materialized content lives in [`DocState`](super::state::DocState).
//! Runs of typing stay runs inside each change (one `SeqOp::Insert` per burst), so the log is
//! run-length encoded in memory and on the wire.

use std::collections::BTreeMap;

use crate::clock::{ReplicaId, SeqRange, VersionVector};
use crate::doc::change::Change;

/// Every change applied, in causal order.
#[derive(Clone, Debug, Default)]
pub(crate) struct OpLog {
    changes: Vec<Change>,
    /// For each replica, `(last counter of a change, index in changes)`, by counter.
    by_replica: BTreeMap<ReplicaId, Vec<(u64, usize)>>,
    version: VersionVector,
    max_lamport: u64,
}

impl OpLog {
    /// Rebuilds the index of a log loaded from a snapshot, trusting the stored order.
    pub(crate) fn from_changes(changes: Vec<Change>) -> Self {
        let mut log = OpLog::default();
        for change in changes {
            log.push(change);
        }
        log
    }

    /// Appends a change whose causal past is in the log.
    pub(crate) fn push(&mut self, change: Change) {
        let last = change.id.end - 1;
        self.version.set(change.id.replica, last);
        self.max_lamport = self
            .max_lamport
            .max(change.lamport.saturating_add(change.id.len() - 1));
        self.by_replica
            .entry(change.id.replica)
            .or_default()
            .push((last, self.changes.len()));
        self.changes.push(change);
    }

    /// The version the log covers.
    pub(crate) fn version(&self) -> &VersionVector {
        &self.version
    }

    /// Highest Lamport timestamp of any operation in the log.
    pub(crate) fn max_lamport(&self) -> u64 {
        self.max_lamport
    }

    /// All changes, in causal order.
    pub(crate) fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// The changes holding events not covered by `since`, in the log's (causal) order.
    pub(crate) fn changes_since(&self, since: &VersionVector) -> Vec<&Change> {
        let mut indexes = Vec::new();
        for (replica, entries) in &self.by_replica {
            let known = since.get(*replica);
            let first = entries.partition_point(|&(last, _)| last <= known);
            indexes.extend(entries[first..].iter().map(|&(_, i)| i));
        }
        indexes.sort_unstable();
        indexes.into_iter().map(|i| &self.changes[i]).collect()
    }

    /// The change whose id is exactly `id`, if the log holds one.
    pub(crate) fn get(&self, id: SeqRange) -> Option<&Change> {
        let entries = self.by_replica.get(&id.replica)?;
        let last = id.end.checked_sub(1)?;
        let at = entries.binary_search_by_key(&last, |&(l, _)| l).ok()?;
        let change = &self.changes[entries[at].1];
        (change.id == id).then_some(change)
    }

    /// Number of changes.
    pub(crate) fn len(&self) -> usize {
        self.changes.len()
    }
}
