//! Rich text through the public API: the Peritext paper's scenarios (Litt, Lim, Kleppmann,
//! van Hardenberg, CSCW 2022) as named tests, deltas, events that keep a rich view in step,
//! save/load, and random concurrent histories that must converge.

use std::sync::{Arc, Mutex};

use crdt_core::{
    Attributes, DeltaOp, Doc, DocEvent, MarkExpand, PatchAction, ReplicaId, Scalar, UndoManager,
    VersionVector,
};
use proptest::prelude::*;

fn doc(replica: u64) -> Doc {
    Doc::with_replica(ReplicaId::new(replica))
}

/// Sends everything `to` lacks from `from`.
fn sync(from: &mut Doc, to: &mut Doc) {
    from.commit();
    to.commit();
    let bytes = from.encode_changes_since(&to.version());
    to.apply_changes(&bytes).unwrap();
}

fn sync_both(a: &mut Doc, b: &mut Doc) {
    sync(a, b);
    sync(b, a);
}

/// Two replicas holding `text`, in sync.
fn pair(text: &str) -> (Doc, Doc) {
    let (mut a, mut b) = (doc(1), doc(2));
    a.text("t").insert(0, text).unwrap();
    sync(&mut a, &mut b);
    (a, b)
}

fn scalar(s: &Scalar) -> String {
    match s {
        Scalar::Bool(b) => b.to_string(),
        Scalar::Int(i) => i.to_string(),
        Scalar::Str(s) => s.clone(),
        other => format!("{other:?}"),
    }
}

