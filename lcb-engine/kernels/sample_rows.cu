// Sampling every decode row where its logits are: the CUDA twin of `sample` in
// `src/sampling/mod.rs` (same algorithm, same draws; sums in another order, so a token can
// differ only where the draw falls within rounding of a boundary between two tokens).
//
//   logits (rows, vocab)  f32, contiguous
//   params (rows, 9)      u32: 1 / temperature (f32 bits; 0 marks a greedy row), top-p (f32
//                         bits; >= 1 keeps every token), top-k (0 or >= vocab: every token),
//                         then the draw key: seed lo, seed hi, stream lo, stream hi, index, step
//   out    (rows, 2)      f32: the token (exact: vocab < 2^24), its log-softmax under the raw logits
//
// One thread block per row. Per row: the maximum (pass 1); for filtered rows the threshold
// below which tokens are dropped, by bisection on the order-preserving integer image of the
// logits (top-k: the k-th largest logit exactly; top-p: the largest logit whose tokens at or
// above it hold the mass p), one pass per step, so the vocabulary is never sorted; then the
// tempered weight sum of every CHUNK-token chunk (one warp per chunk) with the raw sum for
// the log-probability; then the inverse-CDF walk with one Philox uniform: chunk by chunk to
// the one where the cumulative mass passes u * total, then token by token inside it.

#include "common.cuh"

#define THREADS 512
#define WARPS (THREADS / 32)
#define CHUNK 1024      // tokens per chunk: BLOCK in src/sampling/mod.rs
#define MAX_CHUNKS 512  // vocabularies up to 524,288 tokens
#define PARAMS 9        // u32 per row of `params`

// Philox4x32-10, as `philox4x32_10` in src/rng.rs.
__device__ void philox(unsigned c[4], unsigned k0, unsigned k1) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    const unsigned lo0 = 0xD2511F53u * c[0], hi0 = __umulhi(0xD2511F53u, c[0]);
    const unsigned lo1 = 0xCD9E8D57u * c[2], hi1 = __umulhi(0xCD9E8D57u, c[2]);
    const unsigned n0 = hi1 ^ c[1] ^ k0, n2 = hi0 ^ c[3] ^ k1;
    c[0] = n0;
    c[1] = lo1;
    c[2] = n2;
    c[3] = lo0;
  }
}

// `DrawKey::uniform`: 53 random bits as a double in [0, 1).
__device__ double uniform(const unsigned* key) {
  unsigned c[4] = {key[5], key[4], key[2], key[3]};
  philox(c, key[0], key[1]);
  const unsigned long long bits = (((unsigned long long)c[0] << 32) | c[1]) >> 11;
  return (double)bits * (1.0 / 9007199254740992.0);
}

