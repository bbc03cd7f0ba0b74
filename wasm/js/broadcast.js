// TabChannel: syncs copies of one document between tabs of one origin through BroadcastChannel,
// without the network (as y-websocket's cross-tab channel). Messages:
//   { type: "hello", from, version }   a tab joined; others answer with what it lacks
//   { type: "changes", from, bytes }   changes (doc.exportSince output) for every other tab
// Imports are idempotent and order-free, so duplicates and races between tabs are harmless.

/** The BroadcastChannel name of document `docId`. */
export function channelName(docId) {
  return `crdt-wasm:${docId}`;
}

export class TabChannel {
  /** Joins the channel of `docId` and asks the other tabs for what `doc` lacks. */
  constructor(docId, doc, BroadcastChannelImpl = globalThis.BroadcastChannel) {
    this.doc = doc;
    this.id = doc.replicaId;
    this.posted = doc.version();
    this.channel = new BroadcastChannelImpl(channelName(docId));
    this.channel.onmessage = (event) => this._onMessage(event.data);
    this.channel.postMessage({ type: "hello", from: this.id, version: doc.version() });
  }

  /** Sends the other tabs the changes made since the last post. */
  post() {
    const bytes = this.doc.exportSince(this.posted);
    this.posted = this.doc.version();
    this.channel.postMessage({ type: "changes", from: this.id, bytes });
  }

  /** Leaves the channel. */
  close() {
    this.channel.close();
  }

  _onMessage(message) {
    if (!message || message.from === this.id) return;
    try {
      if (message.type === "hello") {
        const bytes = this.doc.exportSince(message.version);
        this.channel.postMessage({ type: "changes", from: this.id, bytes });
      } else if (message.type === "changes" && message.bytes instanceof Uint8Array) {
        this.doc.import(message.bytes);
      }
    } catch (e) {
      // A malformed message from another tab changes nothing here.
      console.warn("crdt-wasm TabChannel:", e);
    }
  }
}
