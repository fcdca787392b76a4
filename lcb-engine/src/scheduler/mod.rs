//! What one device runs next: the prompts it holds, which prompt chunk to prefill, which
//! sample occupies each decode slot, and what happens when a sample ends.
//!
//! Host-side bookkeeping only (no tensors): the prompt cache is an opaque handle `K` the
//! engine attaches, so the policy is testable on its own. The rules:
//!
//! * **Slots stay packed**: active samples occupy slots `0..active`. A sample that ends is
//!   replaced in place by the next sample of the same prompt (no prefill: the prompt's cache
//!   and last logits are already there); if that prompt has none left, the last active slot
//!   moves into the hole ([`Move`], a copy of its few own keys/values).
//! * **Free slots** take the oldest ready prompt's next sample.
//! * **Prefill** runs one chunk per step, alongside decoding. A chunk holds at most
//!   `prefill_chunk` tokens, and fewer late in a prompt longer than the memory plan expected,
//!   so that its attention scores (chunk × keys) stay within `attention_budget`. A new prompt
//!   starts only while
//!   fewer than `max_resident_prompts` prompts hold a cache, their tokens fit the prefix
//!   budget, and the ready prompts' unstarted samples could not keep every slot busy.
//! * A prompt leaves (its cache freed, its channel closed) when its last sample is sent.

mod request;
mod sequence;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Sender;
use lcb_core::generator::{Completion, FinishReason, GenError};

pub use request::{GroupSpec, Request, RequestObserver, RequestTiming, SampleTiming, TokenEvent};
use sequence::PromptState;
pub use sequence::SlotState;

use crate::model::DecodeRow;
use crate::rng::DrawKey;
use crate::sampling::{sample, Sampled, SamplerParams};
use crate::stop::{Generated, Limits};

/// The start of the error a request gets when the model's logits for it are not finite.
/// Nothing sampled from such logits means anything, so the request fails instead of
/// receiving text.
pub const NON_FINITE: &str = "the model produced logits that are not finite (NaN or \
     infinite: broken weights, or arithmetic that overflowed; a wider dtype may help)";

/// Whether a row of logits cannot be sampled from: a NaN or `+inf` anywhere, or nothing
/// but `-inf`. A `-inf` logit alone is a token that cannot be drawn, not an error (the same
/// rule the sampler's log-probability applies to decode steps).
fn unusable_logits(logits: &[f32]) -> bool {
    logits.iter().any(|x| x.is_nan() || *x == f32::INFINITY)
        || logits.iter().all(|x| *x == f32::NEG_INFINITY)
}

/// Scheduler limits.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Decode slots.
    pub slots: usize,
    /// Most prompt tokens per prefill chunk.
    pub prefill_chunk: usize,
    /// Most prompts holding a cache at once.
    pub max_resident_prompts: usize,
    /// Whether a prompt may copy its shared prefix from a resident prompt's cache.
    pub share_prefixes: bool,
    /// Most prompt tokens cached at once (a single longer prompt is still admitted alone).
    pub prefix_budget_tokens: usize,
    /// Most query rows × keys one attention call may score (per head): the working memory the
    /// engine reserved for score matrices. Bounds prefill chunks of over-long prompts.
    pub attention_budget: usize,
    /// Keep every finished sample's [`SampleTiming`] (benchmarks; a long sweep would
    /// accumulate millions).
    pub record_sample_timings: bool,
}

/// A chunk of prompt to prefill this step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefillPlan {
    /// The prompt (an internal id).
    pub prompt: u64,
    /// First position of the chunk.
    pub start: usize,
    /// Chunk length.
    pub len: usize,
    /// This chunk ends the prompt (its last logits are needed).
    pub last: bool,
}

/// Copy slot `from`'s first `len` positions into slot `to` (in this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    /// Source slot.
    pub from: usize,
    /// Destination slot.
    pub to: usize,
    /// Positions to copy.
    pub len: usize,
}

/// One device's queue of prompts and its decode slots.
pub struct Scheduler<K> {
    config: SchedulerConfig,
    prompts: VecDeque<PromptState<K>>,
    slots: Vec<SlotState>,
    next_id: u64,
    eos: Vec<u32>,
    token_bytes: Arc<dyn Fn(u32) -> Vec<u8> + Send + Sync>,
    timings: Vec<RequestTiming>,
    /// Finished samples' timings, when recorded.
    sample_timings: Vec<SampleTiming>,
    /// Channels of retired requests, closed by [`Scheduler::take_retired`].
    closing: Vec<Sender<Result<Completion, GenError>>>,
    finished_total: u64,
}

