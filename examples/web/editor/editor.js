// The collaborative editor. The textarea is a view of the document's "body" text:
// - a local edit (the textarea's `input` event) becomes one delete and one insert at UTF-16
//   offsets (the common prefix and suffix of the old and new value are kept; the caret tells
//   where a typed run ended, and a surrogate pair is never split), committed as one change;
// - a remote change replaces the textarea's value and puts the caret and selection back where
//   they were in the text, through stable cursors (getCursor/resolveCursor) taken whenever the
//   selection moves, so a peer typing before your caret does not move it off your word;
// - presence is { name, color, cursor: { anchor, head } } with stable cursors; the overlay
//   resolves each peer's cursors in the local text and draws a caret, a name and the selection;
// - undo/redo (buttons, Ctrl-Z / Ctrl-Shift-Z) take back this page's own edits only (undo.js).
import { openDoc, identity, nameField, param, showStatus, badge, throttle } from "../shared.js";
import { diff } from "./diff.js";
import { p2pOption, showLinks, webRtcProvider } from "./p2p.js";
import { installUndo } from "./undo.js";
import { historyPanel } from "./history.js";

const docId = param("doc", "notes");
document.getElementById("doc").textContent = docId;
document.getElementById("cli-doc").textContent = docId;

const maxDirectPeers = p2pOption();
const { doc, provider } = await openDoc(docId, maxDirectPeers === null ? undefined : webRtcProvider(maxDirectPeers));
if (maxDirectPeers !== null) showLinks(provider, document.querySelector("header"));
const text = doc.getText("body");
const editor = document.getElementById("editor");
const overlay = document.getElementById("overlay");
const peersEl = document.getElementById("peers");
const me = identity();
showStatus(provider, document.getElementById("status"));

/** The value the textarea showed after the last sync between it and the document. */
let shown = text.toString();
editor.value = shown;
editor.disabled = false;

/** The local selection as stable cursors (start, end, direction), refreshed as it moves. */
let selection = null;

function captureSelection() {
  selection = {
    start: text.getCursor(editor.selectionStart),
    end: text.getCursor(editor.selectionEnd),
    direction: editor.selectionDirection,
  };
  undo.noteSelection();
}

const publishPresence = throttle(() => {
  const anchorAt = selection?.direction === "backward" ? selection.end : selection?.start;
  const headAt = selection?.direction === "backward" ? selection.start : selection?.end;
  provider.setPresence({
    name: me.name,
    color: me.color,
    replica: doc.replicaId, // names this peer's changes in the history panel
    // Kept after the textarea loses focus: the others see where this peer was last.
    cursor: selection ? { anchor: anchorAt, head: headAt } : null,
  });
}, 40);

function selectionMoved() {
  if (editor.value !== shown) return; // an input event follows and handles it
  captureSelection();
  publishPresence();
}

const undo = installUndo({
  doc,
  text,
  editor,
  undoButton: document.getElementById("undo"),
  redoButton: document.getElementById("redo"),
  render,
  selectionChanged: () => {
    captureSelection();
    publishPresence();
  },
});

editor.addEventListener("input", () => {
  const next = editor.value;
  const edit = diff(shown, next, editor.selectionEnd);
  if (edit.remove > 0) text.delete(edit.index, edit.remove);
  if (edit.insert.length > 0) text.insert(edit.index, edit.insert);
  shown = next;
  doc.commit({ time: Date.now() }); // the time shows in the history panel
  captureSelection();
  publishPresence();
  drawOverlay();
});
for (const event of ["keyup", "mouseup", "select", "focus"]) editor.addEventListener(event, selectionMoved);
document.addEventListener("selectionchange", selectionMoved);
editor.addEventListener("scroll", () => {
  overlay.scrollTop = editor.scrollTop;
});
new ResizeObserver(() => {
  overlay.style.width = `${editor.offsetWidth}px`;
  overlay.style.height = `${editor.offsetHeight}px`;
  overlay.style.paddingRight = `calc(.75rem + ${editor.offsetWidth - editor.clientWidth - 2}px)`;
  drawOverlay();
}).observe(editor);

