//! The check [`Doc::load`](super::Doc::load) runs on a snapshot's containers: that they form the
//! tree applying changes builds, so that a forged snapshot cannot hold a value naming a
//! container it lacks (a *dangling* nested container), nor a container reachable twice or
//! through a cycle.
//!
//! Invariant it keeps (every document built by operations has it, since containers are never
//! removed and a created container is named by the operation that created it):
//! - a map entry or visible list element that holds a container holds a *created* one, named by
//!   that entry's or element's own id; the container exists, and its parent link names that
//!   map key or list element — so no container is the value of two places;
//! - every created container has a parent link, whose parent is a root or an existing created
//!   container of the kind the key needs (a map for a key, a list for an element), and following
//!   parent links from any container reaches a root (no cycle).
//!
//! Containers that no value names any more (a map value overwritten, a list element deleted)
//! are legitimate and kept, as Automerge keeps the objects of overwritten values.
//!
//! The cost is one pass over map entries, one over the visible list elements (an `O(log n)`
//! lookup per element that holds a container), and one over the parent links.

use std::collections::BTreeSet;

use crate::doc::state::{ContainerState, DocState, ParentKey, ParentLink};
use crate::doc::value::{ContainerId, ContainerKind, Value};
use crate::doc::DocError;

/// Checks that `state`'s containers form a tree as described in the [module docs](self).
pub(crate) fn check_container_tree(state: &DocState) -> Result<(), DocError> {
    for (id, container) in &state.containers {
        match &**container {
            ContainerState::Map(map) => {
                for (key, entries) in &map.entries {
                    for entry in entries {
                        if let Value::Container(child) = &entry.value {
                            let ContainerId::Created { id: named, .. } = child else {
                                return Err(bad("a map value names a root container"));
                            };
                            if *named != entry.id {
                                return Err(bad("a map value names a container it did not create"));
                            }
                            check_child(state, child, id, ParentKey::Map(key.clone()))?;
                        }
                    }
                }
            }
            ContainerState::List(seq) => {
                let mut pos = 0;
                for chunk in seq.iter() {
                    for value in &chunk.0 {
                        if let Value::Container(child) = value {
                            let ContainerId::Created { id: named, .. } = child else {
                                return Err(bad("a list element names a root container"));
                            };
                            if seq.id_at(pos) != Some(*named) {
                                return Err(bad(
                                    "a list element names a container it did not create",
                                ));
                            }
                            check_child(state, child, id, ParentKey::List(*named))?;
                        }
                        pos += 1;
                    }
                }
            }
            ContainerState::Text(_) | ContainerState::Counter(_) => {}
        }
    }
    check_parent_links(state)
}

fn bad(why: &'static str) -> DocError {
    DocError::BadSnapshot(why)
}

/// `child`, the value of `key` in `parent`, exists and is linked back to that place.
fn check_child(
    state: &DocState,
    child: &ContainerId,
    parent: &ContainerId,
    key: ParentKey,
) -> Result<(), DocError> {
    if !state.containers.contains_key(child) {
        return Err(bad("a value names a container the snapshot lacks"));
    }
    let expected = ParentLink {
        parent: parent.clone(),
        key,
    };
    if state.parents.get(child).map(|link| &**link) != Some(&expected) {
        return Err(bad("a nested container's parent link names another place"));
    }
    Ok(())
}

