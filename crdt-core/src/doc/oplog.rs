//! The history of a document: every [`Change`] it has applied, in the order applied (a causal
//! order), indexed by replica so that "everything not covered by this version" starts at the
//! first change a binary search per replica finds, rather than at the start of the log.
//!
//! History is not state: the materialized content lives in [`DocState`](super::state::DocState).
//! Runs of typing stay runs inside each change (one `SeqOp::Insert` per burst), so the log is
//! run-length encoded in memory and on the wire.

use std::collections::BTreeMap;

use crate::clock::{Dot, ReplicaId, SeqRange, VersionVector};
use crate::doc::change::Change;

/// Every change applied, in causal order.
#[derive(Clone, Debug, Default)]
pub(crate) struct OpLog {
    changes: Vec<Change>,
    /// For each replica, `(last counter of a change, index in changes)`, by counter.
    by_replica: BTreeMap<ReplicaId, Vec<(u64, usize)>>,
    version: VersionVector,
    /// The frontier: the last events of the changes no other change in the log names as a
    /// parent (nor follows, for its own replica's). What the next local commit names as its
    /// parents. At most one per replica (a replica's change covers its previous one), so held
    /// as replica -> counter: `log n` per change however many are concurrent, and the map type
    /// of `VersionVector` (a `BTreeSet<Dot>` was kilobytes more of the wasm build).
    heads: BTreeMap<ReplicaId, u64>,
    max_lamport: u64,
}

impl OpLog {
    /// Appends a change whose causal past is in the log.
    pub(crate) fn push(&mut self, change: Change) {
        self.advance_heads(&change);
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

    /// Replaces the heads `change` covers (its parents and its replica's previous event) by
    /// its own last event. Proportional to the change's parents, not to the log.
    fn advance_heads(&mut self, change: &Change) {
        let id = change.id;
        let own_previous = (id.start > 1).then(|| Dot::new(id.replica, id.start - 1));
        for covered in change.parents.iter().chain(own_previous.as_ref()) {
            if self.heads.get(&covered.replica) == Some(&covered.counter) {
                self.heads.remove(&covered.replica);
            }
        }
        self.heads.insert(id.replica, id.end - 1);
    }

    /// The frontier of the log, sorted: the parents of the next local change.
    pub(crate) fn heads(&self) -> Vec<Dot> {
        // In replica order, which is `Dot` order with one head per replica.
        self.heads.iter().map(|(&r, &c)| Dot::new(r, c)).collect()
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
        // The first change not covered, then the log from there on, less what `since` covers:
        // the changes come out in log order without sorting their indexes (each element type
        // sorted is kilobytes of the wasm build), at the cost of passing over the covered
        // changes logged after the first uncovered one.
        let first = self.by_replica.iter().filter_map(|(replica, entries)| {
            let known = since.get(*replica);
            let first = entries.partition_point(|&(last, _)| last <= known);
            entries.get(first).map(|&(_, i)| i)
        });
        let Some(first) = first.min() else {
            return Vec::new();
        };
        self.changes[first..]
            .iter()
            .filter(|c| c.id.end - 1 > since.get(c.id.replica))
            .collect()
    }

    /// The Lamport timestamp of the operation at `dot`, if the log holds it.
    pub(crate) fn lamport_of(&self, dot: Dot) -> Option<u64> {
        self.change_containing(dot)
            .map(|change| change.lamport_of(dot))
    }

    /// The change holding the event `dot`, if the log holds it (O(log n)).
    pub(crate) fn change_containing(&self, dot: Dot) -> Option<&Change> {
        let entries = self.by_replica.get(&dot.replica)?;
        let at = entries.partition_point(|&(last, _)| last < dot.counter);
        let &(_, index) = entries.get(at)?;
        let change = &self.changes[index];
        change.id.contains(dot).then_some(change)
    }

    /// The changes of `replica` holding events after counter `after`, in counter order (what
    /// an undo manager has not seen yet of its own replica's edits).
    pub(crate) fn changes_of_after(
        &self,
        replica: ReplicaId,
        after: u64,
    ) -> impl Iterator<Item = &Change> + '_ {
        let entries = self.by_replica.get(&replica).map_or(&[][..], |e| &e[..]);
        let first = entries.partition_point(|&(last, _)| last <= after);
        entries[first..].iter().map(|&(_, i)| &self.changes[i])
    }

