//! A [`Generator`] that sends samples to an OpenAI-compatible server.
//!
//! How samples map to HTTP requests depends on the server, which [`EndpointGenerator::connect`]
//! learns from `GET /v1/models` (`owned_by`):
//!
//! * **`lcb serve`**: one streamed request per prompt for all its sample groups that differ
//!   only in temperature (a sweep's question; chunked at
//!   [`EndpointConfig::max_samples_per_request`]), carrying lcb's `lcb` extension
//!   (`lcb.groups`: each group's temperature, random stream and sample indices), so the prompt
//!   is prefilled once and every sample draws exactly what the
//!   in-process engine draws, token ids come back as `token_id:ID`, and each sample is handed
//!   on the moment its last chunk arrives, so grading overlaps generation as in-process. A
//!   stream cut off midway is retried for the samples it had not finished.
//! * **any other server** (vLLM, SGLang, TGI, llama.cpp, OpenAI): one request per sample
//!   (`n = 1`) whose `seed` is derived from (seed, stream, index), so a sample does not depend
//!   on which others are requested with it (resume draws the same samples on a server with
//!   deterministic seeded sampling; servers cache the shared prompt themselves). vLLM also
//!   returns token ids; others say how many tokens, through `usage`.
//!
//! Requests in flight are bounded by [`EndpointConfig::concurrency`]. A busy server (429 or
//! 503) is waited for, as its `Retry-After` says, up to [`EndpointConfig::busy_wait`];
//! connection failures, timeouts and other 5xx answers are retried with exponential backoff
//! up to [`EndpointConfig::max_retries`] times; other errors fail the request with the
//! server's message. Waits are jittered so clients turned away together spread out.

use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use lcb_core::generator::{
    Completion, FinishReason, GenError, GenerationRequest, Generator, Prompt, SampleGroup,
    SamplingParams,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::wire::{
    token_id, AssistantMessage, ChatRequest, ChatResponse, ChatTemplateKwargs, CommonFields,
    CompletionRequest, CompletionResponse, DetokenizeRequest, DetokenizeResponse, ErrorResponse,
    LcbGroup, LcbSampling, MessageContent, ModelCard, ModelList, PromptField, RequestMessage,
    StopField, TokenizeRequest, TokenizeResponse,
};

/// Where and how to reach the server.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// The API's base URL, e.g. `http://localhost:8000/v1`.
    pub url: String,
    /// The served model's name (`model` in requests).
    pub model: String,
    /// Sent as `Authorization: Bearer …`.
    pub api_key: Option<String>,
    /// Most HTTP requests in flight at once.
    pub concurrency: usize,
    /// Retries of one request after a connection failure, a timeout or a 5xx other than 503.
    pub max_retries: u32,
    /// How long one request may wait in all for a busy server (429, 503) before it fails.
    pub busy_wait: Duration,
    /// Longest wait for a response, or between two chunks of a stream.
    pub request_timeout: Duration,
    /// With `lcb serve`: most samples in one streamed request.
    pub max_samples_per_request: usize,
    /// Speak only the standard API, whatever the server (one request per sample, no
    /// extension fields): how any server is measured, on lcb serve or vLLM too.
    pub standard_only: bool,
}

impl EndpointConfig {
    /// Defaults for `model` at `url`.
    pub fn new(url: impl Into<String>, model: impl Into<String>) -> Self {
        EndpointConfig {
            url: url.into(),
            model: model.into(),
            api_key: None,
            concurrency: 64,
            max_retries: 8,
            busy_wait: Duration::from_secs(3600),
            request_timeout: Duration::from_secs(600),
            max_samples_per_request: 4096,
            standard_only: false,
        }
    }
}

/// Why the endpoint cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The URL is not an http(s) URL.
    #[error("`{0}` is not an http:// or https:// URL")]
    BadUrl(String),
    /// The server could not be reached or answered with an error.
    #[error("{message}")]
    Server {
        /// What was asked.
        url: String,
        /// What went wrong, the URL first.
        message: String,
    },
    /// The server does not serve the model.
    #[error("{url} does not serve `{model}`; it serves: {served}")]
    UnknownModel {
        /// The models URL.
        url: String,
        /// The model asked for.
        model: String,
        /// What it serves.
        served: String,
    },
    /// The client's runtime could not start.
    #[error("cannot start the HTTP client: {0}")]
    Runtime(String),
}

