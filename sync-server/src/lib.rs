//! # sync-server
//!
//! The WebSocket relay for crdt-core documents: rooms per document, catch-up from version vectors,
//! durable storage before acknowledgement, auth and limits. The relay is built in issue #5; until
//! then this crate only fixes its place in the workspace and its dependency on `crdt-core`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use crdt_core;
