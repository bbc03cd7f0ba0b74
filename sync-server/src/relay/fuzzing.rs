//! The relay's frame handling driven without sockets, for the `relay_frame` fuzz target
//! (`fuzz/`) and its regression replay (`tests/relay_frame_regressions.rs`). Behind the
//! `fuzzing` feature; not for production.
//!
//! [`check_relay_frames`] runs the real [`Connection::on_frame`] (limits, decoding, permissions,
//! routing by document) and the real [`Room`] (sync session, validation by crdt-core, persisting,
//! fan-out) of one connection joined to one document, as the relay's tasks would, but calling
//! them in turn on one thread: the persister is answered at once, the room's queue is drained
//! after every frame. Rooms the frames open for other documents are spawned on a runtime that
//! never runs them. Checked after every frame, besides "no panic":
//!
//! - a frame that ends the connection gives a close frame with one of the relay's codes and a
//!   reason that fits a close frame (at most 123 bytes), and any `Error` sent before it is a protocol `Error`; every direct reply is an
//!   `Error`; everything the relay sends the peer decodes;
//! - a frame that the connection refuses, or that is not `Changes` for the joined document,
//!   leaves the room's document unchanged (same snapshot bytes);
//! - a `Changes` frame that reaches the room changes its document exactly as
//!   `Doc::apply_changes` of the same bytes changes a copy (content, version, waiting changes):
//!   the relay adds no interpretation of its own, and a refused batch changes nothing;
//! - what the room hands the store, applied to the document as it was, gives the document as it
//!   is: only applied changes are stored.
//!
//! Input: a flags byte (bit 0: the connection has a read-only token instead of open access),
//! then up to [`MAX_FRAMES`] frames, each a kind byte (`0..=5` binary, `6` text, `7` close,
//! else ping), a length (u16 little-endian, clamped to what remains) and the payload.

use std::sync::mpsc as std_mpsc;
use std::sync::Arc;

use axum::extract::ws::Message as WsMessage;
use crdt_core::sync::{self, decode_bounded, encode, DocId, ErrorCode, Message, PeerId};
use crdt_core::{Doc, ReplicaId, VersionVector};
use tokio::sync::{mpsc, watch};

use super::byte_budget::ByteBudget;
use super::connection::{Connection, MAX_CLOSE_REASON};
use super::peer::{Outbound, PeerControl, PeerLink};
use super::persister::PersistMessage;
use super::room::{Room, RoomCommand, RELAY_BUFFER};
use super::rooms::{RoomQueue, ROOM_QUEUE};
use super::websocket::close_code;
use super::RelayContext;
use crate::auth::{Access, Claims, Grant};
use crate::storage::StoredDoc;

/// The document the harness's connection joins.
pub const DOC: &str = "fuzz/doc";

/// Most frames one input sends.
pub const MAX_FRAMES: usize = 32;

/// The connection id of the harness's peer.
const CONN: u64 = 1;

/// One connection and the room of [`DOC`], run by hand.
struct Harness {
    ctx: Arc<RelayContext>,
    conn: Connection,
    room: Room,
    commands: mpsc::Receiver<RoomCommand>,
    persist: std_mpsc::Receiver<PersistMessage>,
    outbound: mpsc::Receiver<Outbound>,
    /// Kept open so that the room can report tickets (the harness answers them itself).
    _persisted: mpsc::UnboundedReceiver<(u64, bool)>,
    _shutdown: watch::Sender<bool>,
}

/// What one frame did.
struct Step {
    /// Whether the connection is still open.
    open: bool,
    /// Whether the frame reached the room as `Changes` for [`DOC`].
    changes_reached_room: Option<Vec<u8>>,
}

/// A document with content by three replicas and one change waiting, as the room loads it.
fn stored_doc() -> StoredDoc {
    StoredDoc {
        snapshot: Some(crdt_core::fuzzing::base_doc().save()),
        batches: Vec::new(),
    }
}

fn doc_id() -> DocId {
    // A constant valid id.
    DocId::new(DOC).expect("the harness's document id is valid")
}

/// Content, version and waiting changes, as text so that NaN floats compare by bits.
fn fingerprint(doc: &Doc) -> String {
    format!(
        "{:?} {:?} {}",
        doc.materialize(),
        doc.version(),
        doc.pending_count()
    )
}

