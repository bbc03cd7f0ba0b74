//! The materialized document: what every container holds now, as opposed to the
//! [`OpLog`](super::oplog::OpLog), which records how it got there.
//!
//! Maps keep, per key, every value not superseded by a write that observed it (multi-value
//! register semantics, as Automerge's conflicts); the visible value is the one with the highest
//! `(lamport, replica)`, so every replica picks the same winner. Texts and lists are
//! [`Sequence`]s; counters are sums. Nested containers remember their parent so that events can
//! carry a path from a root.
//!
//! Remote changes are checked against the state *before* any of their operations is applied
//! ([`DocState::check_change`]), so a change that refers to elements or containers that do not
//! exist is refused whole and leaves the state untouched.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::clock::Dot;
use crate::doc::change::{Change, NewValue, Op};
use crate::doc::event::{PatchAction, PathSegment};
use crate::doc::marks::{self, MarkStore};
use crate::doc::value::{ContainerId, ContainerKind, Materialized, Value};
use crate::doc::DocError;
use crate::seq::batch_ids::BatchIds;
use crate::seq::{Content, ListContent, SeqOp, SeqPatch, Sequence, TextContent};

/// One value of a map key, with the id and timestamp of the write that put it there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct MapEntry {
    pub(crate) id: Dot,
    pub(crate) lamport: u64,
    pub(crate) value: Value,
}

/// A map: per key, the concurrent values, ordered so that the winner is last.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct MapState {
    pub(crate) entries: BTreeMap<String, Vec<MapEntry>>,
}

impl MapState {
    fn winner(&self, key: &str) -> Option<&MapEntry> {
        self.entries.get(key).and_then(|v| v.last())
    }
}

/// The state of one container.
#[derive(Clone, Debug)]
pub(crate) enum ContainerState {
    Map(MapState),
    List(Sequence<ListContent<Value>>),
    Text(Sequence<TextContent>),
    Counter(i64),
}

impl ContainerState {
    fn new(kind: ContainerKind) -> Self {
        match kind {
            ContainerKind::Map => ContainerState::Map(MapState::default()),
            ContainerKind::List => ContainerState::List(Sequence::new()),
            ContainerKind::Text => ContainerState::Text(Sequence::new()),
            ContainerKind::Counter => ContainerState::Counter(0),
        }
    }
}

/// Where a created container hangs: a map key or a list element.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ParentKey {
    Map(String),
    List(Dot),
}

/// A created container's parent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ParentLink {
    pub(crate) parent: ContainerId,
    pub(crate) key: ParentKey,
}

/// What an applied operation did, before paths are resolved.
pub(crate) type RawPatch = (ContainerId, PatchAction);

/// Every container's current content.
///
/// Ordered maps rather than hash maps: a document has few containers, so a lookup is a couple
/// of short comparisons (cheaper than hashing the id on every operation), with a worst case
/// that no choice of container names by a peer can degrade.
#[derive(Clone, Debug, Default)]
pub(crate) struct DocState {
    /// Boxed, like the parent links: `ContainerId -> Box<_>` maps share one copy of the
    /// `BTreeMap` code in the wasm build.
    pub(crate) containers: BTreeMap<ContainerId, Box<ContainerState>>,
    /// Boxed, as `check_change`'s batch ids are: `ContainerId -> Box<_>` maps share one copy of
    /// the `BTreeMap` code in the wasm build (its code depends only on the layout of keys and
    /// values).
    pub(crate) parents: BTreeMap<ContainerId, Box<ParentLink>>,
    /// The formatting marks of the texts (kept beside their sequences; see
    /// [`marks`](crate::doc::marks)).
    pub(crate) marks: MarkStore,
    /// Whether applying operations describes them as patches (only when someone subscribed:
    /// building patches costs a string per insert).
    pub(crate) patches_wanted: bool,
    /// Whether this is a view of a past version ([`Doc::view_at`](crate::Doc::view_at)):
    /// every local edit reaches its container through [`DocState::container_mut`] first, which
    /// then refuses it.
    pub(crate) read_only: bool,
    /// The root [`DocState::container_mut`] last reached: it exists (no container is ever
    /// removed), so reaching it again needs one lookup, not a check for it first.
    known_root: Option<ContainerId>,
}

impl DocState {
    /// A state that holds nothing, with this one's settings.
    pub(crate) fn emptied(&self) -> DocState {
        DocState {
            patches_wanted: self.patches_wanted,
            read_only: self.read_only,
            ..DocState::default()
        }
    }

