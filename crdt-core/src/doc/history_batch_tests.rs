//! A whole history sent in the log's form (`b'H'`, what `encode_changes_since` gives a peer
//! that holds nothing): a document that holds nothing builds its state from the stored
//! operations and keeps the log as decoded; one that holds something applies the changes the
//! log rebuilds. Both must end where applying the changes one by one ends.

use std::sync::{Arc, Mutex};

use super::*;
use crate::fuzzing::{apply_edit, random_edit, EventMirror};
use crate::seq::{SeqOp, TextContent};
use crate::sync::sim::SimRng;

fn doc(id: u64) -> Doc {
    Doc::with_replica(ReplicaId::new(id))
}

/// The whole history of `doc` as a change batch (`b'C'`), as it was sent before.
fn change_batch(doc: &Doc) -> Vec<u8> {
    format::encode_changes(&doc.log.changes().collect::<Vec<_>>())
}

/// A history of three replicas editing every kind of container at random, exchanging now and
/// then (so it holds concurrent runs), with runs of typing, backspacing and forward deleting,
/// commit messages, and characters outside ASCII.
fn rich_history(seed: u64) -> Doc {
    let mut rng = SimRng::new(seed);
    let mut docs: Vec<Doc> = (1..=3).map(doc).collect();
    for step in 0..300 {
        let who = rng.below(3);
        let edit = random_edit(&mut rng);
        // A refused edit (an index past the end) is part of random editing.
        let _ = apply_edit(&mut docs[who], &edit);
        if step % 7 == 0 {
            docs[who]
                .commit_with(Some("a message"), Some(step))
                .unwrap();
        } else {
            docs[who].commit();
        }
        if step % 40 == 39 {
            let from = rng.below(3);
            let to = (from + 1) % 3;
            let bytes = docs[from].encode_changes_since(&docs[to].version());
            docs[to].apply_changes(&bytes).unwrap();
        }
    }
    let mut a = docs.remove(0);
    for text in ["héllo wörld ✓", "typing on"] {
        let at = a.text("t").len();
        for ch in text.chars() {
            let len = a.text("t").len();
            a.text("t")
                .insert(len.min(at + 100), &ch.to_string())
                .unwrap();
            a.commit();
        }
    }
    // A run of backspaces and a run of forward deletes, a change each: one stored delete
    // run each, which a joining replica applies as one delete.
    for _ in 0..5 {
        let len = a.text("t").len();
        a.text("t").delete(len - 1, 1).unwrap();
        a.commit();
    }
    for _ in 0..4 {
        a.text("t").delete(2, 1).unwrap();
        a.commit();
    }
    for other in &docs {
        a.apply_changes(&other.encode_changes_since(&a.version()))
            .unwrap();
    }
    a
}

#[test]
fn a_whole_history_joins_as_its_changes_would() {
    for seed in 1..=4 {
        let author = rich_history(seed);
        let history = author.encode_changes_since(&VersionVector::new());
        assert_eq!(
            history[4], b'H',
            "a peer that holds nothing gets the log's form"
        );

        let mut joined = doc(9);
        let mut mirror = EventMirror::attach(&mut joined);
        let outcome = joined.apply_changes(&history).unwrap();
        let mut replayed = doc(9);
        let replayed_outcome = replayed.apply_changes(&change_batch(&author)).unwrap();

        assert_eq!(joined.materialize(), author.materialize(), "seed {seed}");
        assert_eq!(joined.materialize(), replayed.materialize());
        assert_eq!(joined.version(), author.version());
        assert_eq!(outcome.applied, replayed_outcome.applied);
        assert_eq!(outcome.applied, Doc::change_ids(&history).unwrap());
        assert_eq!(outcome.applied.len(), author.change_count());
        let changes: Vec<Change> = joined.log.changes().collect();
        assert_eq!(changes, author.log.changes().collect::<Vec<_>>());
        assert_eq!(
            joined.history(),
            author.history(),
            "commit messages and times"
        );
        mirror.catch_up().unwrap();
        assert_eq!(
            format!("{:?}", mirror.materialize()),
            format!("{:?}", joined.materialize()),
            "the events rebuild the document"
        );
        let reloaded = Doc::load(&joined.save()).unwrap();
        assert_eq!(reloaded.materialize(), author.materialize());

        // The joined replica edits on, and the author takes its edits.
        joined.text("t").insert(0, "joined ").unwrap();
        joined.commit();
        let mut author = author;
        author
            .apply_changes(&joined.encode_changes_since(&author.version()))
            .unwrap();
        assert_eq!(author.materialize(), joined.materialize());
    }
}

