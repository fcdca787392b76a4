//! The numbers `lcb report` shows: per temperature, per question, and for one question.

use std::path::PathBuf;

use serde::Serialize;

use super::load::{describe_indices, Cell, LoadWarning, ResultsTree, SkippedQuestion};
use super::stats::{normal_mean_interval, wilson, Interval};
use super::{ReportError, VerdictCounts};
use crate::passk::{mean_pass_at_k, pass_at_k, reported_ks};

/// pass@k at one k.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PassAtK {
    /// k.
    pub k: u64,
    /// The unbiased estimate (mean over questions), a fraction.
    pub value: f64,
}

/// Everything measured at one temperature.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemperatureStats {
    /// Temperature.
    pub temperature: f64,
    /// Questions sampled at this temperature (in a partial tree, it may differ between
    /// temperatures).
    pub questions: usize,
    /// Samples over those questions.
    pub samples: u64,
    /// Passing samples over those questions.
    pub passed: u64,
    /// Mean over questions of each question's `passed / n` (LCB's pass@1).
    pub pass_rate: f64,
    /// 95% interval of `pass_rate`: normal over questions, or the Wilson interval when there
    /// is one question (see [`stats`](super::stats)).
    pub ci: Interval,
    /// pass@k for k in 1, 5, 10, 100, 1000 where every question has `n >= k`.
    pub pass_at_k: Vec<PassAtK>,
    /// Verdicts over the samples whose verdicts are known.
    pub verdicts: VerdictCounts,
    /// Samples known only from `summary.json`, without verdicts.
    pub verdicts_unknown: u64,
}

impl TemperatureStats {
    /// pass@k at `k`, if every question has enough samples.
    pub fn pass_at(&self, k: u64) -> Option<f64> {
        self.pass_at_k.iter().find(|p| p.k == k).map(|p| p.value)
    }
}

/// The temperature with the highest pass@k. Ties go to the lower temperature.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BestTemperature {
    /// k.
    pub k: u64,
    /// The best temperature.
    pub temperature: f64,
    /// Its pass@k.
    pub value: f64,
}

/// One row of the heat map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeatmapRow {
    /// Question index.
    pub question_idx: usize,
    /// Question id.
    pub question_id: String,
    /// Question title.
    pub question_title: String,
    /// Pass rate per temperature of [`Heatmap::temperatures`]; `None` where not sampled.
    pub rates: Vec<Option<f64>>,
}

/// Per-question pass rates, question × temperature.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Heatmap {
    /// Column temperatures, increasing.
    pub temperatures: Vec<f64>,
    /// One row per sampled question, by index.
    pub rows: Vec<HeatmapRow>,
}

/// The summary of a results tree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The tree.
    pub root: PathBuf,
    /// The model, from `run_summary.json`.
    pub model: Option<String>,
    /// The scenario, from `run_summary.json` (code execution with `cot` when its prompt
    /// had chain of thought).
    pub scenario: Option<String>,
    /// Questions the run selected, from `run_summary.json`.
    pub questions_planned: Option<usize>,
    /// Whether `run_summary.json` records an end time; `None` without one.
    pub finished: Option<bool>,
    /// Questions with samples.
    pub questions_sampled: usize,
    /// One entry per temperature, increasing.
    pub temperatures: Vec<TemperatureStats>,
    /// The best temperature for each k reported at some temperature, by increasing k.
    pub best: Vec<BestTemperature>,
    /// Per-question pass rates.
    pub heatmap: Heatmap,
    /// Questions solved greedily, not sampled.
    pub skipped: Vec<SkippedQuestion>,
    /// Files left out while loading.
    pub warnings: Vec<LoadWarning>,
}

impl Report {
    /// Summarises `tree`.
    pub fn new(tree: &ResultsTree) -> Report {
        let temps = tree.temperatures();
        let temperatures: Vec<TemperatureStats> = temps
            .iter()
            .map(|&t| {
                let cells: Vec<&Cell> = tree.questions.iter().filter_map(|q| q.cell(t)).collect();
                temperature_stats(t, &cells)
            })
            .collect();
        let best = best_temperatures(&temperatures);
        let rows = tree
            .questions
            .iter()
            .map(|q| HeatmapRow {
                question_idx: q.idx,
                question_id: q.id.clone(),
                question_title: q.title.clone(),
                rates: temps.iter().map(|&t| q.cell(t).map(Cell::rate)).collect(),
            })
            .collect();
        Report {
            root: tree.root.clone(),
            model: tree.run.as_ref().map(|r| r.settings.model.clone()),
            scenario: tree.run.as_ref().map(|r| {
                let cot = if r.settings.cot {
                    " (chain of thought)"
                } else {
                    ""
                };
                format!("{}{cot}", r.scenario)
            }),
            questions_planned: tree.run.as_ref().map(|r| r.questions.len()),
            finished: tree.run.as_ref().map(|r| r.finished.is_some()),
            questions_sampled: tree.questions.len(),
            temperatures,
            best,
            heatmap: Heatmap {
                temperatures: temps,
                rows,
            },
            skipped: tree.skipped.clone(),
            warnings: tree.warnings.clone(),
        }
    }

    /// The stats at temperature `t`.
    pub fn at(&self, t: f64) -> Option<&TemperatureStats> {
        self.temperatures.iter().find(|s| s.temperature == t)
    }

    /// Every k reported at some temperature, increasing.
    pub fn ks(&self) -> Vec<u64> {
        let mut ks: Vec<u64> = self
            .temperatures
            .iter()
            .flat_map(|s| s.pass_at_k.iter().map(|p| p.k))
            .collect();
        ks.sort_unstable();
        ks.dedup();
        ks
    }

