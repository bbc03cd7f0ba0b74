//! Rich text on a [`TextRef`]: formatting marks (`mark`, `unmark`), the text read as a delta
//! (runs of text with their attributes, the Quill shape Yjs and Loro use), and deltas applied
//! as edits. The merge semantics are Peritext's; see [`marks`](super::marks).
//!
//! ```
//! use crdt_core::{DeltaOp, Doc, ReplicaId, Scalar};
//!
//! let mut doc = Doc::with_replica(ReplicaId::new(1));
//! let mut text = doc.text("body");
//! text.insert(0, "hello world").unwrap();
//! text.mark(0, 5, "bold", true).unwrap();
//! text.insert(5, "!").unwrap(); // bold expands after its end
//! let runs = text.to_delta();
//! assert_eq!(runs[0].insert, "hello!");
//! assert_eq!(runs[0].attributes.get("bold"), Some(&Scalar::Bool(true)));
//! assert_eq!(runs[1].insert, " world");
//!
//! // Unbold the first two characters, as an editor's delta.
//! text.apply_delta(&[DeltaOp::Retain {
//!     len: 2,
//!     attributes: vec![("bold".to_owned(), None)],
//! }])
//! .unwrap();
//! assert_eq!(text.to_delta()[0].insert, "he");
//! assert!(text.to_delta()[0].attributes.is_empty());
//! ```

use crate::doc::change::{Op, MAX_KEY_LEN};
use crate::doc::marks::{self, Attributes, MarkExpand};
use crate::doc::state::ContainerState;
use crate::doc::value::Scalar;
use crate::doc::{ChangeError, Doc, DocError, TextRef};
use crate::seq::SeqError;

/// A run of text with its formatting: one entry of [`TextRef::to_delta`].
#[derive(Clone, Debug, PartialEq)]
pub struct DeltaRun {
    /// The characters.
    pub insert: String,
    /// Their formatting (empty when none).
    pub attributes: Attributes,
}

/// One step of a delta applied by [`TextRef::apply_delta`], from a cursor that starts at 0.
#[derive(Clone, Debug, PartialEq)]
pub enum DeltaOp {
    /// Moves the cursor over `len` characters, setting each key of `attributes` on them
    /// (`None` removes the key).
    Retain {
        /// How far to move.
        len: usize,
        /// Keys to set (`Some`) or remove (`None`) on the retained characters, in order.
        attributes: Vec<(String, Option<Scalar>)>,
    },
    /// Inserts `text` at the cursor with exactly the formatting `attributes`, and moves the
    /// cursor past it.
    Insert {
        /// The characters.
        text: String,
        /// Their formatting: marks the place would give them and `attributes` does not name
        /// are removed from them.
        attributes: Attributes,
    },
    /// Deletes `len` characters at the cursor.
    Delete {
        /// How many.
        len: usize,
    },
}

impl Doc {
    /// Sets how local marks of `key` treat text inserted at their edges (this replica's
    /// configuration: it is recorded in each mark operation, so replicas need not agree). The
    /// default is [`MarkExpand::default_for`].
    pub fn set_mark_expand(&mut self, key: &str, expand: MarkExpand) {
        self.state.marks.set_expand(key, expand);
    }

    /// How local marks of `key` treat text inserted at their edges.
    pub fn mark_expand(&self, key: &str) -> MarkExpand {
        self.state.marks.expand_of(key)
    }
}

/// The error of a position past the end.
fn out_of_bounds(pos: usize, len: usize) -> DocError {
    DocError::Seq(SeqError::OutOfBounds { pos, len })
}