#[test]
fn a_whole_history_into_a_document_that_holds_something_applies_its_changes() {
    let author = rich_history(5);
    let mut other = doc(8);
    other.text("t").insert(0, "mine").unwrap();
    other.map("m").set("k", 1).unwrap();
    other.commit();
    let history = author.encode_changes_since(&VersionVector::new());
    let outcome = other.apply_changes(&history).unwrap();
    assert_eq!(outcome.applied.len(), author.change_count());
    // Applied twice: the second time, every change is a duplicate.
    assert!(other.apply_changes(&history).unwrap().applied.is_empty());
    let mut author = author;
    author
        .apply_changes(&other.encode_changes_since(&author.version()))
        .unwrap();
    assert_eq!(author.materialize(), other.materialize());
}

/// A log of one replica's changes to text `t`, as a history batch, the last of whose inserts
/// names a left origin no change made (only a forged history does).
fn forged_history(good: usize) -> Vec<u8> {
    let obj = ContainerId::root("t", ContainerKind::Text);
    let r = ReplicaId::new(1);
    let mut log = OpLog::default();
    for i in 0..=good as u64 {
        let origin_left = match i == good as u64 {
            true => Some(Dot::new(ReplicaId::new(7), 3)),
            false => i.checked_sub(1).map(|c| Dot::new(r, c + 1)),
        };
        log.push(Change {
            id: SeqRange {
                replica: r,
                start: i + 1,
                end: i + 2,
            },
            parents: (i > 0).then(|| Dot::new(r, i)).into_iter().collect(),
            lamport: i + 1,
            ops: vec![Op::Text {
                obj: obj.clone(),
                op: SeqOp::Insert {
                    id: Dot::new(r, i + 1),
                    origin_left,
                    origin_right: None,
                    content: TextContent::from("x"),
                },
            }],
            meta: None,
        });
    }
    format::encode_history(&log.encode())
}

#[test]
fn a_forged_history_is_refused_whole_and_leaves_nothing() {
    for good in [0, 3] {
        let forged = forged_history(good);
        assert_eq!(Doc::change_ids(&forged).unwrap().len(), good + 1);
        let mut joining = doc(2);
        let events = Arc::new(Mutex::new(0));
        let seen = Arc::clone(&events);
        joining.subscribe(move |_| *seen.lock().unwrap() += 1);
        let result = joining.apply_changes(&forged);
        assert!(
            matches!(
                result,
                Err(DocError::Seq(crate::seq::SeqError::UnknownId(_)))
            ),
            "{result:?}"
        );
        assert_eq!(
            joining.materialize(),
            doc(3).materialize(),
            "nothing applied"
        );
        assert!(joining.version().is_empty());
        assert_eq!(joining.change_count(), 0);
        assert_eq!(*events.lock().unwrap(), 0, "no event for a refused history");
        // It still works, and takes an honest history.
        let author = rich_history(6);
        joining
            .apply_changes(&author.encode_changes_since(&VersionVector::new()))
            .unwrap();
        assert_eq!(joining.materialize(), author.materialize());

        // A document that holds something rejects the forged change and keeps the rest.
        let mut holding = doc(4);
        holding.text("u").insert(0, "held").unwrap();
        holding.commit();
        assert!(holding.apply_changes(&forged).is_err());
        assert_eq!(holding.text("t").to_string(), "x".repeat(good));
    }
}

#[test]
fn a_history_batch_with_flipped_bits_is_refused_or_applied_consistently() {
    let author = rich_history(7);
    let history = author.encode_changes_since(&VersionVector::new());
    let mut rng = SimRng::new(11);
    for _ in 0..300 {
        let mut bytes = history.clone();
        let at = 6 + rng.below(bytes.len() - 6);
        bytes[at] ^= 1 << rng.below(8);
        let mut d = doc(2);
        match d.apply_changes(&bytes) {
            Ok(_) => {
                // Whatever applied is a document that saves, loads and syncs.
                let loaded = Doc::load(&d.save()).unwrap();
                assert_eq!(loaded.materialize(), d.materialize());
                let mut again = doc(3);
                again
                    .apply_changes(&d.encode_changes_since(&VersionVector::new()))
                    .unwrap();
                assert_eq!(again.materialize(), d.materialize());
            }
            Err(_) => {
                assert_eq!(d.change_count(), 0);
                assert_eq!(d.materialize(), doc(3).materialize());
            }
        }
    }
}
