// Decode rows' attention over their prompt, read once per tile of rows and merged with each
// row's own attention: the CUDA twin of `PromptAttention::cpu_fwd` in
// `src/model/attention.rs` (same inputs, same output).
//
//   q      (rows, kv_heads, group, head_dim)     f32, contiguous, scaled by 1/sqrt(d)
//   k, v   (blocks, kv_heads, BLOCK, head_dim)   T, contiguous: the block pool; a prompt's
//          run of `count` blocks from `first` is laid out (kv_heads, count * BLOCK, head_dim)
//   tiles  (tiles, 3 + TILE_ROWS)                u32: the prompt's first block, run length in
//          blocks, length in positions, then up to TILE_ROWS rows (NO_ROW past the last)
//   own    (rows, kv_heads, group, head_dim + 1) f32: each row's own attention and its
//          log-sum-exp (the suffix kernel's output)
//   out    (rows, kv_heads, group, head_dim)     f32: attention over prompt + own keys
//
// Grid (tiles, kv_heads); 4 warps per block. A block's queries are the `group` query heads of
// one key/value head for each of its rows (QUERIES at most: rows_per_tile * group <= 16),
// four per warp. Each step loads KEYS prompt positions of keys (transposed) and values into
// shared memory once for all of them; lane j scores key j against the warp's four queries,
// the softmax is online (running max and sum per query, no score matrix), and the values are
// accumulated with each lane holding head_dim / 32 dimensions. At the end each query's
// prompt state is merged with its own by their log-sum-exps.

#include "common.cuh"

#define BLOCK 16        // positions per cache block (BLOCK_TOKENS in src/model/kv.rs)
#define KEYS 32         // prompt positions per shared-memory step: one per lane
#define MAX_DIM 128     // head_dim at most (Qwen3: 128)
#define PER_LANE (MAX_DIM / 32)
#define QUERIES 16      // queries per block
#define PER_WARP 4      // queries per warp
#define THREADS 128
#define TILE_ROWS 16    // row slots in a tile entry (rows_per_tile <= TILE_ROWS)
#define NO_ROW 0xffffffffu


