//! The peer of `lcb bench --compare`: candle-transformers' Qwen3 the way candle's example
//! generates — one sequence at a time, its prompt prefilled for each sample, candle's
//! `LogitsProcessor` sampling (no repeat penalty). It runs a few samples only (its rate
//! does not depend on how many).

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;
use lcb_engine::device::DeviceSpec;
use lcb_engine::engine::Weights;
use serde_json::{json, Value};

use super::{number, peak_rss_bytes, reset_peak_rss, BenchOptions, Loaded};

/// The peer's measurements.
pub(super) struct PeerResult {
    samples: usize,
    output_tokens: usize,
    wall: f64,
    prefill: f64,
    decode: f64,
    prompt_tokens: usize,
    pub(super) output_tokens_per_s: f64,
    pub(super) decode_tokens_per_s: f64,
    peak: Option<u64>,
}

impl PeerResult {
    pub(super) fn to_json(&self) -> Value {
        json!({
            "engine": "candle-transformers qwen3::ModelForCausalLM, one sequence at a time",
            "samples_run": self.samples,
            "output_tokens": self.output_tokens,
            "wall_s": number(self.wall),
            "output_tokens_per_s": number(self.output_tokens_per_s),
            "decode_tokens_per_s": number(self.decode_tokens_per_s),
            "prefill_tokens_per_s": number((self.prompt_tokens * self.samples) as f64 / self.prefill),
            "ttft_s": number(self.prefill / self.samples as f64),
            "tpot_s": number(self.decode / (self.output_tokens - self.samples).max(1) as f64),
            "peak_rss_bytes": self.peak,
        })
    }
}

/// candle-transformers' Qwen3 as candle's example drives it: for each sample, clear the
/// cache, prefill the prompt, then feed one token at a time.
pub(super) fn run(
    options: &BenchOptions,
    device: DeviceSpec,
    loaded: &Loaded,
    dtype: DType,
    prompt: &[u32],
) -> Result<PeerResult> {
    use candle_transformers::generation::LogitsProcessor;
    use candle_transformers::models::qwen3 as peer;

    let device = device.open()?;
    let vb = match &loaded.weights {
        Weights::Files(files) => files.var_builder(dtype, &device)?,
        Weights::Tensors(map) => VarBuilder::from_tensors(
            map.iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<HashMap<_, _>>(),
            dtype,
            &device,
        ),
    };
    let cfg_json = loaded.cfg.to_hf_json();
    let peer_cfg: peer::Config = serde_json::from_value(cfg_json).context("peer config")?;
    let mut model = peer::ModelForCausalLM::new(&peer_cfg, vb)?;
    let samples = options.compare_samples.max(1);
    let mut run_one = |sample: usize, tokens: usize| -> Result<(f64, f64, usize)> {
        model.clear_kv_cache();
        let temperature = options.temperatures[sample % options.temperatures.len()];
        let mut sampler = LogitsProcessor::new(
            options.seed + sample as u64,
            Some(f64::from(temperature)),
            None,
        );
        let t0 = Instant::now();
        let input = Tensor::new(prompt, &device)?.unsqueeze(0)?;
        let logits = model.forward(&input, 0)?.squeeze(0)?.squeeze(0)?;
        let mut next = sampler.sample(&logits)?;
        let prefill = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        for i in 1..tokens {
            let input = Tensor::new(&[next], &device)?.unsqueeze(0)?;
            let logits = model
                .forward(&input, prompt.len() + i - 1)?
                .squeeze(0)?
                .squeeze(0)?;
            next = sampler.sample(&logits)?;
        }
        Ok((prefill, t1.elapsed().as_secs_f64(), tokens))
    };
    // Warm-up on a short sequence, as for lcb.
    run_one(0, 2.min(options.new_tokens))?;
    reset_peak_rss();
    let start = Instant::now();
    let (mut prefill, mut decode, mut tokens) = (0.0, 0.0, 0);
    for sample in 0..samples {
        let (p, d, t) = run_one(sample, options.new_tokens)?;
        prefill += p;
        decode += d;
        tokens += t;
    }
    let wall = start.elapsed().as_secs_f64();
    Ok(PeerResult {
        samples,
        output_tokens: tokens,
        wall,
        prefill,
        decode,
        prompt_tokens: prompt.len(),
        output_tokens_per_s: tokens as f64 / wall,
        decode_tokens_per_s: (tokens - samples) as f64 / decode,
        peak: peak_rss_bytes(),
    })
}
