//! Delta-state CRDTs: counters, registers, sets and maps that converge whatever the order and
//! number of deliveries.
//!
//! Every type is a join-semilattice ([`Crdt::merge`] is commutative, associative and idempotent),
//! following Almeida, Shoker and Baquero, "Delta State Replicated Data Types" (JPDC 2018). Every
//! local operation mutates the state *and* returns a delta: a small value of the same type which,
//! merged into any replica (once, twice, late, out of order), has the effect of the operation. So
//! the same `merge` accepts a delta or a full state, and shipping deltas or whole states gives the
//! same result (the law suite in this module's tests checks this for every type).
//!
//! | type | semantics |
//! |---|---|
//! | [`GCounter`] | grow-only counter |
//! | [`PNCounter`] | counter with increments and decrements |
//! | [`LwwRegister`] | last writer wins, by caller-supplied timestamp, deterministic tie-break |
//! | [`MvRegister`] | multi-value register: keeps every concurrent write |
//! | [`OrSet`] | add-wins observed-remove set, no tombstones |
//! | [`OrMap`] | observed-remove map of nested causal CRDTs |
//!
//! The causal types ([`MvRegister`], [`OrSet`], [`OrMap`]) are a [`dot_store`] plus a
//! [`CausalContext`]; they implement [`CausalCrdt`] and can be nested in an [`OrMap`], sharing its
//! context, as in the paper's section 6.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::causal_context::{CausalContext, InvalidState};

pub mod dot_store;
pub mod g_counter;
pub mod lww_register;
pub mod mv_register;
pub mod or_map;
pub mod or_set;
pub mod pn_counter;

#[cfg(test)]
mod laws;

pub use dot_store::{DotFun, DotMap, DotSet, DotStore};
pub use g_counter::GCounter;
pub use lww_register::LwwRegister;
pub use mv_register::MvRegister;
pub use or_map::OrMap;
pub use or_set::OrSet;
pub use pn_counter::PNCounter;

/// A state-based CRDT: a join-semilattice whose [`merge`](Crdt::merge) is the join.
///
/// `Default` is the bottom state (what a new replica holds). `PartialEq` is state equality: two
/// replicas that have merged the same deltas compare equal.
pub trait Crdt: Clone + Default + PartialEq + Serialize + DeserializeOwned {
    /// Joins `other` (a full state or a delta) into `self`. Commutative, associative and
    /// idempotent, so deltas may arrive in any order, any number of times.
    fn merge(&mut self, other: &Self);
}

/// A CRDT made of a `DotStore` and a [`CausalContext`] (Almeida et al., section 6). Such types
/// can be the values of an [`OrMap`]: the map lends them its context, so that a nested operation
/// takes a dot unique in the whole map and a remove of the key erases exactly the dots it saw.
pub trait CausalCrdt: Crdt {
    /// The dots and values of the state, without the context.
    type Store: DotStore;

    /// Reassembles a state from its store and context.
    ///
    /// The store's dots must all be in the context (the state invariant); the operations of
    /// [`OrMap`] only call this with parts taken from valid states.
    fn from_parts(store: Self::Store, context: CausalContext) -> Self;

    /// Splits the state into its store and context.
    fn into_parts(self) -> (Self::Store, CausalContext);

    /// The store.
    fn store(&self) -> &Self::Store;

    /// The causal context: every event this state has seen.
    fn context(&self) -> &CausalContext;
}

/// The join of two causal states: stores joined with both contexts, then contexts united.
fn causal_join<S: DotStore>(
    store: &mut S,
    context: &mut CausalContext,
    other_store: &S,
    other_context: &CausalContext,
) {
    store.join(context, other_store, other_context);
    context.merge(other_context);
}

/// The encoded form of a causal state, validated before it becomes one: every dot of the store
/// must be in the context, and nested entries must not be empty.
#[derive(Serialize, Deserialize)]
#[serde(bound(deserialize = "S: DotStore"))]
struct CausalParts<S> {
    store: S,
    context: CausalContext,
}

impl<S: DotStore> CausalParts<S> {
    /// The store and context, if they form a valid state.
    fn validated(self) -> Result<(S, CausalContext), InvalidState> {
        self.store.check(&self.context)?;
        Ok((self.store, self.context))
    }
}
