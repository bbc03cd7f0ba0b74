//! One peer's WebSocket: the only place the relay touches frames.
//!
//! The connection task reads frames, enforces the per-connection limits (frame size, message
//! rate, documents joined, idle timeout with ping/pong), decodes messages, checks permissions and
//! routes each message to its document's room; and it writes what rooms queue for it.
//!
//! Invariants:
//! - Every refusal is explicit: a protocol `Error` for a refused message (the connection stays
//!   usable), or a close frame with a code and reason when the connection must end (undecodable
//!   or non-binary frames, rate or size limits, bad token, slow consumer, idle, shutdown). A close
//!   reason fits a close frame ([`MAX_CLOSE_REASON`] bytes, cut on a character boundary), however
//!   long the error it reports: decode errors quote what the peer sent.
//! - A read-only peer's changes never reach a room; a peer's presence is published under its
//!   connection id, so no peer can speak for another.
//! - When the connection ends, every room it joined is told, so presence is cleared.
//! - No write to the socket waits longer than the idle timeout, and a write to a peer the room
//!   declared too slow is abandoned at once, so a peer that stops reading is dropped in bounded
//!   time and holds at most its bounded queue.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message as WsMessage, WebSocket};
use crdt_core::sync::{decode_bounded, encode, DocId, ErrorCode, Message, PeerId};
use tokio::sync::mpsc;

use super::peer::{CloseReason, ConnId, Outbound, PeerControl, PeerLink};
use super::room::RoomCommand;
use super::rooms::JoinError;
use super::websocket::ReadFailure;
use super::RelayContext;
use crate::auth::{Access, AuthError, Grant};
use crate::metrics::Rejection;
use crate::rate_limit::RateLimiter;

/// WebSocket close codes (RFC 6455 §7.4.1).
pub(crate) mod close_code {
    /// The server is going away (shutdown, idle peer).
    pub const GOING_AWAY: u16 = 1001;
    /// The peer broke the protocol.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// Text frames are not accepted.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// A text message or close reason that is not UTF-8.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// Policy violation: rate limit, auth, slow consumer.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// A frame over the size limit.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
}

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
    fn new(code: u16, reason: impl Into<String>) -> Self {
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
}

struct Joined {
    room: mpsc::Sender<RoomCommand>,
    access: Access,
}

/// The state of one connection.
pub(crate) struct Connection {
    id: ConnId,
    ctx: Arc<RelayContext>,
    grant: Grant,
    joined: HashMap<DocId, Joined>,
    limiter: RateLimiter,
    link: PeerLink,
    last_heard: Instant,
}

