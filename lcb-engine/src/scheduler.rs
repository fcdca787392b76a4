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

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Sender;
use lcb_core::generator::{Completion, FinishReason, GenError};

use crate::model::DecodeRow;
use crate::rng::DrawKey;
use crate::sampling::{sample, Sampled, SamplerParams};
use crate::stop::{Generated, Limits, StopStrings};

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
#[derive(Debug)]
pub struct Request {
    /// The prompt's token ids.
    pub tokens: Vec<u32>,
    /// The samples wanted, by group.
    pub groups: Vec<GroupSpec>,
    /// Where completions go.
    pub reply: Sender<Result<Completion, GenError>>,
    /// When it was submitted (for time-to-first-token).
    pub submitted: Instant,
}

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
    /// Most prompt tokens cached at once (a single longer prompt is still admitted alone).
    pub prefix_budget_tokens: usize,
    /// Most query rows × keys one attention call may score (per head): the working memory the
    /// engine reserved for score matrices. Bounds prefill chunks of over-long prompts.
    pub attention_budget: usize,
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

struct PromptState<K> {
    id: u64,
    tokens: Vec<u32>,
    groups: Vec<GroupSpec>,
    reply: Sender<Result<Completion, GenError>>,
    submitted: Instant,
    prefilled: usize,
    cache: Option<K>,
    /// Logits after the whole prompt (shared by every sample's first token).
    logits: Option<Arc<Vec<f32>>>,
    /// The next unstarted sample: (group, index).
    cursor: (usize, usize),
    total: usize,
    started: usize,
    /// Samples done with: sent, or abandoned because nobody listens any more.
    finished: usize,
    cancelled: bool,
    prefill_done: Option<Instant>,
    first_token: Option<Instant>,
    generated_tokens: usize,
}

impl<K> PromptState<K> {
    fn ready(&self) -> bool {
        self.logits.is_some()
    }

    fn unstarted(&self) -> usize {
        if self.cancelled {
            0
        } else {
            self.total - self.started
        }
    }

    fn take_next(&mut self) -> Option<(usize, usize)> {
        if self.unstarted() == 0 {
            return None;
        }
        loop {
            let group = &self.groups[self.cursor.0];
            if self.cursor.1 >= group.n {
                self.cursor = (self.cursor.0 + 1, 0);
            } else if group.skip.binary_search(&self.cursor.1).is_ok() {
                self.cursor.1 += 1;
            } else {
                break;
            }
        }
        let next = self.cursor;
        self.cursor.1 += 1;
        self.started += 1;
        Some(next)
    }

    fn done(&self) -> bool {
        self.finished == self.total || (self.cancelled && self.started == self.finished)
    }
}

/// One active sample in a decode slot.
#[derive(Debug, Clone)]
pub struct SlotState {
    prompt: u64,
    group: usize,
    index: usize,
    generated: Generated,
}

