//! Two results trees side by side (`lcb report A B`): differences per temperature, `B − A`.
//!
//! Each tree's rate is over its own questions. The paired difference is over the questions
//! both trees sampled at that temperature (matched by question id), with a 95% normal
//! interval over those questions' differences; it is the fairer number when the trees cover
//! different questions (one still running, or a different `--questions`).

use std::path::PathBuf;

use serde::Serialize;

use super::load::ResultsTree;
use super::stats::{normal_mean_interval, Interval};
use super::summary::{BestTemperature, Report};

/// pass@k of both trees at one k.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PassAtKDelta {
    /// k.
    pub k: u64,
    /// Tree A's pass@k.
    pub a: f64,
    /// Tree B's pass@k.
    pub b: f64,
    /// `b - a`.
    pub delta: f64,
}

/// One temperature of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparisonRow {
    /// Temperature.
    pub temperature: f64,
    /// Tree A's pass rate (pass@1), if it sampled this temperature.
    pub a: Option<f64>,
    /// Tree B's pass rate.
    pub b: Option<f64>,
    /// `b - a`, when both have it.
    pub delta: Option<f64>,
    /// Questions sampled at this temperature in both trees.
    pub common_questions: usize,
    /// Mean over common questions of B's rate minus A's rate.
    pub paired_delta: Option<f64>,
    /// 95% normal interval of `paired_delta` (needs two common questions).
    pub paired_ci: Option<Interval>,
    /// pass@k for every k both trees report at this temperature.
    pub pass_at_k: Vec<PassAtKDelta>,
}

/// Tree B against tree A.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Tree A.
    pub a: PathBuf,
    /// Tree B.
    pub b: PathBuf,
    /// One row per temperature in either tree, increasing.
    pub rows: Vec<ComparisonRow>,
    /// Tree A's best temperatures.
    pub best_a: Vec<BestTemperature>,
    /// Tree B's best temperatures.
    pub best_b: Vec<BestTemperature>,
}

impl Comparison {
    /// Compares tree `b` against tree `a`.
    pub fn new(a: &ResultsTree, b: &ResultsTree) -> Comparison {
        let (report_a, report_b) = (Report::new(a), Report::new(b));
        let mut temps = a.temperatures();
        temps.extend(b.temperatures());
        temps.sort_by(f64::total_cmp);
        temps.dedup();
        let rows = temps
            .into_iter()
            .map(|t| {
                let (sa, sb) = (report_a.at(t), report_b.at(t));
                let diffs: Vec<f64> = a
                    .questions
                    .iter()
                    .filter_map(|qa| {
                        let ca = qa.cell(t)?;
                        let qb = b.questions.iter().find(|qb| same_question(qa, qb))?;
                        Some(qb.cell(t)?.rate() - ca.rate())
                    })
                    .collect();
                let paired = normal_mean_interval(&diffs, -1.0, 1.0);
                let pass_at_k = match (sa, sb) {
                    (Some(sa), Some(sb)) => sa
                        .pass_at_k
                        .iter()
                        .filter_map(|pa| {
                            let vb = sb.pass_at(pa.k)?;
                            Some(PassAtKDelta {
                                k: pa.k,
                                a: pa.value,
                                b: vb,
                                delta: vb - pa.value,
                            })
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                ComparisonRow {
                    temperature: t,
                    a: sa.map(|s| s.pass_rate),
                    b: sb.map(|s| s.pass_rate),
                    delta: sa.zip(sb).map(|(sa, sb)| sb.pass_rate - sa.pass_rate),
                    common_questions: diffs.len(),
                    paired_delta: match (&paired, diffs.as_slice()) {
                        (Some((mean, _)), _) => Some(*mean),
                        (None, [only]) => Some(*only),
                        (None, _) => None,
                    },
                    paired_ci: paired.map(|(_, ci)| ci),
                    pass_at_k,
                }
            })
            .collect();
        Comparison {
            a: a.root.clone(),
            b: b.root.clone(),
            rows,
            best_a: report_a.best,
            best_b: report_b.best,
        }
    }
}

/// Questions match by id; by index only when an id is missing (a tree known from bare
/// summaries of an old run).
fn same_question(a: &super::QuestionData, b: &super::QuestionData) -> bool {
    if a.id.is_empty() || b.id.is_empty() {
        a.idx == b.idx
    } else {
        a.id == b.id
    }
}
