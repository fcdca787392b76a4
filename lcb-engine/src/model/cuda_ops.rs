//! CUDA launches of the engine's own kernels (`kernels/*.cu`, compiled to PTX by `build.rs`
//! with nvcc). Each has a CPU twin (in [`super::attention`], [`super::prompt_attention`] and
//! [`super::fused`]) that the tests compare it with.

use candle_core::backend::BackendStorage;
use candle_core::cuda_backend::cudarc::driver::{LaunchConfig, PushKernelArg};
use candle_core::cuda_backend::WrapErr;
use candle_core::{CudaStorage, DType, Layout, Shape};
use half::{bf16, f16};

use super::attention::{SuffixAttention, SUFFIX_GROUP_CHUNK};
use super::prompt_attention::PromptAttention;
use crate::op_inputs::{contiguous_range, kernel_output};

/// PTX of `kernels/suffix_attention.cu`.
const SUFFIX_ATTENTION_PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/suffix_attention.ptx"));

/// Threads per block of the suffix kernel: 4 warps.
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
    let ((rows, kv_heads, group, head_dim), _) = op.dims(q_l, k_l, v_l)?;
    if head_dim > 256 {
        candle_core::bail!("suffix attention kernel: head_dim {head_dim} > 256");
    }
    let t = &op.tables;
    if q.dtype() != DType::F32 || k.dtype() != v.dtype() {
        candle_core::bail!(
            "suffix attention kernel: q must be f32 and k, v one dtype (got {:?}, {:?}, {:?})",
            q.dtype(),
            k.dtype(),
            v.dtype()
        );
    }
    let op_name = "suffix attention";
    let (q_range, k_range, v_range) = (
        contiguous_range(op_name, q_l)?,
        contiguous_range(op_name, k_l)?,
        contiguous_range(op_name, v_l)?,
    );
    let dev = q.device().clone();
    let lens: Vec<u32> = t.lens.iter().map(|&l| l as u32).collect();
    let lens = dev.clone_htod(&lens)?;
    // A zero-width table (no rows) still needs a valid allocation.
    let tables = dev.clone_htod(if t.tables.is_empty() {
        &[0u32][..]
    } else {
        &t.tables
    })?;
    let (split_len, splits) = (op.split_len(), op.splits());
    let out_len = rows * kv_heads * group * (head_dim + 1);
    // With pieces, the kernel writes each piece's state and a second kernel merges them.
    // SAFETY: with one piece per row every (row, head, query) slot is written by its piece-0
    // warp; with more, the merge reads only the pieces that exist, each written by its warp.
    let pieces = unsafe { kernel_output::<f32>(&dev, out_len * splits) }?;
    // One warp per row, key/value head, chunk of up to four of its query heads, and piece.
    let warps = rows * kv_heads * group.div_ceil(SUFFIX_GROUP_CHUNK) * splits;
    let cfg = warps_config(warps);
    let q_slice = q.as_cuda_slice::<f32>()?.slice(q_range);
    let dims = [
        rows as i32,
        kv_heads as i32,
        group as i32,
        head_dim as i32,
        t.width as i32,
        split_len as i32,
        splits as i32,
    ];
    macro_rules! launch {
        ($t:ty, $name:literal) => {{
            let func =
                dev.get_or_load_custom_func($name, "lcb_suffix_attention", SUFFIX_ATTENTION_PTX)?;
            let k_slice = k.as_cuda_slice::<$t>()?.slice(k_range.clone());
            let v_slice = v.as_cuda_slice::<$t>()?.slice(v_range.clone());
            let mut b = func.builder();
            b.arg(&q_slice);
            b.arg(&k_slice);
            b.arg(&v_slice);
            b.arg(&lens);
            b.arg(&tables);
            b.arg(&pieces);
            for d in &dims {
                b.arg(d);
            }
            // SAFETY: the kernel reads `rows * kv_heads * group * head_dim` query values and,
            // per row, `lens[row] <= width * BLOCK_TOKENS` positions through its `width`
            // table entries, each a block inside the pool (`check` above), all inside the
            // contiguous slices checked above, and writes at most `out_len * splits` values.
            if warps > 0 {
                unsafe { b.launch(cfg) }.w()?;
            }
        }};
    }
    // Four values per lane up to 128 dims, eight up to 256.
    match (k.dtype(), head_dim <= 128) {
        (DType::F32, true) => launch!(f32, "suffix_attention_f32_d128"),
        (DType::BF16, true) => launch!(bf16, "suffix_attention_bf16_d128"),
        (DType::F16, true) => launch!(f16, "suffix_attention_f16_d128"),
        (DType::F32, false) => launch!(f32, "suffix_attention_f32_d256"),
        (DType::BF16, false) => launch!(bf16, "suffix_attention_bf16_d256"),
        (DType::F16, false) => launch!(f16, "suffix_attention_f16_d256"),
        (other, _) => candle_core::bail!("suffix attention kernel: unsupported dtype {other:?}"),
    }
    let out = if splits == 1 {
        pieces
    } else {
        // SAFETY: one warp per query writes its `head_dim + 1` values.
        let out = unsafe { kernel_output::<f32>(&dev, out_len) }?;
        let func = dev.get_or_load_custom_func(
            "suffix_merge_splits",
            "lcb_suffix_attention",
            SUFFIX_ATTENTION_PTX,
        )?;
        let mut b = func.builder();
        b.arg(&pieces);
        b.arg(&lens);
        b.arg(&out);
        let dims = [
            rows as i32,
            (kv_heads * group) as i32,
            head_dim as i32,
            t.width as i32,
            split_len as i32,
            splits as i32,
        ];
        for d in &dims {
            b.arg(d);
        }
        // SAFETY: one warp per query (`rows * kv_heads * group`) reads its `splits` states of
        // `head_dim + 1` in `pieces` (`out_len * splits` values) and writes its `head_dim + 1`
        // in `out` (`out_len`).
        unsafe { b.launch(warps_config(rows * kv_heads * group)) }.w()?;
        out
    };
    Ok((
        CudaStorage::wrap_cuda_slice(out, dev),
        Shape::from((rows, kv_heads, group, head_dim + 1)),
    ))
}