impl<K: Clone> Scheduler<K> {
    /// A scheduler for `config.slots` slots; `eos` ends samples unless their group ignores
    /// it; `token_bytes` gives each token's text bytes (for stop strings and text).
    pub fn new(
        config: SchedulerConfig,
        eos: Vec<u32>,
        token_bytes: Arc<dyn Fn(u32) -> Vec<u8> + Send + Sync>,
    ) -> Self {
        Scheduler {
            config,
            prompts: VecDeque::new(),
            slots: Vec::new(),
            next_id: 0,
            eos,
            token_bytes,
            timings: Vec::new(),
            sample_timings: Vec::new(),
            closing: Vec::new(),
            finished_total: 0,
        }
    }

    /// Queues a request.
    pub fn add(&mut self, request: Request) {
        let total = request.groups.iter().map(|g| g.n - g.skip.len()).sum();
        if total == 0 {
            return; // Nothing to generate: dropping the sender closes the channel.
        }
        self.next_id += 1;
        // The prompt's last token is always prefilled: its logits start the samples.
        let shared_prefix = request
            .shared_prefix
            .min(request.tokens.len().saturating_sub(1));
        self.prompts.push_back(PromptState {
            id: self.next_id,
            tokens: request.tokens,
            groups: request.groups,
            reply: request.reply,
            submitted: request.submitted,
            prefilled: 0,
            shared_prefix,
            cache: None,
            logits: None,
            cursor: (0, 0),
            total,
            started: 0,
            finished: 0,
            cancelled: false,
            prefill_done: None,
            first_token: None,
            generated_tokens: 0,
            observer: request.observer,
        });
    }

    /// Whether there is no work at all.
    pub fn is_idle(&self) -> bool {
        self.prompts.is_empty()
    }

    /// Samples finished since the start, for load balancing across devices: sent, abandoned
    /// (their request's receiver was dropped, including samples never started) or failed.
    /// Every submitted sample is counted exactly once, when its request leaves.
    pub fn finished_total(&self) -> u64 {
        self.finished_total
    }

    /// The active slots, slot `i` first.
    pub fn active(&self) -> &[SlotState] {
        &self.slots
    }

    /// Takes the timings of requests finished since the last call, and the channels of
    /// those requests: dropping them closes the channels, so a caller that publishes the
    /// timings first guarantees a client sees them once its channel is closed.
    #[allow(clippy::type_complexity)]
    pub fn take_retired(
        &mut self,
    ) -> (
        Vec<RequestTiming>,
        Vec<Sender<Result<Completion, GenError>>>,
    ) {
        (
            std::mem::take(&mut self.timings),
            std::mem::take(&mut self.closing),
        )
    }

    /// Takes the timings of samples finished since the last call (empty unless
    /// [`SchedulerConfig::record_sample_timings`]).
    pub fn take_sample_timings(&mut self) -> Vec<SampleTiming> {
        std::mem::take(&mut self.sample_timings)
    }

    fn prompt(&self, id: u64) -> Option<&PromptState<K>> {
        self.prompts.iter().find(|p| p.id == id)
    }

    fn prompt_mut(&mut self, id: u64) -> Option<&mut PromptState<K>> {
        self.prompts.iter_mut().find(|p| p.id == id)
    }

    /// The prompt chunk to prefill this step, if any (see the module rules).
    pub fn prefill_plan(&self) -> Option<PrefillPlan> {
        let candidate = self
            .prompts
            .iter()
            .find(|p| !p.cancelled && p.prefilled < p.tokens.len())?;
        if candidate.cache.is_none() {
            let resident: Vec<&PromptState<K>> =
                self.prompts.iter().filter(|p| p.cache.is_some()).collect();
            if resident.len() >= self.config.max_resident_prompts {
                return None;
            }
            let cached: usize = resident.iter().map(|p| p.tokens.len()).sum();
            if !resident.is_empty()
                && cached + candidate.tokens.len() > self.config.prefix_budget_tokens
            {
                return None;
            }
            let queued: usize = resident.iter().map(|p| p.unstarted()).sum();
            if queued >= self.config.slots {
                return None;
            }
        }
        let start = candidate.prefilled;
        // A shared prefix ends a chunk, so its cache does not depend on the tokens after it.
        let end = if start < candidate.shared_prefix {
            candidate.shared_prefix
        } else {
            candidate.tokens.len()
        };
        let len = self.config.prefill_chunk.min(end - start);
        // Scores are len × (start + len); shrinking len to budget / (start + len) is enough
        // (the keys shrink with it). At least one token, so a prompt always progresses.
        let len = len.min(self.config.attention_budget / (start + len)).max(1);
        Some(PrefillPlan {
            prompt: candidate.id,
            start: candidate.prefilled,
            len,
            last: candidate.prefilled + len == candidate.tokens.len(),
        })
    }

