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
}

impl Verdict {
    /// All verdicts, in report order.
    pub const ALL: [Verdict; 6] = [
        Verdict::Passed,
        Verdict::WrongAnswer,
        Verdict::RuntimeError,
        Verdict::TimeLimitExceeded,
        Verdict::CompileError,
        Verdict::NoCode,
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
        }
    }

    /// Whether this verdict counts as a pass.
    pub fn passed(self) -> bool {
        self == Verdict::Passed
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
}

impl Grade {
    /// A grade without detail.
    pub fn new(verdict: Verdict) -> Self {
        Grade {
            verdict,
            detail: None,
        }
    }

    /// Whether the program passed.
    pub fn passed(&self) -> bool {
        self.verdict.passed()
    }
}
