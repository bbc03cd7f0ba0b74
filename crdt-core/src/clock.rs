//! Logical time: who made an event ([`ReplicaId`]), which event it was ([`Dot`]), and what a
//! replica has seen ([`VersionVector`]).
//!
//! Every replica numbers its own events 1, 2, 3, ... with no gaps. A [`Dot`] names one such event.
//! A [`VersionVector`] (a vector clock) maps each replica to the highest counter of its events that
//! has been seen *contiguously*: an entry `r -> 5` means events 1..=5 of `r` are all known. Peers
//! exchange version vectors to find what the other side lacks ([`VersionVector::missing_from`]).
//!
//! ```
//! use crdt_core::{CausalOrder, Dot, ReplicaId, VersionVector};
//!
//! let (a, b) = (ReplicaId::new(1), ReplicaId::new(2));
//! let mut left = VersionVector::new();
//! let mut right = VersionVector::new();
//! left.increment(a);
//! left.increment(a);
//! right.increment(b);
//! assert_eq!(left.compare(&right), CausalOrder::Concurrent);
//!
//! // What `right` lacks of `left`: events 1..=2 of `a`.
//! let lacks = left.missing_from(&right);
//! assert_eq!(lacks.len(), 1);
//! assert_eq!((lacks[0].replica, lacks[0].start, lacks[0].end), (a, 1, 3));
//!
//! right.merge(&left);
//! assert!(right.includes(Dot::new(a, 2)));
//! assert_eq!(left.compare(&right), CausalOrder::Before);
//! ```

use std::cmp::Ordering;
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// The identity of one replica (one document instance on one device or process).
///
/// 64 bits, random by default ([`ReplicaId::random`]), so that independent replicas never need to
/// coordinate to get distinct ids. Ordering of ids is used only for deterministic tie-breaks.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReplicaId(pub u64);

impl ReplicaId {
    /// A replica id with a chosen value (tests, or an id the application persisted).
    pub const fn new(id: u64) -> Self {
        ReplicaId(id)
    }

    /// A fresh random id from the operating system's (or, in a browser, the Web Crypto) random
    /// source. Falls back to a time- and address-derived value if no random source is available.
    pub fn random() -> Self {
        let mut bytes = [0u8; 8];
        if getrandom::getrandom(&mut bytes).is_err() {
            // No OS randomness (exotic targets): mix what differs between processes. Distinctness,
            // not secrecy, is all a replica id needs.
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(&bytes as *const _ as usize);
            bytes = h.finish().to_le_bytes();
        }
        ReplicaId(u64::from_le_bytes(bytes))
    }

    /// The raw 64-bit value.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl Default for ReplicaId {
    /// A random id: see [`ReplicaId::random`].
    fn default() -> Self {
        Self::random()
    }
}

impl fmt::Debug for ReplicaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "R{:x}", self.0)
    }
}

impl fmt::Display for ReplicaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// One event: the `counter`-th event made by `replica`. Counters start at 1.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dot {
    /// The replica that made the event.
    pub replica: ReplicaId,
    /// Its position in that replica's sequence of events, from 1.
    pub counter: u64,
}

impl Dot {
    /// The `counter`-th event of `replica`.
    pub const fn new(replica: ReplicaId, counter: u64) -> Self {
        Dot { replica, counter }
    }
}

impl fmt::Debug for Dot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}@{}", self.replica, self.counter)
    }
}

/// How two version vectors (or the states they summarise) relate in causal time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CausalOrder {
    /// Every event of the left side is known to the right side, and the right knows more.
    Before,
    /// The left side knows every event of the right side, and more.
    After,
    /// Both sides know exactly the same events.
    Equal,
    /// Each side knows an event the other does not.
    Concurrent,
}

/// A run of consecutive events of one replica: counters `start..end` (end exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SeqRange {
    /// The replica whose events these are.
    pub replica: ReplicaId,
    /// First counter in the run (inclusive).
    pub start: u64,
    /// One past the last counter in the run.
    pub end: u64,
}

impl SeqRange {
    /// Number of events in the run.
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// True when the run holds no event.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// True when `dot` is one of the run's events.
    pub fn contains(&self, dot: Dot) -> bool {
        dot.replica == self.replica && dot.counter >= self.start && dot.counter < self.end
    }
}

