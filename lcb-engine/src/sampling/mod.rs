//! Choosing the next token from a row of logits, per sample: greedy at temperature 0,
//! otherwise temperature, top-k and top-p (in that order, as transformers' and vLLM's
//! samplers apply them), drawn by inverse CDF with one uniform from [`crate::rng`].
//!
//! Top-k and top-p set a threshold on the logits: top-k keeps every token at or above the
//! k-th largest logit, top-p (over the tokens top-k kept) every token at or above the largest
//! logit whose tokens at or above it hold the mass `p` of the tempered distribution; ties at
//! the threshold are all kept. The draw then walks the kept tokens in vocabulary order, so a
//! threshold is all a device has to find, by bisection, without sorting the vocabulary:
//! [`rows_op`] runs the same algorithm as one CUDA kernel where the logits are.
//!
//! The reported log-probability is always the log-softmax of the raw logits (before
//! temperature and filtering), as `lcb generate` promises. Rows are sampled in parallel on
//! the host; every operation runs in a fixed order, so a row's result depends only on its
//! logits and its draw key.

mod rows_op;

pub use rows_op::sample_tensor_rows;

use rayon::prelude::*;

use crate::rng::DrawKey;

/// How one sample chooses tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplerParams {
    /// Softmax temperature; `0` (or below) is greedy.
    pub temperature: f32,
    /// Nucleus mass in `(0, 1]`; `1` keeps every token.
    pub top_p: f32,
    /// Keep only the `k` most likely tokens (`None` or `0`: all).
    pub top_k: Option<usize>,
}

impl SamplerParams {
    /// Greedy decoding.
    pub const GREEDY: SamplerParams = SamplerParams {
        temperature: 0.0,
        top_p: 1.0,
        top_k: None,
    };

    /// Greedy at temperature 0 or below, with top-k 1, and at temperatures so small that
    /// `1 / T` overflows (tempered weights would be NaN, which would sample uniformly).
    pub(crate) fn is_greedy(&self) -> bool {
        self.temperature <= 0.0 || !(1.0 / self.temperature).is_finite() || self.top_k == Some(1)
    }
}

/// A chosen token and its log-probability under the raw logits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampled {
    /// The token id.
    pub token: u32,
    /// `log_softmax(logits)[token]`.
    pub logprob: f32,
}

/// `exp(x)` for f32 in a form the compiler vectorises (Cephes' `expf`: range reduction by
/// `ln 2`, a degree-6 polynomial, the exponent set through the bits; relative error about
/// 2e-7). libm's `expf` is scalar and very slow on the underflow path that most of a
/// 150k-entry softmax takes (`exp(logit - max)` for unlikely tokens), which made sampling
/// cost more than the model on the CPU. Inputs below -87.3 give ~1e-38 instead of smaller
/// values or 0, which changes no sum (every softmax sum is at least 1) but means no weight is
/// ever exactly 0: a walk must not take "last non-zero weight" for a likely token.
#[inline(always)]
// `max`/`min` map to single vector instructions; `clamp` adds NaN handling and an assertion.
#[allow(clippy::manual_clamp)]
fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // 1.5 * 2^23: adding it rounds to an integer held in the low mantissa bits.
    const MAGIC: f32 = 12_582_912.0;
    let x = x.max(-87.336_54).min(88.722_83);
    let shifted = x * LOG2E + MAGIC;
    let n = shifted - MAGIC;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let e = p * r * r + r + 1.0;
    let k = (shifted.to_bits() as i32).wrapping_sub(0x4B40_0000);
    e * f32::from_bits(((k + 127) << 23) as u32)
}

/// Largest value, ignoring NaN (eight lanes, so it vectorises; max is order-independent),
/// and whether there was a NaN.
fn max_and_nan(values: &[f32]) -> (f32, bool) {
    let mut lanes = [f32::NEG_INFINITY; 8];
    let mut nan = [false; 8];
    let chunks = values.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..8 {
            lanes[l] = lanes[l].max(c[l]);
            nan[l] |= c[l].is_nan();
        }
    }
    let max = tail
        .iter()
        .chain(&lanes)
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    (max, nan.contains(&true) || tail.iter().any(|x| x.is_nan()))
}

