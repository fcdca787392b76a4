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

/// What crosses from the grading child to the judge is compared as LCB compares it in one
/// process: integers past Python's default 4,300-digit limit (LCB raises it to 50,000), numpy
/// scalars, and results nested deeper than the judge's default recursion limit.
#[test]
fn the_judge_reads_what_lcb_compares_in_one_process() {
    let pool = pool(2, 2.0);
    let big = "9".repeat(5000);
    let stdin = stdin_problem("big", &[("1\n", &format!("{big}\n"))]);
    let functional = functional_problem("big_f", "f", &[("1", &big)]);
    let nested = functional_problem("nested", "f", &[("1", "[1]")]);
    let cases: Vec<(&lcb_core::problem::Problem, String, Verdict)> = vec![
        (&stdin, "print('9' * 5000)".into(), Verdict::Passed),
        (
            &functional,
            "class Solution:\n    def f(self, x):\n        return 10**5000 - 1".into(),
            Verdict::Passed,
        ),
        (
            &functional,
            "class Solution:\n    def f(self, x):\n        return 10**5000".into(),
            Verdict::WrongAnswer,
        ),
        (
            &nested,
            "import numpy as np\nclass Solution:\n    def f(self, x):\n        return [np.int64(1)]".into(),
            Verdict::Passed,
        ),
        (
            &nested,
            "class Solution:\n    def f(self, x):\n        r = []\n        for _ in range(3000):\n            r = [r]\n        return r".into(),
            Verdict::WrongAnswer,
        ),
    ];
    let requests: Vec<_> = cases
        .iter()
        .map(|(problem, code, _)| GradeRequest { problem, code })
        .collect();
    let grades = pool.grade(&requests).unwrap();
    for ((_, code, expected), grade) in cases.iter().zip(&grades) {
        assert_eq!(grade.verdict, *expected, "{code:?}: {grade:?}");
    }
}
