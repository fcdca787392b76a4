//! From an OpenAI request to the engine's work: the prompts as token ids, one sample group,
//! which sample each choice is, and how to answer. Every value the engine could not honour
//! is refused here with a 400 naming its field, so the engine only sees valid work.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use lcb_core::generator::{Prompt, SampleGroup, SamplingParams};
use lcb_core::prompt::ChatMessage;
use lcb_engine::Engine;
use lcb_openai::wire::{ChatRequest, CommonFields, CompletionRequest, MessageContent, PromptField};

use crate::error::ApiError;

/// OpenAI's default `max_tokens` for completions.
const COMPLETIONS_DEFAULT_MAX_TOKENS: usize = 16;

/// Most choices one request may ask for per prompt (and the bound on `lcb.indices`).
const MAX_N: usize = 100_000;

/// Most prompts in one completions request.
const MAX_PROMPTS: usize = 1024;

/// Most stop strings, and the longest, per request: each is checked on every token on the
/// engine thread that every client shares.
const MAX_STOPS: usize = 64;
const MAX_STOP_BYTES: usize = 1024;

/// What to run and how to answer.
#[derive(Debug, Clone)]
pub(crate) struct Work {
    /// Each prompt's token ids (a batch of completions has several).
    pub prompts: Vec<Vec<u32>>,
    /// The samples of every prompt, by group.
    pub groups: Vec<SampleGroup>,
    /// `choices[i]`: the (group, sample index) of choice `i` (of each prompt).
    pub choices: Vec<(usize, usize)>,
    /// Stream server-sent events.
    pub stream: bool,
    /// Send a usage chunk at the end of a stream.
    pub include_usage: bool,
    /// Return the sampled tokens' log-probabilities.
    pub logprobs: bool,
    /// Tokens in log-probabilities as `token_id:ID`.
    pub token_ids_as_text: bool,
    /// Bytes of the longest stop string (what a stream holds back).
    pub longest_stop: usize,
}

impl Work {
    /// Which choice a (group, sample index) is.
    pub(crate) fn choice_of(&self) -> HashMap<(usize, usize), usize> {
        self.choices
            .iter()
            .enumerate()
            .map(|(choice, &sample)| (sample, choice))
            .collect()
    }

    /// Samples in all.
    pub(crate) fn samples(&self) -> usize {
        self.prompts.len() * self.choices.len()
    }
}

fn refuse(param: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid(Some(param), message)
}

