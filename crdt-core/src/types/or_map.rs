//! The [`OrMap`](crate::OrMap) type; its documentation (why it is built this way) is on the type, which
//! the crate root exports.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{causal_join, CausalCrdt, CausalParts, Crdt, DotMap, DotStore};
use crate::causal_context::{CausalContext, InvalidState};

/// An observed-remove map of nested causal CRDTs.
///
/// [`OrMap`]: an observed-remove map whose values are nested causal CRDTs.
///
/// The map's values are [`CausalCrdt`]s ([`OrSet`](super::OrSet), [`MvRegister`](super::MvRegister),
/// another `OrMap`) that share the map's single [`CausalContext`]. Updating a key runs a nested
/// operation with the map's context, so the nested dot is unique in the whole map, and the delta is
/// the nested delta under that key. Removing a key erases exactly the nested dots the remover had
/// seen: nested state it observed is gone, while a concurrent update made a dot it never saw and
/// **survives** (with only that update's effect). A key is present while its nested value holds a
/// dot. This is the delta ORMap of Almeida, Shoker and Baquero, "Delta State Replicated Data Types"
/// (JPDC 2018), §6: a `DotMap` from key to the nested store, with no tombstones and no deferred
/// removes, so it converges without causal delivery.
///
/// **Invariant**: every nested dot is in the map's context; no key maps to an empty nested store.
///
/// ```
/// use crdt_core::{Crdt, OrMap, OrSet, ReplicaId};
///
/// let (a, b) = (ReplicaId::new(1), ReplicaId::new(2));
/// let mut left: OrMap<String, OrSet<u32>> = OrMap::new();
/// let mut right = OrMap::new();
/// right.merge(&left.update("todo".to_string(), |set| set.add(a, 1)));
///
/// // Concurrently: `a` adds 2 to "todo", `b` removes "todo" (having seen only 1).
/// let update = left.update("todo".to_string(), |set| set.add(a, 2));
/// let remove = right.remove(&"todo".to_string());
/// left.merge(&remove);
/// right.merge(&update);
/// assert_eq!(left, right);
///
/// // The key survives with the concurrent update; what the remove saw (1) is gone.
/// let todo = left.get(&"todo".to_string()).expect("the concurrent update keeps the key");
/// assert_eq!(todo.iter().copied().collect::<Vec<_>>(), vec![2]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(
    try_from = "CausalParts<DotMap<K, V::Store>>",
    bound(
        serialize = "K: Serialize",
        deserialize = "K: Clone + Ord + DeserializeOwned + Serialize"
    )
)]
pub struct OrMap<K, V: CausalCrdt> {
    store: DotMap<K, V::Store>,
    context: CausalContext,
}

impl<K, V: CausalCrdt> Default for OrMap<K, V> {
    fn default() -> Self {
        OrMap {
            store: DotMap::default(),
            context: CausalContext::new(),
        }
    }
}

impl<K, V> OrMap<K, V>
where
    K: Clone + Ord + Serialize + DeserializeOwned,
    V: CausalCrdt,
{
    /// The empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a nested operation to the value of `key` (the default value if absent) and returns
    /// the map's delta.
    ///
    /// `operation` receives the current value, holding the map's causal context, performs the
    /// nested operation on it and must return **the delta that operation returned** (e.g.
    /// `|set| set.add(replica, x)`; after several operations, their deltas merged into one).
    /// Returning anything else, such as a clone of the whole value, would make the map's delta
    /// claim to have seen (and so remove) other keys. Should `operation` panic, the map is left
    /// without that key and with an empty context: do not keep using it.
    pub fn update<F>(&mut self, key: K, operation: F) -> OrMap<K, V>
    where
        F: FnOnce(&mut V) -> V,
    {
        // The value is lent the map's store and context (moved out, not cloned) and the nested
        // operation applies its effect to them directly; they then move back.
        let store = self.store.remove(&key).unwrap_or_default();
        let context = std::mem::take(&mut self.context);
        let mut value = V::from_parts(store, context);
        let nested_delta = operation(&mut value);
        let (store, context) = value.into_parts();
        self.context = context;
        self.store.insert(key.clone(), store);
        let (delta_store, delta_context) = nested_delta.into_parts();
        OrMap {
            store: DotMap::single(key, delta_store),
            context: delta_context,
        }
    }

    /// Removes `key` as far as this replica has seen it: the nested state it observed is erased,
    /// concurrent updates survive. Returns the delta (empty when the key is absent).
    pub fn remove(&mut self, key: &K) -> OrMap<K, V> {
        let removed = self.store.remove(key);
        OrMap {
            store: DotMap::default(),
            context: removed.as_ref().map(DotStore::dots).unwrap_or_default(),
        }
    }

    /// Removes every key this replica has seen; returns the delta.
    pub fn clear(&mut self) -> OrMap<K, V> {
        OrMap {
            store: DotMap::default(),
            context: std::mem::take(&mut self.store).dots(),
        }
    }

    /// The value of `key`, if present. The value carries the map's causal context.
    pub fn get(&self, key: &K) -> Option<V> {
        self.store
            .get(key)
            .map(|store| V::from_parts(store.clone(), self.context.clone()))
    }

    /// True when `key` is present.
    pub fn contains_key(&self, key: &K) -> bool {
        self.store.get(key).is_some()
    }

    /// The present keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &K> + '_ {
        self.store.iter().map(|(key, _)| key)
    }

    /// Number of present keys.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// True when no key is present.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }
}

