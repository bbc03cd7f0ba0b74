//! [`SyncSession`]: the protocol state machine for one document with one other peer.
//!
//! The same machine serves both ends: a client holds one session per document it syncs with the
//! relay, and the relay holds one per connected peer per document. It does no I/O: the driver
//! feeds it what arrived ([`SyncSession::receive`]) and sends what it returns.
//!
//! Invariants (each is a test below or a property of the network simulator):
//! - It sends only what the other side lacks: changes not covered by `sent`, where `sent` is what
//!   the other side told us it holds (Hello, Ack, the versions carried by its Changes) plus what we
//!   sent on this connection since the last (re-)Hello. Acked data is never sent again.
//! - It never assumes that unacknowledged data arrived: every Hello (ours on connect, or theirs)
//!   forgets what was in flight, so the exchange restarts from what both sides *declared*.
//! - A repeated or stale message is a no-op: versions merge (never go back), applying changes is
//!   idempotent, presence keeps the newest clock, and messages that arrive while the session is
//!   disconnected (left over from a closed connection) are ignored.
//!
//! It follows Automerge's sans-IO sync (`generate_sync_message` / `receive_sync_message` over a
//! per-peer `sync::State`), with version vectors in place of hash graphs.
//!
//! ```
//! use crdt_core::sync::{SyncDoc, SyncSession, DocId};
//! use crdt_core::VersionVector;
//! # use crdt_core::{ReplicaId};
//! # use std::collections::BTreeSet;
//! # /// A grow-only set of u64 per replica, each value one event, no deps: enough for a doctest.
//! # #[derive(Default)] struct Notes(BTreeSet<(u64, u64)>);
//! # impl SyncDoc for Notes {
//! #     type Error = std::convert::Infallible;
//! #     fn version(&self) -> VersionVector {
//! #         let mut v = VersionVector::new();
//! #         for &(r, c) in &self.0 { if c == v.get(ReplicaId::new(r)) + 1 { v.set(ReplicaId::new(r), c) } }
//! #         v
//! #     }
//! #     fn encode_changes_since(&self, since: &VersionVector) -> Vec<u8> {
//! #         self.0.iter().filter(|&&(r, c)| c > since.get(ReplicaId::new(r)))
//! #             .flat_map(|&(r, c)| [r.to_le_bytes(), c.to_le_bytes()].concat()).collect()
//! #     }
//! #     fn apply_changes(&mut self, b: &[u8]) -> Result<(), Self::Error> {
//! #         for ch in b.chunks_exact(16) {
//! #             let n = |s: &[u8]| u64::from_le_bytes(s.try_into().unwrap());
//! #             self.0.insert((n(&ch[..8]), n(&ch[8..])));
//! #         }
//! #         Ok(())
//! #     }
//! # }
//! let id = DocId::new("notes").unwrap();
//! let (mut alice, mut bob) = (Notes::default(), Notes::default());
//! alice.0.insert((1, 1)); // an edit made offline
//! let (mut a, mut b) = (SyncSession::new(id.clone()), SyncSession::new(id));
//!
//! // The transport opened: both say Hello, then deliver everything until nobody has more to say.
//! let mut to_bob = a.connect(&alice);
//! let mut to_alice = b.connect(&bob);
//! while !to_bob.is_empty() || !to_alice.is_empty() {
//!     for m in std::mem::take(&mut to_bob) { to_alice.extend(b.receive(&mut bob, m).unwrap()) }
//!     for m in std::mem::take(&mut to_alice) { to_bob.extend(a.receive(&mut alice, m).unwrap()) }
//! }
//! assert_eq!(bob.0, alice.0);
//! assert!(a.is_synced(&alice) && b.is_synced(&bob));
//! ```

use super::message::{DocId, ErrorCode, Message, PeerId, MAX_VERSION_ENTRIES};
use super::presence::PresenceMap;
use super::sync_doc::SyncDoc;
use crate::clock::{ReplicaId, VersionVector};

