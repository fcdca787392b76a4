//! What an operator sees while a sweep runs: bars for questions, samples generated (with
//! the generation rate in tokens/s) and samples graded (samples/s), each with an ETA; without
//! a terminal, a log line per finished question and a progress line every half minute.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use lcb_core::sweep::{QuestionOutcome, SweepObserver};

use crate::progress::draw_target;

/// How often a progress line is logged when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(30);

/// The window of the live generation rate.
const RATE_WINDOW: Duration = Duration::from_secs(10);

/// Progress of one sweep; see the module docs.
pub struct SweepProgress {
    _multi: MultiProgress,
    questions: ProgressBar,
    generated: ProgressBar,
    graded: ProgressBar,
    /// Samples a question plans (temperatures × n).
    per_question: u64,
    /// Questions that submitted samples: the others leave the sample bars' totals.
    started: Mutex<HashSet<usize>>,
    tokens: AtomicU64,
    rate: Mutex<RollingRate>,
    /// Whether there is no terminal: then progress goes to the log.
    plain: bool,
    last_line: Mutex<Instant>,
}

impl SweepProgress {
    /// Bars for `questions` questions of `per_question` samples each.
    pub fn new(questions: u64, per_question: u64) -> Self {
        let multi = MultiProgress::with_draw_target(draw_target());
        let style = |template: &str| {
            ProgressStyle::with_template(template)
                .expect("valid template")
                .progress_chars("=> ")
        };
        let questions_bar = multi.add(ProgressBar::new(questions));
        questions_bar.set_style(style("{prefix:>10} [{bar:30}] {pos}/{len} ETA {eta} {msg}"));
        questions_bar.set_prefix("questions");
        let total = questions * per_question;
        let generated = multi.add(ProgressBar::new(total));
        generated.set_style(style("{prefix:>10} [{bar:30}] {pos}/{len} {msg} ETA {eta}"));
        generated.set_prefix("generated");
        let graded = multi.add(ProgressBar::new(total));
        graded.set_style(style("{prefix:>10} [{bar:30}] {pos}/{len} {msg} ETA {eta}"));
        graded.set_prefix("graded");
        for b in [&questions_bar, &generated, &graded] {
            b.enable_steady_tick(Duration::from_millis(250));
        }
        SweepProgress {
            plain: questions_bar.is_hidden(),
            _multi: multi,
            questions: questions_bar,
            generated,
            graded,
            per_question,
            started: Mutex::new(HashSet::new()),
            tokens: AtomicU64::new(0),
            rate: Mutex::new(RollingRate::default()),
            last_line: Mutex::new(Instant::now()),
        }
    }

    /// Clears the bars.
    pub fn finish(&self) {
        for b in [&self.questions, &self.generated, &self.graded] {
            b.finish_and_clear();
        }
    }

    /// Takes `samples` off both sample bars' totals (samples the run will not produce).
    fn shrink(&self, samples: u64) {
        for b in [&self.generated, &self.graded] {
            let len = b.length().unwrap_or(0);
            b.set_length(len.saturating_sub(samples).max(b.position()));
        }
    }

    fn add_tokens(&self, tokens: usize) {
        let total = self.tokens.fetch_add(tokens as u64, Ordering::Relaxed) + tokens as u64;
        let rate = self.rate.lock().expect("rate lock").record(total);
        self.generated.set_message(format!("{rate:.0} tokens/s"));
        self.maybe_log();
    }

    /// Without a terminal, logs one progress line every [`LOG_EVERY`].
    fn maybe_log(&self) {
        if !self.plain {
            return;
        }
        let mut last = self.last_line.lock().expect("log lock");
        if last.elapsed() < LOG_EVERY {
            return;
        }
        *last = Instant::now();
        let eta = |b: &ProgressBar| {
            if b.position() == 0 {
                "?".to_owned()
            } else {
                format!("{}", indicatif::HumanDuration(b.eta()))
            }
        };
        tracing::info!(
            "progress: questions {}/{}, generated {}/{} samples ({}, ETA {}), graded {}/{} ({})",
            self.questions.position(),
            self.questions.length().unwrap_or(0),
            self.generated.position(),
            self.generated.length().unwrap_or(0),
            self.generated.message(),
            eta(&self.generated),
            self.graded.position(),
            self.graded.length().unwrap_or(0),
            self.graded.message(),
        );
    }
}

impl SweepObserver for SweepProgress {
    fn question_started(&self, idx: usize, samples: usize) {
        self.started.lock().expect("started lock").insert(idx);
        // Temperatures already complete are not generated again.
        self.shrink(self.per_question.saturating_sub(samples as u64));
    }

    fn sample_generated(&self, tokens: usize) {
        self.generated.inc(1);
        self.add_tokens(tokens);
    }

    fn greedy_generated(&self, tokens: usize) {
        self.add_tokens(tokens);
    }

    fn sample_graded(&self) {
        self.graded.inc(1);
        self.graded
            .set_message(format!("{:.0} samples/s", self.graded.per_sec()));
        self.maybe_log();
    }

    fn question_finished(&self, idx: usize, outcome: &QuestionOutcome) {
        self.questions.inc(1);
        if !self.started.lock().expect("started lock").contains(&idx) {
            self.shrink(self.per_question);
        }
        let text = match outcome {
            QuestionOutcome::Resumed => "already complete".to_owned(),
            QuestionOutcome::Skipped => "solved greedily, skipped".to_owned(),
            QuestionOutcome::Done(rates) => {
                let mean = rates.iter().map(|r| r.1).sum::<f64>() / rates.len().max(1) as f64;
                format!("mean pass rate {mean:.1}%")
            }
            QuestionOutcome::Cancelled => "interrupted".to_owned(),
            QuestionOutcome::Failed(e) => format!("FAILED: {e}"),
        };
        if self.plain {
            tracing::info!("q{idx}: {text}");
        } else {
            self.questions.set_message(format!("q{idx}: {text}"));
        }
    }

    fn warn(&self, message: &str) {
        self.questions.suspend(|| tracing::warn!("{message}"));
    }
}

/// Tokens per second over the last [`RATE_WINDOW`] (since the start until a window has
/// passed), so the bar shows the current speed rather than the average since the start.
#[derive(Default)]
struct RollingRate {
    points: VecDeque<(Instant, u64)>,
}

impl RollingRate {
    /// Records the running `total` and returns the rate.
    fn record(&mut self, total: u64) -> f64 {
        let now = Instant::now();
        if self.points.is_empty() {
            self.points.push_back((now, 0));
        }
        self.points.push_back((now, total));
        // Keep one point at least a window old, so the window is full once it can be.
        while self.points.len() > 2 && now - self.points[1].0 >= RATE_WINDOW {
            self.points.pop_front();
        }
        let (t0, v0) = self.points[0];
        let secs = (now - t0).as_secs_f64();
        if secs <= 0.0 {
            0.0
        } else {
            (total - v0) as f64 / secs
        }
    }
}
