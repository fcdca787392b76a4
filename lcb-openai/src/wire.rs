//! The OpenAI HTTP API's JSON, as far as lcb speaks it: completion and chat-completion
//! requests (with vLLM's and lcb's extension fields), their responses and streamed chunks,
//! the model list, vLLM's `/tokenize` and `/detokenize`, and the error object.
//!
//! Requests deny unknown fields: a measurement tool must not silently ignore a misspelt
//! `temprature`. Fields lcb accepts but whose only supported value is the neutral one
//! (`presence_penalty`, `echo`, …) are here so that a client sending the neutral value works
//! and any other value gets a 400 naming the field.

use serde::{Deserialize, Deserializer, Serialize};

/// A boolean that clients may also send as `null` (several SDKs write every field, unset
/// ones as `null`): `null` is `false`.
fn null_is_false<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(false))
}

/// `stop`: one string or a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StopField {
    /// One stop string.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Default for PromptField {
    fn default() -> Self {
        PromptField::Text(String::new())
    }
}

impl StopField {
    /// The stop strings as a list.
    pub fn into_vec(self) -> Vec<String> {
        match self {
            StopField::One(s) => vec![s],
            StopField::Many(v) => v,
        }
    }
}

/// `prompt` of a completion request: text, token ids, or a batch of either.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PromptField {
    /// One text prompt.
    Text(String),
    /// One prompt as token ids.
    Tokens(Vec<u32>),
    /// Several text prompts.
    Texts(Vec<String>),
    /// Several prompts as token ids.
    TokenLists(Vec<Vec<u32>>),
}

/// `stream_options`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamOptions {
    /// Send a last chunk with the request's `usage`.
    #[serde(default)]
    pub include_usage: bool,
    /// Also put the usage so far in every chunk (vLLM's extension; only `false` is
    /// supported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuous_usage_stats: Option<bool>,
}

/// lcb's extension: which of lcb's random streams a request's samples draw from, so a
/// sample served over HTTP is exactly the sample an in-process sweep draws.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LcbSampling {
    /// The random stream (the sweep's per-temperature stream of a question).
    #[serde(default)]
    pub stream: u64,
    /// The sample index of each choice: choice `i` is sample `indices[i]` of the stream.
    /// Absent: `0..n`. Its length must equal `n`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indices: Option<Vec<usize>>,
    /// Several groups of samples of the one prompt, each at its own temperature on its own
    /// stream (a sweep's temperatures): one request, one prefill. The choices are the
    /// groups' samples in order; `n` must be their number, and `stream`, `indices` and the
    /// request's `temperature` are left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<LcbGroup>>,
}

/// One group of [`LcbSampling::groups`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LcbGroup {
    /// The group's temperature.
    pub temperature: f32,
    /// Its random stream.
    pub stream: u64,
    /// Its sample indices.
    pub indices: Vec<usize>,
}

