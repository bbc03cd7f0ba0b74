//! The [`Doc`] users hold, as a replay [`Replica`]: every trace transaction edits the root text
//! [`TEXT_NAME`] and is committed, so it becomes one change, as an editor commits a keystroke.

use crdt_core::{Doc, ReplicaId, VersionVector};

use super::{EditError, Replica};
use crate::trace::Patch;

/// The root text every replay edits.
pub const TEXT_NAME: &str = "text";

/// A [`Doc`] replaying a trace.
#[derive(Debug)]
pub struct DocReplica {
    /// The document (public so that tests and benches can save, load and inspect it).
    pub doc: Doc,
}

impl Replica for DocReplica {
    const LABEL: &'static str = "doc";

    fn with_replica(replica: ReplicaId) -> Self {
        DocReplica {
            doc: Doc::with_replica(replica),
        }
    }

    fn apply_txn(&mut self, patches: &[Patch]) -> Result<(), EditError> {
        let mut text = self.doc.text(TEXT_NAME);
        for patch in patches {
            if patch.delete() > 0 {
                text.delete(patch.pos(), patch.delete())?;
            }
            if !patch.insert().is_empty() {
                text.insert(patch.pos(), patch.insert())?;
            }
        }
        self.doc.commit();
        Ok(())
    }

    fn version(&self) -> VersionVector {
        self.doc.version()
    }

    fn encode_since(&self, since: &VersionVector) -> Vec<u8> {
        self.doc.encode_changes_since(since)
    }

    fn apply_encoded(&mut self, bytes: &[u8]) -> Result<(), EditError> {
        self.doc.apply_changes(bytes)?;
        Ok(())
    }

    fn content(&mut self) -> String {
        self.doc.text(TEXT_NAME).to_string()
    }
}
