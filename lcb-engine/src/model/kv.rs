//! Key/value cache storage: one [`KvPool`] of fixed-size blocks per device, holding every
//! prompt's keys and values (one copy per prompt, read by all its samples) and each sample's
//! own (suffix) keys and values. Who owns which block is the scheduler's business: here a
//! cache is just a block table, the list of blocks that hold positions `0..`, [`BLOCK_TOKENS`]
//! positions each.
//!
//! The pool is preallocated on the model's device and written in place (`scatter_set`), so a
//! decode step never copies a sample's cache; a prompt's keys are gathered into one
//! contiguous tensor per layer for the prompt-attention matmul (read once for all its
//! samples).

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

/// A prompt's cache in the pool: its blocks and how many positions they hold.
#[derive(Debug, Clone, Copy)]
pub struct PromptKv<'a> {
    /// The prompt's block table (position `p` lives in `blocks[p / BLOCK_TOKENS]`).
    pub blocks: &'a [u32],
    /// Prompt length in tokens.
    pub len: usize,
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

    /// The scatter index that writes row `i`'s new key/value (all heads) to position
    /// `writes[i].1` of the cache whose block table is `writes[i].0`: shape
    /// `(rows * kv_heads, head_dim)`, for the pool viewed as
    /// `(blocks * kv_heads * BLOCK_TOKENS, head_dim)`. Built once per step, used by every
    /// layer.
    pub fn write_index(&self, writes: &[(&[u32], usize)], device: &Device) -> Result<Tensor> {
        let mut index = Vec::with_capacity(writes.len() * self.kv_heads * self.head_dim);
        for &(table, pos) in writes {
            let block = table.get(pos / BLOCK_TOKENS).copied().ok_or_else(|| {
                Error::Invalid(format!(
                    "KV write at position {pos} past a table of {} blocks",
                    table.len()
                ))
            })? as usize;
            if block >= self.blocks {
                return Err(Error::Invalid(format!(
                    "KV write to block {block} of {}",
                    self.blocks
                )));
            }
            for h in 0..self.kv_heads {
                let row = ((block * self.kv_heads + h) * BLOCK_TOKENS + pos % BLOCK_TOKENS) as u32;
                index.extend(std::iter::repeat_n(row, self.head_dim));
            }
        }
        Ok(Tensor::from_vec(
            index,
            (writes.len() * self.kv_heads, self.head_dim),
            device,
        )?)
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

    /// A block table as an index tensor, for [`KvPool::gather`].
    pub fn table_tensor(&self, table: &[u32], device: &Device) -> Result<Tensor> {
        if let Some(&bad) = table.iter().find(|&&b| b as usize >= self.blocks) {
            return Err(Error::Invalid(format!(
                "block {bad} is outside the pool's {}",
                self.blocks
            )));
        }
        Ok(Tensor::from_vec(table.to_vec(), table.len(), device)?)
    }

    /// The first `len` positions of the cache whose blocks are `table` (from
    /// [`KvPool::table_tensor`]), keys and values of `layer`, each as one contiguous
    /// `(kv_heads, len, head_dim)` tensor.
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
        if let Some(&bad) = blocks.iter().find(|&&b| b as usize >= self.blocks) {
            return Err(Error::Invalid(format!(
                "KV clear of block {bad} of {}",
                self.blocks
            )));
        }
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

    /// Copies whole blocks, every layer: `(from, to)` pairs, in order (a prompt that shares
    /// its head with a resident prompt copies the blocks holding it).
    pub fn copy_blocks(&self, pairs: &[(u32, u32)]) -> Result<()> {
        for &(from, to) in pairs {
            if from.max(to) as usize >= self.blocks {
                return Err(Error::Invalid(format!(
                    "KV copy between blocks {from} and {to} of {}",
                    self.blocks
                )));
            }
            if from == to {
                continue;
            }
            for (k, v) in &self.layers {
                for t in [k, v] {
                    let src = fresh_copy(&t.narrow(0, from as usize, 1)?)?;
                    t.slice_set(&src, 0, to as usize)?;
                }
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

    #[test]
    fn writes_land_where_gathers_read_them() {
        let dev = Device::Cpu;
        let pool = KvPool::new(&tiny(), 6, DType::F32, &dev).unwrap();
        // A 20-position cache in blocks 4 and 1 (out of order, as a pool hands them out).
        let table = [4u32, 1];
        let positions: Vec<usize> = (0..20).collect();
        let writes: Vec<(&[u32], usize)> = positions.iter().map(|&p| (&table[..], p)).collect();
        let index = pool.write_index(&writes, &dev).unwrap();
        // Key of position p, head h, dim d = 100 p + 10 h + d; values negated.
        let k: Vec<f32> = (0..20)
            .flat_map(|p| {
                (0..2).flat_map(move |h| (0..4).map(move |d| (100 * p + 10 * h + d) as f32))
            })
            .collect();
        let k = Tensor::from_vec(k, (20, 2, 4), &dev).unwrap();
        let v = k.neg().unwrap();
        pool.write(1, &k, &v, &index).unwrap();
        let (gk, gv) = pool
            .gather(1, &pool.table_tensor(&table, &dev).unwrap(), 20)
            .unwrap();
        assert_eq!(gk.dims(), &[2, 20, 4]);
        let want = k.transpose(0, 1).unwrap();
        assert_eq!(
            gk.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            want.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        );
        assert_eq!(
            gv.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            want.neg()
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        );
        // Layer 0 was not touched.
        let (k0, _) = pool.layer(0);
        assert_eq!(
            k0.abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap(),
            0.0
        );
        // Copying block 4 to 2 and clearing 4: the cache read through [2, 1] is unchanged.
        pool.copy_blocks(&[(4, 2)]).unwrap();
        pool.clear_blocks(&[4]).unwrap();
        let (moved, _) = pool
            .gather(1, &pool.table_tensor(&[2, 1], &dev).unwrap(), 20)
            .unwrap();
        assert_eq!(
            moved.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            want.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        );
        // Writing past the table, or outside the pool, is an error.
        assert!(pool.write_index(&[(&table[..], 32)], &dev).is_err());
        assert!(pool.write_index(&[(&[9u32][..], 0)], &dev).is_err());
        assert!(pool.table_tensor(&[6], &dev).is_err());
    }
}
