//! The op history of a standalone replicated sequence ([`crate::Text`], [`crate::List`]): every
//! op ever applied, in the order applied (which is causal), run-length encoded.
//!
//! History is not state (as diamond-types separates `OpLog` and `Branch`): the [`Sequence`]
//! holds what the document looks like, this log holds what happened, so that a peer lacking some
//! ops can be sent exactly those. Each op consumes counters of its replica: an insert one per
//! element (the element ids), a delete one per element deleted. Entries are 32 bytes:
//! - an insert entry is a burst of typing (ids only: origins are read back from the sequence,
//!   which keeps them per run, and so is the content, which the sequence holds for live elements;
//!   deleted content is kept nowhere, as no peer can need it: whoever lacks an insert also lacks
//!   every delete of its elements, so both travel in the same batch);
//! - a delete entry is a run of deletes of consecutive elements, forwards (the Delete key, or
//!   one range delete) or backwards (Backspace), as diamond-types encodes them.
//!
//! Invariant: per replica, entries hold consecutive counters from 1 with no gap, so the version
//! vector of the log is exact and "ops since a version" is a filter on counters. Each replica's
//! entries are also indexed by position (`by_agent`, ascending in both position and counter), so
//! "ops since" starts at the first entry the peer lacks, found by binary search per replica,
//! rather than scanning the whole log: syncing after each edit costs what was missed, not the
//! length of history.

use std::collections::BTreeMap;

use super::content::Content;
use super::Sequence;
use crate::clock::{Dot, ReplicaId, VersionVector};

/// One run of ops in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    /// Elements `counter..counter+len` of `agent`.
    Insert { agent: u32, counter: u64, len: u32 },
    /// Ops `counter..counter+len` of `agent`; op `k` deletes element `target + k` of
    /// `target_agent` (or `target - k` when `backward`).
    Delete {
        agent: u32,
        counter: u64,
        len: u32,
        target_agent: u32,
        target: u64,
        backward: bool,
    },
}

impl Entry {
    fn agent_counter_len(&self) -> (u32, u64, u32) {
        match *self {
            Entry::Insert {
                agent,
                counter,
                len,
                ..
            }
            | Entry::Delete {
                agent,
                counter,
                len,
                ..
            } => (agent, counter, len),
        }
    }
}

/// An op of the log, decoded into ids (what [`OpLog::ops_since`] yields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LoggedOp {
    /// An insert run, trimmed to what the peer lacks (its content is in the sequence).
    Insert {
        id: Dot,
        origin_left: Option<Dot>,
        origin_right: Option<Dot>,
        len: u64,
    },
    /// A delete run, trimmed: ops `id..id+len`, first target `target`, direction.
    Delete {
        id: Dot,
        len: u64,
        target: Dot,
        backward: bool,
    },
}

/// The run-length encoded op log.
#[derive(Clone, Debug, Default)]
pub(crate) struct OpLog {
    entries: Vec<Entry>,
    replicas: Vec<ReplicaId>,
    /// Agent of each replica: u64 values (all from u32s), the map type of
    /// [`crate::VersionVector`] (no more `BTreeMap` code in the wasm build).
    agent_of: BTreeMap<ReplicaId, u64>,
    /// Per agent, the positions in `entries` of its entries, ascending.
    by_agent: Vec<Vec<u32>>,
    version: VersionVector,
    /// Right origin of the last insert entry, for deciding whether the next insert extends it.
    last_insert_or: Option<Option<Dot>>,
}

impl OpLog {
    /// What the log holds: per replica, the highest counter (gap-free).
    pub(crate) fn version(&self) -> &VersionVector {
        &self.version
    }

    fn agent(&mut self, replica: ReplicaId) -> u32 {
        if let Some(&a) = self.agent_of.get(&replica) {
            return a as u32; // inserted from a u32 below
        }
        let a = self.replicas.len() as u32;
        self.replicas.push(replica);
        self.agent_of.insert(replica, u64::from(a));
        self.by_agent.push(Vec::new());
        a
    }

    /// Appends a new entry, indexing it under its agent.
    fn push_entry(&mut self, entry: Entry) {
        let (agent, _, _) = entry.agent_counter_len();
        // `agent` came from `self.agent`, which made its index slot.
        self.by_agent[agent as usize].push(self.entries.len() as u32);
        self.entries.push(entry);
    }

