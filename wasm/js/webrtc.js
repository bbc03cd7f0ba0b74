// WebRtcProvider: syncs a crdt-wasm Doc with the other peers of its room directly, browser to
// browser over WebRTC data channels, beside the relay (sync-server) that it also syncs with.
//
// The relay is the WebSocketProvider of ./provider.js, owned by this provider: the same socket
// carries the peers' signaling (Signal frames, authorised by the same token; the relay routes
// each to the one peer it names in the room and stamps the real sender). Each pair of peers opens
// one ordered, reliable RTCDataChannel and runs the same wasm SyncSession over it as over the
// relay, presence included: what to send is decided in Rust; this file only moves frames.
//
// - Identity: relay peer ids are connection ids (a relay restart renumbers them), so each
//   provider also has a random 16-hex-digit mesh id, carried in every signal. Direct links,
//   direct presence and `peers()` use it; a relay id is only an address to signal to.
// - Pairing: a peer seen in the relay's presence is greeted ({t: "hi"}); of two peers that
//   greeted, the one with the smaller mesh id makes the offer, so offers never cross. ICE
//   candidates trickle over the relay; `iceServers` is empty by default (host candidates: one
//   machine or one LAN).
// - A cap on direct links (`maxDirectPeers`, default 8): past it a peer is answered {t: "busy"}
//   and both keep syncing through the relay.
// - Nothing is applied twice: a change reaching a peer both directly and through the relay is a
//   no-op the second time (version vectors and idempotent changes), and a change received on one
//   path is passed on to the others, so a peer that only one path reaches still gets it.
// - Relay down: direct links stay up and keep syncing (status "direct"); relay back: the
//   WebSocketProvider's Hello sends the relay everything it lacks, direct edits included.
// - A link that closes takes its peer's direct presence with it at once; a page that hides
//   (closes) closes its links, so the others see it leave at once.
//
// Emits "status" (the relay's, or "direct" while the relay is down and a direct link is up),
// "presence" (a Map from peer id to JSON state: mesh ids for peers that greeted, relay ids for
// the others), "peers" (the list `peers()` returns), "synced" and "error".
import { SyncSession } from "./crdt_wasm.js";
import { Emitter, WebSocketProvider } from "./provider.js";

const DEFAULT_MAX_DIRECT_PEERS = 8;
/** A link not open after this long is closed; its peer stays on the relay. */
const CONNECT_TIMEOUT_MS = 15_000;
/** Failed attempts after which a peer stays on the relay. */
const MAX_ATTEMPTS = 3;
/** Data channel messages stay far below every browser's SCTP message limit (Chrome: 256 KiB). */
const CHUNK_BYTES = 64 << 10;
/** Largest sync frame reassembled from chunks (the protocol's own frame limit). */
const MAX_FRAME_BYTES = 16 << 20;
/** After an open link closed, greet the peer again this much later if the relay still shows it. */
const REGREET_MS = 1_000;
/** Relay error code of a Signal for a peer that is not in the room (it left). */
const UNKNOWN_PEER = 11;
const MESH_ID = /^[0-9a-f]{16}$/;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function randomMeshId() {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function encodeJson(state) {
  return state === null ? null : encoder.encode(JSON.stringify(state));
}

/** Splits a sync frame into data channel messages: a flag byte (1: more follow) and a part. */
export function chunkFrame(frame, size = CHUNK_BYTES) {
  const parts = [];
  for (let at = 0; at === 0 || at < frame.length; at += size) {
    const part = frame.subarray(at, at + size);
    const message = new Uint8Array(part.length + 1);
    message[0] = at + size < frame.length ? 1 : 0;
    message.set(part, 1);
    parts.push(message);
  }
  return parts;
}

/** Joins the messages chunkFrame made; `push` returns a whole frame, or null while parts are due. */
export class FrameAssembler {
  constructor(max = MAX_FRAME_BYTES) {
    this.max = max;
    this.parts = [];
    this.length = 0;
  }
  push(message) {
    const part = message.subarray(1);
    this.length += part.length;
    if (this.length > this.max) throw new Error(`a direct peer sent a frame over ${this.max} bytes`);
    this.parts.push(part);
    if (message[0] === 1) return null;
    const frame = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      frame.set(p, at);
      at += p.length;
    }
    this.parts = [];
    this.length = 0;
    return frame;
  }
}

