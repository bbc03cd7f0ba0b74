//! Replays every committed input of the `relay_frame` fuzz target (`fuzz/corpus/relay_frame/`,
//! `fuzz/crashers/relay_frame/`) and the in-memory seeds through the same checks the target runs
//! (`sync_server::relay::fuzzing`), so an input that once failed keeps being checked by
//! `cargo test`, with or without cargo-fuzz.
//!
//! To refresh the committed seed corpus: `FUZZ_WRITE_CORPUS=1 cargo test -p sync-server --test
//! relay_frame_regressions`.

#[path = "../../fuzz/src/committed_inputs.rs"]
mod committed_inputs;

use committed_inputs::inputs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use sync_server::relay::fuzzing::{check_relay_frames, seeds};

fn target_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz")
        .join(kind)
        .join("relay_frame")
}

#[test]
fn every_relay_frame_input_ever_found_passes_its_checks() {
    if std::env::var_os("FUZZ_WRITE_CORPUS").is_some() {
        let dir = target_dir("corpus");
        std::fs::create_dir_all(&dir).expect("the corpus directory can be made");
        for (i, seed) in seeds().iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), seed).expect("a corpus file is written");
        }
    }
    let mut failures = Vec::new();
    let files: Vec<PathBuf> = ["corpus", "crashers"]
        .iter()
        .flat_map(|kind| inputs(&target_dir(kind)))
        .collect();
    assert!(
        !files.is_empty(),
        "the relay_frame seed corpus is missing (FUZZ_WRITE_CORPUS=1 writes it)"
    );
    for file in &files {
        let bytes = std::fs::read(file).expect("a committed input is readable");
        if catch_unwind(AssertUnwindSafe(|| check_relay_frames(&bytes))).is_err() {
            failures.push(file.display().to_string());
        }
    }
    for (i, seed) in seeds().iter().enumerate() {
        if catch_unwind(AssertUnwindSafe(|| check_relay_frames(seed))).is_err() {
            failures.push(format!("seed {i}"));
        }
    }
    assert!(failures.is_empty(), "inputs that fail: {failures:#?}");
}