/// Why [`SyncSession::receive`] failed. `E` is the document's apply error.
#[derive(Debug, thiserror::Error)]
pub enum SyncError<E: std::error::Error + 'static> {
    /// The message is about another document (or none): the driver routed it wrongly.
    #[error("message for document {got:?} reached the session of {expected}")]
    WrongDocument {
        /// This session's document.
        expected: DocId,
        /// The message's document.
        got: Option<DocId>,
    },
    /// The document refused the changes' bytes. Nothing was answered; the session is unchanged
    /// apart from what the message told about the other side's version.
    #[error("the document refused the changes: {0}")]
    Apply(#[source] E),
    /// The other side sent an [`Message::Error`].
    #[error("the other side reported {code:?}: {message}")]
    Remote {
        /// Its code.
        code: ErrorCode,
        /// Its explanation.
        message: String,
    },
}

impl<E: std::error::Error + 'static> SyncError<E> {
    /// The [`Message::Error`] to tell the other side about this failure, if any (an error the
    /// other side reported is not echoed).
    pub fn to_message(&self, doc: &DocId) -> Option<Message> {
        let code = match self {
            SyncError::WrongDocument { .. } => ErrorCode::NotJoined,
            SyncError::Apply(_) => ErrorCode::BadChanges,
            SyncError::Remote { .. } => return None,
        };
        Some(Message::Error {
            doc: Some(doc.clone()),
            code,
            message: self.to_string(),
        })
    }
}

/// This side's own presence, re-announced on every (re)connect with a higher clock.
#[derive(Clone, Debug)]
struct LocalPresence {
    peer: PeerId,
    clock: u64,
    state: Option<Vec<u8>>,
}

/// The sync state of one document with one other peer; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct SyncSession {
    doc: DocId,
    /// Between `connect` (or a received Hello) and `disconnect`.
    connected: bool,
    /// The other side's Hello arrived on this connection: we know what it holds.
    heard_hello: bool,
    /// Events the other side told us it holds, on this connection, for replicas our document
    /// has seen: entries for others are of no use to what we send, and a peer could make them
    /// millions.
    their: VersionVector,
    /// Entries the other side declared for replicas our document has not seen (yet): kept
    /// apart, at most [`MAX_VERSION_ENTRIES`], and moved into `their` once the replica is seen
    /// (typically when its changes arrive from the same side, whose Hello named them before).
    their_unseen: VersionVector,
    /// `their` plus what we sent since the last Hello: what not to send again.
    sent: VersionVector,
    /// What we told the other side we hold, on this connection.
    announced: VersionVector,
    local_presence: Option<LocalPresence>,
    presence: PresenceMap,
}

impl SyncSession {
    /// A disconnected session for `doc`.
    pub fn new(doc: DocId) -> Self {
        SyncSession {
            doc,
            connected: false,
            heard_hello: false,
            their: VersionVector::new(),
            their_unseen: VersionVector::new(),
            sent: VersionVector::new(),
            announced: VersionVector::new(),
            local_presence: None,
            presence: PresenceMap::new(),
        }
    }

    /// The document this session syncs.
    pub fn doc_id(&self) -> &DocId {
        &self.doc
    }

    /// True between [`connect`](Self::connect) (or a received Hello) and
    /// [`disconnect`](Self::disconnect).
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// The transport is up: says Hello with our version (and our presence, if set).
    ///
    /// May be called again on a live connection to re-synchronise (e.g. from a driver's timer
    /// when the transport may lose messages): it forgets what was in flight and, if the other
    /// side's Hello is known, resends what it has not acknowledged.
    pub fn connect(&mut self, doc: &impl SyncDoc) -> Vec<Message> {
        self.connected = true;
        self.sent = self.their.clone();
        let version = doc.version();
        self.announced = version.clone();
        let mut out = vec![Message::Hello {
            doc: self.doc.clone(),
            version,
        }];
        if let Some(local) = &mut self.local_presence {
            local.clock += 1;
            out.push(presence_message(&self.doc, local));
        }
        out.extend(self.flush(doc));
        out
    }

