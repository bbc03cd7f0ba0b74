//! diamond-types (`ListCRDT` = `OpLog` + `Branch`), edited with `insert` / `delete` by character
//! position; history moved with `OpLog::encode` and `decode_and_add` / `load_from`.
//!
//! diamond-types has no commits (every edit is its own run of operations), so the trace's
//! transactions do not change how it is driven.
//!
//! Invariant: one agent makes every edit; positions count Unicode scalar values, as in the traces.

use diamond_types::list::encoding::ENCODE_FULL;
use diamond_types::list::ListCRDT;

use crate::{TextCrdt, Workload};

/// A diamond-types document (op log and checked-out branch).
pub struct DiamondText {
    doc: ListCRDT,
}

impl TextCrdt for DiamondText {
    const NAME: &'static str = "diamond-types";
    const COMMITS: bool = false;

    fn replay(workload: &Workload) -> Self {
        let mut doc = ListCRDT::new();
        let agent = doc.get_or_create_agent_id("bench");
        for edit in &workload.edits {
            if edit.delete > 0 {
                doc.delete(agent, edit.pos..edit.pos + edit.delete);
            }
            if !edit.insert.is_empty() {
                doc.insert(agent, edit.pos, &edit.insert);
            }
        }
        DiamondText { doc }
    }

    fn content(&mut self) -> String {
        self.doc.branch.content().to_string()
    }

    fn encode(&mut self) -> Vec<u8> {
        self.doc.oplog.encode(ENCODE_FULL)
    }

    fn merge_into_empty(bytes: &[u8]) -> Result<Self, String> {
        let mut doc = ListCRDT::new();
        doc.merge_data_and_ff(bytes).map_err(|e| format!("{e:?}"))?;
        Ok(DiamondText { doc })
    }

    fn load(bytes: &[u8]) -> Result<Self, String> {
        let doc = ListCRDT::load_from(bytes).map_err(|e| format!("{e:?}"))?;
        Ok(DiamondText { doc })
    }
}
