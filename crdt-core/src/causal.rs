//! The [`CausalBuffer`] type; its documentation (why it is built this way) is on the type, which
//! the crate root exports.

use std::collections::{BTreeMap, VecDeque};

use crate::clock::{Dot, ReplicaId, SeqRange, VersionVector};

/// A change as the buffer sees it: which events it holds, what it depends on, and its payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CausalChange<P> {
    /// The events this change holds: counters `start..end` of one replica.
    pub id: SeqRange,
    /// The events its causal past ends at; each must be applied before this change.
    pub parents: Vec<Dot>,
    /// The change itself, opaque to the buffer.
    pub payload: P,
}

/// How much a [`CausalBuffer`] may hold while changes wait for their causal past.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferLimits {
    /// Most changes waiting at once.
    pub max_changes: usize,
    /// Most bytes (as weighed by the caller of [`CausalBuffer::insert`]) waiting at once.
    pub max_bytes: usize,
}

impl Default for BufferLimits {
    /// 10,000 changes and 64 MiB.
    fn default() -> Self {
        BufferLimits {
            max_changes: 10_000,
            max_bytes: 64 << 20,
        }
    }
}

/// Why a change was refused. The buffer is unchanged after any error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CausalError {
    /// The change holds no events, or starts at counter 0.
    #[error("change {id:?} holds no events (counters start at 1 and end > start)")]
    EmptyChange {
        /// The offending id.
        id: SeqRange,
    },
    /// The change depends on one of its own events or a later one of its replica.
    #[error("change {id:?} depends on its own events (a parent names counter {dep})")]
    SelfDependency {
        /// The offending id.
        id: SeqRange,
        /// The counter of its own replica its deps name.
        dep: u64,
    },
    /// Part of the change's events is applied already and part is not: it overlaps another change
    /// with different boundaries, which a well-behaved peer never sends.
    #[error("change {id:?} overlaps events already applied up to counter {applied}")]
    Overlap {
        /// The offending id.
        id: SeqRange,
        /// Highest applied counter of its replica.
        applied: u64,
    },
    /// A different change with the same first event is already waiting.
    #[error("change {id:?} conflicts with a waiting change that starts at the same event")]
    Conflict {
        /// The offending id.
        id: SeqRange,
    },
    /// Taking the change would exceed the buffer's limits.
    #[error("causal buffer full: {changes} changes / {bytes} bytes waiting (limits {limits:?})")]
    BufferFull {
        /// Changes waiting now.
        changes: usize,
        /// Bytes waiting now.
        bytes: usize,
        /// The configured limits.
        limits: BufferLimits,
    },
}

struct Waiting<P> {
    change: CausalChange<P>,
    bytes: usize,
}

