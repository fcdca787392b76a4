//! Reports on small synthetic trees, written with the store's own types, checked against
//! values computed by hand.

use std::path::Path;

use super::stats::{wilson, Z95};
use super::*;
use crate::generator::FinishReason;
use crate::sweep::store::{
    CompletionRecord, QuestionSummary, RecordedSampling, ResultStore, RunSummary, Skipped,
    SummaryRow, TemperatureResult, FORMAT_VERSION,
};
use crate::sweep::SweepSettings;
use crate::verdict::Verdict::{self, *};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

fn record(verdict: Verdict) -> CompletionRecord {
    CompletionRecord {
        raw: format!("```python\n# {verdict}\n```"),
        passed: verdict.passed(),
        verdict,
        finish_reason: FinishReason::Stop,
        num_tokens: 7,
    }
}

/// `counts` as (verdict, how many).
fn verdicts(counts: &[(Verdict, usize)]) -> Vec<Verdict> {
    counts
        .iter()
        .flat_map(|&(v, k)| std::iter::repeat_n(v, k))
        .collect()
}

fn write_sample(store: &ResultStore, idx: usize, t: f64, vs: &[Verdict]) {
    let completions: Vec<CompletionRecord> = vs.iter().map(|&v| record(v)).collect();
    let passed = completions.iter().filter(|c| c.passed).count();
    let result = TemperatureResult {
        model: "synthetic".into(),
        prompt: "Solve it.".into(),
        sampling_params: RecordedSampling {
            temperature: t,
            top_p: 1.0,
            top_k: None,
            max_tokens: 64,
            stop: vec![],
            seed: 0,
        },
        model_config: serde_json::json!({}),
        question_idx: idx,
        question_id: format!("id{idx}"),
        question_title: format!("Question {idx}"),
        temperature: t,
        n: vs.len(),
        passed,
        pass_rate: 100.0 * passed as f64 / vs.len() as f64,
        gen_tps: 1.0,
        eval_tps: 1.0,
        pipeline_tps: 1.0,
        completions,
        format_version: FORMAT_VERSION,
    };
    store
        .write(&store.temperature_path(idx, t, vs.len()), &result)
        .unwrap();
}

fn write_summary(store: &ResultStore, idx: usize, rows: &[(f64, usize, usize)]) {
    let summary = QuestionSummary {
        question_idx: idx,
        question_id: format!("id{idx}"),
        question_title: format!("Question {idx}"),
        n: rows[0].1,
        temperatures: rows.iter().map(|r| r.0).collect(),
        total_time: 1.0,
        results: rows
            .iter()
            .map(|&(temperature, n, passed)| SummaryRow {
                temperature,
                n,
                passed,
                counted: None,
                pass_rate: 100.0 * passed as f64 / n as f64,
                gen_tps: 1.0,
            })
            .collect(),
        format_version: FORMAT_VERSION,
    };
    store.write(&store.summary_path(idx), &summary).unwrap();
}

fn write_skipped(store: &ResultStore, idx: usize) {
    let skipped = Skipped {
        question_idx: idx,
        question_id: format!("id{idx}"),
        question_title: format!("Question {idx}"),
        reason: "greedy_passed".into(),
        greedy: record(Passed),
        format_version: FORMAT_VERSION,
    };
    store.write(&store.skipped_path(idx), &skipped).unwrap();
}