/// The text with its formatting: runs with attributes as `{text|key=value,...}`.
fn show(doc: &mut Doc) -> String {
    doc.text("t")
        .to_delta()
        .iter()
        .map(|run| {
            if run.attributes.is_empty() {
                run.insert.clone()
            } else {
                let attrs: Vec<String> = run
                    .attributes
                    .iter()
                    .map(|(k, v)| format!("{k}={}", scalar(v)))
                    .collect();
                format!("{{{}|{}}}", run.insert, attrs.join(","))
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The paper's scenarios.

#[test]
fn concurrent_bold_and_insert_inside_the_range_make_the_insert_bold() {
    let (mut a, mut b) = pair("The fox jumped.");
    a.text("t").mark(0, 14, "bold", true).unwrap();
    b.text("t").insert(4, "quick ").unwrap();
    sync_both(&mut a, &mut b);
    assert_eq!(show(&mut a), "{The quick fox jumped|bold=true}.");
    assert_eq!(show(&mut a), show(&mut b));
}

#[test]
fn overlapping_bold_and_italic_coexist() {
    let (mut a, mut b) = pair("The fox jumped.");
    a.text("t").mark(0, 7, "bold", true).unwrap();
    b.text("t").mark(4, 14, "italic", true).unwrap();
    sync_both(&mut a, &mut b);
    assert_eq!(
        show(&mut a),
        "{The |bold=true}{fox|bold=true,italic=true}{ jumped|italic=true}."
    );
    assert_eq!(show(&mut a), show(&mut b));
}

#[test]
fn bold_and_unbold_overlapping_resolve_by_the_highest_operation() {
    let (mut a, mut b) = pair("The fox jumped.");
    a.text("t").mark(4, 14, "bold", true).unwrap();
    sync_both(&mut a, &mut b);
    // Concurrently: a bolds "The fox", b unbolds "fox jumped".
    a.text("t").mark(0, 7, "bold", true).unwrap();
    b.text("t").unmark(4, 14, "bold").unwrap();
    sync_both(&mut a, &mut b);
    // Equal Lamport times: the higher replica (b) wins the overlap "fox".
    assert_eq!(show(&mut a), "{The |bold=true}fox jumped.");
    assert_eq!(show(&mut a), show(&mut b));
}

#[test]
fn a_later_operation_overrides_an_earlier_one_on_the_same_key() {
    let (mut a, mut b) = pair("The fox jumped.");
    b.text("t").mark(0, 7, "color", "red").unwrap();
    sync_both(&mut a, &mut b);
    // a saw b's mark, so its own is later, even though a's replica id is lower.
    a.text("t").mark(4, 14, "color", "blue").unwrap();
    sync_both(&mut a, &mut b);
    assert_eq!(show(&mut b), "{The |color=red}{fox jumped|color=blue}.");
    assert_eq!(show(&mut a), show(&mut b));
}

#[test]
fn text_typed_at_the_end_of_bold_is_bold_and_at_its_start_is_not() {
    let (mut a, _) = pair("The fox jumped.");
    a.text("t").mark(4, 7, "bold", true).unwrap();
    a.text("t").insert(7, "es").unwrap();
    a.text("t").insert(4, "two ").unwrap();
    assert_eq!(show(&mut a), "The two {foxes|bold=true} jumped.");
}

#[test]
fn concurrent_bold_and_insert_at_its_end_boundary_make_the_insert_bold() {
    let (mut a, mut b) = pair("The fox jumped.");
    a.text("t").mark(4, 7, "bold", true).unwrap();
    b.text("t").insert(7, "es").unwrap();
    sync_both(&mut a, &mut b);
    assert_eq!(show(&mut a), "The {foxes|bold=true} jumped.");
    assert_eq!(show(&mut a), show(&mut b));
}

#[test]
fn links_do_not_expand_at_either_end_even_concurrently() {
    let (mut a, mut b) = pair("The fox jumped.");
    a.text("t")
        .mark(4, 7, "link", "https://fox.example")
        .unwrap();
    b.text("t").insert(7, "es").unwrap();
    b.text("t").insert(4, "a ").unwrap();
    sync_both(&mut a, &mut b);
    assert_eq!(
        show(&mut a),
        "The a {fox|link=https://fox.example}es jumped."
    );
    assert_eq!(show(&mut a), show(&mut b));
    // Locally too.
    let at = a.text("t").len() - "es jumped.".len();
    a.text("t").insert(at, "!").unwrap();
    assert_eq!(
        show(&mut a),
        "The a {fox|link=https://fox.example}!es jumped."
    );
}

#[test]
fn concurrent_comments_with_their_own_keys_overlap() {
    let (mut a, mut b) = pair("The fox jumped.");
    a.text("t").mark(0, 7, "comment:a", "who?").unwrap();
    b.text("t").mark(4, 14, "comment:b", "how high?").unwrap();
    sync_both(&mut a, &mut b);
    assert_eq!(
        show(&mut a),
        "{The |comment:a=who?}{fox|comment:a=who?,comment:b=how high?}{ jumped|comment:b=how high?}."
    );
    assert_eq!(show(&mut a), show(&mut b));
}

#[test]
fn unbolding_the_end_of_a_bold_span_keeps_text_typed_after_it_plain() {
    // automerge#577: an unmark that does not expand like the mark lets the bold back in.
    let (mut a, _) = pair("hello world");
    a.text("t").mark(0, 11, "bold", true).unwrap();
    a.text("t").unmark(6, 11, "bold").unwrap();
    a.text("t").insert(11, "!").unwrap();
    assert_eq!(show(&mut a), "{hello |bold=true}world!");
}

#[test]
fn a_mark_whose_characters_were_deleted_concurrently_still_covers_the_rest() {
    let (mut a, mut b) = pair("The fox jumped.");
    a.text("t").mark(4, 7, "bold", true).unwrap();
    // b deletes both ends of the range the mark is anchored to.
    b.text("t").delete(6, 1).unwrap();
    b.text("t").delete(4, 1).unwrap();
    sync_both(&mut a, &mut b);
    assert_eq!(show(&mut a), "The {o|bold=true} jumped.");
    assert_eq!(show(&mut a), show(&mut b));
    // Text typed after the deleted last character still expands the bold.
    a.text("t").insert(5, "x").unwrap();
    assert_eq!(show(&mut a), "The {ox|bold=true} jumped.");
}

#[test]
fn text_typed_where_a_deleted_word_was_bold_is_plain_before_the_anchor() {
    let (mut a, _) = pair("The fox jumped.");
    a.text("t").mark(4, 7, "bold", true).unwrap();
    a.text("t").delete(4, 3).unwrap();
    a.text("t").insert(4, "cat").unwrap();
    // The new word lands before the deleted "f" the bold starts at.
    assert_eq!(show(&mut a), "The cat jumped.");
}

#[test]
fn expansion_is_configurable_per_key_and_recorded_in_the_operation() {
    let (mut a, mut b) = pair("ab");
    a.set_mark_expand("bold", MarkExpand::None);
    a.set_mark_expand("link", MarkExpand::Both);
    assert_eq!(a.mark_expand("bold"), MarkExpand::None);
    assert_eq!(b.mark_expand("bold"), MarkExpand::After);
    a.text("t").mark(0, 1, "bold", true).unwrap();
    a.text("t").mark(1, 2, "link", "x").unwrap();
    sync(&mut a, &mut b);
    // b's configuration does not matter: the anchors are in the operations.
    b.text("t").insert(1, "!").unwrap();
    b.text("t").insert(0, "<").unwrap();
    assert_eq!(show(&mut b), "<{a|bold=true}{!b|link=x}");
}

// ---------------------------------------------------------------------------------------------
// Deltas, bounds, save/load, the change format.

#[test]
fn apply_delta_inserts_retains_with_attributes_and_deletes() {
    let (mut a, _) = pair("hello world");
    let bold: Attributes = [("bold".to_owned(), Scalar::Bool(true))].into();
    a.text("t")
        .apply_delta(&[
            DeltaOp::Retain {
                len: 5,
                attributes: vec![("italic".to_owned(), Some(Scalar::Bool(true)))],
            },
            DeltaOp::Insert {
                text: ",".into(),
                attributes: bold.clone(),
            },
            DeltaOp::Delete { len: 1 },
            DeltaOp::Insert {
                text: " big ".into(),
                attributes: Attributes::new(),
            },
        ])
        .unwrap();
    assert_eq!(show(&mut a), "{hello|italic=true}{,|bold=true} big world");
    // An insert gets exactly its attributes: the expanding italic before it is removed.
    a.text("t")
        .apply_delta(&[
            DeltaOp::Retain {
                len: 5,
                attributes: Default::default(),
            },
            DeltaOp::Insert {
                text: "!".into(),
                attributes: Attributes::new(),
            },
        ])
        .unwrap();
    assert_eq!(show(&mut a), "{hello|italic=true}!{,|bold=true} big world");
}

#[test]
fn apply_delta_utf16_counts_code_units_and_refuses_overruns_whole() {
    let (mut a, _) = pair("😀ab");
    a.text("t")
        .apply_delta_utf16(&[
            DeltaOp::Retain {
                len: 3,
                attributes: vec![("bold".to_owned(), Some(Scalar::Bool(true)))],
            },
            DeltaOp::Delete { len: 1 },
        ])
        .unwrap();
    assert_eq!(show(&mut a), "{😀a|bold=true}");
    let before = show(&mut a);
    let overrun = a.text("t").apply_delta_utf16(&[
        DeltaOp::Insert {
            text: "x".into(),
            attributes: Attributes::new(),
        },
        DeltaOp::Delete { len: 5 },
    ]);
    assert!(overrun.is_err());
    assert_eq!(show(&mut a), before);
}

#[test]
fn mark_refuses_ranges_past_the_end_and_ignores_empty_ones() {
    let (mut a, _) = pair("abc");
    assert!(a.text("t").mark(2, 4, "bold", true).is_err());
    assert!(a.text("t").mark(2, 1, "bold", true).is_err());
    a.text("t").mark(1, 1, "bold", true).unwrap();
    assert!(a.text("t").mark_utf16(0, 9, "bold", true).is_err());
    assert_eq!(a.commit(), None);
    assert_eq!(show(&mut a), "abc");
}

#[test]
fn marks_survive_save_and_load_and_sync_to_a_fresh_replica() {
    let (mut a, _) = pair("The fox jumped.");
    a.text("t").mark(4, 7, "bold", true).unwrap();
    a.text("t").mark(0, 3, "link", "x").unwrap();
    a.text("t").unmark(5, 6, "bold").unwrap();
    let expected = show(&mut a);
    let mut loaded = Doc::load_with_replica(&a.save(), ReplicaId::new(9)).unwrap();
    assert_eq!(show(&mut loaded), expected);
    // The loaded document keeps marking with the right precedence.
    loaded.text("t").mark(4, 6, "bold", false).unwrap();
    assert_eq!(
        show(&mut loaded),
        "{The|link=x} {fo|bold=false}{x|bold=true} jumped."
    );
    let mut fresh = doc(3);
    loaded.commit();
    let bytes = loaded.encode_changes_since(&VersionVector::new());
    fresh.apply_changes(&bytes).unwrap();
    assert_eq!(show(&mut fresh), show(&mut loaded));
}

#[test]
fn a_mark_naming_an_unknown_character_is_rejected() {
    let (mut a, _) = pair("abc");
    a.text("t").mark(0, 2, "bold", true).unwrap();
    a.commit();
    // A replica that never saw the text's characters cannot apply the mark alone.
    let mut c = doc(3);
    let since = {
        let mut v = VersionVector::new();
        v.observe(crdt_core::Dot::new(ReplicaId::new(1), 3));
        v
    };
    let only_mark = a.encode_changes_since(&since);
    c.apply_changes(&only_mark).unwrap();
    assert_eq!(c.pending_count(), 1, "waits for its causal past");
    assert_eq!(show(&mut c), "");
}

// ---------------------------------------------------------------------------------------------
// Events keep a rich view in step.

/// A rich view kept only from patches: characters with their formatting.
#[derive(Default)]
struct Mirror {
    chars: Vec<(char, Attributes)>,
}

impl Mirror {
    fn apply(&mut self, event: &DocEvent) {
        for patch in &event.patches {
            match &patch.action {
                PatchAction::TextInsert {
                    index,
                    text,
                    attributes,
                    ..
                } => {
                    let new = text.chars().map(|c| (c, attributes.clone()));
                    self.chars.splice(*index..*index, new);
                }
                PatchAction::TextDelete { index, len, .. } => {
                    self.chars.drain(*index..*index + *len);
                }
                PatchAction::TextMark {
                    index,
                    len,
                    key,
                    value,
                    ..
                } => {
                    for (_, attrs) in &mut self.chars[*index..*index + *len] {
                        match value {
                            Some(v) => attrs.insert(key.clone(), v.clone()),
                            None => attrs.remove(key),
                        };
                    }
                }
                _ => {}
            }
        }
    }

    /// The same view as runs, for comparison with `to_delta`.
    fn runs(&self) -> Vec<(String, Attributes)> {
        let mut out: Vec<(String, Attributes)> = Vec::new();
        for (c, attrs) in &self.chars {
            match out.last_mut() {
                Some((text, a)) if a == attrs => text.push(*c),
                _ => out.push((c.to_string(), attrs.clone())),
            }
        }
        out
    }
}

fn delta_runs(doc: &mut Doc) -> Vec<(String, Attributes)> {
    doc.text("t")
        .to_delta()
        .into_iter()
        .map(|r| (r.insert, r.attributes))
        .collect()
}

fn subscribe_mirror(doc: &mut Doc) -> Arc<Mutex<Mirror>> {
    let mirror = Arc::new(Mutex::new(Mirror::default()));
    let sink = mirror.clone();
    doc.subscribe(move |e: &DocEvent| sink.lock().unwrap().apply(e));
    mirror
}

#[test]
fn patches_carry_inserted_formatting_and_mark_changes_for_local_and_remote_edits() {
    let (mut a, mut b) = pair("");
    let mirror = subscribe_mirror(&mut b);
    a.text("t").insert(0, "😀 fox").unwrap();
    a.text("t").mark(0, 5, "bold", true).unwrap();
    sync(&mut a, &mut b);
    // Remote insert at the expanding end: the patch says it is bold.
    a.text("t").insert(5, "es").unwrap();
    sync(&mut a, &mut b);
    b.text("t").unmark(1, 3, "bold").unwrap();
    b.text("t").insert(7, "!").unwrap();
    b.commit();
    assert_eq!(mirror.lock().unwrap().runs(), delta_runs(&mut b));
    assert_eq!(show(&mut b), "{😀|bold=true} f{oxes!|bold=true}");
}

#[test]
fn one_remote_batch_of_inserts_then_marks_on_part_of_them_keeps_the_view_in_step() {
    // Each insert of the batch gets the formatting its place has when it applies: a later mark
    // of the same batch on part of an inserted run must not leak onto the rest of it.
    let (mut a, mut b) = (doc(1), doc(2));
    let mirror = subscribe_mirror(&mut b);
    a.text("t").insert(0, "xy").unwrap();
    a.commit();
    a.text("t").mark(0, 2, "bold", true).unwrap();
    a.commit();
    a.text("t").insert(1, "abc").unwrap();
    a.commit();
    a.text("t").mark(1, 2, "italic", true).unwrap();
    a.text("t").unmark(3, 4, "bold").unwrap();
    a.text("t").delete(1, 1).unwrap();
    a.commit();
    a.text("t").insert(3, "z").unwrap();
    a.commit();
    sync(&mut a, &mut b);
    assert_eq!(show(&mut b), "{xb|bold=true}cz{y|bold=true}");
    assert_eq!(mirror.lock().unwrap().runs(), delta_runs(&mut b));
}

#[test]
fn a_mark_that_changes_nothing_sends_no_patch_and_utf16_ranges_are_exact() {
    let (mut a, _) = pair("😀ab");
    a.text("t").mark(0, 3, "bold", true).unwrap();
    a.commit();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    a.subscribe(move |e: &DocEvent| sink.lock().unwrap().extend(e.patches.clone()));
    a.text("t").mark(1, 2, "bold", true).unwrap();
    a.text("t").mark(0, 2, "italic", true).unwrap();
    a.commit();
    let got: Vec<PatchAction> = events
        .lock()
        .unwrap()
        .iter()
        .map(|p| p.action.clone())
        .collect();
    assert_eq!(
        got,
        vec![PatchAction::TextMark {
            index: 0,
            index_utf16: 0,
            len: 2,
            len_utf16: 3,
            key: "italic".into(),
            value: Some(Scalar::Bool(true)),
        }]
    );
}

// ---------------------------------------------------------------------------------------------
// Random concurrent histories.

#[derive(Clone, Debug)]
enum Edit {
    Insert(usize, String),
    Delete(usize, usize),
    Mark(usize, usize, u8, i64),
    Unmark(usize, usize, u8),
}

const KEYS: [&str; 3] = ["bold", "link", "comment:1"];

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), "[a-c😀]{1,3}").prop_map(|(p, s)| Edit::Insert(p, s)),
        (any::<usize>(), 1usize..4).prop_map(|(p, n)| Edit::Delete(p, n)),
        (any::<usize>(), 1usize..6, 0u8..3, 0i64..3)
            .prop_map(|(p, n, k, v)| Edit::Mark(p, n, k, v)),
        (any::<usize>(), 1usize..6, 0u8..3).prop_map(|(p, n, k)| Edit::Unmark(p, n, k)),
    ]
}

