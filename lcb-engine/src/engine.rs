//! The engine: one worker thread per device, each owning its copy of the model, its KV pool
//! and its [`Scheduler`], and a dispatcher that hands each request to the least-loaded
//! device (data parallel). [`Engine`] implements `lcb_core::generator::Generator`.
//!
//! A worker's loop: take new requests; fill free slots; build one step (every active slot's
//! next token plus at most one prefill chunk); run the model; sample each row on the host;
//! send finished samples, refill or close up their slots; repeat. Requests stream their
//! completions back over their own channel as each sample ends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;
use crossbeam_channel::{Receiver, Sender};
use lcb_core::generator::{
    Completion, GenError, GenerationRequest, Generator, Prompt, SampleGroup,
};
use lcb_core::hub::HubOptions;

use crate::config::Qwen3Config;
use crate::device::{dtype_name, DeviceSpec};
use crate::error::{Error, Result};
use crate::loader::{ModelFiles, ModelSource};
use crate::model::{Batch, DecodeGroup, KvPool, PrefillChunk, PrefixKv, Qwen3Model};
use crate::prompt_encoder::PromptEncoder;
use crate::sampling::{sample_rows, SamplerParams};
use crate::scheduler::{GroupSpec, Request, RequestTiming, Scheduler, SchedulerConfig};
use crate::stop::StopStrings;
use crate::tokenizer::Tokenizer;

/// How the engine runs: devices, precision and the memory it may use for caches.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Devices, one worker each (`cpu`, or one or more `cuda:N`).
    pub devices: Vec<DeviceSpec>,
    /// Compute dtype; `None` = the device's default (f32 on the CPU, bf16 on GPUs).
    pub dtype: Option<DType>,
    /// Bytes of key/value cache per device: decode slots plus resident prompts.
    pub kv_memory: u64,
    /// On GPUs: size the key/value cache from the device's memory instead, so that weights,
    /// cache and working memory together use at most this fraction of it (what other
    /// processes already use counts against it, as in vLLM). Overrides `kv_memory` there.
    pub gpu_memory_utilization: Option<f64>,
    /// Most tokens one sample may generate (each slot's capacity).
    pub max_new_tokens: usize,
    /// Most decode slots per device, whatever the memory allows.
    pub max_slots: usize,
    /// Prompt length the memory plan reserves room for (longer prompts still run, alone).
    pub max_prompt_tokens: usize,
    /// Prompts whose caches may be resident at once (the one decoding and the next).
    pub resident_prompts: usize,
    /// Most prompt tokens per prefill chunk.
    pub prefill_chunk: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            devices: vec![DeviceSpec::Cpu],
            dtype: None,
            kv_memory: 4 << 30,
            gpu_memory_utilization: None,
            max_new_tokens: 2048,
            max_slots: 256,
            max_prompt_tokens: 4096,
            resident_prompts: 2,
            prefill_chunk: 512,
        }
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

/// Counters of one device's work, for benchmarks.
#[derive(Debug, Clone, Default)]
pub struct EngineStats {
    /// Forward steps run.
    pub steps: u64,
    /// Steps that had decode rows.
    pub decode_steps: u64,
    /// Tokens produced by decode rows (every generated token but each sample's first).
    pub decode_tokens: u64,
    /// Wall seconds of steps that had decode rows (forward + sampling + bookkeeping).
    pub decode_seconds: f64,
    /// Prompt tokens prefilled in steps without decode rows.
    pub prefill_only_tokens: u64,
    /// Wall seconds of those steps.
    pub prefill_only_seconds: f64,
    /// Prompt tokens prefilled in total.
    pub prefill_tokens: u64,
    /// Seconds spent sampling on the host.
    pub sampling_seconds: f64,
    /// Finished requests' timings.
    pub requests: Vec<RequestTiming>,
}

enum Command {
    Run(Request),
    Shutdown,
}

struct Worker {
    device: DeviceSpec,
    commands: Sender<Command>,
    thread: Option<JoinHandle<()>>,
    submitted: AtomicU64,
    completed: Arc<AtomicU64>,
    stats: Arc<Mutex<EngineStats>>,
    slots: usize,
}

/// lcb's batched Qwen3 engine (see the crate documentation).
pub struct Engine {
    workers: Vec<Worker>,
    name: String,
    config: Qwen3Config,
    engine_config: EngineConfig,
    dtype: DType,
    prompts: PromptEncoder,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("name", &self.name)
            .field("devices", &self.engine_config.devices)
            .finish_non_exhaustive()
    }
}