/// The tree of the hand computations below, with no run_summary.json (a sweep in progress):
///
/// | question | T = 0.5        | T = 1.0               | T = 1.5 |
/// |----------|----------------|-----------------------|---------|
/// | q0       | 3/10           | 5/10                  | 2/5     |
/// | q1       | 1/10           | 2/10                  |         |
/// | q2       | skipped        |                       |         |
/// | q3       | 5/10           | 8/10 (summary only)   |         |
/// | q4       | invalid JSON   |                       |         |
fn build_tree(root: &Path, q1_at_half: &[Verdict]) {
    let store = ResultStore::new(root);
    write_sample(
        &store,
        0,
        0.5,
        &verdicts(&[
            (Passed, 3),
            (WrongAnswer, 4),
            (RuntimeError, 2),
            (NoCode, 1),
        ]),
    );
    write_sample(
        &store,
        0,
        1.0,
        &verdicts(&[
            (Passed, 5),
            (WrongAnswer, 3),
            (TimeLimitExceeded, 1),
            (CompileError, 1),
        ]),
    );
    write_sample(&store, 0, 1.5, &verdicts(&[(Passed, 2), (WrongAnswer, 3)]));
    write_sample(&store, 1, 0.5, q1_at_half);
    // A leftover of a run with -n 5 at the same temperature: the n = 10 file wins.
    write_sample(&store, 1, 0.5, &verdicts(&[(Passed, 5)]));
    write_sample(&store, 1, 1.0, &verdicts(&[(Passed, 2), (RuntimeError, 8)]));
    write_skipped(&store, 2);
    write_sample(
        &store,
        3,
        0.5,
        &verdicts(&[(Passed, 5), (TimeLimitExceeded, 5)]),
    );
    write_summary(&store, 3, &[(0.5, 10, 5), (1.0, 10, 8)]);
    std::fs::create_dir_all(store.question_dir(4)).unwrap();
    std::fs::write(store.temperature_path(4, 0.5, 10), "{\"model\": ").unwrap();
    // A write in progress and a stray file: not result files, not warnings.
    std::fs::write(store.question_dir(0).join(".lcb-tmp-abc"), "{").unwrap();
    std::fs::write(root.join("notes.txt"), "hello").unwrap();
}

fn q1_default() -> Vec<Verdict> {
    verdicts(&[(Passed, 1), (WrongAnswer, 9)])
}

fn sample_tree() -> (tempfile::TempDir, ResultsTree) {
    let dir = tempfile::tempdir().unwrap();
    build_tree(dir.path(), &q1_default());
    let tree = ResultsTree::load(dir.path()).unwrap();
    (dir, tree)
}

#[test]
fn report_loads_a_partial_tree() {
    let (_dir, tree) = sample_tree();
    assert!(tree.run.is_none());
    assert_eq!(
        tree.questions.iter().map(|q| q.idx).collect::<Vec<_>>(),
        [0, 1, 3]
    );
    assert_eq!(tree.skipped.len(), 1);
    assert_eq!(tree.skipped[0].idx, 2);
    assert_eq!(tree.skipped[0].reason, "greedy_passed");
    assert_eq!(tree.temperatures(), [0.5, 1.0, 1.5]);
    // Two warnings: q4's broken file and q1's smaller duplicate.
    assert_eq!(tree.warnings.len(), 2, "{:?}", tree.warnings);
    let q4 = tree
        .warnings
        .iter()
        .find(|w| w.path.ends_with("q4/t0_5_n10.json"));
    assert!(q4.unwrap().message.contains("not a valid result file"));
    let dup = tree
        .warnings
        .iter()
        .find(|w| w.path.ends_with("q1/t0_5_n5.json"));
    assert!(dup.unwrap().message.contains("t0_5_n10.json"));
    let q1 = &tree.questions[1];
    assert_eq!((q1.cells[0].n, q1.cells[0].passed), (10, 1));
    // q3 at T = 1.0 comes from summary.json, without verdicts.
    let q3 = tree.find(3).unwrap().unwrap();
    assert_eq!(q3.cells[1].verdicts, None);
    assert_eq!((q3.cells[1].n, q3.cells[1].passed), (10, 8));
    assert_eq!(q3.title, "Question 3");
}

