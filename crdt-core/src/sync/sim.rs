//! A simulated network for the sync protocol, generic over the document ([`SyncDoc`]) and its
//! edits, so any document type can be run through the same schedules.
//!
//! Peers are joined by links, each a pair of [`SyncSession`]s and two queues of encoded frames
//! (every message goes through [`encode`] and [`decode`]). A seeded schedule interleaves edits,
//! presence updates, deliveries (possibly out of order, duplicated or dropped), disconnections,
//! reconnections (from one or both ends) and re-Hellos on live links (a driver's resync timer).
//! Then the network heals: every link comes up, both ends say Hello, and frames are delivered
//! reliably until no queue holds any. [`simulate`] then checks convergence: equal versions, every
//! session synced, and presence as each peer last set it. The caller compares document contents.
//!
//! With `hub`, peer 0 is a relay-like hub: it never edits, every other peer links only to it, it
//! fans changes out by calling `on_local_change` on its other sessions, forwards presence, sends a
//! joining peer the presence it knows and announces removals when a peer disconnects.
//!
//! To run a real document through it (from a test inside crdt-core):
//! ```ignore
//! let outcome = sync::sim::simulate(seed, &SimConfig::mesh(4), |i| Doc::with_replica(..), |doc, peer, rng| {
//!     /* a random edit of any container, using rng */
//! });
//! assert!(outcome.docs.windows(2).all(|w| w[0].to_json() == w[1].to_json()));
//! ```

use std::collections::BTreeMap;
use std::fmt::Debug;

use super::message::{decode, encode, Message, PeerId};
use super::session::SyncSession;
use super::sync_doc::SyncDoc;
use super::DocId;

/// A small seeded random source (SplitMix64): the simulator must be reproducible from a seed.
pub(crate) struct SimRng(u64);

impl SimRng {
    pub fn new(seed: u64) -> Self {
        SimRng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }
}

/// The shape of a simulated network and how badly it behaves.
#[derive(Clone, Debug)]
pub(crate) struct SimConfig {
    /// Number of peers, the hub included.
    pub peers: usize,
    /// Peer 0 is a relay-like hub in a star; otherwise every pair of peers is linked.
    pub hub: bool,
    /// Scheduled actions before the network heals.
    pub steps: usize,
    /// Chance that a frame picked for delivery is lost.
    pub drop: f64,
    /// Chance that a delivered frame stays queued and arrives again later.
    pub duplicate: f64,
    /// Chance that a random queued frame is delivered instead of the oldest.
    pub reorder: f64,
}

impl SimConfig {
    /// A full mesh of `peers` on a bad network.
    pub fn mesh(peers: usize) -> Self {
        SimConfig {
            peers,
            hub: false,
            steps: 300,
            drop: 0.1,
            duplicate: 0.1,
            reorder: 0.3,
        }
    }

    /// A hub and `peers - 1` clients on a bad network.
    pub fn star(peers: usize) -> Self {
        SimConfig {
            hub: true,
            ..Self::mesh(peers)
        }
    }
}

/// What a run left: the documents (for the caller to compare) and traffic figures.
pub(crate) struct SimOutcome<D> {
    pub docs: Vec<D>,
    /// Frames sent, and their total size in bytes.
    pub frames: usize,
    pub bytes: usize,
}

struct Link {
    /// The peers at either end; `sessions[s]` runs at `ends[s]`, `queues[s]` holds frames to it.
    ends: [usize; 2],
    up: bool,
    sessions: [SyncSession; 2],
    queues: [Vec<Vec<u8>>; 2],
}

struct Net<D> {
    docs: Vec<D>,
    links: Vec<Link>,
    hub: bool,
    /// Each peer's own presence, as it last set it.
    presence: Vec<Option<Vec<u8>>>,
    frames: usize,
    bytes: usize,
}

