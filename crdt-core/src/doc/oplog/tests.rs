//! The log rebuilds every change exactly as it was pushed, whatever runs it merged.

use super::*;
use crate::doc::change::Op;
use crate::doc::value::{ContainerId, ContainerKind};

fn change(replica: u64, counter: u64, parents: &[(u64, u64)]) -> Change {
    Change {
        id: SeqRange {
            replica: ReplicaId::new(replica),
            start: counter,
            end: counter + 1,
        },
        parents: parents
            .iter()
            .map(|&(r, c)| Dot::new(ReplicaId::new(r), c))
            .collect(),
        lamport: 1,
        ops: vec![Op::CounterAdd {
            obj: ContainerId::root("c", ContainerKind::Counter),
            delta: 1,
        }],
        meta: None,
    }
}

/// a1, b1 concurrent; a2 after b1; c1 after a2; b2 after b1 (concurrent with a2 and c1).
fn log() -> OpLog {
    let mut log = OpLog::default();
    for c in [
        change(1, 1, &[]),
        change(2, 1, &[]),
        change(1, 2, &[(2, 1)]),
        change(3, 1, &[(1, 2)]),
        change(2, 2, &[]),
    ] {
        log.push(c);
    }
    log
}

fn ids(changes: Vec<Change>) -> Vec<(u64, u64)> {
    changes
        .iter()
        .map(|c| (c.id.replica.0, c.id.start))
        .collect()
}

#[test]
fn changes_since_is_what_the_version_lacks_in_log_order() {
    let log = log();
    let version = |entries: &[(u64, u64)]| -> VersionVector {
        entries
            .iter()
            .map(|&(r, c)| (ReplicaId::new(r), c))
            .collect()
    };
    let all = [(1, 1), (2, 1), (1, 2), (3, 1), (2, 2)];
    assert_eq!(ids(log.changes_since(&VersionVector::new())), all);
    assert_eq!(ids(log.changes_since(&version(&[(1, 1)]))), all[1..]);
    assert_eq!(
        ids(log.changes_since(&version(&[(2, 1)]))),
        [(1, 1), (1, 2), (3, 1), (2, 2)]
    );
    assert_eq!(
        ids(log.changes_since(&version(&[(1, 2), (2, 1)]))),
        [(3, 1), (2, 2)]
    );
    assert_eq!(
        ids(log.changes_since(&version(&[(1, 2), (2, 2), (3, 1)]))),
        []
    );
    assert_eq!(
        ids(log.changes_since(&version(&[(1, 9), (2, 9), (3, 9)]))),
        []
    );
}

#[test]
fn heads_are_the_uncovered_last_events_one_per_replica() {
    let log = log();
    // a2 is c1's parent; b1 is a2's parent and b2's own previous event.
    let d = |r, c| Dot::new(ReplicaId::new(r), c);
    assert_eq!(log.heads(), [d(2, 2), d(3, 1)]);
    let mut log = OpLog::default();
    log.push(change(5, 1, &[]));
    log.push(change(4, 1, &[]));
    assert_eq!(
        log.heads(),
        [d(4, 1), d(5, 1)],
        "sorted, concurrent heads kept"
    );
    log.push(change(5, 2, &[(4, 1)]));
    assert_eq!(log.heads(), [d(5, 2)]);
}

mod rebuilt {
    //! Real documents edit, merge and sync at random; each one's log must give back every
    //! change exactly as it was pushed, by every way of asking for it.
    use proptest::prelude::*;

    use crate::clock::{Dot, ReplicaId, VersionVector};
    use crate::doc::change::Op;
    use crate::seq::SeqOp;
    use crate::Doc;

    #[derive(Clone, Debug)]
    enum Step {
        /// Type `text` at `pos`, one commit per character (an editor) or one for all.
        Type {
            pos: usize,
            text: String,
            per_char: bool,
        },
        /// Press backspace `n` times before `pos`, one commit each, or one for the `n` (a
        /// transaction's run of deletes meets the log's run).
        Backspace { pos: usize, n: usize, per_key: bool },
        /// Press delete `n` times at `pos`, one commit each or one for all.
        DeleteKey { pos: usize, n: usize, per_key: bool },
        /// Delete a selection.
        Cut { pos: usize, len: usize },
        /// Mark a range bold.
        Bold { pos: usize, len: usize },
        /// Set a map key and bump a counter in one commit with a message.
        MapAndCounter { key: u8, value: i64 },
        /// Receive everything `from` has.
        Sync { from: usize },
    }

