//! Formatting marks on texts, with the merge semantics of Peritext (Litt, Lim, Kleppmann, van
//! Hardenberg, "Peritext: A CRDT for Collaborative Rich Text Editing", CSCW 2022).
//!
//! # Representation: spans beside the characters, anchored to character ids
//!
//! A mark operation ([`Op::TextMark`]) names a key (`bold`, `link`), a
//! value (`None` removes the key: an unmark is a mark without a value, as Peritext's
//! `removeMark` and Automerge's `unmark`) and two [`Anchor`]s, each the gap just before or just
//! after one character, or the start or end of the text. Anchors name characters by id, so a
//! mark keeps its place under concurrent edits, and an anchor on a deleted character still
//! resolves: the sequence keeps tombstones with their ids and order. The marks of a text are kept
//! in a list beside its [`Sequence`], not inside it:
//!
//! - **Why not marker elements inside the sequence** (Automerge stores mark begin/end as
//!   sequence elements; Loro stores style anchors in its rich-text tree): they would make the
//!   FugueMax engine, its run-length tree, its UTF-16 index and its snapshot format aware of
//!   non-character elements, and every visible-position computation skip them. Kept apart,
//!   the sequence is untouched and plain-text documents pay nothing.
//! - **Why not per-character attributes**: a mark on a long range would cost a write per
//!   character and concurrent inserts inside it would miss it.
//!
//! # Expansion: how the anchors are chosen
//!
//! Whether text typed at the edge of a mark joins it is decided when the mark is made, by which
//! side of which character the anchors attach to (Peritext §3.3). A mark that expands after its
//! end (bold) ends *before* the character following the range (or at the end of the text), so
//! text inserted between the last marked character and that one falls inside; a mark that does
//! not (a link) ends *after* its last character, so such text falls outside. The start mirrors
//! this. Because the choice is recorded in the operation's anchors, replicas never need to agree
//! on a configuration to converge; the configuration only says how *local* operations pick
//! anchors. It is per document and per key ([`MarkExpand`], set with
//! [`Doc::set_mark_expand`](crate::Doc::set_mark_expand), as Loro's `configTextStyle`), rather
//! than an argument of every call, because every call for one key must agree: an unmark of bold
//! must expand like bold did, or text typed after an unbolded word comes out bold again
//! (automerge#577 was exactly this). Defaults: links, comments (keys starting with `comment`)
//! and Quill's block attributes on newlines (`header`, `list`, ...) do not expand; every other
//! key expands after its end (bold, italic, code, colour: what editors do).
//!
//! # Resolution: the highest operation wins, per character and key
//!
//! A character shows, for each key, the value of the mark operation with the highest
//! `(lamport, id)` among those whose range covers it (Peritext's rule: later operations
//! override earlier ones, concurrent ones are ordered by their ids). Ranges depend only on the
//! sequence order, which every replica shares, so replicas that applied the same operations show
//! the same formatting whatever order they arrived in. Marks of different keys never interact,
//! so overlapping bold, links and comments coexist.
//!
//! # Cost
//!
//! Each text's marks are indexed by document order (module `doc::marks_index`): the
//! formatting of a position, which every inserted run's event needs, costs O(log m log n) for
//! m marks, and a new mark finds the ranges it changed among the segments it covers, not among
//! all marks. So a keystroke with a listener, and each operation of a remote batch that
//! interleaves marks with inserts, cost O(log m log n) rather than O(m log n). Reading the whole
//! text as runs walks the index once: O(m log n + n), not characters times marks. Undoing a
//! mark (`inverse_ops`) sweeps its key's marks, O(m log n), once per undo.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::clock::Dot;
use crate::doc::change::Op;
use crate::doc::marks_index::{count_work, MarkIndex};
use crate::doc::value::{ContainerId, Scalar};
use crate::seq::{Sequence, TextContent};

/// The formatting of a run of text: key to value (keys without a value are absent).
pub type Attributes = BTreeMap<String, Scalar>;

/// Whether text inserted at the edges of a mark's range joins it; see the
/// module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkExpand {
    /// Neither edge grows (links, comments).
    None,
    /// Text inserted just before the start joins the mark.
    Before,
    /// Text inserted just after the end joins the mark (bold, italic).
    After,
    /// Both edges grow.
    Both,
}

impl MarkExpand {
    /// The default for `key`: links (`link`, `href`), comments (keys starting with
    /// `comment`) and Quill's block attributes, which sit on one newline and must never spread
    /// to the next line (`header`, `list`, `blockquote`, `code-block`, `align`, `indent`,
    /// `direction`), do not expand; every other key expands after its end.
    pub fn default_for(key: &str) -> MarkExpand {
        const FIXED: [&str; 9] = [
            "link",
            "href",
            "header",
            "list",
            "blockquote",
            "code-block",
            "align",
            "indent",
            "direction",
        ];
        if FIXED.contains(&key) || key.starts_with("comment") {
            MarkExpand::None
        } else {
            MarkExpand::After
        }
    }