/// One warp per item, [`BLOCK`] threads per block.
fn warps_config(warps: usize) -> LaunchConfig {
    LaunchConfig {
        grid_dim: ((warps * 32).div_ceil(BLOCK as usize) as u32, 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// PTX of `kernels/fused.cu`.
const FUSED_PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/fused.ptx"));

/// One thread per element, in blocks of 256.
fn elementwise(count: usize) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (count.div_ceil(256) as u32, 1, 1),
        block_dim: (256, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// The contiguous f32 data of `s` under layout `l`, or an error naming the op.
fn f32_view<'a>(
    op: &str,
    s: &'a CudaStorage,
    l: &Layout,
) -> candle_core::Result<candle_core::cuda_backend::cudarc::driver::CudaView<'a, f32>> {
    Ok(s.as_cuda_slice::<f32>()?.slice(contiguous_range(op, l)?))
}

/// The CUDA forward of `fused::SiluMul`: `src` `(rows, 2 * half)` to `(rows, half)`.
pub(crate) fn silu_mul(src: &CudaStorage, l: &Layout) -> candle_core::Result<(CudaStorage, Shape)> {
    let (rows, width) = l.shape().dims2()?;
    if width % 2 != 0 {
        candle_core::bail!("silu-mul: an odd width {width}");
    }
    let half = width / 2;
    let range = contiguous_range("silu-mul", l)?;
    let dev = src.device().clone();
    let count = rows * half;
    let dims = (rows as i64, half as i32);
    macro_rules! launch {
        ($t:ty, $name:literal) => {{
            let func = dev.get_or_load_custom_func($name, "lcb_fused", FUSED_PTX)?;
            let input = src.as_cuda_slice::<$t>()?.slice(range.clone());
            // SAFETY: thread `i < count` writes `out[i]`.
            let out = unsafe { kernel_output::<$t>(&dev, count) }?;
            let mut b = func.builder();
            b.arg(&input);
            b.arg(&out);
            b.arg(&dims.0);
            b.arg(&dims.1);
            // SAFETY: thread `i < rows * half` reads `src[row * 2 * half + j]` and
            // `src[row * 2 * half + half + j]` inside the contiguous range checked above, and
            // writes `out[i]`.
            if count > 0 {
                unsafe { b.launch(elementwise(count)) }.w()?;
            }
            CudaStorage::wrap_cuda_slice(out, dev.clone())
        }};
    }
    let out = match src.dtype() {
        DType::F32 => launch!(f32, "silu_mul_f32"),
        DType::BF16 => launch!(bf16, "silu_mul_bf16"),
        DType::F16 => launch!(f16, "silu_mul_f16"),
        other => candle_core::bail!("silu-mul kernel: unsupported dtype {other:?}"),
    };
    Ok((out, Shape::from((rows, half))))
}

/// The CUDA forward of `fused::MergeStates` (shapes checked by the caller: `rows` states of
/// `head_dim`, two log-sum-exps per row).
#[allow(clippy::too_many_arguments)]
pub(crate) fn merge_states(
    a: &CudaStorage,
    a_l: &Layout,
    b: &CudaStorage,
    b_l: &Layout,
    lses: &CudaStorage,
    lses_l: &Layout,
    rows: usize,
    head_dim: usize,
) -> candle_core::Result<(CudaStorage, Shape)> {
    let dev = a.device().clone();
    let (a_s, b_s, lses_s) = (
        f32_view("merge", a, a_l)?,
        f32_view("merge", b, b_l)?,
        f32_view("merge", lses, lses_l)?,
    );
    let count = rows * head_dim;
    // SAFETY: thread `i < count` writes `out[i]`.
    let out = unsafe { kernel_output::<f32>(&dev, count) }?;
    let func = dev.get_or_load_custom_func("merge_states", "lcb_fused", FUSED_PTX)?;
    let mut builder = func.builder();
    builder.arg(&a_s);
    builder.arg(&b_s);
    builder.arg(&lses_s);
    builder.arg(&out);
    let (rows_arg, dim_arg) = (rows as i64, head_dim as i32);
    builder.arg(&rows_arg);
    builder.arg(&dim_arg);
    // SAFETY: thread `i < rows * head_dim` reads `a[i]`, `b[i]` and `lses[2 * (i / head_dim)
    // ..+2]`, all inside the ranges checked (shapes by the caller), and writes `out[i]`.
    if count > 0 {
        unsafe { builder.launch(elementwise(count)) }.w()?;
    }
    Ok((CudaStorage::wrap_cuda_slice(out, dev), a_l.shape().clone()))
}

/// PTX of `kernels/prompt_attention.cu`.
const PROMPT_ATTENTION_PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/prompt_attention.ptx"));

/// The CUDA forward of [`PromptAttention`].
pub(crate) fn prompt_attention(
    op: &PromptAttention,
    q: &CudaStorage,
    q_l: &Layout,
    k: &CudaStorage,
    k_l: &Layout,
    v: &CudaStorage,
    v_l: &Layout,
) -> candle_core::Result<(CudaStorage, Shape)> {
    use super::prompt_attention::MAX_HEAD_DIM;

    let (rows, kv_heads, group, head_dim) = op.dims(q_l, k_l, v_l)?;
    op.check_runs(k_l.shape().dims()[0])?;
    if head_dim > MAX_HEAD_DIM {
        candle_core::bail!("prompt attention kernel: head_dim {head_dim} > {MAX_HEAD_DIM}");
    }
    if q.dtype() != DType::F32 || k.dtype() != v.dtype() {
        candle_core::bail!("prompt attention kernel: f32 queries and one pool dtype");
    }
    let dev = q.device().clone();
    let out = dev.alloc_zeros::<f32>(rows * kv_heads * group * head_dim)?;
    let tiles = op.tiles.tiles();
    if tiles > 0 {
        let q_slice = f32_view("prompt attention", q, q_l)?;
        let (own_storage, own_l) = op.own.storage_and_layout();
        let candle_core::Storage::Cuda(own) = &*own_storage else {
            candle_core::bail!("prompt attention: own states on another device");
        };
        let own = f32_view("prompt attention", own, own_l)?;
        let entries = dev.clone_htod(&op.tiles.entries)?;
        let dims = [
            kv_heads as i32,
            group as i32,
            head_dim as i32,
            op.tiles.rows_per_tile as i32,
        ];
        let cfg = LaunchConfig {
            grid_dim: (tiles as u32, kv_heads as u32, 1),
            block_dim: (128, 1, 1),
            shared_mem_bytes: 0,
        };
        let (k_range, v_range) = (
            contiguous_range("prompt attention", k_l)?,
            contiguous_range("prompt attention", v_l)?,
        );
        macro_rules! launch {
            ($t:ty, $name:literal) => {{
                let func = dev.get_or_load_custom_func(
                    $name,
                    "lcb_prompt_attention",
                    PROMPT_ATTENTION_PTX,
                )?;
                let k_slice = k.as_cuda_slice::<$t>()?.slice(k_range.clone());
                let v_slice = v.as_cuda_slice::<$t>()?.slice(v_range.clone());
                let mut b = func.builder();
                b.arg(&q_slice);
                b.arg(&k_slice);
                b.arg(&v_slice);
                b.arg(&entries);
                b.arg(&own);
                b.arg(&out);
                for d in &dims {
                    b.arg(d);
                }
                // SAFETY: each block reads its tile entry, the queries and own states of the
                // tile's rows (row indices < rows, built by `PromptTiles::new`), and its
                // prompt's run (inside the pool: `check_runs`), and writes the outputs of its
                // rows only; every slice is the contiguous range checked above.
                unsafe { b.launch(cfg) }.w()?;
            }};
        }
        match k.dtype() {
            DType::F32 => launch!(f32, "prompt_attention_f32"),
            DType::BF16 => launch!(bf16, "prompt_attention_bf16"),
            DType::F16 => launch!(f16, "prompt_attention_f16"),
            other => candle_core::bail!("prompt attention kernel: unsupported dtype {other:?}"),
        }
    }
    Ok((
        CudaStorage::wrap_cuda_slice(out, dev),
        Shape::from((rows, kv_heads, group, head_dim)),
    ))
}

/// The CUDA forward of `fused::QkvHeads` (shapes checked by the caller; `n` rows).
#[allow(clippy::too_many_arguments)]
pub(crate) fn qkv_heads(
    qkv: &CudaStorage,
    qkv_l: &Layout,
    norms: &CudaStorage,
    norms_l: &Layout,
    cos: &CudaStorage,
    cos_l: &Layout,
    sin: &CudaStorage,
    sin_l: &Layout,
    n: usize,
    heads: super::fused::Heads,
) -> candle_core::Result<(CudaStorage, Shape)> {
    let d = heads.head_dim;
    if !d.is_multiple_of(2) || d > 512 {
        candle_core::bail!("qkv heads kernel: head_dim {d} (even, up to 512)");
    }
    let dev = qkv.device().clone();
    let all = heads.q_heads + 2 * heads.kv_heads;
    let count = n * all * d;
    let warps = n * all;
    let cfg = LaunchConfig {
        grid_dim: ((warps * 32).div_ceil(256) as u32, 1, 1),
        block_dim: (256, 1, 1),
        shared_mem_bytes: 0,
    };
    let ranges = [
        contiguous_range("qkv heads", qkv_l)?,
        contiguous_range("qkv heads", norms_l)?,
        contiguous_range("qkv heads", cos_l)?,
        contiguous_range("qkv heads", sin_l)?,
    ];
    let (rows, q_heads, kv_heads, dim) = (
        n as i64,
        heads.q_heads as i32,
        heads.kv_heads as i32,
        d as i32,
    );
    let (eps, scale) = (heads.eps, heads.scale as f32);
    macro_rules! launch {
        ($t:ty, $name:literal) => {{
            let func = dev.get_or_load_custom_func($name, "lcb_fused", FUSED_PTX)?;
            // SAFETY: the warp of (row, head) writes that head's `d` values (`d <= 512`: the
            // kernel's 8 rotation pairs per lane cover it), for every query, key and value
            // head of every row.
            let out = unsafe { kernel_output::<$t>(&dev, count) }?;
            let qkv = qkv.as_cuda_slice::<$t>()?.slice(ranges[0].clone());
            let norms = norms.as_cuda_slice::<$t>()?.slice(ranges[1].clone());
            let cos = cos.as_cuda_slice::<$t>()?.slice(ranges[2].clone());
            let sin = sin.as_cuda_slice::<$t>()?.slice(ranges[3].clone());
            let mut b = func.builder();
            b.arg(&qkv);
            b.arg(&norms);
            b.arg(&cos);
            b.arg(&sin);
            b.arg(&out);
            b.arg(&rows);
            b.arg(&q_heads);
            b.arg(&kv_heads);
            b.arg(&dim);
            b.arg(&eps);
            b.arg(&scale);
            // SAFETY: warp `w < n * all` reads head `w` of the projection (`d` values), the
            // two norm weights and its row's `d / 2` rotation values, all inside the checked
            // ranges (shapes checked by the caller), and writes its head's `d` outputs.
            if warps > 0 {
                unsafe { b.launch(cfg) }.w()?;
            }
            CudaStorage::wrap_cuda_slice(out, dev.clone())
        }};
    }
    let out = match qkv.dtype() {
        DType::F32 => launch!(f32, "qkv_heads_f32"),
        DType::BF16 => launch!(bf16, "qkv_heads_bf16"),
        DType::F16 => launch!(f16, "qkv_heads_f16"),
        other => candle_core::bail!("qkv heads kernel: unsupported dtype {other:?}"),
    };
    Ok((out, Shape::from(count)))
}

/// The CUDA forward of `fused::AddRmsNorm`: `x`, `delta` `(rows, hidden)` and `weight`
/// `(hidden)`, each at its data range (checked by the caller), to `(2 * rows, hidden)`.
pub(crate) fn add_rms_norm(
    inputs: [&CudaStorage; 3],
    ranges: [std::ops::Range<usize>; 3],
    rows: usize,
    hidden: usize,
    eps: f32,
) -> candle_core::Result<(CudaStorage, Shape)> {
    let dev = inputs[0].device().clone();
    let count = 2 * rows * hidden;
    let (rows_arg, hidden_arg) = (rows as i64, hidden as i32);
    // One block per row; 256 threads cover Qwen3's hidden sizes in 4 to 20 steps each.
    let cfg = LaunchConfig {
        grid_dim: (rows as u32, 1, 1),
        block_dim: (256, 1, 1),
        shared_mem_bytes: 0,
    };
    macro_rules! launch {
        ($t:ty, $name:literal) => {{
            let func = dev.get_or_load_custom_func($name, "lcb_fused", FUSED_PTX)?;
            // SAFETY: block `r` writes the `hidden` sums and normalised values of row `r`.
            let out = unsafe { kernel_output::<$t>(&dev, count) }?;
            let slice = |i: usize| -> candle_core::Result<_> {
                Ok(inputs[i].as_cuda_slice::<$t>()?.slice(ranges[i].clone()))
            };
            let (x, delta, weight) = (slice(0)?, slice(1)?, slice(2)?);
            let mut b = func.builder();
            b.arg(&x);
            b.arg(&delta);
            b.arg(&weight);
            b.arg(&out);
            b.arg(&rows_arg);
            b.arg(&hidden_arg);
            b.arg(&eps);
            // SAFETY: block `r < rows` reads row `r` of `x` and `delta` and all of `weight`,
            // inside the ranges given (`rows * hidden`, `rows * hidden`, `hidden` values), and
            // writes `out[r * hidden..]` and `out[(rows + r) * hidden..]`, `hidden` each.
            if rows > 0 {
                unsafe { b.launch(cfg) }.w()?;
            }
            CudaStorage::wrap_cuda_slice(out, dev.clone())
        }};
    }
    let out = match inputs[1].dtype() {
        DType::F32 => launch!(f32, "add_rms_norm_f32"),
        DType::BF16 => launch!(bf16, "add_rms_norm_bf16"),
        DType::F16 => launch!(f16, "add_rms_norm_f16"),
        other => candle_core::bail!("add-rms-norm kernel: unsupported dtype {other:?}"),
    };
    Ok((out, Shape::from((2 * rows, hidden))))
}
