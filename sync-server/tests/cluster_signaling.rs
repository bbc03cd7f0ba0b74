//! Signaling in cluster mode (`--redis`), against a real Redis and two relay processes: signals
//! do not cross nodes. A peer sees a peer of another node in the room's presence, but a signal to
//! it is refused with `Error` 11 saying direct peers must share a node (the two keep syncing
//! through the relays), while a signal to a peer on the same node is delivered.

mod cluster_support;
mod common;
mod signaling_support;
mod support;

use cluster_support::{RedisServer, RelayProcess};
use common::*;
use crdt_core::sync::{ErrorCode, Message};
use signaling_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_reach_peers_of_the_same_node_and_are_refused_across_nodes() {
    let redis = RedisServer::start();
    let nodes = [
        RelayProcess::start(&redis.url()),
        RelayProcess::start(&redis.url()),
    ];
    let doc = id("cluster/p2p");
    let mut a = support::raw(nodes[0].addr).await;
    join(&mut a, &doc).await;
    // B joins on the other node: A sees its presence, through Redis.
    let mut b = support::raw(nodes[1].addr).await;
    join(&mut b, &doc).await;
    let b_id = peer_announced(&mut a, &[]).await;
    // C joins on A's node.
    let mut c = support::raw(nodes[0].addr).await;
    join(&mut c, &doc).await;
    let c_id = peer_announced(&mut a, &[b_id]).await;
    let a_id = peer_announced(&mut c, &[b_id]).await;

    send(&mut a, &signal(&doc, b_id, b"offer")).await;
    let refused = next_where(&mut a, DEADLINE, is_error(ErrorCode::UnknownPeer)).await;
    assert!(
        matches!(&refused, Some(Message::Error { message, .. }) if message.contains("same relay node")),
        "{refused:?}"
    );
    let leaked = next_where(&mut b, std::time::Duration::from_millis(300), is_signal).await;
    assert_eq!(leaked, None, "a signal crossed nodes");

    send(&mut a, &signal(&doc, c_id, b"offer")).await;
    let got = next_where(&mut c, DEADLINE, is_signal).await;
    assert!(
        matches!(&got, Some(Message::Signal { from, payload, .. }) if *from == a_id && payload == b"offer"),
        "{got:?}"
    );
}
