//! LiveCodeBench's prompts, byte for byte, one module per scenario:
//!
//! * [`code_generation`]: the zero-shot code-generation prompt (generic chat or CodeQwen raw);
//! * [`code_execution`]: complete `assert f(x) == ??`, with or without chain of thought;
//! * [`test_output`]: complete a test's `assert f(input) == # TODO`;
//! * [`self_repair`]: fix a failed program, given the grader's feedback.
//!
//! [`prompt_for`] picks the scenario's prompt from the problem's family.

pub mod code_execution;
pub mod code_generation;
pub mod self_repair;
pub mod test_output;

use serde::{Deserialize, Serialize};

use crate::generator::Prompt;
use crate::problem::Problem;

pub use code_generation::{
    codeqwen_prompt, generic_messages, generic_user_message, model_input,
    FORMATTING_MESSAGE_WITH_STARTER_CODE, FORMATTING_WITHOUT_STARTER_CODE, SYSTEM_MESSAGE_CODEQWEN,
    SYSTEM_MESSAGE_GENERIC,
};

/// How a problem becomes model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PromptStyle {
    /// LCB's generic system + user messages, rendered with the model's chat template.
    #[default]
    Chat,
    /// LCB's `CodeQwenInstruct` raw ChatML string (what lcb_runner uses for Qwen models).
    CodeQwen,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl ChatMessage {
    /// A message with `role` and `content`.
    pub fn new(role: &str, content: impl Into<String>) -> Self {
        ChatMessage {
            role: role.to_owned(),
            content: content.into(),
        }
    }
}

/// Everything besides the problem that shapes its prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PromptOptions {
    /// Generic chat messages or CodeQwen's raw string.
    pub style: PromptStyle,
    /// Qwen3 thinking mode in the chat template.
    pub thinking: bool,
    /// Code execution with chain of thought (lcb_runner's `--cot_code_execution`).
    pub cot: bool,
}

/// A prompt lcb_runner does not define.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    /// The scenario has no prompt in this style upstream.
    #[error("lcb_runner has no {style} prompt for {family} problems (its prompt function raises NotImplementedError for CodeQwenInstruct); use --prompt-style chat")]
    NoSuchStyle {
        /// The style asked for.
        style: &'static str,
        /// The problem family.
        family: &'static str,
    },
    /// HumanEval problems are completed, not prompted with a LiveCodeBench prompt.
    #[error(
        "HumanEval problems have no LiveCodeBench prompt (grade HumanEval samples with `lcb eval`)"
    )]
    HumanEval,
}

/// The model input for `problem` in its scenario.
pub fn prompt_for(problem: &Problem, options: PromptOptions) -> Result<Prompt, PromptError> {
    let chat = |messages| Prompt::Chat {
        messages,
        enable_thinking: options.thinking,
    };
    let chat_only = |family| match options.style {
        PromptStyle::Chat => Ok(()),
        PromptStyle::CodeQwen => Err(PromptError::NoSuchStyle {
            style: "CodeQwen",
            family,
        }),
    };
    match problem {
        Problem::Lcb(p) => Ok(model_input(p, options.style, options.thinking)),
        Problem::Execution(p) => {
            chat_only(problem.family())?;
            Ok(chat(code_execution::messages(p, options.cot)))
        }
        Problem::TestOutput(p) => {
            chat_only(problem.family())?;
            Ok(chat(test_output::messages(p)))
        }
        Problem::HumanEval(_) => Err(PromptError::HumanEval),
    }
}
