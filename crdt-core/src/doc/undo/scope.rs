//! Which containers an undo manager acts on: all of them, or the chosen ones and the
//! containers nested inside them (so a scope of one note's text ignores edits to the sidebar,
//! as Yjs's `UndoManager(scope)` and Loro's excluded prefixes do).

use crate::doc::state::DocState;
use crate::doc::value::ContainerId;

/// All containers, or a few chosen containers with everything nested in them (a vector: scopes
/// name a handful of containers, and a set's generic code would weigh in the wasm package).
#[derive(Clone, Debug, Default)]
pub(crate) struct Scope(Option<Vec<ContainerId>>);

impl Scope {
    /// The scope of `containers`; `None` for the whole document.
    pub(crate) fn new(containers: Option<Vec<ContainerId>>) -> Self {
        Scope(containers)
    }

    /// Whether `obj` is in scope: chosen, or nested (at any depth) in a chosen container.
    pub(crate) fn contains(&self, state: &DocState, obj: &ContainerId) -> bool {
        let Some(chosen) = &self.0 else {
            return true;
        };
        let mut at = obj;
        // The container tree is acyclic (checked on load and kept by every op); the bound is
        // for safety only: no real document nests a million levels deep.
        for _ in 0..1_000_000 {
            if chosen.contains(at) {
                return true;
            }
            match state.parents.get(at) {
                Some(link) => at = &link.parent,
                None => return false,
            }
        }
        false
    }
}
