//! Invariant checks for fuzzing, shared by the fuzz targets in the repository's `fuzz/` directory
//! and the regression replay test (`tests/fuzz_regressions.rs`), so a crasher found by one is
//! checked by the other with the same code. Behind the `fuzzing` feature; not for production.
//!
//! Each [`Target`] is one entry point that takes outside bytes (or, for [`Target::Network`], a
//! structured schedule derived from them with `arbitrary`). [`Target::run`] feeds it the bytes
//! and panics when an invariant breaks; the invariants are listed in [`decoders`] and
//! [`schedule`]. The approach follows diamond-types' and Automerge's fuzzers: compare against a
//! reference (a fresh replica fed the history, a mirror fed the events, a second round trip)
//! rather than only checking that nothing crashed.
//!
//! ```
//! use crdt_core::fuzzing::Target;
//!
//! for target in Target::ALL {
//!     for input in target.seeds() {
//!         target.run(&input);
//!     }
//!     target.run(b"\xff\x00 garbage");
//! }
//! ```

pub mod bombs;
pub mod decoders;
pub mod edit;
pub mod forge;
pub mod mirror;
pub mod schedule;

pub use decoders::{
    base_doc, base_text, check_apply_changes, check_doc_load, check_sequence_decode_state,
    check_sync_decode, check_text_apply_encoded,
};
pub use edit::{apply_edit, random_edit, Edit};
pub use mirror::EventMirror;
pub use schedule::{run_schedule, Schedule, Step};

use crate::clock::{ReplicaId, VersionVector};
use crate::doc::Doc;
use crate::sync::sim::SimRng;
use crate::sync::{self, DocId, ErrorCode, Message, PeerId};
use crate::text::Text;
use crate::{List, Value};

