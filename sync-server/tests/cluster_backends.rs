//! The relay behaves the same on both storage backends: the same scenario (five clients editing
//! text and a map concurrently, then a late joiner, then a restart of the relay on the same
//! storage) runs against a relay on SQLite and a relay on Redis.

mod cluster_support;
mod common;

use std::net::SocketAddr;

use cluster_support::RedisServer;
use common::*;
use sync_server::config::{StorageConfig, Synchronous};
use sync_server::Relay;

/// Five clients edit concurrently and converge with every edit kept; a late joiner catches up.
async fn five_clients_converge(addr: SocketAddr, name: &str) -> String {
    let doc = id(name);
    let clients: Vec<_> = (0..5).map(|_| client(addr, &doc)).collect();
    for c in &clients {
        assert!(c.wait_until(DEADLINE, |c| c.is_synced(&doc)).await, "joins");
    }
    for round in 0..20 {
        for (i, c) in clients.iter().enumerate() {
            c.edit(&doc, |d| {
                d.text("body").insert(0, &format!("{i}:{round} ")).unwrap();
                d.map("meta").set(&format!("k{i}"), round as i64).unwrap();
            })
            .unwrap();
        }
    }
    let refs: Vec<_> = clients.iter().collect();
    assert!(converge(&refs, &doc).await, "all five converge");
    let text = clients[0]
        .edit(&doc, |d| d.text("body").to_string())
        .unwrap();
    for i in 0..5 {
        for round in 0..20 {
            assert!(text.contains(&format!("{i}:{round} ")));
        }
    }
    let late = client(addr, &doc);
    let mut all = refs.clone();
    all.push(&late);
    assert!(converge(&all, &doc).await, "late joiner catches up");
    for c in clients {
        c.close().await;
    }
    late.close().await;
    text
}

/// Runs the scenario, restarts the relay on the same storage, and checks a new client reads the
/// same text.
async fn scenario(storage: StorageConfig) {
    let config = || config_with(|c| c.storage = storage.clone());
    let relay = Relay::start(config()).await.expect("relay starts");
    let text = five_clients_converge(relay.local_addr(), "backends/notes").await;
    relay.shutdown().await;
    let relay = Relay::start(config()).await.expect("relay restarts");
    let doc = id("backends/notes");
    let reader = client(relay.local_addr(), &doc);
    assert!(reader.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    let stored = reader.edit(&doc, |d| d.text("body").to_string()).unwrap();
    assert_eq!(stored, text, "the store kept everything");
    reader.close().await;
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backend() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    scenario(StorageConfig::Sqlite {
        path: db,
        synchronous: Synchronous::Normal,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_backend() {
    let redis = RedisServer::start();
    scenario(StorageConfig::Redis { url: redis.url() }).await;
}
