//! Restoring a past version: one new change that turns the current content into the content
//! at that version ([`Doc::restore`]). History is kept (the restore is an edit like any other,
//! synced to every replica and undoable by restoring again), as in Google Docs' "restore this
//! version" and Loro's `revert_to`.
//!
//! The edit is computed container by container against the past state (rebuilt by
//! [`Doc::view_at`]'s replay). Texts and lists compare element ids, not characters: an element
//! visible both then and now is kept (so concurrent edits next to it still land where their
//! authors meant), one visible now but not then is deleted, and one visible then but deleted
//! since is inserted again (a CRDT cannot undelete, so its content comes back under a new id).
//! Map keys take their past winner (a nested container still in place is restored in place; one
//! replaced since is recreated with its past content); counters add the difference.

use std::collections::BTreeSet;

use crate::clock::{SeqRange, VersionVector};
use crate::doc::state::{ContainerState, DocState, MapState};
use crate::doc::value::{ContainerId, ContainerKind, Value};
use crate::doc::{Doc, DocError};
use crate::seq::{Content, Sequence};

/// Deepest nesting restored; the materialized tree stops at the same depth.
const MAX_DEPTH: usize = 512;

impl Doc {
    /// Commits, then makes one new change that turns the current content into the content at
    /// `version`, and commits it (returns its id, or `None` when the content already matches).
    /// Every replica that receives it shows the restored content; the history stays.
    ///
    /// Refuses versions as [`Doc::view_at`] does, and on a read-only view.
    ///
    /// ```
    /// use crdt_core::{Doc, ReplicaId};
    ///
    /// let mut doc = Doc::with_replica(ReplicaId::new(1));
    /// doc.text("body").insert(0, "keep this").unwrap();
    /// doc.commit();
    /// let good = doc.version();
    /// doc.text("body").delete(0, 5).unwrap();
    /// doc.commit();
    /// doc.restore(&good).unwrap();
    /// assert_eq!(doc.text("body").to_string(), "keep this");
    /// assert_eq!(doc.change_count(), 3);
    /// ```
    pub fn restore(&mut self, version: &VersionVector) -> Result<Option<SeqRange>, DocError> {
        self.restore_with(version, None, None)
    }

    /// [`Doc::restore`], with a commit message and time on the restoring change (as
    /// [`Doc::commit_with`]).
    pub fn restore_with(
        &mut self,
        version: &VersionVector,
        message: Option<&str>,
        time: Option<u64>,
    ) -> Result<Option<SeqRange>, DocError> {
        if self.state.read_only {
            return Err(DocError::ReadOnly);
        }
        self.commit();
        let (_, past) = self.replay_to(version)?;
        let roots: BTreeSet<ContainerId> = past
            .containers
            .keys()
            .chain(self.state.containers.keys())
            .filter(|id| matches!(id, ContainerId::Root { .. }))
            .cloned()
            .collect();
        for root in &roots {
            self.restore_container(&past, root, 0)?;
        }
        self.commit_with(message, time)
    }

    /// Edits container `id` (present in both states, or a root) to hold what it held in `past`.
    fn restore_container(
        &mut self,
        past: &DocState,
        id: &ContainerId,
        depth: usize,
    ) -> Result<(), DocError> {
        if depth > MAX_DEPTH {
            return Ok(());
        }
        match id.kind() {
            ContainerKind::Text => {
                let empty = Sequence::new();
                let then = match past.container(id) {
                    Some(ContainerState::Text(s)) => s,
                    _ => &empty,
                };
                let plan = match self.state.container(id) {
                    Some(ContainerState::Text(now)) => SeqPlan::of(then, now),
                    _ => SeqPlan::of(then, &Sequence::new()),
                };
                self.apply_text_plan(id, then, plan)
            }
            ContainerKind::List => {
                let empty = Sequence::new();
                let then = match past.container(id) {
                    Some(ContainerState::List(s)) => s,
                    _ => &empty,
                };
                self.restore_list(past, id, then, depth)
            }
            ContainerKind::Map => {
                let empty = MapState::default();
                let then = match past.container(id) {
                    Some(ContainerState::Map(m)) => m,
                    _ => &empty,
                };
                self.restore_map(past, id, then, depth)
            }
            ContainerKind::Counter => {
                let value = |c: Option<&ContainerState>| match c {
                    Some(ContainerState::Counter(n)) => *n,
                    _ => 0,
                };
                let delta = value(past.container(id)).wrapping_sub(value(self.state.container(id)));
                if delta != 0 {
                    self.counter_at(id)?.increment(delta)?;
                }
                Ok(())
            }
        }
    }

