//! Fuzz target `text_apply_encoded`: see `crdt_core::fuzzing::Target::TextApplyEncoded` for the entry point and the
//! invariants checked.
#![no_main]

use crdt_core::fuzzing::Target;
use crdt_fuzz::CappedAllocator;
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: CappedAllocator = CappedAllocator::new();

fuzz_target!(|data: &[u8]| {
    ALLOC.begin_input(data.len());
    Target::TextApplyEncoded.run(data)
});
