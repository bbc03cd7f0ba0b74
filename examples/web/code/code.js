// The code editor: CodeMirror 6 over the document's "code" text, bound both ways by the
// package's CodeMirror binding (pkg/codemirror.js), which also publishes this peer's selection
// and draws the others' from presence, and undoes this page's own edits (crdtUndo). Everything else (loading, IndexedDB, the relay) is the
// same as the other pages (../shared.js).
import { EditorView, basicSetup, javascript } from "../vendor/codemirror.js";
import { UndoManager } from "../pkg/crdt_wasm.js";
import { crdtCollab, crdtUndo } from "../pkg/codemirror.js";
import { openDoc, identity, nameField, param, showStatus, badge } from "../shared.js";

const docId = param("doc", "code");
document.getElementById("doc").textContent = docId;

const { doc, provider } = await openDoc(docId);
const text = doc.getText("code");
const me = identity();
showStatus(provider, document.getElementById("status"));

// Undo takes back this page's own edits only (CodeMirror's own history would undo the others').
const undo = new UndoManager(doc, { scope: ["code"] });
const view = new EditorView({
  doc: text.toString(),
  extensions: [basicSetup, javascript(), EditorView.lineWrapping,
    crdtCollab(doc, "code", { provider, user: me, commitOptions: () => ({ time: Date.now() }) }),
    crdtUndo(undo, text),
  ],
  parent: document.getElementById("editor"),
});

const peersEl = document.getElementById("peers");
function drawPeers() {
  const badges = [...provider.presence].map(([peer, state]) => {
    const b = badge(state ?? {}, "");
    b.dataset.peer = peer;
    return b;
  });
  peersEl.replaceChildren(...badges);
}
provider.on("presence", drawPeers);
// The binding publishes { name, color, cursor } from `me`; a new name shows at the next move.
nameField(me, document.getElementById("name"), () => view.dispatch({ selection: view.state.selection }));
drawPeers();

// For tests and the curious.
window.app = { doc, text, provider, view, undo, flushed: () => provider.flushed() };
document.documentElement.dataset.ready = "true";
