//! Typed handles to one container of a [`Doc`]: [`TextRef`], [`MapRef`], [`ListRef`],
//! [`CounterRef`]. Each borrows the document mutably, applies local operations at once and adds
//! them to the open transaction (see [`Doc::commit`]).

use crate::clock::Dot;
use crate::doc::change::{NewValue, Op, MAX_KEY_LEN};
use crate::doc::event::PatchAction;
use crate::doc::state::{ContainerState, ParentKey, ParentLink};
use crate::doc::value::{ContainerId, ContainerKind, Scalar, Value};
use crate::doc::{allocate, Doc, DocError};
use crate::seq::{Assoc, Cursor, ListContent, SeqError, SeqOp, Sequence, TextContent};

impl Doc {
    fn text_seq(&self, id: &ContainerId) -> Option<&Sequence<TextContent>> {
        match self.state.container(id) {
            Some(ContainerState::Text(s)) => Some(s),
            _ => None,
        }
    }

    fn list_seq(&self, id: &ContainerId) -> Option<&Sequence<ListContent<Value>>> {
        match self.state.container(id) {
            Some(ContainerState::List(s)) => Some(s),
            _ => None,
        }
    }
}

fn out_of_bounds(pos: usize, len: usize) -> DocError {
    DocError::Seq(SeqError::OutOfBounds { pos, len })
}

/// A text container: Unicode scalar positions, with UTF-16 conversions for JS and editors.
pub struct TextRef<'a> {
    pub(super) doc: &'a mut Doc,
    pub(super) id: ContainerId,
}

impl<'a> TextRef<'a> {
    pub(crate) fn new(doc: &'a mut Doc, id: ContainerId) -> Self {
        TextRef { doc, id }
    }

    /// The container's id.
    pub fn id(&self) -> &ContainerId {
        &self.id
    }

    /// Length in Unicode scalar values.
    pub fn len(&self) -> usize {
        self.doc.text_seq(&self.id).map_or(0, |s| s.len())
    }

    /// True when the text is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Length in UTF-16 code units.
    pub fn len_utf16(&self) -> usize {
        self.doc.text_seq(&self.id).map_or(0, |s| s.utf16_len())
    }

    /// Inserts `text` at scalar position `pos`.
    pub fn insert(&mut self, pos: usize, text: &str) -> Result<(), DocError> {
        let doc = &mut *self.doc;
        let wanted = doc.state.patches_wanted;
        // One lookup of the container for the bounds check and the insert.
        let ContainerState::Text(seq) = doc.state.container_mut(&self.id)? else {
            return Err(DocError::WrongKind(self.id.clone()));
        };
        if pos > seq.len() {
            return Err(out_of_bounds(pos, seq.len()));
        }
        if text.is_empty() {
            return Ok(());
        }
        let chars = text.chars().count() as u64;
        let (dot, _) = allocate(&mut doc.txn, &mut doc.log, doc.replica, chars);
        // `allocate` opened the transaction.
        let Some(txn) = doc.txn.as_mut() else {
            return Ok(());
        };
        let origins = seq.local_insert_ref(pos, txn.ops.content_of(text), dot)?;
        if wanted {
            let patch = PatchAction::TextInsert {
                index: pos,
                index_utf16: crate::doc::state::utf16_of(seq, pos),
                text: text.to_owned(),
                attributes: Default::default(),
            };
            let mut patches = vec![(self.id.clone(), patch)];
            doc.state.fill_insert_attributes(&self.id, &mut patches);
            txn.patches.extend(patches);
        }
        txn.ops
            .text_insert(&mut doc.log, doc.replica, &self.id, origins, text, chars);
        Ok(())
    }

