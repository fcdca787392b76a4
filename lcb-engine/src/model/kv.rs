//! Key/value cache storage: one [`KvPool`] of fixed-size blocks per device, holding every
//! prompt's keys and values (one copy per prompt, read by all its samples) and each sample's
//! own (suffix) keys and values. Who owns which block is the scheduler's business: here a
//! cache is just a block table, the list of blocks that hold positions `0..`, [`BLOCK_TOKENS`]
//! positions each.
//!
//! A sample's blocks are anywhere in the pool, each laid out `(kv_heads, BLOCK_TOKENS,
//! head_dim)`; the suffix-attention kernels read them through the table. A prompt's blocks
//! are one run of consecutive blocks, and that region is laid out `(kv_heads, run positions,
//! head_dim)` as a whole, so the prompt-attention matmul reads it in place as one strided
//! tensor, however many groups a step has (a gather per prompt and layer would copy every
//! prompt every step). The pool is preallocated on the model's device and written in place
//! (`scatter_set`): a decode step copies no cache.

use candle_core::{DType, Device, Tensor};

use crate::config::Qwen3Config;
use crate::error::{Error, Result};

/// Positions per block.
///
/// 16, as vLLM's default: a sample wastes half a block on average (8 tokens: under 3% of
/// a 300-token sample), a block of one head is `16 × head_dim` contiguous values (4 KiB at
/// 128 dims in bf16, whole cache lines for a warp), and a 2,048-token sample's table is 128
/// entries. Larger blocks waste more per sample; smaller ones make tables longer and reads
/// shorter for no gain in concurrency.
pub const BLOCK_TOKENS: usize = 16;

/// Blocks that hold `tokens` positions.
pub fn blocks_for(tokens: usize) -> usize {
    tokens.div_ceil(BLOCK_TOKENS)
}

/// A prompt's cache in the pool: its run of blocks and how many positions it holds.
#[derive(Debug, Clone, Copy)]
pub struct PromptKv<'a> {
    /// The prompt's blocks: consecutive, ascending.
    pub blocks: &'a [u32],
    /// Prompt length in tokens.
    pub len: usize,
}

impl PromptKv<'_> {
    /// The run's first block and length, checked: consecutive blocks that hold `len`.
    pub(crate) fn run(&self) -> Result<(usize, usize)> {
        let first = *self
            .blocks
            .first()
            .ok_or_else(|| Error::Invalid("a prompt cache without blocks".into()))?;
        let consecutive = self
            .blocks
            .iter()
            .enumerate()
            .all(|(i, &b)| b as usize == first as usize + i);
        if !consecutive || self.blocks.len() * BLOCK_TOKENS < self.len {
            return Err(Error::Invalid(format!(
                "a {}-token prompt needs one run of blocks, not {:?}",
                self.len, self.blocks
            )));
        }
        Ok((first as usize, self.blocks.len()))
    }
}

/// Where one new key/value (all heads) is written: head `h` goes to row `base + h * stride` of
/// the pool viewed as `(blocks * kv_heads * BLOCK_TOKENS, head_dim)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvPlace {
    base: usize,
    stride: usize,
}

/// The cache blocks of one device: for each layer, keys and values of shape
/// `(blocks, kv_heads, BLOCK_TOKENS, head_dim)`.
///
/// Block-major, so one block of one head is a contiguous `(BLOCK_TOKENS, head_dim)` run that
/// the suffix-attention kernels read whole, and a block is a unit that can be zeroed or
/// copied across all heads at once.
pub struct KvPool {
    layers: Vec<(Tensor, Tensor)>,
    blocks: usize,
    kv_heads: usize,
    head_dim: usize,
}

impl KvPool {
    /// Allocates `blocks` blocks.
    pub fn new(cfg: &Qwen3Config, blocks: usize, dtype: DType, device: &Device) -> Result<Self> {
        if blocks == 0 {
            return Err(Error::Invalid(
                "the KV pool needs at least one block".into(),
            ));
        }
        let shape = (blocks, cfg.num_key_value_heads, BLOCK_TOKENS, cfg.head_dim);
        let layers = (0..cfg.num_hidden_layers)
            .map(|_| {
                Ok((
                    Tensor::zeros(shape, dtype, device)?,
                    Tensor::zeros(shape, dtype, device)?,
                ))
            })
            .collect::<Result<_>>()?;
        Ok(KvPool {
            layers,
            blocks,
            kv_heads: cfg.num_key_value_heads,
            head_dim: cfg.head_dim,
        })
    }

