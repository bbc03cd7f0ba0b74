//! Undo/redo under random schedules: random local edits of every container kind (nested ones
//! too), random remote edits and deliveries, random undo/redo on 2-4 replicas.

use crdt_core::fuzzing::{apply_edit, Edit};
use crdt_core::{Doc, ReplicaId, UndoManager, VersionVector};
use proptest::prelude::*;

fn edit() -> impl Strategy<Value = Edit> {
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

/// One thing a replica does.
#[derive(Clone, Debug)]
enum Action {
    /// Edit, then commit and record (joining the open step when `join`).
    Edit(Edit, bool),
    Undo,
    Redo,
    /// Deliver one earlier message (maybe again, maybe out of order).
    Deliver(prop::sample::Index),
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (edit(), any::<bool>()).prop_map(|(e, join)| Action::Edit(e, join)),
        2 => Just(Action::Undo),
        1 => Just(Action::Redo),
        2 => any::<prop::sample::Index>().prop_map(Action::Deliver),
    ]
}

fn doc(id: u64) -> Doc {
    Doc::with_replica(ReplicaId::new(id))
}

/// Commits `doc`'s open edits and records them as a step of their own (or joining the last).
fn commit_step(doc: &mut Doc, undo: &mut UndoManager, now: &mut u64, join: bool) {
    doc.commit();
    *now += if join { 1 } else { 10_000 };
    undo.record(doc, *now);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// With no remote edits: undoing every step returns the exact state before the first, each
    /// redo right after an undo returns the state before that undo, and redoing everything
    /// returns the final state.
    #[test]
    fn undo_all_returns_the_start_and_redo_returns_what_undo_took(
        setup in prop::collection::vec(edit(), 0..12),
        edits in prop::collection::vec((edit(), any::<bool>()), 1..25),
    ) {
        let mut a = doc(1);
        for e in &setup {
            apply_edit(&mut a, e).unwrap();
        }
        a.commit();
        let start = a.materialize();
        let mut undo = UndoManager::new(&a);
        let mut now = 0;
        for (e, join) in &edits {
            apply_edit(&mut a, e).unwrap();
            commit_step(&mut a, &mut undo, &mut now, *join);
        }
        let end = a.materialize();
        while undo.can_undo() {
            let before = a.materialize();
            let undone = undo.undo(&mut a).unwrap();
            if !undone.changed {
                break;
            }
            let after_undo = a.materialize();
            prop_assert!(undo.redo(&mut a).unwrap().changed);
            prop_assert_eq!(&a.materialize(), &before);
            prop_assert!(undo.undo(&mut a).unwrap().changed);
            prop_assert_eq!(&a.materialize(), &after_undo);
        }
        prop_assert_eq!(&a.materialize(), &start);
        while undo.redo(&mut a).unwrap().changed {}
        prop_assert_eq!(&a.materialize(), &end);
        let reloaded = Doc::load(&a.save()).unwrap();
        prop_assert_eq!(&reloaded.materialize(), &end);
    }

    /// 2-4 replicas edit, undo, redo and exchange changes at random (out of order, duplicated);
    /// after everyone has everything all are equal, and a save/load of each is equal too.
    #[test]
    fn replicas_that_undo_and_redo_converge(
        peers in 2usize..=4,
        schedule in prop::collection::vec((0usize..4, action()), 1..60),
    ) {
        let mut docs: Vec<Doc> = (1..=peers as u64).map(doc).collect();
        let mut undos: Vec<UndoManager> = docs.iter().map(UndoManager::new).collect();
        let mut now = 0u64;
        let mut sent: Vec<Vec<u8>> = Vec::new();
        for (who, action) in &schedule {
            let who = who % peers;
            let version = docs[who].version();
            match action {
                Action::Edit(e, join) => {
                    apply_edit(&mut docs[who], e).unwrap();
                    commit_step(&mut docs[who], &mut undos[who], &mut now, *join);
                }
                Action::Undo => {
                    undos[who].undo(&mut docs[who]).unwrap();
                }
                Action::Redo => {
                    undos[who].redo(&mut docs[who]).unwrap();
                }
                Action::Deliver(pick) => {
                    if !sent.is_empty() {
                        let bytes = &sent[pick.index(sent.len())];
                        docs[who].apply_changes(bytes).unwrap();
                        undos[who].record(&docs[who], now);
                    }
                }
            }
            if docs[who].version() != version {
                sent.push(docs[who].encode_changes_since(&version));
            }
        }
        for _ in 0..2 {
            for i in 0..peers {
                for j in 0..peers {
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
        let _ = VersionVector::new();
    }
}
