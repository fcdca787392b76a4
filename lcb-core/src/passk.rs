//! The unbiased pass@k estimator (Chen et al. 2021) in LCB's numerically stable form
//! (`lcb_runner/evaluation/pass_k_utils.py`).

/// pass@k for one problem with `n` samples of which `c` passed:
/// `1 - C(n-c, k) / C(n, k)`, computed as `1 - prod_{i=n-c+1}^{n} (1 - k/i)`.
///
/// Returns 1.0 when `n - c < k` (every draw of k contains a pass).
/// # Panics
/// If `c > n` or `k > n` (a bug in the caller: check `n >= k` first).
pub fn pass_at_k(n: u64, c: u64, k: u64) -> f64 {
    assert!(c <= n && k <= n && k > 0, "pass_at_k({n}, {c}, {k})");
    if n - c < k {
        return 1.0;
    }
    let k = k as f64;
    let product: f64 = (n - c + 1..=n).map(|i| 1.0 - k / i as f64).product();
    1.0 - product
}

/// Mean pass@k over problems given `(n, c)` per problem, as LCB reports it; `None` unless every
/// problem has at least `k` samples (LCB omits such k) or when there are no problems.
pub fn mean_pass_at_k(counts: &[(u64, u64)], k: u64) -> Option<f64> {
    if counts.is_empty() || counts.iter().any(|&(n, _)| n < k) {
        return None;
    }
    let sum: f64 = counts.iter().map(|&(n, c)| pass_at_k(n, c, k)).sum();
    Some(sum / counts.len() as f64)
}

/// The standard k values lcb reports (1, 5, 10, 100, 1000), filtered to those `n` allows.
pub fn reported_ks(min_n: u64) -> Vec<u64> {
    [1, 5, 10, 100, 1000]
        .into_iter()
        .filter(|&k| k <= min_n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn hand_computed_values() {
        // k = 1 is the plain pass rate.
        assert!(close(pass_at_k(10, 3, 1), 0.3));
        // n=5, c=2, k=2: 1 - C(3,2)/C(5,2) = 1 - 3/10.
        assert!(close(pass_at_k(5, 2, 2), 0.7));
        // n=10, c=1, k=5: 1 - C(9,5)/C(10,5) = 1 - 126/252.
        assert!(close(pass_at_k(10, 1, 5), 0.5));
        // n=4, c=0: nothing passes.
        assert!(close(pass_at_k(4, 0, 2), 0.0));
        // n - c < k: certain.
        assert!(close(pass_at_k(5, 4, 2), 1.0));
    }

    #[test]
    fn stable_for_large_n() {
        // C(2500, 100) overflows f64; the product form does not.
        let v = pass_at_k(2500, 10, 100);
        // 1 - prod_{i=2491}^{2500} (1 - 100/i), computed independently in closed form.
        let expected = 1.0
            - (2491..=2500)
                .map(|i| (i as f64 - 100.0) / i as f64)
                .product::<f64>();
        assert!(close(v, expected) && v > 0.33 && v < 0.34, "{v}");
    }

    #[test]
    fn mean_requires_enough_samples_everywhere() {
        assert!(close(mean_pass_at_k(&[(10, 3), (10, 1)], 1).unwrap(), 0.2));
        assert_eq!(mean_pass_at_k(&[(10, 3), (4, 1)], 5), None);
        assert_eq!(mean_pass_at_k(&[], 1), None);
        assert_eq!(reported_ks(10), vec![1, 5, 10]);
        assert_eq!(reported_ks(0), Vec::<u64>::new());
    }
}
