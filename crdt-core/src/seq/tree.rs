//! The run tree: a B-tree (arena of nodes addressed by `u32`, no `unsafe`) whose leaves hold runs
//! of elements in document order, indexed by visible length and UTF-16 length.
//!
//! - A [`Run`] is consecutive elements of one replica (consecutive local versions and counters),
//!   each element's left origin the element before it, all sharing one right origin, and all live
//!   or all deleted. 16 bytes, no content.
//! - A leaf holds up to [`LEAF_CAP`] runs in a `Vec` plus **one** `Content` value: the
//!   concatenation of its live runs' content. Typing inside a leaf edits that one buffer, so no
//!   allocation happens per character and tombstones hold no content.
//! - Internal nodes hold up to [`NODE_CAP`] children with each child's visible and UTF-16 length,
//!   so finding a visible position, or converting to and from UTF-16, is O(log n).
//! - Every node knows its parent and its slot in the parent; leaves are linked left to right.
//!   That gives O(log n) "position of this leaf" and "which leaf comes first", which remote
//!   integration needs.
//!
//! Invariants (checked by `check` in tests): each leaf's content length equals the sum of its live
//! runs' lengths; each internal node's per-child sums equal the child's totals; parent/slot/next
//! links agree with the children arrays; the [`LeafIndex`] maps every local version to the leaf
//! holding it. Leaves are never removed (deleted runs stay as tombstones), so leaf 0 is always
//! the first leaf.

use std::cmp::Ordering;

use super::content::Content;
use super::id_map::{IdMap, LeafIndex, NONE};

/// Most runs in a leaf.
pub(crate) const LEAF_CAP: usize = 64;
/// Most children of an internal node.
pub(crate) const NODE_CAP: usize = 32;

const DELETED: u32 = 1 << 31;

/// Largest number of elements in one run.
pub(crate) const MAX_RUN: u32 = DELETED - 1;

/// A run of elements: local versions `lv..lv+len`, left origin of the first element `ol`, right
/// origin of all `or` (local versions, [`NONE`] for absent), and a deleted flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub(crate) lv: u32,
    len_flag: u32,
    pub(crate) ol: u32,
    pub(crate) or: u32,
}

impl Run {
    pub(crate) fn new(lv: u32, len: u32, ol: u32, or: u32, deleted: bool) -> Run {
        Run {
            lv,
            len_flag: len | if deleted { DELETED } else { 0 },
            ol,
            or,
        }
    }

    pub(crate) fn len(&self) -> u32 {
        self.len_flag & !DELETED
    }

    pub(crate) fn end(&self) -> u32 {
        self.lv + self.len()
    }

    pub(crate) fn deleted(&self) -> bool {
        self.len_flag & DELETED != 0
    }

    /// Elements visible in the document: 0 for a tombstone.
    pub(crate) fn visible(&self) -> usize {
        if self.deleted() {
            0
        } else {
            self.len() as usize
        }
    }

    fn set_len(&mut self, len: u32) {
        self.len_flag = len | (self.len_flag & DELETED);
    }

    fn set_deleted(&mut self) {
        self.len_flag |= DELETED;
    }

    /// Splits at `at` (0 < at < len): `self` keeps the head, the tail is returned.
    fn split(&mut self, at: u32) -> Run {
        let tail = Run {
            lv: self.lv + at,
            len_flag: self.len_flag - at,
            ol: self.lv + at - 1,
            or: self.or,
        };
        self.set_len(at);
        tail
    }

    /// True when `next` continues this run (same state, chained origins, consecutive ids).
    pub(crate) fn can_append(&self, next: &Run, ids: &IdMap) -> bool {
        self.deleted() == next.deleted()
            && self.end() == next.lv
            && next.ol == self.end() - 1
            && self.or == next.or
            && self
                .len()
                .checked_add(next.len())
                .is_some_and(|l| l <= MAX_RUN)
            && ids.continues(next.ol)
    }
}

/// Runs a full leaf vector grows by. A tree has hundreds of leaves, most half full after a
/// split; vectors that doubled would hold a quarter of the tree's memory empty, where growing
/// by a few runs costs a reallocation of a kilobyte now and then.
const RUNS_GROWTH: usize = 8;

