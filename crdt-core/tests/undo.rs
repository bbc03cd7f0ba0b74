//! Undo/redo scenarios: each container kind, remote edits around the undone ones, and the
//! reports filed against other CRDT libraries' undo (named after them).

use crdt_core::{
    Assoc, ContainerId, ContainerKind, Doc, ReplicaId, Scalar, Selection, UndoManager, UndoOptions,
    Value, VersionVector,
};

fn doc(id: u64) -> Doc {
    Doc::with_replica(ReplicaId::new(id))
}

/// Sends `from`'s changes that `to` lacks.
fn sync(from: &Doc, to: &mut Doc) {
    to.apply_changes(&from.encode_changes_since(&to.version()))
        .unwrap();
}

fn both_ways(a: &mut Doc, b: &mut Doc) {
    sync(a, b);
    sync(b, a);
}

/// Commits and records at `now` as one closed step (the next edit starts a new step).
fn step(doc: &mut Doc, undo: &mut UndoManager, now: u64) {
    doc.commit();
    undo.record(doc, now);
    undo.stop_capturing();
}

fn text(doc: &mut Doc) -> String {
    doc.text("t").to_string()
}

#[test]
fn undoing_an_insert_removes_exactly_it_and_keeps_text_a_peer_typed_inside_it() {
    let (mut a, mut b) = (doc(1), doc(2));
    a.text("t").insert(0, "[]").unwrap();
    a.commit();
    let mut undo = UndoManager::new(&a);
    a.text("t").insert(1, "hello").unwrap();
    step(&mut a, &mut undo, 0);
    sync(&a, &mut b);
    b.text("t").insert(4, "X").unwrap(); // "[helXlo]"
    b.text("t").insert(0, ">").unwrap();
    b.commit();
    sync(&b, &mut a);
    assert_eq!(text(&mut a), ">[helXlo]");
    assert!(undo.undo(&mut a).unwrap().changed);
    assert_eq!(text(&mut a), ">[X]");
    both_ways(&mut a, &mut b);
    assert_eq!(text(&mut b), ">[X]");
}

#[test]
fn undoing_a_delete_restores_the_text_at_its_place_after_remote_inserts_and_deletes_around_it() {
    let (mut a, mut b) = (doc(1), doc(2));
    a.text("t").insert(0, "one two three").unwrap();
    a.commit();
    sync(&a, &mut b);
    let mut undo = UndoManager::new(&a);
    a.text("t").delete(4, 4).unwrap(); // "one three"
    step(&mut a, &mut undo, 0);
    // Concurrently: b deletes "one " and types around the deleted word, in its gap too.
    b.text("t").delete(0, 4).unwrap();
    b.text("t").insert(0, "zero ").unwrap();
    b.text("t").insert(9, "!").unwrap(); // "zero two!three": inside the gap a's delete leaves
    b.commit();
    both_ways(&mut a, &mut b);
    assert_eq!(text(&mut a), "zero !three");
    assert!(undo.undo(&mut a).unwrap().changed);
    assert_eq!(text(&mut a), "zero two !three");
    both_ways(&mut a, &mut b);
    assert_eq!(text(&mut b), text(&mut a));
}

#[test]
fn a_delete_split_by_a_remote_insert_comes_back_around_it() {
    let (mut a, mut b) = (doc(1), doc(2));
    a.text("t").insert(0, "abcdef").unwrap();
    a.commit();
    sync(&a, &mut b);
    let mut undo = UndoManager::new(&a);
    a.text("t").delete(1, 4).unwrap(); // "af"
    step(&mut a, &mut undo, 0);
    b.text("t").insert(3, "X").unwrap(); // "abcXdef", concurrent with the delete
    b.commit();
    both_ways(&mut a, &mut b);
    assert_eq!(text(&mut a), "aXf");
    undo.undo(&mut a).unwrap();
    assert_eq!(text(&mut a), "abcXdef");
}

