//! Durable storage of documents: the [`Store`] trait and its backends, [`SqliteStore`] (the
//! default, one WAL-mode database file, single node), [`RedisStore`] (cluster mode: every node
//! shares one Redis) and [`MemoryStore`] (tests).
//!
//! A document is stored as an optional snapshot plus a log of change batches appended after it.
//! Each batch is what `Doc::encode_changes_since` produced for the changes one message added, so
//! replaying snapshot then batches in order rebuilds the document. Compaction replaces a prefix
//! of the log by a snapshot that covers it.
//!
//! Invariants every backend keeps (the shared tests in `conformance` check them):
//! - [`Store::append`] returns only once every batch it was given is durable, and a batch is
//!   stored whole or not at all (a crash never leaves half a batch).
//! - [`Store::compact`] is atomic: a reader sees the old snapshot and every batch, or the new
//!   snapshot and the batches after `upto`, never a mix that loses a change; batches appended
//!   concurrently (with sequence numbers above `upto`) survive.
//! - Sequence numbers of one document only grow.
//!
//! This is the event-sourcing layout of Automerge's and Y-Sweet's stores (a snapshot plus
//! incremental changes, compacted in the background).

mod memory;
pub(crate) mod redis;
mod sqlite;

#[cfg(test)]
pub(crate) mod conformance;

pub(crate) use self::redis::{fetch_invocation, parse_fetched};
pub use self::redis::{Fetched, LogEntry, RedisPersistence, RedisReplyError, RedisStore};
pub use memory::MemoryStore;
pub use sqlite::SqliteStore;

use crdt_core::sync::DocId;

/// One document as stored: a snapshot and the change batches after it, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredDoc {
    /// The latest snapshot, if the log was ever compacted.
    pub snapshot: Option<Vec<u8>>,
    /// Change batches after the snapshot, oldest first, with their sequence numbers.
    pub batches: Vec<(u64, Vec<u8>)>,
}

impl StoredDoc {
    /// The sequence number of the newest batch (0 when there is none).
    pub fn last_seq(&self) -> u64 {
        self.batches.last().map_or(0, |&(seq, _)| seq)
    }
}

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The SQLite backend failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The Redis backend failed (after reconnecting for as long as it retries).
    #[error("redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    /// Redis answered something the store cannot read.
    #[error("redis reply: {0}")]
    RedisReply(#[from] RedisReplyError),
    /// The store is unusable (a lock was poisoned by a panic elsewhere).
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// Where documents are kept; see the [module docs](self) for the invariants.
///
/// Methods block: the relay calls them from a dedicated thread or `spawn_blocking`.
pub trait Store: Send + Sync + 'static {
    /// Everything stored for `doc` (empty for a document never written).
    fn load(&self, doc: &DocId) -> Result<StoredDoc, StoreError>;

    /// Appends change batches (of any documents) durably, in order, all or nothing.
    fn append(&self, batches: &[(DocId, Vec<u8>)]) -> Result<(), StoreError>;

    /// Replaces the snapshot of `doc` by `snapshot`, which covers every batch with a sequence
    /// number up to `upto`, and drops those batches.
    fn compact(&self, doc: &DocId, snapshot: &[u8], upto: u64) -> Result<(), StoreError>;

    /// Documents with more than `threshold` batches since their snapshot.
    fn needing_compaction(&self, threshold: u64) -> Result<Vec<DocId>, StoreError>;

    /// Whether what [`append`](Self::append) reports written survives a crash of the store
    /// (known when the store was opened; cheap to call). Durable unless a store says otherwise.
    fn ack_durability(&self) -> AckDurability {
        AckDurability::Durable
    }
}

/// Whether an acknowledged write survives a crash of the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AckDurability {
    /// It does.
    Durable,
    /// It may not; `why` says which setting loses it.
    NotDurable {
        /// The setting and what it loses.
        why: String,
    },
}

impl AckDurability {
    /// Whether acknowledged writes survive a crash of the store.
    pub fn is_durable(&self) -> bool {
        matches!(self, AckDurability::Durable)
    }
}
