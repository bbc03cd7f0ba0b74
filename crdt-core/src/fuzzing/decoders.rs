//! Invariant checks for every entry point that takes outside bytes. Each function takes fuzzer
//! bytes, feeds them to one decoder, and panics when an invariant breaks:
//!
//! - **No panic** anywhere inside (the fuzzer reports any).
//! - **A refused import changes nothing**: the document (content, version, waiting changes, the
//!   saved bytes) is as before.
//! - **What decodes re-encodes to an equivalent value**: `decode(encode(decode(x)))` equals
//!   `decode(x)`, compared through a second encoding so that NaN floats compare by bits.
//! - **History and state agree** after an import: a fresh replica fed the document's own history
//!   reaches the same content, and a save/load round trip keeps everything.
//! - Memory stays bounded: the fuzz targets run under a capped allocator (see `fuzz/`).

use std::sync::OnceLock;

use crate::clock::{Dot, ReplicaId, VersionVector};
use crate::doc::format;
use crate::doc::{Change, ContainerKind, Doc, DocError};
use crate::seq::{ListContent, Sequence, TextContent};
use crate::sync;
use crate::text::Text;
use crate::Value;

use super::edit::{apply_edit, Edit};

/// The replica id documents under test write as.
const LOCAL: u64 = 0x10ca1;

/// Everything observable about a document, compared as text so that NaN floats compare by bits.
pub(crate) fn fingerprint(doc: &Doc) -> String {
    format!(
        "{:?} {:?} {}",
        doc.materialize(),
        doc.version(),
        doc.pending_count()
    )
}

/// A small document with content by two replicas in every container kind, committed, with one
/// change of a third replica waiting for its causal past: what imports are tried against.
pub fn base_doc() -> Doc {
    // Built once per process (fuzzers run millions of inputs), then loaded from its snapshot.
    static SNAPSHOT: OnceLock<Vec<u8>> = OnceLock::new();
    let bytes = SNAPSHOT.get_or_init(|| build_base_doc().save());
    Doc::load_with_replica(bytes, ReplicaId::new(LOCAL)).expect("the base snapshot loads")
}

fn build_base_doc() -> Doc {
    let mut a = Doc::with_replica(ReplicaId::new(1));
    let mut b = Doc::with_replica(ReplicaId::new(2));
    let script_a = [
        Edit::TextInsert(0, "hello world".into()),
        Edit::MapSet(0, 7),
        Edit::NestedText(0, "nest".into()),
        Edit::ListInsert(0, 1),
        Edit::ListInsert(1, 2),
        Edit::ListMap(0, 1, 5),
        Edit::Counter(3),
        Edit::NestedCounter(2),
    ];
    for edit in &script_a {
        // The script is valid on an empty document.
        apply_edit(&mut a, edit).expect("the base script applies");
    }
    a.commit();
    b.apply_changes(&a.encode_changes_since(&VersionVector::new()))
        .expect("a's changes apply");
    for edit in [
        Edit::TextDelete(0, 1),
        Edit::TextInsert(3, "XY".into()),
        Edit::MapSet(1, -1),
        Edit::ListDelete(0),
    ] {
        apply_edit(&mut b, &edit).expect("the base script applies");
    }
    b.commit();
    a.apply_changes(&b.encode_changes_since(&a.version()))
        .expect("b's changes apply");
    // A change of replica 3 whose first change never arrives.
    let mut c = Doc::with_replica(ReplicaId::new(3));
    c.counter("c").increment(1).expect("a counter op");
    c.commit();
    let v = c.version();
    c.counter("c").increment(1).expect("a counter op");
    c.commit();
    a.apply_changes(&c.encode_changes_since(&v))
        .expect("a waiting change is accepted");
    // Continue as another replica, so that local edits of the checks are fresh.
    Doc::load_with_replica(&a.save(), ReplicaId::new(LOCAL)).expect("a saved document loads")
}

/// Local edits a loaded or importing document must still take.
fn local_edits() -> [Edit; 5] {
    [
        Edit::TextInsert(1, "z".into()),
        Edit::TextDelete(0, 2),
        Edit::ListInsert(1, 9),
        Edit::ListMap(3, 2, 1),
        Edit::NestedText(1, "q".into()),
    ]
}

