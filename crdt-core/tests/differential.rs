//! Differential tests of the sequence engine: random concurrent histories are run on the fast
//! engine (`Sequence`, and `Text` through its encoded sync path) and, op for op, on the simple
//! reference implementation in `support/reference.rs`; after every step each replica's content must
//! equal its reference's, and after a full sync all replicas must be equal.
//!
//! Delivery is causal but otherwise adversarial: ops go one at a time in any causally valid order,
//! in pairwise syncs (whole or partial), and again as duplicates.
//!
//! Also here: the non-interleaving guarantee of FugueMax for runs typed forward and backward, and
//! the reference's own checks (so that the oracle is itself tested).

mod support;

use std::collections::BTreeSet;

use crdt_core::seq::{SeqOp, SeqPatch, Sequence, TextContent};
use crdt_core::{Dot, ReplicaId, Text};
use proptest::prelude::*;
use support::reference::ReferenceSequence;

type Op = SeqOp<TextContent>;

// ---------------------------------------------------------------------------------------------
// The two implementations behind one interface, so the same scenarios run on both.

fn content(text: &str) -> TextContent {
    TextContent::from(text)
}

fn engine_string(seq: &Sequence<TextContent>) -> String {
    seq.iter().map(TextContent::as_str).collect()
}

fn reference_string(seq: &ReferenceSequence<TextContent>) -> String {
    seq.visible().map(|c| c.as_str()).collect()
}

/// A replica of either implementation: local edits produce ops, remote ops are applied.
trait Replica {
    fn insert(&mut self, pos: usize, text: &str, first: Dot) -> Op;
    fn delete(&mut self, pos: usize, len: usize) -> Vec<Op>;
    fn apply(&mut self, op: &Op);
    fn text(&self) -> String;
}

impl Replica for Sequence<TextContent> {
    fn insert(&mut self, pos: usize, text: &str, first: Dot) -> Op {
        self.local_insert(pos, content(text), first)
            .expect("in-range local insert")
    }
    fn delete(&mut self, pos: usize, len: usize) -> Vec<Op> {
        self.local_delete(pos, len).expect("in-range local delete")
    }
    fn apply(&mut self, op: &Op) {
        Sequence::apply(self, op).expect("causally delivered op applies");
    }
    fn text(&self) -> String {
        engine_string(self)
    }
}

impl Replica for ReferenceSequence<TextContent> {
    fn insert(&mut self, pos: usize, text: &str, first: Dot) -> Op {
        self.local_insert(pos, content(text), first)
            .expect("in-range local insert")
    }
    fn delete(&mut self, pos: usize, len: usize) -> Vec<Op> {
        self.local_delete(pos, len).expect("in-range local delete")
    }
    fn apply(&mut self, op: &Op) {
        ReferenceSequence::apply(self, op).expect("causally delivered op applies");
    }
    fn text(&self) -> String {
        reference_string(self)
    }
}

// ---------------------------------------------------------------------------------------------
// Non-interleaving: concurrent runs typed at the same place never mix.

/// Types `text` at `pos` one character per op, forward (each after the previous) or backward
/// (each before the previous, as when typing with the cursor moved left after every key).
fn type_run(
    replica: &mut impl Replica,
    id: ReplicaId,
    counter: &mut u64,
    pos: usize,
    text: &str,
    forward: bool,
) -> Vec<Op> {
    let chars: Vec<char> = text.chars().collect();
    let order: Vec<(usize, char)> = if forward {
        chars.iter().copied().enumerate().collect()
    } else {
        chars.iter().copied().enumerate().rev().collect()
    };
    let mut ops = Vec::new();
    for (i, ch) in order {
        let at = if forward { pos + i } else { pos };
        ops.push(replica.insert(at, &ch.to_string(), Dot::new(id, *counter)));
        *counter += 1;
    }
    ops
}

