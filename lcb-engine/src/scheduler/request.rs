//! What a device worker is handed and what it reports back: a request's prompt and sample
//! groups, the observer a caller may attach (tokens as they are drawn, calling the request
//! off), and the timings of a finished request.

use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Sender;
use lcb_core::generator::{Completion, GenError};

use crate::sampling::SamplerParams;
use crate::stop::StopStrings;

/// One group of samples of a request, ready to run.
#[derive(Debug, Clone)]
pub struct GroupSpec {
    /// How tokens are chosen.
    pub sampler: SamplerParams,
    /// The request's seed.
    pub seed: u64,
    /// The group's random stream.
    pub stream: u64,
    /// Number of samples: indices `0..n`.
    pub n: usize,
    /// Indices in `0..n` not to generate, sorted.
    pub skip: Vec<usize>,
    /// Most tokens per sample.
    pub max_tokens: usize,
    /// End-of-sequence tokens do not end samples.
    pub ignore_eos: bool,
    /// Stop strings.
    pub stops: StopStrings,
}

/// A request as a device worker receives it: prompt tokens, groups, where to send results.
pub struct Request {
    /// The prompt's token ids.
    pub tokens: Vec<u32>,
    /// The samples wanted, by group.
    pub groups: Vec<GroupSpec>,
    /// Where completions go.
    pub reply: Sender<Result<Completion, GenError>>,
    /// When it was submitted (for time-to-first-token).
    pub submitted: Instant,
    /// Told of every token as it is drawn, and asked each step whether the caller has gone.
    pub observer: Option<Arc<dyn RequestObserver>>,
    /// Leading tokens this prompt shares with a family of prompts (0: none): prefilled as
    /// chunks of their own, so their cache is the same whichever prompt computed it and can
    /// be copied from a resident prompt of the family instead of computed again.
    pub shared_prefix: usize,
}

/// A token a sample drew that did not end it (tokens that end a sample arrive with its
/// [`Completion`] only, whose text is cut before any stop string).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenEvent {
    /// Index of the group in the request.
    pub group: usize,
    /// Index of the sample within its group.
    pub index: usize,
    /// The token id.
    pub token: u32,
    /// Its log-probability under the raw logits.
    pub logprob: f32,
}

/// What a caller learns while its request runs, beyond the completions on its channel: a
/// server streams tokens to its clients and calls the request off when a client leaves.
///
/// Called on the engine thread between steps: implementations must not block.
pub trait RequestObserver: Send + Sync {
    /// A sample drew `event.token` and goes on.
    fn token(&self, event: TokenEvent);

    /// Whether the caller has gone: the request's samples are then abandoned, those
    /// decoding at the next step and those not started at once, and its channel closes.
    fn cancelled(&self) -> bool;
}

/// Timings of one finished request, for benchmarks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestTiming {
    /// Prompt length.
    pub prompt_tokens: usize,
    /// Seconds from submission until the prompt's last logits were ready.
    pub prefill_seconds: f64,
    /// Seconds from submission until the first generated token.
    pub first_token_seconds: f64,
    /// Seconds from submission until the last sample was sent.
    pub total_seconds: f64,
    /// Tokens generated over all samples.
    pub generated_tokens: usize,
}

/// Timings of one finished sample, for benchmarks' percentiles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleTiming {
    /// Seconds from its request's submission until its first token.
    pub first_token_seconds: f64,
    /// Seconds per token after the first (`None` for a one-token sample).
    pub seconds_per_output_token: Option<f64>,
    /// Tokens generated.
    pub tokens: usize,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("tokens", &self.tokens.len())
            .field("groups", &self.groups)
            .field("observed", &self.observer.is_some())
            .finish_non_exhaustive()
    }
}
