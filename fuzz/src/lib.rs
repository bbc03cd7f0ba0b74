//! Support for the fuzz targets in `fuzz_targets/`: the capped global allocator. The invariant
//! checks themselves live in `crdt_core::fuzzing` (feature `fuzzing`), shared with the
//! regression replay test, so the targets are one line each.

pub mod capped_alloc;

pub use capped_alloc::{CappedAllocator, CAP};
