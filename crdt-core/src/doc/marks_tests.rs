//! The mark index ([`marks_index`](super::marks_index)) against a resolution of every mark per
//! character, and the work events cost: a remote batch or a keystroke must cost O(log m) anchor
//! resolutions per operation, not O(m). Work is counted, not timed (a thread-local counter that
//! exists only in tests), so these checks are deterministic on a loaded machine.

use std::sync::{Arc, Mutex};

use proptest::prelude::*;

use super::marks::{span, Attributes};
use super::marks_index::WORK;
use super::*;

fn doc(id: u64) -> Doc {
    Doc::with_replica(ReplicaId::new(id))
}

/// Sends everything `to` lacks from `from`.
fn sync(from: &mut Doc, to: &mut Doc) {
    from.commit();
    to.commit();
    to.apply_changes(&from.encode_changes_since(&to.version()))
        .expect("valid changes apply");
}

/// The formatting of every character by resolving every mark for it: per key, the value of
/// the highest-ranked mark whose range covers the character (the definition the index must
/// agree with).
fn reference(doc: &Doc) -> Vec<Attributes> {
    let id = ContainerId::root("t", ContainerKind::Text);
    let Some(ContainerState::Text(seq)) = doc.state.container(&id) else {
        return Vec::new();
    };
    let marks = doc.state.marks.of(&id).marks();
    (0..seq.len())
        .map(|pos| {
            let mut winners: Vec<&marks::StoredMark> = Vec::new();
            for mark in marks {
                if !matches!(span(seq, mark), Some((s, e)) if s <= pos && pos < e) {
                    continue;
                }
                match winners.iter_mut().find(|w| w.key == mark.key) {
                    Some(w) if w.rank() < mark.rank() => *w = mark,
                    Some(_) => {}
                    None => winners.push(mark),
                }
            }
            winners
                .into_iter()
                .filter_map(|m| Some((m.key.clone(), m.value.clone()?)))
                .collect()
        })
        .collect()
}

/// The formatting of every character as `to_delta` gives it, and as `attributes_at` does.
fn indexed(doc: &mut Doc) -> (Vec<Attributes>, Vec<Attributes>) {
    let text = doc.text("t");
    let mut from_runs = Vec::new();
    for run in text.to_delta() {
        from_runs.extend(run.insert.chars().map(|_| run.attributes.clone()));
    }
    let at = (0..text.len()).map(|pos| text.attributes_at(pos)).collect();
    (from_runs, at)
}

#[derive(Clone, Debug)]
enum Step {
    Insert(usize, String),
    Delete(usize, usize),
    Mark(usize, usize, u8, i64),
    Unmark(usize, usize, u8),
}

const KEYS: [&str; 3] = ["bold", "link", "italic"];

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (any::<usize>(), "[a-c]{1,3}").prop_map(|(p, s)| Step::Insert(p, s)),
        (any::<usize>(), 1usize..4).prop_map(|(p, n)| Step::Delete(p, n)),
        (any::<usize>(), 1usize..6, 0u8..3, 0i64..2)
            .prop_map(|(p, n, k, v)| Step::Mark(p, n, k, v)),
        (any::<usize>(), 1usize..6, 0u8..3).prop_map(|(p, n, k)| Step::Unmark(p, n, k)),
    ]
}

