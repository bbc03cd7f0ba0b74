//! `Text`: a text container, with indices and lengths in UTF-16 code units as JS strings count
//! them (`"👋".length === 2`), converted by the core's `*_utf16` methods. Stable cursors are
//! plain objects (see [`crate::convert`]) that keep their place under concurrent edits.

use std::rc::Rc;

use crdt_core::{ContainerId, DocError, TextRef};
use wasm_bindgen::prelude::*;

use crate::convert::{assoc_from_js, cursor_from_js, cursor_to_js};
use crate::error::{js_error, JsResult};
use crate::shared::Shared;

/// A text container of a document (`doc.getText(name)`).
#[wasm_bindgen]
pub struct Text {
    pub(crate) shared: Rc<Shared>,
    pub(crate) id: ContainerId,
}

impl Text {
    pub(crate) fn new(shared: Rc<Shared>, id: ContainerId) -> Self {
        Text { shared, id }
    }
}

#[wasm_bindgen]
impl Text {
    /// Inserts `text` at UTF-16 offset `index`.
    pub fn insert(&self, index: u32, text: &str) -> JsResult<()> {
        self.shared.read(|doc| {
            let mut t = doc.text_at(&self.id).map_err(js_error)?;
            let pos = scalar_pos(&t, index as usize).map_err(js_error)?;
            t.insert(pos, text).map_err(js_error)
        })
    }

    /// Deletes `len` UTF-16 code units from `index`.
    pub fn delete(&self, index: u32, len: u32) -> JsResult<()> {
        self.shared.read(|doc| {
            let mut t = doc.text_at(&self.id).map_err(js_error)?;
            let start = scalar_pos(&t, index as usize).map_err(js_error)?;
            let end =
                scalar_pos(&t, (index as usize).saturating_add(len as usize)).map_err(js_error)?;
            t.delete(start, end - start).map_err(js_error)
        })
    }

    /// Length in UTF-16 code units (as `toString().length`).
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> JsResult<u32> {
        self.shared.read(|doc| {
            let len = doc.text_at(&self.id).map_err(js_error)?.len_utf16();
            u32::try_from(len).map_err(js_error)
        })
    }

    /// The text.
    #[wasm_bindgen(js_name = toString)]
    pub fn to_string_js(&self) -> JsResult<String> {
        self.shared
            .read(|doc| Ok(doc.text_at(&self.id).map_err(js_error)?.to_string()))
    }

    /// The text (for `JSON.stringify`).
    #[wasm_bindgen(js_name = toJSON)]
    pub fn to_json(&self) -> JsResult<String> {
        self.to_string_js()
    }

    /// A stable cursor at UTF-16 offset `index`. `assoc` is `"after"` (default: text typed at
    /// the cursor goes before it, as a caret) or `"before"` (it sticks to the character before).
    #[wasm_bindgen(js_name = getCursor, unchecked_return_type = "Cursor")]
    pub fn get_cursor(
        &self,
        index: u32,
        #[wasm_bindgen(unchecked_param_type = "\"before\" | \"after\" | undefined")] assoc: JsValue,
    ) -> JsResult<JsValue> {
        let assoc = assoc_from_js(&assoc)?;
        self.shared.read(|doc| {
            let text = doc.text_at(&self.id).map_err(js_error)?;
            let pos = text.utf16_to_pos(index as usize).map_err(js_error)?;
            Ok(cursor_to_js(&text.cursor(pos, assoc)))
        })
    }

    /// Where `cursor` is now, as a UTF-16 offset; `undefined` if it belongs to another text.
    #[wasm_bindgen(js_name = resolveCursor)]
    pub fn resolve_cursor(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Cursor")] cursor: JsValue,
    ) -> JsResult<Option<u32>> {
        let cursor = cursor_from_js(&cursor)?;
        self.shared.read(|doc| {
            let text = doc.text_at(&self.id).map_err(js_error)?;
            match text.resolve_cursor(&cursor) {
                Some(pos) => {
                    let offset = text.pos_to_utf16(pos).map_err(js_error)?;
                    u32::try_from(offset).map(Some).map_err(js_error)
                }
                None => Ok(None),
            }
        })
    }
}

/// The scalar position of UTF-16 offset `offset` in `text`. While every character of the text
/// is one UTF-16 unit (its two lengths are equal: no character outside the BMP), the offset is
/// the position, and the tree walk of [`TextRef::utf16_to_pos`] (a fifth of a replay's time,
/// wasm/README.md "Speed") is skipped; past the end, that walk still makes the error.
fn scalar_pos(text: &TextRef<'_>, offset: usize) -> Result<usize, DocError> {
    let len = text.len();
    if offset <= len && len == text.len_utf16() {
        Ok(offset)
    } else {
        text.utf16_to_pos(offset)
    }
}
