//! [`Room`]: one loaded document and the peers joined to it, run as one task.
//!
//! The room owns the document ([`crdt_core::Doc`]) and one [`SyncSession`] per peer: the same
//! state machine the clients run, so the relay holds no protocol logic of its own. A message from
//! a peer goes through that peer's session; when it changed the document, the new changes are
//! (1) handed to the persister, (2) fanned out at once by calling `on_local_change` on every other
//! peer's session, and (3) everything the session answered to the sender (its `Ack` above all) is
//! held until the persister reports the changes durable.
//!
//! Invariants:
//! - *Ack after durable*: no message that tells a peer the relay holds that peer's change leaves
//!   before the change is durable. The replies to a peer's own messages are held while one of
//!   its changes is being written; for a peer that just said Hello, everything is held until every
//!   change written so far is durable (the answer to a Hello tells the relay's whole version).
//!   What other peers' changes fan out to a peer is not held behind that peer's own write: its
//!   session announces only version entries it has not announced to that peer, and the entries
//!   of the peer's own change went into the held reply (a fan-out may thus overtake a held reply,
//!   which the protocol allows: versions only merge, changes wait for their causal past).
//! - Only changes the document applied are stored, each exactly once (the store gets
//!   `encode_changes_since(version before the message)`), so refused or forged bytes never
//!   reach the store.
//! - The room never waits on a peer (see [`super::peer`]).
//! - *One writer per replica id*: new events of a replica id are taken only from the connection
//!   that writes it (see [`replica_owners`]); a change that reuses a held id range with other
//!   content is refused by the document, with an Error and never an Ack.
//! - Presence is ephemeral: kept in the sender's session, forwarded, never stored, and cleared
//!   for the others when the sender leaves.
//! - A signal reaches only the peer it names, in this room (see [`signal`]).
//!
//! In cluster mode the room also has a [`RoomLink`]: changes other nodes stored are applied and
//! fanned out to every peer here (they are durable already, so they are not stored again), and
//! presence goes to and comes from the other nodes (see [`crate::cluster`]).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use crdt_core::sync::{encode, DocId, ErrorCode, Message, PeerId, SyncError, SyncSession};
use crdt_core::{BufferLimits, CausalError, Doc, DocError, ReplicaId, SeqRange, VersionVector};
use tokio::sync::mpsc;

use super::byte_budget::Charge;
mod replica_owners;
mod signal;

use super::encode_once::EncodeOnce;
use super::peer::{CloseReason, ConnId, Outbound, PeerLink, Refused};
use super::persister::{PersistMessage, PersistRequest};
use super::RelayContext;
use crate::cluster::{LinkInput, RoomLink};
use crate::metrics::Rejection;
use crate::storage::StoredDoc;
use replica_owners::{NewEvents, ReplicaOwners};

/// A relay buffers nothing: a well-behaved peer sends everything the relay lacks in causal
/// order, so a change whose past is missing is forged (or from a broken peer) and is refused
/// with an Error, instead of waiting in memory for a past that may never come.
pub(crate) const RELAY_BUFFER: BufferLimits = BufferLimits {
    max_changes: 0,
    max_bytes: 0,
};

/// The Error message for changes whose causal past the relay does not hold.
const MISSING_PAST: &str =
    "changes depend on events this relay does not hold (forged or missing deps); they are not applied";

/// What a connection tells a room.
#[derive(Debug)]
pub(crate) enum RoomCommand {
    /// A peer joins with its first `Hello`; `_charge` as for `Message`.
    Join {
        peer: PeerLink,
        hello: Message,
        _charge: Charge,
    },
    /// A message from a joined peer (already checked for permission). `_charge` holds the
    /// frame's bytes in the room's queue budget until the command is handled and dropped.
    Message {
        conn: ConnId,
        message: Message,
        at: Instant,
        _charge: Charge,
    },
    /// The peer left (its connection closed).
    Leave { conn: ConnId },
}

