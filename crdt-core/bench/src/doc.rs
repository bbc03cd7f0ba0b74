//! Our product, `crdt_core::Doc`, driven through [`crate::TextCrdt`] with its public API only, as
//! an application uses it: one root text edited by `text(..).insert` / `delete`, a `commit()`
//! after each trace transaction (an editor commits per keystroke or per input event), `save()` and
//! `Doc::load` to store and open, `encode_changes_since(&VersionVector::new())` and
//! `apply_changes` into an empty `Doc` to receive a whole history. Its figures are the headline of
//! every report; the engine under it ([`crate::ours`]) is reported apart, labelled as the engine.
//!
//! Invariant: one replica (id 1) makes every edit; positions count Unicode scalar values, as in
//! the traces.

use crdt_core::{Doc, ReplicaId, VersionVector};

use crate::workload::Edit;
use crate::{TextCrdt, Workload};

/// The root text every document edits.
const TEXT: &str = "text";

/// Our document.
pub struct OurDoc {
    doc: Doc,
}

/// Applies `edits` to the document's text, without committing.
fn edit(doc: &mut Doc, edits: &[Edit]) {
    let mut text = doc.text(TEXT);
    for edit in edits {
        if edit.delete > 0 {
            // Cannot fail: the trace's edits are in bounds (checked against endContent by verify).
            text.delete(edit.pos, edit.delete)
                .expect("delete within the text");
        }
        if !edit.insert.is_empty() {
            text.insert(edit.pos, &edit.insert)
                .expect("insert within the text");
        }
    }
}

impl TextCrdt for OurDoc {
    const NAME: &'static str = "Doc";
    const COMMITS: bool = true;

    fn replay(workload: &Workload) -> Self {
        let mut doc = Doc::with_replica(ReplicaId::new(1));
        for txn in workload.txns() {
            edit(&mut doc, txn);
            doc.commit();
        }
        OurDoc { doc }
    }

    fn replay_one_commit(workload: &Workload) -> Self {
        let mut doc = Doc::with_replica(ReplicaId::new(1));
        edit(&mut doc, &workload.edits);
        doc.commit();
        OurDoc { doc }
    }

    fn content(&mut self) -> String {
        self.doc.text(TEXT).to_string()
    }

    fn encode(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    fn encode_changes(&mut self) -> Vec<u8> {
        self.doc.encode_changes_since(&VersionVector::new())
    }

    fn merge_into_empty(bytes: &[u8]) -> Result<Self, String> {
        let mut doc = Doc::with_replica(ReplicaId::new(2));
        doc.apply_changes(bytes).map_err(|e| e.to_string())?;
        Ok(OurDoc { doc })
    }

    fn load(bytes: &[u8]) -> Result<Self, String> {
        let doc = Doc::load(bytes).map_err(|e| e.to_string())?;
        Ok(OurDoc { doc })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify;

    /// The `Doc` replays (a commit per transaction, and one commit), merges and loads real edits
    /// to their end content (the bench start and the compare binary verify every full trace in
    /// release builds).
    #[test]
    fn reproduces_real_edits() {
        let w = Workload::bundled("automerge-paper").unwrap().prefix(20_000);
        let sizes = verify::<OurDoc>(&w).unwrap();
        assert!(sizes.encoded > 0 && sizes.changes > 0);
    }
}
