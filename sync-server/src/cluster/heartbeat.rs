//! The heartbeat: this node's key `sync:node:{id}` is set with a time to live every
//! [`BEAT_EVERY`]; nodes whose peers' presence this node shows are checked at the same pace, and
//! when one's key has expired its peers' presence is cleared in every room here.
//!
//! Invariant: a node that cannot reach Redis judges nobody (its own view is what is stale), so a
//! Redis outage never clears live peers' presence on the node that lost Redis. A node whose key
//! expired while it was only cut off republishes its presence when it resubscribes. This is the
//! lease pattern (a key with a TTL renewed by its owner) of Redis-based membership.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::sync::mpsc;

use super::subscriber::SubscriberCommand;
use super::{keys, NodeId};

/// How often the key is renewed and others' keys are checked.
pub const BEAT_EVERY: Duration = Duration::from_secs(1);
/// The key's time to live: a node is gone this long after its last beat.
pub const TIME_TO_LIVE: Duration = Duration::from_secs(3);

/// Renews `node`'s key once.
pub(crate) async fn beat(conn: &mut ConnectionManager, node: NodeId) -> redis::RedisResult<()> {
    redis::cmd("SET")
        .arg(keys::heartbeat(node))
        .arg(1)
        .arg("PX")
        .arg(TIME_TO_LIVE.as_millis() as u64)
        .query_async(conn)
        .await
}

/// Beats and checks until aborted.
pub(crate) async fn run(
    mut conn: ConnectionManager,
    node: NodeId,
    commands: mpsc::UnboundedSender<SubscriberCommand>,
    watched: Arc<Mutex<HashSet<NodeId>>>,
) {
    let mut tick = tokio::time::interval(BEAT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = beat(&mut conn, node).await {
            tracing::debug!(error = %e, "heartbeat failed");
            continue;
        }
        let others: Vec<NodeId> = watched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect();
        for other in others {
            let alive: redis::RedisResult<bool> = redis::cmd("EXISTS")
                .arg(keys::heartbeat(other))
                .query_async(&mut conn)
                .await;
            if let Ok(false) = alive {
                tracing::info!(node = %other, "node gone; clearing its peers' presence");
                watched
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&other);
                let _ = commands.send(SubscriberCommand::NodeGone(other));
            }
        }
    }
}
