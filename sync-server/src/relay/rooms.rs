//! [`Rooms`]: the registry of loaded documents, from document id to its room's command queue.
//!
//! Invariant: a command reaches a live room or fails visibly. Joins are queued while the registry
//! lock is held, and a room removes itself (to unload) only under the same lock and only when its
//! queue is empty and it has no peers; so no join can land in a room that is going away, and a
//! peer's later messages follow its join into the same room.
//!
//! A room's queue is bounded twice: [`ROOM_QUEUE`] commands, and `--room-queue-bytes` bytes of
//! peers' joins and messages (each such command carries its charge, see
//! [`super::byte_budget`]), so peers flooding one document cost at most that much memory while
//! the room catches up.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use crdt_core::sync::{DocId, Message};
use tokio::sync::mpsc;

use super::byte_budget::ByteBudget;
use super::peer::PeerLink;
use super::room::{Room, RoomCommand};
use super::RelayContext;
use crate::cluster::RoomLink;

/// Commands a room queues before senders wait (messages) or joins are refused as busy.
pub(crate) const ROOM_QUEUE: usize = 4096;

/// A room's command queue, as its peers hold it.
#[derive(Clone, Debug)]
pub(crate) struct RoomQueue {
    /// Where commands go.
    pub commands: mpsc::Sender<RoomCommand>,
    /// The bytes of the messages waiting in `commands`.
    pub budget: ByteBudget,
}

/// Why a join could not be queued.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum JoinError {
    /// The room's queue is full (in commands or bytes), or its task just ended.
    Busy,
}

/// The loaded documents; see the [module docs](self).
#[derive(Debug, Default)]
pub(crate) struct Rooms {
    map: Mutex<HashMap<DocId, RoomQueue>>,
}

impl Rooms {
    /// Queues the join of `peer` (its `hello` was a frame of `size` bytes) for the room of `doc`,
    /// loading the document if needed; returns the room's queue for the peer's later messages.
    pub fn join(
        &self,
        ctx: &Arc<RelayContext>,
        doc: &DocId,
        (peer, hello, size): (PeerLink, Message, usize),
    ) -> Result<RoomQueue, JoinError> {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // A room whose task ended without removing itself (it panicked) is replaced.
        let live = map
            .get(doc)
            .filter(|room| !room.commands.is_closed())
            .cloned();
        let room = live.unwrap_or_else(|| Self::open(&mut map, ctx, doc));
        let charge = room.budget.charge(size).ok_or(JoinError::Busy)?;
        let join = RoomCommand::Join {
            peer,
            hello,
            _charge: charge,
        };
        room.commands.try_send(join).map_err(|_| JoinError::Busy)?;
        Ok(room)
    }

    /// Registers a new room for `doc` and starts its task, which loads the document.
    fn open(
        map: &mut HashMap<DocId, RoomQueue>,
        ctx: &Arc<RelayContext>,
        doc: &DocId,
    ) -> RoomQueue {
        let (tx, rx) = mpsc::channel(ROOM_QUEUE);
        let queue = RoomQueue {
            commands: tx,
            budget: ByteBudget::new(ctx.config.limits.room_queue_bytes),
        };
        map.insert(doc.clone(), queue.clone());
        let ctx = Arc::clone(ctx);
        let id = doc.clone();
        tokio::spawn(async move {
            let (stored, link) = match &ctx.cluster {
                // In cluster mode the room loads through its link, which subscribes first.
                Some(backplane) => match RoomLink::open(Arc::clone(backplane), id.clone()).await {
                    Ok((link, stored)) => (Ok(Ok(stored)), Some(link)),
                    Err(e) => (Ok(Err(e)), None),
                },
                None => {
                    let store = Arc::clone(&ctx.store);
                    let load_id = id.clone();
                    let loaded = tokio::task::spawn_blocking(move || store.load(&load_id)).await;
                    (loaded, None)
                }
            };
            let stored = match stored {
                Ok(Ok(stored)) => stored,
                Ok(Err(e)) => {
                    tracing::error!(doc = %id, error = %e, "loading the document failed");
                    ctx.metrics.storage_errors.fetch_add(1, Relaxed);
                    ctx.rooms.remove(&id);
                    return;
                }
                Err(e) => {
                    tracing::error!(doc = %id, error = %e, "loading the document panicked");
                    ctx.rooms.remove(&id);
                    return;
                }
            };
            ctx.metrics.rooms.fetch_add(1, Relaxed);
            tracing::debug!(doc = %id, batches = stored.batches.len(), "document loaded");
            let (room, persisted) = Room::load(id, stored, Arc::clone(&ctx), link);
            room.run(rx, persisted).await;
            ctx.metrics.rooms.fetch_sub(1, Relaxed);
        });
        queue
    }

    /// Removes the room of `doc` if its queue is empty; called by the room itself.
    /// Registers a room run by the caller (the fuzz harness drives one without a task).
    #[cfg(feature = "fuzzing")]
    pub(crate) fn insert(&self, doc: DocId, room: RoomQueue) {
        self.map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(doc, room);
    }

    pub fn remove_if_idle(&self, doc: &DocId, queue: &mpsc::Receiver<RoomCommand>) -> bool {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if queue.is_empty() {
            map.remove(doc);
            true
        } else {
            false
        }
    }

    /// Removes the room of `doc` (it failed).
    pub fn remove(&self, doc: &DocId) {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        map.remove(doc);
    }

    /// Number of loaded rooms.
    pub fn len(&self) -> usize {
        self.map.lock().map_or(0, |m| m.len())
    }
}