/// Parses a memory size: a byte count, or a number with a unit (`512MiB`, `4GiB`, `2G`,
/// `1.5GB`; binary units, `B`, `K`, `M`, `G`, `T` with optional `iB`/`B`).
pub fn parse_memory_size(text: &str) -> Result<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| Error::Invalid(format!("`{text}` is not a memory size (e.g. 4GiB)")))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => {
            return Err(Error::Invalid(format!(
                "unknown memory unit `{other}` in `{text}` (use B, KiB, MiB, GiB or TiB)"
            )))
        }
    };
    Ok((value * scale as f64) as u64)
}

/// The key/value cache a GPU can hold: `fraction` of its `total` memory, less what is already
/// in use (`total - free`), the weights and a working reserve (activations and logits).
pub fn kv_budget_from_gpu(
    free: u64,
    total: u64,
    fraction: f64,
    weights: u64,
    reserve: u64,
) -> Result<u64> {
    if !(fraction > 0.0 && fraction <= 1.0) {
        return Err(Error::Invalid(format!(
            "GPU memory utilization {fraction} must be in (0, 1]"
        )));
    }
    let allowed = (total as f64 * fraction) as u64;
    let used_elsewhere = total.saturating_sub(free);
    let needed = used_elsewhere + weights + reserve;
    allowed
        .checked_sub(needed)
        .filter(|&b| b > 0)
        .ok_or_else(|| {
            Error::Invalid(format!(
                "GPU memory utilization {fraction} of {} MiB leaves no room for the cache: {} MiB \
             already in use, {} MiB of weights, {} MiB working reserve",
                total >> 20,
                used_elsewhere >> 20,
                weights >> 20,
                reserve >> 20
            ))
        })
}

/// Most query rows × keys (per query head) one attention call may score: what the memory
/// plan's own shapes need — a full prefill chunk or every slot over the longest planned
/// prompt, every slot over its own tokens. Work on longer prompts is split to fit (smaller
/// prefill chunks, decode rows in several calls), so the reserve below always holds.
pub fn attention_budget(config: &EngineConfig, slots: usize) -> usize {
    let over_prompt = config
        .prefill_chunk
        .max(slots)
        .saturating_mul(config.max_prompt_tokens.max(1));
    over_prompt.max(slots.saturating_mul(config.max_new_tokens))
}

/// Bytes per attention score element at the peak of an attention call: the scores in the
/// compute dtype and in f32, the softmax in f32 and the probabilities cast back (at most
/// four bytes each).
const SCORE_BYTES: u64 = 16;

/// Working memory the engine reserves on a GPU besides weights and cache: the step's
/// logits in f32 (twice, for sampling), the attention scores of every query head at the
/// attention budget, and 1 GiB for activations and library workspaces.
fn gpu_reserve(cfg: &Qwen3Config, config: &EngineConfig, slots: usize) -> u64 {
    let logits = 2 * (slots as u64) * (cfg.vocab_size as u64) * 4;
    let scores = (cfg.num_attention_heads as u64)
        .saturating_mul(attention_budget(config, slots) as u64)
        .saturating_mul(SCORE_BYTES);
    logits.saturating_add(scores).saturating_add(1 << 30)
}