/// A vector clock: for each replica, the highest counter of its events seen without gaps.
///
/// Entries equal to zero are never stored, so two vectors that know the same events are `==`.
/// Stored as a map ordered by replica: a lookup or an update is `log n` wherever the replica
/// falls (a sorted vector made each new replica an insertion that moved all later ones, so a
/// batch of changes from many new replicas took quadratic time), and operations on two vectors
/// walk both in order (never one lookup-and-insert per entry of a peer's large vector).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct VersionVector(BTreeMap<ReplicaId, u64>);

impl VersionVector {
    /// The empty vector: nothing seen.
    pub fn new() -> Self {
        VersionVector(BTreeMap::new())
    }

    /// Highest contiguous counter seen from `replica` (0 when none).
    pub fn get(&self, replica: ReplicaId) -> u64 {
        self.0.get(&replica).copied().unwrap_or(0)
    }

    /// Sets the entry for `replica` to exactly `counter` (0 removes it).
    pub fn set(&mut self, replica: ReplicaId, counter: u64) {
        if counter == 0 {
            self.0.remove(&replica);
        } else {
            self.0.insert(replica, counter);
        }
    }

    /// Raises the entry for `replica` to `counter` when it is below; returns whether it was.
    /// One search of the map, where a `get` and a `set` are two.
    pub(crate) fn advance(&mut self, replica: ReplicaId, counter: u64) -> bool {
        match self.0.entry(replica) {
            Entry::Occupied(mut held) if *held.get() < counter => {
                *held.get_mut() = counter;
                true
            }
            Entry::Occupied(_) => false,
            Entry::Vacant(_) if counter == 0 => false,
            Entry::Vacant(new) => {
                new.insert(counter);
                true
            }
        }
    }

    /// Records a new local event of `replica` and returns its dot.
    pub fn increment(&mut self, replica: ReplicaId) -> Dot {
        let next = self.get(replica).saturating_add(1);
        self.set(replica, next);
        Dot::new(replica, next)
    }

    /// Records that `dot` (and, by the contiguity of this vector, every earlier event of its
    /// replica) has been seen: the entry becomes the maximum of itself and `dot.counter`.
    ///
    /// Use a [`crate::CausalContext`] when events can arrive with gaps.
    pub fn observe(&mut self, dot: Dot) {
        if dot.counter > self.get(dot.replica) {
            self.set(dot.replica, dot.counter);
        }
    }

    /// True when `dot` has been seen.
    pub fn includes(&self, dot: Dot) -> bool {
        dot.counter != 0 && dot.counter <= self.get(dot.replica)
    }

    /// Pointwise maximum: afterwards `self` knows everything either side knew.
    ///
    /// A small `other` (an ack of a few entries) updates in place; a large one is merged in one
    /// pass over both sorted vectors (two pointers), linear in their lengths, so a peer's vector
    /// of many entries costs what reading it costs.
    pub fn merge(&mut self, other: &VersionVector) {
        if other.len() <= 8 || other.len() < self.len() / 16 {
            for (&replica, &counter) in &other.0 {
                let entry = self.0.entry(replica).or_insert(0);
                *entry = (*entry).max(counter);
            }
            return;
        }
        // First `other`'s entries, raised to `self`'s counter where that is higher. Then
        // `BTreeMap::append` merges the two maps in one pass, keeping the appended (maximal)
        // counter of a shared replica. It needs no sort; `collect` would, and that sort is
        // kilobytes of the wasm build.
        let mut maxed = other.0.clone();
        let mut mine = self.0.iter().peekable();
        for (replica, counter) in maxed.iter_mut() {
            while mine.next_if(|(r, _)| *r < replica).is_some() {}
            if let Some((_, &c)) = mine.next_if(|(r, _)| *r == replica) {
                *counter = (*counter).max(c);
            }
        }
        self.0.append(&mut maxed);
    }

    /// Pointwise minimum: the events both sides know.
    pub fn intersection(&self, other: &VersionVector) -> VersionVector {
        VersionVector(map_of_sorted(
            Pairs::new(self, other).filter_map(|(r, a, b)| (a.min(b) > 0).then_some((r, a.min(b)))),
        ))
    }

