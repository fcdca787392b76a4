//! Greedy parity with Hugging Face transformers: a tiny random Qwen3 built, run and saved by
//! `tests/reference/make_reference.py` (transformers + torch, float32, eager attention).
//! lcb must tokenize the prompts (text and chat) to the same ids, generate the same greedy
//! tokens, token for token, with the same text and log-probabilities.

use std::io::Read;
use std::path::{Path, PathBuf};

use lcb_core::generator::{GenerationRequest, Generator, Prompt, SampleGroup, SamplingParams};
use lcb_core::hub::HubOptions;
use lcb_core::prompt::ChatMessage;
use lcb_engine::engine::{Engine, EngineConfig};
use serde_json::Value;

fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The fixture as a loadable model directory: its config and weights, plus the vendored
/// Qwen3 tokenizer.
fn model_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixture = repo_path("tests/reference/qwen3_tiny");
    for name in ["config.json", "generation_config.json"] {
        std::fs::copy(fixture.join(name), dir.path().join(name)).unwrap();
    }
    let gz = std::fs::read(fixture.join("model.safetensors.gz")).unwrap();
    let mut weights = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut weights)
        .unwrap();
    std::fs::write(dir.path().join("model.safetensors"), weights).unwrap();
    let tokenizer = repo_path("../fixtures/tokenizer/qwen3");
    for name in ["tokenizer.json.gz", "tokenizer_config.json"] {
        std::fs::copy(tokenizer.join(name), dir.path().join(name)).unwrap();
    }
    dir
}

fn prompt_of(case: &Value) -> Prompt {
    match case["kind"].as_str().unwrap() {
        "text" => Prompt::Text(case["prompt"].as_str().unwrap().to_owned()),
        "chat" => Prompt::Chat {
            messages: serde_json::from_value::<Vec<ChatMessage>>(case["messages"].clone()).unwrap(),
            // `null` in the fixture: the keyword was not passed, which renders as `true`.
            enable_thinking: case["enable_thinking"].as_bool().unwrap_or(true),
        },
        other => panic!("unknown case kind {other}"),
    }
}

#[test]
fn greedy_tokens_match_transformers() {
    let cases: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_path("tests/reference/qwen3_tiny/cases.json")).unwrap(),
    )
    .unwrap();
    let dir = model_dir();
    let config = EngineConfig {
        kv_memory: 64 << 20,
        max_new_tokens: 64,
        max_slots: Some(4),
        max_prompt_tokens: 256,
        prefill_chunk: 16,
        ..Default::default()
    };
    let engine = Engine::load(path_str(dir.path()), &HubOptions::default(), config).unwrap();
    let new_tokens = cases["generator"]["new_tokens"].as_u64().unwrap() as usize;
    for case in cases["cases"].as_array().unwrap() {
        let prompt = prompt_of(case);
        assert_eq!(
            engine.prompt_text(&prompt).unwrap(),
            case["prompt"].as_str().unwrap()
        );
        let want_ids: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
        assert_eq!(engine.encode_prompt(&prompt).unwrap(), want_ids);
        let rx = engine
            .submit(GenerationRequest {
                shares_prefix_with: None,
                prompt,
                groups: vec![SampleGroup {
                    params: SamplingParams {
                        temperature: 0.0,
                        max_tokens: new_tokens,
                        ignore_eos: true,
                        ..Default::default()
                    },
                    n: 2,
                    stream: 0,
                    skip: Vec::new(),
                }],
            })
            .unwrap();
        let want: Vec<u32> = serde_json::from_value(case["greedy_ids"].clone()).unwrap();
        let want_logprobs: Vec<f32> =
            serde_json::from_value(case["greedy_logprobs"].clone()).unwrap();
        for completion in rx {
            let c = completion.unwrap();
            assert_eq!(c.token_ids, want, "{:?}", case["prompt"]);
            assert_eq!(c.text, case["greedy_text"].as_str().unwrap());
            for (got, want) in c.logprobs.iter().zip(&want_logprobs) {
                assert!((got - want).abs() < 2e-5, "logprob {got} vs {want}");
            }
        }
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}