/// A seed for a request that gives none: each such request draws differently, as OpenAI's.
fn random_seed() -> u64 {
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// The shared fields, checked against the engine: sampling parameters and the choices.
fn sampling(
    engine: &Engine,
    c: &CommonFields,
    max_tokens: Option<usize>,
    default_max_tokens: usize,
) -> Result<(SamplingParams, Vec<Draw>), ApiError> {
    let n = c.n.unwrap_or(1);
    if n == 0 || n > MAX_N {
        return Err(refuse(
            "n",
            format!("n must be between 1 and {MAX_N}, not {n}"),
        ));
    }
    let temperature = c.temperature.unwrap_or(1.0);
    check_temperature("temperature", temperature)?;
    let top_p = c.top_p.unwrap_or(1.0);
    if !(top_p > 0.0 && top_p <= 1.0) {
        return Err(refuse(
            "top_p",
            format!("top_p must be in (0, 1], not {top_p}"),
        ));
    }
    let top_k = match c.top_k {
        None | Some(-1) | Some(0) => None,
        Some(k) if k > 0 => Some(k as usize),
        Some(k) => {
            return Err(refuse(
                "top_k",
                format!("top_k must be ≥ 1, or -1 or 0 for off, not {k}"),
            ))
        }
    };
    let limit = engine.max_new_tokens();
    let max_tokens = max_tokens.unwrap_or(default_max_tokens.min(limit));
    if max_tokens == 0 || max_tokens > limit {
        return Err(refuse(
            "max_tokens",
            format!(
                "max_tokens must be between 1 and this server's limit {limit} (lcb serve \
                 --max-tokens), not {max_tokens}"
            ),
        ));
    }
    for (param, value) in [
        ("presence_penalty", c.presence_penalty),
        ("frequency_penalty", c.frequency_penalty),
    ] {
        if value.is_some_and(|v| v != 0.0) {
            return Err(refuse(
                param,
                format!("{param} is not supported by lcb serve (only 0)"),
            ));
        }
    }
    if c.logit_bias.as_ref().is_some_and(|b| !b.is_empty()) {
        return Err(refuse(
            "logit_bias",
            "logit_bias is not supported by lcb serve",
        ));
    }
    if c.stream_options.is_some() && !c.stream {
        return Err(refuse(
            "stream_options",
            "stream_options is only allowed when stream is true",
        ));
    }
    if let Some(opts) = &c.stream_options {
        if opts.continuous_usage_stats == Some(true) {
            return Err(refuse(
                "stream_options.continuous_usage_stats",
                "continuous usage statistics are not supported by lcb serve",
            ));
        }
    }
    let draws = draws(c, n, temperature)?;
    let stop = c.stop.clone().map(|s| s.into_vec()).unwrap_or_default();
    if stop.len() > MAX_STOPS {
        return Err(refuse(
            "stop",
            format!(
                "{} stop strings; lcb serve takes at most {MAX_STOPS}",
                stop.len()
            ),
        ));
    }
    if let Some(long) = stop.iter().find(|s| s.len() > MAX_STOP_BYTES) {
        return Err(refuse(
            "stop",
            format!(
                "a stop string of {} bytes; lcb serve takes at most {MAX_STOP_BYTES}",
                long.len()
            ),
        ));
    }
    let params = SamplingParams {
        temperature,
        top_p,
        top_k,
        max_tokens,
        stop,
        ignore_eos: c.ignore_eos,
        // Negative seeds are valid in OpenAI's API: their bits are the seed.
        seed: c.seed.map_or_else(random_seed, |s| s as u64),
    };
    Ok((params, draws))
}

fn check_temperature(param: &str, temperature: f32) -> Result<(), ApiError> {
    if !(temperature.is_finite() && temperature >= 0.0) {
        return Err(refuse(
            param,
            format!("{param} must be a number ≥ 0, not {temperature}"),
        ));
    }
    Ok(())
}

/// Checks a group's sample indices: below [`MAX_N`], none twice.
fn check_indices(param: &str, indices: &[usize]) -> Result<(), ApiError> {
    if let Some(&bad) = indices.iter().find(|&&i| i >= MAX_N) {
        return Err(refuse(
            param,
            format!("{param} holds {bad}; sample indices run below {MAX_N}"),
        ));
    }
    let mut seen = indices.to_vec();
    seen.sort_unstable();
    seen.dedup();
    if seen.len() != indices.len() {
        return Err(refuse(param, format!("{param} repeats a sample index")));
    }
    Ok(())
}

/// What the choices draw, group by group: temperature, random stream, sample indices. Without
/// lcb's extension, one group: samples `0..n` of stream 0 at the request's temperature.
fn draws(c: &CommonFields, n: usize, temperature: f32) -> Result<Vec<Draw>, ApiError> {
    let Some(lcb) = &c.lcb else {
        return Ok(vec![(temperature, 0, (0..n).collect())]);
    };
    let Some(groups) = &lcb.groups else {
        let indices = match &lcb.indices {
            None => (0..n).collect(),
            Some(indices) => {
                if indices.len() != n {
                    return Err(refuse(
                        "lcb.indices",
                        format!("lcb.indices has {} entries but n is {n}", indices.len()),
                    ));
                }
                check_indices("lcb.indices", indices)?;
                indices.clone()
            }
        };
        return Ok(vec![(temperature, lcb.stream, indices)]);
    };
    if lcb.indices.is_some() || lcb.stream != 0 || c.temperature.is_some() {
        return Err(refuse(
            "lcb.groups",
            "with lcb.groups, each group gives its own temperature, stream and indices \
             (leave out temperature, lcb.stream and lcb.indices)",
        ));
    }
    let total: usize = groups.iter().map(|g| g.indices.len()).sum();
    if groups.is_empty() || total != n {
        return Err(refuse(
            "lcb.groups",
            format!("lcb.groups holds {total} samples but n is {n}"),
        ));
    }
    groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            check_temperature(&format!("lcb.groups[{i}].temperature"), g.temperature)?;
            check_indices(&format!("lcb.groups[{i}].indices"), &g.indices)?;
            Ok((g.temperature, g.stream, g.indices.clone()))
        })
        .collect()
}