#[test]
fn undo_then_redo_then_undo_acts_on_the_restored_copies() {
    let mut a = doc(1);
    let mut undo = UndoManager::new(&a);
    a.text("t").insert(0, "abc").unwrap();
    step(&mut a, &mut undo, 0);
    a.text("t").delete(1, 1).unwrap();
    step(&mut a, &mut undo, 1000);
    assert_eq!(text(&mut a), "ac");
    assert!(undo.undo(&mut a).unwrap().changed); // "b" comes back as a copy
    assert_eq!(text(&mut a), "abc");
    assert!(undo.undo(&mut a).unwrap().changed); // the insert's "b" is the copy now
    assert_eq!(text(&mut a), "");
    assert!(undo.redo(&mut a).unwrap().changed);
    assert_eq!(text(&mut a), "abc");
    assert!(undo.redo(&mut a).unwrap().changed);
    assert_eq!(text(&mut a), "ac");
    assert!(!undo.redo(&mut a).unwrap().changed);
    assert!(undo.undo(&mut a).unwrap().changed);
    assert!(undo.undo(&mut a).unwrap().changed);
    assert_eq!(text(&mut a), "");
    assert!(!undo.undo(&mut a).unwrap().changed);
}

#[test]
fn commits_within_the_capture_window_are_one_step_and_stop_capturing_splits() {
    let mut a = doc(1);
    let mut undo = UndoManager::new(&a);
    for (i, now) in [0u64, 200, 650, 1100].iter().enumerate() {
        let len = a.text("t").len();
        a.text("t").insert(len, &i.to_string()).unwrap();
        a.commit();
        undo.record(&a, *now);
    }
    assert_eq!(
        undo.undo_len(),
        1,
        "each commit within 500 ms of the previous one"
    );
    undo.stop_capturing();
    a.text("t").insert(4, "x").unwrap();
    a.commit();
    undo.record(&a, 1200);
    a.text("t").insert(5, "y").unwrap();
    a.commit();
    undo.record(&a, 2000); // 800 ms later: a new step
    assert_eq!(undo.undo_len(), 3);
    undo.undo(&mut a).unwrap();
    assert_eq!(text(&mut a), "0123x");
    undo.undo(&mut a).unwrap();
    assert_eq!(text(&mut a), "0123");
    undo.undo(&mut a).unwrap();
    assert_eq!(text(&mut a), "");
}

#[test]
fn the_capture_window_is_configurable() {
    let mut a = doc(1);
    let options = UndoOptions {
        capture_timeout_ms: 0,
        ..UndoOptions::default()
    };
    let mut undo = UndoManager::with_options(&a, options);
    a.text("t").insert(0, "a").unwrap();
    a.commit();
    undo.record(&a, 0);
    a.text("t").insert(1, "b").unwrap();
    a.commit();
    undo.record(&a, 1);
    assert_eq!(undo.undo_len(), 2);
}

#[test]
fn a_new_edit_clears_redo_and_empty_stacks_change_nothing() {
    let mut a = doc(1);
    let mut undo = UndoManager::new(&a);
    assert!(!undo.undo(&mut a).unwrap().changed);
    assert!(!undo.redo(&mut a).unwrap().changed);
    a.text("t").insert(0, "a").unwrap();
    step(&mut a, &mut undo, 0);
    undo.undo(&mut a).unwrap();
    assert!(undo.can_redo());
    a.text("t").insert(0, "b").unwrap();
    step(&mut a, &mut undo, 10);
    assert!(!undo.can_redo());
    assert!(!undo.redo(&mut a).unwrap().changed);
    assert_eq!(text(&mut a), "b");
}

#[test]
fn uncommitted_edits_are_committed_and_undone_by_undo() {
    let mut a = doc(1);
    let mut undo = UndoManager::new(&a);
    a.text("t").insert(0, "typed").unwrap();
    assert!(undo.undo(&mut a).unwrap().changed);
    assert_eq!(text(&mut a), "");
}

#[test]
fn edits_before_the_manager_and_remote_edits_are_never_undone() {
    let (mut a, mut b) = (doc(1), doc(2));
    a.text("t").insert(0, "before ").unwrap();
    a.commit();
    let mut undo = UndoManager::new(&a);
    sync(&a, &mut b);
    b.text("t").insert(7, "remote").unwrap();
    b.commit();
    sync(&b, &mut a);
    undo.record(&a, 0);
    assert!(!undo.can_undo());
    assert!(!undo.undo(&mut a).unwrap().changed);
    assert_eq!(text(&mut a), "before remote");
}

