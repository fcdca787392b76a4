//! The layers Qwen3 is built from, candle-nn style: a linear layer stored the way lcb's
//! matmuls need it, RMSNorm (alone or fused with the residual add before it), and the tiled
//! transpose that prepares weights at load time.

use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;

use crate::error::Result;

/// A linear layer's weight `(out, in)` and bias as transformers stores them: what is read
/// from the weights files, fused with its siblings (q/k/v, gate/up) and then
/// [`transposed`](StoredLinear::transposed) into a [`Linear`] once, at load time.
#[derive(Debug, Clone)]
pub(super) struct StoredLinear {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl StoredLinear {
    /// Reads `weight` (and `bias`) under `vb`.
    pub(super) fn load(vb: &VarBuilder, rows: usize, cols: usize, bias: bool) -> Result<Self> {
        Ok(StoredLinear {
            weight: vb.get((rows, cols), "weight")?,
            bias: if bias {
                Some(vb.get(rows, "bias")?)
            } else {
                None
            },
        })
    }

    /// Stacks layers' outputs into one layer (fused q/k/v, gate/up): one matmul instead of
    /// several.
    pub(super) fn fuse(parts: &[StoredLinear]) -> Result<Self> {
        let weights: Vec<&Tensor> = parts.iter().map(|p| &p.weight).collect();
        let bias = if parts.iter().all(|p| p.bias.is_some()) {
            let biases: Vec<&Tensor> = parts.iter().filter_map(|p| p.bias.as_ref()).collect();
            Some(Tensor::cat(&biases, 0)?)
        } else {
            None
        };
        Ok(StoredLinear {
            weight: Tensor::cat(&weights, 0)?,
            bias,
        })
    }

    /// The layer as lcb runs it.
    pub(super) fn transposed(self) -> Result<Linear> {
        Ok(Linear {
            weight_t: transpose(&self.weight)?,
            bias: self.bias,
        })
    }
}

/// A linear layer `y = x Wᵀ (+ b)` over rows of `x`.
///
/// The weight is stored transposed, `(in, out)` contiguous, so candle's CPU matmul never
/// takes gemm's small-matrix "horizontal" kernel (it needs a k-contiguous right-hand side):
/// that kernel rounds differently, and it would make a row's result depend on how many rows
/// share the matmul. The transposed layout is also the faster one for the large output
/// projection (about 1.4× on the CPU for Qwen3-0.6B's).
#[derive(Debug, Clone)]
pub(super) struct Linear {
    /// `Wᵀ`, `(in, out)` contiguous.
    weight_t: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    /// A layer without bias from an already transposed weight (the tied output projection
    /// is the transposed embedding).
    pub(super) fn from_transposed(weight_t: Tensor) -> Self {
        Linear {
            weight_t,
            bias: None,
        }
    }

    /// `x`: `(rows, in)`. A single row is doubled first: candle's CPU matmul uses a
    /// matrix-vector kernel (different rounding) for one row, which would make a sample's
    /// numbers depend on how many others share its step.
    pub(super) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let rows = x.dim(0)?;
        let y = if rows == 1 {
            Tensor::cat(&[x, x], 0)?
                .matmul(&self.weight_t)?
                .narrow(0, 0, 1)?
        } else {
            x.matmul(&self.weight_t)?
        };
        Ok(match &self.bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        })
    }
}

/// RMSNorm with a learned scale.
#[derive(Debug, Clone)]
pub(super) struct RmsNorm {
    weight: Tensor,
    eps: f32,
}

impl RmsNorm {
    pub(super) fn load(vb: VarBuilder, size: usize, eps: f64) -> Result<Self> {
        Ok(RmsNorm {
            weight: vb.get(size, "weight")?,
            eps: eps as f32,
        })
    }

    pub(super) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(candle_nn::ops::rms_norm(
            &x.contiguous()?,
            &self.weight,
            self.eps,
        )?)
    }

    /// The residual stream `x + delta` and its norm, as one op
    /// ([`add_rms_norm`](super::fused::add_rms_norm)): the same numbers as adding and then
    /// calling [`forward`](Self::forward) on the CPU. `x` is `(rows, hidden)` or the stream
    /// an earlier call returned; returns the new stream (to pass on as the next `x`) and the
    /// normalised rows.
    pub(super) fn add_forward(&self, x: &Tensor, delta: &Tensor) -> Result<(Tensor, Tensor)> {
        let packed = super::fused::add_rms_norm(x, delta, &self.weight, self.eps)?;
        let rows = delta.dim(0)?;
        let normed = packed.narrow(0, rows, rows)?;
        Ok((packed, normed))
    }
}

/// The transpose of a matrix, contiguous.
///
/// candle's strided copy moves one element at a time, which for the 2.4 GB of Qwen3-0.6B's
/// f32 weights takes seconds of load time on the CPU; there, f32 matrices are transposed in
/// cache-sized tiles instead.
pub(super) fn transpose(t: &Tensor) -> Result<Tensor> {
    let (rows, cols) = t.dims2()?;
    if !(t.device().is_cpu() && t.dtype() == DType::F32) {
        return Ok(t.t()?.contiguous()?);
    }
    use rayon::prelude::*;
    const TILE: usize = 64;
    let src = t.flatten_all()?.to_vec1::<f32>()?;
    let mut dst = vec![0f32; rows * cols];
    // Each task fills TILE rows of the result (TILE columns of the source).
    dst.par_chunks_mut(TILE * rows)
        .enumerate()
        .for_each(|(block, out)| {
            let c0 = block * TILE;
            let width = out.len() / rows;
            for r0 in (0..rows).step_by(TILE) {
                for r in r0..(r0 + TILE).min(rows) {
                    let line = &src[r * cols + c0..r * cols + c0 + width];
                    for (c, &v) in line.iter().enumerate() {
                        out[c * rows + r] = v;
                    }
                }
            }
        });
    Ok(Tensor::from_vec(dst, (cols, rows), t.device())?)
}
