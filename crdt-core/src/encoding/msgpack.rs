//! MessagePack written and read by hand: the writers and the bounded [`PackReader`] that the sync
//! protocol's frames (`sync::message`) and the document's value encodings (the document's
//! `format::value_pack`) are made of. Integers are written in their shortest form, enums in
//! `rmp_serde`'s default layout (a variant with data is a one-entry map `{ "Variant": data }`, a
//! unit variant its name as a string), so that bytes match what `rmp_serde` writes.
//!
//! Why by hand: serde's data model decodes through one generic `Deserializer` instantiated per
//! visitor type; for the few types the formats hold that is most of the decoding code of a wasm
//! build (the browser package must stay small). The same MessagePack ([msgpack spec]) costs a
//! fraction of it when written out once.
//!
//! Invariant: reading never panics and never allocates more than the input could hold (a claimed
//! element count is checked against the bytes that remain, every element taking at least one); it
//! accepts integers in any MessagePack width, as `rmp_serde` reads them, and refuses anything else
//! than what was asked for with a [`FormatError`].
//!
//! [msgpack spec]: https://github.com/msgpack/msgpack/blob/master/spec.md

use rmp::Marker;

use super::budget::DecodeBudget;
use super::FormatError;

// ---------------------------------------------------------------------------------------------
// Writing. rmp's writers into a `Vec<u8>` cannot fail (a Vec's `io::Write` never errors), so
// their results are dropped.

/// Appends a `str`.
pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    let _ = rmp::encode::write_str(out, s);
}

/// Appends an unsigned integer in its shortest form.
pub(crate) fn put_uint(out: &mut Vec<u8>, v: u64) {
    let _ = rmp::encode::write_uint(out, v);
}

/// Appends a signed integer in its shortest form.
pub(crate) fn put_sint(out: &mut Vec<u8>, v: i64) {
    let _ = rmp::encode::write_sint(out, v);
}

/// Appends a boolean.
pub(crate) fn put_bool(out: &mut Vec<u8>, b: bool) {
    let _ = rmp::encode::write_bool(out, b);
}

/// Appends a 64-bit float.
pub(crate) fn put_f64(out: &mut Vec<u8>, f: f64) {
    let _ = rmp::encode::write_f64(out, f);
}

/// Appends an array header.
pub(crate) fn put_array_len(out: &mut Vec<u8>, len: usize) {
    // The formats' values are far below 2^32 elements; rmp_serde writes `len as u32` too.
    let _ = rmp::encode::write_array_len(out, len as u32);
}

/// Appends a `bin`.
pub(crate) fn put_bin(out: &mut Vec<u8>, bytes: &[u8]) {
    let _ = rmp::encode::write_bin(out, bytes);
}

/// Appends `nil`.
pub(crate) fn put_nil(out: &mut Vec<u8>) {
    let _ = rmp::encode::write_nil(out);
}

/// Appends a map header.
pub(crate) fn put_map_len(out: &mut Vec<u8>, len: usize) {
    let _ = rmp::encode::write_map_len(out, len as u32);
}

/// Starts `{ "variant": ... }`, an enum variant with data as `rmp_serde` writes it.
pub(crate) fn put_variant(out: &mut Vec<u8>, variant: &str) {
    let _ = rmp::encode::write_map_len(out, 1);
    put_str(out, variant);
}

