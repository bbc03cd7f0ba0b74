//! Test-only helpers shared by crdt-core's integration tests.

pub mod reference;
