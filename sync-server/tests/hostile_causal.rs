//! Issue #17's attacks on causality, against the real relay binary: a change whose Lamport time
//! is forged near `u64::MAX` (which would freeze the document for everyone), a peer whose
//! version vectors name hundreds of thousands of replicas (which froze the relay in an O(n·m)
//! merge), and one frame of 300,000 changes from as many new replicas (after which every honest
//! keystroke carried a copy of a 300,000-entry version). Each test keeps a healthy writer
//! editing throughout and checks it never notices.

mod common;
mod support;

use std::time::{Duration, Instant};

use common::*;
use crdt_core::fuzzing::forge;
use crdt_core::sync::{decode, encode, DocId, ErrorCode, Message, MAX_VERSION_ENTRIES};
use crdt_core::{Change, Op};
use crdt_core::{ContainerId, ContainerKind, Dot, ReplicaId, SeqRange, VersionVector};
use futures_util::{SinkExt, StreamExt};
use support::*;
use tokio_tungstenite::tungstenite::Message as Ws;

/// Held by the tests that load the relay hard (a flood, a responsiveness check), so that one's
/// flood never eats the other's time budget: on a small machine they run one at a time.
static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What a raw peer received: acks and errors, in order.
#[derive(Debug, Default)]
struct Replies {
    acks: Vec<VersionVector>,
    errors: Vec<(ErrorCode, String)>,
}

/// Reads messages for `doc` until `done` holds of what arrived, or `timeout` passes.
async fn read_until(
    socket: &mut Socket,
    timeout: Duration,
    mut done: impl FnMut(&Replies) -> bool,
) -> Replies {
    let mut replies = Replies::default();
    let _ = tokio::time::timeout(timeout, async {
        while !done(&replies) {
            let Some(Ok(frame)) = socket.next().await else {
                return;
            };
            let Ws::Binary(bytes) = frame else { continue };
            match decode(&bytes) {
                Ok(Message::Ack { version, .. }) => replies.acks.push(version),
                Ok(Message::Error { code, message, .. }) => replies.errors.push((code, message)),
                _ => {}
            }
        }
    })
    .await;
    replies
}

fn binary(message: &Message) -> Ws {
    Ws::Binary(encode(message).into())
}

/// One counter increment by `replica` (its first change) on top of `parents`, stamped `lamport`.
fn counter_change(replica: ReplicaId, parents: Vec<Dot>, lamport: u64) -> Change {
    Change {
        id: SeqRange {
            replica,
            start: 1,
            end: 2,
        },
        parents,
        lamport,
        ops: vec![Op::CounterAdd {
            obj: ContainerId::root("likes", ContainerKind::Counter),
            delta: 1,
        }],
        meta: None,
    }
}

