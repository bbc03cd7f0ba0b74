// Undo and redo for the editor: the Undo/Redo buttons, Ctrl-Z / Ctrl-Shift-Z (and Ctrl-Y, and
// Cmd on macOS), and the browser's own undo (the Edit menu: `beforeinput` "historyUndo") all go
// to one UndoManager of the document's "body" text. ProseMirror's own history plugin is not
// used: it knows nothing of the other peers' edits and would undo theirs too.
//
// Only this page's own edits are undone; the other peers' text stays. The manager is told the
// selection as stable cursors whenever it moves (the start sticks to the character after it,
// the end to the one before, so text a peer types at either edge stays outside); an undo gives
// back the selection from before the undone step, a redo the one from after it, and the caret
// goes there. The undo itself is a change of the document: the binding shows it like any other.
import { Plugin } from "prosemirror-state";
import { UndoManager } from "../pkg/crdt_wasm.js";
import { selectionAt, selectionOffsets } from "../pkg/prosemirror.js";

/**
 * The page's undo: `{ undo, plugin, command(redo) }`. Add `plugin` to the editor's plugins
 * (it tells the manager where the selection is), then call `wire(view, buttons)`.
 */
export function editorUndo(doc, text) {
  const undo = new UndoManager(doc, { scope: ["body"] });

  function noteSelection(state) {
    const { anchor, head } = selectionOffsets(state);
    const [start, end] = anchor <= head ? [anchor, head] : [head, anchor];
    const length = text.length;
    const startCursor = text.getCursor(Math.min(start, length), "after");
    const endCursor = start === end ? startCursor : text.getCursor(Math.min(end, length), "before");
    undo.setSelection(anchor <= head ? { anchor: startCursor, head: endCursor } : { anchor: endCursor, head: startCursor });
  }

  // After the sync plugin in the plugin list, so a commit is recorded before the selection
  // that follows it (a redo gives back the selection from right after its step).
  const plugin = new Plugin({
    view: (view) => {
      noteSelection(view.state);
      return { update: (v) => noteSelection(v.state) };
    },
    props: {
      handleDOMEvents: {
        beforeinput: (view, event) => {
          if (event.inputType !== "historyUndo" && event.inputType !== "historyRedo") return false;
          event.preventDefault();
          run(view, event.inputType === "historyRedo");
          return true;
        },
      },
    },
  });

  /** Undoes (or redoes) one step and puts the step's selection back. */
  function run(view, redo) {
    const changed = redo ? undo.redo() : undo.undo();
    const selection = changed ? undo.restoredSelection : null;
    if (selection) {
      const anchor = text.resolveCursor(selection.anchor);
      const head = text.resolveCursor(selection.head) ?? anchor;
      if (Number.isInteger(anchor)) view.dispatch(view.state.tr.setSelection(selectionAt(view.state, anchor, head)));
    }
    view.focus();
    return changed;
  }

  /** A ProseMirror command that undoes (or redoes). */
  const command = (redo) => (_state, _dispatch, view) => {
    if (view) run(view, redo);
    return true;
  };

  /** The buttons follow the stacks. */
  function wire(view, undoButton, redoButton) {
    const show = () => {
      undoButton.disabled = !undo.canUndo();
      redoButton.disabled = !undo.canRedo();
    };
    undo.subscribe(show);
    show();
    undoButton.addEventListener("click", () => run(view, false));
    redoButton.addEventListener("click", () => run(view, true));
  }

  return { undo, plugin, command, wire };
}
