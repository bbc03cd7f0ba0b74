//! Behaviour of [`Doc`] that applications rely on.

use std::sync::{Arc, Mutex};

use proptest::prelude::*;

use super::*;
use crate::seq::{Assoc, SeqOp, TextContent};

fn doc(id: u64) -> Doc {
    Doc::with_replica(ReplicaId::new(id))
}

/// Sends everything `from` has that `to` lacks.
fn sync(from: &Doc, to: &mut Doc) {
    to.apply_changes(&from.encode_changes_since(&to.version()))
        .expect("valid changes apply");
}

fn text(s: &str) -> Materialized {
    Materialized::Text(s.to_owned())
}

#[test]
fn every_container_kind_round_trips_through_changes() {
    let mut a = doc(1);
    a.text("body").insert(0, "hello").unwrap();
    a.text("body").insert(5, " world").unwrap();
    a.text("body").delete(0, 1).unwrap();
    a.text("body").insert(0, "H").unwrap();
    a.map("meta").set("title", "Notes").unwrap();
    a.map("meta").set("pages", 3).unwrap();
    a.map("meta").set("ratio", 0.5).unwrap();
    a.map("meta").set("draft", true).unwrap();
    a.map("meta").set("blob", vec![0u8, 255]).unwrap();
    a.map("meta").set("nothing", ()).unwrap();
    a.list("todo").push("milk").unwrap();
    a.list("todo").insert_many(0, ["eggs", "bread"]).unwrap();
    a.list("todo").delete(1, 1).unwrap();
    a.counter("likes").increment(5).unwrap();
    a.counter("likes").decrement(2).unwrap();
    assert!(a.commit().is_some());

    let mut b = doc(2);
    sync(&a, &mut b);
    assert_eq!(b.text("body").to_string(), "Hello world");
    assert_eq!(b.map("meta").get("title"), Some(Value::from("Notes")));
    assert_eq!(b.map("meta").get("blob"), Some(Value::from(vec![0u8, 255])));
    assert_eq!(
        b.list("todo").values(),
        vec![Value::from("eggs"), Value::from("milk")]
    );
    assert_eq!(b.counter("likes").value(), 3);
    assert_eq!(a.materialize(), b.materialize());
    assert_eq!(a.version(), b.version());
}

#[test]
fn a_commit_is_one_change_and_runs_of_typing_are_one_op() {
    let mut a = doc(1);
    for (i, c) in "typing".chars().enumerate() {
        a.text("t").insert(i, &c.to_string()).unwrap();
    }
    let id = a.commit().unwrap();
    assert_eq!((id.start, id.end), (1, 7));
    assert_eq!(a.change_count(), 1);
    assert_eq!(
        a.log.changes().next().unwrap().ops.len(),
        1,
        "six keystrokes are one insert op"
    );
    assert_eq!(a.commit(), None, "nothing open");
}

#[test]
fn concurrent_map_writes_pick_one_winner_and_keep_the_others() {
    let mut a = doc(1);
    let mut b = doc(2);
    a.map("m").set("k", "from a").unwrap();
    a.commit();
    b.map("m").set("k", "from b").unwrap();
    b.commit();
    sync(&a, &mut b);
    sync(&b, &mut a);
    let winner = a.map("m").get("k");
    assert_eq!(winner, b.map("m").get("k"));
    assert_eq!(a.map("m").get_all("k").len(), 2);
    assert_eq!(b.map("m").get_all("k"), a.map("m").get_all("k"));
    // A later write that saw both supersedes both.
    a.map("m").set("k", "resolved").unwrap();
    a.commit();
    sync(&a, &mut b);
    assert_eq!(b.map("m").get_all("k"), vec![Value::from("resolved")]);
}

#[test]
fn a_remove_only_removes_what_it_saw() {
    let mut a = doc(1);
    let mut b = doc(2);
    a.map("m").set("k", 1).unwrap();
    a.commit();
    sync(&a, &mut b);
    b.map("m").delete("k").unwrap();
    b.commit();
    a.map("m").set("k", 2).unwrap();
    a.commit();
    sync(&a, &mut b);
    sync(&b, &mut a);
    assert_eq!(a.map("m").get("k"), Some(Value::from(2)));
    assert_eq!(a.materialize(), b.materialize());
}

#[test]
fn nested_containers_merge() {
    let mut a = doc(1);
    let todo = a.list("todos").push_container(ContainerKind::Map).unwrap();
    a.map_at(&todo).unwrap().set("text", "buy milk").unwrap();
    let title = a
        .map_at(&todo)
        .unwrap()
        .set_container("notes", ContainerKind::Text)
        .unwrap();
    a.text_at(&title).unwrap().insert(0, "2%").unwrap();
    a.commit();
    let mut b = doc(2);
    sync(&a, &mut b);
    b.map_at(&todo).unwrap().set("done", true).unwrap();
    b.text_at(&title).unwrap().insert(2, " fat").unwrap();
    b.commit();
    a.map_at(&todo)
        .unwrap()
        .set("text", "buy oat milk")
        .unwrap();
    a.commit();
    sync(&a, &mut b);
    sync(&b, &mut a);
    assert_eq!(a.materialize(), b.materialize());
    let Materialized::List(items) = &a.materialize()["todos:list"] else {
        panic!("a list")
    };
    let Materialized::Map(item) = &items[0] else {
        panic!("a map")
    };
    assert_eq!(item["done"], Materialized::Scalar(Scalar::Bool(true)));
    assert_eq!(item["notes"], text("2% fat"));
    assert_eq!(
        item["text"],
        Materialized::Scalar(Scalar::from("buy oat milk"))
    );
    assert!(matches!(a.text_at(&todo), Err(DocError::WrongKind(_))));
}

#[test]
fn changes_wait_for_their_causal_past_and_duplicates_are_ignored() {
    let mut a = doc(1);
    a.text("t").insert(0, "one ").unwrap();
    a.commit();
    let first = a.encode_changes_since(&VersionVector::new());
    let v1 = a.version();
    a.text("t").insert(4, "two").unwrap();
    a.commit();
    let second = a.encode_changes_since(&v1);

    let mut b = doc(2);
    let outcome = b.apply_changes(&second).unwrap();
    assert!(outcome.applied.is_empty());
    assert_eq!(outcome.pending, 1);
    assert_eq!(outcome.missing, vec![Dot::new(ReplicaId::new(1), 4)]);
    assert_eq!(b.text("t").to_string(), "");
    let outcome = b.apply_changes(&first).unwrap();
    assert_eq!(
        outcome.applied.len(),
        2,
        "the waiting change applies when the gap fills"
    );
    assert_eq!(outcome.pending, 0);
    assert_eq!(b.text("t").to_string(), "one two");
    let again = b.apply_changes(&first).unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(b.text("t").to_string(), "one two");
}

