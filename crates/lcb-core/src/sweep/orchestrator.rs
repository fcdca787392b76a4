//! Running a sweep against any [`Generator`] and [`Evaluator`].
//!
//! Several questions are in flight at once (so the engine never idles). For each question:
//! an optional greedy check (solved greedily → `skipped.json`); then one request with every
//! missing temperature × n samples, sharing one prompt prefill; completions stream into a
//! bounded grading queue (backpressure: generation waits for grading rather than piling up
//! in memory) served by grading threads; each (question, temperature) file is written as
//! soon as its last sample is graded, and `summary.json` when the question is done.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver, Sender};

use super::config::{python_float, Shard, SweepSettings};
use super::store::*;
use crate::dataset::ProblemSet;
use crate::error::Error;
use crate::evaluator::{Evaluator, GradeRequest};
use crate::generator::{
    Completion, GenerationRequest, Generator, Prompt, SampleGroup, SamplingParams,
};
use crate::problem::Problem;
use crate::verdict::Grade;

/// The random stream of the greedy check (temperature streams are the temperature's bits).
const GREEDY_STREAM: u64 = u64::MAX;

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
    /// Overwrite a tree made with other settings.
    pub force: bool,
    /// Questions in flight at once.
    pub inflight: usize,
    /// Threads feeding the evaluator.
    pub grading_threads: usize,
    /// Grader description (recorded).
    pub evaluator_description: serde_json::Value,
}

/// Progress callbacks (all have empty defaults).
pub trait SweepObserver: Sync {
    /// A question starts generating `samples` samples.
    fn question_started(&self, _idx: usize, _samples: usize) {}
    /// A sample was generated with `tokens` tokens.
    fn sample_generated(&self, _tokens: usize) {}
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
    #[error("{path} was made with different settings ({difference}); use --force to overwrite it or choose another --output")]
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

struct GradeJob<'a> {
    problem: &'a Problem,
    code: String,
    reply: Sender<(usize, usize, Grade, f64)>,
    group: usize,
    index: usize,
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
    let started_at = now_rfc3339();
    check_compatible(store, plan)?;
    let mut summary = RunSummary {
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        format_version: FORMAT_VERSION,
        settings: plan.settings.clone(),
        problems: plan.problems_source.clone(),
        model_config: generator.describe(),
        evaluator: plan.evaluator_description.clone(),
        questions: plan.questions.clone(),
        shard: plan.shard.map(|s| format!("{}/{}", s.index, s.count)),
        started: started_at,
        finished: None,
        totals: serde_json::json!({}),
    };
    store.write(&store.run_summary_path(), &summary)?;

