//! `lcb info` on the embedded model and problems: every number against values computed here
//! from the model's files and the recorded prompt ids.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn lcb(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lcb"))
        .current_dir(repo())
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn token_budget_and_memory_plan_match_hand_computed_values() {
    let out = lcb(&[
        "info",
        "--model",
        "fixtures/model",
        "--problems",
        "fixtures/problems/lcb_fixtures.jsonl",
        "--max-tokens",
        "200",
        "--memory",
        "100MiB",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();

    // Prompt lengths from the references recorded with transformers' tokenizer, in the
    // benchmark order (sorted by question id, as the references are).
    let lens: Vec<usize> = std::fs::read_to_string(repo().join("fixtures/model/greedy_refs.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["ids"]
                .as_array()
                .unwrap()
                .len()
        })
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
    let text = lcb(&[
        "info",
        "--model",
        "fixtures/model",
        "--problems",
        "fixtures/problems/lcb_fixtures.jsonl",
        "--max-tokens",
        "200",
    ]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains(&format!("longest {longest} (q{longest_q})")),
        "{text}"
    );
}

#[test]
fn missing_inputs_are_named() {
    let out = lcb(&[
        "info",
        "--model",
        "no-such-model-dir",
        "--problems",
        "x.jsonl",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-model-dir"));
    let out = lcb(&[
        "info",
        "--model",
        "fixtures/model",
        "--problems",
        "missing.jsonl",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.jsonl"));
}