/// Holds changes until their causal past is applied.
///
/// Causal delivery for op- and change-based data: a [`CausalBuffer`] accepts changes in any order
/// and any number of times, and releases each exactly once, only after everything it depends on.
///
/// A change is named by the run of events it holds, `replica` counters `start..end` (a
/// [`SeqRange`]), and depends on its *parents*: the events its causal past ends at (a frontier,
/// usually one event). It is *ready* when every parent is applied and when its own replica's
/// events up to `start - 1` are applied (each replica's events apply in order, without gaps).
/// As applied events are summarised by a version vector with no gaps, a parent applied means
/// its whole causal past is. Changes that arrive
/// early wait here; a change whose events are all applied already is a duplicate and is dropped.
///
/// Memory is bounded: the buffer holds at most [`BufferLimits::max_changes`] changes and
/// [`BufferLimits::max_bytes`] bytes (as the caller weighs them); past that, [`CausalBuffer::insert`]
/// returns [`CausalError::BufferFull`] and keeps what it had. Waiting changes are indexed by the one
/// event each is blocked on, so releasing is proportional to what is released, not to what waits.
///
/// ```
/// use crdt_core::{CausalBuffer, CausalChange, BufferLimits, Dot, ReplicaId, SeqRange};
///
/// let (a, b) = (ReplicaId::new(1), ReplicaId::new(2));
/// let change = |replica, start, end, parents: Vec<Dot>, payload| CausalChange {
///     id: SeqRange { replica, start, end }, parents, payload };
///
/// let mut buffer = CausalBuffer::new(BufferLimits::default());
/// // `b`'s change, made after event 2 of `a`, arrives first: it waits.
/// let after_a = change(b, 1, 2, vec![Dot::new(a, 2)], "reply");
/// assert!(buffer.insert(after_a, 6).unwrap().is_empty());
/// let released = buffer.insert(change(a, 1, 3, vec![], "first"), 5).unwrap();
/// let payloads: Vec<_> = released.iter().map(|c| c.payload).collect();
/// assert_eq!(payloads, ["first", "reply"]);
/// // A duplicate is ignored.
/// assert!(buffer.insert(change(a, 1, 3, vec![], "first"), 5).unwrap().is_empty());
/// assert_eq!(buffer.applied().get(a), 2);
/// ```
pub struct CausalBuffer<P> {
    applied: VersionVector,
    limits: BufferLimits,
    /// Waiting changes keyed by their first event.
    waiting: BTreeMap<Dot, Box<Waiting<P>>>,
    /// For each event something waits on, the first events of the changes waiting on it.
    /// Both maps hold boxes: a map's code depends only on the layout of its keys and values, so
    /// the two share one copy of the `BTreeMap` code in the wasm build (~9 KB less) for one
    /// allocation more per waiting change, taken only by changes that arrive out of order.
    #[allow(clippy::box_collection)] // the box is the point, as said above
    blocked_on: BTreeMap<Dot, Box<Vec<Dot>>>,
    bytes: usize,
}

impl<P> CausalBuffer<P> {
    /// An empty buffer for a replica that has applied nothing.
    pub fn new(limits: BufferLimits) -> Self {
        Self::with_applied(VersionVector::new(), limits)
    }

    /// An empty buffer for a replica that has applied `applied` already (e.g. after loading).
    pub fn with_applied(applied: VersionVector, limits: BufferLimits) -> Self {
        CausalBuffer {
            applied,
            limits,
            waiting: BTreeMap::new(),
            blocked_on: BTreeMap::new(),
            bytes: 0,
        }
    }

    /// The limits this buffer keeps to.
    pub fn limits(&self) -> BufferLimits {
        self.limits
    }

    /// Events released so far (plus those the buffer started with).
    pub fn applied(&self) -> &VersionVector {
        &self.applied
    }

    /// Records events applied outside the buffer (e.g. local changes); may release waiting ones.
    pub fn mark_applied(&mut self, id: SeqRange) -> Vec<CausalChange<P>> {
        if id.is_empty() || !self.applied.advance(id.replica, id.end - 1) {
            return Vec::new();
        }
        if self.waiting.is_empty() {
            return Vec::new();
        }
        let mut released = Vec::new();
        let mut delivery = Delivery {
            applied: 0,
            rejected: Vec::new(),
        };
        self.release_from(
            id.replica,
            &mut |c| {
                released.push(c);
                Ok::<(), std::convert::Infallible>(())
            },
            &mut delivery,
        );
        released
    }

    /// Number of changes waiting.
    pub fn pending_len(&self) -> usize {
        self.waiting.len()
    }

    /// Bytes waiting, as weighed by the callers of [`insert`](Self::insert).
    pub fn pending_bytes(&self) -> usize {
        self.bytes
    }

    /// The waiting changes, by first event.
    pub fn pending(&self) -> impl Iterator<Item = &CausalChange<P>> {
        self.waiting.values().map(|w| &w.change)
    }

    /// Events that waiting changes are blocked on and that no waiting change holds: what to ask
    /// a peer for.
    pub fn missing(&self) -> Vec<Dot> {
        self.blocked_on
            .keys()
            .copied()
            .filter(|&dot| {
                let held = self
                    .waiting
                    .range(Dot::new(dot.replica, 0)..=dot)
                    .next_back()
                    .is_some_and(|(_, w)| w.change.id.contains(dot));
                !held
            })
            .collect()
    }

