//! Undo and redo of this replica's own edits, under concurrent remote edits.
//!
//! An [`UndoManager`] watches one [`Doc`]: the changes this replica commits become undo steps,
//! and [`UndoManager::undo`] makes a *new* change that takes the last step back. Remote
//! changes are never undone and stay in place. Because an undo is an ordinary change it syncs,
//! persists and merges like typing: a peer sees the text come back, and a reload or a relay
//! round trip keeps it.
//!
//! # How it stays right under remote edits
//!
//! Everything is named by id, never by position (`inverse.rs` has the table):
//!
//! * Undoing a text delete re-inserts the text right after its tombstones (FugueMax keeps them
//!   in the sequence), however many remote inserts and deletes happened around it; undoing an
//!   insert deletes exactly the elements it inserted, wherever they moved.
//! * Restored elements are new ids; an id remap (`remap.rs`) sends every later reference to an
//!   old id (an older step, a saved selection) to its copy, so undo after undo after redo keeps
//!   acting on the right elements.
//! * Each step keeps the [`Selection`] of its moment as stable cursors, carried through the
//!   remap. So the reports peers' users filed cannot be filed here: the caret after an undo
//!   goes back to where it was before the step (y-prosemirror #38, where it stayed on the line
//!   the undone edit had made); a selection over text that was deleted and is restored comes
//!   back over exactly that text, even when a peer typed at its edges meanwhile (loro #1100,
//!   where it grew over the peer's text: here the cursors point at the restored characters,
//!   and cursors made as [`Selection`] advises keep text typed at the edges outside); and a
//!   redo puts the caret after the redone text (loro #784, where a caret at the end of the
//!   text came back in front of it: here it is anchored to the restored last character).
//!   Automerge has no undo at all (automerge-classic #318); its wish list (only the local
//!   user's changes, exclusion of machine-made updates, persistence across reloads) is met by
//!   origin tracking, scopes and undo-as-a-change.
//!
//! # Steps and time
//!
//! Commits less than [`UndoOptions::capture_timeout_ms`] apart form one step,
//! as typing a word is undone as a word; [`UndoManager::stop_capturing`] ends a step at once. The
//! core has no clock: the caller passes the time of each [`UndoManager::record`] (the wasm
//! binding passes `Date.now()`). A new local edit clears the redo stack.
//!
//! ```
//! use crdt_core::{Doc, ReplicaId, UndoManager, VersionVector};
//!
//! let mut alice = Doc::with_replica(ReplicaId::new(1));
//! let mut undo = UndoManager::new(&alice);
//! alice.text("body").insert(0, "hello world").unwrap();
//! alice.commit();
//! undo.record(&alice, 0);
//! undo.stop_capturing();
//! alice.text("body").delete(0, 6).unwrap(); // "world"
//! alice.commit();
//! undo.record(&alice, 10);
//!
//! // Bob types at the start meanwhile.
//! let mut bob = Doc::with_replica(ReplicaId::new(2));
//! bob.apply_changes(&alice.encode_changes_since(&VersionVector::new())).unwrap();
//! bob.text("body").insert(0, ">> ").unwrap();
//! bob.commit();
//! alice.apply_changes(&bob.encode_changes_since(&alice.version())).unwrap();
//!
//! assert!(undo.undo(&mut alice).unwrap().changed);
//! assert_eq!(alice.text("body").to_string(), ">> hello world");
//! bob.apply_changes(&alice.encode_changes_since(&bob.version())).unwrap();
//! assert_eq!(bob.text("body").to_string(), ">> hello world");
//! assert!(undo.redo(&mut alice).unwrap().changed);
//! assert_eq!(alice.text("body").to_string(), ">> world");
//! ```

mod apply;
mod copy;
mod inverse;
mod remap;
mod scope;
mod selection;
mod sequence;

pub use selection::Selection;

use crate::clock::{ReplicaId, SeqRange};
use crate::doc::value::ContainerId;
use crate::doc::{Doc, DocError};
use remap::IdRemap;
use scope::Scope;

