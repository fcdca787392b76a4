//! Decode rows' attention over their prompt as one kernel, merged there with each row's own
//! attention: the GPU path of a decode step's attention (with `LCB_CUDA_KERNELS=1`), two
//! launches per layer (this and the suffix kernel) where the matmul path takes some thirty
//! ops and writes every score.
//!
//! The kernel (`kernels/prompt_attention.cu`) takes the rows in tiles that share a prompt:
//! each tile loads the prompt's keys and values once per 32 positions for all the query
//! heads of its rows (up to 16 queries), scores them with an online softmax (no score
//! matrix), and merges the result with the row's own state (the suffix kernel's packed
//! output) by log-sum-exp. Its CPU twin computes the same with [`super::attention::attend`]
//! and `fused::merge_state`; on the CPU the engine keeps the matmul path
//! (faster there), and the tests run this one to check it against both.

use candle_core::{CpuStorage, DType, Layout, Shape, Storage, Tensor};
use rayon::prelude::*;

use super::attention::attend;
use super::fused::merge_state;
use super::kv::BLOCK_TOKENS;
use super::DecodeGroup;
use crate::error::{Error, Result};
use crate::op_inputs::cpu_slice;

/// Row slots per tile entry (the kernel's TILE_ROWS).
pub(crate) const TILE_ROWS: usize = 16;
/// Queries one kernel block holds (the kernel's QUERIES).
pub(crate) const TILE_QUERIES: usize = 16;
/// Words per tile entry: first block, run length, prompt length, then the rows.
pub(crate) const TILE_WORDS: usize = 3 + TILE_ROWS;
/// Rows without a row index in a tile entry.
pub(crate) const NO_ROW: u32 = u32::MAX;
/// The largest head dimension the kernel takes.
pub(crate) const MAX_HEAD_DIM: usize = 128;

/// A step's decode rows in tiles of rows that share a prompt, for the kernel.
#[derive(Debug, Clone, Default)]
pub struct PromptTiles {
    /// `TILE_WORDS` per tile.
    pub entries: Vec<u32>,
    /// Rows per tile: as many as fill [`TILE_QUERIES`] queries with the model's group size.
    pub rows_per_tile: usize,
    /// Each row's prompt: `(first block, run blocks, length)`.
    row_prompts: Vec<Option<(u32, u32, u32)>>,
}

