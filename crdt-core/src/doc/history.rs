//! Reading a document's history: the one interface through which everything that looks back in
//! time ([`Doc::history`], [`Doc::view_at`], [`Doc::fork_at`], [`Doc::diff`], [`Doc::restore`])
//! reaches the change log.
//!
//! The log ([`OpLog`]) is today a vector of decoded changes in causal order; issue #13 will
//! redesign how it is stored. Only this file knows that: the rest asks [`History`] which
//! changes a version covers and whether a version is one the document can show, so a new
//! storage changes this file alone. Nothing here runs when a document is opened or edited:
//! history is read only when asked for.
//!
//! A version the history can show is a *cut*: it is covered by the document's version, it ends
//! at a change boundary for every replica (a change is atomic: no replica ever held half of
//! one), and it is causally closed (it holds the causal past of every change it holds). Those
//! are exactly the versions some replica could have held; every other is refused with a
//! [`HistoryError`]. The version after any prefix of [`Doc::history`] is a cut.

use crate::clock::{Dot, ReplicaId, SeqRange, VersionVector};
use crate::doc::change::Change;
use crate::doc::oplog::OpLog;
use crate::doc::Doc;

/// One change of a document's history, as [`Doc::history`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The change's replica and counter range.
    pub id: SeqRange,
    /// The events its author had applied when committing (its causal past ends there).
    pub parents: Vec<Dot>,
    /// Lamport timestamp of its first operation.
    pub lamport: u64,
    /// The author's commit message, if any ([`Doc::commit_with`]).
    pub message: Option<String>,
    /// The author's wall-clock time of the commit, if given (milliseconds since the Unix epoch
    /// by convention).
    pub time: Option<u64>,
}

/// Why a version is not one the document's history can show: a version must be covered by
/// the document, end at change boundaries and be causally closed, as every version some replica
/// held is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// The version names events of `replica` the document does not hold.
    #[error("version asks for {asked} events of {replica:?}, the document holds {held}")]
    NotCovered {
        /// The replica.
        replica: ReplicaId,
        /// The counter the version names.
        asked: u64,
        /// The highest counter the document holds of it.
        held: u64,
    },
    /// The version ends inside a change of `change.replica` (changes are atomic).
    #[error("version ends at {at:?}, inside change {change:?}")]
    SplitsChange {
        /// Where the version ends.
        at: Dot,
        /// The change it splits.
        change: SeqRange,
    },
    /// The version holds `change` but not its parent `missing`: no replica held that set.
    #[error("version holds change {change:?} but not its causal past {missing:?}")]
    NotCausallyClosed {
        /// The change.
        change: SeqRange,
        /// The parent the version lacks.
        missing: Dot,
    },
    /// [`Doc::fork_at_with_replica`] was given a replica id this document already knows (its
    /// own, or one it holds changes of): a fork under it would be a second writer of that id.
    #[error("replica {0:?} is not new to this document")]
    ReplicaNotNew(ReplicaId),
    /// [`Doc::diff`] goes forward in history: `from` must be covered by `to`.
    #[error("diff needs `from` to be covered by `to`")]
    NotAncestor,
}

/// Read access to a change log; see the [module docs](self).
pub(crate) struct History<'a> {
    log: &'a OpLog,
}

impl<'a> History<'a> {
    /// The history of `log`.
    pub(crate) fn of(log: &'a OpLog) -> Self {
        History { log }
    }

    /// Every change, in the order the document applied them (a causal order).
    pub(crate) fn entries(&self) -> impl Iterator<Item = HistoryEntry> + 'a {
        self.log.changes().map(|c| HistoryEntry {
            id: c.id,
            message: c.meta.as_ref().and_then(|m| m.message.clone()),
            time: c.meta.as_ref().and_then(|m| m.time),
            parents: c.parents,
            lamport: c.lamport,
        })
    }

    /// Checks that `version` is a cut of this history. Proportional to the replicas it names.
    ///
    /// Checking the last change of each replica is enough: every other change of the cut is in
    /// the causal past of one of them, and a change's parents cover the causal past of its
    /// parents.
    pub(crate) fn check_cut(&self, version: &VersionVector) -> Result<(), HistoryError> {
        for (replica, asked) in version.iter().filter(|&(_, c)| c > 0) {
            let held = self.log.version().get(replica);
            if asked > held {
                return Err(HistoryError::NotCovered {
                    replica,
                    asked,
                    held,
                });
            }
            let at = Dot::new(replica, asked);
            let last = self
                .log
                .change_containing(at)
                .ok_or(HistoryError::NotCovered {
                    replica,
                    asked,
                    held,
                })?;
            if last.id.end - 1 != asked {
                return Err(HistoryError::SplitsChange {
                    at,
                    change: last.id,
                });
            }
            if let Some(&missing) = last.parents.iter().find(|p| !version.includes(**p)) {
                return Err(HistoryError::NotCausallyClosed {
                    change: last.id,
                    missing,
                });
            }
        }
        Ok(())
    }

    /// The changes a cut covers, in the log's (causal) order.
    pub(crate) fn changes_within(
        &self,
        version: &'a VersionVector,
    ) -> impl Iterator<Item = Change> + 'a {
        self.log.changes().filter(move |c| covers(version, c))
    }

    /// The changes `to` covers and `from` does not, in the log's (causal) order: what takes a
    /// replica at `from` to `to`. Proportional to those changes, not to the log.
    pub(crate) fn changes_between(&self, from: &VersionVector, to: &VersionVector) -> Vec<Change> {
        let mut changes = self.log.changes_since(from);
        changes.retain(|c| covers(to, c));
        changes
    }
}

/// Whether `version` holds the whole of `change`.
fn covers(version: &VersionVector, change: &Change) -> bool {
    version.get(change.id.replica) >= change.id.end - 1
}

impl Doc {
    /// Every committed change, in the order this document applied them (a causal order; the
    /// version after any prefix is one [`Doc::view_at`] can show), with its replica, counter
    /// range, parents, Lamport time, and the author's message and time when given
    /// ([`Doc::commit_with`]).
    ///
    /// ```
    /// use crdt_core::{Doc, ReplicaId};
    ///
    /// let mut doc = Doc::with_replica(ReplicaId::new(1));
    /// doc.text("body").insert(0, "draft").unwrap();
    /// doc.commit_with(Some("first draft"), Some(1_700_000_000_000)).unwrap();
    /// let history = doc.history();
    /// assert_eq!(history[0].message.as_deref(), Some("first draft"));
    /// assert_eq!(history[0].id.end - history[0].id.start, 5);
    /// ```
    pub fn history(&self) -> Vec<HistoryEntry> {
        History::of(&self.log).entries().collect()
    }
}
