//! The committed inputs of a fuzz target (`fuzz/corpus/<target>/`, `fuzz/crashers/<target>/`), as
//! the regression replay tests read them (`crdt-core/tests/fuzz_regressions.rs` and
//! `sync-server/tests/relay_frame_regressions.rs` include this file by path).

use std::path::{Path, PathBuf};

/// The files of `dir` (none when it does not exist), sorted for a stable order.
pub fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}