    /// The transport closed: forgets everything about the other side (what it holds, what was in
    /// flight, its peers' presence). Our own presence is kept and re-announced on the next connect.
    pub fn disconnect(&mut self) {
        self.connected = false;
        self.heard_hello = false;
        self.their = VersionVector::new();
        self.their_unseen = VersionVector::new();
        self.sent = VersionVector::new();
        self.announced = VersionVector::new();
        self.presence.clear();
    }

    /// Handles one message from the other side and returns the answers to send back.
    ///
    /// A Hello while disconnected joins (answers with our Hello, then what the other side lacks).
    /// Other messages while disconnected are left over from a closed connection and ignored. After
    /// the document changed here, the driver calls [`on_local_change`](Self::on_local_change) on
    /// the document's *other* sessions (that is how a relay fans out).
    pub fn receive<D: SyncDoc>(
        &mut self,
        doc: &mut D,
        message: Message,
    ) -> Result<Vec<Message>, SyncError<D::Error>> {
        if let Message::Error { code, message, .. } = message {
            return Err(SyncError::Remote { code, message });
        }
        if message.doc() != Some(&self.doc) {
            return Err(SyncError::WrongDocument {
                expected: self.doc.clone(),
                got: message.doc().cloned(),
            });
        }
        let joining = matches!(message, Message::Hello { .. }) && !self.connected;
        if !self.connected && !joining {
            return Ok(Vec::new());
        }
        let mut out = if joining {
            self.connect(doc)
        } else {
            Vec::new()
        };
        match message {
            Message::Hello { version, .. } => {
                self.learn(&version, &doc.version());
                // The other side (re)started the exchange: anything in flight may be lost.
                self.sent = self.their.clone();
                self.heard_hello = true;
            }
            Message::Changes { bytes, version, .. } => {
                // Applied first, so that the replicas the changes introduce count as seen.
                let applied = doc.apply_changes(&bytes);
                self.learn(&version, &doc.version());
                applied.map_err(SyncError::Apply)?;
                // Acknowledge what we hold now (nothing when the changes were duplicates or
                // still wait for their causal past).
                let grown = self.announce(&doc.version());
                if !grown.is_empty() {
                    out.push(Message::Ack {
                        doc: self.doc.clone(),
                        version: grown,
                    });
                }
            }
            Message::Ack { version, .. } => self.learn(&version, &doc.version()),
            Message::Presence {
                peer, clock, state, ..
            } => {
                self.presence.apply(peer, clock, state);
            }
            // Handled above.
            Message::Error { .. } => {}
            // Signaling is the driver's business (it opens direct channels); nothing to sync.
            Message::Signal { .. } => {}
        }
        out.extend(self.flush(doc));
        Ok(out)
    }

    /// The document changed other than through this session (a local edit, or changes another
    /// session applied): returns the changes the other side lacks, if it is time to send them.
    pub fn on_local_change(&mut self, doc: &impl SyncDoc) -> Vec<Message> {
        self.flush(doc)
    }

    /// Sets (or with `None` withdraws) this side's presence as `peer`; returns the message to
    /// send if connected. The state is re-announced on every connect until changed.
    pub fn set_presence(&mut self, peer: PeerId, state: Option<Vec<u8>>) -> Vec<Message> {
        let clock = self.local_presence.as_ref().map_or(1, |p| p.clock + 1);
        let local = LocalPresence { peer, clock, state };
        let out = if self.connected {
            vec![presence_message(&self.doc, &local)]
        } else {
            Vec::new()
        };
        self.local_presence = Some(local);
        out
    }

    /// Presence received on the current connection, newest per peer (empty when disconnected).
    pub fn presence(&self) -> &PresenceMap {
        &self.presence
    }

    /// What the other side holds of the replicas our document has seen, as far as it told us on
    /// this connection; `None` until its Hello.
    pub fn their_version(&self) -> Option<&VersionVector> {
        self.heard_hello.then_some(&self.their)
    }

    /// True when connected and, as far as this session knows, both sides hold the same events.
    pub fn is_synced(&self, doc: &impl SyncDoc) -> bool {
        self.connected
            && self.heard_hello
            && self.their_unseen.is_empty()
            && self.their == doc.version()
    }

