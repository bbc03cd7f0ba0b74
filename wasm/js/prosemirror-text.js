// How a ProseMirror document lives in one text of a Doc: the rich-text model of the
// ProseMirror binding (prosemirror.js), with no editor view, so it runs (and is tested) in Node.
//
// The text is a sequence of lines, as in a Quill delta: each block's characters followed by one
// "\n" that carries the block's attributes as marks of that newline character (`header: 1..6`
// for headings, `list: "bullet" | "ordered"` for list items; none for a paragraph). Character
// formatting is marks of the characters (`bold`, `italic`, `link: href`, any other mark of the
// schema by its name). Why one text with newline blocks rather than a tree of containers:
// - splitting a paragraph is inserting one newline and joining two is deleting one, so
//   concurrent typing in the moved half stays where its writer put it (with a tree, a split
//   moves text between containers and a concurrent edit of the moved text is lost or doubled);
// - every sequence of characters and newlines is a valid document (lines become paragraphs,
//   headings or list items by their newline's attributes, and consecutive list items of one kind
//   are grouped into one list), so no concurrent structure edit can produce an invalid one;
// - the plain text is readable as it is: the terminal peer and the code page see the same lines.
// Lists are flat (a list item holds one paragraph), as Quill's are.
import { Fragment, Schema } from "prosemirror-model";

/** Link targets a page may follow; others are shown as plain text (presence and links are remote input). */
const SAFE_HREF = /^(https?:|mailto:)/i;

/** The schema the binding maps by default: paragraphs, headings, flat lists, bold, italic, links. */
export const schema = new Schema({
  nodes: {
    doc: { content: "block+" },
    paragraph: { group: "block", content: "text*", parseDOM: [{ tag: "p" }], toDOM: () => ["p", 0] },
    heading: {
      group: "block",
      content: "text*",
      attrs: { level: { default: 1, validate: "number" } },
      defining: true,
      parseDOM: [1, 2, 3, 4, 5, 6].map((level) => ({ tag: `h${level}`, attrs: { level } })),
      toDOM: (node) => [`h${node.attrs.level}`, 0],
    },
    bullet_list: { group: "block", content: "list_item+", parseDOM: [{ tag: "ul" }], toDOM: () => ["ul", 0] },
    ordered_list: { group: "block", content: "list_item+", parseDOM: [{ tag: "ol" }], toDOM: () => ["ol", 0] },
    list_item: { content: "paragraph", defining: true, parseDOM: [{ tag: "li" }], toDOM: () => ["li", 0] },
    text: {},
  },
  marks: {
    bold: { parseDOM: [{ tag: "strong" }, { tag: "b" }], toDOM: () => ["strong", 0] },
    italic: { parseDOM: [{ tag: "em" }, { tag: "i" }], toDOM: () => ["em", 0] },
    link: {
      attrs: { href: { validate: "string" } },
      inclusive: false,
      parseDOM: [{ tag: "a[href]", getAttrs: (dom) => ({ href: dom.getAttribute("href") }) }],
      toDOM: (mark) => (SAFE_HREF.test(mark.attrs.href)
        ? ["a", { href: mark.attrs.href, rel: "noopener noreferrer nofollow" }, 0]
        : ["span", { class: "unsafe-link", title: "link not followed" }, 0]),
    },
  },
});

/**
 * The node and mark types of `schema` the model maps, by either naming style (ProseMirror's
 * `bullet_list`/`strong`/`em`, or TipTap's `bulletList`/`bold`/`italic`).
 */
export function schemaNames(s) {
  const node = (...names) => names.map((n) => s.nodes[n]).find(Boolean) ?? null;
  const mark = (...names) => names.map((n) => s.marks[n]).find(Boolean) ?? null;
  return {
    schema: s,
    paragraph: node("paragraph"),
    heading: node("heading"),
    bulletList: node("bullet_list", "bulletList"),
    orderedList: node("ordered_list", "orderedList"),
    listItem: node("list_item", "listItem"),
    bold: mark("bold", "strong"),
    italic: mark("italic", "em"),
  };
}

/** The attribute key of a mark type in the text (`bold`, `italic`, or the mark's own name). */
function markKey(names, type) {
  if (type === names.bold) return "bold";
  if (type === names.italic) return "italic";
  return type.name;
}

/** A mark as an attribute value: a link's href, a mark's only attribute, or `true`. */
function markValue(mark) {
  if (typeof mark.attrs.href === "string") return mark.attrs.href; // TipTap's link has more attributes
  const attrs = Object.values(mark.attrs);
  return attrs.length === 1 ? attrs[0] : true;
}