    /// True when every event known to `other` is known to `self`.
    pub fn dominates(&self, other: &VersionVector) -> bool {
        if other.len() <= 8 {
            return other.iter().all(|(r, c)| self.get(r) >= c);
        }
        Pairs::new(self, other).all(|(_, a, b)| a >= b)
    }

    /// Causal comparison of the two sets of events the vectors summarise.
    pub fn compare(&self, other: &VersionVector) -> CausalOrder {
        match (self.dominates(other), other.dominates(self)) {
            (true, true) => CausalOrder::Equal,
            (true, false) => CausalOrder::After,
            (false, true) => CausalOrder::Before,
            (false, false) => CausalOrder::Concurrent,
        }
    }

    /// The events `self` knows and `other` lacks, as one run per replica, ordered by replica id.
    pub fn missing_from(&self, other: &VersionVector) -> Vec<SeqRange> {
        Pairs::new(self, other)
            .filter(|&(_, mine, theirs)| mine > theirs)
            .map(|(replica, mine, theirs)| SeqRange {
                replica,
                start: theirs + 1,
                end: mine + 1,
            })
            .collect()
    }

    /// Iterates `(replica, highest counter)` in replica order.
    pub fn iter(&self) -> impl Iterator<Item = (ReplicaId, u64)> + '_ {
        self.entries()
    }

    /// [`iter`](Self::iter) as a nameable type, for [`Pairs`].
    fn entries(&self) -> EntryIter<'_> {
        let copy: fn((&ReplicaId, &u64)) -> (ReplicaId, u64) = |(&r, &c)| (r, c);
        self.0.iter().map(copy)
    }

    /// Number of replicas with at least one event seen.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when nothing has been seen.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Total number of events the vector covers.
    pub fn total_events(&self) -> u64 {
        self.0.values().fold(0u64, |a, &c| a.saturating_add(c))
    }
}

impl PartialOrd for VersionVector {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match self.compare(other) {
            CausalOrder::Before => Some(Ordering::Less),
            CausalOrder::After => Some(Ordering::Greater),
            CausalOrder::Equal => Some(Ordering::Equal),
            CausalOrder::Concurrent => None,
        }
    }
}

impl fmt::Debug for VersionVector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter()).finish()
    }
}

/// Two vectors walked side by side in replica order (two pointers): each replica either knows,
/// with its counter on each side (0 where absent). Linear in both lengths.
struct Pairs<A: Iterator, B: Iterator> {
    left: std::iter::Peekable<A>,
    right: std::iter::Peekable<B>,
}

impl<'a, 'b> Pairs<EntryIter<'a>, EntryIter<'b>> {
    fn new(left: &'a VersionVector, right: &'b VersionVector) -> Self {
        Pairs {
            left: left.entries().peekable(),
            right: right.entries().peekable(),
        }
    }
}

type EntryIter<'a> = std::iter::Map<
    std::collections::btree_map::Iter<'a, ReplicaId, u64>,
    fn((&'a ReplicaId, &'a u64)) -> (ReplicaId, u64),
>;

impl<A, B> Iterator for Pairs<A, B>
where
    A: Iterator<Item = (ReplicaId, u64)>,
    B: Iterator<Item = (ReplicaId, u64)>,
{
    /// A replica, its counter on the left, its counter on the right.
    type Item = (ReplicaId, u64, u64);

    fn next(&mut self) -> Option<(ReplicaId, u64, u64)> {
        let order = match (self.left.peek(), self.right.peek()) {
            (Some(&(r, _)), Some(&(q, _))) => r.cmp(&q),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => return None,
        };
        Some(match order {
            Ordering::Less => self.left.next().map(|(r, a)| (r, a, 0))?,
            Ordering::Greater => self.right.next().map(|(r, b)| (r, 0, b))?,
            Ordering::Equal => {
                let (r, a) = self.left.next()?;
                let (_, b) = self.right.next()?;
                (r, a, b)
            }
        })
    }
}

