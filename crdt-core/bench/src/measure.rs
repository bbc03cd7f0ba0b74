//! Timing and memory measurement of one implementation on one workload, for the report binary.
//!
//! Invariant: only the operation itself is timed (inputs are built before, results dropped after
//! the clock stops), each figure is the median of several runs, and nothing is measured for an
//! implementation that fails [`verify`].

use std::time::{Duration, Instant};

use crate::alloc_counter::{is_installed, measure_retained};
use crate::{verify, Sizes, TextCrdt, VerifyError, Workload};

/// The operations measured, in report order.
pub const OPERATIONS: [&str; 4] = [
    "local replay",
    "merge into empty",
    "encode",
    "decode / load",
];

/// What was measured for one implementation on one workload.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// The implementation's name.
    pub name: &'static str,
    /// Median time of each of [`OPERATIONS`], in that order.
    pub times: [Duration; 4],
    /// Encoded sizes.
    pub sizes: Sizes,
    /// Heap bytes held by the document built by local replay (None without the counting allocator).
    pub memory_replayed: Option<isize>,
    /// Heap bytes held by the document loaded from its encoding.
    pub memory_loaded: Option<isize>,
}

fn median_time<T>(runs: usize, mut op: impl FnMut() -> T) -> Duration {
    let mut times: Vec<Duration> = (0..runs.max(1))
        .map(|_| {
            let start = Instant::now();
            let value = op();
            let elapsed = start.elapsed();
            drop(value);
            elapsed
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// Verifies `T` on `workload`, then measures each operation `runs` times (median) and the memory
/// of the final document.
pub fn measure<T: TextCrdt>(workload: &Workload, runs: usize) -> Result<Measurement, VerifyError> {
    let sizes = verify::<T>(workload)?;
    let mut doc = T::replay(workload);
    let encoded = doc.encode();
    let changes = doc.encode_changes();
    let failed = |stage: &'static str| {
        move |message: String| VerifyError::Failed {
            implementation: T::NAME,
            stage,
            trace: workload.name.clone(),
            message,
        }
    };
    // Verified above; a failure here would mean nondeterminism, reported rather than unwrapped.
    T::merge_into_empty(&changes).map_err(failed("merge"))?;
    T::load(&encoded).map_err(failed("load"))?;

    let replay = median_time(runs, || T::replay(workload));
    let merge = median_time(runs, || T::merge_into_empty(&changes));
    let encode = median_time(runs, || doc.encode());
    let load = median_time(runs, || T::load(&encoded));

    let (memory_replayed, memory_loaded) = if is_installed() {
        let (replayed, replayed_bytes) = measure_retained(|| T::replay(workload));
        drop(replayed);
        let (loaded, loaded_bytes) = measure_retained(|| T::load(&encoded));
        drop(loaded);
        (Some(replayed_bytes), Some(loaded_bytes))
    } else {
        (None, None)
    };
    Ok(Measurement {
        name: T::NAME,
        times: [replay, merge, encode, load],
        sizes,
        memory_replayed,
        memory_loaded,
    })
}

/// Measures every implementation built into this crate on `workload`, ours first (the baseline),
/// then the peers when the `peers` feature is on.
pub fn measure_all(workload: &Workload, runs: usize) -> Result<Vec<Measurement>, VerifyError> {
    #[allow(unused_mut)]
    let mut results = vec![measure::<crate::ours::OurText>(workload, runs)?];
    #[cfg(feature = "peers")]
    {
        use crate::peers::{AutomergeText, DiamondText, YrsText};
        results.push(measure::<AutomergeText>(workload, runs)?);
        results.push(measure::<YrsText>(workload, runs)?);
        results.push(measure::<DiamondText>(workload, runs)?);
    }
    Ok(results)
}
