//! What a connection checks of a [`Message::Signal`] before its room routes it: signaling lets
//! two peers open a direct channel that bypasses the relay's checks, so only a peer that may
//! write the document (and has joined it) may signal, and a payload is bounded by
//! `--max-signal-bytes` (an SDP offer with a few candidates is 1-3 KiB). Every refusal is an
//! `Error` about the message (the connection stays open), counted and logged; the frame was
//! already counted by the connection's message and byte rates like any other.

use crdt_core::sync::{ErrorCode, Message};

use super::Connection;
use crate::auth::Access;
use crate::metrics::Rejection;

impl Connection {
    /// An Error refusing `message` when it is a `Signal` this peer may not send; `None` for
    /// every other message and for a signal that may go to its room.
    pub(super) fn check_signal(&self, message: &Message) -> Option<Message> {
        let Message::Signal {
            doc, to, payload, ..
        } = message
        else {
            return None;
        };
        let max = self.ctx.config.limits.max_signal_bytes;
        let (why, code, text) = if payload.len() > max {
            (
                Rejection::TooLarge,
                ErrorCode::TooLarge,
                format!(
                    "a signal may have at most {max} bytes, not {}; not routed",
                    payload.len()
                ),
            )
        } else if !matches!(self.grant.access(doc), Ok(Some(Access::Write))) {
            (
                Rejection::Unauthorized,
                ErrorCode::Unauthorized,
                format!("signaling in {doc} needs write access: a direct peer writes unchecked"),
            )
        } else if !self.joined.contains_key(doc) {
            (
                Rejection::NotJoined,
                ErrorCode::NotJoined,
                format!("send Hello for {doc} before signaling its peers"),
            )
        } else {
            return None;
        };
        self.ctx.metrics.rejected(why);
        tracing::info!(conn = self.id, %doc, to = %to, bytes = payload.len(), reason = %text, "signal refused");
        Some(Message::Error {
            doc: Some(doc.clone()),
            code,
            message: text,
        })
    }
}