struct PeerSlot {
    link: PeerLink,
    session: SyncSession,
    /// Every message to this peer waits until this ticket is durable (set by its Hello).
    hold_all_until: u64,
    /// Replies to this peer's own messages wait until this ticket is durable (set when one of
    /// its messages changed the document: the reply acknowledges the change).
    hold_replies_until: u64,
    /// The version the peer declared in its last Hello: events it held then and sends later
    /// may be another writer's that it forwards, so they bind no replica id to it.
    declared: VersionVector,
}

/// How a frame reaches a peer, which decides what it waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// An answer to the peer's own message (or its join): it may acknowledge the peer's change.
    Reply,
    /// Another peer's changes or presence.
    FanOut,
}

/// One loaded document; see the [module docs](self).
pub(crate) struct Room {
    id: DocId,
    doc: Doc,
    peers: HashMap<ConnId, PeerSlot>,
    ctx: Arc<RelayContext>,
    /// Tickets: the last one handed to the persister, and the last one reported durable.
    issued: u64,
    durable: u64,
    held: VecDeque<(u64, ConnId, Bytes)>,
    /// When each ticket not yet durable was handed to the persister, oldest first.
    in_flight: VecDeque<(u64, Instant)>,
    persisted_tx: mpsc::UnboundedSender<(u64, bool)>,
    /// Set when storage failed: the room closes.
    failed: bool,
    /// The tie to the other nodes, in cluster mode.
    link: Option<RoomLink>,
    /// The document's stored size as far as the room knows: what it loaded plus every batch it
    /// stored since (compaction may have shrunk it). Checked against `--max-doc-bytes`.
    stored_bytes: usize,
    /// Which joined connection writes each replica id.
    replicas: ReplicaOwners,
}

impl Room {
    /// Builds the document from what the store holds.
    pub fn load(
        id: DocId,
        stored: StoredDoc,
        ctx: Arc<RelayContext>,
        link: Option<RoomLink>,
    ) -> (Room, mpsc::UnboundedReceiver<(u64, bool)>) {
        let stored_bytes = stored_size(&stored);
        let mut doc = match stored.snapshot.as_deref().map(Doc::load) {
            Some(Ok(doc)) => doc,
            Some(Err(e)) => {
                tracing::error!(doc = %id, error = %e, "stored snapshot unreadable; starting from its log");
                Doc::new()
            }
            None => Doc::new(),
        };
        for (seq, batch) in &stored.batches {
            if let Err(e) = doc.apply_changes(batch) {
                tracing::error!(doc = %id, seq, error = %e, "stored batch refused");
            }
        }
        doc.set_buffer_limits(RELAY_BUFFER);
        let (persisted_tx, persisted_rx) = mpsc::unbounded_channel();
        let room = Room {
            id,
            doc,
            peers: HashMap::new(),
            ctx,
            issued: 0,
            durable: 0,
            held: VecDeque::new(),
            in_flight: VecDeque::new(),
            persisted_tx,
            failed: false,
            link,
            stored_bytes,
            replicas: ReplicaOwners::default(),
        };
        (room, persisted_rx)
    }

    /// Runs the room until it is idle past the unload delay (or its storage failed).
    pub async fn run(
        mut self,
        mut commands: mpsc::Receiver<RoomCommand>,
        mut persisted: mpsc::UnboundedReceiver<(u64, bool)>,
    ) {
        let idle = self.ctx.config.maintenance.unload_idle();
        let mut idle_since = Some(tokio::time::Instant::now());
        loop {
            let unload_at = idle_since.map(|t| t + idle);
            tokio::select! {
                command = commands.recv() => {
                    let Some(command) = command else { break };
                    self.handle(command);
                }
                Some((ticket, ok)) = persisted.recv() => self.on_persisted(ticket, ok),
                input = next_link_input(&mut self.link) => self.on_link(input),
                () = sleep_until(unload_at) => {
                    if self.peers.is_empty() && self.durable == self.issued
                        && self.ctx.rooms.remove_if_idle(&self.id, &commands)
                    {
                        break;
                    }
                    idle_since = Some(tokio::time::Instant::now());
                    continue;
                }
            }
            if self.failed {
                self.fail(&mut commands);
                return;
            }
            idle_since = match (self.peers.is_empty(), idle_since) {
                (true, None) => Some(tokio::time::Instant::now()),
                (true, since) => since,
                (false, _) => None,
            };
        }
        tracing::debug!(doc = %self.id, "document unloaded");
    }

