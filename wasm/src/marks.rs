//! Rich text on `Text`: `mark`, `unmark`, `toDelta`, `applyDelta` (positions and lengths in
//! UTF-16 code units, as the other text methods), and `doc.setMarkExpand`. A delta is the Quill
//! shape Yjs and Loro use:
//!
//! ```js
//! text.toDelta();   // [{ insert: "Hello", attributes: { bold: true } }, { insert: " world" }]
//! text.applyDelta([{ retain: 6 }, { insert: "big ", attributes: { italic: true } }, { delete: 1 }]);
//! text.applyDelta([{ retain: 5, attributes: { bold: null } }]); // null removes a key
//! ```
//!
//! The semantics (Peritext: concurrent formatting and typing merge as users expect) are the
//! core's (`crdt_core::marks`). A malformed delta (not an array, an entry with neither
//! `insert`, `retain` nor `delete`, a length that is not a whole number, an unsupported value)
//! throws before anything changes; a retain or delete past the end throws whole, as the core
//! checks it first.

use crdt_core::{Attributes, DeltaOp, DocError, MarkExpand, Scalar, TextRef};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::convert::{scalar_from_js, scalar_to_js};
use crate::doc::Doc;
use crate::error::{js_error, JsResult};
use crate::text::Text;

#[wasm_bindgen(typescript_custom_section)]
const TS_MARKS: &'static str = r#"
/** Formatting of a run of text: key to value (`bold: true`, `link: "https://…"`). */
export type Attributes = Record<string, Scalar>;
/** One run of `text.toDelta()`; `attributes` is absent for plain text. */
export interface DeltaRun {
  insert: string;
  attributes?: Attributes;
}
/** One step of `text.applyDelta()`, from a cursor at 0 (lengths in UTF-16 code units). */
export type DeltaOp =
  | { insert: string; attributes?: Attributes }
  | { retain: number; attributes?: Record<string, Scalar> }
  | { delete: number };
/** Whether text typed at the edges of a mark joins it (see `doc.setMarkExpand`). */
export type MarkExpand = "none" | "before" | "after" | "both";
"#;

fn set(object: &Object, key: &str, value: impl Into<JsValue>) {
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(object, &key.into(), &value.into());
}

/// Attributes as a plain object.
pub(crate) fn attributes_to_js(attributes: &Attributes) -> Object {
    let out = Object::new();
    for (key, value) in attributes {
        set(&out, key, scalar_to_js(value));
    }
    out
}

/// `object[key]`, throwing (not trapping) when a getter throws.
fn get(object: &JsValue, key: &str) -> JsResult<JsValue> {
    Reflect::get(object, &key.into())
}

/// An attributes object as `(key, value)` pairs; `null` values give `None`.
fn attributes_from_js(value: &JsValue) -> JsResult<Vec<(String, Option<Scalar>)>> {
    if value.is_undefined() || value.is_null() {
        return Ok(Vec::new());
    }
    if !value.is_object() || Array::is_array(value) {
        return Err(js_error("delta attributes must be an object"));
    }
    let mut out = Vec::new();
    for key in Object::keys(value.unchecked_ref::<Object>()).iter() {
        let name = key.as_string().unwrap_or_default();
        let scalar = scalar_from_js(&get(value, &name)?)?;
        out.push((name, Some(scalar).filter(|s| *s != Scalar::Null)));
    }
    Ok(out)
}

/// A delta length: a whole number of UTF-16 code units.
fn length_from_js(value: &JsValue, what: &str) -> JsResult<usize> {
    value
        .as_f64()
        .filter(|n| n.fract() == 0.0 && *n >= 0.0 && *n <= f64::from(u32::MAX))
        .map(|n| n as usize)
        .ok_or_else(|| js_error(format!("delta {what} must be a whole number ≥ 0")))
}

