//! Unit and property tests of the engine: local edits against a plain `Vec<char>` model, remote
//! convergence in every delivery order, FugueMax non-interleaving, RLE, cursors, UTF-16,
//! snapshots, and hostile inputs.

use super::snapshot::{write_state, StateRun};
use super::*;
use crate::clock::ReplicaId;
use proptest::prelude::*;

type TextSeq = Sequence<TextContent>;

fn r(n: u64) -> ReplicaId {
    ReplicaId::new(n)
}

fn d(rep: u64, c: u64) -> Dot {
    Dot::new(r(rep), c)
}

fn text(s: &TextSeq) -> String {
    s.iter().map(TextContent::as_str).collect()
}

/// A replica for tests: a sequence plus its own counter.
struct Peer {
    seq: TextSeq,
    id: ReplicaId,
    next: u64,
}

impl Peer {
    fn new(id: u64) -> Peer {
        Peer {
            seq: Sequence::new(),
            id: r(id),
            next: 1,
        }
    }

    fn ins(&mut self, pos: usize, s: &str) -> SeqOp<TextContent> {
        let op = self
            .seq
            .local_insert(pos, s.into(), Dot::new(self.id, self.next))
            .unwrap();
        self.next += s.chars().count() as u64;
        self.seq.check_invariants();
        op
    }

    fn del(&mut self, pos: usize, len: usize) -> Vec<SeqOp<TextContent>> {
        let ops = self.seq.local_delete(pos, len).unwrap();
        self.seq.check_invariants();
        ops
    }

    fn apply(&mut self, op: &SeqOp<TextContent>) -> Vec<SeqPatch> {
        let p = self.seq.apply(op).unwrap();
        self.seq.check_invariants();
        p
    }

    fn text(&self) -> String {
        text(&self.seq)
    }
}

#[test]
fn local_typing_is_one_run() {
    let mut p = Peer::new(1);
    for (i, ch) in "hello world".chars().enumerate() {
        p.ins(i, &ch.to_string());
    }
    assert_eq!(p.text(), "hello world");
    assert_eq!(
        p.seq.stats(|_| 0).runs,
        1,
        "sequential typing extends one run"
    );
    let op = p.ins(5, ",");
    assert_eq!(
        op,
        SeqOp::Insert {
            id: d(1, 12),
            origin_left: Some(d(1, 5)),
            origin_right: Some(d(1, 6)),
            content: ",".into()
        }
    );
    assert_eq!(p.seq.stats(|_| 0).runs, 3);
    assert_eq!(p.text(), "hello, world");
}

#[test]
fn local_insert_origins_skip_nothing_and_see_tombstones() {
    let mut p = Peer::new(1);
    p.ins(0, "abc");
    p.del(1, 1); // b is a tombstone
                 // Insert between a and c: origin_left = a, origin_right = the tombstone b.
    let op = p.ins(1, "X");
    match op {
        SeqOp::Insert {
            origin_left,
            origin_right,
            ..
        } => {
            assert_eq!(origin_left, Some(d(1, 1)));
            assert_eq!(origin_right, Some(d(1, 2)));
        }
        _ => panic!("expected insert"),
    }
    assert_eq!(p.text(), "aXc");
    let op0 = p.ins(0, "S");
    assert!(
        matches!(op0, SeqOp::Insert { origin_left: None, origin_right: Some(o), .. } if o == d(1, 1))
    );
    let end = p.ins(4, "E");
    assert!(matches!(
        end,
        SeqOp::Insert {
            origin_right: None,
            ..
        }
    ));
    assert_eq!(p.text(), "SaXcE");
}

#[test]
fn delete_ops_are_id_runs() {
    let mut p = Peer::new(1);
    p.ins(0, "abcdef");
    p.ins(3, "XY"); // abcXYdef
    let ops = p.del(1, 6); // bcXYde
    assert_eq!(
        ops,
        vec![
            SeqOp::Delete {
                target: d(1, 2),
                len: 2
            },
            SeqOp::Delete {
                target: d(1, 7),
                len: 2
            },
            SeqOp::Delete {
                target: d(1, 4),
                len: 2
            },
        ]
    );
    assert_eq!(p.text(), "af");
    assert!(p.del(0, 0).is_empty());
    assert_eq!(
        p.seq.local_delete(1, 2),
        Err(SeqError::OutOfBounds { pos: 3, len: 2 })
    );
    assert_eq!(
        p.seq.local_delete(usize::MAX, 2),
        Err(SeqError::OutOfBounds {
            pos: usize::MAX,
            len: 2
        })
    );
}

