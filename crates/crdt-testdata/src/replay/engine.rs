//! The bare `Text` sequence engine, as a replay [`Replica`]: the engine under the `Doc`, measured
//! and tested on its own. It has no commits: a transaction is just its edits.

use crdt_core::{ReplicaId, Text, VersionVector};

use super::{EditError, Replica};
use crate::trace::Patch;

/// A `Text` engine replaying a trace.
#[derive(Debug)]
pub struct EngineReplica {
    /// The engine (public so that tests can inspect it).
    pub text: Text,
}

impl Replica for EngineReplica {
    const LABEL: &'static str = "engine";

    fn with_replica(replica: ReplicaId) -> Self {
        EngineReplica {
            text: Text::new(replica),
        }
    }

    fn apply_txn(&mut self, patches: &[Patch]) -> Result<(), EditError> {
        for patch in patches {
            if patch.delete() > 0 {
                self.text.delete(patch.pos(), patch.delete())?;
            }
            if !patch.insert().is_empty() {
                self.text.insert(patch.pos(), patch.insert())?;
            }
        }
        Ok(())
    }

    fn version(&self) -> VersionVector {
        self.text.version().clone()
    }

    fn encode_since(&self, since: &VersionVector) -> Vec<u8> {
        self.text.encode_ops_since(since)
    }

    fn apply_encoded(&mut self, bytes: &[u8]) -> Result<(), EditError> {
        self.text.apply_encoded(bytes)?;
        Ok(())
    }

    fn content(&mut self) -> String {
        self.text.to_string()
    }
}
