//! The sync protocol, sans I/O: the wire [`Message`]s ([`message`]) and the per-peer, per-document
//! state machine [`SyncSession`] ([`session`]) that decides what to send. No sockets, no clocks,
//! no async: a driver (the relay's connection task, a native client, the browser provider) feeds
//! received messages in and sends what comes out. This follows Automerge's `sync.rs`, with
//! version vectors ([`crate::VersionVector`]) as the summary peers exchange.
//!
//! The document is reached only through the small [`SyncDoc`] trait, so the protocol is tested
//! once, here, against a test document and a simulated lossy network, and every document type
//! that implements the trait gets the same guarantees.
//!
//! # The protocol
//!
//! Client and relay run the *same* machine; "client" and "relay" below are just two peers, `A`
//! and `B`. One connection may carry many documents; each message names its document, and each
//! side keeps one [`SyncSession`] per document per connection. Versions are version vectors:
//! replica id to the highest contiguous counter held.
//!
//! ```text
//!  A (e.g. client)                                           B (e.g. relay)
//!  ───────────────                                           ──────────────
//!  transport up: connect()
//!    ── Hello {doc, version: vA} ───────────────────────────▶ no session yet: receive() joins,
//!                                                             i.e. says its own Hello first
//!    ◀─────────────────────────────── Hello {doc, version: vB} ──
//!    ◀──── Changes {doc, bytes: what vA lacks of vB, version} ──  catch-up (only if vA lacks any)
//!  apply; then, as vA advanced:
//!    ── Ack {doc, version: grown entries of A's version} ───▶  B never resends what is acked
//!    ── Changes {doc, bytes: what vB lacks of vA, version} ─▶  A's catch-up, sent on B's Hello
//!                                                             apply, persist ("ack after
//!    ◀─────────────────────── Ack {doc, version: grown} ──────   durable": a relay may hold the
//!                                                             Ack until its store has flushed)
//!  local edit: on_local_change()
//!    ── Changes {doc, bytes, version} ──────────────────────▶ apply; on_local_change() on the
//!    ◀─────────────────────────────────────── Ack {…} ─────── doc's other sessions = fan-out
//!  set_presence(peer, state)
//!    ── Presence {doc, peer, clock, state} ─────────────────▶ kept in B's session (newest clock
//!                                                             wins); a relay forwards it to the
//!                                                             doc's other peers, and on A's
//!                                                             disconnect sends them
//!                                                             Presence {peer, clock, state: nil}
//!  something wrong (bad frame, no permission, ...):
//!    ◀──────────────── Error {doc?, code, message} ──────────  receive() returns SyncError::Remote
//!  transport down: disconnect() — forgets B's version, what was in flight, B's presence
//!  transport up again: connect() — Hello again; catch-up resumes from what both sides hold
//! ```
//!
//! Rules that make this correct over a network that duplicates, reorders, delays and drops:
//! - **What to send** is computed from versions: `our version` minus `sent`, where `sent` is what
//!   the other side declared (its Hello, Acks, and the versions carried by its Changes) plus what
//!   we sent since the last Hello. Acked events are never sent again; changes carry the sender's
//!   grown version entries so the receiver never echoes them back.
//! - **Nothing unacknowledged is assumed delivered**: a Hello (on connect, or on a live connection
//!   from a driver's resync timer when its transport may drop messages) forgets what was in flight.
//! - **Repeats are no-ops**: versions only merge, documents apply changes idempotently and hold
//!   early ones until their causal past arrives, presence keeps the highest clock, and messages
//!   reaching a disconnected session are ignored. A Hello that repeats answers only with what is
//!   still unacknowledged.
//! - **Liveness**: after the network heals (every connection up, a Hello each way, messages
//!   delivered), every peer holds every change some peer holds. The simulator in this module's
//!   tests checks exactly that, for 2-6 peers in a mesh or around a relay-like hub.
//!
//! The frame layout is in [`message`]; errors a peer may report are [`ErrorCode`]s.

pub mod message;
pub mod presence;
pub mod replica_guard;
pub mod session;
pub mod sync_doc;

#[cfg(any(test, feature = "fuzzing"))]
pub mod sim;
#[cfg(test)]
pub(crate) mod test_doc;

pub use message::{
    decode, decode_bounded, encode, DocId, DocIdError, ErrorCode, Message, PeerId, ProtocolError,
    DEFAULT_MAX_FRAME, MAX_DOC_ID_LEN, MAX_VERSION_ENTRIES, PROTOCOL_VERSION,
};
pub use presence::{PresenceMap, MAX_PRESENCE_PEERS};
pub use replica_guard::ReplicaGuard;
pub use session::{SyncError, SyncSession};
pub use sync_doc::SyncDoc;