/// Largest value, ignoring NaN.
fn max_of(values: &[f32]) -> f32 {
    max_and_nan(values).0
}

/// Elements per block of the inverse-CDF walk.
const BLOCK: usize = 1024;

/// What [`exp_sums`] computes besides the raw sum.
enum Tempered<'a> {
    /// Nothing (greedy or filtered sampling).
    No,
    /// Weights `exp((x - max) / T)` into the slice, one sum per [`BLOCK`] into the vector.
    Into(&'a mut [f32], &'a mut Vec<f64>),
}

/// Eight-lane sums of `exp(x - max)` and, if `out` is given, of `exp((x - max) * inv_t)`
/// (written to `out`) over one block. The fixed lane structure keeps the order of additions
/// independent of anything but the block.
#[inline(always)]
fn block_sums(block: &[f32], out: Option<&mut [f32]>, max: f32, inv_t: f32) -> (f32, f32) {
    let mut raw = [0f32; 8];
    let mut tempered = [0f32; 8];
    let split = block.len() - block.len() % 8;
    match out {
        // Temperature 1: the tempered weights are the raw ones.
        Some(out) if inv_t == 1.0 => {
            for (c, o) in block[..split]
                .chunks_exact(8)
                .zip(out[..split].chunks_exact_mut(8))
            {
                for l in 0..8 {
                    let e = exp_f32(c[l] - max);
                    o[l] = e;
                    raw[l] += e;
                }
            }
            for i in split..block.len() {
                let e = exp_f32(block[i] - max);
                out[i] = e;
                raw[i % 8] += e;
            }
            tempered = raw;
        }
        Some(out) => {
            for (c, o) in block[..split]
                .chunks_exact(8)
                .zip(out[..split].chunks_exact_mut(8))
            {
                for l in 0..8 {
                    let d = c[l] - max;
                    raw[l] += exp_f32(d);
                    let e = exp_f32(d * inv_t);
                    o[l] = e;
                    tempered[l] += e;
                }
            }
            for i in split..block.len() {
                let d = block[i] - max;
                raw[i % 8] += exp_f32(d);
                let e = exp_f32(d * inv_t);
                out[i] = e;
                tempered[i % 8] += e;
            }
        }
        None => {
            for c in block[..split].chunks_exact(8) {
                for l in 0..8 {
                    raw[l] += exp_f32(c[l] - max);
                }
            }
            for i in split..block.len() {
                raw[i % 8] += exp_f32(block[i] - max);
            }
        }
    }
    let fold = |v: [f32; 8]| ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
    (fold(raw), fold(tempered))
}

/// `Σ exp(x - max)` over `logits` (for the log-softmax) and the tempered weights if asked,
/// block by block, combined in f64.
#[inline(always)]
fn exp_sums_impl(logits: &[f32], max: f32, inv_t: f32, mut tempered: Tempered) -> f64 {
    let mut total = 0f64;
    for (b, block) in logits.chunks(BLOCK).enumerate() {
        let raw = match &mut tempered {
            Tempered::No => block_sums(block, None, max, inv_t).0,
            Tempered::Into(w, sums) => {
                let start = b * BLOCK;
                let (raw, t) =
                    block_sums(block, Some(&mut w[start..start + block.len()]), max, inv_t);
                sums.push(f64::from(t));
                raw
            }
        };
        total += f64::from(raw);
    }
    total
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn exp_sums_avx2(logits: &[f32], max: f32, inv_t: f32, tempered: Tempered) -> f64 {
    exp_sums_impl(logits, max, inv_t, tempered)
}

/// [`exp_sums_impl`], compiled for AVX2 + FMA when the CPU has them (8 lanes instead of the
/// baseline's 4). Both versions add in the same order; FMA contraction is not enabled by
/// Rust, so they give the same bits.
fn exp_sums(logits: &[f32], max: f32, inv_t: f32, tempered: Tempered) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports the features the function is compiled for.
        return unsafe { exp_sums_avx2(logits, max, inv_t, tempered) };
    }
    exp_sums_impl(logits, max, inv_t, tempered)
}

