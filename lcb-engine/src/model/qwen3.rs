//! Qwen3's decoder, our own forward pass: RMSNorm, per-head q/k RMSNorm, RoPE, grouped-query
//! attention over the two-level cache, SwiGLU MLP, optionally tied embeddings.
//!
//! Unlike candle-transformers' `qwen3.rs` (one position offset per batch), every row carries
//! its own position, so one step mixes samples at different lengths and a prefill chunk.
//! q/k/v and gate/up projections are fused into single matmuls at load time.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use super::attention::{self, SuffixTables};
use super::fused;
use super::kv::{KvPlace, KvPool, PromptKv};
use super::layers::{transpose, Linear, RmsNorm, StoredLinear};
use super::prompt_attention::{self, prompt_attention_merged, PromptTiles};
use super::step_phases::PhaseClock;
use super::Batch;
use crate::config::Qwen3Config;
use crate::error::{Error, Result};

/// One decoder layer's weights.
#[derive(Debug, Clone)]
struct Layer {
    input_norm: RmsNorm,
    qkv: Linear,
    /// Qwen3's per-head q and k RMSNorm weights, `(2, head_dim)`.
    qk_norms: Tensor,
    o_proj: Linear,
    post_norm: RmsNorm,
    gate_up: Linear,
    down: Linear,
}

impl Layer {
    fn load(cfg: &Qwen3Config, vb: VarBuilder) -> Result<Self> {
        let (h, d) = (cfg.hidden_size, cfg.head_dim);
        let (q_heads, kv_heads) = (cfg.num_attention_heads, cfg.num_key_value_heads);
        let attn = vb.pp("self_attn");
        let bias = cfg.attention_bias;
        let q = StoredLinear::load(&attn.pp("q_proj"), q_heads * d, h, bias)?;
        let k = StoredLinear::load(&attn.pp("k_proj"), kv_heads * d, h, bias)?;
        let v = StoredLinear::load(&attn.pp("v_proj"), kv_heads * d, h, bias)?;
        let mlp = vb.pp("mlp");
        let i = cfg.intermediate_size;
        let gate = StoredLinear::load(&mlp.pp("gate_proj"), i, h, false)?;
        let up = StoredLinear::load(&mlp.pp("up_proj"), i, h, false)?;
        Ok(Layer {
            input_norm: RmsNorm::load(vb.pp("input_layernorm"), h, cfg.rms_norm_eps)?,
            qkv: StoredLinear::fuse(&[q, k, v])?.transposed()?,
            qk_norms: Tensor::stack(
                &[
                    attn.pp("q_norm").get(d, "weight")?,
                    attn.pp("k_norm").get(d, "weight")?,
                ],
                0,
            )?,
            o_proj: StoredLinear::load(&attn.pp("o_proj"), h, q_heads * d, bias)?.transposed()?,
            post_norm: RmsNorm::load(vb.pp("post_attention_layernorm"), h, cfg.rms_norm_eps)?,
            gate_up: StoredLinear::fuse(&[gate, up])?.transposed()?,
            down: StoredLinear::load(&mlp.pp("down_proj"), h, i, false)?.transposed()?,
        })
    }
}

/// How decode rows attend over their prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecodeAttention {
    /// Shared-prefix (cascade) attention: all samples of a prompt against its keys in one
    /// matmul, merged with each sample's own part by log-sum-exp.
    #[default]
    Shared,
    /// Each row separately over prompt + own keys with one softmax (reference for tests).
    Naive,
    /// lcb's kernels: each row's own keys (the suffix kernel), then its prompt by tiles of
    /// rows in one kernel that merges the two ([`super::prompt_attention`]). What a GPU runs
    /// with `LCB_CUDA_KERNELS=1`; on the CPU the kernels' twins (for tests).
    Kernels,
}

/// The logits a step produced, f32 on the model's device.
#[derive(Debug)]
pub struct StepLogits {
    /// `(decode rows, vocab)`, row `i` for decode row `i`.
    pub decode: Option<Tensor>,
    /// `(vocab,)` for the last token of a prefill chunk that asked for them.
    pub prefill: Option<Tensor>,
}

