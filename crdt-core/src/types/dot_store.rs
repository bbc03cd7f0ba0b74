//! Dot stores: the part of a causal CRDT's state that holds dots, and their join.
//!
//! Almeida, Shoker and Baquero ("Delta State Replicated Data Types", JPDC 2018, section 6) build
//! the observed-remove types from three stores, each paired with a [`CausalContext`]:
//!
//! - [`DotSet`]: a set of dots (the "presence" of one set element);
//! - [`DotFun`]: a map from dot to value (the values of a multi-value register);
//! - [`DotMap`]: a map from key to a nested dot store (a set's elements, a map's entries).
//!
//! The join of `(store_a, context_a)` and `(store_b, context_b)` keeps a dot if both stores hold
//! it, or if one store holds it and the other side's context has *not* seen it. A dot that one side
//! has seen but no longer holds was removed there, so it stays removed: this is what makes remove
//! observed-remove with no tombstones. The context then becomes the union of both contexts.
//!
//! **Invariant** of every store inside a CRDT: each dot it holds is in the CRDT's context, and a
//! [`DotMap`] never holds an empty nested store (an absent key and an empty entry are the same
//! state, and only one representation is allowed so that `==` is state equality).

use std::collections::{BTreeMap, BTreeSet};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::causal_context::{CausalContext, InvalidState};
use crate::clock::Dot;

/// A store of dots that can be joined given the causal contexts of both sides.
pub trait DotStore: Clone + Default + PartialEq + Serialize + DeserializeOwned {
    /// True when the store holds no dot (the bottom state, as for an absent key).
    fn is_bottom(&self) -> bool;

    /// Adds every dot the store holds to `into`.
    fn collect_dots(&self, into: &mut CausalContext);

    /// Joins `other` into `self`, where `ours` is the context of `self` and `theirs` the context
    /// of `other` (both taken before the contexts themselves are merged).
    fn join(&mut self, ours: &CausalContext, other: &Self, theirs: &CausalContext);

    /// Checks the invariant of the [module docs](self) against the owning CRDT's `context`.
    fn check(&self, context: &CausalContext) -> Result<(), InvalidState>;

    /// Every dot the store holds, as a context (the context a remove of this store carries).
    fn dots(&self) -> CausalContext {
        let mut context = CausalContext::new();
        self.collect_dots(&mut context);
        context
    }
}

fn check_dot(dot: Dot, context: &CausalContext) -> Result<(), InvalidState> {
    if dot.counter == 0 {
        Err(InvalidState::ZeroCounter(dot))
    } else if context.contains(dot) {
        Ok(())
    } else {
        Err(InvalidState::DotOutsideContext(dot))
    }
}

/// A set of dots: the events that keep one thing (a set element, a map key) present.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DotSet(BTreeSet<Dot>);

impl DotSet {
    /// A set holding just `dot`.
    pub fn single(dot: Dot) -> Self {
        DotSet(BTreeSet::from([dot]))
    }

    /// The dots, in (replica, counter) order.
    pub fn iter(&self) -> impl Iterator<Item = Dot> + '_ {
        self.0.iter().copied()
    }

    /// Number of dots.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the store is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl DotStore for DotSet {
    fn is_bottom(&self) -> bool {
        self.0.is_empty()
    }

    fn collect_dots(&self, into: &mut CausalContext) {
        into.extend(self.0.iter().copied());
    }

    fn join(&mut self, ours: &CausalContext, other: &Self, theirs: &CausalContext) {
        self.0
            .retain(|dot| other.0.contains(dot) || !theirs.contains(*dot));
        self.0
            .extend(other.0.iter().filter(|dot| !ours.contains(**dot)));
    }

    fn check(&self, context: &CausalContext) -> Result<(), InvalidState> {
        self.0.iter().try_for_each(|dot| check_dot(*dot, context))
    }
}

/// A map from dot to value: each value is tagged with the event that wrote it.
///
/// Two sides holding the same dot hold the same value in any state made by the operations; should
/// decoded states disagree, the join keeps the larger value so that it stays commutative.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[serde(bound(serialize = "V: Serialize", deserialize = "V: Deserialize<'de> + Ord"))]
pub struct DotFun<V>(BTreeMap<Dot, V>);

impl<V> Default for DotFun<V> {
    fn default() -> Self {
        DotFun(BTreeMap::new())
    }
}

impl<V> DotFun<V> {
    /// A map holding `value` under `dot`.
    pub fn single(dot: Dot, value: V) -> Self {
        DotFun(BTreeMap::from([(dot, value)]))
    }

