//! Crash safety: the real relay binary is killed with SIGKILL while clients write, restarted on
//! the same database; every change a client saw acknowledged is there, and clients converge.

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use crdt_core::ReplicaId;
use sync_server::SyncClient;

fn spawn_relay(db: &str, bind: &str) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sync-server"))
        .args(["--bind", bind, "--database", db])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("relay binary starts");
    let addr = listening_address(&mut child);
    (child, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acked_changes_survive_sigkill_and_clients_converge() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let db = db.to_str().unwrap().to_owned();
    let (mut relay, addr) = spawn_relay(&db, "127.0.0.1:0");
    let doc = id("crash/doc");
    let clients: Vec<Arc<SyncClient>> = (0..3).map(|_| Arc::new(client(addr, &doc))).collect();
    for c in &clients {
        assert!(c.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    }
    let replicas: Vec<ReplicaId> = clients
        .iter()
        .map(|c| c.read(&doc, |d| d.replica()).unwrap())
        .collect();

    // Writers type continuously until told to stop.
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let writers: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let c = Arc::clone(c);
            let doc = doc.clone();
            let mut stop_rx = stop_rx.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(2));
                let mut n = 0u64;
                loop {
                    tokio::select! {
                        _ = stop_rx.changed() => return n,
                        _ = tick.tick() => {
                            c.edit(&doc, |d| {
                                d.text("body").insert(0, &format!("{i}.{n} ")).unwrap();
                                d.map("count").set(&format!("c{i}"), n as i64).unwrap();
                            });
                            n += 1;
                        }
                    }
                }
            })
        })
        .collect();

    // Let acknowledgements flow, then record what each client saw acked and kill at once.
    let first = &clients[0];
    let own = replicas[0];
    assert!(
        first
            .wait_until(DEADLINE, |c| c
                .relay_version(&doc)
                .is_some_and(|v| v.get(own) > 20))
            .await
    );
    // Every writer has seen an ack (the first one may run ahead of the others).
    for (c, &r) in clients.iter().zip(&replicas) {
        assert!(
            c.wait_until(DEADLINE, |c| c
                .relay_version(&doc)
                .is_some_and(|v| v.get(r) > 0))
                .await
        );
    }
    let acked: Vec<u64> = clients
        .iter()
        .zip(&replicas)
        .map(|(c, &r)| c.relay_version(&doc).map_or(0, |v| v.get(r)))
        .collect();
    relay.kill().expect("SIGKILL");
    relay.wait().unwrap();
    assert!(
        acked.iter().all(|&a| a > 0),
        "every writer saw acks: {acked:?}"
    );

    // Restarted on another port (the clients cannot reach it), the database alone holds every
    // acknowledged change.
    let (mut check, check_addr) = spawn_relay(&db, "127.0.0.1:0");
    let observer = client(check_addr, &doc);
    assert!(observer.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    let stored = observer.read(&doc, |d| d.version()).unwrap();
    for (r, &a) in replicas.iter().zip(&acked) {
        assert!(
            stored.get(*r) >= a,
            "replica {r:?}: acked {a}, stored {}",
            stored.get(*r)
        );
    }
    observer.close().await;
    check.kill().unwrap();
    check.wait().unwrap();

    // Restarted where the clients expect it: they reconnect, resend what was lost, converge.
    let (mut relay, _) = spawn_relay(&db, &addr.to_string());
    stop.send(true).unwrap();
    for w in writers {
        w.await.unwrap();
    }
    let refs: Vec<&SyncClient> = clients.iter().map(|c| c.as_ref()).collect();
    assert!(
        converge(&refs, &doc).await,
        "clients converge after the crash"
    );
    let late = client(addr, &doc);
    let mut all = refs.clone();
    all.push(&late);
    assert!(converge(&all, &doc).await, "and the relay holds it all");
    relay.kill().unwrap();
    relay.wait().unwrap();
}
