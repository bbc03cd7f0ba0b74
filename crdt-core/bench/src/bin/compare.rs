//! Prints a Markdown table per trace comparing our `Doc` (and, labelled, its `Text` engine) with
//! the peers on the bundled traces.
//!
//! Usage: `cargo run --release -p crdt-core-bench --features peers --bin compare -- [--runs N] [TRACE...]`
//! (default: 5 runs, traces automerge-paper, seph-blog1, sveltecomponent).

use crdt_core_bench::alloc_counter::CountingAllocator;
use crdt_core_bench::measure::{measure_all, TIME_BUDGET};
use crdt_core_bench::report::markdown_table;
use crdt_core_bench::Workload;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const DEFAULT_TRACES: [&str; 3] = ["automerge-paper", "seph-blog1", "sveltecomponent"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut runs = 5;
    let mut traces = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--runs" {
            runs = args.next().ok_or("--runs needs a number")?.parse()?;
        } else {
            traces.push(arg);
        }
    }
    if traces.is_empty() {
        traces = DEFAULT_TRACES.iter().map(|s| s.to_string()).collect();
    }
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; measure with --release");
    }
    println!(
        "Median of up to {runs} runs per figure (fewer once an operation's runs pass {} s); \
         ratios: × dt = / diamond-types, × Doc = / our Doc.\n",
        TIME_BUDGET.as_secs()
    );
    for name in &traces {
        let workload = Workload::bundled(name)?;
        let results = measure_all(&workload, runs)?;
        let table = markdown_table(name, workload.len(), workload.txns.len(), &results);
        println!("{table}");
    }
    Ok(())
}
