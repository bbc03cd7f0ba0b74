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
        let past = self.replay_state_to(version)?;
        // Every root then, and every root now that did not exist then (no sort: a sort of
        // container ids would be code of its own in every build).
        let roots: Vec<ContainerId> = past
            .containers
            .keys()
            .chain((self.state.containers.keys()).filter(|id| !past.containers.contains_key(*id)))
            .filter(|id| matches!(id, ContainerId::Root { .. }))
            .cloned()
            .collect();
        for root in &roots {
            self.restore_container(&past, root, root, 0)?;
        }
        self.commit_with(message, time)
    }

    /// Edits container `now` to hold what container `then` held in `past`: the same container
    /// when it is still in place, or a new, empty one that replaces it.
    fn restore_container(
        &mut self,
        past: &DocState,
        then: &ContainerId,
        now: &ContainerId,
        depth: usize,
    ) -> Result<(), DocError> {
        if depth > MAX_DEPTH {
            return Ok(());
        }
        let empty_text = Sequence::new();
        let empty_list = Sequence::new();
        let empty_map = MapState::default();
        match (past.container(then), now.kind()) {
            (Some(ContainerState::Counter(n)), _) => self.restore_counter(*n, now),
            (Some(ContainerState::Text(seq)), _) => {
                self.restore_text(seq, now)?;
                self.restore_formatting(seq, past.marks.of(then), now)
            }
            (None, ContainerKind::Text) => {
                self.restore_text(&empty_text, now)?;
                self.restore_formatting(&empty_text, &Default::default(), now)
            }
            (Some(ContainerState::List(seq)), _) => self.restore_list(past, seq, now, depth),
            (None, ContainerKind::List) => self.restore_list(past, &empty_list, now, depth),
            (Some(ContainerState::Map(map)), _) => self.restore_map(past, map, now, depth),
            (None, ContainerKind::Map) => self.restore_map(past, &empty_map, now, depth),
            (None, ContainerKind::Counter) => self.restore_counter(0, now),
        }
    }

    fn restore_counter(&mut self, then: i64, now: &ContainerId) -> Result<(), DocError> {
        let current = match self.state.container(now) {
            Some(ContainerState::Counter(n)) => *n,
            _ => 0,
        };
        let delta = then.wrapping_sub(current);
        if delta != 0 {
            self.counter_at(now)?.increment(delta)?;
        }
        Ok(())
    }

    fn restore_text(
        &mut self,
        then: &Sequence<crate::seq::TextContent>,
        now: &ContainerId,
    ) -> Result<(), DocError> {
        let plan = match self.state.container(now) {
            Some(ContainerState::Text(seq)) => SeqPlan::of(then, seq),
            _ => SeqPlan::of(then, &Sequence::new()),
        };
        let mut text = self.text_at(now)?;
        for &(pos, len) in plan.deletes.iter().rev() {
            text.delete(pos, len)?;
        }
        for &(start, end) in &plan.inserts {
            text.insert(start, then.slice(start, end).as_str())?;
        }
        Ok(())
    }

    /// Gives text `now` (whose characters are those of `then` again) the formatting `then` had.
    fn restore_formatting(
        &mut self,
        then: &Sequence<crate::seq::TextContent>,
        then_marks: &crate::doc::marks::TextMarks,
        now: &ContainerId,
    ) -> Result<(), DocError> {
        let mut runs = Vec::new();
        then_marks.for_each_run(then, |start, end, attributes| {
            runs.push((start, end, crate::doc::marks::to_attributes(attributes)))
        });
        self.text_at(now)?.set_formatting(&runs)
    }

    fn restore_list(
        &mut self,
        past: &DocState,
        then: &Sequence<crate::seq::ListContent<Value>>,
        now: &ContainerId,
        depth: usize,
    ) -> Result<(), DocError> {
        let plan = match self.state.container(now) {
            Some(ContainerState::List(seq)) => SeqPlan::of(then, seq),
            _ => SeqPlan::of(then, &Sequence::new()),
        };
        for &(pos, len) in plan.deletes.iter().rev() {
            self.list_at(now)?.delete(pos, len)?;
        }
        // Kept elements holding containers: restored in place.
        for (pos, kept) in plan.kept_then.iter().enumerate() {
            if let (true, Some(Value::Container(child))) = (*kept, then.get_element(pos)) {
                self.restore_container(past, child, child, depth + 1)?;
            }
        }
        for &(start, end) in &plan.inserts {
            for (offset, value) in then.slice(start, end).0.into_iter().enumerate() {
                let pos = start + offset;
                match value {
                    Value::Scalar(s) => self.list_at(now)?.insert(pos, s)?,
                    Value::Container(child) => {
                        let fresh = self.list_at(now)?.insert_container(pos, child.kind())?;
                        self.restore_container(past, &child, &fresh, depth + 1)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn restore_map(
        &mut self,
        past: &DocState,
        then: &MapState,
        now: &ContainerId,
        depth: usize,
    ) -> Result<(), DocError> {
        let edits = match self.state.container(now) {
            Some(ContainerState::Map(current)) => key_edits(then, current),
            _ => key_edits(then, &MapState::default()),
        };
        for edit in edits {
            match edit {
                KeyEdit::Delete(key) => self.map_at(now)?.delete(&key)?,
                KeyEdit::Set(key, value) => self.map_at(now)?.set(&key, value)?,
                KeyEdit::InPlace(child) => {
                    self.restore_container(past, &child, &child, depth + 1)?
                }
                KeyEdit::Recreate(key, child) => {
                    let fresh = self.map_at(now)?.set_container(&key, child.kind())?;
                    self.restore_container(past, &child, &fresh, depth + 1)?;
                }
            }
        }
        Ok(())
    }
}

/// One edit that gives a map key its past value back.
enum KeyEdit {
    /// The key held nothing then.
    Delete(String),
    /// The key held this scalar then.
    Set(String, crate::doc::Scalar),
    /// The key still shows the container it showed then: restore its content.
    InPlace(ContainerId),
    /// The key showed this container then, something else now: a new container, filled with
    /// that content.
    Recreate(String, ContainerId),
}

/// The edits that turn map `current` into map `then` (winners; a key that shows the right
/// scalar but also holds concurrent values is left alone).
fn key_edits(then: &MapState, current: &MapState) -> Vec<KeyEdit> {
    let mut edits = Vec::new();
    for (key, values) in &current.entries {
        if !values.is_empty() && then.entries.get(key).is_none_or(|v| v.is_empty()) {
            edits.push(KeyEdit::Delete(key.clone()));
        }
    }
    for (key, entries) in &then.entries {
        let Some(winner) = entries.last() else {
            continue;
        };
        let held = current.entries.get(key).map_or(&[][..], |v| v.as_slice());
        let shown = held.last().map(|e| &e.value);
        match &winner.value {
            Value::Container(child) if shown == Some(&winner.value) => {
                edits.push(KeyEdit::InPlace(child.clone()))
            }
            Value::Scalar(_) if held.len() == 1 && shown == Some(&winner.value) => {}
            Value::Scalar(s) => edits.push(KeyEdit::Set(key.clone(), s.clone())),
            Value::Container(child) => edits.push(KeyEdit::Recreate(key.clone(), child.clone())),
        }
    }
    edits
}

/// How to turn a sequence's current visible elements into its past ones.
struct SeqPlan {
    /// Runs `(pos, len)` of current visible elements not visible then, in ascending order
    /// (applied from the last, so earlier positions hold).
    deletes: Vec<(usize, usize)>,
    /// After the deletes, runs `(start, end)` of past elements to insert again, in ascending
    /// order: each goes to position `start`, as the kept elements and the runs before it are in
    /// place by then.
    inserts: Vec<(usize, usize)>,
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
            inserts: runs_of(&kept_then, false).collect(),
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
