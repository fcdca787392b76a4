//! `lcb bench`: measure generation throughput and print it as JSON.

use std::process::ExitCode;

use anyhow::Result;

use crate::args::at_least_one;
use crate::args::engine::{singular_device, EngineFlags};
use crate::bench::{self, BenchModel, BenchOptions, REFERENCE_TEMPERATURES};

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
///   lcb bench --count-ops --samples 512
///   lcb bench --time-phases --device cuda:0 --samples 512 --new-tokens 256
#[derive(clap::Args)]
#[command(
    mut_arg("devices", |a| singular_device(a, "Device: `cpu` or `cuda:N`")),
    mut_arg("slots", |a| a.help("Most samples decoded at once [default: --samples]")),
)]
pub struct BenchArgs {
    /// A real model (directory or hub id) instead of random weights.
    #[arg(long, value_name = "DIR|HUB_ID", conflicts_with = "shape")]
    model: Option<String>,
    /// Shape of the random-weight model: `0.6b` (Qwen3-0.6B: 28 layers, hidden 1,024,
    /// vocabulary 151,936) or `tiny` (4 narrow layers, same vocabulary).
    #[arg(long, value_enum, default_value = "0.6b")]
    shape: Shape,
    #[command(flatten)]
    engine: EngineFlags,
    /// Number of distinct prompts.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = at_least_one)]
    prompts: usize,
    /// Tokens per prompt (the reference prompts average ~561).
    #[arg(long, value_name = "N", default_value_t = 561, value_parser = at_least_one)]
    prompt_tokens: usize,
    /// Samples per prompt, spread evenly over the 16 temperatures.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = at_least_one)]
    samples: usize,
    /// Tokens generated per sample.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = at_least_one)]
    new_tokens: usize,
    /// Prompt tokens per prefill chunk.
    #[arg(long, value_name = "N", default_value_t = 512)]
    prefill_chunk: usize,
    /// Prompts whose caches may be resident at once (as `lcb serve --max-prompts`): how many
    /// of the --prompts decode together.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = at_least_one)]
    max_prompts: usize,
    /// Also run candle-transformers' Qwen3 one sequence at a time and report the ratio.
    #[arg(long)]
    compare: bool,
    /// Samples the peer generates with --compare (its rate does not depend on the count).
    #[arg(long, value_name = "N", default_value_t = 1)]
    compare_samples: usize,
    /// Seed of the weights, prompts and sampling.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// Compare with another lcb binary (another build): both run this same workload
    /// alternately, --rounds times each after a discarded warm-up round, and the report gives
    /// each figure's median/min/max per side and the ratio this/other with a 95% bootstrap
    /// interval ("no significant difference" when it holds 1).
    #[arg(long, value_name = "OTHER_LCB_BINARY")]
    ab: Option<std::path::PathBuf>,
    /// Instead of timing, count the tensor operations one decode step of --samples rows runs
    /// on --device (each that is not a view is a GPU kernel launch or more): the number
    /// fusing operations lowers. Prints the step's total and what one layer adds, as the
    /// engine runs by default and with lcb's attention kernels (LCB_CUDA_KERNELS=1 on a GPU;
    /// their CPU twins on the CPU).
    #[arg(long, conflicts_with_all = ["ab", "compare"])]
    count_ops: bool,
    /// Instead of the workload, time decode steps of --samples rows, each at its
    /// --new-tokens-th own token, and each phase of the step alone (q/k/v, cache write,
    /// attention over own tokens and over the prompt, output projection, MLP, output layer,
    /// sampling; the device synchronised around each): where a step's time goes, on the
    /// engine's path and with lcb's attention kernels.
    #[arg(long, conflicts_with_all = ["ab", "compare", "count_ops"])]
    time_phases: bool,
    /// Measured rounds per side for --ab.
    #[arg(long, value_name = "K", default_value_t = 5, requires = "ab", value_parser = at_least_two)]
    rounds: usize,
}

/// `--rounds`: an interval needs at least two rounds.
fn at_least_two(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 2 => Ok(n),
        Ok(_) => Err("must be at least 2 (an interval needs two rounds)".into()),
        Err(e) => Err(e.to_string()),
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Shape {
    Tiny,
    #[value(name = "0.6b")]
    Qwen3_0_6B,
}

/// Runs `lcb bench`.
pub fn run(args: BenchArgs) -> Result<ExitCode> {
    if let Some(other) = &args.ab {
        let report = bench::ab::run(other, args.rounds)?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let model = match (args.model, args.shape) {
        (Some(model), _) => BenchModel::Model(model),
        (None, Shape::Tiny) => BenchModel::Tiny,
        (None, Shape::Qwen3_0_6B) => BenchModel::Qwen3_0_6B,
    };
    args.engine.apply_threads(false);
    let mut engine = args.engine.engine_config(args.new_tokens, None);
    engine.prefill_chunk = args.prefill_chunk;
    engine.resident_prompts = args.max_prompts;
    let options = BenchOptions {
        model,
        engine,
        prompts: args.prompts,
        prompt_tokens: args.prompt_tokens,
        samples: args.samples,
        temperatures: REFERENCE_TEMPERATURES.to_vec(),
        new_tokens: args.new_tokens,
        compare: args.compare,
        compare_samples: args.compare_samples,
        seed: args.seed,
    };
    let report = if args.count_ops {
        bench::count_ops(&options)?
    } else if args.time_phases {
        bench::time_phases(&options)?
    } else {
        bench::run(&options)?
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::BenchArgs;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: BenchArgs,
    }

    #[test]
    fn bench_takes_one_device_and_leaves_slots_to_the_workload() {
        let args = Cli::try_parse_from(["lcb", "--device", "cuda:1"])
            .unwrap()
            .args;
        assert_eq!(
            *args.engine.devices,
            [lcb_engine::device::DeviceSpec::Cuda(1)]
        );
        assert_eq!(args.engine.slots, None);
        assert!(Cli::try_parse_from(["lcb", "--devices", "cpu"]).is_err());
    }
}
