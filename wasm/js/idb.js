// IndexedDBStore: keeps a crdt-wasm Doc in the browser's IndexedDB, so that a page opens its
// documents offline, and so that no committed change is lost before the relay has it (the
// provider persists every local change before sending it).
//
// Layout, as y-indexeddb's: one database per document, named `crdt-wasm:<docId>`, with one
// object store "changes" of records { bytes } (doc.exportSince output) under increasing keys.
// Loading imports them in order (imports are idempotent and order-free). When more than
// COMPACT_AFTER records pile up, they are replaced in one transaction by a single record holding
// the whole history (doc.exportSince()). Every write transaction asks for strict durability
// (STRICT below): a change counts as stored once it is on disk, not in the browser's cache.

/** Records after which the store compacts itself into one. */
export const COMPACT_AFTER = 200;

const STORE = "changes";

/**
 * Options of every write transaction: "strict" durability makes `complete` fire only once the
 * data is flushed to disk. Chromium's default ("relaxed" since Chrome 121) reports completion
 * before the flush, and a crash or power loss then loses a change the provider already sent as
 * stored; a local change must be on disk before it leaves. Browsers without the option ignore it.
 */
export const STRICT = Object.freeze({ durability: "strict" });

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
  });
}

function sameVersion(a, b) {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** The IndexedDB database name of document `docId`. */
export function databaseName(docId) {
  return `crdt-wasm:${docId}`;
}

export class IndexedDBStore {
  /**
   * Opens the store of `docId` and loads it into `doc` (call before any network; the provider
   * waits for `whenLoaded()` before its first Hello). `indexedDB` defaults to the global one.
   */
  constructor(docId, doc, indexedDBImpl = globalThis.indexedDB) {
    if (!indexedDBImpl) throw new Error("IndexedDB is not available");
    this.docId = docId;
    this.doc = doc;
    this.indexedDB = indexedDBImpl;
    this.stored = {};
    this.records = 0;
    this.db = null;
    this._queue = Promise.resolve();
    this._loaded = this._load();
  }

  /** Resolves when the stored changes are in the document. */
  whenLoaded() {
    return this._loaded;
  }

  async _load() {
    const open = this.indexedDB.open(databaseName(this.docId), 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE, { autoIncrement: true });
    this.db = await request(open);
    const tx = this.db.transaction(STORE, "readonly");
    const records = await request(tx.objectStore(STORE).getAll());
    await done(tx);
    this.records = records.length;
    const emptyBefore = Object.keys(this.doc.version()).length === 0;
    for (const record of records) {
      try {
        this.doc.import(record.bytes);
      } catch (e) {
        // A damaged record: the rest still loads, and the next compaction drops it.
        console.warn(`crdt-wasm IndexedDBStore(${this.docId}): skipped a record:`, e);
      }
    }
    // What the store holds: everything, when the document was empty before loading; otherwise
    // (edits made while the store opened) start from nothing, so the next persist writes the
    // whole document once rather than miss those edits.
    this.stored = emptyBefore ? this.doc.version() : {};
    if (this.records > COMPACT_AFTER) await this._compact();
  }

  /** Writes every change of the document not yet stored; resolves when it is durable. */
  persist() {
    this._queue = this._queue.then(() => this._persist());
    return this._queue;
  }

  async _persist() {
    await this._loaded;
    const version = this.doc.version();
    if (sameVersion(version, this.stored)) return;
    const bytes = this.doc.exportSince(this.stored);
    const tx = this.db.transaction(STORE, "readwrite", STRICT);
    tx.objectStore(STORE).add({ bytes });
    await done(tx);
    this.stored = version;
    this.records++;
    if (this.records > COMPACT_AFTER) await this._compact();
  }

  async _compact() {
    const version = this.doc.version();
    const bytes = this.doc.exportSince();
    const tx = this.db.transaction(STORE, "readwrite", STRICT);
    const store = tx.objectStore(STORE);
    store.clear();
    store.add({ bytes });
    await done(tx);
    this.stored = version;
    this.records = 1;
  }

  /** Closes the database. */
  async close() {
    await this._queue.catch(() => {});
    this.db?.close();
  }

  /** Deletes the stored document `docId`. */
  static async clear(docId, indexedDBImpl = globalThis.indexedDB) {
    await request(indexedDBImpl.deleteDatabase(databaseName(docId)));
  }
}