/// Runs one seeded schedule on `config`'s network with `make_doc(peer)` as each peer's document
/// and `edit(doc, peer, rng)` as a random local edit, heals the network and checks convergence
/// (panicking with the seed on any failure). Returns the documents for content checks.
pub(crate) fn simulate<D, M, E>(
    seed: u64,
    config: &SimConfig,
    mut make_doc: M,
    mut edit: E,
) -> SimOutcome<D>
where
    D: SyncDoc,
    D::Error: Debug,
    M: FnMut(usize) -> D,
    E: FnMut(&mut D, usize, &mut SimRng),
{
    assert!(config.peers >= 2, "a network needs two peers");
    let mut rng = SimRng::new(seed);
    let id = DocId::new("sim/doc").expect("a valid literal id");
    let pairs: Vec<[usize; 2]> = if config.hub {
        (1..config.peers).map(|c| [0, c]).collect()
    } else {
        (0..config.peers)
            .flat_map(|a| (a + 1..config.peers).map(move |b| [a, b]))
            .collect()
    };
    let mut net = Net {
        docs: (0..config.peers).map(&mut make_doc).collect(),
        links: pairs
            .into_iter()
            .map(|ends| Link {
                ends,
                up: false,
                sessions: [SyncSession::new(id.clone()), SyncSession::new(id.clone())],
                queues: [Vec::new(), Vec::new()],
            })
            .collect(),
        hub: config.hub,
        presence: vec![None; config.peers],
        frames: 0,
        bytes: 0,
    };
    let editors: Vec<usize> = (usize::from(config.hub)..config.peers).collect();
    for l in 0..net.links.len() {
        if rng.chance(0.7) {
            net.connect(l, rng.below(3));
        }
    }
    for _ in 0..config.steps {
        match rng.below(100) {
            0..=29 => {
                let peer = editors[rng.below(editors.len())];
                edit(&mut net.docs[peer], peer, &mut rng);
                net.doc_changed(peer);
            }
            30..=74 => {
                let busy: Vec<(usize, usize)> = (0..net.links.len())
                    .flat_map(|l| [(l, 0), (l, 1)])
                    .filter(|&(l, s)| !net.links[l].queues[s].is_empty())
                    .collect();
                if busy.is_empty() {
                    continue;
                }
                let (l, side) = busy[rng.below(busy.len())];
                let len = net.links[l].queues[side].len();
                let idx = if rng.chance(config.reorder) {
                    rng.below(len)
                } else {
                    0
                };
                if rng.chance(config.drop) {
                    net.links[l].queues[side].remove(idx);
                } else {
                    let keep = rng.chance(config.duplicate);
                    net.deliver(l, side, idx, keep);
                }
            }
            75..=79 => {
                if let Some(l) = pick(&mut rng, &net.links, |k| k.up) {
                    net.disconnect(l);
                }
            }
            80..=89 => {
                if let Some(l) = pick(&mut rng, &net.links, |k| !k.up) {
                    net.connect(l, rng.below(3));
                }
            }
            90..=93 => {
                if let Some(l) = pick(&mut rng, &net.links, |k| k.up) {
                    net.resync(l, rng.below(2));
                }
            }
            _ => {
                let peer = editors[rng.below(editors.len())];
                let state = (rng.next_u64() % 1000).to_le_bytes().to_vec();
                net.set_presence(peer, state);
            }
        }
    }
    net.heal(seed);
    net.check(seed);
    SimOutcome {
        docs: net.docs,
        frames: net.frames,
        bytes: net.bytes,
    }
}

fn pick(rng: &mut SimRng, links: &[Link], want: impl Fn(&Link) -> bool) -> Option<usize> {
    let fits: Vec<usize> = (0..links.len()).filter(|&l| want(&links[l])).collect();
    (!fits.is_empty()).then(|| fits[rng.below(fits.len())])
}

