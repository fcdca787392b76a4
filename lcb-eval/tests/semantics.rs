//! The LCB semantics corpus (`tests/data/lcb_semantics_cases.jsonl`): probe programs whose
//! results were recorded from upstream LiveCodeBench's own grader. Every case must get the
//! same verdict through lcb's sandboxed pool.

mod common;

use std::collections::BTreeMap;

use lcb_core::evaluator::{Evaluator, GradeRequest};
use lcb_core::problem::{LcbProblem, Problem, TestCase, TestType};
use serde_json::Value;

fn case_problem(name: &str, case: &Value) -> Problem {
    let fn_name = case["fn_name"].as_str().map(str::to_owned);
    let testtype = if fn_name.is_some() {
        TestType::Functional
    } else {
        TestType::Stdin
    };
    let strings = |k: &str| -> Vec<String> {
        case[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let tests: Vec<TestCase> = strings("inputs")
        .into_iter()
        .zip(strings("outputs"))
        .map(|(input, output)| TestCase {
            input,
            output,
            testtype,
        })
        .collect();
    Problem::Lcb(LcbProblem {
        question_title: name.into(),
        question_content: String::new(),
        platform: "probe".into(),
        question_id: name.into(),
        contest_id: String::new(),
        contest_date: "2024-01-01T00:00:00".into(),
        starter_code: String::new(),
        difficulty: "easy".into(),
        public_tests: tests,
        private_tests: vec![],
        func_name: fn_name,
        metadata: serde_json::json!({}),
    })
}

#[test]
fn verdicts_match_upstream_livecodebench() {
    let text = include_str!("data/lcb_semantics_cases.jsonl");
    let cases: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(cases.len() >= 80);
    // One pool per per-test time limit used by the corpus.
    let mut by_timeout: BTreeMap<u64, Vec<&Value>> = BTreeMap::new();
    for c in &cases {
        by_timeout
            .entry(c["timeout"].as_f64().unwrap().to_bits())
            .or_default()
            .push(c);
    }
    let mut mismatches = vec![];
    let mut skipped_numpy = 0;
    for (timeout_bits, group) in by_timeout {
        let pool = common::pool(2, f64::from_bits(timeout_bits));
        let numpy = pool
            .protections()
            .missing
            .iter()
            .all(|m| !m.contains("numpy"));
        let group: Vec<&Value> = group
            .into_iter()
            .filter(|c| {
                let skip = !numpy && c["needs_numpy"].as_bool() == Some(true);
                skipped_numpy += usize::from(skip);
                !skip
            })
            .collect();
        let problems: Vec<Problem> = group
            .iter()
            .map(|c| case_problem(c["name"].as_str().unwrap(), c))
            .collect();
        let requests: Vec<_> = problems
            .iter()
            .zip(&group)
            .map(|(p, c)| GradeRequest {
                problem: p,
                code: c["code"].as_str().unwrap(),
            })
            .collect();
        let grades = pool.grade(&requests).unwrap();
        for (c, g) in group.iter().zip(grades) {
            let want = c["expected_verdict"].as_str().unwrap();
            // An empty program is graded by upstream as a compile error; lcb calls it no_code.
            let want = if c["code"].as_str().unwrap().trim().is_empty() {
                "no_code"
            } else {
                want
            };
            if g.verdict.as_str() != want {
                mismatches.push(format!(
                    "{}: upstream {want}, lcb {} ({:?})",
                    c["name"], g.verdict, g.detail
                ));
            }
        }
    }
    if skipped_numpy > 0 {
        eprintln!("note: {skipped_numpy} numpy cases skipped (numpy not importable)");
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
