//! The primitives of the columnar formats: LEB128 varints (unsigned, and signed through zigzag),
//! length-prefixed byte strings, run-length encoded columns, and a bounded [`ColumnReader`].
//!
//! Columnar layout follows Automerge's storage format and diamond-types' encoder: each field of
//! a record type is stored as its own column, so that equal or slowly changing values sit next to
//! each other and run-length encoding (pairs `count, value`) and deltas make them small.
//!
//! Invariant kept by every reader: nothing is allocated from a length read from the input; a
//! count is accepted only if the bytes that remain could hold that many items; a run of a
//! run-length column is never longer than the values still expected from it (when the caller
//! knows how many: [`RleReader::expecting`]); and every failure is a [`FormatError`], never a
//! panic. What the decoded values cost in memory is charged to the message's
//! `DecodeBudget`, see [`DECODE_RATIO`](super::DECODE_RATIO) by the format decoders.

use thiserror::Error;

/// Why a columnar body could not be read.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FormatError {
    /// The input ended inside a value.
    #[error("input ends inside {0}")]
    Truncated(&'static str),
    /// A varint longer than 64 bits.
    #[error("varint does not fit in 64 bits")]
    VarintOverflow,
    /// A count larger than the bytes that remain could hold.
    #[error("{what}: {claimed} claimed but only {remaining} bytes remain")]
    CountTooLarge {
        /// What was counted.
        what: &'static str,
        /// The count read.
        claimed: u64,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A column or body holds bytes after its last value.
    #[error("{0}: unexpected bytes after the last value")]
    TrailingBytes(&'static str),
    /// A run-length column holds a run of zero values, or runs past the values expected.
    #[error("{0}: malformed run-length encoding")]
    BadRun(&'static str),
    /// A format version this build does not read.
    #[error("unsupported format version {0}")]
    UnsupportedVersion(u8),
    /// Flag bits this build does not know.
    #[error("unknown flags {0:#04x}")]
    UnknownFlags(u8),
    /// A deflated body inflates past its limit (a decompression bomb, or corruption).
    #[error("inflated body exceeds its limit of {0} bytes")]
    InflateLimit(usize),
    /// A deflated body is not a valid deflate stream.
    #[error("corrupt deflate stream")]
    Deflate,
    /// A value is outside its valid range.
    #[error("value out of range: {0}")]
    OutOfRange(&'static str),
    /// A MessagePack value is not of the shape the format writes there.
    #[error("{0}: not the MessagePack value expected")]
    BadValue(&'static str),
    /// Decoding would produce more than the message's budget allows (see
    /// `DecodeBudget`, see [`DECODE_RATIO`](super::DECODE_RATIO)): more than a fixed multiple of the bytes
    /// received.
    #[error("decoding {what} exceeds the budget of {limit} bytes for this input")]
    BudgetExceeded {
        /// What was being decoded when the budget ran out.
        what: &'static str,
        /// The message's whole budget, in bytes.
        limit: usize,
    },
}

/// Appends `v` as an unsigned LEB128 varint (7 bits a byte, high bit = more).
pub(crate) fn put_u64(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Zigzag mapping of a signed value (0, -1, 1, -2, ... → 0, 1, 2, 3, ...).
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverse of [`zigzag`].
pub(crate) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Appends `v` zigzag-encoded as a varint.
pub(crate) fn put_i64(out: &mut Vec<u8>, v: i64) {
    put_u64(out, zigzag(v));
}

/// Appends `bytes` prefixed by their length.
pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u64(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// The signed difference `a - b` of two counters, wrapping (decoded with [`add_delta`]).
pub(crate) fn delta(a: u64, b: u64) -> i64 {
    a.wrapping_sub(b) as i64
}

/// `base + delta`, wrapping: the exact inverse of [`delta`] for any two counters (the decoder
/// checks the resulting counters' ranges itself).
pub(crate) fn add_delta(base: u64, delta: i64) -> u64 {
    base.wrapping_add_signed(delta)
}

/// A run-length encoded column of unsigned values, as Automerge's RLE columns: a signed count
/// `n > 0` followed by one value repeated `n` times, or `n < 0` followed by `-n` literal values
/// (so columns of mostly distinct values cost one byte per stretch, not one per value).
#[derive(Default)]
pub(crate) struct RleWriter {
    out: Vec<u8>,
    run: Option<(u64, u64)>,
    literals: Vec<u64>,
}

impl RleWriter {
    /// Appends one value.
    pub(crate) fn push(&mut self, v: u64) {
        match &mut self.run {
            Some((value, count)) if *value == v => *count += 1,
            _ => {
                self.end_run();
                self.run = Some((v, 1));
            }
        }
    }

    fn end_run(&mut self) {
        match self.run.take() {
            Some((value, 1)) => self.literals.push(value),
            Some((value, count)) => {
                self.flush_literals();
                put_i64(&mut self.out, count as i64);
                put_u64(&mut self.out, value);
            }
            None => {}
        }
    }

    fn flush_literals(&mut self) {
        if !self.literals.is_empty() {
            put_i64(&mut self.out, -(self.literals.len() as i64));
            for &v in &self.literals {
                put_u64(&mut self.out, v);
            }
            self.literals.clear();
        }
    }

    /// The encoded column.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.end_run();
        self.flush_literals();
        self.out
    }
}

/// Reads values from a byte slice, checking every length against what remains.
#[derive(Clone, Copy)]
pub(crate) struct ColumnReader<'a> {
    buf: &'a [u8],
}

impl<'a> ColumnReader<'a> {
    /// A reader over `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        ColumnReader { buf }
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// True when everything was read.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Errors unless everything was read.
    pub(crate) fn finish(&self, what: &'static str) -> Result<(), FormatError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(FormatError::TrailingBytes(what))
        }
    }

    /// One byte.
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, FormatError> {
        let (&b, rest) = self.buf.split_first().ok_or(FormatError::Truncated(what))?;
        self.buf = rest;
        Ok(b)
    }

    /// An unsigned LEB128 varint.
    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, FormatError> {
        let mut v: u64 = 0;
        for (i, &b) in self.buf.iter().enumerate() {
            let shift = 7 * i as u32;
            if shift >= 64 || (shift == 63 && b & 0x7f > 1) {
                return Err(FormatError::VarintOverflow);
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                self.buf = &self.buf[i + 1..];
                return Ok(v);
            }
        }
        Err(FormatError::Truncated(what))
    }

    /// A zigzag-encoded signed varint.
    pub(crate) fn i64(&mut self, what: &'static str) -> Result<i64, FormatError> {
        self.u64(what).map(unzigzag)
    }

    /// A little-endian `u64` in 8 bytes.
    pub(crate) fn fixed_u64(&mut self, what: &'static str) -> Result<u64, FormatError> {
        let (head, rest) = self
            .buf
            .split_first_chunk::<8>()
            .ok_or(FormatError::Truncated(what))?;
        self.buf = rest;
        Ok(u64::from_le_bytes(*head))
    }

    /// `n` raw bytes.
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], FormatError> {
        if n > self.buf.len() {
            return Err(FormatError::Truncated(what));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// A length-prefixed byte string.
    pub(crate) fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], FormatError> {
        let n = self.u64(what)?;
        let n = usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.buf.len())
            .ok_or(FormatError::CountTooLarge {
                what,
                claimed: n,
                remaining: self.buf.len(),
            })?;
        self.take(n, what)
    }

    /// A count of items each taking at least `min_bytes` bytes of `within` (a column not read
    /// yet, or this reader itself): refused when those bytes could not hold that many.
    pub(crate) fn count(
        &mut self,
        what: &'static str,
        min_bytes: usize,
        within: usize,
    ) -> Result<usize, FormatError> {
        let n = self.u64(what)?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n.saturating_mul(min_bytes.max(1)) <= within)
            .ok_or(FormatError::CountTooLarge {
                what,
                claimed: n,
                remaining: within,
            })
    }
}

/// Reads a run-length encoded column written by [`RleWriter`].
pub(crate) struct RleReader<'a> {
    input: ColumnReader<'a>,
    value: u64,
    left: u64,
    literal: bool,
    what: &'static str,
    /// Values the column may still hold (counting the current run's): a run claiming more is
    /// refused as it is read.
    expected: u64,
}

impl<'a> RleReader<'a> {
    /// A reader over the column `buf`.
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        RleReader {
            input: ColumnReader::new(buf),
            value: 0,
            left: 0,
            literal: false,
            what,
            expected: u64::MAX,
        }
    }

    /// The same reader, refusing runs past the `n` values the column holds in all.
    pub(crate) fn expecting(mut self, n: usize) -> Self {
        self.expected = u64::try_from(n).unwrap_or(u64::MAX);
        self
    }

    /// The next value.
    pub(crate) fn next_value(&mut self) -> Result<u64, FormatError> {
        if self.left == 0 {
            let count = self.input.i64(self.what)?;
            if count == 0 || count.unsigned_abs() > self.expected {
                return Err(FormatError::BadRun(self.what));
            }
            self.expected -= count.unsigned_abs();
            self.literal = count < 0;
            self.left = count.unsigned_abs();
            if !self.literal {
                self.value = self.input.u64(self.what)?;
            }
        }
        self.left -= 1;
        if self.literal {
            self.value = self.input.u64(self.what)?;
        }
        Ok(self.value)
    }

    /// Errors unless every value of the column was read.
    pub(crate) fn finish(&self) -> Result<(), FormatError> {
        if self.left != 0 {
            return Err(FormatError::BadRun(self.what));
        }
        self.input.finish(self.what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn varint_edges() {
        for v in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            put_u64(&mut out, v);
            let mut r = ColumnReader::new(&out);
            assert_eq!(r.u64("v"), Ok(v));
            assert!(r.is_empty());
        }
        let mut out = Vec::new();
        put_u64(&mut out, u64::MAX);
        assert_eq!(out.len(), 10);
        // An 11th byte, or a 10th byte above 1, does not fit.
        let too_long = [0xff; 11];
        assert_eq!(
            ColumnReader::new(&too_long).u64("v"),
            Err(FormatError::VarintOverflow)
        );
        let mut high = vec![0xff; 9];
        high.push(0x02);
        assert_eq!(
            ColumnReader::new(&high).u64("v"),
            Err(FormatError::VarintOverflow)
        );
        assert_eq!(
            ColumnReader::new(&[0x80]).u64("v"),
            Err(FormatError::Truncated("v"))
        );
    }

    #[test]
    fn counts_are_bounded_by_the_bytes_present() {
        let mut out = Vec::new();
        put_u64(&mut out, 1 << 40);
        out.extend_from_slice(&[0; 16]);
        let mut r = ColumnReader::new(&out);
        assert!(matches!(
            r.count("items", 1, 16),
            Err(FormatError::CountTooLarge { claimed, .. }) if claimed == 1 << 40
        ));
        let mut out = Vec::new();
        put_u64(&mut out, 100);
        assert!(matches!(
            ColumnReader::new(&out).bytes("b"),
            Err(FormatError::CountTooLarge { claimed: 100, .. })
        ));
    }

    #[test]
    fn rle_rejects_empty_runs_and_leftovers() {
        let mut w = RleWriter::default();
        for v in [5, 5, 5, 7, 8, 9] {
            w.push(v);
        }
        let col = w.finish();
        // Run of three 5s (count +3 = zigzag 6), then three literals (count -3 = zigzag 5).
        assert_eq!(col, vec![6, 5, 5, 7, 8, 9]);
        let mut r = RleReader::new(&col, "c");
        for v in [5, 5, 5, 7, 8] {
            assert_eq!(r.next_value(), Ok(v));
        }
        assert_eq!(r.finish(), Err(FormatError::BadRun("c")));
        assert_eq!(r.next_value(), Ok(9));
        assert_eq!(r.finish(), Ok(()));
        assert_eq!(r.next_value(), Err(FormatError::Truncated("c")));
        let mut zero = RleReader::new(&[0, 1], "c");
        assert_eq!(zero.next_value(), Err(FormatError::BadRun("c")));
        // Literals claimed but absent.
        assert_eq!(
            RleReader::new(&[5], "c").next_value(),
            Err(FormatError::Truncated("c"))
        );
        // A huge run is read lazily, never materialized.
        let mut huge = Vec::new();
        put_i64(&mut huge, i64::MAX);
        put_u64(&mut huge, 9);
        let mut r = RleReader::new(&huge, "c");
        assert_eq!(r.next_value(), Ok(9));
        assert_eq!(r.finish(), Err(FormatError::BadRun("c")));
        // With the number of values known, a run past it is refused when read.
        let mut r = RleReader::new(&huge, "c").expecting(3);
        assert_eq!(r.next_value(), Err(FormatError::BadRun("c")));
        // Five values expected: the literal run of three after the three 5s is two too many.
        let mut r = RleReader::new(&col, "c").expecting(5);
        for _ in 0..3 {
            assert_eq!(r.next_value(), Ok(5));
        }
        assert_eq!(r.next_value(), Err(FormatError::BadRun("c")));
        let mut r = RleReader::new(&col, "c").expecting(6);
        for v in [5, 5, 5, 7, 8, 9] {
            assert_eq!(r.next_value(), Ok(v));
        }
        assert_eq!(r.finish(), Ok(()));
    }

    proptest! {
        #[test]
        fn signed_and_rle_round_trip(values in proptest::collection::vec(-3i64..3, 0..200), big in any::<i64>()) {
            let mut w = RleWriter::default();
            let mut plain = Vec::new();
            for &v in values.iter().chain([&big]) {
                w.push(zigzag(v));
                put_i64(&mut plain, v);
            }
            let col = w.finish();
            let mut r = RleReader::new(&col, "c");
            let mut p = ColumnReader::new(&plain);
            for &v in values.iter().chain([&big]) {
                prop_assert_eq!(r.next_value().map(unzigzag), Ok(v));
                prop_assert_eq!(p.i64("p"), Ok(v));
            }
            prop_assert_eq!(r.finish(), Ok(()));
            prop_assert!(p.is_empty());
        }

        #[test]
        fn deltas_round_trip(a in any::<u64>(), b in any::<u64>()) {
            prop_assert_eq!(add_delta(b, delta(a, b)), a);
        }
    }
}