/// Replicas with ids `ids` share `base` (with `tombstones` deleted right at `spot`), then each
/// types its run at `spot` concurrently; ops are exchanged (each receiver gets the others' runs in
/// a different interleaving) and the merged text is returned, checked equal on all replicas.
fn concurrent_runs<R: Replica>(
    make: impl Fn() -> R,
    ids: &[u64],
    runs: &[(&str, bool)],
    spot: usize,
    tombstones: &str,
) -> String {
    let base = format!("{}{tombstones}{}", &"1234"[..spot], &"1234"[spot..]);
    let mut replicas: Vec<R> = ids.iter().map(|_| make()).collect();
    let mut counters: Vec<u64> = vec![1; ids.len()];
    let setup_id = ReplicaId::new(1_000);
    let mut setup_ops = vec![replicas[0].insert(0, &base, Dot::new(setup_id, 1))];
    if !tombstones.is_empty() {
        setup_ops.extend(replicas[0].delete(spot, tombstones.chars().count()));
    }
    for replica in replicas.iter_mut().skip(1) {
        for op in &setup_ops {
            replica.apply(op);
        }
    }
    let runs_ops: Vec<Vec<Op>> = replicas
        .iter_mut()
        .zip(ids)
        .zip(&mut counters)
        .zip(runs)
        .map(|(((replica, &id), counter), &(text, forward))| {
            type_run(replica, ReplicaId::new(id), counter, spot, text, forward)
        })
        .collect();
    for (r, replica) in replicas.iter_mut().enumerate() {
        // Round-robin over the other replicas' runs, starting at a different one per receiver.
        let others: Vec<&Vec<Op>> = (1..runs_ops.len())
            .map(|k| &runs_ops[(r + k) % runs_ops.len()])
            .collect();
        let longest = others.iter().map(|o| o.len()).max().unwrap_or(0);
        for i in 0..longest {
            for ops in &others {
                if let Some(op) = ops.get(i) {
                    replica.apply(op);
                }
            }
        }
    }
    let merged = replicas[0].text();
    for replica in &replicas[1..] {
        assert_eq!(replica.text(), merged, "replicas diverged");
    }
    merged
}

/// Every order of the runs, concatenated and placed in the base text at the spot.
fn allowed_results(runs: &[(&str, bool)], spot: usize) -> BTreeSet<String> {
    fn permutations(items: &[&str]) -> Vec<String> {
        if items.len() <= 1 {
            return vec![items.concat()];
        }
        let mut out = Vec::new();
        for i in 0..items.len() {
            let mut rest = items.to_vec();
            let first = rest.remove(i);
            for tail in permutations(&rest) {
                out.push(format!("{first}{tail}"));
            }
        }
        out
    }
    let base: Vec<char> = "1234".chars().collect();
    let texts: Vec<&str> = runs.iter().map(|r| r.0).collect();
    permutations(&texts)
        .into_iter()
        .map(|middle| {
            let head: String = base[..spot].iter().collect();
            let tail: String = base[spot..].iter().collect();
            format!("{head}{middle}{tail}")
        })
        .collect()
}

fn assert_no_interleaving(runs: &[(&str, bool)]) {
    let id_orders: Vec<Vec<u64>> = match runs.len() {
        2 => vec![vec![1, 2], vec![2, 1]],
        _ => vec![vec![1, 2, 3], vec![3, 1, 2], vec![2, 3, 1]],
    };
    for ids in &id_orders {
        for spot in [0, 2, 4] {
            for tombstones in ["", "de"] {
                let allowed = allowed_results(runs, spot);
                let on_engine = concurrent_runs(Sequence::new, ids, runs, spot, tombstones);
                let on_reference =
                    concurrent_runs(ReferenceSequence::new, ids, runs, spot, tombstones);
                let context =
                    format!("runs {runs:?}, ids {ids:?}, spot {spot}, tombstones {tombstones:?}");
                assert!(
                    allowed.contains(&on_engine),
                    "engine interleaved: {on_engine:?} ({context})"
                );
                assert!(
                    allowed.contains(&on_reference),
                    "reference interleaved: {on_reference:?} ({context})"
                );
                assert_eq!(on_engine, on_reference, "{context}");
            }
        }
    }
}

#[test]
fn two_runs_typed_forward_do_not_interleave() {
    assert_no_interleaving(&[("abc", true), ("xyz", true)]);
}

#[test]
fn two_runs_typed_backward_do_not_interleave() {
    assert_no_interleaving(&[("abc", false), ("xyz", false)]);
}

#[test]
fn a_forward_and_a_backward_run_do_not_interleave() {
    assert_no_interleaving(&[("abc", true), ("xyz", false)]);
    assert_no_interleaving(&[("abc", false), ("xyz", true)]);
}

#[test]
fn three_runs_do_not_interleave() {
    assert_no_interleaving(&[("abc", true), ("xyz", true), ("uvw", true)]);
    assert_no_interleaving(&[("abc", false), ("xyz", false), ("uvw", false)]);
    assert_no_interleaving(&[("abc", true), ("xyz", false), ("uvw", true)]);
}