    /// The prompt's tokens.
    pub fn prompt_tokens(&self, prompt: u64) -> &[u32] {
        self.prompt(prompt).map_or(&[], |p| &p.tokens)
    }

    /// The prompt's cache handle, if attached.
    pub fn cache(&self, prompt: u64) -> Option<&K> {
        self.prompt(prompt).and_then(|p| p.cache.as_ref())
    }

    /// A resident prompt whose cache holds `prompt`'s shared prefix already, computed the
    /// same way (the same prefix length, the same tokens, prefilled past it): `(donor, len)`.
    pub fn prefix_donor(&self, prompt: u64) -> Option<(u64, usize)> {
        let p = self.prompt(prompt)?;
        let len = p.shared_prefix;
        if len == 0 || p.prefilled > 0 || !self.config.share_prefixes {
            return None;
        }
        self.prompts
            .iter()
            .find(|d| {
                d.id != prompt
                    && d.cache.is_some()
                    && !d.cancelled
                    && d.shared_prefix == len
                    && d.prefilled >= len
                    && d.tokens[..len] == p.tokens[..len]
            })
            .map(|d| (d.id, len))
    }

    /// Records that `len` leading positions of `prompt`'s cache were copied from another
    /// prompt's: its prefill continues after them.
    pub fn prefix_copied(&mut self, prompt: u64, len: usize) {
        if let Some(p) = self.prompt_mut(prompt) {
            p.prefilled = p.prefilled.max(len);
        }
    }

    /// Attaches the cache allocated for a prompt about to be prefilled.
    pub fn attach_cache(&mut self, prompt: u64, cache: K) {
        if let Some(p) = self.prompt_mut(prompt) {
            p.cache = Some(cache);
        }
    }

    /// Records a prefilled chunk; `logits` are the prompt's last logits on its last chunk.
    ///
    /// Prompt logits that are not all finite fail the request (see [`NON_FINITE`]).
    pub fn prefill_done(&mut self, plan: &PrefillPlan, logits: Option<Vec<f32>>) {
        if logits.as_deref().is_some_and(unusable_logits) {
            let error = format!("{NON_FINITE} after the prompt");
            self.fail_prompt(plan.prompt, &error);
            return;
        }
        if let Some(p) = self.prompt_mut(plan.prompt) {
            p.prefilled = plan.start + plan.len;
            if let Some(logits) = logits {
                p.logits = Some(Arc::new(logits));
                p.prefill_done = Some(Instant::now());
            }
        }
    }

    /// Starts the next sample of `prompt` in a slot: samples its first token from the
    /// prompt's logits. Returns the new slot state, or `None` (after sending it) when that
    /// first token already ended the sample.
    fn start_sample(&mut self, prompt: u64) -> Option<Option<SlotState>> {
        let p = self.prompt_mut(prompt)?;
        let (group, index) = p.take_next()?;
        let logits = p.logits.clone().expect("samples start only after prefill");
        let spec = &p.groups[group];
        let key = DrawKey {
            seed: spec.seed,
            stream: spec.stream,
            index: index as u64,
            step: 0,
        };
        let first = sample(&logits, &spec.sampler, key);
        let mut slot = SlotState {
            prompt,
            group,
            index,
            generated: Generated::default(),
            first_token: Instant::now(),
        };
        if self.push_token(&mut slot, first) {
            return Some(None);
        }
        Some(Some(slot))
    }

