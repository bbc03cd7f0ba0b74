//! Rich text on a real trace, for what events cost: the trace replayed through our `Doc` with a
//! formatting mark every 100 edits (the rule of the JS bench `wasm/bench/marks.mjs`: on the 12
//! characters ending 2 before the edit's position, alternately `bold` and `italic`), with a
//! commit per transaction as an editor commits, with and without a subscriber; and the whole
//! history of that replay imported into a fresh `Doc` in one `apply_changes`, with and without
//! a subscriber. A subscriber makes every insert's patch carry its formatting and every mark
//! describe the ranges it changed, which is what these measure.
//!
//! Invariant (correctness first, as the rest of this crate): figures are reported only when the
//! replay ends at the trace's `endContent` and the imported document, subscribed, reads as the
//! same delta as the replayed one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crdt_core::{DeltaRun, Doc, DocEvent, ReplicaId, VersionVector};

use crate::Workload;

/// A mark after every this many edits.
pub const MARK_EVERY: usize = 100;
/// Characters each mark covers (fewer at the start of the text).
pub const MARK_LEN: usize = 12;

/// The root text every document edits.
const TEXT: &str = "text";

/// What went wrong in a check: the figures would be worthless.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MarksCheckError(String);

/// Replays `w` into `doc` with a commit per transaction and a mark every [`MARK_EVERY`] edits;
/// returns the number of marks made.
pub fn replay_marked(w: &Workload, doc: &mut Doc) -> usize {
    let (mut n, mut marks) = (0usize, 0);
    for txn in w.txns() {
        let mut text = doc.text(TEXT);
        for edit in txn {
            // Cannot fail: the trace's edits are in bounds (checked against endContent by verify).
            if edit.delete > 0 {
                text.delete(edit.pos, edit.delete)
                    .expect("delete within the text");
            }
            if !edit.insert.is_empty() {
                text.insert(edit.pos, &edit.insert)
                    .expect("insert within the text");
            }
            n += 1;
            let len = text.len();
            if n.is_multiple_of(MARK_EVERY) && len > 0 {
                // The 12 characters ending 2 before the edit: typing goes on outside the mark.
                let end = edit.pos.saturating_sub(2).max(1).min(len);
                let key = if (n / MARK_EVERY).is_multiple_of(2) {
                    "bold"
                } else {
                    "italic"
                };
                // Cannot fail: 0 <= start < end <= len.
                text.mark(end.saturating_sub(MARK_LEN), end, key, true)
                    .expect("mark within the text");
                marks += 1;
            }
        }
        doc.commit();
    }
    marks
}

/// Subscribes a listener that counts the patches it receives (the count it returns).
fn count_patches(doc: &mut Doc) -> Arc<AtomicUsize> {
    let seen = Arc::new(AtomicUsize::new(0));
    let sink = Arc::clone(&seen);
    doc.subscribe(move |event: &DocEvent| {
        sink.fetch_add(event.patches.len(), Ordering::Relaxed);
    });
    seen
}

/// The trace typed with its marks into a new document (what the typing benches time), with a
/// listener when `listener`; the document and the patches the listener saw.
pub fn type_trace(w: &Workload, listener: bool) -> (Doc, usize) {
    let mut doc = Doc::with_replica(ReplicaId::new(1));
    let seen = listener.then(|| count_patches(&mut doc));
    replay_marked(w, &mut doc);
    let patches = seen.map_or(0, |s| s.load(Ordering::Relaxed));
    (doc, patches)
}

/// The history of the marked replay, to import.
pub struct MarkedHistory {
    /// Every change, as `encode_changes_since(&VersionVector::new())` gives them.
    pub bytes: Vec<u8>,
    /// The replayed document's text as a delta.
    pub delta: Vec<DeltaRun>,
    /// Marks made.
    pub marks: usize,
}

impl MarkedHistory {
    /// Replays `w` with its marks (no listener) and exports the history.
    pub fn of(w: &Workload) -> Self {
        let mut doc = Doc::with_replica(ReplicaId::new(1));
        let marks = replay_marked(w, &mut doc);
        MarkedHistory {
            bytes: doc.encode_changes_since(&VersionVector::new()),
            delta: doc.text(TEXT).to_delta(),
            marks,
        }
    }

    /// The whole history imported into a new document in one batch (what the import benches
    /// time), with a listener when `listener`; the document and the patches the listener saw.
    pub fn import(&self, listener: bool) -> (Doc, usize) {
        let mut doc = Doc::with_replica(ReplicaId::new(2));
        let seen = listener.then(|| count_patches(&mut doc));
        // Cannot fail: the bytes are a whole history this crate just encoded.
        doc.apply_changes(&self.bytes)
            .expect("a whole history applies");
        let patches = seen.map_or(0, |s| s.load(Ordering::Relaxed));
        (doc, patches)
    }

    /// Checks the replay against the trace and the imports against the replay.
    pub fn check(&self, w: &Workload) -> Result<(), MarksCheckError> {
        let text: String = self.delta.iter().map(|r| r.insert.as_str()).collect();
        if text != w.end_content {
            return Err(MarksCheckError(
                "the marked replay does not end at endContent".into(),
            ));
        }
        if self.marks == 0 || !self.delta.iter().any(|r| !r.attributes.is_empty()) {
            return Err(MarksCheckError("the replay formatted nothing".into()));
        }
        for listener in [false, true] {
            let (mut doc, patches) = self.import(listener);
            if doc.text(TEXT).to_delta() != self.delta {
                return Err(MarksCheckError(format!(
                    "the import (listener: {listener}) reads as another delta"
                )));
            }
            if listener && patches == 0 {
                return Err(MarksCheckError("the listener saw no patch".into()));
            }
        }
        let (mut typed, patches) = type_trace(w, true);
        if typed.text(TEXT).to_delta() != self.delta || patches == 0 {
            return Err(MarksCheckError(
                "typing with a listener reads as another delta".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_of_a_real_trace_with_marks_checks_out() {
        let w = Workload::bundled("automerge-paper")
            .unwrap_or_else(|e| panic!("{e}"))
            .prefix(3000);
        let history = MarkedHistory::of(&w);
        assert_eq!(history.marks, 30);
        history.check(&w).unwrap();
    }
}
