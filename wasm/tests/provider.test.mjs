// The WebSocket provider (wasm/js/provider.js) against a relay on loopback, with the web package
// initialised in Node; the IndexedDB store against fake-indexeddb; tabs through Node's
// BroadcastChannel.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import WebSocket from "ws";
import "fake-indexeddb/auto";

import * as wasm from "../pkg/web/crdt_wasm.js";
import { WebSocketProvider, backoffDelay, connectionProtocols } from "../pkg/web/provider.js";
import { IndexedDBStore, COMPACT_AFTER } from "../pkg/web/idb.js";
import { TabChannel } from "../pkg/web/broadcast.js";
import { TestRelay } from "./support/relay.mjs";

wasm.initSync({ module: readFileSync(new URL("../pkg/web/crdt_wasm_bg.wasm", import.meta.url)) });
const { Doc } = wasm;

/** Waits for `condition()` to hold, polling, failing after `ms`. */
async function until(condition, what, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const relay = await TestRelay.start(wasm, { token: "secret" });
after(() => relay.close());
let client = 0;
/** A provider on its own connection (each client is a distinct URL, as separate browsers). */
function connect(docId, doc, options = {}) {
  return new WebSocketProvider(`${relay.url}/?client=${client++}`, docId, doc, {
    token: "secret", WebSocket, broadcast: false, ...options,
  });
}

test("backoff grows exponentially with jitter, capped at 30 s", () => {
  assert.equal(backoffDelay(0, () => 0), 125);
  assert.equal(backoffDelay(0, () => 0.999), 249);
  assert.equal(backoffDelay(3, () => 0), 1000);
  assert.equal(backoffDelay(100, () => 0), 15000);
  assert.ok(backoffDelay(100, () => 0.999) < 30000);
});

test("the token travels as a subprotocol, never in the URL", async () => {
  assert.deepEqual(connectionProtocols(undefined), []);
  assert.deepEqual(connectionProtocols("eyJ.a-b_c.d"), ["crdt-sync", "token.eyJ.a-b_c.d"]);
  assert.throws(() => connectionProtocols("a b"), (e) => !e.message.includes("a b"));
  const seen = relay.requests.length;
  const p = connect("notes/token-in-subprotocol", new Doc());
  await p.whenSynced();
  const [request] = relay.requests.slice(seen);
  assert.ok(!request.url.includes("secret") && !request.url.includes("token"), request.url);
  assert.deepEqual(request.protocols, ["crdt-sync", "token.secret"]);
  p.destroy();
  assert.throws(
    () => new WebSocketProvider(relay.url, "notes/bad-token", new Doc(), { token: "not a jwt", WebSocket }),
    (e) => !e.message.includes("not a jwt"),
  );
});

test("two providers converge through the relay, offline edits included", async () => {
  const a = Doc.withReplica("a1");
  a.getText("t").insert(0, "written offline 👋");
  a.commit();
  const statuses = [];
  const pa = connect("notes/converge", a);
  pa.on("status", (s) => statuses.push(s));
  await pa.whenSynced();
  assert.deepEqual(statuses, ["connected", "synced"]);
  assert.equal(relay.doc("notes/converge").getText("t").toString(), "written offline 👋");

  const b = Doc.withReplica("b1");
  const pb = connect("notes/converge", b);
  await pb.whenSynced();
  assert.equal(b.getText("t").toString(), "written offline 👋");

  b.getText("t").insert(0, "live: ");
  b.commit();
  await until(() => a.getText("t").toString() === "live: written offline 👋", "b's edit at a");
  a.getMap("m").set("k", 1);
  a.commit();
  await until(() => b.getMap("m").get("k") === 1, "a's edit at b");
  assert.deepEqual(a.toJSON(), b.toJSON());
  pa.destroy();
  pb.destroy();
  assert.equal(pa.status, "offline");
});

test("many documents share one socket", async () => {
  const url = `${relay.url}/?client=shared`;
  const docs = [new Doc(), new Doc(), new Doc()];
  const providers = docs.map((d, i) => {
    d.getCounter("n").increment(i + 1);
    d.commit();
    return new WebSocketProvider(url, `multi/${i}`, d, { token: "secret", WebSocket, broadcast: false });
  });
  await Promise.all(providers.map((p) => p.whenSynced()));
  const sockets = new Set([0, 1, 2].flatMap((i) => [...relay.peersOf(`multi/${i}`)]));
  assert.equal(sockets.size, 1, "one socket carries the three documents");
  const [socket] = sockets;
  for (let i = 0; i < 3; i++) assert.equal(relay.doc(`multi/${i}`).getCounter("n").value, i + 1);
  assert.throws(() => new WebSocketProvider(url, "multi/0", new Doc(), { token: "secret", WebSocket }), /already/);
  providers[0].destroy();
  docs[1].getCounter("n").increment(10);
  docs[1].commit();
  await until(() => relay.doc("multi/1").getCounter("n").value === 12, "the socket still serves the others");
  providers.slice(1).forEach((p) => p.destroy());
  await until(() => !relay.connections.has(socket), "the socket closes with its last document");
});

test("reconnects after the network drops and sends what was made meanwhile", async () => {
  const a = new Doc();
  const b = new Doc();
  const pa = connect("notes/reconnect", a);
  const pb = connect("notes/reconnect", b);
  await Promise.all([pa.whenSynced(), pb.whenSynced()]);
  const statuses = [];
  pa.on("status", (s) => statuses.push(s));
  relay.dropAll();
  await until(() => pa.status === "offline" || statuses.includes("offline"), "offline");
  a.getText("t").insert(0, "made while offline");
  a.commit();
  await until(() => b.getText("t").toString() === "made while offline", "the offline edit after reconnect");
  assert.deepEqual(statuses.slice(0, 4), ["offline", "connecting", "connected", "synced"]);
  pa.destroy();
  pb.destroy();
});

test("presence reaches the other peers as decoded JSON", async () => {
  const a = new Doc();
  const b = new Doc();
  const pa = connect("notes/presence", a, { presence: { name: "alice" } });
  const pb = connect("notes/presence", b);
  await Promise.all([pa.whenSynced(), pb.whenSynced()]);
  pa.setPresence({ name: "alice", cursor: 3 });
  await until(() => pb.presence.get(a.replicaId)?.cursor === 3, "alice's cursor at bob");
  assert.equal(pa.presence.has(a.replicaId), false, "one's own presence is not listed");
  pa.destroy();
  pb.destroy();
});

test("a wrong token is reported as an error", async () => {
  const errors = [];
  const p = new WebSocketProvider(`${relay.url}/?client=bad`, "notes/x", new Doc(), {
    token: "wrong", WebSocket, broadcast: false,
  });
  p.on("error", (e) => errors.push(e));
  await until(() => errors.length > 0, "an error");
  assert.equal(errors[0].code, 4);
  assert.match(errors[0].message, /bad token/);
  p.destroy();
});

test("IndexedDB: local changes are stored before they are sent and load before any network", async () => {
  await IndexedDBStore.clear("notes/idb");
  const a = new Doc();
  const store = new IndexedDBStore("notes/idb", a);
  const pa = connect("notes/idb", a, { store });
  await pa.whenSynced();
  a.getText("t").insert(0, "durable 👋");
  a.commit();
  // The relay learns of the change only after the store holds it.
  let storedFirst = null;
  const probe = new IndexedDBStore("notes/idb", new Doc());
  await until(() => relay.doc("notes/idb").getText("t").toString() !== "" || storedFirst === false, "relay");
  await probe.whenLoaded();
  storedFirst = probe.doc.getText("t").toString() === "durable 👋";
  assert.equal(storedFirst, true);
  await probe.close();
  pa.destroy();
  await store.close();

  // A reload, offline: the store alone restores the document.
  const reloaded = new Doc();
  const again = new IndexedDBStore("notes/idb", reloaded);
  await again.whenLoaded();
  assert.equal(reloaded.getText("t").toString(), "durable 👋");
  for (let i = 0; i < 250; i++) {
    reloaded.getCounter("n").increment(1);
    reloaded.commit();
    await again.persist();
  }
  assert.ok(again.records <= 200, `compacted (${again.records} records)`);
  await again.close();
  const third = new Doc();
  const last = new IndexedDBStore("notes/idb", third);
  await last.whenLoaded();
  assert.equal(third.getCounter("n").value, 250);
  assert.equal(third.getText("t").toString(), "durable 👋");
  await last.close();
});

test("IndexedDB: every write transaction asks for strict durability", async () => {
  await IndexedDBStore.clear("notes/idb-strict");
  const opened = [];
  const original = IDBDatabase.prototype.transaction;
  IDBDatabase.prototype.transaction = function (stores, mode, options) {
    opened.push({ mode, options });
    return original.call(this, stores, mode, options);
  };
  try {
    const doc = new Doc();
    const store = new IndexedDBStore("notes/idb-strict", doc);
    await store.whenLoaded();
    // Enough single writes to compact once: both kinds of write transaction run.
    for (let i = 0; i <= COMPACT_AFTER; i++) {
      doc.getCounter("n").increment(1);
      doc.commit();
      await store.persist();
    }
    await store.close();
  } finally {
    IDBDatabase.prototype.transaction = original;
  }
  const writes = opened.filter((t) => t.mode === "readwrite");
  assert.ok(writes.length > COMPACT_AFTER, `${writes.length} write transactions`);
  for (const write of writes) assert.deepEqual(write.options, { durability: "strict" });
});

test("two providers restored from the same saved bytes under one replica id both edit and converge", async () => {
  const shared = "0000000000005eed";
  const original = Doc.withReplica(shared);
  original.getText("t").insert(0, "base");
  const saved = original.save();
  const twins = [Doc.load(saved, shared), Doc.load(saved, shared)];
  const providers = twins.map((doc) => connect("notes/twins", doc));
  // Both edit at once, before either hears of the other.
  twins.forEach((doc, i) => {
    doc.getText("t").insert(4, ` twin${i}`);
    doc.commit();
  });
  const text = (doc) => doc.getText("t").toString();
  await until(
    () => twins.every((doc) => text(doc) === text(relay.doc("notes/twins")))
      && text(twins[0]).includes("twin0") && text(twins[0]).includes("twin1"),
    "both twins' edits everywhere",
  );
  const ids = twins.map((doc) => doc.replicaId);
  assert.notEqual(ids[0], ids[1]);
  assert.ok(!ids.includes(shared), `${ids}`);
  providers.forEach((p) => p.destroy());
});

test("tabs exchange changes through BroadcastChannel without the network", async () => {
  const a = new Doc();
  a.getText("t").insert(0, "tab a");
  a.commit();
  const ta = new TabChannel("notes/tabs", a);
  const b = new Doc();
  const tb = new TabChannel("notes/tabs", b);
  await until(() => b.getText("t").toString() === "tab a", "a's state in the new tab");
  b.getText("t").insert(5, " + b");
  b.commit();
  tb.post();
  await until(() => a.getText("t").toString() === "tab a + b", "b's edit in tab a");
  ta.close();
  tb.close();
});
