//! A request on the engine: its prompts submitted, and one ordered stream of what happens to
//! them (tokens drawn, samples finished, prompts done) for the handler to answer from.
//!
//! The engine thread reports tokens through a [`RequestObserver`] straight into the stream;
//! finished samples arrive on the engine's own channels (one per prompt), which one blocking
//! task per request forwards into the same stream. A sample's tokens therefore always come
//! before its completion. When the handler drops the stream (its client left), or lets more
//! than [`ServeConfig::max_unread_tokens`] token events pile up unread (a client that stopped
//! reading), the observer says so and the engine abandons the request's samples at its next
//! step.
//!
//! [`ServeConfig::max_unread_tokens`]: crate::ServeConfig::max_unread_tokens

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Select};
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
    Done(usize, Box<Result<Completion, GenError>>),
    /// One of the prompts has nothing more to say.
    Closed,
}

struct Observer {
    prompt: usize,
    events: mpsc::UnboundedSender<Event>,
    backlog: Arc<AtomicUsize>,
    max_backlog: usize,
}

impl RequestObserver for Observer {
    fn token(&self, event: TokenEvent) {
        self.backlog.fetch_add(1, Ordering::Relaxed);
        let _ = self.events.send(Event::Token(self.prompt, event));
    }

    fn cancelled(&self) -> bool {
        self.events.is_closed() || self.backlog.load(Ordering::Relaxed) > self.max_backlog
    }
}

/// A request running on the engine.
pub(crate) struct Session {
    events: mpsc::UnboundedReceiver<Event>,
    backlog: Arc<AtomicUsize>,
    /// Prompts not closed yet.
    pub open: usize,
    _permit: Permit,
}

/// How a refused submission reaches the client: the engine's own failure is the server's
/// (500; `/health` says 503 then, so load balancers go elsewhere), anything else the
/// request's.
fn submit_error(engine: &Engine, e: lcb_engine::Error) -> ApiError {
    match engine.failure() {
        Some(why) => ApiError::engine(why),
        None => ApiError::invalid(None, e.to_string()),
    }
}

impl Session {
    /// Admits and submits `work`. Nothing runs if it is refused; if a later prompt of a batch
    /// is refused, the earlier ones are called off with the session.
    pub(crate) fn start(
        engine: &Arc<Engine>,
        admission: &Arc<Admission>,
        work: &Work,
        max_backlog: usize,
    ) -> Result<Self, ApiError> {
        let permit = admission.admit(work.samples())?;
        let (tx, rx) = mpsc::unbounded_channel();
        let backlog = Arc::new(AtomicUsize::new(0));
        let mut receivers = Vec::with_capacity(work.prompts.len());
        for (prompt, tokens) in work.prompts.iter().enumerate() {
            let observer = Arc::new(Observer {
                prompt,
                events: tx.clone(),
                backlog: backlog.clone(),
                max_backlog,
            });
            let completions = engine
                .submit_observed(tokens.clone(), &work.groups, Some(observer))
                .map_err(|e| submit_error(engine, e))?;
            receivers.push(completions);
        }
        tokio::task::spawn_blocking(move || forward(receivers, tx));
        Ok(Session {
            events: rx,
            backlog,
            open: work.prompts.len(),
            _permit: permit,
        })
    }

    /// The next event, or `None` once every prompt has closed (or the engine went away).
    pub(crate) async fn next(&mut self) -> Option<Event> {
        if self.open == 0 {
            return None;
        }
        let event = self.events.recv().await?;
        match &event {
            Event::Token(..) => {
                self.backlog.fetch_sub(1, Ordering::Relaxed);
            }
            Event::Closed => self.open -= 1,
            Event::Done(..) => {}
        }
        Some(event)
    }

    /// Every completion of a non-streamed request, by prompt and choice.
    pub(crate) async fn collect(mut self, work: &Work) -> Result<Vec<Vec<Completion>>, ApiError> {
        let choice_of = work.choice_of();
        let mut done: Vec<Vec<Option<Completion>>> =
            vec![vec![None; work.choices.len()]; work.prompts.len()];
        while let Some(event) = self.next().await {
            match event {
                Event::Token(..) | Event::Closed => {}
                Event::Done(prompt, result) => {
                    let c = (*result).map_err(engine_error)?;
                    if let Some(&choice) = choice_of.get(&(c.group, c.index)) {
                        done[prompt][choice] = Some(c);
                    }
                }
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

/// Relays every prompt's completions into the request's stream, in the order they come,
/// with one `Closed` per prompt; one thread per request however many prompts it batches.
fn forward(
    receivers: Vec<Receiver<Result<Completion, GenError>>>,
    events: mpsc::UnboundedSender<Event>,
) {
    let mut open: Vec<usize> = (0..receivers.len()).collect();
    while !open.is_empty() {
        let mut select = Select::new();
        for &prompt in &open {
            select.recv(&receivers[prompt]);
        }
        let operation = select.select();
        let at = operation.index();
        let prompt = open[at];
        let event = match operation.recv(&receivers[prompt]) {
            Ok(message) => Event::Done(prompt, Box::new(message)),
            Err(_) => {
                open.swap_remove(at);
                Event::Closed
            }
        };
        if events.send(event).is_err() {
            // The client left: the observers have told the engine already.
            return;
        }
    }
}

/// How an engine error reaches the client: a request it refused is the client's fault.
pub(crate) fn engine_error(e: GenError) -> ApiError {
    match e {
        GenError::Invalid(m) => ApiError::invalid(None, m),
        GenError::Failed(m) => ApiError::engine(m),
    }
}
