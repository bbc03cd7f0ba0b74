// WebSocketProvider: keeps a crdt-wasm Doc in sync with a relay (sync-server) over WebSocket.
//
// The protocol is crdt-core's sync protocol (crdt_core::sync), one MessagePack frame per binary
// WebSocket message; the per-document state machine is the wasm SyncSession, so this file only
// moves frames and runs timers — what to send is decided in Rust and tested once in crdt-core.
//
// - One socket per relay URL and token carries every document of the page: providers of the
//   same URL and token share a Connection, which routes incoming frames by their document id.
// - The token travels as the WebSocket subprotocol `token.<JWT>` (beside `crdt-sync`, which the
//   relay selects), never in the URL: proxies and access logs keep URLs. Nothing here logs it.
// - Reconnects with exponential backoff and jitter (250 ms doubling to 30 s), at once when the
//   browser reports it is back online; drops the socket when the browser reports it is offline.
// - Emits "status": "connecting" | "connected" | "synced" | "offline"; "presence": a Map from
//   peer id (hex) to the decoded JSON state of every other peer; "synced"; "error": an Error;
//   "signal": a Signal frame's `{ from, to, payload }` (WebRTC signaling, see ./webrtc.js).
// - With a store (IndexedDBStore from ./idb.js), the document is loaded from it before the first
//   Hello, and every local change is persisted before it is sent.
// - With BroadcastChannel available, tabs of one origin exchange changes directly (TabChannel,
//   ./broadcast.js), so they converge without the network.
//
// Edits are sent when committed (doc.commit()), one change per commit.
import { SyncSession, describeFrame, encodeSignalFrame } from "./crdt_wasm.js";
import { TabChannel } from "./broadcast.js";

const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 30_000;

/** A small event emitter (on/off), as y-websocket's Observable. */
export class Emitter {
  constructor() {
    this._handlers = new Map();
  }
  /** Calls `handler(...args)` on every `event`; returns a function that stops it. */
  on(event, handler) {
    if (!this._handlers.has(event)) this._handlers.set(event, new Set());
    this._handlers.get(event).add(handler);
    return () => this.off(event, handler);
  }
  /** Stops `handler`. */
  off(event, handler) {
    this._handlers.get(event)?.delete(handler);
  }
  _emit(event, ...args) {
    for (const handler of [...(this._handlers.get(event) ?? [])]) {
      try {
        handler(...args);
      } catch (e) {
        // A failing handler must not break the sync loop; surface it asynchronously.
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }
}

/** The delay before reconnect attempt `attempt` (0-based): exponential, with jitter in [cap/2, cap). */
export function backoffDelay(attempt, random = Math.random) {
  const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 30));
  return Math.floor(cap / 2 + random() * (cap / 2));
}

/** The subprotocol of the relay (sync-server), which it selects when a client offers it. */
export const SUBPROTOCOL = "crdt-sync";

// The characters of an HTTP token (RFC 9110 §5.6.2), which a subprotocol name must be made of.
const TOKEN_CHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * The subprotocols a connection offers: none without a token, else `crdt-sync` and
 * `token.<token>`. Throws (without quoting the token) when the token cannot be a subprotocol.
 */
export function connectionProtocols(token) {
  if (token === undefined || token === null) return [];
  if (typeof token !== "string" || !TOKEN_CHARS.test(token)) {
    throw new Error("options.token must be a JWT: letters, digits and -_. only (it was not logged)");
  }
  return [SUBPROTOCOL, `token.${token}`];
}

const connections = new Map();

/** One WebSocket to one relay, shared by the providers of every document synced through it. */
class Connection {
  constructor(key, url, protocols, WebSocketImpl) {
    this.key = key;
    this.url = url;
    this.protocols = protocols;
    this.WebSocket = WebSocketImpl;
    this.providers = new Map();
    this.socket = null;
    this.attempt = 0;
    this.timer = null;
    this.closed = false;
    this._onOnline = () => this._reconnectNow();
    // An open WebSocket outlives a lost network until the relay's ping timeout: when the browser
    // says it is offline, act on the loss at once (status "offline", changes kept for later).
    this._onOffline = () => this.drop();
    if (typeof globalThis.addEventListener === "function") {
      globalThis.addEventListener("online", this._onOnline);
      globalThis.addEventListener("offline", this._onOffline);
    }
  }

  /** The live connection to `url` with `token`, opened on first use. */
  static get(url, token, WebSocketImpl) {
    const protocols = connectionProtocols(token);
    // Keyed by the token too (never shown): two tokens are two identities, two sockets.
    const key = JSON.stringify([url, token ?? null]);
    let connection = connections.get(key);
    if (!connection || connection.closed) {
      connection = new Connection(key, url, protocols, WebSocketImpl);
      connections.set(key, connection);
    }
    return connection;
  }

