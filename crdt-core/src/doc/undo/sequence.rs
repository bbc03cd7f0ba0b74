//! Undoing text and list operations by element id, never by position.
//!
//! * **Undoing an insert** deletes exactly the elements it inserted (or the copies that replaced
//!   them, see [`IdRemap`]) that are still visible, wherever remote edits have moved them; text
//!   others typed in between stays.
//! * **Undoing a delete** puts the deleted elements back where their tombstones are: FugueMax
//!   keeps every deleted element in the sequence, so the tombstones mark the exact place even
//!   after remote inserts and deletes around it. The elements come back as new ids (a tombstone
//!   is final), inserted right after their tombstones (the insert's left origin is the last
//!   tombstone, its right origin the element after it), one run per stretch of tombstones with
//!   nothing between them, so text another peer typed between them stays between them and the
//!   copies sit exactly where the originals did among other tombstones (which later restores
//!   rely on).
//!   Their content is read from the history: tombstones keep ids, not content.

use crate::clock::Dot;
use crate::doc::change::Op;
use crate::doc::oplog::OpLog;
use crate::doc::state::ContainerState;
use crate::doc::undo::apply::{apply_local, next_dot};
use crate::doc::undo::copy::copy_content;
use crate::doc::undo::remap::IdRemap;
use crate::doc::value::{ContainerId, ContainerKind, Value};
use crate::doc::{Doc, DocError};
use crate::seq::{Content, ListContent, SeqOp};

/// A run of deleted elements (current ids, consecutive counters) in one gap between visible
/// elements: what one restoring insert puts back.
#[derive(Clone, Debug)]
pub(crate) struct DeletedRun {
    obj: ContainerId,
    first: Dot,
    len: u64,
}

/// Visible elements before `dot` in sequence `obj`, and whether it is visible.
fn position_of(doc: &Doc, obj: &ContainerId, dot: Dot) -> Option<(usize, bool)> {
    match doc.state.container(obj)? {
        ContainerState::Text(seq) => seq.position_of(dot),
        ContainerState::List(seq) => seq.position_of(dot),
        _ => None,
    }
}

/// Deletes the still-visible elements that `id..id+len` (an insert being undone) became.
/// Returns whether anything was deleted.
pub(crate) fn remove_inserted(
    doc: &mut Doc,
    remap: &IdRemap,
    obj: &ContainerId,
    id: Dot,
    len: u64,
) -> Result<bool, DocError> {
    let mut runs: Vec<(Dot, u64)> = Vec::new();
    for (start, n) in remap.resolve_range(id, len) {
        for i in 0..n {
            let dot = Dot::new(start.replica, start.counter + i);
            if !matches!(position_of(doc, obj, dot), Some((_, true))) {
                continue; // deleted by someone, or unknown
            }
            match runs.last_mut() {
                Some((first, count))
                    if first.replica == dot.replica && first.counter + *count == dot.counter =>
                {
                    *count += 1
                }
                _ => runs.push((dot, 1)),
            }
        }
    }
    for &(target, len) in &runs {
        let op = match obj.kind() {
            ContainerKind::Text => Op::Text {
                obj: obj.clone(),
                op: SeqOp::Delete { target, len },
            },
            _ => Op::List {
                obj: obj.clone(),
                op: SeqOp::Delete { target, len },
            },
        };
        apply_local(doc, op)?;
    }
    Ok(!runs.is_empty())
}

/// The runs to restore for a delete of `target..target+len` being undone: its elements (as
/// they are now named) that are deleted, split wherever another element (visible or not) sits
/// between two of them, so each run comes back exactly where its tombstones are.
pub(crate) fn plan_restore(
    doc: &Doc,
    remap: &IdRemap,
    obj: &ContainerId,
    target: Dot,
    len: u64,
) -> Vec<DeletedRun> {
    let mut runs: Vec<DeletedRun> = Vec::new();
    for (start, n) in remap.resolve_range(target, len) {
        for i in 0..n {
            let dot = Dot::new(start.replica, start.counter + i);
            if !matches!(position_of(doc, obj, dot), Some((_, false))) {
                continue; // unknown, or visible (restored already)
            }
            if let Some(run) = runs.last_mut() {
                let last = Dot::new(run.first.replica, run.first.counter + run.len - 1);
                let adjacent = next_id(doc, obj, last) == Some(Some(dot));
                if adjacent && last.replica == dot.replica && last.counter + 1 == dot.counter {
                    run.len += 1;
                    continue;
                }
            }
            runs.push(DeletedRun {
                obj: obj.clone(),
                first: dot,
                len: 1,
            });
        }
    }
    runs
}