#[test]
fn save_and_load_keep_content_version_and_future_merges() {
    let mut a = doc(1);
    a.text("t").insert(0, "abc").unwrap();
    let inner = a
        .map("m")
        .set_container("inner", ContainerKind::List)
        .unwrap();
    a.list_at(&inner).unwrap().push(1).unwrap();
    a.counter("c").increment(2).unwrap();
    a.commit();
    a.text("t").delete(1, 1).unwrap();
    a.commit();
    // A change from a third replica that waits for something that never came is kept too.
    let mut c = doc(3);
    c.text("x").insert(0, "lost?").unwrap();
    c.commit();
    let v = c.version();
    c.text("x").insert(0, "no ").unwrap();
    c.commit();
    a.apply_changes(&c.encode_changes_since(&v)).unwrap();
    assert_eq!(a.pending_count(), 1);

    let snapshot = a.save();
    let mut loaded = Doc::load(&snapshot).unwrap();
    assert_ne!(loaded.replica(), a.replica());
    assert_eq!(loaded.materialize(), a.materialize());
    assert_eq!(loaded.version(), a.version());
    assert_eq!(loaded.pending_count(), 1);
    assert_eq!(
        loaded.encode_changes_since(&VersionVector::new()),
        a.encode_changes_since(&VersionVector::new())
    );
    // The same future change behaves the same on both.
    let mut b = doc(2);
    sync(&a, &mut b);
    b.text("t").insert(0, ">").unwrap();
    b.list_at(&inner).unwrap().push(2).unwrap();
    b.commit();
    sync(&b, &mut a);
    sync(&b, &mut loaded);
    sync(&c, &mut a);
    sync(&c, &mut loaded);
    assert_eq!(loaded.pending_count(), 0);
    assert_eq!(loaded.materialize(), a.materialize());
    // The loaded doc keeps editing with its own id and merges back.
    loaded.text("t").insert(0, "!").unwrap();
    loaded.commit();
    sync(&loaded, &mut a);
    assert_eq!(loaded.materialize(), a.materialize());
    assert_eq!(a.text("t").to_string(), "!>ac");
}

#[test]
fn utf16_positions_and_cursors() {
    let mut a = doc(1);
    a.text("t").insert(0, "a😀b").unwrap();
    assert_eq!(a.text("t").len(), 3);
    assert_eq!(a.text("t").len_utf16(), 4);
    assert_eq!(a.text("t").utf16_to_pos(3).unwrap(), 2);
    assert!(
        a.text("t").utf16_to_pos(2).is_err(),
        "inside a surrogate pair"
    );
    a.text("t").insert_utf16(3, "x").unwrap();
    assert_eq!(a.text("t").to_string(), "a😀xb");
    let cursor = a.text("t").cursor(3, Assoc::After);
    a.commit();
    let mut b = doc(2);
    sync(&a, &mut b);
    b.text("t").insert(0, "12").unwrap();
    b.commit();
    sync(&b, &mut a);
    assert_eq!(a.text("t").resolve_cursor(&cursor), Some(5));
    a.text("t").delete_utf16(3, 3).unwrap();
    assert_eq!(a.text("t").to_string(), "12ab");
}

#[test]
fn events_describe_local_and_remote_changes() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let mut b = doc(2);
    let sink = events.clone();
    let sub = b.subscribe(move |e| sink.lock().unwrap().push(e.clone()));

    let mut a = doc(1);
    let todo = a.list("todos").push_container(ContainerKind::Map).unwrap();
    a.map_at(&todo).unwrap().set("text", "milk").unwrap();
    a.text("body").insert(0, "hi").unwrap();
    a.commit();
    sync(&a, &mut b);
    b.counter("n").increment(3).unwrap();
    b.commit();

    let got = events.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].origin, EventOrigin::Remote);
    let actions: Vec<_> = got[0]
        .patches
        .iter()
        .map(|p| (&p.path, &p.action))
        .collect();
    assert!(actions.contains(&(
        &Some(vec![
            PathSegment::Root("todos".into()),
            PathSegment::Index(0)
        ]),
        &PatchAction::MapPut {
            key: "text".into(),
            value: Value::from("milk"),
            conflicts: 0
        }
    )));
    assert!(actions.contains(&(
        &Some(vec![PathSegment::Root("body".into())]),
        &PatchAction::TextInsert {
            index: 0,
            index_utf16: 0,
            text: "hi".into(),
            attributes: Default::default(),
        }
    )));
    assert_eq!(got[1].origin, EventOrigin::Local);
    assert_eq!(
        got[1].patches[0].action,
        PatchAction::CounterAdd { delta: 3 }
    );
    assert!(b.unsubscribe(sub));
    b.counter("n").increment(1).unwrap();
    b.commit();
    assert_eq!(events.lock().unwrap().len(), 2);
}

#[test]
fn text_patches_carry_utf16_positions_for_local_and_remote_changes() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let mut a = doc(1);
    a.text("t").insert(0, "😀é").unwrap();
    a.commit();
    let mut b = doc(2);
    let sink = events.clone();
    b.subscribe(move |e: &DocEvent| {
        sink.lock()
            .unwrap()
            .extend(e.patches.iter().map(|p| p.action.clone()))
    });
    sync(&a, &mut b);
    // Local: after the emoji (2 UTF-16 units) and "é".
    b.text("t").insert(2, "x😀").unwrap();
    b.text("t").delete(1, 2).unwrap();
    b.commit();
    a.text("t").insert(0, "ab").unwrap();
    a.text("t").delete(3, 1).unwrap();
    a.commit();
    sync(&a, &mut b);
    let got = events.lock().unwrap().clone();
    assert_eq!(
        got,
        vec![
            PatchAction::TextInsert {
                index: 0,
                index_utf16: 0,
                text: "😀é".into(),
                attributes: Default::default(),
            },
            PatchAction::TextInsert {
                index: 2,
                index_utf16: 3,
                text: "x😀".into(),
                attributes: Default::default(),
            },
            PatchAction::TextDelete {
                index: 1,
                index_utf16: 2,
                len: 2,
                len_utf16: 2
            },
            // Remote: "ab" at 0, then a's delete of its "é" (position 3 on a, 2 here).
            PatchAction::TextInsert {
                index: 0,
                index_utf16: 0,
                text: "ab".into(),
                attributes: Default::default(),
            },
        ],
        "{got:?}"
    );
    sync(&b, &mut a);
    assert_eq!(a.materialize(), b.materialize());
    assert_eq!(b.text("t").to_string(), "ab😀😀");
}

