//! [`Connection`]: what one peer's frames mean to the relay: the only place the relay touches
//! the frames a peer sends (the socket itself is [`super::handler`]'s). A frame goes through the
//! per-connection limits (message rate and byte rate, every frame counted, pings and pongs too;
//! frame size; documents joined; presence size), decoding, permissions, and is routed to its
//! document's room, whose queue is bounded in bytes.
//!
//! Invariants:
//! - Every refusal is explicit: a protocol `Error` for a refused message (the connection stays
//!   usable), or a close frame with a code and reason when the connection must end (undecodable
//!   or non-binary frames, rate or size limits, bad or expired token, slow consumer, idle,
//!   shutdown). A close reason fits a close frame ([`MAX_CLOSE_REASON`] bytes, cut on a
//!   character boundary), however long the error it reports: decode errors quote what the peer
//!   sent.
//! - A read-only peer's changes never reach a room; a peer's presence is published under its
//!   connection id, and its signals leave under it (see [`signal`]), so no peer can speak for
//!   another.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::ws::Message as WsMessage;
use crdt_core::sync::{decode_bounded, DocId, ErrorCode, Message, PeerId};
use tokio::sync::mpsc;

use super::peer::{CloseReason, ConnId, PeerLink};
use super::room::RoomCommand;
use super::rooms::{JoinError, RoomQueue};
use super::websocket::close_code;
use super::RelayContext;
use crate::auth::{Access, Grant};
use crate::metrics::Rejection;
use crate::rate_limit::RateLimiter;

mod signal;

/// The longest close reason, in bytes: a close frame's payload is at most 125 bytes (RFC 6455
/// §5.5), two of which are the code. The WebSocket layer does not check this when sending, and a
/// peer that receives a longer one fails the connection instead of reading the reason.
pub(crate) const MAX_CLOSE_REASON: usize = 123;

/// Why the connection ends, as the close frame says.
pub(crate) struct Close {
    /// The close code (one of [`close_code`]).
    pub(crate) code: u16,
    /// The reason, for people.
    pub(crate) reason: String,
}

impl Close {
    /// A close with `code` and `reason`, the reason cut to [`MAX_CLOSE_REASON`] bytes (ending in
    /// `...` when cut).
    pub(crate) fn new(code: u16, reason: impl Into<String>) -> Self {
        let mut reason = reason.into();
        if reason.len() > MAX_CLOSE_REASON {
            let mut end = MAX_CLOSE_REASON - "...".len();
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
            reason.push_str("...");
        }
        Close { code, reason }
    }

    /// The close for a peer a room found too slow.
    pub(crate) fn slow_consumer(reason: Option<CloseReason>) -> Self {
        let reason = reason.unwrap_or(CloseReason::QueueFull);
        Close::new(close_code::POLICY_VIOLATION, reason.text())
    }
}

pub(super) struct Joined {
    room: RoomQueue,
    access: Access,
}

/// The state of one connection.
pub(crate) struct Connection {
    pub(super) id: ConnId,
    pub(super) ctx: Arc<RelayContext>,
    grant: Grant,
    /// The documents joined, with each one's room queue and this peer's access.
    pub(super) joined: HashMap<DocId, Joined>,
    /// Messages (frames) per second.
    limiter: RateLimiter,
    /// Bytes per second.
    byte_limiter: RateLimiter,
    link: PeerLink,
    /// When the peer last sent a frame (pongs included), for the idle timeout.
    pub(super) last_heard: Instant,
}

/// A frame's size as the byte rate limit counts it: its payload.
fn frame_len(frame: &WsMessage) -> u64 {
    let len = match frame {
        WsMessage::Binary(bytes) | WsMessage::Ping(bytes) | WsMessage::Pong(bytes) => bytes.len(),
        WsMessage::Text(text) => text.len(),
        WsMessage::Close(_) => 0,
    };
    len as u64
}

/// An error to send, and how to close.
pub(crate) type Fatal = (Option<Message>, Close);

impl Connection {
    /// A connection `id` with rights `grant`, whose rooms write to it through `link`.
    pub(crate) fn new(id: ConnId, ctx: Arc<RelayContext>, grant: Grant, link: PeerLink) -> Self {
        let limits = &ctx.config.limits;
        let now = Instant::now();
        Connection {
            id,
            grant,
            joined: HashMap::new(),
            limiter: RateLimiter::new(limits.rate_per_sec, limits.rate_burst, now),
            byte_limiter: RateLimiter::with_rate(limits.bytes_per_sec, limits.bytes_burst, now),
            link,
            last_heard: now,
            ctx,
        }
    }

