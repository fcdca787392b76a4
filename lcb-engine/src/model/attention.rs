//! Attention kernels over the two-level cache: the prompt part (one dense matmul for all
//! samples of a prompt, Hydragen-style), each sample's own suffix part, the exact merge of
//! the two by log-sum-exp, and causal attention for prefill chunks.
//!
//! Queries arrive already scaled by `1/sqrt(head_dim)`. Grouped-query attention never
//! repeats keys/values: the query heads served by one key/value head are stacked as rows of
//! the same matmul (`(kv_heads, rows * group, head_dim)` against `(kv_heads, len, head_dim)`).
//! Scores, softmax and merges run in f32 whatever the model dtype.
//!
//! Batch invariance: candle's CPU matmul switches to a matrix-vector kernel (different
//! rounding) when it has a single row, so every matmul here is given at least two rows;
//! the suffix part on the CPU runs in [`SuffixAttention`], which reads each sample's exact
//! length through its block table instead of a batch-wide padded one. With both, a sample's
//! numbers on the CPU do not depend on what else is in the batch, nor on which blocks hold
//! its cache, bit for bit.

use candle_core::{CpuStorage, DType, Layout, Shape, Tensor, D};
use rayon::prelude::*;

use super::kv::{blocks_for, BLOCK_TOKENS};

use crate::error::Result;
use crate::op_inputs::cpu_slice;

/// Softmax over the last dimension of f32 `scores`, with its log-sum-exp
/// (`max + ln Σ exp(s - max)`, kept as a trailing dimension of size 1).
fn softmax_with_lse(scores: &Tensor) -> Result<(Tensor, Tensor)> {
    let max = scores.max_keepdim(D::Minus1)?;
    let exp = scores.broadcast_sub(&max)?.exp()?;
    let sum = exp.sum_keepdim(D::Minus1)?;
    let probs = exp.broadcast_div(&sum)?;
    let lse = (max + sum.log()?)?;
    Ok((probs, lse))
}

/// `x` `(batch, rows, k)` as the left operand of a matmul, laid out column-major (same
/// values, transposed strides). candle's CPU matmul takes gemm's small-matrix "horizontal"
/// kernel only for a row-major left operand times a k-contiguous right one (`q Kᵀ`); that
/// kernel rounds differently, and whether it is chosen depends on the number of rows. A
/// column-major left operand always takes the same kernel.
fn column_major(x: &Tensor) -> Result<Tensor> {
    Ok(x.transpose(1, 2)?.contiguous()?.transpose(1, 2)?)
}

/// Stacks `x`'s rows with a copy of themselves when it has a single row (dimension `dim`),
/// so the matmul it feeds takes the same kernel as for any other batch size; the caller
/// keeps the first `rows` results.
fn at_least_two_rows(x: Tensor, dim: usize) -> Result<(Tensor, usize)> {
    let rows = x.dim(dim)?;
    if rows == 1 {
        Ok((Tensor::cat(&[&x, &x], dim)?, rows))
    } else {
        Ok((x, rows))
    }
}

/// Attention of `n` samples' queries `(n, kv_heads, group, head_dim)` over one prompt's keys
/// and values `(kv_heads, prompt_len, head_dim)`: all `n * group` query rows of a key/value
/// head go through one matmul. Returns the f32 output `(n, kv_heads, group, head_dim)` and its
/// log-sum-exp `(n, kv_heads, group, 1)`.
pub fn prefix_attention(q: &Tensor, k: &Tensor, v: &Tensor) -> Result<(Tensor, Tensor)> {
    let (n, kv_heads, group, head_dim) = q.dims4()?;
    let rows = q
        .transpose(0, 1)?
        .contiguous()?
        .reshape((kv_heads, n * group, head_dim))?;
    let (rows, m) = at_least_two_rows(rows, 1)?;
    let scores = column_major(&rows)?.matmul(&k.t()?)?.to_dtype(DType::F32)?;
    let (probs, lse) = softmax_with_lse(&scores)?;
    let out = probs
        .to_dtype(v.dtype())?
        .matmul(v)?
        .to_dtype(DType::F32)?
        .narrow(1, 0, m)?;
    let lse = lse.narrow(1, 0, m)?;
    let out = out
        .reshape((kv_heads, n, group, head_dim))?
        .transpose(0, 1)?
        .contiguous()?;
    let lse = lse
        .reshape((kv_heads, n, group, 1))?
        .transpose(0, 1)?
        .contiguous()?;
    Ok((out, lse))
}

/// Where each decode row's own keys live: its length and its block table, the tables padded
/// to one width (`tables[row * width..][..width]`; entries past a row's last block repeat a
/// valid block, so a padded read stays inside the pool).
#[derive(Debug, Clone, Default)]
pub struct SuffixTables {
    /// Valid positions of each row's cache (at least 1).
    pub lens: Vec<usize>,
    /// The rows' block tables, `width` entries each.
    pub tables: Vec<u32>,
    /// Entries per row: the most blocks any row uses.
    pub width: usize,
}

