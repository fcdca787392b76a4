//! Fused elementwise operations of a layer: each is one candle op (one kernel on a GPU)
//! where candle's own ops take several, each with a tensor to allocate and a pass over
//! memory. [`silu_mul`] is the MLP's gate, `silu(gate) * up`, read straight out of the fused
//! gate/up projection; [`merge`] joins two attention states over disjoint keys by their
//! log-sum-exps.
//!
//! The CPU twins compute exactly what candle's separate ops computed on the CPU (the same
//! formulas, rounded at the same places), so fusing changes no number there; the CUDA kernels
//! (`kernels/fused.cu`) compute the same formulas with the GPU's `expf`, and the tests compare
//! them with the twins.

use candle_core::backend::BackendStorage;
use candle_core::op::{Silu, UnaryOpT};
use candle_core::{CpuStorage, CustomOp1, CustomOp3, Layout, Shape, Tensor, D};
use rayon::prelude::*;

use crate::error::Result;

/// `silu(gate_up[:, :i]) * gate_up[:, i:]` for `gate_up` `(rows, 2i)`: `(rows, i)`, same dtype.
pub(crate) fn silu_mul(gate_up: &Tensor) -> Result<Tensor> {
    Ok(gate_up.contiguous()?.apply_op1_no_bwd(&SiluMul)?)
}

/// Merges two attention results over disjoint key sets into attention over their union:
/// each is weighted by `exp(lse - max(lse_a, lse_b))` (exact, as FlashInfer's merge of
/// attention states). Outputs `(.., head_dim)` and log-sum-exps `(.., 1)`, all f32.
pub fn merge(out_a: &Tensor, lse_a: &Tensor, out_b: &Tensor, lse_b: &Tensor) -> Result<Tensor> {
    let lses = Tensor::cat(&[lse_a, lse_b], D::Minus1)?;
    Ok(out_a
        .contiguous()?
        .apply_op3_no_bwd(&out_b.contiguous()?, &lses, &MergeStates)?)
}

/// The op of [`silu_mul`].
struct SiluMul;

/// The offsets of a contiguous layout, or an error naming the op.
fn offsets(op: &str, layout: &Layout) -> candle_core::Result<(usize, usize)> {
    layout
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg(format!("{op} needs contiguous inputs")))
}

/// Each row `[gate | up]` of `src` as `silu(gate) * up`, in `T`'s arithmetic.
fn silu_mul_rows<T: Copy + Send + Sync + std::ops::Mul<Output = T>>(
    src: &[T],
    half: usize,
    silu: impl Fn(T) -> T + Sync + Send,
) -> Vec<T> {
    let mut out = Vec::with_capacity(src.len() / 2);
    out.par_extend(src.par_chunks(2 * half).flat_map_iter(|row| {
        let (gate, up) = row.split_at(half);
        gate.iter().zip(up).map(|(&g, &u)| silu(g) * u)
    }));
    out
}

