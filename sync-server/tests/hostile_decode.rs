//! Issue #17, "decoding is bounded by what was received", end to end: the map-delete bomb
//! (`crdt_core::fuzzing::bombs`) sent as one `Changes` frame to the real relay process. It once
//! took the relay from 9 MB to 3.26 GB with a 250 KB frame and was acked and stored; now it is
//! refused with a protocol error, never acked, the relay's memory stays where it was, and a
//! healthy writer and reader on another document keep syncing throughout.

mod common;
mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use crdt_core::fuzzing::bombs::map_delete_bomb;
use crdt_core::sync::{decode, encode, ErrorCode, Message};
use crdt_core::{ReplicaId, VersionVector};
use futures_util::{SinkExt, StreamExt};
use support::*;
use tokio_tungstenite::tungstenite::Message as Ws;

/// The frame size of the relay measurement.
const BOMB_BYTES: usize = 250_000;

/// How much the relay's resident memory may grow while refusing the bomb.
const RSS_GROWTH_LIMIT: u64 = 64 << 20;

/// Samples the resident memory of `pid` every few milliseconds until `stop`; the highest seen.
fn watch_rss(pid: u32, stop: Arc<AtomicBool>) -> (Arc<AtomicU64>, std::thread::JoinHandle<()>) {
    let peak = Arc::new(AtomicU64::new(rss_bytes(pid)));
    let seen = peak.clone();
    let handle = std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            seen.fetch_max(rss_bytes(pid), Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    (peak, handle)
}

/// What the relay answered the bomb: its protocol errors for the document, and whether any
/// `Ack` covered the bomb's replica. Reads until an error arrives or the deadline passes.
async fn answer_to_bomb(
    socket: &mut Socket,
    doc: &crdt_core::sync::DocId,
) -> (Vec<ErrorCode>, bool) {
    let bomber = ReplicaId::new(1);
    let (mut errors, mut acked) = (Vec::new(), false);
    let _ = tokio::time::timeout(DEADLINE, async {
        while let Some(Ok(frame)) = socket.next().await {
            let Ws::Binary(bytes) = frame else { continue };
            match decode(&bytes) {
                Ok(Message::Error { code, doc: d, .. }) if d.as_ref() == Some(doc) => {
                    errors.push(code);
                    return;
                }
                Ok(Message::Ack { version, .. }) if version.get(bomber) > 0 => acked = true,
                _ => {}
            }
        }
    })
    .await;
    (errors, acked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_map_delete_bomb_is_refused_unacked_and_the_relay_stays_small() {
    // Default flags, SQLite, as in the measurement.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let (mut relay, addr) =
        spawn_relay(&["--bind", "127.0.0.1:0", "--database", db.to_str().unwrap()]);
    let pid = relay.id();
    let healthy = id("healthy/doc");
    let writer = client(addr, &healthy);
    let reader = client(addr, &healthy);
    writer.edit(&healthy, |d| d.text("body").insert(0, "start "));
    assert!(converge(&[&writer, &reader], &healthy).await);
    let before = rss_bytes(pid);

    let stop = Arc::new(AtomicBool::new(false));
    let (peak, sampler) = watch_rss(pid, stop.clone());
    let bombed = id("bombed/doc");
    let mut attacker = raw(addr).await;
    attacker.send(hello(&bombed)).await.unwrap();
    let frame = encode(&Message::Changes {
        doc: bombed.clone(),
        bytes: map_delete_bomb(BOMB_BYTES),
        version: VersionVector::new(),
    });
    attacker.send(Ws::Binary(frame.into())).await.unwrap();
    // The healthy writer edits while the relay deals with the bomb.
    for i in 0..20 {
        writer.edit(&healthy, |d| d.text("body").insert(0, &format!("{i} ")));
    }
    let (errors, acked) = answer_to_bomb(&mut attacker, &bombed).await;
    assert!(
        converge(&[&writer, &reader], &healthy).await,
        "the healthy document kept syncing"
    );
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let peak = peak.load(Ordering::Relaxed);
    let after = rss_bytes(pid);
    eprintln!(
        "relay RSS: {} KiB before, {} KiB peak, {} KiB after a {BOMB_BYTES} byte bomb",
        before >> 10,
        peak >> 10,
        after >> 10
    );
    assert_eq!(
        errors,
        vec![ErrorCode::BadChanges],
        "refused with a protocol error"
    );
    assert!(!acked, "the bomb was acknowledged");
    assert!(
        peak < before + RSS_GROWTH_LIMIT,
        "relay RSS grew from {before} to {peak} bytes"
    );
    for i in 0..20 {
        assert!(
            body(&reader, &healthy).contains(&format!("{i} ")),
            "edit {i} reached the reader"
        );
    }
    // The bombed document holds nothing of the bomb: a fresh reader syncs it empty.
    let late = client(addr, &bombed);
    assert!(late.wait_until(DEADLINE, |c| c.is_synced(&bombed)).await);
    assert_eq!(
        late.read(&bombed, |d| d.version()).unwrap(),
        VersionVector::new()
    );
    writer.close().await;
    reader.close().await;
    late.close().await;
    kill9(&mut relay);
}
