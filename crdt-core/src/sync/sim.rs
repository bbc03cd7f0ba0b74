//! A simulated network for the sync protocol, generic over the document ([`SyncDoc`]) and its
//! edits, so any document type can be run through the same schedules.
//!
//! Peers are joined by links, each a pair of [`SyncSession`]s and two queues of encoded frames
//! (every message goes through [`encode`] and [`decode`]). A [`Network`] exposes every hostile
//! thing a real network does as a method: deliver a frame (the oldest, or any: reordering), drop
//! it, deliver it and keep a copy (duplication), hold frames back for a while (delay), take a link
//! down and bring it up from one or both ends, say Hello again on a live link (a driver's resync
//! timer), and partition the peers into two groups whose links stay down until the partition
//! heals. [`simulate`] drives it from a seed ([`SimRng`]); the structured fuzzer
//! (`crate::fuzzing`) drives the same methods from fuzzer input.
//!
//! Then the network heals ([`Network::heal`]): every partition ends, every link comes up, both
//! ends say Hello, and frames are delivered reliably until no queue holds any.
//! [`Network::check`] then checks convergence: equal versions, every session synced, and presence
//! as each peer last set it. The caller compares document contents.
//!
//! Invariant checked: after the network heals, every peer holds every change some peer holds, as
//! the liveness rule of [`crate::sync`] promises, whatever the schedule before.
//!
//! With `hub`, peer 0 is a relay-like hub: it never edits, every other peer links only to it, it
//! fans changes out by calling `on_local_change` on its other sessions, forwards presence, sends a
//! joining peer the presence it knows and announces removals when a peer disconnects.
//!
//! The simulator is compiled for crdt-core's own tests and, with the `fuzzing` feature, for the
//! fuzz targets and the seeded simulation at scale. A failing [`simulate`] run panics with its
//! seed; the same seed replays the same run.
//!
//! ```
//! # #[cfg(feature = "fuzzing")] {
//! use crdt_core::sync::sim::{simulate, SimConfig};
//! use crdt_core::{Doc, ReplicaId};
//!
//! let outcome = simulate(
//!     7,
//!     &SimConfig::star(3),
//!     |peer| Doc::with_replica(ReplicaId::new(peer as u64 + 1)),
//!     |doc, peer, rng| {
//!         doc.counter("clicks").increment(1 + rng.below(3) as i64).unwrap();
//!         doc.commit();
//!     },
//! );
//! let first = outcome.docs[0].materialize();
//! assert!(outcome.docs.iter().all(|d| d.materialize() == first));
//! # }
//! ```

use std::collections::BTreeMap;

use super::message::{decode, encode, Message, PeerId};
use super::session::SyncSession;
use super::sync_doc::SyncDoc;
use super::DocId;

/// A small seeded random source (SplitMix64): the simulator must be reproducible from a seed.
#[derive(Clone, Debug)]
pub struct SimRng(u64);

impl SimRng {
    /// A source that yields the same sequence for the same seed.
    pub fn new(seed: u64) -> Self {
        SimRng(seed)
    }

    /// The next 64 random bits.
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
pub struct SimConfig {
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
    /// Chance that a frame sent is held back for up to [`MAX_DELAY`] steps.
    pub delay: f64,
    /// Chance that a step partitions the network for up to [`MAX_PARTITION`] steps.
    pub partition: f64,
}

/// The longest a delayed frame is held back, in steps.
pub const MAX_DELAY: u64 = 30;
/// The longest a partition lasts, in steps.
pub const MAX_PARTITION: u64 = 120;

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
            delay: 0.1,
            partition: 0.01,
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
pub struct SimOutcome<D> {
    /// Each peer's document, the hub's first when there is one.
    pub docs: Vec<D>,
    /// Frames sent.
    pub frames: usize,
    /// Total size of the frames sent, in bytes.
    pub bytes: usize,
}

/// The network broke a promise of the protocol: peers did not converge, a session is not synced,
/// presence is wrong, a frame did not decode, or a well-behaved peer caused an error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Divergence(pub String);

/// Which queued frame a delivery takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// The oldest frame that is not held back.
    Oldest,
    /// The `n`-th (modulo their number) of the frames not held back.
    Any(usize),
}

/// What happens to a frame picked for delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// It arrives once.
    Deliver,
    /// It is lost.
    Drop,
    /// It arrives and a copy stays queued, to arrive again.
    Duplicate,
}

/// A frame in flight.
struct Frame {
    bytes: Vec<u8>,
    /// The step from which it may be delivered (before healing).
    ready_at: u64,
}

