//! Helpers shared by lcb-eval's integration tests.
#![allow(dead_code)]

use lcb_core::problem::{HumanEvalProblem, LcbProblem, Problem, TestCase, TestType};
use std::path::Path;

use lcb_eval::{SandboxConfig, SandboxEvaluator};

/// A stdin problem with the given (input, output) tests.
pub fn stdin_problem(id: &str, tests: &[(&str, &str)]) -> Problem {
    lcb(id, tests, TestType::Stdin, None)
}

/// A functional problem calling `Solution().<func>(*args)`.
pub fn functional_problem(id: &str, func: &str, tests: &[(&str, &str)]) -> Problem {
    lcb(id, tests, TestType::Functional, Some(func))
}

fn lcb(id: &str, tests: &[(&str, &str)], t: TestType, func: Option<&str>) -> Problem {
    let tests: Vec<TestCase> = tests
        .iter()
        .map(|(i, o)| TestCase {
            input: (*i).into(),
            output: (*o).into(),
            testtype: t,
        })
        .collect();
    Problem::Lcb(LcbProblem {
        question_title: id.into(),
        question_content: String::new(),
        platform: "atcoder".into(),
        question_id: id.into(),
        contest_id: "c".into(),
        contest_date: "2024-01-01T00:00:00".into(),
        starter_code: String::new(),
        difficulty: "easy".into(),
        public_tests: tests[..1].to_vec(),
        private_tests: tests[1..].to_vec(),
        func_name: func.map(Into::into),
        metadata: serde_json::json!({}),
    })
}

/// A HumanEval problem.
pub fn humaneval_problem(id: &str, prompt: &str, test: &str, entry: &str) -> Problem {
    Problem::HumanEval(HumanEvalProblem {
        task_id: id.into(),
        prompt: prompt.into(),
        canonical_solution: String::new(),
        test: test.into(),
        entry_point: entry.into(),
    })
}

/// A pool with short time limits so tests stay fast.
pub fn pool(workers: usize, timeout: f64) -> SandboxEvaluator {
    SandboxEvaluator::new(SandboxConfig {
        workers,
        timeout: Some(timeout),
        ..Default::default()
    })
    .expect("sandbox pool starts")
}

/// Processes whose environment mentions the pool's scratch root: its workers and anything
/// their children left behind.
pub fn sandbox_processes(root: &Path) -> Vec<u32> {
    let needle = root.to_string_lossy().into_owned().into_bytes();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.windows(needle.len()).any(|w| w == needle.as_slice()))
                .unwrap_or(false)
        })
        .collect()
}