/// Inserts `run` at `i` of a leaf's runs, growing the vector by [`RUNS_GROWTH`] when it is full.
fn insert_run_at(runs: &mut Vec<Run>, i: usize, run: Run) {
    if runs.len() == runs.capacity() {
        runs.reserve_exact(RUNS_GROWTH);
    }
    runs.insert(i, run);
}

/// A leaf: runs in document order and the content of the live ones.
#[derive(Clone, Debug)]
pub(crate) struct Leaf<C> {
    pub(crate) runs: Vec<Run>,
    pub(crate) content: C,
    parent: u32,
    slot: u32,
    pub(crate) next: u32,
}

/// An internal node.
#[derive(Clone, Debug)]
struct Node {
    children: Vec<u32>,
    lens: Vec<usize>,
    utf16: Vec<usize>,
    parent: u32,
    slot: u32,
    leaf_children: bool,
}

/// The B-tree of runs.
#[derive(Clone, Debug)]
pub(crate) struct Tree<C> {
    pub(crate) leaves: Vec<Leaf<C>>,
    nodes: Vec<Node>,
    root: u32,
    root_is_leaf: bool,
    len: usize,
    utf16: usize,
}

impl<C: Content> Default for Tree<C> {
    fn default() -> Self {
        Tree {
            leaves: vec![Leaf {
                runs: Vec::new(),
                content: C::default(),
                parent: NONE,
                slot: 0,
                next: NONE,
            }],
            nodes: Vec::new(),
            root: 0,
            root_is_leaf: true,
            len: 0,
            utf16: 0,
        }
    }
}

impl<C: Content> Tree<C> {
    /// Visible elements.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Visible UTF-16 units.
    pub(crate) fn utf16_len(&self) -> usize {
        self.utf16
    }

    /// Builds a tree from runs in document order and the content of the live ones, in O(n).
    /// Returns the tree; the caller fills the index from [`Tree::leaves`].
    pub(crate) fn build(runs: Vec<Run>, content: C) -> Tree<C> {
        let mut tree = Tree::default();
        if runs.is_empty() {
            return tree;
        }
        tree.len = content.len();
        tree.utf16 = content.utf16_len();
        tree.leaves.clear();
        let per_leaf = LEAF_CAP * 3 / 4;
        let chunks = runs.len().div_ceil(per_leaf);
        let lens: Vec<usize> = runs
            .chunks(per_leaf)
            .map(|c| c.iter().map(Run::visible).sum())
            .collect();
        let mut contents = content.split_into(&lens).into_iter();
        let mut rest = runs.as_slice();
        for i in 0..chunks {
            let take = rest.len().min(per_leaf);
            let (mine, tail) = rest.split_at(take);
            rest = tail;
            let leaf_content = contents.next().unwrap_or_default();
            tree.leaves.push(Leaf {
                runs: mine.to_vec(),
                content: leaf_content,
                parent: NONE,
                slot: 0,
                next: if i + 1 < chunks { i as u32 + 1 } else { NONE },
            });
        }
        // Build internal levels bottom-up.
        let mut level: Vec<(u32, usize, usize)> = tree
            .leaves
            .iter()
            .enumerate()
            .map(|(i, l)| (i as u32, l.content.len(), l.content.utf16_len()))
            .collect();
        let mut leaf_children = true;
        let per_node = NODE_CAP * 3 / 4;
        while level.len() > 1 {
            let mut next_level = Vec::with_capacity(level.len().div_ceil(per_node));
            for group in level.chunks(per_node) {
                let id = tree.nodes.len() as u32;
                let node = Node {
                    children: group.iter().map(|g| g.0).collect(),
                    lens: group.iter().map(|g| g.1).collect(),
                    utf16: group.iter().map(|g| g.2).collect(),
                    parent: NONE,
                    slot: 0,
                    leaf_children,
                };
                let (l, u) = (node.lens.iter().sum(), node.utf16.iter().sum());
                for (slot, &child) in node.children.iter().enumerate() {
                    tree.set_parent(child, leaf_children, id, slot);
                }
                tree.nodes.push(node);
                next_level.push((id, l, u));
            }
            level = next_level;
            leaf_children = false;
        }
        tree.root = level[0].0;
        tree.root_is_leaf = tree.nodes.is_empty();
        tree
    }