    /// The `(dot, value)` pairs in dot order.
    pub fn iter(&self) -> impl Iterator<Item = (Dot, &V)> + '_ {
        self.0.iter().map(|(dot, value)| (*dot, value))
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the store is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<V> DotStore for DotFun<V>
where
    V: Clone + Ord + Serialize + DeserializeOwned,
{
    fn is_bottom(&self) -> bool {
        self.0.is_empty()
    }

    fn collect_dots(&self, into: &mut CausalContext) {
        into.extend(self.0.keys().copied());
    }

    fn join(&mut self, ours: &CausalContext, other: &Self, theirs: &CausalContext) {
        self.0.retain(|dot, value| match other.0.get(dot) {
            Some(theirs_value) => {
                if theirs_value > value {
                    value.clone_from(theirs_value);
                }
                true
            }
            None => !theirs.contains(*dot),
        });
        for (dot, value) in &other.0 {
            if !ours.contains(*dot) {
                self.0.entry(*dot).or_insert_with(|| value.clone());
            }
        }
    }

    fn check(&self, context: &CausalContext) -> Result<(), InvalidState> {
        self.0.keys().try_for_each(|dot| check_dot(*dot, context))
    }
}

/// A map from key to a nested dot store. A key is present exactly while its store holds a dot.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[serde(bound(
    serialize = "K: Serialize, S: Serialize",
    deserialize = "K: Deserialize<'de> + Ord, S: Deserialize<'de>"
))]
pub struct DotMap<K, S>(BTreeMap<K, S>);

impl<K, S> Default for DotMap<K, S> {
    fn default() -> Self {
        DotMap(BTreeMap::new())
    }
}

impl<K: Ord, S> DotMap<K, S> {
    /// A map holding `store` under `key` (or nothing, if `store` is empty).
    pub fn single(key: K, store: S) -> Self
    where
        S: DotStore,
    {
        let mut map = BTreeMap::new();
        if !store.is_bottom() {
            map.insert(key, store);
        }
        DotMap(map)
    }

    /// The nested store of `key`, if the key is present.
    pub fn get(&self, key: &K) -> Option<&S> {
        self.0.get(key)
    }

    /// The present keys and their stores, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &S)> + '_ {
        self.0.iter()
    }

    /// Number of present keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Sets the store of `key` (local operations, which keep the invariant themselves: an empty
    /// `store` removes the key).
    pub(crate) fn insert(&mut self, key: K, store: S)
    where
        S: DotStore,
    {
        if store.is_bottom() {
            self.0.remove(&key);
        } else {
            self.0.insert(key, store);
        }
    }

    /// Takes the store of `key` out of the map.
    pub(crate) fn remove(&mut self, key: &K) -> Option<S> {
        self.0.remove(key)
    }

    /// True when the store is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K, S> DotStore for DotMap<K, S>
where
    K: Clone + Ord + Serialize + DeserializeOwned,
    S: DotStore,
{
    fn is_bottom(&self) -> bool {
        self.0.is_empty()
    }

    fn collect_dots(&self, into: &mut CausalContext) {
        for store in self.0.values() {
            store.collect_dots(into);
        }
    }

    fn join(&mut self, ours: &CausalContext, other: &Self, theirs: &CausalContext) {
        let absent = S::default();
        self.0.retain(|key, store| {
            store.join(ours, other.0.get(key).unwrap_or(&absent), theirs);
            !store.is_bottom()
        });
        for (key, theirs_store) in &other.0 {
            if self.0.contains_key(key) {
                continue;
            }
            let mut store = S::default();
            store.join(ours, theirs_store, theirs);
            if !store.is_bottom() {
                self.0.insert(key.clone(), store);
            }
        }
    }

    fn check(&self, context: &CausalContext) -> Result<(), InvalidState> {
        for store in self.0.values() {
            if store.is_bottom() {
                return Err(InvalidState::EmptyEntry);
            }
            store.check(context)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ReplicaId;

    fn d(replica: u64, counter: u64) -> Dot {
        Dot::new(ReplicaId::new(replica), counter)
    }

    #[test]
    fn dot_set_join_keeps_unseen_and_drops_removed() {
        // Left saw 1@1 and 1@2 but holds only 1@2 (1@1 was removed); right holds 1@1 and a dot
        // left never saw.
        let left_ctx: CausalContext = [d(1, 1), d(1, 2)].into_iter().collect();
        let right_ctx: CausalContext = [d(1, 1), d(2, 1)].into_iter().collect();
        let mut left = DotSet(BTreeSet::from([d(1, 2)]));
        let right = DotSet(BTreeSet::from([d(1, 1), d(2, 1)]));
        left.join(&left_ctx, &right, &right_ctx);
        assert_eq!(left, DotSet(BTreeSet::from([d(1, 2), d(2, 1)])));
    }

    #[test]
    fn dot_map_drops_keys_whose_dots_were_all_removed() {
        let ctx: CausalContext = [d(1, 1)].into_iter().collect();
        let mut left = DotMap::single(1u8, DotSet::single(d(1, 1)));
        left.join(&ctx, &DotMap::default(), &ctx);
        assert!(left.is_bottom());
        assert_eq!(
            DotMap::<u8, DotSet>::default().check(&ctx),
            Ok(()),
            "the empty map is valid"
        );
        let bad = DotMap(BTreeMap::from([(1u8, DotSet::default())]));
        assert_eq!(bad.check(&ctx), Err(InvalidState::EmptyEntry));
        let outside = DotMap::single(1u8, DotSet::single(d(3, 1)));
        assert_eq!(
            outside.check(&ctx),
            Err(InvalidState::DotOutsideContext(d(3, 1)))
        );
    }
}
