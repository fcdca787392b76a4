//! # lcb-engine
//!
//! lcb's Qwen3 generation engine on candle (CPU; CUDA with the `cuda` feature), built for the
//! sweep's shape of work: thousands of samples of the same prompt at many temperatures.
//!
//! * [`config`], [`loader`], [`device`]: a model's files (a local Hugging Face directory or
//!   a hub id), its shape and end-of-sequence ids, its weights, and where it runs;
//! * [`energy`]: the GPUs' energy counters through NVML (absent, with the reason, elsewhere);
//! * [`tokenizer`], [`chat_template`] and [`prompt_encoder`]: text ⇄ ids with a token →
//!   bytes table, and chat prompts rendered exactly as transformers renders them;
//! * [`model`]: our own Qwen3 forward pass over ragged batches, with a paged KV cache (one
//!   pool of 16-token blocks per device) in which the prompt's cache is computed once and
//!   shared by all its samples (shared-prefix attention merged by log-sum-exp with each
//!   sample's own part, read through its block table);
//! * [`rng`], [`sampling`], [`stop`]: counter-based random draws keyed by
//!   (seed, stream, sample, step), per-sample temperature / top-p / top-k, stop strings on
//!   bytes;
//! * [`scheduler`] and [`engine`]: samples admitted while the cache's free blocks hold them,
//!   the youngest preempted (to rerun to the same tokens) when it runs dry, finished samples
//!   replaced by the same prompt's next without prefill, chunked prefill alongside decoding,
//!   one worker thread per device, and the [`Engine`] that implements
//!   `lcb_core::generator::Generator`;
//! * [`synthetic`]: random-weight models of a given shape, for tests and throughput
//!   measurements (`lcb bench`, in the CLI, measures the engine on them).
//!
//! ```no_run
//! use lcb_core::generator::{GenerationRequest, Generator, Prompt, SampleGroup, SamplingParams};
//! use lcb_core::hub::HubOptions;
//! use lcb_engine::{Engine, EngineConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = EngineConfig { max_new_tokens: 512, ..Default::default() };
//! let engine = Engine::load("Qwen/Qwen3-0.6B", &HubOptions::default(), config)?;
//! let completions = engine.submit(GenerationRequest {
//!     shares_prefix_with: None,
//!     prompt: Prompt::Text("def fib(n):".into()),
//!     groups: vec![SampleGroup {
//!         params: SamplingParams { temperature: 0.8, max_tokens: 256, seed: 1, ..Default::default() },
//!         n: 16,
//!         stream: 0,
//!         skip: Vec::new(),
//!     }],
//! })?;
//! for completion in completions {
//!     let c = completion?;
//!     println!("{} {:?}: {}", c.index, c.finish_reason, c.text);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Reproducibility: a sample's random draws depend only on its key, and on the CPU its
//! logits do not depend on what else is in the batch (bit for bit), so `n = 4` gives exactly
//! the first 4 samples of `n = 8` with any number of samples decoding at once, in whichever
//! blocks, preempted or not. On GPUs the draws are the same but cuBLAS may round differently
//! at different batch sizes.

pub mod chat_template;
pub mod config;
pub mod device;
pub mod energy;
pub mod engine;
pub mod error;
pub mod loader;
pub mod model;
mod op_inputs;
pub mod prompt_encoder;
pub mod rng;
pub mod sampling;
pub mod scheduler;
pub mod stop;
pub mod synthetic;
pub mod tokenizer;

pub use engine::{Engine, EngineConfig};
pub use error::{Error, Result};
