//! An index of one text's marks in document order, so that the formatting of a position and
//! the ranges a new mark changes cost a binary search, not a pass over every mark.
//!
//! # Why
//!
//! Events need the formatting of every inserted run and the ranges each mark changed.
//! Resolving every mark for each of them costs O(m log n) per insert and per mark for m marks:
//! an editor with a listener paid it on every keystroke (a few milliseconds with thousands of
//! marks), and a remote batch that interleaves k marks with inserts paid O(k m log n) (11.9 s
//! instead of 1.5 s for the automerge-paper trace with 2,597 marks in one import).
//!
//! # Representation: segments between anchors, in document order
//!
//! A mark covers the elements strictly between its two anchors in *document order* (the
//! sequence's order, tombstones included), and that order never changes: inserts put new
//! elements between existing ones, never move them. So the distinct anchors of a text's marks,
//! sorted in document order (`edges`), stay sorted whatever edits follow, and each gap between
//! consecutive edges (a segment) keeps the set of marks covering it; text inserted later into a
//! segment gets exactly that formatting. A segment keeps, per key, only the mark that wins
//! there (the highest `(lamport, id)`): marks are never removed (an unmark is a mark without a
//! value), so a new mark changes a segment's key exactly when it outranks the segment's winner,
//! and the old winner's value is what the key showed before, which is what a patch reports.
//!
//! Positions are not stored, since every edit moves them: an edge's visible position is
//! resolved in the sequence when needed (O(log n)). Visible positions never decrease along the
//! edges, so a binary search over them finds the segment of a position.
//!
//! Why not an interval tree over visible positions, as editors keep: it would have to shift on
//! every insert and delete, and a remote insert can land between two anchors that sit at the same
//! visible position (around tombstones), which only document order tells apart.
//!
//! # Cost (m marks, n elements)
//!
//! - Formatting of a position: O(log m log n), plus the keys of its segment; O(log n) when it
//!   is in the segment of the previous insert (typing, a sequential remote batch).
//! - Adding a mark: O(log m log n) to place its two anchors, a shift of the two vectors (a
//!   memmove of small entries), O(s) for the s segments inside its range (its overlap with
//!   other marks' anchors: a few for marks on words and phrases), O(log n) per range whose
//!   value changed.
//! - The whole text as runs: O(m log n), one resolution per edge, no sort.

use std::cmp::Ordering;

use crate::doc::marks::{boundary, Anchor, StoredMark};
use crate::doc::value::Scalar;
use crate::seq::{Sequence, TextContent};

/// The marks of one text indexed by document order; see the [module docs](self).
#[derive(Clone, Debug, Default)]
pub(crate) struct MarkIndex {
    /// The distinct anchors of the indexed marks, in document order.
    edges: Vec<Anchor>,
    /// `segments[k]` is the gap between `edges[k - 1]` and `edges[k]` (the first one before every
    /// edge, the last one after every edge): per key, the winning mark there as an index into
    /// the text's marks, sorted by key. Empty until a mark is indexed, one longer than `edges`
    /// after.
    segments: Vec<Vec<u32>>,
    /// The segment of the last insert's formatting ([`attributes_of_insert`]): typing and
    /// sequential remote inserts stay in one segment for many characters, and checking it
    /// costs two anchor resolutions instead of a binary search. Only a guess; always checked.
    ///
    /// [`attributes_of_insert`]: Self::attributes_of_insert
    hint: usize,
}