    fn set_parent(&mut self, child: u32, is_leaf: bool, parent: u32, slot: usize) {
        if is_leaf {
            let l = &mut self.leaves[child as usize];
            l.parent = parent;
            l.slot = slot as u32;
        } else {
            let n = &mut self.nodes[child as usize];
            n.parent = parent;
            n.slot = slot as u32;
        }
    }

    /// The leaf holding visible element `target` (< len) and its offset in that leaf's content.
    pub(crate) fn find_visible(&self, target: usize) -> (u32, usize) {
        let mut t = target;
        let mut node = self.root;
        if !self.root_is_leaf {
            loop {
                let n = &self.nodes[node as usize];
                let mut i = 0;
                while i + 1 < n.children.len() && t >= n.lens[i] {
                    t -= n.lens[i];
                    i += 1;
                }
                node = n.children[i];
                if n.leaf_children {
                    break;
                }
            }
        }
        (node, t)
    }

    /// The leaf holding UTF-16 offset `target` (< utf16 len), the visible elements before that
    /// leaf, and the UTF-16 offset inside it.
    pub(crate) fn find_utf16(&self, target: usize) -> (u32, usize, usize) {
        let mut t = target;
        let mut before = 0;
        let mut node = self.root;
        if !self.root_is_leaf {
            loop {
                let n = &self.nodes[node as usize];
                let mut i = 0;
                while i + 1 < n.children.len() && t >= n.utf16[i] {
                    t -= n.utf16[i];
                    before += n.lens[i];
                    i += 1;
                }
                node = n.children[i];
                if n.leaf_children {
                    break;
                }
            }
        }
        (node, before, t)
    }

    /// The run holding visible offset `t` of `leaf` and the offset inside that run.
    pub(crate) fn leaf_find(&self, leaf: u32, t: usize) -> (usize, u32) {
        let runs = &self.leaves[leaf as usize].runs;
        let mut t = t;
        for (i, r) in runs.iter().enumerate() {
            let v = r.visible();
            if t < v {
                return (i, t as u32);
            }
            t -= v;
        }
        // Unreachable for t < leaf length; answer the end of the leaf.
        (runs.len(), 0)
    }

    /// The run holding local version `lv` in `leaf`, and the offset inside it.
    pub(crate) fn leaf_find_lv(&self, leaf: u32, lv: u32) -> Option<(usize, u32)> {
        self.leaves
            .get(leaf as usize)?
            .runs
            .iter()
            .position(|r| r.lv <= lv && lv < r.end())
            .map(|i| (i, lv - self.leaves[leaf as usize].runs[i].lv))
    }

    /// Visible elements of `leaf` before run `idx`.
    pub(crate) fn content_offset(&self, leaf: u32, idx: usize) -> usize {
        self.leaves[leaf as usize].runs[..idx]
            .iter()
            .map(Run::visible)
            .sum()
    }

    /// Visible elements before `leaf`.
    pub(crate) fn leaf_start(&self, leaf: u32) -> usize {
        let l = &self.leaves[leaf as usize];
        let (mut node, mut slot) = (l.parent, l.slot);
        let mut sum = 0;
        while node != NONE {
            let n = &self.nodes[node as usize];
            sum += n.lens[..slot as usize].iter().sum::<usize>();
            slot = n.slot;
            node = n.parent;
        }
        sum
    }

    /// UTF-16 units before `leaf`.
    pub(crate) fn leaf_start_utf16(&self, leaf: u32) -> usize {
        let l = &self.leaves[leaf as usize];
        let (mut node, mut slot) = (l.parent, l.slot);
        let mut sum = 0;
        while node != NONE {
            let n = &self.nodes[node as usize];
            sum += n.utf16[..slot as usize].iter().sum::<usize>();
            slot = n.slot;
            node = n.parent;
        }
        sum
    }

