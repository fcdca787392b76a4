//! What grading says about one program.

use serde::{Deserialize, Serialize};

/// The outcome of grading one program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every test passed.
    Passed,
    /// A test produced the wrong output.
    WrongAnswer,
    /// The program raised or crashed during a test.
    RuntimeError,
    /// A test ran out of time (per-test or overall limit).
    TimeLimitExceeded,
    /// The program failed before any test ran: syntax error, failing import, missing entry point.
    CompileError,
    /// The model output held no code to run (no fenced block).
    NoCode,
    /// A code-execution prediction that contains the call it predicts: lcb_runner neither
    /// runs nor counts it (see [`counted`]).
    Skipped,
}

impl Verdict {
    /// All verdicts, in report order.
    pub const ALL: [Verdict; 7] = [
        Verdict::Passed,
        Verdict::WrongAnswer,
        Verdict::RuntimeError,
        Verdict::TimeLimitExceeded,
        Verdict::CompileError,
        Verdict::NoCode,
        Verdict::Skipped,
    ];

    /// The verdict's name in result files (`wrong_answer`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::WrongAnswer => "wrong_answer",
            Verdict::RuntimeError => "runtime_error",
            Verdict::TimeLimitExceeded => "time_limit_exceeded",
            Verdict::CompileError => "compile_error",
            Verdict::NoCode => "no_code",
            Verdict::Skipped => "skipped",
        }
    }

    /// Whether this verdict counts as a pass.
    pub fn passed(self) -> bool {
        self == Verdict::Passed
    }
}

/// `(n, passed)` as lcb_runner counts a problem's samples for pass@k: skipped predictions
/// are left out of `n`, unless every one is skipped, when all count as failures
/// (`compute_code_execution_metrics.evaluate_score`). Without skipped samples it is simply
/// (samples, passes).
pub fn counted(verdicts: impl IntoIterator<Item = Verdict>) -> (u64, u64) {
    let (mut total, mut skipped, mut passed) = (0, 0, 0);
    for verdict in verdicts {
        total += 1;
        skipped += u64::from(verdict == Verdict::Skipped);
        passed += u64::from(verdict.passed());
    }
    if skipped == total {
        (total, 0)
    } else {
        (total - skipped, passed)
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A verdict with an optional human-readable detail (the error or the first mismatch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grade {
    /// The verdict.
    pub verdict: Verdict,
    /// What went wrong, if anything, e.g. `Wrong answer at output_line_idx=0: 3 != 4`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The grader's metadata for a failed LiveCodeBench program, as lcb_runner records it
    /// (`error_code`, `inputs`, `output`, `expected`, `error`…): what self-repair tells the
    /// model. `None` from graders that have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

impl Grade {
    /// A grade without detail.
    pub fn new(verdict: Verdict) -> Self {
        Grade {
            metadata: None,
            verdict,
            detail: None,
        }
    }

    /// Whether the program passed.
    pub fn passed(&self) -> bool {
        self.verdict.passed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_samples_leave_the_count_unless_all_are() {
        use Verdict::*;
        assert_eq!(counted([Passed, Skipped, WrongAnswer]), (2, 1));
        assert_eq!(counted([Skipped, Skipped]), (2, 0));
        assert_eq!(counted([Passed, NoCode]), (2, 1));
        assert_eq!(counted([]), (0, 0));
    }
}
