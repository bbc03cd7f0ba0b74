//! Everything this relay keeps in Redis, in one place: the names of keys and channels
//! ([`keys`]), the events nodes publish on a document's channel ([`ClusterEvent`]), node ids
//! ([`NodeId`]), the store of change batches and snapshots ([`RedisStore`]), and whether Redis
//! keeps acknowledged writes across its own crash ([`durability`]).
//!
//! Imports point one way: the cluster backplane ([`crate::cluster`]) builds on these; nothing
//! here knows the backplane.

mod durability;
mod event;
pub mod keys;
mod node;
mod store;

pub use durability::RedisPersistence;
pub use event::{ClusterEvent, EventError};
pub use node::NodeId;
pub(crate) use store::{fetch_invocation, parse_fetched};
pub use store::{Fetched, LogEntry, RedisReplyError, RedisStore};
