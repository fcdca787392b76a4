//! `lcb eval`: grade a file of samples against a problem set.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use lcb_core::dataset;
use lcb_core::evaluator::{Evaluator, GradeRequest};
use lcb_core::passk;
use lcb_core::samples::{read_samples, Sample};
use lcb_core::verdict::Grade;
use lcb_eval::{SandboxConfig, SandboxEvaluator, Timer};
use serde_json::Value;

use crate::args::problems::ProblemFlags;
use crate::progress;

/// Grade existing samples.
///
/// Problems are LiveCodeBench `code_generation_lite` rows or HumanEval rows (detected), from a
/// `.jsonl`/`.jsonl.gz` file or a hub reference such as
/// `livecodebench/code_generation_lite@release_v6`. Samples are JSON Lines
/// (`{"question_id"|"task_id", "completion"}`, raw model output) or lcb_runner's
/// `[{"question_id", "code_list"}]` array (code used as given).
///
/// Example:
///   lcb eval --problems fixtures/humaneval/HumanEval.jsonl.gz --samples samples.jsonl
#[derive(clap::Args)]
#[command(mut_arg("problems", |a| a.required(true)))]
pub struct EvalArgs {
    #[command(flatten)]
    problems: ProblemFlags,
    /// Samples to grade (.jsonl or a JSON code_list array, optionally .gz).
    #[arg(long, value_name = "FILE")]
    samples: PathBuf,
    /// Results file [default: the samples path + `_results.jsonl`].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Programs graded in parallel [default: number of CPUs].
    #[arg(long, value_name = "N", default_value_t = 0)]
    workers: usize,
    /// Per-test time limit in seconds [default: 6 for LiveCodeBench, 3 for HumanEval].
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
    /// LiveCodeBench's environment (numpy); the results record what was missing.
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
    let samples = read_samples(&args.samples)?;
    let out = args.out.clone().unwrap_or_else(|| {
        let mut name = args.samples.clone().into_os_string();
        name.push("_results.jsonl");
        PathBuf::from(name)
    });

    // Resolve every sample's problem before any grading.
    let mut jobs = Vec::with_capacity(samples.len());
    for sample in &samples {
        let Some((index, problem)) = problems.get(&sample.problem_id) else {
            bail!(
                "{}:{}: unknown question id `{}` (not in {})",
                args.samples.display(),
                sample.line,
                sample.problem_id,
                source
            );
        };
        jobs.push((index, problem, sample.code_for(problem)));
    }

    let grades_lcb = jobs
        .iter()
        .any(|(_, problem, _)| matches!(problem, lcb_core::problem::Problem::Lcb(_)));
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
    let grades = grade_all(&pool, &jobs)?;
    let seconds = started.elapsed().as_secs_f64();
    write_results(&out, &samples, &grades)?;
    let mut summary = summarize(
        &samples,
        &jobs,
        &grades,
        &problems,
        seconds,
        pool.workers(),
        &out,
    );
    // The environment is part of the result: a partial one must never pass for LCB's.
    let environment = pool.environment();
    summary["environment"] = serde_json::to_value(environment)?;
    summary["partial_environment"] = (!environment.is_complete()).into();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
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

/// Grades in chunks from two submitting threads, so the pool's queue never runs dry while
/// results are collected and progress is shown.
fn grade_all(
    pool: &SandboxEvaluator,
    jobs: &[(usize, &lcb_core::problem::Problem, String)],
) -> Result<Vec<Grade>> {
    let chunk = (pool.workers() * 16).max(32);
    let chunks: Vec<_> = jobs.chunks(chunk).collect();
    let next = AtomicUsize::new(0);
    let bar = progress::bar(jobs.len() as u64, "graded");
    let results: Vec<Result<(usize, Vec<Grade>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = vec![];
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(part) = chunks.get(i) else { break };
                        let requests: Vec<_> = part
                            .iter()
                            .map(|(_, problem, code)| GradeRequest { problem, code })
                            .collect();
                        let grades = pool.grade(&requests);
                        bar.inc(part.len() as u64);
                        done.push(grades.map(|g| (i, g)).map_err(anyhow::Error::from));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("grading thread panicked"))
            .collect()
    });
    bar.finish_and_clear();
    let mut ordered: Vec<(usize, Vec<Grade>)> = results.into_iter().collect::<Result<_>>()?;
    ordered.sort_by_key(|(i, _)| *i);
    Ok(ordered.into_iter().flat_map(|(_, g)| g).collect())
}

