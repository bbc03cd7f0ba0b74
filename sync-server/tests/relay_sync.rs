//! Clients syncing through a real relay over real sockets: concurrent editing, late joiners,
//! offline editing, presence.

mod common;

use common::*;
use crdt_core::Doc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_clients_edit_text_and_map_concurrently_and_converge() {
    let relay = relay().await;
    let doc = id("shared/notes");
    let clients: Vec<_> = (0..5).map(|_| client(relay.local_addr(), &doc)).collect();
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
    let refs: Vec<_> = clients.iter().collect();
    assert!(converge(&refs, &doc).await, "all five converge");
    let text = clients[0]
        .edit(&doc, |d| d.text("body").to_string())
        .unwrap();
    for i in 0..5 {
        for round in 0..20 {
            assert!(
                text.contains(&format!("{i}:{round} ")),
                "edit {i}:{round} kept"
            );
        }
    }
    let len = clients[0].edit(&doc, |d| d.map("meta").len()).unwrap();
    assert_eq!(len, 6, "k0..k4 and last");

    // A late joiner catches up on everything.
    let late = client(relay.local_addr(), &doc);
    let mut all = refs.clone();
    all.push(&late);
    assert!(converge(&all, &doc).await, "late joiner catches up");
    assert_eq!(content(&late, &doc), content(&clients[0], &doc));
    assert!(
        relay
            .metrics()
            .changes_persisted
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_client_merges_both_ways_on_reconnect() {
    let relay = relay().await;
    let addr = relay.local_addr();
    let doc = id("offline");
    let online = client(addr, &doc);
    let traveller = client(addr, &doc);
    assert!(converge(&[&online, &traveller], &doc).await);
    let traveller_doc = traveller.edit(&doc, |d| d.save()).unwrap();
    traveller.close().await;

    // Offline: the traveller keeps editing its own copy; the online peer edits too.
    let mut offline = Doc::load(&traveller_doc).unwrap();
    for i in 0..200 {
        offline.text("body").insert(0, &format!("off{i} ")).unwrap();
        offline.commit();
        online
            .edit(&doc, |d| {
                d.text("body").insert(0, &format!("on{i} ")).unwrap()
            })
            .unwrap();
    }
    // Back online with the offline copy: Hello, then both sides send what the other lacks.
    let back = sync_server::SyncClient::connect(&url(addr), Default::default());
    back.join(doc.clone(), offline);
    assert!(
        converge(&[&online, &back], &doc).await,
        "merges after reconnect"
    );
    let text = back.edit(&doc, |d| d.text("body").to_string()).unwrap();
    for i in 0..200 {
        assert!(text.contains(&format!("off{i} ")) && text.contains(&format!("on{i} ")));
    }
    relay.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_reconnects_after_relay_restart_and_resends_unsent_edits() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let db = db.to_str().unwrap();
    // Start on port 0, remember the port, restart on the same one.
    let first = sync_server::Relay::start(sqlite_config(db, "127.0.0.1:0"))
        .await
        .unwrap();
    let addr = first.local_addr();
    let doc = id("restart");
    let a = client(addr, &doc);
    a.edit(&doc, |d| d.text("t").insert(0, "before ").unwrap());
    assert!(a.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    first.shutdown().await;
    assert!(a.wait_until(DEADLINE, |c| !c.is_connected()).await);
    // Edits while the relay is down are kept in the document and sent after reconnecting.
    a.edit(&doc, |d| d.text("t").insert(0, "during ").unwrap());
    let second = sync_server::Relay::start(sqlite_config(db, &addr.to_string()))
        .await
        .unwrap();
    assert!(
        a.wait_until(DEADLINE, |c| c.is_synced(&doc)).await,
        "reconnects"
    );
    assert!(a.connects() >= 2);
    let b = client(addr, &doc);
    assert!(converge(&[&a, &b], &doc).await);
    let text = b.edit(&doc, |d| d.text("t").to_string()).unwrap();
    assert_eq!(text, "during before ");
    second.shutdown().await;
}

fn sqlite_config(db: &str, bind: &str) -> sync_server::Config {
    sync_server::Config {
        bind: bind.parse().unwrap(),
        storage: sync_server::config::StorageConfig::Sqlite {
            path: db.into(),
            synchronous: sync_server::config::Synchronous::Normal,
        },
        ..sync_server::Config::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_is_forwarded_and_cleared_when_a_peer_leaves() {
    let relay = relay().await;
    let doc = id("presence");
    let a = client(relay.local_addr(), &doc);
    let b = client(relay.local_addr(), &doc);
    assert!(converge(&[&a, &b], &doc).await);
    a.set_presence(&doc, Some(b"cursor 3".to_vec()));
    assert!(
        b.wait_until(DEADLINE, |b| b
            .presence(&doc)
            .iter()
            .any(|(_, s)| s == b"cursor 3"))
            .await
    );
    // A late joiner is told the presence of those already there.
    let c = client(relay.local_addr(), &doc);
    assert!(
        c.wait_until(DEADLINE, |c| c
            .presence(&doc)
            .iter()
            .any(|(_, s)| s == b"cursor 3"))
            .await
    );
    a.close().await;
    assert!(
        b.wait_until(DEADLINE, |b| b.presence(&doc).is_empty())
            .await,
        "cleared on close"
    );
    relay.shutdown().await;
}