    /// Document order of two leaves.
    pub(crate) fn cmp_leaves(&self, a: u32, b: u32) -> Ordering {
        if a == b {
            return Ordering::Equal;
        }
        let (la, lb) = (&self.leaves[a as usize], &self.leaves[b as usize]);
        let (mut pa, mut sa, mut pb, mut sb) = (la.parent, la.slot, lb.parent, lb.slot);
        // All leaves are at the same depth, so the walks meet at the common ancestor.
        while pa != pb && pa != NONE && pb != NONE {
            let (na, nb) = (&self.nodes[pa as usize], &self.nodes[pb as usize]);
            (sa, pa, sb, pb) = (na.slot, na.parent, nb.slot, nb.parent);
        }
        sa.cmp(&sb)
    }

    /// Adds to the visible and UTF-16 lengths of `leaf` and its ancestors (content already
    /// changed by the caller).
    pub(crate) fn grow(&mut self, leaf: u32, len: usize, utf16: usize) {
        self.len += len;
        self.utf16 += utf16;
        let l = &self.leaves[leaf as usize];
        let (mut node, mut slot) = (l.parent, l.slot);
        while node != NONE {
            let n = &mut self.nodes[node as usize];
            n.lens[slot as usize] += len;
            n.utf16[slot as usize] += utf16;
            slot = n.slot;
            node = n.parent;
        }
    }

    /// Subtracts from the visible and UTF-16 lengths of `leaf` and its ancestors.
    pub(crate) fn shrink(&mut self, leaf: u32, len: usize, utf16: usize) {
        self.len -= len;
        self.utf16 -= utf16;
        let l = &self.leaves[leaf as usize];
        let (mut node, mut slot) = (l.parent, l.slot);
        while node != NONE {
            let n = &mut self.nodes[node as usize];
            n.lens[slot as usize] -= len;
            n.utf16[slot as usize] -= utf16;
            slot = n.slot;
            node = n.parent;
        }
    }

    /// The first run at or after insertion point (`leaf`, `idx`), following leaf links.
    pub(crate) fn run_at_or_after(&self, leaf: u32, idx: usize) -> Option<Run> {
        let mut leaf = leaf;
        let mut idx = idx;
        loop {
            let l = &self.leaves[leaf as usize];
            if let Some(r) = l.runs.get(idx) {
                return Some(*r);
            }
            if l.next == NONE {
                return None;
            }
            leaf = l.next;
            idx = 0;
        }
    }

    /// Splits run `ri` of `leaf` at offset `at` (0 < at < len). Content and index are unchanged
    /// (both halves stay in the leaf); the leaf may exceed [`LEAF_CAP`] until
    /// [`Tree::fix_overflow`].
    pub(crate) fn split_run(&mut self, leaf: u32, ri: usize, at: u32) {
        let runs = &mut self.leaves[leaf as usize].runs;
        let tail = runs[ri].split(at);
        insert_run_at(runs, ri + 1, tail);
    }

    /// Inserts a run before run `idx` of `leaf`, live with its content or deleted (`content`
    /// `None`), extending the run before it instead when the new run continues it, then splits
    /// the leaf if it overflows.
    pub(crate) fn insert_run(
        &mut self,
        leaf: u32,
        idx: usize,
        run: Run,
        content: Option<&C>,
        ids: &IdMap,
        index: &mut LeafIndex,
    ) {
        let off = self.content_offset(leaf, idx);
        index.set(run.lv, run.end(), leaf);
        if idx > 0 && self.leaves[leaf as usize].runs[idx - 1].can_append(&run, ids) {
            match content {
                Some(c) => self.extend_run(leaf, idx - 1, off, c),
                None => {
                    let r = &mut self.leaves[leaf as usize].runs[idx - 1];
                    let new_len = r.len() + run.len();
                    r.set_len(new_len);
                }
            }
            return;
        }
        let l = &mut self.leaves[leaf as usize];
        insert_run_at(&mut l.runs, idx, run);
        if let Some(c) = content {
            l.content.insert(off, c);
            self.grow(leaf, c.len(), c.utf16_len());
        }
        self.fix_overflow(leaf, Some(idx), index);
    }

