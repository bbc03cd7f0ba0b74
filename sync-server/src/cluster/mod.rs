//! The cluster backplane: how relay nodes sharing one Redis (`--redis`) serve the same documents.
//!
//! - **Changes**: the truth is each document's Redis stream, appended by [`RedisStore`] in one
//!   atomic script (so every node sees one order) before a change is acknowledged. Appending also
//!   publishes [`ClusterEvent::Appended`] on the document's channel; a node holding the document
//!   wakes up and reads the stream from the last entry it saw (`RoomLink`). Pub/sub is only the
//!   wake-up: after a reconnect to Redis every room re-reads the stream from its position, so a
//!   missed notification loses nothing; re-delivery is harmless because applying changes is
//!   idempotent (version vectors).
//! - **Memory**: a node subscribes to a document's channel only while a room for it is loaded,
//!   i.e. while its own peers use it (rooms unload when idle).
//! - **Presence** is published on the document's channel with the node's id. Each node keeps a
//!   heartbeat key with a time to live; when the key of a node whose peers' presence we show
//!   expires, we clear their presence (`heartbeat`). A node that (re)subscribes asks the others
//!   to publish their presence again ([`ClusterEvent::Query`]).
//!
//! Invariant: nothing here is needed for correctness of the documents except the stream; every
//! other message may be lost or duplicated. The design is the Redis-backplane pattern of
//! Socket.IO's and y-redis's adapters, with y-redis's "stream as truth, pub/sub as hint".
//!
//! What lives in Redis (key names, the events on a document's channel, node ids, the store) has
//! one home, `crate::storage::redis`: the backplane uses it, and nothing there uses the
//! backplane.
//!
//! [`RedisStore`]: crate::storage::RedisStore

mod heartbeat;
mod room_link;
mod subscriber;

pub use crate::storage::redis::{keys, ClusterEvent, EventError, NodeId};
pub(crate) use room_link::{LinkInput, RoomLink};

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crdt_core::sync::DocId;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use subscriber::SubscriberCommand;

/// Timeout of every Redis command and connection attempt of the backplane.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the backplane could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Redis refused or failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// What the subscriber hands a room.
#[derive(Debug)]
pub(crate) enum LinkEvent {
    /// An event another node (or this one) published on the document's channel.
    Remote(ClusterEvent),
    /// The subscription is (again) in place: events may have been missed before it.
    Resubscribed,
    /// The node's heartbeat expired: it is gone, and so are its peers.
    NodeGone(NodeId),
}

/// A room's subscription to its document's channel; unsubscribes when dropped.
pub(crate) struct Subscription {
    pub events: mpsc::UnboundedReceiver<LinkEvent>,
    doc: DocId,
    id: u64,
    commands: mpsc::UnboundedSender<SubscriberCommand>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let _ = self.commands.send(SubscriberCommand::Unsubscribe {
            doc: self.doc.clone(),
            id: self.id,
        });
    }
}

/// This node's connection to the cluster; see the [module docs](self).
pub struct Backplane {
    node: NodeId,
    conn: ConnectionManager,
    commands: mpsc::UnboundedSender<SubscriberCommand>,
    publisher: mpsc::UnboundedSender<(String, Vec<u8>)>,
    next_subscription: AtomicU64,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Backplane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backplane")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl Backplane {
    /// Connects to Redis at `url` as a new node: starts the heartbeat, the subscriber and the
    /// publisher tasks.
    pub async fn connect(url: &str) -> Result<Arc<Backplane>, ClusterError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = client.get_connection_manager_with_config(config).await?;
        let node = NodeId(rand::random::<u64>());
        heartbeat::beat(&mut conn.clone(), node).await?;
        let watched = Arc::new(Mutex::new(HashSet::new()));
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let (publisher, publisher_rx) = mpsc::unbounded_channel();
        let tasks = vec![
            tokio::spawn(subscriber::run(
                client,
                node,
                commands_rx,
                Arc::clone(&watched),
            )),
            tokio::spawn(heartbeat::run(
                conn.clone(),
                node,
                commands.clone(),
                watched,
            )),
            tokio::spawn(publish(conn.clone(), publisher_rx)),
        ];
        tracing::info!(%node, "joined the cluster");
        Ok(Arc::new(Backplane {
            node,
            conn,
            commands,
            publisher,
            next_subscription: AtomicU64::new(0),
            tasks: Mutex::new(tasks),
        }))
    }

    /// This node's id.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// The first connection id of this node: connection ids (which are also presence peer ids)
    /// carry a 20-bit tag of the node above bit 32, so peers of different nodes do not collide
    /// (short of a tag collision, one in a million per pair of nodes), and ids stay below 2^53
    /// for JavaScript clients.
    pub fn first_connection_id(&self) -> u64 {
        ((self.node.0 % 0xF_FFFF) + 1) << 32
    }

    /// A connection for the backplane's own commands (reconnects by itself).
    pub(crate) fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Subscribes to `doc`'s channel; the subscription says `Resubscribed` once in place.
    pub(crate) fn subscribe(&self, doc: &DocId) -> Subscription {
        let (tx, events) = mpsc::unbounded_channel();
        let id = self.next_subscription.fetch_add(1, Relaxed);
        let _ = self.commands.send(SubscriberCommand::Subscribe {
            doc: doc.clone(),
            id,
            events: tx,
        });
        Subscription {
            events,
            doc: doc.clone(),
            id,
            commands: self.commands.clone(),
        }
    }

    /// Publishes `event` on `doc`'s channel (in order, without waiting).
    pub(crate) fn publish(&self, doc: &DocId, event: &ClusterEvent) {
        let _ = self.publisher.send((keys::channel(doc), event.encode()));
    }

    /// Leaves the cluster: stops the tasks and deletes the heartbeat key, so the other nodes
    /// clear this node's presence at their next heartbeat.
    pub async fn shutdown(&self) {
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for task in tasks {
            task.abort();
        }
        let mut conn = self.conn.clone();
        let _: Result<(), _> = redis::cmd("DEL")
            .arg(keys::heartbeat(self.node))
            .query_async(&mut conn)
            .await;
    }
}

/// Publishes queued events in order; an event that cannot be published is dropped (events are
/// hints: rooms re-read the stream and republish presence after a reconnect).
async fn publish(
    mut conn: ConnectionManager,
    mut queue: mpsc::UnboundedReceiver<(String, Vec<u8>)>,
) {
    while let Some((channel, payload)) = queue.recv().await {
        let sent: Result<(), _> = redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(payload)
            .query_async(&mut conn)
            .await;
        if let Err(e) = sent {
            tracing::debug!(channel, error = %e, "publish failed; event dropped");
        }
    }
}
