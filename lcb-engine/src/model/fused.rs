//! Fused elementwise operations of a layer: each is one candle op (one kernel on a GPU)
//! where candle's own ops take several, each with a tensor to allocate and a pass over
//! memory. [`qkv_heads`] splits the fused q/k/v projection into heads, normalises the query
//! and key heads (Qwen3's q/k RMSNorm), rotates them (RoPE) and scales the queries;
//! [`silu_mul`] is the MLP's gate, `silu(gate) * up`, read straight out of the fused gate/up
//! projection; [`merge`] joins two attention states over disjoint keys by their
//! log-sum-exps; [`add_rms_norm`] adds a block's output to the residual stream and
//! normalises the sum for the next block.
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
use crate::op_inputs::{contiguous_range, cpu_slice};

/// The shape of a layer's attention heads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Heads {
    pub q_heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    /// The q/k RMSNorm's epsilon.
    pub eps: f32,
    /// The queries' scale, `1/sqrt(head_dim)`.
    pub scale: f64,
}

/// Queries `(n, q_heads, head_dim)` (normalised by `norms[0]`, rotated, scaled), keys
/// `(n, kv_heads, head_dim)` (normalised by `norms[1]`, rotated) and values `(n, kv_heads,
/// head_dim)` from the fused projection `qkv` `(n, (q_heads + 2 kv_heads) * head_dim)`; `cos`
/// and `sin` `(n, 1, head_dim / 2)` hold each row's rotation. All contiguous, in `qkv`'s
/// dtype: one op writes the three one after the other.
pub(crate) fn qkv_heads(
    qkv: &Tensor,
    norms: &Tensor,
    cos: &Tensor,
    sin: &Tensor,
    heads: Heads,
) -> Result<(Tensor, Tensor, Tensor)> {
    let n = qkv.dim(0)?;
    let d = heads.head_dim;
    let op = QkvHeads {
        heads,
        cos: cos.contiguous()?,
        sin: sin.contiguous()?,
    };
    let out = qkv
        .contiguous()?
        .apply_op2_no_bwd(&norms.contiguous()?, &op)?;
    let (q_len, kv_len) = (n * heads.q_heads * d, n * heads.kv_heads * d);
    let q = out.narrow(0, 0, q_len)?.reshape((n, heads.q_heads, d))?;
    let k = out
        .narrow(0, q_len, kv_len)?
        .reshape((n, heads.kv_heads, d))?;
    let v = out
        .narrow(0, q_len + kv_len, kv_len)?
        .reshape((n, heads.kv_heads, d))?;
    Ok((q, k, v))
}

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

/// The op of [`qkv_heads`] on `(qkv, norms)`; the step's rotation rides along.
struct QkvHeads {
    heads: Heads,
    cos: Tensor,
    sin: Tensor,
}

/// A float type the CPU twins compute in, with candle's CPU arithmetic.
trait Float:
    Copy
    + Send
    + Sync
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + candle_core::WithDType
{
}
impl<T> Float for T where
    T: Copy
        + Send
        + Sync
        + std::ops::Add<Output = T>
        + std::ops::Sub<Output = T>
        + std::ops::Mul<Output = T>
        + std::ops::Div<Output = T>
        + candle_core::WithDType
{
}

