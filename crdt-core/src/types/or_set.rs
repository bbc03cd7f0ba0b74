//! The [`OrSet`](crate::OrSet) type; its documentation (why it is built this way) is on the type, which
//! the crate root exports.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{causal_join, CausalCrdt, CausalParts, Crdt, DotMap, DotSet, DotStore};
use crate::causal_context::{CausalContext, InvalidState};
use crate::clock::ReplicaId;

/// An add-wins observed-remove set.
///
/// [`OrSet`]: an add-wins observed-remove set without tombstones.
///
/// Each add tags the element with a fresh [`Dot`](crate::Dot). A remove erases the dots of the element that
/// the remover has seen, by carrying them in its delta's causal context and not in its store. A
/// concurrent add made a dot the remover never saw, so the element survives: **add wins**. Nothing
/// of a removed element is kept; the causal context alone remembers that its dots were seen. This
/// is the delta AWORSet of Almeida, Shoker and Baquero, "Delta State Replicated Data Types" (JPDC
/// 2018), §6 (a `DotMap` from element to `DotSet`), the state of the `crdts` crate's Orswot.
///
/// **Invariant**: every stored dot is in the context; an element is stored only with at least one
/// dot. Re-adding a present element replaces its dots with one fresh dot.
///
/// ```
/// use crdt_core::{Crdt, OrSet, ReplicaId};
///
/// let (a, b) = (ReplicaId::new(1), ReplicaId::new(2));
/// let milk = String::from("milk");
/// let mut left = OrSet::new();
/// let mut right = OrSet::new();
/// right.merge(&left.add(a, milk.clone()));
///
/// // Concurrently: `a` adds milk again, `b` removes the milk it has seen.
/// let re_add = left.add(a, milk.clone());
/// let remove = right.remove(&milk);
/// left.merge(&remove);
/// right.merge(&re_add);
/// assert_eq!(left, right);
/// assert!(left.contains(&milk), "add wins over a concurrent remove");
///
/// // A remove that has seen every add removes the element everywhere.
/// let remove = left.remove(&milk);
/// right.merge(&remove);
/// assert!(!right.contains(&milk));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(
    try_from = "CausalParts<DotMap<T, DotSet>>",
    bound(
        serialize = "T: Serialize",
        deserialize = "T: Clone + Ord + DeserializeOwned + Serialize"
    )
)]
pub struct OrSet<T> {
    store: DotMap<T, DotSet>,
    context: CausalContext,
}

impl<T> Default for OrSet<T> {
    fn default() -> Self {
        OrSet {
            store: DotMap::default(),
            context: CausalContext::new(),
        }
    }
}

impl<T> OrSet<T>
where
    T: Clone + Ord + Serialize + DeserializeOwned,
{
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `element` on behalf of `replica`; returns the delta. The delta also retires the
    /// element's dots seen so far, so the state does not grow with repeated adds.
    pub fn add(&mut self, replica: ReplicaId, element: T) -> OrSet<T> {
        let dot = self.context.next_dot(replica);
        let mut context = self.dots_of(&element);
        context.insert(dot);
        // The local effect of the delta, without a join over the whole set.
        self.context.insert(dot);
        self.store.insert(element.clone(), DotSet::single(dot));
        OrSet {
            store: DotMap::single(element, DotSet::single(dot)),
            context,
        }
    }

    /// Removes `element` as far as this replica has seen it (adds it has not seen survive);
    /// returns the delta, which is empty when the element is absent.
    pub fn remove(&mut self, element: &T) -> OrSet<T> {
        let removed = self.store.remove(element);
        OrSet {
            store: DotMap::default(),
            context: removed.as_ref().map(DotStore::dots).unwrap_or_default(),
        }
    }

    /// Removes every element this replica has seen; returns the delta.
    pub fn clear(&mut self) -> OrSet<T> {
        OrSet {
            store: DotMap::default(),
            context: std::mem::take(&mut self.store).dots(),
        }
    }

    /// True when `element` is in the set.
    pub fn contains(&self, element: &T) -> bool {
        self.store.get(element).is_some()
    }

    /// The elements, in order.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.store.iter().map(|(element, _)| element)
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// True when the set has no element.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    fn dots_of(&self, element: &T) -> CausalContext {
        self.store
            .get(element)
            .map(DotStore::dots)
            .unwrap_or_default()
    }
}

impl<T> Crdt for OrSet<T>
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

impl<T> CausalCrdt for OrSet<T>
where
    T: Clone + Ord + Serialize + DeserializeOwned,
{
    type Store = DotMap<T, DotSet>;

    fn from_parts(store: Self::Store, context: CausalContext) -> Self {
        OrSet { store, context }
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

impl<T> TryFrom<CausalParts<DotMap<T, DotSet>>> for OrSet<T>
where
    T: Clone + Ord + Serialize + DeserializeOwned,
{
    type Error = InvalidState;

    fn try_from(parts: CausalParts<DotMap<T, DotSet>>) -> Result<Self, Self::Error> {
        let (store, context) = parts.validated()?;
        Ok(OrSet { store, context })
    }
}

impl<T> FromIterator<(ReplicaId, T)> for OrSet<T>
where
    T: Clone + Ord + Serialize + DeserializeOwned,
{
    /// Adds each element on behalf of its replica, in order.
    fn from_iter<I: IntoIterator<Item = (ReplicaId, T)>>(iter: I) -> Self {
        let mut set = OrSet::new();
        for (replica, element) in iter {
            set.add(replica, element);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_wins_over_concurrent_remove_in_both_delivery_orders() {
        let (a, b) = (ReplicaId::new(1), ReplicaId::new(2));
        let mut base = OrSet::new();
        base.add(a, 'x');
        let mut left = base.clone();
        let mut right = base.clone();
        let add = left.add(a, 'x');
        let remove = right.remove(&'x');
        let mut one = base.clone();
        one.merge(&add);
        one.merge(&remove);
        let mut other = base.clone();
        other.merge(&remove);
        other.merge(&add);
        assert_eq!(one, other);
        assert!(one.contains(&'x'));
        // Concurrent add of the same element by another replica also wins.
        let mut third = base.clone();
        let add_b = third.add(b, 'x');
        right.merge(&add_b);
        assert!(right.contains(&'x'));
    }

    #[test]
    fn removed_elements_leave_no_tombstone_and_stay_removed() {
        let a = ReplicaId::new(1);
        let mut set = OrSet::new();
        let add = set.add(a, 10u32);
        set.add(a, 20);
        let remove = set.remove(&10);
        assert_eq!(set.iter().copied().collect::<Vec<_>>(), vec![20]);
        assert_eq!(set.store.len(), 1, "nothing of 10 is stored");
        set.merge(&add); // a stale add arriving again does not resurrect it
        assert!(!set.contains(&10));
        assert!(remove.is_empty());
        assert!(OrSet::<u32>::new().remove(&7).context.is_empty());
    }

    #[test]
    fn re_adding_keeps_one_dot_per_element() {
        let (a, b) = (ReplicaId::new(1), ReplicaId::new(2));
        let mut set = OrSet::new();
        for _ in 0..5 {
            set.add(a, 'k');
            set.add(b, 'k');
        }
        assert_eq!(set.store.get(&'k').map(DotSet::len), Some(1));
        let cleared = set.clear();
        assert!(set.is_empty());
        assert!(cleared.is_empty());
        assert_eq!(set.len(), 0);
    }
}
