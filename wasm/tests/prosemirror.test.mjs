// The ProseMirror binding (crdt-sync/prosemirror) in Node, on real Docs: editors are headless
// (an EditorState and the plugins' view hooks, no DOM), driven by ProseMirror's own commands.
// Two to four editors edit concurrently (text, Enter, Backspace at a block start, bold, links,
// headings, lists), their documents sync in random order, and every editor ends with the same,
// valid ProseMirror document, equal to the one its text describes.
import { test } from "node:test";
import assert from "node:assert/strict";

import { EditorState, TextSelection } from "prosemirror-state";
import { joinBackward, setBlockType, splitBlock, toggleMark } from "prosemirror-commands";
import { liftListItem, sinkListItem, wrapInList } from "prosemirror-schema-list";
import { getSchema } from "@tiptap/core";
import StarterKit from "@tiptap/starter-kit";

import { Doc } from "../pkg/node/crdt_wasm.js";
import { crdtSync, crdtSyncKey, deltaToDoc, docToDelta, schema, schemaNames } from "../pkg/web/prosemirror.js";

const names = schemaNames(schema);

/** An editor without a DOM: the state, and the plugins' view hooks called as EditorView does. */
class HeadlessEditor {
  constructor(doc, textName, editorSchema = schema) {
    this.doc = doc;
    this.state = EditorState.create({ schema: editorSchema, plugins: [crdtSync(doc, textName)] });
    this.pluginViews = this.state.plugins.filter((p) => p.spec.view).map((p) => p.spec.view(this));
  }

  dispatch(tr) {
    const prev = this.state;
    this.state = prev.apply(tr);
    for (const v of this.pluginViews) v.update?.(this, prev);
  }

  /** Runs a ProseMirror command with the selection at `from..to`; returns whether it applied. */
  run(command, from, to = from) {
    const { doc } = this.state;
    // A user's selection never falls between the two halves of a surrogate pair (an emoji).
    const place = (n) => {
      const $pos = doc.resolve(Math.max(0, Math.min(doc.content.size, n)));
      const before = $pos.parent.isTextblock ? $pos.parent.textBetween(0, $pos.parentOffset) : "";
      return /[\ud800-\udbff]$/.test(before) ? doc.resolve($pos.pos - 1) : $pos;
    };
    const selection = TextSelection.between(place(from), place(to));
    this.dispatch(this.state.tr.setSelection(selection));
    return command(this.state, (tr) => this.dispatch(tr));
  }

  destroy() {
    for (const v of this.pluginViews) v.destroy?.();
  }
}

/** Lets queued microtasks run (the plugin's first pull is one). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Sends everything each document has to every other (all pairs, both ways). */
function syncAll(docs) {
  for (let round = 0; round < 2; round++) {
    for (const a of docs) {
      for (const b of docs) if (a !== b) b.import(a.exportSince(b.version()));
    }
  }
}

test("typing, formatting and structure in one editor reach another editor exactly", async () => {
  const [da, db] = [new Doc(), new Doc()];
  const [a, b] = [new HeadlessEditor(da, "body"), new HeadlessEditor(db, "body")];
  await settle();
  a.dispatch(a.state.tr.insertText("Title", 1));
  a.run(setBlockType(schema.nodes.heading, { level: 1 }), 1);
  a.run(splitBlock, 6);
  a.dispatch(a.state.tr.insertText("hello world"));
  a.run(toggleMark(schema.marks.bold), 8, 13); // "hello" bold
  a.run(splitBlock, a.state.doc.content.size - 1);
  a.dispatch(a.state.tr.insertText("item"));
  a.run(wrapInList(schema.nodes.bullet_list), a.state.doc.content.size - 3);
  db.import(da.exportSince(db.version()));
  assert.equal(b.state.doc.toString(), a.state.doc.toString());
  assert.equal(a.state.doc.toString(),
    'doc(heading("Title"), paragraph(bold("hello"), " world"), bullet_list(list_item(paragraph("item"))))');
  // The text is the plain lines; the structure is on the newlines.
  assert.equal(da.getText("body").toString(), "Title\nhello world\nitem\n");
  assert.deepEqual(docToDelta(b.state.doc), da.getText("body").toDelta());
  a.destroy();
  b.destroy();
});