    /// The container `id`, created empty if it is a root that was never touched.
    pub(crate) fn container_mut(
        &mut self,
        id: &ContainerId,
    ) -> Result<&mut ContainerState, DocError> {
        if self.read_only {
            return Err(DocError::ReadOnly);
        }
        // A root is created on first use; a created container exists or is an error.
        if let ContainerId::Root { kind, .. } = id {
            if self.known_root.as_ref() != Some(id) {
                if !self.containers.contains_key(id) {
                    self.containers
                        .insert(id.clone(), Box::new(ContainerState::new(*kind)));
                }
                self.known_root = Some(id.clone());
            }
        }
        self.containers
            .get_mut(id)
            .map(|c| &mut **c)
            .ok_or_else(|| DocError::NoSuchContainer(id.clone()))
    }

    /// The container `id`, if it exists (roots exist once touched).
    pub(crate) fn container(&self, id: &ContainerId) -> Option<&ContainerState> {
        self.containers.get(id).map(|c| &**c)
    }

    fn exists(&self, id: &ContainerId) -> bool {
        matches!(id, ContainerId::Root { .. }) || self.containers.contains_key(id)
    }

    pub(crate) fn create_child(&mut self, id: ContainerId, link: ParentLink) {
        let kind = id.kind();
        self.containers
            .entry(id.clone())
            .or_insert_with(|| Box::new(ContainerState::new(kind)));
        self.parents.insert(id, Box::new(link));
    }

    // ----- maps -----

