// The JS API through the package's Node entry (wasm/pkg/node/crdt_wasm.js: the web glue
// initialised from the .wasm file): documents, containers, UTF-16 positions,
// export/import, save/load, events, the sync session, and hostile bytes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Doc, SyncSession, describeFrame, encodeErrorFrame } from "../pkg/node/crdt_wasm.js";

/** Asserts `fn` throws a JS Error that is not a wasm trap. */
function assertThrowsError(fn, pattern) {
  let thrown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown !== undefined, "expected an exception");
  assert.ok(thrown instanceof Error, `expected an Error, got ${thrown}`);
  assert.ok(!(thrown instanceof WebAssembly.RuntimeError), `wasm trapped: ${thrown.message}`);
  if (pattern) assert.match(thrown.message, pattern);
  return thrown;
}

/** Syncs `a` and `b` both ways through export/import. */
function syncPair(a, b) {
  b.import(a.exportSince(b.version()));
  a.import(b.exportSince(a.version()));
}

test("containers: text, map, list, counter and toJSON", () => {
  const doc = Doc.withReplica("1");
  assert.equal(doc.replicaId, "0000000000000001");
  const text = doc.getText("body");
  text.insert(0, "hello world");
  text.delete(5, 6);
  text.insert(5, "!");
  assert.equal(text.toString(), "hello!");
  assert.equal(text.length, 6);

  const meta = doc.getMap("meta");
  meta.set("title", "Notes");
  meta.set("n", 42);
  meta.set("pi", 3.5);
  meta.set("big", 2n ** 60n);
  meta.set("ok", true);
  meta.set("nothing", null);
  meta.set("bytes", new Uint8Array([1, 2, 3]));
  assert.equal(meta.get("title"), "Notes");
  assert.equal(meta.get("n"), 42);
  assert.equal(meta.get("pi"), 3.5);
  assert.equal(meta.get("big"), 2n ** 60n);
  assert.equal(meta.get("ok"), true);
  assert.equal(meta.get("nothing"), null);
  assert.deepEqual(meta.get("bytes"), new Uint8Array([1, 2, 3]));
  assert.equal(meta.get("missing"), undefined);
  meta.delete("ok");
  assert.equal(meta.has("ok"), false);
  assert.deepEqual(meta.keys(), ["big", "bytes", "n", "nothing", "pi", "title"]);
  assert.equal(meta.size, 6);
  assertThrowsError(() => meta.set("f", () => 1), /unsupported value/);
  assertThrowsError(() => meta.set("o", { a: 1 }), /unsupported value/);

  const nested = meta.setContainer("todo", "list");
  nested.push("milk");
  nested.insert(0, "eggs");
  const again = meta.get("todo");
  assert.deepEqual(again.toArray(), ["eggs", "milk"]);

  const list = doc.getList("items");
  list.push(1);
  list.push("two");
  list.insert(1, 1.5);
  assert.equal(list.length, 3);
  assert.equal(list.get(1), 1.5);
  list.delete(0);
  assert.deepEqual(list.toArray(), [1.5, "two"]);
  assert.equal(list.get(9), undefined);
  const inner = list.insertContainer(0, "text");
  inner.insert(0, "nested");
  assertThrowsError(() => list.insert(99, 1), /out of bounds|bounds/i);
  assertThrowsError(() => list.insertContainer(0, "tree"), /container kind/);

  const likes = doc.getCounter("likes");
  likes.increment(5);
  likes.increment();
  likes.decrement(2);
  assert.equal(likes.value, 4);
  assertThrowsError(() => likes.increment(0.5), /safe integer/);

  assert.equal(doc.commit(), true);
  assert.equal(doc.commit(), false, "nothing left to commit");
  assert.deepEqual(doc.toJSON(), {
    meta: { big: 2n ** 60n, bytes: new Uint8Array([1, 2, 3]), n: 42, nothing: null, pi: 3.5,
      title: "Notes", todo: ["eggs", "milk"] },
    "body:text": "hello!",
    "items:list": ["nested", 1.5, "two"],
    "likes:counter": 4,
  });
  assert.deepEqual(text.toJSON(), "hello!");
  assert.deepEqual(nested.toJSON(), ["eggs", "milk"]);
});

