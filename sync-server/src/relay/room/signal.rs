//! How a room routes a [`Message::Signal`]: to the one addressed peer of this room, at once.
//!
//! A signal carries no document state, so it is not held behind durable writes and never goes
//! through a session; it only reaches the connection whose id it names, and only when that
//! connection joined this room on this node. A signal for anyone else (a peer of another room,
//! one that left, one on another cluster node, or the sender itself) is refused with
//! [`ErrorCode::UnknownPeer`] and logged: the sender then keeps syncing with that peer through
//! the relay. Signals do not cross cluster nodes: direct peers must share a node.

use axum::body::Bytes;
use crdt_core::sync::{encode, ErrorCode, Message};

use super::Room;
use crate::metrics::Rejection;
use crate::relay::peer::ConnId;

impl Room {
    /// Delivers `signal` (already stamped with its sender, `conn`) to the peer it names, or
    /// answers the sender with an Error.
    pub(super) fn route_signal(&mut self, conn: ConnId, signal: Message) {
        let Message::Signal { to, .. } = &signal else {
            return;
        };
        let to = to.0;
        if to != conn && self.peers.contains_key(&to) {
            // No fan-out latency sample: that metric is about changes.
            self.deliver(to, Bytes::from(encode(&signal)), None);
            return;
        }
        self.ctx.metrics.rejected(Rejection::UnknownPeer);
        let hint = if self.link.is_some() {
            " (direct peers must be connected to the same relay node)"
        } else {
            ""
        };
        tracing::info!(doc = %self.id, conn, to, "signal refused: no such peer in the room{hint}");
        let error = Message::Error {
            doc: Some(self.id.clone()),
            code: ErrorCode::UnknownPeer,
            message: format!("no peer {to:016x} in {} on this relay{hint}", self.id),
        };
        self.deliver(conn, Bytes::from(encode(&error)), None);
    }
}
