//! # lcb-core
//!
//! The domain of lcb, independent of any model or sandbox:
//!
//! * [`problem`]: programming problems (LiveCodeBench's code generation, code execution and
//!   test output prediction rows, HumanEval) and their tests;
//! * [`scenario`]: LiveCodeBench's four scenarios and which problems each runs on;
//! * [`dataset`]: loading problems from `.jsonl` / `.jsonl.gz` files or the Hugging Face hub,
//!   with LiveCodeBench's release versions, date windows and ordering;
//! * [`prompt`] and [`extract`]: LiveCodeBench's prompts and extraction rules, per scenario;
//! * [`samples`]: files of model outputs to grade, and [`grading`]: grading them as
//!   `lcb eval` does, with the results file and the pass@k and verdict summary;
//! * [`generator`]: the [`Generator`](generator::Generator) seam that model engines implement;
//! * [`verdict`] and [`evaluator`]: the [`Evaluator`](evaluator::Evaluator) seam that graders
//!   implement;
//! * [`sweep`]: the temperature sweep and its results tree;
//! * [`passk`]: the unbiased pass@k estimator;
//! * [`report`]: reading a results tree into pass rates, intervals, pass@k and comparisons;
//! * [`bench`]: benchmark statistics (percentiles, A/B comparisons) and energy windows;
//! * [`atomic_file`]: crash-safe result writes.
//!
//! Everything that touches a model or runs untrusted code lives in other crates
//! (`lcb-engine`, `lcb-eval`) behind the traits defined here.

pub mod atomic_file;
pub mod bench;
pub mod dataset;
mod error;
pub mod evaluator;
pub mod extract;
pub mod generator;
pub mod grading;
pub mod hub;
#[cfg(any(test, feature = "hub-mock"))]
pub mod hub_mock;
pub(crate) mod jsonl;
pub mod passk;
pub mod problem;
pub mod prompt;
pub mod report;
pub mod samples;
pub mod scenario;
pub mod sweep;
pub mod verdict;

pub use error::{Error, Result};
// The seams and what crosses them, at the root: what an embedder implements or calls.
pub use evaluator::{EvalError, Evaluator, GradeRequest};
pub use generator::{
    Completion, FinishReason, GenError, GenerationRequest, Generator, Prompt, SampleGroup,
    SamplingParams,
};
pub use problem::Problem;
pub use verdict::{Grade, Verdict};