#[test]
fn errors_leave_state_untouched() {
    let mut p = Peer::new(1);
    p.ins(0, "ab");
    assert_eq!(
        p.seq.local_insert(3, "x".into(), d(1, 3)),
        Err(SeqError::OutOfBounds { pos: 3, len: 2 })
    );
    assert_eq!(
        p.seq.local_insert(0, "x".into(), d(1, 2)),
        Err(SeqError::IdInUse(d(1, 2)))
    );
    assert!(p.seq.local_insert(0, "".into(), d(1, 3)).is_err());
    assert!(p.seq.local_insert(0, "x".into(), d(1, 0)).is_err());
    assert!(p.seq.local_insert(0, "xy".into(), d(1, u64::MAX)).is_err());
    let unknown = SeqOp::Insert {
        id: d(2, 1),
        origin_left: Some(d(3, 1)),
        origin_right: None,
        content: "z".into(),
    };
    assert_eq!(p.seq.apply(&unknown), Err(SeqError::UnknownId(d(3, 1))));
    assert_eq!(p.seq.check(&unknown), Err(SeqError::UnknownId(d(3, 1))));
    let bad_del = SeqOp::Delete {
        target: d(1, 2),
        len: 2,
    };
    assert_eq!(p.seq.apply(&bad_del), Err(SeqError::UnknownId(d(1, 3))));
    assert_eq!(p.seq.check(&bad_del), Err(SeqError::UnknownId(d(1, 3))));
    assert!(p
        .seq
        .apply(&SeqOp::Delete {
            target: d(1, 1),
            len: 0
        })
        .is_err());
    // Origins in the wrong order.
    let crossed = SeqOp::Insert {
        id: d(2, 1),
        origin_left: Some(d(1, 2)),
        origin_right: Some(d(1, 1)),
        content: "z".into(),
    };
    assert!(matches!(p.seq.apply(&crossed), Err(SeqError::Malformed(_))));
    assert_eq!(p.text(), "ab");
    assert!(!p.seq.contains(d(2, 1)));
    p.seq.check_invariants();
    // Still usable.
    p.ins(2, "c");
    assert_eq!(p.text(), "abc");
}

#[test]
fn remote_ops_and_patches() {
    let mut a = Peer::new(1);
    let mut b = Peer::new(2);
    let op1 = a.ins(0, "hello");
    assert_eq!(b.apply(&op1), vec![SeqPatch::Insert { pos: 0, len: 5 }]);
    assert_eq!(b.apply(&op1), vec![], "duplicate is a no-op");
    let op2 = a.ins(5, " world");
    let dels = a.del(0, 1);
    b.apply(&op2);
    assert_eq!(
        b.apply(&dels[0]),
        vec![SeqPatch::Delete {
            pos: 0,
            len: 1,
            len_utf16: 1
        }]
    );
    assert_eq!(b.apply(&dels[0]), vec![]);
    assert_eq!(b.text(), "ello world");
    assert_eq!(b.seq.stats(|_| 0).runs, 2, "remote typing merges into runs");
    // A delete covering live and already-deleted elements reports only the live ones.
    let d2 = SeqOp::Delete {
        target: d(1, 1),
        len: 3,
    };
    assert_eq!(
        b.apply(&d2),
        vec![SeqPatch::Delete {
            pos: 0,
            len: 2,
            len_utf16: 2
        }]
    );
    assert_eq!(b.text(), "lo world");
}

#[test]
fn partially_known_insert_is_trimmed() {
    let mut a = Peer::new(1);
    let mut b = Peer::new(2);
    let op = a.ins(0, "abc");
    b.apply(&op);
    a.ins(3, "def");
    // A merged op covering both the known "abc" and the new "def".
    let merged = SeqOp::Insert {
        id: d(1, 1),
        origin_left: None,
        origin_right: None,
        content: "abcdef".into(),
    };
    assert_eq!(b.apply(&merged), vec![SeqPatch::Insert { pos: 3, len: 3 }]);
    assert_eq!(b.text(), "abcdef");
}