test("text indices are UTF-16 code units; emoji round-trip", () => {
  const a = Doc.withReplica("a");
  const t = a.getText("t");
  t.insert(0, "a👋b");
  assert.equal(t.length, "a👋b".length);
  assert.equal(t.length, 4);
  t.insert(3, "x"); // after the emoji (2 code units)
  assert.equal(t.toString(), "a👋xb");
  t.insert(1, "🇫🇷"); // two astral code points, 4 units
  assert.equal(t.toString(), "a🇫🇷👋xb");
  t.delete(5, 2); // the waving hand
  assert.equal(t.toString(), "a🇫🇷xb");
  assert.equal(t.length, "a🇫🇷xb".length);
  a.commit();

  const b = Doc.withReplica("b");
  b.import(a.exportSince());
  const tb = b.getText("t");
  assert.equal(tb.toString(), "a🇫🇷xb");
  tb.insert(tb.length, "😀");
  tb.insert(0, "é");
  b.commit();
  a.import(b.exportSince(a.version()));
  assert.equal(t.toString(), "éa🇫🇷xb😀");
  assert.equal(t.length, "éa🇫🇷xb😀".length);

  // An index inside a surrogate pair is refused (or clamped) but never traps.
  try {
    t.insert(3, "?");
  } catch (e) {
    assert.ok(e instanceof Error && !(e instanceof WebAssembly.RuntimeError));
  }
  assertThrowsError(() => t.insert(1000, "x"));
  assertThrowsError(() => t.delete(0, 1000));
  t.insert(0, "ok");
  assert.ok(t.toString().startsWith("ok"));
});

test("text edits at UTF-16 offsets match a JS string as astral characters come and go", () => {
  // Text.insert/delete skip the UTF-16 -> position walk while the text has no character
  // outside the BMP (offsets are then positions): check both ways, and the switch between them,
  // against a JS string edited at the same offsets.
  let seed = 13;
  const random = (n) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 16) % n;
  };
  /** A random offset of `s` moved off the middle of a surrogate pair. */
  const offset = (s) => {
    const i = random(s.length + 1);
    const inPair = i > 0 && i < s.length && /[\uD800-\uDBFF]/.test(s[i - 1]);
    return inPair ? i - 1 : i;
  };
  const pieces = ["a", "bc", "😀", "é", "x🇫🇷y", "hello "];
  const t = Doc.withReplica("a").getText("t");
  let mirror = "";
  for (let step = 0; step < 400; step++) {
    const astral = /[\u{10000}-\u{10FFFF}]/u.test(mirror);
    if (mirror.length > 0 && random(3) === 0) {
      const [from, to] = [offset(mirror), offset(mirror)].sort((x, y) => x - y);
      t.delete(from, to - from);
      mirror = mirror.slice(0, from) + mirror.slice(to);
    } else {
      // Mostly BMP pieces, so that the text keeps going back to having no astral character.
      const piece = pieces[astral ? random(2) : random(pieces.length)];
      const at = offset(mirror);
      t.insert(at, piece);
      mirror = mirror.slice(0, at) + piece + mirror.slice(at);
    }
    assert.equal(t.toString(), mirror, `step ${step}`);
    assert.equal(t.length, mirror.length);
    assertThrowsError(() => t.insert(mirror.length + 1, "x"), /utf-16|offset|bounds/i);
    assertThrowsError(() => t.delete(mirror.length, 1));
  }
});

test("stable cursors follow their character through remote edits", () => {
  const a = Doc.withReplica("a");
  const t = a.getText("t");
  t.insert(0, "👋 world");
  a.commit();
  const cursor = t.getCursor(3, "after"); // before "world"... at "w"? index 3 = after "👋 "
  const json = JSON.parse(JSON.stringify(cursor));
  assert.equal(t.resolveCursor(json), 3);

  const b = Doc.withReplica("b");
  b.import(a.exportSince());
  b.getText("t").insert(0, "héllo 😀 ");
  b.commit();
  a.import(b.exportSince(a.version()));
  assert.equal(t.toString(), "héllo 😀 👋 world");
  const at = t.resolveCursor(json);
  assert.equal(t.toString().slice(at), "world");
  assertThrowsError(() => t.resolveCursor({ anchor: { replica: "zz", counter: 1 }, assoc: "after" }));
  assertThrowsError(() => t.getCursor(0, "sideways"), /assoc/);
});

