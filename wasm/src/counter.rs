//! `Counter`: a counter container; concurrent increments add up.

use std::rc::Rc;

use crdt_core::ContainerId;
use wasm_bindgen::prelude::*;

use crate::convert::{int_from_f64, number_text, scalar_to_js};
use crate::error::{js_error, JsResult};
use crate::shared::Shared;

/// A counter container of a document (`doc.getCounter(name)`).
#[wasm_bindgen]
pub struct Counter {
    shared: Rc<Shared>,
    id: ContainerId,
}

impl Counter {
    pub(crate) fn new(shared: Rc<Shared>, id: ContainerId) -> Self {
        Counter { shared, id }
    }
}

#[wasm_bindgen]
impl Counter {
    /// Adds `delta` (a safe integer; negative to decrement; default 1).
    pub fn increment(&self, delta: Option<f64>) -> JsResult<()> {
        let delta = delta.unwrap_or(1.0);
        let delta = int_from_f64(delta).ok_or_else(|| {
            let delta = number_text(delta);
            js_error(format!("counter delta {delta} is not a safe integer"))
        })?;
        self.shared.read(|doc| {
            doc.counter_at(&self.id)
                .and_then(|mut c| c.increment(delta))
                .map_err(js_error)
        })
    }

    /// Subtracts `delta` (default 1).
    pub fn decrement(&self, delta: Option<f64>) -> JsResult<()> {
        self.increment(Some(-delta.unwrap_or(1.0)))
    }

    /// The current value (a `bigint` beyond ±2^53).
    #[wasm_bindgen(getter)]
    pub fn value(&self) -> JsResult<JsValue> {
        self.shared.read(|doc| {
            let n = doc.counter_at(&self.id).map_err(js_error)?.value();
            Ok(scalar_to_js(&crdt_core::Scalar::Int(n)))
        })
    }

    /// The current value (for `JSON.stringify`).
    #[wasm_bindgen(js_name = toJSON)]
    pub fn to_json(&self) -> JsResult<JsValue> {
        self.value()
    }
}