/// One group's draws: temperature, random stream, sample indices.
type Draw = (f32, u64, Vec<usize>);

/// Refuses prompts that leave no room in the model's context for `max_tokens` more.
fn fits_context(engine: &Engine, prompts: &[Vec<u32>], max_tokens: usize) -> Result<(), ApiError> {
    let positions = engine.model_config().max_position_embeddings;
    let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
    if longest + max_tokens > positions {
        let (param, message) = if longest >= positions {
            (
                "prompt",
                format!(
                    "a prompt of {longest} tokens does not fit the model's {positions} positions"
                ),
            )
        } else {
            (
                "max_tokens",
                format!(
                    "a prompt of {longest} tokens leaves room for {} new tokens in the model's \
                     {positions} positions, not max_tokens {max_tokens}",
                    positions - longest
                ),
            )
        };
        return Err(refuse(param, message));
    }
    Ok(())
}

/// The group that draws exactly `choices` from `stream`.
fn group(params: SamplingParams, choices: &[usize], stream: u64) -> SampleGroup {
    let n = choices.iter().max().map_or(0, |m| m + 1);
    let mut wanted = vec![false; n];
    for &i in choices {
        wanted[i] = true;
    }
    SampleGroup {
        params,
        n,
        stream,
        skip: (0..n).filter(|&i| !wanted[i]).collect(),
    }
}

fn work(
    prompts: Vec<Vec<u32>>,
    c: &CommonFields,
    params: SamplingParams,
    draws: Vec<Draw>,
    logprobs: bool,
) -> Work {
    let longest_stop = params.stop.iter().map(String::len).max().unwrap_or(0);
    let choices = draws
        .iter()
        .enumerate()
        .flat_map(|(g, (_, _, indices))| indices.iter().map(move |&i| (g, i)))
        .collect();
    let groups = draws
        .into_iter()
        .map(|(temperature, stream, indices)| {
            let params = SamplingParams {
                temperature,
                ..params.clone()
            };
            group(params, &indices, stream)
        })
        .collect();
    Work {
        prompts,
        groups,
        choices,
        stream: c.stream,
        include_usage: c.stream_options.as_ref().is_some_and(|o| o.include_usage),
        logprobs,
        token_ids_as_text: c.return_tokens_as_token_ids,
        longest_stop,
    }
}

fn encode(engine: &Engine, prompt: &Prompt, param: &str) -> Result<Vec<u32>, ApiError> {
    let tokens = engine
        .encode_prompt(prompt)
        .map_err(|e| refuse(param, format!("{param}: {e}")))?;
    if tokens.is_empty() {
        return Err(refuse(param, format!("{param} is empty")));
    }
    Ok(tokens)
}

/// Checks a completions request and turns it into work.
pub(crate) fn completion_work(engine: &Engine, r: &CompletionRequest) -> Result<Work, ApiError> {
    let c = r.common();
    let (params, draws) = sampling(engine, &c, c.max_tokens, COMPLETIONS_DEFAULT_MAX_TOKENS)?;
    match r.logprobs {
        None | Some(0) => {}
        Some(k) => {
            return Err(refuse(
                "logprobs",
                format!(
                    "logprobs {k} asks for alternatives, which lcb serve does not return; use 0 \
                     for the sampled tokens' log-probabilities"
                ),
            ))
        }
    }
    if r.echo == Some(true) {
        return Err(refuse("echo", "echo is not supported by lcb serve"));
    }
    if r.best_of.is_some_and(|b| b != c.n.unwrap_or(1)) {
        return Err(refuse("best_of", "best_of other than n is not supported"));
    }
    if r.suffix.as_ref().is_some_and(|s| !s.is_empty()) {
        return Err(refuse("suffix", "suffix is not supported by lcb serve"));
    }
    let texts = |texts: &[String]| -> Result<Vec<Vec<u32>>, ApiError> {
        texts
            .iter()
            .map(|t| encode(engine, &Prompt::Text(t.clone()), "prompt"))
            .collect()
    };
    let prompts = match &r.prompt {
        PromptField::Text(t) => texts(std::slice::from_ref(t))?,
        PromptField::Texts(ts) => texts(ts)?,
        PromptField::Tokens(t) => vec![t.clone()],
        PromptField::TokenLists(ts) => ts.clone(),
    };
    if prompts.is_empty() || prompts.iter().any(Vec::is_empty) {
        return Err(refuse("prompt", "prompt is empty"));
    }
    if prompts.len() > MAX_PROMPTS {
        return Err(refuse(
            "prompt",
            format!(
                "{} prompts in one request; lcb serve takes at most {MAX_PROMPTS}",
                prompts.len()
            ),
        ));
    }
    fits_context(engine, &prompts, params.max_tokens)?;
    let vocab = engine.model_config().vocab_size;
    if let Some(bad) = prompts.iter().flatten().find(|&&t| t as usize >= vocab) {
        return Err(refuse(
            "prompt",
            format!("token id {bad} is outside the vocabulary ({vocab})"),
        ));
    }
    Ok(work(prompts, &c, params, draws, r.logprobs.is_some()))
}

