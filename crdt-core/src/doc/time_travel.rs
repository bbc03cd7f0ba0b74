//! Going back in time: a document as it was at a past version ([`Doc::view_at`], read-only),
//! an editable copy of it under a new replica ([`Doc::fork_at`], [`Doc::fork`]), and the patches
//! between two versions ([`Doc::diff`]).
//!
//! A past state is rebuilt by replaying the changes the version covers onto an empty state, in
//! the log's causal order, as a replica that received only those changes would have applied
//! them; so the result is that replica's state exactly (the CRDTs converge whatever the order).
//! The changes come from the log through [`History`], the one reader of history.
//!
//! A view is a `Doc`, not a type of its own, so that everything that reads a document (handles,
//! cursors, `materialize`, `history`, `save`, the wasm bindings) reads a view too; its edits and
//! imports are refused with [`DocError::ReadOnly`] at the one place every local edit reaches its
//! container (`DocState::container_mut`) and at [`Doc::apply_changes`].

use crate::causal::{BufferLimits, CausalBuffer};
use crate::clock::{ReplicaId, VersionVector};
use crate::doc::history::{History, HistoryError};
use crate::doc::oplog::OpLog;
use crate::doc::state::DocState;
use crate::doc::{Doc, DocError, Patch};

impl Doc {
    /// The document as it was at `version`, read-only: its edits and imports fail with
    /// [`DocError::ReadOnly`]. It keeps this document's replica id and holds the history up to
    /// `version`.
    ///
    /// Refuses, with [`DocError::History`], a version this document cannot show: one naming
    /// events it does not hold, ending inside a change, or lacking the causal past of a change
    /// it holds (see [`HistoryError`]).
    ///
    /// ```
    /// use crdt_core::{Doc, ReplicaId};
    ///
    /// let mut doc = Doc::with_replica(ReplicaId::new(1));
    /// doc.text("body").insert(0, "v1").unwrap();
    /// doc.commit();
    /// let v1 = doc.version();
    /// doc.text("body").insert(2, " and v2").unwrap();
    /// doc.commit();
    /// let mut then = doc.view_at(&v1).unwrap();
    /// assert_eq!(then.text("body").to_string(), "v1");
    /// assert!(then.text("body").insert(0, "x").is_err());
    /// ```
    pub fn view_at(&self, version: &VersionVector) -> Result<Doc, DocError> {
        let (log, mut state) = self.replay_to(version)?;
        state.read_only = true;
        Ok(Doc::from_parts(self.replica, log, state))
    }

    /// An editable copy of the document as it was at `version`, as a new replica with a random
    /// id: its changes merge back into this document (or any replica) with
    /// [`Doc::apply_changes`]. Refuses versions as [`Doc::view_at`] does.
    pub fn fork_at(&self, version: &VersionVector) -> Result<Doc, DocError> {
        self.fork_at_with_replica(version, ReplicaId::random())
    }

    /// [`Doc::fork_at`] with a chosen replica id, which must be new (never used by a live
    /// replica of this document). Refuses, with [`HistoryError::ReplicaNotNew`], this
    /// document's own id and the id of any replica it holds changes of.
    pub fn fork_at_with_replica(
        &self,
        version: &VersionVector,
        replica: ReplicaId,
    ) -> Result<Doc, DocError> {
        if replica == self.replica || self.log.version().get(replica) > 0 {
            return Err(HistoryError::ReplicaNotNew(replica).into());
        }
        let (log, state) = self.replay_to(version)?;
        Ok(Doc::from_parts(replica, log, state))
    }

    /// Commits, then copies the whole document as a new replica with a random id. Changes
    /// waiting for their causal past are not copied.
    ///
    /// The copy is a replay of the history (as [`Doc::fork_at`] of the current version), not a
    /// clone of the state: forking is rare, and cloning every container's structures would add
    /// their clone code to every build (the wasm package has a size budget). The replay fails
    /// only for a document loaded from a snapshot whose history does not replay (a forged one).
    pub fn fork(&mut self) -> Result<Doc, DocError> {
        self.commit();
        let version = self.version();
        self.fork_at(&version)
    }

    /// The patches that take the document at `from` to the document at `to`: the same
    /// [`Patch`]es a subscriber of a replica at `from` receives when the changes `to` adds
    /// arrive, in the order this document applied them (paths as of `to`).
    ///
    /// `from` must be covered by `to` ([`HistoryError::NotAncestor`] otherwise), and both must
    /// be versions [`Doc::view_at`] can show.
    pub fn diff(&self, from: &VersionVector, to: &VersionVector) -> Result<Vec<Patch>, DocError> {
        let history = History::of(&self.log);
        history.check_cut(to)?;
        if !to.dominates(from) {
            return Err(HistoryError::NotAncestor.into());
        }
        let mut state = self.replay_state_to(from)?;
        state.patches_wanted = true;
        let mut raw = Vec::new();
        for change in history.changes_between(from, to) {
            state.apply_change(&change, &mut raw)?;
        }
        Ok(raw
            .into_iter()
            .map(|(obj, action)| Patch {
                path: state.path_of(&obj),
                obj,
                action,
            })
            .collect())
    }

    /// The history and state of a replica that received exactly the changes `version` covers.
    fn replay_to(&self, version: &VersionVector) -> Result<(OpLog, DocState), DocError> {
        let mut log = OpLog::default();
        let state = self.replay_with(version, Some(&mut log))?;
        Ok((log, state))
    }

    /// The state of a replica that received exactly the changes `version` covers, without its
    /// history (what a diff or a restore needs: copying the changes would be a third of the
    /// work).
    pub(super) fn replay_state_to(&self, version: &VersionVector) -> Result<DocState, DocError> {
        self.replay_with(version, None)
    }

    /// Replays the changes `version` covers onto an empty state, copying each into `log` when
    /// one is given (not generic: one copy of the replay in every build).
    fn replay_with(
        &self,
        version: &VersionVector,
        mut log: Option<&mut OpLog>,
    ) -> Result<DocState, DocError> {
        let history = History::of(&self.log);
        history.check_cut(version)?;
        let mut state = DocState::default();
        let mut no_patches = Vec::new();
        for change in history.changes_within(version) {
            // The log's changes passed every check when they arrived, so they apply.
            state.apply_change(&change, &mut no_patches)?;
            if let Some(log) = log.as_deref_mut() {
                log.push(change);
            }
        }
        Ok(state)
    }

    /// A document of `replica` holding `log` and `state`, with no waiting changes.
    fn from_parts(replica: ReplicaId, log: OpLog, state: DocState) -> Doc {
        let buffer = CausalBuffer::with_applied(log.version().clone(), BufferLimits::default());
        let mut doc = Doc::with_replica(replica);
        doc.log = log;
        doc.state = state;
        doc.buffer = buffer;
        doc
    }
}
