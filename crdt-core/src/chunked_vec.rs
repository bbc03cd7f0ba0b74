//! A growable array kept in fixed-size chunks, for the columns a document appends to for as long
//! as it lives (the history's operations and change widths).
//!
//! A `Vec` doubles its buffer when it fills, so a long-lived one holds up to twice what it
//! stores (a third more on average), and every doubling copies everything stored so far. The
//! history's columns are the largest part of a document's memory, so that spare room was a
//! quarter of it. Chunks of [`CHUNK`] elements waste at most one partly filled chunk, and never
//! move what they hold. The first chunk grows as a `Vec` does, so a small document pays for
//! what it holds, not for a whole chunk.

use std::ops::{Index, Range};

/// Elements per chunk.
const CHUNK: usize = 512;

/// An append-only sequence of `T` in chunks of [`CHUNK`]: the full chunks, and the one being
/// filled kept apart, so that appending and reading the last element (what a log does per
/// operation) cost what they cost on a `Vec`.
#[derive(Clone, Debug)]
pub(crate) struct ChunkedVec<T> {
    /// Chunks of exactly [`CHUNK`] elements.
    full: Vec<Vec<T>>,
    /// The last elements, fewer than [`CHUNK`] or exactly; empty only when all are.
    tail: Vec<T>,
}

impl<T> Default for ChunkedVec<T> {
    fn default() -> Self {
        ChunkedVec {
            full: Vec::new(),
            tail: Vec::new(),
        }
    }
}

impl<T> ChunkedVec<T> {
    /// Elements before the tail.
    #[inline]
    fn tail_start(&self) -> usize {
        self.full.len() * CHUNK
    }

    /// Number of elements.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.tail_start() + self.tail.len()
    }

    /// Appends `item`.
    #[inline]
    pub(crate) fn push(&mut self, item: T) {
        if self.tail.len() == CHUNK {
            self.start_chunk();
        }
        self.tail.push(item);
    }

    /// Files the full tail with the other full chunks and starts an empty one of [`CHUNK`]
    /// room. (The first tail grew as it filled, so a small log pays for what it holds.)
    #[cold]
    #[inline(never)]
    fn start_chunk(&mut self) {
        let full = std::mem::replace(&mut self.tail, Vec::with_capacity(CHUNK));
        self.full.push(full);
    }

    /// The element at `index`, if there is one.
    #[inline]
    pub(crate) fn get(&self, index: usize) -> Option<&T> {
        match index.checked_sub(self.tail_start()) {
            Some(in_tail) => self.tail.get(in_tail),
            None => self.full.get(index / CHUNK)?.get(index % CHUNK),
        }
    }

    /// The last element, if any.
    #[inline]
    pub(crate) fn last(&self) -> Option<&T> {
        self.tail.last()
    }

    /// The last element, mutably, if any.
    #[inline]
    pub(crate) fn last_mut(&mut self) -> Option<&mut T> {
        self.tail.last_mut()
    }

    /// The elements at `range`, in order (clamped to the length).
    pub(crate) fn range(&self, range: Range<usize>) -> impl Iterator<Item = &T> {
        let end = range.end.min(self.len());
        let start = range.start.min(end);
        (start..end).filter_map(move |i| self.get(i))
    }

    /// The first index in `range` whose element fails `pred`, given that `pred` holds for a
    /// prefix of the range and fails for the rest (as `slice::partition_point`); `range.end`
    /// when it holds for all. `range` must lie within the length.
    pub(crate) fn partition_point(&self, range: Range<usize>, pred: impl Fn(&T) -> bool) -> usize {
        let (mut low, mut high) = (range.start, range.end.min(self.len()));
        while low < high {
            let mid = low + (high - low) / 2;
            match self.get(mid) {
                Some(item) if pred(item) => low = mid + 1,
                _ => high = mid,
            }
        }
        low
    }

    /// Every element, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.full.iter().flatten().chain(&self.tail)
    }

    /// Bytes of heap the elements' buffers take (what memory accounting counts).
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        (self.full.capacity() * std::mem::size_of::<Vec<T>>())
            + (self.full.len() * CHUNK + self.tail.capacity()) * std::mem::size_of::<T>()
    }
}

impl<T> Index<usize> for ChunkedVec<T> {
    type Output = T;

    /// The element at `index`; panics past the end, as a slice does.
    #[inline]
    fn index(&self, index: usize) -> &T {
        match index.checked_sub(self.tail_start()) {
            Some(in_tail) => &self.tail[in_tail],
            None => &self.full[index / CHUNK][index % CHUNK],
        }
    }
}

impl<T> FromIterator<T> for ChunkedVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut out = ChunkedVec::default();
        for item in items {
            out.push(item);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{ChunkedVec, CHUNK};

    #[test]
    fn holds_what_was_pushed_across_chunks() {
        let n = 3 * CHUNK + 7;
        let v: ChunkedVec<usize> = (0..n).collect();
        assert_eq!(v.len(), n);
        assert!((0..n).all(|i| v.get(i) == Some(&i)));
        assert_eq!(v.get(n), None);
        assert_eq!(v.last(), Some(&(n - 1)));
        assert!(v.iter().copied().eq(0..n));
        assert!(v
            .range(CHUNK - 2..CHUNK + 3)
            .copied()
            .eq(CHUNK - 2..CHUNK + 3));
        assert_eq!(v.range(n - 1..n + 5).count(), 1);
    }

    #[test]
    fn finds_the_partition_point_in_any_range() {
        let n = 2 * CHUNK + 100;
        let v: ChunkedVec<usize> = (0..n).map(|i| i * 2).collect();
        for (range, bound) in [
            (0..n, 1000),
            (CHUNK..n, 1000),
            (3..9, 0),
            (3..9, 100),
            (0..0, 5),
        ] {
            let expected = range.start
                + (range.start..range.end)
                    .take_while(|&i| i * 2 < bound)
                    .count();
            assert_eq!(v.partition_point(range, |&x| x < bound), expected);
        }
        // Every range and bound around the chunks' edges, against a slice.
        let all: Vec<usize> = v.iter().copied().collect();
        let edges = [
            0,
            1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            2 * CHUNK,
            2 * CHUNK + 1,
            n - 1,
            n,
        ];
        for &start in &edges {
            for &end in edges.iter().filter(|&&e| e >= start) {
                for bound in edges.iter().map(|&e| e * 2).chain([1, 4 * n]) {
                    let expected = start + all[start..end].partition_point(|&x| x < bound);
                    assert_eq!(
                        v.partition_point(start..end, |&x| x < bound),
                        expected,
                        "{start}..{end} below {bound}"
                    );
                }
            }
        }
    }

    #[test]
    fn wastes_at_most_one_chunk_where_a_vec_would_double() {
        let n = CHUNK * 8 + 1;
        let v: ChunkedVec<u64> = (0..n as u64).collect();
        let spare = v.heap_bytes() - n * 8;
        assert!(spare <= CHUNK * 8 + 64 * 24, "spare {spare} bytes");
        let mut small = ChunkedVec::default();
        small.push(1u64);
        assert!(
            small.heap_bytes() < 256,
            "a small log pays for a whole chunk"
        );
    }
}