    /// Number of blocks.
    pub fn blocks(&self) -> usize {
        self.blocks
    }

    /// Keys and values of `layer`: `(blocks, kv_heads, BLOCK_TOKENS, head_dim)`.
    pub fn layer(&self, layer: usize) -> (&Tensor, &Tensor) {
        let (k, v) = &self.layers[layer];
        (k, v)
    }

    /// Where position `pos` of the sample whose blocks are `table` lives.
    pub fn sample_place(&self, table: &[u32], pos: usize) -> Result<KvPlace> {
        let block = table.get(pos / BLOCK_TOKENS).copied().ok_or_else(|| {
            Error::Invalid(format!(
                "KV write at position {pos} past a table of {} blocks",
                table.len()
            ))
        })?;
        self.check_blocks(&[block])?;
        let block = block as usize;
        Ok(KvPlace {
            base: block * self.kv_heads * BLOCK_TOKENS + pos % BLOCK_TOKENS,
            stride: BLOCK_TOKENS,
        })
    }

    /// Where position `pos` of `prompt` lives.
    pub fn prompt_place(&self, prompt: PromptKv<'_>, pos: usize) -> Result<KvPlace> {
        let (first, count) = self.prompt_run(prompt)?;
        if pos >= count * BLOCK_TOKENS {
            return Err(Error::Invalid(format!(
                "KV write at prompt position {pos} past a run of {count} blocks"
            )));
        }
        Ok(KvPlace {
            base: first * self.kv_heads * BLOCK_TOKENS + pos,
            stride: count * BLOCK_TOKENS,
        })
    }

    fn prompt_run(&self, prompt: PromptKv<'_>) -> Result<(usize, usize)> {
        let (first, count) = prompt.run()?;
        if first + count > self.blocks {
            return Err(Error::Invalid(format!(
                "a prompt's blocks {first}..{} outside the pool's {}",
                first + count,
                self.blocks
            )));
        }
        Ok((first, count))
    }

    /// Fails naming the first of `blocks` that is not in the pool.
    fn check_blocks(&self, blocks: &[u32]) -> Result<()> {
        match blocks.iter().find(|&&b| b as usize >= self.blocks) {
            Some(bad) => Err(Error::Invalid(format!(
                "block {bad} is outside the pool's {} blocks",
                self.blocks
            ))),
            None => Ok(()),
        }
    }

    /// The scatter index that writes row `i`'s new key/value (all heads) to `places[i]`:
    /// shape `(rows * kv_heads, head_dim)`, for the pool viewed as
    /// `(blocks * kv_heads * BLOCK_TOKENS, head_dim)`. Built once per step, used by every
    /// layer.
    pub fn write_index(&self, places: &[KvPlace], device: &Device) -> Result<Tensor> {
        let mut index = Vec::with_capacity(places.len() * self.kv_heads * self.head_dim);
        for place in places {
            for h in 0..self.kv_heads {
                let row = (place.base + h * place.stride) as u32;
                index.extend(std::iter::repeat_n(row, self.head_dim));
            }
        }
        Ok(Tensor::from_vec(
            index,
            (places.len() * self.kv_heads, self.head_dim),
            device,
        )?)
    }

    /// The keys and values of `prompt` in `layer`, each a `(kv_heads, len, head_dim)` view of
    /// the pool (no copy).
    pub fn prompt(&self, layer: usize, prompt: PromptKv<'_>) -> Result<(Tensor, Tensor)> {
        let (k, v) = self.prompt_region(layer, prompt)?;
        Ok((k.narrow(1, 0, prompt.len)?, v.narrow(1, 0, prompt.len)?))
    }

    /// The whole run of `prompt` in `layer`: contiguous `(kv_heads, run positions, head_dim)`
    /// views.
    fn prompt_region(&self, layer: usize, prompt: PromptKv<'_>) -> Result<(Tensor, Tensor)> {
        let (first, count) = self.prompt_run(prompt)?;
        let per_block = self.kv_heads * BLOCK_TOKENS;
        let rows = self.blocks * per_block;
        let (pk, pv) = &self.layers[layer];
        let view = |t: &Tensor| -> Result<Tensor> {
            Ok(t.reshape((rows, self.head_dim))?
                .narrow(0, first * per_block, count * per_block)?
                .reshape((self.kv_heads, count * BLOCK_TOKENS, self.head_dim))?)
        };
        Ok((view(pk)?, view(pv)?))
    }