    /// Handles one frame; returns direct replies (each an `Error`), or how to end the
    /// connection.
    pub(crate) fn on_frame(&mut self, frame: WsMessage) -> Result<Vec<Message>, Fatal> {
        self.check_rates(&frame)?;
        let Some(bytes) = self.payload(frame)? else {
            return Ok(Vec::new());
        };
        let message = self.decode(&bytes)?;
        self.check_joins(&message)?;
        if let Some(refusal) = self
            .check_presence(&message)
            .or_else(|| self.check_signal(&message))
        {
            return Ok(vec![refusal]);
        }
        Ok(self.route(message, bytes.len()).into_iter().collect())
    }

    /// Takes the frame from both token buckets: one per frame, and one per byte. Every frame
    /// counts, pings and pongs too, so no kind of frame floods the relay for free.
    fn check_rates(&mut self, frame: &WsMessage) -> Result<(), Fatal> {
        let now = Instant::now();
        let limits = &self.ctx.config.limits;
        let (what, limit) = if !self.limiter.allow(now) {
            ("messages", u64::from(limits.rate_per_sec))
        } else if !self.byte_limiter.allow_cost(now, frame_len(frame)) {
            ("bytes", limits.bytes_per_sec)
        } else {
            return Ok(());
        };
        self.ctx.metrics.rejected(Rejection::RateLimited);
        tracing::info!(
            conn = self.id,
            what,
            "rate limit exceeded; closing the connection"
        );
        let error = Message::Error {
            doc: None,
            code: ErrorCode::RateLimited,
            message: format!("more than {limit} {what} per second"),
        };
        let reason = format!("rate limit exceeded: {what} per second");
        Err((
            Some(error),
            Close::new(close_code::POLICY_VIOLATION, reason),
        ))
    }

    /// The bytes of a binary frame; `None` for a ping or pong; how to close for the others.
    fn payload(&self, frame: WsMessage) -> Result<Option<Bytes>, Fatal> {
        let metrics = &self.ctx.metrics;
        match frame {
            WsMessage::Binary(bytes) => {
                metrics.messages_in.fetch_add(1, Relaxed);
                metrics.bytes_in.fetch_add(bytes.len() as u64, Relaxed);
                Ok(Some(bytes))
            }
            WsMessage::Text(_) => {
                metrics.rejected(Rejection::NotBinary);
                Err((
                    None,
                    Close::new(close_code::UNSUPPORTED_DATA, "binary frames only"),
                ))
            }
            WsMessage::Ping(_) | WsMessage::Pong(_) => Ok(None),
            WsMessage::Close(_) => {
                Err((None, Close::new(close_code::GOING_AWAY, "closed by peer")))
            }
        }
    }

    fn decode(&self, bytes: &[u8]) -> Result<Message, Fatal> {
        let max = self.ctx.config.limits.max_frame_bytes;
        decode_bounded(bytes, max).map_err(|e| {
            let (why, code) = match e.code() {
                ErrorCode::TooLarge => (Rejection::TooLarge, close_code::MESSAGE_TOO_BIG),
                ErrorCode::UnsupportedVersion => {
                    (Rejection::UnsupportedVersion, close_code::PROTOCOL_ERROR)
                }
                _ => (Rejection::BadMessage, close_code::PROTOCOL_ERROR),
            };
            self.ctx.metrics.rejected(why);
            let error = Message::Error {
                doc: None,
                code: e.code(),
                message: format!(
                    "{e} (this relay speaks protocol version {})",
                    crdt_core::sync::PROTOCOL_VERSION
                ),
            };
            (Some(error), Close::new(code, e.to_string()))
        })
    }

    /// A `Hello` for one more document than `--max-docs-per-connection` ends the connection.
    fn check_joins(&self, message: &Message) -> Result<(), Fatal> {
        let Message::Hello { doc, .. } = message else {
            return Ok(());
        };
        let max = self.ctx.config.limits.max_docs_per_connection;
        if self.joined.contains_key(doc) || self.joined.len() < max {
            return Ok(());
        }
        self.ctx.metrics.rejected(Rejection::TooManyDocs);
        let error = Message::Error {
            doc: Some(doc.clone()),
            code: ErrorCode::TooLarge,
            message: format!("a connection may join at most {max} documents"),
        };
        let reason = format!("too many documents: at most {max} per connection");
        Err((
            Some(error),
            Close::new(close_code::POLICY_VIOLATION, reason),
        ))
    }

