//! The `Evaluator` seam: anything that grades programs for problems.
//!
//! lcb's own implementation is the sandboxed Python pool in `lcb-eval`; a user can plug in
//! their own (a remote grader, a different language) and reuse the sweep and reports.

use crate::problem::Problem;
use crate::verdict::Grade;

/// One program to grade.
#[derive(Debug, Clone, Copy)]
pub struct GradeRequest<'a> {
    /// The problem whose tests judge the program.
    pub problem: &'a Problem,
    /// For LiveCodeBench: the final code (already extracted from the model output).
    /// For HumanEval: the completion that continues the problem's prompt.
    pub code: &'a str,
}

/// Errors an evaluator can raise for a whole batch (not per-program verdicts).
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The grading backend could not run (e.g. Python missing, sandbox setup failed).
    #[error("grader unavailable: {0}")]
    Unavailable(String),
    /// The backend failed while grading.
    #[error("grader failed: {0}")]
    Failed(String),
}

/// Grades programs. Implementations are shared across threads: the sweep calls `grade` from
/// several threads at once, and each call may grade its batch in parallel.
pub trait Evaluator: Send + Sync {
    /// Grades every request, returning one grade per request in the same order.
    ///
    /// Per-program failures (wrong answers, crashes, timeouts, hostile behaviour) are verdicts,
    /// not errors; an `Err` means the grader itself could not work.
    fn grade(&self, requests: &[GradeRequest<'_>]) -> Result<Vec<Grade>, EvalError>;

    /// Grader settings worth recording with results (which grader, its workers, the Python
    /// it runs, …); a sweep writes it into `run_summary.json`.
    fn describe(&self) -> serde_json::Value;
}