#[test]
fn text_runs_synced_through_bytes_do_not_interleave() {
    for (forward_a, forward_b) in [(true, true), (false, false), (true, false)] {
        let mut a = Text::new(ReplicaId::new(1));
        a.insert(0, "1234").expect("insert into empty text");
        let mut b = Text::new(ReplicaId::new(2));
        b.apply_encoded(&a.encode_ops_since(b.version()))
            .expect("a's ops apply to b");
        for (text, forward, word) in [(&mut a, forward_a, "abc"), (&mut b, forward_b, "xyz")] {
            for (i, ch) in word.chars().enumerate() {
                let at = if forward { 2 + i } else { 2 };
                let ch = if forward {
                    ch
                } else {
                    word.chars().rev().nth(i).unwrap_or(ch)
                };
                text.insert(at, &ch.to_string()).expect("in-range insert");
            }
            assert!(text.to_string().contains(word), "{text}");
        }
        let to_b = a.encode_ops_since(b.version());
        let to_a = b.encode_ops_since(a.version());
        b.apply_encoded(&to_b).expect("a's run applies to b");
        a.apply_encoded(&to_a).expect("b's run applies to a");
        assert_eq!(a.to_string(), b.to_string());
        let merged = a.to_string();
        assert!(
            merged == "12abcxyz34" || merged == "12xyzabc34",
            "interleaved: {merged:?} (forward: {forward_a}, {forward_b})"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The reference on its own: a handful of fixed cases whose answer is known from the papers.

#[test]
fn reference_orders_concurrent_inserts_by_replica_id() {
    let (a, b) = (ReplicaId::new(1), ReplicaId::new(2));
    let mut left = ReferenceSequence::<TextContent>::new();
    let mut right = ReferenceSequence::<TextContent>::new();
    let op_b = right.local_insert(0, content("B"), Dot::new(b, 1)).unwrap();
    let op_a = left.local_insert(0, content("A"), Dot::new(a, 1)).unwrap();
    left.apply(&op_b).unwrap();
    right.apply(&op_a).unwrap();
    assert_eq!(reference_string(&left), "AB");
    assert_eq!(reference_string(&right), "AB");
    // Duplicates change nothing.
    assert!(!left.apply(&op_b).unwrap());
    assert_eq!(reference_string(&left), "AB");
}

#[test]
fn reference_rejects_ops_on_unknown_elements() {
    let mut seq = ReferenceSequence::<TextContent>::new();
    let ghost = Dot::new(ReplicaId::new(9), 4);
    let insert = SeqOp::Insert {
        id: Dot::new(ReplicaId::new(1), 1),
        origin_left: Some(ghost),
        origin_right: None,
        content: content("x"),
    };
    assert!(seq.apply(&insert).is_err());
    assert!(seq
        .apply(&SeqOp::Delete {
            target: ghost,
            len: 1
        })
        .is_err());
    assert_eq!(seq.len(), 0);
}

#[test]
fn reference_run_inserts_split_and_delete_by_id_runs() {
    let a = ReplicaId::new(1);
    let mut seq = ReferenceSequence::<TextContent>::new();
    seq.local_insert(0, content("hello"), Dot::new(a, 1))
        .unwrap();
    seq.local_insert(2, content("XY"), Dot::new(a, 6)).unwrap();
    assert_eq!(reference_string(&seq), "heXYllo");
    let ops = seq.local_delete(1, 4).unwrap();
    // "eXYl" = e(a1), X(a6), Y(a7), l(a3): three runs of consecutive counters.
    assert_eq!(ops.len(), 3);
    assert_eq!(reference_string(&seq), "hlo");
    assert_eq!(seq.len(), 3);
    assert!(seq.local_delete(2, 2).is_err());
}

// ---------------------------------------------------------------------------------------------
// Random concurrent histories on `Sequence`, op for op against the reference.

/// One step of a random history. Indices are reduced modulo what exists when the step runs.
#[derive(Clone, Debug)]
enum Step {
    Insert {
        replica: usize,
        pos: usize,
        text: String,
    },
    Delete {
        replica: usize,
        pos: usize,
        len: usize,
    },
    /// Deliver one causally ready op (chosen among all of them) to `replica`.
    DeliverOne { replica: usize, pick: usize },
    /// Deliver to `to` the first `limit` ops `from` has and `to` lacks, in `from`'s order.
    Sync {
        from: usize,
        to: usize,
        limit: usize,
    },
    /// Deliver again an op `replica` already applied.
    Duplicate { replica: usize, pick: usize },
    /// Replace `replica`'s engine (and text) by one decoded from its snapshot; later ops must
    /// still integrate exactly as on the reference (tombstones and origins survive).
    Snapshot { replica: usize },
}

fn text_strategy() -> impl Strategy<Value = String> {
    // Mostly short words, some multi-byte and astral characters (UTF-16 surrogate pairs).
    prop::collection::vec(
        prop_oneof![
            8 => prop::char::range('a', 'e'),
            1 => Just('é'),
            1 => Just('😀'),
        ],
        1..5,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn step_strategy() -> impl Strategy<Value = Step> {
    let r = 0usize..5;
    prop_oneof![
        4 => (r.clone(), any::<usize>(), text_strategy())
            .prop_map(|(replica, pos, text)| Step::Insert { replica, pos, text }),
        2 => (r.clone(), any::<usize>(), 1usize..5)
            .prop_map(|(replica, pos, len)| Step::Delete { replica, pos, len }),
        3 => (r.clone(), any::<usize>()).prop_map(|(replica, pick)| Step::DeliverOne { replica, pick }),
        2 => (r.clone(), r.clone(), 1usize..20)
            .prop_map(|(from, to, limit)| Step::Sync { from, to, limit }),
        1 => (r.clone(), any::<usize>()).prop_map(|(replica, pick)| Step::Duplicate { replica, pick }),
        1 => r.prop_map(|replica| Step::Snapshot { replica }),
    ]
}

/// An op in the history, with the causal context it was made in.
struct Logged {
    op: Op,
    /// For each replica, how many of its ops the author had applied when it made this one.
    deps: Vec<usize>,
}

/// A replica of the simulation: the engine under test and its reference, fed the same ops.
struct Peer {
    id: ReplicaId,
    engine: Sequence<TextContent>,
    reference: ReferenceSequence<TextContent>,
    next_counter: u64,
    /// For each author, how many of its ops this peer has applied (a prefix of its log).
    applied: Vec<usize>,
    /// `(author, index)` of every op applied, in the order applied (a causal order).
    order: Vec<(usize, usize)>,
}

struct World {
    peers: Vec<Peer>,
    logs: Vec<Vec<Logged>>,
    /// When set, each peer also has a [`Text`] (same replica id) that receives the same local
    /// edits and syncs through `encode_ops_since` / `apply_encoded`; it must stay equal to the
    /// peer's engine and reference.
    texts: Option<Vec<Text>>,
    /// Batches already applied by a text, with the index of that text: replaying one must change
    /// nothing.
    stale: Vec<(usize, Vec<u8>)>,
}

impl World {
    fn new(ids: &[u64], with_texts: bool) -> World {
        let n = ids.len();
        World {
            texts: with_texts.then(|| {
                ids.iter()
                    .map(|&id| Text::new(ReplicaId::new(id)))
                    .collect()
            }),
            stale: Vec::new(),
            peers: ids
                .iter()
                .map(|&id| Peer {
                    id: ReplicaId::new(id),
                    engine: Sequence::new(),
                    reference: ReferenceSequence::new(),
                    next_counter: 1,
                    applied: vec![0; n],
                    order: Vec::new(),
                })
                .collect(),
            logs: (0..n).map(|_| Vec::new()).collect(),
        }
    }

    fn check(&self, r: usize, context: &str) -> Result<(), TestCaseError> {
        self.check_engine(r, context)?;
        if let Some(texts) = &self.texts {
            let engine = engine_string(&self.peers[r].engine);
            prop_assert_eq!(texts[r].to_string(), engine, "text {} after {}", r, context);
            prop_assert_eq!(texts[r].utf16_len(), self.peers[r].engine.utf16_len());
        }
        Ok(())
    }

    /// Checks a peer's engine against its reference (not its text, which syncs in batches).
    fn check_engine(&self, r: usize, context: &str) -> Result<(), TestCaseError> {
        let peer = &self.peers[r];
        let engine = engine_string(&peer.engine);
        let reference = reference_string(&peer.reference);
        prop_assert_eq!(
            &engine,
            &reference,
            "replica {} ({:?}) differs from its reference after {}; reference order {:?}",
            r,
            peer.id,
            context,
            peer.reference.ids()
        );
        prop_assert_eq!(peer.engine.len(), engine.chars().count());
        prop_assert_eq!(
            peer.engine.utf16_len(),
            engine.encode_utf16().count(),
            "utf16_len"
        );
        Ok(())
    }

    /// Text mode: `to` applies what `from` has and it lacks, as bytes.
    fn sync_texts(&mut self, from: usize, to: usize) -> Result<(), TestCaseError> {
        if let Some(texts) = &mut self.texts {
            let bytes = texts[from].encode_ops_since(texts[to].version());
            if let Err(e) = texts[to].apply_encoded(&bytes) {
                return Err(TestCaseError::fail(format!(
                    "text {to} refused a batch from {from}: {e}"
                )));
            }
            let (have, sent) = (texts[to].version().clone(), texts[from].version());
            prop_assert!(
                have.dominates(sent),
                "text {} lacks ops of {} after sync",
                to,
                from
            );
            self.stale.push((to, bytes));
        }
        Ok(())
    }

    fn record_local(&mut self, r: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
        for op in ops {
            let peer = &mut self.peers[r];
            let changed = peer.reference.apply(&op);
            prop_assert_eq!(changed, Ok(true), "reference refused local op {:?}", op);
            let deps = peer.applied.clone();
            let index = self.logs[r].len();
            peer.applied[r] += 1;
            peer.order.push((r, index));
            self.logs[r].push(Logged { op, deps });
        }
        Ok(())
    }

    fn ready(&self, r: usize, author: usize, index: usize) -> bool {
        let peer = &self.peers[r];
        peer.applied[author] == index
            && self.logs[author][index]
                .deps
                .iter()
                .zip(&peer.applied)
                .all(|(need, have)| have >= need)
    }

    /// Delivers op `index` of `author` to replica `r` (which must be ready for it).
    fn deliver(&mut self, r: usize, author: usize, index: usize) -> Result<(), TestCaseError> {
        let op = &self.logs[author][index].op;
        let peer = &mut self.peers[r];
        let before: Vec<char> = engine_string(&peer.engine).chars().collect();
        let patches = match peer.engine.apply(op) {
            Ok(patches) => patches,
            Err(e) => return Err(TestCaseError::fail(format!("engine refused {op:?}: {e}"))),
        };
        let changed = peer.reference.apply(op);
        prop_assert!(changed.is_ok(), "reference refused {:?}: {:?}", op, changed);
        peer.applied[author] += 1;
        peer.order.push((author, index));
        check_patches(&before, &patches, &engine_string(&peer.engine))?;
        self.check_engine(r, &format!("delivering {op:?}"))
    }

    fn run(&mut self, step: &Step) -> Result<(), TestCaseError> {
        let n = self.peers.len();
        match step {
            Step::Insert { replica, pos, text } => {
                let r = replica % n;
                let peer = &mut self.peers[r];
                let before: Vec<char> = engine_string(&peer.engine).chars().collect();
                let pos = pos % (before.len() + 1);
                let first = Dot::new(peer.id, peer.next_counter);
                let op = match peer.engine.local_insert(pos, content(text), first) {
                    Ok(op) => op,
                    Err(e) => return Err(TestCaseError::fail(format!("local insert: {e}"))),
                };
                peer.next_counter += text.chars().count() as u64;
                let mut expected = before;
                expected.splice(pos..pos, text.chars());
                prop_assert_eq!(
                    engine_string(&peer.engine),
                    expected.iter().collect::<String>()
                );
                self.record_local(r, vec![op])?;
                if let Some(texts) = &mut self.texts {
                    prop_assert!(texts[r].insert(pos, text).is_ok());
                }
                self.check(r, &format!("inserting {text:?} at {pos}"))
            }
            Step::Delete { replica, pos, len } => {
                let r = replica % n;
                let peer = &mut self.peers[r];
                let before: Vec<char> = engine_string(&peer.engine).chars().collect();
                if before.is_empty() {
                    return Ok(());
                }
                let pos = pos % before.len();
                let len = (*len).min(before.len() - pos);
                let ops = match peer.engine.local_delete(pos, len) {
                    Ok(ops) => ops,
                    Err(e) => return Err(TestCaseError::fail(format!("local delete: {e}"))),
                };
                let mut expected = before;
                expected.drain(pos..pos + len);
                prop_assert_eq!(
                    engine_string(&peer.engine),
                    expected.iter().collect::<String>()
                );
                self.record_local(r, ops)?;
                if let Some(texts) = &mut self.texts {
                    prop_assert!(texts[r].delete(pos, len).is_ok());
                }
                self.check(r, &format!("deleting {len} at {pos}"))
            }
            Step::DeliverOne { replica, pick } if self.texts.is_some() => self.run(&Step::Sync {
                from: pick % n,
                to: *replica,
                limit: usize::MAX,
            }),
            Step::DeliverOne { replica, pick } => {
                let r = replica % n;
                let ready: Vec<(usize, usize)> = (0..n)
                    .filter(|&a| a != r)
                    .map(|a| (a, self.peers[r].applied[a]))
                    .filter(|&(a, i)| i < self.logs[a].len() && self.ready(r, a, i))
                    .collect();
                if ready.is_empty() {
                    return Ok(());
                }
                let (author, index) = ready[pick % ready.len()];
                self.deliver(r, author, index)
            }
            Step::Sync { from, to, limit } => {
                let (from, to) = (from % n, to % n);
                if from == to {
                    return Ok(());
                }
                // Texts sync whole batches only.
                let limit = if self.texts.is_some() {
                    &usize::MAX
                } else {
                    limit
                };
                let lacking: Vec<(usize, usize)> = self.peers[from]
                    .order
                    .iter()
                    .copied()
                    .filter(|&(a, i)| self.peers[to].applied[a] <= i)
                    .take(*limit)
                    .collect();
                for (author, index) in lacking {
                    prop_assert!(self.ready(to, author, index), "sync order is causal");
                    self.deliver(to, author, index)?;
                }
                self.sync_texts(from, to)?;
                self.check(to, &format!("syncing {from} to {to}"))
            }
            Step::Snapshot { replica } => {
                let r = replica % n;
                let bytes = self.peers[r].engine.encode_state();
                match Sequence::decode_state(&bytes) {
                    Ok(engine) => self.peers[r].engine = engine,
                    Err(e) => return Err(TestCaseError::fail(format!("snapshot: {e}"))),
                }
                if let Some(texts) = &mut self.texts {
                    match Text::decode_state(&texts[r].encode_state()) {
                        Ok(text) => texts[r] = text,
                        Err(e) => return Err(TestCaseError::fail(format!("text snapshot: {e}"))),
                    }
                }
                self.check(r, "reloading from a snapshot")
            }
            Step::Duplicate { pick, .. } if self.texts.is_some() => {
                if self.stale.is_empty() {
                    return Ok(());
                }
                let (r, bytes) = &self.stale[pick % self.stale.len()];
                let texts = self.texts.as_mut().expect("guarded by the match arm");
                let before = texts[*r].to_string();
                prop_assert_eq!(texts[*r].apply_encoded(bytes), Ok(0), "replayed batch");
                prop_assert_eq!(texts[*r].to_string(), before);
                self.check(*r, "replaying a batch")
            }
            Step::Duplicate { replica, pick } => {
                let r = replica % n;
                if self.peers[r].order.is_empty() {
                    return Ok(());
                }
                let (author, index) = self.peers[r].order[pick % self.peers[r].order.len()];
                let op = &self.logs[author][index].op;
                let peer = &mut self.peers[r];
                let before = engine_string(&peer.engine);
                match peer.engine.apply(op) {
                    Ok(patches) => prop_assert!(patches.is_empty(), "duplicate gave {:?}", patches),
                    Err(e) => return Err(TestCaseError::fail(format!("duplicate refused: {e}"))),
                }
                prop_assert_eq!(peer.reference.apply(op), Ok(false));
                prop_assert_eq!(engine_string(&peer.engine), before);
                self.check(r, &format!("duplicating {op:?}"))
            }
        }
    }

    /// Delivers everything to everyone, then checks all replicas agree.
    fn sync_all(&mut self) -> Result<(), TestCaseError> {
        let n = self.peers.len();
        for _round in 0..2 {
            for from in 0..n {
                for to in 0..n {
                    self.run(&Step::Sync {
                        from,
                        to,
                        limit: usize::MAX,
                    })?;
                }
            }
        }
        let first = engine_string(&self.peers[0].engine);
        for (r, peer) in self.peers.iter().enumerate() {
            prop_assert_eq!(
                &peer.applied,
                &self.peers[0].applied,
                "replica {} lacks ops",
                r
            );
            prop_assert_eq!(
                engine_string(&peer.engine),
                first.clone(),
                "replica {} diverged",
                r
            );
            prop_assert_eq!(reference_string(&peer.reference), first.clone());
            prop_assert_eq!(peer.reference.ids(), self.peers[0].reference.ids());
            for log in &self.logs {
                for logged in log {
                    if let SeqOp::Insert { id, .. } = &logged.op {
                        prop_assert!(peer.engine.contains(*id));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Checks that `patches`, applied in order to the text `before`, account for `after`: positions
/// and lengths must be in range, untouched characters must stay where the patches say.
fn check_patches(before: &[char], patches: &[SeqPatch], after: &str) -> Result<(), TestCaseError> {
    let mut mirror: Vec<Option<char>> = before.iter().copied().map(Some).collect();
    for patch in patches {
        match *patch {
            SeqPatch::Insert { pos, len } => {
                prop_assert!(pos <= mirror.len() && len > 0, "bad patch {:?}", patch);
                mirror.splice(pos..pos, std::iter::repeat_n(None, len));
            }
            SeqPatch::Delete {
                pos,
                len,
                len_utf16,
            } => {
                prop_assert!(
                    pos + len <= mirror.len() && len > 0,
                    "bad patch {:?}",
                    patch
                );
                let gone: Vec<Option<char>> = mirror.drain(pos..pos + len).collect();
                // Characters inserted by an earlier patch of the same batch are unknown here.
                if gone.iter().all(Option::is_some) {
                    let units: usize = gone.iter().flatten().map(|c| c.len_utf16()).sum();
                    prop_assert_eq!(len_utf16, units, "UTF-16 length of {:?}", patch);
                }
            }
        }
    }
    let after: Vec<char> = after.chars().collect();
    prop_assert_eq!(mirror.len(), after.len(), "patches {:?}", patches);
    for (i, (m, a)) in mirror.iter().zip(&after).enumerate() {
        if let Some(m) = m {
            prop_assert_eq!(m, a, "patches {:?} misplace char {}", patches, i);
        }
    }
    Ok(())
}

/// Distinct replica ids in a random order, so that the tie-break favours any of them.
fn ids_strategy() -> impl Strategy<Value = Vec<u64>> {
    (2usize..=5).prop_flat_map(|n| {
        prop::sample::subsequence(vec![3u64, 7, 11, 42, 1 << 40, u64::MAX], n).prop_shuffle()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn sequence_matches_reference_under_random_schedules(
        ids in ids_strategy(),
        steps in prop::collection::vec(step_strategy(), 1..60),
    ) {
        let mut world = World::new(&ids, false);
        for step in &steps {
            world.run(step)?;
        }
        world.sync_all()?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// The same histories on `Text`, synced as bytes: every text must equal its peer's engine and
    /// reference after every step (same replica ids, so the same tie-breaks).
    #[test]
    fn text_synced_as_bytes_matches_reference(
        ids in ids_strategy(),
        steps in prop::collection::vec(step_strategy(), 1..60),
    ) {
        let mut world = World::new(&ids, true);
        for step in &steps {
            world.run(step)?;
        }
        world.sync_all()?;
        let texts = world.texts.as_ref().expect("text mode");
        for text in texts {
            prop_assert_eq!(text.version(), texts[0].version());
        }
    }
}

/// Long histories of single-character edits at random places: thousands of runs, so the
/// engine's B-tree splits leaves and inner nodes (the short histories above stay in one leaf).
fn long_step_strategy() -> impl Strategy<Value = Step> {
    let r = 0usize..3;
    prop_oneof![
        12 => (r.clone(), any::<usize>(), prop::char::range('a', 'z'))
            .prop_map(|(replica, pos, c)| Step::Insert { replica, pos, text: c.to_string() }),
        3 => (r.clone(), any::<usize>(), 1usize..3)
            .prop_map(|(replica, pos, len)| Step::Delete { replica, pos, len }),
        2 => (r.clone(), any::<usize>()).prop_map(|(replica, pick)| Step::DeliverOne { replica, pick }),
        1 => (r.clone(), r.clone(), 1usize..200)
            .prop_map(|(from, to, limit)| Step::Sync { from, to, limit }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2))]

    #[test]
    fn long_histories_match_reference(
        ids in prop::sample::subsequence(vec![5u64, 6, 1 << 33], 3).prop_shuffle(),
        steps in prop::collection::vec(long_step_strategy(), 4000),
    ) {
        let mut world = World::new(&ids, false);
        for step in &steps {
            world.run(step)?;
        }
        world.sync_all()?;
        let stats = world.peers[0].engine.stats(|c| c.as_str().len());
        prop_assert!(stats.leaves > 32, "the tree stayed small: {:?}", stats);
    }
}

// ---------------------------------------------------------------------------------------------
// The reference alone under the same schedules: its own local ops, convergence and intent.
// (If the oracle were wrong, agreement with it would prove nothing.)

/// A replica of the reference-only simulation: the set of log entries it has applied.
struct ReferencePeer {
    seq: ReferenceSequence<TextContent>,
    applied: BTreeSet<usize>,
}

fn apply_logged(
    peer: &mut ReferencePeer,
    log: &[(Op, BTreeSet<usize>)],
    index: usize,
) -> Result<(), TestCaseError> {
    prop_assert!(log[index].1.is_subset(&peer.applied), "delivery is causal");
    let changed = peer.seq.apply(&log[index].0);
    prop_assert!(changed.is_ok(), "{:?}", changed);
    peer.applied.insert(index);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn reference_converges_and_keeps_local_intent(
        ids in ids_strategy(),
        steps in prop::collection::vec(step_strategy(), 1..50),
    ) {
        let n = ids.len();
        let mut peers: Vec<ReferencePeer> = ids
            .iter()
            .map(|_| ReferencePeer { seq: ReferenceSequence::new(), applied: BTreeSet::new() })
            .collect();
        let mut counters = vec![1u64; n];
        // Every op with the set of log entries its author had applied (its causal past).
        let mut log: Vec<(Op, BTreeSet<usize>)> = Vec::new();
        let fail = |e| TestCaseError::fail(format!("{e:?}"));
        for step in &steps {
            match step {
                Step::Insert { replica, pos, text } => {
                    let r = replica % n;
                    let peer = &mut peers[r];
                    let mut expected: Vec<char> = reference_string(&peer.seq).chars().collect();
                    let pos = pos % (expected.len() + 1);
                    let first = Dot::new(ReplicaId::new(ids[r]), counters[r]);
                    let op = peer.seq.local_insert(pos, content(text), first).map_err(fail)?;
                    counters[r] += text.chars().count() as u64;
                    expected.splice(pos..pos, text.chars());
                    prop_assert_eq!(reference_string(&peer.seq), expected.iter().collect::<String>());
                    log.push((op, peer.applied.clone()));
                    peer.applied.insert(log.len() - 1);
                }
                Step::Delete { replica, pos, len } => {
                    let peer = &mut peers[replica % n];
                    let mut expected: Vec<char> = reference_string(&peer.seq).chars().collect();
                    if expected.is_empty() {
                        continue;
                    }
                    let pos = pos % expected.len();
                    let len = (*len).min(expected.len() - pos);
                    for op in peer.seq.local_delete(pos, len).map_err(fail)? {
                        log.push((op, peer.applied.clone()));
                        peer.applied.insert(log.len() - 1);
                    }
                    expected.drain(pos..pos + len);
                    prop_assert_eq!(reference_string(&peer.seq), expected.iter().collect::<String>());
                }
                Step::DeliverOne { replica, pick } => {
                    let peer = &mut peers[replica % n];
                    let ready: Vec<usize> = (0..log.len())
                        .filter(|i| !peer.applied.contains(i) && log[*i].1.is_subset(&peer.applied))
                        .collect();
                    if !ready.is_empty() {
                        apply_logged(peer, &log, ready[pick % ready.len()])?;
                    }
                }
                Step::Sync { from, to, .. } => {
                    let lacking: Vec<usize> =
                        peers[from % n].applied.difference(&peers[to % n].applied).copied().collect();
                    for index in lacking {
                        apply_logged(&mut peers[to % n], &log, index)?;
                    }
                }
                Step::Duplicate { replica, pick } => {
                    let peer = &mut peers[replica % n];
                    if let Some(&index) = peer.applied.iter().nth(pick % (peer.applied.len() + 1)) {
                        prop_assert_eq!(peer.seq.apply(&log[index].0), Ok(false));
                    }
                }
                Step::Snapshot { .. } => {}
            }
        }
        // Every peer receives what it lacks, in log order (causal); each had a different past.
        let mut results = BTreeSet::new();
        for peer in &mut peers {
            for index in 0..log.len() {
                if !peer.applied.contains(&index) {
                    apply_logged(peer, &log, index)?;
                }
            }
            results.insert(peer.seq.ids());
        }
        prop_assert_eq!(results.len(), 1, "reference replicas diverged");
    }
}