    fn before(self) -> bool {
        matches!(self, MarkExpand::Before | MarkExpand::Both)
    }

    fn after(self) -> bool {
        matches!(self, MarkExpand::After | MarkExpand::Both)
    }
}

/// One edge of a mark's range: a gap of the text named by a neighbouring character's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Anchor {
    /// The start of the text (before every character, present or future).
    Start,
    /// Just before this character.
    Before(Dot),
    /// Just after this character.
    After(Dot),
    /// The end of the text (after every character, present or future).
    End,
}

impl Anchor {
    /// The character the anchor names, if any.
    pub fn dot(self) -> Option<Dot> {
        match self {
            Anchor::Before(d) | Anchor::After(d) => Some(d),
            Anchor::Start | Anchor::End => None,
        }
    }
}

/// A mark operation as a text keeps it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StoredMark {
    id: Dot,
    lamport: u64,
    pub(super) start: Anchor,
    pub(super) end: Anchor,
    pub(super) key: String,
    /// `None` removes the key (an unmark). A `Scalar::Null` value is stored as `None`.
    pub(super) value: Option<Scalar>,
}

impl StoredMark {
    /// Order of precedence: the highest wins.
    pub(super) fn rank(&self) -> (u64, Dot) {
        (self.lamport, self.id)
    }
}

/// The mark operations of one text, in the order they applied, and their index.
#[derive(Clone, Debug, Default)]
pub(crate) struct TextMarks {
    marks: Vec<StoredMark>,
    index: MarkIndex,
}

/// What [`MarkStore::of`] returns for a text without marks.
static NO_MARKS: TextMarks = TextMarks {
    marks: Vec::new(),
    index: MarkIndex::EMPTY,
};

impl TextMarks {
    /// The mark operations, in the order they applied.
    pub(crate) fn marks(&self) -> &[StoredMark] {
        &self.marks
    }

    /// The formatting of the character at visible position `pos` of `seq` (this text):
    /// O(log m log n).
    pub(crate) fn attributes_at(&self, seq: &Sequence<TextContent>, pos: usize) -> Attributes {
        let mut resolved = Vec::new();
        self.index
            .attributes_at(seq, &self.marks, pos, &mut resolved);
        to_attributes(&resolved)
    }

    /// The formatting of text just inserted at visible position `pos` of `seq` (this text):
    /// as [`attributes_at`](Self::attributes_at), O(log n) when in the segment of the previous
    /// insert.
    pub(crate) fn attributes_of_insert(
        &mut self,
        seq: &Sequence<TextContent>,
        pos: usize,
    ) -> Attributes {
        let mut resolved = Vec::new();
        self.index
            .attributes_of_insert(seq, &self.marks, pos, &mut resolved);
        to_attributes(&resolved)
    }

    /// Calls `f(start, end, attributes)` for the whole text `seq` as maximal runs of equal
    /// formatting, in order (nothing for an empty text). The attributes are borrowed, in key
    /// order: building maps is the caller's choice (the wasm binding builds JS objects directly;
    /// after a long session, allocating map nodes in a fragmented wasm heap cost more than the
    /// sweep).
    pub(crate) fn for_each_run<'m>(
        &'m self,
        seq: &Sequence<TextContent>,
        f: impl FnMut(usize, usize, &[(&'m str, &'m Scalar)]),
    ) {
        self.index.for_each_run(seq, &self.marks, f);
    }
}

/// The marks of every text and the local expansion configuration.
///
/// Vectors searched linearly rather than maps: few texts carry marks and few keys are
/// configured, and every map type instantiated costs kilobytes of the wasm package.
#[derive(Clone, Debug, Default)]
pub(crate) struct MarkStore {
    texts: Vec<(ContainerId, TextMarks)>,
    /// Keys whose expansion differs from [`MarkExpand::default_for`] (local configuration).
    expand: Vec<(String, MarkExpand)>,
}

impl MarkStore {
    /// How local marks of `key` choose their anchors.
    pub(crate) fn expand_of(&self, key: &str) -> MarkExpand {
        self.expand
            .iter()
            .find(|(k, _)| k == key)
            .map_or_else(|| MarkExpand::default_for(key), |(_, e)| *e)
    }

    /// Sets how local marks of `key` choose their anchors.
    pub(crate) fn set_expand(&mut self, key: &str, expand: MarkExpand) {
        match self.expand.iter_mut().find(|(k, _)| k == key) {
            Some((_, e)) => *e = expand,
            None => self.expand.push((key.to_owned(), expand)),
        }
    }

