//! Our sequence engine, `crdt_core::Text`, driven through [`crate::TextCrdt`]: the engine under
//! the `Doc`, reported as "engine (Text)" and never as the product (users hold a
//! [`crdt_core::Doc`], see [`crate::doc`]). Local `insert` / `delete` by Unicode scalar position;
//! the whole history merged with `encode_ops_since(&VersionVector::new())` and `apply_encoded`
//! into a new replica, and stored with the snapshot `encode_state` / `decode_state`.
//!
//! Invariant: one replica (id 1) makes every edit; positions count Unicode scalar values, as in
//! the traces. The engine has no commits.

use crdt_core::{ReplicaId, Text, VersionVector};

use crate::{TextCrdt, Workload};

/// Our text engine replica.
pub struct OurText {
    text: Text,
}

impl TextCrdt for OurText {
    const NAME: &'static str = "engine (Text)";
    const COMMITS: bool = false;

    fn replay(workload: &Workload) -> Self {
        let mut text = Text::new(ReplicaId::new(1));
        for edit in &workload.edits {
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
        OurText { text }
    }

    fn content(&mut self) -> String {
        self.text.to_string()
    }

    fn encode(&mut self) -> Vec<u8> {
        self.text.encode_state()
    }

    fn encode_changes(&mut self) -> Vec<u8> {
        self.text.encode_ops_since(&VersionVector::new())
    }

    fn merge_into_empty(bytes: &[u8]) -> Result<Self, String> {
        let mut text = Text::new(ReplicaId::new(2));
        text.apply_encoded(bytes).map_err(|e| e.to_string())?;
        Ok(OurText { text })
    }

    fn load(bytes: &[u8]) -> Result<Self, String> {
        let text = Text::decode_state(bytes).map_err(|e| e.to_string())?;
        Ok(OurText { text })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify;

    /// Our engine replays, merges and loads real edits to their end content (the bench start and
    /// the compare binary verify every full trace in release builds).
    #[test]
    fn reproduces_real_edits() {
        let w = Workload::bundled("automerge-paper").unwrap().prefix(20_000);
        let sizes = verify::<OurText>(&w).unwrap();
        assert!(sizes.encoded > 0 && sizes.changes > 0);
    }
}