impl<K, V> Crdt for OrMap<K, V>
where
    K: Clone + Ord + Serialize + DeserializeOwned,
    V: CausalCrdt,
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

impl<K, V> CausalCrdt for OrMap<K, V>
where
    K: Clone + Ord + Serialize + DeserializeOwned,
    V: CausalCrdt,
{
    type Store = DotMap<K, V::Store>;

    fn from_parts(store: Self::Store, context: CausalContext) -> Self {
        OrMap { store, context }
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

impl<K, V> TryFrom<CausalParts<DotMap<K, V::Store>>> for OrMap<K, V>
where
    K: Clone + Ord + Serialize + DeserializeOwned,
    V: CausalCrdt,
{
    type Error = InvalidState;

    fn try_from(parts: CausalParts<DotMap<K, V::Store>>) -> Result<Self, Self::Error> {
        let (store, context) = parts.validated()?;
        Ok(OrMap { store, context })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ReplicaId;
    use crate::types::{MvRegister, OrSet};

    type Tags = OrMap<u8, OrSet<char>>;

    #[test]
    fn concurrent_update_survives_remove_in_both_orders() {
        let a = ReplicaId::new(1);
        let mut base = Tags::new();
        base.update(1, |set| set.add(a, 'x'));
        let mut left = base.clone();
        let mut right = base.clone();
        let update = left.update(1, |set| set.add(a, 'y'));
        let remove = right.remove(&1);
        assert!(!right.contains_key(&1));
        let mut one = base.clone();
        one.merge(&update);
        one.merge(&remove);
        let mut other = base;
        other.merge(&remove);
        other.merge(&update);
        assert_eq!(one, other);
        let survivor = one.get(&1).expect("the update survives the remove");
        assert!(survivor.contains(&'y') && !survivor.contains(&'x'));
    }

    #[test]
    fn nested_values_merge() {
        let (a, b) = (ReplicaId::new(1), ReplicaId::new(2));
        let mut left = Tags::new();
        let mut right = Tags::new();
        let deltas_left = [
            left.update(7, |set| set.add(a, 'p')),
            left.update(8, |set| set.add(a, 'q')),
        ];
        let deltas_right = [right.update(7, |set| set.add(b, 'r'))];
        for delta in &deltas_left {
            right.merge(delta);
        }
        for delta in &deltas_right {
            left.merge(delta);
        }
        assert_eq!(left, right);
        let seven = left.get(&7).expect("key 7 present");
        assert_eq!(seven.iter().copied().collect::<Vec<_>>(), vec!['p', 'r']);
        assert_eq!(left.keys().copied().collect::<Vec<_>>(), vec![7, 8]);
        // Removing the last nested element removes the key.
        let gone = left.update(8, |set| set.remove(&'q'));
        right.merge(&gone);
        assert!(!right.contains_key(&8));
    }

    #[test]
    fn maps_nest_in_maps() {
        let (a, b) = (ReplicaId::new(1), ReplicaId::new(2));
        type Doc = OrMap<String, OrMap<String, MvRegister<i32>>>;
        let mut left = Doc::new();
        let mut right = Doc::new();
        let d1 = left.update("user".into(), |m| m.update("age".into(), |r| r.set(a, 30)));
        let d2 = right.update("user".into(), |m| m.update("age".into(), |r| r.set(b, 31)));
        let d3 = right.update("user".into(), |m| m.update("name".into(), |r| r.set(b, 0)));
        left.merge(&d3);
        left.merge(&d2);
        right.merge(&d1);
        assert_eq!(left, right);
        let age = left
            .get(&"user".to_string())
            .and_then(|user| user.get(&"age".to_string()))
            .expect("nested register present");
        assert_eq!(age.values().copied().collect::<Vec<_>>(), vec![30, 31]);
        let resolve = left.update("user".into(), |m| m.update("age".into(), |r| r.set(a, 32)));
        right.merge(&resolve);
        let age = right
            .get(&"user".to_string())
            .and_then(|user| user.get(&"age".to_string()))
            .expect("nested register present");
        assert_eq!(age.values().copied().collect::<Vec<_>>(), vec![32]);
    }

    #[test]
    fn clear_keeps_only_unseen_updates() {
        let a = ReplicaId::new(1);
        let mut left = Tags::new();
        let mut right = Tags::new();
        right.merge(&left.update(1, |s| s.add(a, 'a')));
        right.merge(&left.update(2, |s| s.add(a, 'b')));
        let unseen = left.update(3, |s| s.add(a, 'c'));
        let cleared = right.clear();
        right.merge(&unseen);
        left.merge(&cleared);
        assert_eq!(left, right);
        assert_eq!(left.keys().copied().collect::<Vec<_>>(), vec![3]);
    }
}
