//! The structured fuzz target: a [`Schedule`] (derived with `arbitrary` from fuzzer bytes) drives
//! several peers, each a real [`Doc`], through random edits and a random network schedule on the
//! simulator ([`crate::sync::sim::Network`]): deliveries out of order, drops, duplicates, delays,
//! disconnects, re-Hellos, partitions. Then the network heals, and [`run_schedule`] checks that
//! every peer converged with nothing pending, that save/load round-trips, and that each peer's
//! change events, applied to a mirror ([`EventMirror`]), rebuild exactly what it materializes.

use crate::clock::ReplicaId;
use crate::doc::Doc;
use crate::sync::sim::{Fate, Network, Pick};

use super::decoders::fingerprint;
use super::edit::{apply_edit, Edit};
use super::mirror::EventMirror;

/// At most this many steps of a schedule run (longer inputs are cut).
pub const MAX_STEPS: usize = 2_000;
/// At most this many edits of one step run.
pub const MAX_EDITS_PER_STEP: usize = 8;

/// One scheduled action. Peer, link and queue numbers are taken modulo their counts.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "fuzzing", derive(arbitrary::Arbitrary))]
pub enum Step {
    /// A peer edits; the edits become one change when `commit` (otherwise they stay open until
    /// the next commit, which an incoming batch also causes).
    Edit {
        /// Who edits.
        peer: u8,
        /// What.
        edits: Vec<Edit>,
        /// Whether to commit.
        commit: bool,
    },
    /// A frame of a busy queue is delivered, dropped or duplicated.
    Deliver {
        /// Which busy queue.
        queue: u8,
        /// Which frame: `None` the oldest, else any.
        pick: Option<u8>,
        /// 0..=1 drop, 2..=3 duplicate, else deliver.
        fate: u8,
    },
    /// A link comes up from both ends (`who` 0) or one (1, 2).
    Connect {
        /// Which link.
        link: u8,
        /// Who connects.
        who: u8,
    },
    /// A link goes down.
    Disconnect {
        /// Which link.
        link: u8,
    },
    /// A live link's end says Hello again.
    Resync {
        /// Which link.
        link: u8,
        /// Which end.
        side: bool,
    },
    /// Peers whose bit is set in `mask` are cut off from the others for `duration` steps.
    Partition {
        /// Bit `p` set: peer `p` is in the first group.
        mask: u8,
        /// How long the links stay down.
        duration: u8,
    },
    /// A peer sets its presence.
    Presence {
        /// Who.
        peer: u8,
        /// The state.
        state: u8,
    },
    /// Time passes.
    Tick(u8),
}

/// A whole fuzz case: the network and what happens on it.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "fuzzing", derive(arbitrary::Arbitrary))]
pub struct Schedule {
    /// Peers, 2 + `peers % 4` (the hub included).
    pub peers: u8,
    /// Whether peer 0 is a relay-like hub.
    pub hub: bool,
    /// Chance in 256 that a frame is delayed.
    pub delay: u8,
    /// Seeds the delays.
    pub delay_seed: u64,
    /// The actions.
    pub steps: Vec<Step>,
}

/// Runs `schedule` and checks its outcome; panics on any broken invariant.
pub fn run_schedule(schedule: &Schedule) {
    let peers = 2 + usize::from(schedule.peers % 4);
    let mut mirrors = Vec::new();
    let docs = (0..peers)
        .map(|p| {
            let mut doc = Doc::with_replica(ReplicaId::new(p as u64 + 1));
            mirrors.push(EventMirror::attach(&mut doc));
            doc
        })
        .collect();
    let delay = f64::from(schedule.delay) / 256.0;
    let mut net = Network::new(schedule.hub, delay, schedule.delay_seed, docs);
    let editors = net.editors();
    let links = net.link_count();
    for step in schedule.steps.iter().take(MAX_STEPS) {
        net.tick();
        match step {
            Step::Edit {
                peer,
                edits,
                commit,
            } => {
                let peer = editors.start + usize::from(*peer) % editors.len();
                net.edit(peer, |doc| {
                    for edit in edits.iter().take(MAX_EDITS_PER_STEP) {
                        apply_edit(doc, edit).expect("a local edit of a live document applies");
                    }
                    if *commit {
                        doc.commit();
                    }
                });
                if *commit {
                    check_mirror(&net.docs()[peer], &mut mirrors[peer], peer);
                }
            }
            Step::Deliver { queue, pick, fate } => {
                let busy = net.busy_queues();
                if busy.is_empty() {
                    continue;
                }
                let (l, side) = busy[usize::from(*queue) % busy.len()];
                let pick = pick.map_or(Pick::Oldest, |n| Pick::Any(n.into()));
                let fate = match fate {
                    0..=1 => Fate::Drop,
                    2..=3 => Fate::Duplicate,
                    _ => Fate::Deliver,
                };
                if let Err(e) = net.deliver(l, side, pick, fate) {
                    panic!("{e}");
                }
            }
            Step::Connect { link, who } => {
                net.connect(usize::from(*link) % links, usize::from(who % 3))
            }
            Step::Disconnect { link } => net.disconnect(usize::from(*link) % links),
            Step::Resync { link, side } => {
                net.resync(usize::from(*link) % links, usize::from(*side))
            }
            Step::Partition { mask, duration } => {
                net.partition(|p| (mask >> (p % 8)) & 1 == 1, u64::from(*duration));
            }
            Step::Presence { peer, state } => {
                let peer = editors.start + usize::from(*peer) % editors.len();
                net.set_presence(peer, vec![*state]);
            }
            Step::Tick(n) => {
                for _ in 0..*n {
                    net.tick();
                }
            }
        }
    }
    // Commit what is open, so that everything is in every version, then heal.
    for peer in editors.clone() {
        net.edit(peer, |doc| {
            doc.commit();
        });
    }
    if let Err(e) = net.heal().and_then(|()| net.check()) {
        panic!("{e}");
    }
    let docs = net.into_docs();
    let expected = fingerprint(&docs[0]);
    for (p, mut doc) in docs.into_iter().enumerate() {
        assert_eq!(doc.pending_count(), 0, "peer {p} still waits");
        assert_eq!(fingerprint(&doc), expected, "peer {p} differs from peer 0");
        check_mirror(&doc, &mut mirrors[p], p);
        let loaded = Doc::load_with_replica(&doc.save(), doc.replica()).expect("a saved doc loads");
        assert_eq!(
            fingerprint(&loaded),
            expected,
            "peer {p}: save/load changed the document"
        );
    }
}

/// The events `doc` emitted, applied to its mirror, rebuild what `doc` materializes.
fn check_mirror(doc: &Doc, mirror: &mut EventMirror, peer: usize) {
    if let Err(e) = mirror.catch_up() {
        panic!("peer {peer}: {e}");
    }
    assert_eq!(
        format!("{:?}", mirror.materialize()),
        format!("{:?}", doc.materialize()),
        "peer {peer}: the change events disagree with the state"
    );
}