impl TextRef<'_> {
    /// Sets formatting `key` to `value` on the characters `start..end` (scalar positions).
    /// A `Scalar::Null` value removes the key, as [`unmark`](Self::unmark).
    pub fn mark(
        &mut self,
        start: usize,
        end: usize,
        key: &str,
        value: impl Into<Scalar>,
    ) -> Result<(), DocError> {
        let value = Some(value.into()).filter(|v| *v != Scalar::Null);
        self.write_mark(start, end, key, value)
    }

    /// Removes formatting `key` from the characters `start..end` (scalar positions).
    pub fn unmark(&mut self, start: usize, end: usize, key: &str) -> Result<(), DocError> {
        self.write_mark(start, end, key, None)
    }

    /// [`mark`](Self::mark) with UTF-16 offsets.
    pub fn mark_utf16(
        &mut self,
        start: usize,
        end: usize,
        key: &str,
        value: impl Into<Scalar>,
    ) -> Result<(), DocError> {
        let (start, end) = self.utf16_range(start, end)?;
        self.mark(start, end, key, value)
    }

    /// [`unmark`](Self::unmark) with UTF-16 offsets.
    pub fn unmark_utf16(&mut self, start: usize, end: usize, key: &str) -> Result<(), DocError> {
        let (start, end) = self.utf16_range(start, end)?;
        self.unmark(start, end, key)
    }

    fn utf16_range(&self, start: usize, end: usize) -> Result<(usize, usize), DocError> {
        Ok((self.utf16_to_pos(start)?, self.utf16_to_pos(end)?))
    }

    /// Records a local mark operation on `start..end` (no-op when empty).
    fn write_mark(
        &mut self,
        start: usize,
        end: usize,
        key: &str,
        value: Option<Scalar>,
    ) -> Result<(), DocError> {
        if key.len() > MAX_KEY_LEN {
            return Err(DocError::InvalidChange(ChangeError::BadOp {
                id: crate::clock::SeqRange {
                    replica: self.doc.replica,
                    start: 0,
                    end: 0,
                },
                index: 0,
                reason: "mark key too long",
            }));
        }
        let expand = self.doc.state.marks.expand_of(key);
        let ContainerState::Text(seq) = self.doc.state.container_mut(&self.id)? else {
            return Err(DocError::WrongKind(self.id.clone()));
        };
        let len = seq.len();
        if start > end || end > len {
            return Err(out_of_bounds(end.max(start), len));
        }
        if start == end {
            return Ok(());
        }
        let (first, last) =
            marks::local_anchors(seq, start, end, expand).ok_or_else(|| out_of_bounds(end, len))?;
        let op = Op::TextMark {
            obj: self.id.clone(),
            start: first,
            end: last,
            key: key.to_owned(),
            value,
        };
        let (dot, lamport) = self.doc.allocate(1);
        let mut patches = Vec::new();
        self.doc.state.apply_op(dot, lamport, &op, &mut patches)?;
        self.doc.record(op, patches);
        Ok(())
    }

    /// The formatting of the character at scalar position `pos` (empty past the end).
    pub fn attributes_at(&self, pos: usize) -> Attributes {
        match self.doc.state.container(&self.id) {
            Some(ContainerState::Text(seq)) if pos < seq.len() => {
                self.doc.state.marks.of(&self.id).attributes_at(seq, pos)
            }
            _ => Attributes::new(),
        }
    }

    /// The text as runs of equal formatting, in order (empty for an empty text). One sweep over
    /// the marks' boundaries, not characters times marks.
    pub fn to_delta(&self) -> Vec<DeltaRun> {
        let mut out = Vec::new();
        self.for_each_run(|insert, attributes| {
            out.push(DeltaRun {
                insert,
                attributes: marks::to_attributes(attributes),
            })
        });
        out
    }

    /// [`to_delta`](Self::to_delta) without building maps: calls `f(text, attributes)` per run,
    /// with the attributes borrowed as `(key, value)` pairs in key order.
    pub fn for_each_run(&self, mut f: impl FnMut(String, &[(&str, &Scalar)])) {
        let Some(ContainerState::Text(seq)) = self.doc.state.container(&self.id) else {
            return;
        };
        self.doc
            .state
            .marks
            .of(&self.id)
            .for_each_run(seq, |start, end, attributes| {
                f(seq.slice(start, end).into_string(), attributes)
            });
    }

    /// Applies a delta whose lengths count Unicode scalar values.
    ///
    /// Checked before anything changes: a retain or delete past the end is refused whole.
    pub fn apply_delta(&mut self, delta: &[DeltaOp]) -> Result<(), DocError> {
        self.apply_delta_in(delta, false)
    }

    /// Applies a delta whose lengths count UTF-16 code units (JS strings, editors).
    ///
    /// Checked before anything changes: a retain or delete past the end is refused whole. A
    /// length that ends inside a surrogate pair is refused when reached, after the steps
    /// before it applied (they stay in the open transaction).
    pub fn apply_delta_utf16(&mut self, delta: &[DeltaOp]) -> Result<(), DocError> {
        self.apply_delta_in(delta, true)
    }

    fn apply_delta_in(&mut self, delta: &[DeltaOp], utf16: bool) -> Result<(), DocError> {
        let units = |s: &str| {
            if utf16 {
                s.encode_utf16().count()
            } else {
                s.chars().count()
            }
        };
        let length = if utf16 { self.len_utf16() } else { self.len() };
        check_delta_fits(delta, length, units)?;
        let mut cursor = 0;
        for op in delta {
            match op {
                DeltaOp::Retain { len, attributes } => {
                    let end = self.advance(cursor, *len, utf16)?;
                    for (key, value) in attributes {
                        match value {
                            Some(v) => self.mark(cursor, end, key, v.clone())?,
                            None => self.unmark(cursor, end, key)?,
                        }
                    }
                    cursor = end;
                }
                DeltaOp::Insert { text, attributes } => {
                    self.insert(cursor, text)?;
                    let end = cursor + text.chars().count();
                    self.set_exact_attributes(cursor, end, attributes)?;
                    cursor = end;
                }
                DeltaOp::Delete { len } => {
                    let end = self.advance(cursor, *len, utf16)?;
                    self.delete(cursor, end - cursor)?;
                }
            }
        }
        Ok(())
    }

    /// Gives the text the formatting `target` (runs `(start, end, attributes)` covering the
    /// whole text, whose characters are the same as when `target` was read): a mark or unmark
    /// for each range and key that differs, adjacent ranges joined. What restoring a past
    /// version does after the characters are back.
    pub(crate) fn set_formatting(
        &mut self,
        target: &[(usize, usize, Attributes)],
    ) -> Result<(), DocError> {
        let mut current: Vec<(usize, usize, Attributes)> = Vec::new();
        if let Some(ContainerState::Text(seq)) = self.doc.state.container(&self.id) {
            let text_marks = self.doc.state.marks.of(&self.id);
            text_marks.for_each_run(seq, |s, e, a| current.push((s, e, marks::to_attributes(a))));
        }
        // (key, value, start, end) to write, joined when adjacent and equal.
        let mut edits: Vec<(String, Option<Scalar>, usize, usize)> = Vec::new();
        let mut push = |key: &str, value: Option<&Scalar>, start: usize, end: usize| {
            let joined = edits
                .iter_mut()
                .rev()
                .find(|(k, v, _, e)| k == key && v.as_ref() == value && *e == start);
            match joined {
                Some(edit) => edit.3 = end,
                None => edits.push((key.to_owned(), value.cloned(), start, end)),
            }
        };
        let (mut i, mut j, mut pos) = (0, 0, 0);
        while i < target.len() && j < current.len() {
            let (want, have) = (&target[i], &current[j]);
            let end = want.1.min(have.1);
            for (key, value) in &want.2 {
                if have.2.get(key) != Some(value) {
                    push(key, Some(value), pos, end);
                }
            }
            for key in have.2.keys().filter(|k| !want.2.contains_key(*k)) {
                push(key, None, pos, end);
            }
            pos = end;
            i += usize::from(want.1 == end);
            j += usize::from(have.1 == end);
        }
        for (key, value, start, end) in edits {
            self.write_mark(start, end, &key, value)?;
        }
        Ok(())
    }

    /// The scalar position `len` units after scalar position `pos`.
    fn advance(&self, pos: usize, len: usize, utf16: bool) -> Result<usize, DocError> {
        if !utf16 {
            return Ok(pos + len);
        }
        let from = self.pos_to_utf16(pos)?;
        self.utf16_to_pos(from + len)
    }

    /// Gives the fresh characters `start..end` (one inserted run, so uniformly formatted)
    /// exactly `attributes`.
    fn set_exact_attributes(
        &mut self,
        start: usize,
        end: usize,
        attributes: &Attributes,
    ) -> Result<(), DocError> {
        if start == end {
            return Ok(());
        }
        let current = self.attributes_at(start);
        for (key, value) in attributes {
            if current.get(key) != Some(value) {
                self.mark(start, end, key, value.clone())?;
            }
        }
        for key in current.keys().filter(|k| !attributes.contains_key(*k)) {
            self.unmark(start, end, key)?;
        }
        Ok(())
    }
}

/// Checks that every retain and delete of `delta` stays inside the text, starting from a text
/// of `length` units, where `units` measures an inserted string.
fn check_delta_fits(
    delta: &[DeltaOp],
    mut length: usize,
    units: impl Fn(&str) -> usize,
) -> Result<(), DocError> {
    let mut cursor: usize = 0;
    for op in delta {
        match op {
            DeltaOp::Retain { len, .. } | DeltaOp::Delete { len } => {
                let end = cursor
                    .checked_add(*len)
                    .filter(|&e| e <= length)
                    .ok_or_else(|| out_of_bounds(cursor.saturating_add(*len), length))?;
                if matches!(op, DeltaOp::Delete { .. }) {
                    length -= len;
                } else {
                    cursor = end;
                }
            }
            DeltaOp::Insert { text, .. } => {
                let n = units(text);
                length += n;
                cursor += n;
            }
        }
    }
    Ok(())
}
