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

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver, Sender};

use super::config::{python_float, Shard, SweepSettings};
use super::journal::Journal;
use super::store::*;
use crate::dataset::ProblemSet;
use crate::error::Error;
use crate::evaluator::{Evaluator, GradeRequest};
use crate::generator::{
    FinishReason, GenerationRequest, Generator, Prompt, SampleGroup, SamplingParams,
};
use crate::problem::Problem;
use crate::verdict::Grade;

/// The random stream of the greedy check (greedy decoding draws nothing; the request still
/// names a stream).
const GREEDY_STREAM: u64 = u64::MAX;

/// How often a waiting question looks at the cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(200);

/// The random stream of a question's samples at `temperature`: a hash of the question id
/// and the temperature's bits. Sample `j` at `T` therefore uses other random draws for every
/// question (questions are independent experiments, so their errors do not correlate), yet
/// the same draws in every run, whichever temperatures or questions a run has left to do.
pub fn sample_stream(question_id: &str, temperature: f64) -> u64 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"lcb sweep sample stream\0");
    hasher.update(question_id.as_bytes());
    hasher.update(b"\0");
    hasher.update(&temperature.to_bits().to_le_bytes());
    let bytes: [u8; 8] = hasher.finalize().as_bytes()[..8]
        .try_into()
        .expect("a blake3 hash has 8 bytes");
    u64::from_le_bytes(bytes)
}

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
    /// Grader description (recorded).
    pub evaluator_description: serde_json::Value,
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
    #[error("{path} was made with different settings ({difference}); use --force to replace that tree or choose another --output")]
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
#[derive(Debug, Clone, Default)]
pub struct SweepReport {
    /// Outcome per question index.
    pub outcomes: Vec<(usize, QuestionOutcome)>,
    /// Tokens generated in this run.
    pub tokens: u64,
    /// Samples graded in this run.
    pub graded: u64,
    /// Wall seconds.
    pub seconds: f64,
    /// Whether the run was interrupted.
    pub cancelled: bool,
}

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
    let _lock = store.lock()?;
    let ids: Vec<&str> = plan.problems.problems().iter().map(|p| p.id()).collect();
    let mut summary = RunSummary {
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        format_version: FORMAT_VERSION,
        settings: plan.settings.clone(),
        problems: plan.problems_source.clone(),
        problem_set: problem_set_id(&ids),
        generator: generator.fingerprint(),
        model_config: generator.describe(),
        evaluator: plan.evaluator_description.clone(),
        questions: plan.questions.clone(),
        shard: plan.shard.map(|s| format!("{}/{}", s.index, s.count)),
        started: now_rfc3339(),
        finished: None,
        totals: serde_json::json!({}),
    };
    prepare_tree(store, plan, &summary, observer)?;
    store.write(&store.run_summary_path(), &summary)?;

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
    let seconds = started.elapsed().as_secs_f64();
    let report = SweepReport {
        tokens: counters.tokens.load(Ordering::SeqCst) as u64,
        graded: counters.graded.load(Ordering::SeqCst) as u64,
        seconds,
        cancelled: cancel.load(Ordering::SeqCst),
        outcomes,
    };
    let count =
        |f: fn(&QuestionOutcome) -> bool| report.outcomes.iter().filter(|(_, o)| f(o)).count();
    let failed = count(|o| matches!(o, QuestionOutcome::Failed(_)));
    // From the start to the last generated sample: what generation alone took in this run.
    let generation_seconds = counters.last_generated_us.load(Ordering::SeqCst) as f64 * 1e-6;
    let graded_tokens = counters.graded_tokens.load(Ordering::SeqCst);
    let grading_seconds = busy.seconds();
    summary.finished = (!report.cancelled && failed == 0).then(now_rfc3339);
    summary.totals = serde_json::json!({
        "questions_done": count(|o| matches!(o, QuestionOutcome::Done(_))),
        "questions_skipped": count(|o| matches!(o, QuestionOutcome::Skipped)),
        "questions_resumed": count(|o| matches!(o, QuestionOutcome::Resumed)),
        "questions_failed": failed,
        "questions_interrupted": count(|o| matches!(o, QuestionOutcome::Cancelled)),
        "tokens_generated": report.tokens,
        "samples_graded": report.graded,
        "tokens_graded": graded_tokens,
        "seconds": seconds,
        "generation_seconds": generation_seconds,
        "grading_busy_seconds": grading_seconds,
        "gen_tps": report.tokens as f64 / generation_seconds.max(1e-9),
        "eval_tps": graded_tokens as f64 / grading_seconds.max(1e-9),
        "pipeline_tps": report.tokens as f64 / seconds.max(1e-9),
    });
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

