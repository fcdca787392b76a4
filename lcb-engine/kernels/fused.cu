// Fused elementwise operations of a layer: the CUDA twins of `QkvHeads`, `SiluMul` and
// `MergeStates` in `src/model/fused.rs` (same formulas; expf is the GPU's, and the q/k
// normalisation and rotation round to T once per step where the CPU rounds every product).
//
//   qkv_heads_T    qkv (n, (q_heads + 2 kv_heads) * d) T, norms (2, d) T, cos, sin (n, d/2) T
//                  -> out: queries (n, q_heads, d), then keys (n, kv_heads, d), then values
//                  (n, kv_heads, d), T: q/k heads RMS-normalised (weights norms[0], norms[1]),
//                  rotated (RoPE, halves), queries scaled; one warp per (row, head), each lane
//                  holding rotation pairs (p, p + d/2); d even, up to 512
//   silu_mul_T     src (rows, 2 * half) T, contiguous -> out (rows, half) T:
//                  silu(gate) * up, rounded to T where candle's separate ops round
//   merge_states   a, b (rows, head_dim) f32, lses (rows, 2) f32 -> out (rows, head_dim) f32:
//                  (a * exp(lse_a - max) + b * exp(lse_b - max)) / (sum of both weights)
//   add_rms_norm_T x, delta (rows, hidden) T, weight (hidden) T -> out (2, rows, hidden) T:
//                  s = x + delta (rounded to T), then s / m * weight with m = sqrt(mean(s²)
//                  + eps) rounded to T (as candle-nn's rms_norm); one block per row
//
// One thread per output element, except where said.

#include "common.cuh"

#define PAIRS 8  // rotation pairs per lane: head_dim up to 512


template <typename T>
__device__ void qkv_heads(const T* __restrict__ qkv, const T* __restrict__ norms,
                          const T* __restrict__ cos, const T* __restrict__ sin,
                          T* __restrict__ out, long long n, int q_heads, int kv_heads, int d,
                          float eps, float scale) {
  const int all = q_heads + 2 * kv_heads;
  const long long warp = ((long long)blockIdx.x * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (warp >= n * all) return;
  const long long row = warp / all;
  const int h = (int)(warp % all);
  const int half = d / 2;
  const T* src = qkv + warp * d;
  if (h >= q_heads + kv_heads) {  // a value head: copied
    T* dst = out + n * (q_heads + kv_heads) * d + (row * kv_heads + (h - q_heads - kv_heads)) * d;
    for (int i = lane; i < d; i += 32) dst[i] = src[i];
    return;
  }
  // Lane `lane` holds the rotation pairs (p, p + half) for p = lane, lane + 32, ...
  float x1[PAIRS], x2[PAIRS];
  float sum2 = 0.f;
#pragma unroll
  for (int j = 0; j < PAIRS; ++j) {
    const int p = lane + 32 * j;
    x1[j] = p < half ? to_f32(src[p]) : 0.f;
    x2[j] = p < half ? to_f32(src[p + half]) : 0.f;
    sum2 += x1[j] * x1[j] + x2[j] * x2[j];
  }
  sum2 = warp_sum(sum2);
  const float m = to_f32(from_f32<T>(sqrtf(sum2 / d + eps)));
  const bool query = h < q_heads;
  const T* w = norms + (query ? 0 : d);
  T* dst = query ? out + (row * q_heads + h) * d
                 : out + n * q_heads * d + (row * kv_heads + (h - q_heads)) * d;
  auto normed = [&](float x, int i) {
    return to_f32(from_f32<T>(to_f32(from_f32<T>(x / m)) * to_f32(w[i])));
  };
#pragma unroll
  for (int j = 0; j < PAIRS; ++j) {
    const int p = lane + 32 * j;
    if (p >= half) break;
    const float a = normed(x1[j], p), b = normed(x2[j], p + half);
    const float c = to_f32(cos[row * half + p]), s = to_f32(sin[row * half + p]);
    float y1 = a * c - b * s, y2 = a * s + b * c;
    if (query) {
      // The scale is a T, as candle's affine makes it: 1/sqrt(128) is not exact in bf16.
      const float scale_t = to_f32(from_f32<T>(scale));
      y1 = to_f32(from_f32<T>(y1)) * scale_t;
      y2 = to_f32(from_f32<T>(y2)) * scale_t;
    }
    dst[p] = from_f32<T>(y1);
    dst[p + half] = from_f32<T>(y2);
  }
}

#define QKV_HEADS(NAME, T)                                                                 \
  extern "C" __global__ void NAME(const T* qkv, const T* norms, const T* cos, const T* sin, \
                                  T* out, long long n, int q_heads, int kv_heads, int d,    \
                                  float eps, float scale) {                                 \
    qkv_heads<T>(qkv, norms, cos, sin, out, n, q_heads, kv_heads, d, eps, scale);           \
  }

QKV_HEADS(qkv_heads_f32, float)
QKV_HEADS(qkv_heads_bf16, __nv_bfloat16)
QKV_HEADS(qkv_heads_f16, __half)

template <typename T>
__device__ void silu_mul(const T* __restrict__ src, T* __restrict__ out, long long rows,
                         int half) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= rows * half) return;
  const long long row = i / half;
  const int j = (int)(i % half);
  const T* line = src + row * 2 * half;
  const float g = to_f32(line[j]);
  // candle's Silu in T rounds the exponential, the denominator and the quotient (in f32
  // these roundings do nothing).
  const float e = to_f32(from_f32<T>(expf(-g)));
  const float den = to_f32(from_f32<T>(1.f + e));
  const float silu = to_f32(from_f32<T>(g / den));
  out[i] = from_f32<T>(silu * to_f32(line[half + j]));
}

