//! How core values look in JS, both ways. Only type conversion; nothing here knows CRDTs.
//!
//! | core | JS |
//! |---|---|
//! | [`ReplicaId`] | 16 hex digits, as `ReplicaId`'s `Display` (`"00000000000004d2"`); exact, unlike a `number` |
//! | [`VersionVector`] | plain object `{ [replicaHex]: counter }` (counters are exact up to 2^53) |
//! | [`Scalar`] | `null`, `boolean`, `number` (integers within ±2^53 are `Int`, others `Float`), `bigint` (`Int` beyond ±2^53), `string`, `Uint8Array` |
//! | [`Cursor`] | plain object `{ anchor: { replica, counter } \| null, assoc: "before" \| "after" }`, JSON-safe so it can travel in presence |
//! | [`Materialized`] | plain JSON-like tree: maps as objects, lists as arrays, texts as strings, counters as numbers |
//!
//! Invariant: a JS value that does not fit is refused with an error naming what was expected;
//! numbers are never silently truncated.

use crdt_core::Materialized;
use crdt_core::{Assoc, Cursor};
use crdt_core::{Dot, ReplicaId, Scalar, VersionVector};
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error::{js_error, JsResult};

/// Largest integer a JS `number` holds exactly (2^53 - 1).
pub const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// The JS form of a replica id: 16 lowercase hex digits.
pub fn replica_to_string(replica: ReplicaId) -> String {
    format!("{:016x}", replica.get())
}

/// Parses the JS form of a replica id (1 to 16 hex digits).
pub fn replica_from_str(s: &str) -> Result<ReplicaId, String> {
    if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("replica id {s:?} is not 1 to 16 hex digits"));
    }
    // Checked above: 1..=16 hex digits always fit in a u64.
    u64::from_str_radix(s, 16)
        .map(ReplicaId::new)
        .map_err(|e| format!("replica id {s:?}: {e}"))
}

/// A non-negative integer counter from a JS number.
pub fn counter_from_f64(n: f64) -> Result<u64, String> {
    if n.fract() == 0.0 && (0.0..=MAX_SAFE_INTEGER).contains(&n) {
        Ok(n as u64)
    } else {
        let n = number_text(n);
        Err(format!("{n} is not a non-negative safe integer"))
    }
}

/// `n` as JS writes it (`String(n)`). On wasm, JS formats it: Rust's float formatting
/// (`flt2dec`) would add ~8 KB to the gzipped .wasm. Natively (unit tests), Rust's `Display` does.
pub fn number_text(n: f64) -> String {
    #[cfg(target_arch = "wasm32")]
    return js_sys::JsString::from("").concat(&n.into()).into();
    #[cfg(not(target_arch = "wasm32"))]
    return n.to_string();
}

/// A signed integer from a JS number, when it is one exactly.
pub fn int_from_f64(n: f64) -> Option<i64> {
    (n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER).then_some(n as i64)
}

/// A replica id from a JS value: a hex string, a safe non-negative integer, or a bigint.
pub fn replica_from_js(value: &JsValue) -> JsResult<ReplicaId> {
    if let Some(s) = value.as_string() {
        return replica_from_str(&s).map_err(js_error);
    }
    if let Some(n) = value.as_f64() {
        return counter_from_f64(n).map(ReplicaId::new).map_err(js_error);
    }
    if value.is_bigint() {
        return u64::try_from(value.clone())
            .map(ReplicaId::new)
            .map_err(|_| js_error("replica id bigint is not in 0..2^64"));
    }
    Err(js_error(
        "replica id must be a hex string, a non-negative integer or a bigint",
    ))
}

/// A version vector as a plain object `{ [replicaHex]: counter }`.
pub fn version_to_js(version: &VersionVector) -> JsValue {
    let object = Object::new();
    for (replica, counter) in version.iter() {
        // Setting a property on a fresh plain object cannot fail.
        let _ = Reflect::set(
            &object,
            &replica_to_string(replica).into(),
            &(counter as f64).into(),
        );
    }
    object.into()
}

/// A version vector from a plain object; `undefined` and `null` are the empty version.
pub fn version_from_js(value: &JsValue) -> JsResult<VersionVector> {
    let mut version = VersionVector::new();
    if value.is_undefined() || value.is_null() {
        return Ok(version);
    }
    if !value.is_object() {
        return Err(js_error(
            "a version is a plain object { replicaHex: counter }",
        ));
    }
    for entry in Object::entries(value.unchecked_ref()).iter() {
        let entry: Array = entry.unchecked_into();
        let key = entry.get(0).as_string().unwrap_or_default();
        let replica = replica_from_str(&key).map_err(js_error)?;
        let counter = entry
            .get(1)
            .as_f64()
            .ok_or_else(|| js_error(format!("version entry {key:?} is not a number")))
            .and_then(|n| counter_from_f64(n).map_err(js_error))?;
        version.set(replica, counter);
    }
    Ok(version)
}

/// A scalar from a JS value; see the [module docs](self) for the mapping.
pub fn scalar_from_js(value: &JsValue) -> JsResult<Scalar> {
    if value.is_null() || value.is_undefined() {
        return Ok(Scalar::Null);
    }
    if let Some(b) = value.as_bool() {
        return Ok(Scalar::Bool(b));
    }
    if let Some(n) = value.as_f64() {
        return Ok(match int_from_f64(n) {
            Some(i) => Scalar::Int(i),
            None => Scalar::Float(n),
        });
    }
    if value.is_bigint() {
        return i64::try_from(value.clone())
            .map(Scalar::Int)
            .map_err(|_| js_error("bigint value is not in the 64-bit signed range"));
    }
    if let Some(s) = value.as_string() {
        return Ok(Scalar::Str(s));
    }
    if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        return Ok(Scalar::Bytes(bytes.to_vec()));
    }
    Err(js_error(
        "unsupported value: use null, boolean, number, bigint, string or Uint8Array \
         (nested containers: setContainer / insertContainer)",
    ))
}

