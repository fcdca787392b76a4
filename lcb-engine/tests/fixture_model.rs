//! The embedded default model (`fixtures/model`) through lcb's engine reproduces the
//! references recorded with independent implementations (`greedy_refs.jsonl`: prompts
//! rendered by transformers' chat template, ids from the tokenizer, greedy tokens from
//! candle-transformers and a float64 numpy forward pass): every prompt byte for byte, every
//! prompt id, every greedy token, for all 45 fixture problems decoded together.

mod common;

use common::{fixture_prompts, greedy_reference_group, greedy_references, repo};
use lcb_core::generator::{FinishReason, GenerationRequest, Generator};
use lcb_core::hub::HubOptions;
use lcb_engine::engine::{Engine, EngineConfig};

#[derive(serde::Deserialize)]
struct Reference {
    question_id: String,
    prompt: String,
    ids: Vec<u32>,
    greedy_ids: Vec<u32>,
    greedy_finish: String,
}

#[test]
fn fixture_model_reproduces_the_recorded_prompts_ids_and_greedy_tokens() {
    let refs: Vec<Reference> = greedy_references();
    assert_eq!(refs.len(), 45);
    let prompts = fixture_prompts(refs.iter().map(|r| r.question_id.as_str()));
    let engine = Engine::load(
        repo().join("fixtures/model").to_str().unwrap(),
        &HubOptions::default(),
        EngineConfig {
            kv_memory: 256 << 20,
            max_new_tokens: 512,
            max_slots: Some(16),
            ..Default::default()
        },
    )
    .unwrap();

    let mut pending = Vec::new();
    for (r, prompt) in refs.iter().zip(prompts) {
        assert_eq!(
            engine.prompt_text(&prompt).unwrap(),
            r.prompt,
            "{}: rendered prompt",
            r.question_id
        );
        assert_eq!(
            engine.encode_prompt(&prompt).unwrap(),
            r.ids,
            "{}: prompt ids",
            r.question_id
        );
        // Every request is submitted before any is read, so prompts share the batch.
        let rx = engine
            .submit(GenerationRequest {
                shares_prefix_with: None,
                prompt,
                groups: vec![greedy_reference_group()],
            })
            .unwrap();
        pending.push((r, rx));
    }
    for (r, rx) in pending {
        let c = rx.recv().unwrap().unwrap();
        // The engine reports the end-of-sequence token it stopped at (as vLLM does); the
        // references end before it.
        assert_eq!(r.greedy_finish, "eos");
        let (eos, generated) = c.token_ids.split_last().unwrap();
        assert_eq!(*eos, 1512, "{}: ends with <|im_end|>", r.question_id);
        assert_eq!(generated, r.greedy_ids, "{}: greedy tokens", r.question_id);
        assert_eq!(c.finish_reason, FinishReason::Stop, "{}", r.question_id);
        assert!(rx.recv().is_err(), "one completion per request");
    }
}