/// The conversation of a chat request as lcb's chat messages.
pub(crate) fn chat_messages(
    messages: &[lcb_openai::wire::RequestMessage],
) -> Result<Vec<ChatMessage>, ApiError> {
    if messages.is_empty() {
        return Err(refuse("messages", "messages is empty"));
    }
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let role = match m.role.as_str() {
                "system" | "developer" => "system",
                "user" => "user",
                "assistant" => "assistant",
                other => {
                    return Err(refuse(
                        &format!("messages[{i}].role"),
                        format!("messages[{i}].role `{other}` is not one of system, developer, user, assistant"),
                    ))
                }
            };
            let content = match &m.content {
                MessageContent::Text(t) => t.clone(),
                MessageContent::Parts(parts) => {
                    let mut text = String::new();
                    for (j, p) in parts.iter().enumerate() {
                        match (p.kind.as_str(), &p.text) {
                            ("text", Some(t)) => text.push_str(t),
                            _ => {
                                return Err(refuse(
                                    &format!("messages[{i}].content[{j}]"),
                                    format!("messages[{i}].content[{j}]: only text parts are supported"),
                                ))
                            }
                        }
                    }
                    text
                }
            };
            Ok(ChatMessage::new(role, content))
        })
        .collect()
}

/// The prompt a chat request renders.
pub(crate) fn chat_prompt(
    messages: &[lcb_openai::wire::RequestMessage],
    kwargs: Option<&lcb_openai::wire::ChatTemplateKwargs>,
) -> Result<Prompt, ApiError> {
    Ok(Prompt::Chat {
        messages: chat_messages(messages)?,
        // Qwen3's template thinks unless told `enable_thinking = false`.
        enable_thinking: kwargs.and_then(|k| k.enable_thinking).unwrap_or(true),
    })
}

/// Checks a chat request and turns it into work.
pub(crate) fn chat_work(engine: &Engine, r: &ChatRequest) -> Result<Work, ApiError> {
    let c = r.common();
    if r.max_completion_tokens.is_some() && c.max_tokens.is_some() {
        return Err(refuse(
            "max_completion_tokens",
            "give max_tokens or max_completion_tokens, not both",
        ));
    }
    let max_tokens = r.max_completion_tokens.or(c.max_tokens);
    let (params, draws) = sampling(engine, &c, max_tokens, usize::MAX)?;
    if r.top_logprobs.is_some_and(|k| k > 0) {
        return Err(refuse(
            "top_logprobs",
            "top_logprobs asks for alternatives, which lcb serve does not return; use 0",
        ));
    }
    let prompt = chat_prompt(&r.messages, r.chat_template_kwargs.as_ref())?;
    let tokens = encode(engine, &prompt, "messages")?;
    let mut params = params;
    if max_tokens.is_none() {
        // As OpenAI's: without a limit, a reply may fill the rest of the context.
        let room = engine
            .model_config()
            .max_position_embeddings
            .saturating_sub(tokens.len())
            .max(1);
        params.max_tokens = params.max_tokens.min(room);
    }
    let prompts = vec![tokens];
    fits_context(engine, &prompts, params.max_tokens)?;
    Ok(work(prompts, &c, params, draws, r.logprobs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_draws_exactly_the_chosen_indices() {
        let g = group(SamplingParams::default(), &[3, 1], 9);
        assert_eq!((g.n, g.stream), (4, 9));
        assert_eq!(g.indices().collect::<Vec<_>>(), vec![1, 3]);
        let g = group(SamplingParams::default(), &[0, 1, 2], 0);
        assert!(g.skip.is_empty());
    }
}
