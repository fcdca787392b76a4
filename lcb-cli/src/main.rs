//! `lcb`: measure code models at hardware speed.
//!
//! This binary only parses arguments, shows progress and wires the library pieces together:
//! problems and the sweep come from `lcb-core`, grading from `lcb-eval`, generation from
//! `lcb-engine`.

mod args;
mod bench;
mod charts;
mod commands;
mod grading_env;
mod progress;
mod sweep_progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// lcb measures code models: it samples thousands of programs per problem across a sweep of
/// temperatures and grades every one of them in a sandbox, exactly as LiveCodeBench and
/// HumanEval do.
///
/// Start with `lcb sweep` (no arguments: the embedded offline default), or grade an existing
/// file of model outputs with `lcb eval --problems P --samples S`.
#[derive(Parser)]
#[command(name = "lcb", version, about, long_about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Grade existing samples against LiveCodeBench or HumanEval problems.
    Eval(commands::eval::EvalArgs),
    /// Generate samples from a Qwen3 model with lcb's engine.
    Generate(commands::generate::GenerateArgs),
    /// Run the temperature sweep: generate, grade and record pass rates per temperature.
    Sweep(commands::sweep::SweepArgs),
    /// Show pass rate vs temperature and pass@k tables for a results directory.
    Report(commands::report::ReportArgs),
    /// Token budget and KV-cache memory for a model and a problem set.
    Info(commands::info::InfoArgs),
    /// Measure generation throughput.
    Bench(commands::bench::BenchArgs),
    /// Serve a model over the OpenAI HTTP API (completions, chat, streaming).
    Serve(commands::serve::ServeArgs),
    /// Merge result trees produced by `lcb sweep --shard I/N`.
    Merge(commands::merge::MergeArgs),
    /// Create the managed grading environment (LiveCodeBench's packages in a virtual
    /// environment that lcb then uses by default).
    Setup(commands::setup::SetupArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    progress::init_logging();
    let result = match cli.command {
        Command::Eval(args) => commands::eval::run(args),
        Command::Generate(args) => commands::generate::run(args),
        Command::Sweep(args) => commands::sweep::run(args),
        Command::Report(args) => commands::report::run(args),
        Command::Info(args) => commands::info::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::Serve(args) => commands::serve::run(args),
        Command::Merge(args) => commands::merge::run(args),
        Command::Setup(args) => commands::setup::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lcb: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