impl SuffixTables {
    /// The tables of rows whose caches hold `lens[i]` positions in blocks `tables[i]`.
    pub fn new(lens: Vec<usize>, tables: &[&[u32]]) -> Self {
        let width = lens
            .iter()
            .map(|&l| blocks_for(l.max(1)))
            .max()
            .unwrap_or(0);
        let mut flat = Vec::with_capacity(tables.len() * width);
        for (&len, table) in lens.iter().zip(tables) {
            let used = &table[..blocks_for(len.max(1)).min(table.len())];
            flat.extend_from_slice(used);
            let pad = used.first().copied().unwrap_or(0);
            flat.extend(std::iter::repeat_n(pad, width - used.len()));
        }
        SuffixTables {
            lens,
            tables: flat,
            width,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.lens.len()
    }

    /// Checks the tables against `rows` query rows and a pool of `blocks` blocks, so a
    /// kernel reads only inside the pool.
    pub fn check(&self, rows: usize, blocks: usize) -> candle_core::Result<()> {
        if self.lens.len() != rows || self.tables.len() != rows * self.width {
            candle_core::bail!(
                "suffix attention: {} lengths and {} table entries for {rows} rows of {}",
                self.lens.len(),
                self.tables.len(),
                self.width
            );
        }
        if let Some(&len) = self
            .lens
            .iter()
            .find(|&&l| blocks_for(l.max(1)) > self.width)
        {
            candle_core::bail!(
                "suffix attention: a length of {len} past a table of {}",
                self.width
            );
        }
        if let Some(&b) = self.tables.iter().find(|&&b| b as usize >= blocks) {
            candle_core::bail!("suffix attention: block {b} outside a pool of {blocks}");
        }
        Ok(())
    }
}

/// Attention of each decode row's queries `(rows, kv_heads, group, head_dim)` over its own
/// keys and values in the block pools `(blocks, kv_heads, BLOCK_TOKENS, head_dim)`: row `i`
/// reads its first `tables.lens[i]` positions through its block table. Returns the f32 output
/// and log-sum-exp, as [`prefix_attention`].
///
/// On the CPU with f32 this is [`SuffixAttention`]; on a GPU with `LCB_CUDA_KERNELS=1`, its
/// CUDA kernel (opt-in until it has been measured on a GPU); elsewhere each row's blocks are
/// gathered into one batch padded to the widest table (`padded`: the gather index and mask
/// from [`padded_inputs`]), the padding masked out.
pub fn suffix_attention(
    q: &Tensor,
    k_pool: &Tensor,
    v_pool: &Tensor,
    tables: &SuffixTables,
    padded: Option<&(Tensor, Tensor)>,
) -> Result<(Tensor, Tensor)> {
    let cpu_kernel = q.device().is_cpu() && q.dtype() == DType::F32;
    let kernel = cpu_kernel || (q.device().is_cuda() && cuda_kernels_enabled());
    match padded {
        Some((index, mask)) if !kernel => suffix_attention_padded(q, k_pool, v_pool, index, mask),
        _ => suffix_attention_kernel(q, k_pool, v_pool, tables),
    }
}

/// Whether [`suffix_attention`] takes the padded path for queries of `dtype` on `device`
/// (the caller then builds [`padded_inputs`] once per step).
pub fn suffix_attention_is_padded(device: &candle_core::Device, dtype: DType) -> bool {
    !((device.is_cpu() && dtype == DType::F32) || (device.is_cuda() && cuda_kernels_enabled()))
}

/// Whether the engine's own CUDA kernels are switched on (`LCB_CUDA_KERNELS=1`).
pub fn cuda_kernels_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("LCB_CUDA_KERNELS").is_ok_and(|v| v == "1"))
}

/// [`SuffixAttention`] as the kernel returns it: `(rows, kv_heads, group, head_dim + 1)` f32,
/// each output followed by its log-sum-exp. On a GPU, long rows are split
/// ([`gpu_split_blocks`]); on the CPU each row is one piece.
pub fn suffix_attention_packed(
    q: &Tensor,
    k_pool: &Tensor,
    v_pool: &Tensor,
    tables: &SuffixTables,
) -> Result<Tensor> {
    let split_blocks = if q.device().is_cuda() {
        let (rows, kv_heads, group, _) = q.dims4()?;
        gpu_split_blocks(rows, kv_heads, group, tables.width)
    } else {
        None
    };
    suffix_attention_split(q, k_pool, v_pool, tables, split_blocks)
}

