//! Issue #17: a replica id belongs to one writer, end to end against the relay binary.
//!
//! - A connection that sends changes under another live connection's replica id (taking its
//!   next counters, which the relay's Hello tells anyone) is refused with `ReplicaTaken`; the
//!   victim's next edits are taken and the victim and an observer converge.
//! - A change that reuses an id range the relay holds, with other content, gets an Error and
//!   never an Ack.
//! - Two clients that load one saved document under one replica id both edit at once and all
//!   converge.

mod common;
mod support;

use std::process::Child;

use common::*;
use crdt_core::sync::{decode, encode, DocId, ErrorCode, Message, SyncSession};
use crdt_core::{Doc, ReplicaId};
use futures_util::{SinkExt, StreamExt};
use support::*;
use sync_server::SyncClient;
use tokio_tungstenite::tungstenite::Message as Ws;

/// The relay binary with an in-memory store; killed when dropped.
struct RelayProcess(Child, std::net::SocketAddr);

impl RelayProcess {
    fn start() -> Self {
        let (child, addr) = spawn_relay(&["--bind", "127.0.0.1:0", "--memory"]);
        RelayProcess(child, addr)
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        kill9(&mut self.0);
    }
}

/// A raw peer: a socket and the same sans-IO session a client runs, so that it can forge
/// exactly the bytes an honest client would send, under any replica id.
struct RawPeer {
    socket: Socket,
    session: SyncSession,
    doc: Doc,
}

impl RawPeer {
    /// Connects, joins `doc_id` and applies what the relay sends until synced.
    async fn join(addr: std::net::SocketAddr, doc_id: &DocId) -> RawPeer {
        let mut peer = RawPeer {
            socket: raw(addr).await,
            session: SyncSession::new(doc_id.clone()),
            doc: Doc::new(),
        };
        let hello = peer.session.connect(&peer.doc);
        peer.send(hello).await;
        peer.read_until(|p, _| p.session.is_synced(&p.doc)).await;
        peer
    }

    async fn send(&mut self, messages: Vec<Message>) {
        for m in messages {
            self.socket
                .send(Ws::Binary(encode(&m).into()))
                .await
                .unwrap();
        }
    }

    /// Reads (through the session; errors are kept, not applied) until `done` holds for the
    /// peer and the messages read so far; returns them. Panics past the deadline.
    async fn read_until(
        &mut self,
        mut done: impl FnMut(&Self, &[Message]) -> bool,
    ) -> Vec<Message> {
        let mut seen = Vec::new();
        let read = tokio::time::timeout(DEADLINE, async {
            while !done(self, &seen) {
                let Some(Ok(frame)) = self.socket.next().await else {
                    panic!("the relay closed the connection");
                };
                let Ws::Binary(bytes) = frame else { continue };
                let message = decode(&bytes).expect("the relay sends decodable frames");
                seen.push(message.clone());
                if let Ok(answer) = self.session.receive(&mut self.doc, message) {
                    self.send(answer).await;
                }
            }
        })
        .await;
        assert!(read.is_ok(), "nothing the test waited for came: {seen:?}");
        seen
    }
}

fn errors(messages: &[Message]) -> Vec<(ErrorCode, String)> {
    messages
        .iter()
        .filter_map(|m| match m {
            Message::Error { code, message, .. } => Some((*code, message.clone())),
            _ => None,
        })
        .collect()
}

