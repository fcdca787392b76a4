//! `lcb merge`: combine the result trees of sharded sweeps.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

/// Merge result trees made by `lcb sweep --shard I/N` into one tree.
///
/// Every shard must have been run with the same settings, problem set and engine precision,
/// and shards of one `--shard I/N` split must share N; a question found in two shards must
/// hold the same results. Everything is checked before anything is written. Missing shards
/// of the split and unfinished shards are reported as warnings (the merge still runs, so a
/// partial tree can be looked at); merging again later adds what is new.
///
/// Example (after a Slurm job array of 4 shards):
///   lcb merge results results-shard0 results-shard1 results-shard2 results-shard3
#[derive(clap::Args)]
pub struct MergeArgs {
    /// The merged tree to write.
    out: PathBuf,
    /// Shard result directories.
    #[arg(required = true)]
    shards: Vec<PathBuf>,
}

/// Runs `lcb merge`.
pub fn run(args: MergeArgs) -> Result<ExitCode> {
    let report = lcb_core::sweep::merge(&args.out, &args.shards)?;
    for warning in &report.warnings {
        eprintln!("lcb: warning: {warning}");
    }
    println!(
        "merged {} shards into {}: {} questions, {} files copied",
        args.shards.len(),
        args.out.display(),
        report.questions,
        report.files_copied
    );
    Ok(ExitCode::SUCCESS)
}