/** One direct connection to one peer: its RTCPeerConnection, data channel and sync session. */
class DirectLink {
  constructor(owner, meshId, relayId, initiator) {
    this.owner = owner;
    this.meshId = meshId;
    this.relayId = relayId;
    this.initiator = initiator;
    this.channel = null;
    this.session = null;
    this.open = false;
    this.closed = false;
    this.assembler = new FrameAssembler();
    const pc = new owner.RTCPeerConnection({ iceServers: owner.iceServers });
    this.pc = pc;
    pc.onicecandidate = (event) => {
      if (event.candidate) this.signal({ t: "ice", c: event.candidate.toJSON() });
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed" || pc.connectionState === "closed") this.close();
    };
    this.timer = setTimeout(() => this.open || this.close(), CONNECT_TIMEOUT_MS);
    if (initiator) {
      this.attach(pc.createDataChannel("crdt-sync", { ordered: true }));
      this.negotiate(async () => {
        await pc.setLocalDescription(await pc.createOffer());
        this.signal({ t: "offer", sdp: pc.localDescription.sdp });
      });
    } else {
      pc.ondatachannel = (event) => this.attach(event.channel);
    }
  }

  signal(message) {
    this.owner._signal(this.relayId, message);
  }

  /** Runs one negotiation step; a failure closes the link (the peer stays on the relay). */
  negotiate(step) {
    step().catch((e) => {
      if (!this.closed) this.owner._emit("error", e);
      this.close();
    });
  }

  acceptOffer(sdp) {
    this.negotiate(async () => {
      await this.pc.setRemoteDescription({ type: "offer", sdp });
      await this.pc.setLocalDescription(await this.pc.createAnswer());
      this.signal({ t: "answer", sdp: this.pc.localDescription.sdp });
    });
  }

  acceptAnswer(sdp) {
    if (this.initiator) this.negotiate(() => this.pc.setRemoteDescription({ type: "answer", sdp }));
  }

  addCandidate(candidate) {
    // A candidate the connection cannot use (another network, or after close) changes nothing.
    this.pc.addIceCandidate(candidate).catch(() => {});
  }

  attach(channel) {
    channel.binaryType = "arraybuffer";
    this.channel = channel;
    channel.onopen = () => this.onOpen();
    channel.onclose = () => this.close();
    channel.onmessage = (event) => this.onData(event.data);
    if (channel.readyState === "open") this.onOpen();
  }

  onOpen() {
    if (this.open || this.closed) return;
    this.open = true;
    clearTimeout(this.timer);
    const owner = this.owner;
    this.session = new SyncSession(owner.docId);
    // Announced by connect(), after the Hello.
    owner._attempts.delete(this.meshId);
    this.session.setPresence(owner.peerId, owner._presenceBytes);
    this.send(this.session.connect(owner.doc));
    owner._changed();
  }

  onData(data) {
    if (this.closed || typeof data === "string") return;
    let frame;
    try {
      frame = this.assembler.push(new Uint8Array(data));
    } catch (e) {
      this.owner._emit("error", e);
      this.close();
      return;
    }
    if (frame) this.owner._receive(this, frame);
  }

  send(frames) {
    if (!this.open || this.closed) return;
    try {
      for (const frame of frames) {
        for (const message of chunkFrame(frame)) this.channel.send(message);
      }
    } catch (e) {
      // A full send queue or a channel closing under us: the relay still carries the changes.
      this.owner._emit("error", e);
      this.close();
    }
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.session?.disconnect();
    if (this.channel) this.channel.onclose = this.channel.onmessage = null;
    this.channel?.close();
    this.pc.onconnectionstatechange = this.pc.onicecandidate = null;
    this.pc.close();
    this.owner._linkClosed(this);
  }
}

/**
 * Syncs `doc` as document `docId` with the relay at `relayUrl` and, over WebRTC data channels,
 * directly with the room's other peers. Options: `token` (the relay token; it also authorises
 * signaling, which needs write access), `iceServers` (RTCIceServer[]; default none),
 * `maxDirectPeers` (default 8), `presence` (initial presence; default `{}`, since peers find
 * each other through the relay's presence), and every WebSocketProvider option (`store`,
 * `broadcast`, `WebSocket`); `RTCPeerConnection` (the constructor; default the global one).
 */
