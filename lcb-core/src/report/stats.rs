//! 95% confidence intervals for pass rates.
//!
//! * One question at one temperature: the **Wilson score interval** of `c` passes in `n`
//!   samples. Unlike the plain normal (Wald) interval it stays inside `[0, 1]` and does not
//!   collapse to a point when `c = 0` or `c = n`, which is common in sweeps.
//! * The overall rate (a mean over questions of per-question rates): a **normal interval over
//!   questions**, `mean ± z · s / √Q` with `s` the sample standard deviation of the `Q`
//!   per-question rates. It treats the questions as a sample of possible questions, which is
//!   where most of the uncertainty of a benchmark score lies; the sampling noise within each
//!   question is part of the spread of the rates and so is covered too. With one question
//!   there is no spread to measure, and that question's Wilson interval is used instead.

use serde::Serialize;

/// The two-sided 95% quantile of the standard normal distribution.
pub const Z95: f64 = 1.959_963_984_540_054;

/// A closed interval `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

impl Interval {
    /// Whether `x` lies inside (bounds included).
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// The 95% Wilson score interval of `passed` successes in `n` trials.
///
/// # Panics
/// If `n == 0` or `passed > n` (a bug in the caller: such cells are dropped when loading).
pub fn wilson(passed: u64, n: u64) -> Interval {
    assert!(n > 0 && passed <= n, "wilson({passed}, {n})");
    let n = n as f64;
    let p = passed as f64 / n;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = Z95 / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Interval {
        low: (center - half).max(0.0),
        high: (center + half).min(1.0),
    }
}

/// The mean of `values` and its 95% normal interval `mean ± z · s / √len`, clamped to
/// `[lo, hi]` (the range the values can take); `None` for fewer than two values, where the
/// spread cannot be estimated.
pub fn normal_mean_interval(values: &[f64], lo: f64, hi: f64) -> Option<(f64, Interval)> {
    if values.len() < 2 {
        return None;
    }
    let count = values.len() as f64;
    let mean = values.iter().sum::<f64>() / count;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (count - 1.0);
    let half = Z95 * (variance / count).sqrt();
    Some((
        mean,
        Interval {
            low: (mean - half).max(lo),
            high: (mean + half).min(hi),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn wilson_hand_computed() {
        // c = 5, n = 10: center 0.5, half = z/(1+z²/10) · sqrt(0.025 + z²/400).
        let z2 = Z95 * Z95;
        let half = Z95 / (1.0 + z2 / 10.0) * (0.025 + z2 / 400.0).sqrt();
        let i = wilson(5, 10);
        assert!(
            close(i.low, 0.5 - half) && close(i.high, 0.5 + half),
            "{i:?}"
        );
        // Known values (e.g. R's prop.test without continuity correction): 0.2366, 0.7634.
        assert!((i.low - 0.2366).abs() < 1e-4 && (i.high - 0.7634).abs() < 1e-4);
        // c = 0 keeps a non-empty upper tail: z²/(n + z²) for n = 10 is 0.2775.
        let zero = wilson(0, 10);
        assert!(close(zero.low, 0.0) && (zero.high - 0.2775).abs() < 1e-4);
        let all = wilson(10, 10);
        assert!(close(all.high, 1.0) && (all.low - 0.7225).abs() < 1e-4);
    }

    #[test]
    fn normal_interval_hand_computed() {
        // Values 0.2, 0.4, 0.9: mean 0.5, s² = (0.09 + 0.01 + 0.16) / 2 = 0.13.
        let (mean, i) = normal_mean_interval(&[0.2, 0.4, 0.9], 0.0, 1.0).unwrap();
        let half = Z95 * (0.13f64 / 3.0).sqrt();
        assert!(close(mean, 0.5) && close(i.low, 0.5 - half) && close(i.high, 0.5 + half));
        // Clamped to the range the values can take.
        let (_, i) = normal_mean_interval(&[0.0, 1.0], 0.0, 1.0).unwrap();
        assert!(close(i.low, 0.0) && close(i.high, 1.0));
        assert!(normal_mean_interval(&[0.3], 0.0, 1.0).is_none());
    }
}
