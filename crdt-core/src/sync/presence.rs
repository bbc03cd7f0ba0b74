//! [`PresenceMap`]: the ephemeral per-peer state (cursor, selection, user name, ...) a session
//! has received, newest per peer.
//!
//! Each update carries the sender's presence clock; the map keeps, per peer, the update with the
//! highest clock, and at equal clocks a removal beats a state. So duplicated, reordered or stale
//! updates never overwrite a newer one, and a relay can announce that a peer left by sending a
//! removal with the peer's last clock (the peer's next announcement has a higher clock and wins).
//! This is the rule of Yjs's awareness protocol. Presence is never persisted: a session clears its
//! map when its connection closes.

use std::collections::BTreeMap;

use super::message::PeerId;

/// Most peers (live or removed) one map tracks; updates about further peers are ignored.
pub const MAX_PRESENCE_PEERS: usize = 4096;

/// Received presence, newest per peer; see the [module docs](self).
///
/// ```
/// use crdt_core::sync::{PeerId, PresenceMap};
///
/// let mut map = PresenceMap::new();
/// assert!(map.apply(PeerId(1), 2, Some(b"cursor 10".to_vec())));
/// assert!(!map.apply(PeerId(1), 1, Some(b"cursor 3".to_vec())), "a stale update is ignored");
/// assert_eq!(map.get(PeerId(1)), Some(&b"cursor 10"[..]));
/// assert!(map.apply(PeerId(1), 2, None), "a removal wins at an equal clock");
/// assert_eq!(map.get(PeerId(1)), None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PresenceMap {
    entries: BTreeMap<PeerId, (u64, Option<Vec<u8>>)>,
}

impl PresenceMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes an update unless a newer one is known; returns whether it was taken.
    pub fn apply(&mut self, peer: PeerId, clock: u64, state: Option<Vec<u8>>) -> bool {
        match self.entries.get(&peer) {
            Some((known, known_state)) => {
                let newer =
                    clock > *known || (clock == *known && state.is_none() && known_state.is_some());
                if !newer {
                    return false;
                }
            }
            None if self.entries.len() >= MAX_PRESENCE_PEERS => return false,
            None => {}
        }
        self.entries.insert(peer, (clock, state));
        true
    }

    /// The current state of `peer`, if it has one.
    pub fn get(&self, peer: PeerId) -> Option<&[u8]> {
        self.entries.get(&peer).and_then(|(_, s)| s.as_deref())
    }

    /// The highest clock seen from `peer` (also after a removal).
    pub fn clock(&self, peer: PeerId) -> Option<u64> {
        self.entries.get(&peer).map(|&(c, _)| c)
    }

    /// Peers with a current state, in peer order.
    pub fn iter(&self) -> impl Iterator<Item = (PeerId, &[u8])> + '_ {
        self.entries
            .iter()
            .filter_map(|(&p, (_, s))| s.as_deref().map(|s| (p, s)))
    }

    /// Every known peer with its clock and state (`None` once removed): what a relay re-announces.
    pub fn entries(&self) -> impl Iterator<Item = (PeerId, u64, Option<&[u8]>)> + '_ {
        self.entries
            .iter()
            .map(|(&p, (c, s))| (p, *c, s.as_deref()))
    }

    /// Number of peers with a current state.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// True when no peer has a current state.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets everything (the connection closed).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn newest_clock_wins_and_removal_wins_ties() {
        let mut m = PresenceMap::new();
        assert!(m.apply(PeerId(1), 5, Some(vec![1])));
        assert!(
            !m.apply(PeerId(1), 5, Some(vec![2])),
            "equal clock, not a removal"
        );
        assert!(!m.apply(PeerId(1), 4, None), "an older removal");
        assert!(m.apply(PeerId(1), 5, None));
        assert!(
            !m.apply(PeerId(1), 5, Some(vec![1])),
            "the removed state comes back late"
        );
        assert_eq!(m.clock(PeerId(1)), Some(5));
        assert!(m.is_empty());
        assert!(m.apply(PeerId(1), 6, Some(vec![3])));
        assert_eq!(m.iter().collect::<Vec<_>>(), vec![(PeerId(1), &[3u8][..])]);
        m.clear();
        assert_eq!(m.clock(PeerId(1)), None);
    }

    #[test]
    fn peer_count_is_bounded() {
        let mut m = PresenceMap::new();
        for p in 0..MAX_PRESENCE_PEERS as u64 {
            assert!(m.apply(PeerId(p), 1, Some(vec![])));
        }
        assert!(!m.apply(PeerId(u64::MAX), 1, Some(vec![])));
        assert!(
            m.apply(PeerId(0), 2, Some(vec![7])),
            "known peers still update"
        );
        assert_eq!(m.len(), MAX_PRESENCE_PEERS);
    }

    proptest! {
        #[test]
        fn any_delivery_order_ends_at_the_newest(
            updates in prop::collection::vec((0u64..3, 0u64..6, any::<bool>()), 1..30),
            order in Just(()).prop_perturb(|_, mut rng| rng.next_u64()),
        ) {
            // The outcome depends only on the set of updates, not on their order.
            let mut shuffled = updates.clone();
            let n = shuffled.len();
            let mut s = order;
            for i in (1..n).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (s >> 33) as usize % (i + 1));
            }
            let run = |ups: &[(u64, u64, bool)]| {
                let mut m = PresenceMap::new();
                for &(p, c, removal) in ups {
                    m.apply(PeerId(p), c, (!removal).then(|| vec![c as u8]));
                }
                m
            };
            prop_assert_eq!(run(&updates), run(&shuffled));
        }
    }
}
