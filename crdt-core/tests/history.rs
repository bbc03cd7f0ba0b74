//! Issue #14, history: `view_at(v)` is the document a replica holds when it received exactly
//! the changes up to `v`; `fork_at` makes an editable copy whose edits merge back; `diff`
//! returns the patches a subscriber saw; `restore` makes one change that every replica syncs to;
//! versions the history cannot show are refused with typed errors; views are read-only.
//!
//! The oracle is the replicas themselves: random concurrent histories on 2-4 replicas (texts,
//! maps, lists, nested containers, counters), each replica's `(version, content)` recorded at
//! random moments, then checked against the merged document's `view_at` of that version.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crdt_core::HistoryError;
use crdt_core::{ContainerKind, Doc, DocError, Dot, Materialized, Patch, ReplicaId, VersionVector};

/// A small deterministic generator (64-bit LCG), so every run makes the same histories.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % bound.max(1)
    }
}

const WORDS: [&str; 6] = ["alpha ", "beta ", "gamma ", "δέλτα ", "🙂 ", "zeta "];

/// One random local edit on `doc`, committed with a message and a time now and then.
fn random_edit(doc: &mut Doc, rng: &mut Lcg, step: usize) {
    match rng.next(8) {
        0..=2 => {
            let mut t = doc.text("body");
            let pos = rng.next(t.len() + 1);
            t.insert(pos, WORDS[rng.next(WORDS.len())]).unwrap();
        }
        3 => {
            let mut t = doc.text("body");
            if t.len() > 4 {
                let pos = rng.next(t.len() - 3);
                t.delete(pos, 1 + rng.next(3)).unwrap();
            }
        }
        4 => {
            let key = ["a", "b", "c"][rng.next(3)];
            if rng.next(4) == 0 {
                doc.map("meta").delete(key).unwrap();
            } else {
                doc.map("meta").set(key, step as i64).unwrap();
            }
        }
        5 => {
            let mut list = doc.list("items");
            if list.len() > 2 && rng.next(3) == 0 {
                let pos = rng.next(list.len());
                list.delete(pos, 1).unwrap();
            } else {
                let pos = rng.next(list.len() + 1);
                list.insert(pos, WORDS[rng.next(WORDS.len())]).unwrap();
            }
        }
        6 => {
            // A nested text, sometimes replaced by a new one.
            let existing = doc.map("meta").get("note");
            let id = match existing {
                Some(crdt_core::Value::Container(id)) if rng.next(5) != 0 => id,
                _ => doc
                    .map("meta")
                    .set_container("note", ContainerKind::Text)
                    .unwrap(),
            };
            let mut note = doc.text_at(&id).unwrap();
            let pos = rng.next(note.len() + 1);
            note.insert(pos, WORDS[rng.next(WORDS.len())]).unwrap();
        }
        _ => doc
            .counter("edits")
            .increment(rng.next(5) as i64 - 2)
            .unwrap(),
    }
    if rng.next(3) == 0 {
        doc.commit_with(Some(&format!("step {step}")), Some(1_000 + step as u64))
            .unwrap();
    } else {
        doc.commit();
    }
}

/// Sends `from` everything `to` lacks.
fn sync(from: &Doc, to: &mut Doc) {
    to.apply_changes(&from.encode_changes_since(&to.version()))
        .unwrap();
}

/// What a replica held at some moment: its version and its content.
type Recorded = (VersionVector, BTreeMap<String, Materialized>);

/// A random concurrent history on `n` replicas; returns the replicas (not synced at the end)
/// and the states recorded along the way.
fn concurrent_history(seed: u64, n: usize, steps: usize) -> (Vec<Doc>, Vec<Recorded>) {
    let mut rng = Lcg(seed);
    let mut docs: Vec<Doc> = (1..=n as u64)
        .map(|r| Doc::with_replica(ReplicaId::new(r)))
        .collect();
    let mut recorded = Vec::new();
    for step in 0..steps {
        let i = rng.next(n);
        random_edit(&mut docs[i], &mut rng, step);
        if rng.next(4) == 0 {
            let j = rng.next(n);
            if i != j {
                let (a, b) = pair(&mut docs, i, j);
                sync(a, b);
            }
        }
        if rng.next(3) == 0 {
            let k = rng.next(n);
            recorded.push((docs[k].version(), docs[k].materialize()));
        }
    }
    (docs, recorded)
}

