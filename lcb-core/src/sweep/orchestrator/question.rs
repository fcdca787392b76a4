//! One question of a sweep, from its resume check to its `summary.json`, in three phases:
//!
//! 1. **begin**: skip what an earlier run finished, take a generation permit, run the greedy
//!    check, and gather the samples an interrupted run already graded (its journal);
//! 2. **event loop**: one request with every missing sample, completions sent to the grading
//!    queue as they arrive, verdicts journaled as they come back, and each temperature's file
//!    written as soon as its last sample is graded;
//! 3. **finish**: the question's `summary.json`, then the journal goes.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Sender};

use super::grading::{GradeJob, GradeReply, GradingError};
use super::greedy::GreedyEnd;
use super::permits::{GenerationPermit, GenerationPermits};
use super::plan::{QuestionOutcome, SweepObserver, SweepPlan};
use crate::error::Error;
use crate::evaluator::Evaluator;
use crate::generator::{
    Completion, FinishReason, GenError, GenerationRequest, Generator, Prompt, SampleGroup,
    SamplingParams,
};
use crate::problem::Problem;
use crate::sweep::config::python_float;
use crate::sweep::journal::Journal;
use crate::sweep::store::{
    CompletionRecord, QuestionSummary, RecordedSampling, ResultStore, SummaryRow,
    TemperatureResult, FORMAT_VERSION,
};
use crate::verdict::Grade;

/// How often a waiting question looks at the cancel flag.
pub(super) const CANCEL_POLL: Duration = Duration::from_millis(200);

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

