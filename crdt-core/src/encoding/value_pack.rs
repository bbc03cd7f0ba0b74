//! MessagePack of the values a document stores — [`Value`], [`Scalar`], [`ContainerId`],
//! [`NewValue`], map entries, and sequence content — and the primitives the sync protocol's
//! frames are made of (`crate::sync::message`), written and read by hand, byte for byte as
//! `rmp_serde`'s default configuration writes the serde derives of these types: an enum variant
//! with data is a one-entry map `{ "Variant": data }`, a unit variant its name as a string,
//! a struct (or struct variant's fields) an array, bytes a `bin`, integers in their shortest
//! form. So the document formats are unchanged; the test below checks the equality against
//! `rmp_serde` itself.
//!
//! Why by hand: serde's data model decodes through one generic `Deserializer` instantiated per
//! visitor type; for these few types that is most of the decoding code of a wasm build (the
//! browser package must stay small). The same MessagePack ([msgpack spec]) costs a fraction of it
//! when written out once.
//!
//! Invariant: decoding never panics and never allocates more than the input could hold (a claimed
//! element count is checked against the bytes that remain, every element taking at least one);
//! it accepts what the encoder writes — with integers in any MessagePack width, as `rmp_serde`
//! reads them — and refuses anything else with a [`FormatError`]. Values do not nest (a nested
//! container is referenced by id), so there is no recursion to bound.
//!
//! [msgpack spec]: https://github.com/msgpack/msgpack/blob/master/spec.md

use rmp::Marker;

use crate::clock::{Dot, ReplicaId};
use crate::doc::state::MapEntry;
use crate::doc::{ContainerId, ContainerKind, NewValue, Scalar, Value};
use crate::encoding::budget::DecodeBudget;
use crate::encoding::FormatError;
use crate::seq::TextContent;

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

/// Starts `{ "variant": ... }`.
fn put_variant(out: &mut Vec<u8>, variant: &str) {
    let _ = rmp::encode::write_map_len(out, 1);
    put_str(out, variant);
}

fn kind_name(kind: ContainerKind) -> &'static str {
    match kind {
        ContainerKind::Map => "Map",
        ContainerKind::List => "List",
        ContainerKind::Text => "Text",
        ContainerKind::Counter => "Counter",
    }
}

fn put_dot(out: &mut Vec<u8>, dot: Dot) {
    put_array_len(out, 2);
    put_uint(out, dot.replica.get());
    put_uint(out, dot.counter);
}

/// Appends a [`Scalar`].
pub(crate) fn put_scalar(out: &mut Vec<u8>, scalar: &Scalar) {
    match scalar {
        Scalar::Null => put_str(out, "Null"),
        Scalar::Bool(b) => {
            put_variant(out, "Bool");
            let _ = rmp::encode::write_bool(out, *b);
        }
        Scalar::Int(i) => {
            put_variant(out, "Int");
            let _ = rmp::encode::write_sint(out, *i);
        }
        Scalar::Float(f) => {
            put_variant(out, "Float");
            let _ = rmp::encode::write_f64(out, *f);
        }
        Scalar::Str(s) => {
            put_variant(out, "Str");
            put_str(out, s);
        }
        Scalar::Bytes(b) => {
            put_variant(out, "Bytes");
            let _ = rmp::encode::write_bin(out, b);
        }
    }
}

/// Appends a [`ContainerId`].
pub(crate) fn put_container_id(out: &mut Vec<u8>, id: &ContainerId) {
    match id {
        ContainerId::Root { name, kind } => {
            put_variant(out, "Root");
            put_array_len(out, 2);
            put_str(out, name);
            put_str(out, kind_name(*kind));
        }
        ContainerId::Created { id, kind } => {
            put_variant(out, "Created");
            put_array_len(out, 2);
            put_dot(out, *id);
            put_str(out, kind_name(*kind));
        }
    }
}

/// Appends a [`Value`].
pub(crate) fn put_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Scalar(s) => {
            put_variant(out, "Scalar");
            put_scalar(out, s);
        }
        Value::Container(id) => {
            put_variant(out, "Container");
            put_container_id(out, id);
        }
    }
}

/// Appends `NewValue::Scalar(scalar)` without building it.
pub(crate) fn put_new_scalar(out: &mut Vec<u8>, scalar: &Scalar) {
    put_variant(out, "Scalar");
    put_scalar(out, scalar);
}

