//! Replays every committed fuzz input through the same invariant checks the fuzz targets run
//! (`crdt_core::fuzzing`): the seed corpus (`fuzz/corpus/<target>/`), every input that once
//! crashed or broke an invariant (`fuzz/crashers/<target>/`), and the in-memory seeds. Runs under
//! the fuzz targets' capped allocator, so an input that makes a decoder trust a claimed length
//! aborts here as it did under the fuzzer.
//!
//! To refresh the committed seed corpus from `Target::seeds`:
//! `FUZZ_WRITE_CORPUS=1 cargo test -p crdt-core --test fuzz_regressions`.

#[path = "../../fuzz/src/committed_inputs.rs"]
mod committed_inputs;

use committed_inputs::inputs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use crdt_core::fuzzing::Target;

#[path = "../../fuzz/src/capped_alloc.rs"]
mod capped_alloc;

#[global_allocator]
static ALLOC: capped_alloc::CappedAllocator = capped_alloc::CappedAllocator::new();

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// Every corpus and crasher input and every in-memory seed passes its target's checks; failures
/// are collected and reported together, each with its file.
#[test]
fn every_fuzz_input_ever_found_passes_its_checks() {
    if std::env::var_os("FUZZ_WRITE_CORPUS").is_some() {
        write_corpus();
    }
    let mut failures = Vec::new();
    let mut refused_seeds = Vec::new();
    let mut replayed = 0;
    for target in Target::ALL {
        ALLOC.reset_peak();
        let live = ALLOC.live();
        for kind in ["corpus", "crashers"] {
            for file in inputs(&fuzz_dir().join(kind).join(target.name())) {
                let bytes = std::fs::read(&file).expect("a committed input is readable");
                ALLOC.begin_input(bytes.len());
                if catch_unwind(AssertUnwindSafe(|| target.run(&bytes))).is_err() {
                    failures.push(file.display().to_string());
                }
                // A seed in an old format would only exercise the refusal path.
                let is_seed = file
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("seed-"));
                if kind == "corpus" && is_seed && !target.accepts(&bytes) {
                    refused_seeds.push(file.display().to_string());
                }
                replayed += 1;
            }
        }
        for (i, seed) in target.seeds().iter().enumerate() {
            ALLOC.begin_input(seed.len());
            if catch_unwind(AssertUnwindSafe(|| target.run(seed))).is_err() {
                failures.push(format!("{} seed {i}", target.name()));
            }
            if !target.accepts(seed) {
                refused_seeds.push(format!("{} seed {i}", target.name()));
            }
        }
        println!(
            "{}: peak {} KiB above the {} KiB live before",
            target.name(),
            ALLOC.peak().saturating_sub(live) >> 10,
            live >> 10
        );
    }
    assert!(failures.is_empty(), "inputs that fail: {failures:#?}");
    assert!(
        refused_seeds.is_empty(),
        "seeds the entry point refuses (an old format? FUZZ_WRITE_CORPUS=1 rewrites them): \
         {refused_seeds:#?}"
    );
    let corpus = inputs(&fuzz_dir().join("corpus").join("doc_load"));
    assert!(
        !corpus.is_empty(),
        "the seed corpus is missing (FUZZ_WRITE_CORPUS=1 writes it)"
    );
    assert!(replayed >= Target::ALL.len(), "replayed {replayed} files");
}

/// Writes `Target::seeds` as `fuzz/corpus/<target>/seed-<i>`.
fn write_corpus() {
    for target in Target::ALL {
        let dir = fuzz_dir().join("corpus").join(target.name());
        std::fs::create_dir_all(&dir).expect("the corpus directory can be made");
        for (i, seed) in target.seeds().iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i}")), seed).expect("a corpus file is written");
        }
    }
}