/// Refuses to mix results made with other settings into an existing tree; with
/// `plan.force`, deletes that tree's result files instead, so the new run does not mix
/// either.
fn prepare_tree(
    store: &ResultStore,
    plan: &SweepPlan<'_>,
    summary: &RunSummary,
    observer: &dyn SweepObserver,
) -> Result<(), SweepError> {
    let path = store.run_summary_path();
    let difference = match store.read::<serde_json::Value>(&path) {
        Ok(None) => None,
        Ok(Some(previous)) => {
            let version = previous.get("format_version").and_then(|v| v.as_u64());
            if version != Some(u64::from(FORMAT_VERSION)) {
                Some(format!(
                    "result format: was {}, now {FORMAT_VERSION}",
                    version.map_or("unknown".to_owned(), |v| v.to_string())
                ))
            } else {
                match serde_json::from_value::<RunSummary>(previous) {
                    Ok(previous) => previous.difference(summary),
                    Err(e) => Some(format!("it cannot be read: {e}")),
                }
            }
        }
        Err(e) => Some(format!("it cannot be read: {e}")),
    };
    let Some(difference) = difference else {
        return Ok(());
    };
    if !plan.force {
        return Err(SweepError::Incompatible {
            path: path.display().to_string(),
            difference,
        });
    }
    let removed = store.remove_results()?;
    observer.warn(&format!(
        "{} was made with different settings ({difference}); forced: deleted its {removed} result files",
        path.display()
    ));
    Ok(())
}

/// Run-wide counters shared by the question threads.
#[derive(Default)]
struct Counters {
    /// Tokens generated (samples and greedy checks).
    tokens: AtomicUsize,
    /// Samples graded.
    graded: AtomicUsize,
    /// Tokens of the graded samples.
    graded_tokens: AtomicUsize,
    /// The latest moment (µs after the start) a sample was generated: the run's
    /// generation time, without the grading tail.
    last_generated_us: AtomicU64,
}

/// Wall time during which at least one grading call was running: the grader's busy time,
/// however many calls overlapped.
#[derive(Default)]
struct BusyClock {
    state: Mutex<BusyState>,
}

#[derive(Default)]
struct BusyState {
    running: usize,
    since: Option<Instant>,
    total: Duration,
}

impl BusyClock {
    fn start(&self) {
        let mut s = self.state.lock().expect("busy clock lock");
        if s.running == 0 {
            s.since = Some(Instant::now());
        }
        s.running += 1;
    }

    fn stop(&self) {
        let mut s = self.state.lock().expect("busy clock lock");
        s.running -= 1;
        if s.running == 0 {
            if let Some(since) = s.since.take() {
                s.total += since.elapsed();
            }
        }
    }

    fn seconds(&self) -> f64 {
        let s = self.state.lock().expect("busy clock lock");
        (s.total + s.since.map_or(Duration::ZERO, |t| t.elapsed())).as_secs_f64()
    }
}

/// One program for the grading threads.
struct GradeJob<'a> {
    problem: &'a Problem,
    code: String,
    reply: Sender<GradeReply>,
    group: usize,
    index: usize,
}

/// A grading thread's answer for one [`GradeJob`].
struct GradeReply {
    group: usize,
    index: usize,
    /// The grade, or why the grader could not give one.
    grade: Result<Grade, String>,
    /// Wall seconds of the grading call, shared evenly by the programs it graded.
    seconds: f64,
}

/// Calls the evaluator, turning a panic or a wrong number of grades into an error.
fn grade_all(
    evaluator: &dyn Evaluator,
    requests: &[GradeRequest<'_>],
) -> Result<Vec<Grade>, String> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| evaluator.grade(requests))) {
        Ok(Ok(grades)) if grades.len() == requests.len() => Ok(grades),
        Ok(Ok(grades)) => Err(format!(
            "the evaluator returned {} grades for {} programs",
            grades.len(),
            requests.len()
        )),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the evaluator panicked".into()),
    }
}

