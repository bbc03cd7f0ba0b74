// A minimal relay for the provider tests, driving the same SyncSession as the provider (one per
// peer per document) over `ws`: it joins documents on Hello, answers, fans changes out to the
// document's other peers, forwards presence, and refuses connections without the right token,
// which it reads, as sync-server does, from the subprotocol `token.<JWT>` (never the URL).
// The real relay is sync-server; this one exists so that the provider's tests need no Rust
// server and can drop connections at will.
import { WebSocketServer } from "ws";

export class TestRelay {
  /** Starts on a free loopback port; `token` (optional) is required of every connection. */
  static async start(wasm, { token } = {}) {
    const relay = new TestRelay(wasm, token);
    await new Promise((resolve) => relay.server.on("listening", resolve));
    return relay;
  }

  constructor(wasm, token) {
    this.wasm = wasm;
    this.token = token;
    this.rooms = new Map();
    this.connections = new Set();
    /** Every upgrade request: its URL and the subprotocols it offered. */
    this.requests = [];
    this.server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    this.server.on("connection", (ws, req) => this._onConnection(ws, req));
  }

  get url() {
    return `ws://127.0.0.1:${this.server.address().port}`;
  }

  /** The relay's copy of `docId`. */
  doc(docId) {
    return this._room(docId).doc;
  }

  /** The sockets that joined `docId`. */
  peersOf(docId) {
    return new Set(this._room(docId).peers.keys());
  }

  /** Closes every connection (the providers see a network failure). */
  dropAll() {
    for (const ws of this.connections) ws.terminate();
  }

  async close() {
    this.dropAll();
    await new Promise((resolve) => this.server.close(resolve));
  }

  _room(docId) {
    let room = this.rooms.get(docId);
    if (!room) {
      room = { doc: new this.wasm.Doc(), peers: new Map() };
      this.rooms.set(docId, room);
    }
    return room;
  }

  _onConnection(ws, req) {
    const offered = (req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
    this.requests.push({ url: req.url, protocols: offered });
    const token = offered.find((p) => p.startsWith("token."))?.slice("token.".length);
    if (this.token !== undefined && token !== this.token) {
      ws.send(this.wasm.encodeErrorFrame(undefined, 4, "bad token"));
      ws.close();
      return;
    }
    this.connections.add(ws);
    const joined = new Set();
    ws.on("message", (data, isBinary) => {
      if (!isBinary) return;
      const frame = new Uint8Array(data);
      let info;
      try {
        info = this.wasm.describeFrame(frame);
      } catch (e) {
        ws.send(this.wasm.encodeErrorFrame(undefined, 1, String(e.message)));
        return;
      }
      const room = this._room(info.doc);
      let session = room.peers.get(ws);
      if (!session) {
        session = new this.wasm.SyncSession(info.doc);
        room.peers.set(ws, session);
        joined.add(room);
      }
      try {
        for (const out of session.receive(room.doc, frame)) ws.send(out);
      } catch (e) {
        ws.send(this.wasm.encodeErrorFrame(info.doc, 9, String(e.message)));
        return;
      }
      for (const [peer, other] of room.peers) {
        if (peer === ws) continue;
        if (info.kind === "changes") for (const out of other.onLocalChange(room.doc)) peer.send(out);
        if (info.kind === "presence" && other.isConnected) peer.send(frame);
      }
    });
    ws.on("close", () => {
      this.connections.delete(ws);
      for (const room of joined) room.peers.delete(ws);
    });
  }
}
