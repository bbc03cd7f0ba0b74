// The ProseMirror binding (`crdt-sync/prosemirror`): plugins that keep an EditorView and a rich
// text of a Doc in step, both ways, and show the other peers' carets and selections. How the
// document lives in the text (one line per block, block attributes on the newline, marks as
// character formatting) is in prosemirror-text.js.
//
// - Local edits: after each transaction that changed the document, the binding turns the
//   difference between the old and the new document into a delta (bounded by ProseMirror's own
//   structural diff) and applies it to the text as one committed change.
// - Changes from elsewhere (other peers, other tabs, an undo made through the document): the
//   binding rebuilds the document from `text.toDelta()`, replaces only the part that differs
//   (ProseMirror's diff again) in one transaction marked with `crdtSyncKey`, and puts the
//   selection back from stable cursors taken before, so a peer typing before the caret moves it
//   with its character.
// - Presence is `{ name, color, cursor: { anchor, head } }` with stable cursors at text offsets,
//   the shape the other example pages use: the plain-text pages show the same carets.
import { Plugin, PluginKey, TextSelection } from "prosemirror-state";
import { Mapping } from "prosemirror-transform";
import { Decoration, DecorationSet } from "prosemirror-view";

import { deltaToDoc, docLines, docToDelta, localDelta, offsetToPos, posToOffset, schemaNames } from "./prosemirror-text.js";

export { schema, schemaNames, deltaToDoc, docToDelta } from "./prosemirror-text.js";

/** The sync plugin's key; its transactions carry the meta `"remote"` under it. */
export const crdtSyncKey = new PluginKey("crdt-sync");
/** The cursors plugin's key. */
export const crdtCursorsKey = new PluginKey("crdt-cursors");

const HEX_COLOR = /^#[0-9a-fA-F]{3,8}$/;
const PRESENCE_INTERVAL_MS = 40;

/**
 * The plugin that binds the editor to the root text `textName` of `doc`. The editor's schema
 * may be this module's `schema` or any schema with the same kinds of nodes and marks under
 * ProseMirror's or TipTap's names (see `schemaNames`). `options.commitOptions()`, if given,
 * gives each commit's options (e.g. `{ time: Date.now() }` for the history).
 */
export function crdtSync(doc, textName, options = {}) {
  return new Plugin({
    key: crdtSyncKey,
    // Only observes: records where each update's transactions changed the document.
    appendTransaction: (transactions, oldState, newState) => {
      recordChange(transactions, oldState, newState);
      return null;
    },
    view: (view) => new TextSync(view, doc, doc.getText(textName), textName, options.commitOptions),
  });
}

/**
 * Where transactions changed the document, by the state they made: `{ base, mapping, from, to }`
 * with `base` the state before them, `mapping` theirs, and `from..to` the changed range in the
 * new state's document. Weakly held: a state nobody keeps is dropped with its entry.
 */
const changes = new WeakMap();

function recordChange(transactions, oldState, newState) {
  let range = null;
  const mapping = new Mapping();
  for (const tr of transactions) {
    if (!tr.docChanged) continue;
    if (range) range = { from: tr.mapping.map(range.from, -1), to: tr.mapping.map(range.to, 1) };
    tr.mapping.maps.forEach((map, i) => {
      const rest = tr.mapping.slice(i + 1);
      map.forEach((_oldStart, _oldEnd, newStart, newEnd) => {
        const from = rest.map(newStart, -1);
        const to = rest.map(newEnd, 1);
        range = range ? { from: Math.min(range.from, from), to: Math.max(range.to, to) } : { from, to };
      });
    });
    mapping.appendMapping(tr.mapping);
  }
  if (range) changes.set(newState, { base: oldState, mapping, from: range.from, to: range.to });
}

/**
 * Where the document changed between `prevState` and `state`, from the recorded entries (an
 * update whose plugins appended transactions records one per round), or null when unknown.
 */
function changedBetween(prevState, state) {
  const chain = [];
  for (let at = state; at !== prevState; ) {
    const entry = changes.get(at);
    if (!entry || chain.length > 16) return null;
    chain.unshift(entry);
    at = entry.base;
  }
  let range = null;
  for (const entry of chain) {
    if (range) {
      const from = entry.mapping.map(range.from, -1);
      const to = entry.mapping.map(range.to, 1);
      range = { from: Math.min(from, entry.from), to: Math.max(to, entry.to) };
    } else {
      range = { from: entry.from, to: entry.to };
    }
  }
  return range;
}

/** The text offsets of the selection's anchor and head in `state`. */
export function selectionOffsets(state) {
  const lines = docLines(state.doc, schemaNames(state.schema));
  const { anchor, head } = state.selection;
  return { anchor: posToOffset(lines, anchor), head: posToOffset(lines, head) };
}

