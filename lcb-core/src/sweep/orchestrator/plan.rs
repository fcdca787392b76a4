//! What a sweep is given and what it gives back: the plan, the progress callbacks, how each
//! question ended, the run's totals and the errors that stop a run.

use serde::Serialize;

use crate::bench::energy::Energy;

use crate::dataset::ProblemSet;
use crate::error::Error;
use crate::sweep::config::{Shard, SweepSettings};

/// Everything a sweep needs besides the generator and the evaluator.
pub struct SweepPlan<'a> {
    /// The problem set, in benchmark order.
    pub problems: &'a ProblemSet,
    /// Where the problems came from (recorded).
    pub problems_source: String,
    /// Question indices to run (after selection and sharding).
    pub questions: Vec<usize>,
    /// The shard, if any (recorded).
    pub shard: Option<Shard>,
    /// Settings.
    pub settings: SweepSettings,
    /// Replace a tree made with other settings: its result files are deleted first.
    pub force: bool,
    /// Questions generating at once (as many again may be finishing their grading).
    pub inflight: usize,
    /// Threads feeding the evaluator, each with one batch of programs at a time: about as
    /// many as the evaluator has workers, so that one slow program holds up only its own
    /// batch.
    pub grading_threads: usize,
}

/// Progress callbacks (all have empty defaults).
pub trait SweepObserver: Sync {
    /// A question starts generating `samples` samples (fewer than temperatures × n when
    /// some of its temperatures were already complete).
    fn question_started(&self, _idx: usize, _samples: usize) {}
    /// A sample was generated with `tokens` tokens.
    fn sample_generated(&self, _tokens: usize) {}
    /// A greedy check generated `tokens` tokens (not one of the planned samples).
    fn greedy_generated(&self, _tokens: usize) {}
    /// A sample was graded.
    fn sample_graded(&self) {}
    /// A question is finished.
    fn question_finished(&self, _idx: usize, _outcome: &QuestionOutcome) {}
    /// Something worth telling the user.
    fn warn(&self, _message: &str) {}
}

/// An observer that ignores everything.
pub struct Silent;
impl SweepObserver for Silent {}

/// How one question ended.
#[derive(Debug, Clone, PartialEq)]
pub enum QuestionOutcome {
    /// All its files were already complete and valid.
    Resumed,
    /// Solved greedily; `skipped.json` written.
    Skipped,
    /// Sampled and graded; pass rate per temperature.
    Done(Vec<(f64, f64)>),
    /// Interrupted before finishing (its complete files are kept).
    Cancelled,
    /// Failed; the error.
    Failed(String),
}

/// Errors that stop a sweep before or while it runs.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The output directory holds a tree made with other settings.
    #[error("{path} was made with different settings ({difference})")]
    Incompatible {
        /// The run summary.
        path: String,
        /// The first difference.
        difference: String,
    },
    /// Reading or writing results failed.
    #[error(transparent)]
    Store(#[from] Error),
    /// Some questions failed (the rest are written).
    #[error("{failed} question(s) failed; first: {first}")]
    Failed {
        /// How many.
        failed: usize,
        /// The first error.
        first: String,
    },
}

/// What a finished sweep did.
#[derive(Debug, Clone)]
pub struct SweepReport {
    /// Outcome per question index.
    pub outcomes: Vec<(usize, QuestionOutcome)>,
    /// Counts, times and rates of this run.
    pub totals: SweepTotals,
    /// Whether the run was interrupted.
    pub cancelled: bool,
}

/// Totals over one run into a tree (a resumed run counts only what it did itself), as
/// `run_summary.json` records them under `totals`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepTotals {
    /// Questions sampled and graded to the end.
    pub questions_done: usize,
    /// Questions greedy decoding solved (`skipped.json`).
    pub questions_skipped: usize,
    /// Questions whose files were all complete already.
    pub questions_resumed: usize,
    /// Questions that failed.
    pub questions_failed: usize,
    /// Questions interrupted before they finished.
    pub questions_interrupted: usize,
    /// Tokens generated (samples and greedy checks).
    pub tokens_generated: u64,
    /// Samples graded.
    pub samples_graded: u64,
    /// Tokens of the graded samples.
    pub tokens_graded: u64,
    /// Wall seconds of the run.
    pub seconds: f64,
    /// Seconds from the start to the last generated sample: what generation alone took.
    pub generation_seconds: f64,
    /// Wall seconds during which at least one grading call was running.
    pub grading_busy_seconds: f64,
    /// `tokens_generated / generation_seconds`.
    pub gen_tps: f64,
    /// `tokens_graded / grading_busy_seconds`.
    pub eval_tps: f64,
    /// `tokens_generated / seconds`: the whole pipeline's rate.
    pub pipeline_tps: f64,
    /// Energy of the run, or why it was not measured.
    pub energy: Energy,
    /// Joules per sample generated in this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joules_per_generated_sample: Option<f64>,
    /// Joules per question solved in this run (some sample passed, or greedy decoding did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joules_per_solved_problem: Option<f64>,
}

