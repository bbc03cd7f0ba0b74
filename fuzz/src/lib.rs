//! Support for the fuzz targets in `fuzz_targets/`: the capped global allocator, and the listing
//! of committed inputs the regression replay tests share. The invariant
//! checks themselves live in `crdt_core::fuzzing` (feature `fuzzing`), shared with the
//! regression replay test, so the targets are one line each.

pub mod capped_alloc;
pub mod committed_inputs;

pub use capped_alloc::{CappedAllocator, CAP};
