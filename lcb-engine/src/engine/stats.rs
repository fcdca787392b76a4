//! Counters of the engine's work, per device and summed, for benchmarks.

use crate::scheduler::{RequestTiming, SampleTiming};

/// Counters of one device's work, for benchmarks.
#[derive(Debug, Clone, Default)]
pub struct EngineStats {
    /// Forward steps run.
    pub steps: u64,
    /// Steps that had decode rows.
    pub decode_steps: u64,
    /// Tokens produced by decode rows (every generated token but each sample's first).
    pub decode_tokens: u64,
    /// Wall seconds of steps that had decode rows (forward + sampling + bookkeeping).
    pub decode_seconds: f64,
    /// Prompt tokens prefilled in steps without decode rows.
    pub prefill_only_tokens: u64,
    /// Wall seconds of those steps.
    pub prefill_only_seconds: f64,
    /// Prompt tokens prefilled in total.
    pub prefill_tokens: u64,
    /// Prompt tokens not prefilled because a prompt sharing them had their cache
    /// ([`GenerationRequest::shares_prefix_with`]).
    ///
    /// [`GenerationRequest::shares_prefix_with`]: lcb_core::generator::GenerationRequest::shares_prefix_with
    pub prefix_copied_tokens: u64,
    /// Seconds spent sampling on the host.
    pub sampling_seconds: f64,
    /// Most rows one step decoded (the concurrency the KV memory allowed, on a device).
    pub peak_decode_rows: u64,
    /// Samples that gave their cache blocks up when the pool ran dry (they ran again from
    /// their prompt, to the same tokens).
    pub preempted_samples: u64,
    /// Resident prompts whose cache was freed for a sample that needed the room (prefilled
    /// again later).
    pub evicted_prompts: u64,
    /// Requests finished (sent, failed or abandoned).
    pub requests_finished: u64,
    /// Finished requests' timings (only with [`EngineConfig::record_sample_timings`]).
    pub requests: Vec<RequestTiming>,
    /// Finished samples' timings (only with [`EngineConfig::record_sample_timings`]).
    ///
    /// [`EngineConfig::record_sample_timings`]: super::EngineConfig::record_sample_timings
    pub samples: Vec<SampleTiming>,
}

impl EngineStats {
    /// Adds another device's counters to these.
    pub fn add(&mut self, other: EngineStats) {
        self.steps += other.steps;
        self.decode_steps += other.decode_steps;
        self.decode_tokens += other.decode_tokens;
        self.decode_seconds += other.decode_seconds;
        self.prefill_only_tokens += other.prefill_only_tokens;
        self.prefill_only_seconds += other.prefill_only_seconds;
        self.prefill_tokens += other.prefill_tokens;
        self.prefix_copied_tokens += other.prefix_copied_tokens;
        self.sampling_seconds += other.sampling_seconds;
        self.peak_decode_rows = self.peak_decode_rows.max(other.peak_decode_rows);
        self.preempted_samples += other.preempted_samples;
        self.evicted_prompts += other.evicted_prompts;
        self.requests_finished += other.requests_finished;
        self.requests.extend(other.requests);
        self.samples.extend(other.samples);
    }
}
