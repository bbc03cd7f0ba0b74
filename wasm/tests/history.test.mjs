// History through the package's Node entry: commit options ({ message, time }) synced with the
// change, doc.history(), viewAt (read-only), forkAt and fork (edits merge back), diff (the
// patches a listener saw), restore (one change both replicas sync to), JSON-safe versions, and
// hostile JS values, which throw Errors and never trap.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Doc } from "../pkg/node/crdt_wasm.js";

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

/** The version after the first `k` entries of `history`. */
function versionAfter(history, k) {
  const version = {};
  for (const e of history.slice(0, k)) version[e.replica] = e.last;
  return version;
}

/** A document of three commits by two replicas: "one", " two" (with a message), " three". */
function threeCommits() {
  const a = Doc.withReplica("a");
  const b = Doc.withReplica("b");
  a.getText("body").insert(0, "one");
  a.commit({ message: "first", time: 1_700_000_000_000 });
  syncPair(a, b);
  b.getText("body").insert(3, " two");
  b.getMap("meta").set("title", "Two");
  b.commit({ message: "second" });
  syncPair(a, b);
  a.getText("body").insert(7, " three");
  a.commit();
  syncPair(a, b);
  return { a, b };
}

test("history lists changes with their message and time, synced", () => {
  const { a, b } = threeCommits();
  const history = b.history();
  assert.equal(history.length, 3);
  assert.deepEqual(history[0], {
    replica: "000000000000000a",
    start: 1,
    last: 3,
    lamport: 1,
    parents: [],
    message: "first",
    time: 1_700_000_000_000,
  });
  assert.equal(history[1].replica, "000000000000000b");
  assert.equal(history[1].message, "second");
  assert.equal(history[1].time, null);
  assert.deepEqual(history[1].parents, [{ replica: "000000000000000a", counter: 3 }]);
  assert.equal(history[2].message, null);
  // Survives save/load, and JSON.
  assert.deepEqual(Doc.load(a.save()).history(), a.history());
  assert.deepEqual(JSON.parse(JSON.stringify(history)), history);
});

test("viewAt shows a past version, read-only; versions are plain JSON", () => {
  const { a } = threeCommits();
  const history = a.history();
  const v1 = JSON.parse(JSON.stringify(versionAfter(history, 1)));
  const view = a.viewAt(v1);
  assert.equal(view.getText("body").toString(), "one");
  assert.deepEqual(view.version(), v1);
  assert.equal(a.viewAt(versionAfter(history, 2)).getText("body").toString(), "one two");
  assert.deepEqual(a.viewAt(versionAfter(history, 2)).toJSON(), {
    "body:text": "one two",
    meta: { title: "Two" },
  });
  assertThrowsError(() => view.getText("body").insert(0, "x"), /read-only/);
  assertThrowsError(() => view.getMap("meta").set("k", 1), /read-only/);
  assertThrowsError(() => view.import(a.exportSince({})), /read-only/);
  assertThrowsError(() => view.restore({}), /read-only/);
  assert.equal(view.getText("body").toString(), "one");
  assert.equal(a.getText("body").toString(), "one two three");
});

test("forkAt and fork make editable replicas whose edits merge back", () => {
  const { a } = threeCommits();
  const fork = a.forkAt(versionAfter(a.history(), 1), "f");
  assert.equal(fork.replicaId, "000000000000000f");
  assert.equal(fork.getText("body").toString(), "one");
  fork.getText("body").insert(0, ">> ");
  fork.commit();
  syncPair(a, fork);
  assert.equal(a.getText("body").toString(), ">> one two three");
  assert.deepEqual(a.toJSON(), fork.toJSON());

  a.getText("body").insert(0, "uncommitted ");
  const copy = a.fork();
  assert.notEqual(copy.replicaId, a.replicaId);
  assert.deepEqual(copy.toJSON(), a.toJSON());
  assert.deepEqual(copy.version(), a.version());
});

test("diff returns the patches a listener saw", () => {
  const { a } = threeCommits();
  const watcher = Doc.withReplica("c");
  watcher.import(a.exportSince({}));
  const start = watcher.version();
  const seen = [];
  watcher.subscribe((event) => seen.push(...event.patches));
  a.getText("body").insert(0, "zero ");
  a.commit();
  watcher.import(a.exportSince(watcher.version()));
  a.getText("body").delete(0, 5);
  a.getMap("meta").delete("title");
  a.commit();
  watcher.import(a.exportSince(watcher.version()));
  assert.equal(seen.length, 3);
  assert.deepEqual(watcher.diff(start, watcher.version()), seen);
  assert.deepEqual(watcher.diff(start, start), []);
  assertThrowsError(() => watcher.diff(watcher.version(), start), /covered/);
});

test("restore makes one change that another replica syncs to", () => {
  const { a, b } = threeCommits();
  const v1 = versionAfter(a.history(), 1);
  assert.equal(a.restore(v1, { message: "back to one", time: 5 }), true);
  assert.equal(a.getText("body").toString(), "one");
  assert.deepEqual(a.toJSON(), { "body:text": "one" });
  const last = a.history().at(-1);
  assert.equal(last.message, "back to one");
  assert.equal(last.time, 5);
  assert.equal(a.history().length, 4, "history stays");
  syncPair(a, b);
  assert.equal(b.getText("body").toString(), "one");
  assert.equal(a.restore(a.version()), false, "nothing to restore");
});

test("versions the history cannot show and hostile values throw, never trap", () => {
  const { a } = threeCommits();
  assertThrowsError(() => a.viewAt({ "000000000000000a": 99 }), /holds/);
  assertThrowsError(() => a.viewAt({ "000000000000000a": 2 }), /inside change/);
  assertThrowsError(() => a.forkAt({ "000000000000000b": 5 }), /causal past/);
  for (const bad of [42, "x", { zz: 1 }, { a: -1 }, { a: 1.5 }, { a: "1" }, { a: 2 ** 60 }]) {
    assertThrowsError(() => a.viewAt(bad));
    assertThrowsError(() => a.forkAt(bad));
    assertThrowsError(() => a.diff(bad, {}));
    assertThrowsError(() => a.restore(bad));
  }
  assertThrowsError(() => a.forkAt({}, "not hex"));
  assertThrowsError(() => a.forkAt({}, "b"), /not new/);
  assertThrowsError(() => a.forkAt({}, a.replicaId), /not new/);
  a.getText("body").insert(0, "x");
  for (const bad of [42, "msg", { message: 1 }, { time: -1 }, { time: 1.5 }, { time: "now" },
    { time: 2 ** 60 }]) {
    assertThrowsError(() => a.commit(bad));
    assertThrowsError(() => a.restore({}, bad));
  }
  assertThrowsError(() => a.commit({ message: "x".repeat(70_000) }), /too long/);
  // Still usable, the transaction still open.
  assert.equal(a.commit({ message: "ok", time: 0 }), true);
  assert.equal(a.history().at(-1).message, "ok");
  assert.equal(a.commit(), false);
});
