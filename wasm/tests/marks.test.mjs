// Rich text through the package's Node entry: text.mark/unmark/toDelta/applyDelta with UTF-16
// positions, doc.setMarkExpand, formatting in events (textInsert attributes, textMark), marks
// through export/import and save/load, and hostile deltas that throw instead of trapping.
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

function syncPair(a, b) {
  b.import(a.exportSince(b.version()));
  a.import(b.exportSince(a.version()));
}

/** Applies a rich view's patches: an array of { ch, attrs } per UTF-16 code unit. */
function applyPatches(view, event) {
  for (const p of event.patches) {
    if (p.action === "textInsert") {
      const units = [...p.text].flatMap((ch) =>
        ch.length === 2 ? [ch[0], ch[1]] : [ch],
      );
      view.splice(p.indexUtf16, 0, ...units.map((ch) => ({ ch, attrs: { ...(p.attributes ?? {}) } })));
    } else if (p.action === "textDelete") {
      view.splice(p.indexUtf16, p.lenUtf16);
    } else if (p.action === "textMark") {
      for (const unit of view.slice(p.indexUtf16, p.indexUtf16 + p.lenUtf16)) {
        if (p.value === null) delete unit.attrs[p.key];
        else unit.attrs[p.key] = p.value;
      }
    }
  }
}

/** The view as a delta (runs of equal attributes). */
function viewDelta(view) {
  const runs = [];
  for (const { ch, attrs } of view) {
    const last = runs[runs.length - 1];
    const same = last && JSON.stringify(last.attributes ?? {}) === JSON.stringify(attrs);
    if (same) last.insert += ch;
    else runs.push(Object.keys(attrs).length ? { insert: ch, attributes: { ...attrs } } : { insert: ch });
  }
  return runs;
}

test("mark, unmark and toDelta count UTF-16 code units", () => {
  const doc = Doc.withReplica("1");
  const text = doc.getText("body");
  text.insert(0, "👋 hello world");
  text.mark(0, 8, "bold", true);
  text.mark(3, 14, "link", "https://example.com");
  text.unmark(0, 3, "bold");
  assert.deepEqual(text.toDelta(), [
    { insert: "👋 " },
    { insert: "hello", attributes: { bold: true, link: "https://example.com" } },
    { insert: " world", attributes: { link: "https://example.com" } },
  ]);
  // Bold grows when typing at its end; a link does not.
  text.insert(8, "!");
  text.insert(15, "?");
  assert.deepEqual(text.toDelta().map((r) => r.insert), ["👋 ", "hello!", " world", "?"]);
  assertThrowsError(() => text.mark(0, 99, "bold", true), /past the end/);
  assertThrowsError(() => text.mark(1, 2, "bold", true), /UTF-16|surrogate|offset/i);
});

test("concurrent bold and typing at its end merge as Peritext says", () => {
  const a = Doc.withReplica("1");
  const b = Doc.withReplica("2");
  a.getText("t").insert(0, "The fox jumped.");
  syncPair(a, b);
  a.getText("t").mark(4, 7, "bold", true);
  b.getText("t").insert(7, "es");
  a.getText("t").mark(0, 3, "link", "x");
  b.getText("t").insert(3, "!");
  syncPair(a, b);
  const expected = [
    { insert: "The", attributes: { link: "x" } },
    { insert: "! " },
    { insert: "foxes", attributes: { bold: true } },
    { insert: " jumped." },
  ];
  assert.deepEqual(a.getText("t").toDelta(), expected);
  assert.deepEqual(b.getText("t").toDelta(), expected);
});

test("setMarkExpand chooses how local marks grow", () => {
  const doc = Doc.withReplica("1");
  doc.setMarkExpand("bold", "none");
  doc.setMarkExpand("link", "both");
  const text = doc.getText("t");
  text.insert(0, "ab");
  text.mark(0, 1, "bold", true);
  text.mark(1, 2, "link", "x");
  text.insert(1, "-");
  assert.deepEqual(text.toDelta(), [
    { insert: "a", attributes: { bold: true } },
    { insert: "-b", attributes: { link: "x" } },
  ]);
  assertThrowsError(() => doc.setMarkExpand("bold", "sideways"), /expand/);
});