impl QkvHeads {
    /// The CPU twin: for every row and head, what candle-nn's `rms_norm` (the sum of squares
    /// in f32, `x / m * w` in `T`), `rope` (`x1 cos - x2 sin`, `x1 sin + x2 cos` in `T`) and
    /// the queries' affine scale (`x * s + 0` in `T`) computed, in that order.
    fn cpu<T: Float>(&self, qkv: &[T], norms: &[T], cos: &[T], sin: &[T]) -> Vec<T> {
        let Heads {
            q_heads,
            kv_heads,
            head_dim: d,
            eps,
            scale,
        } = self.heads;
        let all = q_heads + 2 * kv_heads;
        let n = qkv.len() / (all * d);
        let half = d / 2;
        let (scale, zero) = (T::from_f64(scale), T::from_f64(0.0));
        let mut out = vec![zero; qkv.len()];
        // Output order: every row's query heads, then keys, then values.
        let (q_out, rest) = out.split_at_mut(n * q_heads * d);
        let (k_out, v_out) = rest.split_at_mut(n * kv_heads * d);
        let rotate =
            |src: &[T], norm: &[T], row: usize, dst: &mut [T], scaled: bool, normed: &mut [T]| {
                rms_row(src, norm, eps, normed);
                let (c, s) = (&cos[row * half..][..half], &sin[row * half..][..half]);
                for i in 0..half {
                    let (x1, x2) = (normed[i], normed[i + half]);
                    dst[i] = x1 * c[i] - x2 * s[i];
                    dst[i + half] = x1 * s[i] + x2 * c[i];
                }
                if scaled {
                    for x in dst.iter_mut() {
                        *x = *x * scale + zero;
                    }
                }
            };
        let (q_norm, k_norm) = norms.split_at(d);
        q_out
            .par_chunks_mut(q_heads * d)
            .zip(k_out.par_chunks_mut(kv_heads * d))
            .zip(v_out.par_chunks_mut(kv_heads * d))
            .enumerate()
            .for_each(|(row, ((q, k), v))| {
                let src = &qkv[row * all * d..(row + 1) * all * d];
                let mut normed = vec![zero; d];
                for h in 0..q_heads {
                    let (x, y) = (&src[h * d..][..d], &mut q[h * d..][..d]);
                    rotate(x, q_norm, row, y, true, &mut normed);
                }
                for h in 0..kv_heads {
                    let (x, y) = (&src[(q_heads + h) * d..][..d], &mut k[h * d..][..d]);
                    rotate(x, k_norm, row, y, false, &mut normed);
                }
                v.copy_from_slice(&src[(q_heads + kv_heads) * d..]);
            });
        out
    }

    fn check(&self, qkv: &Layout, norms: &Layout) -> candle_core::Result<usize> {
        let Heads {
            q_heads,
            kv_heads,
            head_dim: d,
            ..
        } = self.heads;
        let (n, width) = qkv.shape().dims2()?;
        let rotation = [n, 1, d / 2];
        if width != (q_heads + 2 * kv_heads) * d
            || norms.shape().dims() != [2, d]
            || !d.is_multiple_of(2)
            || self.cos.dims() != rotation
            || self.sin.dims() != rotation
        {
            candle_core::bail!(
                "qkv heads: projection {:?}, norms {:?}, rotation {:?} for {q_heads} + 2 x {kv_heads} heads of {d}",
                qkv.shape(),
                norms.shape(),
                self.cos.dims()
            );
        }
        Ok(n)
    }
}

impl candle_core::CustomOp2 for QkvHeads {
    fn name(&self) -> &'static str {
        "qkv-heads"
    }

    fn cpu_fwd(
        &self,
        qkv: &CpuStorage,
        qkv_l: &Layout,
        norms: &CpuStorage,
        norms_l: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        self.check(qkv_l, norms_l)?;
        let (cos_s, cos_l) = self.cos.storage_and_layout();
        let (sin_s, sin_l) = self.sin.storage_and_layout();
        let (candle_core::Storage::Cpu(cos), candle_core::Storage::Cpu(sin)) = (&*cos_s, &*sin_s)
        else {
            candle_core::bail!("qkv heads: the rotation on another device");
        };
        macro_rules! run {
            ($t:ty, $variant:ident) => {{
                let part = |s, l| cpu_slice::<$t>("qkv heads", s, l);
                let out = self.cpu::<$t>(
                    part(qkv, qkv_l)?,
                    part(norms, norms_l)?,
                    part(cos, cos_l)?,
                    part(sin, sin_l)?,
                );
                CpuStorage::$variant(out)
            }};
        }
        let out = match qkv {
            CpuStorage::F32(_) => run!(f32, F32),
            CpuStorage::BF16(_) => run!(half::bf16, BF16),
            CpuStorage::F16(_) => run!(half::f16, F16),
            other => candle_core::bail!("qkv heads: unsupported dtype {:?}", other.dtype()),
        };
        Ok((out, Shape::from(qkv_l.shape().elem_count())))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        qkv: &candle_core::CudaStorage,
        qkv_l: &Layout,
        norms: &candle_core::CudaStorage,
        norms_l: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        let n = self.check(qkv_l, norms_l)?;
        let (cos_s, cos_l) = self.cos.storage_and_layout();
        let (sin_s, sin_l) = self.sin.storage_and_layout();
        let (candle_core::Storage::Cuda(cos), candle_core::Storage::Cuda(sin)) = (&*cos_s, &*sin_s)
        else {
            candle_core::bail!("qkv heads: the rotation on another device");
        };
        super::cuda_ops::qkv_heads(
            qkv, qkv_l, norms, norms_l, cos, cos_l, sin, sin_l, n, self.heads,
        )
    }
}

