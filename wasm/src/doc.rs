//! `Doc`: a replica of one document, as JS sees it.
//!
//! Edits through container handles apply at once and become one change on `commit()` (as
//! Loro's transactions; `exportSince` and `save` commit first, `import` too, as in the core).
//! A version is a plain object `{ [replicaHex]: counter }` (see [`crate::convert`]): JSON-safe,
//! comparable by eye, and what `exportSince` takes.

use std::rc::Rc;

use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::container::handle_to_js;
use crate::convert::{
    bytes_to_js, materialized_to_js, replica_from_js, replica_to_string, version_from_js,
    version_to_js,
};
use crate::error::{js_error, JsResult};
use crate::shared::Shared;
use crdt_core::sync::SyncDoc;
use crdt_core::{ContainerId, ContainerKind};

/// A replicated JSON-like document: named root texts, maps, lists and counters.
#[wasm_bindgen]
pub struct Doc {
    shared: Rc<Shared>,
}

impl Doc {
    pub(crate) fn wrap(doc: crdt_core::Doc) -> Doc {
        Doc {
            shared: Rc::new(Shared::new(doc)),
        }
    }

    pub(crate) fn shared(&self) -> &Rc<Shared> {
        &self.shared
    }

    fn root(&self, name: &str, kind: ContainerKind) -> JsValue {
        handle_to_js(&self.shared, ContainerId::root(name, kind))
    }
}

impl Default for Doc {
    fn default() -> Self {
        Doc::new()
    }
}

#[wasm_bindgen]
impl Doc {
    /// An empty document with a random replica id (from `crypto.getRandomValues`).
    #[wasm_bindgen(constructor)]
    pub fn new() -> Doc {
        Doc::wrap(crdt_core::Doc::new())
    }

    /// An empty document with the given replica id (hex string, safe integer or bigint). Two
    /// live replicas must never share an id.
    #[wasm_bindgen(js_name = withReplica)]
    pub fn with_replica(
        #[wasm_bindgen(unchecked_param_type = "ReplicaId | number | bigint")] replica: JsValue,
    ) -> JsResult<Doc> {
        Ok(Doc::wrap(crdt_core::Doc::with_replica(replica_from_js(
            &replica,
        )?)))
    }

    /// Continues under a fresh random replica id when this document has already written under
    /// its current one; returns whether it did. The provider calls it when it starts: another
    /// copy restored from the same saved bytes (another tab) may sync under that id too, and a
    /// replica id must have one writer. Changes already made keep their id.
    #[wasm_bindgen(js_name = refreshReplicaIfWritten)]
    pub fn refresh_replica_if_written(&self) -> JsResult<bool> {
        self.shared.with(|doc| Ok(doc.refresh_replica_if_written()))
    }

    /// This replica's id, as 16 hex digits.
    #[wasm_bindgen(getter, js_name = replicaId)]
    pub fn replica_id(&self) -> JsResult<String> {
        self.shared.read(|doc| Ok(replica_to_string(doc.replica())))
    }

    /// The root text `name`.
    #[wasm_bindgen(js_name = getText, unchecked_return_type = "Text")]
    pub fn get_text(&self, name: &str) -> JsValue {
        self.root(name, ContainerKind::Text)
    }

    /// The root map `name`.
    #[wasm_bindgen(js_name = getMap, unchecked_return_type = "Map")]
    pub fn get_map(&self, name: &str) -> JsValue {
        self.root(name, ContainerKind::Map)
    }

    /// The root list `name`.
    #[wasm_bindgen(js_name = getList, unchecked_return_type = "List")]
    pub fn get_list(&self, name: &str) -> JsValue {
        self.root(name, ContainerKind::List)
    }

    /// The root counter `name`.
    #[wasm_bindgen(js_name = getCounter, unchecked_return_type = "Counter")]
    pub fn get_counter(&self, name: &str) -> JsValue {
        self.root(name, ContainerKind::Counter)
    }