impl PromptTiles {
    /// Tiles for `groups` of a step with `rows` decode rows, `group` query heads per
    /// key/value head.
    pub fn new(groups: &[DecodeGroup<'_>], rows: usize, group: usize) -> Result<Self> {
        if group == 0 || group > TILE_QUERIES {
            return Err(Error::Invalid(format!(
                "the prompt-attention kernel takes up to {TILE_QUERIES} query heads per key/value head, not {group}"
            )));
        }
        let rows_per_tile = (TILE_QUERIES / group).min(TILE_ROWS);
        let mut entries = Vec::new();
        let mut row_prompts = vec![None; rows];
        for g in groups {
            let (first, count) = g.prefix.run()?;
            let prompt = (first as u32, count as u32, g.prefix.len as u32);
            for chunk in g.rows.chunks(rows_per_tile) {
                entries.extend([prompt.0, prompt.1, prompt.2]);
                for slot in 0..TILE_ROWS {
                    entries.push(chunk.get(slot).map_or(NO_ROW, |&r| r as u32));
                }
                for &r in chunk {
                    let place = row_prompts.get_mut(r).ok_or_else(|| {
                        Error::Invalid(format!("decode row {r} of {rows} in a group"))
                    })?;
                    *place = Some(prompt);
                }
            }
        }
        Ok(PromptTiles {
            entries,
            rows_per_tile,
            row_prompts,
        })
    }

    /// Number of tiles.
    pub fn tiles(&self) -> usize {
        self.entries.len() / TILE_WORDS
    }
}

/// Attention of the decode rows' queries `q` `(rows, kv_heads, group, head_dim)` over their
/// prompts in the block pools, merged with `own` (the suffix kernel's packed output,
/// `(rows, kv_heads, group, head_dim + 1)`): `(rows, kv_heads, group, head_dim)` f32.
pub fn prompt_attention_merged(
    q: &Tensor,
    k_pool: &Tensor,
    v_pool: &Tensor,
    tiles: &PromptTiles,
    own: &Tensor,
) -> Result<Tensor> {
    let op = PromptAttention {
        tiles: tiles.clone(),
        own: own.contiguous()?,
    };
    let q = q.to_dtype(DType::F32)?.contiguous()?;
    Ok(q.apply_op3_no_bwd(&k_pool.contiguous()?, &v_pool.contiguous()?, &op)?)
}

/// The op of [`prompt_attention_merged`] on `(q, k pool, v pool)`.
pub(crate) struct PromptAttention {
    pub(crate) tiles: PromptTiles,
    /// The rows' own states, `(rows, kv_heads, group, head_dim + 1)` f32 contiguous.
    pub(crate) own: Tensor,
}

impl PromptAttention {
    /// `(rows, kv_heads, group, head_dim)`, checked against the pools and `own`.
    pub(crate) fn dims(
        &self,
        q_l: &Layout,
        k_l: &Layout,
        v_l: &Layout,
    ) -> candle_core::Result<(usize, usize, usize, usize)> {
        let (rows, kv_heads, group, head_dim) = q_l.shape().dims4()?;
        let (_, pool_heads, block_tokens, pool_dim) = k_l.shape().dims4()?;
        if block_tokens != BLOCK_TOKENS
            || pool_heads != kv_heads
            || pool_dim != head_dim
            || v_l.shape() != k_l.shape()
        {
            candle_core::bail!(
                "prompt attention: queries {:?} against pools {:?}, {:?}",
                q_l.shape(),
                k_l.shape(),
                v_l.shape()
            );
        }
        if self.own.dims() != [rows, kv_heads, group, head_dim + 1] {
            candle_core::bail!(
                "prompt attention: own states {:?} for queries {:?}",
                self.own.dims(),
                q_l.shape()
            );
        }
        if self.tiles.row_prompts.len() != rows || self.tiles.rows_per_tile * group > TILE_QUERIES {
            candle_core::bail!("prompt attention: tiles built for other rows");
        }
        Ok((rows, kv_heads, group, head_dim))
    }

