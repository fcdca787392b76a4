//! The engine: one worker thread per device, each owning its copy of the model, its KV pool
//! and its [`Scheduler`](crate::scheduler::Scheduler), and a dispatcher that hands each request to the least-loaded
//! device (data parallel). [`Engine`] implements `lcb_core::generator::Generator`.
//!
//! Requests stream their completions back over their own channel as each sample ends.
//!
//! The parts: `memory` (what a device holds: the [`MemoryPlan`]), `worker` (a device's
//! thread and its step loop), `stats` (work counters), `allocator` (glibc settings for
//! the engine's large per-step buffers).

mod allocator;
mod memory;
mod stats;
mod worker;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use candle_core::{DType, Tensor};
use crossbeam_channel::Receiver;
use lcb_core::bench::energy::EnergyCounter;
use lcb_core::generator::{
    Completion, GenError, GenerationRequest, Generator, Prompt, SampleGroup,
};
use lcb_core::hub::HubOptions;

use allocator::keep_large_buffers;
pub use allocator::release_free_memory;
pub use memory::{
    attention_budget, kv_budget_from_gpu, parse_memory_size, MemoryPlan, ParseMemorySizeError,
    DEFAULT_EXPECTED_NEW_TOKENS, MAX_DECODE_ROWS,
};
pub use stats::EngineStats;
use worker::{Worker, WorkerSetup};

use crate::config::Qwen3Config;
use crate::device::{dtype_name, DeviceSpec};
use crate::energy::NvmlCounter;
use crate::error::{Error, Result};
use crate::loader::{ModelFiles, ModelSource};
use crate::prompt_encoder::PromptEncoder;
use crate::sampling::SamplerParams;
use crate::scheduler::{GroupSpec, Request, RequestObserver, SchedulerConfig};
use crate::stop::StopStrings;
use crate::tokenizer::Tokenizer;

/// How the engine runs: devices, precision and the memory it may use for caches.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Devices, one worker each (`cpu`, or one or more `cuda:N`).
    pub devices: Vec<DeviceSpec>,
    /// Compute dtype; `None` = the device's default (f32 on the CPU, bf16 on GPUs).
    pub dtype: Option<DType>,
    /// Bytes of key/value cache per device: one pool of blocks for prompts and samples.
    pub kv_memory: u64,
    /// On GPUs: size the key/value cache from the device's memory instead, so that weights,
    /// cache and working memory together use at most this fraction of it (what other
    /// processes already use counts against it, as in vLLM). Overrides `kv_memory` there.
    pub gpu_memory_utilization: Option<f64>,
    /// Most tokens one sample may generate.
    pub max_new_tokens: usize,
    /// Most samples decoding at once per device; `None`: as many as the KV memory holds at
    /// the expected sample length (at most [`MAX_DECODE_ROWS`]).
    pub max_slots: Option<usize>,
    /// Tokens a sample is expected to generate (admission and the memory plan's estimate);
    /// `None`: [`DEFAULT_EXPECTED_NEW_TOKENS`], or `max_new_tokens` if smaller.
    pub expected_new_tokens: Option<usize>,
    /// Prompt length the memory plan sizes attention work for (longer prompts still run).
    pub max_prompt_tokens: usize,
    /// Prompts whose caches may be resident at once (the one decoding and the next).
    pub resident_prompts: usize,
    /// Most prompt tokens per prefill chunk.
    pub prefill_chunk: usize,
    /// Copy a shared prompt prefix from a resident prompt's cache instead of prefilling it
    /// again ([`GenerationRequest::shares_prefix_with`]). Off only to measure what sharing
    /// saves: on the CPU the samples are the same either way (on GPUs, as for any change of
    /// batch, cuBLAS may round differently).
    pub share_prefixes: bool,
    /// Keep every finished request's and sample's timing in [`Engine::stats`] (benchmarks'
    /// percentiles; off by default, since a long sweep or a server would accumulate
    /// millions).
    pub record_sample_timings: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            devices: vec![DeviceSpec::Cpu],
            dtype: None,
            kv_memory: 4 << 30,
            gpu_memory_utilization: None,
            max_new_tokens: 2048,
            max_slots: None,
            expected_new_tokens: None,
            max_prompt_tokens: 4096,
            resident_prompts: 2,
            share_prefixes: true,
            prefill_chunk: 512,
            record_sample_timings: false,
        }
    }
}

