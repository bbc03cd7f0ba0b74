//! Reading history on a real trace (issue #14): our `Doc::view_at` of the midpoint version and
//! `Doc::diff` over the last 1,000 changes, beside Loro's `checkout` (and `fork_at`, which like
//! our `view_at` returns a new document) of the same point and Loro's `diff` over the same changes.
//!
//! Both documents replay the trace with a commit per transaction (as an editor commits) and
//! remember the version after the middle transaction and the one 1,000 transactions before the
//! end (our versions, Loro's frontiers). Loro merges consecutive commits of one peer into one
//! change, but its frontiers name operations, so both stop at the same edit.
//!
//! Invariant (correctness first, as the rest of this crate): a figure is reported only when our
//! view shows the text the trace had at that point, and our diff, applied as patches to the text
//! 1,000 transactions before the end, gives the end content; Loro's checkout must show the same
//! midpoint text.

use crdt_core::{Doc, PatchAction, ReplicaId, VersionVector};

use crate::workload::{replay_reference, Edit};
use crate::Workload;

/// Changes the diff covers.
pub const DIFF_CHANGES: usize = 1000;

/// The root text every document edits.
const TEXT: &str = "text";

/// Our document after the trace, and the versions the history benches read.
pub struct OurHistory {
    /// The document.
    pub doc: Doc,
    /// The version after the middle transaction.
    pub mid: VersionVector,
    /// The version [`DIFF_CHANGES`] transactions before the end.
    pub before_last: VersionVector,
    /// The version at the end.
    pub end: VersionVector,
}

/// What went wrong in a check: the figures would be worthless.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HistoryCheckError(String);

fn edit(doc: &mut Doc, edits: &[Edit]) {
    let mut text = doc.text(TEXT);
    for edit in edits {
        // Cannot fail: the trace's edits are in bounds (checked against endContent by verify).
        if edit.delete > 0 {
            text.delete(edit.pos, edit.delete)
                .expect("delete within the text");
        }
        if !edit.insert.is_empty() {
            text.insert(edit.pos, &edit.insert)
                .expect("insert within the text");
        }
    }
}

/// The transaction index after which the midpoint version is taken, and the one of the diff's
/// start.
fn points(w: &Workload) -> (usize, usize) {
    let n = w.txns.len();
    (n / 2, n.saturating_sub(DIFF_CHANGES))
}

/// The text after the first `k` transactions (the reference replay of the trace's edits).
fn text_after(w: &Workload, k: usize) -> String {
    let end = w.txns.get(k.wrapping_sub(1)).map_or(0, |t| t.end);
    replay_reference(&w.edits[..end])
}

impl OurHistory {
    /// Replays `w` with a commit per transaction, remembering the versions.
    pub fn replay(w: &Workload) -> Self {
        let (mid_at, before_at) = points(w);
        let mut doc = Doc::with_replica(ReplicaId::new(1));
        let (mut mid, mut before_last) = (VersionVector::new(), VersionVector::new());
        for (i, txn) in w.txns().enumerate() {
            if i == mid_at {
                mid = doc.version();
            }
            if i == before_at {
                before_last = doc.version();
            }
            edit(&mut doc, txn);
            doc.commit();
        }
        let end = doc.version();
        OurHistory {
            doc,
            mid,
            before_last,
            end,
        }
    }

    /// The text of the view at the midpoint (what the bench times).
    pub fn view_mid(&self) -> String {
        // Cannot fail: `mid` is a version this document held.
        let mut view = self
            .doc
            .view_at(&self.mid)
            .expect("a version of the history");
        let text = view.text(TEXT).to_string();
        text
    }

    /// The diff over the last changes (what the bench times).
    pub fn diff_last(&self) -> Vec<crdt_core::Patch> {
        // Cannot fail: both are versions this document held, the first covered by the second.
        self.doc
            .diff(&self.before_last, &self.end)
            .expect("a forward diff")
    }