    /// Checks every tile's prompt run lies inside a pool of `blocks` blocks.
    pub(crate) fn check_runs(&self, blocks: usize) -> candle_core::Result<()> {
        for tile in self.tiles.entries.chunks(TILE_WORDS) {
            let (first, count, len) = (tile[0] as usize, tile[1] as usize, tile[2] as usize);
            if first + count > blocks || len > count * BLOCK_TOKENS {
                candle_core::bail!(
                    "prompt attention: a {len}-token prompt in blocks {first}..{} of a pool of {blocks}",
                    first + count
                );
            }
        }
        Ok(())
    }
}

impl candle_core::CustomOp3 for PromptAttention {
    fn name(&self) -> &'static str {
        "lcb-prompt-attention"
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
        let (rows, kv_heads, group, head_dim) = self.dims(q_l, k_l, v_l)?;
        self.check_runs(k_l.shape().dims()[0])?;
        let slice = |s, l| cpu_slice::<f32>("prompt attention", s, l);
        let (q, k, v) = (slice(q, q_l)?, slice(k, k_l)?, slice(v, v_l)?);
        let (own_storage, own_l) = self.own.storage_and_layout();
        let own = match &*own_storage {
            Storage::Cpu(s) => slice(s, own_l)?,
            _ => candle_core::bail!("prompt attention: own states on another device"),
        };
        let per_row = kv_heads * group * head_dim;
        let mut out = vec![0f32; rows * per_row];
        out.par_chunks_mut(per_row)
            .enumerate()
            .for_each(|(row, out)| {
                let Some((first, count, len)) = self.tiles.row_prompts[row] else {
                    return;
                };
                let (first, count, len) = (first as usize, count as usize, len as usize);
                let mut scores = vec![0f32; len];
                let mut state = vec![0f32; head_dim + 1];
                for head in 0..kv_heads {
                    // Position j of this head: the run is laid out (kv_heads, count * B, d).
                    let base =
                        (first * kv_heads * BLOCK_TOKENS + head * count * BLOCK_TOKENS) * head_dim;
                    let at = |j: usize| base + j * head_dim..base + (j + 1) * head_dim;
                    for g in 0..group {
                        let index = (row * kv_heads + head) * group + g;
                        let query = &q[index * head_dim..(index + 1) * head_dim];
                        let mine = &own[index * (head_dim + 1)..(index + 1) * (head_dim + 1)];
                        let out = &mut out[(head * group + g) * head_dim..][..head_dim];
                        if len == 0 {
                            // No prompt keys: the row's own state alone, as the kernel gives.
                            out.copy_from_slice(&mine[..head_dim]);
                            continue;
                        }
                        attend(query, |j| &k[at(j)], |j| &v[at(j)], &mut scores, &mut state);
                        merge_state(
                            out,
                            &state[..head_dim],
                            state[head_dim],
                            &mine[..head_dim],
                            mine[head_dim],
                        );
                    }
                }
            });
        Ok((
            CpuStorage::F32(out),
            Shape::from((rows, kv_heads, group, head_dim)),
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
        super::cuda_ops::prompt_attention(self, q, q_l, k, k_l, v, v_l)
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;
    use crate::model::attention::prefix_attention;
    use crate::model::fused::merge;
    use crate::model::kv::PromptKv;

    fn random(shape: &[usize], seed: u64, scale: f32, device: &Device) -> Tensor {
        let mut rng = crate::rng::SplitMix64::new(seed);
        let n = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.next_symmetric() * scale).collect();
        Tensor::from_vec(v, shape, device).unwrap()
    }

    /// Three prompts in runs of a pool (lengths not multiples of 32, one shorter than a
    /// step of keys), rows interleaved between them, more rows than a tile holds.
    struct Case {
        q: Tensor,
        k: Tensor,
        v: Tensor,
        own: Tensor,
        runs: Vec<Vec<u32>>,
        lens: Vec<usize>,
        groups: Vec<Vec<usize>>,
    }

    fn case(group: usize) -> Case {
        let (kv_heads, d, rows) = (2, 128, 23);
        let dev = Device::Cpu;
        let runs: Vec<Vec<u32>> = vec![(1..6).collect(), (7..9).collect(), (10..11).collect()];
        let lens = vec![77, 32, 9];
        let groups: Vec<Vec<usize>> = vec![
            (0..rows).filter(|r| r % 3 == 0).collect(),
            (0..rows).filter(|r| r % 3 == 1).collect(),
            (0..rows).filter(|r| r % 3 == 2).collect(),
        ];
        let scale = 1.0 / (d as f32).sqrt();
        Case {
            q: (random(&[rows, kv_heads, group, d], 1, 1.0, &dev) * f64::from(scale)).unwrap(),
            k: random(&[12, kv_heads, BLOCK_TOKENS, d], 2, 2.0, &dev),
            v: random(&[12, kv_heads, BLOCK_TOKENS, d], 3, 1.0, &dev),
            own: random(&[rows, kv_heads, group, d + 1], 4, 3.0, &dev),
            runs,
            lens,
            groups,
        }
    }

    impl Case {
        fn decode_groups(&self) -> Vec<DecodeGroup<'_>> {
            self.runs
                .iter()
                .zip(&self.lens)
                .zip(&self.groups)
                .map(|((run, &len), rows)| DecodeGroup {
                    prefix: PromptKv { blocks: run, len },
                    rows: rows.clone(),
                })
                .collect()
        }

        /// The engine's matmul path: each group's rows against its prompt, then the merge.
        fn reference(&self) -> Tensor {
            let (rows, kv_heads, group, d) = self.q.dims4().unwrap();
            let mut out = vec![None; rows];
            for ((run, &len), members) in self.runs.iter().zip(&self.lens).zip(&self.groups) {
                let region = |pool: &Tensor| {
                    let per_block = kv_heads * BLOCK_TOKENS;
                    pool.reshape((12 * per_block, d))
                        .unwrap()
                        .narrow(0, run[0] as usize * per_block, run.len() * per_block)
                        .unwrap()
                        .reshape((kv_heads, run.len() * BLOCK_TOKENS, d))
                        .unwrap()
                        .narrow(1, 0, len)
                        .unwrap()
                };
                for &r in members {
                    let q = self.q.narrow(0, r, 1).unwrap();
                    let (o, lse) =
                        prefix_attention(&q, &region(&self.k), &region(&self.v)).unwrap();
                    let own = self.own.narrow(0, r, 1).unwrap();
                    let merged = merge(
                        &o,
                        &lse,
                        &own.narrow(3, 0, d).unwrap(),
                        &own.narrow(3, d, 1).unwrap(),
                    )
                    .unwrap();
                    out[r] = Some(merged);
                }
            }
            let out: Vec<Tensor> = out.into_iter().map(|t| t.unwrap()).collect();
            Tensor::cat(&out, 0)
                .unwrap()
                .reshape((rows, kv_heads, group, d))
                .unwrap()
        }
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        let a = a.to_device(&Device::Cpu).unwrap();
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
    }

