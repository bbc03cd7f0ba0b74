//! The sync protocol for JS drivers (the WebSocket provider): `SyncSession`, the core's sans-IO
//! [`crdt_core::sync::SyncSession`] for one document with one peer (the relay), taking and
//! returning encoded frames (`Uint8Array`, one per binary WebSocket message), and
//! `describeFrame`, which tells a driver which document a frame is for (one socket carries many
//! documents) and what an `Error` frame says.
//!
//! Frames are encoded and decoded by [`crdt_core::sync::encode`]/[`decode`] only; the session
//! decides what to send. Peer ids are 16 hex digits, as replica ids.

use crdt_core::sync::{
    decode, encode, DocId, ErrorCode, Message, PeerId, ReplicaGuard, SyncError,
    SyncSession as CoreSession,
};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::convert::{bytes_to_js, replica_from_str, replica_to_string};
use crate::doc::Doc;
use crate::error::{js_error, JsResult};

fn set(object: &Object, key: &str, value: impl Into<JsValue>) {
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(object, &key.into(), &value.into());
}

fn frames(messages: Vec<Message>) -> Array {
    messages
        .iter()
        .map(|m| JsValue::from(bytes_to_js(&encode(m))))
        .collect()
}

fn peer_to_string(peer: PeerId) -> String {
    replica_to_string(crdt_core::ReplicaId::new(peer.0))
}

/// The sync state of one document with one peer; see the [module docs](self).
#[wasm_bindgen]
pub struct SyncSession {
    inner: CoreSession,
    /// Keeps the document's replica id its own, and re-syncs after a refused batch.
    guard: ReplicaGuard,
}

#[wasm_bindgen]
impl SyncSession {
    /// A disconnected session for document `docId` (1 to 256 bytes of `[A-Za-z0-9._~:/-]`).
    #[wasm_bindgen(constructor)]
    pub fn new(doc_id: &str) -> JsResult<SyncSession> {
        let id = DocId::new(doc_id).map_err(js_error)?;
        Ok(SyncSession {
            inner: CoreSession::new(id),
            guard: ReplicaGuard::new(),
        })
    }

    /// The document id.
    #[wasm_bindgen(getter, js_name = docId)]
    pub fn doc_id(&self) -> String {
        self.inner.doc_id().as_str().to_owned()
    }

    /// True between `connect` and `disconnect`.
    #[wasm_bindgen(getter, js_name = isConnected)]
    pub fn is_connected(&self) -> bool {
        self.inner.is_connected()
    }

    /// The transport is up (or a resync is wanted): the frames to send (Hello first).
    pub fn connect(&mut self, doc: &Doc) -> JsResult<Array> {
        let out = doc.shared().read(|d| Ok(self.inner.connect(d)))?;
        Ok(frames(out))
    }

    /// The transport closed: forgets the peer's state and the presence it sent.
    pub fn disconnect(&mut self) {
        self.inner.disconnect();
    }

    /// Handles one received frame; returns the frames to send back. Throws when the frame is
    /// malformed, names another document, carries changes the document refuses, or is an
    /// `Error` from the peer (the exception's `code` is the wire code). Listeners of `doc` get
    /// the events of applied changes. When the frame shows that another writer uses the
    /// document's replica id (an `Error` with code 10 naming it, or changes under it that this
    /// document did not make), the document continues under a fresh id; after the peer refused
    /// a batch (code 9 or 10), the answer to its next `Changes` includes a Hello (a re-sync).
    pub fn receive(&mut self, doc: &Doc, frame: &[u8]) -> JsResult<Array> {
        let message = decode(frame).map_err(js_error)?;
        let (inner, guard) = (&mut self.inner, &mut self.guard);
        let out = doc
            .shared()
            .with(|d| guard.receive(inner, d, message).map_err(sync_error))?;
        Ok(frames(out))
    }

    /// The document changed other than through this session (a local commit, an import from
    /// another tab): the frames to send, if any.
    #[wasm_bindgen(js_name = onLocalChange)]
    pub fn on_local_change(&mut self, doc: &Doc) -> JsResult<Array> {
        let out = doc.shared().read(|d| Ok(self.inner.on_local_change(d)))?;
        Ok(frames(out))
    }

