//! `lcb eval`: grade a file of samples against a problem set.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use lcb_core::grading::{grade_samples, write_results, EvalSummary, GradingJob};
use lcb_core::samples::read_samples;
use lcb_eval::{SandboxConfig, SandboxEvaluator, Timer};

use crate::args::problems::ProblemFlags;
use crate::args::scenario::ScenarioFlags;
use crate::progress;

/// Grade existing samples.
///
/// Problems are LiveCodeBench `code_generation_lite` rows or HumanEval rows (detected), from a
/// `.jsonl`/`.jsonl.gz` file or a hub reference such as
/// `livecodebench/code_generation_lite@release_v6`; with --scenario, `execution-v2` or
/// `test_generation` rows. Samples are JSON Lines with the problem's keys and a raw
/// `"completion"` (extracted by the scenario's rule), or lcb_runner's custom-evaluator array
/// (entries used as given): `[{"question_id", "code_list"}]`, `[{"id", "pred_list"}]` (code
/// execution), `[{"question_id", "test_id", "pred_list"}]` (test output prediction).
/// Per-question counts are lcb_runner's: code-execution predictions that contain their input
/// are left out of n, as its metric leaves them out.
///
/// Examples:
///   lcb eval --problems fixtures/humaneval/HumanEval.jsonl.gz --samples samples.jsonl
///   lcb eval --scenario codeexecution --problems fixtures/scenarios/execution_fixtures.jsonl \
///            --samples preds.json
#[derive(clap::Args)]
#[command(mut_arg("problems", |a| a.required(true)))]
pub struct EvalArgs {
    #[command(flatten)]
    problems: ProblemFlags,
    #[command(flatten)]
    scenario: ScenarioFlags,
    /// Samples to grade (.jsonl or a JSON code_list array, optionally .gz).
    #[arg(long, value_name = "FILE")]
    samples: PathBuf,
    /// Results file [default: the samples path + `_results.jsonl`].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Programs graded in parallel [default: number of CPUs].
    #[arg(long, value_name = "N", default_value_t = 0)]
    workers: usize,
    /// Per-test time limit in seconds [default: 6 for LiveCodeBench code generation, 3 for
    /// HumanEval, code execution and test output prediction].
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
    /// Time tests by CPU time (robust under load) or wall clock (exactly as lcb_runner).
    #[arg(long, value_enum, default_value = "cpu")]
    timer: TimerArg,
    /// Memory limit per program, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 4096)]
    memory_mib: u64,
    /// Python interpreter [default: $LCB_PYTHON, the `lcb setup` environment, python3.11,
    /// python3].
    #[arg(long, value_name = "PATH")]
    python: Option<PathBuf>,
    /// Grade LiveCodeBench problems even when the grading Python lacks part of
    /// LiveCodeBench's environment (numpy, pandas); the results record what was missing.
    #[arg(long)]
    allow_partial_env: bool,
    /// Print the summary as JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum TimerArg {
    Cpu,
    Wall,
}

/// Runs `lcb eval`.
pub fn run(args: EvalArgs) -> Result<ExitCode> {
    if let Some(t) = args.timeout {
        if !(t > 0.0 && t.is_finite()) {
            bail!("--timeout must be a positive number of seconds, not {t}");
        }
    }
    let source = args.problems.required();
    let problems = args.problems.load(source)?;
    args.scenario.check(&problems, source)?;
    let samples = read_samples(&args.samples, args.scenario.scenario())?;
    let out = args.out.clone().unwrap_or_else(|| {
        let mut name = args.samples.clone().into_os_string();
        name.push("_results.jsonl");
        PathBuf::from(name)
    });

    // Resolve every sample's problem before any grading.
    let mut jobs = Vec::with_capacity(samples.len());
    for sample in &samples {
        let Some((question, problem)) = problems.get(&sample.problem_id) else {
            bail!(
                "{}:{}: unknown question id `{}` (not in {source})",
                args.samples.display(),
                sample.line,
                sample.problem_id,
            );
        };
        jobs.push(GradingJob {
            question,
            problem,
            code: sample.code_for(problem, args.scenario.cot),
        });
    }

    // HumanEval's tests import nothing; every LiveCodeBench scenario needs LCB's environment.
    let grades_lcb = jobs
        .iter()
        .any(|job| !matches!(job.problem, lcb_core::problem::Problem::HumanEval(_)));
    crate::grading_env::check(args.python.as_deref(), grades_lcb, args.allow_partial_env)?;
    let pool = SandboxEvaluator::new(SandboxConfig {
        python: args.python.clone(),
        workers: args.workers,
        timeout: args.timeout,
        timer: match args.timer {
            TimerArg::Cpu => Timer::Cpu,
            TimerArg::Wall => Timer::Wall,
        },
        limits: lcb_eval::sandbox::Limits {
            memory_bytes: args.memory_mib << 20,
            ..Default::default()
        },
        ..Default::default()
    })?;

    let started = Instant::now();
    let bar = progress::bar(jobs.len() as u64, "graded");
    let grades = grade_samples(&pool, &jobs, pool.workers(), &|n| bar.inc(n as u64));
    bar.finish_and_clear();
    let grades = grades?;
    let seconds = started.elapsed().as_secs_f64();
    write_results(&out, &samples, &grades)
        .with_context(|| format!("writing results to {}", out.display()))?;
    let summary = EvalSummary::new(
        &problems,
        jobs.iter().map(|job| job.question).zip(&grades),
        seconds,
        pool.workers(),
        out,
    );
    // The environment is part of the result: a partial one must never pass for LCB's.
    let environment = pool.environment();
    if args.json {
        let mut json = serde_json::to_value(&summary)?;
        json["environment"] = serde_json::to_value(environment)?;
        json["partial_environment"] = (!environment.is_complete()).into();
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print_summary(&summary);
        if !environment.is_complete() {
            println!(
                "environment: PARTIAL, graded without {} (not LiveCodeBench's environment)",
                environment.missing.join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(s: &EvalSummary) {
    println!(
        "graded {} samples of {} problems in {:.1} s ({:.1} samples/s, {} workers)",
        s.samples, s.problems, s.seconds, s.samples_per_second, s.workers
    );
    for (k, v) in &s.pass_at_k {
        println!("pass@{k}: {:.2}%", v * 100.0);
    }
    let verdicts: Vec<String> = s.verdicts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!("verdicts: {}", verdicts.join(", "));
    println!("per question (passed/n):");
    for q in &s.questions {
        // No padding after the index: the untyped summary this replaced printed it so.
        println!("  q{} {:<24} {}/{}", q.index, q.id, q.passed, q.n);
    }
    println!("results: {}", s.results.display());
}