test("applyDelta inserts, retains with attributes, deletes; null removes a key", () => {
  const doc = Doc.withReplica("1");
  const text = doc.getText("t");
  text.applyDelta([{ insert: "Hello", attributes: { bold: true } }, { insert: " 👋 world" }]);
  text.applyDelta([
    { retain: 2, attributes: { bold: null } },
    { retain: 4, attributes: { italic: true } },
    { delete: 2 },
    { insert: "big", attributes: { color: "red" } },
  ]);
  assert.deepEqual(text.toDelta(), [
    { insert: "He" },
    { insert: "llo", attributes: { bold: true, italic: true } },
    { insert: " ", attributes: { italic: true } },
    { insert: "big", attributes: { color: "red" } },
    { insert: " world" },
  ]);
  assert.equal(text.toString(), "Hello big world");
});

test("hostile deltas and values throw, never trap, and change nothing", () => {
  const doc = Doc.withReplica("1");
  const text = doc.getText("t");
  text.insert(0, "abc");
  const before = JSON.stringify(text.toDelta());
  const hostile = [
    [() => text.applyDelta("nope"), /array/],
    [() => text.applyDelta([null]), /object/],
    [() => text.applyDelta([{}]), /insert.*retain.*delete/],
    [() => text.applyDelta([{ retain: -1 }]), /whole number/],
    [() => text.applyDelta([{ retain: 1.5 }]), /whole number/],
    [() => text.applyDelta([{ delete: Number.NaN }]), /whole number/],
    [() => text.applyDelta([{ insert: 5 }]), /string/],
    [() => text.applyDelta([{ insert: "x", attributes: [1] }]), /object/],
    [() => text.applyDelta([{ insert: "x", attributes: { bold: {} } }]), /unsupported/],
    [() => text.applyDelta([{ retain: 2 }, { delete: 5 }]), /out of bounds|position/i],
    [() => text.applyDelta([{ get retain() { throw new Error("getter"); } }]), /getter/],
    [() => text.mark(0, 1, "bold", { nested: true }), /unsupported/],
    [() => text.mark(0, 1, "k".repeat(5000), true), /too long/],
  ];
  for (const [fn, pattern] of hostile) assertThrowsError(fn, pattern);
  assert.equal(JSON.stringify(text.toDelta()), before);
  // The document still works.
  text.mark(0, 1, "bold", true);
  assert.deepEqual(text.toDelta()[0], { insert: "a", attributes: { bold: true } });
});

test("events carry inserted formatting and mark changes; a view kept from them matches toDelta", () => {
  const a = Doc.withReplica("1");
  const b = Doc.withReplica("2");
  const view = [];
  const events = [];
  b.subscribe((e) => {
    events.push(e);
    applyPatches(view, e);
  });
  a.getText("t").insert(0, "👋 fox");
  a.getText("t").mark(0, 6, "bold", true);
  syncPair(a, b);
  a.getText("t").insert(6, "es");
  syncPair(a, b);
  const insert = events.flatMap((e) => e.patches).find((p) => p.text === "es");
  assert.deepEqual(insert.attributes, { bold: true });
  b.getText("t").unmark(0, 2, "bold");
  b.commit();
  const mark = events.flatMap((e) => e.patches).find((p) => p.action === "textMark" && p.value === null);
  assert.deepEqual(
    { index: mark.index, indexUtf16: mark.indexUtf16, len: mark.len, lenUtf16: mark.lenUtf16, key: mark.key },
    { index: 0, indexUtf16: 0, len: 1, lenUtf16: 2, key: "bold" },
  );
  assert.deepEqual(viewDelta(view), b.getText("t").toDelta());
});

test("marks travel through save/load", () => {
  const doc = Doc.withReplica("1");
  const text = doc.getText("t");
  text.insert(0, "hello world");
  text.mark(0, 5, "bold", true);
  text.mark(6, 11, "comment:7", "check");
  const loaded = Doc.load(doc.save());
  assert.deepEqual(loaded.getText("t").toDelta(), text.toDelta());
});
