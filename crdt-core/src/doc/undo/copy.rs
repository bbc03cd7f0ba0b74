//! Copying a container's content into a new container: how a nested container an undo brings
//! back (a map value or list element that was overwritten or deleted) gets its content back.
//! A container is named by the operation that created it, so the old one cannot be re-attached;
//! the copy is a new container holding what the old one holds now.
//!
//! Every copied element (deleted ones too: a text or list is copied with its tombstones) and
//! map value is recorded in the [`IdRemap`] (old id -> copy), as the container itself is, so
//! older steps that edited inside the old container act on the copy.

use crate::clock::Dot;
use crate::doc::change::Op;
use crate::doc::state::ContainerState;
use crate::doc::undo::apply::{apply_local, next_dot};
use crate::doc::undo::remap::IdRemap;
use crate::doc::undo::sequence::inserted_content;
use crate::doc::value::{ContainerId, ContainerKind, Value};
use crate::doc::{Doc, DocError};
use crate::seq::{Content, ListContent, SeqOp, TextContent};

/// Writes the content `from` holds into the (new, empty) container `to`, as local edits.
pub(crate) fn copy_content(
    doc: &mut Doc,
    remap: &mut IdRemap,
    from: &ContainerId,
    to: &ContainerId,
) -> Result<(), DocError> {
    match doc.state.container(from) {
        Some(ContainerState::Text(_) | ContainerState::List(_)) => {
            copy_sequence(doc, remap, from, to)
        }
        Some(ContainerState::Map(_)) => copy_map(doc, remap, from, to),
        Some(ContainerState::Counter(n)) if *n != 0 => {
            let n = *n;
            doc.counter_at(to)?.increment(n)
        }
        _ => Ok(()),
    }
}

/// Copies sequence `from` element for element, deleted ones included (inserted, then deleted
/// again in the same change), so that every id of the original, tombstones too, has its
/// counterpart in the copy and a later undo of a delete inside the original can restore it
/// there.
fn copy_sequence(
    doc: &mut Doc,
    remap: &mut IdRemap,
    from: &ContainerId,
    to: &ContainerId,
) -> Result<(), DocError> {
    let runs = match doc.state.container(from) {
        Some(ContainerState::Text(seq)) => seq.element_runs(),
        Some(ContainerState::List(seq)) => seq.element_runs(),
        _ => return Ok(()),
    };
    if runs.is_empty() {
        return Ok(());
    }
    let first = next_dot(doc);
    let insert = match to.kind() {
        ContainerKind::Text => {
            let Some(text) = gather::<TextContent>(doc, &runs, |op| match op {
                Op::Text {
                    obj,
                    op: SeqOp::Insert { id, content, .. },
                } if obj == from => Some((*id, content)),
                _ => None,
            }) else {
                return Ok(());
            };
            Op::Text {
                obj: to.clone(),
                op: whole(first, text),
            }
        }
        _ => {
            let Some(ListContent(values)) = gather(doc, &runs, |op| match op {
                Op::List {
                    obj,
                    op: SeqOp::Insert { id, content, .. },
                } if obj == from => Some((*id, content)),
                _ => None,
            }) else {
                return Ok(());
            };
            let mut copies = Vec::new();
            let values = values
                .into_iter()
                .enumerate()
                .map(|(i, value)| match value {
                    Value::Container(old) => {
                        let copy = ContainerId::Created {
                            id: Dot::new(first.replica, first.counter + i as u64),
                            kind: old.kind(),
                        };
                        copies.push((old, copy.clone()));
                        Value::Container(copy)
                    }
                    scalar => scalar,
                })
                .collect();
            let op = Op::List {
                obj: to.clone(),
                op: whole(first, ListContent(values)),
            };
            apply_local(doc, op)?;
            for (old, copy) in copies {
                let old = remap.container(&old);
                copy_content(doc, remap, &old, &copy)?;
            }
            return delete_tombstones(doc, remap, to, first, &runs);
        }
    };
    apply_local(doc, insert)?;
    delete_tombstones(doc, remap, to, first, &runs)
}

/// An insert of all of `content` into an empty sequence.
fn whole<C>(first: Dot, content: C) -> SeqOp<C> {
    SeqOp::Insert {
        id: first,
        origin_left: None,
        origin_right: None,
        content,
    }
}

/// The content of every run, in order, from the history.
fn gather<C: Content>(
    doc: &Doc,
    runs: &[(Dot, u64, bool)],
    pick: impl Fn(&Op) -> Option<(Dot, &C)>,
) -> Option<C> {
    let mut out = C::default();
    for &(dot, len, _) in runs {
        out.append(&inserted_content(&doc.log, dot, len, &pick)?);
    }
    Some(out)
}

/// Maps each run of the original onto the copy (whose elements took counters from `first` in
/// the same order) and deletes the copies of deleted runs.
fn delete_tombstones(
    doc: &mut Doc,
    remap: &mut IdRemap,
    to: &ContainerId,
    first: Dot,
    runs: &[(Dot, u64, bool)],
) -> Result<(), DocError> {
    let mut offset = 0;
    for &(old, len, deleted) in runs {
        let target = Dot::new(first.replica, first.counter + offset);
        remap.insert(old, len, target);
        offset += len;
        if !deleted {
            continue;
        }
        let op = match to.kind() {
            ContainerKind::Text => Op::Text {
                obj: to.clone(),
                op: SeqOp::Delete { target, len },
            },
            _ => Op::List {
                obj: to.clone(),
                op: SeqOp::Delete { target, len },
            },
        };
        apply_local(doc, op)?;
    }
    Ok(())
}

fn copy_map(
    doc: &mut Doc,
    remap: &mut IdRemap,
    from: &ContainerId,
    to: &ContainerId,
) -> Result<(), DocError> {
    let Some(ContainerState::Map(map)) = doc.state.container(from) else {
        return Ok(());
    };
    let winners: Vec<(String, Dot, Value)> = map
        .entries
        .iter()
        .filter_map(|(k, v)| v.last().map(|e| (k.clone(), e.id, e.value.clone())))
        .collect();
    for (key, old, value) in winners {
        let new = next_dot(doc);
        match value {
            Value::Scalar(s) => doc.map_at(to)?.set(&key, s)?,
            Value::Container(child) => {
                let copy = doc.map_at(to)?.set_container(&key, child.kind())?;
                copy_content(doc, remap, &child, &copy)?;
            }
        }
        remap.insert(old, 1, new);
    }
    Ok(())
}
