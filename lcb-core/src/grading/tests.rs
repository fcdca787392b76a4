//! The grading driver against a scripted evaluator, and the summary of known grades.

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use serde_json::json;

use super::*;
use crate::problem::HumanEvalProblem;
use crate::samples::SampleText;
use crate::verdict::Verdict;

fn problems(count: usize) -> ProblemSet {
    ProblemSet::new(
        (0..count)
            .map(|i| {
                Problem::HumanEval(HumanEvalProblem {
                    task_id: format!("T/{i}"),
                    prompt: "def f():\n".into(),
                    canonical_solution: "    return 1\n".into(),
                    test: "def check(c):\n    assert c() == 1\n".into(),
                    entry_point: "f".into(),
                })
            })
            .collect(),
    )
    .unwrap()
}

/// Passes code `pass`, fails anything else, and remembers the batch sizes it saw.
#[derive(Default)]
struct Scripted {
    batches: Mutex<Vec<usize>>,
    fail_on: Option<String>,
}

impl Evaluator for Scripted {
    fn describe(&self) -> serde_json::Value {
        serde_json::json!({"grader": "Scripted"})
    }

    fn grade(&self, requests: &[GradeRequest<'_>]) -> Result<Vec<Grade>, EvalError> {
        self.batches.lock().unwrap().push(requests.len());
        if let Some(bad) = &self.fail_on {
            if requests.iter().any(|r| r.code == bad) {
                return Err(EvalError::Failed(format!("cannot grade {bad}")));
            }
        }
        Ok(requests
            .iter()
            .map(|r| {
                Grade::new(if r.code == "pass" {
                    Verdict::Passed
                } else {
                    Verdict::WrongAnswer
                })
            })
            .collect())
    }
}

#[test]
fn grades_come_back_in_job_order_whatever_the_batches() {
    let set = problems(3);
    let jobs: Vec<GradingJob> = (0..200)
        .map(|i| GradingJob {
            question: i % 3,
            problem: &set.problems()[i % 3],
            code: if i % 7 == 0 { "pass" } else { "x" }.to_owned(),
        })
        .collect();
    let evaluator = Scripted::default();
    let reported = AtomicU64::new(0);
    let grades = grade_samples(&evaluator, &jobs, 1, &|n| {
        reported.fetch_add(n as u64, Ordering::SeqCst);
    })
    .unwrap();
    let passed: Vec<bool> = grades.iter().map(Grade::passed).collect();
    let expected: Vec<bool> = (0..200).map(|i| i % 7 == 0).collect();
    assert_eq!(passed, expected);
    assert_eq!(reported.into_inner(), 200);
    // One worker: batches of at least 32 programs.
    let mut batches = evaluator.batches.into_inner().unwrap();
    batches.sort();
    assert_eq!(batches, vec![8, 32, 32, 32, 32, 32, 32]);
}

#[test]
fn an_evaluator_error_is_the_drivers_error() {
    let set = problems(1);
    let jobs: Vec<GradingJob> = ["pass", "boom", "x"]
        .iter()
        .map(|code| GradingJob {
            question: 0,
            problem: &set.problems()[0],
            code: (*code).to_owned(),
        })
        .collect();
    let evaluator = Scripted {
        fail_on: Some("boom".into()),
        ..Default::default()
    };
    let err = grade_samples(&evaluator, &jobs, 4, &|_| {}).unwrap_err();
    assert_eq!(err.to_string(), "grader failed: cannot grade boom");
}

/// Problem 0: 6 samples, 2 pass; problem 1: 5 samples, none; problem 2: no samples.
fn known_grades() -> Vec<(usize, Grade)> {
    let mut graded = Vec::new();
    for verdict in [
        Verdict::Passed,
        Verdict::WrongAnswer,
        Verdict::Passed,
        Verdict::CompileError,
        Verdict::WrongAnswer,
        Verdict::WrongAnswer,
    ] {
        graded.push((0, Grade::new(verdict)));
    }
    for verdict in [
        Verdict::WrongAnswer,
        Verdict::TimeLimitExceeded,
        Verdict::WrongAnswer,
        Verdict::CompileError,
        Verdict::WrongAnswer,
    ] {
        graded.push((1, Grade::new(verdict)));
    }
    graded
}

#[test]
fn the_summary_of_known_grades() {
    let graded = known_grades();
    let summary = EvalSummary::new(
        &problems(3),
        graded.iter().map(|(q, g)| (*q, g)),
        2.0,
        4,
        "out.jsonl".into(),
    );
    assert_eq!((summary.samples, summary.problems), (11, 2));
    assert_eq!(summary.samples_per_second, 5.5);
    // pass@1 = mean(2/6, 0/5); pass@5: n - c = 4 < 5 makes problem 0 certain, so mean(1, 0).
    // Every problem has at least 5 samples, not 10: no pass@10.
    assert_eq!(
        summary.pass_at_k.keys().copied().collect::<Vec<_>>(),
        [1, 5]
    );
    assert!((summary.pass_at_k[&1] - 1.0 / 6.0).abs() < 1e-12);
    assert_eq!(summary.pass_at_k[&5], 0.5);
    assert_eq!(
        summary
            .verdicts
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect::<Vec<_>>(),
        [
            ("compile_error", 2),
            ("passed", 2),
            ("time_limit_exceeded", 1),
            ("wrong_answer", 6)
        ]
    );
    assert_eq!(
        summary.questions,
        [
            QuestionCount {
                index: 0,
                id: "T/0".into(),
                n: 6,
                passed: 2
            },
            QuestionCount {
                index: 1,
                id: "T/1".into(),
                n: 5,
                passed: 0
            }
        ]
    );
}

#[test]
fn the_json_is_byte_for_byte_the_one_lcb_eval_printed_before_it_was_typed() {
    let graded = known_grades();
    let summary = EvalSummary::new(
        &problems(3),
        graded.iter().map(|(q, g)| (*q, g)),
        0.123_456_789,
        2,
        "dir/s.jsonl_results.jsonl".into(),
    );
    // The object `lcb eval --json` built by hand, with its key order and number types.
    let pass_at_1 = passk::mean_pass_at_k(&[(6, 2), (5, 0)], 1).unwrap();
    let by_hand = json!({
        "samples": 11,
        "problems": 2,
        "seconds": 0.123_456_789,
        "samples_per_second": 11.0 / 0.123_456_789,
        "workers": 2,
        "pass_at_k": {"pass@1": pass_at_1, "pass@5": 0.5},
        "verdicts": {"compile_error": 2, "passed": 2, "time_limit_exceeded": 1, "wrong_answer": 6},
        "questions": [
            {"index": 0, "id": "T/0", "n": 6, "passed": 2},
            {"index": 1, "id": "T/1", "n": 5, "passed": 0},
        ],
        "results": "dir/s.jsonl_results.jsonl",
    });
    assert_eq!(
        serde_json::to_string_pretty(&summary).unwrap(),
        serde_json::to_string_pretty(&by_hand).unwrap()
    );
}

#[test]
fn results_lines_echo_the_sample_and_add_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.jsonl");
    let sample = |line: usize, completion: &str| {
        let fields = json!({"task_id": "T/0", "completion": completion});
        Sample {
            line,
            problem_id: "T/0".into(),
            fields: fields.as_object().unwrap().clone(),
            text: SampleText::Completion(completion.into()),
        }
    };
    let grades = [
        Grade::new(Verdict::Passed),
        Grade {
            metadata: None,
            verdict: Verdict::WrongAnswer,
            detail: Some("1 != 2".into()),
        },
    ];
    write_results(&path, &[sample(1, "a"), sample(2, "b")], &grades).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        concat!(
            r#"{"task_id":"T/0","completion":"a","passed":true,"verdict":"passed"}"#,
            "\n",
            r#"{"task_id":"T/0","completion":"b","passed":false,"verdict":"wrong_answer","detail":"1 != 2"}"#,
            "\n"
        )
    );
}