/// Mutable references to two distinct replicas.
fn pair(docs: &mut [Doc], i: usize, j: usize) -> (&mut Doc, &mut Doc) {
    if i < j {
        let (l, r) = docs.split_at_mut(j);
        (&mut l[i], &mut r[0])
    } else {
        let (l, r) = docs.split_at_mut(i);
        (&mut r[0], &mut l[j])
    }
}

/// Every replica's changes, merged into the first.
fn merged(mut docs: Vec<Doc>) -> Doc {
    let mut all = docs.remove(0);
    for d in &docs {
        sync(d, &mut all);
    }
    all
}

#[test]
fn view_at_equals_the_replica_that_held_that_version() {
    let mut checked = 0;
    for seed in 0..12 {
        let n = 2 + (seed as usize % 3);
        let (docs, recorded) = concurrent_history(seed, n, 150);
        let all = merged(docs);
        for (version, content) in &recorded {
            let view = all.view_at(version).unwrap();
            assert_eq!(&view.version(), version, "seed {seed}");
            assert_eq!(&view.materialize(), content, "seed {seed} at {version:?}");
            checked += 1;
        }
        // The whole version is the document itself.
        assert_eq!(
            all.view_at(&all.version()).unwrap().materialize(),
            all.materialize()
        );
        assert!(all
            .view_at(&VersionVector::new())
            .unwrap()
            .materialize()
            .is_empty());
    }
    assert!(checked > 300, "checked {checked} versions");
}

#[test]
fn a_view_is_read_only_and_leaves_the_document_alone() {
    let (docs, recorded) = concurrent_history(3, 3, 80);
    let all = merged(docs);
    let before = all.materialize();
    let (version, content) = &recorded[recorded.len() / 2];
    let mut view = all.view_at(version).unwrap();
    assert_eq!(view.text("body").insert(0, "x"), Err(DocError::ReadOnly));
    assert_eq!(view.text("body").delete(0, 1), Err(DocError::ReadOnly));
    assert_eq!(view.map("meta").set("a", 1), Err(DocError::ReadOnly));
    assert_eq!(view.list("items").push("x"), Err(DocError::ReadOnly));
    assert_eq!(view.counter("edits").increment(1), Err(DocError::ReadOnly));
    assert_eq!(view.restore(&VersionVector::new()), Err(DocError::ReadOnly));
    let changes = all.encode_changes_since(&VersionVector::new());
    assert_eq!(view.apply_changes(&changes).err(), Some(DocError::ReadOnly));
    assert_eq!(view.commit(), None);
    assert_eq!(&view.materialize(), content);
    assert_eq!(&view.version(), version);
    assert_eq!(all.materialize(), before);
    // Reading works as on any document, history included.
    assert_eq!(
        view.history().len(),
        all.view_at(version).unwrap().change_count()
    );
    assert!(view.history().len() <= all.history().len());
}

#[test]
fn fork_at_edits_merge_back_and_converge() {
    for seed in 20..26 {
        let (docs, recorded) = concurrent_history(seed, 3, 120);
        let mut all = merged(docs);
        let (version, content) = &recorded[recorded.len() / 3];
        let mut fork = all
            .fork_at_with_replica(version, ReplicaId::new(100))
            .unwrap();
        assert_eq!(&fork.materialize(), content);
        let mut rng = Lcg(seed);
        for step in 0..30 {
            random_edit(&mut fork, &mut rng, step);
        }
        all.text("body").insert(0, "main ").unwrap();
        all.commit();
        sync(&fork, &mut all);
        sync(&all, &mut fork);
        assert_eq!(all.materialize(), fork.materialize(), "seed {seed}");
        assert_eq!(all.version(), fork.version());
    }
}

#[test]
fn fork_copies_the_document_as_a_new_replica() {
    let (docs, _) = concurrent_history(7, 2, 60);
    let mut all = merged(docs);
    all.text("body").insert(0, "uncommitted ").unwrap();
    let mut fork = all.fork().unwrap();
    assert_ne!(fork.replica(), all.replica());
    assert_eq!(fork.materialize(), all.materialize());
    assert_eq!(fork.version(), all.version(), "fork committed first");
    fork.text("body").insert(0, "fork ").unwrap();
    fork.commit();
    all.counter("edits").increment(5).unwrap();
    all.commit();
    sync(&fork, &mut all);
    sync(&all, &mut fork);
    assert_eq!(all.materialize(), fork.materialize());
    assert!(all
        .text("body")
        .to_string()
        .starts_with("fork uncommitted "));
}