    let tokens = AtomicUsize::new(0);
    let graded = AtomicUsize::new(0);
    let last_generated_us = AtomicU64::new(0);
    let generating = GenerationPermits::new(plan.inflight);
    let next = AtomicUsize::new(0);
    let outcomes = Mutex::new(Vec::new());
    let (grade_tx, grade_rx) = crossbeam_channel::bounded::<GradeJob<'_>>(4096);
    std::thread::scope(|scope| {
        for _ in 0..plan.grading_threads.max(1) {
            let rx = grade_rx.clone();
            scope.spawn(move || grading_loop(evaluator, rx));
        }
        drop(grade_rx);
        // Up to `inflight` questions generate at once; as many again may be finishing their
        // grading meanwhile (bounded, so finished completions never pile up).
        let workers: Vec<_> = (0..2 * plan.inflight.max(1))
            .map(|_| {
                let grade_tx = grade_tx.clone();
                let ctx = QuestionContext {
                    generator,
                    evaluator,
                    plan,
                    store,
                    observer,
                    cancel,
                    grade_tx,
                    tokens: &tokens,
                    graded: &graded,
                    run_started: started,
                    last_generated_us: &last_generated_us,
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
            w.join().expect("question thread panicked");
        }
    });

    let mut outcomes = outcomes.into_inner().expect("outcomes lock");
    outcomes.sort_by_key(|(idx, _)| *idx);
    let seconds = started.elapsed().as_secs_f64();
    let report = SweepReport {
        tokens: tokens.load(Ordering::SeqCst) as u64,
        graded: graded.load(Ordering::SeqCst) as u64,
        seconds,
        cancelled: cancel.load(Ordering::SeqCst),
        outcomes,
    };
    let count =
        |f: fn(&QuestionOutcome) -> bool| report.outcomes.iter().filter(|(_, o)| f(o)).count();
    // From the start to the last generated sample: what generation alone took in this run.
    let generation_seconds = last_generated_us.load(Ordering::SeqCst) as f64 * 1e-6;
    summary.finished = (!report.cancelled).then(now_rfc3339);
    summary.totals = serde_json::json!({
        "questions_done": count(|o| matches!(o, QuestionOutcome::Done(_))),
        "questions_skipped": count(|o| matches!(o, QuestionOutcome::Skipped)),
        "questions_resumed": count(|o| matches!(o, QuestionOutcome::Resumed)),
        "questions_failed": count(|o| matches!(o, QuestionOutcome::Failed(_))),
        "tokens_generated": report.tokens,
        "samples_graded": report.graded,
        "seconds": seconds,
        "generation_seconds": generation_seconds,
        "gen_tps": report.tokens as f64 / generation_seconds.max(1e-9),
        "pipeline_tps": report.tokens as f64 / seconds.max(1e-9),
    });
    store.write(&store.run_summary_path(), &summary)?;
    let failures: Vec<&String> = report
        .outcomes
        .iter()
        .filter_map(|(_, o)| match o {
            QuestionOutcome::Failed(e) => Some(e),
            _ => None,
        })
        .collect();
    if let Some(first) = failures.first() {
        return Err(SweepError::Failed {
            failed: failures.len(),
            first: (*first).clone(),
        });
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

/// Refuses to mix results made with other settings into an existing tree.
fn check_compatible(store: &ResultStore, plan: &SweepPlan<'_>) -> Result<(), SweepError> {
    let path = store.run_summary_path();
    let previous: Option<serde_json::Value> = match store.read(&path) {
        Ok(p) => p,
        Err(_) if plan.force => None,
        Err(e) => {
            return Err(SweepError::Incompatible {
                path: path.display().to_string(),
                difference: format!("it cannot be read: {e}"),
            })
        }
    };
    let Some(previous) = previous else {
        return Ok(());
    };
    if plan.force {
        return Ok(());
    }
    let difference = if previous.get("format_version") != Some(&serde_json::json!(FORMAT_VERSION)) {
        Some(format!(
            "result format {} vs {FORMAT_VERSION}",
            previous
                .get("format_version")
                .unwrap_or(&serde_json::Value::Null)
        ))
    } else {
        let now = serde_json::to_value(&plan.settings).expect("settings serialize");
        let before = previous.get("settings").cloned().unwrap_or_default();
        now.as_object().and_then(|now| {
            now.iter().find_map(|(k, v)| {
                let old = before.get(k).unwrap_or(&serde_json::Value::Null);
                (old != v).then(|| format!("{k}: was {old}, now {v}"))
            })
        })
    };
    match difference {
        None => Ok(()),
        Some(difference) => Err(SweepError::Incompatible {
            path: path.display().to_string(),
            difference,
        }),
    }
}

fn grading_loop(evaluator: &dyn Evaluator, jobs: Receiver<GradeJob<'_>>) {
    const BATCH: usize = 64;
    while let Ok(first) = jobs.recv() {
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
        let start = Instant::now();
        let grades = evaluator.grade(&requests);
        let share = start.elapsed().as_secs_f64() / batch.len() as f64;
        match grades {
            Ok(grades) => {
                for (job, grade) in batch.iter().zip(grades) {
                    let _ = job.reply.send((job.group, job.index, grade, share));
                }
            }
            Err(e) => {
                // Dropping the jobs' reply senders tells their questions that grading failed.
                tracing::error!("grading failed: {e}");
            }
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
    tokens: &'s AtomicUsize,
    graded: &'s AtomicUsize,
    /// When the run started, and the latest moment (µs after it) a sample was generated:
    /// the run's generation time, without the grading tail.
    run_started: Instant,
    last_generated_us: &'s AtomicU64,
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

/// Per-temperature accumulation while a question runs.
struct Pending {
    temperature: f64,
    raws: Vec<Option<Completion>>,
    grades: Vec<Option<Grade>>,
    grading_seconds: f64,
}

impl<'s, 'a: 's> QuestionContext<'s, 'a> {
    /// Records that a sample was just generated.
    fn note_generated(&self) {
        let us = self.run_started.elapsed().as_micros() as u64;
        self.last_generated_us.fetch_max(us, Ordering::SeqCst);
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

    /// Whether an existing temperature file is complete and made with these settings.
    fn valid_result(&self, idx: usize, t: f64, problem: &Problem) -> bool {
        let path = self.store.temperature_path(idx, t, self.plan.settings.n);
        match self.store.read::<TemperatureResult>(&path) {
            Ok(Some(r)) => {
                let ok = r.format_version == FORMAT_VERSION
                    && r.question_id == problem.id()
                    && r.n == self.plan.settings.n
                    && r.completions.len() == r.n
                    && r.model == self.plan.settings.model
                    && r.sampling_params == self.recorded(t);
                if !ok {
                    self.observer.warn(&format!(
                        "{}: made with other settings; redoing it",
                        path.display()
                    ));
                }
                ok
            }
            Ok(None) => false,
            Err(e) => {
                self.observer.warn(&format!("{e}; redoing it"));
                false
            }
        }
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
        if settings.skip_greedy_solved {
            if let Ok(Some(s)) = self.store.read::<Skipped>(&self.store.skipped_path(idx)) {
                if s.format_version == FORMAT_VERSION && s.question_id == problem.id() {
                    return Ok(QuestionOutcome::Resumed);
                }
            }
        }
        let missing: Vec<f64> = settings
            .temperatures
            .iter()
            .copied()
            .filter(|&t| !self.valid_result(idx, t, problem))
            .collect();
        let summary_ok = matches!(
            self.store.read::<QuestionSummary>(&self.store.summary_path(idx)),
            Ok(Some(ref s)) if s.temperatures == settings.temperatures && s.n == settings.n
        );
        if missing.is_empty() && summary_ok {
            return Ok(QuestionOutcome::Resumed);
        }
        let started = Instant::now();
        let prompt = self.prompt(problem)?;
        let prompt_text = self
            .generator
            .prompt_text(&prompt)
            .map_err(|e| e.to_string())?;

        let Some(permit) = self.generating.acquire(self.cancel) else {
            return Ok(QuestionOutcome::Cancelled);
        };
        let mut permit = Some(permit);
        // Greedy check, unless every temperature file is already there.
        if settings.skip_greedy_solved && missing.len() == settings.temperatures.len() {
            if let Some(record) = self.greedy_check(problem, &prompt)? {
                let skipped = Skipped {
                    question_idx: idx,
                    question_id: problem.id().to_owned(),
                    question_title: problem.title().to_owned(),
                    reason: "greedy_passed".into(),
                    greedy: record,
                    format_version: FORMAT_VERSION,
                };
                self.store
                    .write(&self.store.skipped_path(idx), &skipped)
                    .map_err(|e| e.to_string())?;
                return Ok(QuestionOutcome::Skipped);
            }
        }
        if self.cancel.load(Ordering::SeqCst) {
            return Ok(QuestionOutcome::Cancelled);
        }

        let n = settings.n;
        let groups: Vec<SampleGroup> = missing
            .iter()
            .map(|&t| SampleGroup {
                params: self.params(t),
                n,
                stream: t.to_bits(),
            })
            .collect();
        self.observer.question_started(idx, groups.len() * n);
        let submitted = Instant::now();
        let mut completions = if groups.is_empty() {
            crossbeam_channel::never()
        } else {
            self.generator
                .submit(GenerationRequest { prompt, groups })
                .map_err(|e| e.to_string())?
        };
        let mut pending: Vec<Pending> = missing
            .iter()
            .map(|&t| Pending {
                temperature: t,
                raws: vec![None; n],
                grades: vec![None; n],
                grading_seconds: 0.0,
            })
            .collect();
        let (reply_tx, reply_rx) = crossbeam_channel::unbounded();
        let mut outstanding = missing.len() * n;
        let mut remaining_per_group: HashMap<usize, usize> =
            (0..missing.len()).map(|g| (g, n)).collect();
        let mut generation_open = !missing.is_empty();
        let mut question_tokens = 0usize;
        let mut last_generated = submitted;
        while outstanding > 0 {
            if self.cancel.load(Ordering::SeqCst) {
                return Ok(QuestionOutcome::Cancelled);
            }
            select! {
                recv(completions) -> msg => match msg {
                    Ok(Ok(c)) => {
                        let (g, i) = (c.group, c.index);
                        if pending.get(g).is_none_or(|p| i >= p.raws.len()) {
                            return Err("generator returned an unknown sample".into());
                        }
                        self.observer.sample_generated(c.token_ids.len());
                        self.tokens.fetch_add(c.token_ids.len(), Ordering::SeqCst);
                        question_tokens += c.token_ids.len();
                        last_generated = Instant::now();
                        self.note_generated();
                        let code = crate::extract::extract_code(&c.text);
                        pending[g].raws[i] = Some(c);
                        let job = GradeJob { problem, code, reply: reply_tx.clone(), group: g, index: i };
                        self.grade_tx.send(job).map_err(|_| "grading stopped")?;
                    }
                    Ok(Err(e)) => return Err(e.to_string()),
                    Err(_) => {
                        if generation_open && pending.iter().any(|p| p.raws.iter().any(Option::is_none)) {
                            return Err("the generator closed the request before finishing it".into());
                        }
                        generation_open = false;
                        // A disconnected channel is always ready: without this swap the
                        // loop would spin on it until the last verdict, burning a core that
                        // generation and grading need.
                        completions = crossbeam_channel::never();
                        // Every sample is generated: let the next question start.
                        drop(permit.take());
                    }
                },
                recv(reply_rx) -> msg => {
                    let (g, i, grade, seconds) = msg.map_err(|_| "grading failed")?;
                    self.observer.sample_graded();
                    self.graded.fetch_add(1, Ordering::SeqCst);
                    pending[g].grades[i] = Some(grade);
                    pending[g].grading_seconds += seconds;
                    outstanding -= 1;
                    let left = remaining_per_group.get_mut(&g).expect("group exists");
                    *left -= 1;
                    if *left == 0 {
                        let gen_secs = last_generated.duration_since(submitted).as_secs_f64();
                        let pipe_secs = submitted.elapsed().as_secs_f64();
                        self.write_temperature(idx, problem, &prompt_text, &pending[g], question_tokens, gen_secs, pipe_secs)?;
                    }
                },
                default(Duration::from_millis(200)) => {}
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
        Ok(QuestionOutcome::Done(pass_rates))
    }

    /// Generates one greedy sample and grades it; `Some(record)` when it passes.
    fn greedy_check(
        &self,
        problem: &Problem,
        prompt: &Prompt,
    ) -> Result<Option<CompletionRecord>, String> {
        let request = GenerationRequest {
            prompt: prompt.clone(),
            groups: vec![SampleGroup {
                params: self.params(0.0),
                n: 1,
                stream: GREEDY_STREAM,
            }],
        };
        let rx = self.generator.submit(request).map_err(|e| e.to_string())?;
        let completion = rx
            .recv()
            .map_err(|_| "the generator closed the greedy request".to_owned())?
            .map_err(|e| e.to_string())?;
        self.tokens
            .fetch_add(completion.token_ids.len(), Ordering::SeqCst);
        self.note_generated();
        let code = crate::extract::extract_code(&completion.text);
        let grade = self
            .evaluator
            .grade(&[GradeRequest {
                problem,
                code: &code,
            }])
            .map_err(|e| e.to_string())?
            .remove(0);
        if !grade.passed() {
            return Ok(None);
        }
        Ok(Some(CompletionRecord {
            raw: completion.text,
            passed: true,
            verdict: grade.verdict,
            finish_reason: completion.finish_reason,
            num_tokens: completion.token_ids.len(),
        }))
    }

    #[allow(clippy::too_many_arguments)]
    fn write_temperature(
        &self,
        idx: usize,
        problem: &Problem,
        prompt_text: &str,
        p: &Pending,
        question_tokens: usize,
        gen_secs: f64,
        pipe_secs: f64,
    ) -> Result<(), String> {
        let completions: Vec<CompletionRecord> = p
            .raws
            .iter()
            .zip(&p.grades)
            .map(|(c, g)| {
                let (c, g) = (c.as_ref().expect("generated"), g.as_ref().expect("graded"));
                CompletionRecord {
                    raw: c.text.clone(),
                    passed: g.passed(),
                    verdict: g.verdict,
                    finish_reason: c.finish_reason,
                    num_tokens: c.token_ids.len(),
                }
            })
            .collect();
        let tokens: usize = completions.iter().map(|c| c.num_tokens).sum();
        let passed = completions.iter().filter(|c| c.passed).count();
        let n = completions.len();
        let result = TemperatureResult {
            model: self.plan.settings.model.clone(),
            prompt: prompt_text.to_owned(),
            sampling_params: self.recorded(p.temperature),
            model_config: self.generator.describe(),
            question_idx: idx,
            question_id: problem.id().to_owned(),
            question_title: problem.title().to_owned(),
            temperature: p.temperature,
            n,
            passed,
            pass_rate: 100.0 * passed as f64 / n.max(1) as f64,
            gen_tps: question_tokens as f64 / gen_secs.max(1e-9),
            eval_tps: tokens as f64 / p.grading_seconds.max(1e-9),
            pipeline_tps: question_tokens as f64 / pipe_secs.max(1e-9),
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
