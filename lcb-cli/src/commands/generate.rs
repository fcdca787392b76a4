//! `lcb generate`: sample completions of one prompt with lcb's engine, as JSON Lines.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use lcb_core::generator::{
    Completion, GenerationRequest, Generator, Prompt, SampleGroup, SamplingParams,
};
use lcb_core::prompt::ChatMessage;

/// Generate samples from a Qwen3 model with lcb's engine.
///
/// The prompt is tokenized as is (no special tokens added); `--chat` wraps it as one user
/// message in the model's chat template, exactly as transformers renders it. All samples share
/// one prefill of the prompt and decode together in one batch.
///
/// Output: one JSON object per sample, in index order:
/// `{"index", "text", "token_ids", "logprobs", "finish_reason"}`, where `token_ids` are the
/// generated tokens only, `logprobs[j]` is the log-softmax of the raw logits (before
/// temperature) at token j, and `finish_reason` is `stop` (end-of-sequence token or stop
/// string; the stop string is not in `text`) or `length`.
///
/// With `--seed S`, sample i depends only on (seed, i, prompt, parameters): `-n 4` gives
/// exactly the first 4 samples of `-n 8`.
///
/// Examples:
///   lcb generate --model Qwen/Qwen3-0.6B --chat --prompt "Write a haiku." -n 4 --seed 1
///   lcb generate --model ./my-model --prompt-file p.txt --temperature 0 --max-tokens 64
#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("input").required(true).args(["prompt", "prompt_file"]))]
pub struct GenerateArgs {
    /// Model: a local Hugging Face directory or a hub id (OWNER/NAME[@REVISION]).
    #[arg(long, value_name = "DIR|HUB_ID")]
    model: String,
    /// Device(s): `cpu`, `cuda:N`, or a list such as `cuda:0,cuda:1` (one engine per device).
    #[arg(long, value_name = "DEVICE", default_value = "cpu")]
    device: String,
    /// Compute type: f32, bf16 or f16 [default: f32 on CPU, bf16 on GPU; bf16 on the CPU
    /// computes in f32].
    #[arg(long, value_name = "TYPE")]
    dtype: Option<String>,
    /// The prompt text.
    #[arg(long, value_name = "TEXT")]
    prompt: Option<String>,
    /// Read the prompt from a file (used byte for byte, trailing newline included).
    #[arg(long, value_name = "FILE")]
    prompt_file: Option<PathBuf>,
    /// Wrap the prompt as one user message with the model's chat template.
    #[arg(long)]
    chat: bool,
    /// With --chat: pass `enable_thinking=false` to the template (Qwen3's empty think block).
    #[arg(long, requires = "chat")]
    no_thinking: bool,
    /// Most tokens to generate per sample.
    #[arg(long, value_name = "N", default_value_t = 256)]
    max_tokens: usize,
    /// Sampling temperature; 0 is greedy.
    #[arg(long, value_name = "T", default_value_t = 1.0)]
    temperature: f32,
    /// Nucleus sampling: keep the most likely tokens up to this probability mass (1 = off).
    #[arg(long, value_name = "P", default_value_t = 1.0)]
    top_p: f32,
    /// Keep only the K most likely tokens (0 = off).
    #[arg(long, value_name = "K", default_value_t = 0)]
    top_k: usize,
    /// Number of samples.
    #[arg(short = 'n', value_name = "N", default_value_t = 1)]
    n: usize,
    /// Random seed.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// Stop string (repeatable): a sample ends when its text contains one; it is not included.
    #[arg(long = "stop", value_name = "STR")]
    stop: Vec<String>,
    /// Do not stop at end-of-sequence tokens (generate exactly --max-tokens).
    #[arg(long)]
    ignore_eos: bool,
    /// Write JSON Lines here (written whole when generation succeeds) instead of stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    #[arg(long, value_name = "SIZE", help = crate::engine_setup::KV_MEMORY_HELP)]
    kv_memory: Option<String>,
    /// On GPUs without --kv-memory: the fraction of the device's memory the engine may use
    /// for weights, cache and work (memory other processes use counts against it).
    #[arg(long, value_name = "F", default_value_t = 0.9)]
    gpu_memory_utilization: f64,
    #[arg(long, value_name = "N", help = crate::engine_setup::THREADS_HELP)]
    threads: Option<usize>,
}

/// Runs `lcb generate`.
pub fn run(args: GenerateArgs) -> Result<()> {
    if args.n == 0 {
        bail!("-n must be at least 1");
    }
    if args.max_tokens == 0 {
        bail!("--max-tokens must be at least 1");
    }
    if !(args.temperature >= 0.0 && args.temperature.is_finite()) {
        bail!("--temperature must be ≥ 0, not {}", args.temperature);
    }
    if !(args.top_p > 0.0 && args.top_p <= 1.0) {
        bail!("--top-p must be in (0, 1], not {}", args.top_p);
    }
    let text = match (&args.prompt, &args.prompt_file) {
        (Some(text), _) => text.clone(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the prompt file {}", path.display()))?,
        (None, None) => bail!("give --prompt or --prompt-file"),
    };
    crate::engine_setup::configure_cpu_threads(args.threads, &args.device, false)?;
    let engine = crate::engine_setup::engine(&crate::engine_setup::EngineArgs {
        model: &args.model,
        devices: &args.device,
        dtype: args.dtype.as_deref(),
        kv_memory: args.kv_memory.as_deref(),
        gpu_memory_utilization: args.gpu_memory_utilization,
        max_new_tokens: args.max_tokens,
        max_slots: args.n.min(256),
    })?;
    let prompt = if args.chat {
        Prompt::Chat {
            messages: vec![ChatMessage::new("user", text)],
            enable_thinking: !args.no_thinking,
        }
    } else {
        Prompt::Text(text)
    };
    let request = GenerationRequest {
        prompt,
        groups: vec![SampleGroup {
            params: SamplingParams {
                temperature: args.temperature,
                top_p: args.top_p,
                top_k: (args.top_k > 0).then_some(args.top_k),
                max_tokens: args.max_tokens,
                stop: args.stop.clone(),
                ignore_eos: args.ignore_eos,
                seed: args.seed,
            },
            n: args.n,
            stream: 0,
            skip: Vec::new(),
        }],
    };
    let completions = engine.submit(request)?;

    // Samples finish in any order; lines go out in index order, each as soon as every
    // earlier one is out.
    let mut pending: BTreeMap<usize, Completion> = BTreeMap::new();
    let mut next = 0;
    let mut buffer = Vec::new();
    let stdout = std::io::stdout();
    for completion in completions.iter() {
        let completion = completion?;
        pending.insert(completion.index, completion);
        while let Some(c) = pending.remove(&next) {
            let line = serde_json::json!({
                "index": c.index,
                "text": c.text,
                "token_ids": c.token_ids,
                "logprobs": c.logprobs,
                "finish_reason": c.finish_reason,
            });
            match &args.output {
                Some(_) => {
                    serde_json::to_writer(&mut buffer, &line)?;
                    buffer.push(b'\n');
                }
                None => {
                    let mut out = stdout.lock();
                    serde_json::to_writer(&mut out, &line)?;
                    out.write_all(b"\n")?;
                    out.flush()?;
                }
            }
            next += 1;
        }
    }
    if next != args.n {
        bail!("the engine stopped after {next} of {} samples", args.n);
    }
    if let Some(path) = &args.output {
        lcb_core::atomic_file::write_atomic(path, &buffer)?;
    }
    Ok(())
}