test("export/import converges concurrent edits and versions are plain objects", () => {
  const a = Doc.withReplica("a");
  const b = Doc.withReplica("b");
  a.getText("t").insert(0, "hello");
  a.commit();
  syncPair(a, b);
  a.getText("t").insert(5, " alice");
  b.getText("t").insert(0, "bob: ");
  a.getMap("m").set("k", "from a");
  b.getMap("m").set("k", "from b");
  a.getCounter("c").increment(2);
  b.getCounter("c").increment(3);
  a.commit();
  b.commit();
  syncPair(a, b);
  assert.deepEqual(a.toJSON(), b.toJSON());
  assert.equal(a.getText("t").toString(), "bob: hello alice");
  assert.equal(a.getCounter("c").value, 5);
  assert.deepEqual(a.getMap("m").getAll("k").length, 2);
  assert.deepEqual(a.version(), b.version());
  assert.deepEqual(a.version(), { "000000000000000a": a.version()["000000000000000a"], "000000000000000b": b.version()["000000000000000b"] });
  assert.ok(JSON.parse(JSON.stringify(a.version()))["000000000000000a"] > 0);
  // Nothing new: an import of an up-to-date export applies nothing.
  assert.equal(b.import(a.exportSince(b.version())).applied, 0);
  // Out of order: the later change waits for the earlier one.
  const v = a.version();
  a.getText("t").insert(0, "1");
  a.commit();
  const first = a.exportSince(v);
  const v2 = a.version();
  a.getText("t").insert(0, "2");
  a.commit();
  const second = a.exportSince(v2);
  assert.deepEqual(b.import(second), { applied: 0, pending: 1 });
  assert.equal(b.pendingCount, 1);
  assert.deepEqual(b.import(first), { applied: 2, pending: 0 });
  assert.equal(b.getText("t").toString(), a.getText("t").toString());
  assertThrowsError(() => a.exportSince({ "not hex": 1 }), /replica id/);
  assertThrowsError(() => a.exportSince({ a: -1 }), /non-negative/);
});

test("save and load restore the document as a new replica", () => {
  const a = Doc.withReplica("a");
  a.getText("t").insert(0, "saved 👋");
  a.getList("l").push(1);
  a.getCounter("c").increment(7);
  const bytes = a.save();
  assert.ok(bytes instanceof Uint8Array);
  const b = Doc.load(bytes);
  assert.notEqual(b.replicaId, a.replicaId);
  assert.deepEqual(b.toJSON(), a.toJSON());
  assert.deepEqual(b.version(), a.version());
  const c = Doc.load(bytes, "a");
  assert.equal(c.replicaId, "000000000000000a");
  b.getText("t").insert(0, ">");
  b.commit();
  a.import(b.exportSince(a.version()));
  assert.equal(a.getText("t").toString(), ">saved 👋");
});

test("hostile bytes to import and Doc.load throw Errors and leave the document working", () => {
  const a = Doc.withReplica("a");
  a.getText("t").insert(0, "some text 👋");
  a.getMap("m").set("k", 1);
  a.commit();
  const good = a.exportSince();
  const snapshot = a.save();
  const victim = Doc.withReplica("e");
  victim.getText("t").insert(0, "mine");
  victim.commit();
  const before = victim.toJSON();

  let seed = 12345;
  const rand = (n) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const inputs = [new Uint8Array(0), new Uint8Array([0xc1]), new Uint8Array(64).fill(0xff)];
  for (const src of [good, snapshot]) {
    for (let cut = 0; cut < src.length; cut += Math.max(1, src.length >> 5)) inputs.push(src.slice(0, cut));
    for (let i = 0; i < 200; i++) {
      const m = src.slice();
      const flips = 1 + rand(4);
      for (let f = 0; f < flips; f++) m[rand(m.length)] = rand(256);
      inputs.push(m);
    }
  }
  for (let i = 0; i < 100; i++) {
    const r = new Uint8Array(rand(200));
    for (let j = 0; j < r.length; j++) r[j] = rand(256);
    inputs.push(r);
  }
  let refused = 0;
  for (const bytes of inputs) {
    for (const attempt of [() => Doc.withReplica("f").import(bytes), () => Doc.load(bytes)]) {
      try {
        attempt();
      } catch (e) {
        assert.ok(e instanceof Error, `not an Error: ${e}`);
        assert.ok(!(e instanceof WebAssembly.RuntimeError), `wasm trapped: ${e.message}`);
        refused++;
      }
    }
  }
  assert.ok(refused > inputs.length, `most hostile inputs are refused (${refused})`);
  assertThrowsError(() => victim.import(new Uint8Array([1, 2, 3])));
  assertThrowsError(() => Doc.load(good), /.+/);
  assert.deepEqual(victim.toJSON(), before, "a refused import changed nothing");
  // The module and the document still work.
  victim.import(good);
  victim.getText("t").insert(0, "ok ");
  victim.commit();
  assert.match(victim.getText("t").toString(), /^ok /);
  assert.deepEqual(Doc.load(victim.save()).toJSON(), victim.toJSON());
});