    /// An Error refusing a presence state over `--max-presence-bytes` (it is not forwarded).
    fn check_presence(&self, message: &Message) -> Option<Message> {
        let Message::Presence {
            doc,
            state: Some(state),
            ..
        } = message
        else {
            return None;
        };
        let max = self.ctx.config.limits.max_presence_bytes;
        if state.len() <= max {
            return None;
        }
        self.ctx.metrics.rejected(Rejection::TooLarge);
        Some(Message::Error {
            doc: Some(doc.clone()),
            code: ErrorCode::TooLarge,
            message: format!(
                "a presence state may have at most {max} bytes, not {}; not forwarded",
                state.len()
            ),
        })
    }

    /// Routes one decoded message of `size` bytes; returns an error to answer with, if any.
    fn route(&mut self, message: Message, size: usize) -> Option<Message> {
        let metrics = &self.ctx.metrics;
        let Some(doc) = message.doc().cloned() else {
            // An Error without a document: the peer complains about the connection.
            tracing::debug!(conn = self.id, ?message, "peer reported an error");
            return None;
        };
        let refuse = |why: Rejection, code: ErrorCode, text: String| {
            metrics.rejected(why);
            Some(Message::Error {
                doc: Some(doc.clone()),
                code,
                message: text,
            })
        };
        if let Message::Error { code, message, .. } = &message {
            tracing::debug!(conn = self.id, %doc, ?code, message, "peer reported an error");
            return None;
        }
        let needs_access = matches!(message, Message::Hello { .. } | Message::Changes { .. });
        if needs_access {
            match self.grant.access(&doc) {
                Ok(Some(_)) => {}
                Ok(None) => {
                    return refuse(
                        Rejection::Unauthorized,
                        ErrorCode::Unauthorized,
                        format!("the token does not grant access to {doc}"),
                    )
                }
                Err(e) => {
                    return refuse(
                        Rejection::Unauthorized,
                        ErrorCode::Unauthorized,
                        e.to_string(),
                    )
                }
            }
        }
        let Some(joined) = self.joined.get(&doc) else {
            let Message::Hello { .. } = message else {
                return refuse(
                    Rejection::NotJoined,
                    ErrorCode::NotJoined,
                    format!("send Hello for {doc} before anything else about it"),
                );
            };
            return self.join(doc, message, size);
        };
        let message = match message {
            Message::Changes { .. } if joined.access < Access::Write => {
                return refuse(
                    Rejection::ReadOnly,
                    ErrorCode::ReadOnly,
                    format!("read-only access to {doc}: changes refused"),
                );
            }
            Message::Changes { .. } => {
                if let Some(why) = self.ctx.write_gate.refusal() {
                    tracing::debug!(conn = self.id, %doc, %why, "changes refused: storage cannot write");
                    return refuse(
                        Rejection::StorageUnavailable,
                        ErrorCode::ReadOnly,
                        format!(
                            "the relay cannot store changes now ({why}); these changes were \
                             refused and will not be acknowledged; they stay in your document \
                             and go out again when you reconnect"
                        ),
                    );
                }
                message
            }
            Message::Presence {
                doc, clock, state, ..
            } => Message::Presence {
                doc,
                peer: PeerId(self.id),
                clock,
                state,
            },
            // The sender is who the connection is, whatever the frame claims.
            Message::Signal {
                doc, to, payload, ..
            } => Message::Signal {
                doc,
                from: PeerId(self.id),
                to,
                payload,
            },
            other => other,
        };
        let Some(charge) = joined.room.budget.charge(size) else {
            return refuse(
                Rejection::RateLimited,
                ErrorCode::RateLimited,
                format!(
                    "{doc} is overloaded (more than {} bytes waiting); message dropped, send \
                     Hello to re-sync",
                    joined.room.budget.limit()
                ),
            );
        };
        let command = RoomCommand::Message {
            conn: self.id,
            message,
            at: Instant::now(),
            _charge: charge,
        };
        match joined.room.commands.try_send(command) {
            Ok(()) => None,
            Err(mpsc::error::TrySendError::Full(_)) => refuse(
                Rejection::RateLimited,
                ErrorCode::RateLimited,
                format!("{doc} is overloaded; message dropped, send Hello to re-sync"),
            ),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.joined.remove(&doc);
                Some(Message::Error {
                    doc: Some(doc),
                    code: ErrorCode::Internal,
                    message: "the document was closed; join again".into(),
                })
            }
        }
    }

    /// Joins `doc` (the documents-per-connection limit was checked by `on_frame`).
    fn join(&mut self, doc: DocId, hello: Message, size: usize) -> Option<Message> {
        // `route` checked the grant just before, but a token can expire in between: never
        // fall back to some access the grant does not give.
        let access = match self.grant.access(&doc) {
            Ok(Some(access)) => access,
            refused => {
                self.ctx.metrics.rejected(Rejection::Unauthorized);
                let why = refused.err().map_or("no grant".into(), |e| e.to_string());
                return Some(Message::Error {
                    message: format!("{why}: no access to {doc}"),
                    doc: Some(doc),
                    code: ErrorCode::Unauthorized,
                });
            }
        };
        let join = (self.link.clone(), hello, size);
        match self.ctx.rooms.join(&self.ctx, &doc, join) {
            Ok(room) => {
                self.joined.insert(doc, Joined { room, access });
                None
            }
            Err(JoinError::Busy) => Some(Message::Error {
                doc: Some(doc),
                code: ErrorCode::Internal,
                message: "the document is busy; try again".into(),
            }),
        }
    }

    /// Tells every joined room that this peer left.
    pub(super) async fn leave_all(&mut self) {
        for (_, joined) in self.joined.drain() {
            // Waiting (rather than try_send) so the room always learns the peer left.
            let _ = joined
                .room
                .commands
                .send(RoomCommand::Leave { conn: self.id })
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_fit_a_close_frame_and_are_cut_on_a_character_boundary() {
        let short = Close::new(close_code::PROTOCOL_ERROR, "bad frame");
        assert_eq!(short.reason, "bad frame");
        let exact = "x".repeat(MAX_CLOSE_REASON);
        assert_eq!(
            Close::new(close_code::PROTOCOL_ERROR, exact.clone()).reason,
            exact
        );
        // A decode error quoting a float the peer sent (fuzz/crashers/relay_frame).
        let long = format!(
            "malformed frame: invalid type: floating point `0.{}19`",
            "0".repeat(300)
        );
        let cut = Close::new(close_code::PROTOCOL_ERROR, long.clone());
        assert_eq!(cut.reason.len(), MAX_CLOSE_REASON);
        assert!(cut.reason.ends_with("..."));
        assert!(long.starts_with(cut.reason.trim_end_matches("...")));
        // Multi-byte characters across the cut.
        let wide = Close::new(close_code::PROTOCOL_ERROR, "é".repeat(100));
        assert!(wide.reason.len() <= MAX_CLOSE_REASON);
        assert!(wide
            .reason
            .trim_end_matches("...")
            .chars()
            .all(|c| c == 'é'));
    }

    /// A token that expires between `route`'s check and `join`'s (a second boundary) must not
    /// leave the peer joined with read access: the grant is refused, not guessed.
    #[tokio::test]
    async fn a_join_whose_grant_fails_is_refused_not_downgraded_to_read() {
        let (persist_tx, _persist) = std::sync::mpsc::channel();
        let (_shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
        let ctx = Arc::new(RelayContext::for_tests(persist_tx, shutdown_rx));
        let (out, _outbound) = mpsc::channel(8);
        let link = PeerLink {
            conn: 1,
            out,
            budget: crate::relay::byte_budget::ByteBudget::new(1 << 20),
            control: Arc::new(crate::relay::peer::PeerControl::default()),
        };
        let expired = Grant::Token(crate::auth::Claims {
            doc: "*".into(),
            access: Access::Write,
            exp: 1,
        });
        let mut conn = Connection::new(1, Arc::clone(&ctx), expired, link);
        let doc = DocId::new("expired/doc").unwrap();
        let hello = Message::Hello {
            doc: doc.clone(),
            version: crdt_core::VersionVector::new(),
        };
        let answer = conn.join(doc.clone(), hello, 0);
        assert!(
            matches!(
                &answer,
                Some(Message::Error { code: ErrorCode::Unauthorized, doc: Some(d), .. }) if *d == doc
            ),
            "{answer:?}"
        );
        assert!(conn.joined.is_empty(), "joined without a grant");
        assert_eq!(ctx.metrics.rejections(Rejection::Unauthorized), 1);
    }
}