    /// The Lamport timestamp an honest replica gives `change`: one more than the highest among
    /// its causal past (its parents, and its own replica's previous event, which it always
    /// follows), or 1 when that past is empty. `None` when part of that past is not in the log.
    ///
    /// Each event's Lamport time is above its whole causal past (every change in the log
    /// passed this check), so the highest of the past is the highest among its latest events.
    pub(crate) fn expected_lamport(&self, change: &Change) -> Option<u64> {
        let own = change.id.start - 1;
        let own_prev = (own > 0).then(|| Dot::new(change.id.replica, own));
        let tips = change.parents.iter().copied().chain(own_prev);
        let mut highest = 0;
        for dot in tips {
            highest = highest.max(self.lamport_of(dot)?);
        }
        highest.checked_add(1)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::change::Op;
    use crate::doc::value::{ContainerId, ContainerKind};

    fn change(replica: u64, counter: u64, parents: &[(u64, u64)]) -> Change {
        Change {
            id: SeqRange {
                replica: ReplicaId::new(replica),
                start: counter,
                end: counter + 1,
            },
            parents: parents
                .iter()
                .map(|&(r, c)| Dot::new(ReplicaId::new(r), c))
                .collect(),
            lamport: 1,
            ops: vec![Op::CounterAdd {
                obj: ContainerId::root("c", ContainerKind::Counter),
                delta: 1,
            }],
            meta: None,
        }
    }

    /// a1, b1 concurrent; a2 after b1; c1 after a2; b2 after b1 (concurrent with a2 and c1).
    fn log() -> OpLog {
        let mut log = OpLog::default();
        for c in [
            change(1, 1, &[]),
            change(2, 1, &[]),
            change(1, 2, &[(2, 1)]),
            change(3, 1, &[(1, 2)]),
            change(2, 2, &[]),
        ] {
            log.push(c);
        }
        log
    }

    fn ids(changes: Vec<&Change>) -> Vec<(u64, u64)> {
        changes
            .iter()
            .map(|c| (c.id.replica.0, c.id.start))
            .collect()
    }

    #[test]
    fn changes_since_is_what_the_version_lacks_in_log_order() {
        let log = log();
        let version = |entries: &[(u64, u64)]| -> VersionVector {
            entries
                .iter()
                .map(|&(r, c)| (ReplicaId::new(r), c))
                .collect()
        };
        let all = [(1, 1), (2, 1), (1, 2), (3, 1), (2, 2)];
        assert_eq!(ids(log.changes_since(&VersionVector::new())), all);
        assert_eq!(ids(log.changes_since(&version(&[(1, 1)]))), all[1..]);
        assert_eq!(
            ids(log.changes_since(&version(&[(2, 1)]))),
            [(1, 1), (1, 2), (3, 1), (2, 2)]
        );
        assert_eq!(
            ids(log.changes_since(&version(&[(1, 2), (2, 1)]))),
            [(3, 1), (2, 2)]
        );
        assert_eq!(
            ids(log.changes_since(&version(&[(1, 2), (2, 2), (3, 1)]))),
            []
        );
        assert_eq!(
            ids(log.changes_since(&version(&[(1, 9), (2, 9), (3, 9)]))),
            []
        );
    }

    #[test]
    fn heads_are_the_uncovered_last_events_one_per_replica() {
        let log = log();
        // a2 is c1's parent; b1 is a2's parent and b2's own previous event.
        let d = |r, c| Dot::new(ReplicaId::new(r), c);
        assert_eq!(log.heads(), [d(2, 2), d(3, 1)]);
        let mut log = OpLog::default();
        log.push(change(5, 1, &[]));
        log.push(change(4, 1, &[]));
        assert_eq!(
            log.heads(),
            [d(4, 1), d(5, 1)],
            "sorted, concurrent heads kept"
        );
        log.push(change(5, 2, &[(4, 1)]));
        assert_eq!(log.heads(), [d(5, 2)]);
    }
}
