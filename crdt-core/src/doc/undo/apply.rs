//! Making an undo's operations as local edits: counters from the open transaction, applied to
//! the state at once, recorded in the transaction like any handle's edit. So an undo is an
//! ordinary change: it syncs, persists and merges like typing does.

use crate::clock::Dot;
use crate::doc::change::Op;
use crate::doc::{Doc, DocError};

/// The id the next local operation of `doc` gets.
pub(crate) fn next_dot(doc: &Doc) -> Dot {
    let next = match &doc.txn {
        Some(txn) => txn.next,
        None => doc.log.version().get(doc.replica) + 1,
    };
    Dot::new(doc.replica, next)
}

/// Applies `op` (an operation that names its targets by id, not by position) as a local edit
/// and returns its dot. On an error nothing is recorded and its counters are given back, so the
/// transaction's ops still fill its counters exactly.
pub(crate) fn apply_local(doc: &mut Doc, op: Op) -> Result<Dot, DocError> {
    let width = op.width();
    let (dot, lamport) = doc.allocate(width);
    let mut patches = Vec::new();
    if let Err(e) = doc.state.apply_op(dot, lamport, &op, &mut patches) {
        if let Some(txn) = doc.txn.as_mut() {
            txn.next -= width;
        }
        return Err(e);
    }
    doc.record(op, patches);
    Ok(dot)
}