    /// Appends a token to a slot's sample; on finish sends the completion and returns true.
    fn push_token(&mut self, slot: &mut SlotState, token: Sampled) -> bool {
        let bytes = (self.token_bytes)(token.token);
        let Some(p) = self.prompts.iter_mut().find(|p| p.id == slot.prompt) else {
            return true;
        };
        if p.first_token.is_none() {
            p.first_token = Some(Instant::now());
        }
        let spec = &p.groups[slot.group];
        let limits = Limits {
            eos: if spec.ignore_eos { &[] } else { &self.eos },
            stops: &spec.stops,
            max_tokens: spec.max_tokens,
        };
        let Some(reason) = slot
            .generated
            .push(token.token, token.logprob, &bytes, &limits)
        else {
            if let Some(observer) = &p.observer {
                observer.token(TokenEvent {
                    group: slot.group,
                    index: slot.index,
                    token: token.token,
                    logprob: token.logprob,
                });
            }
            return false;
        };
        if self.config.record_sample_timings {
            let now = Instant::now();
            let tokens = slot.generated.token_ids.len();
            self.sample_timings.push(SampleTiming {
                first_token_seconds: (slot.first_token - p.submitted).as_secs_f64(),
                seconds_per_output_token: (tokens > 1)
                    .then(|| (now - slot.first_token).as_secs_f64() / (tokens - 1) as f64),
                tokens,
            });
        }
        Self::send(p, slot, reason);
        self.finished_total += 1;
        true
    }

    fn send(p: &mut PromptState<K>, slot: &mut SlotState, reason: FinishReason) {
        let generated = std::mem::take(&mut slot.generated);
        p.finished += 1;
        p.generated_tokens += generated.len();
        let completion = Completion {
            group: slot.group,
            index: slot.index,
            text: generated.text(),
            token_ids: generated.token_ids,
            logprobs: generated.logprobs,
            finish_reason: reason,
            token_count: None,
        };
        if p.reply.send(Ok(completion)).is_err() {
            // Nobody listens any more: stop starting samples of this request.
            p.cancelled = true;
        }
    }

    /// Marks the requests whose observer says the caller has gone as cancelled (see
    /// [`RequestObserver::cancelled`]); the next [`Scheduler::fill_slots`] retires those
    /// with nothing decoding, and [`Scheduler::apply_tokens`] abandons the rest.
    pub fn drop_cancelled(&mut self) {
        for p in &mut self.prompts {
            if !p.cancelled && p.observer.as_ref().is_some_and(|o| o.cancelled()) {
                p.cancelled = true;
            }
        }
    }

    /// Fills free slots with samples of ready prompts, oldest prompt first.
    pub fn fill_slots(&mut self) {
        while self.slots.len() < self.config.slots {
            let Some(prompt) = self
                .prompts
                .iter()
                .find(|p| p.ready() && p.unstarted() > 0)
                .map(|p| p.id)
            else {
                break;
            };
            if let Some(Some(slot)) = self.start_sample(prompt) {
                self.slots.push(slot);
            }
        }
        self.retire_prompts();
    }

    /// The decode rows (slot `i` = row `i`) and, per prompt, its cache and rows.
    pub fn decode_batch(&self) -> (Vec<DecodeRow>, Vec<(K, Vec<usize>)>) {
        let rows = self
            .slots
            .iter()
            .map(|s| DecodeRow {
                token: s.generated.last().expect("active slots have a token"),
                suffix_pos: s.generated.len() - 1,
            })
            .collect();
        let mut groups: Vec<(u64, K, Vec<usize>)> = Vec::new();
        for (row, s) in self.slots.iter().enumerate() {
            match groups.iter_mut().find(|g| g.0 == s.prompt) {
                Some(g) => g.2.push(row),
                None => {
                    let cache = self
                        .cache(s.prompt)
                        .expect("a decoding prompt has its cache")
                        .clone();
                    groups.push((s.prompt, cache, vec![row]));
                }
            }
        }
        (rows, groups.into_iter().map(|(_, k, r)| (k, r)).collect())
    }

    /// Sampling parameters and draw keys of each active slot's next token.
    pub fn sampling_inputs(&self) -> (Vec<SamplerParams>, Vec<DrawKey>) {
        self.slots
            .iter()
            .map(|s| {
                let spec = &self
                    .prompt(s.prompt)
                    .expect("an active slot's prompt is queued")
                    .groups[s.group];
                (
                    spec.sampler,
                    DrawKey {
                        seed: spec.seed,
                        stream: spec.stream,
                        index: s.index as u64,
                        step: s.generated.len() as u64,
                    },
                )
            })
            .unzip()
    }

