//! Local versions: every element ever inserted gets a dense local number (`lv`, a `u32`), in
//! arrival order, and this map converts between those numbers and global element ids ([`Dot`]).
//!
//! Both directions are run-length encoded: one span per run of consecutive counters of one
//! replica that arrived as consecutive local versions. Typing by one replica is therefore one
//! span no matter how many characters it holds. Lookups are binary searches, O(log spans).
//!
//! Invariant: `lv_spans` covers `0..next_lv` exactly, in order; each replica's `by_replica` list is
//! sorted by counter and its spans never overlap. Local versions never leave the process.

use std::collections::BTreeMap;

use crate::clock::{Dot, ReplicaId};

/// `Option::is_none_or` for Rust 1.80.
trait IsNoneOr<T> {
    fn is_none_or_compat(&self, f: impl FnOnce(&T) -> bool) -> bool;
}

impl<T> IsNoneOr<T> for Option<&T> {
    fn is_none_or_compat(&self, f: impl FnOnce(&T) -> bool) -> bool {
        match self {
            None => true,
            Some(t) => f(t),
        }
    }
}

/// "No element": used for absent origins.
pub(crate) const NONE: u32 = u32::MAX;

/// Local versions `lv..lv+len` are counters `counter..counter+len` of replica `agent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LvSpan {
    lv: u32,
    len: u32,
    agent: u32,
    counter: u64,
}

/// Counters `counter..counter+len` of one replica are local versions `lv..lv+len`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct CounterSpan {
    counter: u64,
    lv: u32,
    len: u32,
}

/// Bidirectional, run-length encoded map between local versions and element ids.
#[derive(Clone, Debug, Default)]
pub(crate) struct IdMap {
    replicas: Vec<ReplicaId>,
    /// Agent (index in `replicas`) of each replica. Held as u64, though agents are u32: the
    /// map type [`crate::VersionVector`] already uses, so no more `BTreeMap` code in the wasm
    /// build (kilobytes per key/value type).
    agent_of: BTreeMap<ReplicaId, u64>,
    lv_spans: Vec<LvSpan>,
    by_replica: Vec<Vec<CounterSpan>>,
    next_lv: u32,
}

impl IdMap {
    /// The next local version to be allocated (= number of elements ever inserted).
    pub(crate) fn next_lv(&self) -> u32 {
        self.next_lv
    }

    fn agent(&self, replica: ReplicaId) -> Option<u32> {
        // Every value was inserted from a u32 (`alloc`, `from_runs`).
        self.agent_of.get(&replica).map(|&a| a as u32)
    }

    /// The span of `replica` containing `counter`, if any.
    fn counter_span(&self, dot: Dot) -> Option<CounterSpan> {
        let spans = &self.by_replica[self.agent(dot.replica)? as usize];
        let i = spans.partition_point(|s| s.counter <= dot.counter);
        let s = *spans.get(i.checked_sub(1)?)?;
        (dot.counter - s.counter < u64::from(s.len)).then_some(s)
    }

    /// Local version of element `dot`, if known.
    pub(crate) fn lv_of(&self, dot: Dot) -> Option<u32> {
        let s = self.counter_span(dot)?;
        // In range: dot.counter - s.counter < s.len <= u32::MAX.
        Some(s.lv + (dot.counter - s.counter) as u32)
    }

    /// True when element `dot` is known.
    pub(crate) fn contains(&self, dot: Dot) -> bool {
        self.counter_span(dot).is_some()
    }

    /// How many of the elements `dot, dot+1, ..., dot+len-1` are known, counting from the first
    /// (stops at the first unknown one).
    pub(crate) fn known_prefix(&self, dot: Dot, len: u64) -> u64 {
        let mut known = 0;
        while known < len {
            let here = Dot::new(dot.replica, dot.counter + known);
            match self.counter_span(here) {
                Some(s) => {
                    known += (u64::from(s.len) - (here.counter - s.counter)).min(len - known)
                }
                None => break,
            }
        }
        known
    }

