// Per-sample suffix attention over ragged lengths in a paged cache, with grouped-query
// attention handled natively, and its log-sum-exp: the CUDA twin of
// `SuffixAttention::cpu_fwd` in `src/model/attention.rs` (same inputs, same output layout).
//
//   q      (rows, kv_heads, group, head_dim)       f32, contiguous, scaled by 1/sqrt(d)
//   k, v   (blocks, kv_heads, BLOCK, head_dim)     T, contiguous: the block pool
//   lens   (rows)                                  u32: valid positions of each row
//   tables (rows, width)                           u32: each row's blocks, in order
//   out    (rows, kv_heads, group, head_dim+1)     f32: output, then log-sum-exp
//
// One warp per query row (row, kv head, group member): the `group` query heads of a key/value
// head read the same keys and values (no repeated K/V). Lanes split head_dim; the softmax is
// computed online (running max and sum) in one pass over the slot's keys, in f32.

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>

#define MAX_PER_LANE 8  // head_dim up to 256
#define BLOCK 16        // positions per cache block (BLOCK_TOKENS in src/model/kv.rs)

__device__ __forceinline__ float to_f32(float x) { return x; }
__device__ __forceinline__ float to_f32(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_f32(__half x) { return __half2float(x); }

template <typename T>
__device__ void suffix_attention(const float* __restrict__ q, const T* __restrict__ k,
                                 const T* __restrict__ v, const unsigned int* __restrict__ lens,
                                 const unsigned int* __restrict__ tables,
                                 float* __restrict__ out, int rows, int kv_heads, int group,
                                 int head_dim, int width) {
  const long long warp = ((long long)blockIdx.x * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  const long long total = (long long)rows * kv_heads * group;
  if (warp >= total) return;
  const int head = (int)((warp / group) % kv_heads);
  const int row = (int)(warp / ((long long)group * kv_heads));
  int len = (int)lens[row];
  len = len < 1 ? 1 : (len > width * BLOCK ? width * BLOCK : len);
  const unsigned int* table = tables + (long long)row * width;
  const int per_lane = (head_dim + 31) / 32;

  const float* query = q + warp * head_dim;
  float qv[MAX_PER_LANE];
  float acc[MAX_PER_LANE];
#pragma unroll
  for (int i = 0; i < MAX_PER_LANE; ++i) {
    const int d = lane + 32 * i;
    qv[i] = (i < per_lane && d < head_dim) ? query[d] : 0.f;
    acc[i] = 0.f;
  }
  float running_max = -INFINITY;
  float sum = 0.f;
  for (int j = 0; j < len; ++j) {
    // Position j: offset j % BLOCK of block table[j / BLOCK], this head.
    const long long at =
        (((long long)table[j / BLOCK] * kv_heads + head) * BLOCK + j % BLOCK) * head_dim;
    const T* key = k + at;
    float dot = 0.f;
#pragma unroll
    for (int i = 0; i < MAX_PER_LANE; ++i) {
      const int d = lane + 32 * i;
      if (i < per_lane && d < head_dim) dot += qv[i] * to_f32(key[d]);
    }
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) dot += __shfl_xor_sync(0xffffffff, dot, offset);
    const float new_max = fmaxf(running_max, dot);
    const float rescale = expf(running_max - new_max);  // 0 on the first key
    const float p = expf(dot - new_max);
    sum = sum * rescale + p;
    const T* value = v + at;
#pragma unroll
    for (int i = 0; i < MAX_PER_LANE; ++i) {
      const int d = lane + 32 * i;
      if (i < per_lane && d < head_dim) acc[i] = acc[i] * rescale + p * to_f32(value[d]);
    }
    running_max = new_max;
  }
  float* o = out + warp * (head_dim + 1);
  const float inv = 1.f / sum;
#pragma unroll
  for (int i = 0; i < MAX_PER_LANE; ++i) {
    const int d = lane + 32 * i;
    if (i < per_lane && d < head_dim) o[d] = acc[i] * inv;
  }
  if (lane == 0) o[head_dim] = running_max + logf(sum);
}

#define SUFFIX_ATTENTION(NAME, T)                                                          \
  extern "C" __global__ void NAME(const float* q, const T* k, const T* v,                  \
                                  const unsigned int* lens, const unsigned int* tables,    \
                                  float* out, int rows, int kv_heads, int group,           \
                                  int head_dim, int width) {                               \
    suffix_attention<T>(q, k, v, lens, tables, out, rows, kv_heads, group, head_dim, width); \
  }

SUFFIX_ATTENTION(suffix_attention_f32, float)
SUFFIX_ATTENTION(suffix_attention_bf16, __nv_bfloat16)
SUFFIX_ATTENTION(suffix_attention_f16, __half)