/// Serves one upgraded socket until it closes. `grant` is the result of checking its token.
pub(crate) async fn serve(
    mut socket: WebSocket,
    ctx: Arc<RelayContext>,
    grant: Result<Grant, AuthError>,
) {
    let id = ctx.next_conn.fetch_add(1, Relaxed) + 1;
    let grant = match grant {
        Ok(grant) => grant,
        Err(e) => {
            ctx.metrics.rejected(Rejection::Unauthorized);
            tracing::info!(conn = id, error = %e, "refused a connection: bad token");
            let error = Message::Error {
                doc: None,
                code: ErrorCode::Unauthorized,
                message: e.to_string(),
            };
            let timeout = ctx.config.limits.idle_timeout();
            let _ = send(
                &mut socket,
                WsMessage::Binary(encode(&error).into()),
                timeout,
            )
            .await;
            let close = Close::new(close_code::POLICY_VIOLATION, format!("unauthorized: {e}"));
            send_close(&mut socket, close).await;
            return;
        }
    };
    let (out_tx, mut out_rx) = mpsc::channel(ctx.config.limits.outbound_queue);
    let control = Arc::new(PeerControl::default());
    let limits = &ctx.config.limits;
    let write_timeout = limits.idle_timeout();
    let link = PeerLink {
        conn: id,
        out: out_tx,
        control: Arc::clone(&control),
    };
    let mut conn = Connection::new(id, Arc::clone(&ctx), grant, link);
    tracing::debug!(conn = id, "connected");
    let mut ping = tokio::time::interval(limits.ping_interval());
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutdown = ctx.shutdown.clone();
    let close = loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => break Some(Close::new(close_code::GOING_AWAY, "relay shutting down")),
            reason = control.closed() => {
                let reason = match reason {
                    Some(CloseReason::SlowConsumer) | None => "slow consumer: outbound queue full",
                };
                break Some(Close::new(close_code::POLICY_VIOLATION, reason));
            }
            out = out_rx.recv() => {
                match out {
                    Some(Outbound::Frame { bytes, since }) => {
                        let len = bytes.len() as u64;
                        let frame = WsMessage::Binary(bytes.into());
                        let sent = tokio::select! {
                            sent = send(&mut socket, frame, write_timeout) => sent,
                            // The room gave up on this peer while the write was stuck.
                            _ = control.closed() => {
                                tracing::debug!(conn = id, "slow consumer dropped mid-write");
                                break Some(Close::new(
                                    close_code::POLICY_VIOLATION,
                                    "slow consumer: outbound queue full",
                                ));
                            }
                        };
                        if !sent {
                            break None;
                        }
                        ctx.metrics.messages_out.fetch_add(1, Relaxed);
                        ctx.metrics.bytes_out.fetch_add(len, Relaxed);
                        if let Some(since) = since {
                            ctx.metrics.fanout_latency.observe(since.elapsed());
                        }
                    }
                    Some(Outbound::Left(doc)) => { conn.joined.remove(&doc); }
                    // The connection holds a sender itself, so the queue never closes.
                    None => break None,
                }
            }
            frame = socket.recv() => {
                let Some(Ok(frame)) = frame else {
                    // Closed, or a failed read: a transport error, or a peer that broke
                    // RFC 6455 (including frames past the hard size limit), which fails the
                    // connection with the status code for what it broke.
                    if let Some(Err(e)) = frame {
                        tracing::debug!(conn = id, error = %e, "socket error");
                        let failure = ReadFailure::of(&e);
                        if let Some((code, reason)) = failure.close() {
                            ctx.metrics.rejected(match failure {
                                ReadFailure::TooLarge => Rejection::TooLarge,
                                _ => Rejection::BadMessage,
                            });
                            break Some(Close::new(code, reason));
                        }
                    }
                    break None;
                };
                conn.last_heard = Instant::now();
                match conn.on_frame(frame) {
                    Ok(replies) => {
                        let mut failed = false;
                        for reply in replies {
                            let frame = WsMessage::Binary(encode(&reply).into());
                            if !send(&mut socket, frame, write_timeout).await {
                                failed = true;
                                break;
                            }
                            ctx.metrics.messages_out.fetch_add(1, Relaxed);
                        }
                        if failed { break None; }
                    }
                    Err((error, close)) => {
                        if let Some(error) = error {
                            let frame = WsMessage::Binary(encode(&error).into());
                            let _ = send(&mut socket, frame, write_timeout).await;
                        }
                        break Some(close);
                    }
                }
            }
            _ = ping.tick() => {
                if conn.last_heard.elapsed() > limits.idle_timeout() {
                    ctx.metrics.rejected(Rejection::IdleTimeout);
                    break Some(Close::new(close_code::GOING_AWAY, "idle timeout: no frame or pong"));
                }
                if !send(&mut socket, WsMessage::Ping(Vec::new().into()), write_timeout).await {
                    break None;
                }
            }
        }
    };
    if let Some(close) = close {
        tracing::debug!(conn = id, code = close.code, reason = %close.reason, "closing");
        send_close(&mut socket, close).await;
    }
    conn.leave_all().await;
    tracing::debug!(conn = id, "disconnected");
}

/// Sends one frame; false when the socket failed or the write took longer than `timeout` (the
/// peer does not read).
async fn send(socket: &mut WebSocket, frame: WsMessage, timeout: Duration) -> bool {
    matches!(
        tokio::time::timeout(timeout, socket.send(frame)).await,
        Ok(Ok(()))
    )
}

async fn send_close(socket: &mut WebSocket, close: Close) {
    super::websocket::close(socket, close.code, close.reason).await;
}

/// An error to send, and how to close.
pub(crate) type Fatal = (Option<Message>, Close);