impl<D> Net<D>
where
    D: SyncDoc,
    D::Error: Debug,
{
    /// Queues `messages` from side `from` of link `l` to the other side.
    fn send(&mut self, l: usize, from: usize, messages: Vec<Message>) {
        for m in messages {
            let frame = encode(&m);
            self.frames += 1;
            self.bytes += frame.len();
            self.links[l].queues[1 - from].push(frame);
        }
    }

    /// Links at `peer`, with the side `peer` is on.
    fn links_of(&self, peer: usize) -> Vec<(usize, usize)> {
        (0..self.links.len())
            .filter_map(|l| {
                self.links[l]
                    .ends
                    .iter()
                    .position(|&e| e == peer)
                    .map(|s| (l, s))
            })
            .collect()
    }

    /// `peer`'s document changed: every live session of it may have something to send.
    fn doc_changed(&mut self, peer: usize) {
        for (l, s) in self.links_of(peer) {
            if self.links[l].up {
                let out = self.links[l].sessions[s].on_local_change(&self.docs[peer]);
                self.send(l, s, out);
            }
        }
    }

    fn deliver(&mut self, l: usize, side: usize, idx: usize, keep: bool) {
        let frame = if keep {
            self.links[l].queues[side][idx].clone()
        } else {
            self.links[l].queues[side].remove(idx)
        };
        let message = decode(&frame).expect("frames the protocol encoded decode");
        let peer = self.links[l].ends[side];
        let forward = (self.hub && peer == 0 && matches!(message, Message::Presence { .. }))
            .then(|| message.clone());
        let before = self.docs[peer].version();
        let out = self.links[l].sessions[side]
            .receive(&mut self.docs[peer], message)
            .expect("well-behaved peers cause no errors");
        self.send(l, side, out);
        if self.docs[peer].version() != before {
            self.doc_changed(peer);
        }
        if let Some(presence) = forward {
            self.hub_broadcast(l, vec![presence]);
        }
    }

    /// The hub sends `messages` on every live link but `except`.
    fn hub_broadcast(&mut self, except: usize, messages: Vec<Message>) {
        for l2 in 0..self.links.len() {
            if l2 != except && self.links[l2].up {
                self.send(l2, 0, messages.clone());
            }
        }
    }

    /// Link `l` comes up; `who`: 0 both ends connect, 1 only the first, 2 only the second (the
    /// other joins when the Hello arrives).
    fn connect(&mut self, l: usize, who: usize) {
        self.links[l].up = true;
        for s in 0..2 {
            if who == 0 || who == s + 1 {
                let peer = self.links[l].ends[s];
                let out = self.links[l].sessions[s].connect(&self.docs[peer]);
                self.send(l, s, out);
            }
        }
        if self.hub {
            self.hub_share_presence(l);
        }
    }

    /// The hub tells a (re)joined client the presence of every other client.
    fn hub_share_presence(&mut self, l: usize) {
        let id = self.links[l].sessions[0].doc_id().clone();
        let known: Vec<Message> = (0..self.links.len())
            .filter(|&l2| l2 != l)
            .flat_map(|l2| {
                let id = id.clone();
                let entries: Vec<_> = self.links[l2].sessions[0]
                    .presence()
                    .entries()
                    .map(|(peer, clock, state)| (peer, clock, state.map(<[u8]>::to_vec)))
                    .collect();
                entries
                    .into_iter()
                    .map(move |(peer, clock, state)| Message::Presence {
                        doc: id.clone(),
                        peer,
                        clock,
                        state,
                    })
            })
            .collect();
        self.send(l, 0, known);
    }

    /// A driver's resync timer fires on side `s` of a live link: Hello again.
    fn resync(&mut self, l: usize, s: usize) {
        let peer = self.links[l].ends[s];
        let out = self.links[l].sessions[s].connect(&self.docs[peer]);
        self.send(l, s, out);
    }

    fn disconnect(&mut self, l: usize) {
        if self.hub {
            // The hub announces that the client's peers left, at their last clock.
            let id = self.links[l].sessions[0].doc_id().clone();
            let removals: Vec<Message> = self.links[l].sessions[0]
                .presence()
                .entries()
                .map(|(peer, clock, _)| Message::Presence {
                    doc: id.clone(),
                    peer,
                    clock,
                    state: None,
                })
                .collect();
            self.hub_broadcast(l, removals);
        }
        let link = &mut self.links[l];
        link.up = false;
        for s in 0..2 {
            link.sessions[s].disconnect();
            link.queues[s].clear();
        }
    }

    fn set_presence(&mut self, peer: usize, state: Vec<u8>) {
        self.presence[peer] = Some(state.clone());
        for (l, s) in self.links_of(peer) {
            let out =
                self.links[l].sessions[s].set_presence(PeerId(peer as u64), Some(state.clone()));
            if self.links[l].up {
                self.send(l, s, out);
            }
        }
    }

    /// Every link up, a Hello each way, then reliable in-order delivery until quiescent.
    fn heal(&mut self, seed: u64) {
        for l in 0..self.links.len() {
            if self.links[l].up {
                self.resync(l, 0);
                self.resync(l, 1);
                if self.hub {
                    self.hub_share_presence(l);
                }
            } else {
                self.connect(l, 0);
            }
        }
        let mut deliveries = 0usize;
        loop {
            let next = (0..self.links.len())
                .flat_map(|l| [(l, 0), (l, 1)])
                .find(|&(l, s)| !self.links[l].queues[s].is_empty());
            let Some((l, s)) = next else { break };
            self.deliver(l, s, 0, false);
            deliveries += 1;
            assert!(
                deliveries < 100_000,
                "seed {seed}: the network does not quiesce (messages ping-pong)"
            );
        }
    }

    fn check(&self, seed: u64) {
        let version = self.docs[0].version();
        for (p, doc) in self.docs.iter().enumerate() {
            assert_eq!(
                doc.version(),
                version,
                "seed {seed}: peer {p} differs from peer 0"
            );
        }
        for (l, link) in self.links.iter().enumerate() {
            for s in 0..2 {
                let me = link.ends[s];
                let session = &link.sessions[s];
                assert!(
                    session.is_synced(&self.docs[me]),
                    "seed {seed}: link {l} side {s} is not synced"
                );
                let seen: BTreeMap<PeerId, Vec<u8>> = session
                    .presence()
                    .iter()
                    .map(|(p, st)| (p, st.to_vec()))
                    .collect();
                // Whose presence this session should hold: the other end's, or, at a client of
                // the hub, every other client's.
                let expected: BTreeMap<PeerId, Vec<u8>> = (0..self.docs.len())
                    .filter(|&p| {
                        if self.hub && s == 1 {
                            p != 0 && p != me
                        } else {
                            p == link.ends[1 - s]
                        }
                    })
                    .filter_map(|p| self.presence[p].clone().map(|st| (PeerId(p as u64), st)))
                    .collect();
                assert_eq!(seen, expected, "seed {seed}: presence at link {l} side {s}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::test_doc::EventSet;
    use proptest::prelude::*;

    fn run(seed: u64, config: &SimConfig) -> SimOutcome<EventSet> {
        let outcome = simulate(
            seed,
            config,
            |peer| EventSet::new(peer as u64 + 1),
            |doc: &mut EventSet, _peer, rng| {
                doc.add(rng.next_u64());
            },
        );
        let first = outcome.docs[0].values();
        for (p, doc) in outcome.docs.iter().enumerate() {
            assert_eq!(doc.values(), first, "seed {seed}: content of peer {p}");
            assert_eq!(doc.pending(), 0, "seed {seed}: peer {p} still waits");
        }
        outcome
    }

    #[test]
    fn a_perfect_network_converges_with_few_frames() {
        let config = SimConfig {
            drop: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            ..SimConfig::star(4)
        };
        let outcome = run(1, &config);
        assert!(!outcome.docs[0].values().is_empty(), "the schedule edited");
        assert!(outcome.frames > 0 && outcome.bytes > outcome.frames);
    }

    #[test]
    fn a_busy_relay_with_six_peers_converges() {
        for seed in 0..4 {
            let config = SimConfig {
                steps: 2000,
                ..SimConfig::star(6)
            };
            let outcome = run(seed, &config);
            assert!(outcome.docs[0].values().len() > 100);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn every_peer_converges_after_the_network_heals(
            seed in any::<u64>(),
            peers in 2usize..=6,
            hub in any::<bool>(),
            drop in 0.0f64..0.4,
            duplicate in 0.0f64..0.3,
            reorder in 0.0f64..0.6,
        ) {
            let config = SimConfig { peers, hub, steps: 300, drop, duplicate, reorder };
            run(seed, &config);
        }
    }
}