/// What kind of server answers: decides how samples become requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// `lcb serve`: lcb's stream keys, streamed groups.
    Lcb,
    /// vLLM: token ids through `return_tokens_as_token_ids`.
    Vllm,
    /// Anything else speaking the API.
    Other,
}

/// A [`Generator`] backed by an OpenAI-compatible server.
pub struct EndpointGenerator {
    config: EndpointConfig,
    base: String,
    kind: ServerKind,
    card: ModelCard,
    runtime: tokio::runtime::Runtime,
    shared: Arc<Shared>,
}

/// What every request task needs.
struct Shared {
    client: reqwest::Client,
    config: EndpointConfig,
    base: String,
    kind: ServerKind,
    /// What lcb serve says one request may hold.
    server_max_samples: Option<usize>,
    /// One per HTTP request in flight ([`EndpointConfig::concurrency`]).
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for EndpointGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointGenerator")
            .field("url", &self.config.url)
            .field("model", &self.config.model)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// One failed attempt: whether another may succeed, and why it failed.
#[derive(Debug)]
struct Attempt {
    retry: bool,
    /// The server said it is busy (429, 503): a wait, not a failure.
    busy: bool,
    retry_after: Option<Duration>,
    message: String,
}

impl Attempt {
    fn fatal(message: impl Into<String>) -> Self {
        Attempt {
            retry: false,
            busy: false,
            retry_after: None,
            message: message.into(),
        }
    }