    fn apply_text_plan(
        &mut self,
        id: &ContainerId,
        then: &Sequence<crate::seq::TextContent>,
        plan: SeqPlan,
    ) -> Result<(), DocError> {
        let mut text = self.text_at(id)?;
        for &(pos, len) in plan.deletes.iter().rev() {
            text.delete(pos, len)?;
        }
        for &(at, start, end) in &plan.inserts {
            text.insert(at, then.slice(start, end).as_str())?;
        }
        Ok(())
    }

    fn restore_list(
        &mut self,
        past: &DocState,
        id: &ContainerId,
        then: &Sequence<crate::seq::ListContent<Value>>,
        depth: usize,
    ) -> Result<(), DocError> {
        let plan = match self.state.container(id) {
            Some(ContainerState::List(now)) => SeqPlan::of(then, now),
            _ => SeqPlan::of(then, &Sequence::new()),
        };
        for &(pos, len) in plan.deletes.iter().rev() {
            self.list_at(id)?.delete(pos, len)?;
        }
        // Kept elements holding containers: restored in place.
        for (pos, kept) in plan.kept_then.iter().enumerate() {
            if let (true, Some(Value::Container(child))) = (*kept, then.get_element(pos)) {
                self.restore_container(past, child, depth + 1)?;
            }
        }
        for &(at, start, end) in &plan.inserts {
            for (offset, value) in then.slice(start, end).0.into_iter().enumerate() {
                self.insert_list_value(past, id, at + offset, value, depth)?;
            }
        }
        Ok(())
    }

    /// Inserts a copy of the past `value` into list `id` at `pos`.
    fn insert_list_value(
        &mut self,
        past: &DocState,
        id: &ContainerId,
        pos: usize,
        value: Value,
        depth: usize,
    ) -> Result<(), DocError> {
        match value {
            Value::Scalar(s) => self.list_at(id)?.insert(pos, s),
            Value::Container(child) => {
                let fresh = self.list_at(id)?.insert_container(pos, child.kind())?;
                self.restore_container_into(past, &child, &fresh, depth + 1)
            }
        }
    }

    fn restore_map(
        &mut self,
        past: &DocState,
        id: &ContainerId,
        then: &MapState,
        depth: usize,
    ) -> Result<(), DocError> {
        let now: Vec<(String, Vec<Value>)> = match self.state.container(id) {
            Some(ContainerState::Map(m)) => m
                .entries
                .iter()
                .map(|(k, v)| (k.clone(), v.iter().map(|e| e.value.clone()).collect()))
                .collect(),
            _ => Vec::new(),
        };
        for (key, values) in &now {
            if values.is_empty() || then.entries.get(key).is_some_and(|v| !v.is_empty()) {
                continue;
            }
            self.map_at(id)?.delete(key)?;
        }
        for (key, entries) in &then.entries {
            let Some(winner) = entries.last() else {
                continue;
            };
            let current: &[Value] = now
                .iter()
                .find(|(k, _)| k == key)
                .map_or(&[], |(_, v)| v.as_slice());
            self.restore_key(past, id, key, &winner.value, current, depth)?;
        }
        Ok(())
    }

