//! The [`MvRegister`](crate::MvRegister) type; its documentation (why it is built this way) is on the type, which
//! the crate root exports.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{causal_join, CausalCrdt, CausalParts, Crdt, DotFun, DotStore};
use crate::causal_context::{CausalContext, InvalidState};
use crate::clock::{Dot, ReplicaId};

/// A multi-value register.
///
/// [`MvRegister`]: a multi-value register that keeps every concurrent write.
///
/// Each write is tagged with a fresh [`Dot`]; its delta carries the new value and, in its causal
/// context, the dots of every value the writer saw, so merging it removes exactly those values and
/// keeps writes the writer had not seen. Concurrent writes therefore all survive, and a later write
/// that saw them supersedes them all. This is the delta MVRegister of Almeida, Shoker and Baquero,
/// "Delta State Replicated Data Types" (JPDC 2018), §6, a `DotFun` with a [`CausalContext`].
///
/// **Invariant**: every dot holding a value is in the context.
///
/// ```
/// use crdt_core::{Crdt, MvRegister, ReplicaId};
///
/// let (a, b) = (ReplicaId::new(1), ReplicaId::new(2));
/// let mut left = MvRegister::new();
/// let mut right = MvRegister::new();
/// let from_a = left.set(a, 'r');
/// let from_b = right.set(b, 'b');
///
/// left.merge(&from_b);
/// right.merge(&from_a);
/// assert_eq!(left, right);
/// assert_eq!(left.values().collect::<Vec<_>>(), vec![&'r', &'b']);
///
/// // A write that saw both replaces both.
/// let resolved = left.set(a, 'p');
/// right.merge(&resolved);
/// assert_eq!(right.values().collect::<Vec<_>>(), vec![&'p']);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(
    try_from = "CausalParts<DotFun<T>>",
    bound(
        serialize = "T: Serialize",
        deserialize = "T: Clone + Ord + DeserializeOwned + Serialize"
    )
)]
pub struct MvRegister<T> {
    store: DotFun<T>,
    context: CausalContext,
}

impl<T> Default for MvRegister<T> {
    fn default() -> Self {
        MvRegister {
            store: DotFun::default(),
            context: CausalContext::new(),
        }
    }
}

impl<T> MvRegister<T>
where
    T: Clone + Ord + Serialize + DeserializeOwned,
{
    /// The empty register.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `value` on behalf of `replica`, replacing every value this replica has seen;
    /// returns the delta.
    pub fn set(&mut self, replica: ReplicaId, value: T) -> MvRegister<T> {
        let dot = self.context.next_dot(replica);
        let mut context = self.store.dots();
        context.insert(dot);
        self.context.insert(dot);
        self.store = DotFun::single(dot, value.clone());
        MvRegister {
            store: DotFun::single(dot, value),
            context,
        }
    }

    /// Removes every value this replica has seen (writes it has not seen survive); returns the
    /// delta.
    pub fn clear(&mut self) -> MvRegister<T> {
        MvRegister {
            store: DotFun::default(),
            context: std::mem::take(&mut self.store).dots(),
        }
    }

    /// The current values, one per concurrent write, in the order of their dots.
    pub fn values(&self) -> impl Iterator<Item = &T> + '_ {
        self.store.iter().map(|(_, value)| value)
    }

    /// The current values with the dots of the writes that made them.
    pub fn entries(&self) -> impl Iterator<Item = (Dot, &T)> + '_ {
        self.store.iter()
    }

    /// Number of concurrent values (0 before any write or after a clear).
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// True when the register holds no value.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }
}

impl<T> Crdt for MvRegister<T>
where
    T: Clone + Ord + Serialize + DeserializeOwned,
{
    fn merge(&mut self, other: &Self) {
        causal_join(
            &mut self.store,
            &mut self.context,
            &other.store,
            &other.context,
        );
    }
}

impl<T> CausalCrdt for MvRegister<T>
where
    T: Clone + Ord + Serialize + DeserializeOwned,
{
    type Store = DotFun<T>;

    fn from_parts(store: Self::Store, context: CausalContext) -> Self {
        MvRegister { store, context }
    }

    fn into_parts(self) -> (Self::Store, CausalContext) {
        (self.store, self.context)
    }

    fn store(&self) -> &Self::Store {
        &self.store
    }

    fn context(&self) -> &CausalContext {
        &self.context
    }
}

impl<T> TryFrom<CausalParts<DotFun<T>>> for MvRegister<T>
where
    T: Clone + Ord + Serialize + DeserializeOwned,
{
    type Error = InvalidState;

    fn try_from(parts: CausalParts<DotFun<T>>) -> Result<Self, Self::Error> {
        let (store, context) = parts.validated()?;
        Ok(MvRegister { store, context })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_concurrent_values_and_a_later_write_supersedes_both() {
        let (a, b, c) = (ReplicaId::new(1), ReplicaId::new(2), ReplicaId::new(3));
        let mut ra = MvRegister::new();
        let mut rb = MvRegister::new();
        let mut rc = MvRegister::new();
        let wa = ra.set(a, 1u8);
        let wb = rb.set(b, 2u8);
        rc.merge(&wb);
        rc.merge(&wa);
        assert_eq!(rc.values().copied().collect::<Vec<_>>(), vec![1, 2]);
        let wc = rc.set(c, 3);
        // The superseding write arrives at `ra` before `wb` does: `wb` must not come back.
        ra.merge(&wc);
        ra.merge(&wb);
        assert_eq!(ra.values().copied().collect::<Vec<_>>(), vec![3]);
        rb.merge(&wc);
        assert_eq!(ra, rb);
        assert_eq!(ra.len(), 1);
    }

    #[test]
    fn clear_removes_only_what_was_seen() {
        let a = ReplicaId::new(1);
        let mut ra = MvRegister::new();
        let mut rb = MvRegister::new();
        let seen = ra.set(a, 'x');
        rb.merge(&seen);
        let cleared = rb.clear();
        assert!(rb.is_empty());
        let concurrent = ra.set(a, 'y');
        rb.merge(&concurrent);
        ra.merge(&cleared);
        assert_eq!(ra, rb);
        assert_eq!(ra.values().collect::<Vec<_>>(), vec![&'y']);
    }

    #[test]
    fn a_state_holding_an_unseen_dot_does_not_decode() {
        let parts = CausalParts {
            store: DotFun::single(Dot::new(ReplicaId::new(1), 1), 5u8),
            context: CausalContext::new(),
        };
        let bytes = rmp_serde::to_vec(&parts).unwrap();
        let err = rmp_serde::from_slice::<MvRegister<u8>>(&bytes).unwrap_err();
        assert!(
            err.to_string().contains("not in its causal context"),
            "{err}"
        );
    }
}
