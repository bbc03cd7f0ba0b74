//! [`SyncClient`]: connects [`Doc`]s to a relay over one WebSocket, and keeps them synced across
//! disconnects.
//!
//! Each joined document has a [`SyncSession`]; the client is only its driver: on connect it says
//! Hello for every document, it feeds received frames to the sessions, and after a local edit it
//! sends what `on_local_change` returns. When the connection drops, it reconnects with
//! exponential backoff and full jitter; unsent edits are simply part of the document's history,
//! so the Hello after reconnecting makes the relay ask for them again (nothing is queued apart
//! from the document itself).
//!
//! A replica id has one writer: when the relay says another connection writes this document's
//! id, or changes under that id arrive that this client did not make, the document continues
//! under a fresh id (see [`crdt_core::sync::replica_guard`]).
//!
//! Invariant: a frame is only sent on the connection it was produced for (frames are tagged with
//! a connection epoch), so a message meant for a closed connection never precedes the Hello of
//! the next one. This is the reconnect discipline of y-websocket's provider, over the sans-IO
//! sessions of [`crdt_core::sync`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crdt_core::sync::{
    decode, encode, DocId, ErrorCode, Message, PeerId, ReplicaGuard, SyncError, SyncSession,
};
use crdt_core::{Doc, VersionVector};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::relay::websocket::WS_READ_BUFFER_BYTES;

/// How a [`SyncClient`] connects. Its `Debug` does not show the token.
#[derive(Clone)]
pub struct ClientOptions {
    /// A token for relays that require one, sent as an `Authorization: Bearer` header (never in
    /// the URL, which proxies log).
    pub token: Option<String>,
    /// First reconnect delay.
    pub min_backoff: Duration,
    /// Longest reconnect delay.
    pub max_backoff: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            token: None,
            min_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("min_backoff", &self.min_backoff)
            .field("max_backoff", &self.max_backoff)
            .finish()
    }
}

/// An error the relay reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteError {
    /// The document it is about, if any.
    pub doc: Option<DocId>,
    /// Its code.
    pub code: ErrorCode,
    /// Its explanation.
    pub message: String,
}

struct Entry {
    doc: Doc,
    session: SyncSession,
    /// Keeps the document's replica id its own (see [`crdt_core::sync::replica_guard`]).
    guard: ReplicaGuard,
}

struct State {
    docs: HashMap<DocId, Entry>,
    /// Incremented on every connect; frames carry the epoch they were made for.
    epoch: u64,
    connected: bool,
    errors: Vec<RemoteError>,
    connects: u64,
}

struct Shared {
    state: Mutex<State>,
    changed: watch::Sender<u64>,
    outbox: mpsc::UnboundedSender<(u64, Vec<u8>)>,
    peer: PeerId,
    /// Where `Signal`s from the relay go (see [`SyncClient::signals`]); dropped when none listens.
    signals: Mutex<Option<mpsc::UnboundedSender<Signal>>>,
}

/// A `Signal` the relay delivered: for a direct (peer-to-peer) link of document `doc`, from
/// the peer `from`, addressed to this client as `to` (its peer id on this relay connection).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signal {
    /// The document whose room both peers joined.
    pub doc: DocId,
    /// The sender, as the relay names it.
    pub from: PeerId,
    /// This client, as the relay names it.
    pub to: PeerId,
    /// What the sender's WebRTC side sent.
    pub payload: Vec<u8>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep going with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    fn send(&self, epoch: u64, messages: Vec<Message>) {
        for m in messages {
            // The receiver lives as long as the client's task; after close nothing is sent.
            let _ = self.outbox.send((epoch, encode(&m)));
        }
    }
}

/// A native client; see the [module docs](self).
///
/// ```no_run
/// # async fn demo() {
/// use sync_server::client::{ClientOptions, SyncClient};
/// use crdt_core::{sync::DocId, Doc};
/// let client = SyncClient::connect("ws://127.0.0.1:8080/sync", ClientOptions::default());
/// let id = DocId::new("notes").unwrap();
/// client.join(id.clone(), Doc::new());
/// client.edit(&id, |doc| doc.text("body").insert(0, "hello")).unwrap();
/// # }
/// ```
pub struct SyncClient {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl std::fmt::Debug for SyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncClient")
            .field("peer", &self.shared.peer)
            .finish()
    }
}

