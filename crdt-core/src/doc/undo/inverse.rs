//! The inverse of a step: for each operation of its changes, last first, the operation that
//! takes its effect back while leaving everyone else's edits in place.
//!
//! | operation | inverse |
//! |---|---|
//! | text/list insert | delete the elements it inserted that are still visible ([`sequence`](super::sequence)) |
//! | text/list delete | insert copies of the elements right after their tombstones |
//! | map set | if its value still stands alone: write back the value it replaced (or delete the key); if a concurrent value stands beside it, only remove ours; if someone overwrote it, nothing |
//! | map delete | if the key is still empty: write back the value it removed |
//! | counter add | add the negated delta |
//! | text mark | where it still decides its key: a mark back to the value the key had without it (an unmark where none) |
//!
//! The walk goes backwards because later operations may act on what earlier ones made (a
//! step that typed a word and deleted a letter of it gets the letter back before the word
//! goes).

use crate::clock::{Dot, SeqRange};
use crate::doc::change::{Change, NewValue, Op};
use crate::doc::state::ContainerState;
use crate::doc::undo::apply::{apply_local, next_dot};
use crate::doc::undo::copy::copy_content;
use crate::doc::undo::remap::IdRemap;
use crate::doc::undo::scope::Scope;
use crate::doc::undo::sequence::{plan_restore, remove_inserted, restore};
use crate::doc::value::{ContainerId, Value};
use crate::doc::{Doc, DocError};
use crate::seq::SeqOp;

/// Applies the inverse of `changes` (this replica's, oldest first) to `doc`'s open
/// transaction. Returns whether it changed anything.
///
/// Edits inside a container the step itself created are not taken back one by one: undoing
/// the creation removes the container whole, and keeping its content intact lets a redo copy
/// it back complete.
pub(crate) fn apply_inverse(
    doc: &mut Doc,
    remap: &mut IdRemap,
    scope: &Scope,
    changes: &[SeqRange],
) -> Result<bool, DocError> {
    // Copies: the inverse edits the document (and its history) while it walks the ops.
    let changes: Vec<Change> = changes.iter().filter_map(|id| doc.log.get(*id)).collect();
    let created = created_containers(&changes);
    let mut changed = false;
    for change in changes.iter().rev() {
        let ops: Vec<(Dot, &Op)> = change.ops_with_dots().collect();
        for &(dot, op) in ops.iter().rev() {
            if created.contains(op.obj()) || !scope.contains(&doc.state, op.obj()) {
                continue;
            }
            // The container as it lives now (a nested one an undo brought back is a copy).
            let obj = &remap.container(op.obj());
            changed |= invert_op(doc, remap, dot, op, obj)?;
        }
    }
    Ok(changed)
}

/// The containers that ops of `changes` created (map values and list elements).
fn created_containers(changes: &[Change]) -> Vec<ContainerId> {
    let mut created = Vec::new();
    for change in changes {
        for (dot, op) in change.ops_with_dots() {
            match op {
                Op::MapSet {
                    value: NewValue::Container(kind),
                    ..
                } => {
                    created.push(ContainerId::Created {
                        id: dot,
                        kind: *kind,
                    });
                }
                Op::List {
                    op: SeqOp::Insert { content, .. },
                    ..
                } => created.extend(content.0.iter().filter_map(|v| match v {
                    Value::Container(id) => Some(id.clone()),
                    Value::Scalar(_) => None,
                })),
                _ => {}
            }
        }
    }
    created
}

/// The inverse of one operation, acting on container `obj` (where the op's container lives now).
fn invert_op(
    doc: &mut Doc,
    remap: &mut IdRemap,
    dot: Dot,
    op: &Op,
    obj: &ContainerId,
) -> Result<bool, DocError> {
    match op {
        Op::Text {
            op: SeqOp::Insert { id, content, .. },
            ..
        } => remove_inserted(
            doc,
            remap,
            obj,
            *id,
            crate::seq::Content::len(content) as u64,
        ),
        Op::List {
            op: SeqOp::Insert { id, content, .. },
            ..
        } => remove_inserted(doc, remap, obj, *id, content.0.len() as u64),
        Op::Text {
            op: SeqOp::Delete { target, len },
            ..
        }
        | Op::List {
            op: SeqOp::Delete { target, len },
            ..
        } => {
            let runs = plan_restore(doc, remap, obj, *target, *len);
            restore(doc, remap, runs)
        }
        Op::MapSet { key, pred, .. } => undo_map_set(doc, remap, obj, key, dot, pred),
        Op::MapDelete { key, pred, .. } => undo_map_delete(doc, remap, obj, key, pred),
        Op::TextMark { .. } => undo_mark(doc, obj, dot),
        Op::CounterAdd { delta, .. } => {
            if !matches!(doc.state.container(obj), Some(ContainerState::Counter(_))) {
                return Ok(false);
            }
            let op = Op::CounterAdd {
                obj: obj.clone(),
                delta: delta.wrapping_neg(),
            };
            apply_local(doc, op).map(|_| *delta != 0)
        }
    }
}