    /// Position of the first entry holding an op `version` lacks (`entries.len()` if none).
    fn first_lacking(&self, version: &VersionVector) -> usize {
        let mut first = self.entries.len();
        for (agent, positions) in self.by_agent.iter().enumerate() {
            let have = version.get(self.replicas[agent]);
            let known = positions.partition_point(|&at| {
                let (_, counter, len) = self.entries[at as usize].agent_counter_len();
                counter + u64::from(len) <= have + 1
            });
            if let Some(&at) = positions.get(known) {
                first = first.min(at as usize);
            }
        }
        first
    }

    /// Appends an insert of elements `id..id+len` (the caller applied it; `len` is at most
    /// the engine's run limit, below 2^31).
    pub(crate) fn push_insert(
        &mut self,
        id: Dot,
        origin_left: Option<Dot>,
        origin_right: Option<Dot>,
        len: u32,
    ) {
        let agent = self.agent(id.replica);
        self.version
            .observe(Dot::new(id.replica, id.counter + u64::from(len) - 1));
        if let (
            Some(Entry::Insert {
                agent: a,
                counter,
                len: l,
            }),
            Some(or),
        ) = (self.entries.last_mut(), self.last_insert_or)
        {
            let last = Dot::new(id.replica, *counter + u64::from(*l) - 1);
            if *a == agent
                && last.counter + 1 == id.counter
                && origin_left == Some(last)
                && or == origin_right
                && l.checked_add(len).is_some()
            {
                *l += len;
                return;
            }
        }
        self.push_entry(Entry::Insert {
            agent,
            counter: id.counter,
            len,
        });
        self.last_insert_or = Some(origin_right);
    }

    /// Appends delete ops `id..id+len` deleting `target` onwards (or downwards when
    /// `backward`).
    pub(crate) fn push_delete(&mut self, id: Dot, len: u64, target: Dot, backward: bool) {
        let agent = self.agent(id.replica);
        let target_agent = self.agent(target.replica);
        self.version
            .observe(Dot::new(id.replica, id.counter + len - 1));
        let Ok(len32) = u32::try_from(len) else {
            // Split absurdly long runs (never produced by the engine, which caps runs at 2^31).
            let half = len / 2;
            let (t2, b2) = if backward {
                (Dot::new(target.replica, target.counter - half), true)
            } else {
                (Dot::new(target.replica, target.counter + half), false)
            };
            self.push_delete(id, half, target, backward);
            self.push_delete(Dot::new(id.replica, id.counter + half), len - half, t2, b2);
            return;
        };
        self.last_insert_or = None;
        if let Some(Entry::Delete {
            agent: a,
            counter,
            len: l,
            target_agent: ta,
            target: t,
            backward: b,
        }) = self.entries.last_mut()
        {
            if *a == agent && *counter + u64::from(*l) == id.counter && *ta == target_agent {
                let n = u64::from(*l);
                let forward_next = !*b && *t + n == target.counter && !backward;
                let backward_next =
                    (*b || n == 1) && len == 1 && *t >= n && *t - n == target.counter;
                if (forward_next || backward_next) && l.checked_add(len32).is_some() {
                    if backward_next {
                        *b = true;
                    }
                    *l += len32;
                    return;
                }
            }
        }
        self.push_entry(Entry::Delete {
            agent,
            counter: id.counter,
            len: len32,
            target_agent,
            target: target.counter,
            backward: backward && len > 1,
        });
    }