    /// Local version of `dot` when all of `dot..dot+len` are known (one search when a single
    /// span holds them, as it does for a run of the history).
    pub(crate) fn lv_if_known(&self, dot: Dot, len: u64) -> Option<u32> {
        let spans = &self.by_replica[self.agent(dot.replica)? as usize];
        let i = spans
            .partition_point(|s| s.counter <= dot.counter)
            .checked_sub(1)?;
        let s = spans[i];
        let off = dot.counter - s.counter;
        if off >= u64::from(s.len) {
            return None;
        }
        // The rest must be in the spans that follow, each starting where the previous ends
        // (a run split in the document is several spans).
        let end = dot.counter.saturating_add(len);
        let mut covered = s.counter + u64::from(s.len);
        for next in &spans[i + 1..] {
            if covered >= end || next.counter != covered {
                break;
            }
            covered += u64::from(next.len);
        }
        // In range: off < s.len <= u32::MAX.
        (covered >= end).then_some(s.lv + off as u32)
    }

    /// True when any of `dot..dot+len` is known.
    pub(crate) fn overlaps(&self, dot: Dot, len: u64) -> bool {
        let Some(agent) = self.agent(dot.replica) else {
            return false;
        };
        let spans = &self.by_replica[agent as usize];
        // Fast path: ids above everything known from that replica (local typing, causal ops).
        if spans
            .last()
            .is_none_or_compat(|s| s.counter + u64::from(s.len) <= dot.counter)
        {
            return false;
        }
        let end = dot.counter.saturating_add(len);
        // The last span starting before `end` is the only candidate that can reach into range.
        let i = spans.partition_point(|s| s.counter < end);
        i.checked_sub(1)
            .and_then(|i| spans.get(i))
            .is_some_and(|s| s.counter + u64::from(s.len) > dot.counter)
    }

    /// The span holding allocated local version `lv` (the last span first: recent elements).
    fn lv_span(&self, lv: u32) -> LvSpan {
        match self.lv_spans.last() {
            Some(last) if last.lv <= lv => *last,
            _ => {
                let i = self.lv_spans.partition_point(|s| s.lv <= lv);
                // `lv_spans` covers 0..next_lv and starts at 0, so i >= 1 for any allocated lv.
                self.lv_spans[i.saturating_sub(1)]
            }
        }
    }

    /// Element id of local version `lv` (which must be allocated).
    pub(crate) fn dot_of(&self, lv: u32) -> Dot {
        let s = self.lv_span(lv);
        Dot::new(
            self.replicas[s.agent as usize],
            s.counter + u64::from(lv - s.lv),
        )
    }

    /// `dot_of`, mapping [`NONE`] to `None`.
    pub(crate) fn opt_dot(&self, lv: u32) -> Option<Dot> {
        (lv != NONE).then(|| self.dot_of(lv))
    }

    /// Splits local versions `lv..end` at replica boundaries: `(first id, len)` pieces in order.
    pub(crate) fn dot_ranges(&self, lv: u32, end: u32, mut out: impl FnMut(Dot, u32)) {
        let mut lv = lv;
        while lv < end {
            let s = self.lv_span(lv);
            let take = (s.lv + s.len).min(end) - lv;
            out(
                Dot::new(
                    self.replicas[s.agent as usize],
                    s.counter + u64::from(lv - s.lv),
                ),
                take,
            );
            lv += take;
        }
    }

    /// True when local versions `a` and `a + 1` are consecutive counters of one replica.
    pub(crate) fn continues(&self, a: u32) -> bool {
        if a >= self.next_lv {
            return false;
        }
        let s = self.lv_span(a);
        s.lv <= a && a + 1 < s.lv + s.len
    }

    /// True when allocating `dot` next would extend the last span (hot path of local typing).
    pub(crate) fn extends_last(&self, dot: Dot) -> bool {
        self.lv_spans.last().is_some_and(|s| {
            self.replicas[s.agent as usize] == dot.replica
                && s.counter + u64::from(s.len) == dot.counter
        })
    }

    /// The local versions `(lv, len)` of the counters `dot..dot+len` when one span of known ids
    /// holds them all; `None` otherwise (see [`IdMap::lv_ranges`]).
    pub(crate) fn lv_range_within_span(&self, dot: Dot, len: u64) -> Option<(u32, u32)> {
        let s = self.counter_span(dot)?;
        let off = dot.counter - s.counter;
        // off < s.len, so the range fits u32 when it fits the span.
        (len <= u64::from(s.len) - off).then(|| (s.lv + off as u32, len as u32))
    }

    /// Local versions `lv..lv+len` where the counters `dot..dot+len` are known, each piece as
    /// `(lv, len)`; `Err(first unknown dot)` when any is not.
    pub(crate) fn lv_ranges(&self, dot: Dot, len: u64) -> Result<Vec<(u32, u32)>, Dot> {
        let mut out = Vec::new();
        let mut done = 0;
        while done < len {
            let here = Dot::new(dot.replica, dot.counter + done);
            let s = self.counter_span(here).ok_or(here)?;
            let off = here.counter - s.counter;
            let take = (u64::from(s.len) - off).min(len - done);
            // off < s.len and take <= s.len - off, both fit u32.
            out.push((s.lv + off as u32, take as u32));
            done += take;
        }
        Ok(out)
    }