template <typename T>
__device__ void prompt_attention(const float* __restrict__ q, const T* __restrict__ k,
                                 const T* __restrict__ v, const unsigned* __restrict__ tiles,
                                 const float* __restrict__ own, float* __restrict__ out,
                                 int kv_heads, int group, int head_dim, int rows_per_tile) {
  __shared__ float keys_t[MAX_DIM][KEYS + 1];  // transposed; +1 against bank conflicts
  __shared__ float values[KEYS][MAX_DIM];
  __shared__ float queries[QUERIES][MAX_DIM];

  const unsigned* tile = tiles + (long long)blockIdx.x * (3 + TILE_ROWS);
  const unsigned first = tile[0], count = tile[1], len = tile[2];
  const int head = blockIdx.y;
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;

  // Query slot s: row slot s / group, query head s % group of this key/value head.
  auto row_of = [&](int s) -> unsigned {
    const int slot = s / group;
    return (s < rows_per_tile * group && slot < TILE_ROWS) ? tile[3 + slot] : NO_ROW;
  };
  auto query_index = [&](int s, unsigned row) -> long long {
    return ((long long)row * kv_heads + head) * group + s % group;
  };
  for (int i = tid; i < QUERIES * MAX_DIM; i += THREADS) {
    const int s = i / MAX_DIM, d = i % MAX_DIM;
    const unsigned row = row_of(s);
    queries[s][d] = (row != NO_ROW && d < head_dim) ? q[query_index(s, row) * head_dim + d] : 0.f;
  }

  // The prompt's (head, position) rows start here, `count * BLOCK` positions per head.
  const long long base = ((long long)first * kv_heads * BLOCK + (long long)head * count * BLOCK);
  float running_max[PER_WARP], sum[PER_WARP], acc[PER_WARP][PER_LANE];
#pragma unroll
  for (int w = 0; w < PER_WARP; ++w) {
    running_max[w] = -INFINITY;
    sum[w] = 0.f;
#pragma unroll
    for (int i = 0; i < PER_LANE; ++i) acc[w][i] = 0.f;
  }
  const int q0 = warp * PER_WARP;
  for (unsigned start = 0; start < len; start += KEYS) {
    __syncthreads();  // the previous step's reads (and the queries' writes) are done
    for (int i = tid; i < KEYS * MAX_DIM; i += THREADS) {
      const int j = i / MAX_DIM, d = i % MAX_DIM;
      const unsigned pos = start + j;
      const bool in = pos < len && d < head_dim;
      const long long at = (base + pos) * head_dim + d;
      keys_t[d][j] = in ? to_f32(k[at]) : 0.f;
      values[j][d] = in ? to_f32(v[at]) : 0.f;
    }
    __syncthreads();
    const bool valid = start + lane < len;
    float score[PER_WARP];
#pragma unroll
    for (int w = 0; w < PER_WARP; ++w) score[w] = 0.f;
    for (int d = 0; d < head_dim; ++d) {
      const float key = keys_t[d][lane];
#pragma unroll
      for (int w = 0; w < PER_WARP; ++w) score[w] += queries[q0 + w][d] * key;
    }
    float p[PER_WARP];
#pragma unroll
    for (int w = 0; w < PER_WARP; ++w) {
      float s = valid ? score[w] : -INFINITY;
      float tile_max = s;
      for (int o = 16; o > 0; o /= 2) tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, o));
      // Lane 0's position is always valid, so the tile's maximum is finite.
      const float new_max = fmaxf(running_max[w], tile_max);
      const float rescale = expf(running_max[w] - new_max);  // 0 on the first step
      p[w] = valid ? expf(s - new_max) : 0.f;
      float tile_sum = p[w];
      tile_sum = warp_sum(tile_sum);
      sum[w] = sum[w] * rescale + tile_sum;
      running_max[w] = new_max;
#pragma unroll
      for (int i = 0; i < PER_LANE; ++i) acc[w][i] *= rescale;
    }
    for (int j = 0; j < KEYS; ++j) {
      float value[PER_LANE];
#pragma unroll
      for (int i = 0; i < PER_LANE; ++i) value[i] = values[j][lane + 32 * i];
#pragma unroll
      for (int w = 0; w < PER_WARP; ++w) {
        const float pj = __shfl_sync(0xffffffffu, p[w], j);
#pragma unroll
        for (int i = 0; i < PER_LANE; ++i) acc[w][i] += pj * value[i];
      }
    }
  }

  // Merge with the row's own state: weights exp(lse - max) of both (as `fused::merge`).
#pragma unroll
  for (int w = 0; w < PER_WARP; ++w) {
    const int s = q0 + w;
    const unsigned row = row_of(s);
    if (row == NO_ROW) continue;
    const long long index = query_index(s, row);
    const float* mine = own + index * (head_dim + 1);
    const float lse_prompt = running_max[w] + logf(sum[w]);
    const float lse_own = mine[head_dim];
    const float max = fmaxf(lse_prompt, lse_own);
    const float w_prompt = expf(lse_prompt - max), w_own = expf(lse_own - max);
    const float total = w_prompt + w_own;
    const float inv = sum[w] > 0.f ? 1.f / sum[w] : 0.f;  // an empty prompt weighs nothing
    float* o = out + index * head_dim;
#pragma unroll
    for (int i = 0; i < PER_LANE; ++i) {
      const int d = lane + 32 * i;
      if (d < head_dim) o[d] = (acc[w][i] * inv * w_prompt + mine[d] * w_own) / total;
    }
  }
}

#define PROMPT_ATTENTION(NAME, T)                                                           \
  extern "C" __global__ void __launch_bounds__(THREADS)                                     \
      NAME(const float* q, const T* k, const T* v, const unsigned* tiles, const float* own,  \
           float* out, int kv_heads, int group, int head_dim, int rows_per_tile) {           \
    prompt_attention<T>(q, k, v, tiles, own, out, kv_heads, group, head_dim, rows_per_tile); \
  }

PROMPT_ATTENTION(prompt_attention_f32, float)
PROMPT_ATTENTION(prompt_attention_bf16, __nv_bfloat16)
PROMPT_ATTENTION(prompt_attention_f16, __half)