/// Declares a request struct with the sampling fields completions and chat completions share
/// (a flattened struct cannot deny unknown fields in serde), and `common()` to read them as
/// one [`CommonFields`].
macro_rules! sampling_request {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* pub $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
        /// Choices per prompt.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub n: Option<usize>,
        /// Softmax temperature (0 = greedy).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub temperature: Option<f32>,
        /// Nucleus mass.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub top_p: Option<f32>,
        /// Keep the k most likely tokens (vLLM's extension; -1 or 0 = off).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub top_k: Option<i64>,
        /// Most new tokens per choice.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub max_tokens: Option<usize>,
        /// Stop strings.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub stop: Option<StopField>,
        /// Seed of the request's draws.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub seed: Option<i64>,
        /// Server-sent events instead of one response.
        #[serde(
            default,
            deserialize_with = "null_is_false",
            skip_serializing_if = "std::ops::Not::not"
        )]
        pub stream: bool,
        /// Streaming options.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub stream_options: Option<StreamOptions>,
        /// Supported: 0 only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub presence_penalty: Option<f32>,
        /// Supported: 0 only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub frequency_penalty: Option<f32>,
        /// Supported: empty only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub logit_bias: Option<serde_json::Map<String, serde_json::Value>>,
        /// An end-user id (recorded nowhere).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub user: Option<String>,
        /// vLLM's extension: end-of-sequence tokens do not end a choice.
        #[serde(
            default,
            deserialize_with = "null_is_false",
            skip_serializing_if = "std::ops::Not::not"
        )]
        pub ignore_eos: bool,
        /// vLLM's extension: log-probability tokens as `token_id:ID` instead of text.
        #[serde(
            default,
            deserialize_with = "null_is_false",
            skip_serializing_if = "std::ops::Not::not"
        )]
        pub return_tokens_as_token_ids: bool,
        /// lcb's extension: which random stream and sample indices the choices are.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub lcb: Option<LcbSampling>,
        }

        impl $name {
            /// The shared sampling fields.
            pub fn common(&self) -> CommonFields {
                CommonFields {
                    n: self.n,
                    temperature: self.temperature,
                    top_p: self.top_p,
                    top_k: self.top_k,
                    max_tokens: self.max_tokens,
                    stop: self.stop.clone(),
                    seed: self.seed,
                    stream: self.stream,
                    stream_options: self.stream_options.clone(),
                    presence_penalty: self.presence_penalty,
                    frequency_penalty: self.frequency_penalty,
                    logit_bias: self.logit_bias.clone(),
                    user: self.user.clone(),
                    ignore_eos: self.ignore_eos,
                    return_tokens_as_token_ids: self.return_tokens_as_token_ids,
                    lcb: self.lcb.clone(),
                }
            }

            /// Sets the shared sampling fields.
            pub fn set_common(&mut self, c: CommonFields) {
                self.n = c.n;
                self.temperature = c.temperature;
                self.top_p = c.top_p;
                self.top_k = c.top_k;
                self.max_tokens = c.max_tokens;
                self.stop = c.stop;
                self.seed = c.seed;
                self.stream = c.stream;
                self.stream_options = c.stream_options;
                self.presence_penalty = c.presence_penalty;
                self.frequency_penalty = c.frequency_penalty;
                self.logit_bias = c.logit_bias;
                self.user = c.user;
                self.ignore_eos = c.ignore_eos;
                self.return_tokens_as_token_ids = c.return_tokens_as_token_ids;
                self.lcb = c.lcb;
            }
        }
    };
}

/// The sampling fields completions and chat completions share.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommonFields {
    /// Choices per prompt.
    pub n: Option<usize>,
    /// Softmax temperature (0 = greedy).
    pub temperature: Option<f32>,
    /// Nucleus mass.
    pub top_p: Option<f32>,
    /// Keep the k most likely tokens (vLLM's extension; -1 or 0 = off).
    pub top_k: Option<i64>,
    /// Most new tokens per choice.
    pub max_tokens: Option<usize>,
    /// Stop strings.
    pub stop: Option<StopField>,
    /// Seed of the request's draws.
    pub seed: Option<i64>,
    /// Server-sent events instead of one response.
    pub stream: bool,
    /// Streaming options.
    pub stream_options: Option<StreamOptions>,
    /// Supported: 0 only.
    pub presence_penalty: Option<f32>,
    /// Supported: 0 only.
    pub frequency_penalty: Option<f32>,
    /// Supported: empty only.
    pub logit_bias: Option<serde_json::Map<String, serde_json::Value>>,
    /// An end-user id (recorded nowhere).
    pub user: Option<String>,
    /// vLLM's extension: end-of-sequence tokens do not end a choice.
    pub ignore_eos: bool,
    /// vLLM's extension: log-probability tokens as `token_id:ID` instead of text.
    pub return_tokens_as_token_ids: bool,
    /// lcb's extension: which random stream and sample indices the choices are.
    pub lcb: Option<LcbSampling>,
}

sampling_request! {
    /// `POST /v1/completions`.
    CompletionRequest {
        /// The served model's name.
        pub model: String,
        /// The prompt(s).
        pub prompt: PromptField,
        /// Log-probabilities of the sampled tokens: 0 only (lcb returns no alternatives).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub logprobs: Option<u32>,
        /// Supported: false only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub echo: Option<bool>,
        /// Supported: equal to `n` (or absent) only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub best_of: Option<usize>,
        /// Supported: absent or empty only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub suffix: Option<String>,
    }
}