/// Applies `edit` with positions wrapped into the text (no-op on an empty text).
fn apply(doc: &mut Doc, edit: &Edit) {
    let mut text = doc.text("t");
    let len = text.len();
    let range = |p: usize, n: usize| {
        let start = p % (len + 1);
        (start, (start + n).min(len))
    };
    match edit {
        Edit::Insert(p, s) => text.insert(p % (len + 1), s).unwrap(),
        Edit::Delete(p, n) => {
            let (s, e) = range(*p, *n);
            text.delete(s, e - s).unwrap()
        }
        Edit::Mark(p, n, k, v) => {
            let (s, e) = range(*p, *n);
            text.mark(s, e, KEYS[*k as usize], *v).unwrap()
        }
        Edit::Unmark(p, n, k) => {
            let (s, e) = range(*p, *n);
            text.unmark(s, e, KEYS[*k as usize]).unwrap()
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// 2-5 replicas edit, mark and unmark at random and exchange changes in random order (out
    /// of order, duplicated); after everyone has everything the deltas are equal, a save/load
    /// shows the same delta, and a subscriber's view built from patches matches it.
    #[test]
    fn random_rich_text_replicas_converge(
        replicas in 2usize..6,
        steps in prop::collection::vec(
            (any::<prop::sample::Index>(), edit(), any::<bool>(), any::<prop::sample::Index>()),
            1..60,
        ),
    ) {
        let mut docs: Vec<Doc> = (1..=replicas as u64).map(doc).collect();
        let mirror = subscribe_mirror(&mut docs[0]);
        let mut sent: Vec<Vec<u8>> = Vec::new();
        for (who, edit, commit, pick) in &steps {
            let who = who.index(replicas);
            apply(&mut docs[who], edit);
            if *commit {
                let v = docs[who].version();
                if docs[who].commit().is_some() {
                    sent.push(docs[who].encode_changes_since(&v));
                }
            }
            if !sent.is_empty() {
                let msg = &sent[pick.index(sent.len())];
                docs[pick.index(replicas)].apply_changes(msg).unwrap();
            }
        }
        for _ in 0..2 {
            for i in 0..replicas {
                for j in 0..replicas {
                    if i != j {
                        let (from, to) = if i < j {
                            let (x, y) = docs.split_at_mut(j);
                            (&mut x[i], &mut y[0])
                        } else {
                            let (x, y) = docs.split_at_mut(i);
                            (&mut y[0], &mut x[j])
                        };
                        sync(from, to);
                    }
                }
            }
        }
        let expected = delta_runs(&mut docs[0]);
        for d in &mut docs {
            prop_assert_eq!(d.pending_count(), 0);
            prop_assert_eq!(&delta_runs(d), &expected);
            let mut loaded = Doc::load(&d.save()).unwrap();
            prop_assert_eq!(&delta_runs(&mut loaded), &expected);
        }
        prop_assert_eq!(&mirror.lock().unwrap().runs(), &expected);
    }
}

#[test]
fn block_attributes_on_a_newline_do_not_spread_to_the_next_line() {
    let (mut a, mut b) = pair("Title\nbody");
    a.text("t").mark(5, 6, "header", 1).unwrap();
    // Concurrently, b types at the start of the next line, right after the newline.
    b.text("t").insert(6, "The ").unwrap();
    sync_both(&mut a, &mut b);
    assert_eq!(show(&mut a), "Title{\n|header=1}The body");
    assert_eq!(show(&mut a), show(&mut b));
}

#[test]
fn undo_takes_a_mark_back_where_it_still_decides_and_redo_brings_it_back() {
    let (mut a, mut b) = pair("The fox jumped.");
    a.text("t").mark(0, 7, "color", "red").unwrap();
    a.commit();
    let mut undo = UndoManager::new(&a);
    a.text("t").mark(4, 14, "color", "blue").unwrap();
    a.text("t").mark(0, 3, "bold", true).unwrap();
    a.commit();
    undo.record(&a, 0);
    undo.stop_capturing();
    sync(&mut a, &mut b);
    // A peer's later mark overrides part of a's blue: the undo leaves that part alone.
    b.text("t").mark(8, 14, "color", "green").unwrap();
    sync_both(&mut a, &mut b);
    assert_eq!(
        show(&mut a),
        "{The|bold=true,color=red}{ |color=red}{fox |color=blue}{jumped|color=green}."
    );
    assert!(undo.undo(&mut a).unwrap().changed);
    assert_eq!(show(&mut a), "{The fox|color=red} {jumped|color=green}.");
    sync_both(&mut a, &mut b);
    assert_eq!(show(&mut a), show(&mut b));
    assert!(undo.redo(&mut a).unwrap().changed);
    assert_eq!(
        show(&mut a),
        "{The|bold=true,color=red}{ |color=red}{fox |color=blue}{jumped|color=green}."
    );
}

#[test]
fn diff_between_versions_carries_formatting_and_mark_patches_as_a_subscriber_sees_them() {
    let (mut a, _) = pair("ab");
    a.commit();
    let from = a.version();
    a.text("t").mark(0, 2, "bold", true).unwrap();
    a.commit();
    a.text("t").insert(2, "c").unwrap();
    a.commit();
    let patches: Vec<PatchAction> = a
        .diff(&from, &a.version())
        .unwrap()
        .into_iter()
        .map(|p| p.action)
        .collect();
    let bold: Attributes = [("bold".to_owned(), Scalar::Bool(true))].into();
    assert_eq!(
        patches,
        vec![
            PatchAction::TextMark {
                index: 0,
                index_utf16: 0,
                len: 2,
                len_utf16: 2,
                key: "bold".into(),
                value: Some(Scalar::Bool(true)),
            },
            PatchAction::TextInsert {
                index: 2,
                index_utf16: 2,
                text: "c".into(),
                attributes: bold,
            },
        ]
    );
}

#[test]
fn restoring_a_version_brings_back_its_formatting_too() {
    let (mut a, mut b) = pair("The fox jumped.");
    a.text("t").mark(4, 7, "bold", true).unwrap();
    a.text("t").mark(0, 3, "link", "x").unwrap();
    a.commit();
    let formatted = a.version();
    let before = show(&mut a);
    a.text("t").unmark(0, 15, "bold").unwrap();
    a.text("t").mark(8, 14, "italic", true).unwrap();
    a.text("t").delete(4, 4).unwrap();
    a.commit();
    assert_eq!(show(&mut a), "{The|link=x} {jumped|italic=true}.");
    a.restore(&formatted).unwrap();
    assert_eq!(show(&mut a), before);
    sync_both(&mut a, &mut b);
    assert_eq!(show(&mut b), before);
}