impl SweepTotals {
    /// Counts `outcomes` and derives the rates from the raw counts and times.
    pub(super) fn new(
        outcomes: &[(usize, QuestionOutcome)],
        work: RunWork,
        times: RunTimes,
        energy: Energy,
    ) -> Self {
        let RunWork {
            tokens_generated,
            samples_generated,
            samples_graded,
            tokens_graded,
        } = work;
        let count = |f: fn(&QuestionOutcome) -> bool| outcomes.iter().filter(|(_, o)| f(o)).count();
        let solved = count(|o| match o {
            QuestionOutcome::Skipped => true,
            QuestionOutcome::Done(rates) => rates.iter().any(|(_, rate)| *rate > 0.0),
            _ => false,
        });
        SweepTotals {
            questions_done: count(|o| matches!(o, QuestionOutcome::Done(_))),
            questions_skipped: count(|o| matches!(o, QuestionOutcome::Skipped)),
            questions_resumed: count(|o| matches!(o, QuestionOutcome::Resumed)),
            questions_failed: count(|o| matches!(o, QuestionOutcome::Failed(_))),
            questions_interrupted: count(|o| matches!(o, QuestionOutcome::Cancelled)),
            tokens_generated,
            samples_graded,
            tokens_graded,
            seconds: times.seconds,
            generation_seconds: times.generation,
            grading_busy_seconds: times.grading_busy,
            gen_tps: tokens_generated as f64 / times.generation.max(1e-9),
            eval_tps: tokens_graded as f64 / times.grading_busy.max(1e-9),
            pipeline_tps: tokens_generated as f64 / times.seconds.max(1e-9),
            joules_per_generated_sample: energy.per(samples_generated),
            joules_per_solved_problem: energy.per(solved as u64),
            energy,
        }
    }
}

/// What a run did, counted.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RunWork {
    /// Tokens generated (samples and greedy checks).
    pub tokens_generated: u64,
    /// Samples generated (greedy checks included).
    pub samples_generated: u64,
    /// Samples graded.
    pub samples_graded: u64,
    /// Tokens of the graded samples.
    pub tokens_graded: u64,
}

/// The three clocks of a run, in seconds.
#[derive(Debug, Clone, Copy)]
pub(super) struct RunTimes {
    /// The whole run.
    pub seconds: f64,
    /// From the start to the last generated sample.
    pub generation: f64,
    /// While the grader was busy.
    pub grading_busy: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `run_summary.json`'s `totals` keep the keys, order and arithmetic they had when they
    /// were written by hand, so trees and scripts reading them do not change.
    #[test]
    fn totals_record_the_fields_scripts_read() {
        let outcomes = vec![
            (0, QuestionOutcome::Done(vec![(0.5, 50.0)])),
            (1, QuestionOutcome::Skipped),
            (2, QuestionOutcome::Failed("x".into())),
            (3, QuestionOutcome::Done(vec![])),
        ];
        let times = RunTimes {
            seconds: 4.0,
            generation: 2.0,
            grading_busy: 0.5,
        };
        let work = RunWork {
            tokens_generated: 100,
            samples_generated: 10,
            samples_graded: 8,
            tokens_graded: 40,
        };
        let energy = crate::bench::energy::measure(Ok(0), Ok(20_000), 4.0);
        let totals = SweepTotals::new(&outcomes, work, times, energy);
        let value = serde_json::to_value(&totals).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "questions_done",
                "questions_skipped",
                "questions_resumed",
                "questions_failed",
                "questions_interrupted",
                "tokens_generated",
                "samples_graded",
                "tokens_graded",
                "seconds",
                "generation_seconds",
                "grading_busy_seconds",
                "gen_tps",
                "eval_tps",
                "pipeline_tps",
                "energy",
                "joules_per_generated_sample",
                "joules_per_solved_problem",
            ]
        );
        // 20 J over 10 samples; two questions solved (q0 by sampling, q1 greedily; q3 passed
        // nothing).
        assert_eq!(value["joules_per_generated_sample"], 2.0);
        assert_eq!(value["joules_per_solved_problem"], 10.0);
        assert_eq!(value["energy"]["average_watts"], 5.0);
        // Without a counter the per-unit figures are absent and the reason is there.
        let none = SweepTotals::new(&outcomes, work, times, Energy::unavailable("cpu"));
        let value = serde_json::to_value(&none).unwrap();
        assert!(value.get("joules_per_generated_sample").is_none());
        assert_eq!(value["energy"]["energy_unavailable"], "cpu");
        assert_eq!(value["questions_done"], 2);
        assert_eq!(value["questions_failed"], 1);
        assert_eq!(value["gen_tps"], 50.0);
        assert_eq!(value["eval_tps"], 80.0);
        assert_eq!(value["pipeline_tps"], 25.0);
    }
}
