//! The `Generator` seam: anything that turns a prompt into many sampled completions.
//!
//! lcb's own implementation is the batched Qwen3 engine in `lcb-engine`; a user can plug in
//! their own (an OpenAI-compatible server, canned responses in tests) and reuse the sweep.
//!
//! Requests are submitted without blocking and completions stream back over a channel as
//! each sample finishes, so grading overlaps generation.

use crossbeam_channel::Receiver;
use serde::{Deserialize, Serialize};

use crate::prompt::ChatMessage;

/// How one sample is drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingParams {
    /// Softmax temperature; 0 means greedy (argmax).
    pub temperature: f32,
    /// Nucleus sampling mass (1.0 = off).
    pub top_p: f32,
    /// Keep only the k most likely tokens (`None` = off).
    pub top_k: Option<usize>,
    /// Maximum number of generated tokens.
    pub max_tokens: usize,
    /// Stop strings: generation ends when the text contains one; it is not included.
    pub stop: Vec<String>,
    /// Ignore end-of-sequence tokens (generate exactly `max_tokens`).
    pub ignore_eos: bool,
    /// RNG seed.
    pub seed: u64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams {
            temperature: 1.0,
            top_p: 1.0,
            top_k: None,
            max_tokens: 256,
            stop: Vec::new(),
            ignore_eos: false,
            seed: 0,
        }
    }
}

/// What the model is asked to continue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Prompt {
    /// Raw text, tokenized as is (no special tokens added).
    Text(String),
    /// Chat messages rendered with the model's chat template (`add_generation_prompt = true`).
    Chat {
        /// The conversation.
        messages: Vec<ChatMessage>,
        /// Passed to the template as `enable_thinking` (Qwen3 reasoning on/off).
        enable_thinking: bool,
    },
}

/// A group of samples sharing sampling parameters.
///
/// Sample `j` of the group is drawn from the random stream keyed by
/// `(params.seed, stream, j, step)`: it does not depend on batch size, device, scheduling, or
/// on any other group, so `n = 4` gives exactly the first 4 samples of `n = 8`, and a
/// request with `skip = [0, 2]` gives exactly samples 1, 3, … of the full group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleGroup {
    /// Sampling parameters.
    pub params: SamplingParams,
    /// Number of samples: indices `0..n`.
    pub n: usize,
    /// Random-stream id distinguishing groups of one prompt (e.g. the temperature index).
    pub stream: u64,
    /// Indices in `0..n` not to generate (the caller has them already, from an interrupted
    /// run). A generator should not send them; the sweep ignores them if it does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip: Vec<usize>,
}

impl SampleGroup {
    /// All `n` samples of `params` on random stream `stream`.
    pub fn new(params: SamplingParams, n: usize, stream: u64) -> Self {
        SampleGroup {
            params,
            n,
            stream,
            skip: Vec::new(),
        }
    }

    /// The indices to generate, in order: `0..n` without `skip`.
    pub fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.n).filter(|i| !self.skip.contains(i))
    }

    /// How many samples to generate: `n` less the distinct indices of `skip` below `n`.
    pub fn wanted(&self) -> usize {
        self.indices().count()
    }
}

/// One prompt and the samples wanted from it; all groups share one prompt prefill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationRequest {
    /// The prompt.
    pub prompt: Prompt,
    /// The samples, by group.
    pub groups: Vec<SampleGroup>,
    /// A prompt this one begins like: the head of a family of prompts that differ only in
    /// their tails (a question's self-repair conversations). The tokens the two have in common
    /// are prefilled once and their cache reused by every request naming the same anchor;
    /// lcb's engine prefills them as chunks of their own whether or not another prompt shares
    /// them, so (on the CPU, bit for bit) the samples do not depend on which prompts happened
    /// to be resident together.
    /// Generators without a prompt cache ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shares_prefix_with: Option<Prompt>,
}

impl GenerationRequest {
    /// A request for `groups` of samples of `prompt`.
    pub fn new(prompt: Prompt, groups: Vec<SampleGroup>) -> Self {
        GenerationRequest {
            prompt,
            groups,
            shares_prefix_with: None,
        }
    }
}

/// Why a sample ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FinishReason {
    /// An end-of-sequence token or a stop string.
    Stop,
    /// `max_tokens` reached.
    Length,
}

/// One finished sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// Index of the group in the request.
    pub group: usize,
    /// Index of the sample within its group.
    pub index: usize,
    /// Generated text (without the stop string that ended it).
    pub text: String,
    /// Generated token ids.
    pub token_ids: Vec<u32>,
    /// `logprobs[j]`: log-softmax of the raw logits (before temperature) at token `j`.
    pub logprobs: Vec<f32>,
    /// Why it ended.
    pub finish_reason: FinishReason,
    /// How many tokens were generated, from a backend that says how many but not which
    /// (an OpenAI-compatible server without token ids: `token_ids` and `logprobs` are then
    /// empty). `None`: `token_ids` holds them all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_count: Option<usize>,
}

impl Completion {
    /// How many tokens were generated.
    pub fn num_tokens(&self) -> usize {
        self.token_count.unwrap_or(self.token_ids.len())
    }
}

/// Errors a generator can raise for a whole request.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// The request is invalid (e.g. an empty prompt, a prompt longer than the context).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The backend failed.
    #[error("generation failed: {0}")]
    Failed(String),
}

/// Generates samples. Implementations are shared across threads.
pub trait Generator: Send + Sync {
    /// Submits a request without blocking. The receiver yields each completion as it finishes
    /// and is closed once every sample of the request is done (or the request failed, in which
    /// case an `Err` is sent first).
    fn submit(
        &self,
        request: GenerationRequest,
    ) -> Result<Receiver<Result<Completion, GenError>>, GenError>;

    /// The exact text the model sees for `prompt` (for result files).
    fn prompt_text(&self, prompt: &Prompt) -> Result<String, GenError>;

    /// A short name of the model (a path or hub id).
    fn model_name(&self) -> String;

    /// Engine settings worth recording with results (dtype, devices, batch size, …).
    fn describe(&self) -> serde_json::Value;

    /// The settings that change what this generator outputs for a request, beyond the
    /// request itself and the model name (for lcb's engine: its precision and the kind of
    /// device). A sweep resumes or merges a results tree only with an equal fingerprint, so
    /// one tree never mixes samples drawn under different numerics. Unlike
    /// [`Generator::describe`] it must not hold anything that varies between runs of the
    /// same configuration (memory sizes, device indices, timings). The default says nothing.
    fn fingerprint(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// Prompt tokens prefilled and prompt tokens whose cache was copied from a prompt
    /// sharing them ([`GenerationRequest::shares_prefix_with`]), so far. A sweep records what
    /// it added to both. The default has no counters.
    fn prompt_cache_counts(&self) -> Option<(u64, u64)> {
        None
    }

    /// The energy counter of the hardware this generator runs on, or why there is none. A
    /// sweep reads it at its start and end and records joules per generated sample and per
    /// solved problem. The default has none.
    fn energy_counter(&self) -> Result<&dyn crate::bench::energy::EnergyCounter, String> {
        Err("this generator reports no energy counter".into())
    }
}
