//! Fuzz target `network` (structured): an `arbitrary`-derived `Schedule` of edits and network
//! events over several peers; see `crdt_core::fuzzing::schedule` for the invariants checked.
//! Built from the input exactly as `Target::Network.run` builds it for the replay test.
#![no_main]

use crdt_core::fuzzing::{run_schedule, Schedule};
use crdt_fuzz::CappedAllocator;
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: CappedAllocator = CappedAllocator::new();

fuzz_target!(|schedule: Schedule| run_schedule(&schedule));
