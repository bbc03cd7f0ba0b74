//! [`PeerLink`]: how a room reaches one connection: a bounded queue of frames and a control
//! slot to make the connection close.
//!
//! Invariant: a room never waits for a peer. It `try_send`s; when the queue is full the peer is
//! too slow, is told to close ([`CloseReason::SlowConsumer`]) and leaves the room, so one slow
//! reader never delays the others or grows memory without bound.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crdt_core::sync::DocId;
use tokio::sync::{mpsc, Notify};

/// Identifies a connection for the process's lifetime; also the [`crdt_core::sync::PeerId`]
/// presence of that connection is published under.
pub type ConnId = u64;

/// What a room hands a connection.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// An encoded frame; `since` is when the change it carries reached the relay, for the
    /// fan-out latency histogram.
    Frame {
        bytes: Vec<u8>,
        since: Option<Instant>,
    },
    /// The room dropped this peer (its document failed); the connection forgets the join.
    Left(DocId),
}

/// Why a connection is being closed by the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CloseReason {
    SlowConsumer,
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
    pub control: Arc<PeerControl>,
}
