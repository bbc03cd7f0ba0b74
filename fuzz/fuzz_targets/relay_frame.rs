//! Fuzz target `relay_frame`: frames from one peer through the relay's real connection and room
//! code, without sockets; see `sync_server::relay::fuzzing` for the harness and the invariants
//! checked.
#![no_main]

use crdt_fuzz::CappedAllocator;
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: CappedAllocator = CappedAllocator::new();

fuzz_target!(|data: &[u8]| {
    ALLOC.begin_input(data.len());
    sync_server::relay::fuzzing::check_relay_frames(data)
});