    /// Ends the open transaction: its edits become one change, and listeners get its event.
    /// `options` may record `{ message, time }` with it (see `history()`). Returns whether
    /// there was anything to commit.
    pub fn commit(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "CommitOptions")] options: Option<Object>,
    ) -> JsResult<bool> {
        let (message, time) = crate::history::commit_options(options)?;
        self.shared.with(|doc| {
            let id = doc
                .commit_with(message.as_deref(), time)
                .map_err(js_error)?;
            Ok(id.is_some())
        })
    }

    /// The committed changes held, as `{ [replicaHex]: counter }`.
    #[wasm_bindgen(unchecked_return_type = "Version")]
    pub fn version(&self) -> JsResult<JsValue> {
        self.shared.read(|doc| Ok(version_to_js(&doc.version())))
    }

    /// Commits, then encodes every change not covered by `version` (all of them when it is
    /// omitted): what a peer at `version` lacks. Feed it to the peer's `import`.
    #[wasm_bindgen(js_name = exportSince)]
    pub fn export_since(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Version | undefined")] version: JsValue,
    ) -> JsResult<Uint8Array> {
        let since = version_from_js(&version)?;
        self.shared.with(|doc| {
            doc.commit();
            Ok(bytes_to_js(&doc.encode_changes_since(&since)))
        })
    }

    /// Applies changes from any peer, in any order, any number of times. Returns
    /// `{ applied, pending }` (changes applied now, changes waiting for their causal past).
    /// Throws on malformed bytes, which change nothing.
    #[wasm_bindgen(unchecked_return_type = "{ applied: number; pending: number }")]
    pub fn import(&self, bytes: &[u8]) -> JsResult<JsValue> {
        // The sync protocol's entry, which lists no applied ids (24 bytes a change, 6 MB for a
        // long history): every applied change is one more in the history.
        let (applied, pending) = self.shared.with(|doc| {
            let before = doc.change_count();
            SyncDoc::apply_changes(doc, bytes).map_err(js_error)?;
            Ok((doc.change_count() - before, doc.pending_count()))
        })?;
        let out = Object::new();
        // Setting properties on a fresh plain object cannot fail.
        let _ = Reflect::set(&out, &"applied".into(), &(applied as f64).into());
        let _ = Reflect::set(&out, &"pending".into(), &(pending as f64).into());
        Ok(out.into())
    }

    /// Commits, then encodes the whole document (history and state) for `Doc.load`.
    pub fn save(&self) -> JsResult<Uint8Array> {
        self.shared.with(|doc| Ok(bytes_to_js(&doc.save())))
    }

    /// Loads what `save` produced, as a new replica (fresh random id unless `replica` is
    /// given; reuse an id only when no other copy of that replica lives). Throws on malformed
    /// bytes.
    pub fn load(
        bytes: &[u8],
        #[wasm_bindgen(unchecked_param_type = "ReplicaId | number | bigint | undefined")]
        replica: JsValue,
    ) -> JsResult<Doc> {
        let doc = if replica.is_undefined() || replica.is_null() {
            crdt_core::Doc::load(bytes)
        } else {
            crdt_core::Doc::load_with_replica(bytes, replica_from_js(&replica)?)
        };
        doc.map(Doc::wrap).map_err(js_error)
    }

    /// Calls `listener(event)` after each commit and each import that changed something; see
    /// [`crate::events`] for the event's shape. Returns an id for `unsubscribe`.
    pub fn subscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(event: DocEvent) => void")]
        listener: js_sys::Function,
    ) -> JsResult<u32> {
        self.shared.subscribe(listener)
    }

    /// Stops the listener `id`; returns whether it existed.
    pub fn unsubscribe(&self, id: u32) -> JsResult<bool> {
        self.shared.unsubscribe(id)
    }

    /// Number of committed changes in the history.
    #[wasm_bindgen(getter, js_name = changeCount)]
    pub fn change_count(&self) -> JsResult<u32> {
        self.shared
            .read(|doc| u32::try_from(doc.change_count()).map_err(js_error))
    }

    /// Number of received changes waiting for their causal past.
    #[wasm_bindgen(getter, js_name = pendingCount)]
    pub fn pending_count(&self) -> JsResult<u32> {
        self.shared
            .read(|doc| u32::try_from(doc.pending_count()).map_err(js_error))
    }

    /// Every non-empty root container as a plain object (texts as strings, counters as
    /// numbers), keyed by root name (`name:kind` for non-map roots, as the core's
    /// `materialize`).
    #[wasm_bindgen(js_name = toJSON)]
    pub fn to_json(&self) -> JsResult<JsValue> {
        self.shared.read(|doc| {
            let tree = crdt_core::Materialized::Map(doc.materialize());
            Ok(materialized_to_js(&tree))
        })
    }
}
