//! What several of the engine's test binaries share: where the repository's fixtures are,
//! the embedded model's recorded references and the fixture problems as prompts, and
//! submitting many requests at once.
// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::path::PathBuf;

use lcb_core::dataset::{self, ProblemSource};
use lcb_core::generator::{
    Completion, GenerationRequest, Generator, Prompt, SampleGroup, SamplingParams,
};
use lcb_core::hub::HubOptions;
use lcb_core::prompt::{model_input, PromptStyle};
use lcb_engine::engine::Engine;

/// The repository root: `LCB_REPO` where a test binary runs on a machine that holds the tree
/// elsewhere than where it was built (the GPU check), else the source tree.
pub fn repo() -> PathBuf {
    std::env::var_os("LCB_REPO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."))
}

/// The embedded model's recorded references (`fixtures/model/greedy_refs.jsonl`), one per
/// fixture problem, read into whichever of their fields `T` holds.
pub fn greedy_references<T: serde::de::DeserializeOwned>() -> Vec<T> {
    std::fs::read_to_string(repo().join("fixtures/model/greedy_refs.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The group the references were recorded with: one greedy sample of up to 512 tokens.
pub fn greedy_reference_group() -> SampleGroup {
    SampleGroup {
        params: SamplingParams {
            temperature: 0.0,
            max_tokens: 512,
            ..Default::default()
        },
        n: 1,
        stream: 0,
        skip: Vec::new(),
    }
}

/// The embedded fixture problems named by `ids`, in that order, as the chat prompts a sweep
/// sends the embedded model.
pub fn fixture_prompts<'a>(ids: impl IntoIterator<Item = &'a str>) -> Vec<Prompt> {
    let source = ProblemSource::parse(
        repo()
            .join("fixtures/problems/lcb_fixtures.jsonl")
            .to_str()
            .unwrap(),
    )
    .unwrap();
    let problems = dataset::load(&source, &HubOptions::default()).unwrap();
    ids.into_iter()
        .map(|id| {
            let (_, problem) = problems.get(id).unwrap();
            model_input(problem.as_lcb().unwrap(), PromptStyle::Chat, false)
        })
        .collect()
}

/// Submits every (prompt, groups) before reading any, so they share batches; each request's
/// completions, sorted by (group, index).
pub fn generate_together(
    engine: &Engine,
    requests: impl IntoIterator<Item = (Prompt, Vec<SampleGroup>)>,
) -> Vec<Vec<Completion>> {
    let receivers: Vec<_> = requests
        .into_iter()
        .map(|(prompt, groups)| {
            engine
                .submit(GenerationRequest {
                    shares_prefix_with: None,
                    prompt,
                    groups,
                })
                .unwrap()
        })
        .collect();
    receivers
        .into_iter()
        .map(|rx| {
            let mut out: Vec<Completion> = rx.iter().map(Result::unwrap).collect();
            out.sort_by_key(|c| (c.group, c.index));
            out
        })
        .collect()
}