    fn transient(message: impl Into<String>) -> Self {
        Attempt {
            retry: true,
            busy: false,
            retry_after: None,
            message: message.into(),
        }
    }
}

fn from_reqwest(e: reqwest::Error) -> Attempt {
    // Connection failures and timeouts are worth another try; a malformed request is not.
    let fatal = e.is_builder();
    let timeout = e.is_timeout();
    // reqwest's own words name the URL (the caller does) and hide the cause behind
    // `source()`: "error sending request: … tcp connect error: Connection refused".
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    if timeout && !message.contains("timed out") {
        message.push_str(" (timed out)");
    }
    if fatal {
        Attempt::fatal(message)
    } else {
        Attempt::transient(message)
    }
}

/// Reads an error answer: the OpenAI error's message if the body is one.
async fn error_answer(response: reqwest::Response) -> Attempt {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<ErrorResponse>(&body)
        .map(|e| e.error.message)
        .unwrap_or(body);
    let busy = matches!(status.as_u16(), 429 | 503);
    Attempt {
        retry: busy || status.is_server_error(),
        busy,
        retry_after,
        message: format!("HTTP {status}: {message}"),
    }
}

impl Shared {
    /// With lcb serve: samples per request, within what the server holds.
    fn max_samples_per_request(&self) -> usize {
        let server = self.server_max_samples.unwrap_or(usize::MAX);
        self.config.max_samples_per_request.min(server).max(1)
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let builder = self.client.request(method, url);
        match &self.config.api_key {
            Some(key) => builder.bearer_auth(key),
            None => builder,
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries run out.
    async fn with_retries<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<T, String>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Attempt>>,
    {
        let (mut tries, mut waited) = (0, Duration::ZERO);
        loop {
            match attempt().await {
                Ok(v) => return Ok(v),
                // A busy server is waited for (up to the busy budget) without spending the
                // retries, which are for failures.
                Err(a) if a.busy && waited < self.config.busy_wait => {
                    let wait = jittered(a.retry_after.unwrap_or(Duration::from_secs(1)));
                    tracing::debug!("{what}: {} (waiting {wait:?})", a.message);
                    waited += wait;
                    tokio::time::sleep(wait).await;
                }
                Err(a) if a.retry && tries < self.config.max_retries => {
                    let backoff = Duration::from_millis(500)
                        .saturating_mul(1 << tries.min(6))
                        .min(Duration::from_secs(30));
                    let wait = jittered(a.retry_after.unwrap_or(backoff));
                    tracing::warn!("{what}: {} (retrying in {wait:?})", a.message);
                    tries += 1;
                    tokio::time::sleep(wait).await;
                }
                Err(a) => {
                    let after = if tries > 0 {
                        format!(" (after {tries} retries)")
                    } else {
                        String::new()
                    };
                    return Err(format!("{what}: {}{after}", a.message));
                }
            }
        }
    }

    /// POSTs `body` to `url` and reads a JSON answer.
    async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        url: &str,
        body: &B,
    ) -> Result<T, Attempt> {
        let text = self.post(url, body).await?;
        serde_json::from_str(&text)
            .map_err(|e| Attempt::fatal(format!("the answer is not what the API promises: {e}")))
    }

    /// POSTs `body` to `url`; the answer's text when it succeeded.
    async fn post<B: Serialize>(&self, url: &str, body: &B) -> Result<String, Attempt> {
        let response = self
            .request(reqwest::Method::POST, url)
            .json(body)
            .timeout(self.config.request_timeout)
            .send()
            .await
            .map_err(from_reqwest)?;
        if !response.status().is_success() {
            return Err(error_answer(response).await);
        }
        response.text().await.map_err(from_reqwest)
    }
}

/// `wait` stretched by up to a quarter at random, so clients turned away together do not
/// all come back in the same instant.
fn jittered(wait: Duration) -> Duration {
    use std::hash::{BuildHasher, RandomState};
    let spread = RandomState::new().hash_one(std::time::Instant::now()) % 1024;
    wait + wait.mul_f64(spread as f64 / 4096.0)
}

/// A sample's seed on servers without lcb's stream keys: a function of (seed, stream,
/// index) only, non-negative (some servers refuse negative seeds).
fn derived_seed(seed: u64, stream: u64, index: usize) -> i64 {
    let mut h = blake3::Hasher::new();
    h.update(b"lcb-endpoint-seed");
    h.update(&seed.to_le_bytes());
    h.update(&stream.to_le_bytes());
    h.update(&(index as u64).to_le_bytes());
    let bytes: [u8; 8] = h.finalize().as_bytes()[..8].try_into().expect("8 bytes");
    (u64::from_le_bytes(bytes) >> 1) as i64
}

fn finish_reason(text: Option<&str>) -> FinishReason {
    match text {
        Some("length") => FinishReason::Length,
        _ => FinishReason::Stop,
    }
}

/// The sampling fields of a group's request.
fn common(group: &SampleGroup, n: usize, seed: i64, stream: bool) -> CommonFields {
    let p = &group.params;
    CommonFields {
        n: Some(n),
        temperature: Some(p.temperature),
        top_p: Some(p.top_p),
        top_k: p.top_k.map(|k| k as i64),
        max_tokens: Some(p.max_tokens),
        stop: (!p.stop.is_empty()).then(|| StopField::Many(p.stop.clone())),
        seed: Some(seed),
        stream,
        ignore_eos: p.ignore_eos,
        ..Default::default()
    }
}

/// A sample being received: text and tokens so far.
#[derive(Default, Clone)]
struct Partial {
    text: String,
    token_ids: Vec<u32>,
    logprobs: Vec<f32>,
    /// Some token came without its id: the ids are unknown, whatever others said.
    id_missing: bool,
}

impl Partial {
    fn add_tokens<'a>(&mut self, tokens: impl Iterator<Item = (&'a str, f32)>) {
        for (token, logprob) in tokens {
            match token_id(token) {
                Some(id) => {
                    self.token_ids.push(id);
                    self.logprobs.push(logprob);
                }
                None => self.id_missing = true,
            }
        }
    }

    fn finish(
        self,
        group: usize,
        index: usize,
        reason: FinishReason,
        count: Option<usize>,
    ) -> Completion {
        let ids_known = !self.id_missing && !self.token_ids.is_empty();
        let (token_ids, logprobs, token_count) = if ids_known {
            (self.token_ids, self.logprobs, None)
        } else {
            (Vec::new(), Vec::new(), Some(count.unwrap_or(0)))
        };
        Completion {
            group,
            index,
            text: self.text,
            token_ids,
            logprobs,
            finish_reason: reason,
            token_count,
        }
    }
}

/// One choice of a completions or chat answer (whole or chunk), in one shape.
struct ChoiceUpdate {
    index: usize,
    text: Option<String>,
    tokens: Vec<(String, f32)>,
    finish: Option<String>,
}

/// A completions or chat answer (whole or a streamed chunk), in one shape.
struct Answer {
    choices: Vec<ChoiceUpdate>,
    completion_tokens: Option<usize>,
}

