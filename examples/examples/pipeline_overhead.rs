//! How much grading slows a sweep down: the same sweep (model, problems, temperatures, n,
//! seed) run twice with lcb's engine, once graded by the sandbox and once by an evaluator
//! that grades nothing, so the second run's throughput is generation alone on the same
//! machine. Prints both end-to-end tokens/s and their ratio (the pipeline's `pipeline_tps` as
//! a fraction of `gen_tps`). Recorded in `docs/benchmarks.md`.
//!
//! ```text
//! cargo run --release -p lcb-examples --example pipeline_overhead -- [N] [MODEL] [PROBLEMS]
//! ```
//! Defaults: n = 8 over the 16 reference temperatures, the embedded fixture model and
//! problems, every question sampled, the engine on all cores but one (as `lcb sweep` on the
//! CPU). Environment: `RAYON_NUM_THREADS=N` engine threads, `LCB_PIPELINE_WORKERS=N` grading
//! workers (default one per core), `LCB_PIPELINE_RUN=gen|graded` only one of the two runs.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use lcb_core::dataset::{self, ProblemSource};
use lcb_core::evaluator::{EvalError, Evaluator, GradeRequest};
use lcb_core::hub::HubOptions;
use lcb_core::prompt::PromptStyle;
use lcb_core::sweep::config::{default_stop, DEFAULT_TEMPERATURES};
use lcb_core::sweep::{self, ResultStore, Silent, SweepPlan, SweepSettings};
use lcb_core::verdict::{Grade, Verdict};
use lcb_engine::{Engine, EngineConfig};
use lcb_eval::{SandboxConfig, SandboxEvaluator};

/// Grades nothing: every sample gets `no_code` at once.
struct NoGrading;

impl Evaluator for NoGrading {
    fn grade(&self, requests: &[GradeRequest<'_>]) -> Result<Vec<Grade>, EvalError> {
        Ok(requests
            .iter()
            .map(|_| Grade::new(Verdict::NoCode))
            .collect())
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::json!({"grader": "none (every sample no_code)"})
    }
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(8);
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let model = args
        .next()
        .unwrap_or_else(|| format!("{root}/fixtures/model"));
    let problems_ref = args
        .next()
        .unwrap_or_else(|| format!("{root}/fixtures/problems/lcb_fixtures.jsonl"));
    let problems = dataset::load(
        &ProblemSource::parse(&problems_ref)?,
        &HubOptions::default(),
    )?;
    // As `lcb sweep` on the CPU: all cores but one for generation unless the environment
    // says otherwise (RAYON_NUM_THREADS=N measures other splits).
    if lcb_engine::device::cpu_threads_from_env().is_none() {
        lcb_engine::device::set_cpu_threads(lcb_engine::device::cpu_threads_beside_grading());
    }
    let max_tokens = 200;
    let engine = Engine::load(
        &model,
        &HubOptions::default(),
        EngineConfig {
            max_new_tokens: max_tokens,
            ..Default::default()
        },
    )?;
    // `LCB_PIPELINE_WORKERS=N` sets the number of grading workers (default: one per core).
    let workers = std::env::var("LCB_PIPELINE_WORKERS")
        .ok()
        .map(|w| w.parse())
        .transpose()?
        .unwrap_or(0);
    let sandbox = SandboxEvaluator::new(SandboxConfig {
        workers,
        ..SandboxConfig::default()
    })?;
    let settings = SweepSettings {
        model: model.clone(),
        temperatures: DEFAULT_TEMPERATURES.to_vec(),
        n,
        max_tokens,
        stop: default_stop(),
        top_p: 1.0,
        top_k: None,
        prompt_style: PromptStyle::Chat,
        thinking: false,
        seed: 0,
        skip_greedy_solved: false,
        cot: false,
        repair_from: None,
    };
    let mut rates = Vec::new();
    // `LCB_PIPELINE_RUN=gen|graded` runs one of the two, to measure it alone (CPU use).
    let only = std::env::var("LCB_PIPELINE_RUN").ok();
    for (key, name, evaluator) in [
        ("gen", "generation only", &NoGrading as &dyn Evaluator),
        (
            "graded",
            "generation + sandbox grading",
            &sandbox as &dyn Evaluator,
        ),
    ] {
        if only.as_deref().is_some_and(|o| o != key) {
            continue;
        }
        let out = tempfile::tempdir()?;
        let plan = SweepPlan {
            problems: &problems,
            problems_source: problems_ref.clone(),
            questions: (0..problems.len()).collect(),
            shard: None,
            settings: settings.clone(),
            force: false,
            inflight: 2,
            grading_threads: 2,
        };
        let started = Instant::now();
        let report = sweep::run(
            &engine,
            evaluator,
            &plan,
            &ResultStore::new(out.path()),
            &Silent,
            &AtomicBool::new(false),
        )?;
        let seconds = started.elapsed().as_secs_f64();
        let tps = report.totals.tokens_generated as f64 / seconds;
        println!(
            "{name:>30}: {} tokens, {} samples in {seconds:.1} s = {tps:.0} tokens/s",
            report.totals.tokens_generated, report.totals.samples_graded
        );
        rates.push((report.totals.tokens_generated, tps));
    }
    if rates.len() < 2 {
        return Ok(());
    }
    assert_eq!(rates[0].0, rates[1].0, "both runs generate the same tokens");
    println!(
        "pipeline_tps / gen_tps = {:.3} (sandbox workers: {})",
        rates[1].1 / rates[0].1,
        sandbox.workers()
    );
    Ok(())
}
