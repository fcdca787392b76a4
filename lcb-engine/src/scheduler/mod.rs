//! What one device runs next: the prompts it holds, which prompt chunk to prefill, which
//! samples decode, which cache blocks each holds, and what happens when a sample ends or the
//! cache runs dry.
//!
//! Host-side bookkeeping only (no tensors): caches are block tables into the device's
//! [`KvPool`](crate::model::KvPool), handed out by a [`BlockAllocator`], so the policy is
//! testable on its own. The rules:
//!
//! * **Memory sets concurrency**: a prompt's blocks are taken when it is admitted (as many as
//!   it has tokens), a sample's one at a time as it grows, and both go back the moment they
//!   end. Samples are admitted while the free blocks cover what the active samples are
//!   expected to need (`expected_new_tokens` each) plus a safety margin, up to `max_rows`.
//! * **Preemption**: when a decoding sample needs a block and none is free, the youngest
//!   sample gives its blocks up and is requeued; it starts again later and, its draws being
//!   keyed by (seed, stream, index, step), regenerates the same tokens. A sample alone in a
//!   pool held by idle prompts evicts one (it prefills again later); a sample alone in a pool
//!   too small for it fails its request with the sizes.
//! * A sample that ends is replaced in place by the next sample of the same prompt (no
//!   prefill: the prompt's cache and last logits are already there); otherwise its row goes.
//! * **Prefill** runs one chunk per step, alongside decoding. A chunk holds at most
//!   `prefill_chunk` tokens, and fewer late in a prompt longer than the memory plan expected,
//!   so that its attention scores (chunk × keys) stay within `attention_budget`. A new prompt
//!   starts only while fewer than `max_resident_prompts` prompts hold a cache, its blocks and
//!   the margin are free, and the ready prompts' unstarted samples could not fill every row.
//! * A prompt leaves (its blocks freed, its channel closed) when its last sample is sent.

mod blocks;
mod request;
mod sequence;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Sender;
use lcb_core::generator::{Completion, FinishReason, GenError};

pub use blocks::BlockAllocator;
pub use request::{GroupSpec, Request, RequestObserver, RequestTiming, SampleTiming, TokenEvent};
pub use sequence::SlotState;
use sequence::{PromptState, Requeued};

use crate::model::{blocks_for, DecodeRow, PromptKv, BLOCK_TOKENS};
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
    /// Most samples decoding at once (rows of a step): bounds the step's working memory
    /// (logits, scores), not the cache.
    pub max_rows: usize,
    /// Cache blocks in the device's pool.
    pub kv_blocks: usize,
    /// New tokens a sample is expected to generate, for admission: samples are admitted while
    /// the free blocks cover every active sample up to this length (or its limit).
    pub expected_new_tokens: usize,
    /// Most prompt tokens per prefill chunk.
    pub prefill_chunk: usize,
    /// Most prompts holding a cache at once.
    pub max_resident_prompts: usize,
    /// Whether a prompt may copy its shared prefix from a resident prompt's cache.
    pub share_prefixes: bool,
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
    /// Leading tokens whose cache the prompt takes from a resident prompt of its family,
    /// admitted this step (0 otherwise): copied before the step
    /// ([`Scheduler::take_head_copies`]).
    pub from_family: usize,
}

/// Copy the first `len` positions of the prompt cache in blocks `from` to the one in `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadCopy {
    /// The resident prompt's blocks.
    pub from: Vec<u32>,
    /// The admitted prompt's blocks.
    pub to: Vec<u32>,
    /// Positions to copy: the family's shared head.
    pub len: usize,
}

