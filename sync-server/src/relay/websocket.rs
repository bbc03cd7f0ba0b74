//! The relay's WebSocket settings, shared by every endpoint served on its stack (the relay's
//! `/sync`, and the Autobahn echo server in `examples/autobahn_echo.rs`): the size limits an
//! upgrade gets, the close codes the relay uses ([`close_code`]), and the close code a failed
//! read is answered with.
//!
//! Invariants:
//! - A frame, or a message reassembled from fragments, more than [`LIMIT_SLACK`] above
//!   `--max-frame-bytes` is refused by tungstenite before it is buffered, so fragments are
//!   bounded in total size.
//! - A read that fails because the peer broke RFC 6455 fails the connection with the status code
//!   RFC 6455 §7.4.1 names for it (1002 protocol error, 1007 invalid UTF-8, 1009 too big), sent
//!   in a close frame as §7.1.7 asks; transport failures (reset, closed) get no close frame.
//!
//! The settings are tungstenite's `WebSocketConfig`, set through axum's [`WebSocketUpgrade`].

use std::error::Error as _;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use tokio_tungstenite::tungstenite::error::Error as WsError;

use crate::config::Limits;

/// WebSocket close codes (RFC 6455 §7.4.1) the relay sends.
pub mod close_code {
    /// The server is going away (shutdown, idle peer).
    pub const GOING_AWAY: u16 = 1001;
    /// The peer broke the protocol.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// Text frames are not accepted.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// A text message or close reason that is not UTF-8.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// Policy violation: rate limits, auth (a bad or expired token), slow consumer.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// A frame over the size limit.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
}

/// Capacity of each WebSocket connection's read buffer, in bytes. tungstenite's default
/// (128 KiB) is allocated per connection and zeroed on every read, which at a thousand
/// connections cost about 128 MiB of memory and made `memset` the relay's hottest function
/// (a third of its CPU time under `loadgen`). Larger messages still arrive whole: they are read
/// in more steps.
pub const WS_READ_BUFFER_BYTES: usize = 8 << 10;

/// How long [`close`] waits to hand the close frame over, and then for the peer's reply.
const CLOSE_WAIT: Duration = Duration::from_millis(500);

/// Bytes above `--max-frame-bytes` the WebSocket layer still reads, so that a message just over
/// the limit is decoded and answered with a protocol `Error` before the 1009 close.
pub const LIMIT_SLACK: usize = 64 << 10;

/// The largest frame, and the largest message reassembled from fragments, the WebSocket layer
/// accepts: `--max-frame-bytes` plus [`LIMIT_SLACK`].
///
/// ```
/// use sync_server::relay::websocket::{hard_limit, LIMIT_SLACK};
/// let limits = sync_server::Config::for_tests().limits;
/// assert_eq!(hard_limit(&limits), limits.max_frame_bytes + LIMIT_SLACK);
/// ```
pub fn hard_limit(limits: &Limits) -> usize {
    limits.max_frame_bytes.saturating_add(LIMIT_SLACK)
}

/// Applies the relay's size limits to an upgrade. Up to [`hard_limit`], a connection decodes
/// and answers a message over `--max-frame-bytes` itself; beyond it the read fails and
/// [`ReadFailure::TooLarge`] closes with 1009.
pub fn with_limits(upgrade: WebSocketUpgrade, limits: &Limits) -> WebSocketUpgrade {
    let hard_limit = hard_limit(limits);
    upgrade
        .read_buffer_size(WS_READ_BUFFER_BYTES)
        .max_message_size(hard_limit)
        .max_frame_size(hard_limit)
}

/// Why reading from a WebSocket failed, as far as the close frame is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadFailure {
    /// A frame or message over [`hard_limit`]: close 1009.
    TooLarge,
    /// A text message, or a close reason, that is not UTF-8: close 1007.
    InvalidUtf8,
    /// The peer broke the framing rules (reserved bits or opcodes, a fragmented or oversized
    /// control frame, a stray continuation, an unmasked frame, a bad close payload): close 1002.
    Protocol,
    /// The transport failed or the connection is already closed: no close frame can be sent.
    Transport,
}

impl ReadFailure {
    /// Classifies an error from `WebSocket::recv`.
    pub fn of(error: &axum::Error) -> ReadFailure {
        let Some(inner) = error.source().and_then(|e| e.downcast_ref::<WsError>()) else {
            return ReadFailure::Transport;
        };
        match inner {
            WsError::Capacity(_) => ReadFailure::TooLarge,
            WsError::Utf8(_) => ReadFailure::InvalidUtf8,
            WsError::Protocol(_) => ReadFailure::Protocol,
            _ => ReadFailure::Transport,
        }
    }

    /// The close code and reason to fail the connection with, or `None` when the transport is
    /// gone.
    pub fn close(self) -> Option<(u16, &'static str)> {
        match self {
            ReadFailure::TooLarge => Some((close_code::MESSAGE_TOO_BIG, "frame too large")),
            ReadFailure::InvalidUtf8 => Some((close_code::INVALID_PAYLOAD, "invalid UTF-8")),
            ReadFailure::Protocol => Some((close_code::PROTOCOL_ERROR, "protocol violation")),
            ReadFailure::Transport => None,
        }
    }
}

/// Starts the closing handshake with `code` and `reason`, and waits briefly for the peer's
/// close frame. A peer that does not read may never take the close frame, and one that does
/// not answer is not waited for: each step gives up after half a second.
pub async fn close(socket: &mut WebSocket, code: u16, reason: impl Into<Utf8Bytes>) {
    let frame = Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }));
    if !matches!(
        tokio::time::timeout(CLOSE_WAIT, socket.send(frame)).await,
        Ok(Ok(()))
    ) {
        return;
    }
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while let Some(Ok(frame)) = socket.recv().await {
            if matches!(frame, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError};

    fn classify(e: WsError) -> ReadFailure {
        ReadFailure::of(&axum::Error::new(e))
    }

    #[test]
    fn each_kind_of_read_error_gets_its_close_code() {
        let too_long = WsError::Capacity(CapacityError::MessageTooLong {
            size: 10,
            max_size: 5,
        });
        assert_eq!(classify(too_long).close().map(|c| c.0), Some(1009));
        let utf8 = WsError::Utf8("bad".into());
        assert_eq!(classify(utf8).close().map(|c| c.0), Some(1007));
        for p in [
            ProtocolError::NonZeroReservedBits,
            ProtocolError::ControlFrameTooBig,
            ProtocolError::FragmentedControlFrame,
            ProtocolError::UnexpectedContinueFrame,
            ProtocolError::InvalidOpcode(3),
            ProtocolError::InvalidCloseSequence,
        ] {
            assert_eq!(classify(WsError::Protocol(p)), ReadFailure::Protocol);
        }
        assert_eq!(classify(WsError::ConnectionClosed).close(), None);
        let io = WsError::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(classify(io), ReadFailure::Transport);
        // An error that is not tungstenite's is a transport failure too.
        let other = axum::Error::new(std::io::Error::other("other"));
        assert_eq!(ReadFailure::of(&other), ReadFailure::Transport);
    }

    #[test]
    fn hard_limit_saturates() {
        let mut limits = crate::Config::for_tests().limits;
        limits.max_frame_bytes = usize::MAX;
        assert_eq!(hard_limit(&limits), usize::MAX);
    }
}
