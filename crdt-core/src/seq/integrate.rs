//! Remote insert integration: the FugueMax / YjsMod integrate loop (see [`crate::seq`]).
//!
//! The new run is first placed right after its left origin. It then scans right over runs that
//! were inserted concurrently into the same gap, stopping at its right origin, the end, or the
//! first run whose left origin lies further left (a "top row" sibling of an ancestor). Among runs
//! with the same left origin:
//! - same right origin: the smaller (replica, counter) goes first;
//! - a right origin further left than ours: that sibling may precede us, but only if no later
//!   sibling with our right origin orders after us, so remember where such a stretch started
//!   (`scanning`) and insert there if the scan ends inside it;
//! - otherwise the sibling precedes us.
//!
//! Runs whose left origin lies strictly between our left origin and the scan position are
//! descendants of siblings already passed and are skipped whole: every element after the first
//! in a run has the previous element as left origin, so only a run's first element can compare
//! equal to ours (the observation diamond-types relies on too).
//!
//! The right origin is first made the start of a run, so the walk stops exactly at it; with
//! that, the walk over runs decides what a walk over single elements would, and where a run
//! lands depends on the elements only, never on how runs are cut (a replica that replays the
//! same ops from history, with other run boundaries, gets the same sequence).

use std::cmp::Ordering;

use super::content::Content;
use super::id_map::NONE;
use super::tree::Run;
use super::Sequence;

impl<C: Content> Sequence<C> {
    /// Integrates a validated remote run (local versions `lv..lv+len` already allocated, origins
    /// known and ordered), live with `content`, or deleted when `content` is `None`. Returns the
    /// visible position where it landed. `next_to` is where the left origin is when the right
    /// origin follows it directly ([`Sequence::next_to`]): then no other lookup is needed.
    pub(super) fn integrate(
        &mut self,
        lv: u32,
        len: u32,
        ol: u32,
        or: u32,
        content: Option<&C>,
        next_to: Option<(u32, usize, u32)>,
    ) -> usize {
        // Insertion point right after the left origin (splitting its run if needed). The id
        // map and the tree always agree; (0, 0) (the start) is an unreachable fallback.
        let (leaf, idx) = match next_to {
            // The right origin follows the left one: splitting after the left origin makes it
            // start a run (or it started one), and the walk below stops on it at once.
            Some(at) => self.split_after_at(ol, at).unwrap_or_default(),
            None => {
                // The walk stops at the right origin, so it must start a run: a run holding it
                // further in would stop the walk at the run's start, and where the new run
                // lands would depend on how runs happen to be cut (a deletion, a replay of
                // history), not on the elements. Honest ops never need this split (a right
                // origin inside a run has the element before it as left origin, split off just
                // below), but an accepted batch can name any known element.
                if or != NONE {
                    self.split_before(or);
                }
                match ol {
                    NONE => (0, 0),
                    _ => self.split_after(ol).unwrap_or_default(),
                }
            }
        };
        let mut cur = (leaf, idx);
        let mut scanning = false;
        let mut scan_start = cur;
        loop {
            let l = &self.tree.leaves[cur.0 as usize];
            let Some(&other) = l.runs.get(cur.1) else {
                if l.next == NONE {
                    break;
                }
                cur = (l.next, 0);
                continue;
            };
            if or != NONE && other.lv <= or && or < other.end() {
                break;
            }
            match self.cmp_left(other.ol, ol) {
                Ordering::Less => break,
                Ordering::Greater => {}
                Ordering::Equal => {
                    if other.or == or {
                        if self.ids.dot_of(lv) < self.ids.dot_of(other.lv) {
                            break;
                        }
                        scanning = false;
                    } else if self.cmp_right(other.or, or) == Ordering::Less {
                        if !scanning {
                            scanning = true;
                            scan_start = cur;
                        }
                    } else {
                        scanning = false;
                    }
                }
            }
            cur.1 += 1;
        }
        if scanning {
            cur = scan_start;
        }
        let pos = self.tree.leaf_start(cur.0) + self.tree.content_offset(cur.0, cur.1);
        self.tree.insert_run(
            cur.0,
            cur.1,
            Run::new(lv, len, ol, or, content.is_none()),
            content,
            &self.ids,
            &mut self.index,
        );
        pos
    }

    /// Splits the run holding `lv` right before it (fixing leaf overflow), so that `lv` starts a
    /// run.
    fn split_before(&mut self, lv: u32) {
        let Some((leaf, ri, off)) = self.locate(lv) else {
            // The id map and the tree always agree.
            return;
        };
        if off > 0 {
            self.tree.split_run(leaf, ri, off);
            self.tree.fix_overflow(leaf, None, &mut self.index);
        }
    }

    /// Splits the run holding `lv` right after it (fixing leaf overflow) and returns the
    /// insertion point just after `lv`.
    fn split_after(&mut self, lv: u32) -> Option<(u32, usize)> {
        let at = self.locate(lv)?;
        self.split_after_at(lv, at)
    }

    /// [`Sequence::split_after`] of `lv`, which is at `(leaf, ri, off)`.
    fn split_after_at(
        &mut self,
        lv: u32,
        (leaf, ri, off): (u32, usize, u32),
    ) -> Option<(u32, usize)> {
        let run_len = self.tree.leaves[leaf as usize].runs[ri].len();
        if off + 1 == run_len {
            return Some((leaf, ri + 1));
        }
        self.tree.split_run(leaf, ri, off + 1);
        if self
            .tree
            .fix_overflow(leaf, None, &mut self.index)
            .is_some()
        {
            let (leaf, ri, _) = self.locate(lv)?;
            return Some((leaf, ri + 1));
        }
        Some((leaf, ri + 1))
    }

    /// Order of two left origins ([`NONE`] = before everything).
    fn cmp_left(&self, a: u32, b: u32) -> Ordering {
        match (a == NONE, b == NONE) {
            _ if a == b => Ordering::Equal,
            (true, _) => Ordering::Less,
            (_, true) => Ordering::Greater,
            _ => self.cmp_lv(a, b).unwrap_or(Ordering::Equal),
        }
    }

    /// Order of two right origins ([`NONE`] = after everything).
    fn cmp_right(&self, a: u32, b: u32) -> Ordering {
        match (a == NONE, b == NONE) {
            _ if a == b => Ordering::Equal,
            (true, _) => Ordering::Greater,
            (_, true) => Ordering::Less,
            _ => self.cmp_lv(a, b).unwrap_or(Ordering::Equal),
        }
    }
}
