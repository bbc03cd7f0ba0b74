//! # sync-server
//!
//! The WebSocket relay for crdt-core documents and the native client that syncs a `Doc` with it.
//!
//! The relay keeps one room per loaded document. A room owns the document and one
//! [`crdt_core::sync::SyncSession`] per joined peer: the same sans-IO machine the clients run, so
//! the relay adds no protocol logic of its own. What it adds is what a server must: validation
//! (changes are applied to the room's document, and refused ones answered with an `Error`),
//! durability (a change is acknowledged only after the store has it), authorization, limits,
//! metrics and graceful shutdown. See `README.md` beside this crate for the wire protocol.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod client;
pub mod cluster;
pub mod config;
#[cfg(feature = "webrtc")]
pub mod mesh;
pub mod metrics;
pub mod rate_limit;
pub mod relay;
pub mod storage;

pub use client::{ClientOptions, SyncClient};
pub use config::Config;
pub use crdt_core;
pub use relay::{Relay, RelayError};