test("a remote insert before the caret moves the caret with its character", async () => {
  const [da, db] = [new Doc(), new Doc()];
  const [a, b] = [new HeadlessEditor(da, "body"), new HeadlessEditor(db, "body")];
  await settle();
  a.dispatch(a.state.tr.insertText("aaa", 1));
  db.import(da.exportSince(db.version()));
  b.dispatch(b.state.tr.setSelection(TextSelection.create(b.state.doc, 3))); // between the 2nd and 3rd "a"
  a.dispatch(a.state.tr.insertText("a", 1)); // at the start: a repeated character, ambiguous to a diff
  db.import(da.exportSince(db.version()));
  assert.equal(b.state.doc.textContent, "aaaa");
  assert.equal(b.state.selection.head, 4, "the caret stays between the same characters");
  a.destroy();
  b.destroy();
});

/** A small deterministic random generator (mulberry32). */
function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomEdit(editor, rnd) {
  const size = editor.state.doc.content.size;
  const pick = (n) => Math.floor(rnd() * n);
  const [from, to] = [pick(size + 1), pick(size + 1)].sort((x, y) => x - y);
  switch (pick(9)) {
    case 0: case 1: case 2:
      editor.run((state, dispatch) => {
        dispatch(state.tr.insertText(["x", "yz", "👋", "\u00e9"][pick(4)]));
        return true;
      }, from, to);
      break;
    case 3: editor.run(splitBlock, from); break;
    case 4: editor.run(joinBackward, from); break;
    case 5: editor.run(toggleMark([schema.marks.bold, schema.marks.italic][pick(2)]), from, to); break;
    case 6: editor.run(toggleMark(schema.marks.link, { href: `https://example.org/${pick(3)}` }), from, to); break;
    case 7: editor.run(pick(2) ? setBlockType(schema.nodes.heading, { level: 1 + pick(2) }) : setBlockType(schema.nodes.paragraph), from); break;
    case 8: editor.run(pick(3) === 0 ? liftListItem(schema.nodes.list_item) : wrapInList(pick(2) ? schema.nodes.bullet_list : schema.nodes.ordered_list), from, to); break;
  }
}

test("concurrent edits of text, marks and structure on 2-4 editors converge to one valid document", async () => {
  for (let seed = 1; seed <= 30; seed++) {
    const rnd = random(seed);
    const count = 2 + (seed % 3);
    const docs = Array.from({ length: count }, () => new Doc());
    const editors = docs.map((d) => new HeadlessEditor(d, "body"));
    await settle();
    editors[0].dispatch(editors[0].state.tr.insertText("Shared start", 1));
    syncAll(docs);
    for (let round = 0; round < 6; round++) {
      // Each editor makes a few edits without hearing from the others...
      for (const editor of editors) {
        for (let i = 0; i < 1 + Math.floor(rnd() * 4); i++) randomEdit(editor, rnd);
      }
      // ...then some pairs exchange what they have, in a random order.
      for (let i = 0; i < count; i++) {
        const [x, y] = [docs[Math.floor(rnd() * count)], docs[Math.floor(rnd() * count)]];
        if (x !== y) y.import(x.exportSince(y.version()));
      }
    }
    syncAll(docs);
    await settle(); // structure the text cannot hold is shown as the text holds it
    const want = editors[0].state.doc;
    want.check();
    for (const [i, editor] of editors.entries()) {
      editor.state.doc.check();
      assert.equal(editor.state.doc.toString(), want.toString(), `seed ${seed}: editor ${i} differs`);
      const text = docs[i].getText("body");
      assert.ok(editor.state.doc.eq(deltaToDoc(text.toDelta(), names)), `seed ${seed}: editor ${i} is not its text`);
    }
    for (const editor of editors) editor.destroy();
  }
});

