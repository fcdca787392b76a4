//! A/B comparisons of two benchmark configurations (two builds of lcb, or two sets of engine
//! options) on the same workload: the sides run alternately (A B, B A, A B, …), K rounds each after a discarded
//! warm-up, and every figure is reported per side as median/min/max with the ratio B/A and
//! its bootstrap interval ([`stats::compare`]). Alternating spreads drifts of the machine
//! (thermal, other load) over both sides instead of charging them to one.

use serde::Serialize;
use serde_json::Value;

use super::stats::{self, RatioComparison, Spread};

/// A figure of a benchmark's JSON report, by JSON pointer (`/lcb/output_tokens_per_s`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Figure {
    /// Where it is in the report.
    pub pointer: String,
    /// Whether more is better (throughput) or less (latency), for the verdict's wording.
    pub higher_is_better: bool,
}

impl Figure {
    /// A figure where more is better.
    pub fn higher(pointer: &str) -> Self {
        Figure {
            pointer: pointer.into(),
            higher_is_better: true,
        }
    }

    /// A figure where less is better.
    pub fn lower(pointer: &str) -> Self {
        Figure {
            pointer: pointer.into(),
            higher_is_better: false,
        }
    }
}

/// One figure compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FigureComparison {
    /// The figure.
    pub figure: Figure,
    /// Side A over its rounds.
    pub a: Spread,
    /// Side B over its rounds.
    pub b: Spread,
    /// B / A with its interval.
    pub ratio: RatioComparison,
    /// "B is 1.23× A (95% CI …)" or "no significant difference (…)".
    pub verdict: String,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AbReport {
    /// Measured rounds per side (warm-up excluded).
    pub rounds: usize,
    /// Each figure found in every round of both sides.
    pub figures: Vec<FigureComparison>,
    /// Figures missing from some round (not compared).
    pub missing: Vec<String>,
}

/// Why a comparison could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AbError {
    /// A run failed.
    #[error("side {side}, round {round}: {message}")]
    Run {
        /// `A` or `B`.
        side: char,
        /// 0 is the warm-up.
        round: usize,
        /// What went wrong.
        message: String,
    },
    /// Fewer than two rounds: no interval can be made.
    #[error("an A/B comparison needs at least 2 rounds, not {0}")]
    TooFewRounds(usize),
}

/// Runs `warmup` discarded rounds then `rounds` measured rounds of `a` and `b` alternately
/// (A B, B A, A B, …; each call returns one benchmark report) and compares `figures`.
pub fn run(
    mut a: impl FnMut() -> Result<Value, String>,
    mut b: impl FnMut() -> Result<Value, String>,
    rounds: usize,
    warmup: usize,
    figures: &[Figure],
) -> Result<AbReport, AbError> {
    if rounds < 2 {
        return Err(AbError::TooFewRounds(rounds));
    }
    let (mut reports_a, mut reports_b) = (Vec::new(), Vec::new());
    for round in 0..warmup + rounds {
        let run = |side: char, f: &mut dyn FnMut() -> Result<Value, String>| {
            f().map_err(|message| AbError::Run {
                side,
                round,
                message,
            })
        };
        // A, B in even rounds and B, A in odd ones: neither side always runs second, on a
        // machine the other has just warmed (caches, clocks, a GPU's temperature).
        let (ra, rb) = if round % 2 == 0 {
            let ra = run('A', &mut a)?;
            (ra, run('B', &mut b)?)
        } else {
            let rb = run('B', &mut b)?;
            (run('A', &mut a)?, rb)
        };
        if round >= warmup {
            reports_a.push(ra);
            reports_b.push(rb);
        }
    }
    Ok(compare_reports(&reports_a, &reports_b, figures))
}

/// Compares figures over reports already collected (round i of A ran beside round i of B).
pub fn compare_reports(a: &[Value], b: &[Value], figures: &[Figure]) -> AbReport {
    let values = |reports: &[Value], pointer: &str| -> Option<Vec<f64>> {
        reports
            .iter()
            .map(|r| r.pointer(pointer).and_then(Value::as_f64))
            .collect()
    };
    let mut compared = Vec::new();
    let mut missing = Vec::new();
    for figure in figures {
        let found = values(a, &figure.pointer).zip(values(b, &figure.pointer));
        let comparison = found.and_then(|(va, vb)| {
            let ratio = stats::compare(&va, &vb, 0.95, 0)?;
            Some(FigureComparison {
                figure: figure.clone(),
                a: Spread::of(&va)?,
                b: Spread::of(&vb)?,
                verdict: ratio.verdict(),
                ratio,
            })
        });
        match comparison {
            Some(c) => compared.push(c),
            None => missing.push(figure.pointer.clone()),
        }
    }
    AbReport {
        rounds: a.len().min(b.len()),
        figures: compared,
        missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(tps: f64) -> Value {
        json!({"lcb": {"output_tokens_per_s": tps, "ttft_s": 1.0 / tps}})
    }

    #[test]
    fn alternates_discards_the_warm_up_and_compares_each_figure() {
        let order = std::cell::RefCell::new(Vec::new());
        let (mut ta, mut tb) = (vec![1.0, 100.0, 101.0, 99.0], vec![1.0, 80.0, 79.0, 81.0]);
        let figures = [
            Figure::higher("/lcb/output_tokens_per_s"),
            Figure::lower("/lcb/ttft_s"),
            Figure::higher("/lcb/not_there"),
        ];
        let out = run(
            || {
                order.borrow_mut().push('A');
                Ok(report(ta.remove(0)))
            },
            || {
                order.borrow_mut().push('B');
                Ok(report(tb.remove(0)))
            },
            3,
            1,
            &figures,
        )
        .unwrap();
        assert_eq!(order.into_inner(), ['A', 'B', 'B', 'A', 'A', 'B', 'B', 'A']);
        assert_eq!(out.rounds, 3);
        // The warm-up's 1.0 is not in the spread.
        let tps = &out.figures[0];
        assert_eq!((tps.a.min, tps.a.median, tps.a.max), (99.0, 100.0, 101.0));
        assert!((tps.ratio.ratio - 0.8).abs() < 1e-12);
        assert!(tps.ratio.significant, "{tps:?}");
        assert_eq!(out.missing, ["/lcb/not_there"]);
    }

    #[test]
    fn identical_sides_and_failures() {
        let same = [Figure::higher("/lcb/output_tokens_per_s")];
        // Ten rounds of the same noisy configuration, split into two sides.
        let values: Vec<Value> = (1..=10).map(|i| report(100.0 + (i % 3) as f64)).collect();
        let (a, b): (Vec<_>, Vec<_>) = values
            .chunks(2)
            .map(|p| (p[0].clone(), p[1].clone()))
            .unzip();
        let out = compare_reports(&a, &b, &same);
        assert!(!out.figures[0].ratio.significant, "{:?}", out.figures[0]);
        assert!(out.figures[0]
            .verdict
            .starts_with("no significant difference"));

        let err = run(|| Ok(report(1.0)), || Err("exit 2".into()), 2, 1, &same).unwrap_err();
        assert_eq!(err.to_string(), "side B, round 0: exit 2");
        assert!(matches!(
            run(|| Ok(report(1.0)), || Ok(report(1.0)), 1, 0, &same),
            Err(AbError::TooFewRounds(1))
        ));
    }
}