struct Link {
    /// The peers at either end; `sessions[s]` runs at `ends[s]`, `queues[s]` holds frames to it.
    ends: [usize; 2],
    up: bool,
    /// A partition keeps the link down until this step.
    blocked_until: u64,
    sessions: [SyncSession; 2],
    queues: [Vec<Frame>; 2],
}

/// Peers, their documents and the links between them; see the [module docs](self).
pub struct Network<D> {
    docs: Vec<D>,
    links: Vec<Link>,
    hub: bool,
    /// Each peer's own presence, as it last set it.
    presence: Vec<Option<Vec<u8>>>,
    frames: usize,
    bytes: usize,
    /// Steps taken ([`Network::tick`]).
    now: u64,
    delay: f64,
    /// Decides which frames are held back (separate from the schedule's source).
    delay_rng: SimRng,
}

/// Runs one seeded schedule on `config`'s network with `make_doc(peer)` as each peer's document
/// and `edit(doc, peer, rng)` as a random local edit, heals the network and checks convergence,
/// panicking with the seed on any failure. Returns the documents for content checks.
pub fn simulate<D, M, E>(seed: u64, config: &SimConfig, make_doc: M, mut edit: E) -> SimOutcome<D>
where
    D: SyncDoc,
    M: FnMut(usize) -> D,
    E: FnMut(&mut D, usize, &mut SimRng),
{
    assert!(config.peers >= 2, "a network needs two peers");
    let fail = |e: Divergence| -> ! { panic!("seed {seed}: {e} (replay with SIM_SEED={seed})") };
    let mut rng = SimRng::new(seed);
    let docs = (0..config.peers).map(make_doc).collect();
    let mut net = Network::new(config.hub, config.delay, seed ^ 0x5eed, docs);
    let editors: Vec<usize> = net.editors().collect();
    for l in 0..net.link_count() {
        if rng.chance(0.7) {
            net.connect(l, rng.below(3));
        }
    }
    for _ in 0..config.steps {
        net.tick();
        if rng.chance(config.partition) {
            let duration = 1 + rng.next_u64() % MAX_PARTITION;
            let mask = rng.next_u64();
            net.partition(|peer| (mask >> (peer % 64)) & 1 == 1, duration);
            continue;
        }
        match rng.below(100) {
            0..=29 => {
                let peer = editors[rng.below(editors.len())];
                net.edit(peer, |doc| edit(doc, peer, &mut rng));
            }
            30..=74 => {
                let busy = net.busy_queues();
                if busy.is_empty() {
                    continue;
                }
                let (l, side) = busy[rng.below(busy.len())];
                let pick = if rng.chance(config.reorder) {
                    Pick::Any(rng.next_u64() as usize)
                } else {
                    Pick::Oldest
                };
                let fate = if rng.chance(config.drop) {
                    Fate::Drop
                } else if rng.chance(config.duplicate) {
                    Fate::Duplicate
                } else {
                    Fate::Deliver
                };
                net.deliver(l, side, pick, fate).unwrap_or_else(|e| fail(e));
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
    net.heal().unwrap_or_else(|e| fail(e));
    net.check().unwrap_or_else(|e| fail(e));
    let (frames, bytes) = net.traffic();
    SimOutcome {
        docs: net.into_docs(),
        frames,
        bytes,
    }
}

fn pick(rng: &mut SimRng, links: &[Link], want: impl Fn(&Link) -> bool) -> Option<usize> {
    let fits: Vec<usize> = (0..links.len()).filter(|&l| want(&links[l])).collect();
    (!fits.is_empty()).then(|| fits[rng.below(fits.len())])
}

impl<D: SyncDoc> Network<D> {
    /// A network of `docs.len()` peers (at least two), every link down. With `hub`, peer 0 is
    /// the hub of a star; otherwise every pair is linked. `delay` is the chance a frame is held
    /// back, decided by a source seeded with `delay_seed`.
    pub fn new(hub: bool, delay: f64, delay_seed: u64, docs: Vec<D>) -> Self {
        let peers = docs.len();
        assert!(peers >= 2, "a network needs two peers");
        let id = DocId::new("sim/doc").expect("a valid literal id");
        let pairs: Vec<[usize; 2]> = if hub {
            (1..peers).map(|c| [0, c]).collect()
        } else {
            (0..peers)
                .flat_map(|a| (a + 1..peers).map(move |b| [a, b]))
                .collect()
        };
        Network {
            docs,
            links: pairs
                .into_iter()
                .map(|ends| Link {
                    ends,
                    up: false,
                    blocked_until: 0,
                    sessions: [SyncSession::new(id.clone()), SyncSession::new(id.clone())],
                    queues: [Vec::new(), Vec::new()],
                })
                .collect(),
            hub,
            presence: vec![None; peers],
            frames: 0,
            bytes: 0,
            now: 0,
            delay,
            delay_rng: SimRng::new(delay_seed),
        }
    }

    /// The documents, the hub's first when there is one.
    pub fn docs(&self) -> &[D] {
        &self.docs
    }

    /// The documents, giving up the network.
    pub fn into_docs(self) -> Vec<D> {
        self.docs
    }

    /// Number of links.
    pub fn link_count(&self) -> usize {
        self.links.len()
    }

    /// Whether link `l` is up.
    pub fn is_up(&self, l: usize) -> bool {
        self.links[l].up
    }

    /// The peers that edit (all but the hub).
    pub fn editors(&self) -> std::ops::Range<usize> {
        usize::from(self.hub)..self.docs.len()
    }

    /// Frames sent so far, and their total size in bytes.
    pub fn traffic(&self) -> (usize, usize) {
        (self.frames, self.bytes)
    }

    /// The queues holding frames, as `(link, side)` (delayed frames included).
    pub fn busy_queues(&self) -> Vec<(usize, usize)> {
        (0..self.links.len())
            .flat_map(|l| [(l, 0), (l, 1)])
            .filter(|&(l, s)| !self.links[l].queues[s].is_empty())
            .collect()
    }

    /// One step of time passes: delayed frames come closer to delivery, partitions to their end.
    pub fn tick(&mut self) {
        self.now += 1;
    }

    /// `peer` edits its document with `f`; every live session of it then sends what it has.
    pub fn edit(&mut self, peer: usize, f: impl FnOnce(&mut D)) {
        f(&mut self.docs[peer]);
        self.doc_changed(peer);
    }

    /// Queues `messages` from side `from` of link `l` to the other side.
    fn send(&mut self, l: usize, from: usize, messages: Vec<Message>) {
        for m in messages {
            let bytes = encode(&m);
            self.frames += 1;
            self.bytes += bytes.len();
            let ready_at = if self.delay_rng.chance(self.delay) {
                self.now + 1 + self.delay_rng.next_u64() % MAX_DELAY
            } else {
                self.now
            };
            self.links[l].queues[1 - from].push(Frame { bytes, ready_at });
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

    /// Takes a frame queued to side `side` of link `l` (one not held back) and delivers, drops or
    /// duplicates it. Returns whether a frame was there to take.
    pub fn deliver(
        &mut self,
        l: usize,
        side: usize,
        pick: Pick,
        fate: Fate,
    ) -> Result<bool, Divergence> {
        let now = self.now;
        let ready: Vec<usize> = (0..self.links[l].queues[side].len())
            .filter(|&i| self.links[l].queues[side][i].ready_at <= now)
            .collect();
        let idx = match (pick, ready.as_slice()) {
            (_, []) => return Ok(false),
            (Pick::Oldest, [first, ..]) => *first,
            (Pick::Any(n), ready) => ready[n % ready.len()],
        };
        match fate {
            Fate::Drop => {
                self.links[l].queues[side].remove(idx);
            }
            Fate::Deliver | Fate::Duplicate => {
                self.receive(l, side, idx, fate == Fate::Duplicate)?
            }
        }
        Ok(true)
    }

    fn receive(&mut self, l: usize, side: usize, idx: usize, keep: bool) -> Result<(), Divergence> {
        let frame = if keep {
            self.links[l].queues[side][idx].bytes.clone()
        } else {
            self.links[l].queues[side].remove(idx).bytes
        };
        let message = decode(&frame).map_err(|e| {
            Divergence(format!("a frame the protocol encoded does not decode: {e}"))
        })?;
        let peer = self.links[l].ends[side];
        let forward = (self.hub && peer == 0 && matches!(message, Message::Presence { .. }))
            .then(|| message.clone());
        let before = self.docs[peer].version();
        let out = self.links[l].sessions[side]
            .receive(&mut self.docs[peer], message)
            .map_err(|e| Divergence(format!("a well-behaved peer caused an error: {e}")))?;
        self.send(l, side, out);
        if self.docs[peer].version() != before {
            self.doc_changed(peer);
        }
        if let Some(presence) = forward {
            self.hub_broadcast(l, vec![presence]);
        }
        Ok(())
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
    /// other joins when the Hello arrives). Nothing happens while a partition holds it down.
    pub fn connect(&mut self, l: usize, who: usize) {
        if self.links[l].blocked_until > self.now {
            return;
        }
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

    /// A driver's resync timer fires on side `s` of link `l`: Hello again (when the link is up).
    pub fn resync(&mut self, l: usize, s: usize) {
        if !self.links[l].up {
            return;
        }
        let peer = self.links[l].ends[s];
        let out = self.links[l].sessions[s].connect(&self.docs[peer]);
        self.send(l, s, out);
    }

    /// Link `l` goes down: both sessions disconnect and what was in flight is lost.
    pub fn disconnect(&mut self, l: usize) {
        if !self.links[l].up {
            return;
        }
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

    /// Splits the peers into the two groups `in_first` says, and takes down every link between
    /// the groups for `duration` steps (reconnecting them fails until then).
    pub fn partition(&mut self, in_first: impl Fn(usize) -> bool, duration: u64) {
        for l in 0..self.links.len() {
            let [a, b] = self.links[l].ends;
            if in_first(a) != in_first(b) {
                self.disconnect(l);
                let until = self.now + duration;
                let link = &mut self.links[l];
                link.blocked_until = link.blocked_until.max(until);
            }
        }
    }

    /// `peer` sets its presence; its live sessions send it.
    pub fn set_presence(&mut self, peer: usize, state: Vec<u8>) {
        self.presence[peer] = Some(state.clone());
        for (l, s) in self.links_of(peer) {
            let out =
                self.links[l].sessions[s].set_presence(PeerId(peer as u64), Some(state.clone()));
            if self.links[l].up {
                self.send(l, s, out);
            }
        }
    }

    /// Every partition ends, every link comes up, a Hello each way, then reliable in-order
    /// delivery (delays ignored) until no frame is queued.
    pub fn heal(&mut self) -> Result<(), Divergence> {
        for l in 0..self.links.len() {
            self.links[l].blocked_until = 0;
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
            self.receive(l, s, 0, false)?;
            deliveries += 1;
            if deliveries >= 100_000 {
                return Err(Divergence(
                    "the network does not quiesce (messages ping-pong)".into(),
                ));
            }
        }
        Ok(())
    }

    /// After [`Network::heal`]: every peer at the same version, every session synced, presence as
    /// each peer last set it.
    pub fn check(&self) -> Result<(), Divergence> {
        let version = self.docs[0].version();
        for (p, doc) in self.docs.iter().enumerate() {
            if doc.version() != version {
                return Err(Divergence(format!(
                    "peer {p} is at {:?}, peer 0 at {version:?}",
                    doc.version()
                )));
            }
        }
        for (l, link) in self.links.iter().enumerate() {
            for s in 0..2 {
                let me = link.ends[s];
                let session = &link.sessions[s];
                if !session.is_synced(&self.docs[me]) {
                    return Err(Divergence(format!("link {l} side {s} is not synced")));
                }
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
                if seen != expected {
                    return Err(Divergence(format!(
                        "presence at link {l} side {s}: {seen:?}, expected {expected:?}"
                    )));
                }
            }
        }
        Ok(())
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
            delay: 0.0,
            partition: 0.0,
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

    #[test]
    fn a_partition_keeps_its_links_down_until_it_heals() {
        let docs = (0..4).map(|p| EventSet::new(p + 1)).collect();
        let mut net = Network::new(false, 0.0, 0, docs);
        for l in 0..net.link_count() {
            net.connect(l, 0);
        }
        // Peers {0, 1} against {2, 3}: the four crossing links go down for 10 steps.
        net.partition(|p| p < 2, 10);
        let down: Vec<usize> = (0..net.link_count()).filter(|&l| !net.is_up(l)).collect();
        assert_eq!(down.len(), 4);
        net.edit(0, |d| {
            d.add(1);
        });
        for l in &down {
            net.connect(*l, 0);
            assert!(!net.is_up(*l), "a partitioned link stays down");
        }
        for _ in 0..10 {
            net.tick();
        }
        net.connect(down[0], 0);
        assert!(net.is_up(down[0]), "it comes up once the partition ends");
        net.heal().unwrap();
        net.check().unwrap();
        assert!(net.docs().iter().all(|d| d.values().values().eq([&1u64])));
    }

    #[test]
    fn delayed_frames_wait_their_turn() {
        let docs = (0..2).map(|p| EventSet::new(p + 1)).collect();
        let mut net = Network::new(false, 1.0, 3, docs);
        net.connect(0, 1);
        assert_eq!(net.busy_queues(), vec![(0, 1)], "the Hello is queued");
        assert_eq!(net.deliver(0, 1, Pick::Oldest, Fate::Deliver), Ok(false));
        for _ in 0..MAX_DELAY {
            net.tick();
        }
        assert_eq!(net.deliver(0, 1, Pick::Oldest, Fate::Deliver), Ok(true));
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
            delay in 0.0f64..0.3,
            partition in 0.0f64..0.03,
        ) {
            let config = SimConfig { peers, hub, steps: 300, drop, duplicate, reorder, delay, partition };
            run(seed, &config);
        }
    }
}
