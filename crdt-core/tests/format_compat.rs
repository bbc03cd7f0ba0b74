//! Bytes written by an earlier encoder keep decoding to the same state, and bytes of an earlier
//! format version are refused with a typed error.
//!
//! The `*_deflate3.bin` fixtures in `tests/fixtures/` were written by the encoders of `main` when
//! the columnar envelope still deflated through flate2 (`encoding::compress` now calls
//! miniz_oxide itself, and a level-1 encoder was tried): readers must not notice what an encoder
//! chose. The text ones keep decoding (the text formats did not change). The document ones are of document format 3, whose changes
//! stored a full version vector as their deps; format 4 stores parents (a frontier), and as no
//! format-3 document was ever deployed, they are refused as
//! [`DecodeError::UnsupportedVersion`](crdt_core::DecodeError::UnsupportedVersion). The
//! `doc_*_v4.bin` fixtures were written by the format-4 encoder; format 5 adds each change's
//! commit message and time (issue #14), and format-4 bytes are refused the same way. The
//! `doc_*_v5.bin` fixtures were written by the format-5 encoder with the script below (which
//! commits every seventh step with a message and a time); format 6 saves the history as the log
//! holds it (graph runs and merged operations, issue #13) and refuses format-5 bytes. The
//! `doc_*_v6.bin` fixtures were written by the format-6 encoder with the same script;
//! `doc_save_v6.bin` holds every text's characters in its state, as format-6 saves first did.
//! Saves now let a text's state take its characters from the history
//! (`doc/container_snapshot.rs`), a new container state tag within format 6, and
//! `doc_save_v6_text_from_history.bin` is such a save: both must load. Saves now also leave out
//! the origins of a text's runs that the history's inserts give (another container state tag
//! within format 6); `doc_save_v6_text_runs_from_history.bin` is such a save, and all three
//! load. The
//! script's random source is fixed with them (changing it would need fixtures from an older
//! encoder).
//! Each fixture is the encoding of a document built here by a
//! deterministic script (two replicas editing concurrently, synced now and then), so the test
//! compares what a fixture decodes to with the same document built now.
//!
//! To write the fixtures of the current format version with the current encoders (only when a
//! format version changes, as old bytes are the point; fixtures of older versions are never
//! rewritten): `WRITE_FORMAT_FIXTURES=1 cargo test -p crdt-core --test format_compat`.

use std::path::{Path, PathBuf};