    /// Copies the first `len` positions of prompt `from` into prompt `to`, every layer (a
    /// prompt admitted beside a resident prompt of its family takes their shared head).
    pub fn copy_prompt_head(&self, from: PromptKv<'_>, to: PromptKv<'_>, len: usize) -> Result<()> {
        if len > from.len || len > to.len {
            return Err(Error::Invalid(format!(
                "cannot copy {len} positions between prompts of {} and {}",
                from.len, to.len
            )));
        }
        for layer in 0..self.layers.len() {
            let (fk, fv) = self.prompt_region(layer, from)?;
            let (tk, tv) = self.prompt_region(layer, to)?;
            tk.slice_set(&fresh_copy(&fk.narrow(1, 0, len)?)?, 1, 0)?;
            tv.slice_set(&fresh_copy(&fv.narrow(1, 0, len)?)?, 1, 0)?;
        }
        Ok(())
    }

    /// Writes new keys and values `(rows, kv_heads, head_dim)` of `layer` at `index` (from
    /// [`KvPool::write_index`]).
    pub fn write(&self, layer: usize, k: &Tensor, v: &Tensor, index: &Tensor) -> Result<()> {
        let rows = self.blocks * self.kv_heads * BLOCK_TOKENS;
        let (pk, pv) = &self.layers[layer];
        let flat = |t: &Tensor| t.reshape((rows, self.head_dim));
        let src = |t: &Tensor| t.reshape(index.dims()).and_then(|t| t.contiguous());
        flat(pk)?.scatter_set(index, &src(k)?, 0)?;
        flat(pv)?.scatter_set(index, &src(v)?, 0)?;
        Ok(())
    }

    /// A sample's block table as an index tensor, for [`KvPool::gather`].
    pub fn table_tensor(&self, table: &[u32], device: &Device) -> Result<Tensor> {
        self.check_blocks(table)?;
        Ok(Tensor::from_vec(table.to_vec(), table.len(), device)?)
    }

    /// The first `len` positions of the sample whose blocks are `table` (from
    /// [`KvPool::table_tensor`]), keys and values of `layer`, each copied into one contiguous
    /// `(kv_heads, len, head_dim)` tensor (the reference path of tests).
    pub fn gather(&self, layer: usize, table: &Tensor, len: usize) -> Result<(Tensor, Tensor)> {
        let count = table.dim(0)?;
        let (pk, pv) = &self.layers[layer];
        let read = |t: &Tensor| -> Result<Tensor> {
            Ok(t.index_select(table, 0)?
                .transpose(0, 1)?
                .contiguous()?
                .reshape((self.kv_heads, count * BLOCK_TOKENS, self.head_dim))?
                .narrow(1, 0, len)?)
        };
        Ok((read(pk)?, read(pv)?))
    }

    /// Zeroes `blocks`, every layer.
    ///
    /// The padded attention path reads whole blocks and masks the positions past a cache's
    /// length; a mask hides finite garbage (its weight is exactly zero) but not NaN or
    /// infinity (`0 × NaN` is NaN). Blocks a sample or prompt wrote non-finite values into are
    /// cleared before anyone else gets them, so one question's overflow cannot fail the
    /// questions that reuse its memory later.
    pub fn clear_blocks(&self, blocks: &[u32]) -> Result<()> {
        self.check_blocks(blocks)?;
        let Some((k0, _)) = self.layers.first() else {
            return Ok(());
        };
        let zeros = Tensor::zeros(
            (1, self.kv_heads, BLOCK_TOKENS, self.head_dim),
            k0.dtype(),
            k0.device(),
        )?;
        for &b in blocks {
            for (k, v) in &self.layers {
                k.slice_set(&zeros, 0, b as usize)?;
                v.slice_set(&zeros, 0, b as usize)?;
            }
        }
        Ok(())
    }
}

