//! Partitions with the real relay binary behind a fault-injecting TCP proxy: cycles of cut,
//! stall and heal while three clients type unique tokens, with the relay restarted every ten
//! cycles (alternately SIGKILL and SIGTERM). After each restart, before any client can reach it,
//! the restarted relay must hold every change a client saw acknowledged; at the end the document
//! holds exactly the tokens the clients typed (each once), and nothing else.
//!
//! `PARTITION_CYCLES` raises the cycle count (default 100) for long runs.

mod common;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::*;
use crdt_core::Doc;
use support::proxy::Proxy;
use support::*;
use sync_server::{ClientOptions, SyncClient};

struct Typist {
    client: SyncClient,
    replica: crdt_core::ReplicaId,
    /// Each token with the client's own counter after typing it.
    typed: Vec<(u64, String)>,
    /// The highest own counter the relay acknowledged.
    acked: u64,
}

impl Typist {
    fn note_acks(&mut self, doc: &crdt_core::sync::DocId) {
        if let Some(v) = self.client.relay_version(doc) {
            self.acked = self.acked.max(v.get(self.replica));
        }
    }

    fn acked_tokens(&self) -> impl Iterator<Item = &String> {
        self.typed
            .iter()
            .filter(|(at, _)| *at <= self.acked)
            .map(|(_, t)| t)
    }
}

fn relay_args(db: &str) -> Vec<String> {
    [
        "--bind",
        "127.0.0.1:0",
        "--database",
        db,
        "--sqlite-synchronous",
        "normal",
        "--ping-secs",
        "0.2",
        "--idle-timeout-secs",
        "1",
    ]
    .map(String::from)
    .to_vec()
}

fn start(db: &str) -> (std::process::Child, std::net::SocketAddr) {
    let args = relay_args(db);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    spawn_relay(&args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_and_restarts_lose_no_acked_change_and_invent_none() {
    let cycles: usize = std::env::var("PARTITION_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let db = db.to_str().unwrap().to_owned();
    let (mut relay, relay_addr) = start(&db);
    let proxy = Proxy::start(relay_addr).await;
    let doc = id("partition/doc");
    let options = ClientOptions {
        min_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(100),
        ..ClientOptions::default()
    };
    let mut typists: Vec<Typist> = (0..3)
        .map(|_| {
            let client = SyncClient::connect(&url(proxy.addr()), options.clone());
            client.join(doc.clone(), Doc::new());
            let replica = client.read(&doc, |d| d.replica()).unwrap();
            Typist {
                client,
                replica,
                typed: Vec::new(),
                acked: 0,
            }
        })
        .collect();
    let mut restarts = (0, 0);
    let mut checked_after_restart = 0;
    for cycle in 0..cycles {
        // Type, partition (cut or stall), type offline, heal.
        let type_round = |typists: &mut Vec<Typist>, phase: &str| {
            for (i, t) in typists.iter_mut().enumerate() {
                let token = format!("c{i}.{cycle}.{phase}");
                let counter = t
                    .client
                    .edit(&doc, |d| {
                        let mut text = d.text("body");
                        let end = text.len();
                        text.insert(end, &format!(" {token}")).unwrap();
                    })
                    .map(|()| t.client.read(&doc, |d| d.version().get(t.replica)).unwrap())
                    .unwrap();
                t.typed.push((counter, token));
                t.note_acks(&doc);
            }
        };
        type_round(&mut typists, "a");
        // Let some of it through before the partition (no waiting for completion).
        let _ = typists[0]
            .client
            .wait_until(Duration::from_millis(30), |c| c.is_synced(&doc))
            .await;
        for t in typists.iter_mut() {
            t.note_acks(&doc);
        }
        if cycle % 2 == 0 {
            proxy.cut();
        } else {
            proxy.stall();
        }
        type_round(&mut typists, "b");
        // The partition lasts a moment (part of the scenario, not a wait for sync).
        tokio::time::sleep(Duration::from_millis(10)).await;

        if cycle % 10 == 9 {
            // Restart: clients are held off while the relay dies and comes back.
            proxy.cut();
            for t in typists.iter_mut() {
                t.note_acks(&doc);
            }
            if (cycle / 10) % 2 == 0 {
                kill9(&mut relay);
                restarts.0 += 1;
            } else {
                assert!(terminate(&mut relay), "graceful stop");
                restarts.1 += 1;
            }
            let (next, next_addr) = start(&db);
            relay = next;
            // Before any client reaches it, the relay holds every acknowledged change.
            let observer = client(next_addr, &doc);
            assert!(
                observer.wait_until(DEADLINE, |c| c.is_synced(&doc)).await,
                "observer syncs after restart at cycle {cycle}"
            );
            let version = observer.read(&doc, |d| d.version()).unwrap();
            let words: BTreeSet<String> = body(&observer, &doc)
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            for t in &typists {
                assert!(
                    version.get(t.replica) >= t.acked,
                    "cycle {cycle}: acked {} of {:?}, stored {}",
                    t.acked,
                    t.replica,
                    version.get(t.replica)
                );
                for token in t.acked_tokens() {
                    assert!(words.contains(token), "cycle {cycle}: acked {token} lost");
                }
            }
            checked_after_restart += 1;
            observer.close().await;
            proxy.set_upstream(next_addr);
        }
        proxy.heal();
    }

    // Everyone reconnects and converges; the document holds exactly the typed tokens, once each.
    let all: Vec<&SyncClient> = typists.iter().map(|t| &t.client).collect();
    assert!(
        converge(&all, &doc).await,
        "clients converge after the last heal"
    );
    let observer = client(proxy.addr(), &doc);
    let mut with_observer = all.clone();
    with_observer.push(&observer);
    assert!(converge(&with_observer, &doc).await);
    let text = body(&observer, &doc);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word).or_default() += 1;
    }
    let typed: BTreeSet<&str> = typists
        .iter()
        .flat_map(|t| t.typed.iter().map(|(_, s)| s.as_str()))
        .collect();
    let unknown: Vec<_> = counts.keys().filter(|w| !typed.contains(*w)).collect();
    assert!(unknown.is_empty(), "tokens nobody typed: {unknown:?}");
    let duplicated: Vec<_> = counts.iter().filter(|(_, &n)| n > 1).collect();
    assert!(duplicated.is_empty(), "duplicated: {duplicated:?}");
    let missing: Vec<_> = typed.iter().filter(|t| !counts.contains_key(*t)).collect();
    assert!(missing.is_empty(), "typed but missing: {missing:?}");
    let acked_total: usize = typists.iter().map(|t| t.acked_tokens().count()).sum();
    eprintln!(
        "{cycles} partition cycles, {} SIGKILL + {} SIGTERM restarts ({checked_after_restart} checked), \
         {} tokens typed, {acked_total} seen acked before a restart or the end, in {:?}",
        restarts.0,
        restarts.1,
        typed.len(),
        started.elapsed()
    );
    for t in typists {
        t.client.close().await;
    }
    observer.close().await;
    kill9(&mut relay);
}
