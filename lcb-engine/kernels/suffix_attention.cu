// Per-sample suffix attention over ragged lengths in a paged cache, with grouped-query
// attention handled natively, and its log-sum-exp: the CUDA twin of
// `SuffixAttention::cpu_fwd` in `src/model/attention.rs` (same inputs, same output layout).
//
//   q       (rows, kv_heads, group, head_dim)          f32, contiguous, scaled by 1/sqrt(d)
//   k, v    (blocks, kv_heads, BLOCK, head_dim)        T, contiguous: the block pool
//   lens    (rows)                                     u32: valid positions of each row
//   tables  (rows, width)                              u32: each row's blocks, in order
//   out     (rows, kv_heads, group, splits, head_dim+1) f32: output, then log-sum-exp
//
// One warp per (row, kv head, chunk of up to GROUP_CHUNK query heads of the group, piece of
// the row): each key and value the warp loads serves every query head of its chunk (one chunk
// for Qwen3's groups of 2 and 4). Lanes split head_dim (PER_LANE values each: 4 up to 128
// dims, 8 up to 256); the softmax is computed online (running max and sum per query) in one
// pass over the piece's keys, in f32.
//
// Flash-decoding: a row's positions are cut into pieces of `split_len` (a multiple of BLOCK),
// each its own warp; with `splits` > 1 the pieces' states land side by side and
// `suffix_merge_splits` merges them (twin: `merge_pieces`). With `splits` = 1 the layout is
// the final one and no merge runs.

#include "common.cuh"

#define BLOCK 16        // positions per cache block (BLOCK_TOKENS in src/model/kv.rs)
#define GROUP_CHUNK 4   // query heads per warp