#[test]
fn a_remote_delete_reports_the_utf16_length_of_what_it_removed() {
    let mut a = doc(1);
    a.text("t").insert(0, "a😀é😀b").unwrap();
    a.commit();
    let mut b = doc(2);
    sync(&a, &mut b);
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    b.subscribe(move |e: &DocEvent| {
        sink.lock()
            .unwrap()
            .extend(e.patches.iter().map(|p| p.action.clone()))
    });
    // "😀é😀": 3 characters, 5 UTF-16 units, which b can no longer measure once they are gone.
    a.text("t").delete(1, 3).unwrap();
    a.commit();
    sync(&a, &mut b);
    assert_eq!(
        *events.lock().unwrap(),
        vec![PatchAction::TextDelete {
            index: 1,
            index_utf16: 1,
            len: 3,
            len_utf16: 5
        }]
    );
    // Applying the patch to a UTF-16 string, as an editor would, gives b's text.
    let mut editor: Vec<u16> = "a😀é😀b".encode_utf16().collect();
    editor.drain(1..1 + 5);
    assert_eq!(
        String::from_utf16(&editor).unwrap(),
        b.text("t").to_string()
    );
}

#[test]
fn hostile_bytes_are_typed_errors_and_change_nothing() {
    let mut a = doc(1);
    a.text("t").insert(0, "hello").unwrap();
    a.map("m").set("k", "v").unwrap();
    a.commit();
    let good = a.encode_changes_since(&VersionVector::new());
    let snapshot = a.save();

    let mut b = doc(2);
    b.text("t").insert(0, "mine").unwrap();
    b.commit();
    let before = b.materialize();
    let version = b.version();
    for cut in 0..good.len() {
        assert!(b.apply_changes(&good[..cut]).is_err(), "truncated at {cut}");
    }
    for cut in 0..snapshot.len() {
        assert!(
            Doc::load(&snapshot[..cut]).is_err(),
            "truncated snapshot at {cut}"
        );
    }
    let mut wrong_version = good.clone();
    wrong_version[5] = 9;
    assert_eq!(
        b.apply_changes(&wrong_version),
        Err(DocError::Decode(DecodeError::UnsupportedVersion(9)))
    );
    assert!(matches!(
        Doc::load(&good),
        Err(DocError::Decode(DecodeError::WrongKind { .. }))
    ));
    assert_eq!(b.materialize(), before);
    assert_eq!(b.version(), version);
}

#[test]
fn bit_flips_in_a_columnar_batch_are_refused_or_applied_consistently() {
    // A batch of every op kind from two replicas, framed without deflate so that every flip
    // reaches the columnar decoder.
    let mut a = doc(1);
    a.text("t").insert(0, "hé😀").unwrap();
    let todo = a.list("l").push_container(ContainerKind::Map).unwrap();
    a.map_at(&todo).unwrap().set("k", 1).unwrap();
    a.counter("c").increment(2).unwrap();
    a.commit();
    let mut b = doc(2);
    sync(&a, &mut b);
    b.text("t").delete(1, 1).unwrap();
    b.map("m").set("x", "y").unwrap();
    b.commit();
    a.map("m").delete("x").unwrap();
    a.commit();
    sync(&b, &mut a);
    a.list("l").delete(0, 1).unwrap();
    a.commit();
    let changes: Vec<Change> = a.log.changes().collect();
    let raw = format::changes::encode_raw(&changes);
    let frame = |raw: &[u8]| {
        let mut out = [
            b"CRDTC".as_slice(),
            &[crate::encoding::FORMAT_VERSION; 2],
            &[0],
        ]
        .concat();
        out.extend_from_slice(raw);
        out
    };
    let mut fresh = doc(3);
    fresh.apply_changes(&frame(&raw)).unwrap();
    assert_eq!(fresh.materialize(), a.materialize());
    for i in 0..raw.len() {
        for bit in [0, 3, 7] {
            let mut flipped = raw.clone();
            flipped[i] ^= 1 << bit;
            let mut d = doc(4);
            d.text("t").insert(0, "z").unwrap();
            d.commit();
            let before = d.materialize();
            match d.apply_changes(&frame(&flipped)) {
                Err(DocError::Decode(_)) | Err(DocError::InvalidChange(_)) => {
                    assert_eq!(
                        d.materialize(),
                        before,
                        "flip {i}:{bit} changed a refusing doc"
                    )
                }
                // Whatever applied leaves a document that saves and loads to itself.
                _ => {
                    let loaded = Doc::load(&d.save()).unwrap();
                    assert_eq!(loaded.materialize(), d.materialize());
                }
            }
        }
    }
}

fn forged(change: Change) -> Vec<u8> {
    format::encode_changes([&change])
}

/// A forged text insert whose right origin lies inside a run ("X" between "a" and "e" of
/// "abcdef"), received before or after a concurrent delete that cuts that run ("d"): both
/// replicas place it right before "e" (the walk stopped at the start of the run holding the
/// right origin, so the one that got the delete first put it after "c", the other after "a").
#[test]
fn a_forged_right_origin_inside_a_run_converges_in_either_delivery_order() {
    let mut a = doc(1);
    a.text("t").insert(0, "abcdef").unwrap();
    a.commit();
    let (mut b, mut c) = (doc(2), doc(3));
    sync(&a, &mut b);
    sync(&a, &mut c);
    a.text("t").delete(3, 1).unwrap();
    a.commit();
    let r = ReplicaId::new(9);
    let x = forged(Change {
        id: SeqRange {
            replica: r,
            start: 1,
            end: 2,
        },
        parents: vec![Dot::new(ReplicaId::new(1), 6)],
        lamport: 7,
        ops: vec![Op::Text {
            obj: ContainerId::root("t", ContainerKind::Text),
            op: SeqOp::Insert {
                id: Dot::new(r, 1),
                origin_left: Some(Dot::new(ReplicaId::new(1), 1)),
                origin_right: Some(Dot::new(ReplicaId::new(1), 5)),
                content: TextContent::from("X"),
            },
        }],
        meta: None,
    });
    b.apply_changes(&x).expect("known origins, in order");
    sync(&a, &mut b);
    sync(&a, &mut c);
    c.apply_changes(&x).expect("known origins, in order");
    for d in [&mut b, &mut c] {
        let t = d.text("t");
        assert_eq!(t.slice(0, t.len()).unwrap(), "abcXef");
    }
    assert_eq!(b.materialize(), c.materialize());
}

