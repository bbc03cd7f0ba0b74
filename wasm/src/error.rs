//! How core errors reach JS: as a thrown `Error` whose message is the core error's `Display`.
//! wasm-bindgen turns `Err(JsValue)` of an exported function into a JS exception, so no error
//! path traps.

use std::fmt::Display;

use wasm_bindgen::prelude::*;

/// `Result` of an exported function: `Err` is thrown in JS.
pub(crate) type JsResult<T> = Result<T, JsValue>;

/// A JS `Error` carrying `error`'s message.
pub(crate) fn js_error(error: impl Display) -> JsValue {
    JsError::new(&error.to_string()).into()
}
