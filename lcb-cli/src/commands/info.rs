//! `lcb info`: the token budget of a model on a problem set, before running a sweep.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use candle_core::DType;
use lcb_core::generator::Prompt;
use lcb_core::hub::HubOptions;
use lcb_core::problem::Problem;
use lcb_core::prompt::{prompt_for, PromptOptions};
use lcb_engine::config::Qwen3Config;
use lcb_engine::device::{dtype_name, parse_dtype};
use lcb_engine::engine::MemoryPlan;
use lcb_engine::loader::{ModelFiles, ModelSource};
use lcb_engine::model::BLOCK_TOKENS;
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
/// and how many samples decode at once in --memory with lcb's paged cache (blocks of 16
/// tokens, the prompt's cache shared by all its samples, two prompts resident): when samples
/// average --expected-tokens, as the engine plans by default, and when every sample runs to
/// --max-tokens (the worst case, what a fixed slot per sample would reserve); and without
/// sharing (every sample holding its own copy of the prompt).
///
/// Without a model or problems at hand, --shape 0.6b --prompt-tokens N plans for Qwen3-0.6B's
/// shape and one N-token prompt.
///
/// Examples:
///   lcb info --model fixtures/model --problems fixtures/problems/lcb_fixtures.jsonl
///   lcb info --model Qwen/Qwen3-0.6B --problems livecodebench/code_generation_lite@v6 --memory 60GiB
///   lcb info --shape 0.6b --prompt-tokens 561 --memory 125GiB
#[derive(clap::Args)]
#[command(
    mut_arg("problems", |a| a.required_unless_present("prompt_tokens")),
    mut_arg("questions", |a| a.help("Questions to count: `10..50` (end exclusive) or `1,4,7`")),
)]
pub struct InfoArgs {
    /// Model: a local Hugging Face directory or a hub id (only its config and tokenizer are
    /// read).
    #[arg(long, value_name = "DIR|HUB_ID", required_unless_present = "shape")]
    model: Option<String>,
    /// Plan for a model shape instead of a model's files: `0.6b` (Qwen3-0.6B); needs
    /// --prompt-tokens.
    #[arg(long, value_enum, conflicts_with = "model", requires = "prompt_tokens")]
    shape: Option<InfoShape>,
    /// Plan for one prompt of this many tokens instead of counting a problem set's.
    #[arg(long, value_name = "N", value_parser = at_least_one, conflicts_with = "problems")]
    prompt_tokens: Option<usize>,
    /// Tokens a sample is expected to generate on average (the engine's --expected-tokens).
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    expected_tokens: Option<usize>,
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

/// A model shape `lcb info` knows without files.
#[derive(Clone, Copy, clap::ValueEnum)]
enum InfoShape {
    #[value(name = "0.6b")]
    Qwen3_0_6B,
}

/// Runs `lcb info`.
pub fn run(args: InfoArgs) -> Result<ExitCode> {
    // The model: its shape, its name, and its files when it has them.
    let (cfg, model_name, files) = match &args.model {
        None => (
            Qwen3Config::qwen3_0_6b(),
            "Qwen3-0.6B shape".to_owned(),
            None,
        ),
        Some(model) => {
            let hub = HubOptions::default();
            let files = ModelFiles::resolve(&ModelSource::parse(model)?, &hub)
                .with_context(|| format!("cannot find the model `{model}`"))?;
            (files.config()?, model.clone(), Some(files))
        }
    };
    // The prompts: one of --prompt-tokens, or each selected problem's, rendered and counted.
    let (counts, source) = match (args.prompt_tokens, &files) {
        (Some(tokens), _) => (vec![(0, tokens)], format!("one {tokens}-token prompt")),
        (None, Some(files)) => {
            let source = args.problems.required();
            (
                prompt_counts(&args, source, files, &cfg)?,
                source.to_owned(),
            )
        }
        (None, None) => bail!("lcb info needs --model, or --shape with --prompt-tokens"),
    };
    report(&args, &cfg, &model_name, &source, &counts)
}

/// Each selected question's prompt length in tokens, as `(question index, tokens)`.
fn prompt_counts(
    args: &InfoArgs,
    source: &str,
    files: &ModelFiles,
    cfg: &Qwen3Config,
) -> Result<Vec<(usize, usize)>> {
    let encoder = PromptEncoder::from_files(files, cfg)?;
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
    Ok(counts)
}

/// Prints the token budget and memory plan of `counts` (`(question index, prompt tokens)`).
fn report(
    args: &InfoArgs,
    cfg: &Qwen3Config,
    model: &str,
    source: &str,
    counts: &[(usize, usize)],
) -> Result<ExitCode> {
    let (memory, dtype) = (args.memory, args.dtype);
    let (longest_q, longest) = *counts
        .iter()
        .max_by_key(|c| (c.1, usize::MAX - c.0))
        .unwrap();
    let (shortest_q, shortest) = *counts.iter().min_by_key(|c| c.1).unwrap();
    let mean = counts.iter().map(|c| c.1).sum::<usize>() as f64 / counts.len() as f64;
    let context = longest + args.max_tokens;
    let per_token = cfg.kv_bytes_per_token(dtype.size_in_bytes()) as u64;
    let unshared = memory / (context as u64 * per_token);
    let config = EngineConfig {
        kv_memory: memory,
        max_new_tokens: args.max_tokens,
        max_slots: None,
        expected_new_tokens: args.expected_tokens,
        max_prompt_tokens: longest,
        ..Default::default()
    };
    let expected_tokens = config.expected_new_tokens();
    let plan = MemoryPlan::new(cfg, dtype, &config).ok();
    let (expected, worst) = plan.map_or((0, 0), |p| (p.expected_samples, p.worst_case_samples));
    let max_positions = cfg.max_position_embeddings;

    if args.json {
        let value = json!({
            "model": model,
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
            "kv_block_tokens": BLOCK_TOKENS,
            "kv_blocks": plan.map_or(0, |p| p.kv_blocks),
            "expected_tokens": expected_tokens,
            "concurrent_samples": {
                "paged_expected": expected,
                "paged_worst_case": worst,
                "shared_prompt": worst,
                "unshared": unshared,
            },
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "model      {} ({} layers, {} KV heads × {} dims)",
        model, cfg.num_hidden_layers, cfg.num_key_value_heads, cfg.head_dim
    );
    let questions = if counts.len() == 1 {
        "question"
    } else {
        "questions"
    };
    println!("problems   {source} ({} {questions})", counts.len());
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
    println!(
        "concurrent samples in {} ({} blocks of {BLOCK_TOKENS} tokens; two prompts resident, \
         shared by their samples):",
        human_bytes(memory),
        plan.map_or(0, |p| p.kv_blocks)
    );
    println!(
        "  paged, expected   {expected:>8}   (samples averaging {expected_tokens} new tokens: \
         --expected-tokens; what the engine decodes at once by default)"
    );
    println!(
        "  paged, worst case {worst:>8}   (every sample to {} new tokens)",
        args.max_tokens
    );
    println!("  prompt per sample {unshared:>8}   ({context} tokens per sample, no sharing)");
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
