// The collaborative editor: ProseMirror over the document's "body" text, bound both ways by the
// package's ProseMirror binding (pkg/prosemirror.js):
// - the note is rich text: bold, italic, links, headings, bullet and numbered lists. In the text
//   each block is a line whose newline carries the block's kind, so the terminal peer (the CLI)
//   and any plain view read the same note as lines;
// - local edits become one committed change per editor transaction (a keystroke); other peers'
//   edits, a restore and an undo arrive as changes the binding shows, with the caret kept on its
//   character;
// - presence is { name, color, replica, cursor: { anchor, head } } with stable cursors; the
//   binding draws each peer's caret, name and selection;
// - undo/redo take back this page's own edits only (undo.js); the history panel shows and
//   restores earlier versions (history.js); `?p2p` syncs directly with other browsers (p2p.js).
import {
  DOMSerializer,
  EditorState,
  EditorView,
  Selection,
  baseKeymap,
  keymap,
  liftListItem,
  setBlockType,
  splitListItem,
  toggleMark,
  wrapInList,
} from "../vendor/prosemirror.js";
import { crdtCursors, crdtSync, deltaToDoc, schema, selectionAt, selectionOffsets } from "../pkg/prosemirror.js";
import { openDoc, identity, nameField, param, showStatus, badge } from "../shared.js";
import { p2pOption, showLinks, webRtcProvider } from "./p2p.js";
import { editorUndo } from "./undo.js";
import { historyPanel } from "./history.js";

const docId = param("doc", "notes");
document.getElementById("doc").textContent = docId;
document.getElementById("cli-doc").textContent = docId;

const maxDirectPeers = p2pOption();
const { doc, provider } = await openDoc(docId, maxDirectPeers === null ? undefined : webRtcProvider(maxDirectPeers));
if (maxDirectPeers !== null) showLinks(provider, document.querySelector("header"));
const text = doc.getText("body");
const me = identity();
showStatus(provider, document.getElementById("status"));

/** What presence shares besides the caret: read at each publish, so a rename shows. */
const user = {
  get name() {
    return me.name;
  },
  get color() {
    return me.color;
  },
  get replica() {
    return doc.replicaId; // names this peer's changes in the history panel
  },
};

const { nodes, marks } = schema;
const undo = editorUndo(doc, text);
const formatting = {
  bold: toggleMark(marks.bold),
  italic: toggleMark(marks.italic),
  paragraph: setBlockType(nodes.paragraph),
  h1: setBlockType(nodes.heading, { level: 1 }),
  h2: setBlockType(nodes.heading, { level: 2 }),
  bullet: toggleList(nodes.bullet_list),
  ordered: toggleList(nodes.ordered_list),
  link: toggleLink,
};

const view = new EditorView(document.getElementById("editor"), {
  state: EditorState.create({
    schema,
    plugins: [
      crdtSync(doc, "body", { commitOptions: () => ({ time: Date.now() }) }), // the time shows in the history
      crdtCursors(doc, "body", provider, user),
      undo.plugin,
      keymap({
        "Mod-z": undo.command(false),
        "Mod-Shift-z": undo.command(true),
        "Mod-y": undo.command(true),
        "Mod-b": formatting.bold,
        "Mod-i": formatting.italic,
        Enter: splitListItem(nodes.list_item),
      }),
      keymap(baseKeymap),
    ],
  }),
  dispatchTransaction(tr) {
    view.updateState(view.state.apply(tr));
    drawToolbar();
  },
});

/** Lists toggle: in a list of this kind, lift the item out; else wrap (or re-kind) into one. */
function toggleList(type) {
  return (state, dispatch) => {
    const { $from } = state.selection;
    const list = $from.depth >= 2 ? $from.node($from.depth - 2) : null;
    if (list?.type === type) return liftListItem(nodes.list_item)(state, dispatch);
    if (list) {
      if (dispatch) dispatch(state.tr.setNodeMarkup($from.before($from.depth - 2), type));
      return true;
    }
    return wrapInList(type)(state, dispatch);
  };
}

/** Links: removes the link under the selection, or asks for an address and links the selection. */
function toggleLink(state, dispatch) {
  const { from, to, empty } = state.selection;
  if (state.doc.rangeHasMark(from, to, marks.link)) {
    if (dispatch) dispatch(state.tr.removeMark(from, to, marks.link));
    return true;
  }
  if (empty) return false;
  const href = globalThis.prompt?.("Link to", "https://");
  if (!href) return false;
  return toggleMark(marks.link, { href })(state, dispatch);
}