/// Decode slots and prompt-token budget that fit `config.kv_memory` on one device.
pub fn plan_memory(
    cfg: &Qwen3Config,
    dtype: DType,
    config: &EngineConfig,
) -> Result<(usize, usize)> {
    let per_token = cfg.kv_bytes_per_token(dtype.size_in_bytes()) as u64;
    let prompts = (config.resident_prompts.max(1) * config.max_prompt_tokens) as u64;
    let per_slot = config.max_new_tokens as u64 * per_token;
    let left = config.kv_memory.saturating_sub(prompts * per_token);
    let slots = (left / per_slot.max(1)).min(config.max_slots as u64) as usize;
    if slots == 0 {
        return Err(Error::Invalid(format!(
            "kv memory of {} MiB cannot hold {} prompt tokens plus one slot of {} tokens \
             ({} KiB per token): raise the KV memory or lower the token limits",
            config.kv_memory >> 20,
            prompts,
            config.max_new_tokens,
            per_token >> 10
        )));
    }
    Ok((slots, prompts as usize))
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
        let mut config = config;
        if let Some(fraction) = config.gpu_memory_utilization {
            // Every device runs the same plan, so the device with the least room sets it:
            // another process on `cuda:3` must not make `cuda:3` run out of memory.
            let weights = (parts.config.parameter_count() * dtype.size_in_bytes()) as u64;
            let reserve = gpu_reserve(&parts.config, &config, config.max_slots.min(1024));
            let mut budget: Option<(u64, u64, DeviceSpec)> = None;
            for &device in &config.devices {
                if let Some((free, total)) = device.memory_info()? {
                    let kv = kv_budget_from_gpu(free, total, fraction, weights, reserve).map_err(
                        |e| match e {
                            Error::Invalid(m) => Error::Invalid(format!("{device}: {m}")),
                            other => other,
                        },
                    )?;
                    if budget.is_none_or(|(least, _, _)| kv < least) {
                        budget = Some((kv, total, device));
                    }
                }
            }
            if let Some((kv, total, device)) = budget {
                config.kv_memory = kv;
                tracing::info!(
                    "KV cache: {} MiB per device ({fraction} of {} MiB on {device}, the device \
                     with the least room)",
                    kv >> 20,
                    total >> 20,
                );
            }
        }
        let (slots, prefix_budget) = plan_memory(&parts.config, dtype, &config)?;
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
            let (commands, inbox) = crossbeam_channel::unbounded();
            let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
            let completed = Arc::new(AtomicU64::new(0));
            let stats = Arc::new(Mutex::new(EngineStats::default()));
            let setup = WorkerSetup {
                device,
                dtype: device.compute_dtype(dtype),
                cfg: parts.config.clone(),
                weights: parts.weights.clone(),
                scheduler: SchedulerConfig {
                    slots,
                    prefill_chunk: config.prefill_chunk,
                    max_resident_prompts: config.resident_prompts.max(1),
                    prefix_budget_tokens: prefix_budget,
                    attention_budget: attention_budget(&config, slots),
                },
                capacity: config.max_new_tokens,
                eos: parts.eos.clone(),
                token_bytes: token_bytes.clone(),
                completed: completed.clone(),
                stats: stats.clone(),
            };
            let thread = std::thread::Builder::new()
                .name(format!("lcb-engine-{device}"))
                .spawn(move || run_worker(setup, inbox, ready_tx))
                .map_err(|e| Error::Invalid(format!("cannot start a worker thread: {e}")))?;
            workers.push(Worker {
                device,
                commands,
                thread: Some(thread),
                submitted: AtomicU64::new(0),
                completed,
                stats,
                slots,
            });
            ready.push(ready_rx);
        }
        let engine = Engine {
            workers,
            name: parts.name,
            config: parts.config,
            engine_config: config,
            dtype,
            prompts: parts.prompts,
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

    /// Decode slots per device.
    pub fn slots(&self) -> usize {
        self.workers.first().map_or(0, |w| w.slots)
    }

    /// Compute dtype.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Work counters, summed over devices.
    pub fn stats(&self) -> EngineStats {
        let mut total = EngineStats::default();
        for w in &self.workers {
            let s = w.stats.lock().expect("stats lock").clone();
            total.steps += s.steps;
            total.decode_steps += s.decode_steps;
            total.decode_tokens += s.decode_tokens;
            total.decode_seconds += s.decode_seconds;
            total.prefill_only_tokens += s.prefill_only_tokens;
            total.prefill_only_seconds += s.prefill_only_seconds;
            total.prefill_tokens += s.prefill_tokens;
            total.sampling_seconds += s.sampling_seconds;
            total.requests.extend(s.requests);
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
        // The least-loaded device takes the whole request, so its prompt is prefilled once.
        let worker = self
            .workers
            .iter()
            .min_by_key(|w| {
                // Relaxed loads from racing submitters may see a completion before its
                // submission: saturate rather than wrap.
                w.submitted
                    .load(Ordering::Relaxed)
                    .saturating_sub(w.completed.load(Ordering::Relaxed))
            })
            .expect("an engine has at least one worker");
        worker.submitted.fetch_add(total, Ordering::Relaxed);
        worker
            .commands
            .send(Command::Run(Request {
                tokens,
                groups,
                reply,
                submitted: Instant::now(),
            }))
            .map_err(|_| Error::Invalid(format!("the worker for {} has stopped", worker.device)))?;
        Ok(receiver)
    }
}

impl Generator for Engine {
    fn submit(
        &self,
        request: GenerationRequest,
    ) -> Result<Receiver<Result<Completion, GenError>>, GenError> {
        let tokens = self
            .encode_prompt(&request.prompt)
            .map_err(|e| GenError::Invalid(e.to_string()))?;
        self.submit_tokens(tokens, &request.groups)
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
            "prefill_chunk": c.prefill_chunk,
            "shared_prefix_attention": true,
        })
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
        for w in &self.workers {
            let _ = w.commands.send(Command::Shutdown);
        }
        for w in &mut self.workers {
            if let Some(thread) = w.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

/// Makes glibc's allocator keep and reuse large freed buffers instead of returning them to
/// the kernel: every decode step allocates logits, matmul packing and sampling buffers of
/// tens of megabytes, and with the default thresholds each of them is a fresh `mmap` whose
/// pages fault in again (a third of a CPU step's time). Process-wide; done once, on the
/// first engine start. The cost is that memory freed by the engine stays with the process.
fn keep_large_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes allocator tunables; called before the engine's
            // threads allocate.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
                libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
            }
        });
    }
}