impl EngineConfig {
    /// The expected sample length in effect.
    pub fn expected_new_tokens(&self) -> usize {
        self.expected_new_tokens
            .unwrap_or(DEFAULT_EXPECTED_NEW_TOKENS)
            .min(self.max_new_tokens)
            .max(1)
    }
}

/// Where a worker gets its weights.
#[derive(Clone)]
pub enum Weights {
    /// Safetensors files (memory-mapped, converted per device).
    Files(ModelFiles),
    /// Tensors already in memory (synthetic models), by Hugging Face name.
    Tensors(HashMap<String, Tensor>),
}

/// Everything an engine is built from, besides its [`EngineConfig`].
pub struct EngineParts {
    /// A short model name for results.
    pub name: String,
    /// The network's shape.
    pub config: Qwen3Config,
    /// The weights.
    pub weights: Weights,
    /// Tokenizer (needed for text prompts, stop strings and text output) and chat template.
    pub prompts: PromptEncoder,
    /// End-of-sequence ids.
    pub eos: Vec<u32>,
}

/// lcb's batched Qwen3 engine (see the crate documentation).
pub struct Engine {
    workers: Vec<Worker>,
    name: String,
    config: Qwen3Config,
    engine_config: EngineConfig,
    plan: MemoryPlan,
    dtype: DType,
    prompts: PromptEncoder,
    /// The devices' energy counter, or why there is none.
    energy: std::result::Result<NvmlCounter, String>,
    /// Which device took each recent family of prompts sharing a prefix (by a hash of the
    /// shared tokens).
    families: std::sync::Mutex<HashMap<u64, usize>>,
}

