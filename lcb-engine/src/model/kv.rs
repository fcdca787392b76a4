//! Key/value cache storage: one read-only [`PrefixKv`] per prompt, shared by every sample of
//! that prompt, and a fixed [`KvPool`] of decode slots, each holding one sample's own
//! (suffix) keys and values.
//!
//! Both are preallocated on the model's device and written in place (`slice_set`,
//! `scatter_set`), so a decode step never copies a cache.

use candle_core::{DType, Device, Tensor};

use crate::config::Qwen3Config;
use crate::error::{Error, Result};

/// The keys and values of one prompt, all layers: `(kv_heads, prompt_len, head_dim)` each.
///
/// Written chunk by chunk during prefill, then only read. Cloning is cheap (tensors are
/// reference-counted) and clones share the same storage.
#[derive(Clone)]
pub struct PrefixKv {
    layers: Vec<(Tensor, Tensor)>,
    len: usize,
}

impl std::fmt::Debug for PrefixKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrefixKv").field("len", &self.len).finish()
    }
}

impl PrefixKv {
    /// Allocates the cache of a `len`-token prompt.
    pub fn new(cfg: &Qwen3Config, len: usize, dtype: DType, device: &Device) -> Result<Self> {
        if len == 0 {
            return Err(Error::Invalid("empty prompt".into()));
        }
        let shape = (cfg.num_key_value_heads, len, cfg.head_dim);
        let layers = (0..cfg.num_hidden_layers)
            .map(|_| {
                Ok((
                    Tensor::zeros(shape, dtype, device)?,
                    Tensor::zeros(shape, dtype, device)?,
                ))
            })
            .collect::<Result<_>>()?;
        Ok(PrefixKv { layers, len })
    }

    /// Prompt length in tokens.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the prompt is empty (never: [`PrefixKv::new`] refuses it).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keys and values of `layer`.
    pub fn layer(&self, layer: usize) -> (&Tensor, &Tensor) {
        let (k, v) = &self.layers[layer];
        (k, v)
    }

    /// Copies the first `len` positions of `other`'s keys and values, every layer, into
    /// this cache: a prefix two prompts share is computed once.
    pub fn copy_prefix(&self, other: &PrefixKv, len: usize) -> Result<()> {
        if len > self.len || len > other.len {
            return Err(Error::Invalid(format!(
                "cannot copy {len} positions between caches of {} and {}",
                other.len, self.len
            )));
        }
        for ((k, v), (from_k, from_v)) in self.layers.iter().zip(&other.layers) {
            k.slice_set(&from_k.narrow(1, 0, len)?.contiguous()?, 1, 0)?;
            v.slice_set(&from_v.narrow(1, 0, len)?.contiguous()?, 1, 0)?;
        }
        Ok(())
    }
}

/// The decode slots: for each layer, keys and values of shape
/// `(slots, kv_heads, capacity, head_dim)`; slot `s` holds the tokens one sample generated
/// after the prompt.
///
/// This layout keeps each slot's head a contiguous `(capacity, head_dim)` block, so the first
/// `n` slots narrowed to their first `len` positions are still one strided batch that a
/// single batched matmul can read.
pub struct KvPool {
    layers: Vec<(Tensor, Tensor)>,
    slots: usize,
    capacity: usize,
    kv_heads: usize,
    head_dim: usize,
}

impl KvPool {
    /// Allocates `slots` slots of `capacity` tokens each.
    pub fn new(
        cfg: &Qwen3Config,
        slots: usize,
        capacity: usize,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        if slots == 0 || capacity == 0 {
            return Err(Error::Invalid(
                "the KV pool needs at least one slot of one token".into(),
            ));
        }
        let shape = (slots, cfg.num_key_value_heads, capacity, cfg.head_dim);
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
            slots,
            capacity,
            kv_heads: cfg.num_key_value_heads,
            head_dim: cfg.head_dim,
        })
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Tokens each slot can hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Keys and values of `layer`: `(slots, kv_heads, capacity, head_dim)`.
    pub fn layer(&self, layer: usize) -> (&Tensor, &Tensor) {
        let (k, v) = &self.layers[layer];
        (k, v)
    }

    /// The scatter index that writes row `i`'s new key/value (all heads) to position
    /// `positions[i]` of slot `slots[i]`: shape `(rows * kv_heads, head_dim)`, for the pool
    /// viewed as `(slots * kv_heads * capacity, head_dim)`. Built once per step, used by
    /// every layer.
    pub fn write_index(
        &self,
        slots: &[usize],
        positions: &[usize],
        device: &Device,
    ) -> Result<Tensor> {
        let mut index = Vec::with_capacity(slots.len() * self.kv_heads * self.head_dim);
        for (&slot, &pos) in slots.iter().zip(positions) {
            if slot >= self.slots || pos >= self.capacity {
                return Err(Error::Invalid(format!(
                    "KV write out of range: slot {slot} of {}, position {pos} of {}",
                    self.slots, self.capacity
                )));
            }
            for h in 0..self.kv_heads {
                let row = ((slot * self.kv_heads + h) * self.capacity + pos) as u32;
                index.extend(std::iter::repeat_n(row, self.head_dim));
            }
        }
        Ok(Tensor::from_vec(
            index,
            (slots.len() * self.kv_heads, self.head_dim),
            device,
        )?)
    }

    /// Writes new keys and values `(rows, kv_heads, head_dim)` of `layer` at `index` (from
    /// [`KvPool::write_index`]).
    pub fn write(&self, layer: usize, k: &Tensor, v: &Tensor, index: &Tensor) -> Result<()> {
        let rows = self.slots * self.kv_heads * self.capacity;
        let (pk, pv) = &self.layers[layer];
        let flat = |t: &Tensor| t.reshape((rows, self.head_dim));
        let src = |t: &Tensor| t.reshape(index.dims()).and_then(|t| t.contiguous());
        flat(pk)?.scatter_set(index, &src(k)?, 0)?;
        flat(pv)?.scatter_set(index, &src(v)?, 0)?;
        Ok(())
    }

    /// Zeroes every position of `slot`, every layer.
    ///
    /// The padded attention path reads each slot up to the batch's longest length and masks
    /// what lies past the slot's own length; a mask hides finite garbage (its weight is
    /// exactly zero) but not NaN or infinity (`0 × NaN` is NaN). A slot whose sample failed
    /// with non-finite values is cleared before anyone else uses it, so one question's
    /// overflow cannot fail the questions that occupy its slot later.
    pub fn clear_slot(&self, slot: usize) -> Result<()> {
        if slot >= self.slots {
            return Err(Error::Invalid(format!(
                "KV clear out of range: slot {slot} of {}",
                self.slots
            )));
        }
        for (k, v) in &self.layers {
            let zeros = Tensor::zeros(
                (1, self.kv_heads, self.capacity, self.head_dim),
                k.dtype(),
                k.device(),
            )?;
            for t in [k, v] {
                t.narrow(0, slot, 1)?.slice_set(&zeros, 2, 0)?;
            }
        }
        Ok(())
    }

    /// Copies the first `len` positions of slot `from` into slot `to`, every layer (used to
    /// keep the active slots contiguous when one finishes).
    pub fn move_slot(&self, from: usize, to: usize, len: usize) -> Result<()> {
        if from == to || len == 0 {
            return Ok(());
        }
        for (k, v) in &self.layers {
            for t in [k, v] {
                let src = fresh_copy(&t.narrow(0, from, 1)?.narrow(2, 0, len)?)?;
                t.narrow(0, to, 1)?.slice_set(&src, 2, 0)?;
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