fn write_results(out: &std::path::Path, samples: &[Sample], grades: &[Grade]) -> Result<()> {
    let mut text = String::new();
    for (sample, grade) in samples.iter().zip(grades) {
        let mut fields = sample.fields.clone();
        fields.insert("passed".into(), Value::Bool(grade.passed()));
        fields.insert(
            "verdict".into(),
            Value::String(grade.verdict.as_str().into()),
        );
        if let Some(detail) = &grade.detail {
            fields.insert("detail".into(), Value::String(detail.clone()));
        }
        text.push_str(&serde_json::to_string(&fields)?);
        text.push('\n');
    }
    lcb_core::atomic_file::write_atomic(out, text.as_bytes())
        .with_context(|| format!("writing results to {}", out.display()))
}

fn summarize(
    samples: &[Sample],
    jobs: &[(usize, &lcb_core::problem::Problem, String)],
    grades: &[Grade],
    problems: &dataset::ProblemSet,
    seconds: f64,
    workers: usize,
    out: &std::path::Path,
) -> Value {
    // (n, c) per problem, in benchmark order.
    let mut per_problem: BTreeMap<usize, (u64, u64)> = BTreeMap::new();
    let mut verdicts: BTreeMap<&str, u64> = BTreeMap::new();
    for ((index, _, _), grade) in jobs.iter().zip(grades) {
        let e = per_problem.entry(*index).or_default();
        e.0 += 1;
        e.1 += u64::from(grade.passed());
        *verdicts.entry(grade.verdict.as_str()).or_default() += 1;
    }
    let counts: Vec<(u64, u64)> = per_problem.values().copied().collect();
    let min_n = counts.iter().map(|c| c.0).min().unwrap_or(0);
    let pass_at_k: serde_json::Map<String, Value> = passk::reported_ks(min_n)
        .into_iter()
        .filter(|&k| k != 1000)
        .filter_map(|k| {
            passk::mean_pass_at_k(&counts, k).map(|v| (format!("pass@{k}"), Value::from(v)))
        })
        .collect();
    let questions: Vec<Value> = per_problem
        .iter()
        .map(|(&index, &(n, c))| {
            serde_json::json!({"index": index, "id": problems.problems()[index].id(), "n": n, "passed": c})
        })
        .collect();
    serde_json::json!({
        "samples": samples.len(),
        "problems": per_problem.len(),
        "seconds": seconds,
        "samples_per_second": samples.len() as f64 / seconds.max(1e-9),
        "workers": workers,
        "pass_at_k": pass_at_k,
        "verdicts": verdicts,
        "questions": questions,
        "results": out,
    })
}

fn print_summary(s: &Value) {
    println!(
        "graded {} samples of {} problems in {:.1} s ({:.1} samples/s, {} workers)",
        s["samples"],
        s["problems"],
        s["seconds"].as_f64().unwrap_or(0.0),
        s["samples_per_second"].as_f64().unwrap_or(0.0),
        s["workers"]
    );
    for (k, v) in s["pass_at_k"].as_object().into_iter().flatten() {
        println!("{k}: {:.2}%", v.as_f64().unwrap_or(0.0) * 100.0);
    }
    let verdicts: Vec<String> = s["verdicts"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    println!("verdicts: {}", verdicts.join(", "));
    println!("per question (passed/n):");
    for q in s["questions"].as_array().into_iter().flatten() {
        println!(
            "  q{:<4} {:<24} {}/{}",
            q["index"],
            q["id"].as_str().unwrap_or(""),
            q["passed"],
            q["n"]
        );
    }
    println!("results: {}", s["results"].as_str().unwrap_or(""));
}