/** The mark an attribute stands for in `names.schema`, or null when it has none. */
function markFor(names, key, value) {
  if (value === null || value === undefined || value === false) return null;
  const type = key === "bold" ? names.bold : key === "italic" ? names.italic : names.schema.marks[key];
  if (!type) return null;
  const attrNames = Object.keys(type.spec.attrs ?? {});
  const name = attrNames.includes("href") ? "href" : attrNames.length === 1 ? attrNames[0] : null;
  if (name === null) return attrNames.length === 0 || value === true ? tryCreate(type, null) : null;
  if (typeof value !== "string" && typeof value !== "number") return null;
  return tryCreate(type, { [name]: value });
}

/** A mark of `type`, or null when the schema refuses the attributes (its own validation). */
function tryCreate(type, attrs) {
  try {
    return type.create(attrs);
  } catch {
    return null;
  }
}

/**
 * The lines of a ProseMirror document: per textblock, its position (where its content starts),
 * its offset in the text, its size (UTF-16 units, as the text counts), its runs
 * `{ text, attrs }` and its block attributes. `\uFFFC` stands for any inline node that is not text.
 */
export function docLines(doc, names) {
  const lines = [];
  let offset = 0;
  // `list` is the kind of the nearest list around (null outside lists).
  const walk = (node, contentStart, list) => {
    node.forEach((child, childOffset) => {
      const pos = contentStart + childOffset; // the position before `child`
      if (child.isTextblock) {
        const runs = [];
        child.forEach((leaf) => {
          const attrs = {};
          for (const mark of leaf.marks) attrs[markKey(names, mark.type)] = markValue(mark);
          runs.push({ text: leaf.isText ? leaf.text : "\uFFFC", attrs });
        });
        const size = child.content.size;
        lines.push({ pos: pos + 1, offset, size, runs, block: blockAttrs(names, child, list) });
        offset += size + 1;
      } else if (!child.isLeaf) {
        const kind = child.type === names.orderedList ? "ordered" : child.type === names.bulletList ? "bullet" : list;
        walk(child, pos + 1, kind);
      }
    });
  };
  walk(doc, 0, null);
  return lines;
}

/** The attributes of a block's newline. */
function blockAttrs(names, node, list) {
  if (node.type === names.heading) return { header: node.attrs.level };
  if (list) return { list };
  return {};
}

/** Text and per-character attributes of `lines` between text offsets `from` and `to`. */
export function linesSlice(lines, from, to) {
  let chars = "";
  const attrs = [];
  for (const line of lines) {
    const end = line.offset + line.size + 1;
    if (end <= from || line.offset >= to) continue;
    let at = line.offset;
    for (const run of line.runs) {
      for (const ch of splitUnits(run.text)) {
        if (at >= from && at < to) {
          chars += ch;
          attrs.push(run.attrs);
        }
        at += ch.length;
      }
    }
    if (at >= from && at < to) {
      chars += "\n";
      attrs.push(line.block);
    }
  }
  return { chars, attrs };
}

/** A string as UTF-16 units, each one "character" of the text's offsets. */
function splitUnits(s) {
  const out = [];
  for (let i = 0; i < s.length; i++) out.push(s[i]);
  return out;
}

/** The document as a delta: runs of text with their attributes, each block ended by "\n". */
export function docToDelta(doc, names = schemaNames(doc.type.schema)) {
  const delta = [];
  const push = (insert, attrs) => {
    if (insert.length === 0) return;
    const last = delta[delta.length - 1];
    if (last && sameAttrs(last.attributes ?? {}, attrs)) last.insert += insert;
    else delta.push(Object.keys(attrs).length ? { insert, attributes: { ...attrs } } : { insert });
  };
  for (const line of docLines(doc, names)) {
    for (const run of line.runs) push(run.text, run.attrs);
    push("\n", line.block);
  }
  return delta;
}

/** Whether two attribute sets are equal. */
export function sameAttrs(a, b) {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.is(a[k], b[k]));
}

