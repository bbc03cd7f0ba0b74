//! The connection task: one peer's WebSocket, served by one loop over named steps, as
//! mini-redis' `Handler::run`: wait for the next [`Event`] (shutdown, the token's expiry, a room
//! dropping the peer, a frame a room queued, a frame from the peer, the ping tick), then handle
//! it. What a frame from the peer means is [`Connection::on_frame`]'s business; this file only
//! reads and writes the socket.
//!
//! Invariants:
//! - A connection whose token expires is closed at the expiry (1008 "token expired") and is
//!   written nothing after it: the expiry wins over every other event, mid-write too.
//! - No write to the socket waits longer than the idle timeout, and a write to a peer the room
//!   declared too slow is abandoned at once, so a peer that stops reading is dropped in bounded
//!   time and holds at most its bounded queue; a frame's bytes leave the peer's byte budget once
//!   written.
//! - When the connection ends, every room it joined is told, so presence is cleared.

use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::ws::{Message as WsMessage, WebSocket};
use crdt_core::sync::{encode, ErrorCode, Message};
use tokio::sync::{mpsc, watch};
use tokio::time::{Interval, Sleep};

use super::byte_budget::{ByteBudget, Charge};
use super::connection::{Close, Connection};
use super::peer::{CloseReason, ConnId, Outbound, PeerControl, PeerLink};
use super::websocket::{close_code, ReadFailure};
use super::RelayContext;
use crate::auth::{AuthError, Grant};
use crate::metrics::Rejection;

/// How a step ends the connection: with a close frame, or without (the transport is gone).
type End = Option<Close>;

/// What the connection task waits for.
enum Event {
    /// The relay shuts down.
    Shutdown,
    /// The token's `exp` passed.
    TokenExpired,
    /// A room declared the peer too slow.
    Dropped(Option<CloseReason>),
    /// A room queued something for the peer (`None`: never, the task holds a sender).
    Outbound(Option<Outbound>),
    /// The peer sent a frame, or the read failed, or the socket closed.
    Frame(Option<Result<WsMessage, axum::Error>>),
    /// Time to check the peer is alive, and ping it.
    Tick,
}

/// The connection task: the socket, what rooms queue for it, and the connection's state.
struct Handler {
    /// The peer's socket: read here for frames, written here with what rooms queue and with
    /// direct replies.
    socket: WebSocket,
    /// What the peer's frames mean: limits, permissions, joined documents.
    conn: Connection,
    /// Frames rooms queued for this peer, bounded in frames and bytes (see [`super::peer`]).
    outbound: mpsc::Receiver<Outbound>,
    /// Where rooms ask this connection to close.
    control: Arc<PeerControl>,
    /// Pings the peer and checks it answered within the idle timeout.
    ping: Interval,
    /// Turns true when the relay shuts down: close with 1001.
    shutdown: watch::Receiver<bool>,
    /// Fires when the token expires; `None` without one.
    expiry: Option<Pin<Box<Sleep>>>,
    /// The longest a write may take: the idle timeout.
    write_timeout: Duration,
}

/// Serves one upgraded socket until it closes. `grant` is the result of checking its token.
pub(crate) async fn serve(
    socket: WebSocket,
    ctx: Arc<RelayContext>,
    grant: Result<Grant, AuthError>,
) {
    let id = ctx.next_conn.fetch_add(1, Relaxed) + 1;
    match grant {
        Ok(grant) => {
            let mut handler = Handler::new(id, socket, ctx, grant);
            tracing::debug!(conn = id, "connected");
            let end = handler.run().await;
            handler.finish(end).await;
            tracing::debug!(conn = id, "disconnected");
        }
        Err(e) => refuse(id, socket, &ctx, e).await,
    }
}