fn own_replica(client: &SyncClient, doc: &DocId) -> ReplicaId {
    client.read(doc, |d| d.replica()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_under_another_live_connections_replica_id_are_refused_and_everyone_converges() {
    let relay = RelayProcess::start();
    let doc = id("replicas/impersonated");
    let victim = client(relay.1, &doc);
    let observer = client(relay.1, &doc);
    // The victim writes while joined (edits it held when it said Hello bind nothing: they may
    // be another writer's that it forwards).
    assert!(victim.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    victim.edit(&doc, |d| d.text("body").insert(0, "hello").unwrap());
    assert!(converge(&[&victim, &observer], &doc).await);
    let victims_id = own_replica(&victim, &doc);

    // The attacker learns everything from the relay, then writes the victim's next counters.
    let mut attacker = RawPeer::join(relay.1, &doc).await;
    attacker.doc.set_replica(victims_id);
    attacker.doc.text("body").insert(5, " FORGED").unwrap();
    attacker.doc.commit();
    assert_eq!(
        attacker.doc.version().get(victims_id),
        victim.read(&doc, |d| d.version().get(victims_id)).unwrap() + 7,
        "the forged change takes the victim's next counters"
    );
    let forged = attacker.session.on_local_change(&attacker.doc);
    attacker.send(forged).await;
    let answer = attacker
        .read_until(|_, seen| !errors(seen).is_empty())
        .await;
    let refused = errors(&answer);
    assert_eq!(refused[0].0, ErrorCode::ReplicaTaken, "{refused:?}");
    assert!(
        refused[0].1.contains(&victims_id.to_string()),
        "the error names the taken id: {refused:?}"
    );
    assert!(
        !answer.iter().any(|m| matches!(m, Message::Ack { .. })),
        "the forged change was acknowledged: {answer:?}"
    );

    // The victim keeps its id and keeps editing; everybody converges on its edits alone.
    victim.edit(&doc, |d| {
        let end = d.text("body").len();
        d.text("body").insert(end, " world").unwrap()
    });
    assert!(converge(&[&victim, &observer], &doc).await);
    assert_eq!(own_replica(&victim, &doc), victims_id);
    assert_eq!(body(&observer, &doc), "hello world");
    assert!(victim.errors().is_empty(), "{:?}", victim.errors());
    victim.close().await;
    observer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_reusing_a_held_id_range_with_other_content_gets_an_error_never_an_ack() {
    let relay = RelayProcess::start();
    let doc = id("replicas/reused-range");
    let writer = client(relay.1, &doc);
    writer.edit(&doc, |d| d.text("body").insert(0, "original").unwrap());
    assert!(writer.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    let writers_id = own_replica(&writer, &doc);
    // The writer is gone: no live connection writes its id any more.
    writer.close().await;

    // Counters 1..=8 of the writer's id again, with other content.
    let mut forger = RawPeer::join(relay.1, &doc).await;
    let mut forged = Doc::with_replica(writers_id);
    forged.text("body").insert(0, "FORGED!!").unwrap();
    forged.commit();
    assert_eq!(forged.version(), forger.doc.version(), "the same id range");
    let changes = Message::Changes {
        doc: doc.clone(),
        bytes: forged.encode_changes_since(&crdt_core::VersionVector::new()),
        version: forged.version(),
    };
    forger.send(vec![changes]).await;
    // Then an honest edit under the forger's own id: its Ack comes after whatever the relay
    // answers to the forged Changes.
    let own = forger.doc.replica();
    forger.doc.text("body").insert(0, "!").unwrap();
    forger.doc.commit();
    let honest = forger.session.on_local_change(&forger.doc);
    forger.send(honest).await;
    let answer = forger
        .read_until(|_, seen| {
            seen.iter()
                .any(|m| matches!(m, Message::Ack { version, .. } if version.get(own) > 0))
        })
        .await;
    let refused = errors(&answer);
    assert!(
        refused.iter().any(
            |(code, text)| *code == ErrorCode::BadChanges && text.contains("different content")
        ),
        "no error for the reused id range: {answer:?}"
    );
    assert!(
        !answer
            .iter()
            .any(|m| matches!(m, Message::Ack { version, .. } if version.get(writers_id) > 0)),
        "the reused id range was acknowledged: {answer:?}"
    );
    let observer = client(relay.1, &doc);
    assert!(observer.wait_until(DEADLINE, |c| c.is_synced(&doc)).await);
    assert_eq!(body(&observer, &doc), "!original");
    observer.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_loading_one_saved_document_under_one_replica_id_both_edit_and_converge() {
    let relay = RelayProcess::start();
    let doc = id("replicas/restored-twice");
    let shared_id = ReplicaId::new(0x5eed);
    let mut original = Doc::with_replica(shared_id);
    original.text("body").insert(0, "base").unwrap();
    let saved = original.save();

    let observer = client(relay.1, &doc);
    let twins: Vec<SyncClient> = (0..2)
        .map(|_| {
            let twin = SyncClient::connect(&url(relay.1), Default::default());
            twin.join(
                doc.clone(),
                Doc::load_with_replica(&saved, shared_id).unwrap(),
            );
            twin
        })
        .collect();
    // Both edit at once, before either hears of the other.
    for (i, twin) in twins.iter().enumerate() {
        twin.edit(&doc, |d| {
            d.text("body").insert(4, &format!(" twin{i}")).unwrap()
        });
    }
    let all = [&twins[0], &twins[1], &observer];
    assert!(converge(&all, &doc).await, "the twins diverged");
    let text = body(&observer, &doc);
    assert!(text.contains("twin0") && text.contains("twin1"), "{text}");
    // And keep editing, one after the other.
    twins[1].edit(&doc, |d| d.text("body").insert(0, "> ").unwrap());
    twins[0].edit(&doc, |d| d.text("body").insert(0, "# ").unwrap());
    assert!(converge(&all, &doc).await);
    let ids: Vec<ReplicaId> = twins.iter().map(|t| own_replica(t, &doc)).collect();
    assert!(ids[0] != ids[1] && !ids.contains(&shared_id), "{ids:?}");
    for twin in twins {
        assert!(twin.errors().is_empty(), "{:?}", twin.errors());
        twin.close().await;
    }
    observer.close().await;
}