  isOpen() {
    return this.socket !== null && this.socket.readyState === 1;
  }

  add(provider) {
    if (this.providers.has(provider.docId)) {
      throw new Error(`document ${provider.docId} already has a provider on ${this.url}`);
    }
    this.providers.set(provider.docId, provider);
    if (this.isOpen()) provider._onOpen();
    else if (this.socket === null && this.timer === null) this._open();
    else provider._setStatus(this.socket === null ? "offline" : "connecting");
  }

  remove(provider) {
    if (this.providers.get(provider.docId) !== provider) return;
    this.providers.delete(provider.docId);
    if (this.providers.size === 0) this.close();
  }

  send(frame) {
    if (!this.isOpen()) return false;
    this.socket.send(frame);
    return true;
  }

  /** Closes the socket for good (the last provider left). */
  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = null;
    if (typeof globalThis.removeEventListener === "function") {
      globalThis.removeEventListener("online", this._onOnline);
      globalThis.removeEventListener("offline", this._onOffline);
    }
    if (connections.get(this.key) === this) connections.delete(this.key);
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
      socket.close();
    }
    for (const provider of this.providers.values()) provider._onClose();
  }

  /** Drops the socket as if the network failed (tests, and a "reconnect" button). */
  drop() {
    const socket = this.socket;
    if (socket === null) return;
    socket.close();
    // A lost network ends no close handshake: act on the loss now, not when (or if) the
    // handshake completes. The close event that may follow finds another socket and is ignored.
    socket.onclose?.();
  }

  _open() {
    this.timer = null;
    if (this.closed) return;
    for (const provider of this.providers.values()) provider._setStatus("connecting");
    let socket;
    try {
      socket = this.protocols.length > 0
        ? new this.WebSocket(this.url, this.protocols)
        : new this.WebSocket(this.url);
    } catch (e) {
      for (const provider of this.providers.values()) provider._emit("error", e);
      this._scheduleReconnect();
      return;
    }
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.onopen = () => {
      for (const provider of this.providers.values()) provider._onOpen();
    };
    socket.onmessage = (event) => this._onMessage(event.data);
    socket.onerror = () => {
      // onclose follows and schedules the reconnect.
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      for (const provider of this.providers.values()) provider._onClose();
      this._scheduleReconnect();
    };
  }

  _scheduleReconnect() {
    if (this.closed || this.timer !== null || this.providers.size === 0) return;
    const delay = backoffDelay(this.attempt++);
    this.timer = setTimeout(() => this._open(), delay);
  }

  _reconnectNow() {
    if (this.closed || this.socket !== null) return;
    clearTimeout(this.timer);
    this.attempt = 0;
    this._open();
  }

  _onMessage(data) {
    if (typeof data === "string") return; // the protocol is binary only
    const frame = new Uint8Array(data);
    this.attempt = 0; // the relay answers: the next drop starts the backoff afresh
    let info;
    try {
      info = describeFrame(frame);
    } catch (e) {
      for (const provider of this.providers.values()) provider._emit("error", e);
      return;
    }
    if (info.doc === undefined) {
      const error = Object.assign(new Error(`relay error ${info.code}: ${info.message}`), { code: info.code });
      for (const provider of this.providers.values()) provider._emit("error", error);
      return;
    }
    this.providers.get(info.doc)?._onFrame(frame, info);
  }
}

/**
 * Syncs `doc` as document `docId` through the relay at `url`.
 *
 * Options: `token` (sent as the subprotocol `token.<JWT>`), `store` (an IndexedDBStore: loaded
 * before the first Hello, written before every send of local changes), `presence` (initial
 * presence state, any JSON value), `broadcast` (default true: sync tabs through
 * BroadcastChannel when available), `WebSocket` (the constructor; default the global one).
 */
export class WebSocketProvider extends Emitter {
  constructor(url, docId, doc, options = {}) {
    super();
    const WebSocketImpl = options.WebSocket ?? globalThis.WebSocket;
    if (typeof WebSocketImpl !== "function") {
      throw new Error("no WebSocket implementation: pass options.WebSocket");
    }
    const connection = Connection.get(url, options.token, WebSocketImpl);
    if (connection.providers.has(docId)) {
      throw new Error(`document ${docId} already has a provider on ${url}`);
    }
    // A document that already wrote under its replica id may have a twin (another tab restored
    // from the same saved bytes) syncing under it: continue under a fresh id.
    doc.refreshReplicaIfWritten();
    this.url = url;
    this.docId = docId;
    this.doc = doc;
    this.store = options.store ?? null;
    this.session = new SyncSession(docId);
    this.status = "offline";
    this.presence = new Map();
    this._destroyed = false;
    this._synced = false;
    this._inReceive = false;
    this._flushing = Promise.resolve();
    this._flushQueued = null;
    this._syncedWaiters = [];
    this.ready = (this.store ? this.store.whenLoaded() : Promise.resolve()).catch((e) => this._emit("error", e));
    this._subscription = doc.subscribe((event) => {
      // Called from inside the call that changed the document (perhaps this session's own
      // receive, which answers by itself): act once that call has returned.
      if (!this._inReceive) this._queueFlush(event.origin === "local");
    });
    const useBroadcast = options.broadcast ?? true;
    this.tabs = useBroadcast && typeof globalThis.BroadcastChannel === "function"
      ? new TabChannel(docId, doc)
      : null;
    if (options.presence !== undefined) this.setPresence(options.presence);
    this.connection = connection;
    connection.add(this);
  }

