//! `UndoManager`: undo and redo of this replica's own edits, as JS sees the core's
//! [`crdt_core::UndoManager`] (Yjs's `Y.UndoManager` and Loro's `UndoManager` conventions).
//!
//! ```js
//! const undo = new UndoManager(doc, { captureTimeoutMs: 500, scope: ["body"] });
//! undo.setSelection({ anchor: text.getCursor(start, "after"), head: text.getCursor(end, "before") });
//! if (undo.undo()) restoreCaret(undo.restoredSelection);
//! undo.subscribe((e) => { undoButton.disabled = !e.canUndo; redoButton.disabled = !e.canRedo; });
//! ```
//!
//! The manager records each commit right after it happens (it observes the document's calls,
//! see the `shared` module) with `Date.now()` as the time, so commits closer together than
//! `captureTimeoutMs` form one step. Its state lives in an `Rc` the document holds weakly; no
//! JS is called while the document or the manager is borrowed, so listeners may undo, redo or
//! edit freely.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crdt_core::{ContainerId, ContainerKind, Selection, UndoOptions};
use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::convert::{cursor_from_js, cursor_to_js};
use crate::doc::Doc;
use crate::error::{js_error, JsResult};
use crate::shared::{CommitObserver, Shared};

#[wasm_bindgen(typescript_custom_section)]
const TS_UNDO: &'static str = r#"
/** Options of `new UndoManager(doc, options)`. */
export interface UndoManagerOptions {
  /** Commits less than this many ms apart are one undo step (default 500; 0: each commit). */
  captureTimeoutMs?: number;
  /** Only edits to the root containers of these names (and what is nested in them). */
  scope?: string[];
}
/** A caret or selection as two stable cursors (`text.getCursor`). */
export interface TextSelection {
  anchor: Cursor;
  head: Cursor;
}
/** What `UndoManager.subscribe` listeners receive when the stacks change. */
export interface UndoEvent {
  kind: "push" | "undo" | "redo";
  canUndo: boolean;
  canRedo: boolean;
  /** For "undo" and "redo": where to put the caret (resolve with `text.resolveCursor`). */
  selection?: TextSelection;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// `UndoManagerOptions` as the d.ts names it (an optional trailing parameter).
    #[wasm_bindgen(typescript_type = "UndoManagerOptions")]
    pub type UndoManagerOptionsArg;
    /// `TextSelection` as the d.ts names it.
    #[wasm_bindgen(typescript_type = "TextSelection")]
    pub type TextSelectionArg;
}

/// The manager's state, shared by the JS object and the document's observer list.
struct UndoState {
    shared: Rc<Shared>,
    manager: RefCell<crdt_core::UndoManager>,
    listeners: RefCell<Vec<(u32, Function)>>,
    next_listener: Cell<u32>,
    restored: RefCell<Option<Selection>>,
}

/// Undo and redo of this replica's own edits; remote edits stay in place.
#[wasm_bindgen]
pub struct UndoManager {
    state: Rc<UndoState>,
}

fn now_ms() -> u64 {
    // Date.now() is a non-negative whole number of ms well inside u64.
    js_sys::Date::now().max(0.0) as u64
}

fn options_from_js(value: &JsValue) -> JsResult<UndoOptions> {
    let mut options = UndoOptions::default();
    if value.is_undefined() || value.is_null() {
        return Ok(options);
    }
    if !value.is_object() {
        return Err(js_error("UndoManager options must be an object"));
    }
    let get = |key: &str| Reflect::get(value, &key.into()).unwrap_or(JsValue::UNDEFINED);
    let timeout = get("captureTimeoutMs");
    if !timeout.is_undefined() {
        let ms = timeout
            .as_f64()
            .filter(|ms| ms.is_finite() && *ms >= 0.0 && *ms <= 1e15)
            .ok_or_else(|| js_error("captureTimeoutMs must be a number of ms, 0 or more"))?;
        options.capture_timeout_ms = ms as u64;
    }
    let scope = get("scope");
    if !scope.is_undefined() {
        if !Array::is_array(&scope) {
            return Err(js_error("scope must be an array of root container names"));
        }
        let mut ids = Vec::new();
        for name in Array::from(&scope).iter() {
            let name = name
                .as_string()
                .ok_or_else(|| js_error("scope must be an array of root container names"))?;
            for kind in [
                ContainerKind::Map,
                ContainerKind::List,
                ContainerKind::Text,
                ContainerKind::Counter,
            ] {
                ids.push(ContainerId::root(name.clone(), kind));
            }
        }
        options.scope = Some(ids);
    }
    Ok(options)
}

fn selection_to_js(selection: &Selection) -> JsValue {
    let object = Object::new();
    // Setting properties on a fresh plain object cannot fail.
    let _ = Reflect::set(&object, &"anchor".into(), &cursor_to_js(&selection.anchor));
    let _ = Reflect::set(&object, &"head".into(), &cursor_to_js(&selection.head));
    object.into()
}

fn selection_from_js(value: &JsValue) -> JsResult<Option<Selection>> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    if !value.is_object() {
        return Err(js_error(
            "a selection is an object { anchor, head } of cursors",
        ));
    }
    let get = |key: &str| Reflect::get(value, &key.into()).unwrap_or(JsValue::UNDEFINED);
    Ok(Some(Selection {
        anchor: cursor_from_js(&get("anchor"))?,
        head: cursor_from_js(&get("head"))?,
    }))
}