/// Why a question failed (recorded as [`QuestionOutcome::Failed`]; the others go on).
#[derive(Debug, thiserror::Error)]
pub(super) enum QuestionError {
    /// The problem has no prompt under the sweep's settings.
    #[error(transparent)]
    Prompt(crate::prompt::PromptError),
    /// The generator refused the request or failed while generating.
    #[error(transparent)]
    Generator(#[from] GenError),
    /// Reading or writing the question's files failed.
    #[error(transparent)]
    Store(#[from] Error),
    /// The generator or the grader broke its side of the seam (a sample nobody asked for,
    /// one sent twice, a request closed early).
    #[error("{0}")]
    Contract(String),
    /// The grader could not grade one of the question's samples.
    #[error("grading failed: {0}")]
    Grading(GradingError),
    /// The grader could not grade the greedy sample.
    #[error("grading the greedy sample failed: {0}")]
    GreedyGrading(GradingError),
    /// The grading threads are gone (the run is ending).
    #[error("grading stopped")]
    GradingStopped,
}

/// Run-wide counters shared by the question threads.
#[derive(Default)]
pub(super) struct Counters {
    /// Tokens generated (samples and greedy checks).
    pub tokens: AtomicUsize,
    /// Samples generated (greedy checks included).
    pub samples: AtomicUsize,
    /// Samples graded.
    pub graded: AtomicUsize,
    /// Tokens of the graded samples.
    pub graded_tokens: AtomicUsize,
    /// The latest moment (µs after the start) a sample was generated: the run's
    /// generation time, without the grading tail.
    pub last_generated_us: AtomicU64,
}

/// What every question thread shares: the seams, the plan, the tree and the run's state.
pub(super) struct QuestionContext<'s, 'a> {
    pub generator: &'s dyn Generator,
    pub evaluator: &'s dyn Evaluator,
    pub plan: &'s SweepPlan<'a>,
    pub store: &'s ResultStore,
    pub observer: &'s dyn SweepObserver,
    pub cancel: &'s AtomicBool,
    pub grade_tx: Sender<GradeJob<'s>>,
    pub counters: &'s Counters,
    pub run_started: Instant,
    /// Questions generating at once (`plan.inflight`).
    pub generating: &'s GenerationPermits,
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

impl Pending {
    /// A temperature's `n` slots, with what `journal` holds of it already graded.
    fn from_journal(temperature: f64, n: usize, journal: &Journal) -> Self {
        let mut p = Pending {
            temperature,
            samples: (0..n).map(|_| None).collect(),
            grades: vec![None; n],
            journaled: vec![false; n],
            generated: 0,
            graded: 0,
            grading_seconds: 0.0,
            generation_done: None,
        };
        for i in 0..n {
            if let Some(c) = journal.sample(temperature, i) {
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
    }
}

/// How the begin phase ended.
enum Begin<'s> {
    /// Nothing to sample: the question ended already.
    Ended(QuestionOutcome),
    /// Samples to generate or grade.
    Sampling(Box<QuestionRun<'s>>),
}

/// A question between its request and its last verdict.
struct QuestionRun<'s> {
    idx: usize,
    problem: &'s Problem,
    prompt: Prompt,
    prompt_text: String,
    journal: Journal,
    /// The question's generation permit, while it generates.
    permit: Option<GenerationPermit<'s>>,
    /// When the question began (its `total_time`).
    started: Instant,
    /// One entry per missing temperature.
    pending: Vec<Pending>,
}

/// The event loop's state besides the question's.
struct InFlight {
    /// `request_groups[g]` is request group g's index in `pending`.
    request_groups: Vec<usize>,
    submitted: Instant,
    /// Samples not graded yet.
    outstanding: usize,
    /// Tokens the question generated so far.
    tokens: usize,
    /// Self-repair's requests not submitted yet.
    repairs: Option<super::repair::RepairFeed>,
    reply_tx: Sender<GradeReply>,
}

impl<'s, 'a: 's> QuestionContext<'s, 'a> {
    /// Runs question `idx` to its end; see the module docs.
    pub(super) fn run_question(&self, idx: usize) -> Result<QuestionOutcome, QuestionError> {
        let mut run = match self.begin(idx)? {
            Begin::Ended(outcome) => return Ok(outcome),
            Begin::Sampling(run) => run,
        };
        if let Some(outcome) = self.event_loop(&mut run)? {
            return Ok(outcome);
        }
        self.finish(*run)
    }

    /// Records that a sample of `tokens` tokens was just generated.
    pub(super) fn note_generated(&self, tokens: usize) {
        self.counters.tokens.fetch_add(tokens, Ordering::SeqCst);
        self.counters.samples.fetch_add(1, Ordering::SeqCst);
        let us = self.run_started.elapsed().as_micros() as u64;
        self.counters
            .last_generated_us
            .fetch_max(us, Ordering::SeqCst);
    }

    fn prompt(&self, problem: &Problem) -> Result<Prompt, QuestionError> {
        let settings = &self.plan.settings;
        if settings.repair_from.is_some() {
            return super::repair::anchor(problem, settings.thinking);
        }
        settings.prompt_for(problem).map_err(QuestionError::Prompt)
    }

    pub(super) fn params(&self, temperature: f64) -> SamplingParams {
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

    /// The sampling settings a result file records for temperature `t`.
    pub(super) fn recorded(&self, t: f64) -> RecordedSampling {
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

    /// Phase 1: what is left of the question after an earlier run, the generation permit,
    /// the greedy check.
    fn begin(&self, idx: usize) -> Result<Begin<'s>, QuestionError> {
        let problem = &self.plan.problems.problems()[idx];
        let settings = &self.plan.settings;
        self.store.remove_stale_temp_files(idx);
        let prompt = self.prompt(problem)?;
        let prompt_text = self.generator.prompt_text(&prompt)?;
        let warn = |m: &str| self.observer.warn(m);
        let journal_path = self.store.journal_path(idx);
        if settings.skip_greedy_solved && self.valid_skipped(idx, problem) {
            return Ok(Begin::Ended(QuestionOutcome::Resumed));
        }
        // A question the repaired tree skipped (solved greedily) is skipped here too.
        if let Some(from) = &settings.repair_from {
            if self.repair_skipped(from, idx, problem)? {
                return Ok(Begin::Ended(QuestionOutcome::Skipped));
            }
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
            return Ok(Begin::Ended(QuestionOutcome::Resumed));
        }
        let mut journal = Journal::open(&journal_path, problem.id(), &prompt_text, &warn)?;
        let started = Instant::now();
        let mut permit = None;
        if !missing.is_empty() {
            let Some(p) = self.generating.acquire(self.cancel) else {
                return Ok(Begin::Ended(QuestionOutcome::Cancelled));
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
                        return Ok(Begin::Ended(QuestionOutcome::Skipped));
                    }
                    Some(GreedyEnd::Cancelled) => {
                        return Ok(Begin::Ended(QuestionOutcome::Cancelled))
                    }
                    None => journal.record_greedy_failed()?,
                }
            }
        }
        if self.cancel.load(Ordering::SeqCst) {
            return Ok(Begin::Ended(QuestionOutcome::Cancelled));
        }
        let pending = missing
            .iter()
            .map(|&t| Pending::from_journal(t, settings.n, &journal))
            .collect();
        Ok(Begin::Sampling(Box::new(QuestionRun {
            idx,
            problem,
            prompt,
            prompt_text,
            journal,
            permit,
            started,
            pending,
        })))
    }

    /// Phase 2: writes the temperatures the journal completes, asks the generator for every
    /// missing sample, and routes completions to the grader and verdicts to the files until
    /// the last verdict. `Some(Cancelled)` when the run was interrupted.
    fn event_loop(
        &self,
        run: &mut QuestionRun<'s>,
    ) -> Result<Option<QuestionOutcome>, QuestionError> {
        let n = self.plan.settings.n;
        // Request groups: the temperatures with samples left.
        let request_groups: Vec<usize> = (0..run.pending.len())
            .filter(|&pi| run.pending[pi].generated < n)
            .collect();
        let submitted = Instant::now();
        for pi in 0..run.pending.len() {
            if run.pending[pi].graded == n {
                run.pending[pi].generation_done = Some((0, 0.0));
                self.write_temperature(run, pi, 0.0)?;
            }
        }
        let (reply_tx, reply_rx) = crossbeam_channel::unbounded::<GradeReply>();
        let (completions, to_generate, repairs) = match self.plan.settings.repair_from.clone() {
            Some(from) => {
                let (feed, rx, to_generate) =
                    self.submit_repairs(run, &request_groups, &from, &reply_tx)?;
                (rx, to_generate, Some(feed))
            }
            None => {
                // One group per temperature with samples left, without the samples it has.
                let groups: Vec<SampleGroup> = request_groups
                    .iter()
                    .map(|&pi| {
                        let p = &run.pending[pi];
                        SampleGroup {
                            params: self.params(p.temperature),
                            n,
                            stream: sample_stream(run.problem.id(), p.temperature),
                            skip: (0..n).filter(|&i| p.journaled[i]).collect(),
                        }
                    })
                    .collect();
                let to_generate: usize = groups.iter().map(SampleGroup::wanted).sum();
                let rx = if groups.is_empty() {
                    crossbeam_channel::never()
                } else {
                    self.generator.submit(GenerationRequest {
                        shares_prefix_with: None,
                        prompt: run.prompt.clone(),
                        groups,
                    })?
                };
                (rx, to_generate, None)
            }
        };
        let mut completions = if to_generate == 0 {
            drop(run.permit.take());
            crossbeam_channel::never()
        } else {
            self.observer.question_started(run.idx, to_generate);
            completions
        };
        let mut flight = InFlight {
            request_groups,
            submitted,
            outstanding: run.pending.iter().map(|p| n - p.graded).sum(),
            tokens: 0,
            repairs,
            reply_tx,
        };
        while flight.outstanding > 0 {
            if self.cancel.load(Ordering::SeqCst) {
                return Ok(Some(QuestionOutcome::Cancelled));
            }
            select! {
                recv(completions) -> msg => match msg {
                    Ok(c) => {
                        self.on_completion(run, &mut flight, c?)?;
                        // One repair request finished: the next one goes in.
                        if let Some(feed) = flight.repairs.as_mut() {
                            feed.next(self.generator)?;
                        }
                    }
                    Err(_) => {
                        if let Some(p) = run.pending.iter().find(|p| p.generated < n) {
                            return Err(QuestionError::Contract(format!(
                                "the generator closed the request with {} of {n} samples at temperature {} generated",
                                p.generated,
                                python_float(p.temperature)
                            )));
                        }
                        // A disconnected channel is always ready: without this swap the
                        // loop would spin on it until the last verdict, burning a core that
                        // generation and grading need.
                        completions = crossbeam_channel::never();
                        // Every sample is generated: let the next question start.
                        drop(run.permit.take());
                    }
                },
                recv(reply_rx) -> msg => {
                    // This question holds a sender itself, so the channel never disconnects.
                    let reply = msg.expect("the question holds a reply sender");
                    self.on_verdict(run, &mut flight, reply)?;
                },
                default(CANCEL_POLL) => {}
            }
        }
        Ok(None)
    }

    /// Self-repair's requests for the temperatures in `request_groups`, one per failed
    /// sample of the source tree, fed to the generator a few hundred at a time and merged
    /// into one channel (group = the temperature's index in `request_groups`); the source's
    /// passing samples are taken as generated and sent to grading at once. Returns the feed,
    /// the channel and the number of samples to generate.
    fn submit_repairs(
        &self,
        run: &mut QuestionRun<'s>,
        request_groups: &[usize],
        from: &str,
        reply_tx: &crossbeam_channel::Sender<GradeReply>,
    ) -> Result<(super::repair::RepairFeed, super::repair::Completions, usize), QuestionError> {
        let n = self.plan.settings.n;
        let mut requests = Vec::new();
        for (g, &pi) in request_groups.iter().enumerate() {
            let temperature = run.pending[pi].temperature;
            let source = self.repair_source(from, run.idx, run.problem, temperature)?;
            let have = run.pending[pi].journaled.clone();
            let work = self.repair_work(run.problem, temperature, g, &source, &have)?;
            requests.extend(work.requests);
            let p = &mut run.pending[pi];
            for (j, record) in work.given {
                p.samples[j] = Some(Sample {
                    text: record.raw.clone(),
                    finish_reason: record.finish_reason,
                    num_tokens: record.num_tokens,
                });
                p.generated += 1;
                let job = GradeJob {
                    problem: run.problem,
                    code: self.plan.settings.extract(run.problem, &record.raw),
                    reply: reply_tx.clone(),
                    group: pi,
                    index: j,
                };
                self.grade_tx
                    .send(job)
                    .map_err(|_| QuestionError::GradingStopped)?;
            }
            if p.generated == n {
                p.generation_done = Some((0, 0.0));
            }
        }
        let to_generate = requests.len();
        let (feed, merged) = super::repair::RepairFeed::start(requests, self.generator)?;
        Ok((feed, merged, to_generate))
    }

    /// A sample arrived: counted, kept and queued for grading.
    fn on_completion(
        &self,
        run: &mut QuestionRun<'s>,
        flight: &mut InFlight,
        c: Completion,
    ) -> Result<(), QuestionError> {
        let n = self.plan.settings.n;
        let (g, i) = (c.group, c.index);
        let Some(pi) = flight.request_groups.get(g).copied().filter(|_| i < n) else {
            return Err(QuestionError::Contract(format!(
                "the generator returned sample {i} of group {g}, which was not asked for"
            )));
        };
        let p = &mut run.pending[pi];
        if p.journaled[i] {
            // Asked to skip it and sent anyway: the recorded one stands.
            return Ok(());
        }
        if p.samples[i].is_some() {
            return Err(QuestionError::Contract(format!(
                "the generator returned sample {i} of group {g} twice"
            )));
        }
        let num_tokens = c.num_tokens();
        self.observer.sample_generated(num_tokens);
        self.note_generated(num_tokens);
        flight.tokens += num_tokens;
        p.generated += 1;
        if p.generated == n {
            p.generation_done = Some((flight.tokens, flight.submitted.elapsed().as_secs_f64()));
        }
        let code = self.plan.settings.extract(run.problem, &c.text);
        p.samples[i] = Some(Sample {
            text: c.text,
            finish_reason: c.finish_reason,
            num_tokens,
        });
        let job = GradeJob {
            problem: run.problem,
            code,
            reply: flight.reply_tx.clone(),
            group: pi,
            index: i,
        };
        self.grade_tx
            .send(job)
            .map_err(|_| QuestionError::GradingStopped)
    }

    /// A verdict arrived: journaled, and the temperature's file written when it completes
    /// it.
    fn on_verdict(
        &self,
        run: &mut QuestionRun<'s>,
        flight: &mut InFlight,
        reply: GradeReply,
    ) -> Result<(), QuestionError> {
        let grade = reply.grade.map_err(QuestionError::Grading)?;
        let (pi, i) = (reply.group, reply.index);
        let p = &mut run.pending[pi];
        if p.grades[i].is_some() {
            return Err(QuestionError::Contract(format!(
                "sample {i} at temperature {} was graded twice",
                python_float(p.temperature)
            )));
        }
        let sample = p.samples[i]
            .as_ref()
            .expect("graded samples were generated");
        self.observer.sample_graded();
        self.counters.graded.fetch_add(1, Ordering::SeqCst);
        self.counters
            .graded_tokens
            .fetch_add(sample.num_tokens, Ordering::SeqCst);
        run.journal
            .record(p.temperature, i, &sample.record(&grade))?;
        p.grades[i] = Some(grade);
        p.grading_seconds += reply.seconds;
        p.graded += 1;
        flight.outstanding -= 1;
        if p.graded == self.plan.settings.n {
            let pipeline_seconds = flight.submitted.elapsed().as_secs_f64();
            self.write_temperature(run, pi, pipeline_seconds)?;
        }
        Ok(())
    }

    /// Phase 3: the question's summary, then its journal goes.
    fn finish(&self, run: QuestionRun<'s>) -> Result<QuestionOutcome, QuestionError> {
        let settings = &self.plan.settings;
        let rows = self.summary_rows(run.idx)?;
        let pass_rates = rows.iter().map(|r| (r.temperature, r.pass_rate)).collect();
        let summary = QuestionSummary {
            question_idx: run.idx,
            question_id: run.problem.id().to_owned(),
            question_title: run.problem.title().to_owned(),
            n: settings.n,
            temperatures: settings.temperatures.clone(),
            total_time: run.started.elapsed().as_secs_f64(),
            results: rows,
            format_version: FORMAT_VERSION,
        };
        self.store
            .write(&self.store.summary_path(run.idx), &summary)?;
        run.journal.remove()?;
        Ok(QuestionOutcome::Done(pass_rates))
    }

    /// Writes temperature `run.pending[pi]`'s file once every sample of it is graded.
    fn write_temperature(
        &self,
        run: &QuestionRun<'s>,
        pi: usize,
        pipeline_seconds: f64,
    ) -> Result<(), QuestionError> {
        let (idx, problem, p) = (run.idx, run.problem, &run.pending[pi]);
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
        let (counted, _) = crate::verdict::counted(completions.iter().map(|c| c.verdict));
        let (question_tokens, generation_seconds) = p.generation_done.unwrap_or((0, 0.0));
        let result = TemperatureResult {
            model: self.plan.settings.model.clone(),
            prompt: run.prompt_text.clone(),
            sampling_params: self.recorded(p.temperature),
            model_config: self.generator.fingerprint(),
            question_idx: idx,
            question_id: problem.id().to_owned(),
            question_title: problem.title().to_owned(),
            temperature: p.temperature,
            n,
            passed,
            pass_rate: 100.0 * passed as f64 / counted.max(1) as f64,
            gen_tps: question_tokens as f64 / generation_seconds.max(1e-9),
            eval_tps: tokens as f64 / p.grading_seconds.max(1e-9),
            pipeline_tps: question_tokens as f64 / pipeline_seconds.max(1e-9),
            completions,
            format_version: FORMAT_VERSION,
        };
        let path = self.store.temperature_path(idx, p.temperature, n);
        self.store.write(&path, &result)?;
        tracing::debug!(
            "q{idx} T={}: {passed}/{n} passed",
            python_float(p.temperature)
        );
        Ok(())
    }

    /// One row per temperature of the question's summary, read back from its files.
    fn summary_rows(&self, idx: usize) -> Result<Vec<SummaryRow>, QuestionError> {
        let n = self.plan.settings.n;
        self.plan
            .settings
            .temperatures
            .iter()
            .map(|&t| {
                let path = self.store.temperature_path(idx, t, n);
                let r: TemperatureResult = self
                    .store
                    .read(&path)?
                    .ok_or_else(|| Error::Invalid(format!("{} is missing", path.display())))?;
                let (counted, _) = crate::verdict::counted(r.completions.iter().map(|c| c.verdict));
                Ok(SummaryRow {
                    temperature: t,
                    n: r.n,
                    passed: r.passed,
                    counted: (counted as usize != r.n).then_some(counted as usize),
                    pass_rate: r.pass_rate,
                    gen_tps: r.gen_tps,
                })
            })
            .collect()
    }
}
