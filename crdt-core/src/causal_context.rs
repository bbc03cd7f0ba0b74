//! The causal context: the exact set of events ([`Dot`]s) a replica has seen, even when they
//! arrived with gaps.
//!
//! A [`VersionVector`] can only say "events 1..=n of replica r". Delta-state CRDTs receive deltas
//! in any order, so a replica may know event 7 of `r` without knowing event 6. A
//! [`CausalContext`] is a version vector plus the *dot cloud*: the dots seen beyond the vector's
//! contiguous prefix. This is the causal context of Almeida, Shoker and Baquero, "Delta State
//! Replicated Data Types" (JPDC 2018), section 5, in its compressed form (vector + cloud).
//!
//! **Invariant** (kept by every method and checked on decoding): no dot in the cloud is covered by
//! the vector, and no cloud dot is the next one the vector expects (`version[r] + 1`): as soon as a
//! gap fills, the run is folded into the vector. So two contexts that know the same events are
//! `==`, and the cloud only holds genuinely out-of-order dots.
//!
//! ```
//! use crdt_core::{CausalContext, Dot, ReplicaId};
//!
//! let r = ReplicaId::new(1);
//! let mut seen = CausalContext::new();
//! seen.insert(Dot::new(r, 1));
//! seen.insert(Dot::new(r, 3)); // out of order: 2 is missing
//! assert_eq!(seen.version().get(r), 1);
//! assert_eq!(seen.cloud().collect::<Vec<_>>(), vec![Dot::new(r, 3)]);
//!
//! seen.insert(Dot::new(r, 2)); // the gap fills: 1..=3 compact into the vector
//! assert_eq!(seen.version().get(r), 3);
//! assert_eq!(seen.cloud().count(), 0);
//! assert_eq!(seen.next_dot(r), Dot::new(r, 4));
//! ```

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::clock::{Dot, ReplicaId, VersionVector};

/// Why a decoded CRDT state (or causal context) was rejected: it breaks an invariant that every
/// state produced by the operations keeps.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidState {
    /// A dot with counter 0 (counters start at 1, so it names no event).
    #[error("dot {0:?} has counter 0; event counters start at 1")]
    ZeroCounter(Dot),
    /// The state holds a dot its own causal context does not include.
    #[error("dot {0:?} is in the state but not in its causal context")]
    DotOutsideContext(Dot),
    /// A key or element is present with no dots (it would be absent in any real state).
    #[error("an entry holds no dots; empty entries are never stored")]
    EmptyEntry,
}

/// The set of events a replica has seen: a [`VersionVector`] for the contiguous prefix of each
/// replica's events plus the out-of-order dots beyond it. See the module docs.
#[derive(Clone, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "WireCausalContext")]
pub struct CausalContext {
    /// Contiguous prefix of every replica's events.
    version: VersionVector,
    /// Dots seen beyond the prefix; never covered by `version`, never `version[r] + 1`.
    cloud: BTreeSet<Dot>,
}

impl CausalContext {
    /// The empty context: no event seen.
    pub fn new() -> Self {
        Self::default()
    }

    /// A context that has seen exactly the events of `version`.
    pub fn from_version(version: VersionVector) -> Self {
        CausalContext {
            version,
            cloud: BTreeSet::new(),
        }
    }

    /// True when `dot` has been seen. Dots with counter 0 are never contained.
    pub fn contains(&self, dot: Dot) -> bool {
        self.version.includes(dot) || self.cloud.contains(&dot)
    }

    /// Records that `dot` has been seen, folding any run it completes into the version vector.
    /// Dots with counter 0 name no event and are ignored.
    pub fn insert(&mut self, dot: Dot) {
        if dot.counter == 0 || self.contains(dot) {
            return;
        }
        let seen = self.version.get(dot.replica);
        if dot.counter == seen + 1 {
            // `seen < dot.counter <= u64::MAX`, so `seen + 1` above cannot overflow.
            let mut top = dot.counter;
            while let Some(next) = top.checked_add(1) {
                if !self.cloud.remove(&Dot::new(dot.replica, next)) {
                    break;
                }
                top = next;
            }
            self.version.set(dot.replica, top);
        } else {
            self.cloud.insert(dot);
        }
    }

    /// The dot a local event of `replica` should take next: one past the highest event of
    /// `replica` seen so far (contiguous or not). Does not record it; insert the dot (or merge a
    /// delta that holds it) once the event is made.
    pub fn next_dot(&self, replica: ReplicaId) -> Dot {
        let contiguous = self.version.get(replica);
        let highest = self
            .cloud
            .range(Dot::new(replica, 0)..=Dot::new(replica, u64::MAX))
            .next_back()
            .map_or(contiguous, |dot| dot.counter);
        Dot::new(replica, highest.saturating_add(1))
    }

