//! `lcb eval` end to end: formats, results file, summary and bad input.

mod common;

use std::path::Path;
use std::process::Command;

use common::{fail, lcb, read_json_lines, stdout, succeed};
use serde_json::{json, Value};

/// `lcb eval ARGS` with two grading workers.
fn eval(args: &[&str]) -> Command {
    let mut command = lcb();
    command.arg("eval").args(args).args(["--workers", "2"]);
    command
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// One stdin problem and one functional problem, with private tests in the dataset's encoding.
fn lcb_problems(dir: &Path) -> std::path::PathBuf {
    use lcb_core::dataset::lcb::{encode_private_tests, python_json_dumps};
    use lcb_core::problem::{TestCase, TestType};
    let t = |i: &str, o: &str, tt| TestCase {
        input: i.into(),
        output: o.into(),
        testtype: tt,
    };
    let row = |id: &str, starter: &str, meta: Value, tests: Vec<TestCase>| {
        json!({
            "question_title": id, "question_content": "q", "platform": "atcoder",
            "question_id": id, "contest_id": "c", "contest_date": "2024-05-01T00:00:00",
            "starter_code": starter, "difficulty": "easy",
            "public_test_cases": python_json_dumps(&serde_json::to_value(&tests[..1]).unwrap()),
            "private_test_cases": encode_private_tests(&tests[1..]),
            "metadata": meta.to_string(),
        })
    };
    let stdin = row(
        "abc001_a",
        "",
        json!({}),
        vec![
            t("2 3\n", "5\n", TestType::Stdin),
            t("10 -4\n", "6\n", TestType::Stdin),
        ],
    );
    let functional = row(
        "3001",
        "class Solution:\n    def double(self, x: int) -> int:\n        ",
        json!({"func_name": "double"}),
        vec![
            t("4", "8", TestType::Functional),
            t("-1", "-2", TestType::Functional),
        ],
    );
    let path = dir.join("problems.jsonl");
    write(&path, &format!("{stdin}\n{functional}\n"));
    path
}

#[test]
fn grades_lcb_completions_with_extraction_in_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let problems = lcb_problems(dir.path());
    let samples = dir.path().join("s.jsonl");
    let fence = |code: &str| format!("Sure!\n```python\n{code}\n```\nDone.");
    let lines = [
        json!({"question_id": "abc001_a", "completion": fence("a, b = map(int, input().split())\nprint(a + b)"), "temperature": 0.1}),
        json!({"question_id": "3001", "completion": fence("class Solution:\n    def double(self, x):\n        return 2 * x")}),
        json!({"question_id": "abc001_a", "completion": "print(5)"}),
        json!({"question_id": "3001", "completion": fence("class Solution:\n    def double(self, x):\n        return x + 2")}),
    ];
    write(
        &samples,
        &lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    );
    let out = succeed(&mut eval(&[
        "--problems",
        problems.to_str().unwrap(),
        "--samples",
        samples.to_str().unwrap(),
        "--timeout",
        "2",
    ]));
    let results = read_json_lines(&dir.path().join("s.jsonl_results.jsonl"));
    let verdicts: Vec<_> = results
        .iter()
        .map(|r| r["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(
        verdicts,
        vec!["passed", "passed", "no_code", "wrong_answer"]
    );
    assert_eq!(results[0]["temperature"], 0.1, "input fields are kept");
    assert_eq!(results[1]["passed"], true);
    let stdout = stdout(&out);
    assert!(stdout.contains("pass@1: 50.00%"), "{stdout}");
}

#[test]
fn grades_code_list_arrays_as_given() {
    let dir = tempfile::tempdir().unwrap();
    let problems = lcb_problems(dir.path());
    let samples = dir.path().join("custom.json");
    write(&samples, &json!([
        {"question_id": "abc001_a", "code_list": ["a, b = map(int, input().split())\nprint(a + b)", "print(0)"]},
        {"question_id": "3001", "code_list": ["class Solution:\n    def double(self, x):\n        return x * 2"]},
    ]).to_string());
    let out_path = dir.path().join("r.jsonl");
    let out = succeed(&mut eval(&[
        "--problems",
        problems.to_str().unwrap(),
        "--samples",
        samples.to_str().unwrap(),
        "--out",
        out_path.to_str().unwrap(),
        "--json",
    ]));
    let results = read_json_lines(&out_path);
    assert_eq!(results.len(), 3);
    assert_eq!(results[1]["index"], 1);
    assert_eq!(results[1]["verdict"], "wrong_answer");
    assert_eq!(results[2]["passed"], true);
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["samples"], 3);
    // pass@1 = mean(1/2, 1/1) over problems.
    assert!((summary["pass_at_k"]["pass@1"].as_f64().unwrap() - 0.75).abs() < 1e-12);
}

#[test]
fn bad_input_gets_a_clear_error_and_no_results_file() {
    let dir = tempfile::tempdir().unwrap();
    let problems = lcb_problems(dir.path());
    let p = problems.to_str().unwrap();
    let samples = dir.path().join("s.jsonl");
    let s = samples.to_str().unwrap();
    let check = |content: Option<&str>, problems: &str, expect: &str| {
        if let Some(c) = content {
            write(&samples, c);
        }
        let err = fail(&mut eval(&["--problems", problems, "--samples", s]));
        assert!(err.contains(expect), "{expect:?} not in {err:?}");
        assert!(!dir.path().join("s.jsonl_results.jsonl").exists());
    };
    check(
        Some("{\"question_id\": \"abc001_a\", \"completion\": \"x\"}\n"),
        "/nope/problems.jsonl",
        "/nope/problems.jsonl",
    );
    check(
        Some("{\"question_id\": \"abc001_a\", \"completion\": \"x\"}\n{\"question_id\": 1,\n"),
        p,
        "s.jsonl:2: invalid JSON",
    );
    check(
        Some("{\"question_id\": \"abc001_a\"}\n"),
        p,
        "s.jsonl:1: field `completion`: missing",
    );
    check(
        Some("{\"question_id\": \"zzz\", \"completion\": \"x\"}\n"),
        p,
        "s.jsonl:1: unknown question id `zzz`",
    );
    check(Some(""), p, "no records");
    std::fs::remove_file(&samples).unwrap();
    check(None, p, "s.jsonl");
}