/// Returns memory freed while loading (weights as read, before fusing and transposing) to
/// the kernel: [`keep_large_buffers`] stops glibc from doing so on its own.
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator's heaps.
    unsafe {
        libc::malloc_trim(0);
    }
}

struct WorkerSetup {
    device: DeviceSpec,
    dtype: DType,
    cfg: Qwen3Config,
    weights: Weights,
    scheduler: SchedulerConfig,
    capacity: usize,
    eos: Vec<u32>,
    token_bytes: Arc<dyn Fn(u32) -> Vec<u8> + Send + Sync>,
    completed: Arc<AtomicU64>,
    stats: Arc<Mutex<EngineStats>>,
}

/// Loads the model on the worker's device and allocates its slots.
fn load_on_device(setup: &WorkerSetup) -> Result<(Qwen3Model, KvPool)> {
    let device = setup.device.open()?;
    let vb = match &setup.weights {
        Weights::Files(files) => files.var_builder(setup.dtype, &device)?,
        Weights::Tensors(map) => VarBuilder::from_tensors(map.clone(), setup.dtype, &device),
    };
    let mut model = Qwen3Model::load(&setup.cfg, vb)?;
    model.set_attention_budget(setup.scheduler.attention_budget);
    let pool = KvPool::new(
        &setup.cfg,
        setup.scheduler.slots,
        setup.capacity,
        setup.dtype,
        &device,
    )?;
    release_free_memory();
    Ok((model, pool))
}