/// Per-step tensors shared by every layer, built once on the host and uploaded.
struct StepTensors {
    tokens: Tensor,
    cos: Tensor,
    sin: Tensor,
    decode_rows: usize,
    /// Where every row's new key/value goes (decode rows, then the prefill chunk's).
    write_index: Tensor,
    /// Each decode row's length and blocks.
    suffix: SuffixTables,
    /// The padded suffix path's gather index and mask, when that path runs.
    suffix_padded: Option<(Tensor, Tensor)>,
    /// The decode rows in tiles for the prompt-attention kernel, when that path runs.
    prompt_tiles: Option<PromptTiles>,
    /// Per group: its rows as an index tensor.
    group_rows: Vec<Tensor>,
    /// Maps decode row `i` to its place in the groups' concatenated outputs (`None` when
    /// that concatenation is already in row order).
    gather_back: Option<Tensor>,
    prefill_mask: Option<Tensor>,
    logit_rows: Option<Tensor>,
}

/// Qwen3 weights on one device, and the forward pass.
pub struct Qwen3Model {
    cfg: Qwen3Config,
    /// The embedding matrix, transposed: `(hidden, vocab)`. With tied embeddings it is also
    /// the output projection's `Wᵀ`, so the matrix is stored once, in the layout the
    /// (dominant) output matmul wants; looking up a token reads a column.
    embed_t: Tensor,
    layers: Vec<Layer>,
    norm: RmsNorm,
    lm_head: Linear,
    cos: Tensor,
    sin: Tensor,
    device: Device,
    dtype: DType,
    decode_attention: DecodeAttention,
    /// Most query rows × keys one prompt-attention call scores (per head); more decode rows
    /// than fit go through in several calls.
    attention_budget: usize,
    /// When set, each phase of a step is timed (the device synchronised around it).
    phases: Option<PhaseClock>,
}

impl std::fmt::Debug for Qwen3Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Qwen3Model")
            .field("cfg", &self.cfg)
            .field("dtype", &self.dtype)
            .finish_non_exhaustive()
    }
}