/// Checks that a document survives a save/load round trip unchanged, and that its own history,
/// replayed on a fresh replica, gives the same content (when `history_is_trusted`: a snapshot
/// decoded from outside may hold a state that its history does not explain; see the fuzz README).
fn check_round_trips(doc: &mut Doc, history_is_trusted: bool) {
    let saved = doc.save();
    let fp = fingerprint(doc);
    let loaded = Doc::load_with_replica(&saved, doc.replica()).expect("a saved document loads");
    assert_eq!(fingerprint(&loaded), fp, "save/load changed the document");
    let mut again = loaded;
    assert_eq!(again.save(), saved, "save(load(save(d))) != save(d)");
    let history = doc.encode_changes_since(&VersionVector::new());
    let mut fresh = Doc::with_replica(ReplicaId::new(LOCAL + 1));
    let replayed = fresh.apply_changes(&history);
    if history_is_trusted {
        replayed.expect("a document's own history applies");
        assert_eq!(
            format!("{:?}", fresh.materialize()),
            format!("{:?}", doc.materialize()),
            "replaying the history gives other content than the state"
        );
        assert_eq!(fresh.version(), doc.version());
    }
}

/// `Doc::load` of outside bytes: a snapshot that loads survives save/load and keeps working
/// (local edits, commits, encoding its history), without panicking.
pub fn check_doc_load(bytes: &[u8]) {
    let Ok(mut doc) = Doc::load_with_replica(bytes, ReplicaId::new(LOCAL)) else {
        return;
    };
    let _ = doc.materialize();
    check_nested_containers_open(&mut doc);
    check_round_trips(&mut doc, false);
    for edit in local_edits() {
        // A forged snapshot may be inconsistent, so an edit may be refused; it must not panic,
        // and a refused edit changes nothing.
        doc.commit();
        let before = fingerprint(&doc);
        if apply_edit(&mut doc, &edit).is_err() {
            doc.commit();
            assert_eq!(
                fingerprint(&doc),
                before,
                "a refused local edit changed the document"
            );
        }
    }
    doc.commit();
    check_round_trips(&mut doc, false);
}

/// Every container a map value or list element names opens as a handle of its kind, and no
/// container is named by two places: what `Doc::load` must guarantee of any snapshot it accepts
/// (a dangling nested container would materialize as empty and refuse every edit).
fn check_nested_containers_open(doc: &mut Doc) {
    let mut named = std::collections::BTreeSet::new();
    for id in doc.container_ids() {
        let values: Vec<Value> = match id.kind() {
            ContainerKind::Map => {
                let map = doc.map_at(&id).expect("a container the state holds opens");
                map.keys().iter().flat_map(|k| map.get_all(k)).collect()
            }
            ContainerKind::List => doc
                .list_at(&id)
                .expect("a container the state holds opens")
                .values(),
            ContainerKind::Text | ContainerKind::Counter => Vec::new(),
        };
        for value in values {
            let Value::Container(child) = value else {
                continue;
            };
            let opened = match child.kind() {
                ContainerKind::Map => doc.map_at(&child).map(drop),
                ContainerKind::List => doc.list_at(&child).map(drop),
                ContainerKind::Text => doc.text_at(&child).map(drop),
                ContainerKind::Counter => doc.counter_at(&child).map(drop),
            };
            assert_eq!(
                opened,
                Ok(()),
                "a loaded document names {child:?} but lacks it"
            );
            assert!(
                named.insert(child.clone()),
                "a loaded document names {child:?} from two places"
            );
        }
    }
}

/// `doc.apply_changes(bytes)`: a refused batch changes nothing (content, version, waiting
/// changes, saved bytes); an accepted one applies again as a no-op; a partly applied one (a
/// rejected change or a causal error) may have applied the rest of the batch.
fn check_import(doc: &mut Doc, bytes: &[u8]) {
    let (before, saved) = (fingerprint(doc), doc.save());
    match doc.apply_changes(bytes) {
        Ok(_) => {
            let after = fingerprint(doc);
            let again = doc.apply_changes(bytes);
            assert!(
                again.is_ok(),
                "applying accepted bytes again failed: {again:?}"
            );
            assert_eq!(
                fingerprint(doc),
                after,
                "applying the same bytes twice changed more"
            );
        }
        Err(DocError::Rejected { .. } | DocError::Causal(_)) => {}
        Err(_) => {
            assert_eq!(
                fingerprint(doc),
                before,
                "a refused import changed the document"
            );
            assert_eq!(
                doc.save(),
                saved,
                "a refused import changed the saved bytes"
            );
        }
    }
}