#[test]
fn forged_changes_are_refused_whole() {
    let mut b = doc(2);
    b.text("t").insert(0, "ab").unwrap();
    b.commit();
    let before = b.materialize();
    let r = ReplicaId::new(9);
    // Refers to an element that does not exist.
    let bad_origin = Change {
        id: SeqRange {
            replica: r,
            start: 1,
            end: 3,
        },
        parents: Vec::new(),
        lamport: 1,
        ops: vec![
            Op::CounterAdd {
                obj: ContainerId::root("c", ContainerKind::Counter),
                delta: 1,
            },
            Op::Text {
                obj: ContainerId::root("t", ContainerKind::Text),
                op: SeqOp::Insert {
                    id: Dot::new(r, 2),
                    origin_left: Some(Dot::new(ReplicaId::new(77), 1)),
                    origin_right: None,
                    content: TextContent::from("x"),
                },
            },
        ],
        meta: None,
    };
    assert!(matches!(
        b.apply_changes(&forged(bad_origin)),
        Err(DocError::Rejected { .. })
    ));
    assert_eq!(
        b.materialize(),
        before,
        "the counter op of the refused change did not apply"
    );
    // Ops that do not fill the change's id range.
    let bad_width = Change {
        id: SeqRange {
            replica: r,
            start: 1,
            end: 5,
        },
        parents: Vec::new(),
        lamport: 1,
        ops: vec![Op::CounterAdd {
            obj: ContainerId::root("c", ContainerKind::Counter),
            delta: 1,
        }],
        meta: None,
    };
    assert!(matches!(
        bad_width.validate(),
        Err(ChangeError::BadWidth { .. })
    ));
    // The encoding cannot even express it: a change's end is the width of its ops.
    let decoded = format::decode_changes(&forged(bad_width)).unwrap();
    assert_eq!(decoded[0].id.end, 2);
    // An insert of nothing takes no counter: refused.
    let empty_insert = Change {
        id: SeqRange {
            replica: r,
            start: 1,
            end: 1,
        },
        parents: Vec::new(),
        lamport: 1,
        ops: vec![Op::Text {
            obj: ContainerId::root("t", ContainerKind::Text),
            op: SeqOp::Insert {
                id: Dot::new(r, 1),
                origin_left: None,
                origin_right: None,
                content: TextContent::from(""),
            },
        }],
        meta: None,
    };
    assert!(matches!(
        b.apply_changes(&forged(empty_insert)),
        Err(DocError::InvalidChange(_))
    ));
    // A container that was never created.
    let ghost = Change {
        id: SeqRange {
            replica: r,
            start: 1,
            end: 2,
        },
        parents: Vec::new(),
        lamport: 1,
        ops: vec![Op::CounterAdd {
            obj: ContainerId::Created {
                id: Dot::new(r, 50),
                kind: ContainerKind::Counter,
            },
            delta: 1,
        }],
        meta: None,
    };
    assert!(matches!(
        b.apply_changes(&forged(ghost)),
        Err(DocError::Rejected { .. })
    ));
    // A wrong-kind op.
    let wrong_kind = Change {
        id: SeqRange {
            replica: r,
            start: 1,
            end: 2,
        },
        parents: Vec::new(),
        lamport: 1,
        ops: vec![Op::CounterAdd {
            obj: ContainerId::root("t", ContainerKind::Text),
            delta: 1,
        }],
        meta: None,
    };
    assert!(matches!(
        b.apply_changes(&forged(wrong_kind)),
        Err(DocError::InvalidChange(_))
    ));
    assert_eq!(b.materialize(), before);
    // The genuine replica 9 can still write afterwards: nothing of it counted as applied.
    let mut r9 = doc(9);
    r9.counter("c").increment(1).unwrap();
    r9.commit();
    sync(&r9, &mut b);
    assert_eq!(b.counter("c").value(), 1);
}

/// A batch is checked whole before any of it applies, though it is decoded one change at a
/// time: an invalid last change, or bytes that do not end where the last change does, leave
/// the document as it was, with none of the batch's valid changes applied.
/// Three one-word commits of replica 1 into text "t", as changes.
fn three_words() -> Vec<Change> {
    let mut a = doc(1);
    for word in ["one ", "two ", "three"] {
        let len = a.text("t").len();
        a.text("t").insert(len, word).unwrap();
        a.commit();
    }
    a.log.changes().collect()
}

/// A change no document accepts (its map key is too long), as the next change of `after`'s
/// replica.
fn invalid_after(after: &Change) -> Change {
    Change {
        id: SeqRange {
            replica: after.id.replica,
            start: after.id.end,
            end: after.id.end + 1,
        },
        parents: vec![Dot::new(after.id.replica, after.id.end - 1)],
        lamport: after.lamport + after.id.len(),
        ops: vec![Op::MapDelete {
            obj: ContainerId::root("m", ContainerKind::Map),
            key: "k".repeat(MAX_KEY_LEN + 1),
            pred: Vec::new(),
        }],
        meta: Default::default(),
    }
}

/// Receivers of a batch: one that holds nothing (a replica joining, which decodes a batch once
/// and undoes it when it is refused) and one that holds a change of its own (which checks the
/// whole batch before applying any of it).
fn receivers() -> [Doc; 2] {
    let mut holding = doc(3);
    holding.map("own").set("k", 1).unwrap();
    holding.commit();
    [doc(2), holding]
}

