// What every kernel of lcb's shares: conversions between the pools' and activations' dtypes
// (f32, bf16, f16) and f32, and sums across a warp and across a thread block.

#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>

__device__ __forceinline__ float to_f32(float x) { return x; }
__device__ __forceinline__ float to_f32(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_f32(__half x) { return __half2float(x); }

// Rounds to T as candle's ops do when they store a result.
template <typename T> __device__ __forceinline__ T from_f32(float x);
template <> __device__ __forceinline__ float from_f32<float>(float x) { return x; }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float x) {
  return __float2bfloat16(x);
}
template <> __device__ __forceinline__ __half from_f32<__half>(float x) {
  return __float2half(x);
}

// The sum of `x` over the warp, in every lane.
template <typename T>
__device__ __forceinline__ T warp_sum(T x) {
  for (int o = 16; o > 0; o /= 2) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

// The sum of `x` over the thread block, in every thread (warp sums added in warp order).
// `scratch` is shared memory for one value per warp; every thread of the block must call.
template <typename T>
__device__ T block_sum(T x, T* scratch) {
  x = warp_sum(x);
  __syncthreads();
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = x;
  __syncthreads();
  T total = 0;
  for (int w = 0; w < (int)(blockDim.x / 32); ++w) total += scratch[w];
  return total;
}
