// The CodeMirror 6 binding: keeps an EditorView and a root text of a Doc in step, both ways, and
// shows the other peers' carets and selections from the provider's presence.
//
// - A local transaction's changes become deletes and inserts of the text at UTF-16 offsets (the
//   text handle counts as CodeMirror does), committed as one change per transaction, so one
//   keystroke is one change, as an editor's undo and history expect.
// - Every other change to the text (a remote peer, another tab, an undo made through the
//   document) arrives as patches; they are turned into one CodeMirror change set tagged with
//   `remoteChange`, which CodeMirror maps the selection through, so a peer typing before the
//   caret moves it with the text. The binding never diffs strings.
// - Presence is `{ name, color, cursor: { anchor, head } }`, the same shape as the editor page's,
//   with stable cursors (`text.getCursor`), so carets stay on their character while text arrives.
//   A remote name is shown as text and a remote colour is used only when it is a hex colour:
//   presence comes from other peers and is not trusted.
import { Annotation, ChangeSet, Prec, RangeSetBuilder, StateEffect, Transaction } from "@codemirror/state";
import { Decoration, EditorView, ViewPlugin, WidgetType, keymap } from "@codemirror/view";

/** Marks the transactions the binding makes from document patches (not to be written back). */
export const remoteChange = Annotation.define();

/** Asks the cursor layer to redraw (presence changed, nothing in the text did). */
const presenceChanged = StateEffect.define();

const HEX_COLOR = /^#[0-9a-fA-F]{3,8}$/;
const PRESENCE_INTERVAL_MS = 40;

/**
 * The extension that binds `view` to the root text `textName` of `doc`. Options: `provider`
 * (a WebSocketProvider or anything with `presence`, `setPresence` and `on("presence")`) and
 * `user` (`{ name, color }`) to publish this peer's caret and show the others'; `commitOptions()`
 * gives each commit's options (e.g. `{ time: Date.now() }` for the history).
 */
export function crdtCollab(doc, textName, options = {}) {
  const text = doc.getText(textName);
  const sync = ViewPlugin.define((view) => new TextSync(view, doc, text, textName, options.commitOptions));
  const extensions = [sync];
  if (options.provider) {
    const presence = options.provider;
    const user = options.user ?? {};
    extensions.push(
      ViewPlugin.define((view) => new RemoteCursors(view, text, presence, user), {
        decorations: (plugin) => plugin.decorations,
      }),
      cursorTheme,
    );
  }
  return extensions;
}

/** Two-way sync of the editor's content and the text. */
class TextSync {
  constructor(view, doc, text, textName, commitOptions) {
    this.view = view;
    this.doc = doc;
    this.commitOptions = commitOptions;
    this.text = text;
    this.textName = textName;
    /** True while the binding writes the text: the events of those commits are its own. */
    this.writing = false;
    this.destroyed = false;
    this.listener = doc.subscribe((event) => this.applyPatches(event));
    // The view may have been created with other content: the document wins. Dispatching is not
    // allowed while the view is being constructed, hence the microtask.
    queueMicrotask(() => {
      if (!this.destroyed) this.replaceAllIfDiverged();
    });
  }

  update(update) {
    for (const tr of update.transactions) {
      if (tr.docChanged && !tr.annotation(remoteChange)) this.writeChanges(tr.changes);
    }
  }

  destroy() {
    this.destroyed = true;
    this.doc.unsubscribe(this.listener);
  }

  /** A local transaction's changes, in order, as one committed change. */
  writeChanges(changes) {
    this.writing = true;
    try {
      // `fromB` is where the change starts once the earlier changes of the set are applied,
      // which is where it lands in the text as they are written one by one.
      changes.iterChanges((fromA, toA, fromB, _toB, inserted) => {
        if (toA > fromA) this.text.delete(fromB, toA - fromA);
        if (inserted.length > 0) this.text.insert(fromB, inserted.toString());
      });
      this.doc.commit(this.commitOptions?.());
    } finally {
      this.writing = false;
    }
  }

