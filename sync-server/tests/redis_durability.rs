//! Issue #17, "durable means durable": a relay on a Redis that would lose acknowledged writes
//! (append-only file off, or not fsynced before every reply) says so in `/healthz` (still 200)
//! and in the `sync_durable_acks` gauge; on `appendonly yes` + `appendfsync always` it reports
//! durable acks.

mod cluster_support;
mod common;
mod support;

use cluster_support::{RedisServer, RelayProcess};
use support::http_get;

/// `/healthz` and the `sync_durable_acks` sample of a relay on a Redis with these settings.
async fn reported(appendonly: &'static str, appendfsync: &'static str) -> (u16, String, String) {
    let redis = RedisServer::with_persistence(appendonly, appendfsync);
    let relay = RelayProcess::start(&redis.url());
    let (status, health) = http_get(relay.addr, "/healthz").await;
    let (_, metrics) = http_get(relay.addr, "/metrics").await;
    let gauge = metrics
        .lines()
        .find(|l| l.starts_with("sync_durable_acks "))
        .unwrap_or_else(|| panic!("no sync_durable_acks gauge in:\n{metrics}"))
        .to_owned();
    (status, health, gauge)
}

#[tokio::test]
async fn redis_without_an_append_only_file_makes_acks_non_durable() {
    let (status, health, gauge) = reported("no", "always").await;
    assert_eq!(status, 200);
    assert!(
        health.starts_with("ok\n") && health.contains("durable_acks: false"),
        "{health}"
    );
    assert!(health.contains("appendonly no"), "{health}");
    assert_eq!(gauge, "sync_durable_acks 0");
}

#[tokio::test]
async fn redis_fsyncing_every_second_makes_acks_non_durable() {
    let (status, health, gauge) = reported("yes", "everysec").await;
    assert_eq!(status, 200);
    assert!(health.contains("durable_acks: false"), "{health}");
    assert!(health.contains("appendfsync everysec"), "{health}");
    assert_eq!(gauge, "sync_durable_acks 0");
}

#[tokio::test]
async fn redis_fsyncing_an_append_only_file_always_makes_acks_durable() {
    let (status, health, gauge) = reported("yes", "always").await;
    assert_eq!((status, health.as_str()), (200, "ok\n"));
    assert_eq!(gauge, "sync_durable_acks 1");
}
