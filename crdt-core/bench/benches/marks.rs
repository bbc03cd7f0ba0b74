//! Criterion benches of what rich-text events cost (the `Doc` alone; no peer has this API in
//! common): the trace with a mark every 100 edits typed with a commit per transaction, with and
//! without a subscriber (an editor's path: each commit describes its edits, inserted text with
//! its formatting), and its whole history imported into a fresh document in one batch, with and
//! without a subscriber. Checked first ([`crdt_core_bench::marks`]).
//! Run: `cargo bench -p crdt-core-bench --bench marks [-- --quick]`; pick traces with the
//! `BENCH_TRACES` variable (comma-separated; default automerge-paper).

use std::time::Duration;

use crdt_core_bench::marks::{type_trace, MarkedHistory};
use crdt_core_bench::Workload;
use criterion::{criterion_group, criterion_main, Criterion};

fn marks(c: &mut Criterion) {
    let names = std::env::var("BENCH_TRACES").unwrap_or_else(|_| "automerge-paper".to_string());
    for name in names.split(',').filter(|n| !n.is_empty()) {
        let w = Workload::bundled(name).unwrap_or_else(|e| panic!("{e}"));
        let history = MarkedHistory::of(&w);
        history.check(&w).unwrap_or_else(|e| panic!("{name}: {e}"));
        println!("{name}: {} edits, {} marks", w.len(), history.marks);

        let mut g = c.benchmark_group(format!("{name}/marks_import_one_batch"));
        g.bench_function("no listener", |b| b.iter(|| history.import(false)));
        g.bench_function("listener", |b| b.iter(|| history.import(true)));
        g.finish();

        let mut g = c.benchmark_group(format!("{name}/marks_typing_commit_per_txn"));
        g.bench_function("no listener", |b| b.iter(|| type_trace(&w, false)));
        g.bench_function("listener", |b| b.iter(|| type_trace(&w, true)));
        g.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = marks
}
criterion_main!(benches);