/// A remote insert whose right origin lies inside a run, not at its start, lands right before
/// that element however the runs happen to be cut (fuzz/crashers/text_apply_encoded/
/// right-origin-inside-a-run-history-disagrees: the walk stopped at the start of the run holding
/// the right origin, so a replica whose run was split by a deletion placed it elsewhere, and a
/// text's history replayed to another string than the text). Honest ops never point inside a
/// run (their left origin would be the element before), but a batch can: it is accepted, so it
/// must land the same everywhere.
#[test]
fn a_right_origin_inside_a_run_lands_the_same_however_runs_are_cut() {
    let abcdef = SeqOp::Insert {
        id: d(1, 1),
        origin_left: None,
        origin_right: None,
        content: "abcdef".into(),
    };
    // Left origin "a", right origin "e" (inside the run "abcdef"): between "d" and "e".
    let x = SeqOp::Insert {
        id: d(2, 1),
        origin_left: Some(d(1, 1)),
        origin_right: Some(d(1, 5)),
        content: "X".into(),
    };
    let del_d = SeqOp::Delete {
        target: d(1, 4),
        len: 1,
    };
    // One run "abcdef" when X arrives.
    let mut whole = TextSeq::new();
    whole.apply(&abcdef).unwrap();
    assert_eq!(whole.stats(|_| 0).runs, 1);
    whole.apply(&x).unwrap();
    whole.apply(&del_d).unwrap();
    // "abc", "d" (deleted), "ef" when X arrives.
    let mut cut = TextSeq::new();
    cut.apply(&abcdef).unwrap();
    cut.apply(&del_d).unwrap();
    assert_eq!(cut.stats(|_| 0).runs, 3);
    cut.apply(&x).unwrap();
    for seq in [&whole, &cut] {
        seq.check_invariants();
        assert_eq!(text(seq), "abcXef");
        assert_eq!(seq.position_of(d(2, 1)), Some((3, true)));
    }
}

/// All permutations of a small slice.
fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = vec![];
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let x = rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, x.clone());
            out.push(p);
        }
    }
    out
}

#[test]
fn concurrent_forward_typing_never_interleaves() {
    // Three replicas type words at the same place of a shared base, char by char.
    let mut base = Peer::new(9);
    let base_op = base.ins(0, "[]");
    let words = [(1u64, "abc"), (2, "XYZ"), (3, "123")];
    let mut per_replica = vec![];
    for (id, w) in words {
        let mut p = Peer::new(id);
        p.apply(&base_op);
        let mut ops = vec![base_op.clone()];
        for (i, ch) in w.chars().enumerate() {
            // Separate ops per char, to exercise integration of each.
            let op = p.ins(1 + i, &ch.to_string());
            ops.push(op);
        }
        per_replica.push(ops);
    }
    let mut results = std::collections::BTreeSet::new();
    for order in permutations(&[0usize, 1, 2]) {
        let mut p = Peer::new(100);
        for &i in &order {
            for op in &per_replica[i] {
                p.apply(op);
            }
        }
        results.insert(p.text());
    }
    assert_eq!(results.len(), 1, "converges: {results:?}");
    let t = results.into_iter().next().unwrap();
    for w in ["abc", "XYZ", "123"] {
        assert!(t.contains(w), "{w} interleaved in {t}");
    }
    assert_eq!(t, "[abcXYZ123]", "smaller replica id first");
}

#[test]
fn concurrent_backward_typing_never_interleaves() {
    // Each replica types its word backwards: every char inserted before the previous one.
    let mut base = Peer::new(9);
    let base_op = base.ins(0, "[]");
    let mut per_replica = vec![];
    for (id, w) in [(1u64, "abc"), (2, "XYZ")] {
        let mut p = Peer::new(id);
        p.apply(&base_op);
        let mut ops = vec![];
        for ch in w.chars().rev() {
            ops.push(p.ins(1, &ch.to_string()));
        }
        assert!(p.text().contains(w));
        per_replica.push(ops);
    }
    for order in [[0usize, 1], [1, 0]] {
        let mut p = Peer::new(100);
        p.apply(&base_op);
        for &i in &order {
            for op in &per_replica[i] {
                p.apply(op);
            }
        }
        assert_eq!(p.text(), "[abcXYZ]");
    }
    // Interleaved delivery (a1 b1 a2 b2 ...) too.
    let mut p = Peer::new(100);
    p.apply(&base_op);
    for (x, y) in per_replica[1].iter().zip(&per_replica[0]) {
        p.apply(x);
        p.apply(y);
    }
    assert_eq!(p.text(), "[abcXYZ]");
}