/// Prompt families remembered for device placement before the map is cleared.
const FAMILIES_REMEMBERED: usize = 4096;

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("name", &self.name)
            .field("devices", &self.engine_config.devices)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Loads a model (local directory or hub id) and starts one worker per device.
    pub fn load(model: &str, hub: &HubOptions, config: EngineConfig) -> Result<Self> {
        let source = ModelSource::parse(model)?;
        let files = ModelFiles::resolve(&source, hub)?;
        let cfg = files.config()?;
        let eos = files.eos_token_ids(&cfg)?;
        let prompts = PromptEncoder::from_files(&files, &cfg)?;
        Self::start(
            EngineParts {
                name: source.name(),
                config: cfg,
                weights: Weights::Files(files),
                prompts,
                eos,
            },
            config,
        )
    }

    /// Starts workers for a model given by its parts; returns once every device has loaded
    /// its weights and allocated its caches (or the first error).
    pub fn start(parts: EngineParts, config: EngineConfig) -> Result<Self> {
        if config.devices.is_empty() {
            return Err(Error::Invalid("no device given".into()));
        }
        if config.max_new_tokens == 0 || config.prefill_chunk == 0 {
            return Err(Error::Invalid(
                "max_new_tokens and prefill_chunk must be positive".into(),
            ));
        }
        keep_large_buffers();
        let requested = config.dtype;
        let dtype = requested.unwrap_or_else(|| config.devices[0].default_dtype());
        let dtype = config.devices[0].compute_dtype(dtype);
        let plan = MemoryPlan::for_devices(&parts.config, dtype, &config)?;
        let mut config = config;
        // Recorded as the cache actually allocated (sized from the GPU when asked to).
        config.kv_memory = plan.kv_memory;
        let token_bytes: Arc<dyn Fn(u32) -> Vec<u8> + Send + Sync> = match parts.prompts.tokenizer()
        {
            Some(t) => {
                let t = t.clone();
                Arc::new(move |id| t.token_bytes(id).to_vec())
            }
            None => Arc::new(|_| Vec::new()),
        };
        let mut workers = Vec::new();
        let mut ready = Vec::new();
        for &device in &config.devices {
            let (worker, ready_rx) = Worker::spawn(WorkerSetup {
                device,
                dtype: device.compute_dtype(dtype),
                cfg: parts.config.clone(),
                weights: parts.weights.clone(),
                scheduler: SchedulerConfig {
                    max_rows: plan.max_rows,
                    kv_blocks: plan.kv_blocks,
                    expected_new_tokens: config.expected_new_tokens(),
                    prefill_chunk: config.prefill_chunk,
                    max_resident_prompts: config.resident_prompts.max(1),
                    share_prefixes: config.share_prefixes,
                    attention_budget: plan.attention_budget,
                    record_sample_timings: config.record_sample_timings,
                },
                eos: parts.eos.clone(),
                token_bytes: token_bytes.clone(),
                #[cfg(test)]
                faults: Default::default(),
            })?;
            workers.push(worker);
            ready.push(ready_rx);
        }
        let energy = NvmlCounter::for_devices(&config.devices);
        let engine = Engine {
            energy,
            workers,
            name: parts.name,
            config: parts.config,
            engine_config: config,
            plan,
            dtype,
            prompts: parts.prompts,
            families: Default::default(),
        };
        for (rx, worker) in ready.iter().zip(&engine.workers) {
            match rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(Error::Invalid(format!(
                        "the worker for {} stopped while loading",
                        worker.device
                    )))
                }
            }
        }
        Ok(engine)
    }

    /// The model's configuration.
    pub fn model_config(&self) -> &Qwen3Config {
        &self.config
    }

    /// The tokenizer, if the model has one.
    pub fn tokenizer(&self) -> Option<&Arc<Tokenizer>> {
        self.prompts.tokenizer()
    }

    /// Most tokens one sample may generate.
    pub fn max_new_tokens(&self) -> usize {
        self.engine_config.max_new_tokens
    }

    /// Most samples one device decodes at once (`--slots`, or what its KV memory holds at
    /// the expected sample length).
    pub fn slots(&self) -> usize {
        self.workers.first().map_or(0, |w| w.max_rows)
    }

    /// The memory plan every device runs.
    pub fn memory_plan(&self) -> &MemoryPlan {
        &self.plan
    }

    /// Compute dtype.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Why the engine can no longer serve, when every device has failed (a panic in its
    /// step); `None` while at least one device serves.
    pub fn failure(&self) -> Option<String> {
        let why: Vec<String> = self
            .workers
            .iter()
            .map(Worker::failure)
            .collect::<Option<_>>()?;
        Some(format!("every device has failed: {}", why.join("; ")))
    }

    /// Work counters, summed over devices.
    pub fn stats(&self) -> EngineStats {
        let mut total = EngineStats::default();
        for w in &self.workers {
            total.add(w.stats());
        }
        total
    }

    /// Token ids of a prompt (rendered with the chat template for chat prompts).
    pub fn encode_prompt(&self, prompt: &Prompt) -> Result<Vec<u32>> {
        self.prompts.encode(prompt)
    }

    fn group_spec(&self, group: &SampleGroup) -> Result<GroupSpec> {
        let p = &group.params;
        if !(p.temperature.is_finite() && p.temperature >= 0.0) {
            return Err(Error::Invalid(format!(
                "temperature {} must be ≥ 0",
                p.temperature
            )));
        }
        if !(p.top_p > 0.0 && p.top_p <= 1.0) {
            return Err(Error::Invalid(format!(
                "top_p {} must be in (0, 1]",
                p.top_p
            )));
        }
        if p.max_tokens == 0 || p.max_tokens > self.engine_config.max_new_tokens {
            return Err(Error::Invalid(format!(
                "max_tokens {} must be between 1 and the engine's limit {}",
                p.max_tokens, self.engine_config.max_new_tokens
            )));
        }
        let mut skip = group.skip.clone();
        skip.sort_unstable();
        skip.dedup();
        if let Some(&bad) = skip.iter().find(|&&i| i >= group.n) {
            return Err(Error::Invalid(format!(
                "skipped sample {bad} is outside the group's 0..{}",
                group.n
            )));
        }
        let stops = StopStrings::new(&p.stop);
        if !stops.is_empty() && self.prompts.tokenizer().is_none() {
            return Err(Error::Invalid(
                "stop strings need the model's tokenizer".into(),
            ));
        }
        Ok(GroupSpec {
            sampler: SamplerParams {
                temperature: p.temperature,
                top_p: p.top_p,
                top_k: p.top_k,
            },
            seed: p.seed,
            stream: group.stream,
            n: group.n,
            skip,
            max_tokens: p.max_tokens,
            ignore_eos: p.ignore_eos,
            stops,
        })
    }

    /// Submits a prompt given as token ids (no tokenizer needed); completions stream back on
    /// the returned channel, which closes when the last one is sent.
    pub fn submit_tokens(
        &self,
        tokens: Vec<u32>,
        groups: &[SampleGroup],
    ) -> Result<Receiver<Result<Completion, GenError>>> {
        self.submit_observed(tokens, groups, None)
    }

    /// [`Engine::submit_tokens`] with an observer that hears each token as it is drawn and
    /// can call the request off (a server streaming to a client that may leave).
    pub fn submit_observed(
        &self,
        tokens: Vec<u32>,
        groups: &[SampleGroup],
        observer: Option<Arc<dyn RequestObserver>>,
    ) -> Result<Receiver<Result<Completion, GenError>>> {
        self.submit_request(tokens, groups, observer, &[])
    }

    /// Submits a prompt that shares its first tokens with `anchor` (see
    /// [`GenerationRequest::shares_prefix_with`]): the common tokens are prefilled as chunks
    /// of their own and, while another prompt of the family is resident on the device,
    /// copied from its cache instead of computed.
    fn submit_request(
        &self,
        tokens: Vec<u32>,
        groups: &[SampleGroup],
        observer: Option<Arc<dyn RequestObserver>>,
        anchor: &[u32],
    ) -> Result<Receiver<Result<Completion, GenError>>> {
        if tokens.is_empty() {
            return Err(Error::Invalid("empty prompt".into()));
        }
        if let Some(&bad) = tokens
            .iter()
            .find(|&&t| t as usize >= self.config.vocab_size)
        {
            return Err(Error::Invalid(format!(
                "token id {bad} is outside the vocabulary ({})",
                self.config.vocab_size
            )));
        }
        let groups = groups
            .iter()
            .map(|g| self.group_spec(g))
            .collect::<Result<Vec<_>>>()?;
        let longest = groups.iter().map(|g| g.max_tokens).max().unwrap_or(0);
        if tokens.len() + longest > self.config.max_position_embeddings {
            return Err(Error::Invalid(format!(
                "prompt of {} tokens + {longest} new tokens exceeds the model's {} positions",
                tokens.len(),
                self.config.max_position_embeddings
            )));
        }
        let total: u64 = groups.iter().map(|g| (g.n - g.skip.len()) as u64).sum();
        let (reply, receiver) = crossbeam_channel::unbounded();
        let shared_prefix = tokens
            .iter()
            .zip(anchor)
            .take_while(|(a, b)| a == b)
            .count();
        // The least-loaded device takes the whole request, so its prompt is prefilled once;
        // a family of prompts stays on the device that took its first, which holds the
        // shared cache.
        let family = (shared_prefix > 0).then(|| {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            tokens[..shared_prefix].hash(&mut h);
            h.finish()
        });
        let healthy = |i: &usize| self.workers[*i].failure().is_none();
        let remembered = family.and_then(|f| {
            let families = self.families.lock().expect("family lock");
            families.get(&f).copied().filter(healthy)
        });
        let index = match remembered {
            Some(i) => i,
            None => (0..self.workers.len())
                .filter(healthy)
                .min_by_key(|&i| self.workers[i].load())
                .ok_or_else(|| {
                    let why: Vec<String> =
                        self.workers.iter().filter_map(Worker::failure).collect();
                    Error::Invalid(format!("every device has failed: {}", why.join("; ")))
                })?,
        };
        if let Some(f) = family {
            let mut families = self.families.lock().expect("family lock");
            // Forgotten wholesale now and then: a family only matters while its prompts run.
            if families.len() >= FAMILIES_REMEMBERED {
                families.clear();
            }
            families.insert(f, index);
        }
        self.workers[index].run(
            Request {
                tokens,
                groups,
                reply,
                submitted: Instant::now(),
                observer,
                shared_prefix,
            },
            total,
        )?;
        Ok(receiver)
    }
}

