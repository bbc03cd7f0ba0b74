//! Change events as plain JS objects, as `doc.subscribe(cb)` delivers them:
//!
//! ```js
//! { origin: "local" | "remote",
//!   patches: [{ path: ["body"] | ["meta", "todo", 2] | null, container: "text", action: "textInsert", index: 0, text: "hi" }, ...] }
//! ```
//!
//! Actions and their fields: `mapPut {key, value, conflicts}`, `mapDelete {key}`,
//! `textInsert {index, indexUtf16, text, attributes?}` (`attributes`: the formatting of the inserted
//! text, absent when plain), `textMark {index, indexUtf16, len, lenUtf16, key, value}` (formatting
//! `key` of that range is now `value`, `null` when removed), `textDelete {index, indexUtf16, len}`,
//! `listInsert {index, values}`,
//! `listDelete {index, len}`, `counterAdd {delta}`. A container value (in `mapPut`/`listInsert`)
//! is shown as `{ container: kind }`; reach it through the handle's `get`.
//!
//! Text patches carry the position twice: `index` counts Unicode code points (as the core's
//! patches and Automerge do), `indexUtf16` counts UTF-16 code units (as JS strings, the text
//! handle's methods and editors such as CodeMirror do), both as the text was just before that
//! patch, so applying the patches in order to a JS string with `indexUtf16` reproduces the text.
//! `len` of `textDelete` counts code points (the deleted characters are no longer in the text).
//! `path` is `null` when the container is no longer reachable from a root.

use crdt_core::{DocEvent, EventOrigin, Patch, PatchAction, PathSegment, Value};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::convert::scalar_to_js;
use crate::marks::attributes_to_js;

fn set(object: &Object, key: &str, value: impl Into<JsValue>) {
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(object, &key.into(), &value.into());
}

/// A stored value as it appears in a patch.
fn value_to_js(value: &Value) -> JsValue {
    match value {
        Value::Scalar(s) => scalar_to_js(s),
        Value::Container(id) => {
            let object = Object::new();
            set(&object, "container", id.kind().to_string());
            object.into()
        }
    }
}

/// One [`DocEvent`] as a plain object; see the [module docs](self).
pub fn event_to_js(event: &DocEvent) -> JsValue {
    let out = Object::new();
    set(
        &out,
        "origin",
        match event.origin {
            EventOrigin::Local => "local",
            EventOrigin::Remote => "remote",
        },
    );
    set(&out, "patches", patches_to_js(&event.patches));
    out.into()
}

/// Patches as an array of plain objects (the `patches` of an event, and `diff`'s result).
pub(crate) fn patches_to_js(list: &[Patch]) -> Array {
    let patches = Array::new();
    for patch in list {
        let p = Object::new();
        let path: JsValue = match &patch.path {
            Some(segments) => segments
                .iter()
                .map(|s| match s {
                    PathSegment::Root(name) | PathSegment::Key(name) => JsValue::from_str(name),
                    PathSegment::Index(i) => JsValue::from_f64(*i as f64),
                })
                .collect::<Array>()
                .into(),
            None => JsValue::NULL,
        };
        set(&p, "path", path);
        set(&p, "container", patch.obj.kind().to_string());
        match &patch.action {
            PatchAction::MapPut {
                key,
                value,
                conflicts,
            } => {
                set(&p, "action", "mapPut");
                set(&p, "key", key.as_str());
                set(&p, "value", value_to_js(value));
                set(&p, "conflicts", *conflicts as f64);
            }
            PatchAction::MapDelete { key } => {
                set(&p, "action", "mapDelete");
                set(&p, "key", key.as_str());
            }
            PatchAction::TextInsert {
                index,
                index_utf16,
                text,
                attributes,
            } => {
                set(&p, "action", "textInsert");
                set(&p, "index", *index as f64);
                set(&p, "indexUtf16", *index_utf16 as f64);
                set(&p, "text", text.as_str());
                if !attributes.is_empty() {
                    set(&p, "attributes", attributes_to_js(attributes));
                }
            }
            PatchAction::TextMark {
                index,
                index_utf16,
                len,
                len_utf16,
                key,
                value,
            } => {
                set(&p, "action", "textMark");
                set(&p, "index", *index as f64);
                set(&p, "indexUtf16", *index_utf16 as f64);
                set(&p, "len", *len as f64);
                set(&p, "lenUtf16", *len_utf16 as f64);
                set(&p, "key", key.as_str());
                set(
                    &p,
                    "value",
                    value.as_ref().map_or(JsValue::NULL, scalar_to_js),
                );
            }
            PatchAction::TextDelete {
                index,
                index_utf16,
                len,
                len_utf16,
            } => {
                set(&p, "action", "textDelete");
                set(&p, "index", *index as f64);
                set(&p, "indexUtf16", *index_utf16 as f64);
                set(&p, "len", *len as f64);
                set(&p, "lenUtf16", *len_utf16 as f64);
            }
            PatchAction::ListInsert { index, values } => {
                set(&p, "action", "listInsert");
                set(&p, "index", *index as f64);
                set(
                    &p,
                    "values",
                    values.iter().map(value_to_js).collect::<Array>(),
                );
            }
            PatchAction::ListDelete { index, len } => {
                set(&p, "action", "listDelete");
                set(&p, "index", *index as f64);
                set(&p, "len", *len as f64);
            }
            PatchAction::CounterAdd { delta } => {
                set(&p, "action", "counterAdd");
                set(&p, "delta", scalar_to_js(&crdt_core::Scalar::Int(*delta)));
            }
        }
        patches.push(&p);
    }
    patches
}
