//! `lcb serve`: an OpenAI-compatible HTTP server over lcb's engine.
//!
//! One model, one engine (one thread per device); every client's requests go into the same
//! engine, so concurrent clients decode in the same batches. The endpoints: `GET /health`,
//! `GET /v1/models`, `POST /v1/completions`, `POST /v1/chat/completions` (streamed as
//! server-sent events when asked), vLLM's `POST /tokenize` and `POST /detokenize`, and
//! lcb's `GET /stats` (requests and samples held now, the engine's counters).
//!
//! The parts: `params` (a request checked and turned into engine work), `admission` (the
//! bounded queue), `session` (a request on the engine, and calling it off when its client
//! leaves), `text_stream` (what of a streamed choice is safe to send), `respond` (the
//! answers' JSON), `routes` (the HTTP surface), `error` (OpenAI's error object).
//!
//! Built on axum and tokio: the HTTP parsing is theirs; the engine runs on its own threads,
//! and the async side only routes events, so a handful of runtime threads serve thousands
//! of streaming clients.

mod admission;
mod error;
mod params;
mod respond;
mod routes;
mod session;
mod text_stream;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lcb_core::Generator;
use lcb_engine::Engine;
use lcb_openai::wire::{LcbModelInfo, ModelCard};

pub use error::ApiError;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The name clients give as `model` (and `/v1/models` lists).
    pub served_model_name: String,
    /// Most requests held at once (decoding or queued); more get 503 with `Retry-After`.
    pub max_requests: usize,
    /// Most samples held at once; more get 503 with `Retry-After`.
    pub max_samples: usize,
    /// Largest request body; larger ones get 413.
    pub max_body_bytes: usize,
    /// Tokens a request may leave unread (a streaming client that stopped reading) before
    /// its samples are abandoned: the server never holds more for one client.
    pub max_unread_tokens: usize,
    /// After a shutdown signal: how long requests in flight may take to finish before they
    /// are called off.
    pub shutdown_grace: Duration,
}

impl ServeConfig {
    /// Defaults for serving `served_model_name`.
    pub fn new(served_model_name: impl Into<String>) -> Self {
        ServeConfig {
            served_model_name: served_model_name.into(),
            max_requests: 1024,
            max_samples: 1 << 17,
            max_body_bytes: 16 << 20,
            max_unread_tokens: 1 << 16,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// What every handler shares.
pub(crate) struct App {
    engine: Arc<Engine>,
    config: ServeConfig,
    admission: Arc<admission::Admission>,
    model_card: ModelCard,
    ids: AtomicU64,
    /// Changes when the shutdown grace period is over: streams still open end with an error
    /// event. `None` for a router embedded elsewhere.
    shutdown: Option<tokio::sync::watch::Receiver<bool>>,
}

impl App {
    fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The server's router over `engine` (for embedding in another axum application, or
/// [`serve`] to run it on its own).
pub fn router(engine: Arc<Engine>, config: ServeConfig) -> axum::Router {
    router_until(engine, config, None)
}

fn router_until(
    engine: Arc<Engine>,
    config: ServeConfig,
    shutdown: Option<tokio::sync::watch::Receiver<bool>>,
) -> axum::Router {
    let model_card = ModelCard {
        id: config.served_model_name.clone(),
        object: "model".into(),
        created: unix_now(),
        owned_by: "lcb".into(),
        max_model_len: Some(engine.model_config().max_position_embeddings),
        lcb: Some(LcbModelInfo {
            describe: engine.describe(),
            fingerprint: engine.fingerprint(),
            max_samples: Some(config.max_samples),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }),
    };
    let app = App {
        admission: admission::Admission::new(config.max_requests, config.max_samples),
        engine,
        config,
        model_card,
        ids: AtomicU64::new(0),
        shutdown,
    };
    routes::router(Arc::new(app))
}

/// Serves `engine` on `listener` until `shutdown` resolves; then requests in flight get
/// `config.shutdown_grace` to finish, and the rest are called off.
pub async fn serve(
    listener: tokio::net::TcpListener,
    engine: Arc<Engine>,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = config.shutdown_grace;
    let (fired_tx, fired_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: finishing requests in flight");
        let _ = fired_tx.send(());
    };
    let (end_streams, streams_end) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, router_until(engine, config, Some(streams_end)))
        .with_graceful_shutdown(signal);
    let deadline = async move {
        if fired_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!("requests still in flight after {grace:?}: calling them off");
            // Open streams say why they end; give them a moment to.
            let _ = end_streams.send(true);
            tokio::time::sleep(Duration::from_millis(250)).await;
            Ok(())
        }
    }
}