/// An array of values, each written by `put`.
pub(crate) fn array<T>(items: &[T], put: impl Fn(&mut Vec<u8>, &T)) -> Vec<u8> {
    let mut out = Vec::with_capacity(items.len() * 4 + 5);
    put_array_len(&mut out, items.len());
    for item in items {
        put(&mut out, item);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Reading.

/// Reads MessagePack values from a slice; see the [module docs](self).
pub(crate) struct PackReader<'a> {
    buf: &'a [u8],
    /// What is being read, for errors.
    what: &'static str,
}

impl<'a> PackReader<'a> {
    /// A reader of `buf`, which holds `what` (named in errors).
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        PackReader { buf, what }
    }

    /// Errors unless everything was read.
    pub(crate) fn finish(&self) -> Result<(), FormatError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(FormatError::TrailingBytes(self.what))
        }
    }

    /// The error for a value that is not what was expected.
    pub(crate) fn bad(&self) -> FormatError {
        FormatError::BadValue(self.what)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        if n > self.buf.len() {
            return Err(FormatError::Truncated(self.what));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// A big-endian unsigned integer of `n` (1 to 8) bytes.
    fn be(&mut self, n: usize) -> Result<u64, FormatError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn marker(&mut self) -> Result<Marker, FormatError> {
        let b = self.take(1)?[0];
        Ok(Marker::from_u8(b))
    }

    /// An integer in any width, widened.
    fn int(&mut self) -> Result<i128, FormatError> {
        Ok(match self.marker()? {
            Marker::FixPos(v) => i128::from(v),
            Marker::FixNeg(v) => i128::from(v),
            Marker::U8 => i128::from(self.be(1)?),
            Marker::U16 => i128::from(self.be(2)?),
            Marker::U32 => i128::from(self.be(4)?),
            Marker::U64 => i128::from(self.be(8)?),
            // Sign-extend from the width read.
            Marker::I8 => i128::from(self.be(1)? as u8 as i8),
            Marker::I16 => i128::from(self.be(2)? as u16 as i16),
            Marker::I32 => i128::from(self.be(4)? as u32 as i32),
            Marker::I64 => i128::from(self.be(8)? as i64),
            _ => return Err(self.bad()),
        })
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Reads `nil` if that comes next; true if it did.
    pub(crate) fn nil(&mut self) -> Result<bool, FormatError> {
        match self.buf.first() {
            Some(&b) if Marker::from_u8(b) == Marker::Null => {
                self.take(1)?;
                Ok(true)
            }
            Some(_) => Ok(false),
            None => Err(FormatError::Truncated(self.what)),
        }
    }

    /// An unsigned integer in any width.
    pub(crate) fn u64(&mut self) -> Result<u64, FormatError> {
        u64::try_from(self.int()?).map_err(|_| FormatError::OutOfRange(self.what))
    }

    /// A signed integer in any width.
    pub(crate) fn i64(&mut self) -> Result<i64, FormatError> {
        i64::try_from(self.int()?).map_err(|_| FormatError::OutOfRange(self.what))
    }

    /// A boolean.
    pub(crate) fn bool(&mut self) -> Result<bool, FormatError> {
        match self.marker()? {
            Marker::True => Ok(true),
            Marker::False => Ok(false),
            _ => Err(self.bad()),
        }
    }

    /// A float, 64 or 32 bits wide (widened).
    pub(crate) fn f64(&mut self) -> Result<f64, FormatError> {
        match self.marker()? {
            Marker::F64 => Ok(f64::from_bits(self.be(8)?)),
            Marker::F32 => Ok(f64::from(f32::from_bits(self.be(4)? as u32))),
            _ => Err(self.bad()),
        }
    }

    /// A `str`.
    pub(crate) fn str(&mut self) -> Result<&'a str, FormatError> {
        let len = match self.marker()? {
            Marker::FixStr(n) => usize::from(n),
            Marker::Str8 => self.be(1)? as usize,
            Marker::Str16 => self.be(2)? as usize,
            Marker::Str32 => self.be(4)? as usize,
            _ => return Err(self.bad()),
        };
        std::str::from_utf8(self.take(len)?).map_err(|_| self.bad())
    }

    /// A `bin`.
    pub(crate) fn bin(&mut self) -> Result<&'a [u8], FormatError> {
        let len = match self.marker()? {
            Marker::Bin8 => self.be(1)? as usize,
            Marker::Bin16 => self.be(2)? as usize,
            Marker::Bin32 => self.be(4)? as usize,
            _ => return Err(self.bad()),
        };
        self.take(len)
    }

    /// An array header; the count is at most the bytes that remain (every element takes one).
    pub(crate) fn array_len(&mut self) -> Result<usize, FormatError> {
        let n = match self.marker()? {
            Marker::FixArray(n) => usize::from(n),
            Marker::Array16 => self.be(2)? as usize,
            Marker::Array32 => self.be(4)? as usize,
            _ => return Err(self.bad()),
        };
        if n > self.buf.len() {
            return Err(FormatError::CountTooLarge {
                what: self.what,
                claimed: n as u64,
                remaining: self.buf.len(),
            });
        }
        Ok(n)
    }

    /// A map header; the count is at most half the bytes that remain (every entry takes two).
    pub(crate) fn map_len(&mut self) -> Result<usize, FormatError> {
        let n = match self.marker()? {
            Marker::FixMap(n) => usize::from(n),
            Marker::Map16 => self.be(2)? as usize,
            Marker::Map32 => self.be(4)? as usize,
            _ => return Err(self.bad()),
        };
        if n > self.buf.len() / 2 {
            return Err(FormatError::CountTooLarge {
                what: self.what,
                claimed: n as u64,
                remaining: self.buf.len(),
            });
        }
        Ok(n)
    }

    /// An array header of exactly `n` elements.
    pub(crate) fn tuple(&mut self, n: usize) -> Result<(), FormatError> {
        if self.array_len()? == n {
            Ok(())
        } else {
            Err(self.bad())
        }
    }

    /// `{ "variant": ... }` or a bare `"variant"` (a unit variant): the name, and whether data
    /// follows.
    pub(crate) fn variant(&mut self) -> Result<(&'a str, bool), FormatError> {
        match self.buf.first().map(|&b| Marker::from_u8(b)) {
            Some(Marker::FixMap(1)) => {
                self.take(1)?;
                Ok((self.str()?, true))
            }
            _ => Ok((self.str()?, false)),
        }
    }
}

/// Reads a whole buffer holding one array of `T`, each read by `read`, charging each element
/// to `budget`: its size, and the bytes it took of the buffer (an upper bound of the heap bytes
/// it owns).
pub(crate) fn read_array<T>(
    buf: &[u8],
    what: &'static str,
    budget: &mut DecodeBudget,
    read: impl Fn(&mut PackReader<'_>) -> Result<T, FormatError>,
) -> Result<Vec<T>, FormatError> {
    let mut r = PackReader::new(buf, what);
    let n = r.array_len()?;
    // Grown as elements arrive: the count is only a claim.
    let mut out = Vec::new();
    for _ in 0..n {
        let before = r.remaining();
        let item = read(&mut r)?;
        budget.charge_values::<T>(1, before - r.remaining(), what)?;
        out.push(item);
    }
    r.finish()?;
    Ok(out)
}