impl From<CompletionResponse> for Answer {
    fn from(r: CompletionResponse) -> Self {
        Answer {
            completion_tokens: r.usage.map(|u| u.completion_tokens),
            choices: r
                .choices
                .into_iter()
                .map(|c| ChoiceUpdate {
                    index: c.index,
                    text: Some(c.text),
                    tokens: c.logprobs.map_or_else(Vec::new, |l| {
                        l.tokens.into_iter().zip(l.token_logprobs).collect()
                    }),
                    finish: c.finish_reason,
                })
                .collect(),
        }
    }
}

impl From<ChatResponse> for Answer {
    fn from(r: ChatResponse) -> Self {
        Answer {
            completion_tokens: r.usage.map(|u| u.completion_tokens),
            choices: r
                .choices
                .into_iter()
                .map(|c| {
                    let message: Option<AssistantMessage> = c.delta.or(c.message);
                    ChoiceUpdate {
                        index: c.index,
                        text: message.and_then(|m| m.content),
                        tokens: c.logprobs.map_or_else(Vec::new, |l| {
                            l.content
                                .into_iter()
                                .map(|t| (t.token, t.logprob))
                                .collect()
                        }),
                        finish: c.finish_reason,
                    }
                })
                .collect(),
        }
    }
}

/// The body of one request: completions for text prompts, chat for conversations.
enum Body {
    Completion(CompletionRequest),
    Chat(ChatRequest),
}

impl Body {
    fn new(model: &str, prompt: &Prompt, common: CommonFields, kind: ServerKind) -> Self {
        let token_ids = matches!(kind, ServerKind::Lcb | ServerKind::Vllm);
        match prompt {
            Prompt::Text(text) => {
                let mut r = CompletionRequest {
                    model: model.to_owned(),
                    prompt: PromptField::Text(text.clone()),
                    logprobs: token_ids.then_some(0),
                    ..Default::default()
                };
                r.set_common(CommonFields {
                    return_tokens_as_token_ids: token_ids,
                    ..common
                });
                Body::Completion(r)
            }
            Prompt::Chat {
                messages,
                enable_thinking,
            } => {
                let mut r = ChatRequest {
                    model: model.to_owned(),
                    messages: messages
                        .iter()
                        .map(|m| RequestMessage {
                            role: m.role.clone(),
                            content: MessageContent::Text(m.content.clone()),
                            name: None,
                        })
                        .collect(),
                    logprobs: token_ids,
                    // Qwen3's switch, as vLLM takes it; other servers' templates ignore it.
                    chat_template_kwargs: (!enable_thinking).then_some(ChatTemplateKwargs {
                        enable_thinking: Some(false),
                    }),
                    ..Default::default()
                };
                r.set_common(CommonFields {
                    return_tokens_as_token_ids: token_ids,
                    ..common
                });
                Body::Chat(r)
            }
        }
    }

    /// Reads an answer to this body (a whole response or a streamed chunk); an error object
    /// sent inside a stream is a failure worth retrying.
    fn read(&self, data: &str) -> Result<Answer, Attempt> {
        if let Ok(e) = serde_json::from_str::<ErrorResponse>(data) {
            return Err(Attempt::transient(format!(
                "the server failed: {}",
                e.error.message
            )));
        }
        let promised =
            |e: serde_json::Error| Attempt::fatal(format!("not what the API promises: {e}"));
        Ok(match self {
            Body::Completion(_) => serde_json::from_str::<CompletionResponse>(data)
                .map_err(promised)?
                .into(),
            Body::Chat(_) => serde_json::from_str::<ChatResponse>(data)
                .map_err(promised)?
                .into(),
        })
    }

    fn path(&self) -> &'static str {
        match self {
            Body::Completion(_) => "completions",
            Body::Chat(_) => "chat/completions",
        }
    }

    fn json(&self) -> serde_json::Value {
        match self {
            Body::Completion(r) => serde_json::to_value(r),
            Body::Chat(r) => serde_json::to_value(r),
        }
        .expect("requests serialize")
    }
}