#[test]
fn diff_returns_the_patches_a_subscriber_saw() {
    for seed in 30..36 {
        let (mut docs, _) = concurrent_history(seed, 3, 90);
        let mut watcher = Doc::with_replica(ReplicaId::new(50));
        sync(&docs[0], &mut watcher);
        let start = watcher.version();
        let seen: Arc<Mutex<Vec<Patch>>> = Arc::default();
        let sink = Arc::clone(&seen);
        watcher.subscribe(move |event| sink.lock().unwrap().extend(event.patches.iter().cloned()));
        // The rest arrives in several batches, edits going on in between.
        let mut rng = Lcg(seed);
        for round in 0..6 {
            let i = rng.next(docs.len());
            random_edit(&mut docs[i], &mut rng, 1000 + round);
            sync(&docs[i], &mut watcher);
        }
        let end = watcher.version();
        let diff = watcher.diff(&start, &end).unwrap();
        let seen = seen.lock().unwrap().clone();
        assert!(!seen.is_empty());
        // Paths are as of the end of each batch for a subscriber, as of `to` for a diff: for
        // root containers, the same.
        let strip = |patches: &[Patch]| -> Vec<Patch> {
            patches
                .iter()
                .filter(|p| matches!(p.obj, crdt_core::ContainerId::Root { .. }))
                .cloned()
                .collect()
        };
        assert_eq!(strip(&diff), strip(&seen), "seed {seed}");
        assert_eq!(diff.len(), seen.len(), "seed {seed}");
        assert!(watcher.diff(&end, &end).unwrap().is_empty());
    }
}

#[test]
fn restore_makes_one_change_that_every_replica_syncs_to() {
    for seed in 40..48 {
        let (docs, recorded) = concurrent_history(seed, 3, 120);
        let mut a = merged(docs);
        let mut b = Doc::with_replica(ReplicaId::new(77));
        sync(&a, &mut b);
        let (version, content) = &recorded[recorded.len() / 2];
        let before = a.change_count();
        let history_before = a.history();
        let id = a.restore_with(version, Some("restore"), Some(42)).unwrap();
        assert_eq!(&a.materialize(), content, "seed {seed}: restored");
        assert_eq!(a.change_count(), before + usize::from(id.is_some()));
        assert_eq!(a.history()[..before], history_before[..], "history stays");
        if id.is_some() {
            let last = a.history().pop().unwrap();
            assert_eq!(
                (last.message.as_deref(), last.time),
                (Some("restore"), Some(42))
            );
        }
        sync(&a, &mut b);
        assert_eq!(&b.materialize(), content, "seed {seed}: synced");
        // Restoring the latest version again changes nothing.
        assert_eq!(a.restore(&a.version()).unwrap(), None);
    }
}

#[test]
fn restore_merges_with_concurrent_edits() {
    let mut a = Doc::with_replica(ReplicaId::new(1));
    a.text("body").insert(0, "one two three").unwrap();
    a.commit();
    let v1 = a.version();
    a.text("body").delete(4, 4).unwrap();
    a.commit();
    let mut b = Doc::with_replica(ReplicaId::new(2));
    sync(&a, &mut b);
    // b types at the end while a restores.
    b.text("body").insert(9, "!").unwrap();
    b.commit();
    a.restore(&v1).unwrap();
    assert_eq!(a.text("body").to_string(), "one two three");
    sync(&a, &mut b);
    sync(&b, &mut a);
    assert_eq!(a.text("body").to_string(), "one two three!");
    assert_eq!(a.materialize(), b.materialize());
}