test("an edit of the text made elsewhere (not through the editor) shows in it, and its transaction is marked", async () => {
  const d = new Doc();
  const editor = new HeadlessEditor(d, "body");
  await settle();
  editor.dispatch(editor.state.tr.insertText("abc", 1));
  let marked = null;
  const dispatch = editor.dispatch.bind(editor);
  editor.dispatch = (tr) => {
    marked = tr.getMeta(crdtSyncKey);
    dispatch(tr);
  };
  const text = d.getText("body");
  text.insert(1, "XY");
  text.mark(0, 3, "bold", true);
  d.commit();
  assert.equal(editor.state.doc.toString(), 'doc(paragraph(bold("aXY"), "bc"))');
  assert.equal(marked, "remote");
  editor.destroy();
});

test("TipTap's schema (StarterKit: bulletList, listItem, bold, link with more attributes) converges the same way", async () => {
  const tiptap = getSchema([StarterKit]);
  const tn = schemaNames(tiptap);
  assert.ok(tn.bulletList && tn.listItem && tn.bold && tn.italic, "TipTap's names are mapped");
  for (let seed = 1; seed <= 12; seed++) {
    const rnd = random(1000 + seed);
    const pick = (n) => Math.floor(rnd() * n);
    const docs = [new Doc(), new Doc(), new Doc()];
    const editors = docs.map((d) => new HeadlessEditor(d, "body", tiptap));
    await settle();
    editors[0].dispatch(editors[0].state.tr.insertText("Tip tap text", 1));
    syncAll(docs);
    for (let round = 0; round < 5; round++) {
      for (const editor of editors) {
        const size = editor.state.doc.content.size;
        const [from, to] = [pick(size + 1), pick(size + 1)].sort((x, y) => x - y);
        switch (pick(7)) {
          case 0: case 1:
            editor.run((state, dispatch) => (dispatch(state.tr.insertText(["ab", "c", "é"][pick(3)])), true), from, to);
            break;
          case 2: editor.run(splitBlock, from); break;
          case 3: editor.run(toggleMark([tiptap.marks.bold, tiptap.marks.italic, tiptap.marks.strike][pick(3)]), from, to); break;
          case 4: editor.run(toggleMark(tiptap.marks.link, { href: `https://example.org/${pick(3)}`, target: "_blank" }), from, to); break;
          case 5: editor.run(pick(2) ? setBlockType(tiptap.nodes.heading, { level: 1 + pick(3) }) : setBlockType(tiptap.nodes.paragraph), from); break;
          case 6: editor.run([wrapInList(tiptap.nodes.bulletList), sinkListItem(tiptap.nodes.listItem), liftListItem(tiptap.nodes.listItem)][pick(3)], from, to); break;
        }
      }
      await settle(); // nested lists the text cannot hold are shown flat
      docs.forEach((d, i) => docs[(i + 1) % docs.length].import(d.exportSince(docs[(i + 1) % docs.length].version())));
    }
    syncAll(docs);
    await settle();
    const want = editors[0].state.doc;
    for (const [i, editor] of editors.entries()) {
      editor.state.doc.check();
      assert.equal(editor.state.doc.toString(), want.toString(), `seed ${seed}: editor ${i} differs`);
      assert.ok(editor.state.doc.eq(deltaToDoc(docs[i].getText("body").toDelta(), tn)), `seed ${seed}: editor ${i} is not its text`);
    }
    // A TipTap link keeps its address through the text.
    for (const editor of editors) editor.destroy();
  }
});

test("a TipTap link keeps its address through the text", async () => {
  const tiptap = getSchema([StarterKit]);
  const [da, db] = [new Doc(), new Doc()];
  const [a, b] = [new HeadlessEditor(da, "body", tiptap), new HeadlessEditor(db, "body", tiptap)];
  await settle();
  a.dispatch(a.state.tr.insertText("see docs", 1));
  a.run(toggleMark(tiptap.marks.link, { href: "https://example.org/docs", target: "_blank" }), 5, 9);
  db.import(da.exportSince(db.version()));
  const link = b.state.doc.firstChild.child(1).marks.find((m) => m.type === tiptap.marks.link);
  assert.equal(link?.attrs.href, "https://example.org/docs");
  assert.deepEqual(da.getText("body").toDelta(), [
    { insert: "see " }, { insert: "docs", attributes: { link: "https://example.org/docs" } }, { insert: "\n" },
  ]);
  a.destroy();
  b.destroy();
});