test("a replica that holds nothing takes a whole history in the log's form, in one event", () => {
  const a = Doc.withReplica("a");
  const t = a.getText("t");
  for (const ch of "hello wörld!!! 👋") {
    t.insert(t.length, ch);
    a.commit();
  }
  for (let i = 0; i < 3; i++) {
    t.delete(11, 1); // forward deletes of the "!!!", a commit each
    a.commit();
  }
  a.getMap("m").set("k", 1);
  a.commit();
  const history = a.exportSince();
  assert.equal(String.fromCharCode(...history.slice(0, 5)), "CRDTH", "a whole history, not a change batch");

  const b = Doc.withReplica("b");
  const events = [];
  b.subscribe((event) => events.push(event));
  assert.deepEqual(b.import(history), { applied: a.changeCount, pending: 0 });
  assert.equal(b.getText("t").toString(), "hello wörld 👋");
  assert.deepEqual(b.toJSON(), a.toJSON());
  assert.equal(b.changeCount, a.changeCount);
  assert.equal(events.length, 1);
  assert.equal(events[0].origin, "remote");
  assert.ok(events[0].patches.some((p) => p.action === "textInsert"));
  assert.ok(events[0].patches.some((p) => p.action === "mapPut"));
  // It edits on, and the author takes its edit.
  b.getText("t").insert(0, ">");
  b.commit();
  a.import(b.exportSince(a.version()));
  assert.equal(a.getText("t").toString(), ">hello wörld 👋");

  // A history cut short is refused whole: nothing applied, no event.
  const c = Doc.withReplica("c");
  let seen = 0;
  c.subscribe(() => seen++);
  assertThrowsError(() => c.import(history.slice(0, history.length - 3)), /.+/);
  assert.equal(c.changeCount, 0);
  assert.deepEqual(c.toJSON(), {});
  assert.equal(seen, 0);
  c.import(history);
  assert.equal(c.getText("t").toString(), "hello wörld 👋");
  assert.equal(seen, 1);
});

test("subscribe delivers local and remote events; listeners may read the document", () => {
  const a = Doc.withReplica("a");
  const b = Doc.withReplica("b");
  const seen = [];
  const id = b.subscribe((event) => {
    seen.push({ origin: event.origin, patches: event.patches, text: b.getText("t").toString() });
  });
  b.getText("t").insert(0, "x");
  assert.equal(seen.length, 0, "no event before commit");
  b.commit();
  assert.equal(seen.length, 1);
  assert.equal(seen[0].origin, "local");
  assert.deepEqual(seen[0].patches[0], { path: ["t"], container: "text", action: "textInsert", index: 0, indexUtf16: 0, text: "x" });

  a.getMap("m").set("k", "v");
  a.getCounter("n").increment(3);
  a.commit();
  b.import(a.exportSince(b.version()));
  assert.equal(seen.length, 2);
  assert.equal(seen[1].origin, "remote");
  const actions = seen[1].patches.map((p) => p.action).sort();
  assert.deepEqual(actions, ["counterAdd", "mapPut"]);
  const put = seen[1].patches.find((p) => p.action === "mapPut");
  assert.deepEqual(put, { path: ["m"], container: "map", action: "mapPut", key: "k", value: "v", conflicts: 0 });
  assert.equal(seen[1].text, "x", "the listener read the document from inside the event");

  // A listener that edits the document from inside an event.
  const echo = b.subscribe((event) => {
    if (event.origin === "remote") {
      b.getMap("m").set("seen", true);
      b.commit();
    }
  });
  a.getMap("m").set("k2", 1);
  a.commit();
  b.import(a.exportSince(b.version()));
  assert.equal(b.getMap("m").get("seen"), true);
  assert.equal(seen.at(-1).origin, "local", "the listener's own commit was delivered too");

  assert.equal(b.unsubscribe(id), true);
  assert.equal(b.unsubscribe(id), false);
  b.unsubscribe(echo);
  const count = seen.length;
  b.getText("t").insert(0, "y");
  b.commit();
  assert.equal(seen.length, count);

  // A throwing listener surfaces its exception, and the commit still happened.
  b.subscribe(() => {
    throw new Error("listener failed");
  });
  b.getText("t").insert(0, "z");
  assert.throws(() => b.commit(), /listener failed/);
  assert.equal(b.commit(), false);
  assert.match(b.getText("t").toString(), /^zyx/);
});

