// The ProseMirror binding's model (wasm/js/prosemirror-text.js), in Node, without a browser or
// a Doc: documents to deltas and back, positions to text offsets and back, and the delta of an
// editor transaction, checked against random transactions made by ProseMirror's own commands
// (typing, deleting, Enter, Backspace at a block start, bold/italic/link, headings, lists).
import { test } from "node:test";
import assert from "node:assert/strict";

import { EditorState, TextSelection } from "prosemirror-state";
import { baseKeymap, joinBackward, setBlockType, splitBlock, toggleMark } from "prosemirror-commands";
import { liftListItem, wrapInList } from "prosemirror-schema-list";

import {
  schema,
  schemaNames,
  deltaToDoc,
  docToDelta,
  docLines,
  localDelta,
  offsetToPos,
  posToOffset,
} from "../js/prosemirror-text.js";

const names = schemaNames(schema);

/** A string's UTF-16 units (the text's offsets count them, as JS strings do). */
const units = (s) => Array.from({ length: s.length }, (_, i) => s[i]);

/** A delta as one `{ ch, attrs }` per UTF-16 unit: the reference the tests compare with. */
function expand(delta) {
  const out = [];
  for (const op of delta) {
    for (const ch of units(op.insert)) out.push({ ch, attrs: op.attributes ?? {} });
  }
  return out;
}

/** Applies delta `ops` (retain/insert/delete, attributes null = remove) to an expanded text. */
function apply(chars, ops) {
  const out = [];
  let at = 0;
  for (const op of ops) {
    if (op.retain !== undefined) {
      assert.ok(at + op.retain <= chars.length, `retain past the end: ${JSON.stringify(ops)}`);
      for (let i = 0; i < op.retain; i++, at++) {
        const attrs = { ...chars[at].attrs };
        for (const [k, v] of Object.entries(op.attributes ?? {})) {
          if (v === null) delete attrs[k];
          else attrs[k] = v;
        }
        out.push({ ch: chars[at].ch, attrs });
      }
    } else if (op.delete !== undefined) {
      assert.ok(at + op.delete <= chars.length, "delete past the end");
      at += op.delete;
    } else {
      for (const ch of units(op.insert)) out.push({ ch, attrs: op.attributes ?? {} });
    }
  }
  return [...out, ...chars.slice(at)];
}

const plain = (chars) => chars.map((c) => c.ch).join("");

test("a delta becomes a valid document and back, lists grouped, headings kept", () => {
  const delta = [
    { insert: "Title" }, { insert: "\n", attributes: { header: 1 } },
    { insert: "Hello " }, { insert: "bold", attributes: { bold: true } }, { insert: " and " },
    { insert: "link", attributes: { link: "https://example.org" } }, { insert: "\n" },
    { insert: "a" }, { insert: "\n", attributes: { list: "bullet" } },
    { insert: "b" }, { insert: "\n", attributes: { list: "bullet" } },
    { insert: "c" }, { insert: "\n", attributes: { list: "ordered" } },
  ];
  const doc = deltaToDoc(delta, names);
  doc.check();
  assert.equal(doc.toString(),
    'doc(heading("Title"), paragraph("Hello ", bold("bold"), " and ", link("link")), ' +
    'bullet_list(list_item(paragraph("a")), list_item(paragraph("b"))), ordered_list(list_item(paragraph("c"))))');
  assert.deepEqual(expand(docToDelta(doc)), expand(delta));
});

test("any delta, however edits interleaved, is a valid document", () => {
  const odd = [
    { insert: "no newline at all", attributes: { bold: true, unknown: 3 } },
  ];
  for (const delta of [[], odd, [{ insert: "\n\n\n" }], [{ insert: "x\n", attributes: { header: 99, list: "bogus" } }],
    [{ insert: "l", attributes: { link: 42 } }, { insert: "\n", attributes: { list: "bullet", header: 2 } }]]) {
    const doc = deltaToDoc(delta, names);
    doc.check();
    assert.ok(doc.childCount >= 1);
  }
  // The text without a final newline reads as a last paragraph.
  assert.equal(deltaToDoc(odd, names).toString(), 'doc(paragraph(bold("no newline at all")))');
});