impl Harness {
    fn new(read_only: bool) -> Harness {
        let (persist_tx, persist) = std_mpsc::channel();
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        // Its first connection id is CONN.
        let ctx = Arc::new(RelayContext::for_tests(persist_tx, shutdown_rx));
        let (room, persisted) = Room::load(doc_id(), stored_doc(), Arc::clone(&ctx), None);
        let (room_tx, commands) = mpsc::channel(ROOM_QUEUE);
        let limits = &ctx.config.limits;
        let queue = RoomQueue {
            commands: room_tx,
            budget: ByteBudget::new(limits.room_queue_bytes),
        };
        ctx.rooms.insert(doc_id(), queue);
        let (out_tx, outbound) = mpsc::channel(limits.outbound_queue);
        let link = PeerLink {
            conn: CONN,
            out: out_tx,
            budget: ByteBudget::new(limits.outbound_queue_bytes),
            control: Arc::new(PeerControl::default()),
        };
        let grant = if read_only {
            Grant::Token(Claims {
                doc: "fuzz/*".into(),
                access: Access::Read,
                exp: u64::MAX / 2,
            })
        } else {
            Grant::Open
        };
        Harness {
            conn: Connection::new(CONN, Arc::clone(&ctx), grant, link),
            ctx,
            room,
            commands,
            persist,
            outbound,
            _persisted: persisted,
            _shutdown: shutdown_tx,
        }
    }

    /// Runs the room and the persister until both are idle; returns the batches stored.
    fn pump(&mut self) -> Vec<Vec<u8>> {
        let mut stored = Vec::new();
        loop {
            let mut busy = false;
            while let Ok(command) = self.commands.try_recv() {
                busy = true;
                self.room.handle(command);
            }
            while let Ok(message) = self.persist.try_recv() {
                busy = true;
                if let PersistMessage::Write(request) = message {
                    assert_eq!(request.doc, doc_id(), "a room stored another document");
                    stored.push(request.bytes);
                    self.room.on_persisted(request.ticket, true);
                }
            }
            while let Ok(out) = self.outbound.try_recv() {
                busy = true;
                if let Outbound::Frame { bytes, .. } = out {
                    if let Err(e) = sync::decode(&bytes) {
                        panic!("the relay sent a frame that does not decode: {e}");
                    }
                }
            }
            if !busy {
                return stored;
            }
        }
    }

    /// Feeds one frame and checks what it did to the connection.
    fn frame(&mut self, frame: WsMessage) -> Step {
        let decoded = match &frame {
            WsMessage::Binary(bytes) => {
                decode_bounded(bytes, self.ctx.config.limits.max_frame_bytes).ok()
            }
            _ => None,
        };
        match self.conn.on_frame(frame) {
            Err((error, close)) => {
                let codes = [
                    close_code::GOING_AWAY,
                    close_code::PROTOCOL_ERROR,
                    close_code::UNSUPPORTED_DATA,
                    close_code::POLICY_VIOLATION,
                    close_code::MESSAGE_TOO_BIG,
                ];
                assert!(codes.contains(&close.code), "close code {}", close.code);
                assert!(!close.reason.is_empty(), "a close without a reason");
                assert!(
                    close.reason.len() <= MAX_CLOSE_REASON,
                    "a close reason longer than a close frame holds ({} bytes): {}",
                    close.reason.len(),
                    close.reason
                );
                if let Some(error) = error {
                    assert!(matches!(error, Message::Error { .. }), "{error:?}");
                    check_encodes(&error);
                }
                Step {
                    open: false,
                    changes_reached_room: None,
                }
            }
            Ok(replies) => {
                for reply in &replies {
                    assert!(
                        matches!(reply, Message::Error { .. }),
                        "a direct reply that is not an Error: {reply:?}"
                    );
                    check_encodes(reply);
                }
                let changes_reached_room = match decoded {
                    Some(Message::Changes { doc, bytes, .. })
                        if replies.is_empty() && doc.as_str() == DOC =>
                    {
                        Some(bytes)
                    }
                    _ => None,
                };
                Step {
                    open: true,
                    changes_reached_room,
                }
            }
        }
    }