    /// Makes `key` of map `id` show `then` again, given the values it holds now (winner last).
    fn restore_key(
        &mut self,
        past: &DocState,
        id: &ContainerId,
        key: &str,
        then: &Value,
        now: &[Value],
        depth: usize,
    ) -> Result<(), DocError> {
        let unchanged = now.len() == 1 && now.last() == Some(then);
        match then {
            Value::Container(child) if now.last() == Some(then) => {
                self.restore_container(past, child, depth + 1)
            }
            Value::Scalar(_) if unchanged => Ok(()),
            Value::Scalar(s) => self.map_at(id)?.set(key, s.clone()),
            Value::Container(child) => {
                let fresh = self.map_at(id)?.set_container(key, child.kind())?;
                self.restore_container_into(past, child, &fresh, depth + 1)
            }
        }
    }

    /// Fills the new, empty container `fresh` with the past content of `then`.
    fn restore_container_into(
        &mut self,
        past: &DocState,
        then: &ContainerId,
        fresh: &ContainerId,
        depth: usize,
    ) -> Result<(), DocError> {
        if depth > MAX_DEPTH {
            return Ok(());
        }
        match past.container(then) {
            None => Ok(()),
            Some(ContainerState::Text(seq)) => {
                self.text_at(fresh)?.insert(0, seq.to_content().as_str())
            }
            Some(ContainerState::Counter(n)) if *n != 0 => self.counter_at(fresh)?.increment(*n),
            Some(ContainerState::Counter(_)) => Ok(()),
            Some(ContainerState::List(seq)) => {
                for (pos, value) in seq.to_content().0.into_iter().enumerate() {
                    self.insert_list_value(past, fresh, pos, value, depth)?;
                }
                Ok(())
            }
            Some(ContainerState::Map(m)) => {
                for (key, entries) in &m.entries {
                    if let Some(winner) = entries.last() {
                        self.restore_key(past, fresh, key, &winner.value, &[], depth)?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// How to turn a sequence's current visible elements into its past ones.
struct SeqPlan {
    /// Runs `(pos, len)` of current visible elements not visible then, in ascending order
    /// (applied from the last, so earlier positions hold).
    deletes: Vec<(usize, usize)>,
    /// After the deletes, runs `(at, start, end)`: insert the past elements `start..end` at
    /// `at`, in ascending order.
    inserts: Vec<(usize, usize, usize)>,
    /// Per past visible element: whether it is still visible now (kept in place).
    kept_then: Vec<bool>,
}

impl SeqPlan {
    /// Element ids decide: both sequences order the elements they share alike (the sequence
    /// CRDT's order only grows), so the kept elements stay in order after the deletes.
    fn of<C: Content>(then: &Sequence<C>, now: &Sequence<C>) -> SeqPlan {
        let mut kept_now = vec![false; now.len()];
        let mut kept_then = vec![false; then.len()];
        for (pos, kept) in kept_then.iter_mut().enumerate() {
            let Some(id) = then.id_at(pos) else { continue };
            if let Some((at, true)) = now.position_of(id) {
                kept_now[at] = true;
                *kept = true;
            }
        }
        SeqPlan {
            deletes: runs_of(&kept_now, false)
                .map(|(start, end)| (start, end - start))
                .collect(),
            inserts: insert_runs(&kept_then),
            kept_then,
        }
    }
}

/// The runs `start..end` of `flags` equal to `value`.
fn runs_of(flags: &[bool], value: bool) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut pos = 0;
    std::iter::from_fn(move || {
        while pos < flags.len() && flags[pos] != value {
            pos += 1;
        }
        if pos >= flags.len() {
            return None;
        }
        let start = pos;
        while pos < flags.len() && flags[pos] == value {
            pos += 1;
        }
        Some((start, pos))
    })
}

/// The past elements to insert again: each run of elements not kept, with the position it goes
/// to once the kept elements before it (and the runs inserted before it) are in place.
fn insert_runs(kept_then: &[bool]) -> Vec<(usize, usize, usize)> {
    runs_of(kept_then, false)
        .map(|(start, end)| (start, start, end))
        .collect()
}