/// Types `text` at the end of `body` and waits until the relay acknowledged it.
async fn type_and_wait(client: &sync_server::SyncClient, doc: &DocId, text: &str) -> bool {
    let replica = client.read(doc, |d| d.replica()).expect("joined");
    client
        .edit(doc, |d| {
            let end = d.text("body").len();
            d.text("body").insert(end, text).unwrap();
        })
        .expect("joined");
    // The edit is committed now: the counter it reached.
    let counter = client.read(doc, |d| d.version().get(replica)).unwrap();
    client
        .wait_until(DEADLINE, |c| {
            c.relay_version(doc)
                .is_some_and(|v| v.get(replica) >= counter)
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_lamport_time_is_refused_not_stored_and_everyone_keeps_editing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let db = db.to_str().unwrap();
    let (mut relay, addr) = spawn_relay(&["--bind", "127.0.0.1:0", "--database", db]);
    let doc = id("causal/forged-lamport");
    let writer = client(addr, &doc);
    assert!(type_and_wait(&writer, &doc, "ab").await);

    // The attacker joins and sends one well-formed change stamped near the end of time.
    let mut attacker = raw(addr).await;
    attacker.send(hello(&doc)).await.unwrap();
    let forger = ReplicaId::new(0xbad);
    // The writer is the only writer: its latest event is the document's frontier.
    let version = writer.read(&doc, |d| d.version()).unwrap();
    let heads = version.iter().map(|(r, c)| Dot::new(r, c)).collect();
    let forged = counter_change(forger, heads, u64::MAX - 1);
    let mut claimed = version;
    claimed.set(forger, 1);
    attacker
        .send(binary(&Message::Changes {
            doc: doc.clone(),
            bytes: forge::encode_changes(&[forged]),
            version: claimed,
        }))
        .await
        .unwrap();
    let replies = read_until(&mut attacker, DEADLINE, |r| !r.errors.is_empty()).await;
    assert!(
        replies
            .errors
            .iter()
            .any(|(code, m)| *code == ErrorCode::BadChanges && m.contains("lamport")),
        "refused as a forged change: {replies:?}"
    );
    assert!(
        replies.acks.iter().all(|v| v.get(forger) == 0),
        "never acknowledged: {replies:?}"
    );

    // Everyone keeps editing: the writer, and a second writer joining now.
    assert!(type_and_wait(&writer, &doc, "c").await, "the writer edits");
    let second = client(addr, &doc);
    assert!(second.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    assert!(
        type_and_wait(&second, &doc, "d").await,
        "a new writer edits"
    );
    assert!(converge(&[&writer, &second], &doc).await);

    // Not stored: after a restart, a fresh client sees the honest text and no forged event, and
    // can still edit.
    drop(attacker);
    assert!(terminate(&mut relay), "the relay shuts down cleanly");
    let (mut relay, addr) = spawn_relay(&["--bind", "127.0.0.1:0", "--database", db]);
    let fresh = client(addr, &doc);
    assert!(fresh.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    assert_eq!(fresh.read(&doc, body_of).unwrap(), "abcd");
    assert_eq!(fresh.read(&doc, |d| d.version().get(forger)).unwrap(), 0);
    assert!(
        type_and_wait(&fresh, &doc, "e").await,
        "editable after a restart"
    );
    assert!(terminate(&mut relay));
}

/// Events of `count` replicas numbered down from `top`, one event each.
fn many_replicas(top: u64, count: usize) -> VersionVector {
    (0..count as u64)
        .map(|i| (ReplicaId::new(top - i), 1))
        .collect()
}

/// Times `GET /healthz`.
async fn healthz_time(addr: std::net::SocketAddr) -> Duration {
    let started = Instant::now();
    let (status, _) = http_get(addr, "/healthz").await;
    assert_eq!(status, 200);
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_vectors_of_many_replicas_leave_the_relay_responsive() {
    let _heavy = HEAVY.lock().await;
    let (mut relay, addr) = spawn_relay(&["--bind", "127.0.0.1:0", "--memory"]);
    let healthy_doc = id("causal/healthy");
    let healthy = client(addr, &healthy_doc);
    assert!(type_and_wait(&healthy, &healthy_doc, "start").await);

    // The attack as sent: a Hello of 300k replica ids. Refused by the frame decoder.
    let victims = [id("causal/victim-1"), id("causal/victim-2")];
    let mut oversized = raw(addr).await;
    oversized
        .send(binary(&Message::Hello {
            doc: victims[0].clone(),
            version: many_replicas(u64::MAX, 300_000),
        }))
        .await
        .unwrap();
    let seen = read_until_closed(&mut oversized, DEADLINE).await;
    assert!(
        seen.errors
            .iter()
            .any(|(_, m)| m.contains("version vector")),
        "refused by the cap: {seen:?}"
    );

    // The same attack within the cap, on two documents at once: a Hello of the most entries a
    // frame may carry, then Acks of as many lower ids, again and again.
    let mut attackers = Vec::new();
    for victim in &victims {
        let mut socket = raw(addr).await;
        socket
            .send(binary(&Message::Hello {
                doc: victim.clone(),
                version: many_replicas(u64::MAX, MAX_VERSION_ENTRIES),
            }))
            .await
            .unwrap();
        for round in 1..=4u64 {
            let top = u64::MAX - round * MAX_VERSION_ENTRIES as u64;
            socket
                .send(binary(&Message::Ack {
                    doc: victim.clone(),
                    version: many_replicas(top, MAX_VERSION_ENTRIES),
                }))
                .await
                .unwrap();
        }
        attackers.push(socket);
    }

    // Meanwhile the relay answers and the healthy peer keeps syncing. The bounds are loose (a
    // debug build on a loaded 2-core CI machine): the quadratic merge froze the relay for over a
    // minute, so they still tell the two apart without depending on this machine's speed.
    for word in [" one", " two", " three"] {
        let took = healthz_time(addr).await;
        assert!(took < Duration::from_secs(5), "/healthz took {took:?}");
        let started = Instant::now();
        assert!(type_and_wait(&healthy, &healthy_doc, word).await);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "an edit took {:?} to be acknowledged",
            started.elapsed()
        );
    }
    let took = healthz_time(addr).await;
    assert!(took < Duration::from_secs(5), "/healthz took {took:?}");
    assert!(healthy.is_connected());
    assert!(terminate(&mut relay));
}

/// The frame of the flood: `count` one-op changes, each from a new replica with no parents.
fn flood_frame(doc: &DocId, count: u64) -> Ws {
    let changes: Vec<Change> = (0..count)
        // An odd multiplier is a bijection on u64: distinct ids in no useful order.
        .map(|i| {
            counter_change(
                ReplicaId::new((i + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                vec![],
                1,
            )
        })
        .collect();
    binary(&Message::Changes {
        doc: doc.clone(),
        bytes: forge::encode_changes(&changes),
        version: VersionVector::new(),
    })
}

/// The sizes of the Changes frames `socket` receives until their versions tell that it holds
/// event `counter` of `replica`.
async fn changes_frames_until(socket: &mut Socket, replica: ReplicaId, counter: u64) -> Vec<usize> {
    let mut sizes = Vec::new();
    let _ = tokio::time::timeout(DEADLINE, async {
        while let Some(Ok(frame)) = socket.next().await {
            let Ws::Binary(bytes) = frame else { continue };
            if let Ok(Message::Changes { version, .. }) = decode(&bytes) {
                sizes.push(bytes.len());
                if version.get(replica) >= counter {
                    return;
                }
            }
        }
    })
    .await;
    sizes
}

/// The writer's replica and its latest counter.
fn latest(client: &sync_server::SyncClient, doc: &DocId) -> (ReplicaId, u64) {
    client
        .read(doc, |d| (d.replica(), d.version().get(d.replica())))
        .expect("joined")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_flood_of_replicas_a_keystroke_stays_small() {
    let _heavy = HEAVY.lock().await;
    let (mut relay, addr) = spawn_relay(&["--bind", "127.0.0.1:0", "--memory"]);
    let doc = id("causal/flood");
    let writer = client(addr, &doc);
    assert!(type_and_wait(&writer, &doc, "a").await);

    // One frame of 300,000 one-op changes from 300,000 new replicas, all concurrent.
    let mut attacker = raw(addr).await;
    attacker.send(hello(&doc)).await.unwrap();
    let started = Instant::now();
    attacker.send(flood_frame(&doc, 300_000)).await.unwrap();
    // Past the most replicas a document holds, the rest is refused (code 9).
    let replies = read_until(&mut attacker, Duration::from_secs(120), |r| {
        !r.errors.is_empty()
    })
    .await;
    assert!(
        replies
            .errors
            .iter()
            .any(|(code, m)| *code == ErrorCode::BadChanges && m.contains("replicas")),
        "{:?}",
        replies.errors
    );
    let flood_took = started.elapsed();
    assert!(
        writer
            .wait_until(Duration::from_secs(120), |c| c
                .read(&doc, |d| d.version().len() == MAX_VERSION_ENTRIES)
                .unwrap_or(false))
            .await,
        "the writer receives what the relay kept"
    );

    // A reader watches the Changes frames the relay fans out for the writer's keystrokes.
    let mut reader = raw(addr).await;
    reader
        .send(binary(&Message::Hello {
            doc: doc.clone(),
            version: writer.read(&doc, |d| d.version()).unwrap(),
        }))
        .await
        .unwrap();
    // The first keystroke merges the flood (its parents are the concurrent changes).
    assert!(
        type_and_wait(&writer, &doc, "b").await,
        "the merge is accepted"
    );
    let (replica, counter) = latest(&writer, &doc);
    let merge = changes_frames_until(&mut reader, replica, counter).await;
    assert_eq!(merge.len(), 1, "the reader gets the merge");
    // A few keystrokes to settle (the merge's storage and compaction), then measure.
    for _ in 0..5 {
        assert!(type_and_wait(&writer, &doc, ".").await);
    }
    let (replica, counter) = latest(&writer, &doc);
    assert!(!changes_frames_until(&mut reader, replica, counter)
        .await
        .is_empty());
    let rss_before = rss_bytes(relay.id());
    // Before parents, each of these stored a 65,536-entry copy of the version (1 MiB).
    let keystrokes = 60;
    let typing = Instant::now();
    for i in 0..keystrokes {
        let started = Instant::now();
        assert!(type_and_wait(&writer, &doc, &format!("{}", i % 10)).await);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "a keystroke took {:?} to be acknowledged",
            started.elapsed()
        );
    }
    let (replica, counter) = latest(&writer, &doc);
    let per_keystroke = typing.elapsed() / keystrokes as u32;
    let sizes = changes_frames_until(&mut reader, replica, counter).await;
    let rss_after = rss_bytes(relay.id());
    eprintln!(
        "flood took {flood_took:?}; merge frame {} B; {per_keystroke:?} per acked keystroke; \
         keystroke frames {sizes:?} B; relay RSS {} -> {} MiB",
        merge[0],
        rss_before >> 20,
        rss_after >> 20
    );
    // The relay may carry several keystrokes in one frame to a reader that lags.
    assert!(!sizes.is_empty(), "the keystrokes reached the reader");
    assert!(
        sizes.iter().all(|&b| b < 1024),
        "keystroke frames of {sizes:?} bytes"
    );
    let grown = rss_after.saturating_sub(rss_before);
    assert!(
        grown < keystrokes as u64 * (128 << 10),
        "relay RSS grew {} KiB over {keystrokes} keystrokes",
        grown >> 10
    );
    assert!(terminate(&mut relay));
}
