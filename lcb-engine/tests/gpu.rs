//! The engine on a GPU against the engine on the CPU, with the embedded model
//! (`fixtures/model`, which memorised its solutions, so its greedy choices have wide margins):
//!
//! * greedy decoding of all 45 fixture problems on `cuda:0` in f32 gives the recorded
//!   references (`greedy_refs.jsonl`, made by independent implementations on the CPU) token
//!   for token, with log-probabilities within 1e-3 of the CPU engine's; in bf16, at least 40
//!   of the 45 are identical and the log-probabilities before any divergence stay within
//!   0.25 of the CPU's;
//! * seeded sampling gives the same samples on one engine thread and on two sharing the GPU
//!   (each with its own batch), and in f32 at least 95% of the CPU's samples.
//!
//! Needs the `cuda` feature and a GPU (without one they say so and pass): `benches/gpu/check.sh` runs these on a lent GPU (with
//! candle's attention and, under `LCB_CUDA_KERNELS=1`, with lcb's own kernel). The binary may
//! run on a machine where the source tree sits elsewhere than where it was built: `LCB_REPO`
//! names the repository root there.
#![cfg(feature = "cuda")]

mod common;

use candle_core::DType;
use common::{fixture_prompts, generate_together, greedy_reference_group, greedy_references, repo};
use lcb_core::generator::{Completion, FinishReason, Prompt, SampleGroup, SamplingParams};
use lcb_core::hub::HubOptions;
use lcb_engine::device::DeviceSpec;
use lcb_engine::engine::{Engine, EngineConfig};

#[derive(serde::Deserialize)]
struct Reference {
    question_id: String,
    greedy_ids: Vec<u32>,
}

/// The references' prompts, in their order.
fn prompts(refs: &[Reference]) -> Vec<Prompt> {
    fixture_prompts(refs.iter().map(|r| r.question_id.as_str()))
}

/// Whether there is a GPU to test on; without one (CI) the tests say so and pass.
fn gpu_present() -> bool {
    match candle_core::Device::new_cuda(0) {
        Ok(_) => true,
        Err(e) => {
            eprintln!("no CUDA device ({e}); skipping the GPU tests");
            false
        }
    }
}

/// The embedded model on `workers` engine threads of `device`, in `dtype`.
fn engine(device: DeviceSpec, workers: usize, dtype: DType) -> Engine {
    let config = EngineConfig {
        devices: vec![device; workers],
        dtype: Some(dtype),
        kv_memory: 512 << 20,
        max_new_tokens: 512,
        ..Default::default()
    };
    Engine::load(
        repo().join("fixtures/model").to_str().unwrap(),
        &HubOptions::default(),
        config,
    )
    .unwrap_or_else(|e| panic!("the engine on {device} in {dtype:?}: {e}"))
}

/// Every prompt with these groups, submitted together.
fn generate(engine: &Engine, prompts: &[Prompt], groups: &[SampleGroup]) -> Vec<Vec<Completion>> {
    generate_together(engine, prompts.iter().map(|p| (p.clone(), groups.to_vec())))
}

/// Position of the first token where `a` and `b` differ (`None`: identical).
fn divergence(a: &[u32], b: &[u32]) -> Option<usize> {
    (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i))
}

#[test]
fn greedy_decoding_on_the_gpu_follows_the_cpu_in_f32_and_bf16() {
    let refs = greedy_references::<Reference>();
    assert_eq!(refs.len(), 45);
    let prompts = prompts(&refs);
    if !gpu_present() {
        return;
    }
    for (dtype, tolerance, identical_at_least) in
        [(DType::F32, 1e-3f32, 45), (DType::BF16, 0.25, 40)]
    {
        let gpu = engine(DeviceSpec::Cuda(0), 1, dtype);
        let cpu = engine(DeviceSpec::Cpu, 1, dtype);
        let on_gpu = generate(&gpu, &prompts, &[greedy_reference_group()]);
        let on_cpu = generate(&cpu, &prompts, &[greedy_reference_group()]);
        let mut identical = 0;
        let mut worst = 0f32;
        for ((r, g), c) in refs.iter().zip(&on_gpu).zip(&on_cpu) {
            let (g, c) = (&g[0], &c[0]);
            // The references end before the end-of-sequence token the engine reports.
            let generated = g.token_ids.strip_suffix(&[1512]).unwrap_or(&g.token_ids);
            match divergence(generated, &r.greedy_ids) {
                None => {
                    identical += 1;
                    assert_eq!(g.finish_reason, FinishReason::Stop, "{}", r.question_id);
                }
                Some(at) => eprintln!(
                    "{dtype:?} {}: differs from the reference at token {at} of {}",
                    r.question_id,
                    r.greedy_ids.len()
                ),
            }
            // Log-probabilities agree where both devices chose the same tokens.
            let same = divergence(&g.token_ids, &c.token_ids).unwrap_or(g.token_ids.len());
            for (a, b) in g.logprobs[..same].iter().zip(&c.logprobs[..same]) {
                worst = worst.max((a - b).abs());
            }
        }
        eprintln!(
            "{dtype:?}: {identical} of 45 identical to the references; largest log-probability \
             difference to the CPU {worst}"
        );
        assert!(
            identical >= identical_at_least,
            "{dtype:?}: {identical} of 45 identical, want {identical_at_least}"
        );
        assert!(
            worst <= tolerance,
            "{dtype:?}: log-probabilities differ from the CPU's by {worst} > {tolerance}"
        );
    }
}

#[test]
fn seeded_samples_are_the_same_on_one_and_two_gpu_engine_threads() {
    let refs = greedy_references::<Reference>();
    let prompts = prompts(&refs[..12]);
    // Four temperatures, eight samples each, top-p on one of them.
    let groups: Vec<SampleGroup> = [(0.3, 1.0), (0.7, 0.95), (1.0, 1.0), (1.5, 1.0)]
        .iter()
        .enumerate()
        .map(|(i, &(temperature, top_p))| SampleGroup {
            params: SamplingParams {
                temperature,
                top_p,
                max_tokens: 96,
                seed: 1234,
                ..Default::default()
            },
            n: 8,
            stream: i as u64,
            skip: Vec::new(),
        })
        .collect();
    if !gpu_present() {
        return;
    }
    let one = engine(DeviceSpec::Cuda(0), 1, DType::F32);
    let two = engine(DeviceSpec::Cuda(0), 2, DType::F32);
    let cpu = engine(DeviceSpec::Cpu, 1, DType::F32);
    let tokens = |out: Vec<Vec<Completion>>| -> Vec<Vec<u32>> {
        out.into_iter().flatten().map(|c| c.token_ids).collect()
    };
    let on_one = tokens(generate(&one, &prompts, &groups));
    let on_two = tokens(generate(&two, &prompts, &groups));
    let on_cpu = tokens(generate(&cpu, &prompts, &groups));
    assert_eq!(on_one.len(), 12 * 4 * 8);
    let differ = |a: &[Vec<u32>], b: &[Vec<u32>]| a.iter().zip(b).filter(|(x, y)| x != y).count();
    let (threads, devices) = (differ(&on_one, &on_two), differ(&on_one, &on_cpu));
    eprintln!(
        "of {} samples: {threads} differ between one and two engine threads, {devices} between \
         the GPU and the CPU",
        on_one.len()
    );
    assert_eq!(threads, 0, "samples depend on the engine threads");
    assert!(
        devices * 20 <= on_one.len(),
        "{devices} of {} samples differ from the CPU's",
        on_one.len()
    );
}
