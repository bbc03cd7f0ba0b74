//! The background compactor: folds long change logs into snapshots.
//!
//! Every `compact_interval_secs` it asks the store for documents with more than `compact_after`
//! batches since their snapshot, rebuilds each from the store (snapshot + batches) into a
//! [`Doc`], saves it, and replaces that prefix of the log by the snapshot. A `Doc` snapshot holds
//! the whole history, so catch-up from a compacted document works for every version, and batches
//! appended meanwhile have higher sequence numbers and survive (see [`crate::storage`]).
//! Work runs on the blocking pool, so it never stalls the rooms.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use crdt_core::sync::DocId;
use crdt_core::Doc;

use super::RelayContext;
use crate::storage::{Store, StoreError};

/// Runs compaction passes until the task is aborted.
pub(crate) async fn run(ctx: Arc<RelayContext>) {
    let period = Duration::from_secs(ctx.config.maintenance.compact_interval_secs.max(1));
    let mut tick = tokio::time::interval(period);
    tick.tick().await;
    loop {
        tick.tick().await;
        let store = Arc::clone(&ctx.store);
        let threshold = ctx.config.maintenance.compact_after;
        let pass = tokio::task::spawn_blocking(move || compact_all(&*store, threshold)).await;
        match pass {
            Ok(Ok(count)) => {
                ctx.metrics.compactions.fetch_add(count, Relaxed);
            }
            Ok(Err(e)) => {
                ctx.metrics.storage_errors.fetch_add(1, Relaxed);
                tracing::error!(error = %e, "compaction failed");
            }
            Err(e) => tracing::error!(error = %e, "compaction panicked"),
        }
    }
}

/// One pass: compacts every document past `threshold`; returns how many were compacted.
pub fn compact_all(store: &dyn Store, threshold: u64) -> Result<u64, StoreError> {
    let mut count = 0;
    for doc in store.needing_compaction(threshold)? {
        if compact_one(store, &doc)? {
            count += 1;
        }
    }
    Ok(count)
}

/// Compacts one document's log into a snapshot; false when it is unreadable (left as is).
pub fn compact_one(store: &dyn Store, id: &DocId) -> Result<bool, StoreError> {
    let stored = store.load(id)?;
    let mut doc = match stored.snapshot.as_deref().map(Doc::load) {
        Some(Ok(doc)) => doc,
        Some(Err(e)) => {
            tracing::error!(doc = %id, error = %e, "snapshot unreadable; not compacting");
            return Ok(false);
        }
        None => Doc::new(),
    };
    for (seq, batch) in &stored.batches {
        if let Err(e) = doc.apply_changes(batch) {
            tracing::error!(doc = %id, seq, error = %e, "stored batch refused; not compacting");
            return Ok(false);
        }
    }
    let snapshot = doc.save();
    store.compact(id, &snapshot, stored.last_seq())?;
    tracing::debug!(doc = %id, upto = stored.last_seq(), bytes = snapshot.len(), "compacted");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStore;
    use crdt_core::VersionVector;

    #[test]
    fn compaction_keeps_catch_up_from_every_version() {
        let store = MemoryStore::new();
        let id = DocId::new("c").unwrap();
        let mut author = Doc::new();
        let mut versions = vec![(VersionVector::new(), Doc::new().save())];
        for i in 0..10 {
            let before = author.version();
            author.text("t").insert(0, &format!("{i} ")).unwrap();
            author.commit();
            store
                .append(&[(id.clone(), author.encode_changes_since(&before))])
                .unwrap();
            versions.push((author.version(), author.save()));
        }
        assert_eq!(compact_all(&store, 3).unwrap(), 1);
        let stored = store.load(&id).unwrap();
        assert!(stored.batches.is_empty() && stored.snapshot.is_some());
        // A batch appended after compaction is kept after the snapshot.
        let before = author.version();
        author.text("t").insert(0, "late ").unwrap();
        author.commit();
        store
            .append(&[(id.clone(), author.encode_changes_since(&before))])
            .unwrap();
        let stored = store.load(&id).unwrap();
        let mut relay_doc = Doc::load(stored.snapshot.as_deref().unwrap()).unwrap();
        for (_, batch) in &stored.batches {
            relay_doc.apply_changes(batch).unwrap();
        }
        assert_eq!(relay_doc.materialize(), author.materialize());
        // A peer at any earlier version catches up from the compacted document.
        for (v, saved) in &versions {
            let mut peer = Doc::load(saved).unwrap();
            assert_eq!(&peer.version(), v);
            peer.apply_changes(&relay_doc.encode_changes_since(v))
                .unwrap();
            assert_eq!(peer.materialize(), author.materialize());
        }
    }
}
