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

use super::message::{DocId, ErrorCode, Message, PeerId};
use super::presence::PresenceMap;
use super::sync_doc::SyncDoc;
use crate::clock::VersionVector;

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
    /// Events the other side told us it holds, on this connection.
    their: VersionVector,
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
                self.their.merge(&version);
                // The other side (re)started the exchange: anything in flight may be lost.
                self.sent = self.their.clone();
                self.heard_hello = true;
            }
            Message::Changes { bytes, version, .. } => {
                self.learn(&version);
                doc.apply_changes(&bytes).map_err(SyncError::Apply)?;
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
            Message::Ack { version, .. } => self.learn(&version),
            Message::Presence {
                peer, clock, state, ..
            } => {
                self.presence.apply(peer, clock, state);
            }
            // Handled above.
            Message::Error { .. } => {}
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

    /// What the other side holds, as far as it told us on this connection; `None` until its Hello.
    pub fn their_version(&self) -> Option<&VersionVector> {
        self.heard_hello.then_some(&self.their)
    }

    /// True when connected and, as far as this session knows, both sides hold the same events.
    pub fn is_synced(&self, doc: &impl SyncDoc) -> bool {
        self.connected && self.heard_hello && self.their == doc.version()
    }

    /// Records that the other side holds `version`.
    fn learn(&mut self, version: &VersionVector) {
        self.their.merge(version);
        self.sent.merge(version);
    }

    /// The entries of `version` not yet announced on this connection; marks them announced.
    fn announce(&mut self, version: &VersionVector) -> VersionVector {
        let grown: VersionVector = version
            .iter()
            .filter(|&(r, c)| c > self.announced.get(r))
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

/// The message announcing `local`.
fn presence_message(doc: &DocId, local: &LocalPresence) -> Message {
    Message::Presence {
        doc: doc.clone(),
        peer: local.peer,
        clock: local.clock,
        state: local.state.clone(),
    }
}
