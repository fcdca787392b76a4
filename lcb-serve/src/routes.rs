//! The HTTP surface: the router, each endpoint's handler, and how a request body becomes a
//! typed request (a 400 naming the field when it does not).

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lcb_core::generator::Prompt;
use lcb_core::Generator;
use lcb_openai::wire::{
    ChatRequest, CompletionRequest, DetokenizeRequest, DetokenizeResponse, ModelList,
    TokenizeRequest, TokenizeResponse, Usage,
};
use serde::de::DeserializeOwned;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use crate::error::ApiError;
use crate::params::{self, Work};
use crate::respond::{Api, Responder};
use crate::session::{engine_error, Event, Session};
use crate::text_stream::ChoiceStream;
use crate::App;

/// The server's routes over `app`.
pub(crate) fn router(app: Arc<App>) -> Router {
    let limit = app.config.max_body_bytes;
    Router::new()
        .route("/health", get(health))
        .route("/v1/models", get(models))
        .route("/v1/models/{*model}", get(model))
        .route("/stats", get(stats))
        .route("/v1/completions", post(completions))
        .route("/v1/chat/completions", post(chat))
        .route("/tokenize", post(tokenize))
        .route("/detokenize", post(detokenize))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(app)
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found_error",
        None,
        None,
        "no such endpoint (lcb serve has /health, /v1/models, /v1/completions, \
         /v1/chat/completions, /tokenize, /detokenize, /stats)",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        None,
        None,
        "method not allowed on this endpoint",
    )
}

/// 200 while the engine serves; 503 once every device has failed, so load balancers stop
/// sending work here.
async fn health(State(app): State<Arc<App>>) -> Response {
    match app.engine.failure() {
        None => "ok".into_response(),
        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, why).into_response(),
    }
}

async fn model(
    State(app): State<Arc<App>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    match check_model(&app, &id) {
        Ok(()) => Json(app.model_card.clone()).into_response(),
        Err(e) => e.into_response(),
    }
}

/// lcb's own: what the server holds now and what the engine has done since it started.
async fn stats(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    let (requests, samples) = app.admission.in_use();
    let engine = app.engine.stats();
    Json(serde_json::json!({
        "requests_in_flight": requests,
        "samples_in_flight": samples,
        "turned_away": app.admission.turned_away(),
        "requests_finished": engine.requests_finished,
        "steps": engine.steps,
        "prefill_tokens": engine.prefill_tokens,
        "decode_tokens": engine.decode_tokens,
        "peak_decode_rows": engine.peak_decode_rows,
        "preempted_samples": engine.preempted_samples,
    }))
}

async fn models(State(app): State<Arc<App>>) -> Json<ModelList> {
    Json(ModelList {
        object: "list".into(),
        data: vec![app.model_card.clone()],
    })
}

/// A body as `T`, or a 400 (413 when too large) naming the field at fault.
fn parse<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = body.map_err(|r| {
        ApiError::new(
            r.status(),
            "invalid_request_error",
            None,
            None,
            format!("request body: {}", r.body_text()),
        )
    })?;
    // serde would read a struct from an array too, and then blame `[0]`.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::invalid(
            None,
            "the body must be a JSON object (the request's fields)",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let mut message = inner.to_string();
        if message.contains("untagged enum") {
            message = match path.rsplit('.').next() {
                Some("prompt") => "expected a string, a list of strings, a list of token ids or a list of such lists".into(),
                Some("stop") => "expected a string or a list of strings".into(),
                _ => "expected a string or a list of content parts".into(),
            };
        }
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::invalid(None, format!("the body is not valid JSON: {message}"));
        }
        // The path names the field at fault, an unknown one included.
        ApiError::invalid(Some(&path), format!("{path}: {message}"))
    })?;
    de.end()
        .map_err(|e| ApiError::invalid(None, format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}

/// Runs CPU-heavy work (tokenizing) on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::engine(format!("preparing the request failed: {e}")))?
}

fn check_model(app: &App, asked: &str) -> Result<(), ApiError> {
    if asked != app.config.served_model_name {
        return Err(ApiError::unknown_model(
            asked,
            &app.config.served_model_name,
        ));
    }
    Ok(())
}