    /// Offers a change weighing `bytes`. Returns the changes now ready, in an order that respects
    /// causality (this one and any it unblocked), each exactly once; they count as applied from
    /// here on, so the caller must apply them. A duplicate returns nothing.
    pub fn insert(
        &mut self,
        change: CausalChange<P>,
        bytes: usize,
    ) -> Result<Vec<CausalChange<P>>, CausalError> {
        let mut released = Vec::new();
        self.insert_with(change, bytes, |c| {
            released.push(c);
            Ok::<(), std::convert::Infallible>(())
        })?;
        Ok(released)
    }

    /// Offers a change and hands every change that becomes ready to `apply`, in causal order.
    ///
    /// A change counts as applied only when `apply` returns `Ok`; one that `apply` rejects is
    /// dropped (as though it never arrived) and reported in [`Delivery::rejected`], and changes that
    /// depend on it keep waiting. Use this when a change can only be checked against its causal
    /// past, e.g. a change from a hostile peer that refers to elements that do not exist.
    pub fn insert_with<E>(
        &mut self,
        change: CausalChange<P>,
        bytes: usize,
        mut apply: impl FnMut(CausalChange<P>) -> Result<(), E>,
    ) -> Result<Delivery<E>, CausalError> {
        let mut delivery = Delivery {
            applied: 0,
            rejected: Vec::new(),
        };
        let id = change.id;
        if id.start == 0 || id.is_empty() {
            return Err(CausalError::EmptyChange { id });
        }
        if let Some(own) = change
            .parents
            .iter()
            .find(|p| p.replica == id.replica && p.counter >= id.start)
        {
            return Err(CausalError::SelfDependency {
                id,
                dep: own.counter,
            });
        }
        let applied = self.applied.get(id.replica);
        if applied >= id.end - 1 {
            return Ok(delivery); // every event applied: a duplicate
        }
        if applied >= id.start {
            return Err(CausalError::Overlap { id, applied });
        }
        let first = Dot::new(id.replica, id.start);
        if let Some(existing) = self.waiting.get(&first) {
            return if existing.change.id == id {
                Ok(delivery) // the same change, waiting already
            } else {
                Err(CausalError::Conflict { id })
            };
        }
        match self.blocker(&change) {
            None => {
                self.deliver(change, &mut apply, &mut delivery);
                self.release_from(id.replica, &mut apply, &mut delivery);
                Ok(delivery)
            }
            Some(blocker) => {
                if self.waiting.len() >= self.limits.max_changes
                    || self.bytes.saturating_add(bytes) > self.limits.max_bytes
                {
                    return Err(CausalError::BufferFull {
                        changes: self.waiting.len(),
                        bytes: self.bytes,
                        limits: self.limits,
                    });
                }
                self.bytes += bytes;
                self.blocked_on.entry(blocker).or_default().push(first);
                self.waiting
                    .insert(first, Box::new(Waiting { change, bytes }));
                Ok(delivery)
            }
        }
    }

    /// Hands a ready change to `apply`; marks it applied when accepted.
    fn deliver<E>(
        &mut self,
        change: CausalChange<P>,
        apply: &mut impl FnMut(CausalChange<P>) -> Result<(), E>,
        delivery: &mut Delivery<E>,
    ) -> bool {
        let id = change.id;
        match apply(change) {
            Ok(()) => {
                self.applied.set(id.replica, id.end - 1);
                delivery.applied += 1;
                true
            }
            Err(error) => {
                delivery.rejected.push((id, error));
                false
            }
        }
    }

    /// The first event `change` needs that is not applied, or `None` when it is ready.
    fn blocker(&self, change: &CausalChange<P>) -> Option<Dot> {
        let id = change.id;
        if self.applied.get(id.replica) < id.start - 1 {
            return Some(Dot::new(id.replica, id.start - 1));
        }
        change
            .parents
            .iter()
            .copied()
            .find(|&parent| !self.applied.includes(parent) && parent.counter != 0)
    }

