//! `lcb generate` greedy output of a tiny random Qwen3 equals Hugging Face transformers'
//! token for token: the references in `lcb-engine/tests/reference/qwen3_tiny` were
//! produced by transformers' `generate` (float32, eager attention) by `make_reference.py`.

mod common;

use std::io::Read;
use std::path::Path;

use common::{fixture, json_lines, lcb, read_json, repo, stdout, succeed};
use serde_json::Value;

/// The reference model as a Hugging Face directory: its config and weights plus the vendored
/// Qwen3 tokenizer.
fn model_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let reference = repo().join("lcb-engine/tests/reference/qwen3_tiny");
    for name in ["config.json", "generation_config.json"] {
        std::fs::copy(reference.join(name), dir.path().join(name)).unwrap();
    }
    let gz = std::fs::read(reference.join("model.safetensors.gz")).unwrap();
    let mut weights = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut weights)
        .unwrap();
    std::fs::write(dir.path().join("model.safetensors"), weights).unwrap();
    let tokenizer = fixture("tokenizer/qwen3");
    for name in ["tokenizer.json.gz", "tokenizer_config.json"] {
        std::fs::copy(tokenizer.join(name), dir.path().join(name)).unwrap();
    }
    dir
}

fn generate(model: &Path, prompt_args: &[&str], new_tokens: usize) -> Vec<Value> {
    let out = succeed(
        lcb()
            .arg("generate")
            .arg("--model")
            .arg(model)
            .args(prompt_args)
            .args([
                "--temperature",
                "0",
                "--ignore-eos",
                "-n",
                "2",
                "--max-tokens",
            ])
            .arg(new_tokens.to_string()),
    );
    json_lines(&stdout(&out))
}

#[test]
fn greedy_output_matches_transformers_token_for_token() {
    let cases = read_json(&repo().join("lcb-engine/tests/reference/qwen3_tiny/cases.json"));
    let new_tokens = cases["generator"]["new_tokens"].as_u64().unwrap() as usize;
    let dir = model_dir();
    let mut checked = 0;
    for case in cases["cases"].as_array().unwrap() {
        let prompt_args: Vec<String> = match case["kind"].as_str().unwrap() {
            "text" => vec!["--prompt".into(), case["prompt"].as_str().unwrap().into()],
            // `lcb generate --chat` sends one user message; other chat cases are covered by
            // the engine's own parity test.
            "chat" => {
                let messages = case["messages"].as_array().unwrap();
                if messages.len() != 1 || case["enable_thinking"] != Value::Bool(false) {
                    continue;
                }
                vec![
                    "--chat".into(),
                    "--no-thinking".into(),
                    "--prompt".into(),
                    messages[0]["content"].as_str().unwrap().into(),
                ]
            }
            other => panic!("unknown case kind {other}"),
        };
        let args: Vec<&str> = prompt_args.iter().map(String::as_str).collect();
        let lines = generate(dir.path(), &args, new_tokens);
        assert_eq!(lines.len(), 2);
        for (i, line) in lines.iter().enumerate() {
            assert_eq!(line["index"], i);
            assert_eq!(
                line["token_ids"], case["greedy_ids"],
                "{:?}",
                case["prompt"]
            );
            assert_eq!(line["text"], case["greedy_text"]);
            assert_eq!(line["finish_reason"], "length");
            let got = line["logprobs"].as_array().unwrap();
            let want = case["greedy_logprobs"].as_array().unwrap();
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(want) {
                assert!((g.as_f64().unwrap() - w.as_f64().unwrap()).abs() < 2e-5);
            }
        }
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} cases checked");
}
