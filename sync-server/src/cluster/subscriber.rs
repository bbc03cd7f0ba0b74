//! The subscriber task: one pub/sub connection per node, subscribed to the channels of the
//! documents loaded here, dispatching their events to the rooms.
//!
//! Invariant: a room's subscription is never silently lost. When the connection breaks (Redis
//! restarts, the network fails, or a ping goes unanswered) the task reconnects with backoff,
//! subscribes to every channel again, and only then tells every room `Resubscribed`, upon which
//! the room re-reads its stream from its last position: whatever was published meanwhile is
//! found in the stream. This is the reconnect-and-resubscribe loop every Redis pub/sub client
//! (e.g. Socket.IO's redis adapter) runs, plus y-redis's catch-up from the stream.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crdt_core::sync::DocId;
use futures_util::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};
use tokio::sync::mpsc;
use tokio::time::timeout;

use super::{keys, ClusterEvent, LinkEvent, NodeId, COMMAND_TIMEOUT};

/// How often the subscriber pings Redis to notice a dead connection.
const PING_EVERY: Duration = Duration::from_secs(1);
/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// What rooms and the heartbeat ask the subscriber.
pub(crate) enum SubscriberCommand {
    /// Start sending `doc`'s events to `events`.
    Subscribe {
        doc: DocId,
        id: u64,
        events: mpsc::UnboundedSender<LinkEvent>,
    },
    /// Stop (the room unloaded).
    Unsubscribe { doc: DocId, id: u64 },
    /// Tell every room that `NodeId` is gone.
    NodeGone(NodeId),
}

type Subscribers = HashMap<String, Vec<(u64, mpsc::UnboundedSender<LinkEvent>)>>;

/// Why one connection's service ended.
enum Ended {
    /// The connection failed: reconnect.
    Lost,
    /// The backplane is gone: stop.
    Stopped,
}

/// Runs until the backplane drops its command sender.
pub(crate) async fn run(
    client: redis::Client,
    node: NodeId,
    mut commands: mpsc::UnboundedReceiver<SubscriberCommand>,
    watched: Arc<Mutex<HashSet<NodeId>>>,
) {
    let mut subscribers = Subscribers::new();
    let mut backoff = Duration::from_millis(50);
    loop {
        match timeout(COMMAND_TIMEOUT, client.get_async_pubsub()).await {
            Ok(Ok(pubsub)) => {
                let (mut sink, stream) = pubsub.split();
                if resubscribe(&mut sink, &subscribers).await {
                    tracing::info!(channels = subscribers.len(), "subscribed to the cluster");
                    backoff = Duration::from_millis(50);
                    for (_, events) in subscribers.values().flatten() {
                        let _ = events.send(LinkEvent::Resubscribed);
                    }
                    let served = serve(
                        node,
                        &mut sink,
                        stream,
                        &mut commands,
                        &mut subscribers,
                        &watched,
                    )
                    .await;
                    if let Ended::Stopped = served {
                        return;
                    }
                    tracing::warn!("lost the pub/sub connection to redis; reconnecting");
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot subscribe to redis; retrying"),
            Err(_) => tracing::warn!("subscribing to redis timed out; retrying"),
        }
        // Keep taking commands while waiting to reconnect.
        let until = tokio::time::Instant::now() + backoff;
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    None => return,
                    Some(command) => apply_offline(command, &mut subscribers),
                },
                () = tokio::time::sleep_until(until) => break,
            }
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn resubscribe(sink: &mut PubSubSink, subscribers: &Subscribers) -> bool {
    for channel in subscribers.keys() {
        if !matches!(
            timeout(COMMAND_TIMEOUT, sink.subscribe(channel)).await,
            Ok(Ok(()))
        ) {
            return false;
        }
    }
    true
}

fn apply_offline(command: SubscriberCommand, subscribers: &mut Subscribers) {
    match command {
        // Told `Resubscribed` once the connection is back.
        SubscriberCommand::Subscribe { doc, id, events } => subscribers
            .entry(keys::channel(&doc))
            .or_default()
            .push((id, events)),
        SubscriberCommand::Unsubscribe { doc, id } => {
            remove(subscribers, &keys::channel(&doc), id);
        }
        SubscriberCommand::NodeGone(node) => broadcast(subscribers, node),
    }
}

/// Removes subscription `id`; true when the channel has no subscriber left.
fn remove(subscribers: &mut Subscribers, channel: &str, id: u64) -> bool {
    let Some(list) = subscribers.get_mut(channel) else {
        return false;
    };
    list.retain(|(i, _)| *i != id);
    if list.is_empty() {
        subscribers.remove(channel);
        true
    } else {
        false
    }
}

fn broadcast(subscribers: &Subscribers, node: NodeId) {
    for (_, events) in subscribers.values().flatten() {
        let _ = events.send(LinkEvent::NodeGone(node));
    }
}

async fn serve(
    node: NodeId,
    sink: &mut PubSubSink,
    mut stream: PubSubStream,
    commands: &mut mpsc::UnboundedReceiver<SubscriberCommand>,
    subscribers: &mut Subscribers,
    watched: &Mutex<HashSet<NodeId>>,
) -> Ended {
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                None => return Ended::Stopped,
                Some(SubscriberCommand::Subscribe { doc, id, events }) => {
                    let channel = keys::channel(&doc);
                    let first = !subscribers.contains_key(&channel);
                    subscribers.entry(channel.clone()).or_default().push((id, events.clone()));
                    if first
                        && !matches!(timeout(COMMAND_TIMEOUT, sink.subscribe(&channel)).await, Ok(Ok(())))
                    {
                        // Resubscribed (with this channel) after reconnecting.
                        return Ended::Lost;
                    }
                    let _ = events.send(LinkEvent::Resubscribed);
                }
                Some(SubscriberCommand::Unsubscribe { doc, id }) => {
                    let channel = keys::channel(&doc);
                    if remove(subscribers, &channel, id)
                        && !matches!(timeout(COMMAND_TIMEOUT, sink.unsubscribe(&channel)).await, Ok(Ok(())))
                    {
                        return Ended::Lost;
                    }
                }
                Some(SubscriberCommand::NodeGone(gone)) => broadcast(subscribers, gone),
            },
            message = stream.next() => {
                let Some(message) = message else { return Ended::Lost };
                dispatch(node, &message, subscribers, watched);
            }
            _ = ping.tick() => {
                let pong = timeout(COMMAND_TIMEOUT, sink.ping::<redis::Value>()).await;
                if !matches!(pong, Ok(Ok(_))) {
                    return Ended::Lost;
                }
            }
        }
    }
}

fn dispatch(
    node: NodeId,
    message: &redis::Msg,
    subscribers: &Subscribers,
    watched: &Mutex<HashSet<NodeId>>,
) {
    let channel = message.get_channel_name();
    let Some(list) = subscribers.get(channel) else {
        return;
    };
    let event = match ClusterEvent::decode(message.get_payload_bytes()) {
        Ok(event) => event,
        Err(e) => {
            tracing::warn!(channel, error = %e, "ignoring an undecodable cluster event");
            return;
        }
    };
    if let ClusterEvent::Presence {
        node: from,
        state: Some(_),
        ..
    } = &event
    {
        if *from != node {
            watched
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(*from);
        }
    }
    for (_, events) in list {
        let _ = events.send(LinkEvent::Remote(event.clone()));
    }
}