    fn step() -> impl Strategy<Value = Step> {
        let text =
            prop::collection::vec(prop::sample::select(vec!['a', 'b', 'é', '😀', '\n']), 1..6)
                .prop_map(|c| c.into_iter().collect::<String>());
        prop_oneof![
            4 => (0..40usize, text, any::<bool>()).prop_map(|(pos, text, per_char)| Step::Type { pos, text, per_char }),
            2 => (0..40usize, 1..5usize, any::<bool>()).prop_map(|(pos, n, per_key)| Step::Backspace { pos, n, per_key }),
            1 => (0..40usize, 1..5usize, any::<bool>()).prop_map(|(pos, n, per_key)| Step::DeleteKey { pos, n, per_key }),
            1 => (0..40usize, 1..6usize).prop_map(|(pos, len)| Step::Cut { pos, len }),
            1 => (0..40usize, 1..6usize).prop_map(|(pos, len)| Step::Bold { pos, len }),
            1 => (any::<u8>(), any::<i64>()).prop_map(|(key, value)| Step::MapAndCounter { key, value }),
            2 => (0..3usize).prop_map(|from| Step::Sync { from }),
        ]
    }

    fn run(doc: &mut Doc, step: &Step) {
        let len = doc.text("t").len();
        match step {
            Step::Type {
                pos,
                text,
                per_char,
            } => {
                for (at, ch) in (pos % (len + 1)..).zip(text.chars()) {
                    doc.text("t").insert(at, &ch.to_string()).unwrap();
                    if *per_char {
                        doc.commit();
                    }
                }
                doc.commit();
            }
            Step::Backspace { pos, n, per_key } => {
                let mut at = pos % (len + 1);
                for _ in 0..*n {
                    if at == 0 {
                        break;
                    }
                    at -= 1;
                    doc.text("t").delete(at, 1).unwrap();
                    if *per_key {
                        doc.commit();
                    }
                }
                doc.commit();
            }
            Step::DeleteKey { pos, n, per_key } => {
                let at = pos % (len + 1);
                for _ in 0..*n {
                    if at >= doc.text("t").len() {
                        break;
                    }
                    doc.text("t").delete(at, 1).unwrap();
                    if *per_key {
                        doc.commit();
                    }
                }
                doc.commit();
            }
            Step::Cut { pos, len: n } => {
                let at = pos % (len + 1);
                let n = (*n).min(len - at);
                if n > 0 {
                    doc.text("t").delete(at, n).unwrap();
                    doc.commit();
                }
            }
            Step::Bold { pos, len: n } => {
                let at = pos % (len + 1);
                let n = (*n).min(len - at);
                if n > 0 {
                    doc.text("t").mark(at, at + n, "bold", true).unwrap();
                    doc.commit();
                }
            }
            Step::MapAndCounter { key, value } => {
                doc.map("m").set(&format!("k{}", key % 3), *value).unwrap();
                doc.counter("c").increment(*value % 100).unwrap();
                doc.commit_with(Some("map"), Some(7)).unwrap();
            }
            Step::Sync { .. } => {}
        }
    }

    /// Every way of reading the log agrees with the changes pushed into it.
    fn check_log(doc: &Doc) {
        let log = &doc.log;
        let shadow = &log.shadow;
        let all: Vec<_> = log.changes().collect();
        assert_eq!(&all, shadow, "changes()");
        assert_eq!(log.len(), shadow.len());
        let mut version = VersionVector::new();
        for (i, change) in shadow.iter().enumerate() {
            assert_eq!(log.get(change.id).as_ref(), Some(change), "get");
            for counter in change.id.start..change.id.end {
                let dot = Dot::new(change.id.replica, counter);
                assert_eq!(log.change_containing(dot).as_ref(), Some(change));
                let (first, op) = log.op_at(dot).expect("op_at");
                let holds = first.counter <= counter && counter < first.counter + op.width();
                assert!(holds, "op_at({dot:?}) gave {first:?} {op:?}");
                if let Op::Text {
                    op: SeqOp::Insert { id, .. },
                    ..
                } = &op
                {
                    assert_eq!(*id, first);
                }
            }
            version.set(change.id.replica, change.id.end - 1);
            let since = log.changes_since(&version);
            let expected: Vec<_> = shadow[i + 1..]
                .iter()
                .filter(|c| c.id.end - 1 > version.get(c.id.replica))
                .cloned()
                .collect();
            assert_eq!(since, expected, "changes_since after {i}");
        }
        for replica in log.version().iter().map(|(r, _)| r) {
            for after in [0, 1, 3] {
                let expected: Vec<_> = shadow
                    .iter()
                    .filter(|c| c.id.replica == replica && c.id.end - 1 > after)
                    .cloned()
                    .collect();
                assert_eq!(log.changes_of_after(replica, after), expected);
            }
        }
        let marks = log
            .whole_ops()
            .filter(|(_, _, op)| matches!(op, Op::TextMark { .. }))
            .count();
        let expected = shadow
            .iter()
            .flat_map(|c| c.ops.iter())
            .filter(|op| matches!(op, Op::TextMark { .. }))
            .count();
        assert_eq!(marks, expected);
    }