/** The toolbar: each button runs its command; bold/italic show whether they are on. */
const buttons = Object.fromEntries(Object.keys(formatting).map((id) => [id, document.getElementById(id)]));
for (const [id, button] of Object.entries(buttons)) {
  button.addEventListener("mousedown", (event) => event.preventDefault()); // keep the editor's selection
  button.addEventListener("click", () => {
    formatting[id](view.state, view.dispatch, view);
    view.focus();
  });
}
function drawToolbar() {
  const { state } = view;
  const active = (type) => {
    const { from, $from, to, empty } = state.selection;
    return empty ? Boolean(type.isInSet(state.storedMarks || $from.marks())) : state.doc.rangeHasMark(from, to, type);
  };
  buttons.bold.setAttribute("aria-pressed", String(active(marks.bold)));
  buttons.italic.setAttribute("aria-pressed", String(active(marks.italic)));
}
undo.wire(view, document.getElementById("undo"), document.getElementById("redo"));

/** The note as the editor shows it, as plain lines (blocks joined by "\n"). */
function shown() {
  return view.state.doc.textBetween(0, view.state.doc.content.size, "\n");
}

/** The other peers' carets and selection anchors, as text offsets. */
function remoteCursors() {
  const out = [];
  for (const [peer, state] of provider.presence) {
    let head;
    try {
      head = state?.cursor?.head ? text.resolveCursor(state.cursor.head) : undefined;
    } catch {
      head = undefined; // not a cursor this document understands
    }
    if (!Number.isInteger(head)) continue;
    let anchor;
    try {
      anchor = state.cursor.anchor ? text.resolveCursor(state.cursor.anchor) : head;
    } catch {
      anchor = head;
    }
    out.push({ peer, name: String(state.name ?? "anonymous"), head, anchor: Number.isInteger(anchor) ? anchor : head });
  }
  return out;
}

/** The header's list of peers, each with the line and column of their caret. */
function drawPeers() {
  const at = new Map(remoteCursors().map((c) => [c.peer, c.head]));
  const note = text.toString();
  const where = (offset) => {
    const before = note.slice(0, offset);
    return ` @${before.split("\n").length}:${offset - before.lastIndexOf("\n")}`;
  };
  const badges = [...provider.presence].map(([peer, state]) => {
    const b = badge(state ?? {}, at.has(peer) ? where(at.get(peer)) : "");
    b.dataset.peer = peer;
    return b;
  });
  if (badges.length === 0) {
    const alone = document.createElement("span");
    alone.className = "hint";
    alone.textContent = provider.status === "synced" ? "no one else here" : "";
    badges.push(alone);
  }
  document.getElementById("peers").replaceChildren(...badges);
}
provider.on("presence", drawPeers);
provider.on("status", drawPeers);
nameField(me, document.getElementById("name"), () => view.dispatch(view.state.tr.setMeta("rename", true)));
drawPeers();
drawToolbar();

const serializer = DOMSerializer.fromSchema(schema);
const history = historyPanel({
  doc,
  textName: "body",
  names: () => new Map([...provider.presence.values()].map((s) => [s?.replica, String(s?.name)])),
  preview: (element, past) => element.replaceChildren(serializer.serializeFragment(deltaToDoc(past.getText("body").toDelta()).content)),
});

// For tests and the curious.
window.app = {
  doc,
  text,
  provider,
  view,
  undo: undo.undo,
  history,
  shown,
  caret: () => selectionOffsets(view.state).head,
  /** Puts the caret at the start or the end of the note, as Ctrl-Home / Ctrl-End would. */
  moveTo: (where) => {
    view.focus();
    const { doc: pm } = view.state;
    view.dispatch(view.state.tr.setSelection(where === "start" ? Selection.atStart(pm) : Selection.atEnd(pm)));
  },
  /** Selects text offsets `anchor..head`, as a user would. */
  select: (anchor, head = anchor) => {
    view.focus();
    view.dispatch(view.state.tr.setSelection(selectionAt(view.state, anchor, head)));
  },
  remoteCursors,
  flushed: () => provider.flushed(),
};
document.documentElement.dataset.ready = "true";