    /// Splits `leaf` while it holds more than [`LEAF_CAP`] runs. When the run just inserted is
    /// the last (typing at the end), the new leaf starts with it alone, so appending keeps leaves
    /// full. Returns the first new leaf and the run index where it was split off, if split.
    pub(crate) fn fix_overflow(
        &mut self,
        leaf: u32,
        inserted: Option<usize>,
        index: &mut LeafIndex,
    ) -> Option<(u32, usize)> {
        let n = self.leaves[leaf as usize].runs.len();
        if n <= LEAF_CAP {
            return None;
        }
        let at = match inserted {
            Some(i) if i + 1 == n && i <= LEAF_CAP => i,
            _ => n / 2,
        };
        let new_leaf = self.split_leaf(leaf, at, index);
        // A split of LEAF_CAP + k runs at the middle leaves both halves within the cap for the
        // small k the engine produces; recurse on both to be safe.
        self.fix_overflow(new_leaf, None, index);
        self.fix_overflow(leaf, None, index);
        Some((new_leaf, at))
    }

    /// Moves runs `at..` of `leaf` (and their content) into a new leaf right after it.
    fn split_leaf(&mut self, leaf: u32, at: usize, index: &mut LeafIndex) -> u32 {
        let new_id = self.leaves.len() as u32;
        let off = self.content_offset(leaf, at);
        let l = &mut self.leaves[leaf as usize];
        let mut runs = l.runs.split_off(at);
        runs.reserve_exact(RUNS_GROWTH);
        // The leaf grew past its cap just before this split: give back the room its moved
        // half took.
        l.runs.shrink_to(l.runs.len() + RUNS_GROWTH);
        let content = l.content.split_off(off);
        let (parent, slot, next) = (l.parent, l.slot, l.next);
        l.next = new_id;
        let (mlen, mutf16) = (content.len(), content.utf16_len());
        // One index update per range of consecutive local versions among the moved runs, not
        // one per run: runs split by edits inside them sit next to each other.
        let mut ranges: Vec<(u32, u32)> = runs.iter().map(|r| (r.lv, r.end())).collect();
        ranges.sort_unstable();
        let mut ranges = ranges.into_iter();
        if let Some(mut cur) = ranges.next() {
            for (a, b) in ranges {
                if a == cur.1 {
                    cur.1 = b;
                } else {
                    index.set(cur.0, cur.1, new_id);
                    cur = (a, b);
                }
            }
            index.set(cur.0, cur.1, new_id);
        }
        self.leaves.push(Leaf {
            runs,
            content,
            parent,
            slot: slot + 1,
            next,
        });
        if parent == NONE {
            // The leaf was the root: grow a new root above both.
            let root = self.nodes.len() as u32;
            let (llen, lutf16) = (self.len - mlen, self.utf16 - mutf16);
            self.nodes.push(Node {
                children: vec![leaf, new_id],
                lens: vec![llen, mlen],
                utf16: vec![lutf16, mutf16],
                parent: NONE,
                slot: 0,
                leaf_children: true,
            });
            self.set_parent(leaf, true, root, 0);
            self.set_parent(new_id, true, root, 1);
            self.root = root;
            self.root_is_leaf = false;
        } else {
            let p = &mut self.nodes[parent as usize];
            p.lens[slot as usize] -= mlen;
            p.utf16[slot as usize] -= mutf16;
            self.insert_child(parent, slot as usize + 1, new_id, mlen, mutf16);
        }
        new_id
    }

