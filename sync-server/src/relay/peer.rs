//! [`PeerLink`]: how a room reaches one connection: a queue of frames bounded both in frames
//! (`--outbound-queue`) and in bytes (`--outbound-queue-bytes`), and a control slot to make the
//! connection close.
//!
//! Invariant: a room never waits for a peer. It `try_send`s; when the queue is over either bound
//! the peer is too slow, is told to close ([`CloseReason`]) and leaves the room, so one slow
//! reader never delays the others, and holds at most its byte budget of frames (plus one frame
//! larger than the budget, alone). Frames are [`Bytes`]: a frame fanned out to a hundred peers is
//! one allocation, shared, however many queues hold it.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use crdt_core::sync::DocId;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, Notify};

use super::byte_budget::{ByteBudget, Charge};

/// Identifies a connection for the process's lifetime; also the [`crdt_core::sync::PeerId`]
/// presence of that connection is published under.
pub type ConnId = u64;

/// What a room hands a connection.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// An encoded frame; `since` is when the change it carries reached the relay, for the
    /// fan-out latency histogram.
    Frame {
        bytes: Bytes,
        since: Option<Instant>,
        /// The frame's bytes in the peer's budget, given back once it is written (or dropped).
        charge: Charge,
    },
    /// The room dropped this peer (its document failed); the connection forgets the join.
    Left(DocId),
}

/// Why a connection is being closed by the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CloseReason {
    /// The queue held `--outbound-queue` frames.
    QueueFull,
    /// The queue held `--outbound-queue-bytes` bytes.
    QueueOverBudget,
}

impl CloseReason {
    /// The close frame's reason.
    pub fn text(self) -> &'static str {
        match self {
            CloseReason::QueueFull => "slow consumer: outbound queue full (frames)",
            CloseReason::QueueOverBudget => "slow consumer: outbound queue over its byte budget",
        }
    }
}

/// Why a frame could not be queued for a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The peer is too slow: close it for this reason.
    Slow(CloseReason),
    /// The connection is gone.
    Closed,
}

/// Lets a room ask a connection to close.
#[derive(Debug, Default)]
pub(crate) struct PeerControl {
    reason: Mutex<Option<CloseReason>>,
    notify: Notify,
}

impl PeerControl {
    pub fn close(&self, reason: CloseReason) {
        if let Ok(mut slot) = self.reason.lock() {
            slot.get_or_insert(reason);
        }
        self.notify.notify_one();
    }

    pub async fn closed(&self) -> Option<CloseReason> {
        self.notify.notified().await;
        self.reason.lock().ok().and_then(|r| *r)
    }
}

/// A room's handle on one connection.
#[derive(Clone, Debug)]
pub(crate) struct PeerLink {
    pub conn: ConnId,
    pub out: mpsc::Sender<Outbound>,
    /// The bytes of the frames in `out`.
    pub budget: ByteBudget,
    pub control: Arc<PeerControl>,
}

impl PeerLink {
    /// Queues `bytes` for the peer without waiting.
    pub fn send(&self, bytes: Bytes, since: Option<Instant>) -> Result<(), Refused> {
        let charge = self
            .budget
            .charge(bytes.len())
            .ok_or(Refused::Slow(CloseReason::QueueOverBudget))?;
        let frame = Outbound::Frame {
            bytes,
            since,
            charge,
        };
        self.out.try_send(frame).map_err(|e| match e {
            TrySendError::Full(_) => Refused::Slow(CloseReason::QueueFull),
            TrySendError::Closed(_) => Refused::Closed,
        })
    }
}
