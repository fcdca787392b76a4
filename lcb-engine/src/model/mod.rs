//! The network: Qwen3's forward pass over a ragged batch ([`qwen3`]), its cache storage
//! ([`kv`]), attention kernels ([`attention`]; [`prompt_attention`], the GPU's one-kernel
//! attention over a prompt; with the `cuda` feature, their CUDA launches
//! live in `cuda_ops`), the layers it is built from (`layers`: linear, RMSNorm; `fused`:
//! q/k/v heads, the SiLU gate, the attention-state merge and the residual add + RMSNorm as
//! one op each), and two measures of a decode step (`step_fixture`): the tensor operations
//! it runs ([`op_count`]) and where its time goes ([`step_phases`]).
//!
//! A step's work is described on the host by a [`Batch`]: decode rows (one new token per
//! active sample, each with its block table and attached to the prompt it samples from) and
//! at most one prefill chunk of a new prompt. The model runs both in one pass, so the weights
//! are read once per step for all of them.

pub mod attention;
#[cfg(feature = "cuda")]
mod cuda_ops;
mod fused;
pub mod kv;
mod layers;
pub mod op_count;
pub mod prompt_attention;
pub mod qwen3;
mod step_fixture;
pub mod step_phases;

pub use kv::{blocks_for, KvPool, PromptKv, BLOCK_TOKENS};
pub use qwen3::{DecodeAttention, Qwen3Model, StepLogits};
pub use step_fixture::StepShape;

/// One decode row: the token a sample feeds next, and where its own keys live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeRow<'a> {
    /// The token to feed (the sample's last sampled token).
    pub token: u32,
    /// Its index in the sample's own tokens (0 for the first generated token): the position
    /// in the sample's blocks its key/value is written to. Its absolute position is
    /// `prompt_len + suffix_pos`.
    pub suffix_pos: usize,
    /// The sample's block table: at least `suffix_pos / BLOCK_TOKENS + 1` blocks.
    pub blocks: &'a [u32],
}

/// The decode rows sampling from one prompt: they share its cache.
#[derive(Debug, Clone)]
pub struct DecodeGroup<'a> {
    /// The prompt's cache (complete).
    pub prefix: PromptKv<'a>,
    /// Indices of the rows in [`Batch::decode`].
    pub rows: Vec<usize>,
}

/// A chunk of a prompt to prefill.
#[derive(Debug, Clone)]
pub struct PrefillChunk<'a> {
    /// The prompt's cache, filled up to `start`, with blocks for all of the prompt.
    pub prefix: PromptKv<'a>,
    /// The chunk's tokens (positions `start..start + tokens.len()`).
    pub tokens: &'a [u32],
    /// Position of the chunk's first token.
    pub start: usize,
    /// Return the logits of the chunk's last token (set on the prompt's last chunk).
    pub want_logits: bool,
}

/// Everything one forward step computes.
#[derive(Debug, Clone, Default)]
pub struct Batch<'a> {
    /// Decode rows.
    pub decode: Vec<DecodeRow<'a>>,
    /// Which prompt each decode row belongs to; every row is in exactly one group.
    pub groups: Vec<DecodeGroup<'a>>,
    /// A prefill chunk, if any.
    pub prefill: Option<PrefillChunk<'a>>,
}