/// `x + delta` (the residual stream after a block) and its RMSNorm with `weight` (the next
/// block's input) in one op where candle takes an add and a norm: `(2 * rows, hidden)`, the
/// sums then the normalised rows, in `delta`'s dtype (one narrow, one view, takes the norms).
///
/// `x` is `(rows, hidden)`, or a previous result of this op, whose sums it reads: the
/// residual stream passes from block to block without a view of it being made, so each
/// block's two norms are two tensors, as the add and norm they replace were one each (and
/// `lcb bench --count-ops` sees launches, not views, go down).
pub(crate) fn add_rms_norm(
    x: &Tensor,
    delta: &Tensor,
    weight: &Tensor,
    eps: f32,
) -> Result<Tensor> {
    Ok(x.contiguous()?.apply_op3_no_bwd(
        &delta.contiguous()?,
        &weight.contiguous()?,
        &AddRmsNorm { eps },
    )?)
}

/// RMSNorm of one row as candle-nn's CPU `rms_norm` computes it: the mean of the squares in
/// f32, then `x / m * w` in `T`.
fn rms_row<T: Float>(src: &[T], weight: &[T], eps: f32, dst: &mut [T]) {
    let sum2: f32 = src
        .iter()
        .map(|&v| {
            let v = v.to_f64() as f32;
            v * v
        })
        .sum();
    let m = T::from_f64(f64::from((sum2 / src.len() as f32 + eps).sqrt()));
    for ((x, &s), &w) in dst.iter_mut().zip(src).zip(weight) {
        *x = s / m * w;
    }
}

/// The op of [`add_rms_norm`]: inputs `x`, `delta`, `weight`.
struct AddRmsNorm {
    eps: f32,
}

impl AddRmsNorm {
    /// The CPU twin: candle's `x + delta` (in `T`), then [`rms_row`] of each sum.
    fn cpu<T: Float>(&self, x: &[T], delta: &[T], weight: &[T]) -> Vec<T> {
        let hidden = weight.len();
        let mut out = vec![T::from_f64(0.0); 2 * x.len()];
        let (sums, normed) = out.split_at_mut(x.len());
        sums.par_chunks_mut(hidden)
            .zip(normed.par_chunks_mut(hidden))
            .zip(x.par_chunks(hidden).zip(delta.par_chunks(hidden)))
            .for_each(|((sum, normed), (x, delta))| {
                for ((s, &a), &b) in sum.iter_mut().zip(x).zip(delta) {
                    *s = a + b;
                }
                rms_row(sum, weight, self.eps, normed);
            });
        out
    }

    /// `(rows, hidden)` of matching inputs, and where `x`'s rows lie in its storage: all of
    /// a `(rows, hidden)` `x`, the sums (first half) of a `(2 * rows, hidden)` one.
    fn check(
        &self,
        x: &Layout,
        delta: &Layout,
        weight: &Layout,
    ) -> candle_core::Result<(usize, usize, std::ops::Range<usize>)> {
        let (rows, hidden) = delta.shape().dims2()?;
        let fits = match x.shape().dims() {
            &[r, h] => (r == rows || r == 2 * rows) && h == hidden,
            _ => false,
        };
        if !fits || weight.shape().dims() != [hidden] {
            candle_core::bail!(
                "add-rms-norm: x {:?}, delta {:?}, weight {:?}",
                x.shape(),
                delta.shape(),
                weight.shape()
            );
        }
        let start = contiguous_range("add-rms-norm", x)?.start;
        Ok((rows, hidden, start..start + rows * hidden))
    }
}