/// [`suffix_attention_packed`] with each row's positions cut into pieces of `split_blocks`
/// blocks (`None`: one piece per row), attended separately and merged by log-sum-exp.
pub fn suffix_attention_split(
    q: &Tensor,
    k_pool: &Tensor,
    v_pool: &Tensor,
    tables: &SuffixTables,
    split_blocks: Option<usize>,
) -> Result<Tensor> {
    let op = SuffixAttention {
        tables: tables.clone(),
        split_blocks: split_blocks.map(|b| b.max(1)),
    };
    let q = q.to_dtype(DType::F32)?.contiguous()?;
    Ok(q.apply_op3_no_bwd(&k_pool.contiguous()?, &v_pool.contiguous()?, &op)?)
}

/// Warps the suffix kernel should have in flight to fill a GPU: about half of an H100's or
/// H200's resident warps (132 SMs × 64); smaller GPUs are filled with room to spare.
const GPU_WARPS: usize = 4096;

/// The smallest piece worth splitting a row into: 4 blocks (64 positions). Below it, the
/// merge costs more than the parallelism gains.
const MIN_SPLIT_BLOCKS: usize = 4;

/// Flash-decoding's split of the suffix kernel's rows on a GPU, in blocks per piece, or
/// `None` to keep each row whole.
///
/// The kernel gives one warp to each (row, key/value head, chunk of four query heads) and
/// walks the row's positions in order. With hundreds of rows that fills the GPU; at the end
/// of a sweep, when a few long samples are left, a handful of warps would each walk
/// thousands of positions while the rest of the GPU idles. Rows are then cut into pieces so
/// that about [`GPU_WARPS`] warps run, each piece at least [`MIN_SPLIT_BLOCKS`] blocks, and a
/// second kernel merges the pieces. The split depends on the batch (the rows' count and the
/// longest row), as cuBLAS's choice of algorithm does: a sample's GPU numbers are the same
/// for the same batch, not for every batch.
pub fn gpu_split_blocks(rows: usize, kv_heads: usize, group: usize, width: usize) -> Option<usize> {
    let warps = rows * kv_heads * group.div_ceil(SUFFIX_GROUP_CHUNK);
    if warps == 0 || warps >= GPU_WARPS || width < 2 * MIN_SPLIT_BLOCKS {
        return None;
    }
    let pieces = GPU_WARPS.div_ceil(warps);
    let blocks = width.div_ceil(pieces).max(MIN_SPLIT_BLOCKS);
    (blocks < width).then_some(blocks)
}

/// Query heads one warp of the suffix kernel serves (the kernel's GROUP_CHUNK).
pub(crate) const SUFFIX_GROUP_CHUNK: usize = 4;

/// [`SuffixAttention`] on `q` (any float dtype; computed in f32) and the pools: the output
/// `(rows, kv_heads, group, head_dim)` and log-sum-exp `(rows, kv_heads, group, 1)`, f32.
pub fn suffix_attention_kernel(
    q: &Tensor,
    k_pool: &Tensor,
    v_pool: &Tensor,
    tables: &SuffixTables,
) -> Result<(Tensor, Tensor)> {
    let packed = suffix_attention_packed(q, k_pool, v_pool, tables)?;
    let head_dim = q.dim(3)?;
    let out = packed.narrow(3, 0, head_dim)?.contiguous()?;
    let lse = packed.narrow(3, head_dim, 1)?.contiguous()?;
    Ok((out, lse))
}

/// The gather index `(rows * width)` and mask `(rows, 1, 1, width * BLOCK_TOKENS)` of the
/// padded path: row `i`'s table entries, and `-inf` past its length.
pub fn padded_inputs(
    tables: &SuffixTables,
    device: &candle_core::Device,
) -> Result<(Tensor, Tensor)> {
    let (rows, width) = (tables.rows(), tables.width);
    let index = Tensor::from_vec(tables.tables.clone(), rows * width, device)?;
    let positions = width * BLOCK_TOKENS;
    let mask: Vec<f32> = tables
        .lens
        .iter()
        .flat_map(|&len| {
            (0..positions).map(move |j| {
                if j < len.max(1) {
                    0.0
                } else {
                    f32::NEG_INFINITY
                }
            })
        })
        .collect();
    let mask = Tensor::from_vec(mask, (rows, 1, 1, positions), device)?;
    Ok((index, mask))
}