    /// Handles one command of a connection (the run loop's body; the fuzz harness calls it
    /// directly).
    pub(crate) fn handle(&mut self, command: RoomCommand) {
        match command {
            RoomCommand::Join { peer, hello, .. } => self.join(peer, hello),
            RoomCommand::Message {
                conn, message, at, ..
            } => self.on_message(conn, message, at),
            RoomCommand::Leave { conn } => self.leave(conn),
        }
    }

    fn join(&mut self, link: PeerLink, hello: Message) {
        let conn = link.conn;
        let mut slot = PeerSlot {
            link,
            session: SyncSession::new(self.id.clone()),
            // A joiner learns the relay's whole version: hold it until all of that is durable.
            hold_all_until: self.issued,
            hold_replies_until: 0,
            declared: declared_version(&hello),
        };
        let answer = slot.session.receive(&mut self.doc, hello);
        self.ctx.metrics.room_peers.fetch_add(1, Relaxed);
        let others: Vec<Message> = self
            .peers
            .values()
            .flat_map(|other| {
                other
                    .session
                    .presence()
                    .entries()
                    .filter_map(|(peer, clock, state)| {
                        state.map(|s| Message::Presence {
                            doc: self.id.clone(),
                            peer,
                            clock,
                            state: Some(s.to_vec()),
                        })
                    })
            })
            .chain(self.link.iter().flat_map(RoomLink::remote_presence))
            .collect();
        self.peers.insert(conn, slot);
        match answer {
            Ok(out) => self.send_all(conn, out, None, Route::Reply),
            Err(e) => tracing::warn!(doc = %self.id, conn, error = %e, "join failed"),
        }
        self.send_all(conn, others, None, Route::Reply);
    }

    fn on_message(&mut self, conn: ConnId, message: Message, at: Instant) {
        if !self.peers.contains_key(&conn) {
            return;
        }
        if let Message::Signal { .. } = message {
            self.route_signal(conn, message);
            return;
        }
        if let Some(refusal) = self.over_size_cap(&message) {
            self.send_all(conn, vec![refusal], None, Route::Reply);
            return;
        }
        let before = self.doc.version();
        let written = written_ids(&message);
        if let Some(replica) = self.replicas.taken_by_another(conn, &written, &before) {
            self.refuse_taken_replica(conn, replica);
            return;
        }
        let Some(slot) = self.peers.get_mut(&conn) else {
            return;
        };
        let is_hello = matches!(message, Message::Hello { .. });
        if is_hello {
            slot.declared = declared_version(&message);
        }
        let forward = match &message {
            Message::Presence {
                peer, clock, state, ..
            } => {
                if let Some(link) = &self.link {
                    link.publish_presence(*peer, *clock, state.clone());
                }
                Some(Bytes::from(encode(&message)))
            }
            _ => None,
        };
        let out = match slot.session.receive(&mut self.doc, message) {
            Ok(out) => out,
            Err(SyncError::Apply(e)) => {
                self.ctx.metrics.rejected(Rejection::BadChanges);
                // A batch refused whole applied nothing: nothing to acknowledge.
                let refused_whole = matches!(e, DocError::DuplicateDiffers(_));
                let message = match e {
                    DocError::Causal(CausalError::BufferFull { .. }) => MISSING_PAST.to_string(),
                    e => format!("changes refused: {e}"),
                };
                let mut out = vec![Message::Error {
                    doc: Some(self.id.clone()),
                    code: ErrorCode::BadChanges,
                    message,
                }];
                if !refused_whole {
                    // Part of the batch may have applied: acknowledge that (held like any ack).
                    out.extend(slot.session.on_local_change(&self.doc));
                }
                out
            }
            Err(e) => {
                tracing::debug!(doc = %self.id, conn, error = %e, "peer reported an error");
                Vec::new()
            }
        };
        if is_hello {
            // A re-sync tells the peer the relay's whole version.
            slot.hold_all_until = slot.hold_all_until.max(self.issued);
        }
        if self.doc.version() != before {
            if let Some(slot) = self.peers.get(&conn) {
                let after = self.doc.version();
                let created = NewEvents {
                    before: &before,
                    after: &after,
                    declared: &slot.declared,
                };
                self.replicas.bind_written(conn, &written, &created);
            }
            let bytes = self.doc.encode_changes_since(&before);
            self.issued += 1;
            let ticket = self.issued;
            if let Some(slot) = self.peers.get_mut(&conn) {
                slot.hold_replies_until = ticket;
            }
            let known = (before, bytes.clone());
            self.persist(bytes, ticket);
            self.fan_out(Some(conn), at, Some(known));
        }
        self.send_all(conn, out, None, Route::Reply);
        if let Some(frame) = forward {
            let others: Vec<ConnId> = self.peers.keys().copied().filter(|&c| c != conn).collect();
            for other in others {
                self.send_frame(other, frame.clone(), None, Route::FanOut);
            }
        }
    }