    /// Sends `frame`, runs the room, and checks the room's document against a reference.
    fn step(&mut self, frame: WsMessage) -> bool {
        let before = self.room.doc_mut().save();
        let before_fp = fingerprint(self.room.doc_mut());
        let step = self.frame(frame);
        let stored = self.pump();
        let after_fp = fingerprint(self.room.doc_mut());
        match &step.changes_reached_room {
            Some(bytes) => {
                let mut reference = load(&before);
                // Refused or partly applied alike: the room must do what crdt-core does.
                let _ = reference.apply_changes(bytes);
                assert_eq!(
                    after_fp,
                    fingerprint(&reference),
                    "the room applied changes otherwise than Doc::apply_changes"
                );
            }
            None => {
                assert_eq!(
                    after_fp, before_fp,
                    "a frame that carried no changes for the room changed its document"
                );
                assert!(
                    self.room.doc_mut().save() == before,
                    "a frame that carried no changes for the room changed its snapshot"
                );
            }
        }
        let mut replayed = load(&before);
        for batch in &stored {
            replayed
                .apply_changes(batch)
                .expect("what the room stores applies to what it held");
        }
        assert_eq!(
            replayed.version(),
            self.room.doc_mut().version(),
            "the store got other changes than the room applied"
        );
        step.open
    }

    /// The connection closes: the room forgets it.
    fn leave(&mut self) {
        self.room.handle(RoomCommand::Leave { conn: CONN });
        self.pump();
    }
}

/// The room's document from its snapshot, buffering like the room (that is, not at all).
fn load(snapshot: &[u8]) -> Doc {
    let mut doc = Doc::load_with_replica(snapshot, ReplicaId::new(0xf00d))
        .expect("the room's snapshot loads");
    doc.set_buffer_limits(RELAY_BUFFER);
    doc
}

fn check_encodes(message: &Message) {
    let frame = encode(message);
    assert!(
        sync::decode(&frame).is_ok_and(|m| &m == message),
        "a message the relay sends does not decode to itself: {message:?}"
    );
}

/// Splits the frames part of an input (see the [module docs](self)).
fn frames(mut rest: &[u8]) -> Vec<WsMessage> {
    let mut out = Vec::new();
    while out.len() < MAX_FRAMES {
        let Some((&kind, tail)) = rest.split_first() else {
            break;
        };
        let (len, tail) = match tail {
            [a, b, tail @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), tail),
            _ => (tail.len(), &[][..]),
        };
        let (payload, tail) = tail.split_at(len.min(tail.len()));
        rest = tail;
        out.push(match kind % 10 {
            0..=5 => WsMessage::Binary(payload.to_vec().into()),
            6 => WsMessage::Text(String::from_utf8_lossy(payload).into_owned().into()),
            7 => WsMessage::Close(None),
            _ => WsMessage::Ping(payload.to_vec().into()),
        });
    }
    out
}

/// Joins [`DOC`] as a client does, then feeds the input's frames (see the [module docs](self));
/// panics when an invariant breaks.
pub fn check_relay_frames(input: &[u8]) {
    let Some((&flags, rest)) = input.split_first() else {
        return;
    };
    // Rooms for other documents are spawned on this runtime and never run.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime without drivers builds");
    let _entered = runtime.enter();
    let mut harness = Harness::new(flags & 1 == 1);
    let hello = Message::Hello {
        doc: doc_id(),
        version: VersionVector::new(),
    };
    assert!(
        harness.step(WsMessage::Binary(encode(&hello).into())),
        "joining closed the connection"
    );
    for frame in frames(rest) {
        if !harness.step(frame) {
            break;
        }
    }
    harness.leave();
}

/// Encodes frames as [`check_relay_frames`] reads them.
pub fn input(read_only: bool, frames: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = vec![u8::from(read_only)];
    for (kind, payload) in frames {
        out.push(*kind);
        let len = u16::try_from(payload.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&payload[..usize::from(len)]);
    }
    out
}