    /// Deletes `len` scalar values from `pos`.
    pub fn delete(&mut self, pos: usize, len: usize) -> Result<(), DocError> {
        let doc = &mut *self.doc;
        let wanted = doc.state.patches_wanted;
        let ContainerState::Text(seq) = doc.state.container_mut(&self.id)? else {
            return Err(DocError::WrongKind(self.id.clone()));
        };
        let total = seq.len();
        if pos.checked_add(len).is_none_or(|end| end > total) {
            return Err(out_of_bounds(pos.saturating_add(len), total));
        }
        if len == 0 {
            return Ok(());
        }
        // Measured before the delete: afterwards the characters are gone.
        let utf16_range = wanted.then(|| {
            let start = crate::doc::state::utf16_of(seq, pos);
            (start, crate::doc::state::utf16_of(seq, pos + len) - start)
        });
        // Each run of consecutive ids deleted is one op of one counter, as `local_delete`
        // makes them; recorded as the engine reports the runs.
        let (txn, log, replica, id) = (&mut doc.txn, &mut doc.log, doc.replica, &self.id);
        let mut run: Option<(Dot, u64)> = None;
        let mut record = |target: Dot, n: u64| {
            allocate(txn, log, replica, 1);
            if let Some(txn) = txn.as_mut() {
                txn.ops.text_delete(log, replica, id, target, n);
            }
        };
        seq.local_delete_with(pos, len, |target, n| match &mut run {
            Some((t, l)) if t.replica == target.replica && t.counter + *l == target.counter => {
                *l += n;
            }
            _ => {
                if let Some((t, l)) = run.replace((target, n)) {
                    record(t, l);
                }
            }
        })?;
        if let Some((t, l)) = run {
            record(t, l);
        }
        if let (Some((index_utf16, len_utf16)), Some(txn)) = (utf16_range, doc.txn.as_mut()) {
            let action = PatchAction::TextDelete {
                index: pos,
                index_utf16,
                len,
                len_utf16,
            };
            txn.patches.push((self.id.clone(), action));
        }
        Ok(())
    }

    /// Inserts `text` at UTF-16 offset `offset`.
    pub fn insert_utf16(&mut self, offset: usize, text: &str) -> Result<(), DocError> {
        let pos = self.utf16_to_pos(offset)?;
        self.insert(pos, text)
    }

    /// Deletes the UTF-16 range `offset..offset + len`.
    pub fn delete_utf16(&mut self, offset: usize, len: usize) -> Result<(), DocError> {
        let start = self.utf16_to_pos(offset)?;
        let end = self.utf16_to_pos(offset.saturating_add(len))?;
        self.delete(start, end - start)
    }

    /// Scalar position of a UTF-16 offset.
    pub fn utf16_to_pos(&self, offset: usize) -> Result<usize, DocError> {
        match self.doc.text_seq(&self.id) {
            Some(s) => Ok(s.utf16_to_pos(offset)?),
            None if offset == 0 => Ok(0),
            None => Err(out_of_bounds(offset, 0)),
        }
    }

    /// UTF-16 offset of a scalar position.
    pub fn pos_to_utf16(&self, pos: usize) -> Result<usize, DocError> {
        match self.doc.text_seq(&self.id) {
            Some(s) => Ok(s.pos_to_utf16(pos)?),
            None if pos == 0 => Ok(0),
            None => Err(out_of_bounds(pos, 0)),
        }
    }

    /// The characters `start..end` (scalar positions).
    pub fn slice(&self, start: usize, end: usize) -> Result<String, DocError> {
        match self.doc.text_seq(&self.id) {
            Some(s) if start <= end && end <= s.len() => Ok(s.slice(start, end).into_string()),
            None if start == 0 && end == 0 => Ok(String::new()),
            _ => Err(out_of_bounds(end, self.len())),
        }
    }

    /// A stable cursor at `pos`, anchored to an element so that it stays in place under
    /// concurrent edits.
    pub fn cursor(&self, pos: usize, assoc: Assoc) -> Cursor {
        match self.doc.text_seq(&self.id) {
            Some(s) => s.cursor_at(pos, assoc),
            None => Sequence::<TextContent>::new().cursor_at(pos, assoc),
        }
    }