#[test]
fn fugue_max_right_origin_case() {
    // The case where YATA and FugueMax differ in the paper's spirit: A types "ab" then, between
    // them, concurrent inserts whose right origins differ. Check convergence in all orders.
    let mut a = Peer::new(1);
    let op_ab = a.ins(0, "ab");
    let mut ops = vec![];
    let mut b = Peer::new(2);
    b.apply(&op_ab);
    ops.push(b.ins(1, "X")); // between a and b: ol = a, or = b
    let mut c = Peer::new(3);
    c.apply(&op_ab);
    ops.push(c.ins(2, "Y")); // after b: ol = b, or = None
    ops.push(c.ins(1, "Z")); // between a and b on c: ol = a, or = b
    let mut e = Peer::new(4);
    e.apply(&op_ab);
    ops.push(e.ins(0, "W")); // at the start
    let mut results = std::collections::BTreeSet::new();
    for order in permutations(&[0usize, 1, 2, 3]) {
        // Keep causal order of c's ops (1 before 2).
        if order.iter().position(|&i| i == 1) > order.iter().position(|&i| i == 2) {
            continue;
        }
        let mut p = Peer::new(100);
        p.apply(&op_ab);
        for i in order {
            p.apply(&ops[i]);
        }
        results.insert(p.text());
    }
    assert_eq!(results.len(), 1, "{results:?}");
}

#[test]
fn cursors_follow_their_elements() {
    let mut a = Peer::new(1);
    let mut b = Peer::new(2);
    let op = a.ins(0, "hello");
    b.apply(&op);
    let after = a.seq.cursor_at(2, Assoc::After);
    let before = a.seq.cursor_at(2, Assoc::Before);
    let start = a.seq.cursor_at(0, Assoc::Before);
    let end = a.seq.cursor_at(99, Assoc::After);
    assert_eq!((start.anchor, end.anchor), (None, None));
    // Remote insert exactly in the gap.
    let ins = b.ins(2, "XX");
    a.apply(&ins);
    assert_eq!(a.text(), "heXXllo");
    assert_eq!(a.seq.resolve_cursor(&after), Some(4));
    assert_eq!(a.seq.resolve_cursor(&before), Some(2));
    assert_eq!(a.seq.resolve_cursor(&start), Some(0));
    assert_eq!(a.seq.resolve_cursor(&end), Some(7));
    a.del(1, 1); // delete 'e', the Before anchor
    assert_eq!(a.seq.resolve_cursor(&before), Some(1));
    assert_eq!(a.seq.resolve_cursor(&after), Some(3));
    let foreign = Cursor {
        anchor: Some(d(7, 1)),
        assoc: Assoc::After,
    };
    assert_eq!(a.seq.resolve_cursor(&foreign), None);
    let bytes = rmp_serde::to_vec(&after).unwrap();
    assert_eq!(rmp_serde::from_slice::<Cursor>(&bytes).unwrap(), after);
}

#[test]
fn utf16_conversions() {
    let mut p = Peer::new(1);
    p.ins(0, "a😀b");
    p.ins(3, "é𝄞");
    assert_eq!(p.text(), "a😀bé𝄞");
    assert_eq!((p.seq.len(), p.seq.utf16_len()), (5, 7));
    let expect = [(0, 0), (1, 1), (2, 3), (3, 4), (4, 5), (5, 7)];
    for (pos, u) in expect {
        assert_eq!(p.seq.pos_to_utf16(pos), Ok(u));
        assert_eq!(p.seq.utf16_to_pos(u), Ok(pos));
    }
    assert_eq!(p.seq.utf16_to_pos(2), Err(SeqError::InvalidUtf16Offset(2)));
    assert_eq!(p.seq.utf16_to_pos(8), Err(SeqError::InvalidUtf16Offset(8)));
    assert!(p.seq.pos_to_utf16(6).is_err());
    p.del(1, 1);
    assert_eq!(p.seq.utf16_len(), 5);
    assert_eq!(p.seq.utf16_to_pos(2), Ok(2));
}

