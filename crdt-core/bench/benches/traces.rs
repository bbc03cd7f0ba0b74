//! Criterion benches: every implementation on the same editing traces, in the same process.
//!
//! Per trace and implementation (our `Doc` first, then our `Text` engine, then the peers):
//! (1) local replay of all edits with a commit per trace transaction, (2) merging the whole
//! encoded history into an empty replica, (3) saving the document, (4) opening the saved document
//! and reading its text. Before timing, each implementation is verified against the trace's end
//! content and its memory (heap bytes retained by the replayed document, via the counting
//! allocator) and encoded sizes are printed.
//! Run: `cargo bench -p crdt-core-bench --features peers [-- --quick]`; pick traces with the
//! `BENCH_TRACES` variable (comma-separated; default automerge-paper,seph-blog1,sveltecomponent).

use std::time::Duration;

use crdt_core_bench::alloc_counter::{measure_retained, CountingAllocator};
use crdt_core_bench::report::format_bytes;
use crdt_core_bench::{verify, TextCrdt, Workload};
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Calls `$f::<T>($($arg),*)` for every implementation built in.
macro_rules! for_each_impl {
    ($f:ident ( $($arg:expr),* )) => {{
        $f::<crdt_core_bench::doc::OurDoc>($($arg),*);
        $f::<crdt_core_bench::ours::OurText>($($arg),*);
        #[cfg(feature = "peers")]
        {
            $f::<crdt_core_bench::peers::DiamondText>($($arg),*);
            $f::<crdt_core_bench::peers::YrsText>($($arg),*);
            $f::<crdt_core_bench::peers::LoroDocText>($($arg),*);
            $f::<crdt_core_bench::peers::AutomergeText>($($arg),*);
        }
    }};
}

/// Verifies `T` (panics on a wrong result: its figures would be worthless) and prints its sizes.
fn check_and_report<T: TextCrdt>(w: &Workload) {
    let sizes = verify::<T>(w).unwrap_or_else(|e| panic!("{e}"));
    let (doc, memory) = measure_retained(|| T::replay(w));
    drop(doc);
    eprintln!(
        "{}/{}: memory after replay {}, encoded {} (changes {})",
        w.name,
        T::NAME,
        format_bytes(memory),
        format_bytes(sizes.encoded as isize),
        format_bytes(sizes.changes as isize)
    );
}

fn replay<T: TextCrdt>(g: &mut BenchmarkGroup<WallTime>, w: &Workload) {
    g.bench_function(T::NAME, |b| b.iter_with_large_drop(|| T::replay(w)));
}

fn merge<T: TextCrdt>(g: &mut BenchmarkGroup<WallTime>, w: &Workload) {
    let bytes = T::replay(w).encode_changes();
    g.bench_function(T::NAME, |b| {
        b.iter_with_large_drop(|| T::merge_into_empty(&bytes).unwrap_or_else(|e| panic!("{e}")))
    });
}

fn encode<T: TextCrdt>(g: &mut BenchmarkGroup<WallTime>, w: &Workload) {
    let mut doc = T::replay(w);
    g.bench_function(T::NAME, |b| b.iter_with_large_drop(|| doc.encode()));
}

fn open<T: TextCrdt>(g: &mut BenchmarkGroup<WallTime>, w: &Workload) {
    let bytes = T::replay(w).encode();
    g.bench_function(T::NAME, |b| {
        b.iter_with_large_drop(|| {
            let mut doc = T::load(&bytes).unwrap_or_else(|e| panic!("{e}"));
            let text = doc.content();
            (doc, text)
        })
    });
}

fn traces(c: &mut Criterion) {
    let names = std::env::var("BENCH_TRACES")
        .unwrap_or_else(|_| "automerge-paper,seph-blog1,sveltecomponent".to_string());
    for name in names.split(',').filter(|n| !n.is_empty()) {
        let w = Workload::bundled(name).unwrap_or_else(|e| panic!("{e}"));
        for_each_impl!(check_and_report(&w));
        let mut g = c.benchmark_group(format!("{name}/replay"));
        for_each_impl!(replay(&mut g, &w));
        g.finish();
        let mut g = c.benchmark_group(format!("{name}/merge"));
        for_each_impl!(merge(&mut g, &w));
        g.finish();
        let mut g = c.benchmark_group(format!("{name}/save"));
        for_each_impl!(encode(&mut g, &w));
        g.finish();
        let mut g = c.benchmark_group(format!("{name}/open"));
        for_each_impl!(open(&mut g, &w));
        g.finish();
    }
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
    targets = traces
}
criterion_main!(benches);