  /** Patches of this text made elsewhere, as one change set the view maps its selection through. */
  applyPatches(event) {
    if (this.writing) return;
    let length = this.view.state.doc.length;
    let changes = ChangeSet.empty(length);
    for (const patch of event.patches) {
      if (!this.isMine(patch)) continue;
      const step = patchToChange(patch, length);
      if (!step) continue;
      changes = changes.compose(step);
      length = step.newLength;
    }
    if (!changes.empty) {
      // Not in CodeMirror's own history either: undoing there must not take back others' edits.
      this.view.dispatch({ changes, annotations: [remoteChange.of(true), Transaction.addToHistory.of(false)] });
    }
    this.replaceAllIfDiverged();
  }

  isMine(patch) {
    return patch.container === "text" && patch.path?.length === 1 && patch.path[0] === this.textName;
  }

  /**
   * The safety net: if the view and the text ever differ (a patch the binding could not map),
   * the text wins, as one replacement.
   */
  replaceAllIfDiverged() {
    const want = this.text.toString();
    const have = this.view.state.doc.toString();
    if (want === have) return;
    this.view.dispatch({
      changes: { from: 0, to: have.length, insert: want },
      annotations: [remoteChange.of(true), Transaction.addToHistory.of(false)],
    });
  }
}

/**
 * Undo and redo through the document's `UndoManager` (crdt-sync's), which takes back only this
 * peer's edits and leaves the others' in place: Mod-z, Mod-Shift-z and Mod-y (ahead of
 * CodeMirror's own history keys), the manager told the selection as it moves, and the step's
 * selection put back after an undo or redo. `text` is the bound text.
 */
export function crdtUndo(undo, text) {
  const run = (redo) => (view) => {
    const changed = redo ? undo.redo() : undo.undo();
    // The binding has already shown the step (it is a change of the document).
    const selection = changed ? undo.restoredSelection : null;
    if (selection) {
      const length = view.state.doc.length;
      const anchor = text.resolveCursor(selection.anchor);
      const head = text.resolveCursor(selection.head) ?? anchor;
      if (Number.isInteger(anchor)) view.dispatch({ selection: { anchor: Math.min(anchor, length), head: Math.min(head, length) } });
    }
    return true;
  };
  const note = (state) => {
    const { anchor, head } = state.selection.main;
    const [from, to] = anchor <= head ? [anchor, head] : [head, anchor];
    const start = text.getCursor(from, "after");
    const end = from === to ? start : text.getCursor(to, "before");
    undo.setSelection(anchor <= head ? { anchor: start, head: end } : { anchor: end, head: start });
  };
  return [
    // One handler reading the event itself: a synthetic Ctrl-Shift-z may carry key "z" (not
    // "Z"), which CodeMirror's key names would take for Ctrl-z.
    Prec.high(keymap.of([{
      any: (view, event) => {
        if (!(event.ctrlKey || event.metaKey) || event.altKey) return false;
        const key = event.key.toLowerCase();
        const redo = (key === "z" && event.shiftKey) || (key === "y" && !event.shiftKey);
        if (key !== "z" && !redo) return false;
        event.preventDefault();
        return run(redo)(view);
      },
    }])),
    // After the sync plugin: a commit is recorded before the selection that follows it.
    ViewPlugin.define((view) => {
      note(view.state);
      return { update: (update) => (update.selectionSet || update.docChanged) && note(update.state) };
    }),
  ];
}

/** One text patch as a CodeMirror change set over a document of `length`, or null. */
function patchToChange(patch, length) {
  const from = patch.indexUtf16;
  if (!Number.isInteger(from) || from < 0 || from > length) return null;
  if (patch.action === "textInsert") {
    return ChangeSet.of({ from, insert: patch.text }, length);
  }
  if (patch.action === "textDelete") {
    const to = Math.min(length, from + patch.lenUtf16);
    return ChangeSet.of({ from, to }, length);
  }
  return null;
}

/** Publishes this peer's selection and draws the others' carets and selections. */
class RemoteCursors {
  constructor(view, text, provider, user) {
    this.view = view;
    this.text = text;
    this.provider = provider;
    this.user = user;
    this.timer = null;
    this.decorations = this.build();
    this.destroyed = false;
    this.off = provider.on("presence", () => {
      // The listener may fire while the view is updating (a presence message handled inside
      // another dispatch); defer the redraw to keep CodeMirror's update order.
      queueMicrotask(() => {
        if (!this.destroyed) this.view.dispatch({ effects: presenceChanged.of(null) });
      });
    });
    this.publishSoon();
  }