/// The same bytes into a replica that holds nothing, which decodes a batch once, checking
/// each change as it applies it, and undoes the batch when it is refused: a refused batch
/// leaves it holding nothing, an accepted one applies again as a no-op, and the document it
/// built works on.
///
/// A whole history (`b'H'`) a replica that holds nothing accepted builds what applying its
/// changes one by one builds: the join path (state from the log's merged operations) and the
/// change path may not disagree on any history, or a joining replica and one that held
/// something would diverge on the same bytes.
fn check_apply_into_empty(bytes: &[u8]) {
    let mut doc = Doc::with_replica(ReplicaId::new(LOCAL));
    check_import(&mut doc, bytes);
    if bytes.get(4) == Some(&b'H') && doc.change_count() > 0 {
        let changes = doc.all_changes();
        let mut one_by_one = Doc::with_replica(ReplicaId::new(LOCAL));
        let outcome = one_by_one.apply_changes(&format::encode_changes(&changes));
        assert!(
            outcome.is_ok(),
            "a joined history's changes refused: {outcome:?}"
        );
        assert_eq!(
            fingerprint(&one_by_one),
            fingerprint(&doc),
            "a joined history differs from its changes applied one by one"
        );
    }
    for edit in local_edits() {
        apply_edit(&mut doc, &edit).expect("local edits apply after an import");
    }
    doc.commit();
    check_round_trips(&mut doc, true);
}

/// `Doc::apply_changes` of outside bytes on [`base_doc`] and on an empty document: a refused
/// batch changes nothing, an accepted one keeps history and state in agreement, applying it
/// again changes nothing, and the changes that decode re-encode equivalently.
pub fn check_apply_changes(bytes: &[u8]) {
    if let Ok(changes) = format::decode_changes(bytes) {
        let once = format::encode_changes(&changes);
        let twice: Vec<Change> = format::decode_changes(&once).expect("re-encoded changes decode");
        assert_eq!(
            format::encode_changes(&twice),
            once,
            "decode(encode(decode(x))) != decode(x)"
        );
    }
    check_apply_into_empty(bytes);
    let mut doc = base_doc();
    let (base_version, base_content) = (doc.version(), doc.materialize());
    check_import(&mut doc, bytes);
    check_nested_containers_open(&mut doc);
    check_round_trips(&mut doc, true);
    for edit in local_edits() {
        apply_edit(&mut doc, &edit).expect("local edits apply after an import");
    }
    doc.commit();
    check_round_trips(&mut doc, true);
    check_history(&doc, &base_version, &base_content);
}

/// Issue #14: whatever was imported, the view at the document's own version is the document,
/// and the view at the base document's version is the base document (a version the document
/// held stays one it can show).
fn check_history(
    doc: &Doc,
    base_version: &crate::VersionVector,
    base_content: &std::collections::BTreeMap<String, crate::Materialized>,
) {
    let now = doc
        .view_at(&doc.version())
        .expect("the document's own version is a cut");
    assert_eq!(
        now.materialize(),
        doc.materialize(),
        "view_at(version) != the document"
    );
    let then = doc
        .view_at(base_version)
        .expect("a version the document held is a cut");
    assert_eq!(
        &then.materialize(),
        base_content,
        "view_at(base) != the base document"
    );
}

/// `sync::decode` of a frame: a message that decodes re-encodes to one that decodes equal, and
/// the same frame under a smaller limit is refused as too large.
pub fn check_sync_decode(bytes: &[u8]) {
    let Ok(message) = sync::decode(bytes) else {
        return;
    };
    let frame = sync::encode(&message);
    let again = sync::decode(&frame).expect("an encoded message decodes");
    assert_eq!(again, message, "decode(encode(decode(x))) != decode(x)");
    assert_eq!(sync::encode(&again), frame);
    if !bytes.is_empty() {
        assert!(
            matches!(
                sync::decode_bounded(bytes, bytes.len() - 1),
                Err(sync::ProtocolError::TooLarge { .. })
            ),
            "a frame over the limit was not refused"
        );
    }
}

/// The text [`Text::apply_encoded`] is tried against: two replicas' edits, merged.
pub fn base_text() -> Text {
    static SNAPSHOT: OnceLock<Vec<u8>> = OnceLock::new();
    let bytes = SNAPSHOT.get_or_init(|| build_base_text().encode_state());
    Text::decode_state(bytes).expect("the base snapshot loads")
}

