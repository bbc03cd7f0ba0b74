//! The [`PNCounter`] type; its documentation (why it is built this way) is on the type, which
//! the crate root exports.

use serde::{Deserialize, Serialize};

use super::{Crdt, GCounter};
use crate::clock::ReplicaId;

/// A counter with increments and decrements.
///
/// [`PNCounter`]: a counter that goes up and down.
///
/// Two [`GCounter`]s, one for increments and one for decrements; the value is their difference
/// (Shapiro et al. 2011, §3.1.2; Almeida et al. 2018, §4). The delta of an operation is the one
/// slot of the one half it changed.
///
/// **Invariant**: that of [`GCounter`], for each half. The value is an `i128`, so it never
/// overflows (each half is at most `u64::MAX`).
///
/// ```
/// use crdt_core::{Crdt, PNCounter, ReplicaId};
///
/// let (a, b) = (ReplicaId::new(1), ReplicaId::new(2));
/// let mut left = PNCounter::new();
/// let mut right = PNCounter::new();
/// let up = left.increment(a, 5);
/// let down = right.decrement(b, 7);
///
/// left.merge(&down);
/// right.merge(&up);
/// assert_eq!(left, right);
/// assert_eq!(right.value(), -2);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PNCounter {
    increments: GCounter,
    decrements: GCounter,
}

impl PNCounter {
    /// The zero counter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `amount` on behalf of `replica`; returns the delta.
    pub fn increment(&mut self, replica: ReplicaId, amount: u64) -> PNCounter {
        PNCounter {
            increments: self.increments.increment(replica, amount),
            decrements: GCounter::new(),
        }
    }

    /// Subtracts `amount` on behalf of `replica`; returns the delta.
    pub fn decrement(&mut self, replica: ReplicaId, amount: u64) -> PNCounter {
        PNCounter {
            increments: GCounter::new(),
            decrements: self.decrements.increment(replica, amount),
        }
    }

    /// Adds a signed `amount` (an increment or a decrement by its magnitude); returns the delta.
    pub fn add(&mut self, replica: ReplicaId, amount: i64) -> PNCounter {
        if amount >= 0 {
            self.increment(replica, amount.unsigned_abs())
        } else {
            self.decrement(replica, amount.unsigned_abs())
        }
    }

    /// Total increments minus total decrements.
    pub fn value(&self) -> i128 {
        i128::from(self.increments.value()) - i128::from(self.decrements.value())
    }
}

impl Crdt for PNCounter {
    fn merge(&mut self, other: &Self) {
        self.increments.merge(&other.increments);
        self.decrements.merge(&other.decrements);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_adds_from_several_replicas_net_out() {
        let (a, b) = (ReplicaId::new(1), ReplicaId::new(2));
        let mut left = PNCounter::new();
        let mut right = PNCounter::new();
        let deltas_left = [left.add(a, 10), left.add(a, -3)];
        let deltas_right = [right.add(b, -4), right.add(b, i64::MIN)];
        for delta in deltas_right.iter().rev() {
            left.merge(delta);
        }
        for delta in &deltas_left {
            right.merge(delta);
        }
        assert_eq!(left, right);
        assert_eq!(left.value(), 10 - 3 - 4 - (1i128 << 63));
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        let mut c = PNCounter::new();
        c.decrement(ReplicaId::new(1), u64::MAX);
        c.decrement(ReplicaId::new(2), u64::MAX);
        assert_eq!(c.value(), -i128::from(u64::MAX));
    }
}
