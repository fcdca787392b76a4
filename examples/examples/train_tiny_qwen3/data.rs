//! The training data: the fixture problems and their solution variants, the prompts rendered
//! with the real Qwen3 chat template exactly as `lcb sweep` sends them (and the byte-for-byte
//! check of that template against transformers), the target texts, the tokenizer corpus and
//! the tokenized training examples.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{ensure, Context, Result};
use lcb_core::problem::{LcbProblem, Problem};
use lcb_core::prompt::generic_messages;
use lcb_engine::chat_template::{ChatTemplate, RenderOptions};
use serde_json::Value;
use tokenizers::Tokenizer;

use crate::tokenizer::encode;

/// The chat template of a `tokenizer_config.json`, through lcb-engine's renderer (the one the
/// sweep uses, so training prompts and sweep prompts are the same bytes).
pub fn load_template(tokenizer_config: &Path) -> Result<ChatTemplate> {
    ChatTemplate::from_files(Some(tokenizer_config), None)?
        .with_context(|| format!("{}: no chat template", tokenizer_config.display()))
}

/// LCB's generic prompt for a problem, as `lcb sweep` renders it by default
/// (`add_generation_prompt = true`, thinking off).
pub fn lcb_prompt(tmpl: &ChatTemplate, problem: &LcbProblem) -> Result<String> {
    let options = RenderOptions {
        add_generation_prompt: true,
        enable_thinking: Some(false),
        tools: None,
    };
    Ok(tmpl.render_messages(&generic_messages(problem), &options)?)
}

/// Checks the renderer against transformers' renders of the same template, byte for byte.
pub fn check_template_refs(tmpl: &ChatTemplate, refs_path: &Path) -> Result<()> {
    let refs: Value = serde_json::from_str(&std::fs::read_to_string(refs_path)?)?;
    let cases = refs["cases"]
        .as_array()
        .context("chat_template_refs.json: no cases")?;
    let mut bad = Vec::new();
    for case in cases {
        let options = RenderOptions {
            add_generation_prompt: case["add_generation_prompt"].as_bool().unwrap_or(false),
            enable_thinking: case["enable_thinking"].as_bool(),
            tools: Some(case["tools"].clone()).filter(|t| !t.is_null()),
        };
        let text = tmpl.render(&case["messages"], &options)?;
        if text != case["text"].as_str().unwrap_or_default() {
            bad.push(case["name"].as_str().unwrap_or("?").to_owned());
        }
    }
    ensure!(
        bad.is_empty(),
        "chat template renders differ from transformers for {bad:?}"
    );
    println!(
        "chat template: all {} transformers reference renders match byte for byte",
        cases.len()
    );
    Ok(())
}

pub struct Fixture {
    pub problem: Problem,
    pub variants: Vec<String>,
}

impl Fixture {
    pub fn lcb(&self) -> &LcbProblem {
        self.problem.as_lcb().expect("LCB problem")
    }
    /// Hard problems are never trained on, so they stay honestly unsolved at every
    /// temperature.
    pub fn held_out(&self) -> bool {
        self.lcb().difficulty == "hard"
    }
}

/// The LiveCodeBench-format `problems` file, each problem with its solution variants from the
/// `solutions` JSONL (`{"question_id", "variants": [...]}` per line), in the problems' order.
pub fn load_fixtures(problems: &Path, solutions: &Path) -> Result<Vec<Fixture>> {
    let set = lcb_core::dataset::load_files(&[problems.to_path_buf()])
        .with_context(|| format!("loading {}", problems.display()))?;
    let mut variants: HashMap<String, Vec<String>> = HashMap::new();
    let text = std::fs::read_to_string(solutions)
        .with_context(|| format!("reading {}", solutions.display()))?;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)?;
        let id = v["question_id"]
            .as_str()
            .context("solution without question_id")?;
        let codes = v["variants"]
            .as_array()
            .context("solution without variants")?
            .iter()
            .map(|c| {
                c.as_str()
                    .map(str::to_owned)
                    .context("variant is not a string")
            })
            .collect::<Result<Vec<_>>>()?;
        variants.insert(id.to_owned(), codes);
    }
    set.problems()
        .iter()
        .map(|p| {
            ensure!(
                p.as_lcb().is_some(),
                "{}: not a LiveCodeBench problem",
                p.id()
            );
            let v = variants
                .remove(p.id())
                .with_context(|| format!("{}: no solutions", p.id()))?;
            Ok(Fixture {
                problem: p.clone(),
                variants: v,
            })
        })
        .collect()
}

/// What the model learns to answer: the variant in the fence LCB's extractor reads.
pub fn target_text(variant: &str) -> String {
    format!("```python\n{variant}\n```")
}

/// The BPE training corpus: every prompt's message texts (the special tokens are added tokens,
/// not learned), and the training targets. Held-out solutions are never seen.
pub fn tokenizer_corpus(fixtures: &[Fixture], train_set: &[usize]) -> Vec<String> {
    let mut corpus: Vec<String> = Vec::new();
    for f in fixtures {
        for m in generic_messages(f.lcb()) {
            corpus.push(m.content);
        }
    }
    for &i in train_set {
        for v in &fixtures[i].variants {
            corpus.push(target_text(v));
        }
    }
    corpus
}

/// One training sequence: the rendered prompt's ids, then the target's ids and `<|im_end|>`.
pub struct Example {
    pub ids: Vec<u32>,
    /// The loss is on `ids[prompt_len..]` only.
    pub prompt_len: usize,
}

/// One example per (training problem, solution variant). Prompt and target are tokenized
/// separately, as an engine tokenizes the prompt it is sent.
pub fn training_examples(
    tok: &Tokenizer,
    fixtures: &[Fixture],
    prompts: &[String],
    train_set: &[usize],
    im_end: u32,
) -> Result<Vec<Example>> {
    let mut examples = Vec::new();
    for &i in train_set {
        let prompt_ids = encode(tok, &prompts[i])?;
        for v in &fixtures[i].variants {
            let mut ids = prompt_ids.clone();
            ids.extend(encode(tok, &target_text(v))?);
            ids.push(im_end);
            examples.push(Example {
                ids,
                prompt_len: prompt_ids.len(),
            });
        }
    }
    Ok(examples)
}
