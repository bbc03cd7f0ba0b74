// Types of idb.js: the IndexedDB store of one document.
import type { Doc } from "./crdt_wasm.js";

/** Records after which the store compacts itself into one. */
export const COMPACT_AFTER: number;
/** Options of every write transaction: strict durability (complete only once on disk). */
export const STRICT: Readonly<{ durability: "strict" }>;
/** The database name of document `docId`. */
export function databaseName(docId: string): string;

export class IndexedDBStore {
  /** Opens the store of `docId` and starts loading it into `doc`. */
  constructor(docId: string, doc: Doc, indexedDB?: IDBFactory);
  readonly docId: string;
  readonly doc: Doc;
  /** Records currently stored. */
  readonly records: number;
  /** Resolves when the stored changes are in the document. */
  whenLoaded(): Promise<void>;
  /** Writes the changes not yet stored; resolves when durable. */
  persist(): Promise<void>;
  close(): Promise<void>;
  /** Deletes the stored document `docId`. */
  static clear(docId: string, indexedDB?: IDBFactory): Promise<void>;
}