#[test]
fn versions_the_history_cannot_show_are_refused() {
    let mut a = Doc::with_replica(ReplicaId::new(1));
    a.text("t").insert(0, "abc").unwrap(); // counters 1..=3
    a.commit();
    let mut b = Doc::with_replica(ReplicaId::new(2));
    sync(&a, &mut b);
    b.text("t").insert(3, "d").unwrap(); // counter 1 of b, after a's 3
    b.commit();
    sync(&b, &mut a);
    let v = |entries: &[(u64, u64)]| {
        let mut v = VersionVector::new();
        for &(r, c) in entries {
            v.set(ReplicaId::new(r), c);
        }
        v
    };
    let history = |e| Err::<(), _>(DocError::History(e));
    assert_eq!(
        a.view_at(&v(&[(1, 4)])).map(|_| ()),
        history(HistoryError::NotCovered {
            replica: ReplicaId::new(1),
            asked: 4,
            held: 3
        })
    );
    assert_eq!(
        a.view_at(&v(&[(9, 1)])).map(|_| ()),
        history(HistoryError::NotCovered {
            replica: ReplicaId::new(9),
            asked: 1,
            held: 0
        })
    );
    assert!(matches!(
        a.view_at(&v(&[(1, 2)])),
        Err(DocError::History(HistoryError::SplitsChange { .. }))
    ));
    assert_eq!(
        a.fork_at(&v(&[(2, 1)])).map(|_| ()),
        history(HistoryError::NotCausallyClosed {
            change: b.history()[1].id,
            missing: Dot::new(ReplicaId::new(1), 3),
        })
    );
    assert!(a.restore(&v(&[(2, 1)])).is_err());
    for known in [1, 2] {
        assert_eq!(
            a.fork_at_with_replica(&a.version(), ReplicaId::new(known))
                .map(|_| ()),
            history(HistoryError::ReplicaNotNew(ReplicaId::new(known)))
        );
    }
    assert_eq!(a.change_count(), 2, "a refused restore changes nothing");
    assert_eq!(
        a.diff(&a.version(), &v(&[(1, 3)])).map(|_| ()),
        history(HistoryError::NotAncestor)
    );
    assert!(a.diff(&v(&[(1, 3)]), &v(&[(1, 4)])).is_err());
    // Good versions pass.
    assert_eq!(
        a.view_at(&v(&[(1, 3)])).unwrap().text("t").to_string(),
        "abc"
    );
    assert_eq!(a.diff(&v(&[(1, 3)]), &a.version()).unwrap().len(), 1);
}

#[test]
fn history_lists_every_change_with_its_metadata_in_causal_order() {
    let (docs, _) = concurrent_history(60, 3, 100);
    let all = merged(docs);
    let history = all.history();
    assert_eq!(history.len(), all.change_count());
    let mut version = VersionVector::new();
    for entry in &history {
        for parent in &entry.parents {
            assert!(version.includes(*parent), "parents come first");
        }
        version.set(entry.id.replica, entry.id.end - 1);
        // Every prefix is a version the history can show.
        assert!(all.view_at(&version).is_ok());
    }
    assert_eq!(version, all.version());
    let with_messages = history.iter().filter(|e| e.message.is_some()).count();
    assert!(with_messages > 10 && with_messages < history.len());
    for e in history.iter().filter(|e| e.message.is_some()) {
        let step: u64 = e.message.as_deref().unwrap()["step ".len()..]
            .parse()
            .unwrap();
        assert_eq!(e.time, Some(1_000 + step));
    }
}

#[test]
fn restore_recreates_nested_containers_that_were_deleted_or_replaced() {
    let mut a = Doc::with_replica(ReplicaId::new(1));
    let first = a.list("todo").push_container(ContainerKind::Map).unwrap();
    a.map_at(&first).unwrap().set("title", "milk").unwrap();
    let tags = a
        .map_at(&first)
        .unwrap()
        .set_container("tags", ContainerKind::List)
        .unwrap();
    a.list_at(&tags).unwrap().push("shop").unwrap();
    let second = a.list("todo").push_container(ContainerKind::Text).unwrap();
    a.text_at(&second).unwrap().insert(0, "call Bob").unwrap();
    a.counter("done").increment(2).unwrap();
    a.commit();
    let good = a.version();
    let expected = a.materialize();
    // The first item is deleted, the second edited, the counter moved, a new root appears.
    a.list("todo").delete(0, 1).unwrap();
    let second_now = match a.list("todo").get(0) {
        Some(crdt_core::Value::Container(id)) => id,
        other => panic!("{other:?}"),
    };
    a.text_at(&second_now).unwrap().insert(0, "don't ").unwrap();
    a.counter("done").increment(5).unwrap();
    a.map("extra").set("k", true).unwrap();
    a.commit();
    let mut b = Doc::with_replica(ReplicaId::new(2));
    sync(&a, &mut b);
    a.restore(&good).unwrap();
    assert_eq!(a.materialize(), expected);
    sync(&a, &mut b);
    assert_eq!(b.materialize(), expected);
    // The kept text was restored in place (same container), the deleted map recreated.
    assert_eq!(
        a.list("todo").get(1),
        Some(crdt_core::Value::Container(second))
    );
    assert_ne!(
        a.list("todo").get(0),
        Some(crdt_core::Value::Container(first))
    );
}
