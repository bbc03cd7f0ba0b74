//! Automerge (`AutoCommit` text object, `splice_text`), the way Automerge's own edit-trace
//! benchmark drives it: all edits in one transaction, committed at the end.
//!
//! Invariant: the document holds one text object under the root key `"text"`; positions count
//! Unicode code points (`TextEncoding::UnicodeCodePoint`).

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ReadDoc, TextEncoding, ROOT};

use crate::{TextCrdt, Workload};

/// An Automerge document with its text object.
pub struct AutomergeText {
    doc: AutoCommit,
    text: ObjId,
}

impl AutomergeText {
    fn from_doc(doc: AutoCommit) -> Result<Self, String> {
        match doc.get(ROOT, "text").map_err(|e| e.to_string())? {
            Some((_, text)) => Ok(AutomergeText { doc, text }),
            None => Err("no text object in the document".to_string()),
        }
    }
}

impl TextCrdt for AutomergeText {
    const NAME: &'static str = "automerge";

    fn replay(workload: &Workload) -> Self {
        let mut doc = AutoCommit::new_with_encoding(TextEncoding::UnicodeCodePoint);
        // Cannot fail: the root map of a new document accepts a new object.
        let text = doc
            .put_object(ROOT, "text", ObjType::Text)
            .expect("put text object in a new document");
        for edit in &workload.edits {
            // Cannot fail: the trace's edits are in bounds (checked against endContent by verify).
            doc.splice_text(&text, edit.pos, edit.delete as isize, &edit.insert)
                .expect("splice within the text");
        }
        doc.commit();
        AutomergeText { doc, text }
    }

    fn content(&self) -> String {
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
