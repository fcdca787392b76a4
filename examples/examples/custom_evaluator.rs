//! A custom `Evaluator`: grade LiveCodeBench samples with your own rule while reusing lcb's
//! loaders, extraction and pass@k. This one only checks that the extracted program parses
//! as Python, by asking lcb's sandboxed grader to run it against a problem whose single test
//! expects no output — a cheap "does it compile" screen.
//!
//! ```text
//! cargo run -p lcb-examples --example custom_evaluator
//! ```

use lcb_core::evaluator::{EvalError, Evaluator, GradeRequest};
use lcb_core::extract::extract_code;
use lcb_core::passk::pass_at_k;
use lcb_core::problem::{LcbProblem, Problem, TestCase, TestType};
use lcb_core::verdict::{Grade, Verdict};
use lcb_eval::{SandboxConfig, SandboxEvaluator};

/// Passes every program that compiles, whatever it prints.
struct CompilesOnly {
    sandbox: SandboxEvaluator,
    probe: Problem,
}

impl Evaluator for CompilesOnly {
    fn grade(&self, requests: &[GradeRequest<'_>]) -> Result<Vec<Grade>, EvalError> {
        // Wrap each program so it never runs: only compilation is checked.
        let wrapped: Vec<String> = requests
            .iter()
            .map(|r| format!("compile({:?}, 'candidate', 'exec')", r.code))
            .collect();
        let probes: Vec<_> = wrapped
            .iter()
            .map(|code| GradeRequest {
                problem: &self.probe,
                code,
            })
            .collect();
        let grades = self.sandbox.grade(&probes)?;
        Ok(requests
            .iter()
            .zip(grades)
            .map(|(r, g)| match g.verdict {
                _ if r.code.trim().is_empty() => Grade::new(Verdict::NoCode),
                Verdict::Passed => Grade::new(Verdict::Passed),
                _ => Grade {
                    metadata: None,
                    verdict: Verdict::CompileError,
                    detail: g.detail,
                },
            })
            .collect())
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::json!({"grader": "compiles only", "sandbox": self.sandbox.describe()})
    }
}

fn main() -> anyhow::Result<()> {
    let probe = Problem::Lcb(LcbProblem {
        question_title: "compile probe".into(),
        question_content: String::new(),
        platform: "atcoder".into(),
        question_id: "probe".into(),
        contest_id: String::new(),
        contest_date: "2025-01-01T00:00:00".into(),
        starter_code: String::new(),
        difficulty: "easy".into(),
        public_tests: vec![TestCase {
            input: String::new(),
            output: String::new(),
            testtype: TestType::Stdin,
        }],
        private_tests: vec![],
        func_name: None,
        metadata: serde_json::json!({}),
    });
    let evaluator = CompilesOnly {
        sandbox: SandboxEvaluator::new(SandboxConfig {
            workers: 2,
            ..Default::default()
        })?,
        probe: probe.clone(),
    };
    let outputs = [
        "```python\nprint(1)\n```",
        "```python\ndef f(:\n```",
        "no code at all",
        "```python\nfor i in range(3):\n    print(i)\n```",
    ];
    let codes: Vec<String> = outputs.iter().map(|o| extract_code(o)).collect();
    let requests: Vec<_> = codes
        .iter()
        .map(|code| GradeRequest {
            problem: &probe,
            code,
        })
        .collect();
    let grades = evaluator.grade(&requests)?;
    for (output, grade) in outputs.iter().zip(&grades) {
        println!(
            "{:<14} {:?}",
            grade.verdict.as_str(),
            output.lines().next().unwrap_or("")
        );
    }
    let passed = grades.iter().filter(|g| g.passed()).count() as u64;
    println!(
        "pass@1 = {:.2}, pass@2 = {:.2}",
        pass_at_k(4, passed, 1),
        pass_at_k(4, passed, 2)
    );
    Ok(())
}