/// One device's queue of prompts, its decoding samples and its cache blocks.
pub struct Scheduler {
    config: SchedulerConfig,
    prompts: VecDeque<PromptState>,
    slots: Vec<SlotState>,
    blocks: BlockAllocator,
    /// Blocks given back that hold non-finite values: zeroed before the next step.
    to_clear: Vec<u32>,
    /// Shared heads to copy before the next forward pass, for prompts admitted beside their
    /// family.
    to_copy: Vec<HeadCopy>,
    /// Admissions so far (ages samples for preemption).
    admitted: u64,
    /// Samples preempted and prompts evicted so far.
    preempted: u64,
    evicted: u64,
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

impl Scheduler {
    /// A scheduler for a pool of `config.kv_blocks` blocks; `eos` ends samples unless their
    /// group ignores it; `token_bytes` gives each token's text bytes (for stop strings and
    /// text).
    pub fn new(
        config: SchedulerConfig,
        eos: Vec<u32>,
        token_bytes: Arc<dyn Fn(u32) -> Vec<u8> + Send + Sync>,
    ) -> Self {
        Scheduler {
            blocks: BlockAllocator::new(config.kv_blocks),
            config,
            prompts: VecDeque::new(),
            slots: Vec::new(),
            to_clear: Vec::new(),
            to_copy: Vec::new(),
            admitted: 0,
            preempted: 0,
            evicted: 0,
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
            requeued: Vec::new(),
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

    /// The decoding samples, row `i` first.
    pub fn active(&self) -> &[SlotState] {
        &self.slots
    }

    /// Free and total cache blocks.
    pub fn blocks(&self) -> (usize, usize) {
        (self.blocks.available(), self.blocks.total())
    }

    /// Samples preempted and prompts evicted since the start.
    pub fn preemptions(&self) -> (u64, u64) {
        (self.preempted, self.evicted)
    }

    /// Takes the blocks that were given back holding non-finite values; the caller zeroes
    /// them before the next step (see [`crate::model::KvPool::clear_blocks`]).
    pub fn take_blocks_to_clear(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.to_clear)
    }

    /// Takes the head copies the caller makes before the next forward pass (see
    /// [`PrefillPlan::from_family`]).
    pub fn take_head_copies(&mut self) -> Vec<HeadCopy> {
        std::mem::take(&mut self.to_copy)
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

    fn prompt(&self, id: u64) -> Option<&PromptState> {
        self.prompts.iter().find(|p| p.id == id)
    }

    fn prompt_mut(&mut self, id: u64) -> Option<&mut PromptState> {
        self.prompts.iter_mut().find(|p| p.id == id)
    }

    /// Blocks kept free besides what admitted samples are expected to need: 1% of the pool
    /// (vLLM's watermark), at least one.
    fn margin(&self) -> usize {
        (self.blocks.total() / 100).max(1)
    }

    /// Blocks the decoding samples are expected to take before they end.
    fn outstanding_blocks(&self) -> usize {
        self.slots
            .iter()
            .map(|s| {
                let p = self
                    .prompt(s.prompt)
                    .expect("a decoding sample's prompt is queued");
                self.expected_blocks(p, s.group)
                    .saturating_sub(s.blocks.len())
            })
            .sum()
    }

    /// Blocks a sample of `prompt`'s groups is expected to hold at its end.
    fn expected_blocks(&self, p: &PromptState, group: usize) -> usize {
        let limit = p.groups.get(group).map_or(1, |g| g.max_tokens);
        blocks_for(self.config.expected_new_tokens.min(limit).max(1))
    }

    /// The prompt chunk to prefill this step, if any (see the module rules). A prompt not
    /// resident yet is admitted here: its blocks are taken from the pool. A prompt that could
    /// not run even in an empty pool fails at once.
    pub fn prefill_plan(&mut self) -> Option<PrefillPlan> {
        let mut from_family = 0;
        loop {
            let candidate = self
                .prompts
                .iter()
                .find(|p| !p.cancelled && p.prefilled < p.tokens.len())?;
            if candidate.cache.is_none() {
                let id = candidate.id;
                let need = blocks_for(candidate.tokens.len());
                let longest = candidate
                    .groups
                    .iter()
                    .map(|g| g.max_tokens)
                    .max()
                    .unwrap_or(1);
                // The prompt's blocks, then one sample's blocks when it is alone.
                let alone = need + blocks_for(longest);
                if alone > self.blocks.total() {
                    let error = format!(
                        "the KV cache holds {} tokens ({} blocks of {}); a {}-token prompt with \
                         samples of up to {longest} tokens needs {} blocks: raise --kv-memory or \
                         lower --max-tokens",
                        self.blocks.total() * BLOCK_TOKENS,
                        self.blocks.total(),
                        BLOCK_TOKENS,
                        candidate.tokens.len(),
                        alone
                    );
                    self.fail_prompt(id, &error);
                    continue;
                }
                let resident: Vec<&PromptState> =
                    self.prompts.iter().filter(|p| p.cache.is_some()).collect();
                if resident.len() >= self.config.max_resident_prompts {
                    return None;
                }
                let queued: usize = resident.iter().map(|p| p.unstarted()).sum();
                if queued >= self.config.max_rows {
                    return None;
                }
                // A prompt's cache is one run of blocks, read in place by the prompt
                // attention; a resident prompt of the family holds the shared head already,
                // to be copied instead of computed.
                let family = self.family_head(id);
                // With nothing else resident, only the prompt itself must fit; otherwise it
                // waits until it fits beside what the decoding samples are expected to need.
                let margin = if resident.is_empty() {
                    0
                } else {
                    self.margin() + self.outstanding_blocks()
                };
                if self.blocks.available() < need + margin {
                    return None;
                }
                // No run that long while samples hold blocks in between: wait for them.
                let run = self.blocks.take_run(need)?;
                let mut head = 0;
                if let Some((len, donor)) = family {
                    self.to_copy.push(HeadCopy {
                        from: donor,
                        to: run.clone(),
                        len,
                    });
                    head = len;
                }
                let p = self.prompt_mut(id).expect("the candidate is queued");
                p.cache = Some(run);
                p.prefilled = head;
                from_family = head;
            }
            let candidate = self
                .prompts
                .iter()
                .find(|p| !p.cancelled && p.prefilled < p.tokens.len())?;
            let start = candidate.prefilled;
            // A shared prefix ends a chunk, so its cache does not depend on the tokens after
            // it.
            let end = if start < candidate.shared_prefix {
                candidate.shared_prefix
            } else {
                candidate.tokens.len()
            };
            let len = self.config.prefill_chunk.min(end - start);
            // Scores are len × (start + len); shrinking len to budget / (start + len) is
            // enough (the keys shrink with it). At least one token, so a prompt always
            // progresses.
            let len = len.min(self.config.attention_budget / (start + len)).max(1);
            return Some(PrefillPlan {
                prompt: candidate.id,
                start: candidate.prefilled,
                len,
                last: candidate.prefilled + len == candidate.tokens.len(),
                from_family,
            });
        }
    }

    /// The prompt's tokens.
    pub fn prompt_tokens(&self, prompt: u64) -> &[u32] {
        self.prompt(prompt).map_or(&[], |p| &p.tokens)
    }

    /// The prompt's cache, while it is resident.
    pub fn cache(&self, prompt: u64) -> Option<PromptKv<'_>> {
        let p = self.prompt(prompt)?;
        Some(PromptKv {
            blocks: p.cache.as_deref()?,
            len: p.tokens.len(),
        })
    }

    /// The shared head of `prompt` as a resident prompt of its family computed it (the same
    /// head length, the same tokens, prefilled past it, so its cache is the one `prompt`
    /// would compute): the head's length and that prompt's blocks.
    fn family_head(&self, prompt: u64) -> Option<(usize, Vec<u32>)> {
        let p = self.prompt(prompt)?;
        let len = p.shared_prefix;
        if len == 0 || p.prefilled > 0 || !self.config.share_prefixes {
            return None;
        }
        self.prompts
            .iter()
            .find(|d| {
                d.id != prompt
                    && !d.cancelled
                    && d.cache.is_some()
                    && d.shared_prefix == len
                    && d.prefilled >= len
                    && d.tokens[..len] == p.tokens[..len]
            })
            .and_then(|d| Some((len, d.cache.clone()?)))
    }

    /// Records a prefilled chunk; `logits` are the prompt's last logits on its last chunk.
    ///
    /// Prompt logits that are not all finite fail the request (see [`NON_FINITE`]).
    pub fn prefill_done(&mut self, plan: &PrefillPlan, logits: Option<Vec<f32>>) {
        if logits.as_deref().is_some_and(unusable_logits) {
            // Its blocks may hold the non-finite values that made them.
            if let Some(blocks) = self.prompt(plan.prompt).and_then(|p| p.cache.clone()) {
                self.to_clear.extend(blocks);
            }
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
        self.admitted += 1;
        let admitted = self.admitted;
        let p = self.prompt_mut(prompt)?;
        let (group, index, again) = p.take_next()?;
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
            first_token: again.map_or_else(Instant::now, |a| a.first_token),
            blocks: Vec::new(),
            streamed: again.map_or(0, |a| a.streamed),
            admitted,
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
            // A sample regenerating after a preemption announced these tokens already.
            let fresh = slot.generated.len() > slot.streamed;
            if let Some(observer) = p.observer.as_ref().filter(|_| fresh) {
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

    fn send(p: &mut PromptState, slot: &mut SlotState, reason: FinishReason) {
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

    /// Admits samples of ready prompts, oldest prompt first, while the free blocks cover
    /// what every decoding sample is expected to need plus the margin (and `max_rows`
    /// allows). With nothing decoding, one sample is admitted whatever its expectation: it
    /// needs one block to start.
    pub fn fill_slots(&mut self) {
        let reserved = self.outstanding_blocks() + self.margin();
        let mut room = self.blocks.available() as i64 - reserved as i64;
        while self.slots.len() < self.config.max_rows {
            let Some(prompt) = self
                .prompts
                .iter()
                .find(|p| p.ready() && p.unstarted() > 0)
                .map(|p| p.id)
            else {
                break;
            };
            let p = self.prompt(prompt).expect("just found");
            let next_group = p.requeued.last().map_or(p.cursor.0, |r| r.group);
            let want = self.expected_blocks(p, next_group) as i64;
            // Nothing decoding: one sample starts whatever the room (it evicts an idle prompt
            // if it must), so prompts holding every block cannot stall the device.
            if room < want && !self.slots.is_empty() {
                break;
            }
            room -= want;
            if let Some(Some(slot)) = self.start_sample(prompt) {
                self.slots.push(slot);
            }
        }
        self.retire_prompts();
    }

    /// Gives every decoding sample the block its next token's key/value goes to. When the
    /// pool is dry, the youngest sample is preempted (its blocks freed, it is requeued);
    /// a sample left alone evicts an idle resident prompt, and one that still cannot grow
    /// fails its request (the pool cannot hold it).
    pub fn reserve_blocks(&mut self) {
        while let Some(i) = self
            .slots
            .iter()
            .position(|s| s.blocks.len() < blocks_for(s.generated.len()))
        {
            if let Some(block) = self.blocks.take_one() {
                self.slots[i].blocks.push(block);
                continue;
            }
            if self.slots.len() > 1 {
                let youngest = (0..self.slots.len())
                    .max_by_key(|&j| self.slots[j].admitted)
                    .expect("several samples decode");
                self.preempt(youngest);
                continue;
            }
            let own = self.slots[i].prompt;
            let idle = self
                .prompts
                .iter()
                .find(|p| p.id != own && p.cache.is_some())
                .map(|p| p.id);
            if let Some(idle) = idle {
                self.evict(idle);
                continue;
            }
            let slot = self.slots.remove(i);
            let (tokens, total) = (slot.generated.len(), self.blocks.total());
            self.blocks.give_back(slot.blocks);
            let error = format!(
                "the KV cache ({total} blocks of {} tokens) cannot hold this prompt and one \
                 sample of {tokens} tokens: raise --kv-memory or lower --max-tokens",
                BLOCK_TOKENS
            );
            // The request has no other sample decoding: it leaves, its samples counted.
            self.fail_prompt(slot.prompt, &error);
        }
    }

    /// Takes sample `row` off the device: its blocks go back and it waits, first in its
    /// prompt's line, to start again.
    fn preempt(&mut self, row: usize) {
        let slot = self.slots.remove(row);
        self.blocks.give_back(slot.blocks);
        self.preempted += 1;
        if let Some(p) = self.prompt_mut(slot.prompt) {
            p.started -= 1;
            p.requeued.push(Requeued {
                group: slot.group,
                index: slot.index,
                streamed: slot.streamed.max(slot.generated.len()),
                first_token: slot.first_token,
            });
        }
    }

    /// Frees the cache of a resident prompt none of whose samples is decoding: it is
    /// prefilled again (to the same cache) when its turn comes.
    fn evict(&mut self, prompt: u64) {
        let Some(p) = self.prompt_mut(prompt) else {
            return;
        };
        let blocks = p.cache.take().unwrap_or_default();
        p.prefilled = 0;
        p.logits = None;
        self.blocks.give_back(blocks);
        self.evicted += 1;
    }

    /// The decode rows (sample `i` = row `i`) and, per prompt, its cache and rows. Call
    /// after [`Scheduler::reserve_blocks`], which gives every row the block it writes to.
    pub fn decode_batch(&self) -> (Vec<DecodeRow<'_>>, Vec<(PromptKv<'_>, Vec<usize>)>) {
        let rows = self
            .slots
            .iter()
            .map(|s| DecodeRow {
                token: s.generated.last().expect("active slots have a token"),
                suffix_pos: s.generated.len() - 1,
                blocks: &s.blocks,
            })
            .collect();
        let mut groups: Vec<(u64, PromptKv<'_>, Vec<usize>)> = Vec::new();
        for (row, s) in self.slots.iter().enumerate() {
            match groups.iter_mut().find(|g| g.0 == s.prompt) {
                Some(g) => g.2.push(row),
                None => {
                    let cache = self
                        .cache(s.prompt)
                        .expect("a decoding prompt has its cache");
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

    /// Applies one decode step's tokens (`sampled[i]` for row `i`): finished samples are
    /// sent, their blocks freed, and their rows refilled from the same prompt or removed
    /// (the other rows keep their order).
    ///
    /// A token whose log-probability is not finite came from logits that were not (NaN, or
    /// an infinite maximum): its request fails (see [`NON_FINITE`]), the request's other
    /// decoding samples are abandoned, and its blocks are queued for clearing.
    pub fn apply_tokens(&mut self, sampled: &[Sampled]) {
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
        for (slot, s) in self.slots.iter().zip(sampled) {
            if !s.logprob.is_finite() {
                self.to_clear.extend_from_slice(&slot.blocks);
            }
        }
        for (prompt, error) in failing {
            self.fail_prompt(prompt, &error);
        }
        // From the last row down, so removing a row leaves the rows still to visit in place.
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
            self.blocks
                .give_back(std::mem::take(&mut self.slots[i].blocks));
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
                    self.slots.remove(i);
                }
            }
        }
        self.retire_prompts();
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
        for mut p in done {
            self.blocks.give_back(p.cache.take().unwrap_or_default());
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
            let mut p = self
                .prompts
                .remove(pos)
                .expect("the position was just found");
            self.blocks.give_back(p.cache.take().unwrap_or_default());
            self.finished_total += (p.total - p.finished) as u64;
            let _ = p.reply.send(Err(GenError::Failed(error.to_owned())));
        }
    }

    /// Fails every request with a sample decoding (a step over their rows failed): their
    /// rows and blocks are freed at once, so the failing batch is not run again. Requests
    /// not decoding yet carry on.
    pub fn fail_decoding(&mut self, error: &str) {
        let mut prompts: Vec<u64> = Vec::new();
        for slot in std::mem::take(&mut self.slots) {
            self.blocks.give_back(slot.blocks);
            if let Some(p) = self.prompt_mut(slot.prompt) {
                p.finished += 1;
            }
            self.finished_total += 1;
            if !prompts.contains(&slot.prompt) {
                prompts.push(slot.prompt);
            }
        }
        for prompt in prompts {
            self.fail_prompt(prompt, error);
        }
    }

    /// Fails every queued request with `error` and clears all state (after a device error).
    pub fn fail_all(&mut self, error: &str) {
        for p in self.prompts.drain(..) {
            self.finished_total += (p.total - p.finished) as u64;
            let _ = p.reply.send(Err(GenError::Failed(error.to_owned())));
        }
        self.slots.clear();
        self.blocks.reset();
        self.to_copy.clear();
    }
}

#[cfg(test)]
mod tests;
