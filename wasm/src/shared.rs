//! [`Shared`]: one document as the JS objects that reach it see it — the `Doc`, its container
//! handles and the `SyncSession`s driving it all hold an `Rc<Shared>`.
//!
//! Events: the core calls subscribers synchronously and requires them to be `Send`; JS functions
//! are not. So one `Send` closure queues every [`DocEvent`] in an `Arc<Mutex<Vec<_>>>`, and after
//! each call that may emit (commit, import, a sync message) [`Shared::deliver`] hands the queue to
//! the JS listeners — after the document's borrow ended, so that a listener may read or even edit
//! the document. The core subscription exists only while a JS listener does, so a document nobody
//! listens to pays nothing for events.
//!
//! Observers: after each such call, before the events, [`CommitObserver`]s (undo managers) look
//! at the document, so that an undo manager records each commit when it happens.
//!
//! Invariant: the document is borrowed only inside [`Shared::with`]; a re-entrant call (which the
//! borrow rules would turn into a panic, i.e. a trap) is refused with an error instead.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::sync::{Arc, Mutex};

use crdt_core::{Doc, DocEvent, SubscriptionId};
use js_sys::Function;
use wasm_bindgen::prelude::*;

use crate::error::{js_error, JsResult};
use crate::events::event_to_js;

/// A document shared by its JS handles; see the [module docs](self).
pub(crate) struct Shared {
    doc: RefCell<Doc>,
    queue: Arc<Mutex<Vec<DocEvent>>>,
    core_subscription: Cell<Option<SubscriptionId>>,
    listeners: RefCell<Vec<(u32, Function)>>,
    next_listener: Cell<u32>,
    /// Told after each call that may have committed; weak, so a dropped observer just ends.
    observers: RefCell<Vec<Weak<dyn CommitObserver>>>,
}

/// Something that looks at the document after each call that may have committed.
pub(crate) trait CommitObserver {
    /// Called with the document not borrowed (the observer borrows it as it needs).
    fn after_call(&self, shared: &Shared) -> JsResult<()>;
}

impl Shared {
    pub(crate) fn new(doc: Doc) -> Self {
        Shared {
            doc: RefCell::new(doc),
            queue: Arc::new(Mutex::new(Vec::new())),
            core_subscription: Cell::new(None),
            listeners: RefCell::new(Vec::new()),
            next_listener: Cell::new(0),
            observers: RefCell::new(Vec::new()),
        }
    }

    /// Runs `f` on the document, then delivers the events it emitted.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Doc) -> JsResult<T>) -> JsResult<T> {
        let result = {
            let mut doc = self
                .doc
                .try_borrow_mut()
                .map_err(|_| js_error("the document is busy (called from inside its own call)"))?;
            f(&mut doc)
        };
        let observed = self.notify_observers();
        self.deliver()?;
        observed?;
        result
    }

    /// Adds an observer (see [`CommitObserver`]), dropping the ones that ended.
    pub(crate) fn observe(&self, observer: Weak<dyn CommitObserver>) {
        let mut observers = self.observers.borrow_mut();
        observers.retain(|o| o.strong_count() > 0);
        observers.push(observer);
    }

    fn notify_observers(&self) -> JsResult<()> {
        // Most documents have no undo manager: no snapshot to build after every commit.
        if self.observers.borrow().is_empty() {
            return Ok(());
        }
        // A snapshot: an observer may add another while it is called.
        let live: Vec<Rc<dyn CommitObserver>> = self
            .observers
            .borrow()
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        let mut first_error = None;
        for observer in live {
            if let Err(e) = observer.after_call(self) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Runs `f` on the document without delivering events (reads, and edits that emit nothing
    /// before `commit`).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&mut Doc) -> JsResult<T>) -> JsResult<T> {
        let mut doc = self
            .doc
            .try_borrow_mut()
            .map_err(|_| js_error("the document is busy (called from inside its own call)"))?;
        f(&mut doc)
    }

    /// Adds a JS listener; returns its id for [`unsubscribe`](Self::unsubscribe).
    pub(crate) fn subscribe(&self, listener: Function) -> JsResult<u32> {
        if self.core_subscription.get().is_none() {
            let queue = Arc::clone(&self.queue);
            let id = self.read(|doc| {
                Ok(doc.subscribe(move |event| {
                    // A poisoned lock means an earlier push panicked, which a Vec push does
                    // not do short of allocation failure; keep the events regardless.
                    let mut q = queue.lock().unwrap_or_else(|p| p.into_inner());
                    q.push(event.clone());
                }))
            })?;
            self.core_subscription.set(Some(id));
        }
        let id = self.next_listener.get();
        self.next_listener.set(id.wrapping_add(1));
        self.listeners.borrow_mut().push((id, listener));
        Ok(id)
    }

    /// Removes a JS listener; returns whether it existed.
    pub(crate) fn unsubscribe(&self, id: u32) -> JsResult<bool> {
        let existed = {
            let mut listeners = self.listeners.borrow_mut();
            let before = listeners.len();
            listeners.retain(|(l, _)| *l != id);
            before != listeners.len()
        };
        if self.listeners.borrow().is_empty() {
            if let Some(sub) = self.core_subscription.take() {
                self.read(|doc| Ok(doc.unsubscribe(sub)))?;
            }
            self.take_queue();
        }
        Ok(existed)
    }

    fn take_queue(&self) -> Vec<DocEvent> {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *q)
    }

    /// Hands queued events to every listener, in order. Every listener gets every event even if
    /// one throws; the first exception is rethrown afterwards.
    pub(crate) fn deliver(&self) -> JsResult<()> {
        // Only the core subscription queues events, and it exists only while a JS listener does
        // (the last `unsubscribe` drops it and empties the queue): without one, nothing to lock.
        if self.core_subscription.get().is_none() {
            return Ok(());
        }
        let mut first_error = None;
        loop {
            let events = self.take_queue();
            if events.is_empty() {
                break;
            }
            // Listeners may subscribe or unsubscribe while being called: call a snapshot.
            let listeners: Vec<Function> = self
                .listeners
                .borrow()
                .iter()
                .map(|(_, f)| f.clone())
                .collect();
            for event in &events {
                let js = event_to_js(event);
                for listener in &listeners {
                    if let Err(e) = listener.call1(&JsValue::UNDEFINED, &js) {
                        first_error.get_or_insert(e);
                    }
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