fn build_base_text() -> Text {
    let mut a = Text::new(ReplicaId::new(1));
    let mut b = Text::new(ReplicaId::new(2));
    a.insert(0, "hello world").expect("in range");
    b.apply_encoded(&a.encode_ops_since(b.version()))
        .expect("valid ops");
    a.delete(2, 3).expect("in range");
    b.insert(5, ", you").expect("in range");
    a.apply_encoded(&b.encode_ops_since(a.version()))
        .expect("valid ops");
    // Continue as another replica: a fresh text fed the same history.
    let mut local = Text::new(ReplicaId::new(LOCAL));
    local
        .apply_encoded(&a.encode_ops_since(&VersionVector::new()))
        .expect("a text's own history applies");
    local
}

/// `Text::apply_encoded` of outside bytes on [`base_text`]: all-or-nothing, idempotent, and
/// history and state agree afterwards.
pub fn check_text_apply_encoded(bytes: &[u8]) {
    let mut text = base_text();
    let before = (
        text.to_string(),
        text.version().clone(),
        text.encode_state(),
    );
    match text.apply_encoded(bytes) {
        Err(_) => {
            let after = (
                text.to_string(),
                text.version().clone(),
                text.encode_state(),
            );
            assert!(after == before, "a refused batch changed the text");
        }
        Ok(_) => {
            let state = (text.to_string(), text.version().clone());
            assert_eq!(
                text.apply_encoded(bytes),
                Ok(0),
                "applying twice applied more"
            );
            assert_eq!((text.to_string(), text.version().clone()), state);
        }
    }
    text.replicated().sequence().check_invariants();
    let loaded = Text::decode_state(&text.encode_state()).expect("a text's snapshot loads");
    assert_eq!(loaded.to_string(), text.to_string());
    assert_eq!(loaded.version(), text.version());
    let mut fresh = Text::new(ReplicaId::new(LOCAL + 1));
    fresh
        .apply_encoded(&text.encode_ops_since(&VersionVector::new()))
        .expect("a text's own history applies");
    assert_eq!(
        fresh.to_string(),
        text.to_string(),
        "history and state disagree"
    );
    let len = text.len();
    text.insert(len / 2, "ok").expect("a local insert in range");
    text.delete(0, len.min(3)).expect("a local delete in range");
}

/// The sequence snapshot decoders (`Sequence::decode_state` for text and for list content, and
/// `Text::decode_state`, which wraps one): what decodes passes the structural invariants,
/// re-encodes to the same bytes after one more round, and takes local edits.
pub fn check_sequence_decode_state(bytes: &[u8]) {
    if let Ok(mut seq) = Sequence::<TextContent>::decode_state(bytes) {
        seq.check_invariants();
        let once = seq.encode_state();
        let again = Sequence::<TextContent>::decode_state(&once).expect("re-encoded state decodes");
        assert_eq!(again.to_content(), seq.to_content());
        assert_eq!(
            again.encode_state(),
            once,
            "decode(encode(decode(x))) != decode(x)"
        );
        let fresh = Dot::new(ReplicaId::new(u64::MAX), 1);
        if !seq.contains(fresh) && !seq.contains(Dot::new(fresh.replica, 2)) {
            seq.local_insert(seq.len() / 2, TextContent::from("ab"), fresh)
                .expect("a fresh insert in range");
            seq.local_delete(0, seq.len().min(2))
                .expect("a delete in range");
            seq.check_invariants();
        }
    }
    if let Ok(seq) = Sequence::<ListContent<Value>>::decode_state(bytes) {
        seq.check_invariants();
        let once = seq.encode_state();
        let again =
            Sequence::<ListContent<Value>>::decode_state(&once).expect("re-encoded state decodes");
        assert_eq!(
            again.encode_state(),
            once,
            "decode(encode(decode(x))) != decode(x)"
        );
    }
    if let Ok(text) = Text::decode_state(bytes) {
        text.replicated().sequence().check_invariants();
        let once = text.encode_state();
        let again = Text::decode_state(&once).expect("re-encoded text decodes");
        assert_eq!(again.to_string(), text.to_string());
        assert_eq!(again.version(), text.version());
        assert_eq!(
            again.encode_state(),
            once,
            "decode(encode(decode(x))) != decode(x)"
        );
    }
}