export class WebRtcProvider extends Emitter {
  constructor(relayUrl, docId, doc, options = {}) {
    super();
    this.RTCPeerConnection = options.RTCPeerConnection ?? globalThis.RTCPeerConnection;
    if (typeof this.RTCPeerConnection !== "function") {
      throw new Error("no RTCPeerConnection: WebRTC needs a browser (or pass options.RTCPeerConnection)");
    }
    const max = options.maxDirectPeers ?? DEFAULT_MAX_DIRECT_PEERS;
    if (!Number.isInteger(max) || max < 0) throw new Error("options.maxDirectPeers must be an integer >= 0");
    this.maxDirectPeers = max;
    this.iceServers = options.iceServers ?? [];
    this.docId = docId;
    this.doc = doc;
    /** This peer's id in the mesh (16 hex digits). */
    this.peerId = randomMeshId();
    const presence = options.presence === undefined ? {} : options.presence;
    this._presenceBytes = encodeJson(presence);
    this.relay = new WebSocketProvider(relayUrl, docId, doc, { ...options, presence });
    this.status = "offline";
    this.presence = new Map();
    this._links = new Map(); // mesh id -> DirectLink
    this._aliases = new Map(); // relay peer id -> mesh id, for this relay connection
    this._greeted = new Set(); // relay peer ids greeted on this relay connection
    this._relayOnly = new Set(); // mesh ids of peers past a cap
    this._attempts = new Map(); // mesh id -> failed attempts
    this._flushQueued = false;
    this._destroyed = false;
    this._regreet = null;
    this._unlisten = [
      this.relay.on("signal", (info) => this._onSignal(info)),
      this.relay.on("presence", () => this._onRelayPresence()),
      this.relay.on("status", (status) => this._onRelayStatus(status)),
      this.relay.on("synced", () => this._emit("synced")),
      this.relay.on("error", (e) => e.code === UNKNOWN_PEER || this._emit("error", e)),
    ];
    this._subscription = doc.subscribe(() => this._queueFlush());
    this._onPageHide = () => this._closeLinks();
    globalThis.addEventListener?.("pagehide", this._onPageHide);
    this._onRelayStatus(this.relay.status);
  }

  /** Resolves when the store (if any) has loaded. */
  get ready() {
    return this.relay.ready;
  }

  /** True when connected to the relay and the relay holds what this document holds. */
  get synced() {
    return this.relay.synced;
  }

  /** Resolves once the document has synced with the relay. */
  whenSynced() {
    return this.relay.whenSynced();
  }

  /** Resolves when every change so far was persisted (with a store) and handed to the relay socket. */
  flushed() {
    return this.relay.flushed();
  }

  /**
   * Every other peer known through the relay's presence or a direct link: `{ peer, direct,
   * relay, presence }`, `direct` true while a data channel to it is open, `relay` true while the
   * relay shows it.
   */
  peers() {
    const relayPeers = new Set([...this.relay.presence.keys()].map((id) => this._aliases.get(id) ?? id));
    const ids = new Set([...this.presence.keys(), ...[...this._links.values()].filter((l) => l.open).map((l) => l.meshId)]);
    return [...ids].map((peer) => ({
      peer,
      direct: this._links.get(peer)?.open === true,
      relay: relayPeers.has(peer),
      presence: this.presence.get(peer) ?? null,
    }));
  }

  /** Sets (null: withdraws; then the relay no longer shows this peer to new peers) this peer's presence. */
  setPresence(state) {
    this._presenceBytes = encodeJson(state);
    this.relay.setPresence(state);
    for (const link of this._links.values()) {
      if (link.open) link.send(link.session.setPresence(this.peerId, this._presenceBytes));
    }
  }

  /** Closes every direct link and stops syncing with the relay. */
  destroy() {
    if (this._destroyed) return;
    this._destroyed = true;
    clearTimeout(this._regreet);
    globalThis.removeEventListener?.("pagehide", this._onPageHide);
    for (const off of this._unlisten) off();
    this.doc.unsubscribe(this._subscription);
    this._closeLinks();
    this.relay.destroy();
    this._setStatus("offline");
  }

  _closeLinks() {
    for (const link of [...this._links.values()]) link.close();
  }

  _signal(relayId, message) {
    this.relay.sendSignal(relayId, encoder.encode(JSON.stringify({ ...message, n: this.peerId })));
  }

  _canLink(meshId) {
    return !this._destroyed && !this._relayOnly.has(meshId) && (this._attempts.get(meshId) ?? 0) < MAX_ATTEMPTS
      && this._links.size < this.maxDirectPeers;
  }

  _greet(relayId) {
    this._greeted.add(relayId);
    this._signal(relayId, { t: "hi" });
  }

  _onRelayStatus(status) {
    if (status === "offline" || status === "connecting") {
      // Relay peer ids are connection ids: a new relay connection may renumber every peer.
      this._aliases.clear();
      this._greeted.clear();
    }
    this._updateStatus();
  }

  _onRelayPresence() {
    for (const relayId of this.relay.presence.keys()) {
      const known = this._aliases.get(relayId);
      const wanted = known === undefined ? this._links.size < this.maxDirectPeers : !this._links.has(known) && this._canLink(known);
      if (!this._greeted.has(relayId) && wanted) this._greet(relayId);
    }
    this._changed();
  }