/// Default [`UndoOptions::capture_timeout_ms`]: commits closer together than this are one step.
pub const DEFAULT_CAPTURE_TIMEOUT_MS: u64 = 500;

/// How an [`UndoManager`] groups and filters edits.
#[derive(Clone, Debug)]
pub struct UndoOptions {
    /// Commits recorded less than this many milliseconds after the previous one join its step
    /// (0: every commit is a step of its own).
    pub capture_timeout_ms: u64,
    /// Only edits to these containers (and containers nested in them) are undone; `None` for
    /// the whole document.
    pub scope: Option<Vec<ContainerId>>,
}

impl Default for UndoOptions {
    fn default() -> Self {
        UndoOptions {
            capture_timeout_ms: DEFAULT_CAPTURE_TIMEOUT_MS,
            scope: None,
        }
    }
}

/// What [`UndoManager::undo`] or [`UndoManager::redo`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepOutcome {
    /// Whether the document changed (false when the stack was empty or every step on it had
    /// nothing left to take back).
    pub changed: bool,
    /// Where to put the caret: for an undo, the selection from before the step; for a redo, the
    /// selection from after it. Resolve it with the text's `resolve_cursor`.
    pub selection: Option<Selection>,
}

/// One undo (or redo) step: changes of this replica, oldest first, taken back together.
#[derive(Clone, Debug)]
struct Step {
    changes: Vec<SeqRange>,
    /// The selection when the step began.
    before: Option<Selection>,
    /// The selection given right after the step's last commit.
    after: Option<Selection>,
}

/// Undo and redo of one replica's own edits, each undo a new change that syncs; remote edits
/// stay in place. Call [`record`](Self::record) after each commit (with the time) and
/// [`set_selection`](Self::set_selection) when the caret moves; [`undo`](Self::undo) and
/// [`redo`](Self::redo) give back where the caret goes.
#[derive(Clone, Debug)]
pub struct UndoManager {
    /// The replica whose changes are ours (follows the document when its replica changes).
    replica: ReplicaId,
    /// Our changes up to this counter are recorded (or are undo/redo changes of our own).
    seen: u64,
    undo: Vec<Step>,
    redo: Vec<Step>,
    options: UndoOptions,
    scope: Scope,
    remap: IdRemap,
    /// The caller's latest selection.
    selection: Option<Selection>,
    /// Whether the next commit may join the top undo step.
    capturing: bool,
    /// Whether the next selection given is the one right after the top step's last commit (its
    /// `after`; later ones, e.g. a click elsewhere, are not).
    awaiting_after: bool,
    /// Time of the last recorded commit.
    last_ms: u64,
}

impl UndoManager {
    /// A manager of `doc`'s own edits from now on (earlier ones are not undoable), with the
    /// default options.
    pub fn new(doc: &Doc) -> Self {
        UndoManager::with_options(doc, UndoOptions::default())
    }

    /// A manager with `options`.
    pub fn with_options(doc: &Doc, options: UndoOptions) -> Self {
        UndoManager {
            replica: doc.replica,
            seen: doc.log.version().get(doc.replica),
            undo: Vec::new(),
            redo: Vec::new(),
            scope: Scope::new(options.scope.clone()),
            options,
            remap: IdRemap::default(),
            selection: None,
            capturing: false,
            awaiting_after: false,
            last_ms: 0,
        }
    }

    /// Takes in the changes `doc`'s replica committed since the last call, at time `now_ms`
    /// (milliseconds on any clock the caller keeps steady). Call it after each commit; undo and
    /// redo call it too, so a forgotten call only loses the grouping by time.
    pub fn record(&mut self, doc: &Doc, now_ms: u64) {
        if doc.replica != self.replica {
            // A new replica id (e.g. after `refresh_replica_if_written`) starts with no events.
            self.replica = doc.replica;
            self.seen = 0;
        }
        let fresh: Vec<SeqRange> = doc
            .log
            .changes_of_after(self.replica, self.seen)
            .into_iter()
            .filter(|c| {
                c.ops
                    .iter()
                    .any(|op| self.scope.contains(&doc.state, op.obj()))
            })
            .map(|c| c.id)
            .collect();
        self.seen = doc.log.version().get(self.replica);
        for id in fresh {
            self.push_change(id, now_ms);
        }
    }