/// Answers a connection whose token was refused: an `Error`, then a 1008 close.
async fn refuse(id: ConnId, mut socket: WebSocket, ctx: &RelayContext, e: AuthError) {
    ctx.metrics.rejected(Rejection::Unauthorized);
    tracing::info!(conn = id, error = %e, "refused a connection: bad token");
    let error = Message::Error {
        doc: None,
        code: ErrorCode::Unauthorized,
        message: e.to_string(),
    };
    let timeout = ctx.config.limits.idle_timeout();
    let _ = send(&mut socket, binary(&error), timeout).await;
    let close = Close::new(close_code::POLICY_VIOLATION, format!("unauthorized: {e}"));
    send_close(&mut socket, close).await;
}

impl Handler {
    fn new(id: ConnId, socket: WebSocket, ctx: Arc<RelayContext>, grant: Grant) -> Self {
        let limits = &ctx.config.limits;
        let (out_tx, outbound) = mpsc::channel(limits.outbound_queue);
        let control = Arc::new(PeerControl::default());
        let link = PeerLink {
            conn: id,
            out: out_tx,
            budget: ByteBudget::new(limits.outbound_queue_bytes),
            control: Arc::clone(&control),
        };
        let mut ping = tokio::time::interval(limits.ping_interval());
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let expiry = grant
            .expires_at()
            .and_then(instant_of)
            .map(|at| Box::pin(tokio::time::sleep_until(at)));
        Handler {
            socket,
            outbound,
            control,
            ping,
            shutdown: ctx.shutdown.clone(),
            expiry,
            write_timeout: limits.idle_timeout(),
            conn: Connection::new(id, ctx, grant, link),
        }
    }

    /// Handles events until one ends the connection.
    async fn run(&mut self) -> End {
        loop {
            let event = self.next_event().await;
            if let Err(end) = self.step(event).await {
                return end;
            }
        }
    }

    /// Waits for the next event; the order is the priority when several are ready: ending the
    /// connection first, then writing what rooms queued, then reading.
    async fn next_event(&mut self) -> Event {
        tokio::select! {
            biased;
            _ = self.shutdown.changed() => Event::Shutdown,
            () = expired(&mut self.expiry) => Event::TokenExpired,
            reason = self.control.closed() => Event::Dropped(reason),
            out = self.outbound.recv() => Event::Outbound(out),
            frame = self.socket.recv() => Event::Frame(frame),
            _ = self.ping.tick() => Event::Tick,
        }
    }

    async fn step(&mut self, event: Event) -> Result<(), End> {
        match event {
            Event::Shutdown => Err(Some(Close::new(
                close_code::GOING_AWAY,
                "relay shutting down",
            ))),
            Event::TokenExpired => Err(Some(self.token_expired())),
            Event::Dropped(reason) => Err(Some(Close::slow_consumer(reason))),
            Event::Outbound(Some(Outbound::Frame {
                bytes,
                since,
                charge,
            })) => self.write_queued(bytes, since, charge).await,
            Event::Outbound(Some(Outbound::Left(doc))) => {
                self.conn.joined.remove(&doc);
                Ok(())
            }
            Event::Outbound(None) => Err(None),
            Event::Frame(frame) => self.read(frame).await,
            Event::Tick => self.keep_alive().await,
        }
    }

    fn token_expired(&self) -> Close {
        self.conn.ctx.metrics.rejected(Rejection::TokenExpired);
        tracing::info!(conn = self.conn.id, "closing: the token expired");
        Close::new(close_code::POLICY_VIOLATION, "token expired")
    }

