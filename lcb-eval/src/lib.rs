//! # lcb-eval
//!
//! Runs untrusted Python programs and grades them exactly as LiveCodeBench's `lcb_runner`
//! and OpenAI's human-eval do, fast and safely:
//!
//! * [`pool`]: [`SandboxEvaluator`], the [`Evaluator`](lcb_core::evaluator::Evaluator)
//!   implementation: a pool of pre-started workers, all cores busy, duplicates graded once;
//! * `worker`: one worker process and its protocol;
//! * [`sandbox`]: namespaces, Landlock, rlimits and seccomp around the workers;
//! * `classify`: from LCB result codes and human-eval statuses to verdicts;
//! * [`python`]: finding the interpreter;
//! * [`environment`]: what the interpreter offers graded programs compared with
//!   LiveCodeBench's environment, and the managed environment `lcb setup` makes.
//!
//! The Python side runs inside the sandbox: `python/worker.py` is a worker's judge (it holds
//! the tests and compares), `python/zygote.py` forks the grading children, which never hold a
//! test's expected output, and `python/candidate.py` runs a program on the inputs it is
//! handed. The grading semantics themselves (program construction, input feeding, output
//! comparison) live in `python/lcb_grader.py`.

pub(crate) mod classify;
pub mod environment;
pub mod pool;
pub mod python;
pub mod sandbox;
pub(crate) mod worker;

pub use environment::GradingEnvironment;
pub use pool::{SandboxConfig, SandboxEvaluator, Timer};