impl Qwen3Model {
    /// Loads the weights from `vb` (Hugging Face names: `model.layers.N.self_attn.q_proj`, …).
    /// With tied embeddings the output projection is the embedding matrix.
    pub fn load(cfg: &Qwen3Config, vb: VarBuilder) -> Result<Self> {
        let device = vb.device().clone();
        let dtype = vb.dtype();
        let model = vb.pp("model");
        let embed = model
            .pp("embed_tokens")
            .get((cfg.vocab_size, cfg.hidden_size), "weight")?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| Layer::load(cfg, model.pp("layers").pp(i)))
            .collect::<Result<Vec<_>>>()?;
        let norm = RmsNorm::load(model.pp("norm"), cfg.hidden_size, cfg.rms_norm_eps)?;
        let embed_t = transpose(&embed)?;
        drop(embed);
        let lm_head = if cfg.tie_word_embeddings {
            Linear::from_transposed(embed_t.clone())
        } else {
            StoredLinear::load(&vb.pp("lm_head"), cfg.vocab_size, cfg.hidden_size, false)
                .map_err(|e| {
                    Error::Model(format!(
                        "tie_word_embeddings is false but lm_head.weight cannot be read: {e}"
                    ))
                })?
                .transposed()?
        };
        let (cos, sin) = rope_tables(cfg, dtype, &device)?;
        Ok(Qwen3Model {
            cfg: cfg.clone(),
            embed_t,
            layers,
            norm,
            lm_head,
            cos,
            sin,
            device,
            dtype,
            decode_attention: DecodeAttention::Shared,
            attention_budget: usize::MAX,
            phases: None,
        })
    }

    /// The model's configuration.
    pub fn config(&self) -> &Qwen3Config {
        &self.cfg
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The compute dtype.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Chooses how decode rows attend over their prompt (tests compare them).
    pub fn set_decode_attention(&mut self, mode: DecodeAttention) {
        self.decode_attention = mode;
    }

    /// The decode attention this step runs: the kernels on a GPU when they are switched on
    /// and take the model's heads.
    fn decode_attention_now(&self) -> DecodeAttention {
        let kernels_fit = self.cfg.head_dim <= prompt_attention::MAX_HEAD_DIM
            && self.cfg.group_size() <= prompt_attention::TILE_QUERIES;
        match self.decode_attention {
            DecodeAttention::Shared
                if self.device.is_cuda() && attention::cuda_kernels_enabled() && kernels_fit =>
            {
                DecodeAttention::Kernels
            }
            mode => mode,
        }
    }

    /// Times every phase of the steps from now on ([`PhaseClock`]; slower: the device is
    /// synchronised around each phase), or stops timing.
    pub fn time_phases(&mut self, on: bool) {
        self.phases = on.then(|| PhaseClock::new(&self.device));
    }

    /// The phases' times since timing started (`None` when not timing).
    pub fn phase_clock(&self) -> Option<&PhaseClock> {
        self.phases.as_ref()
    }

    /// Runs `f` as phase `name` of the step: timed when timing is on.
    fn phase<T>(&self, name: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        match &self.phases {
            Some(clock) => clock.time(name, f),
            None => f(),
        }
    }

    /// Bounds the score matrices of decode rows' attention over their prompt: at most
    /// `budget` decode rows × prompt keys per query head in one call (the memory the engine reserved for
    /// them). Only rows of a prompt longer than the memory plan expected are split.
    pub fn set_attention_budget(&mut self, budget: usize) {
        self.attention_budget = budget.max(1);
    }

    /// Runs one step: writes the new keys/values into `pool` (decode rows' own blocks and
    /// the prefill chunk's prompt blocks), and returns the logits asked for.
    pub fn forward(&self, batch: &Batch, pool: &KvPool) -> Result<StepLogits> {
        let step = self.phase("inputs", || self.prepare(batch, pool))?;
        let mut x = self.phase("embedding", || {
            Ok(self
                .embed_t
                .index_select(&step.tokens, 1)?
                .t()?
                .contiguous()?)
        })?;
        // `x` is the residual stream (after the first block, packed with its norm), `normed`
        // the next block's input: each block's output is added and the sum normalised in one
        // op, the last one by the final norm.
        let mut normed = self.phase("embedding", || match self.layers.first() {
            Some(first) => first.input_norm.forward(&x),
            None => self.norm.forward(&x),
        })?;
        for (index, layer) in self.layers.iter().enumerate() {
            let next_norm = self
                .layers
                .get(index + 1)
                .map_or(&self.norm, |next| &next.input_norm);
            (x, normed) =
                self.layer_forward(index, layer, (&x, &normed), next_norm, batch, pool, &step)?;
        }
        let Some(rows) = &step.logit_rows else {
            return Ok(StepLogits {
                decode: None,
                prefill: None,
            });
        };
        // RMSNorm is per row: the final norm of every row, then the rows asked for, is the
        // final norm of those rows.
        let logits = self.phase("output projection", || {
            let picked = normed.index_select(rows, 0)?;
            Ok(self.lm_head.forward(&picked)?.to_dtype(DType::F32)?)
        })?;
        let decode = (step.decode_rows > 0)
            .then(|| logits.narrow(0, 0, step.decode_rows))
            .transpose()?;
        let prefill = match &batch.prefill {
            Some(chunk) if chunk.want_logits => Some(logits.get(step.decode_rows)?),
            _ => None,
        };
        Ok(StepLogits { decode, prefill })
    }

    fn prepare(&self, batch: &Batch, pool: &KvPool) -> Result<StepTensors> {
        let dev = &self.device;
        let rows = batch.decode.len();
        // Which group (prompt) each decode row samples from.
        let mut prompt_len = vec![usize::MAX; rows];
        for group in &batch.groups {
            for &r in &group.rows {
                if r >= rows || prompt_len[r] != usize::MAX {
                    return Err(Error::Invalid(format!(
                        "decode row {r} is missing or in two groups"
                    )));
                }
                prompt_len[r] = group.prefix.len;
            }
        }
        if prompt_len.contains(&usize::MAX) {
            return Err(Error::Invalid("a decode row belongs to no prompt".into()));
        }
        let mut tokens: Vec<u32> = batch.decode.iter().map(|r| r.token).collect();
        let mut positions: Vec<u32> = batch
            .decode
            .iter()
            .zip(&prompt_len)
            .map(|(r, p)| (p + r.suffix_pos) as u32)
            .collect();
        let mut writes: Vec<KvPlace> = batch
            .decode
            .iter()
            .map(|r| pool.sample_place(r.blocks, r.suffix_pos))
            .collect::<Result<_>>()?;
        let mut prefill_mask = None;
        if let Some(chunk) = &batch.prefill {
            let (start, len) = (chunk.start, chunk.tokens.len());
            if len == 0 || start + len > chunk.prefix.len {
                return Err(Error::Invalid(format!(
                    "prefill chunk {start}..{} outside a {}-token prompt",
                    start + len,
                    chunk.prefix.len
                )));
            }
            for p in start..start + len {
                writes.push(pool.prompt_place(chunk.prefix, p)?);
            }
            tokens.extend_from_slice(chunk.tokens);
            positions.extend((start..start + len).map(|p| p as u32));
            let total = start + len;
            let mask: Vec<f32> = (0..len)
                .flat_map(|i| {
                    (0..total).map(move |j| {
                        if j <= start + i {
                            0.0
                        } else {
                            f32::NEG_INFINITY
                        }
                    })
                })
                .collect();
            prefill_mask = Some(Tensor::from_vec(mask, (len, total), dev)?);
        }
        if let Some(&max) = positions.iter().max() {
            if max as usize >= self.cfg.max_position_embeddings {
                return Err(Error::Invalid(format!(
                    "position {max} is past the model's {} positions",
                    self.cfg.max_position_embeddings
                )));
            }
        }
        let n = tokens.len();
        let half = self.cfg.head_dim / 2;
        let pos = Tensor::from_vec(positions, n, dev)?;
        let cos = self.cos.index_select(&pos, 0)?.reshape((n, 1, half))?;
        let sin = self.sin.index_select(&pos, 0)?.reshape((n, 1, half))?;

        let write_index = pool.write_index(&writes, dev)?;
        let suffix = SuffixTables::new(
            batch.decode.iter().map(|r| r.suffix_pos + 1).collect(),
            &batch.decode.iter().map(|r| r.blocks).collect::<Vec<_>>(),
        );
        let decode_attention = self.decode_attention_now();
        let suffix_padded = (rows > 0
            && decode_attention == DecodeAttention::Shared
            && attention::suffix_attention_is_padded(dev, self.dtype))
        .then(|| attention::padded_inputs(&suffix, dev))
        .transpose()?;
        let prompt_tiles = (rows > 0 && decode_attention == DecodeAttention::Kernels)
            .then(|| PromptTiles::new(&batch.groups, rows, self.cfg.group_size()))
            .transpose()?;
        // The matmul path's per-group row indices and the order back (the kernels index
        // rows themselves).
        let (group_rows, gather_back) = if prompt_tiles.is_some() {
            (Vec::new(), None)
        } else {
            self.group_indices(batch, rows)?
        };
        let mut wanted: Vec<u32> = (0..rows as u32).collect();
        if let Some(chunk) = &batch.prefill {
            if chunk.want_logits {
                wanted.push((rows + chunk.tokens.len() - 1) as u32);
            }
        }
        let logit_rows = (!wanted.is_empty())
            .then(|| Tensor::from_vec(wanted.clone(), wanted.len(), dev))
            .transpose()?;
        Ok(StepTensors {
            tokens: Tensor::from_vec(tokens, n, dev)?,
            cos,
            sin,
            decode_rows: rows,
            write_index,
            suffix,
            suffix_padded,
            prompt_tiles,
            group_rows,
            gather_back,
            prefill_mask,
            logit_rows,
        })
    }

    /// Per group its rows as an index tensor, and the index that puts the groups'
    /// concatenated outputs back in row order (`None` when they already are).
    fn group_indices(&self, batch: &Batch, rows: usize) -> Result<(Vec<Tensor>, Option<Tensor>)> {
        let dev = &self.device;
        let group_rows = batch
            .groups
            .iter()
            .map(|g| {
                let idx: Vec<u32> = g.rows.iter().map(|&r| r as u32).collect();
                Tensor::from_vec(idx, g.rows.len(), dev)
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let order: Vec<usize> = batch.groups.iter().flat_map(|g| g.rows.clone()).collect();
        let gather_back = if order.iter().enumerate().all(|(i, &r)| i == r) {
            None
        } else {
            let mut back = vec![0u32; rows];
            for (place, &row) in order.iter().enumerate() {
                back[row] = place as u32;
            }
            Some(Tensor::from_vec(back, rows, dev)?)
        };
        Ok((group_rows, gather_back))
    }

    /// One decoder block: from the residual stream `x` and its input norm `normed` to the
    /// stream after the block and its norm by `next_norm` (the next block's input norm, or
    /// the final norm).
    #[allow(clippy::too_many_arguments)]
    fn layer_forward(
        &self,
        index: usize,
        layer: &Layer,
        (x, normed): (&Tensor, &Tensor),
        next_norm: &RmsNorm,
        batch: &Batch,
        pool: &KvPool,
        step: &StepTensors,
    ) -> Result<(Tensor, Tensor)> {
        let cfg = &self.cfg;
        let (d, q_heads, kv_heads) = (
            cfg.head_dim,
            cfg.num_attention_heads,
            cfg.num_key_value_heads,
        );
        let group = cfg.group_size();
        let n = normed.dim(0)?;
        let (q, k, v) = self.phase("q/k/v", || {
            let qkv = layer.qkv.forward(normed)?;
            // Per-head RMSNorm, then RoPE at each row's own position (norm → RoPE → cache),
            // the queries scaled: one op.
            fused::qkv_heads(
                &qkv,
                &layer.qk_norms,
                &step.cos,
                &step.sin,
                fused::Heads {
                    q_heads,
                    kv_heads,
                    head_dim: d,
                    eps: cfg.rms_norm_eps as f32,
                    scale: 1.0 / (d as f64).sqrt(),
                },
            )
        })?;
        let rows = step.decode_rows;
        // Every row's new key/value into the pool first: decode rows read their own, the
        // prefill chunk reads the prompt up to and including itself.
        self.phase("cache write", || {
            pool.write(
                index,
                &k.reshape((n, kv_heads, d))?,
                &v.reshape((n, kv_heads, d))?,
                &step.write_index,
            )
        })?;
        let mut parts = Vec::with_capacity(2);
        if rows > 0 {
            let q = q.narrow(0, 0, rows)?.reshape((rows, kv_heads, group, d))?;
            let out = self.decode_attention(index, &q, batch, pool, step)?;
            parts.push(out.reshape((rows, q_heads * d))?.to_dtype(self.dtype)?);
        }
        if let Some(chunk) = &batch.prefill {
            let len = chunk.tokens.len();
            let upto = PromptKv {
                len: chunk.start + len,
                ..chunk.prefix
            };
            parts.push(self.phase("prefill attention", || {
                let (pk, pv) = pool.prompt(index, upto)?;
                let q = q.narrow(0, rows, len)?.reshape((len, kv_heads, group, d))?;
                let mask = step.prefill_mask.as_ref().expect("prefill has a mask");
                attention::prefill_attention(&q, &pk, &pv, mask)
            })?);
        }
        let attn = if parts.len() == 1 {
            parts.pop().expect("one part")
        } else {
            Tensor::cat(&parts, 0)?
        };
        let (x, normed) = self.phase("output + norm", || {
            layer
                .post_norm
                .add_forward(x, &layer.o_proj.forward(&attn)?)
        })?;
        self.phase("MLP + norm", || {
            let gate_up = layer.gate_up.forward(&normed)?;
            let act = fused::silu_mul(&gate_up)?;
            next_norm.add_forward(&x, &layer.down.forward(&act)?)
        })
    }

    /// Attention of the decode rows' queries `(rows, kv_heads, group, head_dim)` over their
    /// prompt and their own tokens; f32 `(rows, kv_heads, group, head_dim)`.
    fn decode_attention(
        &self,
        layer: usize,
        q: &Tensor,
        batch: &Batch,
        pool: &KvPool,
        step: &StepTensors,
    ) -> Result<Tensor> {
        let (k_pool, v_pool) = pool.layer(layer);
        if let Some(tiles) = &step.prompt_tiles {
            // Both kernels take f32 queries: convert once.
            let q = q.to_dtype(DType::F32)?.contiguous()?;
            let own = self.phase("attention: own tokens", || {
                attention::suffix_attention_packed(&q, k_pool, v_pool, &step.suffix)
            })?;
            return self.phase("attention: prompt + merge", || {
                prompt_attention_merged(&q, k_pool, v_pool, tiles, &own)
            });
        }
        if self.decode_attention == DecodeAttention::Naive {
            let mut out = vec![None; step.decode_rows];
            for group in &batch.groups {
                let prefix = pool.prompt(layer, group.prefix)?;
                for &row in &group.rows {
                    let r = &batch.decode[row];
                    let own_table = pool.table_tensor(
                        &r.blocks[..super::kv::blocks_for(r.suffix_pos + 1)],
                        &self.device,
                    )?;
                    let own = pool.gather(layer, &own_table, r.suffix_pos + 1)?;
                    out[row] = Some(attention::naive_decode_attention(
                        q,
                        (&prefix.0, &prefix.1),
                        (&own.0, &own.1),
                        row,
                    )?);
                }
            }
            let out: Vec<Tensor> = out
                .into_iter()
                .map(|t| t.expect("row in a group"))
                .collect();
            return Ok(Tensor::cat(&out, 0)?);
        }
        let (own, own_lse) = self.phase("attention: own tokens", || {
            attention::suffix_attention(
                q,
                k_pool,
                v_pool,
                &step.suffix,
                step.suffix_padded.as_ref(),
            )
        })?;
        self.phase("attention: prompt + merge", || {
            let mut outs = Vec::with_capacity(batch.groups.len());
            let mut lses = Vec::with_capacity(batch.groups.len());
            for (group, rows) in batch.groups.iter().zip(&step.group_rows) {
                let (pk, pv) = pool.prompt(layer, group.prefix)?;
                let q_group = if batch.groups.len() == 1 && step.gather_back.is_none() {
                    q.clone()
                } else {
                    q.index_select(rows, 0)?
                };
                let (out, lse) = self.prefix_attention_within_budget(&q_group, &pk, &pv)?;
                outs.push(out);
                lses.push(lse);
            }
            let cat = |mut ts: Vec<Tensor>| -> Result<Tensor> {
                let t = if ts.len() == 1 {
                    ts.pop().expect("one group")
                } else {
                    Tensor::cat(&ts, 0)?
                };
                Ok(match &step.gather_back {
                    Some(back) => t.index_select(back, 0)?,
                    None => t,
                })
            };
            let (shared, shared_lse) = (cat(outs)?, cat(lses)?);
            fused::merge(&shared, &shared_lse, &own, &own_lse)
        })
    }

    /// [`attention::prefix_attention`] in as few calls as keep each call's scores
    /// (decode rows × prompt keys, per query head) within the attention budget.
    fn prefix_attention_within_budget(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
    ) -> Result<(Tensor, Tensor)> {
        let rows = q.dim(0)?;
        let keys = k.dim(1)?;
        let per_call = (self.attention_budget / keys.max(1)).max(1);
        if rows <= per_call {
            return attention::prefix_attention(q, k, v);
        }
        let mut outs = Vec::new();
        let mut lses = Vec::new();
        for start in (0..rows).step_by(per_call) {
            let part = q.narrow(0, start, per_call.min(rows - start))?;
            let (out, lse) = attention::prefix_attention(&part, k, v)?;
            outs.push(out);
            lses.push(lse);
        }
        Ok((Tensor::cat(&outs, 0)?, Tensor::cat(&lses, 0)?))
    }
}

/// RoPE cos/sin tables `(max_positions, head_dim / 2)`, computed as candle-transformers and
/// transformers do (f32 frequencies, then the model dtype).
fn rope_tables(cfg: &Qwen3Config, dtype: DType, device: &Device) -> Result<(Tensor, Tensor)> {
    let dim = cfg.head_dim;
    let inv_freq: Vec<f32> = (0..dim)
        .step_by(2)
        .map(|i| 1f32 / cfg.rope_theta.powf(i as f64 / dim as f64) as f32)
        .collect();
    let half = inv_freq.len();
    let inv_freq = Tensor::from_vec(inv_freq, (1, half), device)?;
    let max = cfg.max_position_embeddings;
    let t = Tensor::arange(0u32, max as u32, device)?
        .to_dtype(DType::F32)?
        .reshape((max, 1))?;
    let freqs = t.matmul(&inv_freq)?;
    Ok((
        freqs.cos()?.to_dtype(dtype)?.contiguous()?,
        freqs.sin()?.to_dtype(dtype)?.contiguous()?,
    ))
}