impl CustomOp1 for SiluMul {
    fn name(&self) -> &'static str {
        "silu-mul"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (rows, width) = layout.shape().dims2()?;
        if width % 2 != 0 {
            candle_core::bail!("silu-mul: an odd width {width}");
        }
        let half = width / 2;
        let (start, end) = offsets("silu-mul", layout)?;
        let out = match storage {
            CpuStorage::F32(s) => CpuStorage::F32(silu_mul_rows(&s[start..end], half, Silu::f32)),
            CpuStorage::BF16(s) => {
                CpuStorage::BF16(silu_mul_rows(&s[start..end], half, Silu::bf16))
            }
            CpuStorage::F16(s) => CpuStorage::F16(silu_mul_rows(&s[start..end], half, Silu::f16)),
            other => candle_core::bail!("silu-mul: unsupported dtype {:?}", other.dtype()),
        };
        Ok((out, Shape::from((rows, half))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        storage: &candle_core::CudaStorage,
        layout: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        super::cuda_ops::silu_mul(storage, layout)
    }
}

/// The op of [`merge`]: inputs `out_a`, `out_b` `(.., head_dim)` and `lses` `(.., 2)`.
struct MergeStates;

impl MergeStates {
    /// Rows (every leading dimension) and head_dim, checked.
    fn dims(a: &Layout, b: &Layout, lses: &Layout) -> candle_core::Result<(usize, usize)> {
        let head_dim = *a.shape().dims().last().unwrap_or(&0);
        let rows = a.shape().elem_count() / head_dim.max(1);
        if a.shape() != b.shape() || lses.shape().elem_count() != rows * 2 || head_dim == 0 {
            candle_core::bail!(
                "merge: states {:?} and {:?} with log-sum-exps {:?}",
                a.shape(),
                b.shape(),
                lses.shape()
            );
        }
        Ok((rows, head_dim))
    }
}

impl CustomOp3 for MergeStates {
    fn name(&self) -> &'static str {
        "merge-attention-states"
    }