/** A text selection of `state` from text offsets (an undo's selection, a remote caret). */
export function selectionAt(state, anchor, head = anchor) {
  const lines = docLines(state.doc, schemaNames(state.schema));
  const $anchor = state.doc.resolve(offsetToPos(lines, anchor));
  const $head = state.doc.resolve(offsetToPos(lines, head));
  return TextSelection.between($anchor, $head);
}

class TextSync {
  constructor(view, doc, text, textName, commitOptions) {
    this.view = view;
    this.doc = doc;
    this.commitOptions = commitOptions;
    this.text = text;
    this.textName = textName;
    this.names = schemaNames(view.state.schema);
    this.writing = false; // the binding is committing: the events are its own
    this.applying = false; // the binding is dispatching a remote change: not to be written back
    this.destroyed = false;
    this.selection = null; // stable cursors of the selection, refreshed after every update
    this.listener = doc.subscribe((event) => this.onEvent(event));
    // The view may have been created with other content: the document wins. A view may not be
    // updated while its plugins are being set up, hence the microtask.
    queueMicrotask(() => {
      if (!this.destroyed) this.pull();
    });
  }

  update(view, prevState) {
    if (view.state.doc !== prevState.doc && !this.applying) {
      this.push(prevState.doc, view.state.doc, changedBetween(prevState, view.state));
    }
    this.captureSelection();
  }

  destroy() {
    this.destroyed = true;
    this.doc.unsubscribe(this.listener);
  }

  /** Writes a local transaction's change (made at `changed`, if known) as one committed change. */
  push(before, after, changed) {
    let ops = localDelta(before, after, this.names, changed);
    if (!ops) return;
    this.writing = true;
    try {
      const expected = linearLength(before, this.names);
      const length = this.text.length;
      if (length === expected - 1 && !this.text.toString().endsWith("\n")) {
        // The editor shows a last block whose newline the text lacks (an empty text, or the
        // last newline deleted by a peer): write it first, so offsets agree.
        this.text.insert(length, "\n");
      } else if (length !== expected) {
        // The editor and the text disagree (should not happen): diff against the text's own
        // document instead, so the result is exactly the editor's.
        ops = localDelta(deltaToDoc(this.text.toDelta(), this.names), after, this.names);
      }
      if (ops) this.text.applyDelta(ops);
      this.doc.commit(this.commitOptions?.());
    } finally {
      this.writing = false;
    }
    // Structure the text cannot hold (a list nested in a list item, a block kind the model does
    // not map) is shown as the text holds it, so every editor shows the same document. Not
    // during this update: ProseMirror takes no dispatch while it updates its plugins.
    if (!deltaToDoc(docToDelta(after, this.names), this.names).eq(after)) {
      queueMicrotask(() => {
        if (!this.destroyed) this.pull();
      });
    }
  }

  onEvent(event) {
    if (this.writing || this.destroyed) return;
    const mine = event.patches.some((p) => p.container === "text" && p.path?.length === 1 && p.path[0] === this.textName);
    if (mine) this.pull();
  }

  /** Shows the text's current content: replaces what differs, keeps the selection on its characters. */
  pull() {
    const state = this.view.state;
    const next = deltaToDoc(this.text.toDelta(), this.names);
    const start = state.doc.content.findDiffStart(next.content);
    if (start === null) return;
    let { a: endA, b: endB } = state.doc.content.findDiffEnd(next.content);
    const overlap = start - Math.min(endA, endB);
    if (overlap > 0) {
      endA += overlap;
      endB += overlap;
    }
    let tr = state.tr.replace(start, endA, next.slice(start, endB));
    if (!tr.doc.eq(next)) {
      // ProseMirror fitted the slice differently: replace the whole content instead.
      tr = state.tr.replaceWith(0, state.doc.content.size, next.content);
    }
    this.restoreSelection(tr);
    tr.setMeta(crdtSyncKey, "remote").setMeta("addToHistory", false);
    this.applying = true;
    try {
      this.view.dispatch(tr);
    } finally {
      this.applying = false;
    }
  }

  captureSelection() {
    const { anchor, head } = selectionOffsets(this.view.state);
    this.selection = { anchor: cursorAt(this.text, anchor), head: cursorAt(this.text, head) };
  }

  /** Puts the selection where its stable cursors are in the new text. */
  restoreSelection(tr) {
    if (!this.selection?.anchor || !this.selection.head) return;
    const anchor = this.text.resolveCursor(this.selection.anchor);
    const head = this.text.resolveCursor(this.selection.head);
    if (!Number.isInteger(anchor) || !Number.isInteger(head)) return;
    const lines = docLines(tr.doc, this.names);
    const $anchor = tr.doc.resolve(offsetToPos(lines, anchor));
    const $head = tr.doc.resolve(offsetToPos(lines, head));
    tr.setSelection(TextSelection.between($anchor, $head));
  }
}