/** A ProseMirror document of `names.schema` from a delta; any delta gives a valid document. */
export function deltaToDoc(delta, names = schemaNames(schema)) {
  const s = names.schema;
  const blocks = [];
  let inline = [];
  let list = null; // { kind, items }
  const flushList = () => {
    if (!list) return;
    const type = list.kind === "ordered" ? names.orderedList : names.bulletList;
    blocks.push(type.create(null, list.items));
    list = null;
  };
  const endLine = (attrs) => {
    const content = Fragment.fromArray(inline);
    inline = [];
    const kind = attrs.list === "ordered" || attrs.list === "bullet" ? attrs.list : null;
    if (kind && names.listItem && names.bulletList && names.orderedList) {
      if (list?.kind !== kind) flushList();
      list ??= { kind, items: [] };
      list.items.push(names.listItem.create(null, names.paragraph.create(null, content)));
      return;
    }
    flushList();
    const level = Number.isInteger(attrs.header) && attrs.header >= 1 && attrs.header <= 6 ? attrs.header : null;
    blocks.push(level && names.heading ? names.heading.create({ level }, content) : names.paragraph.create(null, content));
  };
  for (const op of delta) {
    if (typeof op.insert !== "string") continue;
    const attrs = op.attributes ?? {};
    const parts = op.insert.split("\n");
    parts.forEach((part, i) => {
      if (i > 0) endLine(attrs);
      if (part.length > 0) inline.push(s.text(part, marksOf(names, attrs)));
    });
  }
  if (inline.length > 0 || blocks.length === 0 && !list) endLine({});
  flushList();
  return s.topNodeType.create(null, blocks);
}

function marksOf(names, attrs) {
  const marks = [];
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "header" || key === "list") continue;
    const mark = markFor(names, key, value);
    if (mark) marks.push(mark);
  }
  return sortMarks(marks);
}

/** Marks in the schema's order, as ProseMirror requires of a text node's mark set. */
function sortMarks(marks) {
  return marks.sort((a, b) => a.type.rank - b.type.rank);
}

/** The text offset of ProseMirror position `pos` (a position between blocks: the next block's start). */
export function posToOffset(lines, pos) {
  let lo = 0;
  let hi = lines.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (lines[mid].pos <= pos) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (found < 0) return 0;
  const line = lines[found];
  if (pos <= line.pos + line.size) return line.offset + (pos - line.pos);
  return line.offset + line.size + 1; // after the block: the start of the next line
}

/** The ProseMirror position of text offset `offset` (a newline: the end of its block). */
export function offsetToPos(lines, offset) {
  let lo = 0;
  let hi = lines.length - 1;
  let found = 0;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (lines[mid].offset <= offset) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  const line = lines[found];
  if (!line) return 0;
  return line.pos + Math.min(Math.max(0, offset - line.offset), line.size);
}

/**
 * The delta that turns the text of `oldDoc` into the text of `newDoc` (two states of one
 * editor), or null when their texts are equal. `changed` (`{ from, to }`, positions in
 * `newDoc`), when known from the transactions' steps, is where the change was made. ProseMirror's own structural diff
 * (`findDiffStart`/`findDiffEnd`) bounds the change; the region is widened to whole lines (a
 * block's attributes live on its newline) and then trimmed to the characters that differ, so
 * typing one character is one insert, formatting a word is a retain with attributes, and
 * nothing outside the change is touched (concurrent edits around it keep their place).
 */
export function localDelta(oldDoc, newDoc, names = schemaNames(newDoc.type.schema), changed = null) {
  const start = oldDoc.content.findDiffStart(newDoc.content);
  if (start === null) return null;
  let { a: endA, b: endB } = oldDoc.content.findDiffEnd(newDoc.content);
  const overlap = start - Math.min(endA, endB);
  if (overlap > 0) {
    endA += overlap;
    endB += overlap;
  }
  const oldLines = docLines(oldDoc, names);
  const newLines = docLines(newDoc, names);
  // Whole lines: from the start of the line holding `start` to the end of the line holding the end.
  const from = lineStart(oldLines, posToOffset(oldLines, start));
  const oldTo = lineEnd(oldLines, posToOffset(oldLines, endA));
  const newTo = lineEnd(newLines, posToOffset(newLines, endB));
  const before = linesSlice(oldLines, from, oldTo);
  const after = linesSlice(newLines, from, newTo);
  // Where the transaction's steps say the change starts: an insert or delete inside a run of
  // equal characters is placed there, so typing "a" before "aaa" inserts before them, not
  // after (a diff alone cannot tell).
  const at = changed ? Math.max(0, posToOffset(newLines, changed.from) - from) : Infinity;
  const ops = regionDelta(before, after, at);
  if (ops.length === 0) return null;
  if (from === 0) return ops;
  // The unchanged text before the region, merged with the region's own leading plain retain.
  if (ops[0].retain !== undefined && !ops[0].attributes) return [{ retain: from + ops[0].retain }, ...ops.slice(1)];
  return [{ retain: from }, ...ops];
}