#[test]
fn report_overall_rates_and_intervals() {
    let (_dir, tree) = sample_tree();
    let report = Report::new(&tree);
    assert_eq!(report.questions_sampled, 3);
    assert_eq!(report.model, None);
    assert!(report.uneven());
    let [t05, t10, t15] = report.temperatures.as_slice() else {
        panic!("{:?}", report.temperatures)
    };

    // T = 0.5: rates 0.3, 0.1, 0.5; mean 0.3, s = 0.2, half-width z·0.2/√3.
    assert_eq!((t05.questions, t05.samples, t05.passed), (3, 30, 9));
    assert!(close(t05.pass_rate, 0.3));
    let half = Z95 * 0.2 / 3f64.sqrt();
    assert!(close(t05.ci.low, 0.3 - half) && close(t05.ci.high, 0.3 + half));
    assert!(close(t05.ci.low, 0.073683) && close(t05.ci.high, 0.526317));
    // pass@5: 1 - C(7,5)/C(10,5) = 1 - 21/252; 1 - 126/252; 1 - 1/252.
    let p5 = (1.0 - 21.0 / 252.0 + 0.5 + 1.0 - 1.0 / 252.0) / 3.0;
    assert!(close(t05.pass_at(1).unwrap(), 0.3));
    assert!(close(t05.pass_at(5).unwrap(), p5));
    assert!(close(t05.pass_at(10).unwrap(), 1.0));
    assert_eq!(t05.pass_at(100), None);
    let v = t05.verdicts;
    assert_eq!((v.passed, v.wrong_answer, v.runtime_error), (9, 4 + 9, 2));
    assert_eq!(
        (v.time_limit_exceeded, v.compile_error, v.no_code),
        (5, 0, 1)
    );
    assert_eq!(t05.verdicts_unknown, 0);

    // T = 1.0: rates 0.5, 0.2, 0.8; mean 0.5, s = 0.3.
    assert!(close(t10.pass_rate, 0.5));
    let half = Z95 * 0.3 / 3f64.sqrt();
    assert!(close(t10.ci.low, 0.5 - half) && close(t10.ci.high, 0.5 + half));
    // pass@5: 1 - 1/252; 1 - C(8,5)/C(10,5) = 1 - 56/252; n - c = 2 < 5 gives 1.
    let p5 = (1.0 - 1.0 / 252.0 + 1.0 - 56.0 / 252.0 + 1.0) / 3.0;
    assert!(close(t10.pass_at(5).unwrap(), p5));
    let v = t10.verdicts;
    assert_eq!((v.passed, v.wrong_answer, v.runtime_error), (7, 3, 8));
    assert_eq!(
        (v.time_limit_exceeded, v.compile_error, v.no_code),
        (1, 1, 0)
    );
    assert_eq!(t10.verdicts_unknown, 10);

    // T = 1.5: one question, 2/5: its Wilson interval; n = 5 allows k = 1, 5 only.
    assert_eq!(t15.questions, 1);
    assert!(close(t15.pass_rate, 0.4));
    assert_eq!(t15.ci, wilson(2, 5));
    assert_eq!(
        t15.pass_at_k.iter().map(|p| p.k).collect::<Vec<_>>(),
        [1, 5]
    );
    assert!(close(t15.pass_at(5).unwrap(), 1.0));

    // Best: pass@1 at 1.0; pass@5 at 1.5 (1.0 beats 0.925); pass@10 ties at 1.0 between 0.5
    // and 1.0 and goes to the lower temperature.
    let best: Vec<(u64, f64)> = report.best.iter().map(|b| (b.k, b.temperature)).collect();
    assert_eq!(best, [(1, 1.0), (5, 1.5), (10, 0.5)]);
    assert!(close(report.best[0].value, 0.5));
    assert_eq!(report.ks(), [1, 5, 10]);

    // Heat map: rows by question, columns by temperature.
    assert_eq!(report.heatmap.temperatures, [0.5, 1.0, 1.5]);
    let rows: Vec<(usize, Vec<Option<f64>>)> = report
        .heatmap
        .rows
        .iter()
        .map(|r| (r.question_idx, r.rates.clone()))
        .collect();
    assert_eq!(
        rows,
        [
            (0, vec![Some(0.3), Some(0.5), Some(0.4)]),
            (1, vec![Some(0.1), Some(0.2), None]),
            (3, vec![Some(0.5), Some(0.8), None]),
        ]
    );
    assert_eq!(report.skipped[0].id, "id2");
    assert_eq!(report.warnings.len(), 2);
    // The JSON form carries the same numbers.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["temperatures"][0]["verdicts"]["wrong_answer"], 13);
    assert_eq!(json["best"][1]["temperature"], 1.5);
}