async fn completions(State(app): State<Arc<App>>, body: Result<Bytes, BytesRejection>) -> Response {
    let run = async {
        let request: CompletionRequest = parse(body)?;
        check_model(&app, &request.model)?;
        let engine = app.engine.clone();
        // Tokenizing a long prompt takes a while: not on the threads that serve everyone.
        let work = blocking(move || params::completion_work(&engine, &request)).await?;
        generate(&app, Api::Completions, work).await
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

async fn chat(State(app): State<Arc<App>>, body: Result<Bytes, BytesRejection>) -> Response {
    let run = async {
        let request: ChatRequest = parse(body)?;
        check_model(&app, &request.model)?;
        let engine = app.engine.clone();
        let work = blocking(move || params::chat_work(&engine, &request)).await?;
        generate(&app, Api::Chat, work).await
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

async fn tokenize(State(app): State<Arc<App>>, body: Result<Bytes, BytesRejection>) -> Response {
    let run = async {
        let r: TokenizeRequest = parse(body)?;
        if let Some(m) = &r.model {
            check_model(&app, m)?;
        }
        if r.add_special_tokens == Some(true) {
            return Err(ApiError::invalid(
                Some("add_special_tokens"),
                "lcb never adds special tokens to a prompt; leave add_special_tokens out or false",
            ));
        }
        if r.add_generation_prompt == Some(false) {
            return Err(ApiError::invalid(
                Some("add_generation_prompt"),
                "lcb renders conversations with the generation prompt only",
            ));
        }
        let prompt = match (&r.prompt, &r.messages) {
            (Some(text), None) => Prompt::Text(text.clone()),
            (None, Some(messages)) => {
                params::chat_prompt(messages, r.chat_template_kwargs.as_ref())?
            }
            _ => {
                return Err(ApiError::invalid(
                    Some("prompt"),
                    "give either prompt or messages",
                ))
            }
        };
        let engine = app.engine.clone();
        let answer = blocking(move || {
            let text = engine
                .prompt_text(&prompt)
                .map_err(|e| ApiError::invalid(Some("messages"), e.to_string()))?;
            let tokens = engine
                .encode_prompt(&prompt)
                .map_err(|e| ApiError::invalid(Some("prompt"), e.to_string()))?;
            Ok(TokenizeResponse {
                count: tokens.len(),
                max_model_len: engine.model_config().max_position_embeddings,
                tokens,
                prompt: Some(text),
            })
        })
        .await?;
        Ok(Json(answer).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

async fn detokenize(State(app): State<Arc<App>>, body: Result<Bytes, BytesRejection>) -> Response {
    let run = async {
        let r: DetokenizeRequest = parse(body)?;
        if let Some(m) = &r.model {
            check_model(&app, m)?;
        }
        let tokenizer = app
            .engine
            .tokenizer()
            .ok_or_else(|| ApiError::invalid(None, "this model has no tokenizer"))?;
        let vocab = app.engine.model_config().vocab_size;
        if let Some(bad) = r.tokens.iter().find(|&&t| t as usize >= vocab) {
            return Err(ApiError::invalid(
                Some("tokens"),
                format!("token id {bad} is outside the vocabulary ({vocab})"),
            ));
        }
        Ok(Json(DetokenizeResponse {
            prompt: tokenizer.decode_bytes(&r.tokens),
        })
        .into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

fn responder(app: &App, api: Api, work: &Work) -> Responder {
    let prefix = match api {
        Api::Completions => "cmpl",
        Api::Chat => "chatcmpl",
    };
    Responder {
        api,
        id: format!("{prefix}-{}", app.next_id()),
        created: crate::unix_now(),
        model: app.config.served_model_name.clone(),
        tokenizer: app.engine.tokenizer().cloned(),
        logprobs: work.logprobs,
        token_ids_as_text: work.token_ids_as_text,
    }
}

async fn generate(app: &Arc<App>, api: Api, work: Work) -> Result<Response, ApiError> {
    let session = Session::start(
        &app.engine,
        &app.admission,
        &work,
        app.config.max_unread_tokens,
    )?;
    let responder = responder(app, api, &work);
    let prompt_tokens = work.prompts.iter().map(Vec::len).sum();
    if work.stream {
        return Ok(stream(
            session,
            work,
            responder,
            prompt_tokens,
            app.shutdown.clone(),
        ));
    }
    let completions = session.collect(&work).await?;
    let completion_tokens = completions
        .iter()
        .flatten()
        .map(|c| c.token_ids.len())
        .sum();
    let usage = Usage {
        prompt_tokens,
        completion_tokens,
        total_tokens: prompt_tokens + completion_tokens,
    };
    Ok(Json(responder.full(&completions, usage)).into_response())
}

/// How long a stream waits for its client to take a chunk before giving up on it (and so
/// on its samples, and its place in the queue).
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// A streamed answer: one chunk per token as soon as its text is safe to send (see
/// [`ChoiceStream`]), one that ends each choice, the usage if asked for, then `[DONE]`. A
/// client that leaves, or takes no chunk for [`SEND_TIMEOUT`], ends the stream, and with it
/// the session: the engine abandons the request's samples. A server shutting down past its
/// grace period ends the stream with an error event.
fn stream(
    session: Session,
    work: Work,
    responder: Responder,
    prompt_tokens: usize,
    shutdown: Option<watch::Receiver<bool>>,
) -> Response {
    let (tx, rx) = mpsc::channel::<Result<SseEvent, Infallible>>(256);
    tokio::spawn(async move {
        // Bound as a whole: the block would otherwise capture only the fields it reads and
        // drop the rest at once, the queue permit among them.
        let mut session = session;
        let mut shutdown = shutdown;
        let send = |data: String| {
            let tx = tx.clone();
            async move {
                let event = Ok(SseEvent::default().data(data));
                matches!(
                    tokio::time::timeout(SEND_TIMEOUT, tx.send(event)).await,
                    Ok(Ok(()))
                )
            }
        };
        let error_event =
            |e: ApiError| serde_json::to_string(&e.object()).expect("errors serialize");
        let per_prompt = work.choices.len();
        let choice_of = work.choice_of();
        let total = work.samples();
        let mut streams: Vec<ChoiceStream> = (0..total)
            .map(|_| ChoiceStream::new(work.longest_stop))
            .collect();
        let mut offsets = vec![0usize; total];
        let mut started = vec![false; total];
        let mut completion_tokens = 0;
        let tokenizer = responder.tokenizer.clone();
        loop {
            let event = tokio::select! {
                event = session.next() => match event {
                    Some(event) => event,
                    None => break,
                },
                // The client left while nothing was being sent (text held back, a queue).
                () = tx.closed() => return,
                Ok(()) = async {
                    match shutdown.as_mut() {
                        Some(s) => s.changed().await,
                        None => std::future::pending().await,
                    }
                } => {
                    let error = ApiError::engine("the server is shutting down");
                    if send(error_event(error)).await {
                        send("[DONE]".into()).await;
                    }
                    return;
                }
            };
            let (at, delta, finish) = match event {
                Event::Token(prompt, ev) => {
                    let Some(&choice) = choice_of.get(&(ev.group, ev.index)) else {
                        continue;
                    };
                    let at = prompt * per_prompt + choice;
                    let bytes = tokenizer
                        .as_ref()
                        .map_or(&[][..], |t| t.token_bytes(ev.token));
                    let delta = streams[at].push(ev.token, ev.logprob, bytes);
                    if delta.is_empty() && (started[at] || responder.api == Api::Completions) {
                        continue;
                    }
                    (at, delta, None)
                }
                Event::Done(prompt, result) => match *result {
                    Ok(c) => {
                        let Some(&choice) = choice_of.get(&(c.group, c.index)) else {
                            continue;
                        };
                        let at = prompt * per_prompt + choice;
                        completion_tokens += c.token_ids.len();
                        (at, streams[at].finish(&c), Some(c.finish_reason))
                    }
                    Err(e) => {
                        if send(error_event(engine_error(e))).await {
                            send("[DONE]".into()).await;
                        }
                        return;
                    }
                },
                Event::Closed => continue,
            };
            let chunk = responder.chunk(at, &delta, offsets[at], finish, !started[at]);
            started[at] = true;
            offsets[at] += responder.token_chars(&delta.tokens);
            if !send(chunk).await {
                return; // The client left, or stopped reading.
            }
        }
        if streams.iter().any(|s| !s.finished()) {
            let _ = send(error_event(ApiError::engine(
                "the engine closed a request early",
            )))
            .await;
        } else if work.include_usage {
            let usage = Usage {
                prompt_tokens,
                completion_tokens,
                total_tokens: prompt_tokens + completion_tokens,
            };
            if !send(responder.usage_chunk(usage)).await {
                return;
            }
        }
        send("[DONE]".into()).await;
    });
    Sse::new(ReceiverStream::new(rx))
        .keep_alive(KeepAlive::default())
        .into_response()
}
