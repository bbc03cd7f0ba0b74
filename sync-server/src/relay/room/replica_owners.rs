//! [`ReplicaOwners`]: which live connection writes each replica id of one document.
//!
//! A replica id has one writer. The relay's `Hello` tells anyone every replica's latest counter,
//! so without this a connection could send changes under another connection's id, take its next
//! counters, and have the victim's own next edits dropped as duplicates. The room binds a replica
//! id to the connection that first wrote new events of it while joined, and refuses new events
//! of that id from any other connection until the writer leaves ([`ErrorCode::ReplicaTaken`]).
//!
//! What stays allowed: resending changes the relay already holds (identical duplicates are
//! no-ops, whoever sends them), and writing a replica id no live connection writes (the history
//! of a writer that left, continued from another device). Tokens name no subject, so across
//! sessions the relay cannot tell a writer from an impersonator; a change that reuses a held id
//! range with other content is refused by the document ([`crdt_core::DocError::DuplicateDiffers`]).
//!
//! [`ErrorCode::ReplicaTaken`]: crdt_core::sync::ErrorCode::ReplicaTaken

use std::collections::HashMap;

use crdt_core::{ReplicaId, SeqRange, VersionVector};

use super::super::peer::ConnId;

/// The writer of each replica id written while its connection is in the room.
#[derive(Debug, Default)]
pub(crate) struct ReplicaOwners {
    /// The connection that writes each bound replica id.
    owner: HashMap<ReplicaId, ConnId>,
    /// The replica ids each connection writes, so leaving releases them without a scan.
    owned: HashMap<ConnId, Vec<ReplicaId>>,
}

impl ReplicaOwners {
    /// The first replica id among `ids` whose new events (those not covered by `held`) another
    /// connection than `conn` writes: the reason to refuse the batch.
    pub fn taken_by_another(
        &self,
        conn: ConnId,
        ids: &[SeqRange],
        held: &VersionVector,
    ) -> Option<ReplicaId> {
        ids.iter()
            .filter(|id| id.end.saturating_sub(1) > held.get(id.replica))
            .map(|id| id.replica)
            .find(|replica| self.owner.get(replica).is_some_and(|&c| c != conn))
    }

    /// Binds to `conn` every replica id among `ids` whose new events the document took from it
    /// (its version grew from `before` to `after`) and that no connection writes yet.
    pub fn bind_written(
        &mut self,
        conn: ConnId,
        ids: &[SeqRange],
        before: &VersionVector,
        after: &VersionVector,
    ) {
        for id in ids {
            let replica = id.replica;
            if after.get(replica) > before.get(replica) && !self.owner.contains_key(&replica) {
                self.owner.insert(replica, conn);
                self.owned.entry(conn).or_default().push(replica);
            }
        }
    }

    /// `conn` left: the ids it wrote are free again.
    pub fn release(&mut self, conn: ConnId) {
        for replica in self.owned.remove(&conn).unwrap_or_default() {
            self.owner.remove(&replica);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(replica: u64, start: u64, end: u64) -> SeqRange {
        SeqRange {
            replica: ReplicaId::new(replica),
            start,
            end,
        }
    }

    fn version(entries: &[(u64, u64)]) -> VersionVector {
        let mut v = VersionVector::new();
        for &(replica, counter) in entries {
            v.set(ReplicaId::new(replica), counter);
        }
        v
    }

    #[test]
    fn the_first_writer_owns_an_id_until_it_leaves() {
        let mut owners = ReplicaOwners::default();
        let ids = [range(7, 1, 3)];
        assert_eq!(owners.taken_by_another(1, &ids, &version(&[])), None);
        owners.bind_written(1, &ids, &version(&[]), &version(&[(7, 2)]));
        let next = [range(7, 3, 4)];
        let held = version(&[(7, 2)]);
        assert_eq!(
            owners.taken_by_another(1, &next, &held),
            None,
            "its own writer"
        );
        assert_eq!(
            owners.taken_by_another(2, &next, &held),
            Some(ReplicaId::new(7)),
            "another connection's new events"
        );
        assert_eq!(
            owners.taken_by_another(2, &ids, &held),
            None,
            "resending what the relay holds is allowed"
        );
        owners.release(1);
        assert_eq!(owners.taken_by_another(2, &next, &held), None);
    }

    #[test]
    fn nothing_binds_when_the_document_took_nothing() {
        let mut owners = ReplicaOwners::default();
        let ids = [range(9, 1, 2)];
        owners.bind_written(1, &ids, &version(&[]), &version(&[]));
        owners.bind_written(2, &ids, &version(&[]), &version(&[(9, 1)]));
        assert_eq!(
            owners.taken_by_another(1, &[range(9, 2, 3)], &version(&[(9, 1)])),
            Some(ReplicaId::new(9))
        );
    }
}
