//! [`RoomLink`]: a room's tie to the cluster. It keeps the room's position in the document's
//! stream, reads the stream when another node appended (or after a resubscription), tracks the
//! presence of peers on other nodes, and publishes this node's presence.
//!
//! Invariants:
//! - The room sees every entry of the stream after its load, in stream order: reads start
//!   strictly after the last entry seen, one read at a time; a wake-up during a read triggers
//!   another read after it; a read that hit the entry limit is followed by the next one; and a
//!   read behind a compaction gets the snapshot (see [`crate::storage::Fetched`]).
//! - A failed read is retried with backoff until it succeeds or the room is gone.
//! - [`RoomLink::next`] is cancel-safe (it only awaits channel receives and changes state after
//!   one completed), so the room can `select!` on it.
//!
//! Own entries are not skipped when read (applying them again is a no-op), but this node's own
//! wake-ups do not trigger reads.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crdt_core::sync::{DocId, Message, PeerId};
use tokio::sync::mpsc;

use super::{Backplane, ClusterEvent, LinkEvent, NodeId, Subscription};
use crate::storage::{fetch_invocation, parse_fetched, Fetched, StoreError, StoredDoc};

/// Most stream entries one read returns.
const READ_LIMIT: usize = 1024;

/// What the room should do about the cluster.
#[derive(Debug)]
pub(crate) enum LinkInput {
    /// Changes other nodes stored: apply (the snapshot first, if any), then fan out.
    Changes {
        snapshot: Option<Vec<u8>>,
        batches: Vec<Vec<u8>>,
    },
    /// Presence of peers on other nodes to forward to this room's peers.
    Presence(Vec<Message>),
    /// Publish the presence of this room's peers again (another node asked, or we resubscribed).
    PublishPresence,
}

struct RemotePeer {
    node: NodeId,
    clock: u64,
}

/// A room's tie to the cluster; see the [module docs](self).
pub(crate) struct RoomLink {
    backplane: Arc<Backplane>,
    doc: DocId,
    subscription: Subscription,
    last_seq: u64,
    reading: bool,
    stale: bool,
    read_tx: mpsc::UnboundedSender<(u64, Fetched)>,
    read_rx: mpsc::UnboundedReceiver<(u64, Fetched)>,
    remote: HashMap<PeerId, (RemotePeer, Vec<u8>)>,
}

impl RoomLink {
    /// Subscribes to `doc`'s channel, then loads the document from the stream (so nothing
    /// appended between the two is missed: the subscription's `Resubscribed` triggers a read).
    pub async fn open(
        backplane: Arc<Backplane>,
        doc: DocId,
    ) -> Result<(RoomLink, StoredDoc), StoreError> {
        let subscription = backplane.subscribe(&doc);
        let mut conn = backplane.connection();
        let reply = fetch_invocation(&doc, 0, 0).invoke_async(&mut conn).await?;
        let fetched = parse_fetched(reply)?;
        let last_seq = fetched.last_seq(0);
        let stored = fetched.into_stored();
        let (read_tx, read_rx) = mpsc::unbounded_channel();
        let link = RoomLink {
            backplane,
            doc,
            subscription,
            last_seq,
            reading: false,
            stale: false,
            read_tx,
            read_rx,
            remote: HashMap::new(),
        };
        Ok((link, stored))
    }

