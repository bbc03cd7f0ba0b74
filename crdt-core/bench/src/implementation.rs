//! The interface every benchmarked text CRDT implements, and the correctness check run before any
//! figure is taken.
//!
//! Invariant: for every implementation, `replay`, `replay_one_commit`,
//! `merge_into_empty(encode_changes())` and `load(encode())` all produce a document whose
//! `content()` is the trace's end content; [`verify`] checks exactly this.

use crate::workload::Workload;

/// A text CRDT as the benchmarks drive it: one replica replaying a trace, then moving its whole
/// history through bytes into a fresh replica.
pub trait TextCrdt: Sized {
    /// Name shown in reports, e.g. `"yrs"`.
    const NAME: &'static str;

    /// Whether the implementation groups edits into commits (transactions). Without them, a
    /// replay with a commit per transaction and one with a single commit are the same thing, and
    /// the second is not reported.
    const COMMITS: bool;

    /// Builds a document by applying every edit of `workload` locally, in order, from empty, with
    /// a commit after each of the trace's transactions (what an editor does) where the
    /// implementation has commits.
    fn replay(workload: &Workload) -> Self;

    /// The same edits as [`TextCrdt::replay`], committed once at the end.
    fn replay_one_commit(workload: &Workload) -> Self {
        Self::replay(workload)
    }

    /// The visible text.
    fn content(&mut self) -> String;

    /// The saved document in the implementation's storage format (what [`TextCrdt::load`] reads).
    fn encode(&mut self) -> Vec<u8>;

    /// The whole history in the implementation's sync format (what [`TextCrdt::merge_into_empty`]
    /// reads). Defaults to [`TextCrdt::encode`] where the two formats are one.
    fn encode_changes(&mut self) -> Vec<u8> {
        self.encode()
    }

    /// Merges `bytes` (from [`TextCrdt::encode_changes`]) into a new, empty replica through the
    /// path a replica uses to receive remote changes.
    fn merge_into_empty(bytes: &[u8]) -> Result<Self, String>;

    /// Opens a document saved by [`TextCrdt::encode`] through the fastest loading path (reading
    /// its text is timed with it, by [`crate::measure`]).
    fn load(bytes: &[u8]) -> Result<Self, String>;
}

/// Encoded sizes of one implementation's full history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// Bytes of [`TextCrdt::encode`].
    pub encoded: usize,
    /// Bytes of [`TextCrdt::encode_changes`].
    pub changes: usize,
}

/// An implementation produced a document that differs from the trace's end content.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A document's content is not the expected one.
    #[error("{implementation} {stage} on {trace}: content differs from endContent ({got} chars, expected {expected})")]
    WrongContent {
        /// The implementation.
        implementation: &'static str,
        /// `"replay"`, `"replay (one commit)"`, `"merge"` or `"load"`.
        stage: &'static str,
        /// The trace.
        trace: String,
        /// Characters obtained.
        got: usize,
        /// Characters expected.
        expected: usize,
    },
    /// Merging or loading the encoded history failed.
    #[error("{implementation} {stage} on {trace} failed: {message}")]
    Failed {
        /// The implementation.
        implementation: &'static str,
        /// `"merge"` or `"load"`.
        stage: &'static str,
        /// The trace.
        trace: String,
        /// The implementation's error.
        message: String,
    },
}

/// Checks that `T` replays, merges and loads `workload` to its end content; returns the sizes of
/// its encodings.
pub fn verify<T: TextCrdt>(workload: &Workload) -> Result<Sizes, VerifyError> {
    let check = |stage: &'static str, doc: &mut T| {
        let got = doc.content();
        if got == workload.end_content {
            Ok(())
        } else {
            Err(VerifyError::WrongContent {
                implementation: T::NAME,
                stage,
                trace: workload.name.clone(),
                got: got.chars().count(),
                expected: workload.end_content.chars().count(),
            })
        }
    };
    let failed = |stage: &'static str| {
        move |message: String| VerifyError::Failed {
            implementation: T::NAME,
            stage,
            trace: workload.name.clone(),
            message,
        }
    };
    let mut doc = T::replay(workload);
    check("replay", &mut doc)?;
    if T::COMMITS {
        check("replay (one commit)", &mut T::replay_one_commit(workload))?;
    }
    let encoded = doc.encode();
    let changes = doc.encode_changes();
    check(
        "merge",
        &mut T::merge_into_empty(&changes).map_err(failed("merge"))?,
    )?;
    check("load", &mut T::load(&encoded).map_err(failed("load"))?)?;
    Ok(Sizes {
        encoded: encoded.len(),
        changes: changes.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Edit;

    /// A deliberately wrong "CRDT" (ignores deletions) over a plain string, to show that
    /// [`verify`] rejects wrong results.
    struct IgnoresDeletes(String);

    impl TextCrdt for IgnoresDeletes {
        const NAME: &'static str = "ignores-deletes";
        const COMMITS: bool = false;
        fn replay(workload: &Workload) -> Self {
            let mut s: Vec<char> = Vec::new();
            for e in &workload.edits {
                let at = e.pos.min(s.len());
                s.splice(at..at, e.insert.chars());
            }
            IgnoresDeletes(s.into_iter().collect())
        }
        fn content(&mut self) -> String {
            self.0.clone()
        }
        fn encode(&mut self) -> Vec<u8> {
            self.0.as_bytes().to_vec()
        }
        fn merge_into_empty(bytes: &[u8]) -> Result<Self, String> {
            String::from_utf8(bytes.to_vec())
                .map(IgnoresDeletes)
                .map_err(|e| e.to_string())
        }
        fn load(bytes: &[u8]) -> Result<Self, String> {
            Self::merge_into_empty(bytes)
        }
    }

    fn workload(edits: Vec<Edit>) -> Workload {
        Workload {
            name: "t".into(),
            end_content: crate::workload::replay_reference(&edits),
            utf16_edits: edits.clone(),
            // One transaction of every edit.
            txns: std::iter::once(0..edits.len()).collect(),
            edits,
        }
    }

    #[test]
    fn verify_accepts_a_correct_result_and_reports_sizes() {
        let w = workload(vec![Edit {
            pos: 0,
            delete: 0,
            insert: "héllo".into(),
        }]);
        let sizes = verify::<IgnoresDeletes>(&w).unwrap();
        assert_eq!(
            sizes,
            Sizes {
                encoded: 6,
                changes: 6
            }
        );
    }

    #[test]
    fn verify_rejects_a_wrong_result() {
        let w = workload(vec![
            Edit {
                pos: 0,
                delete: 0,
                insert: "hello".into(),
            },
            Edit {
                pos: 1,
                delete: 3,
                insert: String::new(),
            },
        ]);
        match verify::<IgnoresDeletes>(&w) {
            Err(VerifyError::WrongContent {
                stage,
                got,
                expected,
                ..
            }) => {
                assert_eq!((stage, got, expected), ("replay", 5, 2));
            }
            other => panic!("expected WrongContent, got {other:?}"),
        }
    }
}