#[test]
fn report_question_view() {
    let (_dir, tree) = sample_tree();
    let q0 = QuestionView::new(&tree, 0).unwrap();
    assert_eq!(q0.id, "id0");
    assert_eq!(q0.temperatures.len(), 3);
    let t05 = &q0.temperatures[0];
    assert_eq!((t05.n, t05.passed), (10, 3));
    assert_eq!(t05.ci, wilson(3, 10));
    let ks: Vec<u64> = t05.pass_at_k.iter().map(|p| p.k).collect();
    assert_eq!(ks, [1, 5, 10]);
    assert!(close(t05.pass_at_k[1].value, 1.0 - 21.0 / 252.0));
    assert_eq!(t05.verdicts.unwrap().no_code, 1);
    // pass@1 best at 1.0 (0.5); pass@5: 0.917, 0.996, 1.0 → 1.5.
    let best: Vec<(u64, f64)> = q0.best.iter().map(|b| (b.k, b.temperature)).collect();
    assert_eq!(best, [(1, 1.0), (5, 1.5), (10, 0.5)]);

    let q2 = QuestionView::new(&tree, 2).unwrap();
    assert_eq!(q2.skipped.as_deref(), Some("greedy_passed"));
    assert!(q2.temperatures.is_empty());

    let err = QuestionView::new(&tree, 7).unwrap_err().to_string();
    assert!(
        err.contains("question 7") && err.contains("q0..q3"),
        "{err}"
    );
}

#[test]
fn report_compare_two_trees() {
    let (_dir, a) = sample_tree();
    let dir_b = tempfile::tempdir().unwrap();
    // B: q1 passes 3/10 at T = 0.5 instead of 1/10; everything else equal.
    build_tree(dir_b.path(), &verdicts(&[(Passed, 3), (WrongAnswer, 7)]));
    let b = ResultsTree::load(dir_b.path()).unwrap();
    let cmp = Comparison::new(&a, &b);
    assert_eq!(cmp.rows.len(), 3);
    let r = &cmp.rows[0];
    assert!(close(r.a.unwrap(), 0.3) && close(r.b.unwrap(), 1.1 / 3.0));
    assert!(close(r.delta.unwrap(), 0.2 / 3.0));
    // Paired differences 0, 0.2, 0: mean 0.0667, s² = 0.04/3, half-width z·s/√3 = z·0.2/3.
    assert_eq!(r.common_questions, 3);
    assert!(close(r.paired_delta.unwrap(), 0.2 / 3.0));
    let ci = r.paired_ci.unwrap();
    assert!(close(ci.low, 0.2 / 3.0 - Z95 * 0.2 / 3.0));
    assert!(close(ci.high, 0.2 / 3.0 + Z95 * 0.2 / 3.0));
    // pass@5 differs only through q1: (1 - C(7,5)/C(10,5)) - (1 - C(9,5)/C(10,5)) over 3.
    let d5 = r.pass_at_k.iter().find(|p| p.k == 5).unwrap();
    assert!(close(d5.delta, ((1.0 - 21.0 / 252.0) - 0.5) / 3.0));
    // Elsewhere nothing changed.
    assert!(close(cmp.rows[1].delta.unwrap(), 0.0));
    assert_eq!(cmp.rows[2].common_questions, 1);
    assert_eq!(cmp.rows[2].paired_ci, None);
    assert!(close(cmp.rows[2].paired_delta.unwrap(), 0.0));
    assert_eq!(cmp.best_b[0].temperature, 1.0);
}

#[test]
fn report_reads_run_summary() {
    let dir = tempfile::tempdir().unwrap();
    build_tree(dir.path(), &q1_default());
    let store = ResultStore::new(dir.path());
    let run = RunSummary {
        tool_version: "0.1.0".into(),
        format_version: FORMAT_VERSION,
        settings: SweepSettings {
            model: "synthetic-model".into(),
            temperatures: vec![0.5, 1.0, 1.5],
            n: 10,
            max_tokens: 64,
            stop: vec![],
            top_p: 1.0,
            top_k: None,
            prompt_style: Default::default(),
            thinking: false,
            seed: 0,
            skip_greedy_solved: true,
            cot: false,
            repair_from: None,
        },
        problems: "synthetic.jsonl".into(),
        scenario: Default::default(),
        problem_set: "6 problems, blake3 0123456789abcdef".into(),
        generator: serde_json::Value::Null,
        model_config: serde_json::json!({}),
        evaluator: serde_json::json!({}),
        questions: (0..6).collect(),
        shard: None,
        started: "2025-01-01T00:00:00Z".into(),
        finished: None,
        totals: serde_json::json!({}),
    };
    store.write(&store.run_summary_path(), &run).unwrap();
    let report = Report::new(&ResultsTree::load(dir.path()).unwrap());
    assert_eq!(report.model.as_deref(), Some("synthetic-model"));
    assert_eq!(report.questions_planned, Some(6));
    assert_eq!(report.finished, Some(false));
}

