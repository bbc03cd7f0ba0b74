//! The editing traces the project is measured and tested on, as a small crate of its own (as
//! diamond-types' `crates/crdt-testdata`): the loader of the `editing-traces` format
//! ([`trace`]) and the replay of a trace through crdt-core ([`replay`]), through the `Doc` users
//! hold (a commit per trace transaction, as an editor commits) or through the bare `Text` engine.
//!
//! It depends on `crdt-core` only, so the core's benches and the integration tests use the traces
//! without building the relay.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod replay;
pub mod trace;

pub use trace::{bundled_trace_path, Trace, TraceError, TraceKind, BUNDLED_TRACES};