impl UndoState {
    fn manager(&self) -> JsResult<std::cell::RefMut<'_, crdt_core::UndoManager>> {
        self.manager
            .try_borrow_mut()
            .map_err(|_| js_error("the undo manager is busy (called from inside its own call)"))
    }

    fn stacks(&self) -> JsResult<(usize, usize)> {
        let manager = self.manager()?;
        Ok((manager.undo_len(), manager.redo_len()))
    }

    /// Calls every listener with `{ kind, canUndo, canRedo, selection? }`; all are called
    /// even if one throws, and the first exception is rethrown.
    fn emit(&self, kind: &str, selection: Option<&Selection>) -> JsResult<()> {
        let (undo, redo) = self.stacks()?;
        let event = Object::new();
        let _ = Reflect::set(&event, &"kind".into(), &kind.into());
        let _ = Reflect::set(&event, &"canUndo".into(), &(undo > 0).into());
        let _ = Reflect::set(&event, &"canRedo".into(), &(redo > 0).into());
        if let Some(selection) = selection {
            let _ = Reflect::set(&event, &"selection".into(), &selection_to_js(selection));
        }
        let listeners: Vec<Function> = self
            .listeners
            .borrow()
            .iter()
            .map(|(_, f)| f.clone())
            .collect();
        let mut first_error = None;
        for listener in listeners {
            if let Err(e) = listener.call1(&JsValue::UNDEFINED, &event) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl CommitObserver for UndoState {
    fn after_call(&self, shared: &Shared) -> JsResult<()> {
        let before = self.stacks()?;
        shared.read(|doc| {
            self.manager()?.record(doc, now_ms());
            Ok(())
        })?;
        if self.stacks()? != before {
            self.emit("push", None)?;
        }
        Ok(())
    }
}

#[wasm_bindgen]
impl UndoManager {
    /// A manager of `doc`'s own edits from now on. `options`: `{ captureTimeoutMs, scope }`
    /// (see `UndoManagerOptions`).
    #[wasm_bindgen(constructor)]
    pub fn new(doc: &Doc, options: Option<UndoManagerOptionsArg>) -> JsResult<UndoManager> {
        let options = options_from_js(&options.map_or(JsValue::UNDEFINED, JsValue::from))?;
        let shared = Rc::clone(doc.shared());
        let manager = shared.read(|d| Ok(crdt_core::UndoManager::with_options(d, options)))?;
        let state = Rc::new(UndoState {
            shared,
            manager: RefCell::new(manager),
            listeners: RefCell::new(Vec::new()),
            next_listener: Cell::new(0),
            restored: RefCell::new(None),
        });
        let observer: Rc<dyn CommitObserver> = state.clone();
        state.shared.observe(Rc::downgrade(&observer));
        Ok(UndoManager { state })
    }

    /// Takes back the last step as a new change (which syncs like any edit). Returns whether
    /// the document changed; `restoredSelection` then says where to put the caret.
    pub fn undo(&self) -> JsResult<bool> {
        self.run(true)
    }

    /// Takes back the last undo. Returns whether the document changed.
    pub fn redo(&self) -> JsResult<bool> {
        self.run(false)
    }

    fn run(&self, undo: bool) -> JsResult<bool> {
        let state = &self.state;
        let outcome = state.shared.with(|doc| {
            let mut manager = state.manager()?;
            let outcome = if undo {
                manager.undo(doc)
            } else {
                manager.redo(doc)
            };
            outcome.map_err(js_error)
        })?;
        *state.restored.borrow_mut() = outcome.selection;
        if outcome.changed {
            let kind = if undo { "undo" } else { "redo" };
            state.emit(kind, outcome.selection.as_ref())?;
        }
        Ok(outcome.changed)
    }

    /// Whether `undo()` has a step to take back.
    #[wasm_bindgen(js_name = canUndo)]
    pub fn can_undo(&self) -> JsResult<bool> {
        Ok(self.state.manager()?.can_undo())
    }

    /// Whether `redo()` has a step to take back.
    #[wasm_bindgen(js_name = canRedo)]
    pub fn can_redo(&self) -> JsResult<bool> {
        Ok(self.state.manager()?.can_redo())
    }

    /// Ends the current step: the next commit starts a new one.
    #[wasm_bindgen(js_name = stopCapturing)]
    pub fn stop_capturing(&self) -> JsResult<()> {
        self.state.manager()?.stop_capturing();
        Ok(())
    }

    /// Where the caret is now (`{ anchor, head }` cursors, or `undefined`); call it whenever
    /// the selection moves. A step keeps the selection from when it began (given back by
    /// `undo`) and the one given right after its last commit (given back by `redo`).
    #[wasm_bindgen(js_name = setSelection)]
    pub fn set_selection(&self, selection: Option<TextSelectionArg>) -> JsResult<()> {
        let selection = selection_from_js(&selection.map_or(JsValue::UNDEFINED, JsValue::from))?;
        self.state.manager()?.set_selection(selection);
        Ok(())
    }

    /// The selection the last `undo()`/`redo()` gave back, or `undefined`.
    #[wasm_bindgen(getter, js_name = restoredSelection, unchecked_return_type = "TextSelection | undefined")]
    pub fn restored_selection(&self) -> JsValue {
        self.state
            .restored
            .borrow()
            .as_ref()
            .map_or(JsValue::UNDEFINED, selection_to_js)
    }

    /// Calls `listener(event)` when the stacks change (see `UndoEvent`). Returns an id for
    /// `unsubscribe`.
    pub fn subscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(event: UndoEvent) => void")] listener: Function,
    ) -> u32 {
        let id = self.state.next_listener.get();
        self.state.next_listener.set(id.wrapping_add(1));
        self.state.listeners.borrow_mut().push((id, listener));
        id
    }

    /// Stops the listener `id`; returns whether it existed.
    pub fn unsubscribe(&self, id: u32) -> bool {
        let mut listeners = self.state.listeners.borrow_mut();
        let before = listeners.len();
        listeners.retain(|(l, _)| *l != id);
        before != listeners.len()
    }
}