#[cfg(test)]
thread_local! {
    /// Work done resolving anchors and visiting segments, counted per thread in tests only:
    /// the tests that check that a batch costs O(log m) per operation rather than O(m) read it.
    pub(crate) static WORK: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts `n` units of work (tests only; nothing in other builds).
#[inline]
pub(crate) fn count_work(n: u64) {
    #[cfg(test)]
    WORK.with(|w| w.set(w.get() + n));
    #[cfg(not(test))]
    let _ = n;
}

/// Document order of the gaps two anchors name, or `None` when one names an unknown character.
/// The gap just before `x` precedes `x`, which precedes the gap just after it, so after `x` and
/// before the element following `x` are two gaps with room for future inserts between them.
fn cmp_anchors(seq: &Sequence<TextContent>, a: Anchor, b: Anchor) -> Option<Ordering> {
    use Anchor::{After, Before, End, Start};
    count_work(1);
    Some(match (a, b) {
        (Start, Start) | (End, End) => Ordering::Equal,
        (Start, _) | (_, End) => Ordering::Less,
        (_, Start) | (End, _) => Ordering::Greater,
        (Before(x), Before(y)) | (After(x), After(y)) => seq.cmp_ids(x, y)?,
        // Before x precedes after y exactly when x is y or precedes it.
        (Before(x), After(y)) => match seq.cmp_ids(x, y)? {
            Ordering::Greater => Ordering::Greater,
            _ => Ordering::Less,
        },
        (After(x), Before(y)) => match seq.cmp_ids(x, y)? {
            Ordering::Less => Ordering::Less,
            _ => Ordering::Greater,
        },
    })
}

impl MarkIndex {
    /// The index of a text without marks.
    pub(crate) const EMPTY: MarkIndex = MarkIndex {
        edges: Vec::new(),
        segments: Vec::new(),
        hint: 0,
    };

    /// Indexes mark `which` of `marks` (the text's marks) and returns the groups of consecutive
    /// segments `first..end` where it changed its key's value (see [`visible_ranges`]).
    /// A mark whose end does not follow its start covers nothing, now or later, and is left out.
    ///
    /// [`visible_ranges`]: Self::visible_ranges
    pub(crate) fn add(
        &mut self,
        seq: &Sequence<TextContent>,
        marks: &[StoredMark],
        which: usize,
    ) -> Vec<(usize, usize)> {
        let mut changed: Vec<(usize, usize)> = Vec::new();
        let (Some(mark), Ok(tag)) = (marks.get(which), u32::try_from(which)) else {
            return changed;
        };
        if cmp_anchors(seq, mark.start, mark.end) != Some(Ordering::Less) {
            return changed;
        }
        if self.segments.is_empty() {
            self.segments.push(Vec::new());
        }
        // Cannot fail (both anchors compared above); the segments between are covered.
        let (Some(first), Some(last)) = (self.edge(seq, mark.start), self.edge(seq, mark.end))
        else {
            return changed;
        };
        for k in first + 1..=last {
            if self.cover(marks, k, tag) {
                match changed.last_mut() {
                    Some(group) if group.1 == k => group.1 = k + 1,
                    _ => changed.push((k, k + 1)),
                }
            }
        }
        changed
    }

    /// The position of the edge at `anchor` in `edges`, added (splitting the segment it falls
    /// in) when new; `None` for an anchor on an unknown character.
    fn edge(&mut self, seq: &Sequence<TextContent>, anchor: Anchor) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.edges.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if cmp_anchors(seq, self.edges[mid], anchor)? == Ordering::Less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if self.edges.get(lo) != Some(&anchor) {
            self.edges.insert(lo, anchor);
            // Both halves of the split segment are covered by the same marks.
            let copy = self.segments[lo].clone();
            self.segments.insert(lo, copy);
        }
        Some(lo)
    }

    /// Makes mark `tag` the winner of its key in segment `k` if it outranks the winner there;
    /// whether the key's value changed.
    fn cover(&mut self, marks: &[StoredMark], k: usize, tag: u32) -> bool {
        count_work(1);
        let mark = &marks[tag as usize];
        let winners = &mut self.segments[k];
        let at = winners.partition_point(|&w| marks[w as usize].key < mark.key);
        match winners.get(at).map(|&w| &marks[w as usize]) {
            Some(old) if old.key == mark.key => {
                if old.rank() > mark.rank() {
                    return false;
                }
                let differs = old.value != mark.value;
                winners[at] = tag;
                differs
            }
            _ => {
                winners.insert(at, tag);
                mark.value.is_some()
            }
        }
    }

    /// The visible ranges of segment groups from [`add`](Self::add), in order: empty ones
    /// dropped, adjacent ones joined (maximal ranges).
    pub(crate) fn visible_ranges(
        &self,
        seq: &Sequence<TextContent>,
        groups: &[(usize, usize)],
    ) -> Vec<(usize, usize)> {
        let mut out: Vec<(usize, usize)> = Vec::new();
        for &(first, end) in groups {
            // Segment k lies between edges k - 1 and k; `add` never reports segment 0.
            let start = first
                .checked_sub(1)
                .and_then(|e| self.edge_position(seq, e));
            let end = self.edge_position(seq, end - 1);
            let (Some(start), Some(end)) = (start, end) else {
                continue;
            };
            if start >= end {
                continue;
            }
            match out.last_mut() {
                Some(range) if range.1 == start => range.1 = end,
                _ => out.push((start, end)),
            }
        }
        out
    }

    /// The visible position of edge `k`.
    fn edge_position(&self, seq: &Sequence<TextContent>, k: usize) -> Option<usize> {
        boundary(seq, *self.edges.get(k)?)
    }

    /// The segment holding the character at visible position `pos`: the number of edges at or
    /// before it (an edge at `pos` is the gap just before that character). Segment `guess` is
    /// checked first.
    fn segment_at(&self, seq: &Sequence<TextContent>, pos: usize, guess: usize) -> usize {
        let at_or_before = |k: usize| boundary(seq, self.edges[k]).is_some_and(|b| b <= pos);
        let fits = guess <= self.edges.len()
            && (guess == 0 || at_or_before(guess - 1))
            && (guess == self.edges.len() || !at_or_before(guess));
        if fits {
            return guess;
        }
        let (mut lo, mut hi) = (0, self.edges.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if at_or_before(mid) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The formatting of segment `k` into `out` (cleared first), in key order, borrowed.
    fn resolve_into<'m>(
        &self,
        marks: &'m [StoredMark],
        k: usize,
        out: &mut Vec<(&'m str, &'m Scalar)>,
    ) {
        out.clear();
        for &w in self.segments.get(k).map_or(&[][..], Vec::as_slice) {
            let mark = &marks[w as usize];
            if let Some(value) = &mark.value {
                out.push((mark.key.as_str(), value));
            }
        }
    }

    /// The formatting of the character at visible position `pos`, in key order, into `out`.
    pub(crate) fn attributes_at<'m>(
        &self,
        seq: &Sequence<TextContent>,
        marks: &'m [StoredMark],
        pos: usize,
        out: &mut Vec<(&'m str, &'m Scalar)>,
    ) {
        self.resolve_into(marks, self.segment_at(seq, pos, self.hint), out);
    }

    /// [`attributes_at`](Self::attributes_at) for text just inserted at `pos`, remembering its
    /// segment for the next insert (amortised O(1) resolutions while typing).
    pub(crate) fn attributes_of_insert<'m>(
        &mut self,
        seq: &Sequence<TextContent>,
        marks: &'m [StoredMark],
        pos: usize,
        out: &mut Vec<(&'m str, &'m Scalar)>,
    ) {
        self.hint = self.segment_at(seq, pos, self.hint);
        self.resolve_into(marks, self.hint, out);
    }

    /// Calls `f(start, end, attributes)` for the whole text as maximal runs of equal
    /// formatting, in order (nothing for an empty text), walking the segments once.
    pub(crate) fn for_each_run<'m>(
        &self,
        seq: &Sequence<TextContent>,
        marks: &'m [StoredMark],
        mut f: impl FnMut(usize, usize, &[(&'m str, &'m Scalar)]),
    ) {
        let len = seq.len();
        // The formatting of the open run and of the next segment.
        let (mut current, mut next) = (Vec::new(), Vec::new());
        let (mut run_start, mut start) = (0, 0);
        for k in 0..=self.edges.len() {
            let end = match self.edges.get(k) {
                Some(&edge) => boundary(seq, edge).unwrap_or(len).min(len),
                None => len,
            };
            if end > start {
                self.resolve_into(marks, k, &mut next);
                if next != current {
                    if start > run_start {
                        f(run_start, start, &current);
                    }
                    run_start = start;
                    std::mem::swap(&mut current, &mut next);
                }
                start = end;
            }
        }
        if len > run_start {
            f(run_start, len, &current);
        }
    }
}