#[test]
fn map_undo_restores_the_previous_value_or_deletes_the_key() {
    let mut a = doc(1);
    let mut undo = UndoManager::new(&a);
    a.map("m").set("title", "one").unwrap();
    step(&mut a, &mut undo, 0);
    a.map("m").set("title", "two").unwrap();
    step(&mut a, &mut undo, 1000);
    a.map("m").delete("title").unwrap();
    step(&mut a, &mut undo, 2000);
    let title = |d: &mut Doc| d.map("m").get("title");
    assert_eq!(title(&mut a), None);
    undo.undo(&mut a).unwrap();
    assert_eq!(title(&mut a), Some(Value::Scalar(Scalar::from("two"))));
    undo.undo(&mut a).unwrap();
    assert_eq!(title(&mut a), Some(Value::Scalar(Scalar::from("one"))));
    undo.undo(&mut a).unwrap();
    assert_eq!(title(&mut a), None);
    assert!(a.map("m").keys().is_empty());
    undo.redo(&mut a).unwrap();
    undo.redo(&mut a).unwrap();
    assert_eq!(title(&mut a), Some(Value::Scalar(Scalar::from("two"))));
}

#[test]
fn map_undo_leaves_a_later_remote_write_in_place() {
    let (mut a, mut b) = (doc(1), doc(2));
    let mut undo = UndoManager::new(&a);
    a.map("m").set("k", 1).unwrap();
    step(&mut a, &mut undo, 0);
    sync(&a, &mut b);
    b.map("m").set("k", 2).unwrap(); // overwrites a's value, having seen it
    b.commit();
    sync(&b, &mut a);
    assert!(!undo.undo(&mut a).unwrap().changed);
    assert_eq!(a.map("m").get("k"), Some(Value::Scalar(Scalar::from(2))));
}

#[test]
fn map_undo_of_a_write_concurrent_with_a_remote_one_lets_the_remote_value_win() {
    let (mut a, mut b) = (doc(1), doc(2));
    let mut undo = UndoManager::new(&a);
    a.map("m").set("k", 1).unwrap();
    step(&mut a, &mut undo, 0);
    b.map("m").set("k", 2).unwrap();
    b.commit();
    both_ways(&mut a, &mut b);
    assert!(undo.undo(&mut a).unwrap().changed);
    both_ways(&mut a, &mut b);
    assert_eq!(
        a.map("m").get_all("k"),
        vec![Value::Scalar(Scalar::from(2))]
    );
    assert_eq!(a.materialize(), b.materialize());
}

#[test]
fn undoing_an_overwrite_of_a_nested_container_brings_its_content_back() {
    let mut a = doc(1);
    let note = a
        .map("m")
        .set_container("note", ContainerKind::Text)
        .unwrap();
    a.text_at(&note).unwrap().insert(0, "kept").unwrap();
    a.commit();
    let before = a.materialize();
    let mut undo = UndoManager::new(&a);
    a.map("m").set("note", "replaced").unwrap();
    step(&mut a, &mut undo, 0);
    undo.undo(&mut a).unwrap();
    assert_eq!(a.materialize(), before);
}

#[test]
fn list_undo_removes_inserted_elements_and_restores_deleted_ones_in_order() {
    let (mut a, mut b) = (doc(1), doc(2));
    a.list("l").insert_many(0, [1, 2, 3, 4]).unwrap();
    a.commit();
    sync(&a, &mut b);
    let mut undo = UndoManager::new(&a);
    a.list("l").delete(1, 2).unwrap(); // [1, 4]
    step(&mut a, &mut undo, 0);
    a.list("l").push(5).unwrap(); // [1, 4, 5]
    step(&mut a, &mut undo, 1000);
    b.list("l").insert(0, 0).unwrap();
    b.commit();
    both_ways(&mut a, &mut b);
    let ints = |d: &mut Doc| d.list("l").values();
    undo.undo(&mut a).unwrap();
    undo.undo(&mut a).unwrap();
    let expected: Vec<Value> = [0, 1, 2, 3, 4]
        .iter()
        .map(|&n| Value::Scalar(Scalar::from(n)))
        .collect();
    assert_eq!(ints(&mut a), expected);
    both_ways(&mut a, &mut b);
    assert_eq!(ints(&mut b), expected);
}