    /// Where `cursor` is now (scalar position), or `None` if it belongs to another text.
    pub fn resolve_cursor(&self, cursor: &Cursor) -> Option<usize> {
        match self.doc.text_seq(&self.id) {
            Some(s) => s.resolve_cursor(cursor),
            None => Sequence::<TextContent>::new().resolve_cursor(cursor),
        }
    }
}

impl std::fmt::Display for TextRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.doc.text_seq(&self.id) {
            Some(s) => f.write_str(s.to_content().as_str()),
            None => Ok(()),
        }
    }
}

/// A map container: string keys, concurrent writes kept as conflicts with one winner.
pub struct MapRef<'a> {
    doc: &'a mut Doc,
    id: ContainerId,
}

impl<'a> MapRef<'a> {
    pub(crate) fn new(doc: &'a mut Doc, id: ContainerId) -> Self {
        MapRef { doc, id }
    }

    /// The container's id.
    pub fn id(&self) -> &ContainerId {
        &self.id
    }

    fn write(
        &mut self,
        key: &str,
        value: Option<NewValue>,
    ) -> Result<Option<ContainerId>, DocError> {
        if key.len() > MAX_KEY_LEN {
            return Err(DocError::InvalidChange(crate::doc::ChangeError::BadOp {
                id: crate::clock::SeqRange {
                    replica: self.doc.replica,
                    start: 0,
                    end: 0,
                },
                index: 0,
                reason: "map key too long",
            }));
        }
        if !matches!(
            self.doc.state.container_mut(&self.id)?,
            ContainerState::Map(_)
        ) {
            return Err(DocError::WrongKind(self.id.clone()));
        }
        let pred = self.doc.state.map_pred(&self.id, key);
        if value.is_none() && pred.is_empty() {
            return Ok(None);
        }
        let (dot, lamport) = self.doc.allocate(1);
        let created = match &value {
            Some(NewValue::Container(kind)) => Some(ContainerId::Created {
                id: dot,
                kind: *kind,
            }),
            _ => None,
        };
        let op = match value {
            Some(value) => Op::MapSet {
                obj: self.id.clone(),
                key: key.to_owned(),
                value,
                pred,
            },
            None => Op::MapDelete {
                obj: self.id.clone(),
                key: key.to_owned(),
                pred,
            },
        };
        let mut patches = Vec::new();
        self.doc.state.apply_op(dot, lamport, &op, &mut patches)?;
        self.doc.record(op, patches);
        Ok(created)
    }

    /// Sets `key` to a scalar value.
    pub fn set(&mut self, key: &str, value: impl Into<Scalar>) -> Result<(), DocError> {
        self.write(key, Some(NewValue::Scalar(value.into())))
            .map(|_| ())
    }

    /// Sets `key` to a new empty container of `kind` and returns its id.
    pub fn set_container(
        &mut self,
        key: &str,
        kind: ContainerKind,
    ) -> Result<ContainerId, DocError> {
        self.write(key, Some(NewValue::Container(kind)))?
            .ok_or(DocError::WrongKind(self.id.clone()))
    }

    /// Removes `key` (the values this replica has seen; a concurrent write survives).
    pub fn delete(&mut self, key: &str) -> Result<(), DocError> {
        self.write(key, None).map(|_| ())
    }

    fn state(&self) -> Option<&crate::doc::state::MapState> {
        match self.doc.state.container(&self.id) {
            Some(ContainerState::Map(m)) => Some(m),
            _ => None,
        }
    }