#[test]
fn report_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = ResultsTree::load(&missing).unwrap_err();
    assert!(matches!(err, ReportError::MissingDirectory { .. }));
    assert!(err.to_string().contains("nope"), "{err}");

    let file = dir.path().join("file.json");
    std::fs::write(&file, "{}").unwrap();
    let err = ResultsTree::load(&file).unwrap_err();
    assert!(matches!(err, ReportError::NotADirectory { .. }), "{err}");

    // Empty: no question directories; then one whose only file is broken.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = ResultsTree::load(&empty).unwrap_err();
    assert!(
        matches!(err, ReportError::EmptyTree { unreadable: 0, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("no results yet"), "{err}");
    std::fs::create_dir(empty.join("q0")).unwrap();
    std::fs::write(empty.join("q0/t0_5_n10.json"), "not json").unwrap();
    let err = ResultsTree::load(&empty).unwrap_err();
    assert!(
        matches!(err, ReportError::EmptyTree { unreadable: 1, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("1 result file could not be read"),
        "{err}"
    );
}

#[test]
fn report_refuses_another_format_version() {
    let dir = tempfile::tempdir().unwrap();
    build_tree(dir.path(), &q1_default());
    // A file of a future format that also changed shape: still a version error, not a warning.
    let path = ResultStore::new(dir.path()).temperature_path(1, 1.0, 10);
    let future = FORMAT_VERSION + 1;
    std::fs::write(
        &path,
        format!(r#"{{"format_version": {future}, "cells": []}}"#),
    )
    .unwrap();
    let err = ResultsTree::load(dir.path()).unwrap_err();
    match &err {
        ReportError::FormatVersion { path: p, found, .. } => {
            assert!(p == &path && *found == future.to_string())
        }
        other => panic!("{other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("t1_0_n10.json") && text.contains(&format!("version {future}")),
        "{text}"
    );

    // Same shape, other version.
    let dir = tempfile::tempdir().unwrap();
    build_tree(dir.path(), &q1_default());
    let path = ResultStore::new(dir.path()).skipped_path(2);
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    value["format_version"] = serde_json::json!(FORMAT_VERSION + 1);
    std::fs::write(&path, value.to_string()).unwrap();
    let err = ResultsTree::load(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("skipped.json") && err.contains("result format version"),
        "{err}"
    );
}

#[test]
fn report_reads_trees_of_the_previous_format_version() {
    let dir = tempfile::tempdir().unwrap();
    build_tree(dir.path(), &q1_default());
    let expected = ResultsTree::load(dir.path()).unwrap();
    // Version 1 files have the same fields; only the samples' random streams differed.
    let path = ResultStore::new(dir.path()).temperature_path(1, 1.0, 10);
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    value["format_version"] = serde_json::json!(1);
    std::fs::write(&path, value.to_string()).unwrap();
    let tree = ResultsTree::load(dir.path()).unwrap();
    let (got, want) = (Report::new(&tree), Report::new(&expected));
    assert_eq!(
        got.warnings.len(),
        want.warnings.len(),
        "{:?}",
        got.warnings
    );
    assert_eq!(got.questions_sampled, want.questions_sampled);
    assert_eq!(got.heatmap.rows.len(), want.heatmap.rows.len());
}

#[test]
fn report_skips_inconsistent_files() {
    let dir = tempfile::tempdir().unwrap();
    build_tree(dir.path(), &q1_default());
    let path = ResultStore::new(dir.path()).temperature_path(0, 1.5, 5);
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    value["passed"] = serde_json::json!(4);
    std::fs::write(&path, value.to_string()).unwrap();
    let tree = ResultsTree::load(dir.path()).unwrap();
    assert_eq!(tree.temperatures(), [0.5, 1.0]);
    let w = tree.warnings.iter().find(|w| w.path == path).unwrap();
    assert!(w.message.contains("inconsistent"), "{w}");
}
