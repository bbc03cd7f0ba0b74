//! # crdt-wasm
//!
//! wasm-bindgen bindings over `crdt-core`, so that a browser (or Node) is a full replica. Thin by
//! design, as `loro-wasm` and `ywasm` are over their cores: every function converts JS values to
//! core types, calls `crdt-core`, and converts the result back; errors become JS exceptions
//! (`Error` with the core error's message), never traps. No CRDT or protocol logic lives here.
//!
//! The JS API follows the conventions of Yjs and Loro:
//!
//! ```js
//! const doc = new Doc();
//! doc.getText("body").insert(0, "hi 👋");     // indices in UTF-16 code units, as JS strings
//! doc.getMap("meta").set("title", "Notes");
//! doc.commit();                                // one transaction = one change
//! const bytes = doc.exportSince(other.version());
//! other.import(bytes);
//! ```
//!
//! - [`doc`]: `Doc` (create, containers, commit, version, export/import, save/load, events).
//! - [`text`], [`map`], [`list`], [`counter`]: container handles.
//! - [`marks`]: rich text on `Text` (`mark`, `unmark`, `toDelta`, `applyDelta`).
//! - [`sync`]: `SyncSession`, the sans-IO sync protocol per document, for the WebSocket provider.
//! - [`convert`]: how core values look in JS (replica ids, versions, scalars, cursors, trees).
//! - [`events`]: change events as plain JS objects.
//! - [`undo`]: `UndoManager`, undo/redo of this replica's own edits.
//! - [`history`]: `history`, `viewAt`, `forkAt`, `fork`, `diff`, `restore`, commit options.
//!
//! Invariant: a binding never holds a borrow of the document while it calls into JS, so a JS
//! callback may use the document freely; a call that finds the document busy throws.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod container;
pub mod convert;
pub mod counter;
pub mod doc;
mod error;
pub mod events;
pub mod history;
pub mod list;
pub mod map;
pub mod marks;
mod shared;
pub mod sync;
pub mod text;
mod types;
pub mod undo;

pub use crdt_core;
pub use doc::Doc;
pub use undo::UndoManager;
