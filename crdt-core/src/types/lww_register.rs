//! The [`LwwRegister`] type; its documentation (why it is built this way) is on the type, which
//! the crate root exports.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::Crdt;
use crate::clock::ReplicaId;

/// One write: ordered by timestamp, then replica, then value (field order matters for the
/// derived `Ord`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
struct Write<T> {
    timestamp: u64,
    replica: ReplicaId,
    value: T,
}

/// A last-writer-wins register.
///
/// [`LwwRegister`]: a last-writer-wins register.
///
/// Each write carries a timestamp *supplied by the caller* (the core has no clocks: use wall-clock
/// milliseconds, a hybrid logical clock, or a Lamport counter). Merge keeps the write with the
/// greatest `(timestamp, replica, value)`: the later timestamp wins, equal timestamps are broken by
/// the larger [`ReplicaId`], and should one replica write twice at the same timestamp, by the
/// larger value. The order is total, so every replica picks the same winner whatever the order it
/// sees writes in (Shapiro et al. 2011, §3.2.1). The delta of a write is the write itself.
///
/// **Invariant**: the register holds at most one write, the greatest it has seen.
///
/// ```
/// use crdt_core::{Crdt, LwwRegister, ReplicaId};
///
/// let (a, b) = (ReplicaId::new(1), ReplicaId::new(2));
/// let mut left = LwwRegister::new();
/// let mut right = LwwRegister::new();
/// let from_a = left.set(a, 100, "draft".to_string());
/// let from_b = right.set(b, 100, "final".to_string()); // same timestamp: larger replica id wins
///
/// left.merge(&from_b);
/// right.merge(&from_a);
/// assert_eq!(left, right);
/// assert_eq!(left.get().map(String::as_str), Some("final"));
///
/// let later = left.set(a, 101, "revised".to_string());
/// right.merge(&later);
/// assert_eq!(right.get().map(String::as_str), Some("revised"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Serialize", deserialize = "T: Deserialize<'de>"))]
pub struct LwwRegister<T> {
    /// The winning write so far; `None` before any write.
    winner: Option<Write<T>>,
}

impl<T> Default for LwwRegister<T> {
    fn default() -> Self {
        LwwRegister { winner: None }
    }
}

impl<T: Clone + Ord> LwwRegister<T> {
    /// The empty register.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `value` at `timestamp` on behalf of `replica` and returns the delta (the write).
    /// If the register already holds a greater write, the state is unchanged and the returned
    /// delta, wherever it is merged, loses to that write.
    pub fn set(&mut self, replica: ReplicaId, timestamp: u64, value: T) -> LwwRegister<T> {
        let delta = LwwRegister {
            winner: Some(Write {
                timestamp,
                replica,
                value,
            }),
        };
        self.absorb(&delta);
        delta
    }

    /// The current value, if any write has been seen.
    pub fn get(&self) -> Option<&T> {
        self.winner.as_ref().map(|write| &write.value)
    }

    /// The timestamp and writer of the current value.
    pub fn stamp(&self) -> Option<(u64, ReplicaId)> {
        self.winner
            .as_ref()
            .map(|write| (write.timestamp, write.replica))
    }

    fn absorb(&mut self, other: &Self) {
        if let Some(theirs) = &other.winner {
            let wins = match &self.winner {
                Some(ours) => theirs > ours,
                None => true,
            };
            if wins {
                self.winner = Some(theirs.clone());
            }
        }
    }
}

impl<T> Crdt for LwwRegister<T>
where
    T: Clone + Ord + Serialize + DeserializeOwned,
{
    fn merge(&mut self, other: &Self) {
        self.absorb(other);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tie_break_is_the_same_on_both_sides() {
        let (a, b) = (ReplicaId::new(7), ReplicaId::new(3));
        let mut left = LwwRegister::new();
        let mut right = LwwRegister::new();
        let from_a = left.set(a, 5, 1u32);
        let from_b = right.set(b, 5, 2u32);
        assert_eq!(left.get(), Some(&1));
        left.merge(&from_b);
        right.merge(&from_a);
        assert_eq!(
            left.get(),
            Some(&1),
            "replica 7 beats replica 3 at equal time"
        );
        assert_eq!(right.get(), Some(&1));
        assert_eq!(left.stamp(), Some((5, a)));
    }

    #[test]
    fn same_replica_same_timestamp_breaks_by_value() {
        let a = ReplicaId::new(1);
        let mut first = LwwRegister::new();
        let mut second = LwwRegister::new();
        let low = first.set(a, 9, "apple".to_string());
        let high = second.set(a, 9, "pear".to_string());
        first.merge(&high);
        second.merge(&low);
        assert_eq!(first.get().map(String::as_str), Some("pear"));
        assert_eq!(second.get().map(String::as_str), Some("pear"));
    }

    #[test]
    fn an_older_write_loses_even_when_it_arrives_last() {
        let (a, b) = (ReplicaId::new(1), ReplicaId::new(2));
        let mut reg = LwwRegister::new();
        let stale = LwwRegister::new().set(b, 3, 'x');
        reg.set(a, 4, 'y');
        reg.merge(&stale);
        assert_eq!(reg.get(), Some(&'y'));
        let ignored = reg.set(b, 1, 'z');
        assert_eq!(
            reg.get(),
            Some(&'y'),
            "a write older than the winner does not apply"
        );
        assert_eq!(ignored.get(), Some(&'z'));
    }
}