impl EndpointGenerator {
    /// Connects to the server at `config.url`: checks that it serves `config.model` and
    /// learns what kind of server it is.
    pub fn connect(config: EndpointConfig) -> Result<Self, EndpointError> {
        if !(config.url.starts_with("http://") || config.url.starts_with("https://")) {
            return Err(EndpointError::BadUrl(config.url.clone()));
        }
        let base = config.url.trim_end_matches('/').to_owned();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("lcb-endpoint")
            .build()
            .map_err(|e| EndpointError::Runtime(e.to_string()))?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(config.request_timeout)
            .pool_max_idle_per_host(config.concurrency.max(1))
            .build()
            .map_err(|e| EndpointError::Runtime(e.to_string()))?;
        let mut shared = Shared {
            client,
            config: config.clone(),
            base: base.clone(),
            kind: ServerKind::Other,
            server_max_samples: None,
            permits: Arc::new(Semaphore::new(config.concurrency.max(1))),
        };
        let models_url = format!("{base}/models");
        let list: ModelList = runtime
            .block_on(shared.with_retries(&models_url, || async {
                let response = shared
                    .request(reqwest::Method::GET, &models_url)
                    .timeout(shared.config.request_timeout.min(Duration::from_secs(30)))
                    .send()
                    .await
                    .map_err(from_reqwest)?;
                if !response.status().is_success() {
                    return Err(error_answer(response).await);
                }
                response
                    .json::<ModelList>()
                    .await
                    .map_err(|e| Attempt::fatal(format!("not a model list: {e}")))
            }))
            .map_err(|message| EndpointError::Server {
                url: models_url.clone(),
                message,
            })?;
        let card = list
            .data
            .iter()
            .find(|m| m.id == config.model)
            .cloned()
            .ok_or_else(|| EndpointError::UnknownModel {
                url: models_url.clone(),
                model: config.model.clone(),
                served: list
                    .data
                    .iter()
                    .map(|m| m.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let kind = match (card.owned_by.as_str(), &card.lcb) {
            _ if config.standard_only => ServerKind::Other,
            ("lcb", Some(_)) => ServerKind::Lcb,
            ("vllm", _) => ServerKind::Vllm,
            _ => ServerKind::Other,
        };
        shared.kind = kind;
        shared.server_max_samples = card.lcb.as_ref().and_then(|l| l.max_samples);
        Ok(EndpointGenerator {
            config,
            base,
            kind,
            card,
            runtime,
            shared: Arc::new(shared),
        })
    }

    /// What kind of server answers.
    pub fn kind(&self) -> ServerKind {
        self.kind
    }

    /// The server's root (vLLM's `/tokenize` lives there, not under `/v1`).
    fn root(&self) -> String {
        self.base
            .strip_suffix("/v1")
            .unwrap_or(&self.base)
            .to_owned()
    }
}

/// Streams `samples` ((group, sample index) pairs) from `lcb serve` in one request, the
/// groups (which differ at most in temperature and stream) in lcb's `lcb.groups`, so the
/// prompt is prefilled once for all of them; retries what a cut stream left.
async fn lcb_request(
    _permit: OwnedSemaphorePermit,
    shared: Arc<Shared>,
    prompt: Arc<Prompt>,
    groups: Arc<Vec<SampleGroup>>,
    samples: Vec<(usize, usize)>,
    tx: Sender<Result<Completion, GenError>>,
) -> Result<(), String> {
    // The samples still wanted: a retry asks only for what an earlier stream left.
    let left = std::sync::Mutex::new(samples);
    let what = format!(
        "{}/… ({} samples of a prompt)",
        shared.base,
        left.lock().expect("left lock").len()
    );
    shared
        .with_retries(&what, || {
            let samples = left.lock().expect("left lock").clone();
            let shared = shared.clone();
            let prompt = prompt.clone();
            let groups = groups.clone();
            let tx = tx.clone();
            let left = &left;
            async move {
                let first = &groups[samples[0].0];
                let mut common = common(first, samples.len(), first.params.seed as i64, true);
                common.temperature = None;
                let mut lcb_groups: Vec<LcbGroup> = Vec::new();
                let mut last = None;
                for &(g, index) in &samples {
                    if last != Some(g) {
                        lcb_groups.push(LcbGroup {
                            temperature: groups[g].params.temperature,
                            stream: groups[g].stream,
                            indices: Vec::new(),
                        });
                        last = Some(g);
                    }
                    lcb_groups.last_mut().expect("pushed").indices.push(index);
                }
                common.lcb = Some(LcbSampling {
                    groups: Some(lcb_groups),
                    ..Default::default()
                });
                let body = Body::new(&shared.config.model, &prompt, common, shared.kind);
                let url = format!("{}/{}", shared.base, body.path());
                let response = shared
                    .request(reqwest::Method::POST, &url)
                    .json(&body.json())
                    .send()
                    .await
                    .map_err(from_reqwest)?;
                if !response.status().is_success() {
                    return Err(error_answer(response).await);
                }
                let mut partial = vec![Partial::default(); samples.len()];
                let mut done = vec![false; samples.len()];
                let read = async {
                    let mut events = response.bytes_stream().eventsource();
                    while let Some(event) = events.next().await {
                        let event = event.map_err(|e| Attempt::transient(e.to_string()))?;
                        if event.data == "[DONE]" {
                            break;
                        }
                        let answer = body.read(&event.data)?;
                        apply(&answer.choices, &samples, &mut partial, &mut done, &tx)?;
                    }
                    Ok::<(), Attempt>(())
                };
                let read = read.await;
                // Whatever happened, what the stream finished is done: a retry asks only for
                // the rest (a sample is never handed on twice).
                let unfinished: Vec<(usize, usize)> = samples
                    .iter()
                    .zip(&done)
                    .filter(|(_, &d)| !d)
                    .map(|(&sample, _)| sample)
                    .collect();
                let count = unfinished.len();
                *left.lock().expect("left lock") = unfinished;
                if count == 0 {
                    // Every sample arrived: a stream cut after that (before `[DONE]`) has
                    // nothing left to retry.
                    return Ok(());
                }
                read?;
                Err(Attempt::transient(format!(
                    "the stream ended with {count} samples unfinished"
                )))
            }
        })
        .await
}

/// Applies one chunk's choices; a finished choice is sent as a completion.
fn apply(
    updates: &[ChoiceUpdate],
    samples: &[(usize, usize)],
    partial: &mut [Partial],
    done: &mut [bool],
    tx: &Sender<Result<Completion, GenError>>,
) -> Result<(), Attempt> {
    for u in updates {
        let Some(p) = partial.get_mut(u.index) else {
            return Err(Attempt::fatal(format!(
                "a chunk names choice {} of {}",
                u.index,
                samples.len()
            )));
        };
        if let Some(text) = &u.text {
            p.text.push_str(text);
        }
        p.add_tokens(u.tokens.iter().map(|(t, l)| (t.as_str(), *l)));
        if let Some(reason) = u.finish.as_deref() {
            let (group, index) = samples[u.index];
            let c = std::mem::take(p).finish(group, index, finish_reason(Some(reason)), None);
            done[u.index] = true;
            if tx.send(Ok(c)).is_err() {
                return Err(Attempt::fatal("nobody listens any more"));
            }
        }
    }
    Ok(())
}

/// One HTTP request's worth of a generation request's samples.
enum Unit {
    /// For lcb serve: (group, sample index) pairs of groups that differ at most in
    /// temperature and stream.
    Lcb(Vec<(usize, usize)>),
    /// For other servers: one sample.
    One(usize, usize),
}

/// How a request's samples become HTTP requests: for lcb serve, the groups that share every
/// sampling setting but the temperature go together (a sweep's temperatures: one request,
/// one prefill), at most `per_request` samples each; for other servers, one per sample.
fn request_units(groups: &[SampleGroup], kind: ServerKind, per_request: usize) -> Vec<Unit> {
    if kind != ServerKind::Lcb {
        return groups
            .iter()
            .enumerate()
            .flat_map(|(g, group)| group.indices().map(move |i| Unit::One(g, i)))
            .collect();
    }
    let shared_settings = |g: &SampleGroup| SamplingParams {
        temperature: 0.0,
        ..g.params.clone()
    };
    let mut batches: Vec<(SamplingParams, Vec<(usize, usize)>)> = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        let key = shared_settings(group);
        let samples = group.indices().map(|i| (g, i));
        match batches.iter_mut().find(|(k, _)| *k == key) {
            Some((_, batch)) => batch.extend(samples),
            None => batches.push((key, samples.collect())),
        }
    }
    batches
        .into_iter()
        .flat_map(|(_, samples)| {
            samples
                .chunks(per_request.max(1))
                .map(|chunk| Unit::Lcb(chunk.to_vec()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// One sample from a server without lcb's stream keys.
async fn one_sample(
    _permit: OwnedSemaphorePermit,
    shared: Arc<Shared>,
    prompt: Arc<Prompt>,
    group_index: usize,
    group: SampleGroup,
    index: usize,
    tx: Sender<Result<Completion, GenError>>,
) -> Result<(), String> {
    let seed = derived_seed(group.params.seed, group.stream, index);
    let body = Body::new(
        &shared.config.model,
        &prompt,
        common(&group, 1, seed, false),
        shared.kind,
    );
    let url = format!("{}/{}", shared.base, body.path());
    let json = body.json();
    let what = format!("{url} (group {group_index}, sample {index})");
    let completion = shared
        .with_retries(&what, || async {
            let text = shared.post(&url, &json).await?;
            let answer = body.read(&text)?;
            let count = answer.completion_tokens;
            let choice = answer
                .choices
                .into_iter()
                .next()
                .ok_or_else(|| Attempt::fatal("an answer without choices"))?;
            let mut p = Partial {
                text: choice.text.unwrap_or_default(),
                ..Default::default()
            };
            p.add_tokens(choice.tokens.iter().map(|(t, l)| (t.as_str(), *l)));
            let finish = choice.finish;
            Ok(p.finish(group_index, index, finish_reason(finish.as_deref()), count))
        })
        .await?;
    tx.send(Ok(completion))
        .map_err(|_| "nobody listens any more".to_owned())
}

impl Generator for EndpointGenerator {
    fn submit(
        &self,
        request: GenerationRequest,
    ) -> Result<Receiver<Result<Completion, GenError>>, GenError> {
        for g in &request.groups {
            if let Some(&bad) = g.skip.iter().find(|&&i| i >= g.n) {
                return Err(GenError::Invalid(format!(
                    "skipped sample {bad} is outside the group's 0..{}",
                    g.n
                )));
            }
        }
        let (tx, rx) = crossbeam_channel::unbounded();
        let shared = self.shared.clone();
        self.runtime.spawn(async move {
            let prompt = Arc::new(request.prompt);
            let groups = Arc::new(request.groups);
            let units = request_units(&groups, shared.kind, shared.max_samples_per_request());
            let mut tasks = tokio::task::JoinSet::new();
            let failed = |joined: Result<Result<(), String>, tokio::task::JoinError>| match joined {
                Ok(Ok(())) => None,
                Ok(Err(message)) => Some(message),
                Err(e) => Some(format!("a request task failed: {e}")),
            };
            let mut failure = None;
            // Tasks are spawned as permits free up, so a request of 40,000 samples holds
            // `concurrency` tasks at a time, not 40,000; a failure stops the spawning.
            'units: for unit in units {
                let permit = loop {
                    tokio::select! {
                        biased;
                        Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                            if let Some(f) = failed(joined) {
                                failure = Some(f);
                                break 'units;
                            }
                        }
                        permit = shared.permits.clone().acquire_owned() => {
                            break permit.expect("the semaphore is never closed");
                        }
                    }
                };
                let (shared, prompt, tx) = (shared.clone(), prompt.clone(), tx.clone());
                match unit {
                    Unit::Lcb(samples) => tasks.spawn(lcb_request(
                        permit,
                        shared,
                        prompt,
                        groups.clone(),
                        samples,
                        tx,
                    )),
                    Unit::One(g, index) => {
                        let group = groups[g].clone();
                        tasks.spawn(one_sample(permit, shared, prompt, g, group, index, tx))
                    }
                };
            }
            while failure.is_none() {
                match tasks.join_next().await {
                    Some(joined) => failure = failed(joined),
                    None => break,
                }
            }
            if let Some(failure) = failure {
                // One sample failing for good fails the request; the rest are called off.
                tasks.abort_all();
                let _ = tx.send(Err(GenError::Failed(failure)));
            }
        });
        Ok(rx)
    }

    fn prompt_text(&self, prompt: &Prompt) -> Result<String, GenError> {
        let messages = match prompt {
            Prompt::Text(text) => return Ok(text.clone()),
            Prompt::Chat {
                messages,
                enable_thinking,
            } => (messages, *enable_thinking),
        };
        if self.kind == ServerKind::Other {
            // Nothing says what such a server renders: record the conversation itself.
            return Ok(serde_json::to_string(messages.0).expect("messages serialize"));
        }
        let request = TokenizeRequest {
            model: Some(self.config.model.clone()),
            messages: Some(
                messages
                    .0
                    .iter()
                    .map(|m| RequestMessage {
                        role: m.role.clone(),
                        content: MessageContent::Text(m.content.clone()),
                        name: None,
                    })
                    .collect(),
            ),
            add_generation_prompt: Some(true),
            chat_template_kwargs: (!messages.1).then_some(ChatTemplateKwargs {
                enable_thinking: Some(false),
            }),
            ..Default::default()
        };
        let shared = &self.shared;
        let root = self.root();
        self.runtime
            .block_on(async {
                let url = format!("{root}/tokenize");
                let t: TokenizeResponse = shared
                    .with_retries(&url, || shared.post_json(&url, &request))
                    .await?;
                if let Some(text) = t.prompt {
                    return Ok(text);
                }
                let url = format!("{root}/detokenize");
                let request = DetokenizeRequest {
                    model: Some(shared.config.model.clone()),
                    tokens: t.tokens,
                };
                let d: DetokenizeResponse = shared
                    .with_retries(&url, || shared.post_json(&url, &request))
                    .await?;
                Ok(d.prompt)
            })
            .map_err(GenError::Failed)
    }

    fn model_name(&self) -> String {
        self.config.model.clone()
    }

    fn energy_counter(&self) -> Result<&dyn lcb_core::bench::energy::EnergyCounter, String> {
        Err(format!(
            "the samples are generated by the server at {}; lcb cannot read its energy counter",
            self.config.url
        ))
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "engine": "openai-endpoint",
            "endpoint": self.config.url,
            "served_model": self.config.model,
            "owned_by": self.card.owned_by,
            "concurrency": self.config.concurrency,
            "server": self.card.lcb.as_ref().map(|l| &l.describe),
        })
    }

    /// `lcb serve`'s own engine fingerprint: its samples are the in-process engine's, so a
    /// tree may be resumed either way. Other servers: the server and model.
    fn fingerprint(&self) -> serde_json::Value {
        match &self.card.lcb {
            Some(lcb) if self.kind == ServerKind::Lcb => lcb.fingerprint.clone(),
            _ => serde_json::json!({
                "engine": "openai-endpoint",
                "owned_by": self.card.owned_by,
                "served_model": self.config.model,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lcb_serve_gets_the_temperatures_of_a_prompt_in_one_request() {
        let group = |temperature: f32, n: usize, skip: Vec<usize>, seed: u64| SampleGroup {
            params: SamplingParams {
                temperature,
                seed,
                ..Default::default()
            },
            n,
            stream: temperature.to_bits() as u64,
            skip,
        };
        // Three temperatures alike but for the temperature, one with another seed.
        let groups = [
            group(0.2, 3, vec![1], 0),
            group(0.8, 2, vec![], 0),
            group(0.5, 2, vec![], 7),
            group(1.4, 1, vec![], 0),
        ];
        let units = request_units(&groups, ServerKind::Lcb, 3);
        let lcb: Vec<Vec<(usize, usize)>> = units
            .into_iter()
            .map(|u| match u {
                Unit::Lcb(samples) => samples,
                Unit::One(..) => panic!("lcb serve gets groups"),
            })
            .collect();
        assert_eq!(
            lcb,
            vec![
                vec![(0, 0), (0, 2), (1, 0)],
                vec![(1, 1), (3, 0)],
                vec![(2, 0), (2, 1)],
            ]
        );
        let other = request_units(&groups, ServerKind::Vllm, 3);
        assert_eq!(
            other.len(),
            2 + 2 + 2 + 1,
            "one request per sample elsewhere"
        );
    }

    #[test]
    fn derived_seeds_depend_on_each_part_and_are_not_negative() {
        let a = derived_seed(0, 1, 2);
        assert!(a >= 0);
        assert_eq!(a, derived_seed(0, 1, 2));
        assert_ne!(a, derived_seed(1, 1, 2));
        assert_ne!(a, derived_seed(0, 2, 2));
        assert_ne!(a, derived_seed(0, 1, 3));
    }

    #[test]
    fn token_ids_are_read_from_logprob_tokens_or_counted() {
        let mut p = Partial::default();
        p.add_tokens([("token_id:5", -0.5), ("token_id:7", -1.0)].into_iter());
        let c = p.finish(0, 3, FinishReason::Length, Some(2));
        assert_eq!((c.token_ids, c.token_count, c.index), (vec![5, 7], None, 3));
        let mut p = Partial::default();
        p.add_tokens([("hello", -0.5)].into_iter());
        let c = p.finish(0, 0, FinishReason::Stop, Some(4));
        assert!(c.token_ids.is_empty());
        assert_eq!(c.num_tokens(), 4);
    }
}
