//! Cluster mode against a real Redis and real relay processes: three nodes converge, presence
//! crosses nodes and is cleared when a node dies, a node killed with SIGKILL loses nothing acked
//! while its clients move to another node, a Redis crash and restart loses nothing acked, and a
//! node cut off from Redis catches up from the stream. No test sleeps to wait for sync.

mod cluster_support;
mod common;

use std::sync::Arc;
use std::time::Duration;

use cluster_support::{RedisServer, RelayProcess, TcpProxy};
use common::*;
use crdt_core::sync::DocId;
use crdt_core::{Doc, ReplicaId};
use sync_server::{ClientOptions, SyncClient};

fn quick_reconnect() -> ClientOptions {
    ClientOptions {
        max_backoff: Duration::from_millis(300),
        ..ClientOptions::default()
    }
}

fn client_at(addr: std::net::SocketAddr, doc: &DocId) -> SyncClient {
    let client = SyncClient::connect(&url(addr), quick_reconnect());
    client.join(doc.clone(), Doc::new());
    client
}

fn replica(client: &SyncClient, doc: &DocId) -> ReplicaId {
    client.read(doc, |d| d.replica()).unwrap()
}

/// What the relay acknowledged of the client's own changes.
fn acked(client: &SyncClient, doc: &DocId) -> u64 {
    let me = replica(client, doc);
    client.relay_version(doc).map_or(0, |v| v.get(me))
}

/// Spawns a writer typing into `doc` every 10 ms until `stop` flips.
fn writer(
    client: Arc<SyncClient>,
    doc: DocId,
    tag: usize,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        let mut n = 0u64;
        loop {
            tokio::select! {
                _ = stop.changed() => return n,
                _ = tick.tick() => {
                    client.edit(&doc, |d| {
                        d.text("body").insert(0, &format!("{tag}.{n} ")).unwrap();
                    });
                    n += 1;
                }
            }
        }
    })
}

