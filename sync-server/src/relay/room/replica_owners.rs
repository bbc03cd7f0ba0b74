//! [`ReplicaOwners`]: which live connection writes each replica id of one document.
//!
//! A replica id has one writer. The relay's `Hello` tells anyone every replica's latest counter,
//! so without this a connection could send changes under another connection's id, take its next
//! counters, and have the victim's own next edits dropped as duplicates. The room binds a replica
//! id to the connection that first sent events of it that it did not hold when it joined (its
//! Hello declared less): events it created while joined. It refuses new events of that id from
//! any other connection until the writer leaves ([`ErrorCode::ReplicaTaken`]). Events a
//! connection held when it joined bind nothing: a client reconnecting to another node after its
//! relay died forwards its peers' events that the new relay lacks, and their writers must still
//! be able to claim their ids.
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

/// What one message of a connection added to the document, and what that connection held
/// when it joined.
pub(crate) struct NewEvents<'a> {
    /// The document's version before the message.
    pub before: &'a VersionVector,
    /// The document's version after it.
    pub after: &'a VersionVector,
    /// The version the connection declared in its last Hello.
    pub declared: &'a VersionVector,
}

impl NewEvents<'_> {
    /// Whether the document took events of `replica` from the sender that the sender did not
    /// hold when it joined: events it created since (or an impersonator's), not a forward of
    /// another writer's history (a client reconnecting elsewhere after its relay died resends
    /// the events of its peers that it holds and the relay lacks).
    fn created_by_sender(&self, replica: ReplicaId) -> bool {
        let grew = self.after.get(replica) > self.before.get(replica);
        grew && self.after.get(replica) > self.declared.get(replica)
    }
}

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

    /// Binds to `conn` every replica id among `ids` that no connection writes yet and of which
    /// the document just took events from `conn` that `conn` created while joined (see
    /// [`NewEvents`]).
    pub fn bind_written(&mut self, conn: ConnId, ids: &[SeqRange], events: &NewEvents<'_>) {
        for id in ids {
            let replica = id.replica;
            if events.created_by_sender(replica) && !self.owner.contains_key(&replica) {
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

    fn events<'a>(
        before: &'a VersionVector,
        after: &'a VersionVector,
        declared: &'a VersionVector,
    ) -> NewEvents<'a> {
        NewEvents {
            before,
            after,
            declared,
        }
    }

    #[test]
    fn events_a_connection_held_when_it_joined_bind_nothing() {
        let mut owners = ReplicaOwners::default();
        // Connection 1 joined holding replica 5 up to 3 (another writer's history) and forwards
        // it; connection 2, the writer, then continues it.
        let forwarded = [range(5, 1, 4)];
        owners.bind_written(
            1,
            &forwarded,
            &events(&version(&[]), &version(&[(5, 3)]), &version(&[(5, 3)])),
        );
        let next = [range(5, 4, 5)];
        assert_eq!(owners.taken_by_another(2, &next, &version(&[(5, 3)])), None);
        owners.bind_written(
            2,
            &next,
            &events(
                &version(&[(5, 3)]),
                &version(&[(5, 4)]),
                &version(&[(5, 3)]),
            ),
        );
        assert_eq!(
            owners.taken_by_another(1, &[range(5, 5, 6)], &version(&[(5, 4)])),
            Some(ReplicaId::new(5))
        );
    }

    #[test]
    fn the_first_writer_owns_an_id_until_it_leaves() {
        let mut owners = ReplicaOwners::default();
        let ids = [range(7, 1, 3)];
        assert_eq!(owners.taken_by_another(1, &ids, &version(&[])), None);
        owners.bind_written(
            1,
            &ids,
            &events(&version(&[]), &version(&[(7, 2)]), &version(&[])),
        );
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
        let none = version(&[]);
        owners.bind_written(1, &ids, &events(&none, &none, &none));
        owners.bind_written(2, &ids, &events(&none, &version(&[(9, 1)]), &none));
        assert_eq!(
            owners.taken_by_another(1, &[range(9, 2, 3)], &version(&[(9, 1)])),
            Some(ReplicaId::new(9))
        );
    }
}
