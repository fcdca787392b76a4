//! LiveCodeBench's code-execution and test-output-prediction scenarios end to end: `lcb eval`
//! agrees with lcb_runner's metric on every prediction of a corpus (malformed, adversarial and
//! borderline ones included; `fixtures/scenarios/reference_*.json`), `lcb sweep` runs each
//! scenario with the fixture model and resumes to the same files, and mismatched inputs are
//! refused with the reason.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{fail, fixture, lcb, read_json, read_json_lines, succeed};
use serde_json::{json, Value};

fn reference(name: &str) -> Value {
    read_json(&fixture(&format!("scenarios/{name}")))
}

/// Runs `lcb eval --json` on `samples` and returns (results lines, summary).
fn eval(scenario: &str, problems: &str, samples: &Path) -> (Vec<Value>, Value) {
    let out = succeed(
        lcb().args([
            "eval",
            "--scenario",
            scenario,
            "--problems",
            &fixture(&format!("scenarios/{problems}"))
                .display()
                .to_string(),
            "--samples",
            &samples.display().to_string(),
            "--workers",
            "2",
            "--json",
        ]),
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = read_json_lines(Path::new(summary["results"].as_str().unwrap()));
    (results, summary)
}

/// The summary's per-question (n, passed) by id.
fn per_question(summary: &Value) -> BTreeMap<String, (u64, u64)> {
    summary["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            let id = q["id"].as_str().unwrap().to_owned();
            (
                id,
                (q["n"].as_u64().unwrap(), q["passed"].as_u64().unwrap()),
            )
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn code_execution_grading_agrees_with_lcb_runner() {
    let reference = reference("reference_codeexecution.json");
    let cases = reference["grading"].as_array().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let samples = dir.path().join("preds.json");
    let input: Vec<Value> = cases
        .iter()
        .map(|c| json!({"id": c["id"], "pred_list": c["pred_list"]}))
        .collect();
    std::fs::write(&samples, serde_json::to_string(&input).unwrap()).unwrap();
    let (results, summary) = eval("codeexecution", "execution_fixtures.jsonl", &samples);
    let counts = per_question(&summary);
    let mut predictions = 0;
    for case in cases {
        let id = case["id"].as_str().unwrap();
        let ours: Vec<&Value> = results.iter().filter(|r| r["id"] == id).collect();
        let preds = case["pred_list"].as_array().unwrap();
        assert_eq!(ours.len(), preds.len(), "{id}");
        predictions += preds.len();
        // lcb_runner's list holds the predictions it ran (those not containing the call), or
        // one False per prediction when it ran none.
        let ran: Vec<bool> = ours
            .iter()
            .filter(|r| r["verdict"] != "skipped")
            .map(|r| r["passed"].as_bool().unwrap())
            .collect();
        let theirs: Vec<bool> = case["graded"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_bool().unwrap())
            .collect();
        if ran.is_empty() {
            assert_eq!(theirs, vec![false; preds.len()], "{id}: all skipped");
        } else {
            assert_eq!(ran, theirs, "{id}: {ours:#?}");
        }
        let (n, passed) = counts[id];
        assert_eq!(n as usize, theirs.len(), "{id}");
        let pass1 = case["pass@1"].as_f64().unwrap();
        assert!(
            close(passed as f64 / n as f64, pass1),
            "{id}: {passed}/{n} vs {pass1}"
        );
    }
    assert!(predictions >= 80, "{predictions} predictions");
    // lcb_runner reports the mean of per-problem pass@1 in percent.
    let overall = reference["overall_pass@1"].as_f64().unwrap();
    let ours = summary["pass_at_k"]["pass@1"].as_f64().unwrap() * 100.0;
    assert!(close(ours, overall), "{ours} vs {overall}");
}

#[test]
fn test_output_grading_agrees_with_lcb_runner() {
    let reference = reference("reference_testoutputprediction.json");
    let cases = reference["grading"].as_array().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let samples = dir.path().join("preds.json");
    let input: Vec<Value> = cases
        .iter()
        .map(|c| {
            json!({"question_id": c["question_id"], "test_id": c["test_id"],
                   "pred_list": c["pred_list"]})
        })
        .collect();
    std::fs::write(&samples, serde_json::to_string(&input).unwrap()).unwrap();
    let (results, summary) = eval(
        "testoutputprediction",
        "test_output_fixtures.jsonl",
        &samples,
    );
    let counts = per_question(&summary);
    let mut predictions = 0;
    for case in cases {
        let key = |v: &Value| (v["question_id"].to_string(), v["test_id"].to_string());
        let ours: Vec<bool> = results
            .iter()
            .filter(|r| key(r) == key(case))
            .map(|r| r["passed"].as_bool().unwrap())
            .collect();
        let theirs: Vec<bool> = case["graded"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_bool().unwrap())
            .collect();
        assert_eq!(ours, theirs, "{case:#}");
        predictions += ours.len();
        let qid = match &case["question_id"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let id = format!("{qid}/{}", case["test_id"]);
        let (n, passed) = counts[&id];
        let pass1 = case["pass@1"].as_f64().unwrap();
        assert!(close(passed as f64 / n as f64, pass1), "{id}");
    }
    assert!(predictions >= 80, "{predictions} predictions");
    let overall = reference["overall_pass@1"].as_f64().unwrap();
    let ours = summary["pass_at_k"]["pass@1"].as_f64().unwrap();
    assert!(close(ours, overall), "{ours} vs {overall}");
}

#[test]
fn raw_completions_are_extracted_by_the_scenarios_rule() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<Value> = read_json_lines(&fixture("scenarios/execution_fixtures.jsonl"))
        .into_iter()
        .take(2)
        .collect();
    // The right answer in chain-of-thought form, then a wrong one, for two rows.
    let mut lines = String::new();
    for row in &ids {
        let right = format!(
            "[THOUGHT]\nstep by step\n[/THOUGHT]\n[ANSWER]\nassert {} == {}\n[/ANSWER]",
            row["input"].as_str().unwrap(),
            row["output"].as_str().unwrap()
        );
        lines.push_str(&json!({"id": row["id"], "completion": right}).to_string());
        lines.push('\n');
        lines.push_str(
            &json!({"id": row["id"], "completion": "[ANSWER]\nassert f() == object()\n[/ANSWER]"})
                .to_string(),
        );
        lines.push('\n');
    }
    let samples = dir.path().join("raw.jsonl");
    std::fs::write(&samples, lines).unwrap();
    let out = succeed(lcb().args([
        "eval",
        "--scenario",
        "codeexecution",
        "--cot",
        "--problems",
        "fixtures/scenarios/execution_fixtures.jsonl",
        "--samples",
        &samples.display().to_string(),
        "--workers",
        "2",
    ]));
    assert!(out.status.success());
    let results = read_json_lines(&dir.path().join("raw.jsonl_results.jsonl"));
    let passed: Vec<bool> = results
        .iter()
        .map(|r| r["passed"].as_bool().unwrap())
        .collect();
    assert_eq!(passed, [true, false, true, false], "{results:#?}");
}

/// A small sweep of `scenario` with the fixture model on the scenario's fixture rows.
fn sweep(scenario: &str, extra: &[&str], out: &Path) {
    succeed(
        lcb()
            .args(["sweep", "--scenario", scenario])
            .args([
                "--model",
                "fixtures/model",
                "-n",
                "3",
                "--temperatures",
                "0.2,1.0",
            ])
            .args(["--max-tokens", "24", "--no-skip", "--output"])
            .arg(out)
            .args(extra),
    );
}

fn snapshot(root: &Path) -> BTreeMap<String, Value> {
    lcb_core::sweep::ResultStore::new(root)
        .timing_free_snapshot()
        .unwrap()
}

#[test]
fn scenario_sweeps_run_and_resume_to_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    for (scenario, extra, rows) in [
        ("codeexecution", &["--cot"][..], "execution_fixtures.jsonl"),
        (
            "testoutputprediction",
            &[][..],
            "test_output_fixtures.jsonl",
        ),
    ] {
        let tree = dir.path().join(scenario);
        sweep(scenario, extra, &tree);
        let questions = read_json_lines(&fixture(&format!("scenarios/{rows}"))).len();
        let first = snapshot(&tree);
        // Two temperatures per question, each with its prompt in the scenario's form.
        let files: Vec<&String> = first.keys().filter(|k| k.contains("/t")).collect();
        assert_eq!(files.len(), 2 * questions, "{scenario}: {files:?}");
        let q0 = read_json(&tree.join("q0/t0_2_n3.json"));
        let prompt = q0["prompt"].as_str().unwrap();
        match scenario {
            "codeexecution" => assert!(prompt.contains("[THOUGHT]") && prompt.contains("== ??")),
            _ => assert!(prompt.contains("== # TODO")),
        }
        assert_eq!(q0["completions"].as_array().unwrap().len(), 3);
        // A lost file is made again, byte for byte (timings aside).
        std::fs::remove_file(tree.join("q0/t1_0_n3.json")).unwrap();
        sweep(scenario, extra, &tree);
        assert_eq!(snapshot(&tree), first, "{scenario}");
        // The report reads the tree.
        succeed(lcb().args(["report"]).arg(&tree));
    }
}

#[test]
fn mismatched_scenarios_are_refused() {
    let err = fail(lcb().args([
        "sweep",
        "--scenario",
        "codeexecution",
        "--problems",
        "fixtures/problems/lcb_fixtures.jsonl",
    ]));
    assert!(
        err.contains("--scenario codeexecution runs on livecodebench/execution-v2 rows"),
        "{err}"
    );
    let err = fail(lcb().args(["sweep", "--cot"]));
    assert!(
        err.contains("--cot") && err.contains("codeexecution"),
        "{err}"
    );
    let err = fail(lcb().args([
        "sweep",
        "--scenario",
        "testoutputprediction",
        "--prompt-style",
        "codeqwen",
        "--output",
        "/tmp/lcb-never-written",
    ]));
    assert!(err.contains("no CodeQwen prompt"), "{err}");
}

#[test]
fn bad_rows_name_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let rows = read_json_lines(&fixture("scenarios/execution_fixtures.jsonl"));
    let mut bad = rows[1].clone();
    bad["id"] = json!("sample-x");
    let path = dir.path().join("rows.jsonl");
    std::fs::write(&path, format!("{}\n{}\n", rows[0], bad)).unwrap();
    let samples = dir.path().join("s.json");
    std::fs::write(&samples, "[]").unwrap();
    let args = |p: &Path| {
        let mut c = lcb();
        c.args(["eval", "--scenario", "codeexecution", "--problems"])
            .arg(p)
            .arg("--samples")
            .arg(&samples);
        c
    };
    let err = fail(&mut args(&path));
    assert!(err.contains("rows.jsonl:2: field `id`"), "{err}");
    let rows = read_json_lines(&fixture("scenarios/test_output_fixtures.jsonl"));
    let mut bad = rows[0].clone();
    bad["test"] = json!("[{\"input\": 1}]");
    std::fs::write(&path, format!("{bad}\n")).unwrap();
    let err = fail(&mut args(&path));
    assert!(err.contains("rows.jsonl:1: field `test`"), "{err}");
}

/// Self-repair end to end on the fixtures: every failed sample of a code-generation tree is
/// repaired (a passing one stands as it is), the trees made with and without prefix sharing
/// are the same while sharing prefills fewer prompt tokens, a lost file is made again byte
/// for byte, and bad sources are refused.
#[test]
fn self_repair_repairs_failed_samples_and_prefills_the_question_once() {
    let dir = tempfile::tempdir().unwrap();
    let generation = dir.path().join("gen");
    let common = [
        "--model",
        "fixtures/model",
        "--questions",
        "0..6",
        "--max-tokens",
        "100",
    ];
    succeed(
        lcb()
            .args(["sweep", "-n", "3", "--temperatures", "0.8,1.6", "--no-skip"])
            .args(common)
            .arg("--output")
            .arg(&generation),
    );
    let repair_with = |from: &Path, out: &Path, extra: &[&str]| {
        succeed(
            lcb()
                .args(["sweep", "--scenario", "selfrepair", "--from"])
                .arg(from)
                .args(common)
                .arg("--output")
                .arg(out)
                .args(extra),
        );
        read_json(&out.join("run_summary.json"))
    };
    let repair = |out: &Path, extra: &[&str]| repair_with(&generation, out, extra);
    let shared = dir.path().join("shared");
    let summary = repair(&shared, &[]);
    assert_eq!(summary["scenario"], "selfrepair");
    // Sample j repairs sample j: passing samples stand, failed ones are generated again.
    let (mut failed, mut passing) = (0, 0);
    for q in 0..6 {
        for t in ["0_8", "1_6"] {
            let name = format!("q{q}/t{t}_n3.json");
            let before = read_json(&generation.join(&name));
            let after = read_json(&shared.join(&name));
            assert!(after["prompt"].as_str().unwrap().contains("### Question:"));
            for (b, a) in before["completions"]
                .as_array()
                .unwrap()
                .iter()
                .zip(after["completions"].as_array().unwrap())
            {
                if b["passed"] == true {
                    assert_eq!(a["raw"], b["raw"], "{name}");
                    assert_eq!(a["passed"], true, "{name}");
                    passing += 1;
                } else {
                    failed += 1;
                }
            }
        }
    }
    assert!(
        failed > 0 && passing > 0,
        "{failed} failed, {passing} passing"
    );
    let totals = &summary["totals"];
    let copied = totals["prompt_tokens_copied"].as_u64().unwrap();
    let prefilled = totals["prompt_tokens_prefilled"].as_u64().unwrap();
    assert!(copied > 0, "{totals}");

    // Without sharing: the same tree, every copied token prefilled instead.
    let unshared = dir.path().join("unshared");
    let summary = repair(&unshared, &["--no-prefix-sharing"]);
    assert_eq!(snapshot(&unshared), snapshot(&shared));
    let totals = &summary["totals"];
    assert_eq!(totals["prompt_tokens_copied"], 0);
    assert_eq!(
        totals["prompt_tokens_prefilled"].as_u64().unwrap(),
        prefilled + copied
    );

    // A lost file is made again, byte for byte.
    let first = snapshot(&shared);
    std::fs::remove_file(shared.join("q1/t1_6_n3.json")).unwrap();
    repair(&shared, &[]);
    assert_eq!(snapshot(&shared), first);

    // A question the source skipped (solved greedily) is skipped in the repair too.
    let greedy = dir.path().join("greedy");
    succeed(
        lcb()
            .args(["sweep", "-n", "2", "--temperatures", "0.8"])
            .args(common)
            .arg("--output")
            .arg(&greedy),
    );
    let skipped: Vec<usize> = (0..6)
        .filter(|q| greedy.join(format!("q{q}/skipped.json")).exists())
        .collect();
    assert!(
        !skipped.is_empty(),
        "the fixture model solves some questions greedily"
    );
    let repaired = dir.path().join("greedy-repaired");
    let summary = repair_with(&greedy, &repaired, &[]);
    assert!(summary["finished"].is_string(), "{summary}");
    for q in 0..6 {
        assert_eq!(
            repaired.join(format!("q{q}/skipped.json")).exists(),
            skipped.contains(&q),
            "q{q}"
        );
    }
    // Sample j repairs sample j: another n is refused.
    let err = fail(
        lcb()
            .args(["sweep", "--scenario", "selfrepair", "-n", "5", "--from"])
            .arg(&generation)
            .args(common)
            .arg("--output")
            .arg(dir.path().join("never")),
    );
    assert!(err.contains("must be the repaired tree's"), "{err}");

    // Refused: no source, a source on other problems, a repair of a repair.
    let err = fail(lcb().args(["sweep", "--scenario", "selfrepair"]));
    assert!(err.contains("needs --from TREE"), "{err}");
    let err = fail(
        lcb()
            .args(["sweep", "--scenario", "selfrepair", "--questions", "0..6"])
            .args(["--model", "fixtures/model", "--problems"])
            .arg(fixture("scenarios/test_output_fixtures.jsonl"))
            .arg("--from")
            .arg(&generation),
    );
    assert!(err.contains("selfrepair"), "{err}");
    let err = fail(
        lcb()
            .args(["sweep", "--scenario", "selfrepair", "--from"])
            .arg(&shared)
            .args(common),
    );
    assert!(err.contains("self-repair tree"), "{err}");
}
