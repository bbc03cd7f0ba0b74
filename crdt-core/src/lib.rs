//! # crdt-core
//!
//! The replica: conflict-free replicated data types that merge in any order, the logical clocks
//! they are built on, and the machinery that delivers changes causally. Pure Rust with no I/O, no
//! async and no clocks, so the same code runs in the relay, in native clients and in browsers
//! (wasm32).
//!
//! - [`clock`]: [`ReplicaId`], [`Dot`], [`VersionVector`].
//! - [`causal`]: [`CausalBuffer`], which releases changes only after their causal past.
//! - [`sync`]: the sans-IO sync protocol ([`sync::SyncSession`], [`sync::Message`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod causal;
pub mod clock;
pub mod sync;

pub use causal::{BufferLimits, CausalBuffer, CausalChange, CausalError};
pub use clock::{CausalOrder, Dot, ReplicaId, SeqRange, VersionVector};
