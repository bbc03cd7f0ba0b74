//! The real editing traces of `traces/`, replayed with crdt-core through the shared replay code
//! (`crdt_testdata::replay`): every sequential trace as local edits on one `Text`, the concurrent
//! trace with one replica per agent synced along its parent edges through the encoded-ops path,
//! on bare `Text` engines and on `Doc`s. Each must end with the trace's `endContent`, exactly, on
//! every replica.

use crdt_core::VersionVector;
use crdt_testdata::replay::{
    replay_concurrent, replay_sequential, DocReplica, EngineReplica, ReplayOutcome, Replica,
};
use crdt_testdata::{bundled_trace_path, Trace};

fn load(name: &str) -> Trace {
    Trace::load(bundled_trace_path(name)).expect("bundled traces load")
}

/// Asserts that every replica holds exactly the trace's final content, and says where the first
/// difference is when one does not (the texts are too long to print whole).
fn assert_all_match<R: Replica>(name: &str, outcome: &mut ReplayOutcome<R>) {
    for (i, replica) in outcome.replicas.iter_mut().enumerate() {
        let got = replica.content();
        if got != outcome.expected {
            let at = got
                .chars()
                .zip(outcome.expected.chars())
                .take_while(|(a, b)| a == b)
                .count();
            let around = |s: &str| {
                s.chars()
                    .skip(at.saturating_sub(20))
                    .take(60)
                    .collect::<String>()
            };
            panic!(
                "{name}: replica {i} differs from endContent at char {at} (lengths {} vs {}):\n got: {:?}\nwant: {:?}",
                got.chars().count(),
                outcome.expected.chars().count(),
                around(&got),
                around(&outcome.expected),
            );
        }
    }
    assert!(outcome.matches());
}

fn sequential(name: &str) {
    let Trace::Sequential(trace) = load(name) else {
        panic!("{name} is a sequential trace");
    };
    let mut outcome =
        replay_sequential::<EngineReplica>(&trace).expect("every edit of the trace applies");
    assert_eq!(outcome.replicas.len(), 1);
    assert_eq!(
        outcome.ops,
        trace.txns.iter().map(|t| t.patches.len()).sum::<usize>()
    );
    assert_eq!(
        outcome.replicas[0].text.len(),
        outcome.expected.chars().count()
    );
    assert_all_match(name, &mut outcome);
}

#[test]
fn automerge_paper_replays_to_its_end_content() {
    sequential("automerge-paper");
}

#[test]
fn seph_blog1_replays_to_its_end_content() {
    sequential("seph-blog1");
}

#[test]
fn sveltecomponent_replays_to_its_end_content() {
    sequential("sveltecomponent");
}

#[test]
fn friendsforever_converges_along_its_parent_edges() {
    let Trace::Concurrent(trace) = load("friendsforever") else {
        panic!("friendsforever is a concurrent trace");
    };
    let mut outcome =
        replay_concurrent::<EngineReplica>(&trace).expect("every edit and every sync applies");
    assert_eq!(outcome.replicas.len(), trace.num_agents);
    assert_all_match("friendsforever", &mut outcome);
    let mut replicas: Vec<_> = outcome.replicas.into_iter().map(|r| r.text).collect();
    let version = replicas[0].version().clone();
    for i in 1..replicas.len() {
        assert_eq!(replicas[i].version(), &version, "all replicas saw every op");
        let nothing_new = replicas[0].encode_ops_since(replicas[i].version());
        assert_eq!(replicas[i].apply_encoded(&nothing_new).ok(), Some(0));
    }
    // The full history, sent to an empty replica, rebuilds the same document.
    let mut fresh = crdt_core::Text::new(crdt_core::ReplicaId::new(1000));
    fresh
        .apply_encoded(&replicas[0].encode_ops_since(&VersionVector::new()))
        .expect("a replica's own history applies to an empty replica");
    assert_eq!(fresh.to_string(), trace.end_content);
}

#[test]
fn friendsforever_converges_through_docs() {
    let Trace::Concurrent(trace) = load("friendsforever") else {
        panic!("friendsforever is a concurrent trace");
    };
    let mut outcome =
        replay_concurrent::<DocReplica>(&trace).expect("every edit and every sync applies");
    assert_eq!(outcome.replicas.len(), trace.num_agents);
    assert_all_match("friendsforever", &mut outcome);
    // The full history, applied to an empty Doc, rebuilds the same text.
    let history = outcome.replicas[0].encode_since(&VersionVector::new());
    let mut fresh = DocReplica::with_replica(crdt_core::ReplicaId::new(1000));
    fresh
        .apply_encoded(&history)
        .expect("a replica's own history applies to an empty Doc");
    assert_eq!(fresh.content(), trace.end_content);
}