    /// The marks of text `obj` (empty when it has none).
    pub(crate) fn of(&self, obj: &ContainerId) -> &TextMarks {
        self.texts
            .iter()
            .find(|(id, _)| id == obj)
            .map_or(&NO_MARKS, |(_, marks)| marks)
    }

    /// The marks of text `obj`, if it has any, for the insert path's hint.
    pub(crate) fn of_mut(&mut self, obj: &ContainerId) -> Option<&mut TextMarks> {
        self.texts
            .iter_mut()
            .find(|(id, _)| id == obj)
            .map(|(_, marks)| marks)
    }

    /// Adds the mark operation `op` (with id `id` and Lamport time `lamport`) to its text, whose
    /// sequence is `seq`, and returns the visible ranges whose value of the mark's key it
    /// changed (maximal, in order; computed only when `ranges` is set). Other ops are ignored
    /// (returns `None`).
    pub(crate) fn add(
        &mut self,
        seq: &Sequence<TextContent>,
        id: Dot,
        lamport: u64,
        op: &Op,
        ranges: bool,
    ) -> Option<Vec<(usize, usize)>> {
        let Op::TextMark {
            obj,
            start,
            end,
            key,
            value,
        } = op
        else {
            return None;
        };
        let at = match self.texts.iter().position(|(id, _)| id == obj) {
            Some(at) => at,
            None => {
                self.texts.push((obj.clone(), TextMarks::default()));
                self.texts.len() - 1
            }
        };
        let text = &mut self.texts[at].1;
        text.marks.push(StoredMark {
            id,
            lamport,
            start: *start,
            end: *end,
            key: key.clone(),
            value: value.clone().filter(|v| *v != Scalar::Null),
        });
        let groups = text.index.add(seq, &text.marks, text.marks.len() - 1);
        Some(if ranges {
            text.index.visible_ranges(seq, &groups)
        } else {
            Vec::new()
        })
    }

