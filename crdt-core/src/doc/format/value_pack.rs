//! MessagePack of the values a document stores — [`Value`], [`Scalar`], [`ContainerId`],
//! [`NewValue`], map entries, and sequence content — written and read by hand on the generic
//! MessagePack primitives (`crate::encoding::msgpack`), byte for byte as `rmp_serde`'s default
//! configuration writes the serde derives of these types: an enum variant with data is a
//! one-entry map `{ "Variant": data }`, a unit variant its name as a string, a struct (or struct
//! variant's fields) an array, bytes a `bin`, integers in their shortest form. So the document
//! formats are unchanged; the test below checks the equality against `rmp_serde` itself. (Why by
//! hand: see the primitives' module docs; serde's generic decoding is most of a wasm build's
//! decoding code.)
//!
//! Invariant: decoding never panics and never allocates more than the input could hold (the
//! reader checks every claimed count against the bytes that remain); it accepts what the encoder
//! writes — with integers in any MessagePack width, as `rmp_serde` reads them — and refuses
//! anything else with a [`FormatError`]. Values do not nest (a nested container is referenced by
//! id), so there is no recursion to bound.

use crate::clock::{Dot, ReplicaId};
use crate::doc::state::MapEntry;
use crate::doc::{ContainerId, ContainerKind, NewValue, Scalar, Value};
use crate::encoding::budget::DecodeBudget;
use crate::encoding::msgpack::{
    put_array_len, put_bin, put_bool, put_f64, put_sint, put_str, put_uint, put_variant, PackReader,
};
use crate::encoding::FormatError;
use crate::seq::TextContent;

// The document formats write and read their arrays of values through this module.
pub(crate) use crate::encoding::msgpack::{array, read_array};

// ---------------------------------------------------------------------------------------------
// Writing.

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
            put_bool(out, *b);
        }
        Scalar::Int(i) => {
            put_variant(out, "Int");
            put_sint(out, *i);
        }
        Scalar::Float(f) => {
            put_variant(out, "Float");
            put_f64(out, *f);
        }
        Scalar::Str(s) => {
            put_variant(out, "Str");
            put_str(out, s);
        }
        Scalar::Bytes(b) => {
            put_variant(out, "Bytes");
            put_bin(out, b);
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

/// Reading the document's values from MessagePack: an extension of the generic
/// [`PackReader`], so that the primitive reader knows nothing of documents.
pub(crate) trait ReadDocValue {
    /// A [`Scalar`].
    fn scalar(&mut self) -> Result<Scalar, FormatError>;
    /// A [`ContainerId`].
    fn container_id(&mut self) -> Result<ContainerId, FormatError>;
    /// A [`Value`].
    fn value(&mut self) -> Result<Value, FormatError>;
    /// A [`NewValue`].
    fn new_value(&mut self) -> Result<NewValue, FormatError>;
}

/// A [`ContainerKind`], by its variant name.
fn read_kind(r: &mut PackReader<'_>) -> Result<ContainerKind, FormatError> {
    Ok(match r.str()? {
        "Map" => ContainerKind::Map,
        "List" => ContainerKind::List,
        "Text" => ContainerKind::Text,
        "Counter" => ContainerKind::Counter,
        _ => return Err(r.bad()),
    })
}

/// A [`Dot`]: `[replica, counter]`.
fn read_dot(r: &mut PackReader<'_>) -> Result<Dot, FormatError> {
    r.tuple(2)?;
    let replica = ReplicaId::new(r.u64()?);
    Ok(Dot::new(replica, r.u64()?))
}

impl ReadDocValue for PackReader<'_> {
    fn scalar(&mut self) -> Result<Scalar, FormatError> {
        Ok(match self.variant()? {
            ("Null", false) => Scalar::Null,
            ("Bool", true) => Scalar::Bool(self.bool()?),
            ("Int", true) => Scalar::Int(self.i64()?),
            ("Float", true) => Scalar::Float(self.f64()?),
            ("Str", true) => Scalar::Str(self.str()?.to_owned()),
            ("Bytes", true) => Scalar::Bytes(self.bin()?.to_vec()),
            _ => return Err(self.bad()),
        })
    }

    fn container_id(&mut self) -> Result<ContainerId, FormatError> {
        Ok(match self.variant()? {
            ("Root", true) => {
                self.tuple(2)?;
                let name = self.str()?.into();
                ContainerId::Root {
                    name,
                    kind: read_kind(self)?,
                }
            }
            ("Created", true) => {
                self.tuple(2)?;
                let id = read_dot(self)?;
                ContainerId::Created {
                    id,
                    kind: read_kind(self)?,
                }
            }
            _ => return Err(self.bad()),
        })
    }

    fn value(&mut self) -> Result<Value, FormatError> {
        Ok(match self.variant()? {
            ("Scalar", true) => Value::Scalar(self.scalar()?),
            ("Container", true) => Value::Container(self.container_id()?),
            _ => return Err(self.bad()),
        })
    }

    fn new_value(&mut self) -> Result<NewValue, FormatError> {
        Ok(match self.variant()? {
            ("Scalar", true) => NewValue::Scalar(self.scalar()?),
            ("Container", true) => NewValue::Container(read_kind(self)?),
            _ => return Err(self.bad()),
        })
    }
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
            let id = read_dot(&mut r)?;
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
            ("[a-z😀]{0,300}", kind()).prop_map(|(name, kind)| ContainerId::Root {
                name: name.into(),
                kind
            }),
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