    fn push_change(&mut self, id: SeqRange, now_ms: u64) {
        let within = now_ms.saturating_sub(self.last_ms) < self.options.capture_timeout_ms;
        match self.undo.last_mut() {
            Some(step) if self.capturing && within => step.changes.push(id),
            _ => self.undo.push(Step {
                changes: vec![id],
                before: self.selection,
                after: self.selection,
            }),
        }
        self.redo.clear();
        self.capturing = true;
        self.awaiting_after = true;
        self.last_ms = now_ms;
    }

    /// Ends the current step: the next commit starts a new one, however soon it comes.
    pub fn stop_capturing(&mut self) {
        self.capturing = false;
    }

    /// Tells the manager where the caret is now: call it whenever the selection moves. A step
    /// keeps the selection from when it began (returned by [`undo`](Self::undo)) and the one
    /// given right after its last commit (returned by [`redo`](Self::redo)).
    pub fn set_selection(&mut self, selection: Option<Selection>) {
        self.selection = selection;
        if std::mem::take(&mut self.awaiting_after) {
            if let Some(step) = self.undo.last_mut() {
                step.after = selection;
            }
        }
    }

    /// Whether [`undo`](Self::undo) has a step to take back.
    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    /// Whether [`redo`](Self::redo) has a step to take back.
    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// Number of undo steps.
    pub fn undo_len(&self) -> usize {
        self.undo.len()
    }

    /// Number of redo steps.
    pub fn redo_len(&self) -> usize {
        self.redo.len()
    }

    /// Forgets both stacks.
    pub fn clear(&mut self) {
        self.undo.clear();
        self.redo.clear();
        self.capturing = false;
    }

    /// Takes back the last undo step as a new committed change (moving the step to the redo
    /// stack). Steps with nothing left to take back (e.g. text a peer deleted already) are
    /// dropped until one changes something. Commits and records any open edits first.
    pub fn undo(&mut self, doc: &mut Doc) -> Result<StepOutcome, DocError> {
        self.run(doc, Direction::Undo)
    }

    /// Takes back the last undone step (see [`undo`](Self::undo)).
    pub fn redo(&mut self, doc: &mut Doc) -> Result<StepOutcome, DocError> {
        self.run(doc, Direction::Redo)
    }

    fn run(&mut self, doc: &mut Doc, direction: Direction) -> Result<StepOutcome, DocError> {
        doc.commit();
        self.record(doc, self.last_ms);
        self.capturing = false;
        self.awaiting_after = false;
        loop {
            let stack = match direction {
                Direction::Undo => &mut self.undo,
                Direction::Redo => &mut self.redo,
            };
            let Some(step) = stack.pop() else {
                return Ok(StepOutcome::default());
            };
            let result = inverse::apply_inverse(doc, &mut self.remap, &self.scope, &step.changes);
            let committed = doc.commit();
            // Our own undo change: not a new edit (it must not clear the redo stack).
            self.seen = doc.log.version().get(self.replica);
            let Some(id) = committed else {
                result?;
                continue; // nothing left to take back in this step
            };
            let moved = Step {
                changes: vec![id],
                before: step.before,
                after: step.after,
            };
            let selection = match direction {
                Direction::Undo => {
                    self.redo.push(moved);
                    step.before
                }
                Direction::Redo => {
                    self.undo.push(moved);
                    step.after
                }
            };
            result?;
            return Ok(StepOutcome {
                changed: true,
                selection: selection.map(|s| s.remapped(&self.remap)),
            });
        }
    }
}

#[derive(Clone, Copy)]
enum Direction {
    Undo,
    Redo,
}