/**
 * A stable cursor at text offset `offset`, clamped to the text; an offset between the two halves
 * of a surrogate pair (which a selection set by code can hold) moves before the pair.
 */
function cursorAt(text, offset) {
  const at = Math.min(offset, text.length);
  try {
    return text.getCursor(at);
  } catch {
    return at > 0 ? text.getCursor(at - 1) : null;
  }
}

/** The length of a document's text: every block's characters and its newline. */
function linearLength(doc, names) {
  const lines = docLines(doc, names);
  const last = lines[lines.length - 1];
  return last ? last.offset + last.size + 1 : 0;
}

/**
 * The plugin that publishes this peer's selection (`{ ...user, name, color, cursor }`) through
 * `provider` and draws every other peer's caret and selection.
 */
export function crdtCursors(doc, textName, provider, user = {}) {
  const text = doc.getText(textName);
  return new Plugin({
    key: crdtCursorsKey,
    state: {
      init: (_, state) => remoteDecorations(state, text, provider),
      apply: (tr, old, _oldState, state) =>
        tr.docChanged || tr.getMeta(crdtCursorsKey) ? remoteDecorations(state, text, provider) : old,
    },
    props: {
      decorations: (state) => crdtCursorsKey.getState(state),
    },
    view: (view) => new PresencePublisher(view, text, provider, user),
  });
}

class PresencePublisher {
  constructor(view, text, provider, user) {
    this.view = view;
    this.text = text;
    this.provider = provider;
    this.user = user;
    this.timer = null;
    this.destroyed = false;
    this.off = provider.on("presence", () => {
      // Presence may arrive while the view is updating: redraw after it.
      queueMicrotask(() => {
        if (!this.destroyed) this.view.dispatch(this.view.state.tr.setMeta(crdtCursorsKey, "refresh"));
      });
    });
    this.publishSoon();
  }

  update(view, prevState) {
    // Any new state (a moved selection, an edit, a page's own transaction after a rename).
    if (view.state !== prevState) this.publishSoon();
  }

  destroy() {
    this.destroyed = true;
    clearTimeout(this.timer);
    this.off?.();
  }

  publishSoon() {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.destroyed) this.publish();
    }, PRESENCE_INTERVAL_MS);
  }

  publish() {
    const { anchor, head } = selectionOffsets(this.view.state);
    this.provider.setPresence({
      ...this.user, // any other fields the page shares (read at each publish: getters work)
      name: this.user.name ?? "anonymous",
      color: this.user.color ?? "#888888",
      cursor: { anchor: cursorAt(this.text, anchor), head: cursorAt(this.text, head) },
    });
  }
}

/** The other peers' carets and selections as decorations of `state`. */
function remoteDecorations(state, text, provider) {
  const lines = docLines(state.doc, schemaNames(state.schema));
  const decorations = [];
  for (const [peer, presence] of provider.presence) {
    const cursor = presence?.cursor;
    if (!cursor?.head) continue;
    let head, anchor;
    try {
      head = text.resolveCursor(cursor.head);
      anchor = cursor.anchor ? text.resolveCursor(cursor.anchor) : head;
    } catch {
      continue; // not a cursor this document understands
    }
    if (!Number.isInteger(head)) continue;
    if (!Number.isInteger(anchor)) anchor = head;
    const name = String(presence.name ?? "anonymous").slice(0, 40);
    const color = HEX_COLOR.test(presence.color) ? presence.color : "#888888";
    const headPos = offsetToPos(lines, head);
    const anchorPos = offsetToPos(lines, anchor);
    const [from, to] = anchorPos < headPos ? [anchorPos, headPos] : [headPos, anchorPos];
    if (from < to) {
      decorations.push(Decoration.inline(from, to, { class: "crdt-selection", style: `background-color: ${color}33` }));
    }
    decorations.push(Decoration.widget(headPos, () => caret(peer, name, color), { key: `${peer}:${name}:${color}`, side: 1 }));
  }
  return DecorationSet.create(state.doc, decorations);
}

/** A remote caret: a thin coloured bar with the peer's name. */
function caret(peer, name, color) {
  // Styled inline, so the binding needs no style sheet; the classes let a page restyle it.
  const bar = document.createElement("span");
  bar.className = "crdt-caret";
  bar.dataset.peer = peer;
  bar.dataset.name = name;
  Object.assign(bar.style, {
    position: "relative", borderLeft: `2px solid ${color}`, marginLeft: "-1px", marginRight: "-1px",
    pointerEvents: "none",
  });
  const label = document.createElement("span");
  label.className = "crdt-caret-name";
  label.textContent = name;
  Object.assign(label.style, {
    position: "absolute", top: "-1.3em", left: "-2px", fontSize: "0.7em", lineHeight: "1.2",
    padding: "0 3px", color: "white", backgroundColor: color, whiteSpace: "nowrap", borderRadius: "2px",
    userSelect: "none",
  });
  bar.append(label);
  return bar;
}