    /// An Error refusing `message` when it is `Changes` that would take the document's stored
    /// size past `--max-doc-bytes` (the changes' encoded size is what storing them adds).
    fn over_size_cap(&self, message: &Message) -> Option<Message> {
        let Message::Changes { bytes, .. } = message else {
            return None;
        };
        let max = self.ctx.config.limits.max_doc_bytes;
        if self.stored_bytes.saturating_add(bytes.len()) <= max {
            return None;
        }
        self.ctx.metrics.rejected(Rejection::DocTooLarge);
        Some(Message::Error {
            doc: Some(self.id.clone()),
            code: ErrorCode::TooLarge,
            message: format!(
                "the document is at its size limit ({} of {max} bytes stored); these changes \
                 were refused and will not be acknowledged",
                self.stored_bytes
            ),
        })
    }

    /// Refuses a batch with new events of a replica id another connection writes.
    fn refuse_taken_replica(&mut self, conn: ConnId, replica: ReplicaId) {
        self.ctx.metrics.rejected(Rejection::ReplicaTaken);
        tracing::info!(doc = %self.id, conn, %replica, "refused changes under another connection's replica id");
        let error = Message::Error {
            doc: Some(self.id.clone()),
            code: ErrorCode::ReplicaTaken,
            message: format!(
                "replica {replica} is written by another connection; changes not applied: \
                 continue under a fresh replica id"
            ),
        };
        self.send_all(conn, vec![error], None, Route::Reply);
    }

    /// The room's document (for the fuzz harness, which compares it with a reference).
    #[cfg(feature = "fuzzing")]
    pub(crate) fn doc_mut(&mut self) -> &mut Doc {
        &mut self.doc
    }

    /// Tells every peer but `from` what the document gained. `known` is an encoding the caller
    /// already has (the changes since a version, made for the store), so peers at that version
    /// are answered without encoding again; each other distinct version is encoded once.
    fn fan_out(
        &mut self,
        from: Option<ConnId>,
        at: Instant,
        known: Option<(VersionVector, Vec<u8>)>,
    ) {
        let view = EncodeOnce::new(&mut self.doc);
        if let Some((since, bytes)) = known {
            view.remember(since, bytes);
        }
        let answers: Vec<(ConnId, Vec<Message>)> = self
            .peers
            .iter_mut()
            .filter(|(&c, _)| Some(c) != from)
            .map(|(&c, slot)| (c, slot.session.on_local_change(&view)))
            .collect();
        drop(view);
        for (conn, out) in answers {
            self.send_all(conn, out, Some(at), Route::FanOut);
        }
    }