/// A chat message's content: text, or a list of parts (only text parts are supported).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    /// Plain text.
    Text(String),
    /// Content parts.
    Parts(Vec<ContentPart>),
}

/// One part of a message's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentPart {
    /// `text` (the only kind lcb's text models take).
    #[serde(rename = "type")]
    pub kind: String,
    /// The text.
    #[serde(default)]
    pub text: Option<String>,
}

/// A chat message of a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestMessage {
    /// `system`, `developer`, `user` or `assistant`.
    pub role: String,
    /// The content.
    pub content: MessageContent,
    /// A participant name (not rendered by Qwen3's template; accepted and ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `chat_template_kwargs` (vLLM's extension): what the chat template is given besides the
/// messages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatTemplateKwargs {
    /// Qwen3's thinking switch (the template's default: on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_thinking: Option<bool>,
}

sampling_request! {
    /// `POST /v1/chat/completions`.
    ChatRequest {
        /// The served model's name.
        pub model: String,
        /// The conversation.
        pub messages: Vec<RequestMessage>,
        /// The newer name of `max_tokens`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub max_completion_tokens: Option<usize>,
        /// Log-probabilities of the sampled tokens.
        #[serde(
            default,
            deserialize_with = "null_is_false",
            skip_serializing_if = "std::ops::Not::not"
        )]
        pub logprobs: bool,
        /// Alternatives per token: 0 only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub top_logprobs: Option<u32>,
        /// Template arguments.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub chat_template_kwargs: Option<ChatTemplateKwargs>,
    }
}

/// Token counts of a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens (summed over prompts).
    pub prompt_tokens: usize,
    /// Generated tokens over all choices.
    pub completion_tokens: usize,
    /// Their sum.
    pub total_tokens: usize,
}

/// A completion choice's log-probabilities (the legacy completions shape).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionLogprobs {
    /// Each token's text (or `token_id:ID`).
    pub tokens: Vec<String>,
    /// Each token's log-probability under the model's raw logits.
    pub token_logprobs: Vec<f32>,
    /// Alternatives: lcb returns none.
    #[serde(default)]
    pub top_logprobs: Option<Vec<serde_json::Value>>,
    /// Each token's character offset in the choice's text.
    #[serde(default)]
    pub text_offset: Vec<usize>,
}

/// One choice of a completion response or chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionChoice {
    /// Position among the choices.
    pub index: usize,
    /// The text (in a chunk: what this chunk adds).
    pub text: String,
    /// Log-probabilities, when asked for.
    #[serde(default)]
    pub logprobs: Option<CompletionLogprobs>,
    /// `stop` or `length`; `null` in a chunk that does not end the choice.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// The response of `POST /v1/completions` (`object: text_completion`), also each streamed
/// chunk's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionResponse {
    /// `cmpl-…`.
    pub id: String,
    /// `text_completion`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// The served model.
    pub model: String,
    /// The choices.
    pub choices: Vec<CompletionChoice>,
    /// Token counts (in streams: only in the last chunk, when asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// One token's log-probability (the chat shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenLogprob {
    /// The token's text (or `token_id:ID`).
    pub token: String,
    /// Its log-probability under the model's raw logits.
    pub logprob: f32,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Alternatives: lcb returns none.
    #[serde(default)]
    pub top_logprobs: Vec<serde_json::Value>,
}

/// A chat choice's log-probabilities.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatLogprobs {
    /// One entry per generated token.
    pub content: Vec<TokenLogprob>,
}

/// The assistant's message (or, in a chunk, what it adds).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AssistantMessage {
    /// `assistant` (in chunks: only in the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// One choice of a chat response or chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatChoice {
    /// Position among the choices.
    pub index: usize,
    /// The whole message (responses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<AssistantMessage>,
    /// What this chunk adds (streams).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<AssistantMessage>,
    /// Log-probabilities, when asked for.
    #[serde(default)]
    pub logprobs: Option<ChatLogprobs>,
    /// `stop` or `length`; `null` until the choice ends.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// The response of `POST /v1/chat/completions` (`chat.completion`), and each chunk