    /// A log of more stored operations than a chunk of its store holds (512) answers across the
    /// chunks' boundaries: every change rebuilt, any event's operation, a reload and a peer's
    /// sync.
    #[test]
    fn a_log_of_several_chunks_gives_back_every_change() {
        let mut doc = Doc::with_replica(ReplicaId::new(1));
        // Typing at alternate ends: no insert continues the previous one, so each is stored
        // alone; every fifth commit is followed by a delete in the middle.
        for i in 0..1_300usize {
            let len = doc.text("t").len();
            let at = if i % 2 == 0 { 0 } else { len };
            doc.text("t").insert(at, "ab").unwrap();
            doc.commit();
            if i % 5 == 0 {
                doc.text("t").delete(len / 2, 1).unwrap();
                doc.commit();
            }
        }
        let log = &doc.log;
        assert!(
            log.ops.len() > 2 * 512,
            "{} stored operations",
            log.ops.len()
        );
        assert_eq!(log.changes().collect::<Vec<_>>(), log.shadow);
        for change in log.shadow.iter().step_by(7) {
            assert_eq!(log.get(change.id).as_ref(), Some(change));
            for counter in [change.id.start, change.id.end - 1] {
                let (first, op) = log
                    .op_at(Dot::new(change.id.replica, counter))
                    .expect("op_at");
                assert!(first.counter <= counter && counter < first.counter + op.width());
            }
        }
        let text = doc.text("t").to_string();
        let mut loaded = Doc::load(&doc.save()).unwrap();
        assert_eq!(loaded.log.changes().collect::<Vec<_>>(), doc.log.shadow);
        assert_eq!(loaded.text("t").to_string(), text);
        let mut peer = Doc::with_replica(ReplicaId::new(2));
        peer.apply_changes(&doc.encode_changes_since(&VersionVector::new()))
            .unwrap();
        assert_eq!(peer.text("t").to_string(), text);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn the_log_gives_back_every_change_as_pushed(
            steps in prop::collection::vec((0..3usize, step()), 1..40)
        ) {
            let mut docs: Vec<Doc> = (1..=3).map(|r| Doc::with_replica(ReplicaId::new(r))).collect();
            for (who, step) in &steps {
                if let Step::Sync { from } = step {
                    if from != who {
                        let bytes = docs[*from].encode_changes_since(&docs[*who].version());
                        docs[*who].apply_changes(&bytes).unwrap();
                    }
                } else {
                    run(&mut docs[*who], step);
                }
            }
            for doc in &docs {
                check_log(doc);
            }
            // The rebuilt changes sync: every document ends equal after a full exchange.
            for a in 0..3 {
                for b in 0..3 {
                    if a != b {
                        let bytes = docs[a].encode_changes_since(&docs[b].version());
                        docs[b].apply_changes(&bytes).unwrap();
                    }
                }
            }
            let text = docs[0].text("t").to_string();
            for doc in &mut docs {
                prop_assert_eq!(doc.text("t").to_string(), text.clone());
                check_log(doc);
                let saved = doc.save();
                let loaded = Doc::load(&saved).unwrap();
                prop_assert_eq!(loaded.log.changes().collect::<Vec<_>>(), doc.log.changes().collect::<Vec<_>>());
            }
        }
    }
}