/** The offset where the line holding `offset` starts. */
function lineStart(lines, offset) {
  for (let i = lines.length - 1; i >= 0; i--) {
    if (lines[i].offset <= offset) return lines[i].offset;
  }
  return 0;
}

/** The offset just after the newline of the line holding `offset`. */
function lineEnd(lines, offset) {
  for (const line of lines) {
    const end = line.offset + line.size + 1;
    if (offset < end) return end;
  }
  const last = lines[lines.length - 1];
  return last ? last.offset + last.size + 1 : 0;
}

/**
 * Delta ops for one region: kept characters (with attribute changes), then the replaced middle.
 * An insert or a delete that could sit anywhere in a run of equal characters is slid back
 * towards `at` (the region offset where the editor made the change).
 */
function regionDelta(before, after, at) {
  const a = before.chars;
  const b = after.chars;
  let prefix = 0;
  while (prefix < a.length && prefix < b.length && a[prefix] === b[prefix]) prefix++;
  // Never between the two halves of a surrogate pair ("👋" and "👌" share their first half).
  if (prefix > 0 && isHighSurrogate(a[prefix - 1])) prefix--;
  let suffix = 0;
  while (suffix < a.length - prefix && suffix < b.length - prefix &&
    a[a.length - 1 - suffix] === b[b.length - 1 - suffix]) suffix++;
  if (suffix > 0 && isLowSurrogate(a[a.length - suffix])) suffix--;
  const removed = a.length - prefix - suffix;
  const added = b.length - prefix - suffix;
  // Only a pure insert or a pure delete can slide: text[prefix - 1] equals the middle's last
  // character, so moving the middle one place back gives the same result (not across pairs).
  const run = added > 0 && removed === 0 ? b : removed > 0 && added === 0 ? a : null;
  const len = Math.max(added, removed);
  while (run && prefix > at && run[prefix - 1] === run[prefix - 1 + len] && !isSurrogate(run[prefix - 1])) {
    prefix--;
    suffix++;
  }
  const ops = [];
  retainRange(ops, before.attrs, after.attrs, 0, 0, prefix);
  if (removed > 0) ops.push({ delete: removed });
  insertRange(ops, b, after.attrs, prefix, b.length - suffix);
  retainRange(ops, before.attrs, after.attrs, a.length - suffix, b.length - suffix, suffix);
  // A trailing plain retain changes nothing.
  while (ops.length && ops[ops.length - 1].retain !== undefined && !ops[ops.length - 1].attributes) ops.pop();
  return ops;
}

const isHighSurrogate = (unit) => unit >= "\ud800" && unit <= "\udbff";
const isLowSurrogate = (unit) => unit >= "\udc00" && unit <= "\udfff";
const isSurrogate = (unit) => unit >= "\ud800" && unit <= "\udfff";

/** Retains `n` kept characters, with the attributes that changed on them. */
function retainRange(ops, oldAttrs, newAttrs, oldAt, newAt, n) {
  for (let i = 0; i < n; i++) {
    const change = attrChange(oldAttrs[oldAt + i], newAttrs[newAt + i]);
    const last = ops[ops.length - 1];
    if (last?.retain !== undefined && sameAttrs(last.attributes ?? {}, change ?? {})) last.retain += 1;
    else ops.push(change ? { retain: 1, attributes: change } : { retain: 1 });
  }
}

/** Inserts characters `from..to` of `chars`, one op per run of equal attributes. */
function insertRange(ops, chars, attrs, from, to) {
  for (let i = from; i < to; i++) {
    const last = ops[ops.length - 1];
    if (last?.insert !== undefined && i > from && sameAttrs(last.attributes ?? {}, attrs[i])) last.insert += chars[i];
    else ops.push(Object.keys(attrs[i]).length ? { insert: chars[i], attributes: { ...attrs[i] } } : { insert: chars[i] });
  }
}

/** The attributes to set (a value) or remove (null) to go from `a` to `b`, or null when equal. */
function attrChange(a, b) {
  let change = null;
  for (const [k, v] of Object.entries(b)) {
    if (!Object.is(a[k], v)) (change ??= {})[k] = v;
  }
  for (const k of Object.keys(a)) {
    if (!(k in b)) (change ??= {})[k] = null;
  }
  return change;
}
