//! [`SqliteStore`]: the default [`Store`], one SQLite database file in WAL mode.
//!
//! Tables: `batches(seq INTEGER PRIMARY KEY AUTOINCREMENT, doc TEXT, bytes BLOB)` with an index
//! on `(doc, seq)`, and `snapshots(doc TEXT PRIMARY KEY, upto INTEGER, bytes BLOB)`.
//!
//! Invariant: every [`Store`] call is one SQLite transaction, so it is atomic, and with
//! `synchronous=FULL` (the default) durable against power loss when it returns; with `NORMAL` it
//! is durable against a crash of the process. WAL lets loads read while the writer appends.
//! Sequence numbers come from `AUTOINCREMENT`, so they never go back, even after compaction
//! deletes the newest rows. This is the write-ahead-log-plus-checkpoint design SQLite documents
//! for concurrent readers and one writer.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use crdt_core::sync::DocId;
use rusqlite::{params, Connection, OptionalExtension};

use super::{Store, StoreError, StoredDoc};
use crate::config::Synchronous;

/// A [`Store`] in an SQLite database file.
///
/// ```
/// use sync_server::storage::{SqliteStore, Store};
/// use sync_server::config::Synchronous;
/// use crdt_core::sync::DocId;
/// let store = SqliteStore::open_in_memory().unwrap();
/// let doc = DocId::new("d").unwrap();
/// store.append(&[(doc.clone(), vec![7])]).unwrap();
/// store.compact(&doc, b"snapshot", 1).unwrap();
/// let loaded = store.load(&doc).unwrap();
/// assert_eq!(loaded.snapshot.as_deref(), Some(&b"snapshot"[..]));
/// assert!(loaded.batches.is_empty());
/// ```
#[derive(Debug)]
pub struct SqliteStore {
    /// Writes and reads share one connection: SQLite serialises writers anyway, and the relay's
    /// reads (loading a room) are rare next to its group-committed appends.
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS batches (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        doc TEXT NOT NULL,
        bytes BLOB NOT NULL
    );
    CREATE INDEX IF NOT EXISTS batches_by_doc ON batches (doc, seq);
    CREATE TABLE IF NOT EXISTS snapshots (
        doc TEXT PRIMARY KEY,
        upto INTEGER NOT NULL,
        bytes BLOB NOT NULL
    );
";

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, in WAL mode.
    pub fn open(path: &Path, synchronous: Synchronous) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        Self::init(conn, synchronous)
    }

    /// A private in-memory database (tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?, Synchronous::Full)
    }

    fn init(conn: Connection, synchronous: Synchronous) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // In-memory databases answer "memory"; files switch to WAL.
        let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        let level = match synchronous {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        };
        conn.execute_batch(&format!("PRAGMA synchronous={level};"))?;
        conn.execute_batch(SCHEMA)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn
            .lock()
            .map_err(|_| StoreError::Unavailable("sqlite connection lock poisoned".into()))
    }
}

impl Store for SqliteStore {
    fn load(&self, doc: &DocId) -> Result<StoredDoc, StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let snapshot: Option<(u64, Vec<u8>)> = tx
            .query_row(
                "SELECT upto, bytes FROM snapshots WHERE doc = ?1",
                params![doc.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let upto = snapshot.as_ref().map_or(0, |&(upto, _)| upto);
        let batches = {
            let mut stmt = tx.prepare_cached(
                "SELECT seq, bytes FROM batches WHERE doc = ?1 AND seq > ?2 ORDER BY seq",
            )?;
            let rows =
                stmt.query_map(params![doc.as_str(), upto], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<Vec<(u64, Vec<u8>)>, _>>()?
        };
        tx.commit()?;
        Ok(StoredDoc {
            snapshot: snapshot.map(|(_, bytes)| bytes),
            batches,
        })
    }

    fn append(&self, batches: &[(DocId, Vec<u8>)]) -> Result<(), StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached("INSERT INTO batches (doc, bytes) VALUES (?1, ?2)")?;
            for (doc, bytes) in batches {
                stmt.execute(params![doc.as_str(), bytes])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn compact(&self, doc: &DocId, snapshot: &[u8], upto: u64) -> Result<(), StoreError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO snapshots (doc, upto, bytes) VALUES (?1, ?2, ?3)
             ON CONFLICT (doc) DO UPDATE SET upto = excluded.upto, bytes = excluded.bytes",
            params![doc.as_str(), upto, snapshot],
        )?;
        tx.execute(
            "DELETE FROM batches WHERE doc = ?1 AND seq <= ?2",
            params![doc.as_str(), upto],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn needing_compaction(&self, threshold: u64) -> Result<Vec<DocId>, StoreError> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached(
            "SELECT doc FROM batches GROUP BY doc HAVING COUNT(*) > ?1 ORDER BY doc",
        )?;
        let rows = stmt.query_map(params![threshold], |r| r.get::<_, String>(0))?;
        let mut docs = Vec::new();
        for name in rows {
            // Only valid ids are ever written; skip anything else rather than fail the pass.
            if let Ok(id) = DocId::new(name?) {
                docs.push(id);
            }
        }
        Ok(docs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conforms_in_memory() {
        super::super::conformance::run_all(&SqliteStore::open_in_memory().unwrap());
    }

    #[test]
    fn conforms_on_disk_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.db");
        let doc = DocId::new("d").unwrap();
        {
            let store = SqliteStore::open(&path, Synchronous::Normal).unwrap();
            super::super::conformance::run_all(&store);
            store.append(&[(doc.clone(), b"after".to_vec())]).unwrap();
        }
        let store = SqliteStore::open(&path, Synchronous::Full).unwrap();
        let mode: String = store
            .lock()
            .unwrap()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let loaded = store.load(&doc).unwrap();
        assert_eq!(loaded.batches.last().unwrap().1, b"after");
    }

    #[test]
    fn sequence_numbers_never_go_back_after_compaction() {
        let store = SqliteStore::open_in_memory().unwrap();
        let doc = DocId::new("d").unwrap();
        store
            .append(&[(doc.clone(), vec![1]), (doc.clone(), vec![2])])
            .unwrap();
        store.compact(&doc, b"s", 2).unwrap();
        store.append(&[(doc.clone(), vec![3])]).unwrap();
        assert_eq!(store.load(&doc).unwrap().batches, vec![(3, vec![3])]);
    }
}
