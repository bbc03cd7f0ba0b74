//! # crdt-core
//!
//! The replica: conflict-free replicated data types that merge in any order, the logical clocks
//! they are built on, and the machinery that delivers changes causally. Pure Rust with no I/O, no
//! async and no clocks, so the same code runs in the relay, in native clients and in browsers
//! (wasm32).
//!
//! - [`clock`]: [`ReplicaId`], [`Dot`], [`VersionVector`].
//! - [`causal`]: [`CausalBuffer`], which releases changes only after their causal past.
//! - [`causal_context`]: [`CausalContext`], the exact set of events seen, gaps and all.
//! - [`types`]: delta-state CRDTs ([`GCounter`], [`PNCounter`], [`LwwRegister`], [`MvRegister`],
//!   [`OrSet`], [`OrMap`]) and their [`Crdt`] trait.
//! - [`sync`]: the sans-IO sync protocol ([`sync::SyncSession`], [`sync::Message`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod causal;
pub mod causal_context;
pub mod clock;
pub mod sync;
pub mod types;

pub use causal::{BufferLimits, CausalBuffer, CausalChange, CausalError, Delivery};
pub use causal_context::{CausalContext, InvalidState};
pub use clock::{CausalOrder, Dot, ReplicaId, SeqRange, VersionVector};
pub use types::{CausalCrdt, Crdt, GCounter, LwwRegister, MvRegister, OrMap, OrSet, PNCounter};