/// An editor's keystrokes, a commit each, cost a few bytes apiece: one graph run, one stored
/// insert per burst of typing and one stored delete run per burst of backspacing, one width
/// run, and no `Change` kept.
#[test]
fn typing_and_backspacing_collapse_into_runs() {
    let mut doc = crate::Doc::with_replica(ReplicaId::new(1));
    for (i, ch) in "héllo wörld, typed one key at a time".chars().enumerate() {
        doc.text("t").insert(i, &ch.to_string()).unwrap();
        doc.commit();
    }
    for at in (20..30).rev() {
        doc.text("t").delete(at, 1).unwrap();
        doc.commit();
    }
    for _ in 0..3 {
        doc.text("t").delete(5, 1).unwrap();
        doc.commit();
    }
    let log = &doc.log;
    assert_eq!(log.len(), 36 + 10 + 3);
    assert_eq!(log.graph.runs().len(), 1);
    assert_eq!(log.widths.len(), 1, "every change is one counter wide");
    assert_eq!(
        log.ops.len(),
        3,
        "one insert, one backspace run, one delete-key run"
    );
    assert_eq!(log.changes().collect::<Vec<_>>(), log.shadow);
}

/// A transaction of several backspaces (or delete-key presses) is one run of deletes before
/// its commit; committed after single-key deletes of the same run, it joins the log's run
/// whole: every delete keeps its counter, and the rebuilt changes are the ones made
/// (regression: the log's run grew by one delete for the transaction's whole run, and the
/// last deletes' counters pointed at the next replica's operations).
#[test]
fn a_transactions_run_of_deletes_joins_the_logs_run_whole() {
    let mut doc = crate::Doc::with_replica(ReplicaId::new(1));
    doc.text("t").insert(0, "abcdefghij").unwrap();
    doc.commit();
    doc.text("t").delete(9, 1).unwrap();
    doc.commit();
    for at in [8, 7, 6] {
        doc.text("t").delete(at, 1).unwrap();
    }
    doc.commit();
    // The delete key, after a single delete of the same run.
    doc.text("t").delete(1, 1).unwrap();
    doc.commit();
    for _ in 0..2 {
        doc.text("t").delete(1, 1).unwrap();
    }
    doc.commit();
    assert_eq!(doc.text("t").to_string(), "aef");
    let log = &doc.log;
    assert_eq!(
        log.ops.len(),
        3,
        "one insert, one backspace run, one delete-key run"
    );
    assert_eq!(log.changes().collect::<Vec<_>>(), log.shadow);
    let mut peer = crate::Doc::with_replica(ReplicaId::new(2));
    peer.apply_changes(&doc.encode_changes_since(&VersionVector::new()))
        .unwrap();
    assert_eq!(peer.text("t").to_string(), "aef");
}

mod hostile {
    //! A saved document's history is remote input: whatever its bytes claim, loading refuses
    //! it with a typed error or yields a log every reader can rebuild, never a panic, and a
    //! short history cannot claim billions of changes.
    use super::super::stored_op::StoredOp;
    use super::super::OpLog;
    use crate::clock::ReplicaId;
    use crate::doc::format::snapshot::{self, SnapshotRef};
    use crate::encoding::budget::DecodeBudget;
    use crate::encoding::{frame, DecodeError, EncodingKind, FormatError};
    use crate::{Doc, DocError};

    /// A document with typing, backspacing, a cut, a mark, a map write with a message, and a
    /// second replica's edits merged in.
    fn edited() -> Doc {
        let mut doc = Doc::with_replica(ReplicaId::new(1));
        for (i, ch) in "héllo wörld".chars().enumerate() {
            doc.text("t").insert(i, &ch.to_string()).unwrap();
            doc.commit();
        }
        for at in (6..9).rev() {
            doc.text("t").delete(at, 1).unwrap();
            doc.commit();
        }
        doc.text("t").mark(0, 3, "bold", true).unwrap();
        doc.map("m").set("k", 1).unwrap();
        doc.commit_with(Some("note"), Some(5)).unwrap();
        let mut other = Doc::with_replica(ReplicaId::new(2));
        other.text("t").insert(0, "xy").unwrap();
        other.commit();
        doc.apply_changes(&other.encode_changes_since(&doc.version()))
            .unwrap();
        doc.text("t").delete(0, 2).unwrap();
        doc.commit();
        doc
    }

    fn decode(bytes: &[u8]) -> Result<OpLog, DocError> {
        OpLog::decode(bytes, &mut DecodeBudget::for_input(bytes.len()))
    }

