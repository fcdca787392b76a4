//! Counting the tensor operations of one decode step, on any device the CPU included.
//!
//! candle numbers every tensor it creates (an op's result, a view, an upload from the host)
//! from one process-wide counter, so the counter's advance across a step is the number of
//! tensors the step created. On a GPU each of them that is not a view is one kernel launch (a
//! concatenation launches one copy per part), and every one, views too, costs host time
//! however small its kernel: at decode's small per-row work that overhead bounds a step, and
//! it is what fusing operations lowers. In-place writes (the cache writes, two per layer)
//! create no tensor and are not in the count.
//!
//! The count is only right when nothing else creates tensors meanwhile: `lcb bench
//! --count-ops` runs it alone, and its test has a test binary to itself.

use candle_core::{DType, Device, Tensor};

use super::step_fixture::{DecodeStepFixture, StepShape};
use crate::config::Qwen3Config;
use crate::error::{Error, Result};
use crate::sampling::sample_tensor_rows;

/// What one decode step created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeStepOps {
    /// Tensors the forward pass created (the step's host-built inputs included).
    pub forward: usize,
    /// Tensors sampling the rows created.
    pub sampling: usize,
}

impl DecodeStepOps {
    /// The whole step.
    pub fn total(&self) -> usize {
        self.forward + self.sampling
    }
}

/// The id candle gives the next tensor (the probe that reads it takes one).
fn next_tensor_id() -> Result<usize> {
    let probe = Tensor::zeros((), DType::U8, &Device::Cpu)?;
    // `TensorId` exposes no number but prints it: "TensorId(123)".
    let text = format!("{:?}", probe.id());
    text.strip_prefix("TensorId(")
        .and_then(|t| t.strip_suffix(')'))
        .and_then(|n| n.parse::<usize>().ok())
        .map(|n| n + 1)
        .ok_or_else(|| Error::Invalid(format!("cannot read a tensor number from `{text}`")))
}

/// Tensors `f` creates.
fn tensors_created<T>(f: impl FnOnce() -> Result<T>) -> Result<(usize, T)> {
    let before = next_tensor_id()?;
    let out = f()?;
    // The second probe's own id is the one `next_tensor_id` reads, less one.
    let after = next_tensor_id()? - 1;
    Ok((after - before, out))
}

/// Counts one decode step of `shape` through a random-weight model of shape `cfg` on
/// `device`, sampled at temperature 1.
pub fn count_decode_step(
    cfg: &Qwen3Config,
    dtype: DType,
    device: &Device,
    shape: StepShape,
) -> Result<DecodeStepOps> {
    let fixture = DecodeStepFixture::new(cfg, dtype, device, shape)?;
    // A first step warms whatever is created once (kernels loaded, caches).
    fixture.forward()?;
    let (forward, logits) = tensors_created(|| fixture.forward())?;
    let (sampling, _) =
        tensors_created(|| sample_tensor_rows(&logits, &fixture.params, &fixture.keys))?;
    Ok(DecodeStepOps { forward, sampling })
}
