//! The generation permits: how many questions may generate at once. A question gives its
//! permit back as soon as its last sample is generated (or while its greedy sample is being
//! graded), so the next question's request reaches the generator while the previous one's
//! samples are still being graded.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// A counting semaphore over questions that are generating.
pub(super) struct GenerationPermits {
    free: Mutex<usize>,
    returned: Condvar,
}

/// One question's right to generate; given back when dropped.
pub(super) struct GenerationPermit<'p>(&'p GenerationPermits);

impl GenerationPermits {
    pub(super) fn new(count: usize) -> Self {
        GenerationPermits {
            free: Mutex::new(count.max(1)),
            returned: Condvar::new(),
        }
    }

    /// Waits for a permit; `None` once `cancel` is set.
    pub(super) fn acquire<'p>(&'p self, cancel: &AtomicBool) -> Option<GenerationPermit<'p>> {
        let mut free = self.free.lock().expect("permits lock");
        loop {
            if cancel.load(Ordering::SeqCst) {
                return None;
            }
            if *free > 0 {
                *free -= 1;
                return Some(GenerationPermit(self));
            }
            free = self
                .returned
                .wait_timeout(free, Duration::from_millis(100))
                .expect("permits lock")
                .0;
        }
    }
}

impl Drop for GenerationPermit<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().expect("permits lock") += 1;
        self.0.returned.notify_one();
    }
}