    /// Union: afterwards `self` has seen every event either side had seen.
    pub fn merge(&mut self, other: &CausalContext) {
        self.version.merge(&other.version);
        self.cloud.extend(other.cloud.iter().copied());
        self.compact();
    }

    /// The contiguous prefix of every replica's events.
    pub fn version(&self) -> &VersionVector {
        &self.version
    }

    /// The dots seen out of order (beyond [`version`](Self::version)), in (replica, counter) order.
    pub fn cloud(&self) -> impl Iterator<Item = Dot> + '_ {
        self.cloud.iter().copied()
    }

    /// True when no event has been seen.
    pub fn is_empty(&self) -> bool {
        self.version.is_empty() && self.cloud.is_empty()
    }

    /// Restores the invariant after the vector or the cloud grew: drops cloud dots the vector
    /// covers and folds runs that continue the vector into it. One pass, as the cloud is sorted by
    /// (replica, counter).
    fn compact(&mut self) {
        let cloud = std::mem::take(&mut self.cloud);
        for dot in cloud {
            let seen = self.version.get(dot.replica);
            if dot.counter <= seen {
                continue;
            }
            if seen.checked_add(1) == Some(dot.counter) {
                self.version.set(dot.replica, dot.counter);
            } else {
                self.cloud.insert(dot);
            }
        }
    }
}

impl fmt::Debug for CausalContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CausalContext")
            .field("version", &self.version)
            .field("cloud", &self.cloud)
            .finish()
    }
}

impl Extend<Dot> for CausalContext {
    fn extend<I: IntoIterator<Item = Dot>>(&mut self, iter: I) {
        for dot in iter {
            self.insert(dot);
        }
    }
}

impl FromIterator<Dot> for CausalContext {
    fn from_iter<I: IntoIterator<Item = Dot>>(iter: I) -> Self {
        let mut context = CausalContext::new();
        context.extend(iter);
        context
    }
}

impl Serialize for CausalContext {
    /// Encodes as `(version, [cloud dots...])`, the layout decoding expects.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct WireRef<'a> {
            version: &'a VersionVector,
            cloud: &'a BTreeSet<Dot>,
        }
        WireRef {
            version: &self.version,
            cloud: &self.cloud,
        }
        .serialize(serializer)
    }
}

/// The encoded form: the vector and the cloud as a list. Decoding re-inserts every cloud dot, so
/// a context decodes compacted whatever the bytes held.
#[derive(Serialize, Deserialize)]
struct WireCausalContext {
    version: VersionVector,
    cloud: Vec<Dot>,
}

impl TryFrom<WireCausalContext> for CausalContext {
    type Error = InvalidState;