impl FromIterator<(ReplicaId, u64)> for VersionVector {
    /// Keeps the highest counter per replica, whatever the order of the input: each entry goes
    /// straight into the map (O(n log n), as a sort would be, without a sort's kilobytes of
    /// code for this element type in the wasm build).
    fn from_iter<I: IntoIterator<Item = (ReplicaId, u64)>>(iter: I) -> Self {
        let mut map = BTreeMap::new();
        for (replica, counter) in iter.into_iter().filter(|e| e.1 > 0) {
            let highest = map.entry(replica).or_insert(counter);
            *highest = (*highest).max(counter);
        }
        VersionVector(map)
    }
}

/// The map of `entries`, given in increasing replica order, built by inserts: `collect` into a
/// `BTreeMap` would sort them again, and that stable sort is kilobytes of the wasm build.
fn map_of_sorted(entries: impl Iterator<Item = (ReplicaId, u64)>) -> BTreeMap<ReplicaId, u64> {
    let mut map = BTreeMap::new();
    for (replica, counter) in entries {
        map.insert(replica, counter);
    }
    map
}

impl Serialize for VersionVector {
    /// Encodes a map of replica to counter, in replica order.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter())
    }
}

impl<'de> Deserialize<'de> for VersionVector {
    /// Decodes a map of replica to counter, dropping zero entries so equality stays canonical.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<ReplicaId, u64>::deserialize(deserializer)?;
        Ok(map.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn advance_raises_an_entry_only_upwards() {
        let mut v = VersionVector::new();
        assert!(!v.advance(r(1), 0), "0 is no event");
        assert_eq!(v, VersionVector::new());
        assert!(v.advance(r(1), 3));
        assert!(!v.advance(r(1), 3));
        assert!(!v.advance(r(1), 2));
        assert_eq!(v.get(r(1)), 3);
        assert!(v.advance(r(1), 5));
        assert!(v.advance(r(2), 1));
        assert_eq!((v.get(r(1)), v.get(r(2))), (5, 1));
    }

    fn r(n: u64) -> ReplicaId {
        ReplicaId::new(n)
    }

    #[test]
    fn increment_observe_includes() {
        let mut vv = VersionVector::new();
        assert!(!vv.includes(Dot::new(r(1), 1)));
        assert_eq!(vv.increment(r(1)), Dot::new(r(1), 1));
        assert_eq!(vv.increment(r(1)), Dot::new(r(1), 2));
        assert!(vv.includes(Dot::new(r(1), 2)));
        assert!(!vv.includes(Dot::new(r(1), 3)));
        assert!(!vv.includes(Dot::new(r(1), 0)));
        vv.observe(Dot::new(r(1), 1));
        assert_eq!(
            vv.get(r(1)),
            2,
            "observing an older dot never lowers the entry"
        );
        vv.observe(Dot::new(r(2), 7));
        assert_eq!(vv.get(r(2)), 7);
        assert_eq!(vv.total_events(), 9);
    }

    #[test]
    fn compare_all_four_cases() {
        let a: VersionVector = [(r(1), 2), (r(2), 1)].into_iter().collect();
        let b: VersionVector = [(r(1), 2), (r(2), 3)].into_iter().collect();
        let c: VersionVector = [(r(1), 3)].into_iter().collect();
        assert_eq!(a.compare(&a.clone()), CausalOrder::Equal);
        assert_eq!(a.compare(&b), CausalOrder::Before);
        assert_eq!(b.compare(&a), CausalOrder::After);
        assert_eq!(b.compare(&c), CausalOrder::Concurrent);
        assert!(a < b);
        assert_eq!(b.partial_cmp(&c), None);
    }

    #[test]
    fn zero_entries_are_not_stored() {
        let mut a = VersionVector::new();
        a.set(r(4), 0);
        assert_eq!(a, VersionVector::new());
        let bytes = rmp_serde::to_vec(
            &[(r(9), 0u64), (r(1), 2)]
                .into_iter()
                .collect::<BTreeMap<_, _>>(),
        )
        .unwrap();
        let decoded: VersionVector = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(decoded, [(r(1), 2)].into_iter().collect());
    }

    #[test]
    fn hostile_bytes_decode_to_errors() {
        // A map header claiming 2^32-1 entries followed by nothing must fail without allocating.
        let bytes = [0xdf, 0xff, 0xff, 0xff, 0xff];
        assert!(rmp_serde::from_slice::<VersionVector>(&bytes).is_err());
        assert!(rmp_serde::from_slice::<VersionVector>(&[0xc1]).is_err());
        assert!(rmp_serde::from_slice::<Dot>(&[0x92, 0x01]).is_err());
    }

    #[test]
    fn merging_two_large_vectors_takes_linear_time() {
        // The attack of issue #17: 300k replica ids, then 300k lower ids. Inserting each into a
        // sorted vector took minutes; one pass takes milliseconds even in a debug build. The
        // bound is far from both, so a machine loaded by other work cannot fail it.
        const N: u64 = 300_000;
        let high: VersionVector = (0..N).map(|i| (r(N + i), 1)).collect();
        let low: VersionVector = (0..N).rev().map(|i| (r(i), 1)).collect();
        let started = std::time::Instant::now();
        let mut merged = high.clone();
        merged.merge(&low);
        let mut other_way = low.clone();
        other_way.merge(&high);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "took {:?}",
            started.elapsed()
        );
        assert_eq!(merged.len(), 2 * N as usize);
        assert_eq!(merged, other_way);
        assert!(merged.dominates(&high) && merged.dominates(&low));
    }