#[test]
fn counter_undo_adds_the_negated_delta_and_keeps_remote_increments() {
    let (mut a, mut b) = (doc(1), doc(2));
    let mut undo = UndoManager::new(&a);
    a.counter("c").increment(5).unwrap();
    step(&mut a, &mut undo, 0);
    b.counter("c").increment(3).unwrap();
    b.commit();
    both_ways(&mut a, &mut b);
    undo.undo(&mut a).unwrap();
    assert_eq!(a.counter("c").value(), 3);
    undo.redo(&mut a).unwrap();
    assert_eq!(a.counter("c").value(), 8);
    both_ways(&mut a, &mut b);
    assert_eq!(b.counter("c").value(), 8);
}

#[test]
fn a_scope_limits_undo_to_the_chosen_containers_and_their_children() {
    let mut a = doc(1);
    let options = UndoOptions {
        scope: Some(vec![ContainerId::root("m", ContainerKind::Map)]),
        ..UndoOptions::default()
    };
    let mut undo = UndoManager::with_options(&a, options);
    a.text("t").insert(0, "outside").unwrap();
    step(&mut a, &mut undo, 0);
    assert!(!undo.can_undo(), "an edit outside the scope is no step");
    let inner = a
        .map("m")
        .set_container("inner", ContainerKind::Text)
        .unwrap();
    a.commit();
    a.text_at(&inner).unwrap().insert(0, "nested").unwrap();
    a.text("t").insert(0, "also outside ").unwrap();
    step(&mut a, &mut undo, 100);
    undo.undo(&mut a).unwrap();
    assert_eq!(
        a.map("m").get("inner"),
        None,
        "the step made the container: it goes whole"
    );
    assert_eq!(text(&mut a), "also outside outside");
    undo.redo(&mut a).unwrap();
    let Some(Value::Container(copy)) = a.map("m").get("inner") else {
        panic!("redo brings the container back");
    };
    assert_eq!(a.text_at(&copy).unwrap().to_string(), "nested");
}

#[test]
fn an_undo_is_a_change_that_syncs_and_survives_a_reload() {
    let (mut a, mut b) = (doc(1), doc(2));
    let mut undo = UndoManager::new(&a);
    a.text("t").insert(0, "gone soon").unwrap();
    step(&mut a, &mut undo, 0);
    sync(&a, &mut b);
    let version = a.version();
    undo.undo(&mut a).unwrap();
    assert_ne!(a.version(), version, "the undo is a new change");
    // Through a third party holding only bytes (a relay), then a reload.
    let bytes = a.encode_changes_since(&VersionVector::new());
    let mut relay = doc(9);
    relay.apply_changes(&bytes).unwrap();
    sync(&relay, &mut b);
    assert_eq!(text(&mut b), "");
    let mut reloaded = Doc::load(&a.save()).unwrap();
    assert_eq!(reloaded.text("t").to_string(), "");
}

/// y-prosemirror #38: after undoing an edit, the caret stayed where the undone edit had left it
/// (on the line the edit made) instead of going back. Here a step returns the selection from
/// before it, as stable cursors.
#[test]
fn y_prosemirror_38_undo_puts_the_caret_back_where_it_was_before_the_step() {
    let mut a = doc(1);
    a.text("t").insert(0, "first line").unwrap();
    a.commit();
    let mut undo = UndoManager::new(&a);
    let caret = a.text("t").cursor(10, Assoc::After);
    undo.set_selection(Some(Selection::caret(caret)));
    a.text("t").insert(10, "\nsecond line").unwrap();
    a.commit();
    undo.record(&a, 0);
    let end = a.text("t").cursor(22, Assoc::Before);
    undo.set_selection(Some(Selection::caret(end)));
    let outcome = undo.undo(&mut a).unwrap();
    let selection = outcome.selection.expect("a step keeps its selection");
    assert_eq!(a.text("t").resolve_cursor(&selection.head), Some(10));
    let outcome = undo.redo(&mut a).unwrap();
    let selection = outcome.selection.expect("a step keeps its selection");
    assert_eq!(a.text("t").resolve_cursor(&selection.head), Some(22));
}

