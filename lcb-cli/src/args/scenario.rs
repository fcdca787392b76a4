//! Which LiveCodeBench scenario a command runs: `--scenario` and `--cot` (`lcb eval`,
//! `lcb sweep`).

use anyhow::{bail, Result};
use lcb_core::dataset::ProblemSet;
use lcb_core::scenario::Scenario;

/// The scenario flags.
#[derive(clap::Args)]
pub struct ScenarioFlags {
    /// LiveCodeBench scenario: `codegeneration` (code_generation_lite or HumanEval rows),
    /// `testoutputprediction` (livecodebench/test_generation rows), `codeexecution`
    /// (livecodebench/execution-v2 rows), `selfrepair` (a second turn of code generation).
    #[arg(long, value_enum, default_value = "codegeneration")]
    pub scenario: ScenarioArg,
    /// Code execution with chain of thought: lcb_runner's `--cot_code_execution` prompt
    /// and its `[ANSWER]` extraction.
    #[arg(long)]
    pub cot: bool,
}

/// `--scenario` values (lcb_runner's names).
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScenarioArg {
    /// Write a program from the statement.
    Codegeneration,
    /// Fix a failed program given the grader's feedback.
    Selfrepair,
    /// Complete a test's assertion with its expected output.
    Testoutputprediction,
    /// Predict what a function returns.
    Codeexecution,
}

impl ScenarioFlags {
    /// The scenario asked for.
    pub fn scenario(&self) -> Scenario {
        match self.scenario {
            ScenarioArg::Codegeneration => Scenario::CodeGeneration,
            ScenarioArg::Selfrepair => Scenario::SelfRepair,
            ScenarioArg::Testoutputprediction => Scenario::TestOutputPrediction,
            ScenarioArg::Codeexecution => Scenario::CodeExecution,
        }
    }

    /// Refuses `--cot` outside code execution and a problem set of another scenario.
    pub fn check(&self, problems: &ProblemSet, source: &str) -> Result<()> {
        let scenario = self.scenario();
        if self.cot && scenario != Scenario::CodeExecution {
            bail!("--cot selects code execution's chain-of-thought prompt; it needs --scenario codeexecution");
        }
        if let Some(message) = problems.problems().iter().find_map(|p| scenario.check(p)) {
            bail!("{source}: {message}");
        }
        Ok(())
    }
}
