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
    // Paged: blocks of 16 tokens, two prompts resident; then 200 tokens per sample in the
    // worst case, and 200 expected (300 by default, but no more than --max-tokens).
    let blocks = memory / (16 * per_token);
    assert_eq!(info["kv_blocks"], blocks);
    let left = blocks - 2 * longest.div_ceil(16);
    assert_eq!(c["paged_worst_case"], left / 13);
    assert_eq!(c["paged_expected"], left / 13);
    assert_eq!(info["expected_tokens"], 200);
    let shorter = succeed(&mut info_on_fixtures(&[
        "--memory",
        "100MiB",
        "--expected-tokens",
        "40",
        "--json",
    ]));
    let shorter: Value = serde_json::from_slice(&shorter.stdout).unwrap();
    assert_eq!(shorter["concurrent_samples"]["paged_expected"], left / 3);

    // The text view says the same.
    let text = stdout(&succeed(&mut info_on_fixtures(&[])));
    assert!(
        text.contains(&format!("longest {longest} (q{longest_q})")),
        "{text}"
    );
}

/// The reference workload's plan without its files: Qwen3-0.6B's shape in bf16, one
/// 561-token prompt, samples averaging 300 of at most 2,048 tokens, in the 125 GiB of cache an
/// H200 (141 GB) leaves: at least 2,000 samples decode at once.
#[test]
fn the_reference_shape_decodes_two_thousand_samples_in_125_gib() {
    let reference = [
        "info",
        "--shape",
        "0.6b",
        "--prompt-tokens",
        "561",
        "--memory",
        "125GiB",
    ];
    let out = succeed(lcb().args(reference).arg("--json"));
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    // 28 layers × 8 heads × 128 dims × K and V × 2 bytes = 112 KiB per token.
    assert_eq!(info["kv_bytes_per_token"], 112 * 1024);
    let blocks = (125u64 << 30) / (16 * 112 * 1024);
    assert_eq!(info["kv_blocks"], blocks);
    let c = &info["concurrent_samples"];
    // Two 561-token prompts of 36 blocks; 300 tokens take 19 blocks, 2,048 take 128.
    assert_eq!(c["paged_expected"], (blocks - 72) / 19);
    assert!(c["paged_expected"].as_u64().unwrap() >= 2000, "{c}");
    assert_eq!(c["paged_worst_case"], (blocks - 72) / 128);
    let text = stdout(&succeed(lcb().args(reference)));
    assert!(text.contains("paged, expected       3845"), "{text}");
    // A shape needs a prompt length; a model or a shape is needed.
    fail(lcb().args(["info", "--shape", "0.6b", "--memory", "1GiB"]));
    fail(lcb().args(["info", "--prompt-tokens", "5"]));
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