fn grading_loop(
    evaluator: &dyn Evaluator,
    jobs: Receiver<GradeJob<'_>>,
    cancel: &AtomicBool,
    busy: &BusyClock,
) {
    const BATCH: usize = 64;
    while let Ok(first) = jobs.recv() {
        // After an interruption nobody waits for verdicts: empty the queue without grading.
        if cancel.load(Ordering::SeqCst) {
            continue;
        }
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let requests: Vec<_> = batch
            .iter()
            .map(|j| GradeRequest {
                problem: j.problem,
                code: &j.code,
            })
            .collect();
        busy.start();
        let start = Instant::now();
        let grades = grade_all(evaluator, &requests);
        let seconds = start.elapsed().as_secs_f64() / batch.len() as f64;
        busy.stop();
        if let Err(e) = &grades {
            tracing::error!("grading failed: {e}");
        }
        for (i, job) in batch.iter().enumerate() {
            let grade = match &grades {
                Ok(grades) => Ok(grades[i].clone()),
                Err(e) => Err(e.clone()),
            };
            // A question that stopped waiting (interrupted, failed) dropped its receiver.
            let _ = job.reply.send(GradeReply {
                group: job.group,
                index: job.index,
                grade,
                seconds,
            });
        }
    }
}

struct QuestionContext<'s, 'a> {
    generator: &'s dyn Generator,
    evaluator: &'s dyn Evaluator,
    plan: &'s SweepPlan<'a>,
    store: &'s ResultStore,
    observer: &'s dyn SweepObserver,
    cancel: &'s AtomicBool,
    grade_tx: Sender<GradeJob<'s>>,
    counters: &'s Counters,
    run_started: Instant,
    /// Questions generating at once (`plan.inflight`); a question gives its permit back as
    /// soon as its last sample is generated, so the next question's request reaches the
    /// generator while the previous one's samples are still being graded.
    generating: &'s GenerationPermits,
}

/// A counting semaphore over questions that are generating.
struct GenerationPermits {
    free: Mutex<usize>,
    returned: std::sync::Condvar,
}

/// One question's right to generate; given back when dropped.
struct GenerationPermit<'p>(&'p GenerationPermits);

impl GenerationPermits {
    fn new(count: usize) -> Self {
        GenerationPermits {
            free: Mutex::new(count.max(1)),
            returned: std::sync::Condvar::new(),
        }
    }

    /// Waits for a permit; `None` once `cancel` is set.
    fn acquire<'p>(&'p self, cancel: &AtomicBool) -> Option<GenerationPermit<'p>> {
        let mut free = self.free.lock().expect("permits lock");
        loop {
            if cancel.load(Ordering::SeqCst) {
                return None;
            }
            if *free > 0 {
                *free -= 1;
                return Some(GenerationPermit(self));
            }
            free = self
                .returned
                .wait_timeout(free, Duration::from_millis(100))
                .expect("permits lock")
                .0;
        }
    }
}

impl Drop for GenerationPermit<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().expect("permits lock") += 1;
        self.0.returned.notify_one();
    }
}

/// What the sweep keeps of a generated sample: not its token ids or log-probabilities,
/// which at the reference scale (16 × 2,500 samples of up to 2,048 tokens) would hold
/// hundreds of megabytes per question.
struct Sample {
    text: String,
    finish_reason: FinishReason,
    num_tokens: usize,
}

impl Sample {
    /// The sample as a result file records it, with its grade.
    fn record(&self, grade: &Grade) -> CompletionRecord {
        CompletionRecord {
            raw: self.text.clone(),
            passed: grade.passed(),
            verdict: grade.verdict,
            finish_reason: self.finish_reason,
            num_tokens: self.num_tokens,
        }
    }
}

/// Per-temperature accumulation while a question runs.
struct Pending {
    temperature: f64,
    samples: Vec<Option<Sample>>,
    grades: Vec<Option<Grade>>,
    /// Samples an interrupted run graded (from the journal), not generated again.
    journaled: Vec<bool>,
    generated: usize,
    graded: usize,
    /// Grading seconds charged to this temperature's samples.
    grading_seconds: f64,
    /// When this temperature's last sample arrived: the question's tokens by then and the
    /// seconds since its request was submitted.
    generation_done: Option<(usize, f64)>,
}

/// How a greedy check ended, when it ends the question.
enum GreedyEnd {
    Solved,
    Cancelled,
}

