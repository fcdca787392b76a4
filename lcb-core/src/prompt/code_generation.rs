//! LiveCodeBench's zero-shot code-generation prompts, byte for byte
//! (`lcb_runner/prompts/code_generation.py`).

use crate::generator::Prompt;
use crate::problem::LcbProblem;

use super::{ChatMessage, PromptStyle};

/// LCB's `SYSTEM_MESSAGE_GENERIC`.
pub const SYSTEM_MESSAGE_GENERIC: &str = "You are an expert Python programmer. You will be given a question (problem specification) and will generate a correct Python program that matches the specification and passes all tests.";

/// LCB's `FORMATTING_MESSAGE_WITH_STARTER_CODE`.
pub const FORMATTING_MESSAGE_WITH_STARTER_CODE: &str = "You will use the following starter code to write the solution to the problem and enclose your code within delimiters.";

/// LCB's `FORMATTING_WITHOUT_STARTER_CODE`.
pub const FORMATTING_WITHOUT_STARTER_CODE: &str = "Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test on the sample inputs). Enclose your code within delimiters as follows. Ensure that when the python program runs, it reads the inputs, runs the algorithm and writes output to STDOUT.";

/// LCB's `SYSTEM_MESSAGE_CODEQWEN` (a raw ChatML prefix).
pub const SYSTEM_MESSAGE_CODEQWEN: &str =
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user";

/// A problem as model input in a given style: LCB's generic chat messages (with Qwen3
/// thinking on or off) or LCB's CodeQwen raw prompt.
pub fn model_input(problem: &LcbProblem, style: PromptStyle, thinking: bool) -> Prompt {
    match style {
        PromptStyle::Chat => Prompt::Chat {
            messages: generic_messages(problem),
            enable_thinking: thinking,
        },
        PromptStyle::CodeQwen => Prompt::Text(codeqwen_prompt(problem)),
    }
}

/// The user message of LCB's generic template (`get_generic_question_template_answer`).
pub fn generic_user_message(problem: &LcbProblem) -> String {
    let mut text = format!("### Question:\n{}\n\n", problem.question_content);
    if problem.starter_code.is_empty() {
        text.push_str("### Format: ");
        text.push_str(FORMATTING_WITHOUT_STARTER_CODE);
        text.push_str("\n```python\n# YOUR CODE HERE\n```\n\n");
    } else {
        text.push_str("### Format: ");
        text.push_str(FORMATTING_MESSAGE_WITH_STARTER_CODE);
        text.push_str("\n```python\n");
        text.push_str(&problem.starter_code);
        text.push_str("\n```\n\n");
    }
    text.push_str("### Answer: (use the provided format with backticks)\n\n");
    text
}

/// LCB's generic chat messages: the system message and the question.
pub fn generic_messages(problem: &LcbProblem) -> Vec<ChatMessage> {
    vec![
        ChatMessage::new("system", SYSTEM_MESSAGE_GENERIC),
        ChatMessage::new("user", generic_user_message(problem)),
    ]
}

/// LCB's `CodeQwenInstruct` prompt string, exactly.
pub fn codeqwen_prompt(problem: &LcbProblem) -> String {
    let mut text = String::from(SYSTEM_MESSAGE_CODEQWEN);
    text.push_str("\n\nYou will be given a question (problem specification) and will generate a correct Python program that matches the specification and passes all tests. You will NOT return anything except for the program.\n\n");
    text.push_str("Question: ");
    text.push_str(&problem.question_content);
    text.push_str("\n\n");
    if problem.starter_code.is_empty() {
        text.push_str(FORMATTING_WITHOUT_STARTER_CODE);
        text.push_str("\n```python\n# YOUR CODE HERE\n```\n\n<|im_end|>\n");
    } else {
        text.push_str(FORMATTING_MESSAGE_WITH_STARTER_CODE);
        text.push_str("\n```python\n");
        text.push_str(&problem.starter_code);
        text.push_str("\n```\n\n<|im_end|>\n");
    }
    text.push_str("<|im_start|>assistant\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(starter: &str) -> LcbProblem {
        LcbProblem {
            question_title: "t".into(),
            question_content: "QCONTENT".into(),
            platform: "atcoder".into(),
            question_id: "x".into(),
            contest_id: "c".into(),
            contest_date: "2024-01-01T00:00:00".into(),
            starter_code: starter.into(),
            difficulty: "easy".into(),
            public_tests: vec![],
            private_tests: vec![],
            func_name: None,
            metadata: serde_json::json!({}),
        }
    }

    #[test]
    fn generic_stdin_prompt_is_byte_exact() {
        // The rendered example of lcb-format.md b.2.
        let expected = "### Question:\nQCONTENT\n\n### Format: Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test on the sample inputs). Enclose your code within delimiters as follows. Ensure that when the python program runs, it reads the inputs, runs the algorithm and writes output to STDOUT.\n```python\n# YOUR CODE HERE\n```\n\n### Answer: (use the provided format with backticks)\n\n";
        assert_eq!(generic_user_message(&problem("")), expected);
        let msgs = generic_messages(&problem(""));
        assert_eq!(msgs[0].role, "system");
        assert_eq!(msgs[0].content, SYSTEM_MESSAGE_GENERIC);
    }

    #[test]
    fn generic_starter_code_prompt() {
        let starter = "class Solution:\n    def f(self, x: int) -> int:\n        ";
        let text = generic_user_message(&problem(starter));
        assert!(text.contains(&format!(
            "### Format: {FORMATTING_MESSAGE_WITH_STARTER_CODE}\n```python\n{starter}\n```\n\n### Answer"
        )));
    }

    #[test]
    fn codeqwen_prompt_is_byte_exact() {
        let text = codeqwen_prompt(&problem(""));
        assert!(text.starts_with("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n\nYou will be given a question"));
        assert!(text.contains("\n\nQuestion: QCONTENT\n\nRead the inputs"));
        assert!(text
            .ends_with("```python\n# YOUR CODE HERE\n```\n\n<|im_end|>\n<|im_start|>assistant\n"));
    }
}
