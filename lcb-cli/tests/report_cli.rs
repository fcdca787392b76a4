//! `lcb report` end to end: a synthetic results tree written with lcb-core's store types,
//! the binary run on it, its output and files checked against hand-computed values.

mod common;

use std::path::Path;
use std::process::Command;

use common::{fail, lcb, output, succeed};

use lcb_core::generator::FinishReason;
use lcb_core::sweep::store::{
    CompletionRecord, RecordedSampling, ResultStore, Skipped, TemperatureResult, FORMAT_VERSION,
};
use lcb_core::verdict::Verdict;

fn record(verdict: Verdict) -> CompletionRecord {
    CompletionRecord {
        raw: "```python\nprint(1)\n```".into(),
        passed: verdict.passed(),
        verdict,
        finish_reason: FinishReason::Stop,
        num_tokens: 5,
    }
}

/// Writes `q{idx}/t{T}_n{n}.json` with `passed` passes and the rest wrong answers.
fn write_sample(store: &ResultStore, idx: usize, t: f64, n: usize, passed: usize) {
    let completions: Vec<CompletionRecord> = (0..n)
        .map(|i| {
            record(if i < passed {
                Verdict::Passed
            } else {
                Verdict::WrongAnswer
            })
        })
        .collect();
    let result = TemperatureResult {
        model: "synthetic".into(),
        prompt: "p".into(),
        sampling_params: RecordedSampling {
            temperature: t,
            top_p: 1.0,
            top_k: None,
            max_tokens: 16,
            stop: vec![],
            seed: 0,
        },
        model_config: serde_json::json!({}),
        question_idx: idx,
        question_id: format!("id{idx}"),
        question_title: format!("Title {idx}"),
        temperature: t,
        n,
        passed,
        pass_rate: 100.0 * passed as f64 / n as f64,
        gen_tps: 0.0,
        eval_tps: 0.0,
        pipeline_tps: 0.0,
        completions,
        format_version: FORMAT_VERSION,
    };
    store
        .write(&store.temperature_path(idx, t, n), &result)
        .unwrap();
}

/// q0: 3/10 at T=0.5, 5/10 at T=1.0; q1: 1/10, 2/10; q2 solved greedily.
fn build(root: &Path, q1_at_half: usize) {
    let store = ResultStore::new(root);
    write_sample(&store, 0, 0.5, 10, 3);
    write_sample(&store, 0, 1.0, 10, 5);
    write_sample(&store, 1, 0.5, 10, q1_at_half);
    write_sample(&store, 1, 1.0, 10, 2);
    let skipped = Skipped {
        question_idx: 2,
        question_id: "id2".into(),
        question_title: "Title 2".into(),
        reason: "greedy_passed".into(),
        greedy: record(Verdict::Passed),
        format_version: FORMAT_VERSION,
    };
    store.write(&store.skipped_path(2), &skipped).unwrap();
}

/// `lcb report ARGS`.
fn report(args: &[&str]) -> Command {
    let mut command = lcb();
    command.arg("report").args(args);
    command
}

fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[test]
fn report_prints_numbers_and_writes_images() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("results");
    build(&tree, 1);
    let png = dir.path().join("report.png");
    let svg = dir.path().join("report.svg");
    let html = dir.path().join("report.html");
    let stdout = common::stdout(&succeed(&mut report(&[
        tree.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ])));
    // pass@1 = mean of per-question rates: (0.3 + 0.1)/2 and (0.5 + 0.2)/2.
    assert!(
        stdout.contains("20.00%") && stdout.contains("35.00%"),
        "{stdout}"
    );
    // pass@10 at T=0.5: both questions have a pass, so 100%.
    assert!(stdout.contains("pass@10"), "{stdout}");
    assert!(
        stdout.contains("Best temperature: pass@1 T=1.0 (35.00%)"),
        "{stdout}"
    );
    // Verdicts at T=0.5: 4 passed, 16 wrong answers.
    let row = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Verdicts"))
        .find(|l| l.trim_start().starts_with("0.5"))
        .unwrap();
    let counts: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(counts, ["0.5", "4", "16", "0", "0", "0", "0"], "{row}");
    assert!(stdout.contains("q2  id2  Title 2"), "{stdout}");

    // Two questions: the heat map has its minimum height, 1200 x (450 + 300).
    assert_eq!(png_size(&png), (1200, 750));
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.contains("width=\"1200\"") && svg.contains("height=\"750\""));
    // plotters writes each label on its own line inside <text>…</text>.
    for label in [
        "temperature",
        "pass@1",
        "question",
        "0.5",
        "1.0",
        "q0",
        "q1",
    ] {
        assert!(
            svg.contains(&format!(">\n{label}\n</text>")),
            "SVG lacks {label}"
        );
    }
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.contains("<svg") && html.contains("35.00%") && !html.contains("<script"));
}

#[test]
fn report_json_question_and_compare() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    build(&a, 1);
    build(&b, 3);

    let out = succeed(&mut report(&[a.to_str().unwrap(), "--json"]));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["temperatures"][0]["temperature"], 0.5);
    assert!((json["temperatures"][0]["pass_rate"].as_f64().unwrap() - 0.2).abs() < 1e-12);
    assert_eq!(json["temperatures"][0]["verdicts"]["wrong_answer"], 16);
    assert_eq!(json["skipped"][0]["idx"], 2);

    let stdout = common::stdout(&succeed(&mut report(&[
        a.to_str().unwrap(),
        "--question",
        "0",
    ])));
    // 3/10: Wilson 95% interval [10.78, 60.32]; pass@5 = 1 - C(7,5)/C(10,5) = 91.67%.
    assert!(
        stdout.contains("[10.78, 60.32]") && stdout.contains("91.67%"),
        "{stdout}"
    );

    let png = dir.path().join("cmp.png");
    let stdout = common::stdout(&succeed(&mut report(&[
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
    ])));
    // At T=0.5, B is 30% against A's 20%.
    assert!(stdout.contains("+10.00 pp"), "{stdout}");
    assert_eq!(png_size(&png), (1200, 450));
}

#[test]
fn report_errors_are_one_line_and_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let stderr = fail(&mut report(&[missing.to_str().unwrap()]));
    assert!(
        stderr.contains("missing") && stderr.contains("no such directory"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = output(&mut report(&[empty.to_str().unwrap()]));
    assert!(common::stderr(&out).contains("no results yet"), "{out:?}");

    let tree = dir.path().join("v2");
    build(&tree, 1);
    let file = tree.join("q0").join("t0_5_n10.json");
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    value["format_version"] = serde_json::json!(FORMAT_VERSION + 1);
    std::fs::write(&file, value.to_string()).unwrap();
    let png = dir.path().join("never.png");
    let stderr = fail(&mut report(&[
        tree.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
    ]));
    assert!(
        stderr.contains("t0_5_n10.json") && stderr.contains("format version"),
        "{stderr}"
    );
    assert!(!png.exists());

    let ok = dir.path().join("ok");
    build(&ok, 1);
    let stderr = fail(&mut report(&[ok.to_str().unwrap(), "--question", "9"]));
    assert!(
        stderr.contains("question 9") && stderr.contains("q0..q2"),
        "{stderr}"
    );
}
