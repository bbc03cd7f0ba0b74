//! Issue #5's operational behaviour, against a real relay on 127.0.0.1 port 0 with short
//! configured timeouts: idle unload, ping/pong, slow consumers, connection and per-connection
//! document limits, graceful shutdown of the real binary, `/healthz`, `/metrics`, `--static` and
//! the compaction timer. Conditions are awaited with deadlines, never fixed sleeps.

mod common;
mod support;

use std::time::{Duration, Instant};

use common::*;
use crdt_core::sync::ErrorCode;
use crdt_core::Doc;
use futures_util::SinkExt;
use support::*;
use sync_server::config::{StorageConfig, Synchronous};
use sync_server::metrics::Rejection;
use sync_server::storage::{SqliteStore, Store};
use sync_server::{ClientOptions, Relay, SyncClient};

fn text(client: &SyncClient, doc: &crdt_core::sync::DocId) -> String {
    body(client, doc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_documents_unload_and_reload_intact() {
    let relay = relay_with(|c| c.maintenance.unload_idle_secs = 0.2).await;
    let (idle, busy) = (id("unload/idle"), id("unload/busy"));
    let writer = client(relay.local_addr(), &idle);
    writer.edit(&idle, |d| d.text("body").insert(0, "kept while unloaded"));
    assert!(writer.wait_until(DEADLINE, |c| c.is_synced(&idle)).await);
    let stayer = client(relay.local_addr(), &busy);
    assert!(stayer.wait_until(DEADLINE, |c| c.is_synced(&busy)).await);
    assert_eq!(relay.loaded_documents(), 2);
    writer.close().await;
    assert!(
        eventually(DEADLINE, || relay.loaded_documents() == 1).await,
        "the document nobody holds is unloaded"
    );
    assert!(
        eventually(DEADLINE, || relay
            .metrics()
            .rooms
            .load(std::sync::atomic::Ordering::Relaxed)
            == 1)
        .await
    );
    let reader = client(relay.local_addr(), &idle);
    assert!(reader.wait_until(DEADLINE, |c| c.is_synced(&idle)).await);
    assert_eq!(text(&reader, &idle), "kept while unloaded");
    assert_eq!(relay.loaded_documents(), 2, "rejoining reloads it");
    assert!(stayer.is_connected());
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_that_do_not_answer_pings_are_closed_and_others_stay() {
    let relay = relay_with(|c| {
        c.limits.ping_secs = 0.1;
        c.limits.idle_timeout_secs = 0.4;
    })
    .await;
    let addr = relay.local_addr();
    let doc = id("ping/doc");
    let live = client(addr, &doc);
    assert!(live.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    let metrics = relay.metrics();
    for round in 1..=2u64 {
        // A peer that joins and then never reads, so never answers a ping.
        let mut silent = raw(addr).await;
        silent.send(hello(&doc)).await.unwrap();
        assert!(
            eventually(DEADLINE, || metrics.rejections(Rejection::IdleTimeout)
                >= round)
            .await,
            "the silent peer is timed out"
        );
        let seen = read_until_closed(&mut silent, DEADLINE).await;
        let (code, reason) = seen.close.expect("a close frame");
        assert_eq!(code, 1001);
        assert!(reason.contains("idle timeout"), "{reason}");
    }
    // The client answering pings lived through both (over two idle timeouts each).
    assert!(live.is_connected());
    assert_eq!(live.connects(), 1, "never reconnected");
    assert_eq!(metrics.rejections(Rejection::IdleTimeout), 2);
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_dropped_and_others_keep_their_latency() {
    let relay = relay_with(|c| {
        c.limits.outbound_queue = 8;
        c.limits.rate_per_sec = 2000;
    })
    .await;
    let addr = relay.local_addr();
    let doc = id("slow/doc");
    let writer = client(addr, &doc);
    let reader = client(addr, &doc);
    for c in [&writer, &reader] {
        assert!(c.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    }
    // The slow peer: a tiny receive buffer, joins, then never reads.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let (mut slow, _) = tokio_tungstenite::client_async(format!("ws://{addr}/sync"), stream)
        .await
        .unwrap();
    slow.send(hello(&doc)).await.unwrap();
    let metrics = relay.metrics();
    let blob = "x".repeat(32 << 10);
    let mut rtts = Vec::new();
    let mut round = 0;
    while metrics.rejections(Rejection::SlowConsumer) == 0 {
        round += 1;
        assert!(round < 2000, "the slow consumer was never dropped");
        let marker = format!("<{round}>");
        let sent = Instant::now();
        writer.edit(&doc, |d| {
            let mut t = d.text("body");
            let end = t.len();
            t.insert(end, &blob).unwrap();
            t.insert(0, &marker).unwrap();
        });
        assert!(
            reader
                .wait_until(DEADLINE, |c| c
                    .read(&doc, |d| body_of(d).starts_with(&marker))
                    .unwrap())
                .await,
            "round {round} reached the healthy reader"
        );
        rtts.push(sent.elapsed());
    }
    rtts.sort();
    let (p50, max) = (rtts[rtts.len() / 2], rtts[rtts.len() - 1]);
    eprintln!(
        "slow consumer dropped after {round} rounds of 32 KiB; healthy send-to-receipt p50 {p50:?}, max {max:?}"
    );
    assert!(
        max < Duration::from_millis(1500),
        "a healthy peer waited {max:?} behind a slow one"
    );
    let seen = read_until_closed(&mut slow, DEADLINE).await;
    assert!(seen.ended, "the slow peer's socket is closed");
    assert!(
        eventually(DEADLINE, || metrics
            .connections
            .load(std::sync::atomic::Ordering::Relaxed)
            == 2)
        .await,
        "and its connection is gone"
    );
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_get_503() {
    let relay = relay_with(|c| c.limits.max_connections = 2).await;
    let addr = relay.local_addr();
    let first = raw(addr).await;
    let _second = raw(addr).await;
    let refused = tokio_tungstenite::connect_async(format!("ws://{addr}/sync")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
            let body = response.body().as_deref().unwrap_or_default();
            assert_eq!(String::from_utf8_lossy(body), "too many connections\n");
        }
        other => panic!("expected HTTP 503, got {other:?}"),
    }
    assert_eq!(relay.metrics().rejections(Rejection::TooManyConnections), 1);
    drop(first);
    let metrics = relay.metrics();
    assert!(
        eventually(DEADLINE, || metrics
            .connections
            .load(std::sync::atomic::Ordering::Relaxed)
            == 1)
        .await
    );
    let _third = raw(addr).await;
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_documents_on_one_connection_is_an_error_and_a_close() {
    let relay = relay_with(|c| c.limits.max_docs_per_connection = 2).await;
    let mut s = raw(relay.local_addr()).await;
    for name in ["docs/a", "docs/b", "docs/a", "docs/c"] {
        s.send(hello(&id(name))).await.unwrap();
    }
    let seen = read_until_closed(&mut s, DEADLINE).await;
    assert_eq!(seen.errors.len(), 1, "{:?}", seen.errors);
    assert_eq!(seen.errors[0].0, ErrorCode::TooLarge);
    assert!(seen.errors[0].1.contains("at most 2 documents"));
    let (code, reason) = seen.close.expect("a close frame");
    assert_eq!(code, 1008);
    assert_eq!(reason, "too many documents: at most 2 per connection");
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_metrics_over_http() {
    let relay = relay().await;
    let addr = relay.local_addr();
    assert_eq!(http_get(addr, "/healthz").await, (200, "ok\n".into()));
    let (status, before) = http_get(addr, "/metrics").await;
    assert_eq!(status, 200);
    for series in [
        "sync_connections ",
        "sync_rooms ",
        "sync_room_peers ",
        "sync_messages_in_total ",
        "sync_messages_out_total ",
        "sync_bytes_in_total ",
        "sync_bytes_out_total ",
        "sync_changes_persisted_total ",
        "sync_compactions_total ",
        "sync_storage_errors_total ",
        "sync_rejections_total{reason=\"slow_consumer\"} ",
        "sync_rejections_total{reason=\"origin\"} ",
        "sync_rejections_total{reason=\"storage_unavailable\"} ",
        "sync_fanout_latency_seconds_bucket{le=\"0.001\"} ",
        "sync_fanout_latency_seconds_count ",
    ] {
        assert!(before.contains(series), "missing {series:?} in\n{before}");
    }
    let value = |text: &str, name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in {text}"))
    };
    assert_eq!(value(&before, "sync_messages_in_total "), 0);
    let doc = id("metrics/doc");
    let a = client(addr, &doc);
    let b = client(addr, &doc);
    // Both joined first, so that the edit reaches b as a fan-out (timed), not in b's join answer.
    assert!(converge(&[&a, &b], &doc).await);
    a.edit(&doc, |d| d.text("body").insert(0, "counted"));
    assert!(converge(&[&a, &b], &doc).await);
    let (_, after) = http_get(addr, "/metrics").await;
    assert!(value(&after, "sync_messages_in_total ") >= 3);
    assert!(value(&after, "sync_changes_persisted_total ") >= 1);
    assert_eq!(value(&after, "sync_connections "), 2);
    assert_eq!(value(&after, "sync_rooms "), 1);
    assert!(value(&after, "sync_fanout_latency_seconds_count ") >= 1);
    let (status, _) = http_get(addr, "/nothing-here").await;
    assert_eq!(status, 404);
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_files_are_served_and_websockets_still_work_at_root() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<h1>editor</h1>").unwrap();
    std::fs::write(dir.path().join("app.js"), "console.log(1)").unwrap();
    let relay = relay_with(|c| c.static_dir = Some(dir.path().into())).await;
    let addr = relay.local_addr();
    assert_eq!(http_get(addr, "/").await, (200, "<h1>editor</h1>".into()));
    assert_eq!(
        http_get(addr, "/app.js").await,
        (200, "console.log(1)".into())
    );
    assert_eq!(http_get(addr, "/missing.js").await.0, 404);
    assert_eq!(http_get(addr, "/healthz").await.0, 200);
    let doc = id("static/doc");
    let at_root = SyncClient::connect(&format!("ws://{addr}/"), ClientOptions::default());
    at_root.join(doc.clone(), Doc::new());
    assert!(at_root.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compaction_timer_compacts_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let config = config_with(|c| {
        c.storage = StorageConfig::Sqlite {
            path: db.clone(),
            synchronous: Synchronous::Full,
        };
        c.maintenance.compact_interval_secs = 0.1;
        c.maintenance.compact_after = 3;
    });
    let relay = Relay::start(config).await.unwrap();
    let doc = id("compact/doc");
    let writer = client(relay.local_addr(), &doc);
    for i in 0..10 {
        writer.edit(&doc, |d| d.text("body").insert(0, &format!("{i}")));
        // One stored batch per edit.
        assert!(writer.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    }
    let metrics = relay.metrics();
    // The timer compacts whenever more than 3 batches wait, so the store is compacted *after the
    // last edit* only at some later tick: wait for that state instead of for the first compaction
    // (which may have run mid-way, leaving the later edits' batches behind it).
    let store = SqliteStore::open(&db, sync_server::config::Synchronous::Normal).unwrap();
    let compacted = || {
        let stored = store.load(&doc).unwrap();
        stored.snapshot.is_some() && stored.batches.len() <= 3
    };
    assert!(
        eventually(DEADLINE, compacted).await,
        "the timer left a snapshot and at most 3 batches ({} batches, {} compactions)",
        store.load(&doc).unwrap().batches.len(),
        metrics
            .compactions
            .load(std::sync::atomic::Ordering::Relaxed)
    );
    let reader = client(relay.local_addr(), &doc);
    assert!(converge(&[&writer, &reader], &doc).await);
    assert_eq!(text(&reader, &doc), "9876543210");
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_sockets_with_1001_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let db = db.to_str().unwrap();
    let (mut relay, addr) = spawn_relay(&["--bind", "127.0.0.1:0", "--database", db]);
    let doc = id("term/doc");
    let mut watcher = raw(addr).await;
    watcher.send(hello(&doc)).await.unwrap();
    let writer = SyncClient::connect(
        &url(addr),
        ClientOptions {
            min_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(30),
            ..ClientOptions::default()
        },
    );
    writer.join(doc.clone(), Doc::new());
    let own = writer.read(&doc, |d| d.replica()).unwrap();
    for i in 0..50 {
        writer.edit(&doc, |d| d.text("body").insert(0, &format!("{i} ")));
    }
    assert!(writer.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    // More edits in flight while the signal arrives.
    for i in 50..80 {
        writer.edit(&doc, |d| d.text("body").insert(0, &format!("{i} ")));
    }
    let watch_close = tokio::spawn(async move { read_until_closed(&mut watcher, DEADLINE).await });
    let acked = writer.relay_version(&doc).map_or(0, |v| v.get(own));
    assert!(acked > 0);
    assert!(terminate(&mut relay), "the relay exits cleanly on SIGTERM");
    let seen = watch_close.await.unwrap();
    let (code, reason) = seen.close.expect("the watcher got a close frame");
    assert_eq!(code, 1001);
    assert_eq!(reason, "relay shutting down");
    assert!(writer.wait_until(DEADLINE, |c| !c.is_connected()).await);
    let acked_before_stop = writer.errors().is_empty();
    assert!(acked_before_stop, "{:?}", writer.errors());
    // What the writer last heard the relay held of its replica (at least the first 50 edits).
    let sent_all = writer.read(&doc, |d| d.version().get(own)).unwrap();

    let (mut again, addr) = spawn_relay(&["--bind", "127.0.0.1:0", "--database", db]);
    let observer = client(addr, &doc);
    assert!(observer.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    let stored = observer.read(&doc, |d| d.version().get(own)).unwrap();
    let words: Vec<String> = text(&observer, &doc)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    for i in 0..50 {
        assert!(words.contains(&i.to_string()), "edit {i} lost");
    }
    eprintln!("graceful stop: acked {acked}, stored {stored} of {sent_all} events of the writer");
    assert!(stored >= acked && stored <= sent_all);
    writer.close().await;
    kill9(&mut again);
}
