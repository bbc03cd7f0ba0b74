//! Undoing text and list operations by element id, never by position.
//!
//! * **Undoing an insert** deletes exactly the elements it inserted (or the copies that replaced
//!   them, see [`IdRemap`]) that are still visible, wherever remote edits have moved them; text
//!   others typed in between stays.
//! * **Undoing a delete** puts the deleted elements back where their tombstones are: FugueMax
//!   keeps every deleted element in the sequence, so the tombstones mark the exact place even
//!   after remote inserts and deletes around it. The elements come back as new ids (a tombstone
//!   is final), inserted just before their tombstones, one run per gap between visible elements
//!   (so text another peer typed between them stays between them), in document order. Their
//!   content is read from the history: tombstones keep ids, not content.

use std::cmp::Ordering;

use crate::clock::Dot;
use crate::doc::change::Op;
use crate::doc::event::PatchAction;
use crate::doc::oplog::OpLog;
use crate::doc::state::{ContainerState, ParentKey, ParentLink};
use crate::doc::undo::apply::{apply_local, next_dot};
use crate::doc::undo::copy::copy_content;
use crate::doc::undo::remap::IdRemap;
use crate::doc::value::{ContainerId, ContainerKind, Value};
use crate::doc::{Doc, DocError};
use crate::seq::{Content, ListContent, SeqOp, TextContent};

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

/// Document order of two elements of sequence `obj`, tombstones included.
fn cmp_ids(doc: &Doc, obj: &ContainerId, a: Dot, b: Dot) -> Ordering {
    let order = match doc.state.container(obj) {
        Some(ContainerState::Text(seq)) => seq.cmp_ids(a, b),
        Some(ContainerState::List(seq)) => seq.cmp_ids(a, b),
        _ => None,
    };
    order.unwrap_or(Ordering::Equal)
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
/// they are now named) that are deleted, split at every visible element between them.
pub(crate) fn plan_restore(
    doc: &Doc,
    remap: &IdRemap,
    obj: &ContainerId,
    target: Dot,
    len: u64,
) -> Vec<DeletedRun> {
    let mut runs: Vec<(DeletedRun, usize)> = Vec::new();
    for (start, n) in remap.resolve_range(target, len) {
        for i in 0..n {
            let dot = Dot::new(start.replica, start.counter + i);
            let Some((before, false)) = position_of(doc, obj, dot) else {
                continue; // unknown, or visible (restored already)
            };
            match runs.last_mut() {
                Some((run, gap))
                    if *gap == before
                        && run.first.replica == dot.replica
                        && run.first.counter + run.len == dot.counter =>
                {
                    run.len += 1
                }
                _ => runs.push((
                    DeletedRun {
                        obj: obj.clone(),
                        first: dot,
                        len: 1,
                    },
                    before,
                )),
            }
        }
    }
    runs.into_iter().map(|(run, _)| run).collect()
}

/// Puts `runs` back, in document order (so runs sharing a gap keep their order), recording
/// each copy in `remap`. Returns whether anything was restored.
pub(crate) fn restore(
    doc: &mut Doc,
    remap: &mut IdRemap,
    mut runs: Vec<DeletedRun>,
) -> Result<bool, DocError> {
    runs.sort_by(|a, b| {
        a.obj
            .cmp(&b.obj)
            .then_with(|| cmp_ids(doc, &a.obj, a.first, b.first))
    });
    let mut changed = false;
    for run in runs {
        let Some((pos, false)) = position_of(doc, &run.obj, run.first) else {
            continue;
        };
        let new = next_dot(doc);
        let restored = match run.obj.kind() {
            ContainerKind::Text => restore_text(doc, &run, pos)?,
            _ => restore_list(doc, &run, pos)?,
        };
        if restored {
            remap.insert(run.first, run.len, new);
            changed = true;
        }
    }
    Ok(changed)
}

fn restore_text(doc: &mut Doc, run: &DeletedRun, pos: usize) -> Result<bool, DocError> {
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
    let text: TextContent = content;
    doc.text_at(&run.obj)?.insert(pos, text.as_str())?;
    Ok(true)
}

fn restore_list(doc: &mut Doc, run: &DeletedRun, pos: usize) -> Result<bool, DocError> {
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
    let copies = insert_list(doc, &run.obj, pos, values)?;
    for (old, new) in copies {
        copy_content(doc, &old, &new)?;
    }
    Ok(true)
}

/// The content the history's insert ops gave elements `first..first+len` (which may span
/// several inserts and changes). `pick` returns an op's first id and content when it is an
/// insert into the right container. `None` when the history lacks any of them.
fn inserted_content<C: Content>(
    log: &OpLog,
    first: Dot,
    len: u64,
    pick: impl Fn(&Op) -> Option<(Dot, &C)>,
) -> Option<C> {
    let mut out = C::default();
    let mut dot = first;
    let mut left = len;
    while left > 0 {
        let change = log.change_containing(dot)?;
        let (id, content) = change.ops.iter().filter_map(&pick).find(|(id, c)| {
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

/// Inserts `values` into list `obj` at `pos` as a local edit. Containers among them come back
/// as new containers (a container is named by its element's id); returns `(old, new)` for each,
/// so the caller copies the old one's content into the new one.
fn insert_list(
    doc: &mut Doc,
    obj: &ContainerId,
    pos: usize,
    values: Vec<Value>,
) -> Result<Vec<(ContainerId, ContainerId)>, DocError> {
    // Checked before counters are allocated, so that a failure leaves no hole in them.
    let ContainerState::List(seq) = doc.state.container_mut(obj)? else {
        return Err(DocError::WrongKind(obj.clone()));
    };
    if pos > seq.len() || values.is_empty() {
        return Ok(Vec::new());
    }
    let (dot, _) = doc.allocate(values.len() as u64);
    let mut copies = Vec::new();
    let stored: Vec<Value> = values
        .into_iter()
        .enumerate()
        .map(|(i, value)| match value {
            Value::Container(old) => {
                let new = ContainerId::Created {
                    id: Dot::new(dot.replica, dot.counter + i as u64),
                    kind: old.kind(),
                };
                copies.push((old, new.clone()));
                Value::Container(new)
            }
            scalar => scalar,
        })
        .collect();
    for (_, new) in &copies {
        if let ContainerId::Created { id, .. } = new {
            let link = ParentLink {
                parent: obj.clone(),
                key: ParentKey::List(*id),
            };
            doc.state.create_child(new.clone(), link);
        }
    }
    let wanted = doc.state.patches_wanted;
    let ContainerState::List(seq) = doc.state.container_mut(obj)? else {
        return Err(DocError::WrongKind(obj.clone()));
    };
    let patches = if wanted {
        let action = PatchAction::ListInsert {
            index: pos,
            values: stored.clone(),
        };
        vec![(obj.clone(), action)]
    } else {
        Vec::new()
    };
    let op = seq.local_insert(pos, ListContent(stored), dot)?;
    doc.record(
        Op::List {
            obj: obj.clone(),
            op,
        },
        patches,
    );
    Ok(copies)
}