/// Applies `step` with positions wrapped into the text.
fn apply(doc: &mut Doc, step: &Step) {
    let mut text = doc.text("t");
    let len = text.len();
    let range = |p: usize, n: usize| {
        let start = p % (len + 1);
        (start, (start + n).min(len))
    };
    match step {
        Step::Insert(p, s) => text.insert(p % (len + 1), s).unwrap(),
        Step::Delete(p, n) => {
            let (s, e) = range(*p, *n);
            text.delete(s, e - s).unwrap()
        }
        Step::Mark(p, n, k, v) => {
            let (s, e) = range(*p, *n);
            text.mark(s, e, KEYS[*k as usize], *v).unwrap()
        }
        Step::Unmark(p, n, k) => {
            let (s, e) = range(*p, *n);
            text.unmark(s, e, KEYS[*k as usize]).unwrap()
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Three replicas edit concurrently (so marks land on tombstones and in gaps only document
    /// order tells apart) and sync now and then: the index's runs and per-position formatting
    /// equal the per-character resolution at every sync, and after loading a save (which
    /// rebuilds the index against the final sequence).
    #[test]
    fn the_index_agrees_with_resolving_every_mark_per_character(
        steps in prop::collection::vec((0usize..3, step(), any::<bool>()), 1..80),
    ) {
        let mut docs = [doc(1), doc(2), doc(3)];
        for (who, step, exchange) in &steps {
            apply(&mut docs[*who], step);
            if *exchange {
                let (a, b) = docs.split_at_mut(2);
                sync(&mut a[*who % 2], &mut b[0]);
                sync(&mut b[0], &mut a[(*who + 1) % 2]);
                for d in &mut docs {
                    let expected = reference(d);
                    let (runs, at) = indexed(d);
                    prop_assert_eq!(&runs, &expected);
                    prop_assert_eq!(&at, &expected);
                }
            }
        }
        let mut loaded = Doc::load(&docs[0].save()).unwrap();
        let expected = reference(&loaded);
        let (runs, at) = indexed(&mut loaded);
        prop_assert_eq!(&runs, &expected);
        prop_assert_eq!(&at, &expected);
    }
}

/// A rich view kept only from patches: each character with its formatting.
fn mirror(doc: &mut Doc) -> Arc<Mutex<Vec<Attributes>>> {
    let view = Arc::new(Mutex::new(Vec::<Attributes>::new()));
    let sink = view.clone();
    doc.subscribe(move |event: &DocEvent| {
        let mut chars = sink.lock().unwrap();
        for patch in &event.patches {
            match &patch.action {
                PatchAction::TextInsert {
                    index,
                    text,
                    attributes,
                    ..
                } => {
                    let new = text.chars().map(|_| attributes.clone());
                    chars.splice(*index..*index, new);
                }
                PatchAction::TextDelete { index, len, .. } => {
                    chars.drain(*index..*index + *len);
                }
                PatchAction::TextMark {
                    index,
                    len,
                    key,
                    value,
                    ..
                } => {
                    for attrs in &mut chars[*index..*index + *len] {
                        match value {
                            Some(v) => attrs.insert(key.clone(), v.clone()),
                            None => attrs.remove(key),
                        };
                    }
                }
                _ => {}
            }
        }
    });
    view
}

/// A replica typing `edits` keystrokes (an insert, or now and then a backspace, near a
/// wandering caret), a commit each, with a mark every 5 edits on the 12 characters ending 2
/// before the caret, alternately bold and italic: the shape of the JS bench's trace, made up
/// deterministically.
fn typed_history(edits: usize) -> Doc {
    let mut doc = doc(1);
    let mut rng: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n.max(1) as u64) as usize
    };
    let mut caret = 0;
    for i in 1..=edits {
        let mut text = doc.text("t");
        let len = text.len();
        if next(32) == 0 {
            caret = next(len + 1);
        }
        if next(8) == 0 && caret > 0 {
            text.delete(caret - 1, 1).unwrap();
            caret -= 1;
        } else {
            text.insert(caret, "x").unwrap();
            caret += 1;
        }
        let len = text.len();
        if i % 5 == 0 && len > 0 {
            let end = caret.saturating_sub(2).clamp(1, len);
            let key = if i % 10 == 0 { "bold" } else { "italic" };
            text.mark(end.saturating_sub(12), end, key, true).unwrap();
        }
        doc.commit();
    }
    doc
}

/// The work of importing the whole history of `typed_history(edits)` in one batch into a
/// subscribed document, after checking that the subscriber's view equals the document.
fn batch_import_work(edits: usize) -> u64 {
    let mut source = typed_history(edits);
    let bytes = source.encode_changes_since(&VersionVector::new());
    let mut target = doc(2);
    let view = mirror(&mut target);
    let before = WORK.with(|w| w.get());
    target.apply_changes(&bytes).unwrap();
    let work = WORK.with(|w| w.get()) - before;
    let expected = reference(&target);
    assert_eq!(
        *view.lock().unwrap(),
        expected,
        "patches rebuild the document"
    );
    assert_eq!(indexed(&mut source).0, expected);
    work
}

#[test]
fn a_remote_batch_interleaving_marks_and_inserts_costs_log_m_per_operation() {
    // 4,000 and 8,000 edits with 800 and 1,600 marks. O(log m) per operation doubles the work
    // and a little more (2.2x); resolving every mark for each mark of the batch (O(m) per mark)
    // quadruples it.
    let small = batch_import_work(4000);
    let large = batch_import_work(8000);
    eprintln!("batch import work: 4,000 edits {small}, 8,000 edits {large}");
    assert!(small > 0, "the work counter counts");
    assert!(
        large * 10 < small * 30,
        "twice the batch cost {large} units of work against {small}: more than 3x"
    );
}

/// The work of one keystroke with a subscriber in the middle of a text with `marks` marks
/// (one every 4 characters, alternately bold and italic).
fn keystroke_work(marks: usize) -> u64 {
    let mut doc = doc(1);
    doc.text("t").insert(0, &"x".repeat(marks * 4)).unwrap();
    for i in 0..marks {
        let key = if i % 2 == 0 { "bold" } else { "italic" };
        doc.text("t").mark(i * 4, i * 4 + 3, key, true).unwrap();
    }
    doc.commit();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    doc.subscribe(move |event: &DocEvent| sink.lock().unwrap().extend(event.patches.clone()));
    let before = WORK.with(|w| w.get());
    doc.text("t").insert(marks * 2 + 1, "y").unwrap();
    doc.commit();
    let work = WORK.with(|w| w.get()) - before;
    let expected = PatchAction::TextInsert {
        index: marks * 2 + 1,
        index_utf16: marks * 2 + 1,
        text: "y".into(),
        attributes: doc.text("t").attributes_at(marks * 2 + 1),
    };
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].action, expected);
    work
}

#[test]
fn a_keystroke_with_a_listener_costs_log_m_in_a_text_of_many_marks() {
    // 8x the marks: O(log m) adds a few resolutions, O(m) multiplies them by 8.
    let few = keystroke_work(200);
    let many = keystroke_work(1600);
    eprintln!("keystroke work: 200 marks {few}, 1,600 marks {many}");
    assert!(few > 0, "the work counter counts");
    assert!(
        many < few * 2,
        "a keystroke among 1,600 marks cost {many} units of work, among 200 {few}"
    );
}