    /// After `replica` advanced, delivers every waiting change that became ready, transitively.
    fn release_from<E>(
        &mut self,
        replica: ReplicaId,
        apply: &mut impl FnMut(CausalChange<P>) -> Result<(), E>,
        delivery: &mut Delivery<E>,
    ) {
        if self.blocked_on.is_empty() {
            // Nothing waits (every change of an in-order stream): nothing to wake, and no
            // queue to allocate per delivered change.
            return;
        }
        let mut advanced = VecDeque::from([replica]);
        while let Some(replica) = advanced.pop_front() {
            let upto = self.applied.get(replica);
            let woken: Vec<Dot> = self
                .blocked_on
                .range(Dot::new(replica, 0)..=Dot::new(replica, upto))
                .map(|(&dot, _)| dot)
                .collect();
            for blocker in woken {
                let Some(firsts) = self.blocked_on.remove(&blocker) else {
                    continue;
                };
                for first in *firsts {
                    let Some(entry) = self.waiting.remove(&first) else {
                        continue;
                    };
                    match self.blocker(&entry.change) {
                        Some(next) => {
                            self.blocked_on.entry(next).or_default().push(first);
                            self.waiting.insert(first, entry);
                        }
                        None => {
                            self.bytes -= entry.bytes;
                            let replica = entry.change.id.replica;
                            if self.deliver(entry.change, apply, delivery) {
                                advanced.push_back(replica);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What [`CausalBuffer::insert_with`] delivered.
#[derive(Debug)]
pub struct Delivery<E> {
    /// Changes accepted by the apply function (the offered one and any it unblocked).
    pub applied: usize,
    /// Changes the apply function rejected, with its errors; they were dropped.
    pub rejected: Vec<(SeqRange, E)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(n: u64) -> ReplicaId {
        ReplicaId::new(n)
    }

    /// A change whose parents are the events `(replica, counter)` of `parents`.
    fn change(replica: u64, start: u64, end: u64, parents: &[(u64, u64)]) -> CausalChange<u32> {
        CausalChange {
            id: SeqRange {
                replica: r(replica),
                start,
                end,
            },
            parents: parents.iter().map(|&(k, v)| Dot::new(r(k), v)).collect(),
            payload: (replica * 1000 + start) as u32,
        }
    }

    #[test]
    fn malformed_changes_are_refused() {
        let mut b = CausalBuffer::new(BufferLimits::default());
        assert!(matches!(
            b.insert(change(1, 0, 2, &[]), 1),
            Err(CausalError::EmptyChange { .. })
        ));
        assert!(matches!(
            b.insert(change(1, 3, 3, &[]), 1),
            Err(CausalError::EmptyChange { .. })
        ));
        assert!(matches!(
            b.insert(change(1, 2, 3, &[(1, 2)]), 1),
            Err(CausalError::SelfDependency { dep: 2, .. })
        ));
        b.insert(change(1, 1, 3, &[]), 1).unwrap();
        assert!(matches!(
            b.insert(change(1, 2, 5, &[]), 1),
            Err(CausalError::Overlap { applied: 2, .. })
        ));
        b.insert(change(1, 4, 5, &[]), 1).unwrap();
        assert!(matches!(
            b.insert(change(1, 4, 6, &[]), 1),
            Err(CausalError::Conflict { .. })
        ));
    }

    #[test]
    fn limits_are_enforced_and_leave_the_buffer_intact() {
        let limits = BufferLimits {
            max_changes: 2,
            max_bytes: 100,
        };
        let mut b = CausalBuffer::new(limits);
        b.insert(change(1, 2, 3, &[]), 10).unwrap();
        assert!(matches!(
            b.insert(change(1, 3, 4, &[]), 91),
            Err(CausalError::BufferFull { .. })
        ));
        b.insert(change(1, 3, 4, &[]), 90).unwrap();
        assert!(matches!(
            b.insert(change(2, 5, 6, &[]), 0),
            Err(CausalError::BufferFull { changes: 2, .. })
        ));
        assert_eq!(b.pending_len(), 2);
        assert_eq!(b.missing(), vec![Dot::new(r(1), 1)]);
        let out = b.insert(change(1, 1, 2, &[]), 10).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!((b.pending_len(), b.pending_bytes()), (0, 0));
    }

    #[test]
    fn local_changes_unblock_remote_ones() {
        let mut b = CausalBuffer::new(BufferLimits::default());
        assert!(b.insert(change(2, 1, 2, &[(1, 3)]), 1).unwrap().is_empty());
        let out = b.mark_applied(SeqRange {
            replica: r(1),
            start: 1,
            end: 4,
        });
        assert_eq!(out, vec![change(2, 1, 2, &[(1, 3)])]);
    }

    #[test]
    fn rejected_changes_are_dropped_and_their_dependents_wait() {
        let mut b = CausalBuffer::new(BufferLimits::default());
        b.insert(change(2, 1, 2, &[(1, 1)]), 1).unwrap();
        let delivery = b
            .insert_with(change(1, 1, 2, &[]), 1, |_| Err("forged reference"))
            .unwrap();
        assert_eq!(delivery.applied, 0);
        assert_eq!(delivery.rejected.len(), 1);
        assert_eq!(b.applied().get(r(1)), 0, "a rejected change is not applied");
        assert_eq!(b.pending_len(), 1, "its dependent keeps waiting");
        // The genuine change still gets through later and releases the dependent.
        let out = b.insert(change(1, 1, 2, &[]), 1).unwrap();
        assert_eq!(out.len(), 2);
    }

    /// A random causal history: `n` changes by up to 4 replicas, each depending on a random
    /// subset of what existed before it (as a version vector).
    fn history() -> impl Strategy<Value = Vec<CausalChange<u32>>> {
        prop::collection::vec(
            (0u64..4, 1u64..4, prop::collection::vec(any::<bool>(), 4)),
            1..40,
        )
        .prop_map(|steps| {
            let mut next = [1u64; 4];
            let mut known: Vec<VersionVector> = vec![VersionVector::new(); 4];
            let mut out = Vec::new();
            for (replica, len, learn) in steps {
                let me = replica as usize;
                // Learn some other replicas' latest events before making a change.
                for (other, &yes) in learn.iter().enumerate() {
                    if yes && other != me {
                        let theirs = known[other].clone();
                        known[me].merge(&theirs);
                    }
                }
                // Every other replica's latest known event as a parent (a frontier with
                // redundant entries: the buffer must not care).
                let parents: Vec<Dot> = known[me]
                    .iter()
                    .filter(|&(other, _)| other != r(replica))
                    .map(|(other, counter)| Dot::new(other, counter))
                    .collect();
                let start = next[me];
                next[me] += len;
                out.push(CausalChange {
                    id: SeqRange {
                        replica: r(replica),
                        start,
                        end: start + len,
                    },
                    parents,
                    payload: out.len() as u32,
                });
                known[me].set(r(replica), start + len - 1);
            }
            out
        })
    }

    proptest! {
        #[test]
        fn releases_exactly_the_causal_order(
            history in history(),
            order in prop::collection::vec(any::<prop::sample::Index>(), 0..120),
        ) {
            // Deliver a random permutation with random duplicates, then everything once more.
            let mut deliveries: Vec<usize> = order.iter().map(|i| i.index(history.len())).collect();
            deliveries.extend(0..history.len());
            let mut b = CausalBuffer::new(BufferLimits::default());
            let mut released = Vec::new();
            for i in deliveries {
                released.extend(b.insert(history[i].clone(), 8).unwrap());
            }
            // Exactly once each.
            let mut seen: Vec<u32> = released.iter().map(|c| c.payload).collect();
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..history.len() as u32).collect::<Vec<_>>());
            // Only after all deps and own predecessors.
            let mut applied = VersionVector::new();
            for c in &released {
                prop_assert!(
                    c.parents.iter().all(|&p| applied.includes(p)),
                    "released {:?} before its parents",
                    c.id
                );
                prop_assert_eq!(applied.get(c.id.replica), c.id.start - 1);
                applied.set(c.id.replica, c.id.end - 1);
            }
            prop_assert_eq!(b.pending_len(), 0);
            prop_assert_eq!(b.pending_bytes(), 0);
        }
    }
}