template <typename T, int PER_LANE>
__device__ void suffix_attention(const float* __restrict__ q, const T* __restrict__ k,
                                 const T* __restrict__ v, const unsigned int* __restrict__ lens,
                                 const unsigned int* __restrict__ tables,
                                 float* __restrict__ out, int rows, int kv_heads, int group,
                                 int head_dim, int width, int split_len, int splits) {
  const int chunks = (group + GROUP_CHUNK - 1) / GROUP_CHUNK;
  const long long warp = ((long long)blockIdx.x * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  const long long total = (long long)rows * kv_heads * chunks * splits;
  if (warp >= total) return;
  const int piece = (int)(warp % splits);
  const long long rest = warp / splits;
  const int chunk = (int)(rest % chunks);
  const int head = (int)((rest / chunks) % kv_heads);
  const int row = (int)(rest / ((long long)chunks * kv_heads));
  const int g0 = chunk * GROUP_CHUNK;
  const int count = min(GROUP_CHUNK, group - g0);
  int len = (int)lens[row];
  len = len < 1 ? 1 : (len > width * BLOCK ? width * BLOCK : len);
  // This warp's positions: [start, end) of the row's.
  const int start = piece * split_len;
  if (start >= len) return;  // the row has fewer pieces; the merge does not read this one
  const int end = min(len, start + split_len);
  const unsigned int* table = tables + (long long)row * width;

  // Query g of the chunk: (row, head, g0 + g).
  const long long first_query = ((long long)row * kv_heads + head) * group + g0;
  float qv[GROUP_CHUNK][PER_LANE];
  float acc[GROUP_CHUNK][PER_LANE];
  float running_max[GROUP_CHUNK], sum[GROUP_CHUNK];
#pragma unroll
  for (int g = 0; g < GROUP_CHUNK; ++g) {
    const float* query = q + (first_query + g) * head_dim;
#pragma unroll
    for (int i = 0; i < PER_LANE; ++i) {
      const int d = lane + 32 * i;
      qv[g][i] = (g < count && d < head_dim) ? query[d] : 0.f;
      acc[g][i] = 0.f;
    }
    running_max[g] = -INFINITY;
    sum[g] = 0.f;
  }
  for (int j = start; j < end; ++j) {
    // Position j: offset j % BLOCK of block table[j / BLOCK], this head.
    const long long at =
        (((long long)table[j / BLOCK] * kv_heads + head) * BLOCK + j % BLOCK) * head_dim;
    float key[PER_LANE], value[PER_LANE];
#pragma unroll
    for (int i = 0; i < PER_LANE; ++i) {
      const int d = lane + 32 * i;
      key[i] = d < head_dim ? to_f32(k[at + d]) : 0.f;
      value[i] = d < head_dim ? to_f32(v[at + d]) : 0.f;
    }
#pragma unroll
    for (int g = 0; g < GROUP_CHUNK; ++g) {
      if (g >= count) break;
      float dot = 0.f;
#pragma unroll
      for (int i = 0; i < PER_LANE; ++i) dot += qv[g][i] * key[i];
      dot = warp_sum(dot);
      const float new_max = fmaxf(running_max[g], dot);
      const float rescale = expf(running_max[g] - new_max);  // 0 on the first key
      const float p = expf(dot - new_max);
      sum[g] = sum[g] * rescale + p;
#pragma unroll
      for (int i = 0; i < PER_LANE; ++i) acc[g][i] = acc[g][i] * rescale + p * value[i];
      running_max[g] = new_max;
    }
  }
#pragma unroll
  for (int g = 0; g < GROUP_CHUNK; ++g) {
    if (g >= count) break;
    float* o = out + ((first_query + g) * splits + piece) * (head_dim + 1);
    const float inv = 1.f / sum[g];
#pragma unroll
    for (int i = 0; i < PER_LANE; ++i) {
      const int d = lane + 32 * i;
      if (d < head_dim) o[d] = acc[g][i] * inv;
    }
    if (lane == 0) o[head_dim] = running_max[g] + logf(sum[g]);
  }
}

#define SUFFIX_ATTENTION(NAME, T, PER_LANE)                                                \
  extern "C" __global__ void NAME(const float* q, const T* k, const T* v,                   \
                                  const unsigned int* lens, const unsigned int* tables,     \
                                  float* out, int rows, int kv_heads, int group,            \
                                  int head_dim, int width, int split_len, int splits) {     \
    suffix_attention<T, PER_LANE>(q, k, v, lens, tables, out, rows, kv_heads, group,        \
                                  head_dim, width, split_len, splits);                      \
  }

// Up to 128 dims (4 per lane) and up to 256 (8 per lane).
SUFFIX_ATTENTION(suffix_attention_f32_d128, float, 4)
SUFFIX_ATTENTION(suffix_attention_bf16_d128, __nv_bfloat16, 4)
SUFFIX_ATTENTION(suffix_attention_f16_d128, __half, 4)
SUFFIX_ATTENTION(suffix_attention_f32_d256, float, 8)
SUFFIX_ATTENTION(suffix_attention_bf16_d256, __nv_bfloat16, 8)
SUFFIX_ATTENTION(suffix_attention_f16_d256, __half, 8)

// Merges each query's pieces: `partial` (rows, kv_heads, group, splits, head_dim+1) as the
// kernel above wrote it, into `out` (rows, kv_heads, group, head_dim+1). One warp per query;
// weights exp(lse_s - max) in piece order, lanes over head_dim. Twin: `merge_pieces`.
extern "C" __global__ void suffix_merge_splits(const float* __restrict__ partial,
                                               const unsigned int* __restrict__ lens,
                                               float* __restrict__ out, int rows,
                                               int heads_per_row, int head_dim, int width,
                                               int split_len, int splits) {
  const long long query = ((long long)blockIdx.x * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (query >= (long long)rows * heads_per_row) return;
  const int row = (int)(query / heads_per_row);
  int len = (int)lens[row];
  len = len < 1 ? 1 : (len > width * BLOCK ? width * BLOCK : len);
  const int n = (len + split_len - 1) / split_len;
  const int w = head_dim + 1;
  const float* p = partial + query * splits * w;
  float max = -INFINITY;
  for (int s = 0; s < n; ++s) max = fmaxf(max, p[s * w + head_dim]);
  float sum = 0.f;
  for (int s = 0; s < n; ++s) sum += expf(p[s * w + head_dim] - max);
  const float inv = 1.f / sum;
  float* o = out + query * w;
  for (int d = lane; d < head_dim; d += 32) {
    float acc = 0.f;
    for (int s = 0; s < n; ++s) acc += expf(p[s * w + head_dim] - max) * p[s * w + d];
    o[d] = acc * inv;
  }
  if (lane == 0) o[head_dim] = max + logf(sum);
}
