//! Issue #14: `Doc::view_at(v)` on the real editing traces equals the text a replica held when
//! it had received exactly the changes up to `v`. The replay records, at sampled transactions,
//! the version and text of the replica that made it (a replica that only ever received that
//! version's changes); the fully synced document's `view_at` of each recorded version must show
//! that text. friendsforever is the concurrent trace (its versions are cuts across agents);
//! automerge-paper is checked on a prefix, so the test stays seconds-long in debug builds.

use std::cell::RefCell;

use crdt_core::{ReplicaId, VersionVector};
use crdt_testdata::replay::{
    replay_concurrent, DocReplica, EditError, ReplayOutcome, Replica, TEXT_NAME,
};
use crdt_testdata::trace::{Patch, SequentialTrace};
use crdt_testdata::{bundled_trace_path, Trace};

thread_local! {
    /// What the replay recorded on this test's thread: `(version, text)` after sampled
    /// transactions. Per thread, so tests running in parallel do not share it.
    static RECORDED: RefCell<Vec<(VersionVector, String)>> = const { RefCell::new(Vec::new()) };
    static TXNS: RefCell<usize> = const { RefCell::new(0) };
}

/// Record one transaction in this many.
const SAMPLE_EVERY: usize = 613;

/// A `DocReplica` that records its version and text after every `SAMPLE_EVERY`th transaction.
struct Recording(DocReplica);

impl Replica for Recording {
    const LABEL: &'static str = "recording doc";

    fn with_replica(replica: ReplicaId) -> Self {
        Recording(DocReplica::with_replica(replica))
    }

    fn apply_txn(&mut self, patches: &[Patch]) -> Result<(), EditError> {
        self.0.apply_txn(patches)?;
        let n = TXNS.with(|t| {
            *t.borrow_mut() += 1;
            *t.borrow()
        });
        if n.is_multiple_of(SAMPLE_EVERY) {
            let entry = (self.0.version(), self.0.content());
            RECORDED.with(|r| r.borrow_mut().push(entry));
        }
        Ok(())
    }

    fn version(&self) -> VersionVector {
        self.0.version()
    }

    fn encode_since(&self, since: &VersionVector) -> Vec<u8> {
        self.0.encode_since(since)
    }

    fn apply_encoded(&mut self, bytes: &[u8]) -> Result<(), EditError> {
        self.0.apply_encoded(bytes)
    }

    fn content(&mut self) -> String {
        self.0.content()
    }
}

fn load(name: &str) -> Trace {
    Trace::load(bundled_trace_path(name)).expect("bundled traces load")
}

#[test]
fn view_at_on_friendsforever_equals_the_replica_that_held_each_version() {
    let Trace::Concurrent(trace) = load("friendsforever") else {
        panic!("friendsforever is a concurrent trace");
    };
    RECORDED.with(|r| r.borrow_mut().clear());
    let outcome: ReplayOutcome<Recording> =
        replay_concurrent(&trace).expect("every edit and every sync applies");
    let doc = &outcome.replicas[0].0.doc;
    let recorded = RECORDED.with(|r| r.take());
    assert!(recorded.len() > 15, "{} versions recorded", recorded.len());
    let mut concurrent_cuts = 0;
    for (version, text) in &recorded {
        let mut view = doc.view_at(version).expect("a replica's version is a cut");
        assert_eq!(&view.version(), version);
        assert_eq!(&view.text(TEXT_NAME).to_string(), text, "at {version:?}");
        concurrent_cuts += usize::from(version.len() > 1);
    }
    assert!(concurrent_cuts > 5, "versions spanning several agents");
}

#[test]
fn view_at_on_an_automerge_paper_prefix_equals_the_text_after_each_transaction() {
    let Trace::Sequential(trace) = load("automerge-paper") else {
        panic!("automerge-paper is a sequential trace");
    };
    let prefix = SequentialTrace {
        txns: trace.txns[..4000].to_vec(),
        ..trace
    };
    let mut replica = DocReplica::with_replica(ReplicaId::new(1));
    let mut recorded = Vec::new();
    for (i, txn) in prefix.txns.iter().enumerate() {
        replica.apply_txn(&txn.patches).expect("trace edits apply");
        if i % 397 == 0 {
            recorded.push((replica.version(), replica.content()));
        }
    }
    for (version, text) in &recorded {
        let mut view = replica.doc.view_at(version).expect("a past version");
        assert_eq!(&view.text(TEXT_NAME).to_string(), text);
    }
    // The diff from each recorded version to the end, applied as patches, rebuilds the end.
    let end = replica.doc.version();
    let (from, text) = &recorded[recorded.len() / 2];
    let mut rebuilt: Vec<char> = text.chars().collect();
    for patch in replica.doc.diff(from, &end).expect("forward diff") {
        match patch.action {
            crdt_core::PatchAction::TextInsert { index, text, .. } => {
                rebuilt.splice(index..index, text.chars());
            }
            crdt_core::PatchAction::TextDelete { index, len, .. } => {
                rebuilt.drain(index..index + len);
            }
            other => panic!("unexpected patch {other:?}"),
        }
    }
    assert_eq!(rebuilt.into_iter().collect::<String>(), replica.content());
}