impl<'s, 'a: 's> QuestionContext<'s, 'a> {
    /// Records that tokens were just generated.
    fn note_generated(&self, tokens: usize) {
        self.counters.tokens.fetch_add(tokens, Ordering::SeqCst);
        let us = self.run_started.elapsed().as_micros() as u64;
        self.counters
            .last_generated_us
            .fetch_max(us, Ordering::SeqCst);
    }

    fn prompt(&self, problem: &Problem) -> Result<Prompt, String> {
        let Problem::Lcb(p) = problem else {
            return Err("the sweep runs LiveCodeBench problems only".into());
        };
        Ok(self.plan.settings.prompt_for(p))
    }

    fn params(&self, temperature: f64) -> SamplingParams {
        let s = &self.plan.settings;
        SamplingParams {
            temperature: temperature as f32,
            top_p: s.top_p,
            top_k: s.top_k,
            max_tokens: s.max_tokens,
            stop: s.stop.clone(),
            ignore_eos: false,
            seed: s.seed,
        }
    }

    /// Reads one of a question's files for resuming: `None` when it is absent, or unreadable
    /// (with a warning: it is redone).
    fn read_existing<T: for<'de> serde::Deserialize<'de>>(
        &self,
        path: &std::path::Path,
    ) -> Option<T> {
        match self.store.read::<T>(path) {
            Ok(value) => value,
            Err(e) => {
                self.observer.warn(&format!("{e}; redoing it"));
                None
            }
        }
    }

    /// Warns that `path` exists but does not belong to this run; it is redone.
    fn warn_foreign(&self, path: &std::path::Path) {
        self.observer.warn(&format!(
            "{}: made with other settings or for another question; redoing it",
            path.display()
        ));
    }

    /// Whether an existing temperature file is complete and made with these settings.
    fn valid_result(&self, idx: usize, t: f64, problem: &Problem, prompt_text: &str) -> bool {
        let path = self.store.temperature_path(idx, t, self.plan.settings.n);
        let Some(r) = self.read_existing::<TemperatureResult>(&path) else {
            return false;
        };
        let ok = r.format_version == FORMAT_VERSION
            && r.question_id == problem.id()
            && r.n == self.plan.settings.n
            && r.completions.len() == r.n
            && r.model == self.plan.settings.model
            && r.prompt == prompt_text
            && r.sampling_params == self.recorded(t);
        if !ok {
            self.warn_foreign(&path);
        }
        ok
    }

    /// Whether an existing `skipped.json` says greedy decoding solves this question.
    fn valid_skipped(&self, idx: usize, problem: &Problem) -> bool {
        let path = self.store.skipped_path(idx);
        let Some(s) = self.read_existing::<Skipped>(&path) else {
            return false;
        };
        let ok = s.format_version == FORMAT_VERSION && s.question_id == problem.id();
        if !ok {
            self.warn_foreign(&path);
        }
        ok
    }

    /// Whether an existing `summary.json` covers this run's temperatures and n.
    fn valid_summary(&self, idx: usize, problem: &Problem) -> bool {
        let path = self.store.summary_path(idx);
        let Some(s) = self.read_existing::<QuestionSummary>(&path) else {
            return false;
        };
        let settings = &self.plan.settings;
        let ok = s.format_version == FORMAT_VERSION
            && s.question_id == problem.id()
            && s.temperatures == settings.temperatures
            && s.n == settings.n;
        if !ok {
            self.warn_foreign(&path);
        }
        ok
    }

    fn recorded(&self, t: f64) -> RecordedSampling {
        let s = &self.plan.settings;
        RecordedSampling {
            temperature: t,
            top_p: s.top_p,
            top_k: s.top_k,
            max_tokens: s.max_tokens,
            stop: s.stop.clone(),
            seed: s.seed,
        }
    }

    fn run_question(&self, idx: usize) -> Result<QuestionOutcome, String> {
        let problem = &self.plan.problems.problems()[idx];
        let settings = &self.plan.settings;
        self.store.remove_stale_temp_files(idx);
        let prompt = self.prompt(problem)?;
        let prompt_text = self
            .generator
            .prompt_text(&prompt)
            .map_err(|e| e.to_string())?;
        let warn = |m: &str| self.observer.warn(m);
        let journal_path = self.store.journal_path(idx);
        if settings.skip_greedy_solved && self.valid_skipped(idx, problem) {
            return Ok(QuestionOutcome::Resumed);
        }
        let missing: Vec<f64> = settings
            .temperatures
            .iter()
            .copied()
            .filter(|&t| !self.valid_result(idx, t, problem, &prompt_text))
            .collect();
        if missing.is_empty() && self.valid_summary(idx, problem) {
            // A run killed between its summary and deleting its journal leaves one behind.
            let _ = std::fs::remove_file(&journal_path);
            return Ok(QuestionOutcome::Resumed);
        }
        let mut journal = Journal::open(&journal_path, problem.id(), &prompt_text, &warn)
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        let mut permit = None;
        if !missing.is_empty() {
            let Some(p) = self.generating.acquire(self.cancel) else {
                return Ok(QuestionOutcome::Cancelled);
            };
            permit = Some(p);
            // Greedy check, unless an earlier run got past it (a temperature file or a
            // journal is there).
            if settings.skip_greedy_solved
                && missing.len() == settings.temperatures.len()
                && journal.is_empty()
            {
                match self.greedy_check(idx, problem, &prompt, &mut permit)? {
                    Some(GreedyEnd::Solved) => {
                        let _ = journal.remove();
                        return Ok(QuestionOutcome::Skipped);
                    }
                    Some(GreedyEnd::Cancelled) => return Ok(QuestionOutcome::Cancelled),
                    None => journal.record_greedy_failed().map_err(|e| e.to_string())?,
                }
            }
        }
        if self.cancel.load(Ordering::SeqCst) {
            return Ok(QuestionOutcome::Cancelled);
        }

        let n = settings.n;
        // Each missing temperature, with the samples an interrupted run already graded.
        let mut pending: Vec<Pending> = missing
            .iter()
            .map(|&t| {
                let mut p = Pending {
                    temperature: t,
                    samples: (0..n).map(|_| None).collect(),
                    grades: vec![None; n],
                    journaled: vec![false; n],
                    generated: 0,
                    graded: 0,
                    grading_seconds: 0.0,
                    generation_done: None,
                };
                for i in 0..n {
                    if let Some(c) = journal.sample(t, i) {
                        p.samples[i] = Some(Sample {
                            text: c.raw.clone(),
                            finish_reason: c.finish_reason,
                            num_tokens: c.num_tokens,
                        });
                        p.grades[i] = Some(Grade::new(c.verdict));
                        p.journaled[i] = true;
                        p.generated += 1;
                        p.graded += 1;
                    }
                }
                p
            })
            .collect();
        // Request groups: the temperatures with samples left, each without the samples it
        // has (`request_groups[g]` is group g's index in `pending`).
        let request_groups: Vec<usize> = (0..pending.len())
            .filter(|&pi| pending[pi].generated < n)
            .collect();
        let groups: Vec<SampleGroup> = request_groups
            .iter()
            .map(|&pi| {
                let p = &pending[pi];
                SampleGroup {
                    params: self.params(p.temperature),
                    n,
                    stream: sample_stream(problem.id(), p.temperature),
                    skip: (0..n).filter(|&i| p.journaled[i]).collect(),
                }
            })
            .collect();
        let submitted = Instant::now();
        // Temperatures the journal completes are written now.
        for p in pending.iter_mut().filter(|p| p.graded == n) {
            p.generation_done = Some((0, 0.0));
            self.write_temperature(idx, problem, &prompt_text, p, 0.0)?;
        }
        let to_generate: usize = groups.iter().map(SampleGroup::wanted).sum();
        let mut completions = if groups.is_empty() {
            drop(permit.take());
            crossbeam_channel::never()
        } else {
            self.observer.question_started(idx, to_generate);
            self.generator
                .submit(GenerationRequest { prompt, groups })
                .map_err(|e| e.to_string())?
        };
        let (reply_tx, reply_rx) = crossbeam_channel::unbounded::<GradeReply>();
        let mut outstanding: usize = pending.iter().map(|p| n - p.graded).sum();
        let mut question_tokens = 0usize;
        while outstanding > 0 {
            if self.cancel.load(Ordering::SeqCst) {
                return Ok(QuestionOutcome::Cancelled);
            }
            select! {
                recv(completions) -> msg => match msg {
                    Ok(Ok(c)) => {
                        let (g, i) = (c.group, c.index);
                        let Some(pi) = request_groups.get(g).copied().filter(|_| i < n) else {
                            return Err(format!("the generator returned sample {i} of group {g}, which was not asked for"));
                        };
                        let p = &mut pending[pi];
                        if p.journaled[i] {
                            // Asked to skip it and sent anyway: the recorded one stands.
                            continue;
                        }
                        if p.samples[i].is_some() {
                            return Err(format!("the generator returned sample {i} of group {g} twice"));
                        }
                        let num_tokens = c.token_ids.len();
                        self.observer.sample_generated(num_tokens);
                        self.note_generated(num_tokens);
                        question_tokens += num_tokens;
                        p.generated += 1;
                        if p.generated == n {
                            p.generation_done =
                                Some((question_tokens, submitted.elapsed().as_secs_f64()));
                        }
                        let code = crate::extract::extract_code(&c.text);
                        p.samples[i] = Some(Sample {
                            text: c.text,
                            finish_reason: c.finish_reason,
                            num_tokens,
                        });
                        let job = GradeJob { problem, code, reply: reply_tx.clone(), group: pi, index: i };
                        self.grade_tx.send(job).map_err(|_| "grading stopped")?;
                    }
                    Ok(Err(e)) => return Err(e.to_string()),
                    Err(_) => {
                        if let Some(p) = pending.iter().find(|p| p.generated < n) {
                            return Err(format!(
                                "the generator closed the request with {} of {n} samples at temperature {} generated",
                                p.generated,
                                python_float(p.temperature)
                            ));
                        }
                        // A disconnected channel is always ready: without this swap the
                        // loop would spin on it until the last verdict, burning a core that
                        // generation and grading need.
                        completions = crossbeam_channel::never();
                        // Every sample is generated: let the next question start.
                        drop(permit.take());
                    }
                },
                recv(reply_rx) -> msg => {
                    // This question holds a sender itself, so the channel never disconnects.
                    let reply = msg.expect("the question holds a reply sender");
                    let grade = reply.grade.map_err(|e| format!("grading failed: {e}"))?;
                    let (pi, i) = (reply.group, reply.index);
                    let p = &mut pending[pi];
                    if p.grades[i].is_some() {
                        return Err(format!("sample {i} at temperature {} was graded twice", python_float(p.temperature)));
                    }
                    let sample = p.samples[i].as_ref().expect("graded samples were generated");
                    self.observer.sample_graded();
                    self.counters.graded.fetch_add(1, Ordering::SeqCst);
                    self.counters.graded_tokens.fetch_add(sample.num_tokens, Ordering::SeqCst);
                    journal
                        .record(p.temperature, i, &sample.record(&grade))
                        .map_err(|e| e.to_string())?;
                    p.grades[i] = Some(grade);
                    p.grading_seconds += reply.seconds;
                    p.graded += 1;
                    outstanding -= 1;
                    if p.graded == n {
                        let pipeline_seconds = submitted.elapsed().as_secs_f64();
                        self.write_temperature(idx, problem, &prompt_text, &pending[pi], pipeline_seconds)?;
                    }
                },
                default(CANCEL_POLL) => {}
            }
        }
        drop(reply_tx);
        let rows = self.summary_rows(idx)?;
        let pass_rates = rows.iter().map(|r| (r.temperature, r.pass_rate)).collect();
        let summary = QuestionSummary {
            question_idx: idx,
            question_id: problem.id().to_owned(),
            question_title: problem.title().to_owned(),
            n,
            temperatures: settings.temperatures.clone(),
            total_time: started.elapsed().as_secs_f64(),
            results: rows,
            format_version: FORMAT_VERSION,
        };
        self.store
            .write(&self.store.summary_path(idx), &summary)
            .map_err(|e| e.to_string())?;
        journal.remove().map_err(|e| e.to_string())?;
        Ok(QuestionOutcome::Done(pass_rates))
    }

    /// Generates one greedy sample and grades it; writes `skipped.json` when it passes.
    /// The question's generation permit is handed back while the sample is graded (the
    /// engine has other questions to run meanwhile) and taken again if sampling follows.
    fn greedy_check(
        &self,
        idx: usize,
        problem: &Problem,
        prompt: &Prompt,
        permit: &mut Option<GenerationPermit<'s>>,
    ) -> Result<Option<GreedyEnd>, String> {
        let request = GenerationRequest {
            prompt: prompt.clone(),
            groups: vec![SampleGroup {
                params: self.params(0.0),
                n: 1,
                stream: GREEDY_STREAM,
                skip: Vec::new(),
            }],
        };
        let rx = self.generator.submit(request).map_err(|e| e.to_string())?;
        let completion = loop {
            if self.cancel.load(Ordering::SeqCst) {
                return Ok(Some(GreedyEnd::Cancelled));
            }
            match rx.recv_timeout(CANCEL_POLL) {
                Ok(c) => break c.map_err(|e| e.to_string())?,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    return Err("the generator closed the greedy request".into())
                }
            }
        };
        self.note_generated(completion.token_ids.len());
        self.observer.greedy_generated(completion.token_ids.len());
        drop(permit.take());
        let code = crate::extract::extract_code(&completion.text);
        let grade = grade_all(
            self.evaluator,
            &[GradeRequest {
                problem,
                code: &code,
            }],
        )
        .map_err(|e| format!("grading the greedy sample failed: {e}"))?
        .pop()
        .expect("grade_all returns one grade per request");
        if grade.passed() {
            let skipped = Skipped {
                question_idx: idx,
                question_id: problem.id().to_owned(),
                question_title: problem.title().to_owned(),
                reason: "greedy_passed".into(),
                greedy: CompletionRecord {
                    raw: completion.text,
                    passed: true,
                    verdict: grade.verdict,
                    finish_reason: completion.finish_reason,
                    num_tokens: completion.token_ids.len(),
                },
                format_version: FORMAT_VERSION,
            };
            self.store
                .write(&self.store.skipped_path(idx), &skipped)
                .map_err(|e| e.to_string())?;
            return Ok(Some(GreedyEnd::Solved));
        }
        match self.generating.acquire(self.cancel) {
            Some(p) => {
                *permit = Some(p);
                Ok(None)
            }
            None => Ok(Some(GreedyEnd::Cancelled)),
        }
    }

    /// Writes one temperature's file once every sample of it is graded.
    fn write_temperature(
        &self,
        idx: usize,
        problem: &Problem,
        prompt_text: &str,
        p: &Pending,
        pipeline_seconds: f64,
    ) -> Result<(), String> {
        let completions: Vec<CompletionRecord> = p
            .samples
            .iter()
            .zip(&p.grades)
            .map(|(s, g)| {
                // Both are filled: a temperature is written once all n samples are graded,
                // and a sample is graded only after it was generated.
                s.as_ref()
                    .expect("generated")
                    .record(g.as_ref().expect("graded"))
            })
            .collect();
        let tokens: usize = completions.iter().map(|c| c.num_tokens).sum();
        let passed = completions.iter().filter(|c| c.passed).count();
        let n = completions.len();
        let (question_tokens, generation_seconds) = p.generation_done.unwrap_or((0, 0.0));
        let result = TemperatureResult {
            model: self.plan.settings.model.clone(),
            prompt: prompt_text.to_owned(),
            sampling_params: self.recorded(p.temperature),
            model_config: self.generator.fingerprint(),
            question_idx: idx,
            question_id: problem.id().to_owned(),
            question_title: problem.title().to_owned(),
            temperature: p.temperature,
            n,
            passed,
            pass_rate: 100.0 * passed as f64 / n.max(1) as f64,
            gen_tps: question_tokens as f64 / generation_seconds.max(1e-9),
            eval_tps: tokens as f64 / p.grading_seconds.max(1e-9),
            pipeline_tps: question_tokens as f64 / pipeline_seconds.max(1e-9),
            completions,
            format_version: FORMAT_VERSION,
        };
        let path = self.store.temperature_path(idx, p.temperature, n);
        self.store
            .write(&path, &result)
            .map_err(|e| e.to_string())?;
        tracing::debug!(
            "q{idx} T={}: {passed}/{n} passed",
            python_float(p.temperature)
        );
        Ok(())
    }

    fn summary_rows(&self, idx: usize) -> Result<Vec<SummaryRow>, String> {
        let n = self.plan.settings.n;
        self.plan
            .settings
            .temperatures
            .iter()
            .map(|&t| {
                let path = self.store.temperature_path(idx, t, n);
                let r: TemperatureResult = self
                    .store
                    .read(&path)
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("{} is missing", path.display()))?;
                Ok(SummaryRow {
                    temperature: t,
                    n: r.n,
                    passed: r.passed,
                    pass_rate: r.pass_rate,
                    gen_tps: r.gen_tps,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
