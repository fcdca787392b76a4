//! The workload of `lcb bench`: generation throughput on the reference workload's shape —
//! prompts of ~561 tokens, many samples per prompt spread over 16 temperatures, a fixed
//! number of new tokens (end-of-sequence ignored) — on a random-weight model of a given
//! shape or a real model, measured through lcb's engine, with the host's peak memory.
//!
//! With `compare`, the same model and workload also run through candle-transformers' Qwen3
//! ([`peer`]) and `ratio` compares output tokens per second end to end (prefill included on
//! both sides).

pub mod ab;
mod peer;

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{bail, Result};
use candle_core::{DType, Device};
use lcb_core::bench::energy::EnergyWindow;
use lcb_core::bench::stats::Percentiles;
use lcb_core::generator::{SampleGroup, SamplingParams};
use lcb_core::hub::HubOptions;
use lcb_engine::config::Qwen3Config;
use lcb_engine::device::{dtype_name, DeviceSpec};
use lcb_engine::engine::{EngineParts, MemoryPlan, Weights};
use lcb_engine::loader::{ModelFiles, ModelSource};
use lcb_engine::model::op_count::count_decode_step;
use lcb_engine::model::step_phases::time_decode_steps;
use lcb_engine::model::{DecodeAttention, StepShape};
use lcb_engine::rng::SplitMix64;
use lcb_engine::scheduler::RequestTiming;
use lcb_engine::synthetic::{random_weights, tiny_config};
use lcb_engine::{Engine, EngineConfig};
use serde_json::{json, Value};

/// The reference sweep's temperatures.
pub const REFERENCE_TEMPERATURES: [f32; 16] = [
    0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.4, 1.5, 1.7, 2.0,
];

/// Which model to measure.
#[derive(Debug, Clone, PartialEq)]
pub enum BenchModel {
    /// Random weights with [`tiny_config`]'s shape.
    Tiny,
    /// Random weights with Qwen3-0.6B's real shape.
    Qwen3_0_6B,
    /// A real model: a directory or hub id.
    Model(String),
}

/// A benchmark run's settings.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The model.
    pub model: BenchModel,
    /// The engine: one device; its dtype `None` for the device's default; `max_slots` 0 for
    /// as many as samples per prompt. The token budgets come from the workload below.
    pub engine: EngineConfig,
    /// Distinct prompts.
    pub prompts: usize,
    /// Tokens per prompt.
    pub prompt_tokens: usize,
    /// Samples per prompt, spread evenly over the temperatures.
    pub samples: usize,
    /// Temperatures.
    pub temperatures: Vec<f32>,
    /// Tokens generated per sample (end-of-sequence ignored).
    pub new_tokens: usize,
    /// Also run candle-transformers' Qwen3 one sequence at a time.
    pub compare: bool,
    /// Samples the peer runs.
    pub compare_samples: usize,
    /// Seed of the weights, prompts and sampling.
    pub seed: u64,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            model: BenchModel::Qwen3_0_6B,
            engine: EngineConfig::default(),
            prompts: 1,
            prompt_tokens: 561,
            samples: 64,
            temperatures: REFERENCE_TEMPERATURES.to_vec(),
            new_tokens: 16,
            compare: false,
            compare_samples: 1,
            seed: 0,
        }
    }
}