impl SyncClient {
    /// Starts connecting to `url` (`ws://host:port/sync`) in the background; the token of
    /// `options` goes in a header.
    pub fn connect(url: &str, options: ClientOptions) -> SyncClient {
        let (outbox_tx, outbox_rx) = mpsc::unbounded_channel();
        let (changed, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                docs: HashMap::new(),
                epoch: 0,
                connected: false,
                errors: Vec::new(),
                connects: 0,
            }),
            changed,
            outbox: outbox_tx,
            peer: PeerId(rand::random()),
            signals: Mutex::new(None),
        });
        let url = url.to_owned();
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run(Arc::clone(&shared), url, options, outbox_rx, stop_rx));
        SyncClient { shared, task, stop }
    }

    /// Syncs `doc` as document `id` (replacing a document of that id). A `doc` that already
    /// wrote under its replica id continues under a fresh one
    /// ([`Doc::refresh_replica_if_written`]): two copies restored from one saved document never
    /// share an id.
    pub fn join(&self, id: DocId, mut doc: Doc) {
        // A document that already wrote under its id may have a twin (restored from the same
        // saved bytes) syncing under it: continue under a fresh id.
        doc.refresh_replica_if_written();
        let mut state = self.shared.lock();
        let mut entry = Entry {
            doc,
            session: SyncSession::new(id.clone()),
            guard: ReplicaGuard::new(),
        };
        let out = if state.connected {
            entry.session.connect(&entry.doc)
        } else {
            Vec::new()
        };
        let epoch = state.epoch;
        state.docs.insert(id, entry);
        drop(state);
        self.shared.send(epoch, out);
    }

    /// Edits document `id` locally, commits, and sends the change if connected. `None` if the
    /// document is not joined.
    pub fn edit<R>(&self, id: &DocId, edit: impl FnOnce(&mut Doc) -> R) -> Option<R> {
        let mut state = self.shared.lock();
        let epoch = state.epoch;
        let entry = state.docs.get_mut(id)?;
        let result = edit(&mut entry.doc);
        entry.doc.commit();
        let out = entry.session.on_local_change(&entry.doc);
        drop(state);
        self.shared.send(epoch, out);
        self.shared.bump();
        Some(result)
    }

    /// Changes document `id` other than by a local edit (e.g. a direct peer's changes applied by
    /// its own session), then sends the relay what it lacks. `None` if the document is not joined.
    pub fn update<R>(&self, id: &DocId, update: impl FnOnce(&mut Doc) -> R) -> Option<R> {
        let mut state = self.shared.lock();
        let epoch = state.epoch;
        let entry = state.docs.get_mut(id)?;
        let result = update(&mut entry.doc);
        let out = entry.session.on_local_change(&entry.doc);
        drop(state);
        self.shared.send(epoch, out);
        self.shared.bump();
        Some(result)
    }

    /// Sends `payload` to peer `to` of document `id`'s room as a `Signal` (dropped while
    /// disconnected); the relay names this client as the sender.
    pub fn send_signal(&self, id: &DocId, to: PeerId, payload: Vec<u8>) {
        let state = self.shared.lock();
        let (epoch, connected) = (state.epoch, state.connected);
        drop(state);
        if connected {
            let signal = Message::Signal {
                doc: id.clone(),
                from: self.shared.peer,
                to,
                payload,
            };
            self.shared.send(epoch, vec![signal]);
        }
    }

    /// The `Signal`s the relay delivers from now on (replacing an earlier receiver).
    pub fn signals(&self) -> mpsc::UnboundedReceiver<Signal> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self
            .shared
            .signals
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(tx);
        rx
    }

    /// A receiver that changes whenever the client's state does (a frame, an edit, a connect).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.shared.changed.subscribe()
    }

    /// Reads document `id`.
    pub fn read<R>(&self, id: &DocId, read: impl FnOnce(&Doc) -> R) -> Option<R> {
        self.shared.lock().docs.get(id).map(|e| read(&e.doc))
    }

    /// Publishes this client's presence on document `id` (or withdraws it with `None`).
    pub fn set_presence(&self, id: &DocId, state: Option<Vec<u8>>) {
        let mut guard = self.shared.lock();
        let epoch = guard.epoch;
        let peer = self.shared.peer;
        let Some(entry) = guard.docs.get_mut(id) else {
            return;
        };
        let out = entry.session.set_presence(peer, state);
        drop(guard);
        self.shared.send(epoch, out);
    }

    /// Presence of the other peers of document `id`, as the relay forwarded it.
    pub fn presence(&self, id: &DocId) -> Vec<(PeerId, Vec<u8>)> {
        self.shared
            .lock()
            .docs
            .get(id)
            .map(|e| {
                e.session
                    .presence()
                    .iter()
                    .map(|(p, s)| (p, s.to_vec()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// What the relay told this client it holds of document `id` on the current connection
    /// (its entries for this client's own replica are only told once stored durably).
    pub fn relay_version(&self, id: &DocId) -> Option<VersionVector> {
        self.shared
            .lock()
            .docs
            .get(id)
            .and_then(|e| e.session.their_version().cloned())
    }

    /// Whether the client and the relay hold the same events of document `id`.
    pub fn is_synced(&self, id: &DocId) -> bool {
        let state = self.shared.lock();
        state
            .docs
            .get(id)
            .is_some_and(|e| e.session.is_synced(&e.doc))
    }

    /// Whether the socket is up.
    pub fn is_connected(&self) -> bool {
        self.shared.lock().connected
    }

    /// How many times the client has connected.
    pub fn connects(&self) -> u64 {
        self.shared.lock().connects
    }

    /// Errors the relay reported so far.
    pub fn errors(&self) -> Vec<RemoteError> {
        self.shared.lock().errors.clone()
    }

    /// Waits until `condition` holds (checked after every change of the client's state) or
    /// `timeout` passes; returns whether it held.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        mut condition: impl FnMut(&SyncClient) -> bool,
    ) -> bool {
        let mut changed = self.shared.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if condition(self) {
                return true;
            }
            match tokio::time::timeout_at(deadline, changed.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return condition(self),
            }
        }
    }

    /// Closes the connection and stops reconnecting.
    pub async fn close(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn run(
    shared: Arc<Shared>,
    url: String,
    options: ClientOptions,
    mut outbox: mpsc::UnboundedReceiver<(u64, Vec<u8>)>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = options.min_backoff;
    loop {
        // A URL or token that cannot make a request fails like a refused connection.
        let attempt = match upgrade_request(&url, options.token.as_deref()) {
            Err(e) => Err(e),
            Ok(request) => tokio::select! {
                _ = stop.changed() => return,
                attempt = tokio_tungstenite::connect_async_with_config(
                    request,
                    Some(WebSocketConfig::default().read_buffer_size(WS_READ_BUFFER_BYTES)),
                    // TCP_NODELAY: an edit is a small frame that must leave now; with Nagle it
                    // can wait for the ACK of the previous one (up to the peer's 40 ms delayed
                    // ACK).
                    true,
                ) => attempt,
            },
        };
        match attempt {
            Ok((socket, _)) => {
                backoff = options.min_backoff;
                let stopped = drive(&shared, socket, &mut outbox, &mut stop).await;
                {
                    let mut state = shared.lock();
                    state.connected = false;
                    for entry in state.docs.values_mut() {
                        entry.session.disconnect();
                    }
                }
                shared.bump();
                if stopped {
                    return;
                }
            }
            Err(e) => tracing::debug!(url = without_query(&url), error = %e, "connect failed"),
        }
        // Full jitter: a random delay up to the current backoff, so reconnecting peers spread out.
        let delay = backoff.mul_f64(rand::random::<f64>());
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(delay) => {}
        }
        backoff = (backoff * 2).min(options.max_backoff);
    }
}

/// The upgrade request for `url`, with `token` as an `Authorization: Bearer` header: a header is
/// not logged by proxies as a URL is, and the error of a token that is no valid header value
/// does not quote it.
fn upgrade_request(
    url: &str,
    token: Option<&str>,
) -> Result<
    tokio_tungstenite::tungstenite::handshake::client::Request,
    tokio_tungstenite::tungstenite::Error,
> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::http::{header, HeaderValue};
    let mut request = url.into_client_request()?;
    if let Some(token) = token {
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|e| tokio_tungstenite::tungstenite::Error::HttpFormat(e.into()))?;
        value.set_sensitive(true);
        request.headers_mut().insert(header::AUTHORIZATION, value);
    }
    Ok(request)
}

/// `url` without its query, for logs: a caller may still have put a token there.
fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// Serves one connection; true when asked to stop.
async fn drive(
    shared: &Arc<Shared>,
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    outbox: &mut mpsc::UnboundedReceiver<(u64, Vec<u8>)>,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let (mut sink, mut stream) = socket.split();
    let (epoch, hellos) = {
        let mut state = shared.lock();
        state.epoch += 1;
        state.connected = true;
        state.connects += 1;
        let mut out = Vec::new();
        for entry in state.docs.values_mut() {
            out.extend(entry.session.connect(&entry.doc));
        }
        (state.epoch, out)
    };
    shared.bump();
    for m in hellos {
        if sink
            .send(WsMessage::Binary(encode(&m).into()))
            .await
            .is_err()
        {
            return false;
        }
    }
    loop {
        tokio::select! {
            _ = stop.changed() => {
                let _ = sink.send(WsMessage::Close(None)).await;
                return true;
            }
            queued = outbox.recv() => {
                let Some((for_epoch, frame)) = queued else { return true };
                if for_epoch != epoch {
                    continue;
                }
                if sink.send(WsMessage::Binary(frame.into())).await.is_err() {
                    return false;
                }
            }
            frame = stream.next() => {
                let Some(Ok(frame)) = frame else { return false };
                let bytes = match frame {
                    WsMessage::Binary(bytes) => bytes,
                    WsMessage::Close(reason) => {
                        tracing::debug!(?reason, "relay closed the connection");
                        return false;
                    }
                    _ => continue,
                };
                let replies = on_frame(shared, &bytes);
                for m in replies {
                    if sink.send(WsMessage::Binary(encode(&m).into())).await.is_err() {
                        return false;
                    }
                }
                shared.bump();
            }
        }
    }
}

fn on_frame(shared: &Shared, bytes: &[u8]) -> Vec<Message> {
    let message = match decode(bytes) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "undecodable frame from the relay");
            return Vec::new();
        }
    };
    if let Message::Signal {
        doc,
        from,
        to,
        payload,
    } = message
    {
        let signals = shared.signals.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = signals.as_ref() {
            let _ = tx.send(Signal {
                doc,
                from,
                to,
                payload,
            });
        }
        return Vec::new();
    }
    let mut state = shared.lock();
    if let Message::Error { doc, code, message } = &message {
        tracing::info!(?doc, ?code, %message, "relay reported an error");
        state.errors.push(RemoteError {
            doc: doc.clone(),
            code: *code,
            message: message.clone(),
        });
        // The relay dropped the document (e.g. it could not store changes) and asks to join
        // again: re-sync it on this connection, which also resends what it did not acknowledge.
        if *code == ErrorCode::Internal {
            if let Some(entry) = doc.as_ref().and_then(|id| state.docs.get_mut(id)) {
                entry.session.disconnect();
                return entry.session.connect(&entry.doc);
            }
        }
    }
    let Some(id) = message.doc().cloned() else {
        return Vec::new();
    };
    let Some(entry) = state.docs.get_mut(&id) else {
        return Vec::new();
    };
    // Also moves the document to a fresh replica id when another writer uses its id, and
    // re-syncs after the relay refused a batch.
    match entry
        .guard
        .receive(&mut entry.session, &mut entry.doc, message)
    {
        Ok(out) => out,
        Err(SyncError::Remote { .. }) => Vec::new(),
        Err(e) => {
            tracing::warn!(doc = %id, error = %e, "could not apply the relay's message");
            e.to_message(&id).into_iter().collect()
        }
    }
}
