//! `lcb info`: the token budget of a model on a problem set, before running a sweep.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use candle_core::DType;
use lcb_core::generator::Prompt;
use lcb_core::hub::HubOptions;
use lcb_core::problem::Problem;
use lcb_core::prompt::{prompt_for, PromptOptions};
use lcb_engine::device::{dtype_name, parse_dtype};
use lcb_engine::engine::MemoryPlan;
use lcb_engine::loader::{ModelFiles, ModelSource};
use lcb_engine::prompt_encoder::PromptEncoder;
use lcb_engine::EngineConfig;
use serde_json::json;

use super::sweep::PromptStyleArg;
use crate::args::at_least_one;
use crate::args::problems::{ProblemFlags, QuestionFlags};
use lcb_engine::engine::parse_memory_size;

/// Token budget and KV-cache memory for a model and a problem set.
///
/// Renders every problem's prompt exactly as `lcb sweep` would (same style, same chat
/// template) and counts its tokens with the model's tokenizer; loads no weights. Prints the
/// longest, shortest and mean prompt (with question indices), the context a sample needs
/// (longest prompt + --max-tokens), the KV-cache bytes per token from the model's config,
/// and how many samples decode at once in --memory: with the prompt's cache shared by all
/// its samples (as lcb's engine does, keeping two prompts resident) and without (every
/// sample holding its own copy, as a plain paged cache does).
///
/// Examples:
///   lcb info --model fixtures/model --problems fixtures/problems/lcb_fixtures.jsonl
///   lcb info --model Qwen/Qwen3-0.6B --problems livecodebench/code_generation_lite@v6 --memory 60GiB
#[derive(clap::Args)]
#[command(
    mut_arg("problems", |a| a.required(true)),
    mut_arg("questions", |a| a.help("Questions to count: `10..50` (end exclusive) or `1,4,7`")),
)]
pub struct InfoArgs {
    /// Model: a local Hugging Face directory or a hub id (only its config and tokenizer are
    /// read).
    #[arg(long, value_name = "DIR|HUB_ID")]
    model: String,
    #[command(flatten)]
    problems: ProblemFlags,
    /// New tokens per sample.
    #[arg(long, value_name = "N", default_value_t = 2048, value_parser = at_least_one)]
    max_tokens: usize,
    /// KV-cache memory to plan for (e.g. 60GiB).
    #[arg(long, value_name = "SIZE", default_value = "4GiB", value_parser = parse_memory_size)]
    memory: u64,
    /// KV-cache element type: f32, bf16 or f16.
    #[arg(long, value_name = "TYPE", default_value = "bf16", value_parser = parse_dtype)]
    dtype: DType,
    /// Prompt style, as for `lcb sweep`.
    #[arg(long, value_enum, default_value = "chat")]
    prompt_style: PromptStyleArg,
    /// Qwen3 thinking on in the chat template, as for `lcb sweep --thinking`.
    #[arg(long)]
    thinking: bool,
    #[command(flatten)]
    questions: QuestionFlags,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `lcb info`.
pub fn run(args: InfoArgs) -> Result<ExitCode> {
    let (memory, dtype) = (args.memory, args.dtype);
    let source = args.problems.required();
    let hub = HubOptions::default();
    let files = ModelFiles::resolve(&ModelSource::parse(&args.model)?, &hub)
        .with_context(|| format!("cannot find the model `{}`", args.model))?;
    let cfg = files.config()?;
    let encoder = PromptEncoder::from_files(&files, &cfg)?;
    let problems = args.problems.load(source)?;
    let questions = args.questions.indices(problems.len())?;
    if questions.is_empty() {
        bail!("{source}: no problems selected");
    }

    let mut counts = Vec::with_capacity(questions.len());
    for &q in &questions {
        // Each family's prompt (code execution's direct one: the chain-of-thought prompt is
        // a fixed example longer).
        let prompt = match &problems.problems()[q] {
            Problem::HumanEval(p) => Prompt::Text(p.prompt.clone()),
            problem => prompt_for(
                problem,
                PromptOptions {
                    style: args.prompt_style.into(),
                    thinking: args.thinking,
                    cot: false,
                },
            )
            .with_context(|| format!("question {q}"))?,
        };
        let ids = encoder
            .encode(&prompt)
            .with_context(|| format!("question {q}: cannot encode its prompt"))?;
        counts.push((q, ids.len()));
    }
    let (longest_q, longest) = *counts
        .iter()
        .max_by_key(|c| (c.1, usize::MAX - c.0))
        .unwrap();
    let (shortest_q, shortest) = *counts.iter().min_by_key(|c| c.1).unwrap();
    let mean = counts.iter().map(|c| c.1).sum::<usize>() as f64 / counts.len() as f64;
    let context = longest + args.max_tokens;
    let per_token = cfg.kv_bytes_per_token(dtype.size_in_bytes()) as u64;
    let unshared = memory / (context as u64 * per_token);
    let plan = EngineConfig {
        kv_memory: memory,
        max_new_tokens: args.max_tokens,
        max_slots: usize::MAX,
        max_prompt_tokens: longest,
        ..Default::default()
    };
    let shared = MemoryPlan::new(&cfg, dtype, &plan)
        .map(|p| p.slots)
        .unwrap_or(0);
    let max_positions = cfg.max_position_embeddings;

    if args.json {
        let value = json!({
            "model": args.model,
            "problems": source,
            "questions": counts.len(),
            "prompt_tokens": {
                "longest": {"tokens": longest, "question_idx": longest_q},
                "shortest": {"tokens": shortest, "question_idx": shortest_q},
                "mean": mean,
            },
            "max_tokens": args.max_tokens,
            "context_needed": context,
            "max_position_embeddings": max_positions,
            "kv_dtype": dtype_name(dtype),
            "kv_bytes_per_token": per_token,
            "memory_bytes": memory,
            "concurrent_samples": {"shared_prompt": shared, "unshared": unshared},
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "model      {} ({} layers, {} KV heads × {} dims)",
        args.model, cfg.num_hidden_layers, cfg.num_key_value_heads, cfg.head_dim
    );
    println!("problems   {source} ({} questions)", counts.len());
    println!();
    println!("prompt tokens   longest {longest} (q{longest_q}), shortest {shortest} (q{shortest_q}), mean {mean:.1}");
    println!(
        "context needed  {context} tokens = longest prompt + {} new tokens (model limit {max_positions}){}",
        args.max_tokens,
        if context > max_positions { "  ← over the model's limit" } else { "" }
    );
    println!(
        "KV cache        {} per token in {} ({} bytes)",
        human_bytes(per_token),
        dtype_name(dtype),
        per_token
    );
    println!("concurrent samples in {}:", human_bytes(memory));
    println!(
        "  prompt shared     {shared:>8}   (two prompts resident + {} new tokens per sample)",
        args.max_tokens
    );
    println!("  prompt per sample {unshared:>8}   ({context} tokens per sample)");
    Ok(ExitCode::SUCCESS)
}

/// Bytes in binary units with one decimal.
fn human_bytes(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}