    /// The winning value of `key`.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.state()?
            .entries
            .get(key)?
            .last()
            .map(|e| e.value.clone())
    }

    /// Every concurrent value of `key`, the winner last.
    pub fn get_all(&self, key: &str) -> Vec<Value> {
        self.state()
            .and_then(|m| m.entries.get(key))
            .map(|v| v.iter().map(|e| e.value.clone()).collect())
            .unwrap_or_default()
    }

    /// The keys that hold a value, in order.
    pub fn keys(&self) -> Vec<String> {
        self.state()
            .map(|m| m.entries.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Number of keys that hold a value.
    pub fn len(&self) -> usize {
        self.state().map_or(0, |m| m.entries.len())
    }

    /// True when no key holds a value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A list container of values and nested containers.
pub struct ListRef<'a> {
    doc: &'a mut Doc,
    id: ContainerId,
}

impl<'a> ListRef<'a> {
    pub(crate) fn new(doc: &'a mut Doc, id: ContainerId) -> Self {
        ListRef { doc, id }
    }

    /// The container's id.
    pub fn id(&self) -> &ContainerId {
        &self.id
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.doc.list_seq(&self.id).map_or(0, |s| s.len())
    }

    /// True when the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert_values(
        &mut self,
        pos: usize,
        values: Vec<NewValue>,
    ) -> Result<Vec<ContainerId>, DocError> {
        let len = self.len();
        if pos > len {
            return Err(out_of_bounds(pos, len));
        }
        if values.is_empty() {
            return Ok(Vec::new());
        }
        if !matches!(
            self.doc.state.container_mut(&self.id)?,
            ContainerState::List(_)
        ) {
            return Err(DocError::WrongKind(self.id.clone()));
        }
        let (dot, _) = self.doc.allocate(values.len() as u64);
        let mut created = Vec::new();
        let stored: Vec<Value> = values
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                NewValue::Scalar(s) => Value::Scalar(s),
                NewValue::Container(kind) => {
                    let id = ContainerId::Created {
                        id: crate::clock::Dot::new(dot.replica, dot.counter + i as u64),
                        kind,
                    };
                    created.push(id.clone());
                    Value::Container(id)
                }
            })
            .collect();
        for child in &created {
            if let ContainerId::Created { id, .. } = child {
                self.doc.state.create_child(
                    child.clone(),
                    ParentLink {
                        parent: self.id.clone(),
                        key: ParentKey::List(*id),
                    },
                );
            }
        }
        let wanted = self.doc.state.patches_wanted;
        let ContainerState::List(seq) = self.doc.state.container_mut(&self.id)? else {
            return Err(DocError::WrongKind(self.id.clone()));
        };
        let patches = if wanted {
            let action = PatchAction::ListInsert {
                index: pos,
                values: stored.clone(),
            };
            vec![(self.id.clone(), action)]
        } else {
            Vec::new()
        };
        let op = seq.local_insert(pos, ListContent(stored), dot)?;
        self.doc.record(
            Op::List {
                obj: self.id.clone(),
                op,
            },
            patches,
        );
        Ok(created)
    }

    /// Inserts a scalar at `pos`.
    pub fn insert(&mut self, pos: usize, value: impl Into<Scalar>) -> Result<(), DocError> {
        self.insert_values(pos, vec![NewValue::Scalar(value.into())])
            .map(|_| ())
    }

    /// Inserts several scalars at `pos`, in order.
    pub fn insert_many<I, T>(&mut self, pos: usize, values: I) -> Result<(), DocError>
    where
        I: IntoIterator<Item = T>,
        T: Into<Scalar>,
    {
        let values = values
            .into_iter()
            .map(|v| NewValue::Scalar(v.into()))
            .collect();
        self.insert_values(pos, values).map(|_| ())
    }

    /// Appends a scalar.
    pub fn push(&mut self, value: impl Into<Scalar>) -> Result<(), DocError> {
        let len = self.len();
        self.insert(len, value)
    }

    /// Inserts a new empty container of `kind` at `pos` and returns its id.
    pub fn insert_container(
        &mut self,
        pos: usize,
        kind: ContainerKind,
    ) -> Result<ContainerId, DocError> {
        let mut created = self.insert_values(pos, vec![NewValue::Container(kind)])?;
        created.pop().ok_or(DocError::WrongKind(self.id.clone()))
    }

    /// Appends a new empty container of `kind` and returns its id.
    pub fn push_container(&mut self, kind: ContainerKind) -> Result<ContainerId, DocError> {
        let len = self.len();
        self.insert_container(len, kind)
    }

    /// Deletes `len` elements from `pos`.
    pub fn delete(&mut self, pos: usize, len: usize) -> Result<(), DocError> {
        let total = self.len();
        if pos.checked_add(len).is_none_or(|end| end > total) {
            return Err(out_of_bounds(pos.saturating_add(len), total));
        }
        if len == 0 {
            return Ok(());
        }
        let wanted = self.doc.state.patches_wanted;
        let ContainerState::List(seq) = self.doc.state.container_mut(&self.id)? else {
            return Err(DocError::WrongKind(self.id.clone()));
        };
        let ops: Vec<SeqOp<ListContent<Value>>> = seq.local_delete(pos, len)?;
        let mut patches = if wanted {
            vec![(self.id.clone(), PatchAction::ListDelete { index: pos, len })]
        } else {
            Vec::new()
        };
        for op in ops {
            self.doc.allocate(1);
            self.doc.record(
                Op::List {
                    obj: self.id.clone(),
                    op,
                },
                std::mem::take(&mut patches),
            );
        }
        Ok(())
    }

    /// The element at `pos`.
    pub fn get(&self, pos: usize) -> Option<Value> {
        let seq = self.doc.list_seq(&self.id)?;
        if pos >= seq.len() {
            return None;
        }
        seq.slice(pos, pos + 1).0.pop()
    }

    /// All elements, in order.
    pub fn values(&self) -> Vec<Value> {
        self.doc
            .list_seq(&self.id)
            .map(|s| s.to_content().0)
            .unwrap_or_default()
    }

    /// A stable cursor at `pos` (see [`TextRef::cursor`]).
    pub fn cursor(&self, pos: usize, assoc: Assoc) -> Cursor {
        match self.doc.list_seq(&self.id) {
            Some(s) => s.cursor_at(pos, assoc),
            None => Sequence::<ListContent<Value>>::new().cursor_at(pos, assoc),
        }
    }

    /// Where `cursor` is now, or `None`.
    pub fn resolve_cursor(&self, cursor: &Cursor) -> Option<usize> {
        self.doc
            .list_seq(&self.id)
            .and_then(|s| s.resolve_cursor(cursor))
    }
}

