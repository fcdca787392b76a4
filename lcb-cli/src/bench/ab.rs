//! `lcb bench --ab OTHER`: this binary and another on the same workload, alternately, K rounds
//! after a warm-up; each figure's spread per side and the ratio this/other with its interval
//! (`lcb_core::bench::ab`).

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use lcb_core::bench::ab::{self, Figure};
use serde_json::{json, Value};

/// The figures compared, by where `lcb bench` reports them.
fn figures() -> Vec<Figure> {
    let mut figures = vec![
        Figure::higher("/lcb/output_tokens_per_s"),
        Figure::higher("/lcb/decode_tokens_per_s"),
        Figure::higher("/lcb/prefill_tokens_per_s"),
        Figure::lower("/lcb/ttft_s"),
        Figure::lower("/lcb/tpot_s"),
        Figure::lower("/lcb/joules_per_output_token"),
    ];
    for series in ["ttft_percentiles_s", "tpot_percentiles_s"] {
        for p in ["p50", "p90", "p99"] {
            figures.push(Figure::lower(&format!("/lcb/{series}/{p}")));
        }
    }
    figures
}

/// This process's arguments without `--ab X` / `--rounds K` (either `--flag value` or
/// `--flag=value`), to run both sides with the same workload.
pub fn workload_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut skip_value = false;
    for arg in args.into_iter().skip(1) {
        if skip_value {
            skip_value = false;
            continue;
        }
        let text = arg.to_string_lossy();
        if text == "--ab" || text == "--rounds" {
            skip_value = true;
            continue;
        }
        if text.starts_with("--ab=") || text.starts_with("--rounds=") {
            continue;
        }
        out.push(arg);
    }
    out
}

/// One run of `binary` with `args`: its JSON report.
fn run_once(binary: &Path, args: &[OsString]) -> Result<Value, String> {
    let out = Command::new(binary)
        .args(args)
        .output()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} exited with {}: {}",
            binary.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{}: its report is not JSON: {e}", binary.display()))
}

/// Runs the comparison; A is `other`, B this binary, so ratios read this/other.
pub fn run(other: &Path, rounds: usize) -> Result<Value> {
    let this = std::env::current_exe().context("cannot find this binary")?;
    let args = workload_args(std::env::args_os());
    let report = ab::run(
        || run_once(other, &args),
        || run_once(&this, &args),
        rounds,
        1,
        &figures(),
    )?;
    Ok(json!({
        "ab": {
            "a": other.display().to_string(),
            "b": this.display().to_string(),
            "ratio": "b / a (this binary over the other)",
            "report": report,
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workload_arguments_drop_only_the_comparison_flags() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            workload_args(args(&[
                "lcb",
                "bench",
                "--shape",
                "tiny",
                "--ab",
                "/x/lcb",
                "--rounds",
                "3",
                "--samples",
                "8"
            ])),
            args(&["bench", "--shape", "tiny", "--samples", "8"])
        );
        assert_eq!(
            workload_args(args(&["lcb", "bench", "--ab=/x/lcb", "--rounds=3"])),
            args(&["bench"])
        );
    }
}
