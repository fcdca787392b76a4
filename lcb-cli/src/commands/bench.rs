//! `lcb bench`: measure generation throughput and print it as JSON.

use anyhow::{bail, Result};
use lcb_engine::bench::{self, BenchModel, BenchOptions, REFERENCE_TEMPERATURES};
use lcb_engine::device::{parse_dtype, DeviceSpec};
use lcb_engine::engine::parse_memory_size;

/// Measure generation throughput on the reference workload's shape.
///
/// The workload: prompts of ~561 tokens (random ids), many samples per prompt spread over
/// the sweep's 16 temperatures, a fixed number of new tokens (end-of-sequence ignored). The
/// model is random weights of a given shape (`--shape`, nothing to download) or a real model
/// (`--model`).
///
/// Prints one JSON object: output tokens/s (end to end), decode and prefill tokens/s, time
/// to first token, time per output token, peak memory (RSS on the CPU) and the settings.
/// `--compare` also runs candle-transformers' Qwen3 one sequence at a time (as candle's
/// example generates) on the same model and workload, and adds `ratio`: lcb's output
/// tokens/s over the peer's.
///
/// Examples:
///   lcb bench --device cpu --compare
///   lcb bench --shape tiny --samples 256 --new-tokens 64
///   lcb bench --model Qwen/Qwen3-0.6B --device cuda:0 --samples 512 --new-tokens 300
#[derive(clap::Args)]
pub struct BenchArgs {
    /// A real model (directory or hub id) instead of random weights.
    #[arg(long, value_name = "DIR|HUB_ID", conflicts_with = "shape")]
    model: Option<String>,
    /// Shape of the random-weight model: `0.6b` (Qwen3-0.6B: 28 layers, hidden 1,024,
    /// vocabulary 151,936) or `tiny` (4 narrow layers, same vocabulary).
    #[arg(long, value_enum, default_value = "0.6b")]
    shape: Shape,
    /// Device: `cpu` or `cuda:N`.
    #[arg(long, value_name = "DEVICE", default_value = "cpu")]
    device: String,
    /// Compute type: f32, bf16 or f16 [default: f32 on CPU, bf16 on GPU].
    #[arg(long, value_name = "TYPE")]
    dtype: Option<String>,
    /// Number of distinct prompts.
    #[arg(long, value_name = "N", default_value_t = 1)]
    prompts: usize,
    /// Tokens per prompt (the reference prompts average ~561).
    #[arg(long, value_name = "N", default_value_t = 561)]
    prompt_tokens: usize,
    /// Samples per prompt, spread evenly over the 16 temperatures.
    #[arg(long, value_name = "N", default_value_t = 64)]
    samples: usize,
    /// Tokens generated per sample.
    #[arg(long, value_name = "N", default_value_t = 16)]
    new_tokens: usize,
    #[arg(long, value_name = "SIZE", help = crate::engine_setup::KV_MEMORY_HELP)]
    kv_memory: Option<String>,
    /// On GPUs without --kv-memory: the fraction of the device's memory the engine may use
    /// for weights, cache and work.
    #[arg(long, value_name = "F", default_value_t = 0.9)]
    gpu_memory_utilization: f64,
    /// Most samples decoded at once [default: --samples].
    #[arg(long, value_name = "N", default_value_t = 0)]
    slots: usize,
    #[arg(long, value_name = "N", help = crate::engine_setup::THREADS_HELP)]
    threads: Option<usize>,
    /// Prompt tokens per prefill chunk.
    #[arg(long, value_name = "N", default_value_t = 512)]
    prefill_chunk: usize,
    /// Also run candle-transformers' Qwen3 one sequence at a time and report the ratio.
    #[arg(long)]
    compare: bool,
    /// Samples the peer generates with --compare (its rate does not depend on the count).
    #[arg(long, value_name = "N", default_value_t = 1)]
    compare_samples: usize,
    /// Seed of the weights, prompts and sampling.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Shape {
    Tiny,
    #[value(name = "0.6b")]
    Qwen3_0_6B,
}

/// Runs `lcb bench`.
pub fn run(args: BenchArgs) -> Result<()> {
    if args.prompts == 0 || args.samples == 0 || args.new_tokens == 0 || args.prompt_tokens == 0 {
        bail!("--prompts, --samples, --new-tokens and --prompt-tokens must be at least 1");
    }
    let model = match (args.model, args.shape) {
        (Some(model), _) => BenchModel::Model(model),
        (None, Shape::Tiny) => BenchModel::Tiny,
        (None, Shape::Qwen3_0_6B) => BenchModel::Qwen3_0_6B,
    };
    crate::engine_setup::configure_cpu_threads(args.threads, &args.device, false)?;
    let options = BenchOptions {
        model,
        device: args.device.parse::<DeviceSpec>()?,
        dtype: args.dtype.as_deref().map(parse_dtype).transpose()?,
        prompts: args.prompts,
        prompt_tokens: args.prompt_tokens,
        samples: args.samples,
        temperatures: REFERENCE_TEMPERATURES.to_vec(),
        new_tokens: args.new_tokens,
        kv_memory: match &args.kv_memory {
            Some(size) => parse_memory_size(size)?,
            None => BenchOptions::default().kv_memory,
        },
        gpu_memory_utilization: args
            .kv_memory
            .is_none()
            .then_some(args.gpu_memory_utilization),
        prefill_chunk: args.prefill_chunk,
        max_slots: args.slots,
        compare: args.compare,
        compare_samples: args.compare_samples,
        seed: args.seed,
    };
    let report = bench::run(&options)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
