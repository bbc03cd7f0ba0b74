//! Timing and memory measurement of one implementation on one workload, for the report binary.
//!
//! Invariant: only the operation itself is timed (inputs are built before, results dropped after
//! the clock stops); each figure is the median of up to `runs` runs, fewer when the runs of one
//! operation pass [`TIME_BUDGET`] (the slowest peers take seconds per run); the result of the
//! first run of each operation is checked against the trace's end content, and nothing is
//! reported for an implementation that gets it wrong.

use std::time::{Duration, Instant};

use crate::alloc_counter::{is_installed, measure_retained};
use crate::{Sizes, TextCrdt, VerifyError, Workload};

/// The timed operations, in report order.
pub const OPERATIONS: [&str; 5] = [
    "replay, commit per transaction",
    "replay, one commit",
    "open the saved document + read the text",
    "full history into an empty document",
    "save",
];

/// Once the runs of one operation have taken this long together, no further run is started.
pub const TIME_BUDGET: Duration = Duration::from_secs(12);

/// What was measured for one implementation on one workload.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// The implementation's name.
    pub name: &'static str,
    /// Median time of each of [`OPERATIONS`], in that order; `None` where the implementation
    /// has no such operation (one commit, for implementations without commits).
    pub times: [Option<Duration>; 5],
    /// Encoded sizes.
    pub sizes: Sizes,
    /// Heap bytes held by the document built by a replay with a commit per transaction (None
    /// without the counting allocator).
    pub memory_replayed: Option<isize>,
    /// Heap bytes held by the document opened from its saved form.
    pub memory_loaded: Option<isize>,
}

/// Runs `op` once and returns its result with the time it took.
fn timed<T>(op: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = op();
    (value, start.elapsed())
}

/// The median of `first` and further runs of `op`, up to `runs` in all or until [`TIME_BUDGET`]
/// is spent.
fn median_time<T>(runs: usize, first: Duration, mut op: impl FnMut() -> T) -> Duration {
    let mut times = vec![first];
    let mut spent = first;
    while times.len() < runs.max(1) && spent < TIME_BUDGET {
        let (value, elapsed) = timed(&mut op);
        drop(value);
        times.push(elapsed);
        spent += elapsed;
    }
    times.sort();
    times[times.len() / 2]
}

/// Checks documents of `T` against the workload's end content.
struct Checker<'a> {
    workload: &'a Workload,
    implementation: &'static str,
}

impl Checker<'_> {
    fn content(&self, stage: &'static str, got: &str) -> Result<(), VerifyError> {
        if got == self.workload.end_content {
            return Ok(());
        }
        Err(VerifyError::WrongContent {
            implementation: self.implementation,
            stage,
            trace: self.workload.name.clone(),
            got: got.chars().count(),
            expected: self.workload.end_content.chars().count(),
        })
    }

    fn failed(&self, stage: &'static str) -> impl Fn(String) -> VerifyError + '_ {
        move |message| VerifyError::Failed {
            implementation: self.implementation,
            stage,
            trace: self.workload.name.clone(),
            message,
        }
    }
}

/// Opens a saved document and reads its text: what "open" times.
fn open<T: TextCrdt>(bytes: &[u8]) -> Result<(T, String), String> {
    let mut doc = T::load(bytes)?;
    let text = doc.content();
    Ok((doc, text))
}

/// Heap bytes `build` leaves allocated, when the counting allocator is installed.
fn retained<T>(build: impl FnOnce() -> T) -> (T, Option<isize>) {
    let installed = is_installed();
    let (value, bytes) = measure_retained(build);
    (value, installed.then_some(bytes))
}

/// Measures each operation of `T` on `workload` (median of up to `runs` runs) and the memory of
/// its documents, checking every result.
pub fn measure<T: TextCrdt>(workload: &Workload, runs: usize) -> Result<Measurement, VerifyError> {
    let check = Checker {
        workload,
        implementation: T::NAME,
    };
    // The first replay is also the memory measurement: counting costs a thread-local add per
    // allocation, small against a replay and one sample of the median.
    let ((mut doc, memory_replayed), first) = timed(|| retained(|| T::replay(workload)));
    check.content("replay", &doc.content())?;
    let replay = median_time(runs, first, || T::replay(workload));

    let one_commit = if T::COMMITS {
        let (mut single, first) = timed(|| T::replay_one_commit(workload));
        check.content("replay (one commit)", &single.content())?;
        drop(single);
        Some(median_time(runs, first, || T::replay_one_commit(workload)))
    } else {
        None
    };

    let (encoded, first) = timed(|| doc.encode());
    let save = median_time(runs, first, || doc.encode());
    let changes = doc.encode_changes();
    drop(doc);

    let (opened, first) = timed(|| open::<T>(&encoded));
    check.content("load", &opened.map_err(check.failed("load"))?.1)?;
    let open_time = median_time(runs, first, || open::<T>(&encoded));
    let (loaded, memory_loaded) = retained(|| T::load(&encoded));
    drop(loaded);

    let (merged, first) = timed(|| T::merge_into_empty(&changes));
    check.content("merge", &merged.map_err(check.failed("merge"))?.content())?;
    let merge = median_time(runs, first, || T::merge_into_empty(&changes));

    Ok(Measurement {
        name: T::NAME,
        times: [
            Some(replay),
            one_commit,
            Some(open_time),
            Some(merge),
            Some(save),
        ],
        sizes: Sizes {
            encoded: encoded.len(),
            changes: changes.len(),
        },
        memory_replayed,
        memory_loaded,
    })
}

/// Measures every implementation built into this crate on `workload`: our `Doc` first (the
/// product), then our `Text` engine, then the peers when the `peers` feature is on.
pub fn measure_all(workload: &Workload, runs: usize) -> Result<Vec<Measurement>, VerifyError> {
    #[allow(unused_mut)]
    let mut results = vec![
        measure::<crate::doc::OurDoc>(workload, runs)?,
        measure::<crate::ours::OurText>(workload, runs)?,
    ];
    #[cfg(feature = "peers")]
    {
        use crate::peers::{AutomergeText, DiamondText, LoroDocText, YrsText};
        results.push(measure::<DiamondText>(workload, runs)?);
        results.push(measure::<YrsText>(workload, runs)?);
        results.push(measure::<LoroDocText>(workload, runs)?);
        results.push(measure::<AutomergeText>(workload, runs)?);
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_stops_at_the_run_count_and_takes_the_middle() {
        let mut calls = 0;
        let median = median_time(3, Duration::from_millis(5), || {
            calls += 1;
        });
        assert_eq!(calls, 2);
        assert!(median < Duration::from_millis(5));
    }

    #[test]
    fn median_of_a_slow_operation_is_its_single_run() {
        let mut calls = 0;
        let median = median_time(5, TIME_BUDGET, || calls += 1);
        assert_eq!((calls, median), (0, TIME_BUDGET));
    }

    #[test]
    fn measures_and_checks_our_doc_on_real_edits() {
        let w = Workload::bundled("sveltecomponent").unwrap().prefix(2_000);
        let m = measure::<crate::doc::OurDoc>(&w, 1).unwrap();
        assert!(m.times.iter().all(Option::is_some), "{m:?}");
        assert!(m.sizes.encoded > 0 && m.sizes.changes > 0);
        let m = measure::<crate::ours::OurText>(&w, 1).unwrap();
        assert!(m.times[1].is_none(), "the engine has no commits");
    }
}
