// UndoManager through the package's Node entry: own edits only, remote edits kept, steps by
// stopCapturing and captureTimeoutMs, events, selections, scope, and hostile arguments.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Doc, UndoManager } from "../pkg/node/crdt_wasm.js";

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

function syncPair(a, b) {
  b.import(a.exportSince(b.version()));
  a.import(b.exportSince(a.version()));
}

test("undo takes back only this replica's edits and syncs as a change", () => {
  const a = Doc.withReplica("1");
  const b = Doc.withReplica("2");
  const undo = new UndoManager(a);
  assert.equal(undo.canUndo(), false);
  a.getText("t").insert(0, "hello");
  a.commit();
  assert.equal(undo.canUndo(), true);
  syncPair(a, b);
  b.getText("t").insert(5, " world");
  b.commit();
  syncPair(a, b);
  assert.equal(undo.undo(), true);
  assert.equal(a.getText("t").toString(), " world");
  assert.equal(undo.canRedo(), true);
  syncPair(a, b);
  assert.equal(b.getText("t").toString(), " world");
  assert.equal(undo.redo(), true);
  assert.equal(a.getText("t").toString(), "hello world");
  assert.equal(undo.redo(), false, "nothing left to redo");
  // The undo survives a save and load.
  undo.undo();
  const loaded = Doc.load(a.save());
  assert.equal(loaded.getText("t").toString(), " world");
});

test("stopCapturing and captureTimeoutMs decide what one step is", () => {
  const doc = Doc.withReplica("1");
  const grouped = new UndoManager(doc, { captureTimeoutMs: 3_600_000 });
  const single = new UndoManager(doc, { captureTimeoutMs: 0 });
  const text = doc.getText("t");
  text.insert(0, "a");
  doc.commit();
  text.insert(1, "b");
  doc.commit();
  grouped.stopCapturing();
  text.insert(2, "c");
  doc.commit();
  // `single` makes a step of every commit; `grouped` joins "a" and "b".
  assert.equal(single.undo(), true);
  assert.equal(text.toString(), "ab");
  assert.equal(single.undo(), true);
  assert.equal(text.toString(), "a");
  single.redo();
  single.redo();
  assert.equal(text.toString(), "abc");
  assert.equal(grouped.undo(), true);
  assert.equal(text.toString(), "ab");
  assert.equal(grouped.undo(), true);
  assert.equal(text.toString(), "");
});

test("subscribers hear pushes, undos and redos, with the step's selection", () => {
  const doc = Doc.withReplica("1");
  const text = doc.getText("t");
  text.insert(0, "Hello world");
  doc.commit();
  const undo = new UndoManager(doc);
  const events = [];
  const id = undo.subscribe((e) => events.push(e));
  undo.setSelection({ anchor: text.getCursor(1, "after"), head: text.getCursor(5, "before") });
  text.delete(1, 4);
  doc.commit();
  assert.equal(events.length, 1);
  assert.deepEqual(events[0], { kind: "push", canUndo: true, canRedo: false });
  assert.equal(undo.undo(), true);
  const last = events.at(-1);
  assert.equal(last.kind, "undo");
  assert.equal(last.canRedo, true);
  const sel = undo.restoredSelection;
  assert.deepEqual(last.selection, sel);
  // The selection is over the restored "ello", as stable cursors.
  const start = text.resolveCursor(sel.anchor);
  const end = text.resolveCursor(sel.head);
  assert.equal(text.toString().slice(start, end), "ello");
  assert.equal(undo.unsubscribe(id), true);
  undo.redo();
  assert.equal(events.at(-1).kind, "undo", "no events after unsubscribe");
});

test("scope limits the manager to the named root containers", () => {
  const doc = Doc.withReplica("1");
  const undo = new UndoManager(doc, { scope: ["body"] });
  doc.getText("title").insert(0, "Title");
  doc.commit();
  assert.equal(undo.canUndo(), false);
  doc.getText("body").insert(0, "Body");
  doc.getMap("meta").set("k", 1);
  doc.commit();
  assert.equal(undo.undo(), true);
  assert.equal(doc.getText("body").toString(), "");
  assert.equal(doc.getText("title").toString(), "Title");
  assert.equal(doc.getMap("meta").get("k"), 1);
});

test("maps, lists and counters undo too", () => {
  const doc = Doc.withReplica("1");
  const undo = new UndoManager(doc, { captureTimeoutMs: 0 });
  doc.getMap("m").set("k", "one");
  doc.commit();
  doc.getMap("m").set("k", "two");
  doc.getList("l").push(1);
  doc.getCounter("c").increment(5);
  doc.commit();
  assert.equal(undo.undo(), true);
  assert.deepEqual(doc.toJSON(), { m: { k: "one" } });
  assert.equal(undo.undo(), true);
  assert.deepEqual(doc.toJSON(), {});
});

test("a listener may undo from inside an event, and hostile arguments throw instead of trapping", () => {
  const doc = Doc.withReplica("1");
  const undo = new UndoManager(doc);
  let undoneFromListener = false;
  undo.subscribe((e) => {
    if (e.kind === "push" && !undoneFromListener) {
      undoneFromListener = true;
      assert.equal(undo.undo(), true);
    }
  });
  doc.getText("t").insert(0, "x");
  doc.commit();
  assert.equal(doc.getText("t").toString(), "");

  for (const options of [5, "x", { captureTimeoutMs: -1 }, { captureTimeoutMs: NaN }, { captureTimeoutMs: "5" }, { scope: "body" }, { scope: [1] }]) {
    assertThrowsError(() => new UndoManager(doc, options));
  }
  for (const selection of [5, "x", {}, { anchor: 1, head: 2 }, { anchor: { anchor: { replica: "zz", counter: 1 }, assoc: "after" }, head: null }, { anchor: { anchor: { replica: "1", counter: -1 }, assoc: "after" }, head: { anchor: null, assoc: "up" } }]) {
    assertThrowsError(() => undo.setSelection(selection));
  }
  undo.setSelection(undefined);
  undo.setSelection(null);
  assertThrowsError(() => new UndoManager({}), /./);
  // A selection naming text this document never saw resolves to nothing, and undo still works.
  undo.setSelection({ anchor: { anchor: { replica: "ff", counter: 99 }, assoc: "after" }, head: { anchor: null, assoc: "after" } });
  doc.getText("t").insert(0, "y");
  doc.commit();
  assert.equal(undo.undo(), true);
  assert.equal(doc.getText("t").resolveCursor(undo.restoredSelection.anchor), undefined);
});
