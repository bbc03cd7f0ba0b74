//! # crdt-wasm
//!
//! wasm-bindgen bindings over `crdt-core`, so that a browser is a full replica. Thin by design:
//! it converts types and errors, all logic lives in `crdt-core`. The bindings are built in issue
//! #6; until then this crate only fixes its place in the workspace.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use crdt_core;