  /** True when connected and the relay holds exactly what this document holds. */
  get synced() {
    return this.session.isSynced(this.doc);
  }

  /** Resolves once the document has synced with the relay on the current connection. */
  whenSynced() {
    if (this._synced) return Promise.resolve();
    return new Promise((resolve) => this._syncedWaiters.push(resolve));
  }

  /** Sets this peer's presence (any JSON value; `null` withdraws it) and announces it. */
  setPresence(state) {
    const bytes = state === null ? null : new TextEncoder().encode(JSON.stringify(state));
    this._send(this.session.setPresence(this.doc.replicaId, bytes));
  }

  /**
   * Sends `payload` (bytes) to peer `to` (a peer id of the presence map) of this document's room
   * as a Signal frame; the relay names this peer as its sender. False while disconnected.
   */
  sendSignal(to, payload) {
    return this.connection.send(encodeSignalFrame(this.docId, to, payload));
  }

  /** Waits until every change committed so far was persisted (with a store) and handed to the socket. */
  flushed() {
    return this._flushing;
  }

  /** Stops syncing: closes the shared socket when no other document uses it. */
  destroy() {
    if (this._destroyed) return;
    this._destroyed = true;
    this.doc.unsubscribe(this._subscription);
    this.tabs?.close();
    this.connection.remove(this);
    this.session.disconnect();
    this._setStatus("offline");
  }

  _setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this._emit("status", status);
  }

  _send(frames) {
    for (const frame of frames) this.connection.send(frame);
  }

  async _onOpen() {
    await this.ready;
    await this._flushing; // local changes are persisted before anything is sent
    if (this._destroyed || !this.connection.isOpen() || this.session.isConnected) return;
    this._synced = false;
    this._send(this.session.connect(this.doc));
    this._setStatus("connected");
  }

  _onClose() {
    this.session.disconnect();
    this._synced = false;
    if (this.presence.size > 0) {
      this.presence = new Map();
      this._emit("presence", this.presence);
    }
    if (!this._destroyed) this._setStatus("offline");
  }

  _onFrame(frame, info) {
    if (info.kind === "signal") {
      // Addressed to this peer's WebRTC side (./webrtc.js), not to the sync session.
      this._emit("signal", info);
      return;
    }
    let out;
    this._inReceive = true;
    try {
      out = this.session.receive(this.doc, frame);
    } catch (e) {
      this._emit("error", e);
      return;
    } finally {
      this._inReceive = false;
    }
    this._send(out);
    if (info.kind === "presence") this._updatePresence();
    if (info.kind === "changes" && this.store) {
      // Keep remote changes locally too, so that a reload offline shows them.
      this.store.persist().catch((e) => this._emit("error", e));
    }
    if (!this._synced && this.session.isSynced(this.doc)) {
      this._synced = true;
      this._setStatus("synced");
      for (const resolve of this._syncedWaiters.splice(0)) resolve();
      this._emit("synced");
    }
  }

  _updatePresence() {
    const next = new Map();
    const decoder = new TextDecoder();
    for (const { peer, state } of this.session.presence()) {
      if (peer === this.doc.replicaId) continue;
      try {
        next.set(peer, JSON.parse(decoder.decode(state)));
      } catch {
        // Presence from a client that does not speak JSON: not ours to show.
      }
    }
    this.presence = next;
    this._emit("presence", next);
  }

  _queueFlush(local) {
    if (this._flushQueued) {
      this._flushQueued.local ||= local;
      return;
    }
    const job = { local };
    this._flushQueued = job;
    this._flushing = this._flushing.then(async () => {
      this._flushQueued = null;
      if (this._destroyed) return;
      try {
        // Persist before sending: a change the relay holds is never missing locally.
        if (this.store) await this.store.persist();
        if (job.local) this.tabs?.post();
        this._send(this.session.onLocalChange(this.doc));
      } catch (e) {
        this._emit("error", e);
      }
    });
  }
}
