//! A test double for [`SyncDoc`]: a grow-only set of events, each one `(replica, counter)` dot
//! with a value and, as its parents, the latest event of every other replica applied when it was
//! made. Remote events go through a real
//! [`CausalBuffer`], so the double waits for causal pasts exactly as a document must, and its
//! encoding is MessagePack of the events, so corrupt bytes are refused with a typed error.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::sync_doc::SyncDoc;
use crate::causal::{BufferLimits, CausalBuffer, CausalChange, CausalError};
use crate::clock::{Dot, ReplicaId, SeqRange, VersionVector};

/// One event of the set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Event {
    pub dot: Dot,
    pub parents: Vec<Dot>,
    pub value: u64,
}

/// Why the double refused bytes.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EventSetError {
    #[error("undecodable changes: {0}")]
    Decode(String),
    #[error(transparent)]
    Causal(#[from] CausalError),
}

/// A grow-only set of events with causal delivery; see the [module docs](self).
pub(crate) struct EventSet {
    replica: ReplicaId,
    buffer: CausalBuffer<Event>,
    /// Applied events in the order applied (a causal order).
    log: Vec<Event>,
}

impl EventSet {
    pub fn new(replica: u64) -> Self {
        EventSet {
            replica: ReplicaId::new(replica),
            buffer: CausalBuffer::new(BufferLimits::default()),
            log: Vec::new(),
        }
    }

    /// A local edit: a new event that depends on everything applied so far.
    pub fn add(&mut self, value: u64) -> Dot {
        let applied = self.buffer.applied();
        let counter = applied.get(self.replica) + 1;
        let parents = applied
            .iter()
            .filter(|&(r, _)| r != self.replica)
            .map(|(r, c)| Dot::new(r, c))
            .collect();
        let dot = Dot::new(self.replica, counter);
        self.log.push(Event {
            dot,
            parents,
            value,
        });
        let released = self.buffer.mark_applied(SeqRange {
            replica: self.replica,
            start: counter,
            end: counter + 1,
        });
        self.log.extend(released.into_iter().map(|c| c.payload));
        dot
    }

    /// The applied events as `dot -> value`.
    pub fn values(&self) -> BTreeMap<Dot, u64> {
        self.log.iter().map(|e| (e.dot, e.value)).collect()
    }

    /// Events waiting for their causal past.
    pub fn pending(&self) -> usize {
        self.buffer.pending_len()
    }

    /// Number of events in encoded bytes (to check what was sent).
    pub fn count_events(bytes: &[u8]) -> usize {
        rmp_serde::from_slice::<Vec<Event>>(bytes).map_or(0, |v| v.len())
    }
}

impl SyncDoc for EventSet {
    type Error = EventSetError;

    fn version(&self) -> VersionVector {
        self.buffer.applied().clone()
    }

    fn encode_changes_since(&self, since: &VersionVector) -> Vec<u8> {
        let events: Vec<&Event> = self.log.iter().filter(|e| !since.includes(e.dot)).collect();
        // Serialising plain structs into memory cannot fail.
        rmp_serde::to_vec(&events).expect("encoding events into memory cannot fail")
    }

    fn apply_changes(&mut self, bytes: &[u8]) -> Result<(), EventSetError> {
        let events: Vec<Event> =
            rmp_serde::from_slice(bytes).map_err(|e| EventSetError::Decode(e.to_string()))?;
        for event in events {
            let change = CausalChange {
                id: SeqRange {
                    replica: event.dot.replica,
                    start: event.dot.counter,
                    end: event.dot.counter.saturating_add(1),
                },
                parents: event.parents.clone(),
                payload: event,
            };
            let released = self.buffer.insert(change, 64)?;
            self.log.extend(released.into_iter().map(|c| c.payload));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_double_waits_for_causal_pasts() {
        let (mut a, mut b) = (EventSet::new(1), EventSet::new(2));
        a.add(10);
        let first = a.encode_changes_since(&VersionVector::new());
        a.add(11);
        let second = a.encode_changes_since(
            &a.version()
                .intersection(&[(ReplicaId::new(1), 1)].into_iter().collect()),
        );
        b.apply_changes(&second).unwrap();
        assert_eq!((b.values().len(), b.pending()), (0, 1));
        b.apply_changes(&first).unwrap();
        b.apply_changes(&first).unwrap();
        assert_eq!(b.values(), a.values());
        assert_eq!(b.pending(), 0);
        assert!(b.apply_changes(&[0xc1]).is_err());
    }
}
