//! What an author may say about a change besides its operations: a commit message and the
//! wall-clock time of the commit ([`CommitMeta`]), set by [`Doc::commit_with`] and shipped with
//! the change, so that every replica's [`Doc::history`](crate::Doc::history) shows them.
//!
//! The core has no clock: the caller passes the time (milliseconds since the Unix epoch by
//! convention, what `Date.now()` returns). Nothing in the document orders or merges by it: it is
//! the author's claim, shown to people, while causality and conflict resolution keep using
//! version vectors and Lamport timestamps (a wrong clock cannot reorder anything).
//!
//! Invariant: a change carries `Some(meta)` only when meta holds a message or a time (so a
//! change without either costs one run-length zero in the encoding and no memory), and a message
//! is at most [`MAX_MESSAGE_LEN`] bytes on every replica ([`Change::validate`](super::Change)
//! refuses longer ones from peers).

use serde::{Deserialize, Serialize};

use crate::clock::SeqRange;
use crate::doc::{ChangeError, Doc, DocError};

/// Longest commit message accepted, in bytes.
pub const MAX_MESSAGE_LEN: usize = 64 << 10;

/// The author's message and wall-clock time of a change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitMeta {
    /// What the author said about the change.
    pub message: Option<String>,
    /// When the author committed it, as the author's clock said (milliseconds since the Unix
    /// epoch by convention).
    pub time: Option<u64>,
}

impl CommitMeta {
    /// The metadata of a commit, or `None` when it holds nothing (see the module invariant).
    pub(crate) fn boxed(message: Option<&str>, time: Option<u64>) -> Option<Box<CommitMeta>> {
        if message.is_none() && time.is_none() {
            return None;
        }
        Some(Box::new(CommitMeta {
            message: message.map(str::to_owned),
            time,
        }))
    }

    /// Refuses a message longer than [`MAX_MESSAGE_LEN`].
    pub(crate) fn check(&self, id: SeqRange) -> Result<(), ChangeError> {
        match &self.message {
            Some(m) if m.len() > MAX_MESSAGE_LEN => {
                Err(ChangeError::MessageTooLong { id, len: m.len() })
            }
            _ => Ok(()),
        }
    }
}

impl Doc {
    /// Ends the open transaction like [`Doc::commit`], recording `message` and `time` (the
    /// caller's clock, milliseconds since the Unix epoch by convention) in the change; both are
    /// synced with it and shown by [`Doc::history`]. Does nothing when no operation is open.
    ///
    /// Refuses a message longer than [`MAX_MESSAGE_LEN`] bytes, leaving the transaction open.
    pub fn commit_with(
        &mut self,
        message: Option<&str>,
        time: Option<u64>,
    ) -> Result<Option<SeqRange>, DocError> {
        if let Some(m) = message.filter(|m| m.len() > MAX_MESSAGE_LEN) {
            let id = SeqRange {
                replica: self.replica,
                start: 0,
                end: 0,
            };
            return Err(ChangeError::MessageTooLong { id, len: m.len() }.into());
        }
        Ok(self.commit_meta(CommitMeta::boxed(message, time)))
    }
}

#[cfg(test)]
mod tests {
    use crate::{ReplicaId, VersionVector};

    use super::*;

    #[test]
    fn message_and_time_travel_with_the_change() {
        let mut a = Doc::with_replica(ReplicaId::new(1));
        a.text("t").insert(0, "hi").unwrap();
        let id = a.commit_with(Some("greeting"), Some(1_700_000_000_000));
        assert!(matches!(id, Ok(Some(_))));
        a.text("t").insert(2, "!").unwrap();
        a.commit();
        let mut b = Doc::with_replica(ReplicaId::new(2));
        b.apply_changes(&a.encode_changes_since(&VersionVector::new()))
            .unwrap();
        let history = b.history();
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].message.as_deref(), Some("greeting"));
        assert_eq!(history[0].time, Some(1_700_000_000_000));
        assert_eq!(history[1].message, None);
        assert_eq!(history[1].time, None);
        let loaded = Doc::load(&b.save()).unwrap();
        assert_eq!(loaded.history(), history);
    }

    #[test]
    fn an_overlong_message_is_refused_and_the_transaction_stays_open() {
        let mut a = Doc::with_replica(ReplicaId::new(1));
        a.text("t").insert(0, "hi").unwrap();
        let long = "x".repeat(MAX_MESSAGE_LEN + 1);
        assert!(matches!(
            a.commit_with(Some(&long), None),
            Err(DocError::InvalidChange(ChangeError::MessageTooLong { .. }))
        ));
        assert_eq!(a.change_count(), 0);
        assert!(a.commit_with(Some("ok"), None).unwrap().is_some());
        assert_eq!(a.change_count(), 1);
    }

    #[test]
    fn an_empty_commit_with_a_message_makes_no_change() {
        let mut a = Doc::with_replica(ReplicaId::new(1));
        assert_eq!(a.commit_with(Some("nothing"), Some(1)), Ok(None));
        assert!(a.history().is_empty());
    }
}
