//! Formatting marks on texts, with the merge semantics of Peritext (Litt, Lim, Kleppmann, van
//! Hardenberg, "Peritext: A CRDT for Collaborative Rich Text Editing", CSCW 2022).
//!
//! # Representation: spans beside the characters, anchored to character ids
//!
//! A mark operation ([`Op::TextMark`](crate::doc::Op::TextMark)) names a key (`bold`, `link`), a
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
//! Reading the whole text as runs ([`for_each_run`]) resolves every mark's two anchors (O(log n)
//! each) and sweeps the sorted boundaries once: O(m log n + m log m + n) for m marks, not
//! characters times marks. Events need the formatting of inserted text: a local insert resolves
//! it at once (O(m log n), nothing for a text without marks); a remote batch resolves it for all
//! its inserts with one sweep when it ends, and before each of its mark operations on that text
//! ([`fill_deferred`]), so a batch that interleaves k marks with inserts costs O(k m log n).
//! Nothing of this runs without a subscriber.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::clock::Dot;
use crate::doc::change::{Change, Op};
use crate::doc::value::{ContainerId, Scalar};
use crate::seq::{Sequence, TextContent};

/// The formatting of a run of text: key to value (keys without a value are absent).
pub type Attributes = BTreeMap<String, Scalar>;

/// Whether text inserted at the edges of a mark's range joins it; see the
/// [module docs](self#expansion-how-the-anchors-are-chosen).
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
    start: Anchor,
    end: Anchor,
    key: String,
    /// `None` removes the key (an unmark). A `Scalar::Null` value is stored as `None`.
    value: Option<Scalar>,
}

impl StoredMark {
    /// Order of precedence: the highest wins.
    fn rank(&self) -> (u64, Dot) {
        (self.lamport, self.id)
    }
}

/// The marks of every text and the local expansion configuration.
///
/// Vectors searched linearly rather than maps: few texts carry marks and few keys are
/// configured, and every map type instantiated costs kilobytes of the wasm package.
#[derive(Clone, Debug, Default)]
pub(crate) struct MarkStore {
    texts: Vec<(ContainerId, Vec<StoredMark>)>,
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
    pub(crate) fn of(&self, obj: &ContainerId) -> &[StoredMark] {
        self.texts
            .iter()
            .find(|(id, _)| id == obj)
            .map_or(&[], |(_, marks)| marks.as_slice())
    }

    /// Adds the mark operation `op` (with id `id` and Lamport time `lamport`) to its text and
    /// returns the text's marks, the new one last. Other ops are ignored (returns `None`).
    pub(crate) fn add(&mut self, id: Dot, lamport: u64, op: &Op) -> Option<&[StoredMark]> {
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
                self.texts.push((obj.clone(), Vec::new()));
                self.texts.len() - 1
            }
        };
        let marks = &mut self.texts[at].1;
        marks.push(StoredMark {
            id,
            lamport,
            start: *start,
            end: *end,
            key: key.clone(),
            value: value.clone().filter(|v| *v != Scalar::Null),
        });
        Some(marks)
    }

    /// Rebuilds the marks from a history (loading a snapshot, whose states hold no marks).
    pub(crate) fn rebuild(&mut self, changes: &[Change]) {
        self.texts.clear();
        for change in changes {
            for (dot, op) in change.ops_with_dots() {
                self.add(dot, change.lamport_of(dot), op);
            }
        }
    }
}