    fn persist(&mut self, bytes: Vec<u8>, ticket: u64) {
        self.stored_bytes = self.stored_bytes.saturating_add(bytes.len());
        self.in_flight.push_back((ticket, Instant::now()));
        let request = PersistRequest {
            doc: self.id.clone(),
            bytes,
            ticket,
            done: self.persisted_tx.clone(),
        };
        if self
            .ctx
            .persist_queue
            .send(PersistMessage::Write(request))
            .is_err()
        {
            tracing::error!(doc = %self.id, "persister stopped; closing the document");
            self.failed = true;
        }
    }

    /// The persister reports ticket `ticket` written (`ok`) or failed.
    pub(crate) fn on_persisted(&mut self, ticket: u64, ok: bool) {
        if !ok {
            self.failed = true;
            return;
        }
        self.durable = self.durable.max(ticket);
        while let Some(&(t, since)) = self.in_flight.front() {
            if t > self.durable {
                break;
            }
            self.ctx.metrics.persist_latency.observe(since.elapsed());
            self.in_flight.pop_front();
        }
        // Every held frame whose ticket is now durable goes, in the order held. Per peer and
        // route, tickets never decrease, so this keeps each peer's replies (and its fan-out) in
        // order; a fan-out frame may overtake a reply that waits for a later ticket.
        let durable = self.durable;
        let (ready, waiting): (VecDeque<_>, VecDeque<_>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|&(t, _, _)| t <= durable);
        self.held = waiting;
        for (_, conn, frame) in ready {
            self.deliver(conn, frame, None);
        }
    }

    fn leave(&mut self, conn: ConnId) {
        let Some(slot) = self.peers.remove(&conn) else {
            return;
        };
        self.ctx.metrics.room_peers.fetch_sub(1, Relaxed);
        self.held.retain(|&(_, c, _)| c != conn);
        self.replicas.release(conn);
        let peer = PeerId(conn);
        if let Some(clock) = slot.session.presence().clock(peer) {
            if slot.session.presence().get(peer).is_some() {
                if let Some(link) = &self.link {
                    link.publish_presence(peer, clock, None);
                }
                let gone = Bytes::from(encode(&Message::Presence {
                    doc: self.id.clone(),
                    peer,
                    clock,
                    state: None,
                }));
                let others: Vec<ConnId> = self.peers.keys().copied().collect();
                for other in others {
                    self.send_frame(other, gone.clone(), None, Route::FanOut);
                }
            }
        }
    }

    /// Applies what the cluster link reports.
    fn on_link(&mut self, input: LinkInput) {
        match input {
            LinkInput::Changes { snapshot, batches } => {
                let at = Instant::now();
                let before = self.doc.version();
                if let Some(snapshot) = snapshot {
                    match Doc::load(&snapshot) {
                        Ok(stored) => {
                            let missing = stored.encode_changes_since(&before);
                            if let Err(e) = self.doc.apply_changes(&missing) {
                                tracing::error!(doc = %self.id, error = %e, "snapshot refused");
                            }
                        }
                        Err(e) => {
                            tracing::error!(doc = %self.id, error = %e, "snapshot unreadable")
                        }
                    }
                }
                for batch in &batches {
                    if let Err(e) = self.doc.apply_changes(batch) {
                        tracing::error!(doc = %self.id, error = %e, "stored batch refused");
                    }
                }
                if self.doc.version() != before {
                    self.fan_out(None, at, None);
                }
            }
            LinkInput::Presence(messages) => {
                let frames: Vec<Bytes> = messages.iter().map(|m| encode(m).into()).collect();
                let peers: Vec<ConnId> = self.peers.keys().copied().collect();
                for conn in peers {
                    for frame in &frames {
                        self.send_frame(conn, frame.clone(), None, Route::FanOut);
                    }
                }
            }
            LinkInput::PublishPresence => {
                let Some(link) = &self.link else { return };
                for slot in self.peers.values() {
                    for (peer, clock, state) in slot.session.presence().entries() {
                        if let Some(state) = state {
                            link.publish_presence(peer, clock, Some(state.to_vec()));
                        }
                    }
                }
            }
        }
    }

