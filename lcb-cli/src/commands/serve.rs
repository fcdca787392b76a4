//! `lcb serve`: lcb's engine behind the OpenAI HTTP API (the server itself is `lcb-serve`).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use lcb_engine::engine::parse_memory_size;
use lcb_serve::ServeConfig;

use crate::args::at_least_one;
use crate::args::engine::{load_engine, EngineFlags};

/// Serve a model over the OpenAI HTTP API, with lcb's engine.
///
/// Endpoints: GET /health, GET /v1/models, POST /v1/completions, POST /v1/chat/completions
/// (`n`, `temperature`, `top_p`, `top_k`, `max_tokens`, `stop`, `seed`, `logprobs`, `stream`
/// as server-sent events, `usage`), and vLLM's POST /tokenize and /detokenize. Every
/// client's requests decode in the same batches; a client that disconnects cancels its
/// samples. Bad requests get OpenAI's error object naming the field; when the queue is full
/// the server answers 503 with Retry-After. SIGTERM or Ctrl-C lets requests in flight finish
/// (up to --shutdown-grace) and exits 0.
///
/// With the same seed, choice i of a request is exactly sample i of `lcb generate` with the
/// same prompt and parameters; `lcb sweep --endpoint` uses lcb's `lcb` extension field to
/// draw exactly the samples of an in-process sweep.
///
/// Examples:
///   lcb serve --model Qwen/Qwen3-0.6B --devices cuda:0 --port 8000
///   curl localhost:8000/v1/completions -H 'content-type: application/json' \
///        -d '{"model": "Qwen/Qwen3-0.6B", "prompt": "def fib(n):", "max_tokens": 64}'
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Model: a local Hugging Face directory or a hub id (OWNER/NAME[@REVISION]).
    #[arg(long, value_name = "DIR|HUB_ID")]
    model: String,
    #[command(flatten)]
    engine: EngineFlags,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0: any free port; the one chosen is printed).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// The model name clients send as `model` [default: --model as given].
    #[arg(long, value_name = "NAME")]
    served_model_name: Option<String>,
    /// Most new tokens one sample may ask for (each decode slot's room).
    #[arg(long, value_name = "N", default_value_t = 2048, value_parser = at_least_one)]
    max_tokens: usize,
    /// Prompts whose caches may be resident at once per device: how many different
    /// requests decode together (each reserves --max-prompt-tokens of cache).
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = at_least_one)]
    max_prompts: usize,
    /// Prompt length each resident prompt reserves cache for (longer prompts still run).
    #[arg(long, value_name = "N", default_value_t = 4096, value_parser = at_least_one)]
    max_prompt_tokens: usize,
    /// Most requests held at once (decoding or queued); more are answered 503.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = at_least_one)]
    max_requests: usize,
    /// Most samples held at once over all requests; more are answered 503.
    #[arg(long, value_name = "N", default_value_t = 1 << 17, value_parser = at_least_one)]
    max_queued_samples: usize,
    /// Largest request body (e.g. 16MiB); larger ones are answered 413.
    #[arg(long, value_name = "SIZE", default_value = "16MiB", value_parser = parse_memory_size)]
    max_body: u64,
    /// Tokens one request may leave unread (a streaming client that stopped reading) before
    /// its samples are abandoned.
    #[arg(long, value_name = "N", default_value_t = 1 << 16, value_parser = at_least_one)]
    max_unread_tokens: usize,
    /// Seconds requests in flight may take to finish after SIGTERM before they are called off.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    shutdown_grace: u64,
}

/// Runs `lcb serve` until SIGTERM or Ctrl-C.
pub fn run(args: ServeArgs) -> Result<ExitCode> {
    args.engine.apply_threads(false);
    let mut config = args.engine.engine_config(args.max_tokens, None);
    config.resident_prompts = args.max_prompts;
    config.max_prompt_tokens = args.max_prompt_tokens;
    let engine = Arc::new(load_engine(&args.model, config)?);
    let mut serve = ServeConfig::new(
        args.served_model_name
            .clone()
            .unwrap_or_else(|| args.model.clone()),
    );
    serve.max_requests = args.max_requests;
    serve.max_samples = args.max_queued_samples;
    serve.max_body_bytes = usize::try_from(args.max_body).unwrap_or(usize::MAX);
    serve.shutdown_grace = Duration::from_secs(args.shutdown_grace);
    serve.max_unread_tokens = args.max_unread_tokens;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // One blocking task per request in flight relays the engine's completions, and
        // tokenizing runs there too.
        .max_blocking_threads(args.max_requests + 64)
        .thread_name("lcb-serve")
        .build()
        .context("cannot start the server's runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
            .await
            .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
        let address = listener.local_addr()?;
        eprintln!(
            "lcb serve: `{}` on {} slot(s) per device; listening on http://{address}",
            serve.served_model_name,
            engine.slots()
        );
        lcb_serve::serve(listener, engine, serve, shutdown_signal()).await?;
        eprintln!("lcb serve: stopped");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves at SIGTERM (what service managers and Slurm send) or Ctrl-C.
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot watch SIGTERM: {e}");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