/// Every created container has a parent link to a parent of the right kind, and the links lead
/// to a root.
fn check_parent_links(state: &DocState) -> Result<(), DocError> {
    // Containers known to lead to a root, so that each link is followed once overall.
    let mut rooted: BTreeSet<&ContainerId> = BTreeSet::new();
    for id in state.containers.keys() {
        if matches!(id, ContainerId::Created { .. }) && !state.parents.contains_key(id) {
            return Err(bad("a nested container has no parent link"));
        }
    }
    for start in state.parents.keys() {
        let mut path: Vec<&ContainerId> = Vec::new();
        let mut current = start;
        loop {
            if matches!(current, ContainerId::Root { .. }) || rooted.contains(current) {
                break;
            }
            // Each step is to another created container; more steps than links is a cycle.
            if path.len() > state.parents.len() {
                return Err(bad("parent links form a cycle"));
            }
            let link = state
                .parents
                .get(current)
                .ok_or(bad("a nested container has no parent link"))?;
            let needed = match link.key {
                ParentKey::Map(_) => ContainerKind::Map,
                ParentKey::List(_) => ContainerKind::List,
            };
            if link.parent.kind() != needed {
                return Err(bad("a parent link names a parent of the wrong kind"));
            }
            if matches!(link.parent, ContainerId::Created { .. })
                && !state.containers.contains_key(&link.parent)
            {
                return Err(bad("a parent link names a container the snapshot lacks"));
            }
            path.push(current);
            current = &link.parent;
        }
        rooted.extend(path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Dot, ReplicaId};
    use crate::doc::state::MapEntry;
    use crate::doc::Doc;

    /// A document with nested containers of every kind, in maps and lists, some overwritten or
    /// deleted (orphans), and the state it loads to.
    fn nested_doc() -> Doc {
        let mut doc = Doc::with_replica(ReplicaId::new(1));
        let text = doc
            .map("m")
            .set_container("t", ContainerKind::Text)
            .expect("a root map takes a container");
        doc.text_at(&text)
            .expect("just created")
            .insert(0, "hi")
            .expect("in range");
        let inner = doc
            .list("l")
            .push_container(ContainerKind::Map)
            .expect("a root list takes a container");
        doc.map_at(&inner)
            .expect("just created")
            .set_container("c", ContainerKind::Counter)
            .expect("a nested map takes a container");
        doc.list("l")
            .push_container(ContainerKind::List)
            .expect("a root list takes a container");
        // Orphans: an overwritten map value and a deleted list element that held containers.
        doc.map("m")
            .set_container("gone", ContainerKind::Map)
            .expect("a root map takes a container");
        doc.map("m").set("gone", 1).expect("a scalar overwrites");
        doc.list("l").delete(1, 1).expect("in range");
        doc.commit();
        doc
    }

    fn text_child(doc: &Doc) -> ContainerId {
        doc.state
            .containers
            .keys()
            .find(|id| matches!(id, ContainerId::Created { kind, .. } if *kind == ContainerKind::Text))
            .cloned()
            .expect("the nested doc holds a created text")
    }

    #[test]
    fn documents_built_by_operations_pass() {
        let mut doc = nested_doc();
        assert_eq!(check_container_tree(&doc.state), Ok(()));
        let loaded = Doc::load(&doc.save()).expect("a saved document loads");
        assert_eq!(loaded.materialize(), doc.materialize());
        assert_eq!(check_container_tree(&Doc::new().state), Ok(()));
    }

    #[test]
    fn load_refuses_a_snapshot_with_a_dangling_nested_container() {
        let mut doc = nested_doc();
        let child = text_child(&doc);
        doc.state.containers.remove(&child);
        doc.state.parents.remove(&child);
        // `save` writes the state as it is: a forged snapshot in the current format.
        let forged = doc.save();
        assert_eq!(
            Doc::load(&forged).map(|_| ()),
            Err(DocError::BadSnapshot(
                "a value names a container the snapshot lacks"
            ))
        );
    }

    #[test]
    fn a_value_naming_a_missing_container_is_refused() {
        let mut doc = nested_doc();
        let child = text_child(&doc);
        doc.state.containers.remove(&child);
        assert_eq!(
            check_container_tree(&doc.state),
            Err(DocError::BadSnapshot(
                "a value names a container the snapshot lacks"
            ))
        );
    }

    #[test]
    fn a_container_named_by_two_places_is_refused() {
        let mut doc = nested_doc();
        let child = text_child(&doc);
        let Some(ContainerState::Map(map)) = doc
            .state
            .containers
            .get_mut(&ContainerId::root("m", ContainerKind::Map))
            .map(|c| &mut **c)
        else {
            panic!("the root map exists");
        };
        let entry = map.entries["t"][0].clone();
        map.entries.insert("again".into(), vec![entry]);
        assert_eq!(
            check_container_tree(&doc.state),
            Err(DocError::BadSnapshot(
                "a nested container's parent link names another place"
            ))
        );
        // A value naming a container under another entry's id.
        let Some(ContainerState::Map(map)) = doc
            .state
            .containers
            .get_mut(&ContainerId::root("m", ContainerKind::Map))
            .map(|c| &mut **c)
        else {
            panic!("the root map exists");
        };
        map.entries.insert(
            "again".into(),
            vec![MapEntry {
                id: Dot::new(ReplicaId::new(9), 1),
                lamport: 1,
                value: Value::Container(child),
            }],
        );
        assert_eq!(
            check_container_tree(&doc.state),
            Err(DocError::BadSnapshot(
                "a map value names a container it did not create"
            ))
        );
    }

    #[test]
    fn a_root_as_a_value_is_refused() {
        let mut doc = nested_doc();
        let root = ContainerId::root("m", ContainerKind::Map);
        let Some(ContainerState::Map(map)) = doc.state.containers.get_mut(&root).map(|c| &mut **c)
        else {
            panic!("the root map exists");
        };
        // A map holding itself would materialize forever without the depth cap.
        map.entries.insert(
            "self".into(),
            vec![MapEntry {
                id: Dot::new(ReplicaId::new(9), 1),
                lamport: 1,
                value: Value::Container(root),
            }],
        );
        assert_eq!(
            check_container_tree(&doc.state),
            Err(DocError::BadSnapshot("a map value names a root container"))
        );
    }

    #[test]
    fn missing_cyclic_or_mistyped_parent_links_are_refused() {
        let doc = nested_doc();
        let child = text_child(&doc);

        let mut unlinked = doc.state.clone();
        let orphan = unlinked
            .containers
            .keys()
            .find(
                |id| matches!(id, ContainerId::Created { kind, .. } if *kind == ContainerKind::Map),
            )
            .cloned()
            .expect("a created map");
        unlinked.parents.remove(&orphan);
        assert!(matches!(
            check_container_tree(&unlinked),
            Err(DocError::BadSnapshot(_))
        ));

        // Two created maps whose links name each other (neither is any value).
        let mut cyclic = doc.state.clone();
        let a = ContainerId::Created {
            id: Dot::new(ReplicaId::new(7), 1),
            kind: ContainerKind::Map,
        };
        let b = ContainerId::Created {
            id: Dot::new(ReplicaId::new(7), 2),
            kind: ContainerKind::Map,
        };
        for (x, y) in [(&a, &b), (&b, &a)] {
            cyclic.containers.insert(
                x.clone(),
                Box::new(ContainerState::Map(crate::doc::state::MapState::default())),
            );
            cyclic.parents.insert(
                x.clone(),
                Box::new(ParentLink {
                    parent: y.clone(),
                    key: ParentKey::Map("k".into()),
                }),
            );
        }
        assert_eq!(
            check_container_tree(&cyclic),
            Err(DocError::BadSnapshot("parent links form a cycle"))
        );

        let mut mistyped = doc.state.clone();
        mistyped.parents.insert(
            child,
            Box::new(ParentLink {
                parent: ContainerId::root("x", ContainerKind::Text),
                key: ParentKey::Map("t".into()),
            }),
        );
        assert!(matches!(
            check_container_tree(&mistyped),
            Err(DocError::BadSnapshot(_))
        ));
    }
}