/// Index of the largest value (the first one on ties, as `torch.argmax`).
fn argmax(logits: &[f32]) -> usize {
    let max = max_of(logits);
    logits.iter().position(|&x| x == max).unwrap_or(0)
}

/// Picks the next token for one row of logits.
///
/// Logits that are not all finite give a token that means nothing; the log-probability
/// says so by not being finite either (NaN for a NaN anywhere in the row, NaN or -inf for
/// an infinite maximum), and the scheduler fails the request.
pub fn sample(logits: &[f32], params: &SamplerParams, key: DrawKey) -> Sampled {
    let (max, nan) = max_and_nan(logits);
    let (token, raw_sum) = if params.is_greedy() {
        (argmax(logits), exp_sums(logits, max, 1.0, Tempered::No))
    } else {
        let mut weights = vec![0f32; logits.len()];
        let mut blocks = Vec::with_capacity(logits.len().div_ceil(BLOCK));
        let inv_t = 1.0 / params.temperature;
        let raw = exp_sums(
            logits,
            max,
            inv_t,
            Tempered::Into(&mut weights, &mut blocks),
        );
        if let Some(threshold) = threshold(logits, &weights, params) {
            drop_below(logits, threshold, &mut weights, &mut blocks);
        }
        // A target past every weight (rounding): the most likely token is the only choice
        // that is certainly plausible.
        let token = walk_blocks(&weights, &blocks, key.uniform()).unwrap_or_else(|| argmax(logits));
        (token, raw)
    };
    let logprob = if nan {
        f32::NAN
    } else {
        (f64::from(logits[token] - max) - raw_sum.ln()) as f32
    };
    Sampled {
        token: token as u32,
        logprob,
    }
}

/// Inverse CDF over block-summed weights: finds the block where the cumulative mass passes
/// `u * total`, then walks token by token from its start; `None` when rounding leaves the
/// target past the last token.
///
/// A block's mass is an eight-lane f32 sum, the walk a sequential f64 sum: they can differ in
/// the last bits. When the target falls in that gap the walk is not over at the block's end:
/// it carries on into the next blocks (where the exact cumulative mass does pass the target)
/// instead of settling on the block's last token, which is any token at all, usually one
/// with no probability (`exp_f32` never returns exactly 0).
fn walk_blocks(weights: &[f32], blocks: &[f64], u: f64) -> Option<usize> {
    let total: f64 = blocks.iter().sum();
    let target = u * total;
    let mut cumulative = 0.0;
    let mut start = 0;
    for (b, &mass) in blocks.iter().enumerate() {
        if cumulative + mass > target || b + 1 == blocks.len() {
            start = b * BLOCK;
            break;
        }
        cumulative += mass;
    }
    let tail = weights[start..].iter().copied().enumerate();
    walk(tail, target - cumulative).map(|i| start + i)
}

/// The logit below which top-k and top-p drop tokens (`None`: they keep every token).
/// `weights` are the tempered weights of every token.
fn threshold(logits: &[f32], weights: &[f32], params: &SamplerParams) -> Option<f32> {
    let top_k = params.top_k.filter(|&k| k > 0 && k < logits.len());
    let top_p = params.top_p < 1.0;
    if top_k.is_none() && !top_p {
        return None;
    }
    let descending = |a: &u32, b: &u32| logits[*b as usize].total_cmp(&logits[*a as usize]);
    let mut candidates: Vec<u32> = (0..logits.len() as u32).collect();
    let mut threshold = f32::NEG_INFINITY;
    if let Some(k) = top_k {
        let (_, kth, _) = candidates.select_nth_unstable_by(k - 1, descending);
        threshold = logits[*kth as usize];
        candidates.retain(|&i| logits[i as usize] >= threshold);
    }
    if top_p {
        // The first logit, most likely first, at which the cumulative mass reaches p: every
        // tie of it is after it in this order, so the tokens at or above it hold at least p,
        // and those above it (all before it) less.
        candidates.sort_unstable_by(descending);
        let mass = |i: &u32| f64::from(weights[*i as usize]);
        let target = f64::from(params.top_p) * candidates.iter().map(mass).sum::<f64>();
        let mut cumulative = 0.0;
        for i in &candidates {
            cumulative += mass(i);
            if cumulative >= target {
                threshold = threshold.max(logits[*i as usize]);
                break;
            }
        }
    }
    Some(threshold)
}