    fn send_all(
        &mut self,
        conn: ConnId,
        messages: Vec<Message>,
        since: Option<Instant>,
        route: Route,
    ) {
        for message in messages {
            let since = since.filter(|_| matches!(message, Message::Changes { .. }));
            self.send_frame(conn, encode(&message).into(), since, route);
        }
    }

    /// Sends now, or holds the frame until the ticket it waits for is durable (see the module
    /// docs). Held frames all wait for a ticket not yet durable (`on_persisted` releases the
    /// others at once), and a peer's tickets never decrease per route, so a frame whose ticket
    /// is durable never overtakes an earlier held frame of the same route to the same peer.
    fn send_frame(&mut self, conn: ConnId, frame: Bytes, since: Option<Instant>, route: Route) {
        let Some(slot) = self.peers.get(&conn) else {
            return;
        };
        let wait = match route {
            Route::Reply => slot.hold_replies_until.max(slot.hold_all_until),
            Route::FanOut => slot.hold_all_until,
        };
        if wait > self.durable {
            self.held.push_back((wait, conn, frame));
        } else {
            self.deliver(conn, frame, since);
        }
    }

    fn deliver(&mut self, conn: ConnId, bytes: Bytes, since: Option<Instant>) {
        let Some(slot) = self.peers.get(&conn) else {
            return;
        };
        match slot.link.send(bytes, since) {
            Ok(()) => {}
            Err(Refused::Slow(reason)) => {
                self.ctx.metrics.rejected(Rejection::SlowConsumer);
                tracing::info!(doc = %self.id, conn, ?reason, "peer too slow; disconnecting it");
                slot.link.control.close(reason);
                self.leave(conn);
            }
            Err(Refused::Closed) => self.leave(conn),
        }
    }

    /// Storage failed: tell every peer, drop them and the document (it reloads from the store,
    /// which holds exactly what was acknowledged, on the next join).
    fn fail(mut self, commands: &mut mpsc::Receiver<RoomCommand>) {
        self.ctx.rooms.remove(&self.id);
        commands.close();
        let why = self.ctx.write_gate.last_failure().unwrap_or_default();
        let error = Bytes::from(encode(&Message::Error {
            doc: Some(self.id.clone()),
            code: ErrorCode::Internal,
            message: format!(
                "the relay could not store this document's changes ({why}); they are not \
                 acknowledged; join again"
            ),
        }));
        for (conn, slot) in self.peers.drain() {
            self.ctx.metrics.room_peers.fetch_sub(1, Relaxed);
            let _ = slot.link.send(error.clone(), None);
            if slot
                .link
                .out
                .try_send(Outbound::Left(self.id.clone()))
                .is_err()
            {
                slot.link.control.close(CloseReason::QueueFull);
            }
            tracing::debug!(doc = %self.id, conn, "dropped after a storage failure");
        }
    }
}

/// The bytes a stored document takes: its snapshot and its change log.
fn stored_size(stored: &StoredDoc) -> usize {
    let log: usize = stored.batches.iter().map(|(_, batch)| batch.len()).sum();
    stored
        .snapshot
        .as_ref()
        .map_or(0, Vec::len)
        .saturating_add(log)
}

/// The version a Hello declares (empty for other messages).
fn declared_version(message: &Message) -> VersionVector {
    match message {
        Message::Hello { version, .. } => version.clone(),
        _ => VersionVector::new(),
    }
}

/// The id ranges a `Changes` message writes (none for other messages, or for bytes that do
/// not decode: the document refuses those itself). This decodes the changes once more than
/// applying them does; refusing before applying is what keeps a forged change out of the
/// document.
fn written_ids(message: &Message) -> Vec<SeqRange> {
    match message {
        Message::Changes { bytes, .. } => Doc::change_ids(bytes).unwrap_or_default(),
        _ => Vec::new(),
    }
}