    /// The ops `version` lacks, trimmed, in log order; insert origins are read from `seq`.
    pub(crate) fn ops_since<'a, C: Content>(
        &'a self,
        version: &'a VersionVector,
        seq: &'a Sequence<C>,
    ) -> impl Iterator<Item = LoggedOp> + 'a {
        // Elements of an insert entry are in the sequence by construction.
        self.ops_since_with(version, move |id| {
            seq.origins_of(id).unwrap_or((None, None))
        })
    }

    /// [`OpLog::ops_since`] with every insert's origins `None`: for a snapshot's history, whose
    /// inserts take their origins from the state it accompanies (looking them up was a sixth of
    /// the time of encoding a snapshot).
    pub(crate) fn ops_since_without_origins<'a>(
        &'a self,
        version: &'a VersionVector,
    ) -> impl Iterator<Item = LoggedOp> + 'a {
        self.ops_since_with(version, |_| (None, None))
    }

    /// The ops `version` lacks, trimmed, in log order, with insert origins from `origins`.
    fn ops_since_with<'a>(
        &'a self,
        version: &'a VersionVector,
        origins: impl Fn(Dot) -> (Option<Dot>, Option<Dot>) + 'a,
    ) -> impl Iterator<Item = LoggedOp> + 'a {
        let start = self.first_lacking(version);
        self.entries[start..].iter().filter_map(move |e| {
            let (agent, counter, len) = e.agent_counter_len();
            let replica = self.replicas[agent as usize];
            let have = version.get(replica);
            let end = counter + u64::from(len);
            if have + 1 >= end {
                return None;
            }
            let k = have.saturating_sub(counter - 1).min(u64::from(len));
            let id = Dot::new(replica, counter + k);
            Some(match *e {
                Entry::Insert { .. } => {
                    let (origin_left, origin_right) = origins(id);
                    LoggedOp::Insert {
                        id,
                        origin_left,
                        origin_right,
                        len: u64::from(len) - k,
                    }
                }
                Entry::Delete {
                    target_agent,
                    target,
                    backward,
                    ..
                } => LoggedOp::Delete {
                    id,
                    len: u64::from(len) - k,
                    target: Dot::new(
                        self.replicas[target_agent as usize],
                        if backward { target - k } else { target + k },
                    ),
                    backward,
                },
            })
        })
    }

    /// Number of entries (runs) in the log.
    pub(crate) fn entry_count(&self) -> usize {
        self.entries.len()
    }

    /// Approximate heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>()
            + self
                .by_agent
                .iter()
                .map(|p| p.capacity() * std::mem::size_of::<u32>())
                .sum::<usize>()
            + self.replicas.capacity() * 8
            + self.agent_of.len() * 32
            + self.version.len() * 32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(r: u64, c: u64) -> Dot {
        Dot::new(ReplicaId::new(r), c)
    }

    #[test]
    fn typing_and_backspacing_are_single_entries() {
        let mut log = OpLog::default();
        log.push_insert(d(1, 1), None, None, 1);
        log.push_insert(d(1, 2), Some(d(1, 1)), None, 1);
        log.push_insert(d(1, 3), Some(d(1, 2)), None, 1);
        assert_eq!(log.entry_count(), 1);
        // Different right origin: a new entry.
        log.push_insert(d(1, 4), Some(d(1, 3)), Some(d(2, 1)), 1);
        assert_eq!(log.entry_count(), 2);
        // Backspace x3: targets 4, 3, 2.
        log.push_delete(d(1, 5), 1, d(1, 4), false);
        log.push_delete(d(1, 6), 1, d(1, 3), false);
        log.push_delete(d(1, 7), 1, d(1, 2), false);
        assert_eq!(log.entry_count(), 3);
        // Forward deletes: a new run.
        log.push_delete(d(1, 8), 2, d(1, 10), false);
        log.push_delete(d(1, 10), 1, d(1, 12), false);
        assert_eq!(log.entry_count(), 4);
        assert_eq!(log.version().get(ReplicaId::new(1)), 10);
        assert_eq!(
            log.entries[2],
            Entry::Delete {
                agent: 0,
                counter: 5,
                len: 3,
                target_agent: 0,
                target: 4,
                backward: true
            }
        );
    }

    /// True when `version` holds every op of `entry`.
    fn known(log: &OpLog, entry: &Entry, version: &VersionVector) -> bool {
        let (agent, counter, len) = entry.agent_counter_len();
        counter + u64::from(len) <= version.get(log.replicas[agent as usize]) + 1
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]
        /// The index finds exactly the first entry a peer lacks, for interleaved logs of three
        /// replicas and any version (behind, level, ahead of the log).
        #[test]
        fn first_lacking_is_the_first_entry_not_known(
            steps in proptest::collection::vec((0u64..3, 1u32..4, proptest::bool::ANY), 0..60),
            have in proptest::collection::vec(0u64..80, 3),
        ) {
            let mut log = OpLog::default();
            let mut next = [1u64; 3];
            for (r, len, insert) in steps {
                let id = d(r + 1, next[r as usize]);
                if insert {
                    // A fresh right origin each time, so every insert is its own entry.
                    log.push_insert(id, None, Some(d(9, id.counter)), len);
                } else {
                    log.push_delete(id, u64::from(len), d(9, 1000 + id.counter), false);
                }
                next[r as usize] += u64::from(len);
            }
            let mut version = VersionVector::default();
            for (r, h) in have.iter().enumerate() {
                if *h > 0 {
                    version.set(ReplicaId::new(r as u64 + 1), *h);
                }
            }
            let first = log.first_lacking(&version);
            let expected = log
                .entries
                .iter()
                .position(|e| !known(&log, e, &version))
                .unwrap_or(log.entries.len());
            proptest::prop_assert_eq!(first, expected);
        }
    }
}
