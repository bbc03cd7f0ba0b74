//! Stored values as JS values, where a nested container becomes the handle of its kind
//! (`Text`, `Map`, `List`, `Counter`) bound to the same document, as Yjs and Loro return
//! `Y.Text`/`LoroText` from `map.get`.

use std::rc::Rc;

use crdt_core::{ContainerId, ContainerKind, Value};
use wasm_bindgen::prelude::*;

use crate::convert::scalar_to_js;
use crate::counter::Counter;
use crate::list::List;
use crate::map::Map;
use crate::shared::Shared;
use crate::text::Text;

/// The handle of container `id` of the document `shared`.
pub(crate) fn handle_to_js(shared: &Rc<Shared>, id: ContainerId) -> JsValue {
    let shared = Rc::clone(shared);
    match id.kind() {
        ContainerKind::Text => Text::new(shared, id).into(),
        ContainerKind::Map => Map::new(shared, id).into(),
        ContainerKind::List => List::new(shared, id).into(),
        ContainerKind::Counter => Counter::new(shared, id).into(),
    }
}

/// A stored value: scalars as plain JS values, containers as handles.
pub(crate) fn value_to_js(shared: &Rc<Shared>, value: Value) -> JsValue {
    match value {
        Value::Scalar(s) => scalar_to_js(&s),
        Value::Container(id) => handle_to_js(shared, id),
    }
}

/// `"map" | "list" | "text" | "counter"` as a [`ContainerKind`].
pub(crate) fn kind_from_str(kind: &str) -> Result<ContainerKind, String> {
    match kind {
        "map" => Ok(ContainerKind::Map),
        "list" => Ok(ContainerKind::List),
        "text" => Ok(ContainerKind::Text),
        "counter" => Ok(ContainerKind::Counter),
        other => Err(format!(
            r#"container kind {other:?} is not "map", "list", "text" or "counter""#
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_from_their_display_names() {
        for kind in [
            ContainerKind::Map,
            ContainerKind::List,
            ContainerKind::Text,
            ContainerKind::Counter,
        ] {
            assert_eq!(kind_from_str(&kind.to_string()), Ok(kind));
        }
        assert!(kind_from_str("Map").is_err());
    }
}