fn run_worker(setup: WorkerSetup, inbox: Receiver<Command>, ready: Sender<Result<()>>) {
    let (model, pool) = match load_on_device(&setup) {
        Ok(loaded) => {
            let _ = ready.send(Ok(()));
            loaded
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let mut sched: Scheduler<PrefixKv> = Scheduler::new(
        setup.scheduler.clone(),
        setup.eos.clone(),
        setup.token_bytes.clone(),
    );
    let mut sent_before = 0u64;
    loop {
        // Intake: block only when there is nothing to do.
        if sched.is_idle() {
            match inbox.recv() {
                Ok(Command::Run(r)) => sched.add(r),
                Ok(Command::Shutdown) | Err(_) => return,
            }
        }
        loop {
            match inbox.try_recv() {
                Ok(Command::Run(r)) => sched.add(r),
                Ok(Command::Shutdown) => {
                    sched.fail_all("the engine was shut down");
                    return;
                }
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let outcome = step(&model, &pool, &mut sched, &setup);
        if let Err(e) = outcome.as_ref() {
            tracing::error!(device = %setup.device, "generation step failed: {e}");
            sched.fail_all(&e.to_string());
        }
        let elapsed = started.elapsed().as_secs_f64();
        let mut stats = setup.stats.lock().expect("stats lock");
        if let Ok(Some(work)) = outcome {
            stats.steps += 1;
            stats.prefill_tokens += work.prefill_tokens as u64;
            stats.sampling_seconds += work.sampling_seconds;
            if work.decode_rows > 0 {
                stats.decode_steps += 1;
                stats.decode_tokens += work.decode_rows as u64;
                stats.decode_seconds += elapsed;
            } else {
                stats.prefill_only_tokens += work.prefill_tokens as u64;
                stats.prefill_only_seconds += elapsed;
            }
        }
        let (timings, channels) = sched.take_retired();
        stats.requests.extend(timings);
        drop(stats);
        // Close finished requests' channels only now that their timings are published.
        drop(channels);
        let sent = sched.finished_total();
        setup
            .completed
            .fetch_add(sent - sent_before, Ordering::Relaxed);
        sent_before = sent;
    }
}

/// What one step did.
struct StepWork {
    decode_rows: usize,
    prefill_tokens: usize,
    sampling_seconds: f64,
}

/// Plans, runs and applies one step. `Ok(None)` when there was nothing to run.
fn step(
    model: &Qwen3Model,
    pool: &KvPool,
    sched: &mut Scheduler<PrefixKv>,
    setup: &WorkerSetup,
) -> Result<Option<StepWork>> {
    sched.fill_slots();
    let plan = sched.prefill_plan();
    if let Some(p) = &plan {
        if sched.cache(p.prompt).is_none() {
            let len = sched.prompt_tokens(p.prompt).len();
            match PrefixKv::new(&setup.cfg, len, setup.dtype, model.device()) {
                Ok(cache) => sched.attach_cache(p.prompt, cache),
                Err(e) => {
                    // A prompt whose cache does not fit (a very long prompt on a full GPU)
                    // fails alone; the requests already decoding carry on next step.
                    let error = format!("cannot allocate the cache of a {len}-token prompt: {e}");
                    tracing::error!(device = %setup.device, "{error}");
                    sched.fail_prompt(p.prompt, &error);
                    return Ok(None);
                }
            }
        }
    }
    let (rows, groups) = sched.decode_batch();
    if rows.is_empty() && plan.is_none() {
        return Ok(None);
    }
    let chunk_tokens: Vec<u32> = plan
        .as_ref()
        .map(|p| sched.prompt_tokens(p.prompt)[p.start..p.start + p.len].to_vec())
        .unwrap_or_default();
    let prefill_cache = plan
        .as_ref()
        .map(|p| sched.cache(p.prompt).expect("attached above").clone());
    let decode_rows = rows.len();
    let batch = Batch {
        decode: rows,
        groups: groups
            .iter()
            .map(|(prefix, rows)| DecodeGroup {
                prefix,
                rows: rows.clone(),
            })
            .collect(),
        prefill: plan
            .as_ref()
            .zip(prefill_cache.as_ref())
            .map(|(p, prefix)| PrefillChunk {
                prefix,
                tokens: &chunk_tokens,
                start: p.start,
                want_logits: p.last,
            }),
    };
    let out = model.forward(&batch, pool)?;
    drop(batch);
    if let Some(p) = &plan {
        let logits = out.prefill.map(|t| t.to_vec1::<f32>()).transpose()?;
        sched.prefill_done(p, logits);
    }
    let mut sampling_seconds = 0.0;
    if let Some(logits) = out.decode {
        let vocab = logits.dim(1)?;
        let flat = logits.flatten_all()?.to_vec1::<f32>()?;
        let t = Instant::now();
        let (params, keys) = sched.sampling_inputs();
        let sampled = sample_rows(&flat, vocab, &params, &keys);
        sampling_seconds = t.elapsed().as_secs_f64();
        // A row whose logits were not finite wrote non-finite keys or values into its slot;
        // clear it before the slot is reused or becomes the target of a move (a move copies
        // only the mover's own positions, so what lies past them must be harmless).
        for (slot, s) in sampled.iter().enumerate() {
            if !s.logprob.is_finite() {
                pool.clear_slot(slot)?;
            }
        }
        for m in sched.apply_tokens(&sampled) {
            pool.move_slot(m.from, m.to, m.len)?;
        }
    }
    Ok(Some(StepWork {
        decode_rows,
        prefill_tokens: plan.map_or(0, |p| p.len),
        sampling_seconds,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_parse() {
        assert_eq!(parse_memory_size("1024").unwrap(), 1024);
        assert_eq!(parse_memory_size("4GiB").unwrap(), 4 << 30);
        assert_eq!(parse_memory_size("512m").unwrap(), 512 << 20);
        assert_eq!(parse_memory_size("1.5G").unwrap(), 3 << 29);
        assert!(parse_memory_size("lots").is_err());
        assert!(parse_memory_size("3 parsecs").is_err());
    }

    #[test]
    fn memory_plans_reserve_prompts_and_cap_slots() {
        let cfg = Qwen3Config::qwen3_0_6b();
        let config = EngineConfig {
            kv_memory: 16 << 30,
            max_new_tokens: 2048,
            max_prompt_tokens: 1024,
            resident_prompts: 2,
            max_slots: 1000,
            ..Default::default()
        };
        // bf16: 112 KiB per token; 2 × 1024 prompt tokens reserved; 224 MiB per slot.
        let (slots, budget) = plan_memory(&cfg, DType::BF16, &config).unwrap();
        assert_eq!(budget, 2048);
        assert_eq!(
            slots,
            ((16u64 << 30) - 2048 * 112 * 1024) as usize / (2048 * 112 * 1024)
        );
        let small = EngineConfig {
            kv_memory: 1 << 20,
            ..config
        };
        assert!(plan_memory(&cfg, DType::BF16, &small).is_err());
    }

    #[test]
    fn gpu_budget_is_the_fraction_left_after_others_weights_and_reserve() {
        const GIB: u64 = 1 << 30;
        // An 80 GiB GPU with 2 GiB used by another process, 0.9 of it for lcb.
        let budget = kv_budget_from_gpu(78 * GIB, 80 * GIB, 0.9, GIB, 3 * GIB).unwrap();
        assert_eq!(budget, (80.0 * 0.9 * GIB as f64) as u64 - 6 * GIB);
        // Nothing left: a clear error naming the parts.
        let err = kv_budget_from_gpu(10 * GIB, 80 * GIB, 0.9, GIB, GIB).unwrap_err();
        assert!(err.to_string().contains("already in use"), "{err}");
        assert!(kv_budget_from_gpu(78 * GIB, 80 * GIB, 1.5, GIB, GIB).is_err());
        assert!(kv_budget_from_gpu(78 * GIB, 80 * GIB, 0.0, GIB, GIB).is_err());
        // Qwen3-0.6B in bf16 on an idle H100 (80 GiB): about 66 GiB of cache, room for
        // hundreds of 2,048-token samples beside two 4,096-token prompts.
        let cfg = Qwen3Config::qwen3_0_6b();
        let weights = (cfg.parameter_count() * 2) as u64;
        let defaults = EngineConfig::default();
        let reserve = gpu_reserve(&cfg, &defaults, 512);
        let kv = kv_budget_from_gpu(80 * GIB, 80 * GIB, 0.9, weights, reserve).unwrap();
        assert!(kv > 60 * GIB && kv < 72 * GIB, "{}", kv >> 20);
        let config = EngineConfig {
            kv_memory: kv,
            max_slots: usize::MAX,
            ..defaults
        };
        let (slots, _) = plan_memory(&cfg, DType::BF16, &config).unwrap();
        assert!(slots > 256, "{slots}");
    }

    #[test]
    fn the_reserve_holds_every_planned_attention_call() {
        let config = EngineConfig {
            prefill_chunk: 512,
            max_prompt_tokens: 4096,
            max_new_tokens: 2048,
            ..Default::default()
        };
        // A full chunk over the longest planned prompt sets the budget for a few slots…
        assert_eq!(attention_budget(&config, 64), 512 * 4096);
        // …every slot over the prompt for many, and every slot over its own tokens for long
        // generations.
        assert_eq!(attention_budget(&config, 1024), 1024 * 4096);
        let long = EngineConfig {
            max_new_tokens: 32768,
            ..config.clone()
        };
        assert_eq!(attention_budget(&long, 256), 256 * 32768);
        // Qwen3-32B's 64 query heads at 512 slots: 2 GiB of scores at the peak, more than the
        // flat 1 GiB that once had to hold them along with everything else.
        let big = Qwen3Config {
            num_attention_heads: 64,
            ..Qwen3Config::qwen3_0_6b()
        };
        let reserve = gpu_reserve(&big, &config, 512);
        let scores = 64 * 512 * 4096 * SCORE_BYTES;
        assert_eq!(
            reserve,
            2 * 512 * big.vocab_size as u64 * 4 + scores + (1 << 30)
        );
        assert!(scores >= 2 << 30);
    }

    #[test]
    fn the_cpu_has_no_gpu_memory_to_size_from() {
        assert_eq!(DeviceSpec::Cpu.memory_info().unwrap(), None);
    }
}
