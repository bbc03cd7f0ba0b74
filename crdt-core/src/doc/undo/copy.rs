//! Copying a container's content into a new container: how a nested container an undo brings
//! back (a map value or list element that was overwritten or deleted) gets its content back.
//! A container is named by the operation that created it, so the old one cannot be re-attached;
//! the copy is a new container holding what the old one holds now.

use crate::doc::value::{ContainerId, ContainerKind, Materialized};
use crate::doc::{Doc, DocError};

/// Writes the content `from` holds into the (new, empty) container `to`, as local edits.
pub(crate) fn copy_content(
    doc: &mut Doc,
    from: &ContainerId,
    to: &ContainerId,
) -> Result<(), DocError> {
    let content = doc.state.materialize(from);
    write(doc, to, &content)
}

fn kind_of(value: &Materialized) -> Option<ContainerKind> {
    match value {
        Materialized::Map(_) => Some(ContainerKind::Map),
        Materialized::List(_) => Some(ContainerKind::List),
        Materialized::Text(_) => Some(ContainerKind::Text),
        Materialized::Counter(_) => Some(ContainerKind::Counter),
        Materialized::Scalar(_) => None,
    }
}

fn write(doc: &mut Doc, to: &ContainerId, content: &Materialized) -> Result<(), DocError> {
    match content {
        Materialized::Text(s) if !s.is_empty() => doc.text_at(to)?.insert(0, s),
        Materialized::Counter(n) if *n != 0 => doc.counter_at(to)?.increment(*n),
        Materialized::Map(entries) => {
            for (key, value) in entries {
                match (kind_of(value), value) {
                    (None, Materialized::Scalar(s)) => doc.map_at(to)?.set(key, s.clone())?,
                    (Some(kind), _) => {
                        let child = doc.map_at(to)?.set_container(key, kind)?;
                        write(doc, &child, value)?;
                    }
                    (None, _) => {}
                }
            }
            Ok(())
        }
        Materialized::List(items) => {
            for (pos, value) in items.iter().enumerate() {
                match (kind_of(value), value) {
                    (None, Materialized::Scalar(s)) => doc.list_at(to)?.insert(pos, s.clone())?,
                    (Some(kind), _) => {
                        let child = doc.list_at(to)?.insert_container(pos, kind)?;
                        write(doc, &child, value)?;
                    }
                    (None, _) => {}
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
