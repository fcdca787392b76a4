//! The answers' JSON: a whole completion or chat-completion response, and the chunks of a
//! streamed one, built from the engine's completions and [`Delta`]s.

use std::sync::Arc;

use lcb_core::generator::{Completion, FinishReason};
use lcb_engine::tokenizer::Tokenizer;
use lcb_openai::wire::{
    AssistantMessage, ChatChoice, ChatLogprobs, ChatResponse, CompletionChoice, CompletionLogprobs,
    CompletionResponse, TokenLogprob, Usage, TOKEN_ID_PREFIX,
};

use crate::text_stream::Delta;

/// Which of the two generation endpoints answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    /// `/v1/completions`.
    Completions,
    /// `/v1/chat/completions`.
    Chat,
}

/// Builds one request's answers.
pub(crate) struct Responder {
    pub api: Api,
    pub id: String,
    pub created: u64,
    pub model: String,
    pub tokenizer: Option<Arc<Tokenizer>>,
    pub logprobs: bool,
    pub token_ids_as_text: bool,
}

fn finish_text(reason: FinishReason) -> String {
    match reason {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
    }
    .to_owned()
}

impl Responder {
    /// A token's text (or `token_id:ID`) and bytes.
    fn token(&self, id: u32) -> (String, Vec<u8>) {
        let bytes = self
            .tokenizer
            .as_ref()
            .map_or_else(Vec::new, |t| t.token_bytes(id).to_vec());
        let text = if self.token_ids_as_text {
            format!("{TOKEN_ID_PREFIX}{id}")
        } else {
            String::from_utf8_lossy(&bytes).into_owned()
        };
        (text, bytes)
    }

    /// Characters `tokens` advance `text_offset` by: each token's text on its own (a
    /// character split between two tokens counts in both), the same in whole answers and
    /// streams.
    pub(crate) fn token_chars(&self, tokens: &[(u32, f32)]) -> usize {
        tokens
            .iter()
            .map(|&(id, _)| String::from_utf8_lossy(&self.token(id).1).chars().count())
            .sum()
    }

    fn completion_logprobs(&self, tokens: &[(u32, f32)], offset: usize) -> CompletionLogprobs {
        let mut lp = CompletionLogprobs::default();
        let mut at = offset;
        for &(id, logprob) in tokens {
            let (text, _) = self.token(id);
            lp.text_offset.push(at);
            at += self.token_chars(&[(id, logprob)]);
            lp.tokens.push(text);
            lp.token_logprobs.push(logprob);
        }
        lp
    }

    fn chat_logprobs(&self, tokens: &[(u32, f32)]) -> ChatLogprobs {
        ChatLogprobs {
            content: tokens
                .iter()
                .map(|&(id, logprob)| {
                    let (token, bytes) = self.token(id);
                    TokenLogprob {
                        token,
                        logprob,
                        bytes,
                        top_logprobs: Vec::new(),
                    }
                })
                .collect(),
        }
    }

    /// The whole response; `completions[p][c]` is choice `c` of prompt `p`.
    pub(crate) fn full(&self, completions: &[Vec<Completion>], usage: Usage) -> serde_json::Value {
        let per_prompt = completions.first().map_or(0, Vec::len);
        let all = completions.iter().enumerate().flat_map(|(p, choices)| {
            choices
                .iter()
                .enumerate()
                .map(move |(c, done)| (p * per_prompt + c, done))
        });
        let tokens = |c: &Completion| -> Vec<(u32, f32)> {
            c.token_ids
                .iter()
                .copied()
                .zip(c.logprobs.iter().copied())
                .collect()
        };
        let value = match self.api {
            Api::Completions => serde_json::to_value(CompletionResponse {
                id: self.id.clone(),
                object: "text_completion".into(),
                created: self.created,
                model: self.model.clone(),
                choices: all
                    .map(|(index, c)| CompletionChoice {
                        index,
                        text: c.text.clone(),
                        logprobs: self
                            .logprobs
                            .then(|| self.completion_logprobs(&tokens(c), 0)),
                        finish_reason: Some(finish_text(c.finish_reason)),
                    })
                    .collect(),
                usage: Some(usage),
            }),
            Api::Chat => serde_json::to_value(ChatResponse {
                id: self.id.clone(),
                object: "chat.completion".into(),
                created: self.created,
                model: self.model.clone(),
                choices: all
                    .map(|(index, c)| ChatChoice {
                        index,
                        message: Some(AssistantMessage {
                            role: Some("assistant".into()),
                            content: Some(c.text.clone()),
                        }),
                        delta: None,
                        logprobs: self.logprobs.then(|| self.chat_logprobs(&tokens(c))),
                        finish_reason: Some(finish_text(c.finish_reason)),
                    })
                    .collect(),
                usage: Some(usage),
            }),
        };
        value.expect("responses serialize")
    }

    /// One streamed chunk for choice `index`: `delta` (whose text starts at character
    /// `offset` of the choice), its finish reason if it ends the choice, and for chat the
    /// assistant role on the choice's first chunk.
    pub(crate) fn chunk(
        &self,
        index: usize,
        delta: &Delta,
        offset: usize,
        finish: Option<FinishReason>,
        first: bool,
    ) -> String {
        // Through a JSON value, as whole answers: log-probabilities are written as the f64
        // that holds the f32 exactly, so a client reads the same numbers either way.
        let value = match self.api {
            Api::Completions => serde_json::to_value(&CompletionResponse {
                id: self.id.clone(),
                object: "text_completion".into(),
                created: self.created,
                model: self.model.clone(),
                choices: vec![CompletionChoice {
                    index,
                    text: delta.text.clone(),
                    logprobs: self
                        .logprobs
                        .then(|| self.completion_logprobs(&delta.tokens, offset)),
                    finish_reason: finish.map(finish_text),
                }],
                usage: None,
            }),
            Api::Chat => serde_json::to_value(&ChatResponse {
                id: self.id.clone(),
                object: "chat.completion.chunk".into(),
                created: self.created,
                model: self.model.clone(),
                choices: vec![ChatChoice {
                    index,
                    message: None,
                    delta: Some(AssistantMessage {
                        role: first.then(|| "assistant".into()),
                        content: Some(delta.text.clone()),
                    }),
                    logprobs: self.logprobs.then(|| self.chat_logprobs(&delta.tokens)),
                    finish_reason: finish.map(finish_text),
                }],
                usage: None,
            }),
        };
        value.expect("chunks serialize").to_string()
    }

    /// The last chunk of a stream that asked for usage: no choices, the usage.
    pub(crate) fn usage_chunk(&self, usage: Usage) -> String {
        let object = match self.api {
            Api::Completions => "text_completion",
            Api::Chat => "chat.completion.chunk",
        };
        serde_json::json!({
            "id": self.id,
            "object": object,
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage,
        })
        .to_string()
    }
}