/** Shows a remote change: the new value, with the local caret and selection kept in place. */
function render() {
  const next = text.toString();
  if (next !== shown) {
    const focused = document.activeElement === editor;
    const scroll = editor.scrollTop;
    editor.value = next;
    shown = next;
    if (selection) {
      const start = text.resolveCursor(selection.start) ?? 0;
      const end = text.resolveCursor(selection.end) ?? start;
      editor.setSelectionRange(Math.min(start, end), Math.max(start, end), selection.direction);
    }
    editor.scrollTop = scroll;
    if (!focused && document.activeElement === editor) editor.blur();
  }
  drawOverlay();
}

doc.subscribe((event) => {
  if (event.origin === "remote") render();
});

/** The other peers' carets and selections, resolved in the local text. */
function remoteCursors() {
  const out = [];
  for (const [peer, state] of provider.presence) {
    const cursor = state?.cursor;
    if (!cursor?.head) continue;
    let head, anchor;
    try {
      head = text.resolveCursor(cursor.head);
      anchor = cursor.anchor ? text.resolveCursor(cursor.anchor) : head;
    } catch {
      continue; // not a cursor this document understands
    }
    if (head === undefined) continue; // points at text not received yet
    anchor ??= head;
    out.push({ peer, name: String(state.name ?? "anonymous"), color: String(state.color ?? "#888"), head, anchor });
  }
  return out;
}

/** Redraws the overlay: the text (invisible) with selection spans and caret markers. */
function drawOverlay() {
  const value = shown;
  const cursors = remoteCursors();
  const points = new Set([0, value.length]);
  for (const c of cursors) {
    points.add(c.head);
    points.add(c.anchor);
  }
  const cuts = [...points].sort((a, b) => a - b);
  const fragment = document.createDocumentFragment();
  for (let i = 0; i < cuts.length; i++) {
    const at = cuts[i];
    for (const c of cursors) {
      if (c.head !== at) continue;
      const caret = document.createElement("span");
      caret.className = "caret";
      caret.dataset.name = c.name;
      caret.dataset.peer = c.peer;
      caret.style.setProperty("--color", c.color);
      fragment.append(caret);
    }
    if (i + 1 === cuts.length) break;
    const piece = value.slice(at, cuts[i + 1]);
    const owner = cursors.find((c) => Math.min(c.head, c.anchor) <= at && at < Math.max(c.head, c.anchor));
    if (owner) {
      const span = document.createElement("span");
      span.className = "sel";
      span.style.setProperty("--color", owner.color);
      span.textContent = piece;
      fragment.append(span);
    } else {
      fragment.append(piece);
    }
  }
  fragment.append("\u200b"); // so that a final empty line takes its height, as in the textarea
  overlay.replaceChildren(fragment);
  overlay.scrollTop = editor.scrollTop;
  drawPeers(cursors);
}

function lineAndColumn(offset) {
  const before = shown.slice(0, offset);
  const line = before.split("\n").length;
  return `${line}:${offset - before.lastIndexOf("\n")}`;
}

function drawPeers(cursors) {
  const at = new Map(cursors.map((c) => [c.peer, c.head]));
  const badges = [];
  for (const [peer, state] of provider.presence) {
    const where = at.has(peer) ? ` @${lineAndColumn(at.get(peer))}` : "";
    const b = badge(state ?? {}, where);
    b.dataset.peer = peer;
    badges.push(b);
  }
  if (badges.length === 0) {
    const alone = document.createElement("span");
    alone.className = "hint";
    alone.textContent = provider.status === "synced" ? "no one else here" : "";
    badges.push(alone);
  }
  peersEl.replaceChildren(...badges);
}

provider.on("presence", drawOverlay);
provider.on("status", drawOverlay);
nameField(me, document.getElementById("name"), publishPresence);
captureSelection();
publishPresence();
drawOverlay();

const history = historyPanel({
  doc,
  textName: "body",
  names: () => new Map([...provider.presence.values()].map((s) => [s?.replica, String(s?.name)])),
  onRestore: render,
});

// For tests and the curious: the document and the provider.
window.app = { doc, text, provider, editor, undo: undo.undo, history, flushed: () => provider.flushed(), remoteCursors };
document.documentElement.dataset.ready = "true";
