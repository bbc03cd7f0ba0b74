//! The [`GCounter`] type; its documentation (why it is built this way) is on the type, which
//! the crate root exports.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::Crdt;
use crate::clock::ReplicaId;

/// A grow-only counter.
///
/// [`GCounter`]: a grow-only counter.
///
/// Each replica counts its own increments in its own slot; the value is the sum of the slots and
/// merge takes the maximum of each slot (Shapiro et al., "A comprehensive study of Convergent and
/// Commutative Replicated Data Types", 2011, §3.1.1; as a delta CRDT, Almeida et al. 2018, §4).
/// The delta of an increment is the one slot it changed.
///
/// **Invariant**: slots are never zero (a zero slot is not stored), so equal counters are `==`.
/// Sums saturate at `u64::MAX` rather than wrap.
///
/// ```
/// use crdt_core::{Crdt, GCounter, ReplicaId};
///
/// let (a, b) = (ReplicaId::new(1), ReplicaId::new(2));
/// let mut left = GCounter::new();
/// let mut right = GCounter::new();
/// let delta_a = left.increment(a, 2);
/// let delta_b = right.increment(b, 3);
///
/// left.merge(&delta_b);
/// right.merge(&delta_a);
/// right.merge(&delta_a); // a duplicate delivery changes nothing
/// assert_eq!(left, right);
/// assert_eq!(left.value(), 5);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct GCounter {
    /// Each replica's total of increments; zero slots are absent.
    slots: BTreeMap<ReplicaId, u64>,
}

impl GCounter {
    /// The zero counter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `amount` to `replica`'s slot and returns the delta (that slot alone; empty when
    /// `amount` is 0). Saturates at `u64::MAX`.
    pub fn increment(&mut self, replica: ReplicaId, amount: u64) -> GCounter {
        if amount == 0 {
            return GCounter::new();
        }
        let slot = self.slots.entry(replica).or_insert(0);
        *slot = slot.saturating_add(amount);
        GCounter {
            slots: BTreeMap::from([(replica, *slot)]),
        }
    }

    /// The counter's value: the sum of all slots (saturating).
    pub fn value(&self) -> u64 {
        self.slots
            .values()
            .fold(0u64, |sum, &slot| sum.saturating_add(slot))
    }

    /// How much `replica` has added.
    pub fn contribution(&self, replica: ReplicaId) -> u64 {
        self.slots.get(&replica).copied().unwrap_or(0)
    }
}

impl Crdt for GCounter {
    fn merge(&mut self, other: &Self) {
        for (&replica, &theirs) in &other.slots {
            let slot = self.slots.entry(replica).or_insert(0);
            *slot = (*slot).max(theirs);
        }
    }
}

impl<'de> Deserialize<'de> for GCounter {
    /// Decodes a map of replica to slot, dropping zero slots so equality stays canonical.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut slots = BTreeMap::<ReplicaId, u64>::deserialize(deserializer)?;
        slots.retain(|_, slot| *slot != 0);
        Ok(GCounter { slots })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_increments_add_up_and_replays_do_not_double_count() {
        let (a, b) = (ReplicaId::new(1), ReplicaId::new(2));
        let mut left = GCounter::new();
        let mut right = GCounter::new();
        let first = left.increment(a, 1);
        let second = left.increment(a, 4);
        assert_eq!(
            second.contribution(a),
            5,
            "a delta carries the slot's total"
        );
        right.increment(b, 10);
        right.merge(&second);
        right.merge(&first); // late, stale delta: no effect
        right.merge(&second);
        assert_eq!(right.value(), 15);
        assert_eq!(left.increment(a, 0), GCounter::new());
    }

    #[test]
    fn saturates_instead_of_wrapping() {
        let mut c = GCounter::new();
        c.increment(ReplicaId::new(1), u64::MAX);
        c.increment(ReplicaId::new(2), u64::MAX);
        c.increment(ReplicaId::new(1), 1);
        assert_eq!(c.value(), u64::MAX);
        assert_eq!(c.contribution(ReplicaId::new(1)), u64::MAX);
    }

    #[test]
    fn zero_slots_decode_away() {
        let raw = BTreeMap::from([(ReplicaId::new(1), 0u64), (ReplicaId::new(2), 3)]);
        let bytes = rmp_serde::to_vec(&raw).unwrap();
        let decoded: GCounter = rmp_serde::from_slice(&bytes).unwrap();
        let mut expected = GCounter::new();
        expected.increment(ReplicaId::new(2), 3);
        assert_eq!(decoded, expected);
    }
}