#define SILU_MUL(NAME, T)                                                                 \
  extern "C" __global__ void NAME(const T* src, T* out, long long rows, int half) {     \
    silu_mul<T>(src, out, rows, half);                                                   \
  }

SILU_MUL(silu_mul_f32, float)
SILU_MUL(silu_mul_bf16, __nv_bfloat16)
SILU_MUL(silu_mul_f16, __half)

extern "C" __global__ void merge_states(const float* __restrict__ a, const float* __restrict__ b,
                                        const float* __restrict__ lses, float* __restrict__ out,
                                        long long rows, int head_dim) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= rows * head_dim) return;
  const long long row = i / head_dim;
  const float la = lses[2 * row], lb = lses[2 * row + 1];
  const float max = fmaxf(la, lb);
  const float wa = expf(la - max), wb = expf(lb - max);
  out[i] = (a[i] * wa + b[i] * wb) / (wa + wb);
}

template <typename T>
__device__ void add_rms_norm(const T* __restrict__ x, const T* __restrict__ delta,
                             const T* __restrict__ weight, T* __restrict__ out, long long rows,
                             int hidden, float eps) {
  __shared__ float scratch[32];
  const long long row = blockIdx.x;
  const T* xr = x + row * hidden;
  const T* dr = delta + row * hidden;
  T* sum = out + row * hidden;
  T* normed = out + (rows + row) * hidden;
  float sum2 = 0.f;
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    const T s = from_f32<T>(to_f32(xr[i]) + to_f32(dr[i]));
    sum[i] = s;
    const float v = to_f32(s);
    sum2 += v * v;
  }
  sum2 = block_sum(sum2, scratch);
  const float m = to_f32(from_f32<T>(sqrtf(sum2 / hidden + eps)));
  // Each thread reads back only the sums it wrote.
  for (int i = threadIdx.x; i < hidden; i += blockDim.x)
    normed[i] = from_f32<T>(to_f32(from_f32<T>(to_f32(sum[i]) / m)) * to_f32(weight[i]));
}

#define ADD_RMS_NORM(NAME, T)                                                                \
  extern "C" __global__ void NAME(const T* x, const T* delta, const T* weight, T* out,       \
                                  long long rows, int hidden, float eps) {                   \
    add_rms_norm<T>(x, delta, weight, out, rows, hidden, eps);                              \
  }

ADD_RMS_NORM(add_rms_norm_f32, float)
ADD_RMS_NORM(add_rms_norm_bf16, __nv_bfloat16)
ADD_RMS_NORM(add_rms_norm_f16, __half)
