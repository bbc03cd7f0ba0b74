//! Criterion benches of reading history (issue #14) on automerge-paper, in one process: our
//! `Doc::view_at` of the midpoint version (plus reading its text) beside Loro's `checkout` of the
//! same point (plus reading its text; returning to the latest version is not timed) and Loro's
//! `fork_at`; our `Doc::diff` over the last 1,000 changes beside Loro's `diff`. Both are checked
//! against the trace before anything is timed ([`crdt_core_bench::history`]).
//! Run: `cargo bench -p crdt-core-bench --features peers --bench history [-- --quick]`.

use std::time::Duration;
#[cfg(feature = "peers")]
use std::time::Instant;

use crdt_core_bench::history::OurHistory;
use crdt_core_bench::Workload;
use criterion::{criterion_group, criterion_main, Criterion};

const TRACE: &str = "automerge-paper";

fn history(c: &mut Criterion) {
    let w = Workload::bundled(TRACE).unwrap_or_else(|e| panic!("{e}"));
    let ours = OurHistory::replay(&w);
    ours.check(&w).unwrap_or_else(|e| panic!("Doc: {e}"));
    #[cfg(feature = "peers")]
    let loro = {
        let loro = crdt_core_bench::history::LoroHistory::replay(&w);
        loro.check(&w).unwrap_or_else(|e| panic!("loro: {e}"));
        loro
    };

    let mut g = c.benchmark_group(format!("{TRACE}/view_at_midpoint"));
    g.bench_function("Doc view_at", |b| b.iter(|| ours.view_mid()));
    #[cfg(feature = "peers")]
    {
        g.bench_function("loro checkout", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    loro.doc.checkout_to_latest();
                    let start = Instant::now();
                    std::hint::black_box(loro.checkout_mid());
                    total += start.elapsed();
                }
                loro.doc.checkout_to_latest();
                total
            })
        });
        g.bench_function("loro fork_at", |b| b.iter(|| loro.fork_mid()));
    }
    g.finish();

    let mut g = c.benchmark_group(format!("{TRACE}/diff_last_1000"));
    g.bench_function("Doc diff", |b| b.iter(|| ours.diff_last()));
    #[cfg(feature = "peers")]
    g.bench_function("loro diff", |b| b.iter(|| loro.diff_last()));
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = history
}
criterion_main!(benches);
