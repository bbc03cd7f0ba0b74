//! `List`: a list container of scalars and nested containers (FugueMax order in the core:
//! concurrent insertions at one place never interleave).

use std::rc::Rc;

use crdt_core::ContainerId;
use js_sys::Array;
use wasm_bindgen::prelude::*;

use crate::container::{handle_to_js, kind_from_str, value_to_js};
use crate::convert::{materialized_to_js, scalar_from_js};
use crate::error::{js_error, JsResult};
use crate::shared::Shared;

/// A list container of a document (`doc.getList(name)`).
#[wasm_bindgen]
pub struct List {
    shared: Rc<Shared>,
    id: ContainerId,
}

impl List {
    pub(crate) fn new(shared: Rc<Shared>, id: ContainerId) -> Self {
        List { shared, id }
    }
}

#[wasm_bindgen]
impl List {
    /// Inserts a scalar at `index`.
    pub fn insert(
        &self,
        index: u32,
        #[wasm_bindgen(unchecked_param_type = "Scalar")] value: JsValue,
    ) -> JsResult<()> {
        let value = scalar_from_js(&value)?;
        self.shared.read(|doc| {
            doc.list_at(&self.id)
                .and_then(|mut l| l.insert(index as usize, value))
                .map_err(js_error)
        })
    }

    /// Appends a scalar.
    pub fn push(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Scalar")] value: JsValue,
    ) -> JsResult<()> {
        let value = scalar_from_js(&value)?;
        self.shared.read(|doc| {
            doc.list_at(&self.id)
                .and_then(|mut l| l.push(value))
                .map_err(js_error)
        })
    }

    /// Inserts a new empty container of `kind` at `index` and returns its handle.
    #[wasm_bindgen(js_name = insertContainer)]
    pub fn insert_container(&self, index: u32, kind: &str) -> JsResult<JsValue> {
        let kind = kind_from_str(kind).map_err(js_error)?;
        let id = self.shared.read(|doc| {
            doc.list_at(&self.id)
                .and_then(|mut l| l.insert_container(index as usize, kind))
                .map_err(js_error)
        })?;
        Ok(handle_to_js(&self.shared, id))
    }

    /// Deletes `len` elements from `index` (default 1).
    pub fn delete(&self, index: u32, len: Option<u32>) -> JsResult<()> {
        self.shared.read(|doc| {
            doc.list_at(&self.id)
                .and_then(|mut l| l.delete(index as usize, len.unwrap_or(1) as usize))
                .map_err(js_error)
        })
    }

    /// The element at `index` (a scalar or a container handle), or `undefined`.
    #[wasm_bindgen(unchecked_return_type = "Value | undefined")]
    pub fn get(&self, index: u32) -> JsResult<JsValue> {
        let value = self
            .shared
            .read(|doc| Ok(doc.list_at(&self.id).map_err(js_error)?.get(index as usize)))?;
        Ok(value.map_or(JsValue::UNDEFINED, |v| value_to_js(&self.shared, v)))
    }

    /// Number of elements.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> JsResult<u32> {
        self.shared.read(|doc| {
            let len = doc.list_at(&self.id).map_err(js_error)?.len();
            u32::try_from(len).map_err(js_error)
        })
    }

    /// The elements: scalars, and handles for nested containers.
    #[wasm_bindgen(js_name = toArray)]
    pub fn to_array(&self) -> JsResult<Array> {
        let values = self
            .shared
            .read(|doc| Ok(doc.list_at(&self.id).map_err(js_error)?.values()))?;
        Ok(values
            .into_iter()
            .map(|v| value_to_js(&self.shared, v))
            .collect())
    }

    /// The list as a plain array, nested containers included.
    #[wasm_bindgen(js_name = toJSON)]
    pub fn to_json(&self) -> JsResult<JsValue> {
        self.shared
            .read(|doc| Ok(materialized_to_js(&doc.materialize_container(&self.id))))
    }
}
