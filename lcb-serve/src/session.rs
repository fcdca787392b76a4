//! A request on the engine: its prompts submitted, and one ordered stream of what happens to
//! them (tokens drawn, samples finished, prompts done) for the handler to answer from.
//!
//! The engine thread reports tokens through a [`RequestObserver`] straight into the stream;
//! finished samples arrive on the engine's own channel, which a blocking task forwards into
//! the same stream. A sample's tokens therefore always come before its completion. When the
//! handler drops the stream (its client left), the observer says so and the engine abandons
//! the request's samples at its next step.

use std::sync::Arc;

use lcb_core::generator::{Completion, GenError};
use lcb_engine::scheduler::{RequestObserver, TokenEvent};
use lcb_engine::Engine;
use tokio::sync::mpsc;

use crate::admission::{Admission, Permit};
use crate::error::ApiError;
use crate::params::Work;

/// What happened to one of the request's prompts.
#[derive(Debug)]
pub(crate) enum Event {
    /// A sample of prompt `.0` drew a token and goes on.
    Token(usize, TokenEvent),
    /// A sample of prompt `.0` finished (or the prompt failed).
    Done(usize, Result<Completion, GenError>),
    /// One of the prompts has nothing more to say.
    Closed,
}

struct Observer {
    prompt: usize,
    events: mpsc::UnboundedSender<Event>,
}

impl RequestObserver for Observer {
    fn token(&self, event: TokenEvent) {
        let _ = self.events.send(Event::Token(self.prompt, event));
    }

    fn cancelled(&self) -> bool {
        self.events.is_closed()
    }
}

/// A request running on the engine.
pub(crate) struct Session {
    pub events: mpsc::UnboundedReceiver<Event>,
    /// Prompts not closed yet.
    pub open: usize,
    _permit: Permit,
}

impl Session {
    /// Admits and submits `work`. Nothing runs if it is refused; if a later prompt of a batch
    /// is refused, the earlier ones are called off with the session.
    pub(crate) fn start(
        engine: &Arc<Engine>,
        admission: &Arc<Admission>,
        work: &Work,
    ) -> Result<Self, ApiError> {
        let permit = admission.admit(work.samples())?;
        let (tx, rx) = mpsc::unbounded_channel();
        for (prompt, tokens) in work.prompts.iter().enumerate() {
            let observer = Arc::new(Observer {
                prompt,
                events: tx.clone(),
            });
            let completions = engine
                .submit_observed(
                    tokens.clone(),
                    std::slice::from_ref(&work.group),
                    Some(observer),
                )
                .map_err(|e| ApiError::invalid(None, e.to_string()))?;
            let forward = tx.clone();
            tokio::task::spawn_blocking(move || {
                for message in completions {
                    if forward.send(Event::Done(prompt, message)).is_err() {
                        // The client left: the observer has told the engine already.
                        return;
                    }
                }
                let _ = forward.send(Event::Closed);
            });
        }
        Ok(Session {
            events: rx,
            open: work.prompts.len(),
            _permit: permit,
        })
    }

    /// Every completion of a non-streamed request, by prompt and choice.
    pub(crate) async fn collect(mut self, work: &Work) -> Result<Vec<Vec<Completion>>, ApiError> {
        let choice_of = work.choice_of();
        let mut done: Vec<Vec<Option<Completion>>> =
            vec![vec![None; work.choices.len()]; work.prompts.len()];
        while self.open > 0 {
            match self.events.recv().await {
                Some(Event::Token(..)) => {}
                Some(Event::Done(prompt, Ok(c))) => {
                    if let Some(&choice) = choice_of.get(&c.index) {
                        done[prompt][choice] = Some(c);
                    }
                }
                Some(Event::Done(_, Err(e))) => return Err(engine_error(e)),
                Some(Event::Closed) => self.open -= 1,
                None => break,
            }
        }
        done.into_iter()
            .map(|choices| {
                choices
                    .into_iter()
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| ApiError::engine("the engine closed a request early"))
            })
            .collect()
    }
}

/// How an engine error reaches the client: a request it refused is the client's fault.
pub(crate) fn engine_error(e: GenError) -> ApiError {
    match e {
        GenError::Invalid(m) => ApiError::invalid(None, m),
        GenError::Failed(m) => ApiError::engine(m),
    }
}