    /// The ids of the values `key` of `obj` holds now (what a local write supersedes).
    pub(crate) fn map_pred(&self, obj: &ContainerId, key: &str) -> Vec<Dot> {
        match self.container(obj) {
            Some(ContainerState::Map(m)) => m
                .entries
                .get(key)
                .map(|v| v.iter().map(|e| e.id).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    fn apply_map(
        &mut self,
        obj: &ContainerId,
        key: &str,
        new: Option<(Dot, u64, &NewValue)>,
        pred: &[Dot],
        out: &mut Vec<RawPatch>,
    ) -> Result<(), DocError> {
        let value = new.map(|(dot, lamport, v)| MapEntry {
            id: dot,
            lamport,
            value: match v {
                NewValue::Scalar(s) => Value::Scalar(s.clone()),
                NewValue::Container(kind) => Value::Container(ContainerId::Created {
                    id: dot,
                    kind: *kind,
                }),
            },
        });
        if let Some(MapEntry {
            value: Value::Container(child),
            ..
        }) = &value
        {
            self.create_child(
                child.clone(),
                ParentLink {
                    parent: obj.clone(),
                    key: ParentKey::Map(key.to_owned()),
                },
            );
        }
        let wanted = self.patches_wanted;
        let ContainerState::Map(map) = self.container_mut(obj)? else {
            return Err(DocError::WrongKind(obj.clone()));
        };
        let before = map.winner(key).map(|e| e.id);
        let entries = map.entries.entry(key.to_owned()).or_default();
        entries.retain(|e| !pred.contains(&e.id));
        if let Some(entry) = value {
            let at = entries.partition_point(|e| {
                (e.lamport, e.id.replica, e.id.counter)
                    < (entry.lamport, entry.id.replica, entry.id.counter)
            });
            entries.insert(at, entry);
        }
        match entries.last() {
            Some(winner) => {
                let changed = before != Some(winner.id);
                if wanted && (changed || new.is_some()) {
                    let patch = PatchAction::MapPut {
                        key: key.to_owned(),
                        value: winner.value.clone(),
                        conflicts: entries.len() - 1,
                    };
                    out.push((obj.clone(), patch));
                }
            }
            None => {
                map.entries.remove(key);
                if wanted && before.is_some() {
                    out.push((
                        obj.clone(),
                        PatchAction::MapDelete {
                            key: key.to_owned(),
                        },
                    ));
                }
            }
        }
        Ok(())
    }

    // ----- applying operations -----

    /// Checks a remote change against the current state without changing anything: every
    /// container it touches exists (or is created earlier in the change), every element it
    /// refers to exists (or is inserted earlier in the change), and no id it inserts exists.
    pub(crate) fn check_change(&self, change: &Change) -> Result<(), DocError> {
        // Containers and element ids the change itself creates: a later op of the change may
        // use them. Indexed, so that a change of many ops (a whole history merged as one
        // change) is checked in O(n log n), not O(n^2); ordered, not hashed, since the change
        // is a peer's (std's hash keys are fixed on wasm32-unknown-unknown, so collisions could
        // be precomputed). One map: a container the change creates gets an entry (no ids yet),
        // as does an existing one the change inserts into; only the first kind is looked up
        // for existence, and the second exists anyway.
        let mut inserted: BTreeMap<ContainerId, Box<BatchIds>> = BTreeMap::new();
        let none = BatchIds::default();
        let last = change.ops.len().saturating_sub(1);
        for (i, (dot, op)) in change.ops_with_dots().enumerate() {
            let obj = op.obj();
            if !self.exists(obj) && !inserted.contains_key(obj) {
                return Err(DocError::NoSuchContainer(obj.clone()));
            }
            match op {
                Op::MapSet { value, .. } => {
                    if let NewValue::Container(kind) = value {
                        let id = ContainerId::Created {
                            id: dot,
                            kind: *kind,
                        };
                        if self.containers.contains_key(&id) {
                            return Err(DocError::IdReused(dot));
                        }
                        inserted.entry(id).or_default();
                    }
                }
                Op::MapDelete { .. } | Op::CounterAdd { .. } => {}
                Op::TextMark { start, end, .. } => {
                    let seq = match self.container(obj) {
                        Some(ContainerState::Text(s)) => Some(s),
                        _ => None,
                    };
                    let here = inserted.get(obj).map_or(&none, |ids| &**ids);
                    for d in [start, end].into_iter().filter_map(|a| a.dot()) {
                        if !seq.is_some_and(|s| s.contains(d)) && !here.contains(d) {
                            return Err(DocError::Seq(crate::seq::SeqError::UnknownId(d)));
                        }
                    }
                }
                Op::Text { op, .. } => {
                    let seq = match self.container(obj) {
                        Some(ContainerState::Text(s)) => Some(s),
                        _ => None,
                    };
                    check_seq_op(op, seq, inserted.get(obj).map_or(&none, |ids| &**ids))?;
                }
                Op::List { op, .. } => {
                    let seq = match self.container(obj) {
                        Some(ContainerState::List(s)) => Some(s),
                        _ => None,
                    };
                    check_seq_op(op, seq, inserted.get(obj).map_or(&none, |ids| &**ids))?;
                    if let SeqOp::Insert { content, .. } = op {
                        for value in &content.0 {
                            if let Value::Container(id) = value {
                                if self.containers.contains_key(id) {
                                    return Err(DocError::IdReused(dot));
                                }
                                inserted.entry(id.clone()).or_default();
                            }
                        }
                    }
                }
            }
            let run = match op {
                Op::Text {
                    op: SeqOp::Insert { id, content, .. },
                    ..
                } => Some((*id, content.len() as u64)),
                Op::List {
                    op: SeqOp::Insert { id, content, .. },
                    ..
                } => Some((*id, content.len() as u64)),
                _ => None,
            };
            // No later op can use what the last one inserts (most changes are one op).
            if let Some((id, len)) = run.filter(|_| i < last) {
                let end = id.counter.saturating_add(len);
                match inserted.get_mut(obj) {
                    Some(ids) => ids.insert(id.replica, id.counter, end),
                    None => {
                        let mut ids = Box::<BatchIds>::default();
                        ids.insert(id.replica, id.counter, end);
                        inserted.insert(obj.clone(), ids);
                    }
                }
            }
        }
        Ok(())
    }

    /// Applies one operation whose first counter is `dot`, appending what it did to `out`.
    pub(crate) fn apply_op(
        &mut self,
        dot: Dot,
        lamport: u64,
        op: &Op,
        out: &mut Vec<RawPatch>,
    ) -> Result<(), DocError> {
        match op {
            Op::MapSet {
                obj,
                key,
                value,
                pred,
            } => self.apply_map(obj, key, Some((dot, lamport, value)), pred, out),
            Op::MapDelete { obj, key, pred } => self.apply_map(obj, key, None, pred, out),
            Op::CounterAdd { obj, delta } => {
                let ContainerState::Counter(n) = self.container_mut(obj)? else {
                    return Err(DocError::WrongKind(obj.clone()));
                };
                *n = n.wrapping_add(*delta);
                if self.patches_wanted {
                    out.push((obj.clone(), PatchAction::CounterAdd { delta: *delta }));
                }
                Ok(())
            }
            Op::Text { obj, op } => {
                let wanted = self.patches_wanted;
                let ContainerState::Text(seq) = self.container_mut(obj)? else {
                    return Err(DocError::WrongKind(obj.clone()));
                };
                if !wanted {
                    return Ok(seq.apply_unobserved(op)?);
                }
                let patches = seq.apply(op)?;
                let first = out.len();
                for patch in patches {
                    out.push((obj.clone(), text_patch(seq, patch)));
                }
                self.fill_insert_attributes(obj, &mut out[first..]);
                Ok(())
            }
            Op::TextMark { obj, .. } => self.apply_mark(dot, lamport, op, obj, out),
            Op::List { obj, op } => {
                if let SeqOp::Insert { content, .. } = op {
                    for value in &content.0 {
                        if let Value::Container(ContainerId::Created { id, kind }) = value {
                            self.create_child(
                                ContainerId::Created {
                                    id: *id,
                                    kind: *kind,
                                },
                                ParentLink {
                                    parent: obj.clone(),
                                    key: ParentKey::List(*id),
                                },
                            );
                        }
                    }
                }
                let wanted = self.patches_wanted;
                let ContainerState::List(seq) = self.container_mut(obj)? else {
                    return Err(DocError::WrongKind(obj.clone()));
                };
                if !wanted {
                    return Ok(seq.apply_unobserved(op)?);
                }
                for patch in seq.apply(op)? {
                    out.push((obj.clone(), list_patch(seq, patch)));
                }
                Ok(())
            }
        }
    }

    /// Applies mark operation `op` on text `obj`, describing the ranges whose formatting it
    /// changed.
    fn apply_mark(
        &mut self,
        dot: Dot,
        lamport: u64,
        op: &Op,
        obj: &ContainerId,
        out: &mut Vec<RawPatch>,
    ) -> Result<(), DocError> {
        if !matches!(self.container_mut(obj)?, ContainerState::Text(_)) {
            return Err(DocError::WrongKind(obj.clone()));
        }
        let Some(ContainerState::Text(seq)) = self.containers.get(obj).map(|c| &**c) else {
            return Err(DocError::WrongKind(obj.clone()));
        };
        let wanted = self.patches_wanted;
        let Some(changed) = self.marks.add(seq, dot, lamport, op, wanted) else {
            return Ok(());
        };
        let Some((key, value)) = marks::last_key_value(self.marks.of(obj).marks()) else {
            return Ok(());
        };
        for (start, end) in changed {
            let index_utf16 = utf16_of(seq, start);
            out.push((
                obj.clone(),
                PatchAction::TextMark {
                    index: start,
                    index_utf16,
                    len: end - start,
                    len_utf16: utf16_of(seq, end) - index_utf16,
                    key: key.to_owned(),
                    value: value.cloned(),
                },
            ));
        }
        Ok(())
    }

    /// Sets the formatting of the text inserts among `patches` (just applied to text `obj`):
    /// O(log m log n) each for m marks, O(log n) while inserts stay between the same mark
    /// anchors ([`marks_index`](crate::doc::marks_index)). Nothing to do for a text without
    /// marks.
    pub(crate) fn fill_insert_attributes(&mut self, obj: &ContainerId, patches: &mut [RawPatch]) {
        let Some(text) = self.marks.of_mut(obj) else {
            return;
        };
        let Some(ContainerState::Text(seq)) = self.containers.get(obj).map(|c| &**c) else {
            return;
        };
        for (_, patch) in patches {
            if let PatchAction::TextInsert {
                index, attributes, ..
            } = patch
            {
                *attributes = text.attributes_of_insert(seq, *index);
            }
        }
    }

    /// Applies a whole remote change (already checked by [`check_change`](Self::check_change)).
    pub(crate) fn apply_change(
        &mut self,
        change: &Change,
        out: &mut Vec<RawPatch>,
    ) -> Result<(), DocError> {
        for (dot, op) in change.ops_with_dots() {
            self.apply_op(dot, change.lamport_of(dot), op, out)?;
        }
        Ok(())
    }

    // ----- reading -----

    /// The path from a root to `id`, or `None` when `id` is not reachable.
    pub(crate) fn path_of(&self, id: &ContainerId) -> Option<Vec<PathSegment>> {
        let mut path = Vec::new();
        let mut current = id.clone();
        // Each step goes to a container created strictly earlier, so this ends; the bound also
        // protects against a corrupted snapshot with a parent cycle.
        for _ in 0..=self.parents.len() {
            match &current {
                ContainerId::Root { name, .. } => {
                    path.push(PathSegment::Root(name.to_string()));
                    path.reverse();
                    return Some(path);
                }
                ContainerId::Created { .. } => {
                    let link = self.parents.get(&current)?;
                    match (&link.key, self.container(&link.parent)) {
                        (ParentKey::Map(key), Some(ContainerState::Map(m))) => {
                            let winner = m.winner(key)?;
                            if winner.value.as_container() != Some(&current) {
                                return None;
                            }
                            path.push(PathSegment::Key(key.clone()));
                        }
                        (ParentKey::List(elem), Some(ContainerState::List(seq))) => {
                            let (index, visible) = seq.position_of(*elem)?;
                            if !visible {
                                return None;
                            }
                            path.push(PathSegment::Index(index));
                        }
                        _ => return None,
                    }
                    current = link.parent.clone();
                }
            }
        }
        None
    }

    /// The container `id` as a plain tree.
    pub(crate) fn materialize(&self, id: &ContainerId) -> Materialized {
        self.materialize_depth(id, 0)
    }

    fn materialize_value(&self, value: &Value, depth: usize) -> Materialized {
        match value {
            Value::Scalar(s) => Materialized::Scalar(s.clone()),
            Value::Container(id) => self.materialize_depth(id, depth + 1),
        }
    }

    fn materialize_depth(&self, id: &ContainerId, depth: usize) -> Materialized {
        // Containers nest only through values created after them, so there is no cycle; the
        // depth cap guards a corrupted snapshot.
        let empty = || match id.kind() {
            ContainerKind::Map => Materialized::Map(BTreeMap::new()),
            ContainerKind::List => Materialized::List(Vec::new()),
            ContainerKind::Text => Materialized::Text(String::new()),
            ContainerKind::Counter => Materialized::Counter(0),
        };
        if depth > 512 {
            return empty();
        }
        match self.container(id) {
            None => empty(),
            Some(ContainerState::Counter(n)) => Materialized::Counter(*n),
            Some(ContainerState::Text(seq)) => Materialized::Text(seq.to_content().into_string()),
            Some(ContainerState::List(seq)) => Materialized::List(
                seq.to_content()
                    .0
                    .iter()
                    .map(|v| self.materialize_value(v, depth))
                    .collect(),
            ),
            Some(ContainerState::Map(m)) => {
                // Inserted in key order rather than collected: `BTreeMap::from_iter` sorts its
                // input, and that sort is kilobytes of the wasm build.
                let mut out = BTreeMap::new();
                for (k, v) in &m.entries {
                    if let Some(e) = v.last() {
                        out.insert(k.clone(), self.materialize_value(&e.value, depth));
                    }
                }
                Materialized::Map(out)
            }
        }
    }
}

/// Checks a sequence op against a sequence (or a fresh, empty one), with `here` holding the ids
/// inserted earlier in the same change; a delete is checked run by run, not id by id.
fn check_seq_op<C: Content>(
    op: &SeqOp<C>,
    seq: Option<&Sequence<C>>,
    here: &BatchIds,
) -> Result<(), DocError> {
    let fresh;
    let seq = match seq {
        Some(seq) => seq,
        None => {
            fresh = Sequence::<C>::new();
            &fresh
        }
    };
    match op {
        SeqOp::Delete { target, len } => {
            seq.check_delete_with(*target, *len, |d, max| here.run_from(d, max))?
        }
        SeqOp::Insert { .. } => seq.check_with(op, |d| here.contains(d))?,
    }
    Ok(())
}

fn text_patch(seq: &Sequence<TextContent>, patch: SeqPatch) -> PatchAction {
    match patch {
        SeqPatch::Insert { pos, len } => PatchAction::TextInsert {
            index: pos,
            index_utf16: utf16_of(seq, pos),
            text: seq.slice(pos, pos + len).into_string(),
            attributes: marks::Attributes::new(),
        },
        SeqPatch::Delete {
            pos,
            len,
            len_utf16,
        } => PatchAction::TextDelete {
            index: pos,
            index_utf16: utf16_of(seq, pos),
            len,
            len_utf16,
        },
    }
}

/// UTF-16 offset of scalar position `pos` (a position just patched, so in bounds; the length
/// otherwise). The text before `pos` is the same before and after the patch, so this is the
/// offset at the time of the change. O(log n).
pub(crate) fn utf16_of(seq: &Sequence<TextContent>, pos: usize) -> usize {
    seq.pos_to_utf16(pos).unwrap_or_else(|_| seq.utf16_len())
}

fn list_patch(seq: &Sequence<ListContent<Value>>, patch: SeqPatch) -> PatchAction {
    match patch {
        SeqPatch::Insert { pos, len } => PatchAction::ListInsert {
            index: pos,
            values: seq.slice(pos, pos + len).0,
        },
        SeqPatch::Delete { pos, len, .. } => PatchAction::ListDelete { index: pos, len },
    }
}