    /// Sets (or with `null` withdraws) this side's presence as `peer` (hex, usually
    /// `doc.replicaId`); returns the frames to send now (none while disconnected: the state is
    /// announced on the next `connect`).
    #[wasm_bindgen(js_name = setPresence)]
    pub fn set_presence(&mut self, peer: &str, state: Option<Vec<u8>>) -> JsResult<Array> {
        let peer = PeerId(replica_from_str(peer).map_err(js_error)?.get());
        Ok(frames(self.inner.set_presence(peer, state)))
    }

    /// The presence received on this connection: an array of `{ peer, state }` (`state` a
    /// `Uint8Array`), in peer order.
    #[wasm_bindgen(unchecked_return_type = "{ peer: ReplicaId; state: Uint8Array }[]")]
    pub fn presence(&self) -> Array {
        self.inner
            .presence()
            .iter()
            .map(|(peer, state)| {
                let entry = Object::new();
                set(&entry, "peer", peer_to_string(peer));
                set(&entry, "state", bytes_to_js(state));
                JsValue::from(entry)
            })
            .collect()
    }

    /// True when connected and both sides hold the same changes, as far as this session knows.
    #[wasm_bindgen(js_name = isSynced)]
    pub fn is_synced(&self, doc: &Doc) -> JsResult<bool> {
        doc.shared().read(|d| Ok(self.inner.is_synced(d)))
    }
}

/// A [`SyncError`] as a JS `Error`, with the wire `code` when the peer reported one.
fn sync_error(error: SyncError<crdt_core::DocError>) -> JsValue {
    let js = js_error(&error);
    if let SyncError::Remote { code, .. } = &error {
        let _ = Reflect::set(&js, &"code".into(), &f64::from(code.code()).into());
    }
    js
}

/// What a driver needs to know of a frame before handing it to a session: `{ kind, doc }` with
/// `kind` one of `"hello" | "changes" | "ack" | "presence" | "error" | "signal"` and `doc` the
/// document id (`undefined` for a connection-wide error); error frames add `code` (number) and
/// `message`; signal frames add `from` and `to` (peer ids, hex) and `payload` (`Uint8Array`).
/// Throws when the frame is malformed.
#[wasm_bindgen(js_name = describeFrame, unchecked_return_type = "FrameInfo")]
pub fn describe_frame(frame: &[u8]) -> JsResult<JsValue> {
    let message = decode(frame).map_err(js_error)?;
    let out = Object::new();
    let kind = match &message {
        Message::Hello { .. } => "hello",
        Message::Changes { .. } => "changes",
        Message::Ack { .. } => "ack",
        Message::Presence { .. } => "presence",
        Message::Error { .. } => "error",
        Message::Signal { .. } => "signal",
    };
    set(&out, "kind", kind);
    if let Some(doc) = message.doc() {
        set(&out, "doc", doc.as_str());
    }
    if let Message::Error { code, message, .. } = &message {
        set(&out, "code", f64::from(code.code()));
        set(&out, "message", message.as_str());
    }
    if let Message::Signal {
        from, to, payload, ..
    } = &message
    {
        set(&out, "from", peer_to_string(*from));
        set(&out, "to", peer_to_string(*to));
        set(&out, "payload", bytes_to_js(payload));
    }
    Ok(out.into())
}

/// An `Error` frame (e.g. for a driver that refuses a frame itself): `code` is a wire error
/// code (1 bad message ... 9 bad changes), `doc` optional.
#[wasm_bindgen(js_name = encodeErrorFrame)]
pub fn encode_error_frame(doc: Option<String>, code: u16, message: &str) -> JsResult<Vec<u8>> {
    let doc = doc.map(DocId::new).transpose().map_err(js_error)?;
    Ok(encode(&Message::Error {
        doc,
        code: ErrorCode::from_code(code),
        message: message.to_owned(),
    }))
}

/// A `Signal` frame for document `doc` to peer `to` (hex, as presence names peers) carrying
/// `payload` (a WebRTC offer, answer or candidate). The relay sets the sender.
#[wasm_bindgen(js_name = encodeSignalFrame)]
pub fn encode_signal_frame(doc: &str, to: &str, payload: &[u8]) -> JsResult<Vec<u8>> {
    Ok(encode(&Message::Signal {
        doc: DocId::new(doc).map_err(js_error)?,
        from: PeerId(0),
        to: PeerId(replica_from_str(to).map_err(js_error)?.get()),
        payload: payload.to_vec(),
    }))
}
