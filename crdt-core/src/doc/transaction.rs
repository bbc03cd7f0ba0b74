//! The open transaction of a [`Doc`](super::Doc): local operations applied to the state but
//! not yet committed as a change. Its counters and Lamport times are allocated here; its
//! operations wait in the log's compact form ([`LocalOps`]) until the commit pushes them.

use super::oplog::{LocalOps, OpLog};
use super::state::RawPatch;
use crate::clock::{Dot, ReplicaId};

/// An open transaction: operations applied locally but not yet committed as a change.
#[derive(Debug)]
pub(super) struct Transaction {
    /// The counter of its first operation.
    pub(super) start: u64,
    /// The counter the next operation takes.
    pub(super) next: u64,
    /// The Lamport time of its first operation.
    pub(super) lamport: u64,
    /// Its operations, as the log will store them.
    pub(super) ops: Box<LocalOps>,
    /// What its operations did, for the subscribers.
    pub(super) patches: Vec<RawPatch>,
}

/// Allocates `width` counters of `replica` for a local operation in the open transaction
/// (opened on the log's version if none is) and returns its dot and Lamport time. A function of
/// the fields it needs, so that handles can call it while they hold a container of the state.
pub(super) fn allocate(
    txn: &mut Option<Transaction>,
    log: &mut OpLog,
    replica: ReplicaId,
    width: u64,
) -> (Dot, u64) {
    let txn = txn.get_or_insert_with(|| {
        let start = log.version().get(replica) + 1;
        Transaction {
            start,
            next: start,
            lamport: log.max_lamport() + 1,
            // The buffers the last commit emptied: a commit per keystroke allocates none.
            ops: log.take_spare_ops(start),
            patches: Vec::new(),
        }
    });
    let dot = Dot::new(replica, txn.next);
    let lamport = txn.lamport + (txn.next - txn.start);
    txn.next += width;
    (dot, lamport)
}
