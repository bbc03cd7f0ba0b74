// Types of prosemirror.js: the ProseMirror binding (`crdt-sync/prosemirror`).
import type { Node as PMNode, Schema } from "prosemirror-model";
import type { EditorState, Plugin, PluginKey } from "prosemirror-state";
import type { Doc } from "./crdt_wasm.js";
import type { Json } from "./provider.js";

/** One run of a rich text: characters and their attributes (the Quill delta shape). */
export interface DeltaInsert {
  insert: string;
  attributes?: Record<string, Json>;
}

/** The node and mark types a schema maps (ProseMirror's or TipTap's names). */
export interface SchemaNames {
  schema: Schema;
  paragraph: import("prosemirror-model").NodeType | null;
  heading: import("prosemirror-model").NodeType | null;
  bulletList: import("prosemirror-model").NodeType | null;
  orderedList: import("prosemirror-model").NodeType | null;
  listItem: import("prosemirror-model").NodeType | null;
  bold: import("prosemirror-model").MarkType | null;
  italic: import("prosemirror-model").MarkType | null;
}

/** The default schema: paragraph, heading (level 1-6), bullet_list, ordered_list, list_item; bold, italic, link. */
export const schema: Schema;
/** The types of `schema` the binding maps. */
export function schemaNames(schema: Schema): SchemaNames;
/** A document of the schema from a delta (block attributes on each "\n"); always valid. */
export function deltaToDoc(delta: DeltaInsert[], names?: SchemaNames): PMNode;
/** The delta of a document: its text with marks, each block ended by "\n" with the block's attributes. */
export function docToDelta(doc: PMNode, names?: SchemaNames): DeltaInsert[];
/** The text offsets of a state's selection. */
export function selectionOffsets(state: EditorState): { anchor: number; head: number };

/** A text selection of `state` from text offsets (an undo's selection, a remote caret). */
export function selectionAt(state: EditorState, anchor: number, head?: number): import("prosemirror-state").TextSelection;

/** The sync plugin's key; the transactions it dispatches carry the meta "remote". */
export const crdtSyncKey: PluginKey;
/** The cursors plugin's key. */
export const crdtCursorsKey: PluginKey;

/**
 * Keeps the editor and the root text `textName` of `doc` in step, both ways: one committed change
 * per editor transaction, with the options `commitOptions()` gives (e.g. `{ time: Date.now() }`).
 */
export function crdtSync(doc: Doc, textName: string, options?: { commitOptions?: () => { message?: string; time?: number } }): Plugin;

/** What the cursors plugin needs of a provider (a WebSocketProvider fits). */
export interface PresenceSource {
  readonly presence: Map<string, Json>;
  setPresence(state: Json): void;
  on(event: "presence", handler: (peers: Map<string, Json>) => void): () => void;
}

/**
 * Publishes this peer's selection through `provider` as `{ ...user, name, color, cursor }` and
 * draws the other peers' carets and selections.
 */
export function crdtCursors(doc: Doc, textName: string, provider: PresenceSource, user?: { name?: string; color?: string; [key: string]: Json | undefined }): Plugin;