    /// Writes a frame a room queued; its bytes leave the peer's budget once written. A write the
    /// peer does not take is abandoned when the room drops the peer or the token expires.
    async fn write_queued(
        &mut self,
        bytes: Bytes,
        since: Option<Instant>,
        charge: Charge,
    ) -> Result<(), End> {
        let len = bytes.len() as u64;
        let written = tokio::select! {
            biased;
            () = expired(&mut self.expiry) => return Err(Some(self.token_expired())),
            reason = self.control.closed() => {
                tracing::debug!(conn = self.conn.id, "slow consumer dropped mid-write");
                return Err(Some(Close::slow_consumer(reason)));
            }
            written = send(&mut self.socket, WsMessage::Binary(bytes), self.write_timeout) => written,
        };
        drop(charge);
        if !written {
            return Err(None);
        }
        let metrics = &self.conn.ctx.metrics;
        metrics.messages_out.fetch_add(1, Relaxed);
        metrics.bytes_out.fetch_add(len, Relaxed);
        if let Some(since) = since {
            metrics.fanout_latency.observe(since.elapsed());
        }
        Ok(())
    }

    /// Handles what the peer sent: a frame, a failed read, or the end of the stream.
    async fn read(&mut self, frame: Option<Result<WsMessage, axum::Error>>) -> Result<(), End> {
        let frame = match frame {
            Some(Ok(frame)) => frame,
            Some(Err(e)) => return Err(self.read_failed(&e)),
            None => return Err(None),
        };
        self.conn.last_heard = Instant::now();
        match self.conn.on_frame(frame) {
            Ok(replies) => {
                for reply in replies {
                    self.reply(&reply).await?;
                }
                Ok(())
            }
            Err((error, close)) => {
                if let Some(error) = error {
                    let _ = self.reply(&error).await;
                }
                Err(Some(close))
            }
        }
    }

    /// A failed read: a transport error, or a peer that broke RFC 6455 (including frames past
    /// the hard size limit), which fails the connection with the status code for what it broke.
    fn read_failed(&self, e: &axum::Error) -> End {
        tracing::debug!(conn = self.conn.id, error = %e, "socket error");
        let failure = ReadFailure::of(e);
        let (code, reason) = failure.close()?;
        self.conn.ctx.metrics.rejected(match failure {
            ReadFailure::TooLarge => Rejection::TooLarge,
            _ => Rejection::BadMessage,
        });
        Some(Close::new(code, reason))
    }

    /// Writes a direct reply (an `Error`) to the peer.
    async fn reply(&mut self, message: &Message) -> Result<(), End> {
        if !send(&mut self.socket, binary(message), self.write_timeout).await {
            return Err(None);
        }
        self.conn.ctx.metrics.messages_out.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Closes a peer silent past the idle timeout, else pings it.
    async fn keep_alive(&mut self) -> Result<(), End> {
        let limits = &self.conn.ctx.config.limits;
        if self.conn.last_heard.elapsed() > limits.idle_timeout() {
            self.conn.ctx.metrics.rejected(Rejection::IdleTimeout);
            return Err(Some(Close::new(
                close_code::GOING_AWAY,
                "idle timeout: no frame or pong",
            )));
        }
        let ping = WsMessage::Ping(Bytes::new());
        if !send(&mut self.socket, ping, self.write_timeout).await {
            return Err(None);
        }
        Ok(())
    }

    /// Sends the close frame, if any, and leaves every room.
    async fn finish(&mut self, end: End) {
        if let Some(close) = end {
            tracing::debug!(conn = self.conn.id, code = close.code, reason = %close.reason, "closing");
            send_close(&mut self.socket, close).await;
        }
        self.conn.leave_all().await;
    }
}

/// Resolves when the token expires; never without an expiry.
async fn expired(expiry: &mut Option<Pin<Box<Sleep>>>) {
    match expiry {
        Some(sleep) => sleep.as_mut().await,
        None => std::future::pending().await,
    }
}

/// The clock instant of a wall-clock time: now if it has passed, `None` if it is too far to
/// represent (it never comes).
fn instant_of(at: SystemTime) -> Option<tokio::time::Instant> {
    let wait = at.duration_since(SystemTime::now()).unwrap_or_default();
    tokio::time::Instant::now().checked_add(wait)
}

/// A message as a binary frame.
fn binary(message: &Message) -> WsMessage {
    WsMessage::Binary(encode(message).into())
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
