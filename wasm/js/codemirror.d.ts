// Types of codemirror.js: the CodeMirror 6 binding (`crdt-sync/codemirror`).
import type { AnnotationType, Extension } from "@codemirror/state";
import type { Doc, Text, UndoManager } from "./crdt_wasm.js";
import type { Json } from "./provider.js";

/** What the binding needs of a provider to publish and show carets (a WebSocketProvider fits). */
export interface PresenceSource {
  /** Other peers' presence by peer id, as the provider last received it. */
  readonly presence: Map<string, Json>;
  /** Replaces this peer's presence. */
  setPresence(state: Json): void;
  /** Calls `handler` when other peers' presence changes; returns a function that stops it. */
  on(event: "presence", handler: (peers: Map<string, Json>) => void): () => void;
}

export interface CrdtCollabOptions {
  /** Publishes this peer's selection and shows the others' carets and selections. */
  provider?: PresenceSource;
  /** This peer's name and colour (a hex colour such as "#4363d8") in presence. */
  user?: { name?: string; color?: string };
  /** Each commit's options (e.g. `{ time: Date.now() }`, shown by the history). */
  commitOptions?: () => { message?: string; time?: number };
}

/** Tags the transactions the binding makes from the document's patches. */
export const remoteChange: AnnotationType<boolean>;

/**
 * Keeps an EditorView and the root text `textName` of `doc` in step both ways: one committed
 * change per local transaction; remote patches applied as changes the selection maps through.
 */
export function crdtCollab(doc: Doc, textName: string, options?: CrdtCollabOptions): Extension;

/**
 * Undo/redo through the document's UndoManager (only this peer's edits): Mod-z, Mod-Shift-z and
 * Mod-y, the selection noted as it moves and put back after each step. `text` is the bound text.
 */
export function crdtUndo(undo: UndoManager, text: Text): Extension;