/// A scalar as a JS value; see the [module docs](self) for the mapping.
pub fn scalar_to_js(scalar: &Scalar) -> JsValue {
    match scalar {
        Scalar::Null => JsValue::NULL,
        Scalar::Bool(b) => JsValue::from_bool(*b),
        Scalar::Int(i) if (*i as f64).abs() <= MAX_SAFE_INTEGER => JsValue::from_f64(*i as f64),
        Scalar::Int(i) => JsValue::from(*i),
        Scalar::Float(f) => JsValue::from_f64(*f),
        Scalar::Str(s) => JsValue::from_str(s),
        Scalar::Bytes(b) => Uint8Array::from(&b[..]).into(),
    }
}

/// A materialized tree as plain JS values.
pub fn materialized_to_js(tree: &Materialized) -> JsValue {
    match tree {
        Materialized::Scalar(s) => scalar_to_js(s),
        Materialized::Map(entries) => {
            let object = Object::new();
            for (key, value) in entries {
                // Setting a property on a fresh plain object cannot fail.
                let _ = Reflect::set(&object, &key.into(), &materialized_to_js(value));
            }
            object.into()
        }
        Materialized::List(items) => items
            .iter()
            .map(materialized_to_js)
            .collect::<Array>()
            .into(),
        Materialized::Text(s) => JsValue::from_str(s),
        Materialized::Counter(n) => scalar_to_js(&Scalar::Int(*n)),
    }
}

/// `"before"` or `"after"` (the default, as Yjs's) as an [`Assoc`].
pub fn assoc_from_js(value: &JsValue) -> JsResult<Assoc> {
    if value.is_undefined() || value.is_null() {
        return Ok(Assoc::default());
    }
    match value.as_string().as_deref() {
        Some("before") => Ok(Assoc::Before),
        Some("after") => Ok(Assoc::After),
        _ => Err(js_error(r#"assoc must be "before" or "after""#)),
    }
}

/// A cursor as a JSON-safe object.
pub fn cursor_to_js(cursor: &Cursor) -> JsValue {
    let object = Object::new();
    let anchor: JsValue = match cursor.anchor {
        Some(dot) => {
            let a = Object::new();
            let _ = Reflect::set(
                &a,
                &"replica".into(),
                &replica_to_string(dot.replica).into(),
            );
            let _ = Reflect::set(&a, &"counter".into(), &(dot.counter as f64).into());
            a.into()
        }
        None => JsValue::NULL,
    };
    let assoc = match cursor.assoc {
        Assoc::Before => "before",
        Assoc::After => "after",
    };
    // Setting properties on a fresh plain object cannot fail.
    let _ = Reflect::set(&object, &"anchor".into(), &anchor);
    let _ = Reflect::set(&object, &"assoc".into(), &assoc.into());
    object.into()
}

/// A cursor from the object [`cursor_to_js`] makes (or its JSON round trip).
pub fn cursor_from_js(value: &JsValue) -> JsResult<Cursor> {
    let get =
        |obj: &JsValue, key: &str| Reflect::get(obj, &key.into()).unwrap_or(JsValue::UNDEFINED);
    if !value.is_object() {
        return Err(js_error("a cursor is an object { anchor, assoc }"));
    }
    let assoc = assoc_from_js(&get(value, "assoc"))?;
    let anchor = get(value, "anchor");
    let anchor = if anchor.is_null() || anchor.is_undefined() {
        None
    } else {
        let replica = get(&anchor, "replica")
            .as_string()
            .ok_or_else(|| js_error("cursor anchor.replica must be a hex string"))?;
        let counter = get(&anchor, "counter")
            .as_f64()
            .ok_or_else(|| js_error("cursor anchor.counter must be a number"))?;
        Some(Dot::new(
            replica_from_str(&replica).map_err(js_error)?,
            counter_from_f64(counter).map_err(js_error)?,
        ))
    };
    Ok(Cursor { anchor, assoc })
}

/// A byte array as a `Uint8Array`.
pub fn bytes_to_js(bytes: &[u8]) -> Uint8Array {
    Uint8Array::from(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_ids_round_trip_as_hex() {
        for id in [0, 1, 0x4d2, u64::MAX] {
            let s = replica_to_string(ReplicaId::new(id));
            assert_eq!(s.len(), 16);
            assert_eq!(replica_from_str(&s), Ok(ReplicaId::new(id)));
        }
        assert_eq!(replica_from_str("ff"), Ok(ReplicaId::new(255)));
        for bad in ["", "g", "00000000000000000", "-1", "0x1", " 1"] {
            assert!(replica_from_str(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn counters_and_ints_refuse_inexact_numbers() {
        assert_eq!(counter_from_f64(0.0), Ok(0));
        assert_eq!(
            counter_from_f64(MAX_SAFE_INTEGER),
            Ok(9_007_199_254_740_991)
        );
        for bad in [-1.0, 0.5, MAX_SAFE_INTEGER + 2.0, f64::NAN, f64::INFINITY] {
            assert!(counter_from_f64(bad).is_err(), "{bad}");
        }
        assert_eq!(int_from_f64(-42.0), Some(-42));
        assert_eq!(int_from_f64(1.5), None);
        assert_eq!(int_from_f64(1e300), None);
        assert_eq!(int_from_f64(f64::NAN), None);
    }
}