    /// Whether the temperatures cover different sets of questions (a sweep in progress), so
    /// that their rates are not strictly comparable.
    pub fn uneven(&self) -> bool {
        self.temperatures
            .iter()
            .any(|s| s.questions != self.questions_sampled)
    }
}

/// Stats over `cells` (one per question, all at temperature `t`, at least one).
fn temperature_stats(t: f64, cells: &[&Cell]) -> TemperatureStats {
    let rates: Vec<f64> = cells.iter().map(|c| c.rate()).collect();
    let (pass_rate, ci) = match normal_mean_interval(&rates, 0.0, 1.0) {
        Some(mean_ci) => mean_ci,
        None => {
            let only = cells[0];
            (only.rate(), wilson(only.passed, only.n))
        }
    };
    let counts: Vec<(u64, u64)> = cells.iter().map(|c| (c.n, c.passed)).collect();
    let min_n = cells.iter().map(|c| c.n).min().unwrap_or(0);
    let pass_at_k = reported_ks(min_n)
        .into_iter()
        .filter_map(|k| mean_pass_at_k(&counts, k).map(|value| PassAtK { k, value }))
        .collect();
    let mut verdicts = VerdictCounts::default();
    let mut verdicts_unknown = 0;
    for c in cells {
        match &c.verdicts {
            Some(v) => verdicts.merge(v),
            None => verdicts_unknown += c.n,
        }
    }
    TemperatureStats {
        temperature: t,
        questions: cells.len(),
        samples: cells.iter().map(|c| c.n).sum(),
        passed: cells.iter().map(|c| c.passed).sum(),
        pass_rate,
        ci,
        pass_at_k,
        verdicts,
        verdicts_unknown,
    }
}

/// The best temperature for each k, over the temperatures that report that k.
pub(super) fn best_temperatures(stats: &[TemperatureStats]) -> Vec<BestTemperature> {
    let mut best: Vec<BestTemperature> = Vec::new();
    // `stats` is by increasing temperature, and only a strictly higher value replaces the
    // current best, so ties go to the lower temperature.
    for s in stats {
        for p in &s.pass_at_k {
            match best.iter_mut().find(|b| b.k == p.k) {
                Some(b) if p.value > b.value => {
                    b.temperature = s.temperature;
                    b.value = p.value;
                }
                Some(_) => {}
                None => best.push(BestTemperature {
                    k: p.k,
                    temperature: s.temperature,
                    value: p.value,
                }),
            }
        }
    }
    best.sort_by_key(|b| b.k);
    best
}

/// One temperature of one question.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuestionTemperature {
    /// Temperature.
    pub temperature: f64,
    /// Samples.
    pub n: u64,
    /// Passing samples.
    pub passed: u64,
    /// `passed / n`.
    pub pass_rate: f64,
    /// 95% Wilson interval of `pass_rate`.
    pub ci: Interval,
    /// pass@k for the standard k up to `n`.
    pub pass_at_k: Vec<PassAtK>,
    /// Verdicts, when known (not for cells from `summary.json` only).
    pub verdicts: Option<VerdictCounts>,
}

/// One question in detail (`lcb report --question IDX`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuestionView {
    /// Question index.
    pub idx: usize,
    /// Question id.
    pub id: String,
    /// Question title.
    pub title: String,
    /// Set when the question was solved greedily and not sampled.
    pub skipped: Option<String>,
    /// One entry per sampled temperature, increasing.
    pub temperatures: Vec<QuestionTemperature>,
    /// The best temperature per k.
    pub best: Vec<BestTemperature>,
}

impl QuestionView {
    /// Question `idx` of `tree`; an error naming the available questions if absent.
    pub fn new(tree: &ResultsTree, idx: usize) -> Result<QuestionView, ReportError> {
        match tree.find(idx) {
            None => {
                let mut all: Vec<usize> = tree
                    .questions
                    .iter()
                    .map(|q| q.idx)
                    .chain(tree.skipped.iter().map(|s| s.idx))
                    .collect();
                all.sort_unstable();
                Err(ReportError::UnknownQuestion {
                    root: tree.root.clone(),
                    idx,
                    available: describe_indices(&all),
                })
            }
            Some(Err(s)) => Ok(QuestionView {
                idx,
                id: s.id.clone(),
                title: s.title.clone(),
                skipped: Some(s.reason.clone()),
                temperatures: Vec::new(),
                best: Vec::new(),
            }),
            Some(Ok(q)) => {
                let temperatures: Vec<QuestionTemperature> = q
                    .cells
                    .iter()
                    .map(|c| QuestionTemperature {
                        temperature: c.temperature,
                        n: c.n,
                        passed: c.passed,
                        pass_rate: c.rate(),
                        ci: wilson(c.passed, c.n),
                        pass_at_k: reported_ks(c.n)
                            .into_iter()
                            .map(|k| PassAtK {
                                k,
                                value: pass_at_k(c.n, c.passed, k),
                            })
                            .collect(),
                        verdicts: c.verdicts,
                    })
                    .collect();
                // Reuse the overall ranking rule by viewing each cell as a one-question
                // temperature.
                let as_stats: Vec<TemperatureStats> = q
                    .cells
                    .iter()
                    .map(|c| temperature_stats(c.temperature, &[c]))
                    .collect();
                Ok(QuestionView {
                    idx,
                    id: q.id.clone(),
                    title: q.title.clone(),
                    skipped: None,
                    temperatures,
                    best: best_temperatures(&as_stats),
                })
            }
        }
    }
}
