//! A sweep driven from Rust code with a custom `Generator`: canned responses stand in for a
//! model server, while grading uses lcb's real sandbox.
//!
//! ```text
//! cargo run -p lcb-examples --example custom_generator_sweep
//! ```
//!
//! Anything that can produce completions (an HTTP client for an OpenAI-compatible server, a
//! cache of earlier outputs) plugs in the same way: implement `Generator`, then call
//! `lcb_core::sweep::run`.

use std::sync::atomic::AtomicBool;

use crossbeam_channel::Receiver;
use lcb_core::dataset::ProblemSet;
use lcb_core::generator::{
    Completion, FinishReason, GenError, GenerationRequest, Generator, Prompt,
};
use lcb_core::problem::{LcbProblem, Problem, TestCase, TestType};
use lcb_core::prompt::PromptStyle;
use lcb_core::sweep::{self, ResultStore, Silent, SweepPlan, SweepSettings};
use lcb_eval::{SandboxConfig, SandboxEvaluator};

/// Answers correctly more often at low temperature: a correct program with probability
/// `1 - T/2`, otherwise an off-by-one one. Deterministic per (seed, stream, sample).
struct CannedModel;

impl Generator for CannedModel {
    fn submit(
        &self,
        request: GenerationRequest,
    ) -> Result<Receiver<Result<Completion, GenError>>, GenError> {
        let (tx, rx) = crossbeam_channel::unbounded();
        std::thread::spawn(move || {
            for (g, group) in request.groups.iter().enumerate() {
                // `indices()` leaves out `group.skip`: samples a resumed sweep already has.
                for i in group.indices() {
                    let key = format!("{}/{}/{i}", group.params.seed, group.stream);
                    let draw = blake3::hash(key.as_bytes()).as_bytes()[0] as f32 / 255.0;
                    let good = draw >= group.params.temperature / 2.0;
                    let body = if good {
                        "print(a + b)"
                    } else {
                        "print(a + b + 1)"
                    };
                    let text = format!(
                        "Here is my solution.\n```python\na, b = map(int, input().split())\n{body}\n```\n"
                    );
                    let done = Completion {
                        group: g,
                        index: i,
                        token_ids: vec![0; text.len() / 4],
                        logprobs: vec![0.0; text.len() / 4],
                        text,
                        finish_reason: FinishReason::Stop,
                        token_count: None,
                    };
                    if tx.send(Ok(done)).is_err() {
                        return;
                    }
                }
            }
        });
        Ok(rx)
    }

    fn prompt_text(&self, prompt: &Prompt) -> Result<String, GenError> {
        Ok(match prompt {
            Prompt::Text(t) => t.clone(),
            Prompt::Chat { messages, .. } => messages
                .iter()
                .map(|m| format!("[{}]\n{}\n", m.role, m.content))
                .collect(),
        })
    }

    fn model_name(&self) -> String {
        "canned-model".into()
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::json!({"engine": "canned responses"})
    }
}

fn problem() -> Problem {
    let t = |i: &str, o: &str| TestCase {
        input: i.into(),
        output: o.into(),
        testtype: TestType::Stdin,
    };
    Problem::Lcb(LcbProblem {
        question_title: "A + B".into(),
        question_content: "Read two integers and print their sum.".into(),
        platform: "atcoder".into(),
        question_id: "example_a".into(),
        contest_id: "example".into(),
        contest_date: "2025-01-01T00:00:00".into(),
        starter_code: String::new(),
        difficulty: "easy".into(),
        public_tests: vec![t("1 2\n", "3\n")],
        private_tests: vec![t("-5 5\n", "0\n"), t("100 23\n", "123\n")],
        func_name: None,
        metadata: serde_json::json!({}),
    })
}

fn main() -> anyhow::Result<()> {
    let problems = ProblemSet::new(vec![problem()])?;
    let evaluator = SandboxEvaluator::new(SandboxConfig::default())?;
    let out = tempfile::tempdir()?.keep();
    let plan = SweepPlan {
        problems: &problems,
        problems_source: "inline".into(),
        questions: vec![0],
        shard: None,
        settings: SweepSettings {
            model: "canned-model".into(),
            temperatures: vec![0.2, 1.0, 1.8],
            n: 20,
            max_tokens: 64,
            stop: vec![],
            top_p: 1.0,
            top_k: None,
            prompt_style: PromptStyle::Chat,
            thinking: false,
            seed: 0,
            skip_greedy_solved: false,
            cot: false,
            repair_from: None,
        },
        force: false,
        inflight: 1,
        grading_threads: 1,
    };
    let store = ResultStore::new(&out);
    let report = sweep::run(
        &CannedModel,
        &evaluator,
        &plan,
        &store,
        &Silent,
        &AtomicBool::new(false),
    )?;
    for (idx, outcome) in &report.outcomes {
        println!("q{idx}: {outcome:?}");
    }
    println!("files written under {}", out.display());
    Ok(())
}
