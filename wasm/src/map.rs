//! `Map`: a map container with string keys. Concurrent writes to one key are all kept; every
//! replica shows the same winner (`get`) and `getAll` shows the rest, as Automerge's conflicts.

use std::rc::Rc;

use crdt_core::ContainerId;
use js_sys::Array;
use wasm_bindgen::prelude::*;

use crate::container::{handle_to_js, kind_from_str, value_to_js};
use crate::convert::{materialized_to_js, scalar_from_js};
use crate::error::{js_error, JsResult};
use crate::shared::Shared;

/// A map container of a document (`doc.getMap(name)`).
#[wasm_bindgen]
pub struct Map {
    shared: Rc<Shared>,
    id: ContainerId,
}

impl Map {
    pub(crate) fn new(shared: Rc<Shared>, id: ContainerId) -> Self {
        Map { shared, id }
    }
}

#[wasm_bindgen]
impl Map {
    /// Sets `key` to a scalar (`null`, boolean, number, bigint, string or `Uint8Array`).
    pub fn set(
        &self,
        key: &str,
        #[wasm_bindgen(unchecked_param_type = "Scalar")] value: JsValue,
    ) -> JsResult<()> {
        let value = scalar_from_js(&value)?;
        self.shared.read(|doc| {
            doc.map_at(&self.id)
                .and_then(|mut m| m.set(key, value))
                .map_err(js_error)
        })
    }

    /// Sets `key` to a new empty container of `kind` (`"map"`, `"list"`, `"text"` or
    /// `"counter"`) and returns its handle.
    #[wasm_bindgen(js_name = setContainer)]
    pub fn set_container(&self, key: &str, kind: &str) -> JsResult<JsValue> {
        let kind = kind_from_str(kind).map_err(js_error)?;
        let id = self.shared.read(|doc| {
            doc.map_at(&self.id)
                .and_then(|mut m| m.set_container(key, kind))
                .map_err(js_error)
        })?;
        Ok(handle_to_js(&self.shared, id))
    }

    /// The winning value of `key`: a scalar, a container handle, or `undefined`.
    #[wasm_bindgen(unchecked_return_type = "Value | undefined")]
    pub fn get(&self, key: &str) -> JsResult<JsValue> {
        let value = self
            .shared
            .read(|doc| Ok(doc.map_at(&self.id).map_err(js_error)?.get(key)))?;
        Ok(value.map_or(JsValue::UNDEFINED, |v| value_to_js(&self.shared, v)))
    }

    /// Every concurrent value of `key`, the winner last.
    #[wasm_bindgen(js_name = getAll)]
    pub fn get_all(&self, key: &str) -> JsResult<Array> {
        let values = self
            .shared
            .read(|doc| Ok(doc.map_at(&self.id).map_err(js_error)?.get_all(key)))?;
        Ok(values
            .into_iter()
            .map(|v| value_to_js(&self.shared, v))
            .collect())
    }

    /// True when `key` holds a value.
    pub fn has(&self, key: &str) -> JsResult<bool> {
        self.shared
            .read(|doc| Ok(doc.map_at(&self.id).map_err(js_error)?.get(key).is_some()))
    }

    /// Removes `key` (a concurrent write to it survives).
    pub fn delete(&self, key: &str) -> JsResult<()> {
        self.shared.read(|doc| {
            doc.map_at(&self.id)
                .and_then(|mut m| m.delete(key))
                .map_err(js_error)
        })
    }

    /// The keys that hold a value, in order.
    pub fn keys(&self) -> JsResult<Vec<String>> {
        self.shared
            .read(|doc| Ok(doc.map_at(&self.id).map_err(js_error)?.keys()))
    }

    /// Number of keys that hold a value.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> JsResult<u32> {
        self.shared.read(|doc| {
            let len = doc.map_at(&self.id).map_err(js_error)?.len();
            u32::try_from(len).map_err(js_error)
        })
    }

    /// The map as a plain object, nested containers included.
    #[wasm_bindgen(js_name = toJSON)]
    pub fn to_json(&self) -> JsResult<JsValue> {
        self.shared
            .read(|doc| Ok(materialized_to_js(&doc.materialize_container(&self.id))))
    }
}