impl BenchOptions {
    /// The one device measured.
    fn device(&self) -> Result<DeviceSpec> {
        match self.engine.devices[..] {
            [device] => Ok(device),
            ref devices => bail!(
                "--device {}: lcb bench measures one device at a time",
                devices
                    .iter()
                    .map(DeviceSpec::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }

    /// The dtype the engine computes in on `device`: the one asked for or the device's
    /// default, as the device can compute it.
    fn dtype(&self, device: DeviceSpec) -> DType {
        let requested = self.engine.dtype.unwrap_or_else(|| device.default_dtype());
        device.compute_dtype(requested)
    }
}

/// Peak resident memory of this process since the last reset (Linux `VmHWM`).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Returns freed memory to the kernel and resets the peak resident memory to the current
/// one (Linux `clear_refs` 5), so the next phase's peak is its own.
fn reset_peak_rss() {
    // The engine keeps large freed buffers for reuse; they would count in the next peak.
    lcb_engine::engine::release_free_memory();
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The host's CPU model name.
fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, name)| name.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Where the benchmark's weights come from, for both engines.
struct Loaded {
    name: String,
    cfg: Qwen3Config,
    weights: Weights,
    eos: Vec<u32>,
}

fn load(options: &BenchOptions, dtype: DType) -> Result<Loaded> {
    let random = |name: &str, cfg: Qwen3Config| -> Result<Loaded> {
        let weights = random_weights(&cfg, options.seed, dtype, &Device::Cpu)?;
        Ok(Loaded {
            name: name.to_owned(),
            eos: cfg.eos_token_id.clone(),
            cfg,
            weights: Weights::Tensors(weights),
        })
    };
    match &options.model {
        BenchModel::Tiny => random("random weights, tiny shape", tiny_config()),
        BenchModel::Qwen3_0_6B => random(
            "random weights, Qwen3-0.6B shape",
            Qwen3Config::qwen3_0_6b(),
        ),
        BenchModel::Model(model) => {
            let source = ModelSource::parse(model)?;
            let files = ModelFiles::resolve(&source, &HubOptions::default())?;
            let cfg = files.config()?;
            Ok(Loaded {
                name: source.name(),
                eos: files.eos_token_ids(&cfg)?,
                cfg,
                weights: Weights::Files(files),
            })
        }
    }
}

/// Random prompt token ids, avoiding the top of the vocabulary (where special tokens live).
fn prompts(cfg: &Qwen3Config, count: usize, len: usize, seed: u64) -> Vec<Vec<u32>> {
    let mut rng = SplitMix64::new(seed ^ 0x5EED);
    let range = (cfg.vocab_size * 9 / 10).max(1) as u64;
    (0..count)
        .map(|_| (0..len).map(|_| (rng.next_u64() % range) as u32).collect())
        .collect()
}

/// Samples per temperature: `samples` spread as evenly as possible.
fn groups(options: &BenchOptions) -> Vec<SampleGroup> {
    let temps = &options.temperatures;
    (0..temps.len())
        .map(|i| SampleGroup {
            params: SamplingParams {
                temperature: temps[i],
                top_p: 1.0,
                top_k: None,
                max_tokens: options.new_tokens,
                stop: vec![],
                ignore_eos: true,
                seed: options.seed,
            },
            n: options.samples / temps.len() + usize::from(i < options.samples % temps.len()),
            stream: i as u64,
            skip: Vec::new(),
        })
        .filter(|g| g.n > 0)
        .collect()
}

fn number(x: f64) -> Value {
    if x.is_finite() {
        json!((x * 1e4).round() / 1e4)
    } else {
        Value::Null
    }
}

/// The shape of the model measured (its configuration only: no weights are read).
fn model_config(model: &BenchModel) -> Result<Qwen3Config> {
    Ok(match model {
        BenchModel::Tiny => tiny_config(),
        BenchModel::Qwen3_0_6B => Qwen3Config::qwen3_0_6b(),
        BenchModel::Model(model) => {
            ModelFiles::resolve(&ModelSource::parse(model)?, &HubOptions::default())?.config()?
        }
    })
}

/// The decode step `--count-ops` and `--time-phases` measure: the device, dtype, model shape
/// and attention budget of the workload, and its rows (`samples`, or as many as the engine
/// decodes at once).
struct MeasuredStep {
    device: DeviceSpec,
    on: Device,
    dtype: DType,
    cfg: Qwen3Config,
    rows: usize,
    attention_budget: usize,
}

impl MeasuredStep {
    fn new(options: &BenchOptions) -> Result<Self> {
        let device = options.device()?;
        let dtype = options.dtype(device);
        let cfg = model_config(&options.model)?;
        let config = EngineConfig {
            dtype: Some(dtype),
            max_new_tokens: options.new_tokens,
            max_slots: options.engine.max_slots.or(Some(options.samples)),
            max_prompt_tokens: options.prompt_tokens,
            ..options.engine.clone()
        };
        let plan = MemoryPlan::for_devices(&cfg, dtype, &config)?;
        Ok(MeasuredStep {
            device,
            on: device.open()?,
            dtype,
            cfg,
            rows: options.samples.min(plan.max_rows),
            attention_budget: plan.attention_budget,
        })
    }

    /// The step of the workload's rows and prompt, at own token `own_tokens`.
    fn shape(
        &self,
        options: &BenchOptions,
        own_tokens: usize,
        attention: DecodeAttention,
    ) -> StepShape {
        StepShape {
            rows: self.rows,
            prompt_tokens: options.prompt_tokens,
            own_tokens,
            attention_budget: Some(self.attention_budget),
            attention,
        }
    }

    /// The settings every report of the step carries.
    fn settings(&self, options: &BenchOptions) -> Value {
        json!({
            "device": self.device.to_string(),
            "dtype": dtype_name(self.dtype),
            "layers": self.cfg.num_hidden_layers,
            "decode_rows": self.rows,
            "prompt_tokens": options.prompt_tokens,
            "attention_budget": self.attention_budget,
        })
    }
}

/// Adds `extra`'s fields to the JSON object `base`.
fn with_fields(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
    base
}

/// `lcb bench --count-ops`: the tensor operations of one decode step of the workload's rows
/// against one prompt, on the measured device with the engine's dtype and attention budget,
/// and what one more layer adds.
pub fn count_ops(options: &BenchOptions) -> Result<Value> {
    let step = MeasuredStep::new(options)?;
    let count = |cfg: &Qwen3Config, attention| {
        count_decode_step(cfg, step.dtype, &step.on, step.shape(options, 0, attention))
    };
    let layers = |n: usize| Qwen3Config {
        num_hidden_layers: n,
        ..step.cfg.clone()
    };
    let per_layer = |attention| -> Result<usize> {
        Ok(count(&layers(2), attention)?.forward - count(&layers(1), attention)?.forward)
    };
    let ops = count(&step.cfg, DecodeAttention::Shared)?;
    let kernels = count(&step.cfg, DecodeAttention::Kernels)?;
    let what = json!({
        "what": "tensors created by one decode step (op results, views, uploads; a non-view op is one GPU kernel launch or more)",
    });
    Ok(with_fields(
        with_fields(what, step.settings(options)),
        json!({
            "forward": ops.forward,
            "per_layer": per_layer(DecodeAttention::Shared)?,
            "sampling": ops.sampling,
            "total": ops.total(),
            "with_lcb_kernels": {
                "forward": kernels.forward,
                "per_layer": per_layer(DecodeAttention::Kernels)?,
                "total": kernels.total(),
            },
        }),
    ))
}

/// Timed steps per path of `--time-phases` (after a warm-up step).
const PHASE_STEPS: usize = 5;

/// `lcb bench --time-phases`: where a decode step's time goes, on the engine's path and on
/// lcb's kernels' path: each phase timed alone (device synchronised around it), per step,
/// beside an untimed step and the output tokens/s it implies. The rows feed their
/// `new_tokens`-th own token, so their own attention spans that many positions.
pub fn time_phases(options: &BenchOptions) -> Result<Value> {
    let step = MeasuredStep::new(options)?;
    let time = |attention| -> Result<Value> {
        let shape = step.shape(options, options.new_tokens, attention);
        let times = time_decode_steps(&step.cfg, step.dtype, &step.on, shape, PHASE_STEPS)?;
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        let phased: f64 = times.phases.iter().map(|(_, d)| ms(*d)).sum();
        let phases: serde_json::Map<String, Value> = times
            .phases
            .iter()
            .map(|(name, d)| (name.to_string(), json!(ms(*d))))
            .collect();
        Ok(json!({
            "step_ms": ms(times.step),
            "output_tokens_per_s": step.rows as f64 / times.step.as_secs_f64(),
            "phases_ms": phases,
            "phases_total_ms": phased,
        }))
    };
    let what = json!({
        "what": "one decode step, untimed (median of 5), and each of its phases timed alone with the device synchronised around it (mean of 5 steps; the phases add up to more than the untimed step)",
    });
    Ok(with_fields(
        with_fields(what, step.settings(options)),
        json!({
            "own_tokens": options.new_tokens,
            "engine": time(DecodeAttention::Shared)?,
            "with_lcb_kernels": time(DecodeAttention::Kernels)?,
        }),
    ))
}

/// Runs the benchmark and returns its JSON report.
pub fn run(options: &BenchOptions) -> Result<Value> {
    if options.prompts == 0 || options.samples == 0 || options.new_tokens == 0 {
        bail!("prompts, samples and new tokens must be positive");
    }
    if options.prompt_tokens == 0 || options.temperatures.is_empty() {
        bail!("prompt tokens and temperatures must not be empty");
    }
    let device = options.device()?;
    let dtype = options.dtype(device);
    let setup_start = Instant::now();
    let mut loaded = load(options, dtype)?;
    let cfg = loaded.cfg.clone();
    let prompt_ids = prompts(&cfg, options.prompts, options.prompt_tokens, options.seed);
    let config = EngineConfig {
        dtype: Some(dtype),
        max_new_tokens: options.new_tokens,
        // The workload decides unless --slots does: every sample at once.
        max_slots: options.engine.max_slots.or(Some(options.samples)),
        max_prompt_tokens: options.prompt_tokens,
        record_sample_timings: true,
        ..options.engine.clone()
    };
    // The engine takes the weights, so the source tensors are freed once it has fused them
    // and do not count in its memory; the peer gets its own copy later.
    let weights = std::mem::replace(&mut loaded.weights, Weights::Tensors(HashMap::new()));
    let engine = Engine::start(
        EngineParts {
            name: loaded.name.clone(),
            config: cfg.clone(),
            weights,
            prompts: Default::default(),
            eos: loaded.eos.clone(),
        },
        config,
    )?;
    let setup_seconds = setup_start.elapsed().as_secs_f64();
    // Warm-up: first-touch of weights and buffers, outside the measurement.
    let warm = SampleGroup {
        n: 2,
        ..groups(options)[0].clone()
    };
    let mut warm = warm;
    warm.params.max_tokens = 2.min(options.new_tokens);
    for c in engine.submit_tokens(
        prompt_ids[0][..8.min(options.prompt_tokens)].to_vec(),
        &[warm],
    )? {
        c?;
    }
    let warm_stats = engine.stats();

    reset_peak_rss();
    let groups = groups(options);
    let counter = lcb_core::generator::Generator::energy_counter(&engine);
    let energy_window = match &counter {
        Ok(c) => EnergyWindow::start(Some(*c), ""),
        Err(why) => EnergyWindow::start(None, why),
    };
    let start = Instant::now();
    let receivers = prompt_ids
        .iter()
        .map(|p| engine.submit_tokens(p.clone(), &groups))
        .collect::<lcb_engine::Result<Vec<_>>>()?;
    let mut generated = 0usize;
    for rx in receivers {
        for c in rx {
            generated += c?.num_tokens();
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let energy = energy_window.finish();
    drop(counter);
    let peak = peak_rss_bytes();
    let stats = engine.stats();
    let slots = engine.slots();
    let kv_blocks = engine.memory_plan().kv_blocks;
    drop(engine);
    let requests = &stats.requests[warm_stats.requests.len()..];
    let samples = &stats.samples[warm_stats.samples.len()..];
    let ttfts: Vec<f64> = samples.iter().map(|s| s.first_token_seconds).collect();
    let tpots: Vec<f64> = samples
        .iter()
        .filter_map(|s| s.seconds_per_output_token)
        .collect();
    let mean = |f: &dyn Fn(&RequestTiming) -> f64| {
        requests.iter().map(f).sum::<f64>() / requests.len().max(1) as f64
    };
    let decode_steps = (stats.decode_steps - warm_stats.decode_steps) as f64;
    let decode_seconds = stats.decode_seconds - warm_stats.decode_seconds;
    let prefill_tokens = (stats.prefill_only_tokens - warm_stats.prefill_only_tokens) as f64;
    let prefill_seconds = stats.prefill_only_seconds - warm_stats.prefill_only_seconds;
    let mut ours = json!({
        "output_tokens": generated,
        "wall_s": number(wall),
        "output_tokens_per_s": number(generated as f64 / wall),
        "decode_tokens_per_s": number((stats.decode_tokens - warm_stats.decode_tokens) as f64 / decode_seconds),
        "prefill_tokens_per_s": number(prefill_tokens / prefill_seconds),
        "ttft_s": number(mean(&|r| r.first_token_seconds)),
        "tpot_s": number(decode_seconds / decode_steps),
        "ttft_percentiles_s": Percentiles::of(&ttfts),
        "tpot_percentiles_s": Percentiles::of(&tpots),
        "sampling_s": number(stats.sampling_seconds - warm_stats.sampling_seconds),
        "slots": slots,
        "kv_blocks": kv_blocks,
        "peak_decode_rows": stats.peak_decode_rows,
        "preempted_samples": stats.preempted_samples - warm_stats.preempted_samples,
        "peak_rss_bytes": peak,
        "energy": energy,
    });
    if let Some(joules) = energy.per(generated as u64) {
        ours["joules_per_output_token"] = json!(joules);
    }
    let mut report = json!({
        "device": device.to_string(),
        "host": {
            "cpu": cpu_name(),
            "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
        },
        "model": {
            "source": loaded.name,
            "parameters": cfg.parameter_count(),
            "shape": cfg,
        },
        "dtype": dtype_name(dtype),
        "workload": {
            "prompts": options.prompts,
            "prompt_tokens": options.prompt_tokens,
            "samples_per_prompt": options.samples,
            "temperatures": options.temperatures,
            "new_tokens": options.new_tokens,
            "ignore_eos": true,
        },
        "setup_s": number(setup_seconds),
        "lcb": ours,
    });
    if options.compare {
        // The same weights again (same seed, or the same files) for the peer.
        let loaded = self::load(options, dtype)?;
        let peer = peer::run(options, device, &loaded, dtype, &prompt_ids[0])?;
        let ratio = (generated as f64 / wall) / peer.output_tokens_per_s;
        let decode_ratio = ((stats.decode_tokens - warm_stats.decode_tokens) as f64
            / decode_seconds)
            / peer.decode_tokens_per_s;
        report["peer"] = peer.to_json();
        report["ratio"] = number(ratio);
        report["decode_ratio"] = number(decode_ratio);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_spread_over_temperatures() {
        let options = BenchOptions {
            samples: 20,
            ..Default::default()
        };
        let g = groups(&options);
        assert_eq!(g.iter().map(|g| g.n).sum::<usize>(), 20);
        assert_eq!(g.len(), 16);
        assert!(g.iter().all(|g| g.n == 1 || g.n == 2));
        let few = BenchOptions {
            samples: 3,
            ..Default::default()
        };
        assert_eq!(groups(&few).len(), 3);
    }

    #[test]
    fn the_0_6b_shape_has_596m_parameters() {
        let n = Qwen3Config::qwen3_0_6b().parameter_count();
        assert!((595_000_000..597_000_000).contains(&n), "{n}");
    }
}