    /// The saved bytes of `doc` with `history` in place of its history.
    fn saved_with_history(doc: &Doc, history: Vec<u8>) -> Vec<u8> {
        let containers = doc
            .state
            .containers
            .iter()
            .map(|(id, c)| {
                (
                    id,
                    crate::doc::format::snapshot::ContainerSnapshot::of(id, c, &doc.log),
                )
            })
            .collect();
        frame(
            EncodingKind::Snapshot,
            &snapshot::encode_raw(&SnapshotRef {
                version: doc.log.version(),
                history,
                pending: Vec::new(),
                containers,
                parents: Vec::new(),
            }),
        )
    }

    /// `doc`'s log with `forge` applied to its stored operations, encoded.
    fn forged(doc: &Doc, forge: impl FnOnce(&mut Vec<StoredOp>)) -> Vec<u8> {
        let mut log = doc.log.clone();
        let mut ops = log.ops.ops_vec();
        forge(&mut ops);
        log.ops.set_ops(ops);
        log.encode()
    }

    fn malformed(result: Result<Doc, DocError>) -> bool {
        matches!(
            result,
            Err(DocError::Decode(DecodeError::Malformed(_)))
                | Err(DocError::Decode(DecodeError::Format(_)))
        )
    }

    #[test]
    fn the_honest_history_loads_and_rebuilds() {
        let doc = edited();
        let bytes = saved_with_history(&doc, doc.log.encode());
        let loaded = Doc::load(&bytes).unwrap();
        assert_eq!(
            loaded.log.changes().collect::<Vec<_>>(),
            doc.log.changes().collect::<Vec<_>>()
        );
    }

    /// A container table longer than a compact operation's 16-bit index can name is refused;
    /// one at the limit loads (its extra entries named by no operation).
    #[test]
    fn an_operation_table_past_the_container_index_is_refused() {
        use crate::doc::value::{ContainerId, ContainerKind};
        let doc = edited();
        let table_of = |size: usize| {
            let mut log = doc.log.clone();
            let table = log.ops.containers_mut();
            let extra = size - table.len();
            table.extend(
                (0..extra).map(|i| ContainerId::root(format!("x{i}"), ContainerKind::Text)),
            );
            saved_with_history(&doc, log.encode())
        };
        let limit = usize::from(super::super::stored_op::ObjIndex::MAX) + 1;
        assert_eq!(
            Doc::load(&table_of(limit)).unwrap().materialize(),
            doc.materialize()
        );
        assert!(malformed(Doc::load(&table_of(limit + 1))));
    }

    #[test]
    fn a_delete_run_claiming_billions_of_deletes_is_refused() {
        let doc = edited();
        let history = forged(&doc, |ops| {
            for op in ops.iter_mut() {
                if let StoredOp::TextDelete { count, len, .. } = op {
                    *count = u32::MAX;
                    *len = 1;
                }
            }
        });
        assert!(history.len() < 1024);
        assert!(malformed(Doc::load(&saved_with_history(&doc, history))));
    }

    /// A whole history (`b'H'`) whose run of forward deletes claims four changes per byte of
    /// the history, a few bytes for twelve million changes: listing their ids (what the relay
    /// asks of every message it receives, and what `apply_changes` returns) would take 288 MB.
    /// Both refuse it, charging the list to the message's decoding budget before building it.
    #[test]
    fn a_history_claiming_more_changes_than_its_budget_can_list_is_refused() {
        let mut doc = Doc::with_replica(ReplicaId::new(1));
        doc.text("t").insert(0, &"a".repeat(3 << 20)).unwrap();
        doc.commit();
        for _ in 0..2 {
            doc.text("t").delete(0, 1).unwrap();
            doc.commit();
        }
        let extra: u32 = 12_000_000;
        let mut log = doc.log.clone();
        let mut ops = log.ops.ops_vec();
        let Some(StoredOp::TextDelete {
            count, backward, ..
        }) = ops.last_mut()
        else {
            panic!("the history ends with a run of deletes");
        };
        assert!(!*backward, "a run of forward deletes");
        *count += extra;
        log.ops.set_ops(ops);
        log.graph.lengthen_last_run(u64::from(extra));
        if let Some(last) = log.widths.last_mut() {
            last.count += extra;
        }
        // Framed as stored (not deflated: three megabytes of one letter would pass deflate's
        // ratio limit, and deflating them is most of this test's time in a debug build).
        let mut bytes = b"CRDTH".to_vec();
        bytes.extend([crate::encoding::FORMAT_VERSION; 2]);
        bytes.push(0);
        bytes.extend(log.encode());
        let budget_exceeded = |result: Result<(), DocError>| {
            matches!(
                result,
                Err(DocError::Decode(DecodeError::Format(
                    FormatError::BudgetExceeded { what, .. }
                ))) if what.ends_with("change ids")
            )
        };
        assert!(budget_exceeded(Doc::change_ids(&bytes).map(drop)));
        let mut joining = Doc::with_replica(ReplicaId::new(2));
        assert!(budget_exceeded(joining.apply_changes(&bytes).map(drop)));
        assert_eq!(joining.change_count(), 0);
    }

