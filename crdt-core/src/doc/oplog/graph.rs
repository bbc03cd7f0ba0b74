//! The causal graph of a document's history, kept as runs, as diamond-types keeps its
//! `causalgraph`: consecutive changes of one replica, each made right after the previous one
//! (its only parent is that change's last event), are one run of counters with one Lamport
//! start and one list of parents, that of the run's first change. A single writer's whole
//! history is one run however many commits it made; concurrent editing breaks runs where
//! replicas interleave.
//!
//! The graph answers what applying and syncing ask of the history without touching any
//! operation: the version, the heads (the next local change's parents), the Lamport time of
//! any event, and where the first change a peer lacks starts.

use std::collections::BTreeMap;

use crate::clock::{Dot, ReplicaId, SeqRange, VersionVector};
use crate::doc::change::{check_parents, Change, ChangeError};
use crate::doc::{DocError, MAX_REPLICAS};

/// Consecutive changes of one replica, each after the previous: counters `start..end`, the
/// Lamport time of `start` (each next counter one more), and where its operations and change
/// widths start in the log's columns.
#[derive(Clone, Debug)]
pub(super) struct GraphRun {
    pub(super) replica: ReplicaId,
    pub(super) start: u64,
    pub(super) end: u64,
    pub(super) lamport: u64,
    /// The parents of the run's first change; every later change's parent is its
    /// predecessor's last event.
    pub(super) parents: Box<[Dot]>,
    /// Index of the run's first stored operation.
    pub(super) first_op: usize,
    /// Index of the run's first entry of change widths.
    pub(super) first_width: usize,
}

impl GraphRun {
    /// Whether the run holds event `dot`.
    pub(super) fn contains(&self, dot: Dot) -> bool {
        self.replica == dot.replica && self.start <= dot.counter && dot.counter < self.end
    }

    /// The Lamport time of the event `counter` of this run.
    pub(super) fn lamport_of(&self, counter: u64) -> u64 {
        self.lamport.saturating_add(counter - self.start)
    }

    /// The run's last event.
    fn last(&self) -> Dot {
        Dot::new(self.replica, self.end - 1)
    }
}

/// Every change's place in causal history, as runs in the order the changes were applied.
#[derive(Clone, Debug, Default)]
pub(super) struct CausalGraph {
    runs: Vec<GraphRun>,
    /// For each replica, `(last counter of a run, index in runs)`, by counter.
    by_replica: BTreeMap<ReplicaId, Vec<(u64, usize)>>,
    version: VersionVector,
    /// The frontier: the last events of the changes no other change names as a parent (nor
    /// follows, for its own replica's). At most one per replica (a replica's change covers its
    /// previous one), so held as replica -> counter: `log n` per change however many are
    /// concurrent.
    heads: BTreeMap<ReplicaId, u64>,
    max_lamport: u64,
}

impl CausalGraph {
    /// Lengthens the last run by `extra` events (the hostile tests forge histories with it;
    /// only `encode` reads the graph afterwards).
    #[cfg(test)]
    pub(super) fn lengthen_last_run(&mut self, extra: u64) {
        if let Some(run) = self.runs.last_mut() {
            run.end += extra;
        }
    }

    /// Whether change `id` of parents `parents` and Lamport time `lamport` continues the last
    /// run: same replica, the next counters, made right after the run's last change with
    /// nothing else in its past that the run lacks.
    fn continues_last_run(&self, id: SeqRange, parents: &[Dot], lamport: u64) -> bool {
        let Some(last) = self.runs.last() else {
            return false;
        };
        last.replica == id.replica
            && last.end == id.start
            && parents == [last.last()]
            && lamport == last.lamport_of(last.end - 1).saturating_add(1)
    }

    /// The frontier's only event, when it has one (a lone writer's: its last event).
    pub(super) fn sole_head(&self) -> Option<Dot> {
        match (self.heads.first_key_value(), self.heads.len()) {
            (Some((&replica, &counter)), 1) => Some(Dot::new(replica, counter)),
            _ => None,
        }
    }

    /// Records change `id` of parents `parents` and Lamport time `lamport` (whose causal past
    /// is in the graph), extending the last run when the change continues it, else starting a
    /// run whose operations start at `first_op` and widths at `first_width`. Returns whether
    /// it started a run.
    pub(super) fn push(
        &mut self,
        id: SeqRange,
        parents: &[Dot],
        lamport: u64,
        first_op: usize,
        first_width: usize,
    ) -> bool {
        self.version.set(id.replica, id.end - 1);
        self.max_lamport = self.max_lamport.max(lamport.saturating_add(id.len() - 1));
        if self.continues_last_run(id, parents, lamport) {
            // Its only parent is its own previous event, which it replaces as a head (when a
            // later change of another replica covered that event, it was no head).
            match self.heads.get_mut(&id.replica) {
                Some(head) if *head == id.start - 1 => *head = id.end - 1,
                _ => self.advance_heads(id, parents),
            }
            if let Some(last) = self.runs.last_mut() {
                last.end = id.end;
            }
            if let Some(entry) = self
                .by_replica
                .get_mut(&id.replica)
                .and_then(|e| e.last_mut())
            {
                entry.0 = id.end - 1;
            }
            return false;
        }
        self.advance_heads(id, parents);
        self.by_replica
            .entry(id.replica)
            .or_default()
            .push((id.end - 1, self.runs.len()));
        self.runs.push(GraphRun {
            replica: id.replica,
            start: id.start,
            end: id.end,
            lamport,
            parents: parents.into(),
            first_op,
            first_width,
        });
        true
    }

