//! The engine end to end on a tiny random model with the real Qwen3 tokenizer: greedy
//! decoding matches candle-transformers token for token; samples are reproducible and do not
//! depend on batch size or on other requests; stop strings, EOS and budgets end samples;
//! continuous batching with few slots returns every sample once; prompts longer than the
//! memory plan run in smaller pieces with the same results; NaN logits fail the request
//! with the reason; models load from sharded files and from a (mock) hub.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use common::generate_together;
use lcb_core::generator::{
    Completion, FinishReason, GenError, GenerationRequest, Generator, Prompt, SampleGroup,
    SamplingParams,
};
use lcb_core::hub::{HubOptions, RepoKind};
use lcb_core::hub_mock::MockHub;
use lcb_engine::config::Qwen3Config;
use lcb_engine::engine::{Engine, EngineConfig};
use lcb_engine::synthetic::write_model_dir;

fn tokenizer_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tokenizer/qwen3")
}

fn tiny_config() -> Qwen3Config {
    Qwen3Config {
        vocab_size: 151_936,
        hidden_size: 32,
        intermediate_size: 64,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        head_dim: 16,
        max_position_embeddings: 512,
        rope_theta: 1_000_000.0,
        rms_norm_eps: 1e-6,
        tie_word_embeddings: true,
        attention_bias: false,
        eos_token_id: vec![151_645],
    }
}

/// A model directory with random weights and the vendored Qwen3 tokenizer.
fn model_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_model_dir(&tiny_config(), dir.path(), 42).unwrap();
    for name in ["tokenizer.json.gz", "tokenizer_config.json"] {
        std::fs::copy(tokenizer_dir().join(name), dir.path().join(name)).unwrap();
    }
    dir
}

/// Loads the engine from a model folder with `slots` decode slots and the test configuration.
fn load(dir: &std::path::Path, slots: usize) -> Engine {
    Engine::load(dir.to_str().unwrap(), &HubOptions::default(), config(slots)).unwrap()
}

fn config(slots: usize) -> EngineConfig {
    EngineConfig {
        kv_memory: 64 << 20,
        max_new_tokens: 32,
        max_slots: Some(slots),
        max_prompt_tokens: 256,
        prefill_chunk: 8,
        ..Default::default()
    }
}

fn params(temperature: f32, max_tokens: usize, seed: u64) -> SamplingParams {
    SamplingParams {
        temperature,
        top_p: 1.0,
        top_k: None,
        max_tokens,
        stop: vec![],
        ignore_eos: true,
        seed,
    }
}

fn run(engine: &Engine, prompt: &str, groups: Vec<SampleGroup>) -> Vec<Completion> {
    let rx = engine
        .submit(GenerationRequest {
            shares_prefix_with: None,
            prompt: Prompt::Text(prompt.into()),
            groups,
        })
        .unwrap();
    let mut out: Vec<Completion> = rx.iter().map(Result::unwrap).collect();
    out.sort_by_key(|c| (c.group, c.index));
    out
}

fn group(p: SamplingParams, n: usize, stream: u64) -> SampleGroup {
    SampleGroup {
        params: p,
        n,
        stream,
        skip: Vec::new(),
    }
}