// Monotone map of floats to unsigned integers (NaN aside): a < b iff key(a) < key(b).
__device__ __forceinline__ unsigned order_key(float x) {
  const unsigned b = __float_as_uint(x);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
__device__ __forceinline__ float from_order_key(unsigned k) {
  return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

extern "C" __global__ void __launch_bounds__(THREADS)
    sample_rows(const float* __restrict__ logits, const unsigned* __restrict__ params,
                float* __restrict__ out, int vocab) {
  __shared__ float chunk_sums[MAX_CHUNKS];
  __shared__ float raw_parts[WARPS];
  __shared__ float scratch_f[WARPS];
  __shared__ unsigned scratch_u[WARPS];
  __shared__ float walk_weights[CHUNK];
  __shared__ int walk_chunk;
  __shared__ int walk_token;
  __shared__ double walk_rest;

  const int row = blockIdx.x;
  const float* x = logits + (long long)row * vocab;
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;

  // Pass 1: maximum and minimum (NaN ignored), whether there is a NaN, first maximum.
  float top = -INFINITY, bottom = INFINITY;
  unsigned nan = 0;
  for (int i = tid; i < vocab; i += THREADS) {
    const float v = x[i];
    if (isnan(v)) nan = 1;
    else {
      top = fmaxf(top, v);
      bottom = fminf(bottom, v);
    }
  }
  for (int o = 16; o > 0; o /= 2) {
    top = fmaxf(top, __shfl_xor_sync(0xffffffffu, top, o));
    bottom = fminf(bottom, __shfl_xor_sync(0xffffffffu, bottom, o));
  }
  __shared__ float tops[WARPS], bottoms[WARPS];
  if (lane == 0) {
    tops[warp] = top;
    bottoms[warp] = bottom;
  }
  nan = block_sum(nan, scratch_u);  // synchronises: tops and bottoms are written
  const float max = [&] {
    float m = -INFINITY;
    for (int w = 0; w < WARPS; ++w) m = fmaxf(m, tops[w]);
    return m;
  }();
  const float min_logit = [&] {
    float m = INFINITY;
    for (int w = 0; w < WARPS; ++w) m = fminf(m, bottoms[w]);
    return m;
  }();
  // First index holding the maximum (the greedy token, and the fallback of the walk).
  unsigned first = 0xffffffffu;
  for (int i = tid; i < vocab; i += THREADS)
    if (x[i] == max) {
      first = i;
      break;
    }
  for (int o = 16; o > 0; o /= 2) first = min(first, __shfl_xor_sync(0xffffffffu, first, o));
  __syncthreads();
  if (lane == 0) scratch_u[warp] = first;
  __syncthreads();
  first = 0xffffffffu;
  for (int w = 0; w < WARPS; ++w) first = min(first, scratch_u[w]);
  if (first >= (unsigned)vocab) first = 0;  // a row of NaN

  const unsigned* p = params + (long long)row * PARAMS;
  const float inv_t = __uint_as_float(p[0]);
  const bool greedy = !(inv_t > 0.f);
  const float top_p = __uint_as_float(p[1]);
  const unsigned top_k = p[2];

  // The threshold: tokens below it are dropped (none when it is -inf).
  float threshold = -INFINITY;
  if (!greedy && top_k > 0 && top_k < (unsigned)vocab) {
    // Largest key K with count(key(x) >= K) >= k: the k-th largest logit.
    unsigned lo = order_key(min_logit), hi = order_key(max);
    unsigned at_max = 0;
    for (int i = tid; i < vocab; i += THREADS) at_max += (x[i] == max);
    if (block_sum(at_max, scratch_u) >= top_k) lo = hi;
    else {
      // Invariant: count(>= lo) >= k, count(>= hi) < k.
      while (hi - lo > 1) {
        const unsigned mid = lo + (hi - lo) / 2;
        unsigned n = 0;
        for (int i = tid; i < vocab; i += THREADS) n += (order_key(x[i]) >= mid);
        if (block_sum(n, scratch_u) >= top_k) lo = mid;
        else hi = mid;
      }
    }
    threshold = from_order_key(lo);
  }
  if (!greedy && top_p < 1.f) {
    // Largest key K >= the top-k threshold with mass(key(x) >= K) >= p * mass(kept by top-k).
    float kept = 0.f;
    for (int i = tid; i < vocab; i += THREADS)
      if (x[i] >= threshold) kept += __expf((x[i] - max) * inv_t);
    const float target = top_p * block_sum(kept, scratch_f);
    unsigned lo = order_key(fmaxf(threshold, min_logit)), hi = order_key(max);
    float at_max = 0.f;
    for (int i = tid; i < vocab; i += THREADS)
      if (x[i] == max) at_max += 1.f;  // weight exp(0) = 1 each
    if (block_sum(at_max, scratch_f) >= target) lo = hi;
    else {
      while (hi - lo > 1) {
        const unsigned mid = lo + (hi - lo) / 2;
        float mass = 0.f;
        for (int i = tid; i < vocab; i += THREADS)
          if (order_key(x[i]) >= mid) mass += __expf((x[i] - max) * inv_t);
        if (block_sum(mass, scratch_f) >= target) lo = mid;
        else hi = mid;
      }
    }
    threshold = fmaxf(threshold, from_order_key(lo));
  }

  // Chunk sums of the kept tempered weights (one warp per chunk) and the raw exp sum.
  const int chunks = (vocab + CHUNK - 1) / CHUNK;
  float raw = 0.f;
  for (int c = warp; c < chunks; c += WARPS) {
    float tempered = 0.f;
    const int end = min(vocab, (c + 1) * CHUNK);
    for (int i = c * CHUNK + lane; i < end; i += 32) {
      const float d = x[i] - max;
      raw += __expf(d);
      if (!greedy && x[i] >= threshold) tempered += __expf(d * inv_t);
    }
    tempered = warp_sum(tempered);
    if (lane == 0) chunk_sums[c] = tempered;
  }
  raw = warp_sum(raw);
  if (lane == 0) raw_parts[warp] = raw;
  __syncthreads();
  double raw_total = 0.0;
  for (int w = 0; w < WARPS; ++w) raw_total += raw_parts[w];

  int token = first;
  if (!greedy) {
    // The chunk where the cumulative mass passes u * total, and the mass left inside it.
    if (tid == 0) {
      double total = 0.0;
      for (int c = 0; c < chunks; ++c) total += chunk_sums[c];
      const double target = uniform(p + 3) * total;
      double cumulative = 0.0;
      int c = 0;
      for (; c + 1 < chunks && cumulative + chunk_sums[c] <= target; ++c)
        cumulative += chunk_sums[c];
      walk_chunk = c;
      walk_rest = target - cumulative;
      walk_token = -1;
    }
    __syncthreads();
    // Token by token from that chunk's start; on past its end (and into the next chunks) when
    // the chunk's warp sum and the walk's sum round apart and the target falls in the gap.
    for (int c = walk_chunk; c < chunks; ++c) {
      const int start = c * CHUNK;
      for (int j = tid; j < CHUNK; j += THREADS) {
        const int i = start + j;
        walk_weights[j] =
            (i < vocab && x[i] >= threshold) ? __expf((x[i] - max) * inv_t) : 0.f;
      }
      __syncthreads();
      if (tid == 0) {
        double cumulative = 0.0;
        for (int j = 0; j < CHUNK; ++j) {
          if (walk_weights[j] > 0.f) {
            cumulative += walk_weights[j];
            if (cumulative > walk_rest) {
              walk_token = start + j;
              break;
            }
          }
        }
        walk_rest -= cumulative;
      }
      __syncthreads();
      if (walk_token >= 0) break;
    }
    // A target past every weight (rounding): the most likely token.
    if (walk_token >= 0) token = walk_token;
  }
  if (tid == 0) {
    out[row * 2] = (float)token;
    out[row * 2 + 1] = nan ? NAN : (float)((double)(x[token] - max) - log(raw_total));
  }
}