impl Generator for Engine {
    fn submit(
        &self,
        request: GenerationRequest,
    ) -> Result<Receiver<Result<Completion, GenError>>, GenError> {
        let encode = |prompt: &Prompt| {
            self.encode_prompt(prompt)
                .map_err(|e| GenError::Invalid(e.to_string()))
        };
        let tokens = encode(&request.prompt)?;
        let anchor = match &request.shares_prefix_with {
            Some(anchor) => encode(anchor)?,
            None => Vec::new(),
        };
        self.submit_request(tokens, &request.groups, None, &anchor)
            .map_err(|e| GenError::Invalid(e.to_string()))
    }

    fn prompt_text(&self, prompt: &Prompt) -> Result<String, GenError> {
        self.prompts
            .render(prompt)
            .map_err(|e| GenError::Invalid(e.to_string()))
    }

    fn model_name(&self) -> String {
        self.name.clone()
    }

    fn describe(&self) -> serde_json::Value {
        let c = &self.engine_config;
        serde_json::json!({
            "engine": "lcb-engine",
            "dtype": dtype_name(self.dtype),
            "devices": c.devices.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            "slots_per_device": self.slots(),
            "max_new_tokens": c.max_new_tokens,
            "kv_memory_bytes": c.kv_memory,
            "kv_blocks": self.plan.kv_blocks,
            "kv_block_tokens": crate::model::BLOCK_TOKENS,
            "expected_new_tokens": c.expected_new_tokens(),
            "prefill_chunk": c.prefill_chunk,
            "shared_prefix_attention": true,
        })
    }

    fn prompt_cache_counts(&self) -> Option<(u64, u64)> {
        let stats = self.stats();
        Some((stats.prefill_tokens, stats.prefix_copied_tokens))
    }

    fn energy_counter(&self) -> std::result::Result<&dyn EnergyCounter, String> {
        match &self.energy {
            Ok(counter) => Ok(counter),
            Err(why) => Err(why.clone()),
        }
    }

    /// The engine, its compute precision and the kinds of device it runs on: what changes
    /// its numbers (not the device indices, the memory sizes or the slot count, which do not
    /// on the CPU and which vary from run to run on GPUs).
    fn fingerprint(&self) -> serde_json::Value {
        let mut backends: Vec<&str> = self
            .engine_config
            .devices
            .iter()
            .map(|d| match d {
                DeviceSpec::Cpu => "cpu",
                DeviceSpec::Cuda(_) => "cuda",
            })
            .collect();
        backends.sort_unstable();
        backends.dedup();
        serde_json::json!({
            "engine": "lcb-engine",
            "dtype": dtype_name(self.dtype),
            "backend": backends.join(","),
        })
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Every worker is told first, so they wind down together.
        for w in &self.workers {
            w.shut_down();
        }
        for w in &mut self.workers {
            w.join();
        }
    }
}