impl CustomOp3 for AddRmsNorm {
    fn name(&self) -> &'static str {
        "add-rms-norm"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        x_l: &Layout,
        delta: &CpuStorage,
        delta_l: &Layout,
        weight: &CpuStorage,
        weight_l: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (rows, hidden, x_rows) = self.check(x_l, delta_l, weight_l)?;
        macro_rules! run {
            ($t:ty, $variant:ident) => {{
                let part = |s, l| cpu_slice::<$t>("add-rms-norm", s, l);
                CpuStorage::$variant(self.cpu::<$t>(
                    &x.as_slice::<$t>()?[x_rows.clone()],
                    part(delta, delta_l)?,
                    part(weight, weight_l)?,
                ))
            }};
        }
        let out = match x {
            CpuStorage::F32(_) => run!(f32, F32),
            CpuStorage::BF16(_) => run!(half::bf16, BF16),
            CpuStorage::F16(_) => run!(half::f16, F16),
            other => candle_core::bail!("add-rms-norm: unsupported dtype {:?}", other.dtype()),
        };
        Ok((out, Shape::from((2 * rows, hidden))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        x: &candle_core::CudaStorage,
        x_l: &Layout,
        delta: &candle_core::CudaStorage,
        delta_l: &Layout,
        weight: &candle_core::CudaStorage,
        weight_l: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        let (rows, hidden, x_rows) = self.check(x_l, delta_l, weight_l)?;
        let ranges = [
            x_rows,
            contiguous_range("add-rms-norm", delta_l)?,
            contiguous_range("add-rms-norm", weight_l)?,
        ];
        super::cuda_ops::add_rms_norm([x, delta, weight], ranges, rows, hidden, self.eps)
    }
}

/// The op of [`silu_mul`].
struct SiluMul;

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
        let range = contiguous_range("silu-mul", layout)?;
        let out = match storage {
            CpuStorage::F32(s) => CpuStorage::F32(silu_mul_rows(&s[range], half, Silu::f32)),
            CpuStorage::BF16(s) => CpuStorage::BF16(silu_mul_rows(&s[range], half, Silu::bf16)),
            CpuStorage::F16(s) => CpuStorage::F16(silu_mul_rows(&s[range], half, Silu::f16)),
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

/// One query's merge of states `a` and `b` (log-sum-exps `lse_a`, `lse_b`) into `out`, as
/// the separate ops computed it: maximum, two exps, their sum, weighted sum, divide. The CPU
/// twins of the merging kernels all merge through this.
pub(super) fn merge_state(out: &mut [f32], a: &[f32], lse_a: f32, b: &[f32], lse_b: f32) {
    let max = lse_a.max(lse_b);
    let (w_a, w_b) = ((lse_a - max).exp(), (lse_b - max).exp());
    let total = w_a + w_b;
    for ((o, a), b) in out.iter_mut().zip(a).zip(b) {
        *o = (a * w_a + b * w_b) / total;
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
        let slice = |s, l| cpu_slice::<f32>("merge", s, l);
        let (a, b, lses) = (slice(a, a_l)?, slice(b, b_l)?, slice(lses, lses_l)?);
        let mut out = vec![0f32; a.len()];
        out.par_chunks_mut(head_dim)
            .zip(a.par_chunks(head_dim).zip(b.par_chunks(head_dim)))
            .zip(lses.par_chunks(2))
            .for_each(|((o, (a, b)), lse)| merge_state(o, a, lse[0], b, lse[1]));
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

    /// The separate ops of the layer before the fusion: per-head RMSNorm, RoPE, scale.
    fn qkv_heads_separate(
        qkv: &Tensor,
        norms: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        h: Heads,
    ) -> (Tensor, Tensor, Tensor) {
        let (n, d) = (qkv.dim(0).unwrap(), h.head_dim);
        let heads = |offset: usize, count: usize, norm: usize| {
            let t = qkv
                .narrow(1, offset * d, count * d)
                .unwrap()
                .contiguous()
                .unwrap();
            let w = norms.get(norm).unwrap();
            let t =
                candle_nn::ops::rms_norm(&t.reshape((n * count, d)).unwrap(), &w, h.eps).unwrap();
            candle_nn::rotary_emb::rope(&t.reshape((n, count, 1, d)).unwrap(), cos, sin)
                .unwrap()
                .reshape((n, count, d))
                .unwrap()
        };
        let q = (heads(0, h.q_heads, 0) * h.scale).unwrap();
        let k = heads(h.q_heads, h.kv_heads, 1);
        let v = qkv
            .narrow(1, (h.q_heads + h.kv_heads) * d, h.kv_heads * d)
            .unwrap()
            .reshape((n, h.kv_heads, d))
            .unwrap();
        (q, k, v)
    }

    fn qkv_inputs(n: usize, h: Heads) -> (Tensor, Tensor, Tensor, Tensor) {
        let d = h.head_dim;
        let qkv = random(&[n, (h.q_heads + 2 * h.kv_heads) * d], 11, 4.0);
        let norms = (random(&[2, d], 12, 0.5) + 1.0).unwrap();
        let angles = random(&[n, 1, d / 2], 13, 3.0);
        (qkv, norms, angles.cos().unwrap(), angles.sin().unwrap())
    }

    const HEADS: Heads = Heads {
        q_heads: 4,
        kv_heads: 2,
        head_dim: 64,
        eps: 1e-6,
        // Qwen3's 1/sqrt(128): not exact in bf16 or f16, so rounding it to T matters.
        scale: 0.088_388_347_648_318_44,
    };

    #[test]
    fn the_fused_ops_give_the_separate_ops_bits_on_the_cpu() {
        let (qkv, norms, cos, sin) = qkv_inputs(9, HEADS);
        for dtype in [DType::F32, DType::BF16, DType::F16] {
            let t = |x: &Tensor| x.to_dtype(dtype).unwrap();
            let (q, k, v) = qkv_heads(&t(&qkv), &t(&norms), &t(&cos), &t(&sin), HEADS).unwrap();
            let (wq, wk, wv) = qkv_heads_separate(&t(&qkv), &t(&norms), &t(&cos), &t(&sin), HEADS);
            assert_eq!(q.dims(), &[9, 4, 64]);
            assert_eq!(bits(&q), bits(&wq), "{dtype:?} queries");
            assert_eq!(bits(&k), bits(&wk), "{dtype:?} keys");
            assert_eq!(bits(&v), bits(&wv), "{dtype:?} values");
        }
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
        // Residual add + RMSNorm, over more than 32 rows (candle's norm goes parallel there).
        let (x, delta) = (random(&[40, 96], 14, 3.0), random(&[40, 96], 15, 3.0));
        let weight = (random(&[96], 16, 0.5) + 1.0).unwrap();
        for dtype in [DType::F32, DType::BF16, DType::F16] {
            let t = |x: &Tensor| x.to_dtype(dtype).unwrap();
            let out = add_rms_norm(&t(&x), &t(&delta), &t(&weight), 1e-6).unwrap();
            let want_sum = (t(&x) + t(&delta)).unwrap();
            let want = candle_nn::ops::rms_norm(&want_sum, &t(&weight), 1e-6).unwrap();
            assert_eq!((out.dims(), out.dtype()), (&[80, 96][..], dtype));
            let half = |t: &Tensor, i: usize| t.narrow(0, i * 40, 40).unwrap();
            assert_eq!(bits(&half(&out, 0)), bits(&want_sum), "{dtype:?} sum");
            assert_eq!(bits(&half(&out, 1)), bits(&want), "{dtype:?} norm");
            // A result taken as the next `x` is read by its sums: x + delta + delta.
            let again = add_rms_norm(&out, &t(&delta), &t(&weight), 1e-6).unwrap();
            let want_sum = (&want_sum + t(&delta)).unwrap();
            let want = candle_nn::ops::rms_norm(&want_sum, &t(&weight), 1e-6).unwrap();
            assert_eq!(bits(&half(&again, 0)), bits(&want_sum), "{dtype:?} sum 2");
            assert_eq!(bits(&half(&again, 1)), bits(&want), "{dtype:?} norm 2");
        }
        // Mismatched shapes are refused, naming the op.
        let err = add_rms_norm(&x, &delta.narrow(0, 0, 39).unwrap(), &weight, 1e-6).unwrap_err();
        assert!(err.to_string().contains("add-rms-norm"), "{err}");
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
        // Qwen3's heads, and the fixture model's narrow ones (pairs across lanes).
        let qwen3 = Heads {
            q_heads: 16,
            kv_heads: 8,
            head_dim: 128,
            ..HEADS
        };
        let narrow = Heads {
            head_dim: 32,
            ..HEADS
        };
        for (heads, (dtype, tolerance)) in [qwen3, narrow].into_iter().flat_map(|h| {
            [(DType::F32, 1e-5), (DType::BF16, 0.1), (DType::F16, 0.02)].map(|t| (h, t))
        }) {
            let (qkv, norms, cos, sin) = qkv_inputs(37, heads);
            let t = |x: &Tensor| x.to_dtype(dtype).unwrap();
            let want = qkv_heads(&t(&qkv), &t(&norms), &t(&cos), &t(&sin), heads).unwrap();
            let g = |x: &Tensor| t(x).to_device(&gpu).unwrap();
            let got = qkv_heads(&g(&qkv), &g(&norms), &g(&cos), &g(&sin), heads).unwrap();
            for (name, got, want) in [
                ("q", &got.0, &want.0),
                ("k", &got.1, &want.1),
                ("v", &got.2, &want.2),
            ] {
                assert!(
                    max_diff(got, want) <= tolerance,
                    "qkv heads {dtype:?} d {} {name}",
                    heads.head_dim
                );
            }
        }
        let gate_up = random(&[33, 2 * 3072], 6, 6.0);
        // Relative to the value: where the GPU's expf and the CPU's exp differ in their last
        // f32 bit, a bf16/f16 rounding can flip by one unit (2^-8 / 2^-11 relative), and the
        // product with `up` (up to 6) by one more.
        for (dtype, tolerance) in [
            (DType::F32, 1e-5),
            (DType::BF16, 2f32.powi(-6)),
            (DType::F16, 2f32.powi(-9)),
        ] {
            let x = gate_up.to_dtype(dtype).unwrap();
            let want = silu_mul(&x).unwrap();
            let got = silu_mul(&x.to_device(&gpu).unwrap()).unwrap();
            let scale = (want.to_dtype(DType::F32).unwrap().abs().unwrap() + 1e-2).unwrap();
            let relative = (got
                .to_device(&Device::Cpu)
                .unwrap()
                .to_dtype(DType::F32)
                .unwrap()
                - want.to_dtype(DType::F32).unwrap())
            .unwrap()
            .abs()
            .unwrap()
            .div(&scale)
            .unwrap();
            let worst: f32 = relative
                .flatten_all()
                .unwrap()
                .max(0)
                .unwrap()
                .to_scalar()
                .unwrap();
            assert!(worst <= tolerance, "silu-mul {dtype:?}: {worst} relative");
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
        // Qwen3-0.6B's hidden size (4 steps of 256 threads) and an odd one.
        for hidden in [1024, 1000] {
            let (x, delta) = (
                random(&[70, hidden], 17, 3.0),
                random(&[70, hidden], 18, 3.0),
            );
            let weight = (random(&[hidden], 19, 0.5) + 1.0).unwrap();
            for (dtype, tolerance) in [(DType::F32, 1e-5), (DType::BF16, 0.05), (DType::F16, 0.01)]
            {
                let t = |x: &Tensor| x.to_dtype(dtype).unwrap();
                let g = |x: &Tensor| t(x).to_device(&gpu).unwrap();
                let want = add_rms_norm(&t(&x), &t(&delta), &t(&weight), 1e-6).unwrap();
                let got = add_rms_norm(&g(&x), &g(&delta), &g(&weight), 1e-6).unwrap();
                // Chained: the second reads the first's sums.
                let want2 = add_rms_norm(&want, &t(&x), &t(&weight), 1e-6).unwrap();
                let got2 = add_rms_norm(&got, &g(&x), &g(&weight), 1e-6).unwrap();
                for (name, got, want) in [("", &got, &want), (" chained", &got2, &want2)] {
                    let (got, want) = (got.to_device(&Device::Cpu).unwrap(), want);
                    let what = format!("{dtype:?} {hidden}{name}");
                    // The sums are one rounding of the same f32 sum: equal.
                    let half = |t: &Tensor, i: usize| t.narrow(0, i * 70, 70).unwrap();
                    let (gs, ws) = (half(&got, 0), half(want, 0));
                    assert_eq!(max_diff(&gs, &ws), 0.0, "add {what}");
                    let (gn, wn) = (half(&got, 1), half(want, 1));
                    assert!(max_diff(&gn, &wn) <= tolerance, "rms-norm {what}");
                }
            }
        }
    }
}
