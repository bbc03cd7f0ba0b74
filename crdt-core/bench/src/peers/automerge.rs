//! Automerge (`AutoCommit` text object, `splice_text`): a `commit()` after each trace transaction
//! (one change each, as an editor binding commits), or, as Automerge's own edit-trace benchmark
//! does, all edits committed once at the end.
//!
//! Invariant: the document holds one text object under the root key `"text"`; positions count
//! Unicode code points (`TextEncoding::UnicodeCodePoint`).

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ReadDoc, TextEncoding, ROOT};

use crate::{Edit, TextCrdt, Workload};

/// An Automerge document with its text object.
pub struct AutomergeText {
    doc: AutoCommit,
    text: ObjId,
}

impl AutomergeText {
    fn new() -> Self {
        let mut doc = AutoCommit::new_with_encoding(TextEncoding::UnicodeCodePoint);
        // Cannot fail: the root map of a new document accepts a new object.
        let text = doc
            .put_object(ROOT, "text", ObjType::Text)
            .expect("put text object in a new document");
        AutomergeText { doc, text }
    }

    fn splice(&mut self, edits: &[Edit]) {
        for edit in edits {
            // Cannot fail: the trace's edits are in bounds (checked against endContent by verify).
            self.doc
                .splice_text(&self.text, edit.pos, edit.delete as isize, &edit.insert)
                .expect("splice within the text");
        }
    }

    fn from_doc(doc: AutoCommit) -> Result<Self, String> {
        match doc.get(ROOT, "text").map_err(|e| e.to_string())? {
            Some((_, text)) => Ok(AutomergeText { doc, text }),
            None => Err("no text object in the document".to_string()),
        }
    }
}

impl TextCrdt for AutomergeText {
    const NAME: &'static str = "automerge";
    const COMMITS: bool = true;

    fn replay(workload: &Workload) -> Self {
        let mut doc = AutomergeText::new();
        for txn in workload.txns() {
            doc.splice(txn);
            doc.doc.commit();
        }
        doc
    }

    fn replay_one_commit(workload: &Workload) -> Self {
        let mut doc = AutomergeText::new();
        doc.splice(&workload.edits);
        doc.doc.commit();
        doc
    }

    fn content(&mut self) -> String {
        self.doc.text(&self.text).unwrap_or_default()
    }

    fn encode(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// The changes, each in Automerge's change-chunk format, concatenated.
    fn encode_changes(&mut self) -> Vec<u8> {
        let changes = self.doc.get_changes(&[]);
        changes
            .iter()
            .flat_map(|c| c.raw_bytes().to_vec())
            .collect()
    }

    fn merge_into_empty(bytes: &[u8]) -> Result<Self, String> {
        let mut doc = AutoCommit::new_with_encoding(TextEncoding::UnicodeCodePoint);
        doc.load_incremental(bytes).map_err(|e| e.to_string())?;
        Self::from_doc(doc)
    }

    fn load(bytes: &[u8]) -> Result<Self, String> {
        Self::from_doc(AutoCommit::load(bytes).map_err(|e| e.to_string())?)
    }
}