#[test]
fn slices_and_iteration() {
    let mut p = Peer::new(1);
    let s: String = (0..2000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    // Insert in pieces at scattered places to build many leaves.
    let mut model = String::new();
    for (i, chunk) in s.as_bytes().chunks(7).enumerate() {
        let chunk = std::str::from_utf8(chunk).unwrap();
        let pos = (i * 13) % (model.len() + 1);
        p.ins(pos, chunk);
        model.insert_str(pos, chunk);
    }
    assert_eq!(p.text(), model);
    assert!(p.seq.stats(|_| 0).leaves > 1);
    assert_eq!(p.seq.slice(10, 900).as_str(), &model[10..900]);
    assert_eq!(p.seq.slice(1990, 5000).as_str(), &model[1990..]);
    assert_eq!(p.seq.slice(5, 5).as_str(), "");
    assert_eq!(p.seq.to_content().as_str(), model);
    assert_eq!(p.seq.id_at(model.len()), None);
}

#[test]
fn snapshot_round_trip_and_continue() {
    let mut a = Peer::new(1);
    let mut b = Peer::new(2);
    let op = a.ins(0, "hello world");
    b.apply(&op);
    let x = b.ins(5, ",");
    a.apply(&x);
    a.del(0, 1);
    a.ins(0, "J");
    let snap = a.seq.encode_state();
    let restored = TextSeq::decode_state(&snap).unwrap();
    restored.check_invariants();
    assert_eq!(text(&restored), "Jello, world");
    assert!(restored.contains(d(1, 1)) && restored.contains(d(2, 1)));
    assert_eq!(restored.encode_state(), snap, "stable encoding");
    // The restored copy keeps integrating like the original.
    let mut c = Peer {
        seq: restored,
        id: r(1),
        next: a.next,
    };
    let y = b.ins(0, "<");
    c.apply(&y);
    a.apply(&y);
    let z = c.ins(3, "Z");
    a.apply(&z);
    assert_eq!(a.text(), c.text());
}

#[test]
fn snapshot_of_many_leaves() {
    let mut p = Peer::new(1);
    for i in 0..3000u64 {
        let pos = (i as usize * 7919) % (i as usize + 1);
        p.seq
            .local_insert(pos, "ab".into(), d(1, 1 + 2 * i))
            .unwrap();
        if i % 3 == 0 {
            p.seq
                .local_delete(i as usize % (p.seq.len() - 1), 1)
                .unwrap();
        }
        if i % 500 == 0 {
            p.seq.check_invariants();
        }
    }
    p.next = 6001;
    p.seq.check_invariants();
    let snap = p.seq.encode_state();
    let back = TextSeq::decode_state(&snap).unwrap();
    back.check_invariants();
    assert_eq!(text(&back), p.text());
    // The rebuilt tree handles further edits and cross-leaf deletes.
    let mut q = Peer {
        seq: back,
        id: r(1),
        next: p.next,
    };
    let op = q.ins(100, "Q");
    p.apply(&op);
    let dels = q.del(50, 2000);
    assert!(dels.len() > 10, "the delete spans many runs");
    for dop in &dels {
        p.seq.apply(dop).unwrap();
    }
    p.seq.check_invariants();
    assert_eq!(p.text(), q.text());
}

#[test]
fn hostile_snapshots_are_errors() {
    let mut p = Peer::new(1);
    p.ins(0, "abc");
    p.del(1, 1);
    let good = p.seq.encode_state();
    assert!(TextSeq::decode_state(&[]).is_err());
    assert!(TextSeq::decode_state(&[0xdf, 0xff, 0xff, 0xff, 0xff]).is_err());
    for cut in 0..good.len() {
        assert!(
            TextSeq::decode_state(&good[..cut]).is_err(),
            "truncated at {cut}"
        );
    }
    // Flip every byte in turn: must never panic; if it decodes, it must be consistent.
    for i in 0..good.len() {
        for delta in [1u8, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[i] = bad[i].wrapping_add(delta);
            if let Ok(s) = TextSeq::decode_state(&bad) {
                s.check_invariants();
            }
        }
    }
    // Hand-made inconsistencies, written with the real column writer.
    let run = |id: Dot, len: u32, ol: Option<Dot>, or: Option<Dot>| StateRun {
        id,
        len,
        deleted: false,
        origin_left: ol,
        origin_right: or,
    };
    let enc = |runs: &[StateRun], content: &str| write_state(runs, &TextContent::from(content));
    let ok = enc(&[run(d(1, 1), 3, None, None)], "abc");
    assert_eq!(text(&TextSeq::decode_state(&ok).unwrap()), "abc");
    let cases = [
        enc(&[run(d(1, 1), 3, None, None)], "ab"),
        enc(&[run(d(1, 0), 3, None, None)], "abc"),
        enc(&[run(d(1, 1), 0, None, None)], ""),
        enc(&[run(d(1, u64::MAX), 3, None, None)], "abc"),
        enc(
            &[run(d(1, 1), 1, None, None), run(d(1, 1), 1, None, None)],
            "ab",
        ),
        enc(&[run(d(1, 1), 1, Some(d(1, 9)), None)], "a"),
        enc(&[run(d(1, 1), 1, Some(d(1, 1)), None)], "a"),
        // Origins inside their own run.
        enc(&[run(d(1, 1), 2, None, Some(d(1, 2)))], "ab"),
        enc(
            &[
                run(d(1, 1), 1, None, None),
                run(d(1, 2), 2, Some(d(1, 3)), None),
            ],
            "abc",
        ),
        enc(&[run(d(1, 1), MAX_RUN + 1, None, None)], "a"),
    ];
    for (i, bytes) in cases.iter().enumerate() {
        assert!(TextSeq::decode_state(bytes).is_err(), "case {i} accepted");
    }
    // A right origin on the left of its run is what a remote insert with origins in the wrong
    // order leaves (see `seq::snapshot`): it loads, and re-encodes identically.
    let wrong_order = enc(
        &[
            run(d(1, 1), 1, None, None),
            run(d(1, 2), 1, None, Some(d(1, 1))),
        ],
        "ab",
    );
    let loaded = TextSeq::decode_state(&wrong_order).expect("a reachable state loads");
    loaded.check_invariants();
    assert_eq!(text(&loaded), "ab");
    assert_eq!(loaded.encode_state(), wrong_order);
}

/// The snapshot decoders reject structurally hostile bodies with typed errors: duplicate
/// replicas, huge claimed counts, unknown versions, decompression bombs, random bytes.
#[test]
fn hostile_snapshot_bodies_are_typed_errors() {
    use crate::encoding::column::{put_bytes, put_u64};
    use crate::encoding::FormatError;
    let body = |replicas: &[u64], runs: u64, lens: &[u8]| {
        let mut raw = vec![2u8, 0];
        put_u64(&mut raw, replicas.len() as u64);
        for r in replicas {
            raw.extend_from_slice(&r.to_le_bytes());
        }
        put_u64(&mut raw, runs);
        put_bytes(&mut raw, lens);
        for col in [&[1u8, 0][..], &[1, 0], &[4, 0], &[]] {
            put_bytes(&mut raw, col);
        }
        put_bytes(&mut raw, &rmp_serde::to_vec("a").unwrap());
        raw
    };
    let ok = body(&[1], 1, &[2]);
    assert_eq!(text(&TextSeq::decode_state(&ok).unwrap()), "a");
    assert_eq!(
        TextSeq::decode_state(&body(&[1, 1], 1, &[2])).err(),
        Some(SeqError::Malformed("duplicate replica in table"))
    );
    assert!(matches!(
        TextSeq::decode_state(&body(&[1], u64::MAX, &[2])),
        Err(SeqError::Format(FormatError::CountTooLarge { .. }))
    ));
    assert!(matches!(
        TextSeq::decode_state(&body(&[1], 2, &[2])),
        Err(SeqError::Format(FormatError::CountTooLarge { .. }))
    ));
    let mut v9 = ok.clone();
    v9[0] = 9;
    assert_eq!(
        TextSeq::decode_state(&v9).err(),
        Some(SeqError::Format(FormatError::UnsupportedVersion(9)))
    );
    // A claimed replica count of 2^60 with 8 bytes present.
    let mut huge = vec![2u8, 0];
    put_u64(&mut huge, 1 << 60);
    huge.extend_from_slice(&[0; 8]);
    assert!(matches!(
        TextSeq::decode_state(&huge),
        Err(SeqError::Format(FormatError::CountTooLarge { .. }))
    ));
    // A decompression bomb: 8 MiB of zeros deflated to a few KiB.
    let mut bomb = vec![2u8, 1];
    bomb.extend(miniz_oxide::deflate::compress_to_vec(
        &vec![0u8; 8 << 20],
        10,
    ));
    assert!(matches!(
        TextSeq::decode_state(&bomb),
        Err(SeqError::Format(FormatError::InflateLimit(_)))
    ));
    // Random bytes never panic.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for len in 0..400 {
        let bytes: Vec<u8> = (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if i == 0 {
                    2
                } else {
                    (x >> 24) as u8
                }
            })
            .collect();
        if let Ok(s) = TextSeq::decode_state(&bytes) {
            s.check_invariants();
        }
    }
}

