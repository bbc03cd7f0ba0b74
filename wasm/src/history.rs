//! History on `Doc`, as JS sees it: `history()`, `viewAt(version)`, `forkAt(version)`,
//! `fork()`, `diff(from, to)`, `restore(version, options)`, and the `{ message, time }` options
//! of `commit` (as Loro's `commit({ message, timestamp })`).
//!
//! Versions are the plain objects of [`crate::convert`] (`{ [replicaHex]: counter }`), so a
//! version can be stored, sent or put in a URL as JSON. A history entry is a plain object too:
//!
//! ```js
//! { replica: "00000000000000ab", start: 1, last: 5, lamport: 12,
//!   parents: [{ replica, counter }], message: "fix typo" | null, time: 1700000000000 | null }
//! ```
//!
//! `start..=last` are the counters the change took, so the version after the first `k` entries
//! (`{ ...v, [e.replica]: e.last }` for each) is one `viewAt` shows. Every conversion checks its
//! JS input and throws on a bad one (never traps).

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::convert::{counter_from_f64, replica_to_string, version_from_js};
use crate::doc::Doc;
use crate::error::{js_error, JsResult};
use crate::events::patches_to_js;
use crdt_core::HistoryEntry;

fn set(object: &Object, key: &str, value: impl Into<JsValue>) {
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(object, &key.into(), &value.into());
}

/// One history entry as a plain object; see the [module docs](self).
fn entry_to_js(entry: &HistoryEntry) -> JsValue {
    let out = Object::new();
    set(&out, "replica", replica_to_string(entry.id.replica));
    set(&out, "start", entry.id.start as f64);
    set(&out, "last", (entry.id.end - 1) as f64);
    set(&out, "lamport", entry.lamport as f64);
    let parents: Array = entry
        .parents
        .iter()
        .map(|dot| {
            let p = Object::new();
            set(&p, "replica", replica_to_string(dot.replica));
            set(&p, "counter", dot.counter as f64);
            JsValue::from(p)
        })
        .collect();
    set(&out, "parents", parents);
    let message = entry
        .message
        .as_deref()
        .map_or(JsValue::NULL, JsValue::from_str);
    set(&out, "message", message);
    let time = entry
        .time
        .map_or(JsValue::NULL, |t| JsValue::from_f64(t as f64));
    set(&out, "time", time);
    out.into()
}

/// The `{ message, time }` of a commit or restore: both optional; `undefined`/`null` options
/// are none. `time` must be a non-negative safe integer (milliseconds since the Unix epoch by
/// convention, what `Date.now()` returns).
pub(crate) fn commit_options(options: Option<Object>) -> JsResult<(Option<String>, Option<u64>)> {
    // wasm-bindgen does not check that a JS value is an object: checked here.
    let Some(options) = options.map(JsValue::from) else {
        return Ok((None, None));
    };
    if options.is_undefined() || options.is_null() {
        return Ok((None, None));
    }
    if !options.is_object() {
        return Err(js_error("commit options are an object { message?, time? }"));
    }
    let field = |name: &str| Reflect::get(&options, &name.into()).map_err(|_| js_error(name));
    let message = field("message")?;
    let message = if message.is_undefined() || message.is_null() {
        None
    } else {
        Some(
            message
                .as_string()
                .ok_or_else(|| js_error("commit message must be a string"))?,
        )
    };
    let time = field("time")?;
    let time = if time.is_undefined() || time.is_null() {
        None
    } else {
        let n = time
            .as_f64()
            .ok_or_else(|| js_error("commit time must be a number (ms since the epoch)"))?;
        Some(counter_from_f64(n).map_err(js_error)?)
    };
    Ok((message, time))
}

#[wasm_bindgen]
impl Doc {
    /// Every committed change, in the order this document applied them (a causal order), as
    /// `{ replica, start, last, lamport, parents, message, time }`.
    #[wasm_bindgen(unchecked_return_type = "HistoryEntry[]")]
    pub fn history(&self) -> JsResult<Array> {
        self.shared()
            .read(|doc| Ok(doc.history().iter().map(entry_to_js).collect()))
    }

    /// The document as it was at `version`, read-only (edits and `import` throw). Throws when
    /// the version is not one this document can show (events it lacks, half a change, or a
    /// change without its causal past).
    #[wasm_bindgen(js_name = viewAt)]
    pub fn view_at(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Version")] version: JsValue,
    ) -> JsResult<Doc> {
        let version = version_from_js(&version)?;
        let view = self
            .shared()
            .read(|doc| doc.view_at(&version).map_err(js_error))?;
        Ok(Doc::wrap(view))
    }

    /// An editable copy of the document at `version`, as a new replica (random id unless
    /// `replica` is given): its changes merge back with `import`.
    #[wasm_bindgen(js_name = forkAt)]
    pub fn fork_at(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Version")] version: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "ReplicaId | number | bigint")]
        replica: Option<Object>,
    ) -> JsResult<Doc> {
        let version = version_from_js(&version)?;
        let replica = match replica.map(JsValue::from) {
            Some(r) if !r.is_undefined() && !r.is_null() => crate::convert::replica_from_js(&r)?,
            _ => crdt_core::ReplicaId::random(),
        };
        let fork = self.shared().read(|doc| {
            doc.fork_at_with_replica(&version, replica)
                .map_err(js_error)
        })?;
        Ok(Doc::wrap(fork))
    }

    /// Commits, then copies the whole document as a new replica with a random id.
    pub fn fork(&self) -> JsResult<Doc> {
        let fork = self.shared().with(|doc| doc.fork().map_err(js_error))?;
        Ok(Doc::wrap(fork))
    }

    /// The patches that take the document at `from` to the document at `to` (`from` must be
    /// covered by `to`): the same patches a `subscribe` listener receives.
    #[wasm_bindgen(unchecked_return_type = "Patch[]")]
    pub fn diff(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Version")] from: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Version")] to: JsValue,
    ) -> JsResult<Array> {
        let from = version_from_js(&from)?;
        let to = version_from_js(&to)?;
        let patches = self
            .shared()
            .read(|doc| doc.diff(&from, &to).map_err(js_error))?;
        Ok(patches_to_js(&patches))
    }

    /// Commits, then makes one new change that turns the content into the content at
    /// `version` (history stays; peers sync to it), committed with the optional
    /// `{ message, time }`. Returns whether anything changed.
    pub fn restore(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Version")] version: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "CommitOptions")] options: Option<Object>,
    ) -> JsResult<bool> {
        let version = version_from_js(&version)?;
        let (message, time) = commit_options(options)?;
        self.shared().with(|doc| {
            doc.restore_with(&version, message.as_deref(), time)
                .map(|id| id.is_some())
                .map_err(js_error)
        })
    }
}

#[wasm_bindgen(typescript_custom_section)]
const TS_HISTORY_TYPES: &'static str = r#"
/** What `commit` and `restore` may record with the change. */
export interface CommitOptions {
  /** The author's message. */
  message?: string;
  /** When, by the author's clock: milliseconds since the Unix epoch (`Date.now()`). */
  time?: number;
}
/** One change of `doc.history()`: counters `start..=last` of `replica`. */
export interface HistoryEntry {
  replica: ReplicaId;
  start: number;
  last: number;
  lamport: number;
  parents: { replica: ReplicaId; counter: number }[];
  message: string | null;
  time: number | null;
}
"#;