/// Undoes our mark `dot` (see [`crate::doc::marks::inverse_ops`]).
fn undo_mark(doc: &mut Doc, obj: &ContainerId, dot: Dot) -> Result<bool, DocError> {
    let ops = match doc.state.container(obj) {
        Some(ContainerState::Text(seq)) => {
            crate::doc::marks::inverse_ops(seq, &doc.state.marks, obj, dot)
        }
        _ => Vec::new(),
    };
    let changed = !ops.is_empty();
    for op in ops {
        apply_local(doc, op)?;
    }
    Ok(changed)
}

/// Undoes our write `dot` of `key`, which replaced the values `pred`.
fn undo_map_set(
    doc: &mut Doc,
    remap: &mut IdRemap,
    obj: &ContainerId,
    key: &str,
    dot: Dot,
    pred: &[Dot],
) -> Result<bool, DocError> {
    let ours = remap.resolve(dot);
    let current = doc.state.map_pred(obj, key);
    if !current.contains(&ours) {
        return Ok(false); // overwritten since (or never seen here): theirs stays
    }
    let previous = winner(doc, pred);
    if current.len() > 1 || previous.is_none() {
        // A concurrent value stands beside ours: it wins once ours goes.
        let op = Op::MapDelete {
            obj: obj.clone(),
            key: key.to_owned(),
            pred: vec![ours],
        };
        apply_local(doc, op)?;
        return Ok(true);
    }
    if let Some((old, value)) = previous {
        write_back(doc, remap, obj, key, old, value, vec![ours])?;
    }
    Ok(true)
}

/// Undoes our delete of `key`, which removed the values `pred`.
fn undo_map_delete(
    doc: &mut Doc,
    remap: &mut IdRemap,
    obj: &ContainerId,
    key: &str,
    pred: &[Dot],
) -> Result<bool, DocError> {
    if !doc.state.map_pred(obj, key).is_empty() {
        return Ok(false); // someone wrote the key since: theirs stays
    }
    let Some((old, value)) = winner(doc, pred) else {
        return Ok(false);
    };
    write_back(doc, remap, obj, key, old, value, Vec::new())?;
    Ok(true)
}

/// Writes the value the write `old` made back into `key` as a new write superseding `pred`,
/// and records that `old`'s value now lives at the new write.
fn write_back(
    doc: &mut Doc,
    remap: &mut IdRemap,
    obj: &ContainerId,
    key: &str,
    old: Dot,
    value: NewValue,
    pred: Vec<Dot>,
) -> Result<(), DocError> {
    if !matches!(doc.state.container(obj), Some(ContainerState::Map(_))) {
        return Ok(());
    }
    let current_old = remap.resolve(old);
    let new = next_dot(doc);
    let op = Op::MapSet {
        obj: obj.clone(),
        key: key.to_owned(),
        value: value.clone(),
        pred,
    };
    apply_local(doc, op)?;
    if let NewValue::Container(kind) = value {
        let from = ContainerId::Created {
            id: current_old,
            kind,
        };
        copy_content(doc, remap, &from, &ContainerId::Created { id: new, kind })?;
    }
    remap.insert(current_old, 1, new);
    Ok(())
}

/// The winning write among `pred` with the value it wrote: the last one, as a local write
/// lists the values it replaces in the map's order, winner last (and an undo's own writes name
/// one). `None` when the history lacks it.
fn winner(doc: &Doc, pred: &[Dot]) -> Option<(Dot, NewValue)> {
    let p = *pred.last()?;
    match doc.log.op_at(p)? {
        (d, Op::MapSet { value, .. }) if d == p => Some((p, value)),
        _ => None,
    }
}
