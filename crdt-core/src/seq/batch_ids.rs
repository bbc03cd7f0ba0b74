//! The element ids inserted by the ops of a batch already validated, while the rest of the batch
//! is validated ([`Replicated::apply_encoded`](super::Replicated::apply_encoded) checks every
//! reference before applying anything, so a later op may name an element an earlier op of the
//! same batch inserts).
//!
//! Stored per replica as sorted, disjoint, coalesced counter ranges, so a query answers how many
//! consecutive ids from a given one are inserted: a delete of a whole run of elements inserted
//! earlier in the batch is checked with one lookup, not one per element (what made merging a
//! full history into an empty replica slow).
//!
//! Invariant: each replica's ranges are sorted by start, pairwise disjoint and non-adjacent
//! (adjacent ranges are merged). Validation adds them in ascending counter order per replica,
//! which is the O(1) append path; any other order is still handled correctly.

use std::collections::BTreeMap;

use crate::clock::{Dot, ReplicaId};

/// Element ids inserted earlier in a batch; see the [module docs](self).
#[derive(Debug, Default)]
pub(crate) struct BatchIds {
    /// Per replica: `(start, end)` counter ranges, end exclusive.
    ranges: BTreeMap<ReplicaId, Vec<(u64, u64)>>,
}

impl BatchIds {
    /// Records that counters `start..end` of `replica` are inserted (`start < end`; ranges
    /// recorded for one replica do not overlap).
    pub(crate) fn insert(&mut self, replica: ReplicaId, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let spans = self.ranges.entry(replica).or_default();
        match spans.last_mut() {
            Some(last) if last.1 == start => last.1 = end,
            Some(last) if last.1 < start => spans.push((start, end)),
            None => spans.push((start, end)),
            Some(_) => {
                // Out of order (never produced by validation): sorted insert, then merge the
                // neighbours it touches.
                let mut i = spans.partition_point(|&(s, _)| s < start);
                spans.insert(i, (start, end));
                if i > 0 && spans[i - 1].1 >= spans[i].0 {
                    spans[i - 1].1 = spans[i - 1].1.max(spans[i].1);
                    spans.remove(i);
                    i -= 1;
                }
                while i + 1 < spans.len() && spans[i].1 >= spans[i + 1].0 {
                    spans[i].1 = spans[i].1.max(spans[i + 1].1);
                    spans.remove(i + 1);
                }
            }
        }
    }

    /// How many consecutive ids from `d` on are recorded, at most `max` (0 when `d` is not).
    pub(crate) fn run_from(&self, d: Dot, max: u64) -> u64 {
        let Some(spans) = self.ranges.get(&d.replica) else {
            return 0;
        };
        let i = spans.partition_point(|&(s, _)| s <= d.counter);
        match i.checked_sub(1).and_then(|i| spans.get(i)) {
            Some(&(_, end)) if d.counter < end => (end - d.counter).min(max),
            _ => 0,
        }
    }

    /// True when `d` is recorded.
    pub(crate) fn contains(&self, d: Dot) -> bool {
        self.run_from(d, 1) == 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn d(r: u64, c: u64) -> Dot {
        Dot::new(ReplicaId::new(r), c)
    }

    #[test]
    fn runs_coalesce_and_answer_lengths() {
        let mut ids = BatchIds::default();
        ids.insert(ReplicaId::new(1), 1, 4);
        ids.insert(ReplicaId::new(1), 4, 6);
        ids.insert(ReplicaId::new(1), 8, 9);
        ids.insert(ReplicaId::new(2), 1, 2);
        assert_eq!(ids.ranges[&ReplicaId::new(1)], vec![(1, 6), (8, 9)]);
        assert_eq!(ids.run_from(d(1, 1), 100), 5);
        assert_eq!(ids.run_from(d(1, 3), 2), 2);
        assert_eq!(ids.run_from(d(1, 6), 100), 0);
        assert_eq!(ids.run_from(d(1, 8), 100), 1);
        assert_eq!(ids.run_from(d(1, 0), 100), 0);
        assert!(ids.contains(d(2, 1)) && !ids.contains(d(2, 2)) && !ids.contains(d(3, 1)));
    }

    proptest! {
        /// Against a set of every recorded id, in any insertion order.
        #[test]
        fn matches_a_set(ranges in prop::collection::vec((0u64..3, 0u64..40, 1u64..6), 0..20),
                         probes in prop::collection::vec((0u64..3, 0u64..50, 1u64..10), 1..20)) {
            let mut ids = BatchIds::default();
            let mut set = BTreeSet::new();
            for (r, start, len) in ranges {
                // Only disjoint ranges are recorded (as validation guarantees).
                if (start..start + len).any(|c| set.contains(&(r, c))) {
                    continue;
                }
                ids.insert(ReplicaId::new(r), start, start + len);
                set.extend((start..start + len).map(|c| (r, c)));
            }
            for (r, c, max) in probes {
                let expected = (c..c + max).take_while(|&c| set.contains(&(r, c))).count() as u64;
                prop_assert_eq!(ids.run_from(d(r, c), max), expected);
            }
        }
    }
}
