//! [`MemoryStore`]: the [`Store`] in a mutex-guarded map, for tests and `--memory`.
//!
//! Invariant: the same as every store's (see [`super`]); "durable" means "in this process".

use std::collections::HashMap;
use std::sync::Mutex;

use crdt_core::sync::DocId;

use super::{Store, StoreError, StoredDoc};

/// A [`Store`] that keeps everything in memory.
///
/// ```
/// use sync_server::storage::{MemoryStore, Store};
/// use crdt_core::sync::DocId;
/// let store = MemoryStore::new();
/// let doc = DocId::new("d").unwrap();
/// store.append(&[(doc.clone(), vec![1, 2])]).unwrap();
/// assert_eq!(store.load(&doc).unwrap().batches, vec![(1, vec![1, 2])]);
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_seq: u64,
    docs: HashMap<DocId, StoredDoc>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Unavailable("memory store lock poisoned".into()))
    }
}

impl Store for MemoryStore {
    fn load(&self, doc: &DocId) -> Result<StoredDoc, StoreError> {
        Ok(self.lock()?.docs.get(doc).cloned().unwrap_or_default())
    }

    fn append(&self, batches: &[(DocId, Vec<u8>)]) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        for (doc, bytes) in batches {
            inner.next_seq += 1;
            let seq = inner.next_seq;
            let stored = inner.docs.entry(doc.clone()).or_default();
            stored.batches.push((seq, bytes.clone()));
        }
        Ok(())
    }

    fn compact(&self, doc: &DocId, snapshot: &[u8], upto: u64) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        let stored = inner.docs.entry(doc.clone()).or_default();
        stored.snapshot = Some(snapshot.to_vec());
        stored.batches.retain(|&(seq, _)| seq > upto);
        Ok(())
    }

    fn needing_compaction(&self, threshold: u64) -> Result<Vec<DocId>, StoreError> {
        let inner = self.lock()?;
        let mut docs: Vec<DocId> = inner
            .docs
            .iter()
            .filter(|(_, d)| d.batches.len() as u64 > threshold)
            .map(|(id, _)| id.clone())
            .collect();
        docs.sort();
        Ok(docs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conforms() {
        super::super::conformance::run_all(&MemoryStore::new());
    }
}
