//! [`ByteBudget`]: how many bytes may wait in one queue, counted in bytes rather than items.
//!
//! A queue bounded by a number of items holds as many bytes as its items are large: 1,024 frames
//! of 1 MiB each is a gigabyte per peer. So every queue a remote peer can fill (a connection's
//! outbound frames, a room's commands) also has a budget in bytes: whoever enqueues takes a
//! [`Charge`] for the item's size first, and the charge travels with the item; dropping the item
//! (sent, handled, or thrown away with its queue) gives the bytes back.
//!
//! Invariant: the bytes charged and not yet given back never exceed the limit, except for one
//! item charged while no bytes were queued: a single item larger than the whole budget (a
//! catch-up of a big document) is let through rather than refused forever.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A byte budget shared by the producers and the consumer of one queue; see the
/// [module docs](self).
#[derive(Clone, Debug)]
pub(crate) struct ByteBudget {
    queued: Arc<AtomicUsize>,
    limit: usize,
}

/// Bytes taken from a [`ByteBudget`], given back when dropped.
#[derive(Debug)]
pub(crate) struct Charge {
    queued: Arc<AtomicUsize>,
    bytes: usize,
}

impl ByteBudget {
    /// An empty budget of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        ByteBudget {
            queued: Arc::new(AtomicUsize::new(0)),
            limit,
        }
    }

    /// The budget's limit, in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Takes `bytes` if they fit (or if nothing is queued); `None` when the queue is over budget.
    pub fn charge(&self, bytes: usize) -> Option<Charge> {
        let fits = |queued: usize| {
            let total = queued.checked_add(bytes)?;
            (queued == 0 || total <= self.limit).then_some(total)
        };
        self.queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, fits)
            .ok()?;
        Some(Charge {
            queued: Arc::clone(&self.queued),
            bytes,
        })
    }

    /// Bytes charged and not given back.
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }
}

impl Charge {
    /// A charge against no budget, for commands built by tests.
    #[cfg(test)]
    pub fn untracked() -> Charge {
        Charge {
            queued: Arc::new(AtomicUsize::new(0)),
            bytes: 0,
        }
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.queued.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn charges_are_given_back_when_dropped() {
        let budget = ByteBudget::new(100);
        let a = budget.charge(60).expect("fits");
        assert!(budget.charge(60).is_none(), "60 + 60 is over 100");
        let b = budget.charge(40).expect("60 + 40 fits exactly");
        assert_eq!(budget.queued(), 100);
        drop(a);
        drop(b);
        assert_eq!(budget.queued(), 0);
    }

    #[test]
    fn one_item_larger_than_the_budget_passes_an_empty_queue_only() {
        let budget = ByteBudget::new(10);
        let big = budget.charge(1_000).expect("alone in an empty queue");
        assert!(budget.charge(1).is_none());
        drop(big);
        assert!(budget.charge(usize::MAX).is_some());
    }

    proptest! {
        #[test]
        fn never_more_than_the_limit_unless_alone(
            limit in 1usize..1_000,
            // Frames are never empty, so neither are charges.
            steps in prop::collection::vec((1usize..400, any::<bool>()), 1..200),
        ) {
            let budget = ByteBudget::new(limit);
            let mut held = Vec::new();
            for (bytes, release) in steps {
                if release && !held.is_empty() {
                    held.remove(0);
                } else if let Some(charge) = budget.charge(bytes) {
                    held.push(charge);
                }
                let queued = budget.queued();
                prop_assert!(queued <= limit || held.len() == 1, "{} > {}", queued, limit);
                prop_assert_eq!(queued, held.iter().map(|c| c.bytes).sum::<usize>());
            }
        }
    }
}
