//! End-to-end grading through the sandboxed pool: verdicts, dedup, HumanEval.

mod common;

use common::*;
use lcb_core::evaluator::{Evaluator, GradeRequest};
use lcb_core::verdict::Verdict;

#[test]
fn verdicts_for_basic_programs() {
    let pool = pool(2, 2.0);
    let p = stdin_problem("add", &[("1 2\n", "3\n"), ("5 7\n", "12\n")]);
    let codes = [
        (
            "a, b = map(int, input().split())\nprint(a + b)",
            Verdict::Passed,
        ),
        (
            "a, b = map(int, input().split())\nprint(a - b)",
            Verdict::WrongAnswer,
        ),
        ("print(1/0)", Verdict::RuntimeError),
        ("while True: pass", Verdict::TimeLimitExceeded),
        ("def f(:\n  pass", Verdict::CompileError),
        ("", Verdict::NoCode),
    ];
    let requests: Vec<_> = codes
        .iter()
        .map(|(c, _)| GradeRequest {
            problem: &p,
            code: c,
        })
        .collect();
    let grades = pool.grade(&requests).unwrap();
    for ((code, expected), grade) in codes.iter().zip(&grades) {
        assert_eq!(grade.verdict, *expected, "{code:?}: {grade:?}");
    }
}