/// Zeroes the weights of tokens below `threshold` and sums each block again.
fn drop_below(logits: &[f32], threshold: f32, weights: &mut [f32], blocks: &mut [f64]) {
    for ((x, w), sum) in logits
        .chunks(BLOCK)
        .zip(weights.chunks_mut(BLOCK))
        .zip(blocks.iter_mut())
    {
        let mut kept = 0f64;
        for (x, w) in x.iter().zip(w.iter_mut()) {
            if *x >= threshold {
                kept += f64::from(*w);
            } else {
                *w = 0.0;
            }
        }
        *sum = kept;
    }
}

/// The first index whose cumulative weight exceeds `target`; `None` if none does.
fn walk(weights: impl Iterator<Item = (usize, f32)>, target: f64) -> Option<usize> {
    let mut cumulative = 0.0;
    for (i, w) in weights {
        if w > 0.0 {
            cumulative += f64::from(w);
            if cumulative > target {
                return Some(i);
            }
        }
    }
    None
}

/// Samples every row of `logits` (`rows × vocab`, row-major) in parallel; row `i` uses
/// `params[i]` and `keys[i]`.
pub fn sample_rows(
    logits: &[f32],
    vocab: usize,
    params: &[SamplerParams],
    keys: &[DrawKey],
) -> Vec<Sampled> {
    logits
        .par_chunks(vocab)
        .zip(params.par_iter().zip(keys.par_iter()))
        .map(|(row, (p, k))| sample(row, p, *k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(step: u64) -> DrawKey {
        DrawKey {
            seed: 1,
            stream: 0,
            index: 0,
            step,
        }
    }

    fn params(temperature: f32, top_p: f32, top_k: Option<usize>) -> SamplerParams {
        SamplerParams {
            temperature,
            top_p,
            top_k,
        }
    }

    #[test]
    fn a_rounding_gap_at_a_block_end_walks_on_instead_of_taking_the_last_token() {
        // Block 0: one likely token (5) among negligible ones; block 1: token 1030 likely.
        let mut weights = vec![1e-38f32; 2 * BLOCK];
        weights[5] = 1.0;
        weights[1030] = 1.0;
        let exact0: f64 = weights[..BLOCK].iter().map(|&w| f64::from(w)).sum();
        // The block's f32 lane sum a little above the exact sum, as rounding can make it.
        let blocks = [exact0 * (1.0 + 1e-6), 1.0];
        let total: f64 = blocks.iter().sum();
        let target = exact0 * (1.0 + 0.5e-6);
        let chosen = walk_blocks(&weights, &blocks, target / total);
        assert_eq!(
            chosen,
            Some(1030),
            "the gap must not select token {}",
            BLOCK - 1
        );
        // Ordinary draws land on the likely tokens.
        assert_eq!(walk_blocks(&weights, &blocks, 0.25), Some(5));
        assert_eq!(walk_blocks(&weights, &blocks, 0.75), Some(1030));
    }

    #[test]
    fn a_target_past_every_weight_is_no_token() {
        let weights = [0.1f32, 0.7, 0.2];
        // Block sums larger than the weights: the target is never reached (`sample` then
        // takes the most likely token).
        assert_eq!(walk_blocks(&weights, &[2.0], 0.99), None);
        assert_eq!(walk_blocks(&weights, &[1.0], 0.95), Some(2));
    }

    #[test]
    fn temperatures_too_small_to_invert_are_greedy() {
        let mut logits = vec![0.0f32; 300];
        logits[123] = 3.0;
        logits[7] = 2.9;
        for t in [1e-39f32, f32::MIN_POSITIVE / 4.0] {
            for step in 0..20 {
                let s = sample(&logits, &params(t, 1.0, None), key(step));
                assert_eq!(s.token, 123, "T = {t:e}");
            }
        }
    }

    #[test]
    fn fast_exp_is_accurate() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let want = f64::from(x).exp();
            let got = f64::from(exp_f32(x));
            worst = worst.max(((got - want) / want).abs());
            x += 0.0137;
        }
        assert!(worst < 5e-7, "relative error {worst}");
        assert_eq!(exp_f32(0.0), 1.0);
        assert!(exp_f32(-1e4) < 1e-37 && exp_f32(-1e4) >= 0.0);
    }

    #[test]
    fn greedy_takes_the_first_maximum_and_reports_raw_logprobs() {
        let logits = [1.0, 3.0, 3.0, -2.0];
        let s = sample(&logits, &SamplerParams::GREEDY, key(0));
        assert_eq!(s.token, 1);
        let lse = logits.iter().map(|x: &f32| x.exp()).sum::<f32>().ln();
        assert!((s.logprob - (3.0 - lse)).abs() < 1e-6);
        // top_k = 1 is greedy too, whatever the temperature.
        assert_eq!(sample(&logits, &params(5.0, 1.0, Some(1)), key(3)).token, 1);
    }

    #[test]
    fn logprobs_ignore_temperature() {
        let logits = [0.5, 0.1, -0.3];
        for step in 0..20 {
            let s = sample(&logits, &params(2.0, 1.0, None), key(step));
            let lse = logits.iter().map(|x: &f32| x.exp()).sum::<f32>().ln();
            assert!((s.logprob - (logits[s.token as usize] - lse)).abs() < 1e-6);
        }
    }

    #[test]
    fn frequencies_follow_the_tempered_distribution() {
        let logits = [0.0f32, 1.0, 2.0];
        for t in [0.5f32, 1.0, 2.0] {
            let mut counts = [0usize; 3];
            let n = 20_000;
            for step in 0..n {
                counts[sample(&logits, &params(t, 1.0, None), key(step)).token as usize] += 1;
            }
            let z: f32 = logits.iter().map(|x| (x / t).exp()).sum();
            for i in 0..3 {
                let want = (logits[i] / t).exp() / z;
                let got = counts[i] as f32 / n as f32;
                assert!(
                    (got - want).abs() < 0.015,
                    "T={t} token {i}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn top_k_keeps_every_tie_of_the_kth_largest_logit() {
        let logits = [1.0f32, 3.0, 2.0, 2.0, 0.0];
        let drawn: std::collections::HashSet<u32> = (0..400)
            .map(|s| sample(&logits, &params(3.0, 1.0, Some(2)), key(s)).token)
            .collect();
        assert_eq!(drawn, [1, 2, 3].into_iter().collect());
    }

    #[test]
    fn the_top_p_threshold_is_the_largest_logit_whose_tokens_hold_the_mass() {
        let mut rng = crate::rng::SplitMix64::new(5);
        for case in 0..200 {
            // Few distinct values, so ties at the threshold are common.
            let logits: Vec<f32> = (0..300)
                .map(|_| (rng.next_symmetric() * 8.0).round() / 2.0)
                .collect();
            let p = [0.1f32, 0.5, 0.9, 0.95, 0.999][case % 5];
            let k = [None, Some(5), Some(40)][case % 3];
            let t = [0.3f32, 1.0, 1.7][case % 3];
            let max = max_of(&logits);
            let weights: Vec<f32> = logits.iter().map(|x| exp_f32((x - max) / t)).collect();
            let got = threshold(&logits, &weights, &params(t, p, k)).unwrap();
            // Brute force from the definition.
            let mut values = logits.clone();
            values.sort_by(|a, b| b.total_cmp(a));
            values.dedup();
            let kth = k.map_or(f32::NEG_INFINITY, |k| {
                *values
                    .iter()
                    .find(|&&v| logits.iter().filter(|&&x| x >= v).count() >= k)
                    .unwrap()
            });
            let mass = |v: f32| -> f64 {
                logits
                    .iter()
                    .zip(&weights)
                    .filter(|(&x, _)| x >= v && x >= kth)
                    .map(|(_, &w)| f64::from(w))
                    .sum()
            };
            let target = f64::from(p) * mass(kth);
            let want = values
                .iter()
                .copied()
                .find(|&v| v >= kth && mass(v) >= target)
                .unwrap();
            assert_eq!(got, want, "case {case}: p {p}, k {k:?}");
        }
    }

    #[test]
    fn filtered_draws_follow_the_renormalised_distribution() {
        // Probabilities at T = 1: 0.644, 0.237, 0.087, 0.032; top-p 0.85 keeps the first two.
        let logits = [0.0f32, 1.0, 2.0, 3.0];
        let n = 20_000;
        let mut counts = [0usize; 4];
        for step in 0..n {
            counts[sample(&logits, &params(1.0, 0.85, None), key(step)).token as usize] += 1;
        }
        assert_eq!(counts[0] + counts[1], 0, "{counts:?}");
        let want = 1.0 / (1.0 + (-1.0f64).exp());
        let got = counts[3] as f64 / n as f64;
        assert!((got - want).abs() < 0.015, "{got} vs {want}");
    }

    #[test]
    fn top_k_and_top_p_restrict_the_candidates() {
        let logits = [3.0f32, 2.9, 0.0, -1.0, 2.8];
        for step in 0..500 {
            let t = sample(&logits, &params(1.0, 1.0, Some(2)), key(step)).token;
            assert!(t == 0 || t == 1, "top-k 2 gave {t}");
            // Probabilities ≈ 0.35, 0.32, 0.29, …: top_p 0.5 keeps the first two.
            let t = sample(&logits, &params(1.0, 0.5, None), key(step)).token;
            assert!(t == 0 || t == 1, "top-p 0.5 gave {t}");
            // A tiny top_p keeps only the most likely token.
            assert_eq!(
                sample(&logits, &params(1.0, 1e-6, None), key(step)).token,
                0
            );
        }
        // Both kinds of token are drawn.
        let drawn: std::collections::HashSet<u32> = (0..200)
            .map(|s| sample(&logits, &params(1.0, 1.0, Some(2)), key(s)).token)
            .collect();
        assert_eq!(drawn.len(), 2);
    }

    #[test]
    fn rows_are_sampled_independently_of_each_other() {
        let vocab = 50;
        let rows: Vec<f32> = (0..4 * vocab)
            .map(|i| ((i * 7919) % 97) as f32 / 10.0)
            .collect();
        let p = vec![params(1.0, 1.0, None); 4];
        let keys: Vec<DrawKey> = (0..4).map(|i| DrawKey { index: i, ..key(9) }).collect();
        let all = sample_rows(&rows, vocab, &p, &keys);
        for i in 0..4 {
            let alone = sample(&rows[i * vocab..(i + 1) * vocab], &p[i], keys[i]);
            assert_eq!(all[i], alone);
        }
    }

    #[test]
    fn logits_that_are_not_finite_give_a_log_probability_that_is_not() {
        let finite: Vec<f32> = (0..100).map(|i| (i % 13) as f32 / 4.0).collect();
        let with = |i: usize, x: f32| {
            let mut l = finite.clone();
            l[i] = x;
            l
        };
        let cases = [
            ("one NaN in the tail", with(99, f32::NAN)),
            ("one NaN in a lane", with(5, f32::NAN)),
            ("an infinite maximum", with(40, f32::INFINITY)),
            ("all NaN", vec![f32::NAN; 100]),
        ];
        for (what, logits) in &cases {
            for p in [
                params(0.0, 1.0, None),
                params(0.8, 1.0, None),
                params(0.8, 0.9, Some(10)),
            ] {
                let s = sample(logits, &p, key(3));
                assert!(!s.logprob.is_finite(), "{what} at {p:?}: {s:?}");
            }
        }
        // Negative infinity is an impossible token, not an error.
        let masked = with(40, f32::NEG_INFINITY);
        for step in 0..50 {
            let s = sample(&masked, &params(1.0, 1.0, None), key(step));
            assert!(s.logprob.is_finite() && s.token != 40, "{s:?}");
        }
    }
}
