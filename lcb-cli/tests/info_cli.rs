//! `lcb info` on the embedded model and problems: every number against values computed here
//! from the model's files and the recorded prompt ids.

mod common;

use std::process::Command;

use common::{fail, fixture, lcb, read_json_lines, stdout, succeed};
use serde_json::Value;

/// `lcb info` on the embedded model and problems, 200 new tokens per sample.
fn info_on_fixtures(extra: &[&str]) -> Command {
    let mut command = lcb();
    command.args([
        "info",
        "--model",
        "fixtures/model",
        "--problems",
        "fixtures/problems/lcb_fixtures.jsonl",
        "--max-tokens",
        "200",
    ]);
    command.args(extra);
    command
}

#[test]
fn token_budget_and_memory_plan_match_hand_computed_values() {
    let out = succeed(&mut info_on_fixtures(&["--memory", "100MiB", "--json"]));
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();

    // Prompt lengths from the references recorded with transformers' tokenizer, in the
    // benchmark order (sorted by question id, as the references are).
    let lens: Vec<usize> = read_json_lines(&fixture("model/greedy_refs.jsonl"))
        .iter()
        .map(|r| r["ids"].as_array().unwrap().len())
        .collect();
    assert_eq!(info["questions"], 45);
    let longest = *lens.iter().max().unwrap();
    let shortest = *lens.iter().min().unwrap();
    let longest_q = lens.iter().position(|&l| l == longest).unwrap();
    let shortest_q = lens.iter().position(|&l| l == shortest).unwrap();
    let p = &info["prompt_tokens"];
    assert_eq!(p["longest"]["tokens"], longest);
    assert_eq!(p["longest"]["question_idx"], longest_q);
    assert_eq!(p["shortest"]["tokens"], shortest);
    assert_eq!(p["shortest"]["question_idx"], shortest_q);
    let mean = lens.iter().sum::<usize>() as f64 / 45.0;
    assert!((p["mean"].as_f64().unwrap() - mean).abs() < 1e-9);
    assert_eq!(info["context_needed"], longest + 200);

    // config.json: 2 layers, 2 key/value heads of 32 dims; bf16 = 2 bytes; K and V.
    let per_token = 2 * 2 * 2 * 32 * 2;
    assert_eq!(info["kv_bytes_per_token"], per_token);
    let memory = 100usize << 20;
    let c = &info["concurrent_samples"];
    assert_eq!(c["unshared"], memory / ((longest + 200) * per_token));
    // Shared: two prompts resident, then 200 tokens per sample.
    assert_eq!(
        c["shared_prompt"],
        (memory - 2 * longest * per_token) / (200 * per_token)
    );

    // The text view says the same.
    let text = stdout(&succeed(&mut info_on_fixtures(&[])));
    assert!(
        text.contains(&format!("longest {longest} (q{longest_q})")),
        "{text}"
    );
}

#[test]
fn missing_inputs_are_named() {
    let err = fail(lcb().args([
        "info",
        "--model",
        "no-such-model-dir",
        "--problems",
        "x.jsonl",
    ]));
    assert!(err.contains("no-such-model-dir"), "{err}");
    let err = fail(lcb().args([
        "info",
        "--model",
        "fixtures/model",
        "--problems",
        "missing.jsonl",
    ]));
    assert!(err.contains("missing.jsonl"), "{err}");
}