/** Applies text patches to a JS string by their UTF-16 index, as an editor binding would. */
function applyTextPatches(mirror, patches) {
  for (const p of patches) {
    if (p.action === "textInsert") {
      mirror = mirror.slice(0, p.indexUtf16) + p.text + mirror.slice(p.indexUtf16);
    } else if (p.action === "textDelete") {
      // `len` counts code points; the mirror, like an editor, counts UTF-16 units.
      const deleted = Array.from(mirror.slice(p.indexUtf16)).slice(0, p.len).join("");
      assert.equal(p.lenUtf16, deleted.length, "lenUtf16 of " + JSON.stringify(p));
      mirror = mirror.slice(0, p.indexUtf16) + mirror.slice(p.indexUtf16 + p.lenUtf16);
    }
  }
  return mirror;
}

test("text patches carry indexUtf16, which counts the emoji before the edit point as 2", () => {
  const a = Doc.withReplica("a");
  const b = Doc.withReplica("b");
  const events = [];
  let mirror = "";
  b.subscribe((event) => {
    events.push(event);
    mirror = applyTextPatches(mirror, event.patches);
  });
  const ta = a.getText("t");
  ta.insert(0, "👋🏽 hi 🇫🇷!");
  a.commit();
  b.import(a.exportSince(b.version()));
  assert.equal(mirror, "👋🏽 hi 🇫🇷!");

  // Insert after "👋🏽 hi " (6 code points, 8 UTF-16 units: the wave and its skin tone are both
  // astral): the remote event gives both indices.
  ta.insert(8, "😀");
  a.commit();
  b.import(a.exportSince(b.version()));
  const remote = events.at(-1).patches;
  assert.equal(remote.length, 1);
  assert.deepEqual(remote[0], {
    path: ["t"], container: "text", action: "textInsert", index: 6, indexUtf16: 8, text: "😀",
  });
  assert.equal(mirror, b.getText("t").toString());

  // A local delete of the flag (2 code points, 4 UTF-16 units) after three astral characters.
  const tb = b.getText("t");
  const at = tb.toString().indexOf("🇫🇷");
  assert.equal(at, 10);
  tb.delete(at, 4);
  b.commit();
  const del = events.at(-1).patches;
  assert.equal(events.at(-1).origin, "local");
  assert.equal(del.length, 1);
  assert.equal(del[0].action, "textDelete");
  assert.equal(del[0].index, 7);
  assert.equal(del[0].indexUtf16, 10);
  assert.equal(del[0].len, 2);
  assert.equal(del[0].lenUtf16, 4);
  assert.equal(mirror, "👋🏽 hi 😀!");
  assert.equal(mirror, tb.toString());

  // Concurrent edits from both sides merge; the mirror still follows every event.
  ta.insert(0, "🎉");
  a.commit();
  tb.insert(tb.length, "🚀 end");
  b.commit();
  b.import(a.exportSince(b.version()));
  assert.equal(mirror, tb.toString());

  // A remote delete of an astral character: b can't measure it once gone, lenUtf16 says 2.
  a.import(b.exportSince(a.version()));
  ta.delete(ta.toString().indexOf("🎉"), 2);
  a.commit();
  b.import(a.exportSince(b.version()));
  const remoteDel = events.at(-1).patches;
  assert.equal(events.at(-1).origin, "remote");
  assert.deepEqual(remoteDel.map((p) => [p.action, p.len, p.lenUtf16]), [["textDelete", 1, 2]]);
  assert.equal(mirror, tb.toString());
  assert.ok(events.every((e) => e.patches.every((p) => !p.action.startsWith("text") || Number.isInteger(p.indexUtf16))));
});

