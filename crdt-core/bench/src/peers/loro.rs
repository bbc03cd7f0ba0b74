//! Loro (`LoroDoc`, a root `LoroText` edited with `insert` / `delete` by Unicode position): a
//! `commit()` after each trace transaction, as an editor binding commits, or one at the end. The
//! saved document is Loro's snapshot (`ExportMode::Snapshot`), opened with
//! `LoroDoc::from_snapshot`, which loads the current state and decodes the history only when it
//! is needed; the whole history travels as `ExportMode::all_updates()` imported into a new doc.
//!
//! Invariant: one peer (id 1) makes every edit; positions count Unicode scalar values, as in the
//! traces.

use loro::{ExportMode, LoroDoc, LoroText};

use crate::{Edit, TextCrdt, Workload};

/// A Loro document with its text.
pub struct LoroDocText {
    doc: LoroDoc,
    text: LoroText,
}

impl LoroDocText {
    fn new() -> Self {
        Self::from_doc(LoroDoc::new())
    }

    fn from_doc(doc: LoroDoc) -> Self {
        let text = doc.get_text("text");
        LoroDocText { doc, text }
    }

    fn apply(&self, edits: &[Edit]) {
        for edit in edits {
            // Cannot fail: the trace's edits are in bounds (checked against endContent by verify).
            if edit.delete > 0 {
                self.text
                    .delete(edit.pos, edit.delete)
                    .expect("delete within the text");
            }
            if !edit.insert.is_empty() {
                self.text
                    .insert(edit.pos, &edit.insert)
                    .expect("insert within the text");
            }
        }
    }
}

impl TextCrdt for LoroDocText {
    const NAME: &'static str = "loro";
    const COMMITS: bool = true;

    fn replay(workload: &Workload) -> Self {
        let doc = Self::new();
        // Cannot fail: a new document accepts any peer id.
        doc.doc.set_peer_id(1).expect("peer id of a new document");
        for edits in workload.txns() {
            doc.apply(edits);
            doc.doc.commit();
        }
        doc
    }

    fn replay_one_commit(workload: &Workload) -> Self {
        let doc = Self::new();
        doc.doc.set_peer_id(1).expect("peer id of a new document");
        doc.apply(&workload.edits);
        doc.doc.commit();
        doc
    }

    fn content(&mut self) -> String {
        self.text.to_string()
    }

    fn encode(&mut self) -> Vec<u8> {
        // Cannot fail: a snapshot of a whole document without a shallow root always encodes.
        self.doc
            .export(ExportMode::Snapshot)
            .expect("snapshot export")
    }

    fn encode_changes(&mut self) -> Vec<u8> {
        // Cannot fail: the updates of a whole document always encode.
        self.doc
            .export(ExportMode::all_updates())
            .expect("updates export")
    }

    fn merge_into_empty(bytes: &[u8]) -> Result<Self, String> {
        let doc = Self::new();
        doc.doc.import(bytes).map_err(|e| e.to_string())?;
        Ok(doc)
    }

    fn load(bytes: &[u8]) -> Result<Self, String> {
        let doc = LoroDoc::from_snapshot(bytes).map_err(|e| e.to_string())?;
        Ok(Self::from_doc(doc))
    }
}
