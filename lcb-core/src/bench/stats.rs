//! Statistics for benchmarks: percentiles of per-sample timings, the median/min/max of repeated
//! rounds, and whether two configurations differ, decided by a bootstrap confidence interval of
//! the ratio of their means over the rounds rather than by one number each.

use serde::Serialize;

/// The `p`-th percentile (`0 ≤ p ≤ 100`) of `values` by linear interpolation between the two
/// nearest ranks (numpy's default, so figures match a notebook's). `None` when empty.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let rank = p.clamp(0.0, 100.0) / 100.0 * (sorted.len() - 1) as f64;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    let weight = rank - low as f64;
    Some(sorted[low] + (sorted[high] - sorted[low]) * weight)
}

/// p50, p90 and p99 of a set of per-sample figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl Percentiles {
    /// The three percentiles of `values`; `None` when empty.
    pub fn of(values: &[f64]) -> Option<Self> {
        Some(Percentiles {
            p50: percentile(values, 50.0)?,
            p90: percentile(values, 90.0)?,
            p99: percentile(values, 99.0)?,
        })
    }
}

/// The spread of one figure over repeated rounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// Median over the rounds.
    pub median: f64,
    /// Smallest round.
    pub min: f64,
    /// Largest round.
    pub max: f64,
}

impl Spread {
    /// The spread of `rounds`; `None` when empty.
    pub fn of(rounds: &[f64]) -> Option<Self> {
        Some(Spread {
            median: percentile(rounds, 50.0)?,
            min: rounds.iter().copied().reduce(f64::min)?,
            max: rounds.iter().copied().reduce(f64::max)?,
        })
    }
}

/// How B compares with A on one figure: `ratio` is mean(B) / mean(A) over the rounds, with a
/// percentile bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RatioComparison {
    /// mean(B) / mean(A).
    pub ratio: f64,
    /// Lower bound of the interval.
    pub low: f64,
    /// Upper bound of the interval.
    pub high: f64,
    /// The interval's confidence (0.95).
    pub confidence: f64,
    /// Whether the interval excludes 1.
    pub significant: bool,
}

impl RatioComparison {
    /// "B is 1.23× A (95% CI 1.10–1.37)" or "no significant difference (…)".
    pub fn verdict(&self) -> String {
        let ci = format!(
            "{:.0}% CI {:.3}–{:.3}",
            self.confidence * 100.0,
            self.low,
            self.high
        );
        if self.significant {
            format!("B is {:.3}× A ({ci})", self.ratio)
        } else {
            format!("no significant difference (ratio {:.3}, {ci})", self.ratio)
        }
    }
}

/// Resamples used by [`compare`]: enough that the interval's ends move by well under a
/// percent between seeds for the 5–20 rounds a benchmark runs.
pub const BOOTSTRAP_RESAMPLES: usize = 10_000;

/// Compares the rounds of B with those of A: each bootstrap resample draws A's and B's rounds
/// with replacement (independently: the two sides ran alternately, not paired) and takes the
/// ratio of the means; the interval is the central `confidence` of those ratios. Deterministic
/// for a given `seed`. `None` when a side has no rounds or A's mean is not positive.
pub fn compare(a: &[f64], b: &[f64], confidence: f64, seed: u64) -> Option<RatioComparison> {
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    if a.is_empty() || b.is_empty() || mean(a) <= 0.0 {
        return None;
    }
    let mut rng = SplitMix64(seed);
    let mut draw = |xs: &[f64]| {
        let sum: f64 = (0..xs.len())
            .map(|_| xs[(rng.next() % xs.len() as u64) as usize])
            .sum();
        sum / xs.len() as f64
    };
    let ratios: Vec<f64> = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            let (ma, mb) = (draw(a), draw(b));
            mb / ma
        })
        .filter(|r| r.is_finite())
        .collect();
    let tail = (1.0 - confidence) / 2.0 * 100.0;
    let low = percentile(&ratios, tail)?;
    let high = percentile(&ratios, 100.0 - tail)?;
    Some(RatioComparison {
        ratio: mean(b) / mean(a),
        low,
        high,
        confidence,
        significant: !(low <= 1.0 && 1.0 <= high),
    })
}

/// The bootstrap's random numbers: SplitMix64, small and reproducible everywhere (statistics
/// need no cryptographic quality, and a fixed seed makes a report reproducible).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_as_numpy_does() {
        // numpy.percentile([1, 2, 3, 4], [50, 90, 99]) = [2.5, 3.7, 3.97]
        let p = Percentiles::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(p.p50, 2.5);
        assert!((p.p90 - 3.7).abs() < 1e-12, "{}", p.p90);
        assert!((p.p99 - 3.97).abs() < 1e-12, "{}", p.p99);
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[1.0, 2.0, 3.0], 0.0), Some(1.0));
        assert_eq!(percentile(&[1.0, 2.0, 3.0], 100.0), Some(3.0));
    }

    #[test]
    fn spreads_are_median_min_max() {
        let s = Spread::of(&[3.0, 1.0, 10.0, 2.0, 5.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (3.0, 1.0, 10.0));
        assert_eq!(Spread::of(&[]), None);
    }

    #[test]
    fn identical_sides_show_no_difference() {
        let a = [100.0, 102.0, 98.0, 101.0, 99.0];
        let c = compare(&a, &a, 0.95, 1).unwrap();
        assert_eq!(c.ratio, 1.0);
        assert!(c.low < 1.0 && c.high > 1.0, "{c:?}");
        assert!(!c.significant);
        assert!(c.verdict().starts_with("no significant difference"));
    }

    #[test]
    fn a_clear_slowdown_is_significant() {
        let a = [100.0, 102.0, 98.0, 101.0, 99.0];
        let b = [80.0, 81.0, 79.0, 82.0, 78.0];
        let c = compare(&a, &b, 0.95, 1).unwrap();
        assert!((c.ratio - 0.8).abs() < 1e-12, "{}", c.ratio);
        assert!(c.high < 1.0 && c.low > 0.75, "{c:?}");
        assert!(c.significant);
        assert!(c.verdict().starts_with("B is 0.800× A"), "{}", c.verdict());
    }

    #[test]
    fn noisy_overlapping_sides_are_not_significant_and_seeds_reproduce() {
        let a = [100.0, 120.0, 80.0, 110.0, 90.0];
        let b = [105.0, 85.0, 125.0, 95.0, 100.0];
        let c = compare(&a, &b, 0.95, 7).unwrap();
        assert!(!c.significant, "{c:?}");
        assert_eq!(c, compare(&a, &b, 0.95, 7).unwrap());
        assert!(compare(&[], &b, 0.95, 7).is_none());
        assert!(compare(&[0.0], &b, 0.95, 7).is_none());
    }
}