    /// The next thing the room should do; waits until there is one.
    pub async fn next(&mut self) -> LinkInput {
        let me = self.backplane.node();
        loop {
            tokio::select! {
                event = self.subscription.events.recv() => {
                    let Some(event) = event else {
                        // The backplane stopped (shutdown): nothing more will come.
                        std::future::pending::<()>().await;
                        continue;
                    };
                    match event {
                        LinkEvent::Resubscribed => {
                            self.read();
                            self.backplane.publish(&self.doc, &ClusterEvent::Query { node: me });
                            return LinkInput::PublishPresence;
                        }
                        LinkEvent::Remote(event) if event.node() == me => {}
                        LinkEvent::Remote(ClusterEvent::Appended { .. }) => self.read(),
                        LinkEvent::Remote(ClusterEvent::Query { .. }) => {
                            return LinkInput::PublishPresence;
                        }
                        LinkEvent::Remote(ClusterEvent::Presence { node, peer, clock, state }) => {
                            if let Some(message) = self.on_presence(node, PeerId(peer), clock, state) {
                                return LinkInput::Presence(vec![message]);
                            }
                        }
                        LinkEvent::NodeGone(node) => {
                            let gone = self.node_gone(node);
                            tracing::debug!(doc = %self.doc, %node, peers = gone.len(), "node gone");
                            if !gone.is_empty() {
                                return LinkInput::Presence(gone);
                            }
                        }
                    }
                }
                Some((after, fetched)) = self.read_rx.recv() => {
                    self.reading = false;
                    let full = fetched.entries.len() >= READ_LIMIT;
                    self.last_seq = self.last_seq.max(fetched.last_seq(after));
                    if self.stale || full {
                        self.read();
                    }
                    if fetched.snapshot.is_some() || !fetched.entries.is_empty() {
                        return LinkInput::Changes {
                            snapshot: fetched.snapshot,
                            batches: fetched.entries.into_iter().map(|e| e.bytes).collect(),
                        };
                    }
                }
            }
        }
    }

    /// Publishes the presence of a peer of this node.
    pub fn publish_presence(&self, peer: PeerId, clock: u64, state: Option<Vec<u8>>) {
        let event = ClusterEvent::Presence {
            node: self.backplane.node(),
            peer: peer.0,
            clock,
            state,
        };
        self.backplane.publish(&self.doc, &event);
    }

    /// The presence of peers on other nodes, to tell a joining peer.
    pub fn remote_presence(&self) -> Vec<Message> {
        self.remote
            .iter()
            .map(|(&peer, (remote, state))| Message::Presence {
                doc: self.doc.clone(),
                peer,
                clock: remote.clock,
                state: Some(state.clone()),
            })
            .collect()
    }

    fn on_presence(
        &mut self,
        node: NodeId,
        peer: PeerId,
        clock: u64,
        state: Option<Vec<u8>>,
    ) -> Option<Message> {
        let known = self.remote.get(&peer).map(|(r, _)| r.clock);
        tracing::debug!(doc = %self.doc, %node, ?peer, clock, known, gone = state.is_none(), "remote presence");
        match &state {
            // A removal wins at equal clocks, an update needs a higher one.
            None if known.is_some_and(|k| k <= clock) => {
                self.remote.remove(&peer);
            }
            Some(s) if known.is_none_or(|k| k < clock) => {
                self.remote
                    .insert(peer, (RemotePeer { node, clock }, s.clone()));
            }
            _ => return None,
        }
        Some(Message::Presence {
            doc: self.doc.clone(),
            peer,
            clock,
            state,
        })
    }

    fn node_gone(&mut self, node: NodeId) -> Vec<Message> {
        let peers: Vec<(PeerId, u64)> = self
            .remote
            .iter()
            .filter(|(_, (r, _))| r.node == node)
            .map(|(&p, (r, _))| (p, r.clock))
            .collect();
        peers
            .into_iter()
            .map(|(peer, clock)| {
                self.remote.remove(&peer);
                Message::Presence {
                    doc: self.doc.clone(),
                    peer,
                    clock,
                    state: None,
                }
            })
            .collect()
    }

    /// Starts a read of the stream after the last entry seen, or marks one as wanted.
    fn read(&mut self) {
        if self.reading {
            self.stale = true;
            return;
        }
        self.reading = true;
        self.stale = false;
        let after = self.last_seq;
        let doc = self.doc.clone();
        let mut conn = self.backplane.connection();
        let done = self.read_tx.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(20);
            loop {
                let reply = fetch_invocation(&doc, after, READ_LIMIT)
                    .invoke_async(&mut conn)
                    .await;
                match reply
                    .map_err(StoreError::from)
                    .and_then(|r| Ok(parse_fetched(r)?))
                {
                    Ok(fetched) => {
                        let _ = done.send((after, fetched));
                        return;
                    }
                    Err(e) => {
                        if done.is_closed() {
                            return;
                        }
                        tracing::warn!(%doc, error = %e, "reading the stream failed; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                    }
                }
            }
        });
    }
}