/// The device-agnostic suffix attention: each row's blocks gathered (`index`, from
/// [`padded_inputs`]) into `(rows, kv_heads, width * BLOCK_TOKENS, head_dim)`, positions past
/// each row's length masked with `-inf` by `mask`.
pub fn suffix_attention_padded(
    q: &Tensor,
    k_pool: &Tensor,
    v_pool: &Tensor,
    index: &Tensor,
    mask: &Tensor,
) -> Result<(Tensor, Tensor)> {
    let (rows, kv_heads, _, head_dim) = q.dims4()?;
    let positions = mask.dim(D::Minus1)?;
    let width = positions / BLOCK_TOKENS;
    let gather = |pool: &Tensor| -> Result<Tensor> {
        Ok(pool
            .index_select(index, 0)?
            .reshape((rows, width, kv_heads, BLOCK_TOKENS, head_dim))?
            .permute((0, 2, 1, 3, 4))?
            .contiguous()?
            .reshape((rows, kv_heads, positions, head_dim))?)
    };
    let (k, v) = (gather(k_pool)?, gather(v_pool)?);
    let scores = q
        .contiguous()?
        .matmul(&k.t()?)?
        .to_dtype(DType::F32)?
        .broadcast_add(mask)?;
    let (probs, lse) = softmax_with_lse(&scores)?;
    let out = probs
        .to_dtype(v.dtype())?
        .matmul(&v)?
        .to_dtype(DType::F32)?;
    Ok((out, lse))
}

/// Causal attention of a prefill chunk: queries `(chunk, kv_heads, group, head_dim)` at
/// positions `start..start + chunk` over keys/values `(kv_heads, start + chunk, head_dim)`;
/// `mask` `(chunk, start + chunk)` holds `-inf` above the diagonal. Returns
/// `(chunk, kv_heads * group * head_dim)` in the model dtype.
pub fn prefill_attention(q: &Tensor, k: &Tensor, v: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let (chunk, kv_heads, group, head_dim) = q.dims4()?;
    let total = k.dim(1)?;
    let rows =
        q.permute((1, 2, 0, 3))?
            .contiguous()?
            .reshape((kv_heads, group * chunk, head_dim))?;
    let (rows, m) = at_least_two_rows(rows, 1)?;
    let scores = column_major(&rows)?
        .matmul(&k.t()?)?
        .to_dtype(DType::F32)?
        .narrow(1, 0, m)?
        .reshape((kv_heads, group, chunk, total))?
        .broadcast_add(mask)?;
    let probs = candle_nn::ops::softmax_last_dim(&scores)?
        .reshape((kv_heads, group * chunk, total))?
        .to_dtype(v.dtype())?;
    let (probs, m) = at_least_two_rows(probs, 1)?;
    let out = probs.matmul(v)?.narrow(1, 0, m)?;
    Ok(out
        .reshape((kv_heads, group, chunk, head_dim))?
        .permute((2, 0, 1, 3))?
        .contiguous()?
        .reshape((chunk, kv_heads * group * head_dim))?)
}

/// Reference decode attention without prefix sharing: row `row` attends over the prompt's
/// keys followed by its own (each `(kv_heads, len, head_dim)`), with one plain softmax. Slow;
/// used by tests to check the shared-prefix path.
pub fn naive_decode_attention(
    q: &Tensor,
    prefix: (&Tensor, &Tensor),
    own: (&Tensor, &Tensor),
    row: usize,
) -> Result<Tensor> {
    let (_, kv_heads, group, head_dim) = q.dims4()?;
    let q = q.narrow(0, row, 1)?.reshape((kv_heads, group, head_dim))?;
    let k = Tensor::cat(&[prefix.0, own.0], 1)?;
    let v = Tensor::cat(&[prefix.1, own.1], 1)?;
    let scores = q.matmul(&k.t()?)?.to_dtype(DType::F32)?;
    let probs = candle_nn::ops::softmax_last_dim(&scores)?.to_dtype(v.dtype())?;
    Ok(probs
        .matmul(&v)?
        .to_dtype(DType::F32)?
        .reshape((1, kv_heads, group, head_dim))?)
}

/// The suffix part as one kernel: for each (row, key/value head), scores against exactly
/// the row's `lens[row]` keys, read block by block through its table, a softmax with
/// log-sum-exp, the weighted sum of values. Rows and heads run in parallel; inner loops use
/// eight independent accumulators so they vectorise, in a fixed order that depends only on
/// the head width and the row's length (not on which blocks hold its keys).
///
/// Inputs: queries `(rows, kv_heads, group, head_dim)` f32 contiguous; key and value pools
/// `(blocks, kv_heads, BLOCK_TOKENS, head_dim)` contiguous (f32 on the CPU; f32, bf16 or f16
/// on CUDA). Output `(rows, kv_heads, group, head_dim + 1)` f32: the attention output, then
/// the log-sum-exp.
///
/// The CPU code is the twin of the CUDA kernel (`kernels/suffix_attention.cu`, one warp per
/// query row, online softmax); tests compare the two.
pub struct SuffixAttention {
    /// Each row's length and block table.
    pub tables: SuffixTables,
    /// Pieces of this many blocks per row, merged by log-sum-exp (`None`: one piece). A row
    /// of one piece gives the same bits either way.
    pub split_blocks: Option<usize>,
}