/// A copy of `t` in new storage holding only its elements.
///
/// `slice_set` refuses a source sharing the destination's storage; `contiguous` would return
/// a view when `t` happens to be contiguous and `Tensor::copy` clones the whole underlying
/// buffer, so an exact identity map (`x * 1 + 0`) does the copy.
pub(crate) fn fresh_copy(t: &Tensor) -> Result<Tensor> {
    Ok(t.affine(1.0, 0.0)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Qwen3Config {
        Qwen3Config {
            num_hidden_layers: 2,
            num_key_value_heads: 2,
            head_dim: 4,
            ..Qwen3Config::qwen3_0_6b()
        }
    }

    /// Key of position p, head h, dim d = 100 p + 10 h + d.
    fn keys(positions: usize, dev: &Device) -> Tensor {
        let k: Vec<f32> = (0..positions)
            .flat_map(|p| {
                (0..2).flat_map(move |h| (0..4).map(move |d| (100 * p + 10 * h + d) as f32))
            })
            .collect();
        Tensor::from_vec(k, (positions, 2, 4), dev).unwrap()
    }

    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    }

    #[test]
    fn a_samples_writes_land_where_its_table_reads_them() {
        let dev = Device::Cpu;
        let pool = KvPool::new(&tiny(), 6, DType::F32, &dev).unwrap();
        // A 20-position sample in blocks 4 and 1 (out of order, as a pool hands them out).
        let table = [4u32, 1];
        let places: Vec<KvPlace> = (0..20)
            .map(|p| pool.sample_place(&table, p).unwrap())
            .collect();
        let index = pool.write_index(&places, &dev).unwrap();
        let k = keys(20, &dev);
        pool.write(1, &k, &k.neg().unwrap(), &index).unwrap();
        let (gk, gv) = pool
            .gather(1, &pool.table_tensor(&table, &dev).unwrap(), 20)
            .unwrap();
        let want = k.transpose(0, 1).unwrap();
        assert_eq!(values(&gk), values(&want));
        assert_eq!(values(&gv), values(&want.neg().unwrap()));
        // Layer 0 was not touched.
        assert_eq!(
            values(&pool.layer(0).0.abs().unwrap().sum_all().unwrap()),
            [0.0]
        );
        // Writing past the table, or outside the pool, is an error.
        assert!(pool.sample_place(&table, 32).is_err());
        assert!(pool.sample_place(&[9], 0).is_err());
        assert!(pool.table_tensor(&[6], &dev).is_err());
    }

    #[test]
    fn a_prompts_run_is_read_in_place_and_its_head_copies_to_another() {
        let dev = Device::Cpu;
        let pool = KvPool::new(&tiny(), 8, DType::F32, &dev).unwrap();
        // A 20-token prompt in blocks 5 and 6; a sample's block 0 beside it.
        let run = [5u32, 6];
        let prompt = PromptKv {
            blocks: &run,
            len: 20,
        };
        let places: Vec<KvPlace> = (0..20)
            .map(|p| pool.prompt_place(prompt, p).unwrap())
            .collect();
        let index = pool.write_index(&places, &dev).unwrap();
        let k = keys(20, &dev);
        pool.write(0, &k, &k.neg().unwrap(), &index).unwrap();
        let (pk, pv) = pool.prompt(0, prompt).unwrap();
        assert_eq!(pk.dims(), &[2, 20, 4]);
        let want = k.transpose(0, 1).unwrap();
        assert_eq!(values(&pk), values(&want));
        assert_eq!(values(&pv), values(&want.neg().unwrap()));
        // Its first 18 positions copied to a prompt in blocks 2..=4, which reads them back.
        let other = [2u32, 3, 4];
        let to = PromptKv {
            blocks: &other,
            len: 40,
        };
        pool.copy_prompt_head(prompt, to, 18).unwrap();
        let (ck, _) = pool
            .prompt(
                0,
                PromptKv {
                    blocks: &other,
                    len: 18,
                },
            )
            .unwrap();
        assert_eq!(values(&ck), values(&want.narrow(1, 0, 18).unwrap()));
        // A prompt's blocks must be one run, inside the pool.
        let scattered = PromptKv {
            blocks: &[1, 3],
            len: 20,
        };
        assert!(pool.prompt(0, scattered).is_err());
        assert!(pool.prompt_place(scattered, 0).is_err());
        let outside = PromptKv {
            blocks: &[7, 8],
            len: 20,
        };
        assert!(pool.prompt(0, outside).is_err());
        assert!(pool.prompt_place(prompt, 32).is_err());
    }
}