    /// Checks the view and the diff against the trace.
    pub fn check(&self, w: &Workload) -> Result<(), HistoryCheckError> {
        let (mid_at, before_at) = points(w);
        if self.view_mid() != text_after(w, mid_at) {
            return Err(HistoryCheckError(
                "view_at(mid) is not the trace's text".into(),
            ));
        }
        let mut text: Vec<char> = text_after(w, before_at).chars().collect();
        for patch in self.diff_last() {
            match patch.action {
                PatchAction::TextInsert { index, text: t, .. } => {
                    text.splice(index..index, t.chars());
                }
                PatchAction::TextDelete { index, len, .. } => {
                    text.drain(index..index + len);
                }
                other => return Err(HistoryCheckError(format!("unexpected patch {other:?}"))),
            }
        }
        if text.into_iter().collect::<String>() != w.end_content {
            return Err(HistoryCheckError("diff does not lead to endContent".into()));
        }
        Ok(())
    }
}

/// Loro's document after the trace, and its frontiers at the same points.
#[cfg(feature = "peers")]
pub struct LoroHistory {
    /// The document.
    pub doc: loro::LoroDoc,
    /// The frontiers after the middle transaction.
    pub mid: loro::Frontiers,
    /// The frontiers [`DIFF_CHANGES`] transactions before the end.
    pub before_last: loro::Frontiers,
    /// The frontiers at the end.
    pub end: loro::Frontiers,
}

#[cfg(feature = "peers")]
impl LoroHistory {
    /// Replays `w` with a commit per transaction, remembering the frontiers.
    pub fn replay(w: &Workload) -> Self {
        let (mid_at, before_at) = points(w);
        let doc = loro::LoroDoc::new();
        // Cannot fail: a new document accepts any peer id.
        doc.set_peer_id(1).expect("peer id of a new document");
        let text = doc.get_text(TEXT);
        let (mut mid, mut before_last) = (doc.oplog_frontiers(), doc.oplog_frontiers());
        for (i, txn) in w.txns().enumerate() {
            if i == mid_at {
                mid = doc.oplog_frontiers();
            }
            if i == before_at {
                before_last = doc.oplog_frontiers();
            }
            for edit in txn {
                // Cannot fail: the trace's edits are in bounds.
                if edit.delete > 0 {
                    text.delete(edit.pos, edit.delete).expect("delete");
                }
                if !edit.insert.is_empty() {
                    text.insert(edit.pos, &edit.insert).expect("insert");
                }
            }
            doc.commit();
        }
        let end = doc.oplog_frontiers();
        LoroHistory {
            doc,
            mid,
            before_last,
            end,
        }
    }

    /// Checks out the midpoint and reads the text (what the bench times); the caller returns to
    /// the latest version.
    pub fn checkout_mid(&self) -> String {
        // Cannot fail: the frontiers are the document's own.
        self.doc.checkout(&self.mid).expect("checkout");
        self.doc.get_text(TEXT).to_string()
    }

    /// A new document at the midpoint, and its text (what the bench times).
    pub fn fork_mid(&self) -> String {
        // Cannot fail: the frontiers are the document's own.
        let fork = self.doc.fork_at(&self.mid).expect("fork_at");
        let text = fork.get_text(TEXT).to_string();
        text
    }

    /// Loro's diff over the last changes (what the bench times).
    pub fn diff_last(&self) -> loro::event::DiffBatch {
        // Cannot fail: the frontiers are the document's own.
        self.doc.diff(&self.before_last, &self.end).expect("diff")
    }

    /// Checks that Loro shows the same midpoint text.
    pub fn check(&self, w: &Workload) -> Result<(), HistoryCheckError> {
        let (mid_at, _) = points(w);
        let checked_out = self.checkout_mid();
        self.doc.checkout_to_latest();
        if checked_out != text_after(w, mid_at) || self.fork_mid() != checked_out {
            return Err(HistoryCheckError(
                "loro's checkout is not the trace's text".into(),
            ));
        }
        if self.doc.get_text(TEXT).to_string() != w.end_content {
            return Err(HistoryCheckError(
                "loro did not return to the latest".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_and_diff_match_the_trace_on_a_prefix() {
        let w = Workload::bundled("automerge-paper")
            .expect("bundled trace")
            .prefix(3000);
        let ours = OurHistory::replay(&w);
        ours.check(&w).unwrap();
        assert!(ours.diff_last().len() >= DIFF_CHANGES.min(w.txns.len() / 2));
        #[cfg(feature = "peers")]
        LoroHistory::replay(&w).check(&w).unwrap();
    }
}