    /// Applies one decode step's tokens (`sampled[i]` for slot `i`): finished samples are
    /// sent and their slots refilled from the same prompt or closed up. Returns the cache
    /// moves to perform, in order.
    ///
    /// A token whose log-probability is not finite came from logits that were not (NaN, or
    /// an infinite maximum): its request fails (see [`NON_FINITE`]) and the request's other
    /// samples in slots are abandoned.
    pub fn apply_tokens(&mut self, sampled: &[Sampled]) -> Vec<Move> {
        assert_eq!(sampled.len(), self.slots.len(), "one token per active slot");
        let failing: Vec<(u64, String)> = self
            .slots
            .iter()
            .zip(sampled)
            .filter(|(_, s)| !s.logprob.is_finite())
            .map(|(slot, _)| {
                let at = (slot.generated.len(), slot.index, slot.group);
                let error = format!(
                    "{NON_FINITE} at token {} of sample {} of group {}",
                    at.0, at.1, at.2
                );
                (slot.prompt, error)
            })
            .collect();
        for (prompt, error) in failing {
            self.fail_prompt(prompt, &error);
        }
        let mut moves = Vec::new();
        // From the last slot down, so a slot moved into a hole has already been updated.
        for i in (0..self.slots.len()).rev() {
            let mut slot = self.slots[i].clone();
            let finished = match self.prompts.iter_mut().find(|p| p.id == slot.prompt) {
                Some(p) if p.cancelled => {
                    // Nobody listens: abandon the sample, but count it, or the prompt (and
                    // its cache) would wait forever for a sample that is never sent.
                    p.finished += 1;
                    self.finished_total += 1;
                    true
                }
                Some(_) => self.push_token(&mut slot, sampled[i]),
                None => true,
            };
            if !finished {
                self.slots[i] = slot;
                continue;
            }
            // Refill in place with the same prompt's next sample (its cache is shared).
            let mut replacement = None;
            while replacement.is_none() {
                match self.start_sample(slot.prompt) {
                    Some(Some(s)) => replacement = Some(s),
                    Some(None) => continue,
                    None => break,
                }
            }
            match replacement {
                Some(s) => self.slots[i] = s,
                None => {
                    let last = self.slots.len() - 1;
                    self.slots.swap_remove(i);
                    if i != last {
                        let len = self.slots[i].generated.len() - 1;
                        moves.push(Move {
                            from: last,
                            to: i,
                            len,
                        });
                    }
                }
            }
        }
        self.retire_prompts();
        moves
    }

    /// Retires prompts whose samples have all been sent: their cache is freed and their
    /// channel queued for closing.
    fn retire_prompts(&mut self) {
        let in_slots: Vec<u64> = self.slots.iter().map(|s| s.prompt).collect();
        let now = Instant::now();
        let (done, keep): (Vec<_>, Vec<_>) = self
            .prompts
            .drain(..)
            .partition(|p| p.done() && !in_slots.contains(&p.id));
        self.prompts = keep.into();
        for p in done {
            // A cancelled request's samples that never started are finished now.
            self.finished_total += (p.total - p.finished) as u64;
            let secs = |t: Option<Instant>| t.map_or(0.0, |t| (t - p.submitted).as_secs_f64());
            self.timings.push(RequestTiming {
                prompt_tokens: p.tokens.len(),
                prefill_seconds: secs(p.prefill_done),
                first_token_seconds: secs(p.first_token),
                total_seconds: (now - p.submitted).as_secs_f64(),
                generated_tokens: p.generated_tokens,
            });
            self.closing.push(p.reply);
        }
    }

    /// Fails one request (its cache could not be allocated, say), leaving every other
    /// request running. If samples of it are decoding, they are abandoned at the next
    /// [`Scheduler::apply_tokens`]; the error is sent at once either way.
    pub fn fail_prompt(&mut self, prompt: u64, error: &str) {
        if self.slots.iter().any(|s| s.prompt == prompt) {
            // Samples of it are decoding: the error goes out now, and the samples are
            // abandoned (and counted) at the next tokens, as for a dropped receiver.
            if let Some(p) = self.prompt_mut(prompt) {
                if !p.cancelled {
                    p.cancelled = true;
                    let _ = p.reply.send(Err(GenError::Failed(error.to_owned())));
                }
            }
            return;
        }
        if let Some(pos) = self.prompts.iter().position(|p| p.id == prompt) {
            let p = self
                .prompts
                .remove(pos)
                .expect("the position was just found");
            self.finished_total += (p.total - p.finished) as u64;
            let _ = p.reply.send(Err(GenError::Failed(error.to_owned())));
        }
    }

    /// Fails every queued request with `error` and clears all state (after a device error).
    pub fn fail_all(&mut self, error: &str) {
        for p in self.prompts.drain(..) {
            self.finished_total += (p.total - p.finished) as u64;
            let _ = p.reply.send(Err(GenError::Failed(error.to_owned())));
        }
        self.slots.clear();
    }
}

#[cfg(test)]
mod tests;
