// Undo and redo for the editor: the Undo/Redo buttons, Ctrl-Z / Ctrl-Shift-Z (and Ctrl-Y, and
// Cmd on macOS), and the browser's own undo (the Edit menu: `beforeinput` "historyUndo") all go
// to one UndoManager of the document's "body" text, never to the textarea's native undo stack
// (which knows nothing of the other peers' edits and would undo theirs too).
//
// Only this page's own edits are undone; the other peers' text stays. The manager is told the
// selection as stable cursors whenever it moves (the start sticks to the character after it,
// the end to the one before, so text a peer types at either edge stays outside); an undo gives
// back the selection from before the undone step, a redo the one from after it, and the caret
// goes there.
import { UndoManager } from "../pkg/crdt_wasm.js";

/**
 * Wires undo/redo into the editor page.
 * @param {object} page
 * @param {Doc} page.doc the document
 * @param {Text} page.text its "body" text
 * @param {HTMLTextAreaElement} page.editor the textarea showing it
 * @param {HTMLButtonElement} page.undoButton
 * @param {HTMLButtonElement} page.redoButton
 * @param {() => void} page.render shows the document's text in the textarea
 * @param {() => void} page.selectionChanged tells the page the caret moved (presence, cursors)
 */
export function installUndo({ doc, text, editor, undoButton, redoButton, render, selectionChanged }) {
  const undo = new UndoManager(doc, { scope: ["body"] });

  function showStacks() {
    undoButton.disabled = !undo.canUndo();
    redoButton.disabled = !undo.canRedo();
  }
  undo.subscribe(showStacks);
  showStacks();

  /** Tells the manager where the selection is now (call whenever it moves). */
  function noteSelection() {
    const start = editor.selectionStart;
    const end = editor.selectionEnd;
    const startCursor = text.getCursor(start, "after");
    const endCursor = start === end ? startCursor : text.getCursor(end, "before");
    const backward = editor.selectionDirection === "backward";
    undo.setSelection({
      anchor: backward ? endCursor : startCursor,
      head: backward ? startCursor : endCursor,
    });
  }

  /** Shows the text after an undo or redo, with the step's selection. */
  function showStep() {
    render();
    const selection = undo.restoredSelection;
    if (selection) {
      const anchor = text.resolveCursor(selection.anchor);
      const head = text.resolveCursor(selection.head) ?? anchor;
      if (anchor !== undefined) {
        const direction = head < anchor ? "backward" : "forward";
        editor.setSelectionRange(Math.min(anchor, head), Math.max(anchor, head), direction);
      }
    }
    selectionChanged();
    noteSelection();
  }

  function run(redo) {
    const changed = redo ? undo.redo() : undo.undo();
    if (changed) showStep();
    editor.focus();
  }

  undoButton.addEventListener("click", () => run(false));
  redoButton.addEventListener("click", () => run(true));
  editor.addEventListener("keydown", (event) => {
    if (!(event.ctrlKey || event.metaKey) || event.altKey) return;
    const key = event.key.toLowerCase();
    const redo = (key === "z" && event.shiftKey) || (key === "y" && !event.shiftKey);
    if (key !== "z" && !redo) return;
    event.preventDefault();
    run(redo);
  });
  editor.addEventListener("beforeinput", (event) => {
    if (event.inputType !== "historyUndo" && event.inputType !== "historyRedo") return;
    event.preventDefault();
    run(event.inputType === "historyRedo");
  });

  return { undo, noteSelection };
}
