//! # crdt-core
//!
//! The replica: conflict-free replicated data types that merge in any order, the logical clocks
//! they are built on, and the machinery that delivers changes causally. Pure Rust with no I/O, no
//! async and no clocks, so the same code runs in the relay, in native clients and in browsers
//! (wasm32).
//!
//! The root is the vocabulary an application uses; the modules behind it are private:
//! - [`Doc`], the JSON-like document applications embed (maps, lists, texts, counters), with its
//!   handles ([`TextRef`], [`MapRef`], [`ListRef`], [`CounterRef`]), transactions, causal apply,
//!   save/load and change events ([`DocEvent`], [`Patch`]); rich text ([`MarkExpand`],
//!   [`DeltaRun`], [`DeltaOp`]); history (`history`, `view_at`, `fork_at`, `diff`, `restore`;
//!   [`HistoryEntry`], [`HistoryError`]); and [`UndoManager`], undo/redo of this replica's own
//!   edits under remote edits.
//! - Clocks: [`ReplicaId`], [`Dot`], [`VersionVector`]; causal delivery: [`CausalBuffer`],
//!   [`CausalContext`].
//! - Delta-state CRDTs ([`GCounter`], [`PNCounter`], [`LwwRegister`], [`MvRegister`], [`OrSet`],
//!   [`OrMap`]) and their [`Crdt`] trait.
//! - [`sync`]: the sans-IO sync protocol ([`sync::SyncSession`], [`sync::Message`]), a namespace
//!   of its own as the relay, the native client and the browser all speak it.
//! - The sequence engine alone, for what is not a document: [`Text`] and [`List`] (FugueMax, a
//!   run-length encoded B-tree), with stable [`Cursor`]s.
//! - Feature `fuzzing`: the invariant checks of the fuzz targets and their replay (`fuzzing`),
//!   and the engine's internals for the differential tests (`seq`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod causal;
mod causal_context;
mod chunked_vec;
mod clock;
mod doc;
mod encoding;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod list;
#[cfg(feature = "fuzzing")]
pub mod seq;
#[cfg(not(feature = "fuzzing"))]
mod seq;
mod sort_keys;
pub mod sync;
mod text;
mod types;

// The protocol's limit on a frame's version vector is the document's limit on replicas, so that a
// document's version can always be sent; two constants so that `sync` does not import `doc`.
const _: () = assert!(doc::MAX_REPLICAS == sync::MAX_VERSION_ENTRIES);

pub use causal::{BufferLimits, CausalBuffer, CausalChange, CausalError, Delivery};
pub use causal_context::{CausalContext, InvalidState};
pub use clock::{CausalOrder, Dot, ReplicaId, SeqRange, VersionVector};
pub use doc::{Anchor, DEFAULT_CAPTURE_TIMEOUT_MS};
pub use doc::{
    ApplyOutcome, ContainerId, ContainerKind, CounterRef, Doc, DocError, DocEvent, EventOrigin,
    ListRef, MapRef, Materialized, Patch, PatchAction, PathSegment, Scalar, Selection, StepOutcome,
    SubscriptionId, TextRef, UndoManager, UndoOptions, Value,
};
pub use doc::{Attributes, DeltaOp, DeltaRun, MarkExpand};
pub use doc::{Change, ChangeError, NewValue, Op, MAX_KEY_LEN, MAX_ROOT_NAME_LEN};
pub use doc::{CommitMeta, HistoryEntry, HistoryError, MAX_MESSAGE_LEN};
pub use encoding::{DecodeError, FormatError, DECODE_RATIO, MAX_DECODED};
pub use list::List;
pub use seq::{Assoc, Cursor, SeqError};
pub use text::{Text, TextError};
pub use types::{CausalCrdt, Crdt, GCounter, LwwRegister, MvRegister, OrMap, OrSet, PNCounter};
