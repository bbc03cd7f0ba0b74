//! The values a [`Doc`](crate::Doc) holds: scalars, and references to containers (maps, lists,
//! texts, counters) that nest inside maps and lists.
//!
//! A container is named by a [`ContainerId`]: either a root container, named by the application
//! (`doc.map("meta")`), or one created by an operation, named by that operation's [`Dot`]. Both
//! sides of a merge therefore agree on every container's identity without coordination.

use std::cmp::Ordering;
use std::sync::Arc;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::clock::Dot;

/// The kinds of container a document holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ContainerKind {
    /// String keys to values; concurrent writes to one key are all kept, one wins.
    Map,
    /// An ordered sequence of values.
    List,
    /// Collaborative plain text.
    Text,
    /// A counter that sums concurrent increments.
    Counter,
}

impl fmt::Display for ContainerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContainerKind::Map => "map",
            ContainerKind::List => "list",
            ContainerKind::Text => "text",
            ContainerKind::Counter => "counter",
        })
    }
}

/// The identity of a container.
// Equality and order are the derived ones, with a shortcut: two copies of one root id share
// their name, and comparing the pointers spares comparing the bytes (an editor's every edit
// compares its text's id a few times). The hash is the derived one, which agrees.
#[allow(clippy::derived_hash_with_manual_eq)]
#[derive(Clone, Debug, Eq, Hash, Serialize, Deserialize)]
pub enum ContainerId {
    /// A root container, named by the application.
    Root {
        /// The root's name, e.g. `"body"`. Shared: copies of an id (every operation received
        /// names its container) cost a reference count, not an allocation.
        name: Arc<str>,
        /// Its kind: `doc.map("x")` and `doc.text("x")` are two different containers.
        kind: ContainerKind,
    },
    /// A container created inside a map or list by the operation `id`.
    Created {
        /// The operation that created it.
        id: Dot,
        /// Its kind.
        kind: ContainerKind,
    },
}

impl PartialEq for ContainerId {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl PartialOrd for ContainerId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ContainerId {
    /// Roots first, by name then kind; then created containers, by id then kind.
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (
                ContainerId::Root { name, kind },
                ContainerId::Root {
                    name: other_name,
                    kind: other_kind,
                },
            ) => {
                let names = if Arc::ptr_eq(name, other_name) {
                    Ordering::Equal
                } else {
                    name.cmp(other_name)
                };
                names.then(kind.cmp(other_kind))
            }
            (
                ContainerId::Created { id, kind },
                ContainerId::Created {
                    id: other_id,
                    kind: other_kind,
                },
            ) => id.cmp(other_id).then(kind.cmp(other_kind)),
            (ContainerId::Root { .. }, ContainerId::Created { .. }) => Ordering::Less,
            (ContainerId::Created { .. }, ContainerId::Root { .. }) => Ordering::Greater,
        }
    }
}

impl ContainerId {
    /// The root container `name` of `kind`.
    pub fn root(name: impl Into<Arc<str>>, kind: ContainerKind) -> Self {
        ContainerId::Root {
            name: name.into(),
            kind,
        }
    }

    /// The container's kind.
    pub fn kind(&self) -> ContainerKind {
        match self {
            ContainerId::Root { kind, .. } | ContainerId::Created { kind, .. } => *kind,
        }
    }
}

/// A plain value stored in a map entry or list element.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Scalar {
    /// No value.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// A string.
    Str(String),
    /// Raw bytes.
    Bytes(#[serde(with = "serde_bytes_compat")] Vec<u8>),
}

/// Encodes `Vec<u8>` as a MessagePack bin (compact) rather than an array of integers.
mod serde_bytes_compat {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Vec<u8>, A::Error> {
                // Capacity grows with the elements actually present, never from a claimed length.
                let mut out = Vec::new();
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_byte_buf(Visitor)
    }
}

impl From<()> for Scalar {
    fn from(_: ()) -> Self {
        Scalar::Null
    }
}
impl From<bool> for Scalar {
    fn from(v: bool) -> Self {
        Scalar::Bool(v)
    }
}
impl From<i64> for Scalar {
    fn from(v: i64) -> Self {
        Scalar::Int(v)
    }
}
impl From<i32> for Scalar {
    fn from(v: i32) -> Self {
        Scalar::Int(v.into())
    }
}
impl From<u32> for Scalar {
    fn from(v: u32) -> Self {
        Scalar::Int(v.into())
    }
}
impl From<f64> for Scalar {
    fn from(v: f64) -> Self {
        Scalar::Float(v)
    }
}
impl From<&str> for Scalar {
    fn from(v: &str) -> Self {
        Scalar::Str(v.to_owned())
    }
}
impl From<String> for Scalar {
    fn from(v: String) -> Self {
        Scalar::Str(v)
    }
}
impl From<Vec<u8>> for Scalar {
    fn from(v: Vec<u8>) -> Self {
        Scalar::Bytes(v)
    }
}

/// What a map entry or list element holds: a scalar or a nested container.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// A plain value.
    Scalar(Scalar),
    /// A nested container.
    Container(ContainerId),
}

impl Value {
    /// The scalar, if this is one.
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match self {
            Value::Scalar(s) => Some(s),
            Value::Container(_) => None,
        }
    }

    /// The string, if this is a string scalar.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Scalar(Scalar::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// The container id, if this is a container.
    pub fn as_container(&self) -> Option<&ContainerId> {
        match self {
            Value::Container(id) => Some(id),
            Value::Scalar(_) => None,
        }
    }
}

impl<T: Into<Scalar>> From<T> for Value {
    fn from(v: T) -> Self {
        Value::Scalar(v.into())
    }
}

/// A whole document, or one container, materialized as a plain tree: what a UI renders and what
/// tests compare.
#[derive(Clone, Debug, PartialEq)]
pub enum Materialized {
    /// A scalar.
    Scalar(Scalar),
    /// A map's winning values.
    Map(BTreeMap<String, Materialized>),
    /// A list's elements.
    List(Vec<Materialized>),
    /// A text's content.
    Text(String),
    /// A counter's value.
    Counter(i64),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ReplicaId;

    #[test]
    fn container_ids_compare_by_content_whether_or_not_they_share_a_name() {
        let shared = ContainerId::root("body", ContainerKind::Text);
        let copy = shared.clone();
        let separate = ContainerId::root(String::from("body"), ContainerKind::Text);
        assert_eq!(shared, copy);
        assert_eq!(shared, separate);
        assert_ne!(shared, ContainerId::root("body", ContainerKind::Map));
        assert_ne!(shared, ContainerId::root("bodies", ContainerKind::Text));
        // Roots by name then kind, then created containers by id then kind: the derived order
        // this one replaces, which saved documents' container tables follow.
        let created = |replica, counter, kind| ContainerId::Created {
            id: Dot::new(ReplicaId::new(replica), counter),
            kind,
        };
        let ordered = [
            ContainerId::root("a", ContainerKind::Map),
            ContainerId::root("a", ContainerKind::Text),
            ContainerId::root("b", ContainerKind::Map),
            created(1, 5, ContainerKind::List),
            created(1, 5, ContainerKind::Text),
            created(1, 6, ContainerKind::Map),
            created(2, 1, ContainerKind::Map),
        ];
        for (i, a) in ordered.iter().enumerate() {
            for (j, b) in ordered.iter().enumerate() {
                assert_eq!(a.cmp(b), i.cmp(&j), "{a:?} against {b:?}");
                assert_eq!(a == b, i == j);
            }
        }
        assert_eq!(shared.cmp(&separate), Ordering::Equal);
    }
}
