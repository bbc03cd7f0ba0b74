//! Yrs (the Rust port of Yjs): a `TextRef` edited with `insert` / `remove_range`, one
//! `transact_mut` per trace transaction, as an editor binding does, or one for the whole trace
//! (much slower: the blocks of a transaction are only squashed when it ends, so every position
//! lookup inside one long transaction walks them); history moved with `encode_state_as_update_v1`
//! and `apply_update`.
//!
//! Invariant: the document uses `OffsetKind::Utf16` and is fed the workload's UTF-16 edits, so it
//! edits the same characters as the other implementations (Yrs has no scalar-value offsets).

use yrs::updates::decoder::Decode;
use yrs::{
    Doc, GetString, OffsetKind, Options, ReadTxn, StateVector, Text, TextRef, Transact, Update,
};

use crate::{Edit, TextCrdt, Workload};

/// A Yrs document with its text.
pub struct YrsText {
    doc: Doc,
    text: TextRef,
}

fn new_doc() -> YrsText {
    let mut options = Options::with_client_id(yrs::block::ClientID::new(1));
    options.offset_kind = OffsetKind::Utf16;
    let doc = Doc::with_options(options);
    let text = doc.get_or_insert_text("text");
    YrsText { doc, text }
}

impl YrsText {
    /// Applies `edits` (UTF-16 positions) in one transaction.
    fn apply(&self, edits: &[Edit]) {
        let mut txn = self.doc.transact_mut();
        for edit in edits {
            if edit.delete > 0 {
                self.text
                    .remove_range(&mut txn, index(edit.pos), index(edit.delete));
            }
            if !edit.insert.is_empty() {
                self.text.insert(&mut txn, index(edit.pos), &edit.insert);
            }
        }
    }
}

/// Converts a position of the workload to Yrs' `u32` index.
fn index(n: usize) -> u32 {
    // Cannot fail for the bundled traces (< 1 MB); a larger trace would be a misuse of this bench.
    u32::try_from(n).expect("trace positions fit in u32")
}

impl TextCrdt for YrsText {
    const NAME: &'static str = "yrs";
    const COMMITS: bool = true;

    fn replay(workload: &Workload) -> Self {
        let doc = new_doc();
        for edits in workload.utf16_txns() {
            doc.apply(edits);
        }
        doc
    }

    fn replay_one_commit(workload: &Workload) -> Self {
        let doc = new_doc();
        doc.apply(&workload.utf16_edits);
        doc
    }

    fn content(&mut self) -> String {
        self.text.get_string(&self.doc.transact())
    }

    fn encode(&mut self) -> Vec<u8> {
        self.doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default())
    }

    fn merge_into_empty(bytes: &[u8]) -> Result<Self, String> {
        let doc = new_doc();
        let update = Update::decode_v1(bytes).map_err(|e| e.to_string())?;
        doc.doc
            .transact_mut()
            .apply_update(update)
            .map_err(|e| e.to_string())?;
        Ok(doc)
    }

    /// Yrs has no separate storage format: loading is applying the full update to a new document.
    fn load(bytes: &[u8]) -> Result<Self, String> {
        Self::merge_into_empty(bytes)
    }
}