    /// Allocates local versions for the (unknown) elements `dot..dot+len`; returns the first.
    /// The caller has checked that none is known and that `next_lv + len` fits.
    pub(crate) fn alloc(&mut self, dot: Dot, len: u32) -> u32 {
        let lv = self.next_lv;
        self.next_lv += len;
        let agent = match self.agent(dot.replica) {
            Some(a) => a,
            None => {
                let a = self.replicas.len() as u32;
                self.replicas.push(dot.replica);
                self.agent_of.insert(dot.replica, u64::from(a));
                self.by_replica.push(Vec::new());
                a
            }
        };
        match self.lv_spans.last_mut() {
            Some(s)
                if s.agent == agent
                    && s.counter + u64::from(s.len) == dot.counter
                    && s.len.checked_add(len).is_some() =>
            {
                s.len += len
            }
            _ => self.lv_spans.push(LvSpan {
                lv,
                len,
                agent,
                counter: dot.counter,
            }),
        }
        let spans = &mut self.by_replica[agent as usize];
        let i = match spans.last() {
            Some(s) if s.counter >= dot.counter => {
                spans.partition_point(|s| s.counter < dot.counter)
            }
            _ => spans.len(),
        };
        if i == spans.len() {
            if let Some(s) = spans.last_mut() {
                if s.counter + u64::from(s.len) == dot.counter
                    && s.lv + s.len == lv
                    && s.len.checked_add(len).is_some()
                {
                    s.len += len;
                    return lv;
                }
            }
        }
        spans.insert(
            i,
            CounterSpan {
                counter: dot.counter,
                lv,
                len,
            },
        );
        lv
    }

    /// Builds the map for runs given in local-version order (`(first id, len)`, local versions
    /// assigned consecutively from 0), in O(n); `by_id` holds the runs' indexes in id order
    /// (`snapshot::id_order`: grouped by replica, counters increasing). Errors when two runs
    /// share an id.
    pub(crate) fn from_runs(runs: &[(Dot, u32)], by_id: &[usize]) -> Result<IdMap, &'static str> {
        let mut map = IdMap::default();
        // At most one span per run; shrunk to fit below.
        map.lv_spans.reserve_exact(runs.len());
        let mut per_agent: Vec<(u32, CounterSpan)> = Vec::with_capacity(runs.len());
        for &(dot, len) in runs {
            let lv = map.next_lv;
            let agent = match map.agent(dot.replica) {
                Some(a) => a,
                None => {
                    let a = map.replicas.len() as u32;
                    map.replicas.push(dot.replica);
                    map.agent_of.insert(dot.replica, u64::from(a));
                    map.by_replica.push(Vec::new());
                    a
                }
            };
            map.next_lv = lv.checked_add(len).ok_or("too many elements")?;
            match map.lv_spans.last_mut() {
                Some(s)
                    if s.agent == agent
                        && s.counter + u64::from(s.len) == dot.counter
                        && s.len.checked_add(len).is_some() =>
                {
                    s.len += len
                }
                _ => map.lv_spans.push(LvSpan {
                    lv,
                    len,
                    agent,
                    counter: dot.counter,
                }),
            }
            per_agent.push((
                agent,
                CounterSpan {
                    counter: dot.counter,
                    lv,
                    len,
                },
            ));
        }
        if by_id.len() != per_agent.len() {
            return Err("id order of other runs");
        }
        for &i in by_id {
            let (agent, span) = *per_agent.get(i).ok_or("id order of other runs")?;
            let spans = &mut map.by_replica[agent as usize];
            if let Some(last) = spans.last_mut() {
                let last_end = last.counter + u64::from(last.len);
                if last_end > span.counter {
                    return Err("two runs share an element id");
                }
                if last_end == span.counter
                    && last.lv + last.len == span.lv
                    && last.len.checked_add(span.len).is_some()
                {
                    last.len += span.len;
                    continue;
                }
            }
            spans.push(span);
        }
        // A loaded document keeps these for as long as it is open: no growth slack.
        map.lv_spans.shrink_to_fit();
        for spans in &mut map.by_replica {
            spans.shrink_to_fit();
        }
        Ok(map)
    }

    /// Approximate heap bytes used.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.lv_spans.capacity() * std::mem::size_of::<LvSpan>()
            + self
                .by_replica
                .iter()
                .map(|v| v.capacity() * std::mem::size_of::<CounterSpan>() + 24)
                .sum::<usize>()
            + self.replicas.capacity() * 8
            + self.agent_of.len() * 32
    }
}