    fn cpu_fwd(
        &self,
        a: &CpuStorage,
        a_l: &Layout,
        b: &CpuStorage,
        b_l: &Layout,
        lses: &CpuStorage,
        lses_l: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (_, head_dim) = Self::dims(a_l, b_l, lses_l)?;
        let slice = |s: &CpuStorage, l: &Layout| -> candle_core::Result<Vec<f32>> {
            let (start, end) = offsets("merge", l)?;
            Ok(s.as_slice::<f32>()?[start..end].to_vec())
        };
        let (a, b, lses) = (slice(a, a_l)?, slice(b, b_l)?, slice(lses, lses_l)?);
        let mut out = vec![0f32; a.len()];
        out.par_chunks_mut(head_dim)
            .zip(a.par_chunks(head_dim).zip(b.par_chunks(head_dim)))
            .zip(lses.par_chunks(2))
            .for_each(|((o, (a, b)), lse)| {
                // As the separate ops did: maximum, two exps, their sum, weighted sum, divide.
                let max = lse[0].max(lse[1]);
                let (w_a, w_b) = ((lse[0] - max).exp(), (lse[1] - max).exp());
                let total = w_a + w_b;
                for ((o, a), b) in o.iter_mut().zip(a).zip(b) {
                    *o = (a * w_a + b * w_b) / total;
                }
            });
        Ok((CpuStorage::F32(out), a_l.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        a: &candle_core::CudaStorage,
        a_l: &Layout,
        b: &candle_core::CudaStorage,
        b_l: &Layout,
        lses: &candle_core::CudaStorage,
        lses_l: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        let (rows, head_dim) = Self::dims(a_l, b_l, lses_l)?;
        super::cuda_ops::merge_states(a, a_l, b, b_l, lses, lses_l, rows, head_dim)
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Module, Tensor};

    use super::*;

    fn random(shape: &[usize], seed: u64, scale: f32) -> Tensor {
        let mut rng = crate::rng::SplitMix64::new(seed);
        let n = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.next_symmetric() * scale).collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    /// candle's separate ops, as the layer ran them before the fusion.
    fn silu_mul_separate(gate_up: &Tensor) -> Tensor {
        let i = gate_up.dim(1).unwrap() / 2;
        (candle_nn::Activation::Silu
            .forward(&gate_up.narrow(1, 0, i).unwrap())
            .unwrap()
            * gate_up.narrow(1, i, i).unwrap())
        .unwrap()
    }

    fn merge_separate(out_a: &Tensor, lse_a: &Tensor, out_b: &Tensor, lse_b: &Tensor) -> Tensor {
        let max = lse_a.maximum(lse_b).unwrap();
        let w_a = (lse_a - &max).unwrap().exp().unwrap();
        let w_b = (lse_b - &max).unwrap().exp().unwrap();
        let total = (&w_a + &w_b).unwrap();
        let sum =
            (out_a.broadcast_mul(&w_a).unwrap() + out_b.broadcast_mul(&w_b).unwrap()).unwrap();
        sum.broadcast_div(&total).unwrap()
    }

    fn bits(t: &Tensor) -> Vec<u32> {
        t.to_dtype(DType::F32)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
            .iter()
            .map(|x| x.to_bits())
            .collect()
    }

    #[test]
    fn the_fused_ops_give_the_separate_ops_bits_on_the_cpu() {
        let gate_up = random(&[7, 2 * 40], 1, 6.0);
        for dtype in [DType::F32, DType::BF16, DType::F16] {
            let x = gate_up.to_dtype(dtype).unwrap();
            let fused = silu_mul(&x).unwrap();
            assert_eq!(fused.dims(), &[7, 40]);
            assert_eq!(fused.dtype(), dtype);
            assert_eq!(bits(&fused), bits(&silu_mul_separate(&x)), "{dtype:?}");
        }
        let (a, b) = (
            random(&[5, 2, 3, 16], 2, 1.0),
            random(&[5, 2, 3, 16], 3, 1.0),
        );
        let (la, lb) = (
            random(&[5, 2, 3, 1], 4, 30.0),
            random(&[5, 2, 3, 1], 5, 30.0),
        );
        let fused = merge(&a, &la, &b, &lb).unwrap();
        assert_eq!(bits(&fused), bits(&merge_separate(&a, &la, &b, &lb)));
        // Strided inputs (the suffix kernel's views) are taken too.
        let packed = Tensor::cat(&[&b, &lb], 3).unwrap();
        let (bv, lbv) = (
            packed.narrow(3, 0, 16).unwrap(),
            packed.narrow(3, 16, 1).unwrap(),
        );
        assert_eq!(bits(&merge(&a, &la, &bv, &lbv).unwrap()), bits(&fused));
    }

    /// The CUDA kernels against their CPU twins. Skips (with a message) where no GPU is
    /// present, as on CI.
    #[cfg(feature = "cuda")]
    #[test]
    fn cuda_fused_kernels_match_their_cpu_twins() {
        let gpu = match Device::new_cuda(0) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("no CUDA device ({e}); skipping the GPU side");
                return;
            }
        };
        let max_diff = |a: &Tensor, b: &Tensor| -> f32 {
            let a = a
                .to_device(&Device::Cpu)
                .unwrap()
                .to_dtype(DType::F32)
                .unwrap();
            let b = b.to_dtype(DType::F32).unwrap();
            (a - b)
                .unwrap()
                .abs()
                .unwrap()
                .flatten_all()
                .unwrap()
                .max(0)
                .unwrap()
                .to_scalar()
                .unwrap()
        };
        let gate_up = random(&[33, 2 * 3072], 6, 6.0);
        for (dtype, tolerance) in [(DType::F32, 1e-5), (DType::BF16, 0.05), (DType::F16, 0.01)] {
            let x = gate_up.to_dtype(dtype).unwrap();
            let want = silu_mul(&x).unwrap();
            let got = silu_mul(&x.to_device(&gpu).unwrap()).unwrap();
            assert!(max_diff(&got, &want) <= tolerance, "silu-mul {dtype:?}");
        }
        let (a, b) = (
            random(&[65, 8, 2, 128], 7, 1.0),
            random(&[65, 8, 2, 128], 8, 1.0),
        );
        let (la, lb) = (
            random(&[65, 8, 2, 1], 9, 30.0),
            random(&[65, 8, 2, 1], 10, 30.0),
        );
        let want = merge(&a, &la, &b, &lb).unwrap();
        let on = |t: &Tensor| t.to_device(&gpu).unwrap();
        let got = merge(&on(&a), &on(&la), &on(&b), &on(&lb)).unwrap();
        assert!(max_diff(&got, &want) <= 1e-5, "merge");
    }
}