#[test]
fn list_content_sequence() {
    let mut s: Sequence<ListContent<u32>> = Sequence::new();
    s.local_insert(0, ListContent(vec![1, 2, 3]), d(1, 1))
        .unwrap();
    s.local_insert(1, ListContent(vec![9]), d(1, 4)).unwrap();
    s.local_delete(0, 1).unwrap();
    assert_eq!(s.to_content().0, vec![9, 2, 3]);
    assert_eq!(s.utf16_len(), 3);
    let back = Sequence::<ListContent<u32>>::decode_state(&s.encode_state()).unwrap();
    assert_eq!(back.to_content().0, vec![9, 2, 3]);
}

#[derive(Clone, Debug)]
enum Edit {
    Ins(usize, String),
    Del(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<usize>(), "[a-c😀é]{1,6}").prop_map(|(p, s)| Edit::Ins(p, s)),
        1 => (any::<usize>(), 1usize..12).prop_map(|(p, l)| Edit::Del(p, l)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Local edits agree with a Vec<char> model, including UTF-16 and snapshots.
    #[test]
    fn local_edits_match_model(edits in prop::collection::vec(edit(), 1..200)) {
        let mut p = Peer::new(1);
        let mut model: Vec<char> = vec![];
        for e in edits {
            match e {
                Edit::Ins(pos, s) => {
                    let pos = pos % (model.len() + 1);
                    p.ins(pos, &s);
                    for (i, ch) in s.chars().enumerate() { model.insert(pos + i, ch); }
                }
                Edit::Del(pos, len) => {
                    if model.is_empty() { continue; }
                    let pos = pos % model.len();
                    let len = len.min(model.len() - pos);
                    p.del(pos, len);
                    model.drain(pos..pos + len);
                }
            }
        }
        let m: String = model.iter().collect();
        prop_assert_eq!(p.text(), m.clone());
        let mut u = 0;
        for (i, ch) in model.iter().enumerate() {
            prop_assert_eq!(p.seq.pos_to_utf16(i), Ok(u));
            prop_assert_eq!(p.seq.utf16_to_pos(u), Ok(i));
            u += ch.len_utf16();
        }
        prop_assert_eq!(p.seq.utf16_len(), u);
        let back = TextSeq::decode_state(&p.seq.encode_state()).unwrap();
        back.check_invariants();
        prop_assert_eq!(text(&back), m);
    }

    /// Three replicas edit concurrently; delivering everyone's ops in random causal orders
    /// converges, patches replay to the same text, and snapshots agree.
    #[test]
    fn replicas_converge(
        script in prop::collection::vec((0usize..3, edit(), any::<bool>()), 1..60),
        seed in any::<u64>(),
    ) {
        let mut peers: Vec<Peer> = (1..=3).map(Peer::new).collect();
        // Each op with the ops its author had applied from each peer (its causal past).
        let mut logs: Vec<Vec<(SeqOp<TextContent>, [usize; 3])>> = vec![vec![]; 3];
        // delivered[i][j]: how many of j's ops i has applied.
        let mut delivered = [[0usize; 3]; 3];
        let mut rng = seed;
        let mut next_rand = move || { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; rng };
        for (who, e, sync) in script {
            // Sometimes pull a random prefix of others' logs first (causal: whole prefixes).
            if sync {
                for j in 0..3 {
                    if j == who { continue; }
                    let upto = delivered[who][j] + (next_rand() as usize) % (logs[j].len() - delivered[who][j] + 1);
                    #[allow(clippy::needless_range_loop)]
                    for k in delivered[who][j]..upto {
                        let (op, deps) = logs[j][k].clone();
                        // Causal delivery: j's op may depend on ops j had from the third peer.
                        if (0..3).any(|x| x != who && x != j && delivered[who][x] < deps[x]) { break; }
                        peers[who].apply(&op);
                        delivered[who][j] = k + 1;
                    }
                }
            }
            let p = &mut peers[who];
            let ops = match e {
                Edit::Ins(pos, s) => { let pos = pos % (p.seq.len() + 1); vec![p.ins(pos, &s)] }
                Edit::Del(pos, len) => {
                    if p.seq.is_empty() { vec![] } else {
                        let pos = pos % p.seq.len();
                        let len = len.min(p.seq.len() - pos);
                        p.del(pos, len)
                    }
                }
            };
            let deps = delivered[who];
            logs[who].extend(ops.into_iter().map(|op| (op, deps)));
        }
        // Final delivery until quiescent, with patch replay on peer 0.
        let mut shadow: Vec<char> = peers[0].text().chars().collect();
        loop {
            let mut progress = false;
            for i in 0..3 {
                for j in 0..3 {
                    if i == j { continue; }
                    while delivered[i][j] < logs[j].len() {
                        let (op, deps) = logs[j][delivered[i][j]].clone();
                        if (0..3).any(|x| x != i && x != j && delivered[i][x] < deps[x]) { break; }
                        prop_assert!(peers[i].seq.check(&op).is_ok());
                        let patches = peers[i].apply(&op);
                        if i == 0 {
                            for patch in patches {
                                match patch {
                                    SeqPatch::Insert { pos, len } => {
                                        let now: Vec<char> = peers[0].text().chars().collect();
                                        for k in 0..len { shadow.insert(pos + k, now[pos + k]); }
                                    }
                                    SeqPatch::Delete { pos, len, len_utf16 } => {
                                        let gone: usize = shadow.drain(pos..pos + len).map(char::len_utf16).sum();
                                        prop_assert_eq!(len_utf16, gone, "UTF-16 length of a remote delete");
                                    }
                                }
                            }
                        }
                        delivered[i][j] += 1;
                        progress = true;
                    }
                }
            }
            if !progress { break; }
        }
        let t0 = peers[0].text();
        prop_assert_eq!(shadow.iter().collect::<String>(), t0.clone());
        for p in &peers {
            prop_assert_eq!(p.text(), t0.clone());
        }
        let s1 = text(&TextSeq::decode_state(&peers[1].seq.encode_state()).unwrap());
        prop_assert_eq!(s1, t0);
    }
}

/// `known_run_origins` (one lookup, used when loading a snapshot's history) answers exactly
/// what `origins_of` and `ids_known` answer together, for every id and run length.
#[test]
fn known_run_origins_agrees_with_origins_of() {
    let (mut a, mut b) = (Peer::new(1), Peer::new(2));
    let mut ops = vec![a.ins(0, "hello world"), b.ins(0, "abc")];
    ops.push(a.ins(5, ","));
    ops.extend(a.del(2, 3));
    ops.push(b.ins(1, "XYZ"));
    ops.extend(b.del(0, 2));
    for op in &ops {
        a.apply(op);
        b.apply(op);
    }
    assert_eq!(a.text(), b.text());
    for rep in 1..=3 {
        for c in 0..20 {
            for n in 1..6 {
                let id = d(rep, c);
                let expected = (c > 0 && a.seq.ids_known(id, n))
                    .then(|| a.seq.origins_of(id))
                    .flatten();
                assert_eq!(a.seq.known_run_origins(id, n), expected, "{id:?} +{n}");
            }
        }
    }
}
