//! # crdt-core
//!
//! The replica: conflict-free replicated data types that merge in any order, the logical clocks
//! they are built on, and the machinery that delivers changes causally. Pure Rust with no I/O, no
//! async and no clocks, so the same code runs in the relay, in native clients and in browsers
//! (wasm32).
//!
//! - [`clock`]: [`ReplicaId`], [`Dot`], [`VersionVector`].
//! - [`seq`]: the sequence engine (FugueMax, run-length encoded B-tree); [`text`]: [`Text`];
//!   [`list`]: [`List`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod clock;
pub mod list;
pub mod seq;
pub mod text;

pub use clock::{CausalOrder, Dot, ReplicaId, SeqRange, VersionVector};
pub use list::List;
pub use seq::Cursor;
pub use text::Text;
