//! Running a sweep against any [`Generator`] and [`Evaluator`].
//!
//! Several questions are in flight at once (so the engine never idles). For each question:
//! an optional greedy check (solved greedily → `skipped.json`); then one request with every
//! missing temperature × n samples, sharing one prompt prefill; completions stream into a
//! bounded grading queue served by grading threads; each (question, temperature) file is
//! written as soon as its last sample is graded, and `summary.json` when the question is done.
//!
//! Memory stays bounded: at most `2 × inflight` questions hold samples (each keeps only the
//! text, finish reason and token count of its samples), and the grading queue is bounded, so
//! a question whose grading falls behind stops taking completions off its channel.
//!
//! The parts: [`plan`] (what a run is given and gives back), [`question`] (one question's
//! phases), [`greedy`] (the greedy check), [`grading`] (the grading threads), [`permits`] (questions generating at once),
//! [`resume`] (what an existing tree already holds), [`repair`] (self-repair's requests, one
//! per failed sample of the source tree).

mod grading;
mod greedy;
mod permits;
mod plan;
mod question;
mod repair;
mod resume;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use grading::{grading_loop, BusyClock, GradeJob};
use permits::GenerationPermits;
pub use plan::{
    QuestionOutcome, Silent, SweepError, SweepObserver, SweepPlan, SweepReport, SweepTotals,
};
use plan::{RunTimes, RunWork};
pub use question::sample_stream;
use question::{Counters, QuestionContext};

use crate::bench::energy::EnergyWindow;
use crate::evaluator::Evaluator;
use crate::generator::Generator;
use crate::sweep::store::{problem_set_id, ResultStore, RunSummary, FORMAT_VERSION};

/// Runs a sweep; see the module docs.
pub fn run(
    generator: &dyn Generator,
    evaluator: &dyn Evaluator,
    plan: &SweepPlan<'_>,
    store: &ResultStore,
    observer: &dyn SweepObserver,
    cancel: &AtomicBool,
) -> Result<SweepReport, SweepError> {
    let started = Instant::now();
    let cache_before = generator.prompt_cache_counts();
    let _lock = store.lock()?;
    let ids: Vec<&str> = plan.problems.problems().iter().map(|p| p.id()).collect();
    let mut summary = RunSummary {
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        format_version: FORMAT_VERSION,
        settings: plan.settings.clone(),
        problems: plan.problems_source.clone(),
        scenario: match &plan.settings.repair_from {
            Some(_) => crate::scenario::Scenario::SelfRepair,
            None => plan
                .problems
                .problems()
                .first()
                .map(crate::scenario::Scenario::of)
                .unwrap_or_default(),
        },
        problem_set: problem_set_id(&ids),
        generator: generator.fingerprint(),
        model_config: generator.describe(),
        evaluator: evaluator.describe(),
        questions: plan.questions.clone(),
        shard: plan.shard.map(|s| format!("{}/{}", s.index, s.count)),
        started: now_rfc3339(),
        finished: None,
        totals: serde_json::json!({}),
    };
    resume::prepare_tree(store, plan, &summary, observer)?;
    store.write(&store.run_summary_path(), &summary)?;

    let counter = generator.energy_counter();
    let energy_window = match &counter {
        Ok(c) => EnergyWindow::start(Some(*c), ""),
        Err(why) => EnergyWindow::start(None, why),
    };
    let counters = Counters::default();
    let busy = BusyClock::default();
    let generating = GenerationPermits::new(plan.inflight);
    let next = AtomicUsize::new(0);
    let outcomes = Mutex::new(Vec::new());
    let (grade_tx, grade_rx) = crossbeam_channel::bounded::<GradeJob<'_>>(4096);
    std::thread::scope(|scope| {
        for _ in 0..plan.grading_threads.max(1) {
            let rx = grade_rx.clone();
            let busy = &busy;
            scope.spawn(move || grading_loop(evaluator, rx, cancel, busy));
        }
        drop(grade_rx);
        // Up to `inflight` questions generate at once; as many again may be finishing their
        // grading meanwhile (bounded, so finished completions never pile up).
        let workers: Vec<_> = (0..2 * plan.inflight.max(1))
            .map(|_| {
                let ctx = QuestionContext {
                    generator,
                    evaluator,
                    plan,
                    store,
                    observer,
                    cancel,
                    grade_tx: grade_tx.clone(),
                    counters: &counters,
                    run_started: started,
                    generating: &generating,
                };
                let (next, outcomes) = (&next, &outcomes);
                scope.spawn(move || loop {
                    if cancel.load(Ordering::SeqCst) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&idx) = plan.questions.get(i) else {
                        break;
                    };
                    let outcome = ctx
                        .run_question(idx)
                        .unwrap_or_else(|e| QuestionOutcome::Failed(e.to_string()));
                    observer.question_finished(idx, &outcome);
                    outcomes.lock().expect("outcomes lock").push((idx, outcome));
                })
            })
            .collect();
        drop(grade_tx);
        for w in workers {
            // A question thread runs lcb's code only (generator and evaluator errors and
            // evaluator panics become outcomes), so a panic here is a bug in lcb.
            w.join().expect("question thread panicked");
        }
    });

    let mut outcomes = outcomes.into_inner().expect("outcomes lock");
    outcomes.sort_by_key(|(idx, _)| *idx);
    let times = RunTimes {
        seconds: started.elapsed().as_secs_f64(),
        generation: counters.last_generated_us.load(Ordering::SeqCst) as f64 * 1e-6,
        grading_busy: busy.seconds(),
    };
    let work = RunWork {
        tokens_generated: counters.tokens.load(Ordering::SeqCst) as u64,
        samples_generated: counters.samples.load(Ordering::SeqCst) as u64,
        samples_graded: counters.graded.load(Ordering::SeqCst) as u64,
        tokens_graded: counters.graded_tokens.load(Ordering::SeqCst) as u64,
    };
    let totals = SweepTotals::new(&outcomes, work, times, energy_window.finish());
    let report = SweepReport {
        totals,
        cancelled: cancel.load(Ordering::SeqCst),
        outcomes,
    };
    let failed = report.totals.questions_failed;
    summary.finished = (!report.cancelled && failed == 0).then(now_rfc3339);
    summary.totals = serde_json::to_value(&report.totals).expect("totals serialize");
    if let (Some(before), Some(after)) = (cache_before, generator.prompt_cache_counts()) {
        // What prefix sharing saved: without it, every copied token would be prefilled.
        summary.totals["prompt_tokens_prefilled"] = (after.0 - before.0).into();
        summary.totals["prompt_tokens_copied"] = (after.1 - before.1).into();
    }
    store.write(&store.run_summary_path(), &summary)?;
    let first_failure = report.outcomes.iter().find_map(|(idx, o)| match o {
        QuestionOutcome::Failed(e) => Some(format!("q{idx}: {e}")),
        _ => None,
    });
    if let Some(first) = first_failure {
        return Err(SweepError::Failed { failed, first });
    }
    Ok(report)
}

fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