#[test]
fn a_batch_with_a_bad_last_change_or_a_bad_end_applies_none_of_its_changes() {
    let mut changes = three_words();
    let valid = format::encode_changes(changes.iter());
    let last = changes.last_mut().unwrap();
    last.ops = vec![Op::MapDelete {
        obj: ContainerId::root("m", ContainerKind::Map),
        key: "k".repeat(MAX_KEY_LEN + 1),
        pred: Vec::new(),
    }];
    let invalid_last = format::encode_changes(changes.iter());
    for mut b in receivers() {
        let (before, version) = (b.materialize(), b.version());
        let events = Arc::new(Mutex::new(0));
        let seen = Arc::clone(&events);
        b.subscribe(move |_| *seen.lock().unwrap() += 1);
        assert!(matches!(
            b.apply_changes(&invalid_last),
            Err(DocError::InvalidChange(_))
        ));
        assert_eq!(b.text("t").to_string(), "");
        assert_eq!(b.version(), version);
        assert_eq!(b.materialize(), before);
        assert_eq!(*events.lock().unwrap(), 0, "no event for a refused batch");
        // The valid batch with a byte appended to its body (stored raw, so the byte lands past
        // the last column).
        let mut raw = format::changes::encode_raw(format::decode_changes(&valid).unwrap().iter());
        raw.push(0);
        let mut trailing = crate::encoding::frame(crate::encoding::EncodingKind::Changes, &raw);
        assert_eq!(trailing.len(), valid.len() + 1, "the body is stored raw");
        assert!(b.apply_changes(&trailing).is_err());
        assert_eq!(b.version(), version);
        assert_eq!(b.materialize(), before);
        assert_eq!(*events.lock().unwrap(), 0, "no event for a refused batch");
        trailing.pop();
        let outcome = b.apply_changes(&trailing).unwrap();
        assert_eq!(outcome.applied.len(), 3);
        assert_eq!(b.text("t").to_string(), "one two three");
        assert_eq!(*events.lock().unwrap(), 1);
        // The document works on after what was refused.
        b.text("t").insert(0, ">").unwrap();
        b.commit();
        assert_eq!(b.text("t").to_string(), ">one two three");
    }
}

#[test]
fn an_invalid_change_after_a_causal_error_refuses_the_batch_whole() {
    // The first change applies; the second is missing, so the third waits, and a buffer that
    // holds nothing refuses it (a causal error, which stops applying). The batch's last change
    // is invalid: that refuses the whole batch, the first change included.
    let mut changes = three_words();
    changes.remove(1);
    let next = invalid_after(changes.last().unwrap());
    changes.push(next);
    let batch = format::encode_changes(changes.iter());
    for mut b in receivers() {
        b.set_buffer_limits(BufferLimits {
            max_changes: 0,
            max_bytes: 0,
        });
        let (before, version) = (b.materialize(), b.version());
        assert!(matches!(
            b.apply_changes(&batch),
            Err(DocError::InvalidChange(_))
        ));
        assert_eq!(b.version(), version);
        assert_eq!(b.materialize(), before);
        let outcome = b
            .apply_changes(&format::encode_changes(&changes[..2]))
            .unwrap_err();
        assert!(
            matches!(outcome, DocError::Causal(CausalError::BufferFull { .. })),
            "{outcome:?}"
        );
        assert_eq!(b.pending_count(), 0);
        assert_eq!(b.text("t").to_string(), "one ", "the first change applied");
    }
}

#[test]
fn a_change_may_use_what_it_inserts_itself_and_nothing_more() {
    // One change that creates a text in a map, types three runs into it and deletes a span
    // across them: every reference is to an id inserted earlier in the same change.
    let mut a = doc(1);
    {
        let mut m = a.map("m");
        let id = m.set_container("note", ContainerKind::Text).unwrap();
        let mut t = a.text_at(&id).unwrap();
        t.insert(0, "abc").unwrap();
        t.insert(3, "def").unwrap();
        t.insert(0, "xyz").unwrap();
        t.delete(2, 5).unwrap();
    }
    a.commit();
    let changes = a.encode_changes_since(&VersionVector::new());
    let mut b = doc(2);
    b.apply_changes(&changes).unwrap();
    assert_eq!(b.materialize(), a.materialize());
    let Some(Value::Container(id)) = b.map("m").get("note") else {
        panic!("a text at m.note")
    };
    assert_eq!(b.text_at(&id).unwrap().to_string(), "xyef");

    // The same, but the delete reaches one id past what the change inserted: refused whole.
    let decoded: Vec<Change> = a.log.changes().collect();
    let mut change = decoded[0].clone();
    let Some(Op::Text {
        op: SeqOp::Delete { len, .. },
        ..
    }) = change.ops.iter_mut().rev().find(|op| {
        matches!(
            op,
            Op::Text {
                op: SeqOp::Delete { .. },
                ..
            }
        )
    })
    else {
        panic!("the change ends with a delete: {:?}", change.ops);
    };
    *len += 100;
    let mut c = doc(3);
    assert!(c.apply_changes(&forged(change)).is_err());
    assert_eq!(
        c.materialize(),
        doc(4).materialize(),
        "nothing of it applied"
    );
}

#[test]
fn deps_that_never_come_are_bounded() {
    let mut b = doc(2);
    b.set_buffer_limits(BufferLimits {
        max_changes: 3,
        max_bytes: 1 << 20,
    });
    let r = ReplicaId::new(5);
    for start in 10..13 {
        let c = Change {
            id: SeqRange {
                replica: r,
                start,
                end: start + 1,
            },
            parents: Vec::new(),
            lamport: start,
            ops: vec![Op::CounterAdd {
                obj: ContainerId::root("c", ContainerKind::Counter),
                delta: 1,
            }],
            meta: None,
        };
        b.apply_changes(&forged(c)).unwrap();
    }
    let c = Change {
        id: SeqRange {
            replica: r,
            start: 20,
            end: 21,
        },
        parents: Vec::new(),
        lamport: 20,
        ops: vec![Op::CounterAdd {
            obj: ContainerId::root("c", ContainerKind::Counter),
            delta: 1,
        }],
        meta: None,
    };
    assert!(matches!(
        b.apply_changes(&forged(c)),
        Err(DocError::Causal(CausalError::BufferFull { .. }))
    ));
    assert_eq!(b.pending_count(), 3);
}

#[test]
fn a_long_offline_session_merges_with_nothing_lost() {
    let mut a = doc(1);
    let mut b = doc(2);
    a.text("t").insert(0, "shared ").unwrap();
    a.commit();
    sync(&a, &mut b);
    for i in 0..500 {
        let len = a.text("t").len();
        a.text("t").insert(len, "a").unwrap();
        a.list("l").push(i).unwrap();
        if i % 10 == 0 {
            a.commit();
        }
        b.text("t").insert(0, "b").unwrap();
        b.counter("c").increment(1).unwrap();
        if i % 7 == 0 {
            b.commit();
        }
    }
    a.commit();
    b.commit();
    sync(&a, &mut b);
    sync(&b, &mut a);
    assert_eq!(a.materialize(), b.materialize());
    assert_eq!(a.text("t").len(), 7 + 1000);
    assert_eq!(a.list("l").len(), 500);
    assert_eq!(a.counter("c").value(), 500);
}