/// loro #1100: select "ello" in "Hello world!", delete it, a peer inserts "Hi " at the start and
/// "ii" where "ello" was; undo restored the text but the selection came back grown over the
/// peer's text. Here the selection comes back over exactly the restored "ello".
#[test]
fn loro_1100_a_restored_selection_does_not_grow_over_remote_edits() {
    let (mut a, mut b) = (doc(1), doc(2));
    a.text("t").insert(0, "Hello world!").unwrap();
    a.commit();
    let mut undo = UndoManager::new(&a);
    let selection = Selection {
        anchor: a.text("t").cursor(1, Assoc::After),
        head: a.text("t").cursor(5, Assoc::Before),
    };
    undo.set_selection(Some(selection));
    a.text("t").delete(1, 4).unwrap();
    a.commit();
    undo.record(&a, 0);
    sync(&a, &mut b);
    b.text("t").insert(0, "Hi ").unwrap();
    b.text("t").insert(4, "ii").unwrap();
    b.commit();
    sync(&b, &mut a);
    assert_eq!(text(&mut a), "Hi Hii world!");
    let outcome = undo.undo(&mut a).unwrap();
    assert_eq!(text(&mut a), "Hi Hiiello world!");
    let selection = outcome.selection.unwrap();
    let start = a.text("t").resolve_cursor(&selection.anchor).unwrap();
    let end = a.text("t").resolve_cursor(&selection.head).unwrap();
    assert_eq!(a.text("t").slice(start, end).unwrap(), "ello");
}

/// loro #784: type at the end of the text, undo, redo: the caret came back in front of the
/// re-added text. Here redo returns the selection from after the step, anchored to the
/// restored last character.
#[test]
fn loro_784_redo_puts_the_caret_after_the_redone_text() {
    let mut a = doc(1);
    let mut undo = UndoManager::new(&a);
    undo.set_selection(Some(Selection::caret(a.text("t").cursor(0, Assoc::After))));
    a.text("t").insert(0, "Hello World").unwrap();
    a.commit();
    undo.record(&a, 0);
    undo.set_selection(Some(Selection::caret(
        a.text("t").cursor(11, Assoc::Before),
    )));
    let outcome = undo.undo(&mut a).unwrap();
    assert_eq!(text(&mut a), "");
    let caret = outcome.selection.unwrap().head;
    assert_eq!(a.text("t").resolve_cursor(&caret), Some(0));
    let outcome = undo.redo(&mut a).unwrap();
    assert_eq!(text(&mut a), "Hello World");
    let caret = outcome.selection.unwrap().head;
    assert_eq!(a.text("t").resolve_cursor(&caret), Some(11));
}

/// automerge-classic #318 (no undo in Automerge; its wish list): undo only the local user's
/// changes, leave machine-made or other users' updates alone, and keep working when a reload
/// gives the document a new replica id.
#[test]
fn automerge_classic_318_undo_is_local_only_and_keeps_working_after_a_new_replica_id() {
    let (mut a, mut b) = (doc(1), doc(2));
    let mut undo = UndoManager::new(&a);
    a.text("t").insert(0, "mine ").unwrap();
    step(&mut a, &mut undo, 0);
    b.text("t").insert(0, "theirs ").unwrap();
    b.commit();
    both_ways(&mut a, &mut b);
    assert!(a.refresh_replica_if_written());
    let len = a.text("t").len();
    a.text("t").insert(len, "later").unwrap();
    step(&mut a, &mut undo, 1000);
    undo.undo(&mut a).unwrap();
    undo.undo(&mut a).unwrap();
    assert!(!undo.can_undo());
    assert_eq!(text(&mut a), "theirs ");
}

#[test]
fn redo_returns_the_caret_from_right_after_the_step_not_from_a_later_click() {
    let mut a = doc(1);
    let mut undo = UndoManager::new(&a);
    a.text("t").insert(0, "abc").unwrap();
    a.commit();
    undo.record(&a, 0);
    undo.set_selection(Some(Selection::caret(a.text("t").cursor(3, Assoc::Before))));
    // The user clicks at the start afterwards: that is where the next step would begin.
    undo.set_selection(Some(Selection::caret(a.text("t").cursor(0, Assoc::After))));
    undo.undo(&mut a).unwrap();
    let caret = undo.redo(&mut a).unwrap().selection.unwrap().head;
    assert_eq!(a.text("t").resolve_cursor(&caret), Some(3));
}