impl SuffixAttention {
    /// `(rows, kv_heads, group, head_dim)` of the queries, and the pools' block count, once
    /// the pools are checked to hold blocks of [`BLOCK_TOKENS`] positions of the queries'
    /// key/value heads and width (the kernels index them with the queries' shape) and the
    /// tables to stay inside them.
    pub(crate) fn dims(
        &self,
        q: &Layout,
        k: &Layout,
        v: &Layout,
    ) -> candle_core::Result<((usize, usize, usize, usize), usize)> {
        let (rows, kv_heads, group, head_dim) = q.shape().dims4()?;
        let (blocks, pool_heads, block_tokens, pool_dim) = k.shape().dims4()?;
        if (pool_heads, block_tokens, pool_dim) != (kv_heads, BLOCK_TOKENS, head_dim)
            || v.shape() != k.shape()
        {
            candle_core::bail!(
                "suffix attention: pools {:?} and {:?} for queries {:?} (want (blocks, {kv_heads}, {BLOCK_TOKENS}, {head_dim}))",
                k.shape(),
                v.shape(),
                q.shape()
            );
        }
        self.tables.check(rows, blocks)?;
        Ok(((rows, kv_heads, group, head_dim), blocks))
    }

    /// Positions per piece of the rows.
    pub(crate) fn split_len(&self) -> usize {
        self.split_blocks.map_or(self.tables.width.max(1), |b| {
            b.min(self.tables.width.max(1))
        }) * BLOCK_TOKENS
    }

    /// Pieces of the longest row: the second dimension of the kernel's partial results
    /// (the CPU twin cuts each row by its own length instead).
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    pub(crate) fn splits(&self) -> usize {
        (self.tables.width.max(1) * BLOCK_TOKENS).div_ceil(self.split_len())
    }
}

