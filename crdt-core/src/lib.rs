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
//! - [`doc`]: [`Doc`], the JSON-like document applications embed (maps, lists, texts,
//!   counters), with transactions, causal apply, snapshots, change events, history
//!   (`history`, `view_at`, `fork_at`, `diff`, `restore`; [`HistoryEntry`], [`HistoryError`]);
//!   and [`UndoManager`], undo/redo of this replica's own edits under remote edits.
//! - [`encoding`]: the binary formats of changes and snapshots.
//! - [`sync`]: the sans-IO sync protocol ([`sync::SyncSession`], [`sync::Message`]).
//! - [`seq`]: the sequence engine (FugueMax, run-length encoded B-tree); [`text`]: [`Text`];
//!   [`list`]: [`List`].
//! - `fuzzing` (feature `fuzzing`): the invariant checks of the fuzz targets and their replay.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod causal;
pub mod causal_context;
pub mod clock;
pub mod doc;
pub mod encoding;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod list;
pub mod seq;
mod sort_keys;
pub mod sync;
pub mod text;
pub mod types;

pub use causal::{BufferLimits, CausalBuffer, CausalChange, CausalError, Delivery};
pub use causal_context::{CausalContext, InvalidState};
pub use clock::{CausalOrder, Dot, ReplicaId, SeqRange, VersionVector};
pub use doc::{
    ApplyOutcome, ContainerId, ContainerKind, CounterRef, Doc, DocError, DocEvent, EventOrigin,
    ListRef, MapRef, Materialized, Patch, PatchAction, PathSegment, Scalar, Selection, StepOutcome,
    SubscriptionId, TextRef, UndoManager, UndoOptions, Value,
};
pub use doc::{Attributes, DeltaOp, DeltaRun, MarkExpand};
pub use doc::{CommitMeta, HistoryEntry, HistoryError};
pub use encoding::DecodeError;
pub use list::List;
pub use seq::{Assoc, Cursor};
pub use text::Text;
pub use types::{CausalCrdt, Crdt, GCounter, LwwRegister, MvRegister, OrMap, OrSet, PNCounter};