/// Which leaf of the tree holds each local version: a piecewise-constant map stored as
/// `BTreeMap<first lv of a piece, leaf>`; a piece extends to the next key. Consecutive local
/// versions in the same leaf share a piece, so sequential typing costs no index update at all.
/// Keys and leaves are u32s held as u64: `BTreeMap<u64, u64>` compiles to the same code as
/// `VersionVector`'s `BTreeMap<ReplicaId, u64>`, which the wasm build then keeps once (a map
/// type of its own was ~10 KB of code there).
#[derive(Clone, Debug, Default)]
pub(crate) struct LeafIndex {
    map: BTreeMap<u64, u64>,
    end: u32,
    /// The leaf of the last piece (the one reaching `end`), to skip a lookup when appending.
    last: u32,
}

impl LeafIndex {
    /// The leaf holding `lv` (which must be below the end of the index).
    pub(crate) fn get(&self, lv: u32) -> Option<u32> {
        if lv >= self.end {
            return None;
        }
        self.map
            .range(..=u64::from(lv))
            .next_back()
            .map(|(_, &leaf)| leaf as u32)
    }

    /// Records that local versions `a..b` are in `leaf`.
    pub(crate) fn set(&mut self, a: u32, b: u32, leaf: u32) {
        if a >= b {
            return;
        }
        if a >= self.end {
            // Fresh local versions (appended at the end of the lv space).
            if self.map.is_empty() || self.last != leaf {
                self.map.insert(u64::from(a), u64::from(leaf));
            }
            self.end = b;
            self.last = leaf;
            return;
        }
        if b >= self.end {
            self.last = leaf;
        }
        if b <= self.end && self.set_within_piece(a, b, leaf) {
            return;
        }
        let after = if b < self.end { self.get(b) } else { None };
        while let Some((&k, _)) = self.map.range(u64::from(a)..u64::from(b)).next() {
            self.map.remove(&k);
        }
        if let Some(v) = after {
            self.map.entry(u64::from(b)).or_insert(u64::from(v));
        }
        if b > self.end {
            self.end = b;
        }
        // Coalesce with the neighbours when they point at the same leaf.
        if self.map.range(..u64::from(a)).next_back().map(|(_, &l)| l) != Some(u64::from(leaf)) {
            self.map.insert(u64::from(a), u64::from(leaf));
        }
        if self.map.get(&u64::from(b)) == Some(&u64::from(leaf)) {
            self.map.remove(&u64::from(b));
        }
    }

    /// [`LeafIndex::set`] when `a..b` (below the end) lies inside one piece, the common case
    /// when a leaf split moves runs: two lookups and at most three changes, instead of the
    /// general path's remove-and-coalesce. Returns false, changing nothing, otherwise.
    fn set_within_piece(&mut self, a: u32, b: u32, leaf: u32) -> bool {
        let Some((k, v)) = self
            .map
            .range(..=u64::from(a))
            .next_back()
            .map(|(&k, &v)| (k as u32, v as u32))
        else {
            return false;
        };
        let next = self
            .map
            .range(u64::from(a) + 1..)
            .next()
            .map(|(&k, &v)| (k as u32, v as u32));
        let piece_end = next.map_or(self.end, |(k2, _)| k2);
        if b > piece_end {
            return false;
        }
        if v == leaf {
            return true;
        }
        // After b: the rest of the piece keeps its leaf; a next piece in `leaf` merges.
        match next {
            _ if b < piece_end => {
                self.map.insert(u64::from(b), u64::from(v));
            }
            Some((k2, v2)) if k2 == b && v2 == leaf => {
                self.map.remove(&u64::from(b));
            }
            _ => {}
        }
        // From a: a new piece, unless it merges into a previous piece in `leaf`.
        if k == a
            && self.map.range(..u64::from(a)).next_back().map(|(_, &l)| l) == Some(u64::from(leaf))
        {
            self.map.remove(&u64::from(a));
        } else {
            self.map.insert(u64::from(a), u64::from(leaf));
        }
        true
    }

