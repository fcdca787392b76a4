//! CUDA launches of the engine's own kernels (`kernels/*.cu`, compiled to PTX by `build.rs`
//! with nvcc). Each has a CPU twin in [`super::attention`] that the tests compare it with.

use candle_core::backend::BackendStorage;
use candle_core::cuda_backend::cudarc::driver::{LaunchConfig, PushKernelArg};
use candle_core::cuda_backend::WrapErr;
use candle_core::{CudaStorage, DType, Layout, Shape};
use half::{bf16, f16};

use super::attention::SuffixAttention;
use super::kv::BLOCK_TOKENS;

/// PTX of `kernels/suffix_attention.cu`.
const SUFFIX_ATTENTION_PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/suffix_attention.ptx"));

/// Threads per block: 4 warps, one query row each.
const BLOCK: u32 = 128;

/// The CUDA forward of [`SuffixAttention`].
pub(crate) fn suffix_attention(
    op: &SuffixAttention,
    q: &CudaStorage,
    q_l: &Layout,
    k: &CudaStorage,
    k_l: &Layout,
    v: &CudaStorage,
    v_l: &Layout,
) -> candle_core::Result<(CudaStorage, Shape)> {
    let (rows, kv_heads, group, head_dim) = q_l.shape().dims4()?;
    let (blocks, _, block_tokens, _) = k_l.shape().dims4()?;
    if block_tokens != BLOCK_TOKENS || v_l.shape() != k_l.shape() {
        candle_core::bail!(
            "suffix attention: k, v pools of matching (blocks, heads, {BLOCK_TOKENS}, dims)"
        );
    }
    if head_dim > 256 {
        candle_core::bail!("suffix attention kernel: head_dim {head_dim} > 256");
    }
    let t = &op.tables;
    t.check(rows, blocks)?;
    if q.dtype() != DType::F32 || k.dtype() != v.dtype() {
        candle_core::bail!(
            "suffix attention kernel: q must be f32 and k, v one dtype (got {:?}, {:?}, {:?})",
            q.dtype(),
            k.dtype(),
            v.dtype()
        );
    }
    let offsets = |l: &Layout| {
        l.contiguous_offsets().ok_or_else(|| {
            candle_core::Error::Msg("suffix attention needs contiguous inputs".into())
        })
    };
    let (q0, q1) = offsets(q_l)?;
    let (k0, k1) = offsets(k_l)?;
    let (v0, v1) = offsets(v_l)?;
    let dev = q.device().clone();
    let lens: Vec<u32> = t.lens.iter().map(|&l| l as u32).collect();
    let lens = dev.clone_htod(&lens)?;
    // A zero-width table (no rows) still needs a valid allocation.
    let tables = dev.clone_htod(if t.tables.is_empty() {
        &[0u32][..]
    } else {
        &t.tables
    })?;
    let out_len = rows * kv_heads * group * (head_dim + 1);
    let out = dev.alloc_zeros::<f32>(out_len)?;
    let warps = (rows * kv_heads * group) as u32;
    let cfg = LaunchConfig {
        grid_dim: ((warps * 32).div_ceil(BLOCK), 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    };
    let q_slice = q.as_cuda_slice::<f32>()?.slice(q0..q1);
    let dims = [
        rows as i32,
        kv_heads as i32,
        group as i32,
        head_dim as i32,
        t.width as i32,
    ];
    macro_rules! launch {
        ($t:ty, $name:literal) => {{
            let func =
                dev.get_or_load_custom_func($name, "lcb_suffix_attention", SUFFIX_ATTENTION_PTX)?;
            let k_slice = k.as_cuda_slice::<$t>()?.slice(k0..k1);
            let v_slice = v.as_cuda_slice::<$t>()?.slice(v0..v1);
            let mut b = func.builder();
            b.arg(&q_slice);
            b.arg(&k_slice);
            b.arg(&v_slice);
            b.arg(&lens);
            b.arg(&tables);
            b.arg(&out);
            for d in &dims {
                b.arg(d);
            }
            // SAFETY: the kernel reads `rows * kv_heads * group * head_dim` query values and,
            // per row, `lens[row] <= width * BLOCK_TOKENS` positions through its `width`
            // table entries, each a block inside the pool (`check` above), all inside the
            // contiguous slices checked above, and writes exactly `out_len` values.
            unsafe { b.launch(cfg) }.w()?;
        }};
    }
    match k.dtype() {
        DType::F32 => launch!(f32, "suffix_attention_f32"),
        DType::BF16 => launch!(bf16, "suffix_attention_bf16"),
        DType::F16 => launch!(f16, "suffix_attention_f16"),
        other => candle_core::bail!("suffix attention kernel: unsupported dtype {other:?}"),
    }
    Ok((
        CudaStorage::wrap_cuda_slice(out, dev),
        Shape::from((rows, kv_heads, group, head_dim + 1)),
    ))
}