    /// Inserts `child` at `slot` of internal node `node`, splitting upwards as needed.
    fn insert_child(&mut self, node: u32, slot: usize, child: u32, len: usize, utf16: usize) {
        let n = &mut self.nodes[node as usize];
        let leaf_children = n.leaf_children;
        n.children.insert(slot, child);
        n.lens.insert(slot, len);
        n.utf16.insert(slot, utf16);
        let children: Vec<u32> = n.children[slot..].to_vec();
        for (i, c) in children.into_iter().enumerate() {
            self.set_parent(c, leaf_children, node, slot + i);
        }
        if self.nodes[node as usize].children.len() <= NODE_CAP {
            return;
        }
        // Split the node in two.
        let new_id = self.nodes.len() as u32;
        let n = &mut self.nodes[node as usize];
        let mid = n.children.len() / 2;
        let children = n.children.split_off(mid);
        let lens = n.lens.split_off(mid);
        let utf16s = n.utf16.split_off(mid);
        let (mlen, mutf16): (usize, usize) = (lens.iter().sum(), utf16s.iter().sum());
        let (parent, pslot) = (n.parent, n.slot);
        for (i, &c) in children.iter().enumerate() {
            self.set_parent(c, leaf_children, new_id, i);
        }
        self.nodes.push(Node {
            children,
            lens,
            utf16: utf16s,
            parent,
            slot: pslot + 1,
            leaf_children,
        });
        if parent == NONE {
            let root = self.nodes.len() as u32;
            let n = &self.nodes[node as usize];
            let (llen, lutf16) = (n.lens.iter().sum(), n.utf16.iter().sum());
            self.nodes.push(Node {
                children: vec![node, new_id],
                lens: vec![llen, mlen],
                utf16: vec![lutf16, mutf16],
                parent: NONE,
                slot: 0,
                leaf_children: false,
            });
            self.set_parent(node, false, root, 0);
            self.set_parent(new_id, false, root, 1);
            self.root = root;
        } else {
            let p = &mut self.nodes[parent as usize];
            p.lens[pslot as usize] -= mlen;
            p.utf16[pslot as usize] -= mutf16;
            self.insert_child(parent, pslot as usize + 1, new_id, mlen, mutf16);
        }
    }