  update(update) {
    const redraw = update.docChanged || update.transactions.some((tr) => tr.effects.some((e) => e.is(presenceChanged)));
    if (redraw) this.decorations = this.build();
    if (update.selectionSet || update.docChanged || update.focusChanged) this.publishSoon();
  }

  destroy() {
    this.destroyed = true;
    clearTimeout(this.timer);
    this.off?.();
  }

  /** Publishes the selection at most every PRESENCE_INTERVAL_MS (trailing: the last one wins). */
  publishSoon() {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.publish();
    }, PRESENCE_INTERVAL_MS);
  }

  publish() {
    const { anchor, head } = this.view.state.selection.main;
    this.provider.setPresence({
      name: this.user.name ?? "anonymous",
      color: this.user.color ?? "#888888",
      cursor: { anchor: this.text.getCursor(anchor), head: this.text.getCursor(head) },
    });
  }

  /** The decorations of every other peer's selection and caret, resolved in the local text. */
  build() {
    const length = this.view.state.doc.length;
    const marks = [];
    for (const [peer, state] of this.provider.presence) {
      const resolved = resolvePresence(this.text, state, length);
      if (!resolved) continue;
      const { anchor, head, name, color } = resolved;
      const [from, to] = anchor < head ? [anchor, head] : [head, anchor];
      if (from < to) {
        marks.push({
          from,
          to,
          deco: Decoration.mark({ class: "cm-crdt-selection", attributes: { style: `background-color: ${color}33` } }),
        });
      }
      marks.push({ from: head, to: head, deco: Decoration.widget({ widget: new CaretWidget(peer, name, color), side: 1 }) });
    }
    marks.sort((a, b) => a.from - b.from || a.deco.startSide - b.deco.startSide);
    const builder = new RangeSetBuilder();
    for (const m of marks) builder.add(m.from, m.to, m.deco);
    return builder.finish();
  }
}

/** A peer's presence as positions in this text, or null when it has no caret we can place. */
function resolvePresence(text, state, length) {
  const cursor = state?.cursor;
  if (!cursor?.head) return null;
  let head, anchor;
  try {
    head = text.resolveCursor(cursor.head);
    anchor = cursor.anchor ? text.resolveCursor(cursor.anchor) : head;
  } catch {
    return null; // not a cursor this document understands
  }
  if (!Number.isInteger(head)) return null; // points at text not received yet
  if (!Number.isInteger(anchor)) anchor = head;
  const clamp = (n) => Math.max(0, Math.min(length, n));
  return {
    head: clamp(head),
    anchor: clamp(anchor),
    name: String(state.name ?? "anonymous").slice(0, 40),
    color: HEX_COLOR.test(state.color) ? state.color : "#888888",
  };
}

/** A remote caret: a thin coloured bar with the peer's name above it. */
class CaretWidget extends WidgetType {
  constructor(peer, name, color) {
    super();
    this.peer = peer;
    this.name = name;
    this.color = color;
  }

  eq(other) {
    return other.peer === this.peer && other.name === this.name && other.color === this.color;
  }

  toDOM() {
    const caret = document.createElement("span");
    caret.className = "cm-crdt-caret";
    caret.dataset.peer = this.peer;
    caret.dataset.name = this.name;
    caret.style.borderColor = this.color;
    const label = document.createElement("span");
    label.className = "cm-crdt-caret-name";
    label.textContent = this.name;
    label.style.backgroundColor = this.color;
    caret.append(label);
    return caret;
  }

  ignoreEvent() {
    return true;
  }
}

const cursorTheme = EditorView.baseTheme({
  ".cm-crdt-caret": {
    position: "relative",
    borderLeft: "2px solid",
    marginLeft: "-1px",
    marginRight: "-1px",
    pointerEvents: "none",
  },
  ".cm-crdt-caret-name": {
    position: "absolute",
    top: "-1.3em",
    left: "-2px",
    fontSize: "0.7em",
    lineHeight: "1.2",
    padding: "0 3px",
    color: "white",
    whiteSpace: "nowrap",
    borderRadius: "2px",
    userSelect: "none",
  },
});