impl SlotState {
    /// The sample's tokens so far.
    pub fn generated(&self) -> &Generated {
        &self.generated
    }
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
        self.prompts.push_back(PromptState {
            id: self.next_id,
            tokens: request.tokens,
            groups: request.groups,
            reply: request.reply,
            submitted: request.submitted,
            prefilled: 0,
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
        });
    }

    /// Whether there is no work at all.
    pub fn is_idle(&self) -> bool {
        self.prompts.is_empty()
    }

    /// Samples generated but not yet finished, plus samples not started.
    pub fn outstanding(&self) -> usize {
        self.prompts.iter().map(|p| p.total - p.finished).sum()
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
        let len = self
            .config
            .prefill_chunk
            .min(candidate.tokens.len() - start);
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
            return false;
        };
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
        };
        if p.reply.send(Ok(completion)).is_err() {
            // Nobody listens any more: stop starting samples of this request.
            p.cancelled = true;
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
mod tests {
    use super::*;

    fn group(n: usize, max_tokens: usize, temperature: f32) -> GroupSpec {
        GroupSpec {
            sampler: SamplerParams {
                temperature,
                top_p: 1.0,
                top_k: None,
            },
            seed: 0,
            stream: 0,
            n,
            skip: Vec::new(),
            max_tokens,
            ignore_eos: false,
            stops: StopStrings::default(),
        }
    }

    fn config(slots: usize) -> SchedulerConfig {
        SchedulerConfig {
            slots,
            prefill_chunk: 4,
            max_resident_prompts: 2,
            prefix_budget_tokens: 100,
            attention_budget: usize::MAX,
        }
    }

    fn scheduler(slots: usize) -> Scheduler<()> {
        Scheduler::new(
            config(slots),
            vec![0],
            Arc::new(|t| vec![b'a' + (t % 26) as u8]),
        )
    }

    fn request(
        len: usize,
        groups: Vec<GroupSpec>,
    ) -> (
        Request,
        crossbeam_channel::Receiver<Result<Completion, GenError>>,
    ) {
        let (tx, rx) = crossbeam_channel::unbounded();
        (
            Request {
                tokens: (0..len as u32).collect(),
                groups,
                reply: tx,
                submitted: Instant::now(),
            },
            rx,
        )
    }

    /// Prefills whatever is planned, with logits favouring token `favourite`.
    fn prefill_all(s: &mut Scheduler<()>, favourite: usize) {
        while let Some(plan) = s.prefill_plan() {
            if s.cache(plan.prompt).is_none() {
                s.attach_cache(plan.prompt, ());
            }
            let logits = plan.last.then(|| {
                let mut l = vec![0.0f32; 8];
                l[favourite] = 10.0;
                l
            });
            s.prefill_done(&plan, logits);
        }
    }

    #[test]
    fn chunks_shrink_to_keep_attention_scores_within_budget() {
        let mut s = Scheduler::new(
            SchedulerConfig {
                attention_budget: 40,
                ..config(1)
            },
            vec![0],
            Arc::new(|t| vec![b'a' + (t % 26) as u8]),
        );
        let (req, _rx) = request(20, vec![group(5, 1, 0.0)]);
        s.add(req);
        let mut chunks = Vec::new();
        while let Some(plan) = s.prefill_plan() {
            s.attach_cache(plan.prompt, ());
            let logits = plan.last.then(|| vec![0.0; 4]);
            s.prefill_done(&plan, logits);
            chunks.push((plan.start, plan.len));
        }
        // Full chunks of 4 while 4 × keys ≤ 40, then as many as the budget allows.
        assert_eq!(
            chunks,
            vec![
                (0, 4),
                (4, 4),
                (8, 3),
                (11, 2),
                (13, 2),
                (15, 2),
                (17, 2),
                (19, 1)
            ]
        );
        assert!(chunks.iter().all(|&(start, len)| len * (start + len) <= 40));
    }

    #[test]
    fn prompts_prefill_in_chunks_and_samples_refill_their_slots() {
        let mut s = scheduler(2);
        let (req, rx) = request(10, vec![group(5, 3, 0.0)]);
        s.add(req);
        let plans: Vec<(usize, usize, bool)> = std::iter::from_fn(|| {
            let plan = s.prefill_plan()?;
            s.attach_cache(plan.prompt, ());
            let logits = plan.last.then(|| vec![0.0, 0.0, 5.0, 0.0]);
            s.prefill_done(&plan, logits);
            Some((plan.start, plan.len, plan.last))
        })
        .collect();
        assert_eq!(plans, vec![(0, 4, false), (4, 4, false), (8, 2, true)]);
        s.fill_slots();
        assert_eq!(s.active().len(), 2);
        let (rows, groups) = s.decode_batch();
        assert_eq!(
            rows,
            vec![
                DecodeRow {
                    token: 2,
                    suffix_pos: 0
                };
                2
            ]
        );
        assert_eq!(groups.len(), 1);
        let (_, keys) = s.sampling_inputs();
        assert_eq!(
            keys.iter().map(|k| (k.index, k.step)).collect::<Vec<_>>(),
            vec![(0, 1), (1, 1)]
        );
        // Two steps of tokens: each sample reaches max_tokens = 3 and is replaced in place.
        let tok = |t| Sampled {
            token: t,
            logprob: -1.0,
        };
        assert!(s.apply_tokens(&[tok(3), tok(4)]).is_empty());
        assert!(s.apply_tokens(&[tok(5), tok(6)]).is_empty());
        let done: Vec<Completion> = rx.try_iter().map(Result::unwrap).collect();
        assert_eq!(done.len(), 2);
        assert_eq!(done[0].index, 1); // the last slot is processed first
        assert_eq!(done[1].token_ids, vec![2, 3, 5]);
        assert_eq!(done[1].text, "cdf");
        assert_eq!(done[1].finish_reason, FinishReason::Length);
        // Samples 2 and 3 now occupy the slots, freshly started.
        let indices: Vec<usize> = s.active().iter().map(|a| a.index).collect();
        assert_eq!(indices, vec![3, 2]);
        assert!(s.active().iter().all(|a| a.generated().len() == 1));
    }

    #[test]
    fn a_finished_slot_without_refill_is_closed_up_by_moving_the_last() {
        let mut s = scheduler(3);
        let (a, rx_a) = request(3, vec![group(1, 5, 0.0)]);
        let (b, rx_b) = request(3, vec![group(2, 5, 0.0)]);
        s.add(a);
        s.add(b);
        prefill_all(&mut s, 1);
        s.fill_slots();
        assert_eq!(s.active().len(), 3);
        let tok = |t| Sampled {
            token: t,
            logprob: -1.0,
        };
        s.apply_tokens(&[tok(1), tok(1), tok(1)]);
        // Slot 0 (prompt A's only sample) hits EOS: slot 2 moves into slot 0.
        let moves = s.apply_tokens(&[tok(0), tok(1), tok(1)]);
        assert_eq!(
            moves,
            vec![Move {
                from: 2,
                to: 0,
                len: 2
            }]
        );
        assert_eq!(s.active().len(), 2);
        let a: Vec<_> = rx_a.try_iter().collect();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].as_ref().unwrap().finish_reason, FinishReason::Stop);
        // Prompt A is retired: its channel closes once the retired ones are taken.
        let (timings, channels) = s.take_retired();
        assert_eq!((timings.len(), channels.len()), (1, 1));
        drop(channels);
        assert!(rx_a.recv().is_err());
        assert_eq!(rx_b.try_iter().count(), 0);
    }

    #[test]
    fn new_prompts_wait_while_queued_samples_can_fill_every_slot() {
        let mut s = scheduler(2);
        let (a, _rx_a) = request(4, vec![group(10, 5, 1.0)]);
        let (b, _rx_b) = request(4, vec![group(1, 5, 1.0)]);
        s.add(a);
        s.add(b);
        prefill_all(&mut s, 1);
        // A has 10 unstarted samples ≥ 2 slots: B is not prefilled yet.
        assert!(s.cache(2).is_none());
        s.fill_slots();
        assert_eq!(s.active().len(), 2);
        assert_eq!(s.prefill_plan(), None);
    }

    #[test]
    fn dropping_the_receiver_cancels_the_request() {
        let mut s = scheduler(2);
        let (a, rx) = request(2, vec![group(6, 1, 1.0)]);
        s.add(a);
        drop(rx);
        prefill_all(&mut s, 1);
        // max_tokens 1: every sample ends at its first token; the failed send cancels.
        s.fill_slots();
        assert!(s.is_idle());
        assert_eq!(s.take_retired().0.len(), 1);
    }

    #[test]
    fn a_request_dropped_while_samples_are_in_slots_leaves() {
        let mut s = scheduler(4);
        let (a, rx) = request(2, vec![group(10, 3, 1.0)]);
        s.add(a);
        prefill_all(&mut s, 1);
        s.fill_slots();
        assert_eq!(s.active().len(), 4);
        drop(rx);
        let tok = Sampled {
            token: 2,
            logprob: -1.0,
        };
        // Each step: the first finished sample's send fails, the rest are abandoned.
        for _ in 0..4 {
            let rows = s.active().len();
            if rows == 0 {
                break;
            }
            s.apply_tokens(&vec![tok; rows]);
            s.fill_slots();
        }
        assert!(s.active().is_empty(), "abandoned samples leave their slots");
        assert!(
            s.is_idle(),
            "the cancelled prompt (and its cache) is retired"
        );
        assert_eq!(s.take_retired().0.len(), 1);
        assert_eq!(
            s.finished_total(),
            10,
            "every submitted sample is counted once"
        );
    }

    #[test]
    fn failing_one_prompt_leaves_the_others_running() {
        let mut s = scheduler(2);
        let (a, rx_a) = request(2, vec![group(3, 2, 1.0)]);
        let (b, rx_b) = request(2, vec![group(2, 2, 1.0)]);
        s.add(a);
        s.add(b);
        let first = s.prefill_plan().unwrap().prompt;
        s.fail_prompt(first, "out of memory");
        assert!(matches!(rx_a.try_recv(), Ok(Err(GenError::Failed(m))) if m == "out of memory"));
        assert_eq!(s.finished_total(), 3);
        prefill_all(&mut s, 1);
        s.fill_slots();
        decode_until_no_slot_is_active(&mut s);
        assert_eq!(rx_b.try_iter().filter(|r| r.is_ok()).count(), 2);
        assert!(s.is_idle());
        assert_eq!(s.finished_total(), 5);
    }

    /// Feeds every active slot an ordinary token, step after step, refilling slots, until
    /// none is active.
    fn decode_until_no_slot_is_active(s: &mut Scheduler<()>) {
        let tok = Sampled {
            token: 2,
            logprob: -1.0,
        };
        while !s.active().is_empty() {
            let rows = s.active().len();
            s.apply_tokens(&vec![tok; rows]);
            s.fill_slots();
        }
    }

    #[test]
    fn prompt_logits_are_unusable_exactly_when_a_sample_from_them_would_be() {
        let ok = [0.5f32, -1.0, 2.0];
        assert!(!unusable_logits(&ok));
        assert!(
            !unusable_logits(&[0.5, f32::NEG_INFINITY, 2.0]),
            "a masked token is not an error"
        );
        assert!(unusable_logits(&[0.5, f32::NAN, 2.0]));
        assert!(unusable_logits(&[0.5, f32::INFINITY, 2.0]));
        assert!(unusable_logits(&[f32::NEG_INFINITY; 3]));
        // The sampler agrees: its log-probability is finite exactly for the usable rows.
        let key = crate::rng::DrawKey {
            seed: 0,
            stream: 0,
            index: 0,
            step: 0,
        };
        for row in [
            ok.to_vec(),
            vec![0.5, f32::NEG_INFINITY, 2.0],
            vec![0.5, f32::NAN, 2.0],
            vec![0.5, f32::INFINITY, 2.0],
            vec![f32::NEG_INFINITY; 3],
        ] {
            let s = crate::sampling::sample(&row, &crate::sampling::SamplerParams::GREEDY, key);
            assert_eq!(unusable_logits(&row), !s.logprob.is_finite(), "{row:?}");
        }
    }

    #[test]
    fn non_finite_prompt_logits_fail_that_request_alone() {
        let mut s = scheduler(2);
        let (a, rx_a) = request(2, vec![group(3, 2, 1.0)]);
        let (b, rx_b) = request(2, vec![group(2, 2, 1.0)]);
        s.add(a);
        s.add(b);
        let plan = s.prefill_plan().unwrap();
        s.attach_cache(plan.prompt, ());
        let mut logits = vec![0.0f32; 8];
        logits[3] = f32::NAN;
        s.prefill_done(&plan, Some(logits));
        assert!(
            matches!(rx_a.try_recv(), Ok(Err(GenError::Failed(m))) if m.starts_with(NON_FINITE))
        );
        prefill_all(&mut s, 1);
        s.fill_slots();
        decode_until_no_slot_is_active(&mut s);
        assert_eq!(rx_b.try_iter().filter(|r| r.is_ok()).count(), 2);
        assert!(s.is_idle());
        assert_eq!(s.finished_total(), 5);
    }

    #[test]
    fn a_non_finite_token_fails_its_request_and_frees_its_slots() {
        let mut s = scheduler(4);
        let (a, rx_a) = request(2, vec![group(6, 3, 1.0)]);
        let (b, rx_b) = request(2, vec![group(2, 3, 1.0)]);
        s.add(a);
        s.add(b);
        prefill_all(&mut s, 1);
        s.fill_slots();
        // A fills every slot first; its second sample meets NaN logits.
        assert_eq!(s.active().len(), 4);
        let ok = Sampled {
            token: 2,
            logprob: -1.0,
        };
        let mut tokens = vec![ok; 4];
        tokens[1].logprob = f32::NAN;
        s.apply_tokens(&tokens);
        let got: Vec<_> = rx_a.try_iter().collect();
        assert_eq!(got.len(), 1, "one error, no completions: {got:?}");
        assert!(
            matches!(&got[0], Err(GenError::Failed(m)) if m.contains("at token 1 of sample 1"))
        );
        // B, held back while A could fill every slot, now prefills and runs.
        prefill_all(&mut s, 1);
        s.fill_slots();
        decode_until_no_slot_is_active(&mut s);
        assert_eq!(rx_b.try_iter().filter(|r| r.is_ok()).count(), 2);
        assert!(s.is_idle(), "the failed prompt (and its cache) is retired");
        assert_eq!(
            s.finished_total(),
            8,
            "every submitted sample is counted once"
        );
        assert!(rx_a.try_recv().is_err(), "nothing after the error");
    }

    #[test]
    fn failing_all_counts_every_outstanding_sample_as_finished() {
        let mut s = scheduler(2);
        let (a, rx) = request(2, vec![group(5, 3, 1.0)]);
        s.add(a);
        prefill_all(&mut s, 1);
        s.fill_slots();
        s.fail_all("device lost");
        assert!(s.is_idle());
        assert_eq!(s.finished_total(), 5);
        assert!(matches!(rx.try_recv(), Ok(Err(GenError::Failed(_)))));
    }
}
