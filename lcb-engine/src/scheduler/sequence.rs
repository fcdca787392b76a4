//! The state of work in flight: a prompt with its samples (started, finished, its cache and
//! last logits), and a sample decoding in a slot.

use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Sender;
use lcb_core::generator::{Completion, GenError};

use super::{GroupSpec, RequestObserver};
use crate::stop::Generated;

/// A request on this device: its prompt, its samples and where they stand.
pub(super) struct PromptState<K> {
    pub(super) id: u64,
    pub(super) tokens: Vec<u32>,
    pub(super) groups: Vec<GroupSpec>,
    pub(super) reply: Sender<Result<Completion, GenError>>,
    pub(super) submitted: Instant,
    pub(super) prefilled: usize,
    /// [`super::Request::shared_prefix`].
    pub(super) shared_prefix: usize,
    pub(super) cache: Option<K>,
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

impl<K> PromptState<K> {
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

    pub(super) fn take_next(&mut self) -> Option<(usize, usize)> {
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

    pub(super) fn done(&self) -> bool {
        self.finished == self.total || (self.cancelled && self.started == self.finished)
    }
}

/// One active sample in a decode slot.
#[derive(Debug, Clone)]
pub struct SlotState {
    pub(super) prompt: u64,
    pub(super) group: usize,
    pub(super) index: usize,
    pub(super) generated: Generated,
    /// When the sample's first token was sampled (it starts with one).
    pub(super) first_token: Instant,
}

impl SlotState {
    /// The sample's tokens so far.
    pub fn generated(&self) -> &Generated {
        &self.generated
    }
}