/// One delta entry.
fn delta_op_from_js(entry: &JsValue) -> JsResult<DeltaOp> {
    if !entry.is_object() {
        return Err(js_error("a delta entry must be an object"));
    }
    let attributes = attributes_from_js(&get(entry, "attributes")?)?;
    let insert = get(entry, "insert")?;
    if !insert.is_undefined() {
        let text = insert
            .as_string()
            .ok_or_else(|| js_error("delta insert must be a string"))?;
        // Inserted one by one: collecting into a map would instantiate a sort.
        let mut set = Attributes::new();
        for (key, value) in attributes {
            if let Some(value) = value {
                set.insert(key, value);
            }
        }
        return Ok(DeltaOp::Insert {
            text,
            attributes: set,
        });
    }
    let retain = get(entry, "retain")?;
    if !retain.is_undefined() {
        return Ok(DeltaOp::Retain {
            len: length_from_js(&retain, "retain")?,
            attributes,
        });
    }
    let delete = get(entry, "delete")?;
    if !delete.is_undefined() {
        return Ok(DeltaOp::Delete {
            len: length_from_js(&delete, "delete")?,
        });
    }
    Err(js_error(
        "a delta entry needs `insert`, `retain` or `delete`",
    ))
}

fn expand_from_js(value: &str) -> JsResult<MarkExpand> {
    Ok(match value {
        "none" => MarkExpand::None,
        "before" => MarkExpand::Before,
        "after" => MarkExpand::After,
        "both" => MarkExpand::Both,
        _ => {
            return Err(js_error(
                "expand must be \"none\", \"before\", \"after\" or \"both\"",
            ))
        }
    })
}

impl Text {
    /// Runs `f` on this text of the document (edits emit their events at `commit`).
    fn with_text<T>(&self, f: impl FnOnce(&mut TextRef<'_>) -> Result<T, DocError>) -> JsResult<T> {
        self.shared.read(|doc| {
            doc.text_at(&self.id)
                .and_then(|mut t| f(&mut t))
                .map_err(js_error)
        })
    }
}

#[wasm_bindgen]
impl Text {
    /// Sets formatting `key` to `value` on UTF-16 range `start..end` (`null` removes it).
    pub fn mark(
        &self,
        start: u32,
        end: u32,
        key: &str,
        #[wasm_bindgen(unchecked_param_type = "Scalar")] value: JsValue,
    ) -> JsResult<()> {
        let value = scalar_from_js(&value)?;
        self.with_text(|t| t.mark_utf16(start as usize, end as usize, key, value))
    }

    /// Removes formatting `key` from UTF-16 range `start..end`.
    pub fn unmark(&self, start: u32, end: u32, key: &str) -> JsResult<()> {
        self.with_text(|t| t.unmark_utf16(start as usize, end as usize, key))
    }

    /// The text as runs of equal formatting: `[{ insert, attributes? }]`.
    #[wasm_bindgen(js_name = toDelta, unchecked_return_type = "DeltaRun[]")]
    pub fn to_delta(&self) -> JsResult<Array> {
        let out = Array::new();
        self.with_text(|t| {
            t.for_each_run(|insert, attributes| {
                let run = Object::new();
                set(&run, "insert", insert.as_str());
                if !attributes.is_empty() {
                    let object = Object::new();
                    for (key, value) in attributes {
                        set(&object, key, scalar_to_js(value));
                    }
                    set(&run, "attributes", object);
                }
                out.push(&run);
            });
            Ok(())
        })?;
        Ok(out)
    }

    /// Applies a delta (`insert` / `retain` / `delete` entries, UTF-16 lengths).
    #[wasm_bindgen(js_name = applyDelta)]
    pub fn apply_delta(
        &self,
        #[wasm_bindgen(unchecked_param_type = "DeltaOp[]")] delta: JsValue,
    ) -> JsResult<()> {
        if !Array::is_array(&delta) {
            return Err(js_error("a delta must be an array"));
        }
        let ops = Array::from(&delta)
            .iter()
            .map(|entry| delta_op_from_js(&entry))
            .collect::<JsResult<Vec<DeltaOp>>>()?;
        self.with_text(|t| t.apply_delta_utf16(&ops))
    }
}

#[wasm_bindgen]
impl Doc {
    /// How this replica's marks of `key` treat text typed at their edges: `"after"` (the
    /// default; bold grows as you type after it), `"none"` (the default of `link`, `href`,
    /// `comment…` keys and Quill's block attributes such as `header` and `list`), `"before"` or
    /// `"both"`. Recorded in each mark, so replicas need not
    /// agree; call it before marking.
    #[wasm_bindgen(js_name = setMarkExpand)]
    pub fn set_mark_expand(
        &self,
        key: &str,
        #[wasm_bindgen(unchecked_param_type = "MarkExpand")] expand: &str,
    ) -> JsResult<()> {
        let expand = expand_from_js(expand)?;
        self.shared().read(|doc| {
            doc.set_mark_expand(key, expand);
            Ok(())
        })
    }
}