use crdt_core::{DecodeError, Doc, DocError, ReplicaId, Text, VersionVector};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The fixture `name`, first written from `current` when `WRITE_FORMAT_FIXTURES` is set.
fn read_fixture(name: &str, current: &[u8]) -> Vec<u8> {
    let path = fixture(name);
    if std::env::var_os("WRITE_FORMAT_FIXTURES").is_some() {
        std::fs::create_dir_all(path.parent().expect("fixtures dir")).expect("create fixtures");
        std::fs::write(&path, current).expect("write fixture");
    }
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fixture `name` of an older format version: never rewritten.
fn read_old_fixture(name: &str) -> Vec<u8> {
    let path = fixture(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A small deterministic generator (64-bit LCG), so the script is the same on every run.
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

const WORDS: [&str; 8] = [
    "the ", "quick ", "brown ", "fox ", "jumps ", "over ", "lazy ", "dogs. ",
];

/// Two texts edited concurrently, synced every 25 steps; returns the first.
fn scripted_text() -> Text {
    let mut rng = Lcg(7);
    let mut texts = [Text::new(ReplicaId::new(1)), Text::new(ReplicaId::new(2))];
    for step in 0..600 {
        let t = &mut texts[rng.next(2)];
        let len = t.len();
        if len > 20 && rng.next(4) == 0 {
            let pos = rng.next(len - 5);
            t.delete(pos, 1 + rng.next(5)).expect("in range");
        } else {
            let pos = rng.next(len + 1);
            t.insert(pos, WORDS[rng.next(WORDS.len())])
                .expect("in range");
        }
        if step % 25 == 24 {
            let [a, b] = &mut texts;
            b.apply_encoded(&a.encode_ops_since(b.version()))
                .expect("own ops");
            a.apply_encoded(&b.encode_ops_since(a.version()))
                .expect("own ops");
        }
    }
    let [a, b] = &mut texts;
    a.apply_encoded(&b.encode_ops_since(a.version()))
        .expect("own ops");
    texts.into_iter().next().expect("two texts")
}

/// A document with text, map, list and counter, edited by two replicas and merged.
fn scripted_doc() -> Doc {
    let mut rng = Lcg(11);
    let mut docs = [
        Doc::with_replica(ReplicaId::new(1)),
        Doc::with_replica(ReplicaId::new(2)),
    ];
    for step in 0..300 {
        let d = &mut docs[rng.next(2)];
        match rng.next(5) {
            0 | 1 => {
                let mut t = d.text("body");
                let pos = rng.next(t.len() + 1);
                t.insert(pos, WORDS[rng.next(WORDS.len())])
                    .expect("in range");
            }
            2 => {
                let mut t = d.text("body");
                if t.len() > 10 {
                    let pos = rng.next(t.len() - 3);
                    t.delete(pos, 3).expect("in range");
                }
            }
            3 => {
                let key = WORDS[rng.next(4)].trim();
                d.map("meta").set(key, step as i64).expect("set");
            }
            _ => {
                d.list("todo").push(WORDS[rng.next(8)]).expect("push");
                d.counter("edits").increment(1).expect("increment");
            }
        }
        if step % 7 == 0 {
            d.commit_with(
                Some(&format!("step {step}")),
                Some(1_700_000_000_000 + step),
            )
            .expect("a short message");
        } else {
            d.commit();
        }
        if step % 20 == 19 {
            let [a, b] = &mut docs;
            b.apply_changes(&a.encode_changes_since(&b.version()))
                .expect("own changes");
            a.apply_changes(&b.encode_changes_since(&a.version()))
                .expect("own changes");
        }
    }
    let [a, b] = &mut docs;
    a.apply_changes(&b.encode_changes_since(&a.version()))
        .expect("own changes");
    docs.into_iter().next().expect("two docs")
}

/// The flags byte of a columnar envelope (after `offset` header bytes) says "deflated".
fn assert_deflated(bytes: &[u8], offset: usize, what: &str) {
    assert_eq!(
        bytes.get(offset + 1),
        Some(&1),
        "{what}: fixture is deflated"
    );
}

#[test]
fn text_bytes_from_the_earlier_encoder_decode_to_the_same_state() {
    let text = scripted_text();
    let expected = text.to_string();
    assert!(expected.len() > 1000, "a text large enough to be deflated");

    // The earlier encoder's bytes are the point: these are never rewritten.
    let ops = read_old_fixture("text_ops_deflate3.bin");
    assert_deflated(&ops, 0, "ops batch");
    let mut merged = Text::new(ReplicaId::new(9));
    merged.apply_encoded(&ops).expect("old ops batch decodes");
    assert_eq!(merged.to_string(), expected);
    assert_eq!(merged.version(), text.version());

    let state = read_old_fixture("text_state_deflate3.bin");
    let loaded = Text::decode_state(&state).expect("old snapshot decodes");
    assert_eq!(loaded.to_string(), expected);
    assert_eq!(loaded.version(), text.version());
    // The loaded copy keeps syncing: what it sends rebuilds the text elsewhere.
    let mut again = Text::new(ReplicaId::new(10));
    again
        .apply_encoded(&loaded.encode_ops_since(&VersionVector::new()))
        .expect("re-encoded");
    assert_eq!(again.to_string(), expected);
}

#[test]
fn doc_bytes_of_the_format_6_fixtures_decode_to_the_same_state() {
    let mut doc = scripted_doc();
    let expected = doc.materialize();

    let changes = read_fixture(
        "doc_changes_v6.bin",
        &doc.encode_changes_since(&VersionVector::new()),
    );
    assert_deflated(&changes, 6, "changes");
    let mut merged = Doc::with_replica(ReplicaId::new(9));
    merged
        .apply_changes(&changes)
        .expect("format-6 changes decode");
    assert_eq!(merged.materialize(), expected);
    assert_eq!(merged.version(), doc.version());

    assert_eq!(merged.history(), doc.history(), "messages and times decode");
    assert!(doc.history().iter().any(|e| e.message.is_some()));

    let inline = read_old_fixture("doc_save_v6.bin");
    let from_history = read_old_fixture("doc_save_v6_text_from_history.bin");
    let runs_from_history = read_fixture("doc_save_v6_text_runs_from_history.bin", &doc.save());
    assert!(
        from_history.len() < inline.len(),
        "the texts' characters are saved once"
    );
    assert!(
        runs_from_history.len() < from_history.len(),
        "the runs' origins are the history's"
    );
    for saved in [inline, from_history, runs_from_history] {
        assert_deflated(&saved, 6, "snapshot");
        let loaded = Doc::load(&saved).expect("format-6 snapshot loads");
        assert_eq!(loaded.materialize(), expected);
        assert_eq!(loaded.version(), doc.version());
        assert_eq!(loaded.history(), doc.history());
    }
}

#[test]
fn doc_bytes_of_format_5_are_refused_with_a_typed_error() {
    let refused = Some(DocError::Decode(DecodeError::UnsupportedVersion(5)));
    let changes = read_old_fixture("doc_changes_v5.bin");
    let mut doc = Doc::with_replica(ReplicaId::new(9));
    assert_eq!(doc.apply_changes(&changes).err(), refused);
    assert_eq!(doc.version(), VersionVector::new(), "nothing applied");
    let saved = read_old_fixture("doc_save_v5.bin");
    assert_eq!(Doc::load(&saved).err(), refused);
}

#[test]
fn doc_bytes_of_format_4_are_refused_with_a_typed_error() {
    let refused = Some(DocError::Decode(DecodeError::UnsupportedVersion(4)));
    let changes = read_old_fixture("doc_changes_v4.bin");
    let mut doc = Doc::with_replica(ReplicaId::new(9));
    assert_eq!(doc.apply_changes(&changes).err(), refused);
    assert_eq!(doc.version(), VersionVector::new(), "nothing applied");
    let saved = read_old_fixture("doc_save_v4.bin");
    assert_eq!(Doc::load(&saved).err(), refused);
}

#[test]
fn doc_bytes_of_format_3_are_refused_with_a_typed_error() {
    let refused = Some(DocError::Decode(DecodeError::UnsupportedVersion(3)));
    let changes = read_old_fixture("doc_changes_deflate3.bin");
    let mut doc = Doc::with_replica(ReplicaId::new(9));
    assert_eq!(doc.apply_changes(&changes).err(), refused);
    assert_eq!(doc.version(), VersionVector::new(), "nothing applied");
    let saved = read_old_fixture("doc_save_deflate3.bin");
    assert_eq!(Doc::load(&saved).err(), refused);
}