    /// Appends a run read from a saved document, after checking what applying its changes
    /// one by one would have: it continues its replica's events, its first change's parents
    /// are well formed and held, the replica fits, and its Lamport start is the one an honest
    /// replica gives it (each later change of the run then has its predecessor's plus one).
    pub(super) fn push_run(&mut self, run: GraphRun) -> Result<(), DocError> {
        let id = SeqRange {
            replica: run.replica,
            start: run.start,
            end: run.end,
        };
        let held = self.version.get(run.replica);
        if run.start != held + 1 || run.end <= run.start {
            return Err(DocError::BadSnapshot(
                "a run does not continue its replica's events",
            ));
        }
        check_parents(id, &run.parents)?;
        if held == 0 && self.version.len() >= MAX_REPLICAS {
            return Err(DocError::TooManyReplicas {
                id,
                max: MAX_REPLICAS,
            });
        }
        let expected = self
            .lamport_after(id, &run.parents)
            .ok_or(DocError::BadSnapshot("a change precedes its causal past"))?;
        if run.lamport != expected {
            return Err(DocError::ForgedLamport {
                id,
                lamport: run.lamport,
                expected,
            });
        }
        if run.lamport.checked_add(id.len()).is_none() {
            return Err(ChangeError::BadLamport {
                id,
                lamport: run.lamport,
            }
            .into());
        }
        self.advance_heads(id, &run.parents);
        self.version.set(id.replica, id.end - 1);
        self.max_lamport = self.max_lamport.max(run.lamport_of(id.end - 1));
        self.by_replica
            .entry(id.replica)
            .or_default()
            .push((id.end - 1, self.runs.len()));
        self.runs.push(run);
        Ok(())
    }

    /// Replaces the heads `change` covers (its parents and its replica's previous event) by
    /// its own last event. Proportional to the change's parents, not to the history.
    fn advance_heads(&mut self, id: SeqRange, parents: &[Dot]) {
        let own_previous = (id.start > 1).then(|| Dot::new(id.replica, id.start - 1));
        for covered in parents.iter().chain(own_previous.as_ref()) {
            if self.heads.get(&covered.replica) == Some(&covered.counter) {
                self.heads.remove(&covered.replica);
            }
        }
        self.heads.insert(id.replica, id.end - 1);
    }

    /// The runs, in the order their changes were applied.
    pub(super) fn runs(&self) -> &[GraphRun] {
        &self.runs
    }

    /// The frontier, sorted: the parents of the next local change.
    pub(super) fn heads(&self) -> Vec<Dot> {
        // In replica order, which is `Dot` order with one head per replica.
        self.heads.iter().map(|(&r, &c)| Dot::new(r, c)).collect()
    }

    /// The version the graph covers.
    pub(super) fn version(&self) -> &VersionVector {
        &self.version
    }

    /// Highest Lamport timestamp of any event.
    pub(super) fn max_lamport(&self) -> u64 {
        self.max_lamport
    }

    /// The index of the run holding the event `dot` (O(log n)).
    pub(super) fn run_containing(&self, dot: Dot) -> Option<usize> {
        // The last run first: a received change's parent is most often the change before it.
        let last = self.runs.len().checked_sub(1)?;
        let run = &self.runs[last];
        if run.replica == dot.replica && run.start <= dot.counter && dot.counter < run.end {
            return Some(last);
        }
        let entries = self.by_replica.get(&dot.replica)?;
        let at = entries.partition_point(|&(last, _)| last < dot.counter);
        let &(_, index) = entries.get(at)?;
        let run = &self.runs[index];
        (run.start <= dot.counter && dot.counter < run.end).then_some(index)
    }

    /// The Lamport timestamp of the event `dot`, if the graph holds it.
    pub(super) fn lamport_of(&self, dot: Dot) -> Option<u64> {
        let run = &self.runs[self.run_containing(dot)?];
        Some(run.lamport_of(dot.counter))
    }

    /// The Lamport timestamp an honest replica gives `change`: one more than the highest among
    /// its causal past (its parents, and its own replica's previous event, which it always
    /// follows), or 1 when that past is empty. `None` when part of that past is not here.
    ///
    /// Each event's Lamport time is above its whole causal past (every change in the graph
    /// passed this check), so the highest of the past is the highest among its latest events.
    pub(super) fn expected_lamport(&self, change: &Change) -> Option<u64> {
        self.lamport_after(change.id, &change.parents)
    }

    /// The honest Lamport start of change `id` made on `parents` (and its own replica's
    /// previous event); `None` when part of that past is not here.
    fn lamport_after(&self, id: SeqRange, parents: &[Dot]) -> Option<u64> {
        let own = id.start - 1;
        // Its own previous event is most often its one parent: looked up once.
        let own_prev = (own > 0)
            .then(|| Dot::new(id.replica, own))
            .filter(|own| !parents.contains(own));
        let mut highest = 0;
        for dot in parents.iter().copied().chain(own_prev) {
            highest = highest.max(self.lamport_of(dot)?);
        }
        highest.checked_add(1)
    }

    /// The index of the first run (in applied order) holding an event `since` lacks.
    pub(super) fn first_run_not_in(&self, since: &VersionVector) -> Option<usize> {
        self.by_replica
            .iter()
            .filter_map(|(replica, entries)| {
                let known = since.get(*replica);
                let first = entries.partition_point(|&(last, _)| last <= known);
                entries.get(first).map(|&(_, i)| i)
            })
            .min()
    }

    /// The indexes of `replica`'s runs holding events after counter `after`, in order.
    pub(super) fn runs_of_after(&self, replica: ReplicaId, after: u64) -> &[(u64, usize)] {
        let entries = self.by_replica.get(&replica).map_or(&[][..], |e| &e[..]);
        let first = entries.partition_point(|&(last, _)| last <= after);
        &entries[first..]
    }
}
