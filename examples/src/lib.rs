//! Runnable programs a newcomer starts from: see the binaries in `src/bin/`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod notes;
pub mod replay;
pub mod trace;
