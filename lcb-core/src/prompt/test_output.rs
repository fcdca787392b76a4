//! LiveCodeBench's test-output-prediction prompt, byte for byte
//! (`lcb_runner/prompts/test_output_prediction.py`, `format_prompt_test_output` in the
//! `OpenAIChat` style): the problem, its function stub, and the first test's input as
//! `assert f(a, b) == # TODO` to complete.
//!
//! lcb_runner has no `CodeQwenInstruct` branch here either (it raises
//! `NotImplementedError`), so only the chat style exists.

use crate::problem::TestOutputProblem;

use super::ChatMessage;

/// `PromptConstants.SYSTEM_MESSAGE_CHAT_GENERIC`.
pub const SYSTEM_MESSAGE: &str = "You are a helpful programming assistant and an expert Python programmer. You are helping a user to write a test case to help to check the correctness of the function. The user has written a input for the testcase. You will calculate the output of the testcase and write the whole assertion statement in the markdown code block with the correct output.";

/// `format_testcase_func_name_input`: the input's lines joined with `", "` as the call's
/// arguments, and lcb_runner's `# TODO` where the output goes.
pub fn assertion_to_complete(function: &str, input: &str) -> String {
    let arguments = input.split('\n').collect::<Vec<_>>().join(", ");
    format!("assert {function}({arguments}) == # TODO")
}

/// `get_generic_question_template_test_completion`. The statement runs straight into
/// `Function:` with no newline between them, as upstream writes it.
pub fn user_message(problem: &TestOutputProblem) -> String {
    format!(
        "Problem:\n{}Function:\n```\n{}\n```\nPlease complete the following test case:\n\n```\n{}\n```\n",
        problem.question_content,
        problem.starter_code,
        assertion_to_complete(&problem.starter_function, &problem.test().input)
    )
}

/// lcb_runner's `OpenAIChat` messages: the system message, then the question.
pub fn messages(problem: &TestOutputProblem) -> Vec<ChatMessage> {
    vec![
        ChatMessage::new("system", SYSTEM_MESSAGE),
        ChatMessage::new("user", user_message(problem)),
    ]
}
