//! The vendored Qwen3 tokenizer and chat template against references produced by Hugging
//! Face transformers (`fixtures/tokenizer/make_refs.py`): rendered chat prompts must be
//! byte-identical, token ids identical, and the engine's byte table must decode to
//! transformers' `decode(ids, skip_special_tokens=True)`.

use std::path::PathBuf;

use lcb_engine::chat_template::{ChatTemplate, RenderOptions};
use lcb_engine::tokenizer::Tokenizer;
use serde_json::Value;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tokenizer/qwen3")
}

fn read_json(name: &str) -> Value {
    let path = fixture_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn chat_template_renders_exactly_as_transformers() {
    let refs = read_json("chat_template_refs.json");
    let template =
        ChatTemplate::from_files(Some(&fixture_dir().join("tokenizer_config.json")), None)
            .unwrap()
            .expect("Qwen3 has a chat template");
    let cases = refs["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    let mut failures = Vec::new();
    for case in cases {
        let options = RenderOptions {
            add_generation_prompt: case["add_generation_prompt"].as_bool().unwrap(),
            enable_thinking: case["enable_thinking"].as_bool(),
            tools: case.get("tools").filter(|t| !t.is_null()).cloned(),
        };
        let got = template.render(&case["messages"], &options);
        let want = case["text"].as_str().unwrap();
        match got {
            Ok(text) if text == want => {}
            other => failures.push(format!(
                "case {}: got {:?}\nwant {:?}",
                case["name"], other, want
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn tokenizer_ids_and_byte_table_match_transformers() {
    let refs = read_json("tokenize_refs.json");
    let tokenizer =
        Tokenizer::from_file(&fixture_dir().join("tokenizer.json.gz"), 151_936).unwrap();
    assert_eq!(tokenizer.token_to_id("<|im_end|>"), Some(151_645));
    assert!(tokenizer.is_special(151_645));
    assert!(tokenizer.token_bytes(151_645).is_empty());
    // `<think>` is an added but not special token: it is text.
    assert_eq!(tokenizer.token_bytes(151_667), b"<think>");
    // Ids past the tokenizer's vocabulary (the model's padding rows) decode to nothing.
    assert!(tokenizer.token_bytes(151_935).is_empty());
    for case in refs["cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        assert_eq!(case["add_special_tokens"], Value::Bool(false));
        let want: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
        let ids = tokenizer.encode(text).unwrap();
        assert_eq!(ids, want, "encode {:?}", case["name"]);
        let decoded = tokenizer.decode(&ids, false).unwrap();
        assert_eq!(
            decoded,
            case["decoded"].as_str().unwrap(),
            "decode {:?}",
            case["name"]
        );
        if let Some(skip) = case
            .get("decoded_skip_special_tokens")
            .and_then(Value::as_str)
        {
            assert_eq!(
                tokenizer.decode_bytes(&ids),
                skip,
                "byte table {:?}",
                case["name"]
            );
        }
    }
}