use crate::fuzzing::{random_edit, Edit, EventMirror};

pub(crate) fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), "[a-c😀]{1,3}").prop_map(|(p, s)| Edit::TextInsert(p, s)),
        (any::<usize>(), 1usize..4).prop_map(|(p, n)| Edit::TextDelete(p, n)),
        (0u8..3, any::<i64>()).prop_map(|(k, v)| Edit::MapSet(k, v)),
        (0u8..3).prop_map(Edit::MapDelete),
        (any::<usize>(), any::<i64>()).prop_map(|(p, v)| Edit::ListInsert(p, v)),
        any::<usize>().prop_map(Edit::ListDelete),
        (any::<usize>(), "[xy]{1,2}").prop_map(|(p, s)| Edit::NestedText(p, s)),
        Just(Edit::DropNested),
        (any::<usize>(), 0u8..3, any::<i64>()).prop_map(|(p, k, v)| Edit::ListMap(p, k, v)),
        (-5i64..5).prop_map(Edit::Counter),
        (-5i64..5).prop_map(Edit::NestedCounter),
    ]
}

/// Applies `edit` to `doc` (a live document takes every edit).
pub(crate) fn apply_edit(doc: &mut Doc, edit: &Edit) {
    crate::fuzzing::apply_edit(doc, edit).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Replicas edit at random, commit at random, and exchange changes at random, out of order
    /// and duplicated; after everyone has everything, all are equal, and a save/load of each is
    /// equal too.
    #[test]
    fn random_replicas_converge(
        steps in prop::collection::vec((0usize..4, edit(), any::<bool>(), any::<prop::sample::Index>()), 1..80),
    ) {
        let mut docs: Vec<Doc> = (1..=4).map(doc).collect();
        let mut sent: Vec<Vec<u8>> = Vec::new();
        for (who, edit, commit, pick) in &steps {
            apply_edit(&mut docs[*who], edit);
            if *commit {
                let v = docs[*who].version();
                if docs[*who].commit().is_some() {
                    sent.push(docs[*who].encode_changes_since(&v));
                }
            }
            // Deliver a random earlier message (maybe out of order, maybe again) to someone.
            if !sent.is_empty() {
                let msg = &sent[pick.index(sent.len())];
                let to = pick.index(4);
                docs[to].apply_changes(msg).unwrap();
            }
        }
        for d in &mut docs {
            d.commit();
        }
        for _ in 0..2 {
            for i in 0..4 {
                for j in 0..4 {
                    if i != j {
                        let bytes = docs[i].encode_changes_since(&docs[j].version());
                        docs[j].apply_changes(&bytes).unwrap();
                    }
                }
            }
        }
        let expected = docs[0].materialize();
        for d in &mut docs {
            prop_assert_eq!(d.pending_count(), 0);
            prop_assert_eq!(&d.materialize(), &expected);
            let loaded = Doc::load(&d.save()).unwrap();
            prop_assert_eq!(&loaded.materialize(), &expected);
        }
    }

    /// Random bytes never panic; a doc that refused them is unchanged.
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256), header in any::<bool>()) {
        let mut input = if header { [b"CRDTC".as_slice(), &[crate::encoding::FORMAT_VERSION; 2], &[0]].concat() } else { Vec::new() };
        input.extend_from_slice(&bytes);
        let mut d = doc(1);
        d.text("t").insert(0, "x").unwrap();
        d.commit();
        let before = d.materialize();
        if d.apply_changes(&input).is_err() {
            prop_assert_eq!(d.materialize(), before);
        }
        let mut snap = b"CRDTS\x03\x03\x00".to_vec();
        snap.extend_from_slice(&bytes);
        let _ = Doc::load(&snap);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The real document through the lossy simulated network (drops, duplicates, reorders,
    /// disconnects), as a mesh or behind a relay-like hub, with random edits of every container
    /// kind: after the network heals every peer materializes the same document.
    #[test]
    fn docs_converge_through_a_hostile_network(seed in any::<u64>(), peers in 2usize..6, hub in any::<bool>()) {
        use crate::sync::sim::{simulate, SimConfig};
        let config = if hub { SimConfig::star(peers + 1) } else { SimConfig::mesh(peers) };
        let outcome = simulate(
            seed,
            &config,
            |i| Doc::with_replica(ReplicaId::new(i as u64 + 1)),
            |doc, _peer, rng| {
                for _ in 0..1 + rng.below(3) {
                    let edit = random_edit(rng);
                    apply_edit(doc, &edit);
                }
                doc.commit();
            },
        );
        let expected = outcome.docs[0].materialize();
        for d in &outcome.docs {
            prop_assert_eq!(d.pending_count(), 0);
            prop_assert_eq!(&d.materialize(), &expected);
        }
    }
}

/// The seeds the simulation at scale runs: only `SIM_SEED` when set (to replay a failure), else
/// `0..SIM_SEEDS` (default 50; the full run is `SIM_SEEDS=10000`).
fn sim_seeds() -> std::ops::Range<u64> {
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    match (var("SIM_SEED"), var("SIM_SEEDS")) {
        (Some(seed), _) => seed..seed + 1,
        (None, Some(n)) => 0..n,
        (None, None) => 0..50,
    }
}

/// The seeded simulation at scale: per seed, 5 peers (odd seeds: a relay-like hub and 4 clients;
/// even seeds: a full mesh) and 1,000 scheduled steps on a hostile network (drops, duplicates,
/// reorders, delays, disconnects, re-Hellos, partitions); about 300 steps are local transactions
/// of 1-6 random edits on every container kind (about 1,000 edits per seed). After the network
/// heals: equal documents, nothing pending, events that rebuild the state, save/load round trips.
/// A failure names its seed; `SIM_SEED=n cargo test -p crdt-core at_scale` replays it.
#[test]
fn docs_converge_through_a_hostile_network_at_scale() {
    use crate::sync::sim::{simulate, SimConfig};
    for seed in sim_seeds() {
        let config = SimConfig {
            steps: 1000,
            ..if seed % 2 == 1 {
                SimConfig::star(5)
            } else {
                SimConfig::mesh(5)
            }
        };
        let mut mirrors = Vec::new();
        let outcome = simulate(
            seed,
            &config,
            |i| {
                let mut doc = Doc::with_replica(ReplicaId::new(i as u64 + 1));
                mirrors.push(EventMirror::attach(&mut doc));
                doc
            },
            |doc, _peer, rng| {
                for _ in 0..1 + rng.below(6) {
                    let edit = random_edit(rng);
                    apply_edit(doc, &edit);
                }
                doc.commit();
            },
        );
        let expected = format!("{:?}", outcome.docs[0].materialize());
        for (p, (doc, mirror)) in outcome.docs.iter().zip(&mut mirrors).enumerate() {
            let replay = format!("seed {seed}, peer {p} (replay with SIM_SEED={seed})");
            assert_eq!(doc.pending_count(), 0, "{replay}: changes still wait");
            assert_eq!(
                format!("{:?}", doc.materialize()),
                expected,
                "{replay}: diverged"
            );
            mirror
                .catch_up()
                .unwrap_or_else(|e| panic!("{replay}: {e}"));
            assert_eq!(
                format!("{:?}", mirror.materialize()),
                expected,
                "{replay}: events disagree with the state"
            );
        }
        let mut last = outcome.docs.into_iter().last().expect("five peers");
        let loaded = Doc::load(&last.save()).expect("a saved document loads");
        assert_eq!(
            format!("{:?}", loaded.materialize()),
            expected,
            "seed {seed}: save/load"
        );
    }
}

/// A one-op change of replica `r` on top of `parents` with Lamport time `lamport`.
fn counter_change(r: ReplicaId, parents: Vec<Dot>, lamport: u64) -> Change {
    Change {
        id: SeqRange {
            replica: r,
            start: 1,
            end: 2,
        },
        parents,
        lamport,
        ops: vec![Op::CounterAdd {
            obj: ContainerId::root("c", ContainerKind::Counter),
            delta: 1,
        }],
        meta: None,
    }
}

#[test]
fn commit_takes_one_more_than_the_causal_past() {
    let mut a = doc(1);
    a.text("t").insert(0, "abc").unwrap();
    a.commit();
    let mut b = doc(2);
    sync(&a, &mut b);
    b.counter("c").increment(1).unwrap();
    b.commit();
    let change = &b.log.changes().last().unwrap();
    // a's insert took Lamport times 1..=3; b's change follows them.
    assert_eq!(change.lamport, 4);
    assert_eq!(b.log.expected_lamport(change), Some(4));
}

#[test]
fn a_lamport_time_near_the_end_of_time_is_refused_and_editing_goes_on() {
    let mut honest = doc(1);
    honest.text("t").insert(0, "ab").unwrap();
    honest.commit();
    let forged_change = counter_change(ReplicaId::new(9), honest.log.heads(), u64::MAX - 1);
    assert!(forged_change.validate().is_ok(), "well formed on its own");
    let err = honest.apply_changes(&forged(forged_change)).unwrap_err();
    let DocError::Rejected { reason, .. } = err else {
        panic!("expected a rejection, got {err:?}");
    };
    assert!(matches!(
        *reason,
        DocError::ForgedLamport {
            lamport,
            expected: 3,
            ..
        } if lamport == u64::MAX - 1
    ));
    assert_eq!(honest.version().get(ReplicaId::new(9)), 0, "not applied");
    // Too low is forged as well: a change that claims to precede what it depends on.
    let too_low = counter_change(ReplicaId::new(9), honest.log.heads(), 2);
    assert!(honest.apply_changes(&forged(too_low)).is_err());
    // Everyone can still edit, and the edits travel.
    honest.text("t").insert(2, "c").unwrap();
    honest.commit();
    let mut other = doc(2);
    sync(&honest, &mut other);
    other.text("t").insert(3, "d").unwrap();
    other.commit();
    sync(&other, &mut honest);
    assert_eq!(honest.text("t").to_string(), "abcd");
}

#[test]
fn a_saved_document_holding_a_forged_lamport_is_refused_on_load() {
    let mut honest = doc(1);
    honest.text("t").insert(0, "ab").unwrap();
    honest.commit();
    let forged_change = counter_change(ReplicaId::new(9), honest.log.heads(), u64::MAX - 1);
    let mut changes: Vec<_> = honest.log.changes().collect();
    changes.push(forged_change);
    let mut version = honest.version();
    version.set(ReplicaId::new(9), 1);
    let containers: Vec<(&ContainerId, ContainerSnapshot)> = honest
        .state
        .containers
        .iter()
        .map(|(id, c)| (id, ContainerSnapshot::of(id, c, &honest.log)))
        .collect();
    // Written by the encoder directly: `save` would never write it.
    let bytes = encoding::frame(
        EncodingKind::Snapshot,
        &snapshot::encode_raw(&SnapshotRef {
            version: &version,
            history: {
                let mut log = super::oplog::OpLog::default();
                changes.into_iter().for_each(|c| log.push(c));
                log.encode()
            },
            pending: Vec::new(),
            containers,
            parents: Vec::new(),
        }),
    );
    assert!(matches!(
        Doc::load(&bytes),
        Err(DocError::ForgedLamport { lamport, .. }) if lamport == u64::MAX - 1
    ));
    // The same history without the forged change loads.
    assert!(Doc::load(&honest.save()).is_ok());
}

/// `count` one-op changes from new replicas (numbered from `first`), each made on `parents`.
fn concurrent_replicas(first: u64, count: u64, parents: &[Dot], lamport: u64) -> Vec<u8> {
    let changes: Vec<Change> = (first..first + count)
        .map(|r| counter_change(ReplicaId::new(r), parents.to_vec(), lamport))
        .collect();
    format::encode_changes(&changes)
}

#[test]
fn a_keystroke_after_many_concurrent_replicas_stores_one_parent() {
    let keystroke_bytes = |replicas: u64| {
        let mut honest = doc(1);
        honest.text("t").insert(0, "a").unwrap();
        honest.commit();
        let heads = honest.log.heads();
        honest
            .apply_changes(&concurrent_replicas(1000, replicas, &heads, 2))
            .unwrap();
        // The first edit merges every concurrent change: it names them all.
        honest.text("t").insert(1, "b").unwrap();
        honest.commit();
        let merge = &honest.log.changes().last().unwrap();
        assert_eq!(
            merge.parents.len() as u64,
            replicas,
            "the concurrent changes covered the first edit"
        );
        assert_eq!(merge.lamport, 3);
        assert_eq!(honest.log.heads(), [Dot::new(ReplicaId::new(1), 2)]);
        // Every edit after it names one parent, its own previous event, which costs nothing.
        let before = honest.version();
        honest.text("t").insert(2, "c").unwrap();
        honest.commit();
        let keystroke = &honest.log.changes().last().unwrap();
        assert_eq!(keystroke.parents, [Dot::new(ReplicaId::new(1), 2)]);
        honest.encode_changes_since(&before).len()
    };
    let (few, many) = (keystroke_bytes(2), keystroke_bytes(3000));
    assert_eq!(
        few, many,
        "a keystroke costs the same whatever the replica count"
    );
    assert!(many < 100, "a keystroke is {many} bytes");
}

#[test]
fn a_change_from_one_replica_too_many_is_refused() {
    let mut honest = doc(1);
    honest.counter("c").increment(1).unwrap();
    honest.commit();
    let heads = honest.log.heads();
    let others = MAX_REPLICAS as u64 - 1;
    honest
        .apply_changes(&concurrent_replicas(1000, others, &heads, 2))
        .unwrap();
    assert_eq!(honest.version().len(), MAX_REPLICAS);
    let err = honest
        .apply_changes(&concurrent_replicas(1000 + others, 1, &heads, 2))
        .unwrap_err();
    let DocError::Rejected { reason, .. } = err else {
        panic!("expected a rejection, got {err:?}");
    };
    assert!(matches!(*reason, DocError::TooManyReplicas { .. }));
    // The replicas it holds keep editing.
    honest.counter("c").increment(1).unwrap();
    assert!(honest.commit().is_some());
}

/// A received history of backspaces and forward deletes, one change per keystroke, is applied
/// as held runs of deletes: the batch ends as the author's document and as a replica that
/// received the changes one at a time, and its events rebuild the same text. The runs are
/// broken by the other direction, by a delete in another text, by typing, and by a forged
/// delete of an id the text does not hold (rejected; the rest applies). Fails when a held run
/// deletes the wrong ids or applies out of order (checked by absorbing a delete one counter
/// off).
#[test]
fn runs_of_deletes_received_in_one_batch_apply_as_one_by_one() {
    let mut author = doc(1);
    let mut stepwise = doc(2);
    author.text("t").insert(0, "hello wonderful world").unwrap();
    author.text("u").insert(0, "other").unwrap();
    author.commit();
    stepwise
        .apply_changes(&author.encode_changes_since(&stepwise.version().clone()))
        .unwrap();
    let mut keystroke = |author: &mut Doc, edit: &dyn Fn(&mut Doc)| {
        edit(author);
        author.commit();
        let since = stepwise.version().clone();
        stepwise
            .apply_changes(&author.encode_changes_since(&since))
            .unwrap();
    };
    // Backspace " world" from the end, then forward delete at the start.
    for i in 0..6 {
        keystroke(&mut author, &|d| d.text("t").delete(20 - i, 1).unwrap());
    }
    for _ in 0..3 {
        keystroke(&mut author, &|d| d.text("t").delete(1, 1).unwrap());
    }
    // A delete in the other text, then backspaces again, then typing and its backspacing.
    keystroke(&mut author, &|d| d.text("u").delete(2, 1).unwrap());
    for _ in 0..2 {
        keystroke(&mut author, &|d| d.text("t").delete(3, 1).unwrap());
    }
    for (i, ch) in "typo".chars().enumerate() {
        keystroke(&mut author, &|d| {
            d.text("t").insert(2 + i, &ch.to_string()).unwrap()
        });
    }
    for i in 0..4 {
        keystroke(&mut author, &|d| d.text("t").delete(5 - i, 1).unwrap());
    }
    keystroke(&mut author, &|d| d.text("t").delete(0, 2).unwrap());
    assert_eq!(stepwise.materialize(), author.materialize());

    // The whole history in one batch, with a forged delete among the backspaces: another
    // replica's, of the id next to those they deleted, which is not the text's (the first
    // character of "other").
    let mut changes: Vec<Change> = author.log.changes().collect();
    let forged_at = 3;
    let parent = changes[forged_at - 1].id;
    let lamport = changes[forged_at - 1].lamport + parent.len();
    changes.insert(
        forged_at,
        Change {
            id: SeqRange {
                replica: ReplicaId::new(3),
                start: 1,
                end: 2,
            },
            parents: vec![Dot::new(parent.replica, parent.end - 1)],
            lamport,
            ops: vec![Op::Text {
                obj: ContainerId::root("t", ContainerKind::Text),
                op: SeqOp::Delete {
                    target: Dot::new(ReplicaId::new(1), 22),
                    len: 1,
                },
            }],
            meta: None,
        },
    );
    let mut batch = doc(4);
    let mut mirror = EventMirror::attach(&mut batch);
    let result = batch.apply_changes(&format::encode_changes(&changes));
    let Err(DocError::Rejected {
        count: 1, reason, ..
    }) = result
    else {
        panic!("{result:?}");
    };
    assert!(
        matches!(*reason, DocError::Seq(crate::seq::SeqError::UnknownId(_))),
        "{reason:?}"
    );
    assert_eq!(batch.materialize(), author.materialize());
    mirror.catch_up().unwrap();
    assert_eq!(
        format!("{:?}", mirror.materialize()),
        format!("{:?}", batch.materialize()),
        "the events rebuild the text"
    );
}

/// A handle asked for by name names that root, whatever was asked for before: the id a
/// previous handle named is reused only for the same name and kind.
#[test]
fn handles_asked_for_by_name_name_their_root() {
    let mut d = doc(1);
    let asked = [
        ("body", ContainerKind::Text),
        ("body", ContainerKind::Text),
        ("body", ContainerKind::Map),
        ("bod", ContainerKind::Text),
        ("body", ContainerKind::List),
        ("body", ContainerKind::Counter),
        ("body", ContainerKind::Text),
    ];
    for (name, kind) in asked {
        let id = match kind {
            ContainerKind::Text => d.text(name).id().clone(),
            ContainerKind::Map => d.map(name).id().clone(),
            ContainerKind::List => d.list(name).id().clone(),
            ContainerKind::Counter => d.counter(name).id().clone(),
        };
        assert_eq!(id, ContainerId::root(name, kind));
    }
}
