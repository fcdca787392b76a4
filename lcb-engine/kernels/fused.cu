// Fused elementwise operations of a layer: the CUDA twins of `SiluMul` and `MergeStates` in
// `src/model/fused.rs` (same formulas, rounded at the same places; expf is the GPU's).
//
//   silu_mul_T     src (rows, 2 * half) T, contiguous -> out (rows, half) T:
//                  silu(gate) * up, silu rounded to T first (as candle's separate ops)
//   merge_states   a, b (rows, head_dim) f32, lses (rows, 2) f32 -> out (rows, head_dim) f32:
//                  (a * exp(lse_a - max) + b * exp(lse_b - max)) / (sum of both weights)
//
// One thread per output element.

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>

__device__ __forceinline__ float to_f32(float x) { return x; }
__device__ __forceinline__ float to_f32(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_f32(__half x) { return __half2float(x); }
template <typename T> __device__ __forceinline__ T from_f32(float x);
template <> __device__ __forceinline__ float from_f32<float>(float x) { return x; }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float x) {
  return __float2bfloat16(x);
}
template <> __device__ __forceinline__ __half from_f32<__half>(float x) {
  return __float2half(x);
}

template <typename T>
__device__ void silu_mul(const T* __restrict__ src, T* __restrict__ out, long long rows,
                         int half) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= rows * half) return;
  const long long row = i / half;
  const int j = (int)(i % half);
  const T* line = src + row * 2 * half;
  const float g = to_f32(line[j]);
  const float silu = to_f32(from_f32<T>(g / (1.f + expf(-g))));
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
