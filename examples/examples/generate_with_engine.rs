//! Plain generation with lcb's engine from Rust: load a model directory (here the embedded
//! tiny Qwen3), send one chat prompt with two groups of samples at different temperatures,
//! and print each completion as it finishes.
//!
//! ```text
//! cargo run --release -p lcb-examples --example generate_with_engine
//! cargo run --release -p lcb-examples --example generate_with_engine -- path/or/hub-id
//! ```

use lcb_core::generator::{GenerationRequest, Generator, Prompt, SampleGroup, SamplingParams};
use lcb_core::hub::HubOptions;
use lcb_core::prompt::ChatMessage;
use lcb_engine::{Engine, EngineConfig};

fn main() -> anyhow::Result<()> {
    let model = std::env::args()
        .nth(1)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/model").to_owned());
    let engine = Engine::load(
        &model,
        &HubOptions::default(),
        EngineConfig {
            max_new_tokens: 256,
            kv_memory: 512 << 20,
            ..Default::default()
        },
    )?;
    let prompt = Prompt::Chat {
        messages: vec![ChatMessage::new(
            "user",
            "Write a Python program that reads two integers and prints their sum.",
        )],
        enable_thinking: false,
    };
    println!("prompt:\n{}", engine.prompt_text(&prompt)?);
    // One request, two groups: every sample shares the prompt's single prefill. A group's
    // `stream` keys its random draws, so each group is reproducible on its own.
    let group = |temperature: f32, stream: u64| SampleGroup {
        params: SamplingParams {
            temperature,
            max_tokens: 256,
            stop: vec!["```\n\n".into()],
            seed: 7,
            ..Default::default()
        },
        n: 3,
        stream,
        skip: Vec::new(),
    };
    let completions = engine.submit(GenerationRequest {
        shares_prefix_with: None,
        prompt,
        groups: vec![group(0.2, 0), group(1.2, 1)],
    })?;
    for c in completions {
        let c = c?;
        println!(
            "--- group {} sample {} ({} tokens, {:?})\n{}",
            c.group,
            c.index,
            c.token_ids.len(),
            c.finish_reason,
            c.text
        );
    }
    Ok(())
}