/// (`chat.completion.chunk`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// `chatcmpl-…`.
    pub id: String,
    /// `chat.completion` or `chat.completion.chunk`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// The served model.
    pub model: String,
    /// The choices.
    pub choices: Vec<ChatChoice>,
    /// Token counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// One entry of `GET /v1/models`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// The served model's name.
    pub id: String,
    /// `model`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// Who serves it: `lcb` for lcb serve (`vllm` for vLLM).
    pub owned_by: String,
    /// The longest prompt plus generation, in tokens (vLLM's field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_model_len: Option<usize>,
    /// lcb serve's engine: what it reports as `Generator::describe` and `fingerprint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lcb: Option<LcbModelInfo>,
}

/// What lcb serve says about its engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LcbModelInfo {
    /// The engine's settings ([`lcb_core::Generator::describe`]).
    pub describe: serde_json::Value,
    /// What changes its outputs ([`lcb_core::Generator::fingerprint`]).
    pub fingerprint: serde_json::Value,
    /// The most samples one request may ask for (the server's queue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_samples: Option<usize>,
    /// lcb's version.
    pub version: String,
}

/// `GET /v1/models`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelList {
    /// `list`.
    pub object: String,
    /// The models.
    pub data: Vec<ModelCard>,
}

/// `POST /tokenize` (vLLM's): a prompt or a conversation to token ids.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizeRequest {
    /// The served model (optional, as in vLLM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// A text prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// A conversation, rendered with the chat template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<RequestMessage>>,
    /// For conversations: end with the assistant's turn opening (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_generation_prompt: Option<bool>,
    /// Supported: false only (lcb never adds special tokens to a prompt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_special_tokens: Option<bool>,
    /// Template arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_template_kwargs: Option<ChatTemplateKwargs>,
}

/// The answer of `/tokenize`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenizeResponse {
    /// Number of tokens.
    pub count: usize,
    /// The model's context length.
    pub max_model_len: usize,
    /// The token ids.
    pub tokens: Vec<u32>,
    /// lcb's extension: the exact text the model sees (the rendered template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
}

/// `POST /detokenize` (vLLM's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetokenizeRequest {
    /// The served model (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Token ids.
    pub tokens: Vec<u32>,
}

/// The answer of `/detokenize`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetokenizeResponse {
    /// The text.
    pub prompt: String,
}

/// The error object: `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The error.
    pub error: ErrorBody,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A sentence naming the field at fault, where one is.
    pub message: String,
    /// `invalid_request_error`, `not_found_error`, `server_overloaded`, `server_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The field at fault.
    pub param: Option<String>,
    /// A machine-readable code (`model_not_found`, …).
    pub code: Option<String>,
}

/// Prefix of a token string that carries its id (vLLM's `return_tokens_as_token_ids`).
pub const TOKEN_ID_PREFIX: &str = "token_id:";

/// The id in a `token_id:ID` token string.
pub fn token_id(token: &str) -> Option<u32> {
    token.strip_prefix(TOKEN_ID_PREFIX)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelt_field_is_refused_and_unions_parse() {
        let err = serde_json::from_str::<CompletionRequest>(
            r#"{"model": "m", "prompt": "x", "temprature": 0.5}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("temprature"), "{err}");
        let ok: CompletionRequest = serde_json::from_str(
            r#"{"model": "m", "prompt": [[1, 2], [3]], "stop": "\n", "n": 2, "lcb": {"stream": 7}}"#,
        )
        .unwrap();
        assert_eq!(
            ok.prompt,
            PromptField::TokenLists(vec![vec![1, 2], vec![3]])
        );
        assert_eq!(ok.common().stop.unwrap().into_vec(), vec!["\n"]);
        assert_eq!(ok.common().lcb.unwrap().stream, 7);
        let chat: ChatRequest = serde_json::from_str(
            r#"{"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                "chat_template_kwargs": {"enable_thinking": false}}"#,
        )
        .unwrap();
        assert!(matches!(chat.messages[0].content, MessageContent::Parts(_)));
        assert_eq!(token_id("token_id:42"), Some(42));
        assert_eq!(token_id("42"), None);
    }
}
