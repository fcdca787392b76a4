//! Sampling a step's rows where the logits are, as one candle op: on the CPU it runs
//! [`super::sample_rows`] over the tensor's storage in place; on a GPU, `kernels/sample_rows.cu`
//! (the same algorithm, one thread block per row), so only a token and its log-probability
//! per row cross to the host instead of the whole `rows × vocab` logits.

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};

use super::{sample_rows, Sampled, SamplerParams};
use crate::error::{Error, Result};
use crate::op_inputs::cpu_slice;
use crate::rng::DrawKey;

/// Tokens travel as f32 (the op has one output): exact below 2²⁴.
const MAX_VOCAB: usize = 1 << 24;

/// The op: each row of a `(rows, vocab)` f32 tensor sampled with its parameters and draw
/// key; the output is `(rows, 2)` f32: the token, then its log-probability.
struct SampleRows<'a> {
    params: &'a [SamplerParams],
    keys: &'a [DrawKey],
}

impl SampleRows<'_> {
    fn rows_and_vocab(&self, layout: &Layout) -> candle_core::Result<(usize, usize)> {
        let (rows, vocab) = layout.shape().dims2()?;
        if rows != self.params.len() || rows != self.keys.len() {
            candle_core::bail!(
                "sampling {rows} rows with {} parameters and {} draw keys",
                self.params.len(),
                self.keys.len()
            );
        }
        if vocab == 0 || vocab >= MAX_VOCAB {
            candle_core::bail!("sampling: a vocabulary of {vocab} tokens (below {MAX_VOCAB})");
        }
        Ok((rows, vocab))
    }
}

impl CustomOp1 for SampleRows<'_> {
    fn name(&self) -> &'static str {
        "sample-rows"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (rows, vocab) = self.rows_and_vocab(layout)?;
        let logits = cpu_slice::<f32>("sampling", storage, layout)?;
        let out = sample_rows(logits, vocab, self.params, self.keys)
            .into_iter()
            .flat_map(|s| [s.token as f32, s.logprob])
            .collect();
        Ok((CpuStorage::F32(out), Shape::from((rows, 2))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        storage: &candle_core::CudaStorage,
        layout: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        use candle_core::backend::BackendStorage;
        use candle_core::cuda_backend::cudarc::driver::{LaunchConfig, PushKernelArg};
        use candle_core::cuda_backend::WrapErr;

        use crate::op_inputs::contiguous_range;

        /// PTX of `kernels/sample_rows.cu`.
        const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/sample_rows.ptx"));
        /// The kernel's THREADS, CHUNK and MAX_CHUNKS.
        const THREADS: u32 = 512;
        const MAX_KERNEL_VOCAB: usize = 512 * 1024;

        let (rows, vocab) = self.rows_and_vocab(layout)?;
        if vocab > MAX_KERNEL_VOCAB {
            candle_core::bail!("the sampling kernel takes vocabularies up to {MAX_KERNEL_VOCAB}");
        }
        let range = contiguous_range("sampling", layout)?;
        let dev = storage.device().clone();
        // One upload per step: nine u32 per row (see the kernel's header).
        let params: Vec<u32> = self
            .params
            .iter()
            .zip(self.keys)
            .flat_map(|(p, k)| {
                let inv_t = if p.is_greedy() {
                    0.0
                } else {
                    1.0 / p.temperature
                };
                let top_k = p.top_k.map_or(0, |k| u32::try_from(k).unwrap_or(u32::MAX));
                [
                    inv_t.to_bits(),
                    p.top_p.to_bits(),
                    top_k,
                    k.seed as u32,
                    (k.seed >> 32) as u32,
                    k.stream as u32,
                    (k.stream >> 32) as u32,
                    k.index as u32,
                    k.step as u32,
                ]
            })
            .collect();
        let params = dev.clone_htod(&params)?;
        // SAFETY: block `r` writes `out[2r..2r + 2]`, for every row.
        let out = unsafe { crate::op_inputs::kernel_output::<f32>(&dev, rows * 2) }?;
        let logits = storage.as_cuda_slice::<f32>()?.slice(range);
        let func = dev.get_or_load_custom_func("sample_rows", "lcb_sample_rows", PTX)?;
        let mut b = func.builder();
        b.arg(&logits);
        b.arg(&params);
        b.arg(&out);
        let vocab_arg = vocab as i32;
        b.arg(&vocab_arg);
        let cfg = LaunchConfig {
            grid_dim: (rows as u32, 1, 1),
            block_dim: (THREADS, 1, 1),
            shared_mem_bytes: 0,
        };
        // SAFETY: block `r` reads row `r` of the `rows * vocab` logits and nine parameters,
        // and writes `out[2r..2r+2]`; the chunk sums fit its shared memory (vocab checked).
        unsafe { b.launch(cfg) }.w()?;
        Ok((
            candle_core::CudaStorage::wrap_cuda_slice(out, dev),
            Shape::from((rows, 2)),
        ))
    }
}