    /// Rebuilds the marks from a history (loading a snapshot, whose states hold no marks),
    /// indexing them against the current sequences (`seq_of`): document order does not change
    /// with later edits, so this indexes them as applying them one by one did.
    pub(crate) fn rebuild<'s, 'o>(
        &mut self,
        ops: impl Iterator<Item = (Dot, u64, &'o Op)>,
        seq_of: impl Fn(&ContainerId) -> Option<&'s Sequence<TextContent>>,
    ) {
        self.texts.clear();
        let empty = Sequence::new();
        for (dot, lamport, op) in ops {
            if let Op::TextMark { obj, .. } = op {
                let seq = seq_of(obj).unwrap_or(&empty);
                self.add(seq, dot, lamport, op, false);
            }
        }
    }
}

/// The visible position of the gap `anchor` names, or `None` for an unknown character (only in
/// a corrupted snapshot: operations are checked before they apply). O(log n).
pub(super) fn boundary(seq: &Sequence<TextContent>, anchor: Anchor) -> Option<usize> {
    count_work(1);
    match anchor {
        Anchor::Start => Some(0),
        Anchor::End => Some(seq.len()),
        Anchor::Before(d) => seq.position_of(d).map(|(before, _)| before),
        Anchor::After(d) => seq
            .position_of(d)
            .map(|(before, visible)| before + usize::from(visible)),
    }
}

/// The visible range a mark covers now, if it covers any character.
pub(super) fn span(seq: &Sequence<TextContent>, mark: &StoredMark) -> Option<(usize, usize)> {
    let start = boundary(seq, mark.start)?;
    let end = boundary(seq, mark.end)?;
    (start < end).then_some((start, end))
}

/// The anchors of a local mark of `start..end` (`start < end <= seq.len()`) that expands as
/// `expand` says; `None` if a position has no character (never, given the bounds).
pub(crate) fn local_anchors(
    seq: &Sequence<TextContent>,
    start: usize,
    end: usize,
    expand: MarkExpand,
) -> Option<(Anchor, Anchor)> {
    let first = if !expand.before() {
        Anchor::Before(seq.id_at(start)?)
    } else if start == 0 {
        Anchor::Start
    } else {
        Anchor::After(seq.id_at(start - 1)?)
    };
    let last = if !expand.after() {
        Anchor::After(seq.id_at(end - 1)?)
    } else if end == seq.len() {
        Anchor::End
    } else {
        Anchor::Before(seq.id_at(end)?)
    };
    Some((first, last))
}

/// The marks of one key covering a segment: `(rank, index in the text's marks)`.
type Covering = Vec<((u64, Dot), usize)>;

/// Resolved attributes as an owned map.
pub(crate) fn to_attributes(resolved: &[(&str, &Scalar)]) -> Attributes {
    let mut out = Attributes::new();
    for (key, value) in resolved {
        out.insert((*key).to_owned(), (*value).clone());
    }
    out
}

/// The index of the highest-ranked mark of `set`.
fn winner(set: &Covering) -> Option<usize> {
    set.iter().max_by_key(|(rank, _)| *rank).map(|&(_, i)| i)
}

/// Every mark boundary as `(position, index << 1 | is_start)`, sorted by position. Packed in
/// `(u32, u32)` pairs (a sequence holds fewer than 2^32 elements) so that the sort is one the
/// sequence engine already instantiates: each sort type costs kilobytes of the wasm package.
fn boundaries(
    seq: &Sequence<TextContent>,
    marks: &[StoredMark],
    keep: impl Fn(&StoredMark) -> bool,
) -> Vec<(u32, u32)> {
    let mut events = Vec::new();
    let pack = |pos: usize| u32::try_from(pos).unwrap_or(u32::MAX);
    for (i, mark) in marks.iter().enumerate().filter(|(_, m)| keep(m)) {
        // A text holds far fewer than 2^31 marks (each costs bytes of input); any beyond are
        // left out rather than aliased.
        let Some(tag) = u32::try_from(i).ok().filter(|&i| i < 1 << 31) else {
            break;
        };
        if let Some((start, end)) = span(seq, mark) {
            events.push((pack(start), tag << 1 | 1));
            events.push((pack(end), tag << 1));
        }
    }
    events.sort_unstable();
    events
}

/// An event of [`boundaries`] unpacked: position, whether a mark starts there, which mark.
fn event(&(pos, tag): &(u32, u32)) -> (usize, bool, usize) {
    (pos as usize, tag & 1 == 1, (tag >> 1) as usize)
}

/// Calls `f(start, end, previous)` for the segments where mark `which` decides the value of its
/// key (it outranks every other covering mark of the key) and that value differs from
/// `previous`, the value the key would have without it. In order; adjacent segments may follow
/// each other.
fn for_each_decided<'m>(
    seq: &Sequence<TextContent>,
    marks: &'m [StoredMark],
    which: usize,
    mut f: impl FnMut(usize, usize, Option<&'m Scalar>),
) {
    let target = &marks[which];
    let Some((start, end)) = span(seq, target) else {
        return;
    };
    let events = boundaries(seq, marks, |m| m.key == target.key && m.id != target.id);
    let mut active: Covering = Vec::new();
    let mut next_event = events.iter().map(event).peekable();
    let mut pos = 0;
    while pos < end {
        while let Some((_, is_start, i)) = next_event.next_if(|e| e.0 <= pos) {
            if is_start {
                active.push((marks[i].rank(), i));
            } else {
                active.retain(|&(_, j)| j != i);
            }
        }
        let mut next = next_event.peek().map_or(end, |e| e.0.min(end));
        if pos < start {
            // A segment lies wholly before the mark's range or wholly inside it.
            next = next.min(start);
        } else {
            let previous = winner(&active).map(|i| &marks[i]);
            let decides = previous.is_none_or(|p| p.rank() < target.rank());
            let previous = previous.and_then(|p| p.value.as_ref());
            if decides && previous != target.value.as_ref() {
                f(pos, next, previous);
            }
        }
        pos = next;
    }
}

/// The operations that undo mark `id` of text `obj` now: where it still decides its key, a
/// mark back to the value the key would have without it (an unmark where none), anchored as
/// this replica's marks of that key are. Empty when it decides nothing any more (a later mark
/// overrode it everywhere) or is unknown.
pub(crate) fn inverse_ops(
    seq: &Sequence<TextContent>,
    store: &MarkStore,
    obj: &ContainerId,
    id: Dot,
) -> Vec<Op> {
    let marks = store.of(obj).marks();
    let Some(which) = marks.iter().position(|m| m.id == id) else {
        return Vec::new();
    };
    let mut ranges: Vec<(usize, usize, Option<&Scalar>)> = Vec::new();
    for_each_decided(seq, marks, which, |start, end, previous| {
        match ranges.last_mut() {
            Some(range) if range.1 == start && range.2 == previous => range.1 = end,
            _ => ranges.push((start, end, previous)),
        }
    });
    let key = &marks[which].key;
    let expand = store.expand_of(key);
    ranges
        .into_iter()
        .filter_map(|(start, end, previous)| {
            let (first, last) = local_anchors(seq, start, end, expand)?;
            Some(Op::TextMark {
                obj: obj.clone(),
                start: first,
                end: last,
                key: key.clone(),
                value: previous.cloned(),
            })
        })
        .collect()
}

/// The key and value of the last mark (the one [`MarkStore::add`] just added).
pub(crate) fn last_key_value(marks: &[StoredMark]) -> Option<(&str, Option<&Scalar>)> {
    marks.last().map(|m| (m.key.as_str(), m.value.as_ref()))
}
