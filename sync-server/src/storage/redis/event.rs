//! [`ClusterEvent`]: what relay nodes tell each other on a document's pub/sub channel.
//!
//! Invariant: events are hints and ephemeral state, never the truth about changes. `Appended` only
//! wakes readers, who then read the document's stream from the last entry they saw, so a lost
//! or duplicated event loses or duplicates nothing. Presence events carry the publishing node,
//! so a node can clear the presence of peers whose node died. Decoding bytes from Redis never
//! panics: anything malformed is an [`EventError`]. (The wake-up/stream split is the usual
//! Redis pattern: pub/sub is at-most-once, streams are durable.)

use serde::{Deserialize, Serialize};

use super::NodeId;

/// One event on a document's channel.
///
/// ```
/// use sync_server::cluster::{ClusterEvent, NodeId};
/// let event = ClusterEvent::Query { node: NodeId(3) };
/// assert_eq!(ClusterEvent::decode(&event.encode()).unwrap(), event);
/// assert!(ClusterEvent::decode(b"\xff junk").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClusterEvent {
    /// `node` appended to the document's log: read it from where you are.
    Appended {
        /// Who appended.
        node: NodeId,
    },
    /// A peer connected to `node` changed its presence (`state: None` = gone).
    Presence {
        /// The peer's node.
        node: NodeId,
        /// The peer (its connection id, unique across nodes).
        peer: u64,
        /// The presence clock; the highest wins.
        clock: u64,
        /// App-defined state, or `None` when the peer left.
        state: Option<Vec<u8>>,
    },
    /// `node` just (re)subscribed: everyone, publish your peers' presence again.
    Query {
        /// Who asks.
        node: NodeId,
    },
}

/// Why an event could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("undecodable cluster event: {0}")]
pub struct EventError(#[from] rmp_serde::decode::Error);

impl ClusterEvent {
    /// The event as MessagePack.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing plain integers, options and byte vectors into a Vec cannot fail.
        rmp_serde::to_vec(self).unwrap_or_default()
    }

    /// Decodes an event from a channel message.
    pub fn decode(bytes: &[u8]) -> Result<ClusterEvent, EventError> {
        Ok(rmp_serde::from_slice(bytes)?)
    }

    /// The node that published the event.
    pub fn node(&self) -> NodeId {
        match self {
            ClusterEvent::Appended { node }
            | ClusterEvent::Presence { node, .. }
            | ClusterEvent::Query { node } => *node,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn presence_round_trips() {
        let event = ClusterEvent::Presence {
            node: NodeId(u64::MAX),
            peer: 1 << 40,
            clock: 9,
            state: Some(b"cursor".to_vec()),
        };
        assert_eq!(ClusterEvent::decode(&event.encode()).unwrap(), event);
        assert_eq!(event.node(), NodeId(u64::MAX));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = ClusterEvent::decode(&bytes);
        }
    }
}