/// Greedy tokens from candle-transformers' Qwen3, one token at a time.
fn oracle_greedy(dir: &Path, prompt: &[u32], steps: usize) -> Vec<u32> {
    use candle_transformers::models::qwen3 as oracle;
    let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
    let cfg: oracle::Config = serde_json::from_str(&text).unwrap();
    let files = lcb_engine::loader::ModelFiles::in_dir(dir).unwrap();
    let vb = files.var_builder(DType::F32, &Device::Cpu).unwrap();
    let mut m = oracle::ModelForCausalLM::new(&cfg, vb).unwrap();
    let mut tokens = Vec::new();
    let mut input = prompt.to_vec();
    let mut offset = 0;
    for _ in 0..steps {
        let t = Tensor::new(input.as_slice(), &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let logits: Vec<f32> = m
            .forward(&t, offset)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        offset += input.len();
        let next = logits
            .iter()
            .enumerate()
            .fold(0, |best, (i, &x)| if x > logits[best] { i } else { best })
            as u32;
        tokens.push(next);
        input = vec![next];
    }
    tokens
}

#[test]
fn greedy_matches_candle_transformers_and_samples_are_reproducible() {
    let dir = model_dir();
    let engine = load(dir.path(), 8);
    let prompt = "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n";
    let ids = engine.tokenizer().unwrap().encode(prompt).unwrap();
    let greedy = run(&engine, prompt, vec![group(params(0.0, 12, 0), 3, 0)]);
    assert_eq!(greedy.len(), 3);
    assert_eq!(greedy[0].token_ids, oracle_greedy(dir.path(), &ids, 12));
    assert!(greedy.iter().all(|c| c.token_ids == greedy[0].token_ids));
    assert!(greedy
        .iter()
        .all(|c| c.finish_reason == FinishReason::Length));
    assert!(greedy[0]
        .logprobs
        .iter()
        .all(|&p| p <= 0.0 && p.is_finite()));
    assert_eq!(
        greedy[0].text,
        engine
            .tokenizer()
            .unwrap()
            .decode(&greedy[0].token_ids, true)
            .unwrap()
    );

    // n = 4 gives exactly the first 4 samples of n = 8, with 8 slots or with 1.
    let eight = run(&engine, prompt, vec![group(params(1.0, 10, 7), 8, 3)]);
    let four = run(&engine, prompt, vec![group(params(1.0, 10, 7), 4, 3)]);
    assert_eq!(&eight[..4], &four[..]);
    let narrow = load(dir.path(), 1);
    assert_eq!(narrow.slots(), 1);
    let one_slot = run(&narrow, prompt, vec![group(params(1.0, 10, 7), 8, 3)]);
    assert_eq!(one_slot, eight);
    // Skipping samples (as a resumed sweep does) gives exactly the others, on any slots.
    let mut some = group(params(1.0, 10, 7), 8, 3);
    some.skip = vec![6, 0, 3, 3];
    for engine in [&engine, &narrow] {
        let rest = run(engine, prompt, vec![some.clone()]);
        let expected: Vec<&Completion> = eight
            .iter()
            .filter(|c| ![0, 3, 6].contains(&c.index))
            .collect();
        assert_eq!(rest.iter().collect::<Vec<_>>(), expected);
    }
    some.skip = vec![8];
    let err = engine
        .submit(GenerationRequest {
            shares_prefix_with: None,
            prompt: Prompt::Text(prompt.into()),
            groups: vec![some],
        })
        .unwrap_err();
    assert!(
        err.to_string().contains("skipped sample 8 is outside"),
        "{err}"
    );
    // Different samples do differ, and another seed or stream changes them.
    assert!(eight.iter().any(|c| c.token_ids != eight[0].token_ids));
    let other_stream = run(&engine, prompt, vec![group(params(1.0, 10, 7), 4, 4)]);
    assert_ne!(other_stream, four);
}

#[test]
fn continuous_batching_returns_every_sample_once_whatever_the_slots() {
    let dir = model_dir();
    let prompts = ["a = 1\n", "import sys\nfor line in sys.stdin:\n", "x"];
    let groups = |i: usize| {
        vec![
            group(params(0.7, 5 + i, 1), 3, 0),
            group(params(1.3, 9 - i, 1), 2 + i, 1),
        ]
    };
    // All requests in flight at once.
    let collect = |engine: &Engine| -> Vec<Vec<Completion>> {
        let requests =
            (prompts.iter().enumerate()).map(|(i, p)| (Prompt::Text((*p).into()), groups(i)));
        generate_together(engine, requests)
    };
    let few = collect(&load(dir.path(), 3));
    let many = collect(&load(dir.path(), 64));
    for (i, done) in few.iter().enumerate() {
        let want: Vec<(usize, usize)> = groups(i)
            .iter()
            .enumerate()
            .flat_map(|(g, spec)| (0..spec.n).map(move |j| (g, j)))
            .collect();
        let got: Vec<(usize, usize)> = done.iter().map(|c| (c.group, c.index)).collect();
        assert_eq!(got, want, "prompt {i}");
        for c in done {
            assert_eq!(c.token_ids.len(), groups(i)[c.group].params.max_tokens);
        }
    }
    assert_eq!(few, many, "results depend on the number of slots");
}

#[test]
fn prompts_longer_than_planned_run_in_smaller_pieces_and_match_candle_transformers() {
    let dir = model_dir();
    // Planned for 8-token prompts: the budget is 4 slots × 32 new tokens = 128 scores per head,
    // so a 60-token prompt prefills in shrinking chunks and its 4 decode rows attend in pairs.
    let engine = Engine::load(
        dir.path().to_str().unwrap(),
        &HubOptions::default(),
        EngineConfig {
            max_prompt_tokens: 8,
            ..config(4)
        },
    )
    .unwrap();
    let prompt = "import sys\n\ndef main():\n    data = sys.stdin.read().split()\n    \
                  n = int(data[0])\n    values = list(map(int, data[1:n + 1]))\n    \
                  print(sum(values) % 1000000007)\n\nmain()\n";
    let ids = engine.tokenizer().unwrap().encode(prompt).unwrap();
    assert!(ids.len() > 40, "{} prompt tokens", ids.len());
    let greedy = run(&engine, prompt, vec![group(params(0.0, 10, 0), 4, 0)]);
    let want = oracle_greedy(dir.path(), &ids, 10);
    assert_eq!(greedy.len(), 4);
    assert!(greedy.iter().all(|c| c.token_ids == want));
    // Sampled rows differ from one another, so a mix-up between the pieces would show: the
    // same samples as an engine that runs the prompt whole, up to rounding.
    let sampled = |engine: &Engine| run(engine, prompt, vec![group(params(1.0, 10, 7), 4, 0)]);
    let pieces = sampled(&engine);
    let whole = sampled(&load(dir.path(), 4));
    assert!(pieces.iter().any(|c| c.token_ids != pieces[0].token_ids));
    for (a, b) in pieces.iter().zip(&whole) {
        assert_eq!(a.token_ids, b.token_ids);
        for (x, y) in a.logprobs.iter().zip(&b.logprobs) {
            assert!((x - y).abs() < 1e-4, "{x} vs {y}");
        }
    }
}

#[test]
fn a_model_whose_logits_are_nan_fails_the_request_with_the_reason() {
    let dir = model_dir();
    let files = lcb_engine::loader::ModelFiles::in_dir(dir.path()).unwrap();
    let cfg = files.config().unwrap();
    let prompts = lcb_engine::prompt_encoder::PromptEncoder::from_files(&files, &cfg).unwrap();
    let mut weights =
        lcb_engine::synthetic::random_weights(&cfg, 1, DType::F32, &Device::Cpu).unwrap();
    // A NaN in the final norm makes every logit NaN (as broken weights or an overflow would).
    let nan = Tensor::full(f32::NAN, cfg.hidden_size, &Device::Cpu).unwrap();
    weights.insert("model.norm.weight".into(), nan);
    let engine = Engine::start(
        lcb_engine::engine::EngineParts {
            name: "nan".into(),
            config: cfg.clone(),
            weights: lcb_engine::engine::Weights::Tensors(weights),
            prompts,
            eos: cfg.eos_token_id.clone(),
        },
        config(2),
    )
    .unwrap();
    for temperature in [0.0, 0.8] {
        let rx = engine
            .submit(GenerationRequest {
                shares_prefix_with: None,
                prompt: Prompt::Text("def f(x):".into()),
                groups: vec![group(params(temperature, 5, 0), 3, 0)],
            })
            .unwrap();
        let got: Vec<_> = rx.iter().collect();
        assert_eq!(got.len(), 1, "one error and nothing else: {got:?}");
        match &got[0] {
            Err(GenError::Failed(m)) => {
                assert!(m.starts_with(lcb_engine::scheduler::NON_FINITE), "{m}")
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }
}

/// An engine on `weights` (shape `cfg`, the vendored tokenizer) with `slots` decode slots in
/// `dtype`.
fn engine_on(
    dir: &Path,
    cfg: &Qwen3Config,
    weights: HashMap<String, Tensor>,
    slots: usize,
    dtype: DType,
) -> Engine {
    let files = lcb_engine::loader::ModelFiles::in_dir(dir).unwrap();
    let prompts = lcb_engine::prompt_encoder::PromptEncoder::from_files(&files, cfg).unwrap();
    Engine::start(
        lcb_engine::engine::EngineParts {
            name: "test".into(),
            config: cfg.clone(),
            weights: lcb_engine::engine::Weights::Tensors(weights),
            prompts,
            eos: cfg.eos_token_id.clone(),
        },
        EngineConfig {
            dtype: Some(dtype),
            ..config(slots)
        },
    )
    .unwrap()
}

/// One sample that overflows mid-decode leaves non-finite keys and values in its slot. In
/// f16 the slots are read padded to the longest row (the path GPUs take), where a mask
/// cannot hide a NaN: without clearing the slot, every later sample placed in it would fail
/// too. Here token X's embedding is NaN, so sample A fails the step after it emits X (its
/// k-th token, k >= 4). Request B has one long sample, which keeps the batch longer than k,
/// and twelve of at most 3 tokens, which cycle through A's old slot without ever reaching
/// position k themselves.
#[test]
fn a_sample_that_overflows_does_not_fail_the_samples_that_reuse_its_slot() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Qwen3Config {
        // Untied, so the NaN embedding row does not also make X's logit NaN for everyone.
        tie_word_embeddings: false,
        ..tiny_config()
    };
    write_model_dir(&cfg, dir.path(), 42).unwrap();
    for name in ["tokenizer.json.gz", "tokenizer_config.json"] {
        std::fs::copy(tokenizer_dir().join(name), dir.path().join(name)).unwrap();
    }
    let dtype = DType::F16;
    let weights = || lcb_engine::synthetic::random_weights(&cfg, 5, dtype, &Device::Cpu).unwrap();
    // The same two requests on either engine, so every step's batch is the same until X.
    let run = |engine: &Engine| {
        let rx_a = engine
            .submit(GenerationRequest {
                shares_prefix_with: None,
                prompt: Prompt::Text("def f(x):".into()),
                groups: vec![group(params(1.0, 24, 0), 1, 0)],
            })
            .unwrap();
        let rx_b = engine
            .submit(GenerationRequest {
                shares_prefix_with: None,
                prompt: Prompt::Text("import sys\nfor line in sys.stdin:".into()),
                groups: vec![
                    group(params(1.0, 24, 3), 1, 0),
                    group(params(1.0, 3, 3), 12, 1),
                ],
            })
            .unwrap();
        (
            rx_a.iter().collect::<Vec<_>>(),
            rx_b.iter().collect::<Vec<_>>(),
        )
    };
    let (clean_a, clean_b) = run(&engine_on(dir.path(), &cfg, weights(), 3, dtype));
    let clean = clean_a[0].as_ref().unwrap().token_ids.clone();
    // X: a token of A's (after its second) that A has not produced before and B never does.
    let in_b = |t: u32| {
        clean_b
            .iter()
            .any(|c| c.as_ref().unwrap().token_ids.contains(&t))
    };
    let k = (4..clean.len())
        .find(|&k| !clean[..k].contains(&clean[k]) && !in_b(clean[k]))
        .unwrap_or_else(|| panic!("no usable token in {clean:?}"));
    let x = clean[k] as usize;

    let mut poisoned = weights();
    let embed = poisoned["model.embed_tokens.weight"]
        .to_dtype(DType::F32)
        .unwrap();
    let mut rows = embed.to_vec2::<f32>().unwrap();
    rows[x].iter_mut().for_each(|v| *v = f32::NAN);
    let embed = Tensor::new(rows, &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap();
    poisoned.insert("model.embed_tokens.weight".into(), embed);
    let (got_a, got_b) = run(&engine_on(dir.path(), &cfg, poisoned, 3, dtype));
    assert!(
        matches!(&got_a[..], [Err(GenError::Failed(m))] if m.contains(&format!("at token {}", k + 1))),
        "A fails the step after it emits X (token {k}): {got_a:?}"
    );
    assert_eq!(got_b.len(), 13, "{got_b:?}");
    for c in &got_b {
        let c = c.as_ref().expect("B's samples are unaffected");
        assert_eq!(c.token_ids.len(), if c.group == 0 { 24 } else { 3 });
        assert!(c.logprobs.iter().all(|p| p.is_finite()), "{c:?}");
    }
}

#[test]
fn requests_whose_receivers_are_dropped_free_the_engine() {
    let dir = model_dir();
    let engine = load(dir.path(), 4);
    let wait = std::time::Duration::from_secs(120);
    // More abandoned requests than may be resident at once (2): each would hold its prompt's
    // cache for ever if its abandoned samples were never counted.
    for i in 0..3 {
        let rx = engine
            .submit(GenerationRequest {
                shares_prefix_with: None,
                prompt: Prompt::Text(format!("def f{i}():\n")),
                groups: vec![group(params(1.0, 20, 1), 30, 0)],
            })
            .unwrap();
        rx.recv_timeout(wait).unwrap().unwrap();
        drop(rx);
    }
    let rx = engine
        .submit(GenerationRequest {
            shares_prefix_with: None,
            prompt: Prompt::Text("x = 1\n".into()),
            groups: vec![group(params(0.0, 5, 1), 3, 0)],
        })
        .unwrap();
    let done: Vec<Completion> = (0..3)
        .map(|_| {
            rx.recv_timeout(wait)
                .expect("a later request completes")
                .unwrap()
        })
        .collect();
    assert!(done.iter().all(|c| c.token_ids.len() == 5));
}

#[test]
fn stop_strings_and_eos_end_samples() {
    let dir = model_dir();
    let engine = load(dir.path(), 4);
    let prompt = "Hello";
    let free = run(&engine, prompt, vec![group(params(0.0, 20, 0), 1, 0)]);
    let full = &free[0];
    // A stop string: the bytes of tokens 3..5 of the greedy text.
    let tok = engine.tokenizer().unwrap();
    let stop: String = String::from_utf8_lossy(
        &full.token_ids[3..5]
            .iter()
            .flat_map(|&t| tok.token_bytes(t).to_vec())
            .collect::<Vec<u8>>(),
    )
    .into_owned();
    assert!(!stop.is_empty() && !stop.contains('\u{FFFD}'), "{stop:?}");
    {
        let mut p = params(0.0, 20, 0);
        p.stop = vec![stop.clone()];
        let stopped = run(&engine, prompt, vec![group(p, 1, 0)]);
        let c = &stopped[0];
        assert_eq!(c.finish_reason, FinishReason::Stop);
        assert!(!c.text.contains(&stop));
        assert!(
            full.text.starts_with(&format!("{}{}", c.text, stop)),
            "{:?} / {:?}",
            c.text,
            full.text
        );
        assert!(c.token_ids.len() <= 5);
    }
    // EOS: take a sampled path and make one of its tokens (first seen at position k ≥ 1)
    // an end-of-sequence id: the sample must end right there.
    let sampled = &run(&engine, prompt, vec![group(params(1.0, 20, 5), 1, 0)])[0];
    let ids = &sampled.token_ids;
    let k = (1..ids.len())
        .find(|&k| !ids[..k].contains(&ids[k]))
        .expect("a sampled path has a new token");
    let files = lcb_engine::loader::ModelFiles::in_dir(dir.path()).unwrap();
    let cfg = files.config().unwrap();
    let parts = lcb_engine::engine::EngineParts {
        name: "tiny".into(),
        config: cfg,
        weights: lcb_engine::engine::Weights::Files(files),
        prompts: lcb_engine::prompt_encoder::PromptEncoder::new(engine.tokenizer().cloned(), None),
        eos: vec![ids[k]],
    };
    let with_eos = Engine::start(parts, config(4)).unwrap();
    let mut p = params(1.0, 20, 5);
    p.ignore_eos = false;
    let c = &run(&with_eos, prompt, vec![group(p.clone(), 1, 0)])[0];
    assert_eq!(c.finish_reason, FinishReason::Stop);
    assert_eq!(c.token_ids, ids[..=k].to_vec());
    p.ignore_eos = true;
    let c = &run(&with_eos, prompt, vec![group(p, 1, 0)])[0];
    assert_eq!(&c.token_ids, ids);
}

#[test]
fn invalid_requests_are_refused_clearly() {
    let dir = model_dir();
    let engine = load(dir.path(), 2);
    let submit = |prompt: &str, p: SamplingParams| {
        engine
            .submit(GenerationRequest {
                shares_prefix_with: None,
                prompt: Prompt::Text(prompt.into()),
                groups: vec![group(p, 1, 0)],
            })
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert!(submit("", params(1.0, 4, 0)).contains("empty prompt"));
    assert!(submit("x", params(1.0, 100, 0)).contains("max_tokens"));
    assert!(submit("x", params(-1.0, 4, 0)).contains("temperature"));
    let mut p = params(1.0, 4, 0);
    p.top_p = 0.0;
    assert!(submit("x", p).contains("top_p"));
    // The chat template renders as transformers would.
    let text = engine
        .prompt_text(&Prompt::Chat {
            messages: vec![lcb_core::prompt::ChatMessage::new("user", "hi")],
            enable_thinking: false,
        })
        .unwrap();
    assert_eq!(
        text,
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    );
    // A request nobody waits for does not disturb the engine.
    drop(engine.submit(GenerationRequest {
        shares_prefix_with: None,
        prompt: Prompt::Text("x".into()),
        groups: vec![group(params(1.0, 30, 0), 50, 0)],
    }));
    assert_eq!(
        run(&engine, "y", vec![group(params(0.0, 3, 0), 1, 0)]).len(),
        1
    );
}

#[test]
fn sharded_and_hub_models_load() {
    let dir = model_dir();
    let engine = load(dir.path(), 2);
    let want = run(&engine, "abc", vec![group(params(0.0, 6, 0), 1, 0)]);

    // Split the weights over two shards with an index, as transformers saves large models.
    let sharded = tempfile::tempdir().unwrap();
    let weights =
        candle_core::safetensors::load(dir.path().join("model.safetensors"), &Device::Cpu).unwrap();
    let (mut a, mut b) = (HashMap::new(), HashMap::new());
    let mut map = serde_json::Map::new();
    for (i, (name, t)) in weights.into_iter().enumerate() {
        let file = if i % 2 == 0 {
            "model-00001-of-00002.safetensors"
        } else {
            "model-00002-of-00002.safetensors"
        };
        map.insert(name.clone(), file.into());
        if i % 2 == 0 {
            a.insert(name, t)
        } else {
            b.insert(name, t)
        };
    }
    candle_core::safetensors::save(&a, sharded.path().join("model-00001-of-00002.safetensors"))
        .unwrap();
    candle_core::safetensors::save(&b, sharded.path().join("model-00002-of-00002.safetensors"))
        .unwrap();
    let index = serde_json::json!({"metadata": {}, "weight_map": map});
    std::fs::write(
        sharded.path().join("model.safetensors.index.json"),
        index.to_string(),
    )
    .unwrap();
    for name in [
        "config.json",
        "generation_config.json",
        "tokenizer.json.gz",
        "tokenizer_config.json",
    ] {
        std::fs::copy(dir.path().join(name), sharded.path().join(name)).unwrap();
    }
    let engine = load(sharded.path(), 2);
    assert_eq!(
        run(&engine, "abc", vec![group(params(0.0, 6, 0), 1, 0)]),
        want
    );

    // The same sharded model from a hub (a local mock of its download routes).
    let hub = MockHub::start();
    for entry in std::fs::read_dir(sharded.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap();
        // The hub copy has an uncompressed tokenizer.json, as real repositories do.
        if name == "tokenizer.json.gz" {
            use std::io::Read;
            let mut json = Vec::new();
            flate2_decode(&std::fs::read(&path).unwrap())
                .read_to_end(&mut json)
                .unwrap();
            hub.add_file("org/tiny", RepoKind::Model, "tokenizer.json", json);
        } else {
            hub.add_file(
                "org/tiny",
                RepoKind::Model,
                name,
                std::fs::read(&path).unwrap(),
            );
        }
    }
    let cache = tempfile::tempdir().unwrap();
    let options = HubOptions {
        endpoint: Some(hub.endpoint()),
        cache_dir: Some(cache.path().to_owned()),
        ..Default::default()
    };
    let engine = Engine::load("org/tiny", &options, config(2)).unwrap();
    assert_eq!(engine.model_name(), "org/tiny");
    assert_eq!(
        run(&engine, "abc", vec![group(params(0.0, 6, 0), 1, 0)]),
        want
    );
}

fn flate2_decode(bytes: &[u8]) -> impl std::io::Read + '_ {
    flate2::read::GzDecoder::new(bytes)
}

/// Prompts that name the same anchor prefill their common tokens once: the second copies
/// the first's cache, the prefilled-token count drops by exactly the shared length, and its
/// samples are the same as when it runs alone (the shared tokens are always prefilled as
/// chunks of their own, so the cache is the same whoever computed it).
#[test]
fn prompts_sharing_a_prefix_prefill_it_once_with_the_same_samples() {
    let dir = model_dir();
    let head = "### Question:\nGiven an array of integers, return the number of pairs whose \
                sum is below the target value. Read the input from stdin.\n\n### Answer:\n";
    let anchor = Prompt::Text(head.into());
    let first = format!("{head}```python\nprint(0)\n```\nThe code is wrong.");
    let second = format!("{head}```python\nn = int(input())\n```\nIt times out.");
    let submit = |engine: &Engine, text: &str| {
        engine
            .submit(GenerationRequest {
                prompt: Prompt::Text(text.into()),
                groups: vec![group(params(0.8, 8, 3), 2, 0)],
                shares_prefix_with: Some(anchor.clone()),
            })
            .unwrap()
    };
    let collect = |rx: crossbeam_channel::Receiver<Result<Completion, GenError>>| {
        let mut out: Vec<Completion> = rx.iter().map(Result::unwrap).collect();
        out.sort_by_key(|c| (c.group, c.index));
        out.into_iter().map(|c| c.token_ids).collect::<Vec<_>>()
    };

    let alone = load(dir.path(), 4);
    let second_alone = collect(submit(&alone, &second));
    let alone_stats = alone.stats();
    assert_eq!(alone_stats.prefix_copied_tokens, 0);

    let together = load(dir.path(), 4);
    let rx_first = submit(&together, &first);
    let rx_second = submit(&together, &second);
    let first_out = collect(rx_first);
    let second_together = collect(rx_second);
    assert_eq!(second_together, second_alone, "sharing changed the samples");
    assert_eq!(first_out.len(), 2);

    let tokens = |text: &str| together.encode_prompt(&Prompt::Text(text.into())).unwrap();
    let (a, b) = (tokens(&first), tokens(&second));
    let shared = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let anchor_len = tokens(head).len();
    assert!(
        shared >= anchor_len - 1 && shared > 20,
        "{shared} of {anchor_len}"
    );
    let stats = together.stats();
    let copied = stats.prefix_copied_tokens as usize;
    assert!(
        copied > 20 && copied <= shared,
        "copied {copied}, shared {shared}"
    );
    assert_eq!(stats.prefill_tokens as usize, a.len() + b.len() - copied);
}

/// A completion as comparable bytes: group, index, tokens, text and log-probabilities' bits.
type CompletionBytes = (usize, usize, Vec<u32>, String, Vec<u32>);

/// Completions as comparable bytes.
fn fingerprint(completions: &[Completion]) -> Vec<CompletionBytes> {
    completions
        .iter()
        .map(|c| {
            let bits = c.logprobs.iter().map(|p| p.to_bits()).collect();
            (c.group, c.index, c.token_ids.clone(), c.text.clone(), bits)
        })
        .collect()
}

/// The paged cache's promise: a pool too small for the batch preempts samples (they run
/// again from their prompt) and evicts idle prompts, and every sample comes out byte for
/// byte as from an engine with room for everything. Down to a pool of one prompt plus one
/// sample, which decodes one sample at a time.
#[test]
fn a_pool_too_small_for_the_batch_preempts_and_gives_the_same_samples() {
    let dir = model_dir();
    let cfg = tiny_config();
    let block = (cfg.kv_bytes_per_token(4) * lcb_engine::model::BLOCK_TOKENS) as u64;
    let prompts = ["def add(a, b):", "import sys\nprint("];
    let groups = || {
        vec![
            group(params(1.0, 32, 5), 6, 0),
            group(params(0.7, 32, 5), 6, 1),
        ]
    };
    // Both prompts in flight at once, so they compete for the pool.
    let run_both = |engine: &Engine| {
        let requests = prompts
            .iter()
            .map(|p| (Prompt::Text((*p).into()), groups()));
        generate_together(engine, requests)
            .iter()
            .map(|out| fingerprint(out))
            .collect::<Vec<_>>()
    };
    let roomy = run_both(&load(dir.path(), 24));
    assert_eq!(roomy.iter().map(Vec::len).sum::<usize>(), 24);
    // (blocks, expected sample length): exactly a prompt plus one 32-token sample; a few
    // more blocks with samples expected to be 1 token long, so many start and outgrow it.
    for (blocks, expected) in [(3u64, None), (7, Some(1))] {
        let engine = Engine::load(
            dir.path().to_str().unwrap(),
            &HubOptions::default(),
            EngineConfig {
                kv_memory: blocks * block,
                max_prompt_tokens: 16,
                expected_new_tokens: expected,
                ..config(24)
            },
        )
        .unwrap();
        assert_eq!(engine.memory_plan().kv_blocks as u64, blocks);
        let tight = run_both(&engine);
        assert!(tight == roomy, "{blocks} blocks: samples differ");
        let stats = engine.stats();
        if expected.is_some() {
            assert!(stats.preempted_samples > 0, "{stats:?}");
            assert!(stats.peak_decode_rows > 1, "{stats:?}");
        } else {
            assert_eq!(stats.peak_decode_rows, 1, "{stats:?}");
        }
    }
}
