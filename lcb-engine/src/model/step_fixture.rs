//! A decode step to measure: a random-weight model of a given shape, one prompt's cache and
//! `rows` samples of it, each at the same own position, with their sampling parameters. What
//! the op counter ([`super::op_count`]) and the phase timer ([`super::step_phases`]) run.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use super::{
    blocks_for, Batch, DecodeAttention, DecodeGroup, DecodeRow, KvPool, PromptKv, Qwen3Model,
    BLOCK_TOKENS,
};
use crate::config::Qwen3Config;
use crate::error::{Error, Result};
use crate::rng::DrawKey;
use crate::sampling::SamplerParams;

/// The decode step to measure: `rows` samples of one `prompt_tokens`-token prompt, each
/// feeding its `own_tokens`-th own token (0: its first), attending as `attention` says (the
/// engine's default is [`DecodeAttention::Shared`]) within `attention_budget` (or without
/// limit).
#[derive(Debug, Clone, Copy)]
pub struct StepShape {
    pub rows: usize,
    pub prompt_tokens: usize,
    pub own_tokens: usize,
    pub attention_budget: Option<usize>,
    pub attention: DecodeAttention,
}

/// The model, cache and rows of a measured decode step.
pub(crate) struct DecodeStepFixture {
    pub model: Qwen3Model,
    pub pool: KvPool,
    prompt_blocks: Vec<u32>,
    /// Each row's own blocks.
    own: Vec<Vec<u32>>,
    shape: StepShape,
    /// Temperature 1, no filtering, for every row.
    pub params: Vec<SamplerParams>,
    pub keys: Vec<DrawKey>,
}

impl DecodeStepFixture {
    /// The step `shape` through a random-weight model of shape `cfg` on `device`.
    pub fn new(cfg: &Qwen3Config, dtype: DType, device: &Device, shape: StepShape) -> Result<Self> {
        let StepShape {
            rows,
            prompt_tokens,
            own_tokens,
            attention_budget,
            attention,
        } = shape;
        if rows == 0 || prompt_tokens == 0 {
            return Err(Error::Invalid(
                "a decode step needs at least one row and one prompt token".into(),
            ));
        }
        let weights = crate::synthetic::random_weights(cfg, 0, dtype, device)?;
        let mut model = Qwen3Model::load(cfg, VarBuilder::from_tensors(weights, dtype, device))?;
        if let Some(budget) = attention_budget {
            model.set_attention_budget(budget);
        }
        model.set_decode_attention(attention);
        let prompt_blocks: Vec<u32> = (0..blocks_for(prompt_tokens) as u32).collect();
        let per_row = blocks_for(own_tokens + 1);
        let first_own = prompt_blocks.len();
        let own: Vec<Vec<u32>> = (0..rows)
            .map(|r| {
                let first = first_own + r * per_row;
                (first as u32..(first + per_row) as u32).collect()
            })
            .collect();
        let pool = KvPool::new(cfg, first_own + rows * per_row, dtype, device)?;
        let params = vec![
            SamplerParams {
                temperature: 1.0,
                ..SamplerParams::GREEDY
            };
            rows
        ];
        let keys = (0..rows as u64)
            .map(|index| DrawKey {
                seed: 0,
                stream: 0,
                index,
                step: 0,
            })
            .collect();
        Ok(DecodeStepFixture {
            model,
            pool,
            prompt_blocks,
            own,
            shape,
            params,
            keys,
        })
    }

    /// The step's batch: every row in the prompt's one group.
    fn batch(&self) -> Batch<'_> {
        debug_assert!(self.prompt_blocks.len() * BLOCK_TOKENS >= self.shape.prompt_tokens);
        Batch {
            decode: self
                .own
                .iter()
                .map(|blocks| DecodeRow {
                    token: 0,
                    suffix_pos: self.shape.own_tokens,
                    blocks,
                })
                .collect(),
            groups: vec![DecodeGroup {
                prefix: PromptKv {
                    blocks: &self.prompt_blocks,
                    len: self.shape.prompt_tokens,
                },
                rows: (0..self.own.len()).collect(),
            }],
            prefill: None,
        }
    }

    /// The step's forward pass: the decode rows' logits.
    pub fn forward(&self) -> Result<Tensor> {
        self.model
            .forward(&self.batch(), &self.pool)?
            .decode
            .ok_or_else(|| Error::Invalid("a decode step returned no logits".into()))
    }
}