/// Puts `runs` back, each right after its last tombstone (so runs sharing a gap keep their
/// order), recording each copy in `remap`. Returns whether anything was restored.
pub(crate) fn restore(
    doc: &mut Doc,
    remap: &mut IdRemap,
    runs: Vec<DeletedRun>,
) -> Result<bool, DocError> {
    let mut changed = false;
    for run in runs {
        let last = Dot::new(run.first.replica, run.first.counter + run.len - 1);
        let Some(right) = next_id(doc, &run.obj, last) else {
            continue;
        };
        let new = next_dot(doc);
        let restored = match run.obj.kind() {
            ContainerKind::Text => restore_text(doc, &run, last, right, new)?,
            _ => restore_list(doc, remap, &run, last, right, new)?,
        };
        if restored {
            remap.insert(run.first, run.len, new);
            changed = true;
        }
    }
    Ok(changed)
}

/// The element after `dot` in sequence `obj`, tombstones included (`Some(None)`: the end).
fn next_id(doc: &Doc, obj: &ContainerId, dot: Dot) -> Option<Option<Dot>> {
    match doc.state.container(obj)? {
        ContainerState::Text(seq) => seq.next_id(dot),
        ContainerState::List(seq) => seq.next_id(dot),
        _ => None,
    }
}

fn restore_text(
    doc: &mut Doc,
    run: &DeletedRun,
    left: Dot,
    right: Option<Dot>,
    new: Dot,
) -> Result<bool, DocError> {
    let content = inserted_content(&doc.log, run.first, run.len, |op| match op {
        Op::Text {
            obj,
            op: SeqOp::Insert { id, content, .. },
        } if *obj == run.obj => Some((*id, content)),
        _ => None,
    });
    let Some(content) = content else {
        return Ok(false);
    };
    let op = SeqOp::Insert {
        id: new,
        origin_left: Some(left),
        origin_right: right,
        content,
    };
    apply_local(
        doc,
        Op::Text {
            obj: run.obj.clone(),
            op,
        },
    )?;
    Ok(true)
}

fn restore_list(
    doc: &mut Doc,
    remap: &mut IdRemap,
    run: &DeletedRun,
    left: Dot,
    right: Option<Dot>,
    new: Dot,
) -> Result<bool, DocError> {
    let content = inserted_content(&doc.log, run.first, run.len, |op| match op {
        Op::List {
            obj,
            op: SeqOp::Insert { id, content, .. },
        } if *obj == run.obj => Some((*id, content)),
        _ => None,
    });
    let Some(ListContent(values)) = content else {
        return Ok(false);
    };
    // A container element comes back as a new container named by its new element's id.
    let mut copies = Vec::new();
    let values: Vec<Value> = values
        .into_iter()
        .enumerate()
        .map(|(i, value)| match value {
            Value::Container(old) => {
                let copy = ContainerId::Created {
                    id: Dot::new(new.replica, new.counter + i as u64),
                    kind: old.kind(),
                };
                copies.push((old, copy.clone()));
                Value::Container(copy)
            }
            scalar => scalar,
        })
        .collect();
    let op = SeqOp::Insert {
        id: new,
        origin_left: Some(left),
        origin_right: right,
        content: ListContent(values),
    };
    apply_local(
        doc,
        Op::List {
            obj: run.obj.clone(),
            op,
        },
    )?;
    for (old, copy) in copies {
        let from = remap.container(&old);
        copy_content(doc, remap, &from, &copy)?;
    }
    Ok(true)
}

/// The content the history's insert ops gave elements `first..first+len` (which may span
/// several inserts and changes). `pick` returns an op's first id and content when it is an
/// insert into the right container. `None` when the history lacks any of them.
pub(crate) fn inserted_content<C: Content>(
    log: &OpLog,
    first: Dot,
    len: u64,
    pick: impl Fn(&Op) -> Option<(Dot, &C)>,
) -> Option<C> {
    let mut out = C::default();
    let mut dot = first;
    let mut left = len;
    while left > 0 {
        let (_, op) = log.op_at(dot)?;
        let (id, content) = pick(&op).filter(|(id, c)| {
            id.replica == dot.replica
                && dot.counter >= id.counter
                && dot.counter - id.counter < c.len() as u64
        })?;
        let offset = (dot.counter - id.counter) as usize;
        let take = left.min((content.len() - offset) as u64);
        out.append(&content.slice(offset, offset + take as usize));
        dot.counter += take;
        left -= take;
    }
    Some(out)
}
