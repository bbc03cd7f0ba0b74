//! [`EventMirror`]: a plain copy of a document rebuilt from nothing but its change events, the
//! way a UI would keep one. After any sequence of commits and remote applies, the mirror must
//! materialize exactly as the document does; if it does not, the events lied about what changed.
//! This is the reference-model check diamond-types' fuzzers use, applied to events.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::doc::{ContainerId, ContainerKind, Doc, DocEvent, Materialized, PatchAction, Value};

/// One container as the events describe it.
#[derive(Clone, Debug)]
enum Mirrored {
    Text(Vec<char>),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Counter(i64),
}

/// A document's content rebuilt from its events; see the [module docs](self).
#[derive(Debug, Default)]
pub struct EventMirror {
    containers: BTreeMap<ContainerId, Mirrored>,
    /// Events received by the subscription, not yet applied.
    inbox: Arc<Mutex<Vec<DocEvent>>>,
}

impl EventMirror {
    /// A mirror subscribed to `doc` (which should be empty, or the mirror starts behind).
    pub fn attach(doc: &mut Doc) -> Self {
        let mirror = EventMirror::default();
        let sink = mirror.inbox.clone();
        doc.subscribe(move |event| {
            if let Ok(mut inbox) = sink.lock() {
                inbox.push(event.clone());
            }
        });
        mirror
    }

    /// Applies the events received since the last call. Errors when a patch cannot apply (an
    /// index out of range, a patch of the wrong kind for its container).
    pub fn catch_up(&mut self) -> Result<(), String> {
        let events = match self.inbox.lock() {
            Ok(mut inbox) => std::mem::take(&mut *inbox),
            Err(_) => return Err("the event inbox is poisoned".into()),
        };
        for event in &events {
            self.apply(event)?;
        }
        Ok(())
    }

    fn apply(&mut self, event: &DocEvent) -> Result<(), String> {
        for patch in &event.patches {
            let empty = match patch.obj.kind() {
                ContainerKind::Text => Mirrored::Text(Vec::new()),
                ContainerKind::List => Mirrored::List(Vec::new()),
                ContainerKind::Map => Mirrored::Map(BTreeMap::new()),
                ContainerKind::Counter => Mirrored::Counter(0),
            };
            let target = self.containers.entry(patch.obj.clone()).or_insert(empty);
            let bad = || {
                format!(
                    "patch {patch:?} does not apply to {target_kind:?}",
                    target_kind = patch.obj.kind()
                )
            };
            match (&patch.action, target) {
                (PatchAction::TextInsert { index, text, .. }, Mirrored::Text(t)) => {
                    if *index > t.len() {
                        return Err(bad());
                    }
                    t.splice(*index..*index, text.chars());
                }
                (
                    PatchAction::TextDelete {
                        index,
                        len,
                        len_utf16,
                        ..
                    },
                    Mirrored::Text(t),
                ) => {
                    let end = index
                        .checked_add(*len)
                        .filter(|&e| e <= t.len())
                        .ok_or_else(bad)?;
                    let units: usize = t.drain(*index..end).map(char::len_utf16).sum();
                    if units != *len_utf16 {
                        return Err(bad());
                    }
                }
                (PatchAction::ListInsert { index, values }, Mirrored::List(l)) => {
                    if *index > l.len() {
                        return Err(bad());
                    }
                    l.splice(*index..*index, values.iter().cloned());
                }
                (PatchAction::ListDelete { index, len }, Mirrored::List(l)) => {
                    let end = index
                        .checked_add(*len)
                        .filter(|&e| e <= l.len())
                        .ok_or_else(bad)?;
                    l.drain(*index..end);
                }
                (PatchAction::MapPut { key, value, .. }, Mirrored::Map(m)) => {
                    m.insert(key.clone(), value.clone());
                }
                (PatchAction::MapDelete { key }, Mirrored::Map(m)) => {
                    if m.remove(key).is_none() {
                        return Err(bad());
                    }
                }
                (PatchAction::CounterAdd { delta }, Mirrored::Counter(n)) => {
                    *n = n.wrapping_add(*delta);
                }
                _ => return Err(bad()),
            }
        }
        Ok(())
    }

    /// The mirrored document as [`Doc::materialize`] shows one.
    pub fn materialize(&self) -> BTreeMap<String, Materialized> {
        let mut out = BTreeMap::new();
        for id in self.containers.keys() {
            let ContainerId::Root { name, kind } = id else {
                continue;
            };
            let value = self.materialize_container(id, 0);
            let empty = match &value {
                Materialized::Map(m) => m.is_empty(),
                Materialized::List(l) => l.is_empty(),
                Materialized::Text(t) => t.is_empty(),
                Materialized::Counter(n) => *n == 0,
                Materialized::Scalar(_) => false,
            };
            if empty {
                continue;
            }
            let key = if *kind == ContainerKind::Map {
                name.to_string()
            } else {
                format!("{name}:{kind}")
            };
            out.insert(key, value);
        }
        out
    }

    fn materialize_value(&self, value: &Value, depth: usize) -> Materialized {
        match value {
            Value::Scalar(s) => Materialized::Scalar(s.clone()),
            Value::Container(id) => self.materialize_container(id, depth + 1),
        }
    }

    fn materialize_container(&self, id: &ContainerId, depth: usize) -> Materialized {
        let container = if depth > 512 {
            None
        } else {
            self.containers.get(id)
        };
        match (container, id.kind()) {
            (Some(Mirrored::Text(t)), _) => Materialized::Text(t.iter().collect()),
            (Some(Mirrored::List(l)), _) => {
                Materialized::List(l.iter().map(|v| self.materialize_value(v, depth)).collect())
            }
            (Some(Mirrored::Map(m)), _) => Materialized::Map(
                m.iter()
                    .map(|(k, v)| (k.clone(), self.materialize_value(v, depth)))
                    .collect(),
            ),
            (Some(Mirrored::Counter(n)), _) => Materialized::Counter(*n),
            (None, ContainerKind::Text) => Materialized::Text(String::new()),
            (None, ContainerKind::List) => Materialized::List(Vec::new()),
            (None, ContainerKind::Map) => Materialized::Map(BTreeMap::new()),
            (None, ContainerKind::Counter) => Materialized::Counter(0),
        }
    }
}