    /// Records that the other side holds `version`. Entries for replicas `ours` has never seen
    /// do not enter `their` and `sent` (what we send depends only on our replicas): they wait,
    /// bounded, in `their_unseen`, so that a peer naming millions of replicas costs a bounded
    /// amount of memory and every merge stays linear.
    fn learn(&mut self, version: &VersionVector, ours: &VersionVector) {
        let full = self.their_unseen.len() >= MAX_VERSION_ENTRIES;
        let (known, unseen): (VersionVector, Vec<_>) = if self.their_unseen.is_empty() || full {
            // (Once full, the entries kept stay as they are: only a hostile peer gets there.)
            split_known(version.iter(), ours)
        } else {
            // Entries kept earlier may name replicas seen since.
            let mut incoming = std::mem::take(&mut self.their_unseen);
            incoming.merge(version);
            split_known(incoming.iter(), ours)
        };
        self.their.merge(&known);
        self.sent.merge(&known);
        if !unseen.is_empty() && !full {
            self.their_unseen = unseen.into_iter().take(MAX_VERSION_ENTRIES).collect();
        }
    }

    /// The entries of `version` not yet announced on this connection; marks them announced.
    fn announce(&mut self, version: &VersionVector) -> VersionVector {
        // One walk over both vectors (the document's may hold many replicas).
        let grown: VersionVector = version
            .missing_from(&self.announced)
            .into_iter()
            .map(|range| (range.replica, range.end - 1))
            .collect();
        self.announced.merge(&grown);
        grown
    }

    /// What to tell the other side now: the changes it lacks and we have not sent (once its
    /// Hello told us what it holds), which carry our grown version entries; or, with nothing to
    /// send, an Ack of those entries, so that it never sends us what we hold already.
    fn flush(&mut self, doc: &impl SyncDoc) -> Vec<Message> {
        if !self.connected {
            return Vec::new();
        }
        let version = doc.version();
        if self.heard_hello && !version.missing_from(&self.sent).is_empty() {
            let bytes = doc.encode_changes_since(&self.sent);
            self.sent.merge(&version);
            return vec![Message::Changes {
                doc: self.doc.clone(),
                bytes,
                version: self.announce(&version),
            }];
        }
        let grown = self.announce(&version);
        if grown.is_empty() {
            Vec::new()
        } else {
            vec![Message::Ack {
                doc: self.doc.clone(),
                version: grown,
            }]
        }
    }
}

/// Splits version entries into those of replicas `ours` has seen (a vector) and the others.
fn split_known(
    entries: impl Iterator<Item = (ReplicaId, u64)>,
    ours: &VersionVector,
) -> (VersionVector, Vec<(ReplicaId, u64)>) {
    let (known, unseen): (Vec<_>, Vec<_>) = entries.partition(|&(r, _)| ours.get(r) > 0);
    (known.into_iter().collect(), unseen)
}