/// Appends a [`NewValue`].
pub(crate) fn put_new_value(out: &mut Vec<u8>, value: &NewValue) {
    match value {
        NewValue::Scalar(s) => put_new_scalar(out, s),
        NewValue::Container(kind) => {
            put_variant(out, "Container");
            put_str(out, kind_name(*kind));
        }
    }
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

/// A map's snapshot: an array of `[key, [entry...]]`, each entry `[[replica, counter], lamport,
/// value]`.
pub(crate) fn map_entries(entries: &[(String, Vec<MapEntry>)]) -> Vec<u8> {
    array(entries, |out, (key, values)| {
        put_array_len(out, 2);
        put_str(out, key);
        put_array_len(out, values.len());
        for e in values {
            put_array_len(out, 3);
            put_dot(out, e.id);
            put_uint(out, e.lamport);
            put_value(out, &e.value);
        }
    })
}

/// A text run's content: its string.
pub(crate) fn text_content(text: &TextContent) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.as_str().len() + 5);
    put_str(&mut out, text.as_str());
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

    fn bad(&self) -> FormatError {
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

    fn i64(&mut self) -> Result<i64, FormatError> {
        i64::try_from(self.int()?).map_err(|_| FormatError::OutOfRange(self.what))
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
    fn tuple(&mut self, n: usize) -> Result<(), FormatError> {
        if self.array_len()? == n {
            Ok(())
        } else {
            Err(self.bad())
        }
    }

    /// `{ "variant": ... }` or a bare `"variant"` (a unit variant): the name, and whether data
    /// follows.
    fn variant(&mut self) -> Result<(&'a str, bool), FormatError> {
        match self.buf.first().map(|&b| Marker::from_u8(b)) {
            Some(Marker::FixMap(1)) => {
                self.take(1)?;
                Ok((self.str()?, true))
            }
            _ => Ok((self.str()?, false)),
        }
    }

    fn kind(&mut self) -> Result<ContainerKind, FormatError> {
        Ok(match self.str()? {
            "Map" => ContainerKind::Map,
            "List" => ContainerKind::List,
            "Text" => ContainerKind::Text,
            "Counter" => ContainerKind::Counter,
            _ => return Err(self.bad()),
        })
    }

    fn dot(&mut self) -> Result<Dot, FormatError> {
        self.tuple(2)?;
        let replica = ReplicaId::new(self.u64()?);
        Ok(Dot::new(replica, self.u64()?))
    }

    /// A [`Scalar`].
    pub(crate) fn scalar(&mut self) -> Result<Scalar, FormatError> {
        Ok(match self.variant()? {
            ("Null", false) => Scalar::Null,
            ("Bool", true) => match self.marker()? {
                Marker::True => Scalar::Bool(true),
                Marker::False => Scalar::Bool(false),
                _ => return Err(self.bad()),
            },
            ("Int", true) => Scalar::Int(self.i64()?),
            ("Float", true) => match self.marker()? {
                Marker::F64 => Scalar::Float(f64::from_bits(self.be(8)?)),
                Marker::F32 => Scalar::Float(f64::from(f32::from_bits(self.be(4)? as u32))),
                _ => return Err(self.bad()),
            },
            ("Str", true) => Scalar::Str(self.str()?.to_owned()),
            ("Bytes", true) => Scalar::Bytes(self.bin()?.to_vec()),
            _ => return Err(self.bad()),
        })
    }

    /// A [`ContainerId`].
    pub(crate) fn container_id(&mut self) -> Result<ContainerId, FormatError> {
        Ok(match self.variant()? {
            ("Root", true) => {
                self.tuple(2)?;
                let name = self.str()?.to_owned();
                ContainerId::Root {
                    name,
                    kind: self.kind()?,
                }
            }
            ("Created", true) => {
                self.tuple(2)?;
                let id = self.dot()?;
                ContainerId::Created {
                    id,
                    kind: self.kind()?,
                }
            }
            _ => return Err(self.bad()),
        })
    }

    /// A [`Value`].
    pub(crate) fn value(&mut self) -> Result<Value, FormatError> {
        Ok(match self.variant()? {
            ("Scalar", true) => Value::Scalar(self.scalar()?),
            ("Container", true) => Value::Container(self.container_id()?),
            _ => return Err(self.bad()),
        })
    }

    /// A [`NewValue`].
    pub(crate) fn new_value(&mut self) -> Result<NewValue, FormatError> {
        Ok(match self.variant()? {
            ("Scalar", true) => NewValue::Scalar(self.scalar()?),
            ("Container", true) => NewValue::Container(self.kind()?),
            _ => return Err(self.bad()),
        })
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

/// Reads what [`map_entries`] wrote, charging it to `budget` as [`read_array`] does.
pub(crate) fn read_map_entries(
    buf: &[u8],
    budget: &mut DecodeBudget,
) -> Result<Vec<(String, Vec<MapEntry>)>, FormatError> {
    let mut r = PackReader::new(buf, "map entries");
    let n = r.array_len()?;
    let mut out = Vec::new();
    for _ in 0..n {
        r.tuple(2)?;
        let key = r.str()?;
        budget.charge_values::<(String, Vec<MapEntry>)>(1, key.len(), "map entries")?;
        let key = key.to_owned();
        let n = r.array_len()?;
        let mut values = Vec::new();
        for _ in 0..n {
            let before = r.remaining();
            r.tuple(3)?;
            let id = r.dot()?;
            let lamport = r.u64()?;
            let value = r.value()?;
            budget.charge_values::<MapEntry>(1, before - r.remaining(), "map entries")?;
            values.push(MapEntry { id, lamport, value });
        }
        out.push((key, values));
    }
    r.finish()?;
    Ok(out)
}

/// Reads what [`text_content`] wrote.
pub(crate) fn read_text_content(buf: &[u8]) -> Result<TextContent, FormatError> {
    let mut r = PackReader::new(buf, "text content");
    let s = r.str()?;
    r.finish()?;
    Ok(TextContent::from(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A budget no test input here comes near.
    fn big() -> DecodeBudget {
        DecodeBudget::for_input(1 << 20)
    }

    fn scalar() -> impl Strategy<Value = Scalar> {
        prop_oneof![
            Just(Scalar::Null),
            any::<bool>().prop_map(Scalar::Bool),
            any::<i64>().prop_map(Scalar::Int),
            prop_oneof![
                (-300i64..70_000).prop_map(Scalar::Int),
                Just(Scalar::Int(i64::MIN)),
                Just(Scalar::Int(u32::MAX as i64 + 1)),
            ],
            any::<f64>()
                .prop_filter("NaN != NaN", |f| !f.is_nan())
                .prop_map(Scalar::Float),
            ".{0,40}".prop_map(Scalar::Str),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(Scalar::Bytes),
        ]
    }

    fn kind() -> impl Strategy<Value = ContainerKind> {
        prop_oneof![
            Just(ContainerKind::Map),
            Just(ContainerKind::List),
            Just(ContainerKind::Text),
            Just(ContainerKind::Counter),
        ]
    }

    fn dot() -> impl Strategy<Value = Dot> {
        (any::<u64>(), 1u64..u64::MAX).prop_map(|(r, c)| Dot::new(ReplicaId::new(r), c))
    }

    fn container_id() -> impl Strategy<Value = ContainerId> {
        prop_oneof![
            ("[a-z😀]{0,300}", kind()).prop_map(|(name, kind)| ContainerId::Root { name, kind }),
            (dot(), kind()).prop_map(|(id, kind)| ContainerId::Created { id, kind }),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            scalar().prop_map(Value::Scalar),
            container_id().prop_map(Value::Container),
        ]
    }

    fn new_value() -> impl Strategy<Value = NewValue> {
        prop_oneof![
            scalar().prop_map(NewValue::Scalar),
            kind().prop_map(NewValue::Container),
        ]
    }

    fn map_entry() -> impl Strategy<Value = MapEntry> {
        (dot(), any::<u64>(), value()).prop_map(|(id, lamport, value)| MapEntry {
            id,
            lamport,
            value,
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The hand-written encoding is rmp_serde's, byte for byte, and reads back.
        #[test]
        fn values_encode_as_rmp_serde_does(values in proptest::collection::vec(value(), 0..20)) {
            let ours = array(&values, put_value);
            prop_assert_eq!(&ours, &rmp_serde::to_vec(&values).unwrap());
            prop_assert_eq!(read_array(&ours, "values", &mut big(), |r| r.value()).unwrap(), values);
        }

        #[test]
        fn new_values_encode_as_rmp_serde_does(
            values in proptest::collection::vec(new_value(), 0..20),
        ) {
            let ours = array(&values, put_new_value);
            prop_assert_eq!(&ours, &rmp_serde::to_vec(&values).unwrap());
            prop_assert_eq!(read_array(&ours, "values", &mut big(), |r| r.new_value()).unwrap(), values);
        }

        #[test]
        fn map_entries_encode_as_rmp_serde_does(
            entries in proptest::collection::vec(
                (".{0,10}", proptest::collection::vec(map_entry(), 0..4)),
                0..6,
            ),
        ) {
            let ours = map_entries(&entries);
            prop_assert_eq!(&ours, &rmp_serde::to_vec(&entries).unwrap());
            prop_assert_eq!(read_map_entries(&ours, &mut big()).unwrap(), entries);
        }

        #[test]
        fn text_encodes_as_rmp_serde_does(s in ".{0,300}") {
            let text = TextContent::from(s.as_str());
            let ours = text_content(&text);
            prop_assert_eq!(&ours, &rmp_serde::to_vec(&text).unwrap());
            let back = read_text_content(&ours).unwrap();
            prop_assert_eq!(back.as_str(), s.as_str());
        }

        /// Whatever rmp_serde reads as values, we read the same way or refuse (and random bytes
        /// never panic).
        #[test]
        fn random_bytes_are_refused_or_agree(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(ours) = read_array(&bytes, "values", &mut big(), |r| r.value()) {
                let theirs: Vec<Value> = rmp_serde::from_slice(&bytes).unwrap();
                prop_assert_eq!(ours, theirs);
            }
            let _ = read_map_entries(&bytes, &mut big());
            let _ = read_array(&bytes, "values", &mut big(), |r| r.new_value());
        }

        /// Every strict prefix of an encoding is refused, and so is anything appended.
        #[test]
        fn truncations_and_trailing_bytes_are_refused(values in proptest::collection::vec(value(), 1..6)) {
            let bytes = array(&values, put_value);
            for end in 0..bytes.len() {
                prop_assert!(read_array(&bytes[..end], "values", &mut big(), |r| r.value()).is_err());
            }
            let mut longer = bytes.clone();
            longer.push(0xc0);
            prop_assert!(read_array(&longer, "values", &mut big(), |r| r.value()).is_err());
        }
    }

    #[test]
    fn integers_of_any_width_read_and_out_of_range_ones_are_refused() {
        // Int(5) written as an i64 and as a u16: rmp_serde reads both; so do we.
        let wide = [
            0x91, 0x81, 0xa6, b'S', b'c', b'a', b'l', b'a', b'r', 0x81, 0xa3, b'I', b'n', b't',
        ];
        for tail in [&[0xd3, 0, 0, 0, 0, 0, 0, 0, 5][..], &[0xcd, 0, 5][..]] {
            let bytes = [&wide[..], tail].concat();
            assert_eq!(
                read_array(&bytes, "values", &mut big(), |r| r.value()).unwrap(),
                vec![Value::Scalar(Scalar::Int(5))]
            );
        }
        // u64::MAX does not fit an Int.
        let bytes = [
            &wide[..],
            &[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..],
        ]
        .concat();
        assert_eq!(
            read_array(&bytes, "values", &mut big(), |r| r.value()),
            Err(FormatError::OutOfRange("values"))
        );
    }

    #[test]
    fn huge_claimed_counts_are_refused_before_allocating() {
        // An array32 claiming 2^32 - 1 elements in 5 bytes.
        assert!(matches!(
            read_array(&[0xdd, 0xff, 0xff, 0xff, 0xff], "values", &mut big(), |r| r
                .value()),
            Err(FormatError::CountTooLarge { .. })
        ));
        // A str32 claiming 4 GiB.
        let mut r = PackReader::new(&[0xdb, 0xff, 0xff, 0xff, 0xff, b'a'], "s");
        assert_eq!(r.str(), Err(FormatError::Truncated("s")));
        // 200 one-byte `Int` values (each about 16 bytes of MessagePack, 48 decoded): within
        // the budget of 4 KiB received, past one of 8 KiB of values.
        let values: Vec<Value> = (0..200).map(|i| Value::Scalar(Scalar::Int(i))).collect();
        let bytes = array(&values, put_value);
        assert_eq!(
            read_array(&bytes, "values", &mut DecodeBudget::for_input(4096), |r| r
                .value()),
            Ok(values)
        );
        let mut small = DecodeBudget::for_input(4096);
        small.charge(small.left() - 8192, "earlier").unwrap();
        assert!(matches!(
            read_array(&bytes, "values", &mut small, |r| r.value()),
            Err(FormatError::BudgetExceeded { .. })
        ));
    }
}