/** Delivers frames between two sessions until both are quiet. */
function pump(docs, sessions, outboxes) {
  let rounds = 0;
  while (outboxes.some((o) => o.length > 0)) {
    assert.ok(rounds++ < 100, "sync did not settle");
    for (const from of [0, 1]) {
      const to = 1 - from;
      const frames = outboxes[from].splice(0);
      for (const f of frames) outboxes[to].push(...sessions[to].receive(docs[to], f));
    }
  }
}

test("SyncSession: two peers sync, with presence, over encoded frames", () => {
  const docs = [Doc.withReplica("1"), Doc.withReplica("2")];
  docs[0].getText("t").insert(0, "offline edit 👋");
  docs[0].commit();
  docs[1].getList("l").push("b's");
  docs[1].commit();
  const sessions = [new SyncSession("notes/1"), new SyncSession("notes/1")];
  assert.equal(sessions[0].docId, "notes/1");
  assert.deepEqual(sessions[0].setPresence(docs[0].replicaId, new TextEncoder().encode('{"c":1}')), []);
  const outboxes = [sessions[0].connect(docs[0]), sessions[1].connect(docs[1])];
  assert.deepEqual(describeFrame(outboxes[0][0]), { kind: "hello", doc: "notes/1" });
  pump(docs, sessions, outboxes);
  assert.deepEqual(docs[0].toJSON(), docs[1].toJSON());
  assert.ok(sessions[0].isSynced(docs[0]) && sessions[1].isSynced(docs[1]));
  const presence = sessions[1].presence();
  assert.equal(presence.length, 1);
  assert.equal(presence[0].peer, "0000000000000001");
  assert.equal(new TextDecoder().decode(presence[0].state), '{"c":1}');

  docs[1].getText("t").insert(0, ">");
  docs[1].commit();
  const out = sessions[1].onLocalChange(docs[1]);
  assert.equal(describeFrame(out[0]).kind, "changes");
  pump(docs, sessions, [[], out]);
  assert.equal(docs[0].getText("t").toString(), ">offline edit 👋");

  assertThrowsError(() => sessions[0].receive(docs[0], new Uint8Array([0x93, 1, 2])));
  assertThrowsError(() => describeFrame(new Uint8Array([0xff])));
  const err = encodeErrorFrame(undefined, 4, "no access");
  assert.deepEqual(describeFrame(err), { kind: "error", code: 4, message: "no access" });
  const thrown = assertThrowsError(() => sessions[0].receive(docs[0], err), /no access/);
  assert.equal(thrown.code, 4);
  const other = new SyncSession("other");
  assertThrowsError(() => sessions[0].receive(docs[0], other.connect(docs[0])[0]), /other/);
  assertThrowsError(() => new SyncSession("bad id!"), /document id/);
  sessions[0].disconnect();
  assert.equal(sessions[0].isConnected, false);
  assert.equal(sessions[0].presence().length, 0);
});

test("error messages write a refused number as JS does", () => {
  // The bindings format these through JS (`String(n)`), not Rust's float formatting, which is
  // left out of the .wasm for its size (wasm/README.md, Size).
  const doc = new Doc();
  const likes = doc.getCounter("likes");
  assertThrowsError(() => likes.increment(0.5), /^counter delta 0\.5 is not a safe integer$/);
  assertThrowsError(() => likes.increment(1e300), /^counter delta 1e\+300 is not a safe integer$/);
  assertThrowsError(() => likes.decrement(-Infinity), /^counter delta Infinity is not a safe integer$/);
  assertThrowsError(() => likes.increment(NaN), /^counter delta NaN is not a safe integer$/);
  assertThrowsError(() => doc.exportSince({ "01": 1.5 }), /^1\.5 is not a non-negative safe integer$/);
  assertThrowsError(() => doc.exportSince({ "01": -2 }), /^-2 is not a non-negative safe integer$/);
  assert.equal(likes.value, 0);
});
