//! The code-execution and test-output-prediction prompts and extraction rules against
//! lcb_runner's own output on a corpus (`fixtures/scenarios/reference_*.json`, made by
//! `fixtures/scenarios/make_reference.py` from lcb_runner's code; see the README there).
//! Grading is compared in `lcb-cli/tests/scenarios_cli.rs` (it runs the sandbox).

use std::path::{Path, PathBuf};

use lcb_core::dataset::{load_files, ProblemSet};
use lcb_core::extract::{extract_execution, extract_test_output};
use lcb_core::generator::Prompt;
use lcb_core::prompt::{prompt_for, PromptOptions};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/scenarios")
        .join(name)
}

fn reference(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn problems(name: &str) -> ProblemSet {
    load_files(&[fixture(name)]).unwrap()
}

/// Compares every reference prompt with lcb's, message by message, byte for byte.
fn check_prompts(set: &ProblemSet, reference: &Value, id_of: impl Fn(&Value) -> String) -> usize {
    let prompts = reference["prompts"].as_array().unwrap();
    for entry in prompts {
        let id = id_of(entry);
        let (_, problem) = set.get(&id).unwrap_or_else(|| panic!("no problem {id}"));
        let cot = entry.get("cot").and_then(Value::as_bool).unwrap_or(false);
        let options = PromptOptions {
            cot,
            ..Default::default()
        };
        let Prompt::Chat { messages, .. } = prompt_for(problem, options).unwrap() else {
            panic!("{id}: not a chat prompt");
        };
        let expected = entry["messages"].as_array().unwrap();
        assert_eq!(messages.len(), expected.len(), "{id}");
        for (ours, theirs) in messages.iter().zip(expected) {
            assert_eq!(ours.role, theirs["role"].as_str().unwrap(), "{id}");
            assert_eq!(
                ours.content,
                theirs["content"].as_str().unwrap(),
                "{id} cot={cot}"
            );
        }
    }
    prompts.len()
}

#[test]
fn code_execution_prompts_match_lcb_runner() {
    let set = problems("execution_fixtures.jsonl");
    let reference = reference("reference_codeexecution.json");
    let n = check_prompts(&set, &reference, |e| e["id"].as_str().unwrap().to_owned());
    // Every row, with and without chain of thought.
    assert_eq!(n, 2 * set.len());
}

#[test]
fn test_output_prompts_match_lcb_runner() {
    let set = problems("test_output_fixtures.jsonl");
    let reference = reference("reference_testoutputprediction.json");
    let n = check_prompts(&set, &reference, |e| {
        let qid = match &e["question_id"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        format!("{qid}/{}", e["test_id"])
    });
    assert_eq!(n, set.len());
}

#[test]
fn code_execution_extraction_matches_lcb_runner() {
    let reference = reference("reference_codeexecution.json");
    let cases = reference["extraction"].as_array().unwrap();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    for case in cases {
        let raw = case["raw"].as_str().unwrap();
        let cot = case["cot"].as_bool().unwrap();
        assert_eq!(
            extract_execution(raw, cot),
            case["extracted"].as_str().unwrap(),
            "raw {raw:?} cot={cot}"
        );
    }
}

#[test]
fn test_output_extraction_matches_lcb_runner() {
    let reference = reference("reference_testoutputprediction.json");
    let cases = reference["extraction"].as_array().unwrap();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    for case in cases {
        let raw = case["raw"].as_str().unwrap();
        assert_eq!(
            extract_test_output(raw),
            case["extracted"].as_str().unwrap(),
            "raw {raw:?}"
        );
    }
}

#[test]
fn rows_are_in_lcb_runners_order() {
    let ids = |set: &ProblemSet| -> Vec<String> {
        set.problems().iter().map(|p| p.id().to_owned()).collect()
    };
    let execution = ids(&problems("execution_fixtures.jsonl"));
    let numbers: Vec<i64> = execution
        .iter()
        .map(|id| id.split('_').nth(1).unwrap().parse().unwrap())
        .collect();
    assert!(numbers.windows(2).all(|w| w[0] <= w[1]), "{execution:?}");
    let tests = ids(&problems("test_output_fixtures.jsonl"));
    let keys: Vec<(String, i64)> = tests
        .iter()
        .map(|id| {
            let (q, t) = id.rsplit_once('/').unwrap();
            (q.to_owned(), t.parse().unwrap())
        })
        .collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{tests:?}");
}

/// Self-repair prompts for every case of the corpus equal lcb_runner's
/// `format_prompt_self_repair` (OpenAIChat): the passing sample gets no prompt, and where
/// lcb_runner raises (an unknown error code, a missing field, bad JSON) lcb says why.
#[test]
fn self_repair_prompts_match_lcb_runner() {
    use lcb_core::prompt::self_repair::{feedback, messages};
    let reference = reference("reference_selfrepair.json");
    let cases = reference["cases"].as_array().unwrap();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let (mut prompts, mut raised) = (0, 0);
    for case in cases {
        let metadata = case["metadata"].as_str().unwrap();
        if case["result"].as_bool().unwrap() {
            // lcb_runner keeps a passing sample's output and asks nothing.
            assert_eq!(case["prompt_is_empty"], true);
            continue;
        }
        let ours = feedback(metadata);
        match case["error"].as_str() {
            Some(error) => {
                let ours = ours.expect_err(metadata);
                let kind = error.split(':').next().unwrap();
                assert!(ours.starts_with(kind), "{ours} vs {error}");
                if kind != "JSONDecodeError" {
                    assert_eq!(ours, error, "{metadata}");
                }
                raised += 1;
            }
            None => {
                let ours = messages(
                    case["question"].as_str().unwrap(),
                    case["code"].as_str().unwrap(),
                    &ours.unwrap_or_else(|e| panic!("{metadata}: {e}")),
                );
                let theirs = case["messages"].as_array().unwrap();
                assert_eq!(ours.len(), theirs.len());
                for (a, b) in ours.iter().zip(theirs) {
                    assert_eq!(a.role, b["role"].as_str().unwrap());
                    assert_eq!(a.content, b["content"].as_str().unwrap(), "{metadata}");
                }
                prompts += 1;
            }
        }
    }
    assert!(
        prompts >= 30 && raised >= 5,
        "{prompts} prompts, {raised} raised"
    );
}