    #[test]
    fn an_insert_claiming_more_characters_than_its_bytes_is_refused() {
        let doc = edited();
        let history = forged(&doc, |ops| {
            if let Some(StoredOp::TextInsert { chars, .. }) = ops.first_mut() {
                *chars += 3;
            }
        });
        assert!(malformed(Doc::load(&saved_with_history(&doc, history))));
    }

    #[test]
    fn an_insert_cutting_a_character_in_two_is_refused() {
        let doc = edited();
        // "h" then "é" (two bytes): the first insert takes one byte of the é as well.
        let history = forged(&doc, |ops| {
            if let Some(StoredOp::TextInsert { byte_len, .. }) = ops.first_mut() {
                *byte_len = 2;
            }
        });
        assert!(malformed(Doc::load(&saved_with_history(&doc, history))));
    }

    #[test]
    fn an_operation_kept_whole_across_a_change_boundary_is_refused() {
        let doc = edited();
        // The map write starts where the mark starts: it would cross into the mark's change.
        let history = forged(&doc, |ops| {
            let whole: Vec<usize> = (0..ops.len())
                .filter(|&i| matches!(ops[i], StoredOp::Whole { .. }))
                .collect();
            let (mark, map) = (whole[0], whole[1]);
            let start = ops[mark].start();
            ops.swap(mark, map);
            if let StoredOp::Whole { start: s, .. } = &mut ops[mark] {
                *s = start;
            }
        });
        assert!(Doc::load(&saved_with_history(&doc, history)).is_err());
    }

    /// Every truncation and many byte changes of a real history: refused, or a log whose
    /// every change rebuilds; never a panic.
    #[test]
    fn truncated_and_flipped_histories_never_panic() {
        let doc = edited();
        let bytes = doc.log.encode();
        for end in 0..bytes.len() {
            assert!(decode(&bytes[..end]).is_err(), "truncated at {end} decoded");
        }
        for i in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut forged = bytes.clone();
                forged[i] ^= flip;
                if let Ok(log) = decode(&forged) {
                    let changes: Vec<_> = log.changes().collect();
                    assert_eq!(changes.len(), log.len());
                    for change in &changes {
                        change.validate().unwrap();
                        for c in change.id.start..change.id.end {
                            let dot = crate::clock::Dot::new(change.id.replica, c);
                            assert!(log.op_at(dot).is_some());
                        }
                    }
                    let _ = log.encode();
                }
            }
        }
    }
}

/// A stored operation is 40 bytes (its dots packed into eight bytes each, its container a
/// 16-bit index beside the enum's tag): the log's memory is mostly these, one per run of
/// typing or deleting.
#[test]
fn a_stored_operation_takes_40_bytes() {
    let size = std::mem::size_of::<super::stored_op::StoredOp>();
    assert!(size <= 40, "{size} bytes");
}