/// The message announcing `local`.
fn presence_message(doc: &DocId, local: &LocalPresence) -> Message {
    Message::Presence {
        doc: doc.clone(),
        peer: local.peer,
        clock: local.clock,
        state: local.state.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::test_doc::EventSet;

    fn id() -> DocId {
        DocId::new("test/doc").unwrap()
    }

    /// Two peers, each with a document and a session for the other.
    struct Pair {
        docs: [EventSet; 2],
        sessions: [SyncSession; 2],
    }

    impl Pair {
        fn new() -> Self {
            Pair {
                docs: [EventSet::new(1), EventSet::new(2)],
                sessions: [SyncSession::new(id()), SyncSession::new(id())],
            }
        }

        fn receive(&mut self, to: usize, m: Message) -> Vec<Message> {
            self.sessions[to].receive(&mut self.docs[to], m).unwrap()
        }

        /// Delivers `out[s]` (messages from side s) in order until nobody has more to say;
        /// returns the number of events each side sent in Changes.
        fn pump(&mut self, mut out: [Vec<Message>; 2]) -> [usize; 2] {
            let mut sent = [0, 0];
            while !out[0].is_empty() || !out[1].is_empty() {
                for from in 0..2 {
                    for m in std::mem::take(&mut out[from]) {
                        if let Message::Changes { bytes, .. } = &m {
                            sent[from] += EventSet::count_events(bytes);
                        }
                        let replies = self.receive(1 - from, m);
                        out[1 - from].extend(replies);
                    }
                }
            }
            sent
        }

        fn connect(&mut self) -> [usize; 2] {
            let a = self.sessions[0].connect(&self.docs[0]);
            let b = self.sessions[1].connect(&self.docs[1]);
            self.pump([a, b])
        }

        fn edit(&mut self, side: usize, value: u64) -> Vec<Message> {
            self.docs[side].add(value);
            self.sessions[side].on_local_change(&self.docs[side])
        }

        fn disconnect(&mut self) {
            self.sessions[0].disconnect();
            self.sessions[1].disconnect();
        }

        fn assert_synced(&self) {
            assert_eq!(self.docs[0].values(), self.docs[1].values());
            assert_eq!(self.docs[0].pending() + self.docs[1].pending(), 0);
            for s in 0..2 {
                assert!(self.sessions[s].is_synced(&self.docs[s]), "side {s}");
                assert_eq!(
                    self.sessions[s].their_version(),
                    Some(&self.docs[1 - s].version())
                );
            }
        }
    }

    fn changes_events(messages: &[Message]) -> usize {
        messages
            .iter()
            .map(|m| match m {
                Message::Changes { bytes, .. } => EventSet::count_events(bytes),
                _ => 0,
            })
            .sum()
    }

    #[test]
    fn a_peer_naming_a_flood_of_unseen_replicas_costs_bounded_time_and_memory() {
        let mut pair = Pair::new();
        let out = pair.edit(0, 1);
        assert!(out.is_empty(), "not connected yet");
        pair.connect();
        let started = std::time::Instant::now();
        let flood = |from: u64| -> VersionVector {
            (0..MAX_VERSION_ENTRIES as u64)
                .map(|i| (ReplicaId::new(from - i), 1))
                .collect()
        };
        let hello = Message::Hello {
            doc: id(),
            version: flood(u64::MAX - 1),
        };
        pair.receive(0, hello);
        for round in 1..=4u64 {
            let ack = Message::Ack {
                doc: id(),
                version: flood(u64::MAX / 2 - round * MAX_VERSION_ENTRIES as u64),
            };
            pair.receive(0, ack);
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "took {:?}",
            started.elapsed()
        );
        let session = &pair.sessions[0];
        assert!(
            session.their.len() <= 2,
            "only replicas the document has seen"
        );
        assert!(session.their_unseen.len() <= MAX_VERSION_ENTRIES);
        assert!(
            !session.is_synced(&pair.docs[0]),
            "the other side claims more"
        );
    }

    #[test]
    fn hello_exchange_catches_up_both_ways() {
        let mut p = Pair::new();
        for v in 0..3 {
            p.docs[0].add(v);
        }
        for v in 0..2 {
            p.docs[1].add(10 + v);
        }
        assert!(!p.sessions[0].is_synced(&p.docs[0]));
        assert_eq!(p.sessions[0].their_version(), None);
        assert_eq!(
            p.connect(),
            [3, 2],
            "each side sends exactly what the other lacks"
        );
        p.assert_synced();
        assert_eq!(p.docs[0].values().len(), 5);
    }

    #[test]
    fn a_hello_to_an_idle_session_joins_it() {
        let mut p = Pair::new();
        p.docs[1].add(7);
        let hello = p.sessions[0].connect(&p.docs[0]);
        assert!(matches!(hello[..], [Message::Hello { .. }]));
        let replies = p.receive(1, hello[0].clone());
        assert!(matches!(
            replies[..],
            [Message::Hello { .. }, Message::Changes { .. }]
        ));
        assert!(p.sessions[1].is_connected());
        p.pump([Vec::new(), replies]);
        p.assert_synced();
    }

    #[test]
    fn acked_data_is_never_resent_and_repeats_are_no_ops() {
        let mut p = Pair::new();
        let hello_b = p.sessions[1].connect(&p.docs[1]);
        let hello_a = p.sessions[0].connect(&p.docs[0]);
        p.pump([hello_a, hello_b.clone()]);
        let change = p.edit(0, 1);
        assert_eq!(changes_events(&change), 1);
        let ack = p.receive(1, change[0].clone());
        assert!(matches!(ack[..], [Message::Ack { .. }]));
        assert!(p.receive(0, ack[0].clone()).is_empty());
        // Nothing is sent again: not on a change notice, not for a repeated Hello (from before the
        // edit), not for a repeated Ack, not for repeated Changes.
        assert!(p.sessions[0].on_local_change(&p.docs[0]).is_empty());
        assert!(p.receive(0, hello_b[0].clone()).is_empty());
        assert!(p.receive(0, ack[0].clone()).is_empty());
        let before = p.docs[1].values();
        assert!(p.receive(1, change[0].clone()).is_empty());
        assert_eq!(p.docs[1].values(), before);
        p.assert_synced();
    }

    #[test]
    fn received_changes_are_not_echoed() {
        let mut p = Pair::new();
        p.connect();
        let change = p.edit(0, 1);
        p.receive(1, change[0].clone());
        // B's document changed: a relay would notify this session too. B knows A has the change.
        assert!(p.sessions[1].on_local_change(&p.docs[1]).is_empty());
    }

    #[test]
    fn unacked_changes_are_resent_after_a_reconnect() {
        let mut p = Pair::new();
        p.connect();
        let lost = p.edit(0, 1);
        assert_eq!(changes_events(&lost), 1);
        p.disconnect();
        assert_eq!(p.connect(), [1, 0], "the lost change is sent again");
        p.assert_synced();
    }

    #[test]
    fn delivered_changes_whose_ack_was_lost_are_not_resent() {
        let mut p = Pair::new();
        p.connect();
        let change = p.edit(0, 1);
        let _lost_ack = p.receive(1, change[0].clone());
        p.disconnect();
        assert_eq!(p.connect(), [0, 0], "B's Hello shows it holds the change");
        p.assert_synced();
    }

    #[test]
    fn a_hello_on_a_live_connection_recovers_lost_messages() {
        let mut p = Pair::new();
        p.connect();
        let _lost = p.edit(0, 1);
        assert!(p.sessions[0].on_local_change(&p.docs[0]).is_empty());
        let resync = p.sessions[0].connect(&p.docs[0]);
        assert!(matches!(resync[0], Message::Hello { .. }));
        assert_eq!(changes_events(&resync), 1, "what B never acked goes again");
        assert_eq!(p.pump([resync, Vec::new()]), [1, 0]);
        p.assert_synced();
    }

    #[test]
    fn early_changes_wait_for_their_causal_past() {
        let mut p = Pair::new();
        p.connect();
        let first = p.edit(0, 1);
        let second = p.edit(0, 2);
        assert!(
            p.receive(1, second[0].clone()).is_empty(),
            "no Ack: nothing new is applied"
        );
        assert_eq!(p.docs[1].pending(), 1);
        let ack = p.receive(1, first[0].clone());
        match &ack[..] {
            [Message::Ack { version, .. }] => assert_eq!(version, &p.docs[0].version()),
            other => panic!("expected one Ack, got {other:?}"),
        }
        p.pump([Vec::new(), ack]);
        p.assert_synced();
    }

    #[test]
    fn messages_reaching_a_disconnected_session_are_ignored() {
        let mut p = Pair::new();
        p.connect();
        let change = p.edit(0, 1);
        p.sessions[1].disconnect();
        assert!(p.receive(1, change[0].clone()).is_empty());
        assert!(p.docs[1].values().is_empty());
        let ack = Message::Ack {
            doc: id(),
            version: VersionVector::new(),
        };
        assert!(p.receive(1, ack).is_empty());
        assert_eq!(p.sessions[1].their_version(), None);
    }

    #[test]
    fn errors_are_typed_and_map_to_codes() {
        let mut p = Pair::new();
        p.connect();
        let other = Message::Hello {
            doc: DocId::new("other").unwrap(),
            version: VersionVector::new(),
        };
        let err = p.sessions[0].receive(&mut p.docs[0], other).unwrap_err();
        assert!(matches!(err, SyncError::WrongDocument { .. }));
        assert!(matches!(
            err.to_message(&id()),
            Some(Message::Error {
                code: ErrorCode::NotJoined,
                ..
            })
        ));
        let garbage = Message::Changes {
            doc: id(),
            bytes: vec![0xc1],
            version: VersionVector::new(),
        };
        let err = p.sessions[0].receive(&mut p.docs[0], garbage).unwrap_err();
        assert!(matches!(err, SyncError::Apply(_)));
        assert!(matches!(
            err.to_message(&id()),
            Some(Message::Error {
                code: ErrorCode::BadChanges,
                ..
            })
        ));
        let remote = Message::Error {
            doc: None,
            code: ErrorCode::RateLimited,
            message: "slow down".into(),
        };
        let err = p.sessions[0].receive(&mut p.docs[0], remote).unwrap_err();
        assert!(matches!(
            err,
            SyncError::Remote {
                code: ErrorCode::RateLimited,
                ..
            }
        ));
        assert!(err.to_message(&id()).is_none(), "errors are not echoed");
        p.assert_synced();
    }

    #[test]
    fn presence_is_announced_kept_newest_and_cleared_on_disconnect() {
        let mut p = Pair::new();
        assert!(p.sessions[0]
            .set_presence(PeerId(1), Some(b"cursor 0".to_vec()))
            .is_empty());
        p.connect();
        assert_eq!(
            p.sessions[1].presence().get(PeerId(1)),
            Some(&b"cursor 0"[..])
        );
        let old = p.sessions[0].set_presence(PeerId(1), Some(b"cursor 4".to_vec()));
        let new = p.sessions[0].set_presence(PeerId(1), Some(b"cursor 5".to_vec()));
        p.receive(1, new[0].clone());
        p.receive(1, old[0].clone());
        assert_eq!(
            p.sessions[1].presence().get(PeerId(1)),
            Some(&b"cursor 5"[..])
        );
        assert!(p.sessions[0].presence().is_empty());
        p.disconnect();
        assert!(p.sessions[1].presence().is_empty());
        // Reconnecting re-announces the state with a higher clock, so it beats the stale one.
        p.connect();
        assert_eq!(
            p.sessions[1].presence().get(PeerId(1)),
            Some(&b"cursor 5"[..])
        );
        p.receive(1, old[0].clone());
        assert_eq!(
            p.sessions[1].presence().get(PeerId(1)),
            Some(&b"cursor 5"[..])
        );
        let leave = p.sessions[0].set_presence(PeerId(1), None);
        p.receive(1, leave[0].clone());
        assert!(p.sessions[1].presence().is_empty());
    }

    #[test]
    fn a_peer_that_lost_its_state_gets_everything_again() {
        let mut p = Pair::new();
        for v in 0..5 {
            p.docs[1].add(v);
        }
        p.connect();
        p.disconnect();
        // B comes back as a fresh replica (storage wiped); A must not trust what B held before.
        p.docs[1] = EventSet::new(3);
        assert_eq!(p.connect(), [5, 0]);
        p.assert_synced();
    }

    #[test]
    fn a_long_offline_peer_merges_without_loss_or_resending_history() {
        let mut p = Pair::new();
        for v in 0..100 {
            p.docs[0].add(v);
        }
        assert_eq!(p.connect(), [100, 0]);
        p.disconnect();
        for v in 0..2000 {
            p.docs[0].add(1000 + v);
            // Offline: the session has nothing to send, and nothing breaks.
            assert!(p.sessions[0].on_local_change(&p.docs[0]).is_empty());
        }
        for v in 0..50 {
            p.docs[1].add(5000 + v);
        }
        assert_eq!(
            p.connect(),
            [2000, 50],
            "only what was made offline travels"
        );
        p.assert_synced();
        assert_eq!(p.docs[0].values().len(), 2150);
    }
}