/// The visible position of the gap `anchor` names, or `None` for an unknown character (only in
/// a corrupted snapshot: operations are checked before they apply).
fn boundary(seq: &Sequence<TextContent>, anchor: Anchor) -> Option<usize> {
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
fn span(seq: &Sequence<TextContent>, mark: &StoredMark) -> Option<(usize, usize)> {
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

/// The marks covering the characters between two boundaries: per key (sorted by key), the
/// covering operations as `(rank, index in the text's marks)`. Few keys and few overlapping
/// marks: vectors.
#[derive(Default)]
struct Active<'a> {
    keys: Vec<(&'a str, Covering)>,
}

/// The marks covering a segment for one key: `(rank, index in the text's marks)`.
type Covering = Vec<((u64, Dot), usize)>;

impl<'a> Active<'a> {
    fn add(&mut self, marks: &'a [StoredMark], i: usize) {
        let m = &marks[i];
        let at = self.keys.partition_point(|(k, _)| *k < m.key.as_str());
        match self.keys.get_mut(at) {
            Some((k, set)) if *k == m.key => set.push((m.rank(), i)),
            _ => self.keys.insert(at, (&m.key, vec![(m.rank(), i)])),
        }
    }

    fn remove(&mut self, marks: &'a [StoredMark], i: usize) {
        let key = marks[i].key.as_str();
        if let Some(k) = self.keys.iter().position(|(k, _)| *k == key) {
            let set = &mut self.keys[k].1;
            set.retain(|&(_, j)| j != i);
            if set.is_empty() {
                self.keys.remove(k);
            }
        }
    }

    /// The winning value of every key that has one, in key order, into `out` (cleared first):
    /// borrowed, so that comparing two segments allocates nothing.
    fn resolve_into(&self, marks: &'a [StoredMark], out: &mut Vec<(&'a str, &'a Scalar)>) {
        out.clear();
        for (key, set) in &self.keys {
            if let Some(value) = winner(set).and_then(|i| marks[i].value.as_ref()) {
                out.push((key, value));
            }
        }
    }
}

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

/// Calls `f(start, end, attributes)` for the whole text as maximal runs of equal formatting, in
/// order, by one sweep over the sorted mark boundaries (nothing for an empty text). The
/// attributes are borrowed, in key order: building maps is the caller's choice (the wasm
/// binding builds JS objects directly; after a long session, allocating map nodes in a
/// fragmented wasm heap cost more than the sweep).
pub(crate) fn for_each_run<'m>(
    seq: &Sequence<TextContent>,
    marks: &'m [StoredMark],
    mut f: impl FnMut(usize, usize, &[(&'m str, &'m Scalar)]),
) {
    let len = seq.len();
    let events = boundaries(seq, marks, |_| true);
    let mut active = Active::default();
    // The formatting of the open run and of the next segment.
    let (mut current, mut next_attributes) = (Vec::new(), Vec::new());
    let mut run_start = 0;
    let mut next_event = events.iter().map(event).peekable();
    let mut pos = 0;
    while pos < len {
        while let Some((_, is_start, i)) = next_event.next_if(|e| e.0 <= pos) {
            if is_start {
                active.add(marks, i);
            } else {
                active.remove(marks, i);
            }
        }
        active.resolve_into(marks, &mut next_attributes);
        if next_attributes != current {
            if pos > run_start {
                f(run_start, pos, &current);
            }
            run_start = pos;
            std::mem::swap(&mut current, &mut next_attributes);
        }
        pos = next_event.peek().map_or(len, |e| e.0.min(len));
    }
    if len > run_start {
        f(run_start, len, &current);
    }
}

/// The formatting of the character at visible position `pos`: O(marks log n).
pub(crate) fn attributes_at(
    seq: &Sequence<TextContent>,
    marks: &[StoredMark],
    pos: usize,
) -> Attributes {
    let mut active = Active::default();
    for (i, mark) in marks.iter().enumerate() {
        if matches!(span(seq, mark), Some((s, e)) if s <= pos && pos < e) {
            active.add(marks, i);
        }
    }
    let mut resolved = Vec::new();
    active.resolve_into(marks, &mut resolved);
    to_attributes(&resolved)
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

/// The visible ranges whose value of the last mark's key the last mark changed: where it
/// outranks every other covering mark of its key and its value differs from theirs. Maximal
/// ranges, in order.
pub(crate) fn changed_by_last(
    seq: &Sequence<TextContent>,
    marks: &[StoredMark],
) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    if let Some(last) = marks.len().checked_sub(1) {
        for_each_decided(seq, marks, last, |start, end, _| match out.last_mut() {
            Some(range) if range.1 == start => range.1 = end,
            _ => out.push((start, end)),
        });
    }
    out
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
    let marks = store.of(obj);
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

/// The key and value of the last mark (what [`changed_by_last`] describes).
pub(crate) fn last_key_value(marks: &[StoredMark]) -> Option<(&str, Option<&Scalar>)> {
    marks.last().map(|m| (m.key.as_str(), m.value.as_ref()))
}

/// A text insert of a remote batch whose patch still lacks its formatting: the patch's index in
/// the batch's patches, the text, the first inserted element and the number inserted.
#[derive(Clone, Debug)]
pub(crate) struct DeferredInsert {
    pub(crate) patch: usize,
    pub(crate) obj: ContainerId,
    pub(crate) first: Dot,
    pub(crate) len: usize,
}

/// Sets the formatting of the text inserts `deferred` (all into `seq`, whose marks are `marks`)
/// names among `patches`: one sweep over the text, then a lookup per insert, instead of
/// resolving every mark for every insert (a remote batch of many inserts into a text of many
/// marks). Called when the batch ends and before each mark operation of the batch on that
/// text, so no mark has applied since these inserts: their characters still have the
/// formatting they arrived with, the same for all of them, read from any that is still
/// visible. Entries that do not match their patch (a stale entry) are skipped.
pub(crate) fn fill_deferred(
    seq: &Sequence<TextContent>,
    marks: &[StoredMark],
    deferred: &[DeferredInsert],
    patches: &mut [(ContainerId, crate::doc::PatchAction)],
) {
    let mut runs: Vec<(usize, Vec<(&str, &Scalar)>)> = Vec::new();
    for_each_run(seq, marks, |_, end, attributes| {
        runs.push((end, attributes.to_vec()))
    });
    for d in deferred {
        let Some((
            obj,
            crate::doc::PatchAction::TextInsert {
                text, attributes, ..
            },
        )) = patches.get_mut(d.patch)
        else {
            continue;
        };
        if *obj != d.obj || text.chars().count() != d.len {
            continue;
        }
        // Deleted since, all of them: their formatting shows nowhere.
        let Some(pos) = visible_position(seq, d.first, d.len) else {
            continue;
        };
        let run = runs.partition_point(|(end, _)| *end <= pos);
        if let Some((_, resolved)) = runs.get(run) {
            *attributes = to_attributes(resolved);
        }
    }
}

/// The position of the first still visible element of `first..first + len`.
fn visible_position(seq: &Sequence<TextContent>, first: Dot, len: usize) -> Option<usize> {
    (0..len as u64).find_map(|k| {
        match seq.position_of(Dot::new(first.replica, first.counter.checked_add(k)?)) {
            Some((pos, true)) => Some(pos),
            _ => None,
        }
    })
}
