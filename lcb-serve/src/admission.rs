//! The bounded queue: how many requests and samples the server holds at once. A request that
//! would exceed either bound is answered 503 with `Retry-After` at once, instead of waiting
//! in a queue that grows without limit; its permit is returned when the request leaves
//! (finished, failed or its client gone).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::error::ApiError;

/// Limits and what is in use.
#[derive(Debug)]
pub(crate) struct Admission {
    max_requests: usize,
    max_samples: usize,
    requests: AtomicUsize,
    samples: AtomicUsize,
    /// Requests turned away because the queue was full.
    turned_away: AtomicUsize,
}

/// A request's share of the queue, returned on drop.
#[derive(Debug)]
pub(crate) struct Permit {
    admission: Arc<Admission>,
    samples: usize,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.admission.requests.fetch_sub(1, Ordering::SeqCst);
        self.admission
            .samples
            .fetch_sub(self.samples, Ordering::SeqCst);
    }
}

impl Admission {
    pub(crate) fn new(max_requests: usize, max_samples: usize) -> Arc<Self> {
        Arc::new(Admission {
            max_requests: max_requests.max(1),
            max_samples: max_samples.max(1),
            requests: AtomicUsize::new(0),
            samples: AtomicUsize::new(0),
            turned_away: AtomicUsize::new(0),
        })
    }

    /// Admits a request of `samples` samples, or says why not. A request larger than the
    /// whole queue can never run: a 400 says so instead of a 503 that would be retried
    /// forever.
    pub(crate) fn admit(self: &Arc<Self>, samples: usize) -> Result<Permit, ApiError> {
        if samples > self.max_samples {
            return Err(ApiError::invalid(
                Some("n"),
                format!(
                    "this request asks for {samples} samples, more than the server ever holds \
                     ({}); split it",
                    self.max_samples
                ),
            ));
        }
        // Claimed only when it fits, so a burst of refused requests never makes the queue
        // look fuller than it is to the requests beside them.
        let busy = |what: String| {
            self.turned_away.fetch_add(1, Ordering::SeqCst);
            ApiError::overloaded(format!("the server is busy: {what}; retry later"), 1)
        };
        let claim = |counter: &AtomicUsize, amount: usize, limit: usize| {
            counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |held| {
                (held + amount <= limit).then_some(held + amount)
            })
        };
        if let Err(held) = claim(&self.requests, 1, self.max_requests) {
            return Err(busy(format!(
                "{held} requests in flight (limit {})",
                self.max_requests
            )));
        }
        if let Err(held) = claim(&self.samples, samples, self.max_samples) {
            self.requests.fetch_sub(1, Ordering::SeqCst);
            return Err(busy(format!(
                "{held} samples queued or decoding (limit {})",
                self.max_samples
            )));
        }
        let permit = Permit {
            admission: self.clone(),
            samples,
        };
        Ok(permit)
    }

    /// Requests and samples held now.
    pub(crate) fn in_use(&self) -> (usize, usize) {
        (
            self.requests.load(Ordering::SeqCst),
            self.samples.load(Ordering::SeqCst),
        )
    }

    /// Requests answered 503 since the start.
    pub(crate) fn turned_away(&self) -> usize {
        self.turned_away.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_bounded_and_returned() {
        let a = Admission::new(2, 10);
        let p1 = a.admit(6).unwrap();
        let e = a.admit(5).unwrap_err();
        assert_eq!(e.status.as_u16(), 503);
        assert_eq!(e.retry_after, Some(1));
        let p2 = a.admit(4).unwrap();
        assert_eq!(
            a.admit(0).unwrap_err().status.as_u16(),
            503,
            "2 requests max"
        );
        assert_eq!(a.admit(11).unwrap_err().status.as_u16(), 400);
        drop((p1, p2));
        assert_eq!(a.in_use(), (0, 0));
        assert_eq!(a.turned_away(), 2);
        assert!(a.admit(10).is_ok());
    }
}