/// A counter container: concurrent increments add up.
pub struct CounterRef<'a> {
    doc: &'a mut Doc,
    id: ContainerId,
}

impl<'a> CounterRef<'a> {
    pub(crate) fn new(doc: &'a mut Doc, id: ContainerId) -> Self {
        CounterRef { doc, id }
    }

    /// The container's id.
    pub fn id(&self) -> &ContainerId {
        &self.id
    }

    /// Adds `delta` (negative to decrement).
    pub fn increment(&mut self, delta: i64) -> Result<(), DocError> {
        if !matches!(
            self.doc.state.container_mut(&self.id)?,
            ContainerState::Counter(_)
        ) {
            return Err(DocError::WrongKind(self.id.clone()));
        }
        let (dot, lamport) = self.doc.allocate(1);
        let op = Op::CounterAdd {
            obj: self.id.clone(),
            delta,
        };
        let mut patches = Vec::new();
        self.doc.state.apply_op(dot, lamport, &op, &mut patches)?;
        self.doc.record(op, patches);
        Ok(())
    }

    /// Subtracts `delta`.
    pub fn decrement(&mut self, delta: i64) -> Result<(), DocError> {
        self.increment(delta.wrapping_neg())
    }

    /// The current value.
    pub fn value(&self) -> i64 {
        match self.doc.state.container(&self.id) {
            Some(ContainerState::Counter(n)) => *n,
            _ => 0,
        }
    }
}

impl ContainerKind {
    /// True for the kinds stored as sequences.
    pub fn is_sequence(self) -> bool {
        matches!(self, ContainerKind::List | ContainerKind::Text)
    }
}
