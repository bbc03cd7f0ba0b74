//! Raw WebSocket peers that join a document, announce presence and exchange `Signal`s: shared
//! by the signaling tests of one relay (hostile_signaling.rs) and of a cluster
//! (cluster_signaling.rs).

#![allow(dead_code)]

use std::time::Duration;

use crdt_core::sync::{decode, encode, DocId, ErrorCode, Message, PeerId};
use crdt_core::VersionVector;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as Ws;

use crate::common::DEADLINE;
use crate::support::Socket;

/// Sends one message.
pub async fn send(socket: &mut Socket, message: &Message) {
    socket
        .send(Ws::Binary(encode(message).into()))
        .await
        .expect("sends");
}

/// Joins `doc` and announces a presence state, so the room's others learn this peer's id.
pub async fn join(socket: &mut Socket, doc: &DocId) {
    let hello = Message::Hello {
        doc: doc.clone(),
        version: VersionVector::new(),
    };
    send(socket, &hello).await;
    let presence = Message::Presence {
        doc: doc.clone(),
        peer: PeerId(0),
        clock: 1,
        state: Some(b"{}".to_vec()),
    };
    send(socket, &presence).await;
}

/// The next message satisfying `wanted`, within `timeout` (`None`: none came).
pub async fn next_where(
    socket: &mut Socket,
    timeout: Duration,
    mut wanted: impl FnMut(&Message) -> bool,
) -> Option<Message> {
    tokio::time::timeout(timeout, async {
        while let Some(Ok(frame)) = socket.next().await {
            if let Ws::Binary(bytes) = frame {
                if let Ok(message) = decode(&bytes) {
                    if wanted(&message) {
                        return Some(message);
                    }
                }
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

/// The peer id the relay gave the sender of the first presence state `socket` receives from a
/// peer not in `known` (presence may be announced again, e.g. across cluster nodes).
pub async fn peer_announced(socket: &mut Socket, known: &[PeerId]) -> PeerId {
    match next_where(
        socket,
        DEADLINE,
        |m| matches!(m, Message::Presence { state: Some(_), peer, .. } if !known.contains(peer)),
    )
    .await
    {
        Some(Message::Presence { peer, .. }) => peer,
        other => panic!("no presence came: {other:?}"),
    }
}

/// A signal to `to` with a forged sender (the relay must replace it).
pub fn signal(doc: &DocId, to: PeerId, payload: &[u8]) -> Message {
    Message::Signal {
        doc: doc.clone(),
        from: PeerId(0xdead_beef),
        to,
        payload: payload.to_vec(),
    }
}

/// Whether `m` is a signal.
pub fn is_signal(m: &Message) -> bool {
    matches!(m, Message::Signal { .. })
}

/// A predicate: an `Error` of `code`.
pub fn is_error(code: ErrorCode) -> impl FnMut(&Message) -> bool {
    move |m| matches!(m, Message::Error { code: c, .. } if *c == code)
}