/// Merges `n` attention states over disjoint positions, each `head_dim` outputs followed by
/// its log-sum-exp (`partials[s * (head_dim + 1)..]`), into `out` (same layout): weights
/// `exp(lse_s - max)`, in piece order. The CPU twin of `suffix_merge_splits` in
/// `kernels/suffix_attention.cu`.
pub(super) fn merge_pieces(partials: &[f32], n: usize, out: &mut [f32]) {
    let width = out.len();
    let head_dim = width - 1;
    let lse = |s: usize| partials[s * width + head_dim];
    let max = (0..n).map(lse).fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0f32;
    out[..head_dim].fill(0.0);
    for s in 0..n {
        let w = (lse(s) - max).exp();
        sum += w;
        for (o, x) in out[..head_dim]
            .iter_mut()
            .zip(&partials[s * width..s * width + head_dim])
        {
            *o += w * x;
        }
    }
    let inv = 1.0 / sum;
    for o in out[..head_dim].iter_mut() {
        *o *= inv;
    }
    out[head_dim] = max + sum.ln();
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = a.len() / 8;
    for c in 0..chunks {
        let (x, y) = (&a[c * 8..c * 8 + 8], &b[c * 8..c * 8 + 8]);
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = 0f32;
    for i in chunks * 8..a.len() {
        tail += a[i] * b[i];
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// One query's attention over the `scores.len()` positions whose keys and values `key(j)` and
/// `value(j)` give (`scores` is scratch): the output into `out[..head_dim]`, the log-sum-exp
/// into `out[head_dim]`. The CPU twins of the attention kernels all attend through this.
pub(super) fn attend<'a>(
    query: &[f32],
    key: impl Fn(usize) -> &'a [f32],
    value: impl Fn(usize) -> &'a [f32],
    scores: &mut [f32],
    out: &mut [f32],
) {
    let head_dim = query.len();
    let mut max = f32::NEG_INFINITY;
    for (j, s) in scores.iter_mut().enumerate() {
        *s = dot(query, key(j));
        max = max.max(*s);
    }
    let mut sum = 0f32;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    let acc = &mut out[..head_dim];
    acc.fill(0.0);
    for (j, &p) in scores.iter().enumerate() {
        for (a, x) in acc.iter_mut().zip(value(j)) {
            *a += p * x;
        }
    }
    let inv = 1.0 / sum;
    for a in acc.iter_mut() {
        *a *= inv;
    }
    out[head_dim] = max + sum.ln();
}

impl candle_core::CustomOp3 for SuffixAttention {
    fn name(&self) -> &'static str {
        "lcb-suffix-attention"
    }

    fn cpu_fwd(
        &self,
        q: &CpuStorage,
        q_l: &Layout,
        k: &CpuStorage,
        k_l: &Layout,
        v: &CpuStorage,
        v_l: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let ((rows, kv_heads, group, head_dim), _) = self.dims(q_l, k_l, v_l)?;
        let q = cpu_slice::<f32>("suffix attention", q, q_l)?;
        let k = cpu_slice::<f32>("suffix attention", k, k_l)?;
        let v = cpu_slice::<f32>("suffix attention", v, v_l)?;
        let t = &self.tables;
        let out_width = head_dim + 1;
        let block_len = BLOCK_TOKENS * head_dim;
        let split_len = self.split_len();
        let mut out = vec![0f32; rows * kv_heads * group * out_width];
        out.par_chunks_mut(group * out_width)
            .enumerate()
            .for_each(|(row_head, out)| {
                let (row, head) = (row_head / kv_heads, row_head % kv_heads);
                let len = t.lens[row].max(1);
                let table = &t.tables[row * t.width..(row + 1) * t.width];
                // Position j's key: block table[j / B], offset j % B, of this head.
                let at = |pool: &'_ [f32], j: usize| -> std::ops::Range<usize> {
                    let block = table[j / BLOCK_TOKENS] as usize;
                    let start =
                        (block * kv_heads + head) * block_len + (j % BLOCK_TOKENS) * head_dim;
                    debug_assert!(start + head_dim <= pool.len());
                    start..start + head_dim
                };
                let pieces = len.div_ceil(split_len);
                let mut scores = vec![0f32; len.min(split_len)];
                let mut partials = vec![0f32; if pieces > 1 { pieces * out_width } else { 0 }];
                for g in 0..group {
                    let qo = ((row * kv_heads + head) * group + g) * head_dim;
                    let query = &q[qo..qo + head_dim];
                    let out = &mut out[g * out_width..(g + 1) * out_width];
                    if pieces == 1 {
                        attend(query, |j| &k[at(k, j)], |j| &v[at(v, j)], &mut scores, out);
                        continue;
                    }
                    for (piece, partial) in partials.chunks_mut(out_width).enumerate() {
                        let start = piece * split_len;
                        let scores = &mut scores[..split_len.min(len - start)];
                        let (key, value) = (|j| &k[at(k, start + j)], |j| &v[at(v, start + j)]);
                        attend(query, key, value, scores, partial);
                    }
                    merge_pieces(&partials, pieces, out);
                }
            });
        Ok((
            CpuStorage::F32(out),
            Shape::from((rows, kv_heads, group, out_width)),
        ))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        q: &candle_core::CudaStorage,
        q_l: &Layout,
        k: &candle_core::CudaStorage,
        k_l: &Layout,
        v: &candle_core::CudaStorage,
        v_l: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        crate::model::cuda_ops::suffix_attention(self, q, q_l, k, k_l, v, v_l)
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;

    /// Random queries, block pools and ragged rows: 5 rows, 2 key/value heads, groups of 3;
    /// the rows' blocks interleaved through a pool of 12, in no particular order.
    fn inputs(device: &Device) -> (Tensor, Tensor, Tensor, SuffixTables) {
        inputs_shaped(device, 3, 40)
    }

    /// [`inputs`] with other group sizes and head dimensions.
    fn inputs_shaped(
        device: &Device,
        group: usize,
        head_dim: usize,
    ) -> (Tensor, Tensor, Tensor, SuffixTables) {
        let (rows, kv_heads, blocks) = (5, 2, 12);
        let lens = vec![1, 40, 17, 4, 33];
        let tables: Vec<Vec<u32>> =
            vec![vec![7], vec![0, 11, 3], vec![5, 9], vec![2], vec![10, 1, 6]];
        let refs: Vec<&[u32]> = tables.iter().map(|t| &t[..]).collect();
        let q = (Tensor::randn(0f32, 1.0, (rows, kv_heads, group, head_dim), device).unwrap()
            * 0.3)
            .unwrap();
        let shape = (blocks, kv_heads, BLOCK_TOKENS, head_dim);
        let k = Tensor::randn(0f32, 1.0, shape, device).unwrap();
        let v = Tensor::randn(0f32, 1.0, shape, device).unwrap();
        (q, k, v, SuffixTables::new(lens, &refs))
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    /// Row `row`'s own keys and values gathered into `(kv_heads, len, head_dim)`.
    fn own(pool: &Tensor, t: &SuffixTables, row: usize) -> Tensor {
        let table = &t.tables[row * t.width..(row + 1) * t.width];
        let index = Tensor::from_vec(table.to_vec(), table.len(), pool.device()).unwrap();
        let (_, kv_heads, _, head_dim) = pool.dims4().unwrap();
        pool.index_select(&index, 0)
            .unwrap()
            .transpose(0, 1)
            .unwrap()
            .contiguous()
            .unwrap()
            .reshape((kv_heads, table.len() * BLOCK_TOKENS, head_dim))
            .unwrap()
            .narrow(1, 0, t.lens[row])
            .unwrap()
    }

    #[test]
    fn cpu_kernel_matches_the_padded_path_and_dense_attention() {
        let dev = Device::Cpu;
        let (q, k, v, tables) = inputs(&dev);
        let (out, lse) = suffix_attention_kernel(&q, &k, &v, &tables).unwrap();
        let (index, mask) = padded_inputs(&tables, &dev).unwrap();
        let (want_out, want_lse) = suffix_attention_padded(&q, &k, &v, &index, &mask).unwrap();
        assert!(max_diff(&out, &want_out) < 1e-5);
        assert!(max_diff(&lse, &want_lse) < 1e-5);
        // Each row against its own keys gathered whole (the dense prompt path).
        for row in 0..tables.rows() {
            let (dense, dense_lse) = prefix_attention(
                &q.narrow(0, row, 1).unwrap(),
                &own(&k, &tables, row),
                &own(&v, &tables, row),
            )
            .unwrap();
            assert!(
                max_diff(&out.narrow(0, row, 1).unwrap(), &dense) < 1e-5,
                "row {row}"
            );
            assert!(
                max_diff(&lse.narrow(0, row, 1).unwrap(), &dense_lse) < 1e-5,
                "row {row}"
            );
        }
        // A row of length 1 attends to exactly its one key: output = that value.
        let first_value = v.narrow(0, 7, 1).unwrap().narrow(2, 0, 1).unwrap();
        let first_value = first_value.reshape((1, 2, 1, 40)).unwrap();
        let row0 = out.narrow(0, 0, 1).unwrap();
        assert!(max_diff(&row0, &first_value.broadcast_as(row0.shape()).unwrap()) < 1e-6);
    }

    #[test]
    fn a_rows_result_does_not_depend_on_which_blocks_hold_it() {
        let dev = Device::Cpu;
        let (q, k, v, tables) = inputs(&dev);
        let (out, lse) = suffix_attention_kernel(&q, &k, &v, &tables).unwrap();
        // Row 1's blocks copied elsewhere in a bigger pool: bit-identical results.
        let (kv_heads, head_dim) = (2, 40);
        let pad = Tensor::zeros((4, kv_heads, BLOCK_TOKENS, head_dim), DType::F32, &dev).unwrap();
        let k2 = Tensor::cat(&[&k, &pad], 0).unwrap();
        let v2 = Tensor::cat(&[&v, &pad], 0).unwrap();
        for (from, to) in [(0usize, 12usize), (11, 15), (3, 13)] {
            for t in [&k2, &v2] {
                let block = t.narrow(0, from, 1).unwrap().affine(1.0, 0.0).unwrap();
                t.slice_set(&block, 0, to).unwrap();
            }
        }
        let moved = SuffixTables::new(vec![40], &[&[12, 15, 13]]);
        let (o2, l2) =
            suffix_attention_kernel(&q.narrow(0, 1, 1).unwrap(), &k2, &v2, &moved).unwrap();
        assert_eq!(max_diff(&o2, &out.narrow(0, 1, 1).unwrap()), 0.0);
        assert_eq!(max_diff(&l2, &lse.narrow(0, 1, 1).unwrap()), 0.0);
        // Tables that point outside the pool are refused, not read.
        let bad = SuffixTables::new(vec![3], &[&[99]]);
        assert!(suffix_attention_kernel(&q.narrow(0, 0, 1).unwrap(), &k, &v, &bad).is_err());
        // So are pools of other heads or widths than the queries'.
        let one_head = k.narrow(1, 0, 1).unwrap().contiguous().unwrap();
        let err = suffix_attention_kernel(&q, &one_head, &one_head, &tables).unwrap_err();
        assert!(err.to_string().contains("pools"), "{err}");
        let narrow = k.narrow(3, 0, 32).unwrap().contiguous().unwrap();
        assert!(suffix_attention_kernel(&q, &narrow, &narrow, &tables).is_err());
    }

    #[test]
    fn rows_cut_into_pieces_give_the_whole_rows_attention() {
        let dev = Device::Cpu;
        let (q, k, v, tables) = inputs(&dev);
        let whole = suffix_attention_split(&q, &k, &v, &tables, None).unwrap();
        // Pieces of one block: rows of 40, 17 and 33 positions in 3, 2 and 3 pieces.
        for blocks in [1, 2] {
            let split = suffix_attention_split(&q, &k, &v, &tables, Some(blocks)).unwrap();
            assert!(max_diff(&split, &whole) < 1e-5, "{blocks} blocks per piece");
            // Rows of one piece (1 and 4 positions) are computed exactly as whole rows.
            for row in [0, 3] {
                let (a, b) = (split.get(row).unwrap(), whole.get(row).unwrap());
                assert_eq!(max_diff(&a, &b), 0.0, "row {row}");
            }
            // A cut row really is merged from pieces: not the same bits as whole.
            assert!(max_diff(&split.get(1).unwrap(), &whole.get(1).unwrap()) > 0.0);
        }
    }

    #[test]
    fn the_gpu_split_fills_the_gpu_only_when_rows_are_few_and_long() {
        // 512 rows × 8 key/value heads: 4,096 warps already.
        assert_eq!(gpu_split_blocks(512, 8, 2, 128), None);
        // Short rows are never cut, whatever the batch.
        assert_eq!(gpu_split_blocks(4, 8, 2, 2 * MIN_SPLIT_BLOCKS - 1), None);
        // A few long rows: pieces of at least MIN_SPLIT_BLOCKS, enough of them.
        for (rows, width) in [(1, 128), (8, 128), (8, 20), (100, 64), (3, 1000)] {
            let blocks = gpu_split_blocks(rows, 8, 2, width).expect("split");
            assert!(
                blocks >= MIN_SPLIT_BLOCKS && blocks < width,
                "{rows} × {width}"
            );
            let pieces = width.div_ceil(blocks);
            let warps = rows * 8 * pieces;
            // Rounding pieces to whole blocks of at least 4 loses at most a quarter.
            assert!(
                4 * warps >= 3 * GPU_WARPS || blocks == MIN_SPLIT_BLOCKS,
                "{rows} × {width}: {warps} warps"
            );
            let op = SuffixAttention {
                tables: SuffixTables {
                    lens: vec![width * BLOCK_TOKENS; rows],
                    tables: vec![0; rows * width],
                    width,
                },
                split_blocks: Some(blocks),
            };
            assert_eq!(op.splits(), pieces);
            assert_eq!(op.split_len(), blocks * BLOCK_TOKENS);
        }
    }

    #[test]
    fn merge_of_split_keys_equals_attention_over_all() {
        // Attention over 40 keys computed whole and as 23 + 17 merged by log-sum-exp.
        let (q, k, v, tables) = inputs(&Device::Cpu);
        let (k, v) = (own(&k, &tables, 1), own(&v, &tables, 1));
        let whole = prefix_attention(&q, &k, &v).unwrap();
        let part = |start, len| {
            let k = k.narrow(1, start, len).unwrap().contiguous().unwrap();
            let v = v.narrow(1, start, len).unwrap().contiguous().unwrap();
            prefix_attention(&q, &k, &v).unwrap()
        };
        let (first, rest) = (part(0, 23), part(23, 17));
        let merged = crate::model::fused::merge(&first.0, &first.1, &rest.0, &rest.1).unwrap();
        assert!(max_diff(&merged, &whole.0) < 1e-5);
    }

    /// The CUDA kernel against its CPU twin, in f32 and with bf16/f16 pools. Skips (with a
    /// message) where no GPU is present, as on CI.
    #[cfg(feature = "cuda")]
    #[test]
    fn cuda_kernel_matches_its_cpu_twin() {
        let gpu = match Device::new_cuda(0) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("no CUDA device ({e}); skipping the GPU side");
                return;
            }
        };
        // Groups of 3 (one chunk of query heads per warp, partly filled), 5 (two chunks), and
        // 200 dims (eight values per lane); rows whole, in pieces of one block (up to three
        // per row, merged by the second kernel) and as the GPU's own split chooses.
        let gpu_split = gpu_split_blocks(5, 2, 3, 3);
        assert_eq!(gpu_split, None, "rows of 3 blocks are never cut");
        for (group, head_dim, split) in [
            (3, 40, None),
            (5, 128, None),
            (2, 200, None),
            (3, 40, Some(1)),
            (5, 128, Some(2)),
            (2, 200, Some(1)),
        ] {
            let (q, k, v, tables) = inputs_shaped(&Device::Cpu, group, head_dim);
            // f32 sums in another order: about 1e-6 relative, on log-sum-exps up to ~10.
            for dtype in [DType::F32, DType::BF16, DType::F16] {
                let tolerance = 5e-5;
                // The CPU twin reads the same rounded values, in f32.
                let k = k.to_dtype(dtype).unwrap();
                let v = v.to_dtype(dtype).unwrap();
                let want = suffix_attention_split(
                    &q,
                    &k.to_dtype(DType::F32).unwrap(),
                    &v.to_dtype(DType::F32).unwrap(),
                    &tables,
                    split,
                )
                .unwrap();
                let got = suffix_attention_split(
                    &q.to_device(&gpu).unwrap(),
                    &k.to_device(&gpu).unwrap(),
                    &v.to_device(&gpu).unwrap(),
                    &tables,
                    split,
                )
                .unwrap()
                .to_device(&Device::Cpu)
                .unwrap();
                let shape = format!("{dtype:?}, group {group}, {head_dim} dims, split {split:?}");
                assert!(max_diff(&got, &want) < tolerance, "{shape}");
            }
        }
    }
}