/// Texts past the 65,536 a compact operation can name keep their operations whole: typed,
/// rebuilt, saved and loaded, and sent to a peer, each is what it was.
#[test]
fn texts_past_the_compact_container_limit_keep_their_operations_whole() {
    let texts = usize::from(super::stored_op::ObjIndex::MAX) + 3;
    let name = |i: usize| format!("t{i}");
    let mut doc = crate::Doc::with_replica(ReplicaId::new(1));
    for i in 0..texts {
        doc.text(&name(i)).insert(0, "ab").unwrap();
    }
    doc.commit();
    let last = name(texts - 1);
    for (at, ch) in ["c", "d", "e"].into_iter().enumerate() {
        doc.text(&last).insert(2 + at, ch).unwrap();
        doc.commit();
    }
    doc.text(&last).delete(4, 1).unwrap();
    doc.commit();
    assert_eq!(doc.text(&last).to_string(), "abcd");
    let whole = doc
        .log
        .ops
        .ops_vec()
        .iter()
        .filter(|op| matches!(op, super::stored_op::StoredOp::Whole { .. }))
        .count();
    assert_eq!(whole, 2 + 3 + 1, "the two last texts' operations are whole");
    assert_eq!(doc.log.changes().collect::<Vec<_>>(), doc.log.shadow);
    let loaded = crate::Doc::load(&doc.save()).unwrap();
    assert_eq!(loaded.log.changes().collect::<Vec<_>>(), doc.log.shadow);
    let mut peer = crate::Doc::with_replica(ReplicaId::new(2));
    peer.apply_changes(&doc.encode_changes_since(&VersionVector::new()))
        .unwrap();
    for i in [0, texts - 3, texts - 2, texts - 1] {
        assert_eq!(
            peer.text(&name(i)).to_string(),
            doc.text(&name(i)).to_string()
        );
    }
}

/// `locate_inserts` answers, for dots in any order, what the inserts the log rebuilds say:
/// three replicas typing into two texts and a map, several graph runs each, dots asked in a
/// scrambled order and repeated, and dots no insert of the text made (a map write, the other
/// text's characters, unknown replicas, past the end) answered `None`. Fails when the sweep
/// skips an op, leaves a graph run wrongly, or answers for another container.
#[test]
fn insert_origins_of_any_dots_are_the_rebuilt_inserts_origins() {
    use crate::clock::Dot;
    use crate::seq::{Content, SeqOp};
    use crate::Doc;

    let mut docs: Vec<Doc> = (1..=3)
        .map(|r| Doc::with_replica(ReplicaId::new(r)))
        .collect();
    for round in 0..12usize {
        for (i, doc) in docs.iter_mut().enumerate() {
            let len = doc.text("t").len();
            doc.text("t")
                .insert((round * 7 + i) % (len + 1), &"xyz"[..1 + (round + i) % 3])
                .unwrap();
            if round % 3 == i {
                doc.text("u").insert(0, "uu").unwrap();
                doc.map("m").set("k", round as i64).unwrap();
            }
            doc.commit();
        }
        // Sync now and then, so that the replicas' runs break and interleave in the log.
        if round % 4 == 3 {
            let all: Vec<Vec<u8>> = docs
                .iter()
                .map(|d| d.encode_changes_since(&VersionVector::new()))
                .collect();
            for doc in docs.iter_mut() {
                for bytes in &all {
                    doc.apply_changes(bytes).unwrap();
                }
            }
        }
    }
    let log = &docs[0].log;
    let text = ContainerId::root("t", ContainerKind::Text);
    // The oracle: every character each rebuilt insert into `t` made, with its origins.
    let mut expected: BTreeMap<Dot, (Option<Dot>, Option<Dot>)> = BTreeMap::new();
    for change in log.changes() {
        for (dot, op) in change.ops_with_dots() {
            if let Op::Text {
                obj,
                op:
                    SeqOp::Insert {
                        origin_left,
                        origin_right,
                        content,
                        ..
                    },
            } = op
            {
                if *obj != text {
                    continue;
                }
                for k in 0..content.len() as u64 {
                    let left = if k == 0 {
                        *origin_left
                    } else {
                        Some(Dot::new(dot.replica, dot.counter + k - 1))
                    };
                    expected.insert(
                        Dot::new(dot.replica, dot.counter + k),
                        (left, *origin_right),
                    );
                }
            }
        }
    }
    assert!(expected.len() > 50);
    let mut dots: Vec<Dot> = Vec::new();
    for r in 1..=4 {
        for c in 1..=log.version().get(ReplicaId::new(r)) + 2 {
            dots.push(Dot::new(ReplicaId::new(r), c));
        }
    }
    // Scrambled, and some asked twice.
    let n = dots.len();
    let mut asked: Vec<Dot> = (0..n).map(|i| dots[(i * 7919) % n]).collect();
    asked.extend_from_slice(&dots[..n / 3]);
    let found = log.locate_inserts(&text, &asked, &crate::seq::id_order(&asked));
    assert_eq!(found.len(), asked.len());
    for (dot, found) in asked.iter().zip(found) {
        assert_eq!(
            found.map(|f| f.origins),
            expected.get(dot).copied(),
            "{dot:?}"
        );
    }
}
