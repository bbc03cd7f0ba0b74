//! Native mesh peers (`mesh::MeshPeer`, the `webrtc` feature) through the real relay binary: two
//! native peers find each other in the relay's presence, signal through it and open a direct
//! WebRTC data channel over loopback; with the relay process killed, their edits still reach each
//! other, and so does their presence.

mod common;
mod support;

use std::sync::Arc;

use common::*;
use crdt_core::Doc;
use sync_server::mesh::{MeshOptions, MeshPeer};
use sync_server::{ClientOptions, SyncClient};

/// A client joined to `doc`, announcing `name` as presence (peers find each other there), with a
/// mesh peer beside it.
async fn peer(
    addr: std::net::SocketAddr,
    doc: &sync_server::crdt_core::sync::DocId,
    name: &str,
) -> (Arc<SyncClient>, MeshPeer) {
    let client = Arc::new(SyncClient::connect(&url(addr), ClientOptions::default()));
    client.join(doc.clone(), Doc::new());
    let presence = format!(r#"{{"name":"{name}"}}"#).into_bytes();
    client.set_presence(doc, Some(presence.clone()));
    let options = MeshOptions {
        presence: Some(presence),
        ..MeshOptions::default()
    };
    let mesh = MeshPeer::start(Arc::clone(&client), doc.clone(), options)
        .await
        .expect("binds a UDP socket on loopback");
    (client, mesh)
}

/// Waits until `mesh` has `n` direct links.
async fn linked(mesh: &MeshPeer, n: usize) -> bool {
    support::eventually(DEADLINE, || mesh.direct_peers().len() == n).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_native_peers_link_directly_and_keep_syncing_without_the_relay() {
    let (mut relay, addr) = support::spawn_relay(&["--memory", "--bind", "127.0.0.1:0"]);
    let doc = id("mesh/native");
    let (a, mesh_a) = peer(addr, &doc, "ann").await;
    let (b, mesh_b) = peer(addr, &doc, "ben").await;
    assert!(linked(&mesh_a, 1).await, "A links to B");
    assert!(linked(&mesh_b, 1).await, "B links to A");
    assert_eq!(mesh_a.direct_peers()[0].0, mesh_b.id());
    assert!(
        support::eventually(DEADLINE, || mesh_b.direct_peers()[0].1.as_deref()
            == Some(&br#"{"name":"ann"}"#[..]))
        .await,
        "B sees A's presence on the direct link"
    );

    a.edit(&doc, |d| d.text("body").insert(0, "relay up. ").unwrap());
    assert!(converge(&[&a, &b], &doc).await);

    support::kill9(&mut relay);
    assert!(
        a.wait_until(DEADLINE, |c| !c.is_connected()).await
            && b.wait_until(DEADLINE, |c| !c.is_connected()).await
    );
    a.edit(&doc, |d| {
        let end = d.text("body").len();
        d.text("body").insert(end, "from a offline. ").unwrap()
    });
    b.edit(&doc, |d| {
        d.text("body").insert(0, "from b offline. ").unwrap()
    });
    let both = |c: &SyncClient| {
        let text = body(c, &doc);
        text.contains("from a offline.") && text.contains("from b offline.")
    };
    assert!(a.wait_until(DEADLINE, both).await, "A: {}", body(&a, &doc));
    assert!(b.wait_until(DEADLINE, both).await, "B: {}", body(&b, &doc));
    assert_eq!(body(&a, &doc), body(&b, &doc));
    assert_eq!(
        mesh_a.direct_peers().len(),
        1,
        "the link outlived the relay"
    );

    // A peer that closes its mesh leaves the other's direct links at once.
    mesh_b.close().await;
    assert!(linked(&mesh_a, 0).await, "A sees B's link close");
    mesh_a.close().await;
}
