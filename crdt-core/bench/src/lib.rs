//! Side-by-side measurement of crdt-core's `Doc` (the product, [`doc`]), its `Text` engine
//! ([`ours`], reported as the engine only) and their peers on real editing traces.
//!
//! Every implementation is driven through one trait, [`TextCrdt`], on the same [`Workload`] (a
//! sequential trace of the `editing-traces` collection, as position-based edits grouped by the
//! trace's transactions: an editor commits once per transaction, and so does every implementation
//! that has commits), in the same process, so the figures can be reported as ratios to
//! diamond-types and to our `Doc`. The peers (diamond-types, Yrs, Loro, Automerge) are optional
//! dependencies behind the `peers` feature; without it only our code is built, which keeps
//! `cargo test --workspace` fast.
//!
//! Invariant: a figure is only reported for an implementation whose replayed, merged and loaded
//! documents all equal the trace's `endContent` ([`verify`]): a bench of a wrong result is worthless.
//! This follows the methodology of the diamond-types and Automerge edit-trace benchmarks
//! (Gentle & Kleppmann, "Collaborative text editing with Eg-walker", 2024).

pub mod alloc_counter;
pub mod doc;
pub mod history;
pub mod implementation;
pub mod marks;
pub mod measure;
pub mod ours;

#[cfg(feature = "peers")]
pub mod peers;
pub mod report;
pub mod workload;

pub use implementation::{verify, Sizes, TextCrdt, VerifyError};
pub use workload::{Edit, Workload, WorkloadError};