/// Valid inputs to start fuzzing from: changes of every kind of edit (new, already held, waiting
/// for a missing past), presence, acks, another document, a read-only peer, a text frame.
pub fn seeds() -> Vec<Vec<u8>> {
    let doc = doc_id();
    let mut base = crdt_core::fuzzing::base_doc();
    let mut other =
        Doc::load_with_replica(&base.save(), ReplicaId::new(77)).expect("a saved document loads");
    let v = other.version();
    other.text("t").insert(0, "relayed ").expect("in range");
    other
        .map("m")
        .set("k", "v")
        .expect("a root map takes a value");
    other.commit();
    let mut gap = Doc::with_replica(ReplicaId::new(78));
    gap.counter("c").increment(1).expect("a counter op");
    gap.commit();
    let gap_v = gap.version();
    gap.counter("c").increment(2).expect("a counter op");
    gap.commit();
    let changes = |bytes: Vec<u8>| {
        encode(&Message::Changes {
            doc: doc.clone(),
            bytes,
            version: VersionVector::new(),
        })
    };
    let new = changes(other.encode_changes_since(&v));
    let all = changes(other.encode_changes_since(&VersionVector::new()));
    let waiting = changes(gap.encode_changes_since(&gap_v));
    let presence = encode(&Message::Presence {
        doc: doc.clone(),
        peer: PeerId(9),
        clock: 1,
        state: Some(b"cursor 3".to_vec()),
    });
    let ack = encode(&Message::Ack {
        doc: doc.clone(),
        version: other.version(),
    });
    let elsewhere = DocId::new("fuzz/other").expect("a valid id");
    let hello_elsewhere = encode(&Message::Hello {
        doc: elsewhere.clone(),
        version: VersionVector::new(),
    });
    let changes_elsewhere = encode(&Message::Changes {
        doc: elsewhere,
        bytes: other.encode_changes_since(&v),
        version: VersionVector::new(),
    });
    let error = encode(&Message::Error {
        doc: Some(doc.clone()),
        code: ErrorCode::BadMessage,
        message: "peer complains".into(),
    });
    vec![
        input(false, &[(0, new.clone()), (0, presence.clone()), (0, ack)]),
        input(false, &[(0, all.clone()), (0, all.clone()), (0, waiting)]),
        input(true, &[(0, new), (0, presence)]),
        input(
            false,
            &[(0, hello_elsewhere), (0, changes_elsewhere), (0, error)],
        ),
        input(
            false,
            &[(8, b"ping".to_vec()), (6, b"text".to_vec()), (0, all)],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_and_garbage_pass() {
        for seed in seeds() {
            check_relay_frames(&seed);
        }
        check_relay_frames(b"\x00\x00\x03\x00\xff\x00\x01");
        check_relay_frames(b"");
    }

    #[test]
    fn the_seeds_changes_reach_the_room_and_change_it() {
        let seed = &seeds()[0];
        let mut harness = Harness::new(false);
        let hello = Message::Hello {
            doc: doc_id(),
            version: VersionVector::new(),
        };
        assert!(harness.step(WsMessage::Binary(encode(&hello).into())));
        let before = harness.room.doc_mut().version();
        let first = frames(&seed[1..]).remove(0);
        assert!(harness.step(first));
        assert_ne!(harness.room.doc_mut().version(), before);
        assert!(harness
            .room
            .doc_mut()
            .text("t")
            .to_string()
            .starts_with("relayed "));
    }

    #[test]
    fn a_read_only_peers_changes_are_refused_and_change_nothing() {
        let seed = &seeds()[2];
        let mut harness = Harness::new(true);
        let hello = Message::Hello {
            doc: doc_id(),
            version: VersionVector::new(),
        };
        assert!(harness.step(WsMessage::Binary(encode(&hello).into())));
        let before = harness.room.doc_mut().save();
        let first = frames(&seed[1..]).remove(0);
        // `step` checks that the document is unchanged; the connection stays open.
        assert!(harness.step(first));
        assert!(harness.room.doc_mut().save() == before);
    }

    #[test]
    fn garbage_closes_with_a_protocol_error() {
        let mut harness = Harness::new(false);
        assert!(!harness.step(WsMessage::Binary(b"\xc1garbage".to_vec().into())));
        assert!(!harness.step(WsMessage::Text("hi".into())));
    }
}