  _onSignal(info) {
    let message;
    try {
      message = JSON.parse(decoder.decode(info.payload));
    } catch {
      return; // not a signal of this provider
    }
    const meshId = message?.n;
    if (typeof meshId !== "string" || !MESH_ID.test(meshId) || meshId === this.peerId) return;
    const from = info.from;
    this._aliases.set(from, meshId);
    const link = this._links.get(meshId);
    if (link) link.relayId = from;
    switch (message.t) {
      case "hi":
        this._onHi(from, meshId);
        break;
      case "busy":
        this._relayOnly.add(meshId);
        link?.close();
        break;
      case "offer":
        if (typeof message.sdp === "string") this._onOffer(from, meshId, message.sdp);
        break;
      case "answer":
        if (typeof message.sdp === "string") link?.acceptAnswer(message.sdp);
        break;
      case "ice":
        if (message.c && typeof message.c === "object") link?.addCandidate(message.c);
        break;
    }
    this._changed();
  }

  _onHi(from, meshId) {
    if (this._links.has(meshId)) {
      // Let the peer learn this relay connection's id for us (after a relay restart).
      if (!this._greeted.has(from)) this._greet(from);
      return;
    }
    if (!this._canLink(meshId)) {
      this._signal(from, { t: "busy" }); // past the cap, or failed too often: stay on the relay
      return;
    }
    if (this.peerId < meshId) {
      this._links.set(meshId, new DirectLink(this, meshId, from, true));
    } else if (!this._greeted.has(from)) {
      this._greet(from); // the other side makes the offer once it hears from us
    }
  }

  _onOffer(from, meshId, sdp) {
    // A new offer replaces a link the peer gave up on (it offers again after a failure).
    this._links.get(meshId)?.close();
    if (!this._canLink(meshId)) {
      this._signal(from, { t: "busy" });
      return;
    }
    const link = new DirectLink(this, meshId, from, false);
    this._links.set(meshId, link);
    link.acceptOffer(sdp);
  }

  _linkClosed(link) {
    if (this._links.get(link.meshId) !== link) return;
    this._links.delete(link.meshId);
    if (!link.open) this._attempts.set(link.meshId, (this._attempts.get(link.meshId) ?? 0) + 1);
    for (const [relayId, meshId] of this._aliases) {
      if (meshId === link.meshId) this._greeted.delete(relayId);
    }
    this._changed();
    // A peer still on the relay lost only its link: greet it again (a peer that left is gone
    // from the relay's presence by then).
    if (!this._destroyed && this._regreet === null) {
      this._regreet = setTimeout(() => {
        this._regreet = null;
        if (!this._destroyed) this._onRelayPresence();
      }, REGREET_MS);
    }
  }

  _receive(link, frame) {
    let out;
    try {
      out = link.session.receive(this.doc, frame);
    } catch (e) {
      this._emit("error", e);
      return;
    }
    link.send(out);
    this._changed();
  }

  /** The document changed (here, through the relay, or through a link): tell every link. */
  _queueFlush() {
    if (this._flushQueued) return;
    this._flushQueued = true;
    // After the call that changed the document returns (it may be a session's receive).
    queueMicrotask(() => {
      this._flushQueued = false;
      if (this._destroyed) return;
      for (const link of this._links.values()) {
        if (link.open) link.send(link.session.onLocalChange(this.doc));
      }
    });
  }

  /** Recomputes presence, peers and status, and emits what changed. */
  _changed() {
    const next = new Map();
    for (const [relayId, state] of this.relay.presence) next.set(this._aliases.get(relayId) ?? relayId, state);
    for (const link of this._links.values()) {
      if (!link.open) continue;
      for (const { peer, state } of link.session.presence()) {
        if (peer !== link.meshId) continue; // a direct peer speaks only for itself
        try {
          next.set(peer, JSON.parse(decoder.decode(state)));
        } catch {
          // Presence that is not JSON: not ours to show.
        }
      }
    }
    const key = (map) => JSON.stringify([...map].sort(([a], [b]) => (a < b ? -1 : 1)));
    const peersBefore = JSON.stringify(this._lastPeers ?? null);
    if (key(next) !== key(this.presence)) {
      this.presence = next;
      this._emit("presence", next);
    }
    const peers = this.peers();
    if (JSON.stringify(peers) !== peersBefore) {
      this._lastPeers = peers;
      this._emit("peers", peers);
    }
    this._updateStatus();
  }

  _updateStatus() {
    const direct = [...this._links.values()].some((link) => link.open);
    this._setStatus(this.relay.status === "offline" && direct ? "direct" : this.relay.status);
  }

  _setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this._emit("status", status);
  }
}
