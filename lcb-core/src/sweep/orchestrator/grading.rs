//! The grading side of a sweep: threads that take programs off the bounded grading queue in
//! batches, call the [`Evaluator`], and send each verdict back to the question that asked;
//! and the clock of how long the grader was busy.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::evaluator::{Evaluator, GradeRequest};
use crate::problem::Problem;
use crate::verdict::Grade;

/// Wall time during which at least one grading call was running: the grader's busy time,
/// however many calls overlapped.
#[derive(Default)]
pub(super) struct BusyClock {
    state: Mutex<BusyState>,
}

#[derive(Default)]
struct BusyState {
    running: usize,
    since: Option<Instant>,
    total: Duration,
}

impl BusyClock {
    pub(super) fn start(&self) {
        let mut s = self.state.lock().expect("busy clock lock");
        if s.running == 0 {
            s.since = Some(Instant::now());
        }
        s.running += 1;
    }

    pub(super) fn stop(&self) {
        let mut s = self.state.lock().expect("busy clock lock");
        s.running -= 1;
        if s.running == 0 {
            if let Some(since) = s.since.take() {
                s.total += since.elapsed();
            }
        }
    }

    pub(super) fn seconds(&self) -> f64 {
        let s = self.state.lock().expect("busy clock lock");
        (s.total + s.since.map_or(Duration::ZERO, |t| t.elapsed())).as_secs_f64()
    }
}

/// One program for the grading threads.
pub(super) struct GradeJob<'a> {
    pub problem: &'a Problem,
    pub code: String,
    pub reply: Sender<GradeReply>,
    /// The asking question's index of the sample's temperature.
    pub group: usize,
    pub index: usize,
}

/// A grading thread's answer for one [`GradeJob`].
pub(super) struct GradeReply {
    pub group: usize,
    pub index: usize,
    /// The grade, or why the grader could not give one.
    pub grade: Result<Grade, GradingError>,
    /// Wall seconds of the grading call, shared evenly by the programs it graded.
    pub seconds: f64,
}

/// Why a grading call gave no grades. Cloned to every program of the failed batch.
#[derive(Debug, Clone, thiserror::Error)]
pub(super) enum GradingError {
    /// The evaluator said it could not grade.
    #[error("{0}")]
    Evaluator(String),
    /// The evaluator panicked.
    #[error("the evaluator panicked")]
    Panicked,
    /// The evaluator broke its contract of one grade per program.
    #[error("the evaluator returned {got} grades for {asked} programs")]
    WrongCount {
        /// Grades returned.
        got: usize,
        /// Programs asked about.
        asked: usize,
    },
}

/// Calls the evaluator, turning a panic or a wrong number of grades into an error.
pub(super) fn grade_all(
    evaluator: &dyn Evaluator,
    requests: &[GradeRequest<'_>],
) -> Result<Vec<Grade>, GradingError> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| evaluator.grade(requests))) {
        Ok(Ok(grades)) if grades.len() == requests.len() => Ok(grades),
        Ok(Ok(grades)) => Err(GradingError::WrongCount {
            got: grades.len(),
            asked: requests.len(),
        }),
        Ok(Err(e)) => Err(GradingError::Evaluator(e.to_string())),
        Err(_) => Err(GradingError::Panicked),
    }
}

/// A grading thread: batches of up to 64 programs off the queue, each verdict sent back to
/// its question, until the queue closes.
pub(super) fn grading_loop(
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