    /// Number of pieces (for memory estimates).
    pub(crate) fn pieces(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(r: u64, c: u64) -> Dot {
        Dot::new(ReplicaId::new(r), c)
    }

    #[test]
    fn alloc_merges_runs_and_maps_both_ways() {
        let mut m = IdMap::default();
        assert_eq!(m.alloc(d(1, 1), 3), 0);
        assert!(m.extends_last(d(1, 4)));
        assert_eq!(m.alloc(d(1, 4), 2), 3);
        assert_eq!(m.alloc(d(2, 1), 1), 5);
        assert_eq!(m.alloc(d(1, 10), 2), 6);
        assert_eq!(m.lv_spans.len(), 3, "1@1..6 is one span");
        assert_eq!(m.by_replica[0].len(), 2);
        assert_eq!(m.lv_of(d(1, 5)), Some(4));
        assert_eq!(m.lv_of(d(1, 11)), Some(7));
        assert_eq!(m.lv_of(d(1, 6)), None);
        assert_eq!(m.lv_of(d(3, 1)), None);
        assert_eq!(m.dot_of(4), d(1, 5));
        assert_eq!(m.dot_of(5), d(2, 1));
        assert_eq!(m.dot_of(0), d(1, 1));
        assert!(m.continues(3) && !m.continues(4) && !m.continues(5));
        assert_eq!(m.known_prefix(d(1, 4), 5), 2);
        assert_eq!(m.lv_if_known(d(1, 2), 4), Some(1));
        assert_eq!(m.lv_if_known(d(1, 2), 5), None, "1@6 is unknown");
        assert_eq!(m.lv_if_known(d(1, 10), 2), Some(6));
        assert_eq!(m.lv_if_known(d(3, 1), 1), None);
        assert!(m.overlaps(d(1, 6), 5) && !m.overlaps(d(1, 6), 4) && !m.overlaps(d(9, 1), 9));
        assert_eq!(m.lv_ranges(d(1, 2), 3), Ok(vec![(1, 3)]));
        assert_eq!(m.lv_ranges(d(1, 5), 2), Err(d(1, 6)));
        let mut pieces = vec![];
        m.dot_ranges(2, 7, |dot, len| pieces.push((dot, len)));
        assert_eq!(pieces, vec![(d(1, 3), 3), (d(2, 1), 1), (d(1, 10), 1)]);
    }

    #[test]
    fn leaf_index_pieces() {
        let mut ix = LeafIndex::default();
        ix.set(0, 10, 0);
        ix.set(10, 20, 0);
        assert_eq!(ix.pieces(), 1);
        ix.set(20, 30, 1);
        ix.set(5, 8, 2);
        assert_eq!(
            (0..30).map(|lv| ix.get(lv).unwrap()).collect::<Vec<_>>(),
            [vec![0; 5], vec![2; 3], vec![0; 12], vec![1; 10]].concat()
        );
        ix.set(5, 8, 0);
        assert_eq!(ix.pieces(), 2, "coalesced back");
        ix.set(15, 25, 1);
        assert_eq!(ix.get(14), Some(0));
        assert_eq!(ix.get(15), Some(1));
        assert_eq!(ix.get(30), None);
    }

    proptest::proptest! {
        /// Against a plain vector of leaves (one per local version): same answers, and pieces
        /// always maximal (no two neighbours with the same leaf).
        #[test]
        fn leaf_index_matches_a_vector(
            sets in proptest::collection::vec((0u32..60, 1u32..12, 0u32..4), 1..60)
        ) {
            let mut ix = LeafIndex::default();
            let mut model: Vec<u32> = Vec::new();
            for (a, len, leaf) in sets {
                // Fresh ranges start at the end, as allocation does; others anywhere below.
                let a = a.min(model.len() as u32);
                let b = a + len;
                ix.set(a, b, leaf);
                if model.len() < b as usize {
                    model.resize(b as usize, u32::MAX);
                }
                model[a as usize..b as usize].fill(leaf);
                for (lv, &l) in model.iter().enumerate() {
                    proptest::prop_assert_eq!(ix.get(lv as u32), Some(l), "lv {}", lv);
                }
                proptest::prop_assert_eq!(ix.get(model.len() as u32), None);
                let values: Vec<u64> = ix.map.values().copied().collect();
                proptest::prop_assert!(values.windows(2).all(|w| w[0] != w[1]), "maximal pieces");
                proptest::prop_assert_eq!(ix.last, model[model.len() - 1]);
            }
        }
    }
}