    /// Marks up to `max` elements deleted in `leaf`, starting at offset `off` of run `ri`
    /// (skipping tombstones, never leaving the leaf). Reports each deleted local-version range
    /// to `out`, merges neighbouring tombstones, fixes overflow. Returns how many were deleted, and their
    /// length in UTF-16 code units.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn delete_in_leaf(
        &mut self,
        leaf: u32,
        ri: usize,
        off: u32,
        max: usize,
        ids: &IdMap,
        index: &mut LeafIndex,
        mut out: impl FnMut(u32, u32),
    ) -> (usize, usize) {
        let c0 = self.content_offset(leaf, ri)
            + if self.leaves[leaf as usize].runs[ri].deleted() {
                0
            } else {
                off as usize
            };
        let l = &mut self.leaves[leaf as usize];
        let (mut i, mut off, mut left, mut total) = (ri, off, max, 0usize);
        let first = ri;
        while left > 0 && i < l.runs.len() {
            if l.runs[i].deleted() {
                i += 1;
                off = 0;
                continue;
            }
            if off > 0 {
                let tail = l.runs[i].split(off);
                insert_run_at(&mut l.runs, i + 1, tail);
                i += 1;
                off = 0;
            }
            let len = l.runs[i].len();
            let take = (len as usize).min(left) as u32;
            if take < len {
                let tail = l.runs[i].split(take);
                insert_run_at(&mut l.runs, i + 1, tail);
            }
            l.runs[i].set_deleted();
            out(l.runs[i].lv, l.runs[i].lv + take);
            left -= take as usize;
            total += take as usize;
            i += 1;
        }
        if total == 0 {
            return (0, 0);
        }
        let before = l.content.utf16_len();
        l.content.remove(c0, c0 + total);
        let removed_utf16 = before - l.content.utf16_len();
        self.shrink(leaf, total, removed_utf16);
        self.merge_runs(leaf, first.saturating_sub(1), i + 1, ids);
        self.fix_overflow(leaf, None, index);
        (total, removed_utf16)
    }

    /// Merges neighbouring runs of `leaf` in `from..to` that continue each other.
    pub(crate) fn merge_runs(&mut self, leaf: u32, from: usize, to: usize, ids: &IdMap) {
        let runs = &mut self.leaves[leaf as usize].runs;
        let mut to = to.min(runs.len());
        let mut i = from;
        while i + 1 < to {
            if runs[i].can_append(&runs[i + 1], ids) {
                let add = runs[i + 1].len();
                let new_len = runs[i].len() + add;
                runs[i].set_len(new_len);
                runs.remove(i + 1);
                to -= 1;
            } else {
                i += 1;
            }
        }
    }

    /// Extends run `ri` of `leaf` (the hot path of local typing) by `content`, inserted at
    /// visible offset `off` of the leaf.
    pub(crate) fn extend_run(&mut self, leaf: u32, ri: usize, off: usize, content: &C) {
        let l = &mut self.leaves[leaf as usize];
        let r = &mut l.runs[ri];
        let new_len = r.len() + content.len() as u32;
        r.set_len(new_len);
        l.content.insert(off, content);
        self.grow(leaf, content.len(), content.utf16_len());
    }

    /// Leaves in document order.
    pub(crate) fn leaves_in_order(&self) -> impl Iterator<Item = &Leaf<C>> + '_ {
        let mut next = 0u32;
        std::iter::from_fn(move || {
            let leaf = self.leaves.get(next as usize)?;
            next = leaf.next;
            Some(leaf)
        })
    }

    /// Approximate heap bytes used.
    pub(crate) fn heap_bytes(&self, content_bytes: impl Fn(&C) -> usize) -> usize {
        self.leaves.capacity() * std::mem::size_of::<Leaf<C>>()
            + self
                .leaves
                .iter()
                .map(|l| l.runs.capacity() * std::mem::size_of::<Run>() + content_bytes(&l.content))
                .sum::<usize>()
            + self.nodes.capacity() * std::mem::size_of::<Node>()
            + self
                .nodes
                .iter()
                .map(|n| {
                    n.children.capacity() * 4
                        + (n.lens.capacity() + n.utf16.capacity()) * std::mem::size_of::<usize>()
                })
                .sum::<usize>()
    }

    /// Number of runs (for statistics).
    pub(crate) fn run_count(&self) -> usize {
        self.leaves.iter().map(|l| l.runs.len()).sum()
    }

    /// Checks every structural invariant; panics with a message when one fails (tests only).
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn check(&self, index: &LeafIndex) {
        let mut total = 0;
        let mut total16 = 0;
        let mut count = 0;
        for (id, leaf) in self.leaves.iter().enumerate() {
            let live: usize = leaf.runs.iter().map(Run::visible).sum();
            assert_eq!(live, leaf.content.len(), "leaf {id} content length");
            assert!(leaf.runs.len() <= LEAF_CAP, "leaf {id} overflows");
            for r in &leaf.runs {
                assert!(r.len() > 0, "empty run");
                for lv in [r.lv, r.end() - 1] {
                    assert_eq!(index.get(lv), Some(id as u32), "index of lv {lv}");
                }
            }
            total += live;
            total16 += leaf.content.utf16_len();
            if leaf.parent != NONE {
                let p = &self.nodes[leaf.parent as usize];
                assert!(p.leaf_children);
                assert_eq!(p.children[leaf.slot as usize], id as u32);
                assert_eq!(p.lens[leaf.slot as usize], live);
                assert_eq!(p.utf16[leaf.slot as usize], leaf.content.utf16_len());
            } else {
                assert!(self.root_is_leaf && self.root == id as u32);
            }
        }
        assert_eq!(
            self.leaves_in_order().count(),
            self.leaves.len(),
            "leaf links"
        );
        for leaf in self.leaves_in_order() {
            count += leaf.runs.len();
        }
        assert_eq!(count, self.run_count());
        assert_eq!((total, total16), (self.len, self.utf16));
        for (id, n) in self.nodes.iter().enumerate() {
            assert!(n.children.len() <= NODE_CAP);
            for (slot, &c) in n.children.iter().enumerate() {
                if !n.leaf_children {
                    let child = &self.nodes[c as usize];
                    assert_eq!((child.parent, child.slot), (id as u32, slot as u32));
                    assert_eq!(n.lens[slot], child.lens.iter().sum::<usize>());
                    assert_eq!(n.utf16[slot], child.utf16.iter().sum::<usize>());
                } else {
                    let child = &self.leaves[c as usize];
                    assert_eq!((child.parent, child.slot), (id as u32, slot as u32));
                }
            }
        }
        // Leaf order by links agrees with cmp_leaves.
        let order: Vec<u32> = {
            let mut v = vec![];
            let mut next = 0u32;
            while next != NONE {
                v.push(next);
                next = self.leaves[next as usize].next;
            }
            v
        };
        for w in order.windows(2) {
            assert_eq!(self.cmp_leaves(w[0], w[1]), Ordering::Less);
            assert_eq!(self.cmp_leaves(w[1], w[0]), Ordering::Greater);
        }
    }
}
