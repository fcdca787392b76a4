//! The state of work in flight: a prompt with its samples (started, finished, requeued after
//! a preemption, its cache blocks and last logits), and a sample decoding in a slot.

use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Sender;
use lcb_core::generator::{Completion, GenError};

use super::{GroupSpec, RequestObserver};
use crate::stop::Generated;

/// A request on this device: its prompt, its samples and where they stand.
pub(super) struct PromptState {
    pub(super) id: u64,
    pub(super) tokens: Vec<u32>,
    pub(super) groups: Vec<GroupSpec>,
    pub(super) reply: Sender<Result<Completion, GenError>>,
    pub(super) submitted: Instant,
    pub(super) prefilled: usize,
    /// [`super::Request::shared_prefix`].
    pub(super) shared_prefix: usize,
    /// The prompt's cache blocks, while it is resident.
    pub(super) cache: Option<Vec<u32>>,
    /// Samples that were decoding and gave their blocks up (preempted): they start again
    /// before any unstarted one.
    pub(super) requeued: Vec<Requeued>,
    /// Logits after the whole prompt (shared by every sample's first token).
    pub(super) logits: Option<Arc<Vec<f32>>>,
    /// The next unstarted sample: (group, index).
    pub(super) cursor: (usize, usize),
    pub(super) total: usize,
    pub(super) started: usize,
    /// Samples done with: sent, or abandoned because nobody listens any more.
    pub(super) finished: usize,
    pub(super) cancelled: bool,
    pub(super) prefill_done: Option<Instant>,
    pub(super) first_token: Option<Instant>,
    pub(super) generated_tokens: usize,
    pub(super) observer: Option<Arc<dyn RequestObserver>>,
}

/// A preempted sample, waiting to start again. Its draws are keyed by (seed, stream, index,
/// step), so it regenerates exactly the tokens it had.
#[derive(Debug, Clone, Copy)]
pub(super) struct Requeued {
    pub(super) group: usize,
    pub(super) index: usize,
    /// Tokens the request's observer already heard of: not announced again.
    pub(super) streamed: usize,
    /// When the sample first drew a token.
    pub(super) first_token: Instant,
}

impl PromptState {
    pub(super) fn ready(&self) -> bool {
        self.logits.is_some()
    }

    pub(super) fn unstarted(&self) -> usize {
        if self.cancelled {
            0
        } else {
            self.total - self.started
        }
    }

    /// The next sample to start: a requeued one first, else the next unstarted index.
    pub(super) fn take_next(&mut self) -> Option<(usize, usize, Option<Requeued>)> {
        if self.unstarted() == 0 {
            return None;
        }
        if let Some(again) = self.requeued.pop() {
            self.started += 1;
            return Some((again.group, again.index, Some(again)));
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
        Some((next.0, next.1, None))
    }

    pub(super) fn done(&self) -> bool {
        self.finished == self.total || (self.cancelled && self.started == self.finished)
    }
}

/// One active sample, decoding.
#[derive(Debug, Clone)]
pub struct SlotState {
    pub(super) prompt: u64,
    pub(super) group: usize,
    pub(super) index: usize,
    pub(super) generated: Generated,
    /// When the sample's first token was sampled (it starts with one).
    pub(super) first_token: Instant,
    /// Its own cache blocks: position `p` of its tokens lives in `blocks[p / BLOCK_TOKENS]`.
    pub(super) blocks: Vec<u32>,
    /// Tokens announced to the observer before a preemption (not announced again).
    pub(super) streamed: usize,
    /// When it was admitted (a counter): preemption takes the youngest first.
    pub(super) admitted: u64,
}

impl SlotState {
    /// The sample's tokens so far.
    pub fn generated(&self) -> &Generated {
        &self.generated
    }

    /// Its cache blocks.
    pub fn blocks(&self) -> &[u32] {
        &self.blocks
    }
}