async fn has_presence(client: &SyncClient, doc: &DocId, state: &[u8]) -> bool {
    client
        .wait_until(DEADLINE, |c| {
            c.presence(doc).iter().any(|(_, s)| s == state)
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_converge_and_share_presence() {
    let redis = RedisServer::start();
    let nodes: Vec<RelayProcess> = (0..3).map(|_| RelayProcess::start(&redis.url())).collect();
    let doc = id("cluster/notes");
    let clients: Vec<SyncClient> = (0..6).map(|i| client_at(nodes[i % 3].addr, &doc)).collect();
    for c in &clients {
        assert!(c.wait_until(DEADLINE, |c| c.is_synced(&doc)).await, "joins");
    }
    for round in 0..20 {
        for (i, c) in clients.iter().enumerate() {
            c.edit(&doc, |d| {
                d.text("body").insert(0, &format!("{i}:{round} ")).unwrap();
                d.map("meta").set(&format!("k{i}"), round as i64).unwrap();
                d.map("meta").set("last", i as i64).unwrap();
            })
            .unwrap();
        }
    }
    let refs: Vec<&SyncClient> = clients.iter().collect();
    assert!(
        converge(&refs, &doc).await,
        "six clients on three nodes converge"
    );
    let text = clients[0]
        .edit(&doc, |d| d.text("body").to_string())
        .unwrap();
    for i in 0..6 {
        for round in 0..20 {
            assert!(
                text.contains(&format!("{i}:{round} ")),
                "edit {i}:{round} kept"
            );
        }
    }

    // Presence crosses nodes, reaches a late joiner on another node, and is cleared on close.
    clients[0].set_presence(&doc, Some(b"cursor on node 0".to_vec()));
    assert!(has_presence(&clients[2], &doc, b"cursor on node 0").await);
    let late = client_at(nodes[1].addr, &doc);
    let mut all = refs.clone();
    all.push(&late);
    assert!(
        converge(&all, &doc).await,
        "late joiner on another node catches up"
    );
    assert!(has_presence(&late, &doc, b"cursor on node 0").await);
    let mut clients = clients;
    clients.remove(0).close().await;
    assert!(
        late.wait_until(DEADLINE, |c| c.presence(&doc).is_empty())
            .await,
        "cleared on the other nodes when the peer leaves"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_loses_nothing_acked_and_its_clients_move() {
    let redis = RedisServer::start();
    let mut doomed = RelayProcess::start(&redis.url());
    let survivor = RelayProcess::start(&redis.url());
    let observer_node = RelayProcess::start(&redis.url());
    // The doomed node's clients reach it through a load balancer.
    let balancer = TcpProxy::start(doomed.addr).await;
    let doc = id("cluster/kill");
    let moving: Vec<Arc<SyncClient>> = (0..2)
        .map(|_| Arc::new(client_at(balancer.addr, &doc)))
        .collect();
    let staying = Arc::new(client_at(survivor.addr, &doc));
    for c in moving.iter().chain([&staying]) {
        assert!(c.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    }
    moving[0].set_presence(&doc, Some(b"on the doomed node".to_vec()));
    assert!(has_presence(&staying, &doc, b"on the doomed node").await);
    let dead_peers: Vec<_> = staying.presence(&doc).into_iter().map(|(p, _)| p).collect();

    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let writers: Vec<_> = moving
        .iter()
        .chain([&staying])
        .enumerate()
        .map(|(i, c)| writer(Arc::clone(c), doc.clone(), i, stop_rx.clone()))
        .collect();
    assert!(
        moving[0]
            .wait_until(DEADLINE, |c| acked(c, &doc) > 20)
            .await
    );
    // From now on the balancer sends new connections to the survivor; then the node dies.
    balancer.route_to(survivor.addr);
    let before: Vec<(ReplicaId, u64)> = moving
        .iter()
        .map(|c| (replica(c, &doc), acked(c, &doc)))
        .collect();
    doomed.kill();

    // Everything the dead node acknowledged is in Redis: a fresh client of a third node has it.
    let observer = client_at(observer_node.addr, &doc);
    assert!(observer.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    let stored = observer.read(&doc, |d| d.version()).unwrap();
    for (r, a) in &before {
        assert!(
            *a > 0 && stored.get(*r) >= *a,
            "{r:?}: acked {a}, stored {}",
            stored.get(*r)
        );
    }
    // The dead node's peers' presence is cleared once its heartbeat expires (the moved client
    // republishes its presence from the survivor, under a new connection id).
    assert!(
        staying
            .wait_until(DEADLINE, |c| !c
                .presence(&doc)
                .iter()
                .any(|(p, _)| dead_peers.contains(p)))
            .await,
        "presence of the dead node's peers cleared"
    );
    // Its clients reconnect (to the survivor), resend what was not stored, and all converge.
    for (c, (_, a)) in moving.iter().zip(&before) {
        assert!(
            c.wait_until(DEADLINE, |c| c.connects() >= 2 && acked(c, &doc) > a + 10)
                .await,
            "reconnected elsewhere and acked again"
        );
    }
    stop.send(true).unwrap();
    for w in writers {
        assert!(w.await.unwrap() > 0);
    }
    let mut all: Vec<&SyncClient> = moving.iter().map(|c| c.as_ref()).collect();
    all.push(&staying);
    all.push(&observer);
    assert!(converge(&all, &doc).await, "converge after the kill");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_crash_and_restart_loses_nothing_acked() {
    let mut redis = RedisServer::start();
    let nodes: Vec<RelayProcess> = (0..2).map(|_| RelayProcess::start(&redis.url())).collect();
    let doc = id("cluster/redis-restart");
    let clients: Vec<Arc<SyncClient>> = (0..2)
        .map(|i| Arc::new(client_at(nodes[i].addr, &doc)))
        .collect();
    for c in &clients {
        assert!(c.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    }
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let writers: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| writer(Arc::clone(c), doc.clone(), i, stop_rx.clone()))
        .collect();
    for c in &clients {
        assert!(c.wait_until(DEADLINE, |c| acked(c, &doc) > 20).await);
    }
    let before: Vec<(ReplicaId, u64)> = clients
        .iter()
        .map(|c| (replica(c, &doc), acked(c, &doc)))
        .collect();
    redis.kill();
    redis.restart();
    // The relays reconnect and resume: acknowledgements grow again on both nodes.
    for (c, (_, a)) in clients.iter().zip(&before) {
        assert!(
            c.wait_until(DEADLINE, |c| acked(c, &doc) > a + 20).await,
            "acks resume after the restart"
        );
    }
    stop.send(true).unwrap();
    for w in writers {
        w.await.unwrap();
    }
    let refs: Vec<&SyncClient> = clients.iter().map(|c| c.as_ref()).collect();
    assert!(converge(&refs, &doc).await, "converge after the restart");
    // What Redis holds includes everything acked before the crash, and all the rest.
    let fresh = RelayProcess::start(&redis.url());
    let observer = client_at(fresh.addr, &doc);
    assert!(observer.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    let stored = observer.read(&doc, |d| d.version()).unwrap();
    for (r, a) in &before {
        assert!(
            stored.get(*r) >= *a,
            "{r:?}: acked {a}, stored {}",
            stored.get(*r)
        );
    }
    assert_eq!(stored, clients[0].read(&doc, |d| d.version()).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_redis_catches_up_from_the_stream() {
    let redis = RedisServer::start();
    let link = TcpProxy::start(redis.addr()).await;
    let direct = RelayProcess::start(&redis.url());
    let cut_off = RelayProcess::start(&format!("redis://{}", link.addr));
    let doc = id("cluster/cut");
    let a = client_at(direct.addr, &doc);
    let b = client_at(cut_off.addr, &doc);
    assert!(converge(&[&a, &b], &doc).await);

    link.cut();
    for i in 0..50 {
        a.edit(&doc, |d| {
            d.text("body").insert(0, &format!("a{i} ")).unwrap()
        });
        b.edit(&doc, |d| {
            d.text("body").insert(0, &format!("b{i} ")).unwrap()
        });
    }
    let a_version = a.read(&doc, |d| d.version()).unwrap();
    let a_replica = replica(&a, &doc);
    assert!(
        a.wait_until(DEADLINE, |c| acked(c, &doc) == a_version.get(a_replica))
            .await,
        "the connected node stores and acks"
    );
    // Its wake-ups were published while the other node was cut off: they are lost to it.
    assert!(
        b.read(&doc, |d| d.version().get(a_replica)).unwrap() < a_version.get(a_replica),
        "the cut-off node cannot have heard of them"
    );
    let b_replica = replica(&b, &doc);
    assert!(
        acked(&b, &doc) < 50,
        "nor acknowledge its own peer's changes"
    );

    link.route_to(redis.addr());
    assert!(converge(&[&a, &b], &doc).await, "caught up from the stream");
    let text = b.edit(&doc, |d| d.text("body").to_string()).unwrap();
    for i in 0..50 {
        assert!(text.contains(&format!("a{i} ")) && text.contains(&format!("b{i} ")));
    }
    let b_own = b.read(&doc, |d| d.version().get(b_replica)).unwrap();
    assert_eq!(
        acked(&b, &doc),
        b_own,
        "the cut-off node's acks arrive once stored"
    );
}
