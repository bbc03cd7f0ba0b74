//! [`Persister`]: the one thread that writes change batches to the [`Store`], group-committing
//! whatever queued up while the previous commit ran.
//!
//! Invariant: a request's completion is sent only after the store returned from the `append`
//! holding it, so "completed Ok" means "durable"; completions of one room arrive in the order its
//! requests were made (one queue, one writer). Group commit is how PostgreSQL and SQLite-backed
//! servers amortise fsync across concurrent writers.

use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use crdt_core::sync::DocId;
use tokio::sync::mpsc;

use crate::metrics::Metrics;
use crate::storage::Store;

/// Most batches written in one transaction.
const MAX_GROUP: usize = 512;

/// One batch to write; `done` receives `(ticket, ok)` once it is durable (or failed).
pub(crate) struct PersistRequest {
    pub doc: DocId,
    pub bytes: Vec<u8>,
    pub ticket: u64,
    pub done: mpsc::UnboundedSender<(u64, bool)>,
}

/// What the writer thread is sent.
pub(crate) enum PersistMessage {
    /// Write this batch.
    Write(PersistRequest),
    /// Everything queued before is written; stop.
    Stop,
}

/// The writer thread and its queue.
pub(crate) struct Persister {
    queue: Option<std_mpsc::Sender<PersistMessage>>,
    thread: Option<JoinHandle<()>>,
}

impl Persister {
    /// Starts the writer thread.
    pub fn start(store: Arc<dyn Store>, metrics: Arc<Metrics>) -> std::io::Result<Self> {
        let (tx, rx) = std_mpsc::channel::<PersistMessage>();
        let thread = std::thread::Builder::new()
            .name("sync-persister".into())
            .spawn(move || run(rx, store, metrics))?;
        Ok(Persister {
            queue: Some(tx),
            thread: Some(thread),
        })
    }

    /// A handle to queue requests with.
    pub fn queue(&self) -> Option<std_mpsc::Sender<PersistMessage>> {
        self.queue.clone()
    }

    /// Waits until every request queued so far is written, then stops the thread.
    pub fn finish(mut self) {
        if let Some(queue) = self.queue.take() {
            // The thread only stops on Stop or a closed queue, so it is alive to receive this.
            let _ = queue.send(PersistMessage::Stop);
        }
        if let Some(thread) = self.thread.take() {
            // A panic in the writer has already been reported by the panic hook.
            let _ = thread.join();
        }
    }
}

fn run(rx: std_mpsc::Receiver<PersistMessage>, store: Arc<dyn Store>, metrics: Arc<Metrics>) {
    use std::sync::atomic::Ordering::Relaxed;
    let mut stop = false;
    while !stop {
        let Ok(PersistMessage::Write(first)) = rx.recv() else {
            break;
        };
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(PersistMessage::Write(next)) => group.push(next),
                Ok(PersistMessage::Stop) => {
                    stop = true;
                    break;
                }
                Err(_) => break,
            }
        }
        let batches: Vec<(DocId, Vec<u8>)> = group
            .iter_mut()
            .map(|r| (r.doc.clone(), std::mem::take(&mut r.bytes)))
            .collect();
        let ok = match store.append(&batches) {
            Ok(()) => {
                metrics
                    .changes_persisted
                    .fetch_add(batches.len() as u64, Relaxed);
                true
            }
            Err(e) => {
                metrics.storage_errors.fetch_add(1, Relaxed);
                tracing::error!(error = %e, batches = batches.len(), "storing changes failed");
                false
            }
        };
        for request in group {
            // The room may be gone (its peers left); then nobody waits for this answer.
            let _ = request.done.send((request.ticket, ok));
        }
    }
}
