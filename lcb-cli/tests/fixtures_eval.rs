//! Every solution variant of the fixture problems passes when graded through `lcb eval`, and
//! a wrong variant of each fails: the fixture set and the grader agree end to end.

mod common;

use common::{fixture, lcb, read_json_lines, succeed};
use serde_json::{json, Value};

#[test]
fn fixture_solutions_pass_and_broken_ones_fail() {
    let root = fixture("problems");
    let solutions = std::fs::read_to_string(root.join("solutions.jsonl")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let samples = dir.path().join("samples.jsonl");
    let mut lines = String::new();
    let mut expected = Vec::new();
    for line in solutions.lines() {
        let row: Value = serde_json::from_str(line).unwrap();
        let id = row["question_id"].as_str().unwrap();
        for variant in row["variants"].as_array().unwrap() {
            let completion = format!("```python\n{}\n```", variant.as_str().unwrap());
            lines.push_str(&format!(
                "{}\n",
                json!({"question_id": id, "completion": completion})
            ));
            expected.push(true);
        }
        // Printing nothing never solves a problem.
        lines.push_str(&format!(
            "{}\n",
            json!({"question_id": id, "completion": "```python\npass\n```"})
        ));
        expected.push(false);
    }
    std::fs::write(&samples, lines).unwrap();
    succeed(
        lcb()
            .args(["eval", "--problems"])
            .arg(root.join("lcb_fixtures.jsonl"))
            .arg("--samples")
            .arg(&samples)
            .args(["--workers", "2", "--timeout", "4"]),
    );
    let results = read_json_lines(&dir.path().join("samples.jsonl_results.jsonl"));
    let mismatches: Vec<String> = results
        .iter()
        .zip(&expected)
        .filter(|&(r, &want)| r["passed"].as_bool() != Some(want))
        .map(|(r, _)| format!("{} {} {}", r["question_id"], r["verdict"], r["detail"]))
        .collect();
    assert!(expected.len() > 150);
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