    #[test]
    fn the_twin_matches_the_matmul_path_over_tiles_of_interleaved_prompts() {
        for group in [1, 2, 3, 8] {
            let c = case(group);
            let tiles = PromptTiles::new(&c.decode_groups(), 23, group).unwrap();
            assert_eq!(tiles.rows_per_tile, 16 / group);
            // Groups of 8 rows: several tiles per prompt from two query heads up.
            assert_eq!(tiles.tiles(), 3 * 8usize.div_ceil(16 / group));
            let got = prompt_attention_merged(&c.q, &c.k, &c.v, &tiles, &c.own).unwrap();
            let diff = max_diff(&got, &c.reference());
            assert!(diff < 5e-5, "group {group}: {diff}");
        }
        // A prompt outside the pool is refused.
        let c = case(2);
        let far = [30u32, 31];
        let mut groups = c.decode_groups();
        groups[1].prefix = PromptKv {
            blocks: &far,
            len: 20,
        };
        let tiles = PromptTiles::new(&groups, 23, 2).unwrap();
        let err = prompt_attention_merged(&c.q, &c.k, &c.v, &tiles, &c.own).unwrap_err();
        assert!(err.to_string().contains("pool of 12"), "{err}");
        assert!(PromptTiles::new(&groups, 23, 17).is_err());
    }

    /// The CUDA kernel against its CPU twin, in f32 and with bf16/f16 pools. Skips (with a
    /// message) where no GPU is present, as on CI.
    #[cfg(feature = "cuda")]
    #[test]
    fn cuda_prompt_attention_kernel_matches_its_cpu_twin() {
        let gpu = match Device::new_cuda(0) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("no CUDA device ({e}); skipping the GPU side");
                return;
            }
        };
        for group in [2, 3] {
            let c = case(group);
            let tiles = PromptTiles::new(&c.decode_groups(), 23, group).unwrap();
            for dtype in [DType::F32, DType::BF16, DType::F16] {
                // The twin reads the same rounded values, in f32.
                let (k, v) = (c.k.to_dtype(dtype).unwrap(), c.v.to_dtype(dtype).unwrap());
                let want = prompt_attention_merged(
                    &c.q,
                    &k.to_dtype(DType::F32).unwrap(),
                    &v.to_dtype(DType::F32).unwrap(),
                    &tiles,
                    &c.own,
                )
                .unwrap();
                let on = |t: &Tensor| t.to_device(&gpu).unwrap();
                let got = prompt_attention_merged(&on(&c.q), &on(&k), &on(&v), &tiles, &on(&c.own))
                    .unwrap();
                let diff = max_diff(&got, &want);
                // As the twin against the matmul path: sums in another order, states up to ~3.
                assert!(diff < 5e-5, "group {group} {dtype:?}: {diff}");
            }
        }
    }
}