test("positions and text offsets map both ways inside blocks", () => {
  const doc = deltaToDoc([
    { insert: "ab\n" }, { insert: "cd" }, { insert: "\n", attributes: { list: "bullet" } }, { insert: "ef\n" },
  ], names);
  const lines = docLines(doc, names);
  for (let offset = 0; offset < 9; offset++) {
    assert.equal(posToOffset(lines, offsetToPos(lines, offset)), offset, `offset ${offset}`);
  }
  // "c" sits inside bullet_list > list_item > paragraph: three opening tokens after "ab"'s block.
  assert.equal(offsetToPos(lines, 3), 1 + 2 + 1 + 3);
});

/** A small deterministic random generator (mulberry32). */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One random editing command, as a user of the example editor would run it. */
function randomEdit(state, rnd) {
  const size = state.doc.content.size;
  const pick = (n) => Math.floor(rnd() * n);
  const a = TextSelection.between(state.doc.resolve(pick(size + 1)), state.doc.resolve(pick(size + 1)));
  const selected = state.apply(state.tr.setSelection(a));
  let next = null;
  const run = (command) => command(selected, (tr) => {
    next = selected.apply(tr);
  });
  switch (pick(10)) {
    case 0: case 1: case 2:
      next = selected.apply(selected.tr.insertText(["x", "yz", "👋", " "][pick(4)]));
      break;
    case 3:
      if (!selected.selection.empty) next = selected.apply(selected.tr.deleteSelection());
      break;
    case 4: run(splitBlock); break;
    case 5: run(joinBackward); break;
    case 6: run(toggleMark([schema.marks.bold, schema.marks.italic][pick(2)])); break;
    case 7: run(toggleMark(schema.marks.link, { href: "https://example.org/" + pick(3) })); break;
    case 8: run(pick(2) ? setBlockType(schema.nodes.heading, { level: 1 + pick(2) }) : setBlockType(schema.nodes.paragraph)); break;
    case 9: run(pick(3) === 0 ? liftListItem(schema.nodes.list_item) : wrapInList(pick(2) ? schema.nodes.bullet_list : schema.nodes.ordered_list)); break;
  }
  return next;
}

test("the delta of each random editor transaction turns the old text into the new", () => {
  let checked = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const rnd = random(seed);
    let state = EditorState.create({ schema, doc: deltaToDoc([{ insert: "Hello world\n" }], names) });
    let chars = expand(docToDelta(state.doc));
    for (let step = 0; step < 60; step++) {
      const next = randomEdit(state, rnd);
      if (!next) continue;
      next.doc.check();
      const ops = localDelta(state.doc, next.doc, names);
      const want = expand(docToDelta(next.doc));
      if (ops === null) {
        assert.deepEqual(chars, want, `seed ${seed} step ${step}: no delta but the text changed`);
      } else {
        chars = apply(chars, ops);
        assert.deepEqual(chars, want, `seed ${seed} step ${step}: ${JSON.stringify(ops)}`);
        checked++;
      }
      state = next;
    }
  }
  assert.ok(checked > 500, `only ${checked} transactions changed the text`);
});

test("typing one character is one insert; bolding a word is one retain with attributes", () => {
  const doc = deltaToDoc([{ insert: "one two\nthree\n" }], names);
  let state = EditorState.create({ schema, doc });
  const typed = state.apply(state.tr.insertText("X", 1 + 4));
  assert.deepEqual(localDelta(state.doc, typed.doc, names), [{ retain: 4 }, { insert: "X" }]);
  const bolded = state.apply(state.tr.addMark(1 + 4, 1 + 7, schema.marks.bold.create()));
  assert.deepEqual(localDelta(state.doc, bolded.doc, names), [{ retain: 4 }, { retain: 3, attributes: { bold: true } }]);
  const heading = state.apply(state.tr.setBlockType(10, 10, schema.nodes.heading, { level: 2 }));
  assert.deepEqual(localDelta(state.doc, heading.doc, names), [{ retain: 13 }, { retain: 1, attributes: { header: 2 } }]);
  assert.equal(plain(expand(docToDelta(heading.doc))), "one two\nthree\n");
  void baseKeymap;
});
