//! LiveCodeBench's four scenarios (lcb_runner's `--scenario`) and which problems each runs on.
//!
//! The problem family decides almost everything (prompt, extraction, grading); the scenario
//! names what the user asked for, so a mismatched problem file is refused up front, and picks
//! how samples files name their problems.

use serde::{Deserialize, Serialize};

use crate::problem::Problem;

/// One of lcb_runner's scenarios, named by its `Scenario` enum's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// Write a program from the statement (`code_generation_lite` rows; HumanEval too).
    #[default]
    CodeGeneration,
    /// Fix a failed program, given the grader's feedback (a second turn of code generation).
    SelfRepair,
    /// Complete a test's assertion with its expected output (`test_generation` rows).
    TestOutputPrediction,
    /// Predict what a function returns for an input (`execution-v2` rows).
    CodeExecution,
}

impl Scenario {
    /// lcb_runner's name: `codegeneration`, `selfrepair`, `testoutputprediction`,
    /// `codeexecution`.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::CodeGeneration => "codegeneration",
            Scenario::SelfRepair => "selfrepair",
            Scenario::TestOutputPrediction => "testoutputprediction",
            Scenario::CodeExecution => "codeexecution",
        }
    }

    /// The scenario a generated problem belongs to (HumanEval is generated as code).
    pub fn of(problem: &Problem) -> Scenario {
        match problem {
            Problem::Lcb(_) | Problem::HumanEval(_) => Scenario::CodeGeneration,
            Problem::Execution(_) => Scenario::CodeExecution,
            Problem::TestOutput(_) => Scenario::TestOutputPrediction,
        }
    }

    /// Whether this is code generation (the default, left out of result files).
    pub fn is_code_generation(&self) -> bool {
        *self == Scenario::CodeGeneration
    }

    /// Whether `problem` belongs to this scenario.
    pub fn accepts(self, problem: &Problem) -> bool {
        matches!(
            (self, problem),
            (
                Scenario::CodeGeneration,
                Problem::Lcb(_) | Problem::HumanEval(_)
            ) | (Scenario::SelfRepair, Problem::Lcb(_))
                | (Scenario::TestOutputPrediction, Problem::TestOutput(_))
                | (Scenario::CodeExecution, Problem::Execution(_))
        )
    }

    /// The dataset this scenario's problems come from, for messages.
    pub fn dataset(self) -> &'static str {
        match self {
            Scenario::CodeGeneration => {
                "livecodebench/code_generation_lite rows (or HumanEval rows)"
            }
            Scenario::SelfRepair => "livecodebench/code_generation_lite rows",
            Scenario::TestOutputPrediction => "livecodebench/test_generation rows",
            Scenario::CodeExecution => "livecodebench/execution-v2 rows",
        }
    }

    /// An error message if `problem` is not one of this scenario's, else `None`.
    pub fn check(self, problem: &Problem) -> Option<String> {
        (!self.accepts(problem)).then(|| {
            format!(
                "--scenario {} runs on {}, but `{}` is a {} problem",
                self.name(),
                self.dataset(),
                problem.id(),
                problem.family()
            )
        })
    }
}

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