impl Connection {
    /// A connection `id` with rights `grant`, whose rooms write to it through `link`.
    pub(crate) fn new(id: ConnId, ctx: Arc<RelayContext>, grant: Grant, link: PeerLink) -> Self {
        let limits = &ctx.config.limits;
        Connection {
            id,
            grant,
            joined: HashMap::new(),
            limiter: RateLimiter::new(limits.rate_per_sec, limits.rate_burst, Instant::now()),
            link,
            last_heard: Instant::now(),
            ctx,
        }
    }

    /// Handles one frame; returns direct replies (each an `Error`), or how to end the
    /// connection.
    pub(crate) fn on_frame(&mut self, frame: WsMessage) -> Result<Vec<Message>, Fatal> {
        let metrics = &self.ctx.metrics;
        let bytes = match frame {
            WsMessage::Binary(bytes) => bytes,
            WsMessage::Text(_) => {
                metrics.rejected(Rejection::NotBinary);
                return Err((
                    None,
                    Close::new(close_code::UNSUPPORTED_DATA, "binary frames only"),
                ));
            }
            WsMessage::Ping(_) | WsMessage::Pong(_) => return Ok(Vec::new()),
            WsMessage::Close(_) => {
                return Err((None, Close::new(close_code::GOING_AWAY, "closed by peer")));
            }
        };
        metrics.messages_in.fetch_add(1, Relaxed);
        metrics.bytes_in.fetch_add(bytes.len() as u64, Relaxed);
        if !self.limiter.allow(Instant::now()) {
            metrics.rejected(Rejection::RateLimited);
            let limit = self.ctx.config.limits.rate_per_sec;
            let error = Message::Error {
                doc: None,
                code: ErrorCode::RateLimited,
                message: format!("more than {limit} messages per second"),
            };
            return Err((
                Some(error),
                Close::new(close_code::POLICY_VIOLATION, "rate limit exceeded"),
            ));
        }
        let max = self.ctx.config.limits.max_frame_bytes;
        let message = match decode_bounded(&bytes, max) {
            Ok(message) => message,
            Err(e) => {
                let (why, code) = match e.code() {
                    ErrorCode::TooLarge => (Rejection::TooLarge, close_code::MESSAGE_TOO_BIG),
                    ErrorCode::UnsupportedVersion => {
                        (Rejection::UnsupportedVersion, close_code::PROTOCOL_ERROR)
                    }
                    _ => (Rejection::BadMessage, close_code::PROTOCOL_ERROR),
                };
                metrics.rejected(why);
                let error = Message::Error {
                    doc: None,
                    code: e.code(),
                    message: format!(
                        "{e} (this relay speaks protocol version {})",
                        crdt_core::sync::PROTOCOL_VERSION
                    ),
                };
                return Err((Some(error), Close::new(code, e.to_string())));
            }
        };
        if let Message::Hello { doc, .. } = &message {
            let max = self.ctx.config.limits.max_docs_per_connection;
            if !self.joined.contains_key(doc) && self.joined.len() >= max {
                metrics.rejected(Rejection::TooManyDocs);
                let error = Message::Error {
                    doc: Some(doc.clone()),
                    code: ErrorCode::TooLarge,
                    message: format!("a connection may join at most {max} documents"),
                };
                let reason = format!("too many documents: at most {max} per connection");
                return Err((
                    Some(error),
                    Close::new(close_code::POLICY_VIOLATION, reason),
                ));
            }
        }
        Ok(self.route(message).into_iter().collect())
    }

    /// Routes one decoded message; returns an error to answer with, if any.
    fn route(&mut self, message: Message) -> Option<Message> {
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
            return self.join(doc, message);
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
            other => other,
        };
        let command = RoomCommand::Message {
            conn: self.id,
            message,
            at: Instant::now(),
        };
        match joined.room.try_send(command) {
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
    fn join(&mut self, doc: DocId, hello: Message) -> Option<Message> {
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
        let command = RoomCommand::Join {
            peer: self.link.clone(),
            hello,
        };
        match self.ctx.rooms.join(&self.ctx, &doc, command) {
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

    async fn leave_all(&mut self) {
        for (_, joined) in self.joined.drain() {
            // Waiting (rather than try_send) so the room always learns the peer left.
            let _ = joined.room.send(RoomCommand::Leave { conn: self.id }).await;
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
            control: Arc::new(PeerControl::default()),
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
        let answer = conn.join(doc.clone(), hello);
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