    #[test]
    fn collecting_keeps_the_highest_counter_in_any_order() {
        let v: VersionVector = [(r(3), 1), (r(1), 4), (r(3), 7), (r(2), 0), (r(1), 2)]
            .into_iter()
            .collect();
        assert_eq!(v.iter().collect::<Vec<_>>(), [(r(1), 4), (r(3), 7)]);
    }

    #[test]
    fn random_ids_differ() {
        assert_ne!(ReplicaId::random(), ReplicaId::random());
    }

    fn vv_strategy() -> impl Strategy<Value = VersionVector> {
        prop::collection::btree_map(0u64..16, 0u64..20, 0..14)
            .prop_map(|m| m.into_iter().map(|(k, v)| (ReplicaId::new(k), v)).collect())
    }

    proptest! {
        #[test]
        fn merge_is_a_join(a in vv_strategy(), b in vv_strategy(), c in vv_strategy()) {
            let mut ab = a.clone(); ab.merge(&b);
            let mut ba = b.clone(); ba.merge(&a);
            prop_assert_eq!(&ab, &ba);
            let mut ab_c = ab.clone(); ab_c.merge(&c);
            let mut bc = b.clone(); bc.merge(&c);
            let mut a_bc = a.clone(); a_bc.merge(&bc);
            prop_assert_eq!(ab_c, a_bc);
            let mut aa = a.clone(); aa.merge(&a);
            prop_assert_eq!(&aa, &a);
            prop_assert!(ab.dominates(&a) && ab.dominates(&b));
        }

        #[test]
        fn missing_ranges_are_exactly_the_difference(a in vv_strategy(), b in vv_strategy()) {
            let ranges = a.missing_from(&b);
            // Applying the missing ranges to b yields the merge.
            let mut patched = b.clone();
            for range in &ranges {
                prop_assert!(!range.is_empty());
                prop_assert!(!b.includes(Dot::new(range.replica, range.start)));
                prop_assert!(a.includes(Dot::new(range.replica, range.end - 1)));
                patched.observe(Dot::new(range.replica, range.end - 1));
            }
            let mut merged = b.clone(); merged.merge(&a);
            prop_assert_eq!(patched, merged);
            prop_assert_eq!(ranges.is_empty(), b.dominates(&a));
        }

        #[test]
        fn compare_agrees_with_dominates(a in vv_strategy(), b in vv_strategy()) {
            let order = a.compare(&b);
            let reversed = b.compare(&a);
            let expected_reverse = match order {
                CausalOrder::Before => CausalOrder::After,
                CausalOrder::After => CausalOrder::Before,
                other => other,
            };
            prop_assert_eq!(reversed, expected_reverse);
            prop_assert_eq!(order == CausalOrder::Equal, a == b);
        }

        #[test]
        fn serde_round_trip(a in vv_strategy()) {
            let bytes = rmp_serde::to_vec(&a).unwrap();
            prop_assert_eq!(rmp_serde::from_slice::<VersionVector>(&bytes).unwrap(), a);
        }
    }
}
