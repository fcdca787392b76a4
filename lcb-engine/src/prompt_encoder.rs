//! Prompts to token ids: a model's tokenizer and chat template together, usable without
//! loading its weights (`lcb info` counts prompt tokens this way).

use std::sync::Arc;

use lcb_core::generator::Prompt;

use crate::chat_template::{ChatTemplate, RenderOptions};
use crate::config::Qwen3Config;
use crate::error::{Error, Result};
use crate::loader::ModelFiles;
use crate::tokenizer::Tokenizer;

/// A model's tokenizer and chat template.
#[derive(Default)]
pub struct PromptEncoder {
    tokenizer: Option<Arc<Tokenizer>>,
    chat_template: Option<ChatTemplate>,
}

impl PromptEncoder {
    /// An encoder from parts (either may be missing: token-id prompts need neither).
    pub fn new(tokenizer: Option<Arc<Tokenizer>>, chat_template: Option<ChatTemplate>) -> Self {
        PromptEncoder {
            tokenizer,
            chat_template,
        }
    }

    /// The tokenizer and chat template among a model's files.
    pub fn from_files(files: &ModelFiles, cfg: &Qwen3Config) -> Result<Self> {
        let tokenizer = match &files.tokenizer {
            Some(path) => Some(Arc::new(Tokenizer::from_file(path, cfg.vocab_size)?)),
            None => None,
        };
        let chat_template = ChatTemplate::from_files(
            files.tokenizer_config.as_deref(),
            files.chat_template.as_deref(),
        )?;
        Ok(Self::new(tokenizer, chat_template))
    }

    /// The tokenizer, if the model has one.
    pub fn tokenizer(&self) -> Option<&Arc<Tokenizer>> {
        self.tokenizer.as_ref()
    }

    /// The chat template, if the model has one.
    pub fn chat_template(&self) -> Option<&ChatTemplate> {
        self.chat_template.as_ref()
    }

    /// The exact text the model sees: text prompts as they are, chat prompts rendered with
    /// the template (`add_generation_prompt = true`, as transformers and vLLM do).
    pub fn render(&self, prompt: &Prompt) -> Result<String> {
        match prompt {
            Prompt::Text(text) => Ok(text.clone()),
            Prompt::Chat {
                messages,
                enable_thinking,
            } => self
                .chat_template
                .as_ref()
                .ok_or_else(|| Error::Invalid("the model has no chat template".into()))?
                .render_messages(
                    messages,
                    &RenderOptions {
                        add_generation_prompt: true,
                        enable_thinking: Some(*enable_thinking),
                        tools: None,
                    },
                ),
        }
    }

    /// Token ids of a prompt (no special tokens added beyond what the template writes).
    pub fn encode(&self, prompt: &Prompt) -> Result<Vec<u32>> {
        let text = self.render(prompt)?;
        self.tokenizer
            .as_ref()
            .ok_or_else(|| Error::Invalid("the model has no tokenizer.json".into()))?
            .encode(&text)
    }
}