/// Samples every row of `logits` `(rows, vocab)` where the tensor lives (row `i` with
/// `params[i]` and `keys[i]`) and brings back only the tokens and their log-probabilities.
pub fn sample_tensor_rows(
    logits: &Tensor,
    params: &[SamplerParams],
    keys: &[DrawKey],
) -> Result<Vec<Sampled>> {
    if logits.dim(0)? == 0 {
        return Ok(Vec::new());
    }
    let logits = logits.to_dtype(candle_core::DType::F32)?.contiguous()?;
    let out = logits.apply_op1_no_bwd(&SampleRows { params, keys })?;
    let pairs = out.to_vec2::<f32>()?;
    pairs
        .into_iter()
        .map(|pair| match pair[..] {
            [token, logprob] => Ok(Sampled {
                token: token as u32,
                logprob,
            }),
            _ => Err(Error::Invalid(
                "the sampling op returned a malformed row".into(),
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;

    /// Rows in the shape of a real step: Qwen3's vocabulary, logits spread like a model's
    /// (a few likely tokens over a long tail), every kind of sampling parameter.
    fn step_inputs(rows: usize, vocab: usize) -> (Vec<f32>, Vec<SamplerParams>, Vec<DrawKey>) {
        let mut rng = crate::rng::SplitMix64::new(17);
        let mut logits = Vec::with_capacity(rows * vocab);
        for r in 0..rows {
            let peak = 4.0 + (r % 7) as f32 * 3.0;
            for i in 0..vocab {
                let tail = rng.next_symmetric() * 6.0 - 4.0;
                let likely = if (i * 7919 + r * 31) % 997 == 0 {
                    peak * rng.next_symmetric().abs()
                } else {
                    0.0
                };
                logits.push(tail + likely);
            }
        }
        let kinds = [
            (0.0, 1.0, None),
            (0.2, 1.0, None),
            (1.0, 1.0, None),
            (1.5, 1.0, None),
            (0.8, 0.95, None),
            (1.0, 0.5, None),
            (0.7, 1.0, Some(20)),
            (1.2, 0.9, Some(50)),
            (1.0, 1.0, Some(1)),
        ];
        let params = (0..rows)
            .map(|r| {
                let (temperature, top_p, top_k) = kinds[r % kinds.len()];
                SamplerParams {
                    temperature,
                    top_p,
                    top_k,
                }
            })
            .collect();
        let keys = (0..rows)
            .map(|r| DrawKey {
                seed: 1234,
                stream: (r % 3) as u64 + (1 << 33),
                index: r as u64,
                step: (r * 13) as u64,
            })
            .collect();
        (logits, params, keys)
    }

    #[test]
    fn the_op_on_the_cpu_is_the_host_sampler() {
        let (rows, vocab) = (18, 3000);
        let (logits, params, keys) = step_inputs(rows, vocab);
        let want = sample_rows(&logits, vocab, &params, &keys);
        let tensor = Tensor::from_vec(logits, (rows, vocab), &Device::Cpu).unwrap();
        assert_eq!(sample_tensor_rows(&tensor, &params, &keys).unwrap(), want);
        // A strided view is made contiguous first.
        let wide = Tensor::cat(&[&tensor, &tensor], 1).unwrap();
        let view = wide.narrow(1, vocab, vocab).unwrap();
        assert_eq!(sample_tensor_rows(&view, &params, &keys).unwrap(), want);
        // Mismatched inputs are refused with the counts.
        let err = sample_tensor_rows(&tensor, &params[1..], &keys).unwrap_err();
        assert!(
            err.to_string().contains("18 rows with 17 parameters"),
            "{err}"
        );
    }

    /// The CUDA kernel against the host sampler on rows of Qwen3's vocabulary. Sums are
    /// added in another order, so a token may differ where a draw falls within rounding of a
    /// boundary: allowed for 1 row in 500 (expected: none). Greedy rows must all agree.
    /// Skips (with a message) where no GPU is present, as on CI.
    #[cfg(feature = "cuda")]
    #[test]
    fn cuda_sampling_kernel_matches_its_cpu_twin() {
        let gpu = match Device::new_cuda(0) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("no CUDA device ({e}); skipping the GPU side");
                return;
            }
        };
        let (rows, vocab) = (1000, 151_936);
        let (logits, params, keys) = step_inputs(rows, vocab);
        let want = sample_rows(&logits, vocab, &params, &keys);
        let tensor = Tensor::from_vec(logits, (rows, vocab), &gpu).unwrap();
        let got = sample_tensor_rows(&tensor, &params, &keys).unwrap();
        let mut differ = 0;
        for (r, (g, w)) in got.iter().zip(&want).enumerate() {
            if g.token != w.token {
                assert!(!params[r].is_greedy(), "greedy row {r}: {g:?} vs {w:?}");
                differ += 1;
                eprintln!("row {r} ({:?}): GPU {g:?}, CPU {w:?}", params[r]);
                continue;
            }
            assert!(
                (g.logprob - w.logprob).abs() < 1e-4,
                "row {r}: GPU {g:?}, CPU {w:?}"
            );
        }
        assert!(differ <= rows / 500, "{differ} of {rows} rows differ");
    }
}
