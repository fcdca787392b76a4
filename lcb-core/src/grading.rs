//! Grading a file of samples, as `lcb eval` does: the driver that keeps an [`Evaluator`]
//! busy, the results file, and the summary — pass@k, verdict counts, per-question counts —
//! as typed values whose JSON is `lcb eval --json`'s.
//!
//! Progress goes to a callback, so a front end draws it as it likes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::dataset::ProblemSet;
use crate::error::Result;
use crate::evaluator::{EvalError, Evaluator, GradeRequest};
use crate::passk;
use crate::problem::Problem;
use crate::samples::Sample;
use crate::verdict::{Grade, Verdict};

/// One sample resolved against its problem, ready to grade.
#[derive(Debug, Clone)]
pub struct GradingJob<'a> {
    /// The problem's index in its set (benchmark order).
    pub question: usize,
    /// The problem.
    pub problem: &'a Problem,
    /// The code to grade ([`Sample::code_for`]).
    pub code: String,
}

/// Grades every job with `evaluator`, which runs `workers` programs at once, and returns
/// the grades in job order. `graded` is told how many programs each finished batch held
/// (from any thread).
///
/// Batches of 16 programs per worker go out from two submitting threads, so the
/// evaluator's queue never runs dry while one thread's results are collected.
pub fn grade_samples(
    evaluator: &dyn Evaluator,
    jobs: &[GradingJob<'_>],
    workers: usize,
    graded: &(dyn Fn(usize) + Sync),
) -> Result<Vec<Grade>, EvalError> {
    let chunk = (workers * 16).max(32);
    let chunks: Vec<_> = jobs.chunks(chunk).collect();
    let next = AtomicUsize::new(0);
    let submit = || {
        let mut done = vec![];
        loop {
            let i = next.fetch_add(1, Ordering::SeqCst);
            let Some(part) = chunks.get(i) else { break };
            let requests: Vec<_> = part
                .iter()
                .map(|job| GradeRequest {
                    problem: job.problem,
                    code: &job.code,
                })
                .collect();
            let grades = evaluator.grade(&requests);
            graded(part.len());
            done.push(grades.map(|g| (i, g)));
        }
        done
    };
    let results: Vec<Result<(usize, Vec<Grade>), EvalError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2).map(|_| scope.spawn(submit)).collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut ordered: Vec<(usize, Vec<Grade>)> = results.into_iter().collect::<Result<_, _>>()?;
    ordered.sort_by_key(|(i, _)| *i);
    Ok(ordered.into_iter().flat_map(|(_, g)| g).collect())
}

/// Writes the results file atomically: one JSON object per sample, in input order, with
/// the sample's fields plus `passed`, `verdict` and, for failures that have one, `detail`.
pub fn write_results(path: &Path, samples: &[Sample], grades: &[Grade]) -> Result<()> {
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
        text.push_str(&Value::Object(fields).to_string());
        text.push('\n');
    }
    crate::atomic_file::write_atomic(path, text.as_bytes())
}

/// What grading a file of samples came to. Serialized (with `serde_json`) it is
/// `lcb eval --json`'s object, fields in this order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalSummary {
    /// Samples graded.
    pub samples: usize,
    /// Problems they were samples of.
    pub problems: usize,
    /// Wall seconds grading took.
    pub seconds: f64,
    /// `samples / seconds`.
    pub samples_per_second: f64,
    /// Programs graded at once.
    pub workers: usize,
    /// Mean pass@k over problems for k = 1, 5, 10, 100 where every problem has at least k
    /// samples; written as `"pass@k"` keys.
    #[serde(serialize_with = "pass_at_k_keys")]
    pub pass_at_k: BTreeMap<u64, f64>,
    /// Samples per verdict, by the verdict's name (`passed`, `wrong_answer`…) in name order.
    pub verdicts: BTreeMap<&'static str, u64>,
    /// Per problem, in benchmark order.
    pub questions: Vec<QuestionCount>,
    /// The results file.
    pub results: PathBuf,
}

/// One problem's samples and passes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuestionCount {
    /// The problem's index in its set.
    pub index: usize,
    /// Its id.
    pub id: String,
    /// Samples counted: all graded, less skipped code-execution predictions (lcb_runner's
    /// count, so `passed / n` is its pass@1).
    pub n: u64,
    /// Samples that passed.
    pub passed: u64,
}

impl EvalSummary {
    /// Sums up `graded`: each sample's problem index in `problems` and its grade.
    pub fn new<'a>(
        problems: &ProblemSet,
        graded: impl IntoIterator<Item = (usize, &'a Grade)>,
        seconds: f64,
        workers: usize,
        results: PathBuf,
    ) -> Self {
        let mut per_problem: BTreeMap<usize, Vec<Verdict>> = BTreeMap::new();
        let mut verdicts: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut samples = 0;
        for (index, grade) in graded {
            samples += 1;
            per_problem.entry(index).or_default().push(grade.verdict);
            *verdicts.entry(grade.verdict.as_str()).or_default() += 1;
        }
        // lcb_runner's count: skipped code-execution predictions leave n.
        let per_problem: BTreeMap<usize, (u64, u64)> = per_problem
            .into_iter()
            .map(|(index, v)| (index, crate::verdict::counted(v)))
            .collect();
        let counts: Vec<(u64, u64)> = per_problem.values().copied().collect();
        let min_n = counts.iter().map(|c| c.0).min().unwrap_or(0);
        // pass@1000 would need 1000 samples of every problem; `lcb eval` stops at 100.
        let pass_at_k = passk::reported_ks(min_n)
            .into_iter()
            .filter(|&k| k != 1000)
            .filter_map(|k| passk::mean_pass_at_k(&counts, k).map(|v| (k, v)))
            .collect();
        let questions = per_problem
            .iter()
            .map(|(&index, &(n, passed))| QuestionCount {
                index,
                id: problems.problems()[index].id().to_owned(),
                n,
                passed,
            })
            .collect();
        EvalSummary {
            samples,
            problems: per_problem.len(),
            seconds,
            samples_per_second: samples as f64 / seconds.max(1e-9),
            workers,
            pass_at_k,
            verdicts,
            questions,
            results,
        }
    }
}

fn pass_at_k_keys<S: Serializer>(
    pass_at_k: &BTreeMap<u64, f64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(pass_at_k.iter().map(|(k, v)| (format!("pass@{k}"), v)))
}

#[cfg(test)]
mod tests;
