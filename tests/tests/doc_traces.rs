//! The real editing traces replayed through the application-facing [`Doc`] rather than the bare
//! text engine: every transaction of a sequential trace is one committed `Change` on a root text.
//! The result must equal `endContent`; the whole history, encoded and applied to an empty `Doc`,
//! must give the same text; and a snapshot must load to the same text and version.

use std::time::Instant;

use crdt_core::{Doc, ReplicaId, VersionVector};
use crdt_testdata::replay::{replay_sequential, EngineReplica};
use crdt_testdata::{bundled_trace_path, Trace};

fn replay_into_doc(name: &str) {
    let Trace::Sequential(trace) = Trace::load(bundled_trace_path(name)).expect("bundled trace")
    else {
        panic!("{name} is sequential");
    };
    let started = Instant::now();
    let mut doc = Doc::with_replica(ReplicaId::new(1));
    for txn in &trace.txns {
        let mut text = doc.text("body");
        for patch in &txn.patches {
            if patch.delete() > 0 {
                text.delete(patch.pos(), patch.delete()).expect("in bounds");
            }
            if !patch.insert().is_empty() {
                text.insert(patch.pos(), patch.insert()).expect("in bounds");
            }
        }
        doc.commit();
    }
    let replay = started.elapsed();
    assert_eq!(
        doc.text("body").to_string(),
        trace.end_content,
        "{name}: local replay"
    );
    assert_eq!(
        doc.change_count(),
        trace.txns.len(),
        "{name}: one change per transaction"
    );

    let started = Instant::now();
    let history = doc.encode_changes_since(&VersionVector::new());
    let mut fresh = Doc::with_replica(ReplicaId::new(2));
    let outcome = fresh.apply_changes(&history).expect("own history applies");
    let merge = started.elapsed();
    assert_eq!(outcome.pending, 0);
    assert_eq!(
        fresh.text("body").to_string(),
        trace.end_content,
        "{name}: merged"
    );

    let started = Instant::now();
    let snapshot = doc.save();
    let loaded = Doc::load(&snapshot).expect("own snapshot loads");
    let load = started.elapsed();
    assert_eq!(loaded.version(), doc.version());
    assert_eq!(loaded.materialize(), doc.materialize(), "{name}: loaded");
    // The bare text engine on the same trace, in the same run, as the yardstick.
    let started = Instant::now();
    let mut bare = replay_sequential::<EngineReplica>(&trace).expect("bare replay");
    let bare_time = started.elapsed();
    assert!(bare.matches());
    println!(
        "{name}: bare Text replay {bare_time:?} (history {} KiB); Doc/Text replay ratio {:.1}",
        bare.encoded_bytes() / 1024,
        replay.as_secs_f64() / bare_time.as_secs_f64()
    );
    println!(
        "{name}: Doc replay {replay:?}, history {} KiB merged in {merge:?}, snapshot {} KiB saved+loaded in {load:?}",
        history.len() / 1024,
        snapshot.len() / 1024
    );
}

#[test]
fn sveltecomponent_through_doc() {
    replay_into_doc("sveltecomponent");
}

#[test]
fn automerge_paper_through_doc() {
    replay_into_doc("automerge-paper");
}

/// Only the local replay with a commit per transaction, for profilers
/// (`perf record ... doc_traces-* --ignored profile_doc_replay`).
#[test]
#[ignore = "profiling helper"]
fn profile_doc_replay() {
    let Trace::Sequential(trace) =
        Trace::load(bundled_trace_path("automerge-paper")).expect("bundled trace")
    else {
        panic!("automerge-paper is sequential");
    };
    for _ in 0..5 {
        let mut doc = Doc::with_replica(ReplicaId::new(1));
        for txn in &trace.txns {
            let mut text = doc.text("body");
            for patch in &txn.patches {
                if patch.delete() > 0 {
                    text.delete(patch.pos(), patch.delete()).expect("in bounds");
                }
                if !patch.insert().is_empty() {
                    text.insert(patch.pos(), patch.insert()).expect("in bounds");
                }
            }
            doc.commit();
        }
        assert_eq!(doc.text("body").to_string(), trace.end_content);
    }
}