    fn try_from(wire: WireCausalContext) -> Result<Self, Self::Error> {
        let mut context = CausalContext::from_version(wire.version);
        for dot in wire.cloud {
            if dot.counter == 0 {
                return Err(InvalidState::ZeroCounter(dot));
            }
            context.insert(dot);
        }
        Ok(context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(replica: u64, counter: u64) -> Dot {
        Dot::new(ReplicaId::new(replica), counter)
    }

    /// The invariant of the module docs.
    fn assert_compact(context: &CausalContext) {
        for dot in context.cloud() {
            let seen = context.version().get(dot.replica);
            assert!(dot.counter > seen + 1, "{dot:?} should have been compacted");
        }
    }

    #[test]
    fn insert_out_of_order_then_fill() {
        let mut c = CausalContext::new();
        c.insert(d(1, 4));
        c.insert(d(1, 2));
        c.insert(d(2, 1));
        assert_eq!(c.version().get(ReplicaId::new(1)), 0);
        assert_eq!(c.cloud().collect::<Vec<_>>(), vec![d(1, 2), d(1, 4)]);
        assert!(c.contains(d(1, 4)) && !c.contains(d(1, 3)) && c.contains(d(2, 1)));
        assert_eq!(c.next_dot(ReplicaId::new(1)), d(1, 5));
        c.insert(d(1, 1));
        assert_eq!(c.version().get(ReplicaId::new(1)), 2);
        c.insert(d(1, 3));
        assert_eq!(c.version().get(ReplicaId::new(1)), 4);
        assert_eq!(c.cloud().count(), 0);
        c.insert(d(1, 0));
        assert!(!c.contains(d(1, 0)));
    }

    #[test]
    fn merge_fills_gaps_from_either_side() {
        let left: CausalContext = [d(1, 1), d(1, 3), d(1, 5)].into_iter().collect();
        let right: CausalContext = [d(1, 2), d(1, 4)].into_iter().collect();
        let mut merged = left.clone();
        merged.merge(&right);
        assert_eq!(merged.version().get(ReplicaId::new(1)), 5);
        assert_eq!(merged.cloud().count(), 0);
    }

    #[test]
    fn counters_at_the_top_of_the_range_do_not_overflow() {
        let mut c =
            CausalContext::from_version([(ReplicaId::new(1), u64::MAX)].into_iter().collect());
        c.insert(d(1, u64::MAX));
        assert_eq!(c.next_dot(ReplicaId::new(1)), d(1, u64::MAX));
        let mut other = CausalContext::new();
        other.insert(d(2, u64::MAX));
        other.insert(d(2, u64::MAX - 1));
        c.merge(&other);
        assert!(c.contains(d(2, u64::MAX)));
        assert_compact(&c);
    }

    #[test]
    fn decoding_compacts_and_rejects_zero_counters() {
        let wire = WireCausalContext {
            version: [(ReplicaId::new(1), 2)].into_iter().collect(),
            cloud: vec![d(1, 1), d(1, 4), d(1, 3), d(2, 9)],
        };
        let bytes = rmp_serde::to_vec(&wire).unwrap();
        let decoded: CausalContext = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(decoded.version().get(ReplicaId::new(1)), 4);
        assert_eq!(decoded.cloud().collect::<Vec<_>>(), vec![d(2, 9)]);

        let zero = WireCausalContext {
            version: VersionVector::new(),
            cloud: vec![d(3, 0)],
        };
        let bytes = rmp_serde::to_vec(&zero).unwrap();
        assert!(rmp_serde::from_slice::<CausalContext>(&bytes).is_err());
        // An array header claiming 2^32-1 cloud dots followed by nothing.
        let huge = [0x92, 0x80, 0xdd, 0xff, 0xff, 0xff, 0xff];
        assert!(rmp_serde::from_slice::<CausalContext>(&huge).is_err());
    }

    fn dots() -> impl Strategy<Value = Vec<Dot>> {
        prop::collection::vec((0u64..3, 1u64..12).prop_map(|(r, c)| d(r, c)), 0..24)
    }

    proptest! {
        #[test]
        fn contains_exactly_the_inserted_dots(inserted in dots(), probe in dots()) {
            let c: CausalContext = inserted.iter().copied().collect();
            assert_compact(&c);
            for dot in inserted.iter().chain(&probe) {
                prop_assert_eq!(c.contains(*dot), inserted.contains(dot));
            }
            // Insertion order does not matter: the representation is canonical.
            let reversed: CausalContext = inserted.iter().rev().copied().collect();
            prop_assert_eq!(&reversed, &c);
        }

        #[test]
        fn merge_is_union_and_a_join(a in dots(), b in dots(), c in dots()) {
            let (ca, cb, cc): (CausalContext, CausalContext, CausalContext) =
                (a.iter().copied().collect(), b.iter().copied().collect(), c.iter().copied().collect());
            let mut ab = ca.clone(); ab.merge(&cb);
            let union: CausalContext = a.iter().chain(&b).copied().collect();
            prop_assert_eq!(&ab, &union);
            assert_compact(&ab);
            let mut ba = cb.clone(); ba.merge(&ca);
            prop_assert_eq!(&ab, &ba);
            let mut ab_c = ab.clone(); ab_c.merge(&cc);
            let mut bc = cb.clone(); bc.merge(&cc);
            let mut a_bc = ca.clone(); a_bc.merge(&bc);
            prop_assert_eq!(ab_c, a_bc);
            let mut aa = ca.clone(); aa.merge(&ca);
            prop_assert_eq!(aa, ca);
        }

        #[test]
        fn next_dot_is_unseen_and_above_everything_seen(a in dots(), replica in 0u64..4) {
            let c: CausalContext = a.iter().copied().collect();
            let next = c.next_dot(ReplicaId::new(replica));
            prop_assert!(!c.contains(next));
            prop_assert!(a.iter().all(|dot| dot.replica != next.replica || dot.counter < next.counter));
        }

        #[test]
        fn serde_round_trip(a in dots()) {
            let c: CausalContext = a.into_iter().collect();
            let bytes = rmp_serde::to_vec(&c).unwrap();
            prop_assert_eq!(rmp_serde::from_slice::<CausalContext>(&bytes).unwrap(), c);
        }
    }
}
