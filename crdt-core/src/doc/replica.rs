//! A document's own replica id, and which replica ids a batch of changes writes.
//!
//! A replica id must have one writer. When a document learns that another writer uses its id
//! (a relay refused its changes with [`ErrorCode::ReplicaTaken`](crate::sync::ErrorCode), or
//! changes under its own id arrived that it did not make), it continues under a fresh id with
//! [`Doc::set_replica`]. Nothing already committed is rewritten: changes made under the old id
//! are history as valid as any other (their element ids are referenced by later changes), so they
//! keep their id and only new edits take the new one.

use super::oplog::OpLog;
use super::{format, Doc, DocError};
use crate::clock::{ReplicaId, SeqRange};

impl Doc {
    /// Continues as replica `replica`: the next committed change takes its counters (an open
    /// transaction is committed first, under the old id). State and history are kept as they
    /// are; changes already made under the old id keep it.
    pub fn set_replica(&mut self, replica: ReplicaId) {
        self.commit();
        self.replica = replica;
    }

    /// Continues under a fresh random id when this document has already written under its
    /// current one; returns whether it did. Sync drivers call it when a copy starts to sync:
    /// another copy restored from the same saved bytes (a second tab, a second process) may
    /// sync under that id too, and two writers of one id collide. A document that never wrote
    /// keeps its id.
    pub fn refresh_replica_if_written(&mut self) -> bool {
        self.commit();
        if self.version().get(self.replica) == 0 {
            return false;
        }
        self.set_replica(ReplicaId::random());
        true
    }

    /// The id ranges of the changes in `bytes` (as [`Doc::apply_changes`] takes them), in
    /// order, without applying them: what a relay checks against the writers it knows before it
    /// lets a connection write. Decoding is as bounded as [`Doc::apply_changes`]'s.
    pub fn change_ids(bytes: &[u8]) -> Result<Vec<SeqRange>, DocError> {
        let batch = format::ChangeBatch::open(bytes)?;
        if let Some((raw, mut budget)) = batch.history() {
            let log = OpLog::decode(raw, &mut budget)?;
            // Charged before it is built: a run of deletes claims changes for a few bytes.
            budget.charge_values::<SeqRange>(log.len(), 0, "change ids")?;
            return Ok(log.change_ids());
        }
        let mut ids = Vec::new();
        batch.for_each(&mut |change, _| {
            ids.push(change.id);
            true
        })?;
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Doc, ReplicaId, VersionVector};

    #[test]
    fn set_replica_keeps_the_state_and_takes_new_counters_under_the_new_id() {
        let mut doc = Doc::with_replica(ReplicaId::new(1));
        doc.text("t").insert(0, "ab").unwrap();
        doc.set_replica(ReplicaId::new(2));
        doc.text("t").insert(2, "c").unwrap();
        doc.commit();
        assert_eq!(doc.text("t").to_string(), "abc");
        assert_eq!(doc.replica(), ReplicaId::new(2));
        let version = doc.version();
        assert_eq!(
            version.get(ReplicaId::new(1)),
            2,
            "the open edit committed as replica 1"
        );
        assert_eq!(
            version.get(ReplicaId::new(2)),
            1,
            "the next edit is replica 2's first"
        );
        let mut other = Doc::with_replica(ReplicaId::new(9));
        other
            .apply_changes(&doc.encode_changes_since(&VersionVector::new()))
            .unwrap();
        assert_eq!(other.materialize(), doc.materialize());
    }

    #[test]
    fn a_copy_that_wrote_under_its_id_moves_to_a_fresh_one_and_a_new_one_does_not() {
        let mut fresh = Doc::with_replica(ReplicaId::new(1));
        assert!(!fresh.refresh_replica_if_written());
        assert_eq!(fresh.replica(), ReplicaId::new(1));
        fresh.text("t").insert(0, "x").unwrap();
        let saved = fresh.save();
        let mut restored = Doc::load_with_replica(&saved, ReplicaId::new(1)).unwrap();
        assert!(restored.refresh_replica_if_written());
        assert_ne!(restored.replica(), ReplicaId::new(1));
        assert_eq!(restored.text("t").to_string(), "x");
    }

    #[test]
    fn change_ids_lists_each_change_without_applying() {
        let mut doc = Doc::with_replica(ReplicaId::new(4));
        doc.text("t").insert(0, "abc").unwrap();
        doc.commit();
        doc.counter("n").increment(1).unwrap();
        doc.commit();
        let ids = Doc::change_ids(&doc.encode_changes_since(&VersionVector::new())).unwrap();
        let ranges: Vec<(u64, u64, u64)> = ids
            .iter()
            .map(|id| (id.replica.0, id.start, id.end))
            .collect();
        assert_eq!(ranges, vec![(4, 1, 4), (4, 4, 5)]);
        assert!(Doc::change_ids(b"not changes").is_err());
    }
}