async fn next_link_input(link: &mut Option<RoomLink>) -> LinkInput {
    match link {
        Some(link) => link.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc as std_mpsc;

    use crdt_core::sync::decode;
    use crdt_core::ReplicaId;
    use tokio::sync::watch;

    use super::super::byte_budget::ByteBudget;
    use super::super::peer::PeerControl;
    use super::super::persister::PersistMessage;
    use super::*;

    /// A client of the room: its document, its session, and what the room sent it.
    struct Client {
        conn: ConnId,
        doc: Doc,
        session: SyncSession,
        inbox: mpsc::Receiver<Outbound>,
    }

    impl Client {
        /// The frames the room has sent this client so far, decoded.
        fn received(&mut self) -> Vec<Message> {
            let mut out = Vec::new();
            while let Ok(Outbound::Frame { bytes, .. }) = self.inbox.try_recv() {
                out.push(decode(&bytes).expect("the room sends frames that decode"));
            }
            out
        }

        /// Applies what the room sent, as a client would; returns the client's answers.
        fn take(&mut self, messages: Vec<Message>) -> Vec<Message> {
            let mut answers = Vec::new();
            for message in messages {
                answers.extend(
                    self.session
                        .receive(&mut self.doc, message)
                        .expect("the room's messages apply"),
                );
            }
            answers
        }

        /// Types `text` at the end of the note and commits; returns the Changes to send.
        fn edit(&mut self, text: &str) -> Message {
            let mut t = self.doc.text("note");
            let end = t.len();
            t.insert(end, text).unwrap();
            self.doc.commit();
            let mut out = self.session.on_local_change(&self.doc);
            assert_eq!(out.len(), 1, "one Changes message: {out:?}");
            out.remove(0)
        }
    }

    /// The room, its persist queue (writes are completed by the test), and two joined clients.
    fn room_with_two_clients() -> (Room, std_mpsc::Receiver<PersistMessage>, Client, Client) {
        let (persist_queue, persist) = std_mpsc::channel();
        let (_shutdown_tx, shutdown) = watch::channel(false);
        let ctx = Arc::new(RelayContext::for_tests(persist_queue, shutdown));
        let id = DocId::new("room/test").unwrap();
        let (mut room, _persisted) = Room::load(id.clone(), StoredDoc::default(), ctx, None);
        let mut join = |conn: ConnId| {
            let (out, inbox) = mpsc::channel(64);
            let mut client = Client {
                conn,
                doc: Doc::with_replica(ReplicaId::new(conn)),
                session: SyncSession::new(id.clone()),
                inbox,
            };
            let hello = client.session.connect(&client.doc).remove(0);
            let peer = PeerLink {
                conn,
                out,
                budget: ByteBudget::new(usize::MAX),
                control: Arc::new(PeerControl::default()),
            };
            room.handle(RoomCommand::Join {
                peer,
                hello,
                _charge: Charge::untracked(),
            });
            let answer = client.received();
            client.take(answer);
            client
        };
        let (a, b) = (join(1), join(2));
        (room, persist, a, b)
    }

    /// The next write handed to the persister: its ticket.
    fn next_write(persist: &std_mpsc::Receiver<PersistMessage>) -> u64 {
        match persist.try_recv() {
            Ok(PersistMessage::Write(request)) => request.ticket,
            Ok(_) => panic!("expected a write, got another persister message"),
            Err(e) => panic!("expected a write: {e}"),
        }
    }

    /// Hands `message` from `client` to the room, as its connection would.
    fn send(room: &mut Room, client: &Client, message: Message) {
        room.handle(RoomCommand::Message {
            conn: client.conn,
            message,
            at: Instant::now(),
            _charge: Charge::untracked(),
        });
    }

    fn announces(messages: &[Message], replica: u64) -> bool {
        messages.iter().any(|m| match m {
            Message::Changes { version, .. } | Message::Ack { version, .. } => {
                version.get(ReplicaId::new(replica)) > 0
            }
            _ => false,
        })
    }

    #[test]
    fn fan_out_is_not_held_behind_the_receivers_own_write_but_its_ack_is() {
        let (mut room, persist, mut a, mut b) = room_with_two_clients();

        // A writes; its change is being persisted (not durable yet).
        let message = a.edit("from a");
        send(&mut room, &a, message);
        let ticket_a = next_write(&persist);
        assert!(a.received().is_empty(), "A's ack waits for its write");
        let to_b = b.received();
        assert!(matches!(to_b[..], [Message::Changes { .. }]), "{to_b:?}");
        b.take(to_b);

        // B writes while A's write is still in flight: A gets B's change at once.
        let message = b.edit(" and b");
        send(&mut room, &b, message);
        let ticket_b = next_write(&persist);
        let to_a = a.received();
        assert!(
            matches!(to_a[..], [Message::Changes { .. }]),
            "B's change reaches A while A's own write is in flight: {to_a:?}"
        );
        assert!(
            !announces(&to_a, 1),
            "nothing tells A that the relay holds its change before it is durable: {to_a:?}"
        );
        a.take(to_a);
        assert_eq!(a.doc.text("note").to_string(), "from a and b");
        assert!(b.received().is_empty(), "B's ack waits for its write");

        // A's write is durable: A's ack goes out; B's still waits.
        room.on_persisted(ticket_a, true);
        let to_a = a.received();
        assert!(announces(&to_a, 1), "A's ack once durable: {to_a:?}");
        a.take(to_a);
        assert!(b.received().is_empty());
        room.on_persisted(ticket_b, true);
        let to_b = b.received();
        assert!(announces(&to_b, 2), "B's ack once durable: {to_b:?}");
        b.take(to_b);
        assert!(a.session.is_synced(&a.doc) && b.session.is_synced(&b.doc));
        assert_eq!(b.doc.text("note").to_string(), "from a and b");
    }

    #[test]
    fn changes_whose_past_the_relay_lacks_are_refused_not_buffered() {
        let (mut room, persist, mut a, mut b) = room_with_two_clients();
        // A makes two changes but sends only the second: its past never reached the relay.
        let _withheld = a.edit("first");
        let orphan = a.edit(" second");
        send(&mut room, &a, orphan);
        let to_a = a.received();
        assert!(
            to_a.iter().any(|m| matches!(
                m,
                Message::Error { code: ErrorCode::BadChanges, message, .. } if message == MISSING_PAST
            )),
            "{to_a:?}"
        );
        assert_eq!(
            room.doc.pending_count(),
            0,
            "nothing waits in the relay's memory"
        );
        assert!(persist.try_recv().is_err(), "nothing stored");
        assert!(b.received().is_empty(), "nothing fanned out");
        // The whole history, as a well-behaved peer sends it, is taken.
        let complete = Message::Changes {
            doc: room.id.clone(),
            bytes: a.doc.encode_changes_since(&VersionVector::new()),
            version: a.doc.version(),
        };
        send(&mut room, &a, complete);
        room.on_persisted(next_write(&persist), true);
        let to_b = b.received();
        b.take(to_b);
        assert_eq!(b.doc.text("note").to_string(), "first second");
    }

    #[test]
    fn a_rejoining_peer_gets_nothing_until_every_write_so_far_is_durable() {
        let (mut room, persist, mut a, mut b) = room_with_two_clients();
        let message = a.edit("pending");
        send(&mut room, &a, message);
        let ticket = next_write(&persist);
        // B misses the fan-out and says Hello again (a re-sync): the answer carries what B
        // lacks, A's change, whose write is in flight, so it waits.
        assert!(!b.received().is_empty());
        b.session.disconnect();
        let hello = b.session.connect(&b.doc).remove(0);
        send(&mut room, &b, hello);
        assert!(
            b.received().is_empty(),
            "the Hello answer waits for the write"
        );
        room.on_persisted(ticket, true);
        let to_b = b.received();
        assert!(matches!(to_b[..], [Message::Changes { .. }]), "{to_b:?}");
        b.take(to_b);
        assert_eq!(b.doc.text("note").to_string(), "pending");
    }
}
