//! Runnable programs a newcomer starts from: see the binaries in `src/bin/`. The editing traces
//! and their replay (used by the `replay` binary) live in the `crdt-testdata` crate.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod notes;