/// One fuzz target: an entry point that takes outside bytes, with its invariant checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `Doc::load` of a snapshot.
    DocLoad,
    /// `Doc::apply_changes` of encoded changes.
    DocApplyChanges,
    /// `sync::decode` of a wire frame.
    SyncDecode,
    /// `Text::apply_encoded` of encoded text ops.
    TextApplyEncoded,
    /// `Sequence::decode_state` (text and list content) and `Text::decode_state`.
    SequenceDecodeState,
    /// Several peers, random edits, a random network schedule (structured, via `arbitrary`).
    Network,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 6] = [
        Target::DocLoad,
        Target::DocApplyChanges,
        Target::SyncDecode,
        Target::TextApplyEncoded,
        Target::SequenceDecodeState,
        Target::Network,
    ];

    /// The target's name: its fuzz target binary and its `corpus/` and `crashers/` directories.
    pub fn name(self) -> &'static str {
        match self {
            Target::DocLoad => "doc_load",
            Target::DocApplyChanges => "doc_apply_changes",
            Target::SyncDecode => "sync_decode",
            Target::TextApplyEncoded => "text_apply_encoded",
            Target::SequenceDecodeState => "sequence_decode_state",
            Target::Network => "network",
        }
    }

    /// The target named `name`.
    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Runs the target on `input`; panics when an invariant breaks.
    pub fn run(self, input: &[u8]) {
        match self {
            Target::DocLoad => check_doc_load(input),
            Target::DocApplyChanges => check_apply_changes(input),
            Target::SyncDecode => check_sync_decode(input),
            Target::TextApplyEncoded => check_text_apply_encoded(input),
            Target::SequenceDecodeState => check_sequence_decode_state(input),
            Target::Network => {
                // As libFuzzer's `fuzz_target!(|s: Schedule| ..)` builds its input.
                let u = arbitrary::Unstructured::new(input);
                if let Ok(schedule) = <Schedule as arbitrary::Arbitrary>::arbitrary_take_rest(u) {
                    run_schedule(&schedule);
                }
            }
        }
    }

    /// Whether the entry point takes `input` (rather than refusing it): a seed the entry point
    /// refuses only exercises its refusal path, so the regression replay requires every
    /// committed seed to pass this (after a format change, `FUZZ_WRITE_CORPUS=1` rewrites them).
    pub fn accepts(self, input: &[u8]) -> bool {
        match self {
            Target::DocLoad => Doc::load_with_replica(input, ReplicaId::new(0x5eed)).is_ok(),
            Target::DocApplyChanges => {
                Doc::change_ids(input).is_ok() && base_doc().apply_changes(input).is_ok()
            }
            Target::SyncDecode => sync::decode(input).is_ok(),
            Target::TextApplyEncoded => base_text().apply_encoded(input).is_ok(),
            Target::SequenceDecodeState => {
                crate::seq::Sequence::<crate::seq::TextContent>::decode_state(input).is_ok()
                    || crate::seq::Sequence::<crate::seq::ListContent<Value>>::decode_state(input)
                        .is_ok()
                    || Text::decode_state(input).is_ok()
            }
            Target::Network => {
                let u = arbitrary::Unstructured::new(input);
                <Schedule as arbitrary::Arbitrary>::arbitrary_take_rest(u).is_ok()
            }
        }
    }

    /// Valid inputs to start fuzzing from (the seed corpus).
    pub fn seeds(self) -> Vec<Vec<u8>> {
        match self {
            Target::DocLoad => {
                let mut empty = Doc::with_replica(ReplicaId::new(1));
                vec![base_doc().save(), empty.save(), edited_doc(5, 40).save()]
            }
            Target::DocApplyChanges => {
                let mut other = Doc::load_with_replica(&base_doc().save(), ReplicaId::new(9))
                    .expect("a saved document loads");
                let v = other.version();
                for edit in [
                    Edit::TextInsert(4, "new".into()),
                    Edit::ListMap(1, 0, 3),
                    Edit::MapDelete(0),
                    Edit::NestedText(2, "x".into()),
                ] {
                    apply_edit(&mut other, &edit).expect("edits of a live document apply");
                }
                other.commit();
                let independent = edited_doc(6, 30);
                vec![
                    other.encode_changes_since(&v),
                    independent.encode_changes_since(&VersionVector::new()),
                    other.encode_changes_since(&VersionVector::new()),
                ]
            }
            Target::SyncDecode => {
                let doc = DocId::new("room/doc-1").expect("a valid id");
                let mut version = VersionVector::new();
                version.set(ReplicaId::new(3), 17);
                [
                    Message::Hello {
                        doc: doc.clone(),
                        version: version.clone(),
                    },
                    Message::Changes {
                        doc: doc.clone(),
                        bytes: base_doc().encode_changes_since(&VersionVector::new()),
                        version: version.clone(),
                    },
                    Message::Ack {
                        doc: doc.clone(),
                        version,
                    },
                    Message::Presence {
                        doc: doc.clone(),
                        peer: PeerId(4),
                        clock: 2,
                        state: Some(b"cursor".to_vec()),
                    },
                    Message::Error {
                        doc: Some(doc.clone()),
                        code: ErrorCode::BadMessage,
                        message: "no".into(),
                    },
                    Message::Signal {
                        doc,
                        from: PeerId(4),
                        to: PeerId(5),
                        payload: br#"{"t":"offer","sdp":"v=0"}"#.to_vec(),
                    },
                ]
                .iter()
                .map(sync::encode)
                .collect()
            }
            Target::TextApplyEncoded => {
                let base = base_text();
                let mut other = Text::new(ReplicaId::new(7));
                other
                    .apply_encoded(&base.encode_ops_since(&VersionVector::new()))
                    .expect("a text's own history applies");
                let v = other.version().clone();
                other.insert(2, "abc😀").expect("in range");
                other.delete(0, 1).expect("in range");
                vec![
                    other.encode_ops_since(&v),
                    other.encode_ops_since(&VersionVector::new()),
                ]
            }
            Target::SequenceDecodeState => {
                let text = base_text();
                let mut list: List<Value> = List::new(ReplicaId::new(2));
                list.insert_many(0, vec![Value::from(1), Value::from("two")])
                    .expect("in range");
                list.delete(0, 1).expect("in range");
                vec![
                    text.replicated().sequence().encode_state(),
                    text.encode_state(),
                    list.replicated().sequence().encode_state(),
                ]
            }
            Target::Network => {
                let mut rng = SimRng::new(0xf022);
                [64usize, 512, 2048]
                    .iter()
                    .map(|&n| (0..n).map(|_| rng.next_u64() as u8).collect())
                    .collect()
            }
        }
    }
}

/// A document of replica `replica` after `n` seeded random edits, committed every few edits.
fn edited_doc(replica: u64, n: usize) -> Doc {
    let mut doc = Doc::with_replica(ReplicaId::new(replica));
    let mut rng = SimRng::new(replica);
    for i in 0..n {
        apply_edit(&mut doc, &random_edit(&mut rng)).expect("edits of a live document apply");
        if i % 4 == 3 {
            doc.commit();
        }
    }
    doc.commit();
    doc
}
