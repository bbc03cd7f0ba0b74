//! 1,000 clients reconnecting at once after the real relay binary restarts (SIGTERM, so every
//! socket closes at the same moment): their backoff jitter spreads the reconnects, the relay stays
//! up, its memory stays under a cap, and every client re-syncs.

mod common;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use crdt_core::Doc;
use support::*;
use sync_server::{ClientOptions, SyncClient};

const CLIENTS: usize = 1000;
const DOCS: usize = 100;
/// Resident memory the relay may use with 1,000 connections (debug build).
const RSS_CAP: u64 = 256 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_clients_reconnect_spread_out_and_the_relay_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let db = db.to_str().unwrap().to_owned();
    // A thousand clients from one address: past the default per-address limit (64).
    let base = [
        "--database",
        &db,
        "--sqlite-synchronous",
        "normal",
        "--max-connections-per-ip",
        "2000",
    ];
    let (mut relay, addr) = spawn_relay(&[&["--bind", "127.0.0.1:0"][..], &base].concat());
    let options = ClientOptions {
        min_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(2),
        ..ClientOptions::default()
    };
    let docs: Vec<_> = (0..DOCS).map(|d| id(&format!("storm/{d}"))).collect();
    let clients: Vec<Arc<SyncClient>> = (0..CLIENTS)
        .map(|i| {
            let c = SyncClient::connect(&url(addr), options.clone());
            c.join(docs[i % DOCS].clone(), Doc::new());
            Arc::new(c)
        })
        .collect();
    for (i, c) in clients.iter().enumerate() {
        c.edit(&docs[i % DOCS], |d| {
            d.text("body").insert(0, &format!("{i} "))
        });
    }
    for (i, c) in clients.iter().enumerate() {
        assert!(
            c.wait_until(Duration::from_secs(60), |c| c.is_synced(&docs[i % DOCS]))
                .await,
            "client {i} synced"
        );
    }
    let rss_before = rss_bytes(relay.id());

    assert!(terminate(&mut relay));
    let down = Instant::now();
    let (mut relay, _) = spawn_relay(&[&["--bind", &addr.to_string()][..], &base].concat());
    let up = down.elapsed();
    let waits: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let c = Arc::clone(c);
            let doc = docs[i % DOCS].clone();
            tokio::spawn(async move {
                let back = c
                    .wait_until(Duration::from_secs(60), |c| c.connects() >= 2)
                    .await;
                let at = down.elapsed();
                let synced = c
                    .wait_until(Duration::from_secs(60), |c| c.is_synced(&doc))
                    .await;
                (back && synced, at)
            })
        })
        .collect();
    let mut times = Vec::new();
    let mut peak_rss = 0;
    for w in waits {
        let (ok, at) = w.await.unwrap();
        assert!(ok, "a client did not reconnect and re-sync");
        times.push(at);
        peak_rss = peak_rss.max(rss_bytes(relay.id()));
    }
    times.sort();
    let pct = |p: usize| times[(times.len() - 1) * p / 100];
    // The densest 10 ms window of reconnects.
    let densest = (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|t| **t - times[i] < Duration::from_millis(10))
                .count()
        })
        .max()
        .unwrap_or(0);
    eprintln!(
        "relay back after {up:?}; reconnects p0 {:?} p10 {:?} p50 {:?} p90 {:?} p100 {:?}; \
         densest 10 ms window {densest}; relay RSS {} MiB before, {} MiB peak after",
        pct(0),
        pct(10),
        pct(50),
        pct(90),
        pct(100),
        rss_before >> 20,
        peak_rss >> 20
    );
    assert!(relay.try_wait().unwrap().is_none(), "the relay stayed up");
    assert!(
        pct(90) - pct(10) >= Duration::from_millis(100),
        "reconnects not spread: p10 {:?} p90 {:?}",
        pct(10),
        pct(90)
    );
    assert!(densest <= CLIENTS / 4, "{densest} reconnects within 10 ms");
    assert!(peak_rss > 0 && peak_rss < RSS_CAP, "relay RSS {peak_rss}");
    // Nothing was lost: a fresh client of each document sees its ten writers.
    let check = client(addr, &docs[7]);
    assert!(check.wait_until(DEADLINE, |c| c.is_synced(&docs[7])).await);
    assert_eq!(
        body(&check, &docs[7]).split_whitespace().count(),
        CLIENTS / DOCS
    );
    kill9(&mut relay);
}
