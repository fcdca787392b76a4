//! A device's worker thread: it loads the model on its device, allocates the KV block pool,
//! and loops — take new requests, admit samples, give each the block its next token needs
//! (preempting when the pool is dry), build one step (every decoding sample's next token
//! plus at most one prefill chunk), run the model, sample each row on the device that holds
//! its logits, send finished samples and free their blocks — until the engine shuts down.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use candle_core::DType;
use candle_nn::VarBuilder;
use crossbeam_channel::{Receiver, Sender};

use super::allocator::release_free_memory;
use super::stats::EngineStats;
use super::Weights;
use crate::config::Qwen3Config;
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::model::{Batch, DecodeGroup, KvPool, PrefillChunk, PromptKv, Qwen3Model};
use crate::sampling::sample_tensor_rows;
use crate::scheduler::{Request, Scheduler, SchedulerConfig};

/// What the engine tells a worker.
enum Command {
    Run(Request),
    Shutdown,
    /// Panics in the worker's step, to test that a panic fails requests instead of a device.
    #[cfg(test)]
    Panic,
}

/// The engine's handle on one device's worker thread.
pub(super) struct Worker {
    pub device: DeviceSpec,
    commands: Sender<Command>,
    thread: Option<JoinHandle<()>>,
    /// Samples handed to this worker, and those it finished: their difference is its load.
    submitted: AtomicU64,
    completed: Arc<AtomicU64>,
    stats: Arc<Mutex<EngineStats>>,
    /// Why the worker stopped serving (it panicked), if it did.
    failure: Arc<Mutex<Option<String>>>,
    #[cfg(test)]
    faults: Arc<Faults>,
    /// Most rows one step decodes.
    pub max_rows: usize,
}

/// Everything a worker is started with.
pub(super) struct WorkerSetup {
    pub device: DeviceSpec,
    pub dtype: DType,
    pub cfg: Qwen3Config,
    pub weights: Weights,
    pub scheduler: SchedulerConfig,
    pub eos: Vec<u32>,
    pub token_bytes: Arc<dyn Fn(u32) -> Vec<u8> + Send + Sync>,
    /// Failures injected by tests.
    #[cfg(test)]
    pub faults: Arc<Faults>,
}

/// What the worker thread shares with its handle.
struct WorkerShared {
    completed: Arc<AtomicU64>,
    stats: Arc<Mutex<EngineStats>>,
    failure: Arc<Mutex<Option<String>>>,
}

impl Worker {
    /// Starts the worker thread; the receiver says when it has loaded the model and
    /// allocated its slots (or why it could not).
    pub(super) fn spawn(setup: WorkerSetup) -> Result<(Worker, Receiver<Result<()>>)> {
        let (commands, inbox) = crossbeam_channel::unbounded();
        let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
        let shared = WorkerShared {
            completed: Arc::new(AtomicU64::new(0)),
            stats: Arc::new(Mutex::new(EngineStats::default())),
            failure: Arc::new(Mutex::new(None)),
        };
        let (completed, stats, failure) = (
            shared.completed.clone(),
            shared.stats.clone(),
            shared.failure.clone(),
        );
        let (device, max_rows) = (setup.device, setup.scheduler.max_rows);
        #[cfg(test)]
        let faults = setup.faults.clone();
        let thread = std::thread::Builder::new()
            .name(format!("lcb-engine-{device}"))
            .spawn(move || run_worker(setup, shared, inbox, ready_tx))
            .map_err(|e| Error::Invalid(format!("cannot start a worker thread: {e}")))?;
        let worker = Worker {
            device,
            commands,
            thread: Some(thread),
            submitted: AtomicU64::new(0),
            completed,
            stats,
            failure,
            max_rows,
            #[cfg(test)]
            faults,
        };
        Ok((worker, ready_rx))
    }

    /// Samples handed to this worker and not finished yet.
    pub(super) fn load(&self) -> u64 {
        // Relaxed loads from racing submitters may see a completion before its
        // submission: saturate rather than wrap.
        self.submitted
            .load(Ordering::Relaxed)
            .saturating_sub(self.completed.load(Ordering::Relaxed))
    }

    /// Why this worker stopped serving, if it did (a panic in its step).
    pub(super) fn failure(&self) -> Option<String> {
        self.failure.lock().expect("failure lock").clone()
    }

    /// Hands a request of `samples` samples to the worker.
    pub(super) fn run(&self, request: Request, samples: u64) -> Result<()> {
        if let Some(why) = self.failure() {
            return Err(Error::Invalid(format!(
                "the worker for {} has failed: {why}",
                self.device
            )));
        }
        self.submitted.fetch_add(samples, Ordering::Relaxed);
        self.commands
            .send(Command::Run(request))
            .map_err(|_| Error::Invalid(format!("the worker for {} has stopped", self.device)))
    }

    /// This worker's counters so far.
    pub(super) fn stats(&self) -> EngineStats {
        self.stats.lock().expect("stats lock").clone()
    }

    /// Asks the worker to stop (requests still running fail); [`Worker::join`] waits.
    pub(super) fn shut_down(&self) {
        let _ = self.commands.send(Command::Shutdown);
    }

    /// Waits for the worker thread to end.
    pub(super) fn join(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Loads the model on the worker's device and allocates its block pool.
fn load_on_device(setup: &WorkerSetup) -> Result<(Qwen3Model, KvPool)> {
    let device = setup.device.open()?;
    let vb = match &setup.weights {
        Weights::Files(files) => files.var_builder(setup.dtype, &device)?,
        Weights::Tensors(map) => VarBuilder::from_tensors(map.clone(), setup.dtype, &device),
    };
    let mut model = Qwen3Model::load(&setup.cfg, vb)?;
    model.set_attention_budget(setup.scheduler.attention_budget);
    let pool = KvPool::new(&setup.cfg, setup.scheduler.kv_blocks, setup.dtype, &device)?;
    release_free_memory();
    Ok((model, pool))
}

fn run_worker(
    setup: WorkerSetup,
    shared: WorkerShared,
    inbox: Receiver<Command>,
    ready: Sender<Result<()>>,
) {
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
    let mut sched = Scheduler::new(
        setup.scheduler.clone(),
        setup.eos.clone(),
        setup.token_bytes.clone(),
    );
    let mut sent_before = 0u64;
    loop {
        // Intake: block only when there is nothing to do.
        #[cfg(test)]
        let mut panic_now = false;
        if sched.is_idle() {
            match inbox.recv() {
                Ok(Command::Run(r)) => sched.add(r),
                Ok(Command::Shutdown) | Err(_) => return,
                #[cfg(test)]
                Ok(Command::Panic) => panic_now = true,
            }
        }
        loop {
            match inbox.try_recv() {
                Ok(Command::Run(r)) => sched.add(r),
                Ok(Command::Shutdown) => {
                    sched.fail_all("the engine was shut down");
                    return;
                }
                #[cfg(test)]
                Ok(Command::Panic) => panic_now = true,
                Err(_) => break,
            }
        }
        let started = Instant::now();
        // A panic in a step is a bug in lcb or candle; the device cannot be trusted after it,
        // but its requests must hear why instead of waiting forever on a dead thread.
        let stepped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            #[cfg(test)]
            if panic_now {
                panic!("a test asked the worker to panic");
            }
            step(&model, &pool, &mut sched, &setup)
        }));
        let outcome = match stepped {
            Ok(outcome) => outcome,
            Err(payload) => {
                fail_device(&setup, &shared, &inbox, &mut sched, payload.as_ref());
                return;
            }
        };
        if let Err(e) = outcome.as_ref() {
            // Not the model's forward pass (that is told apart inside the step): the host
            // side of the step, with no way to tell whose it was.
            tracing::error!(device = %setup.device, "generation step failed: {e}");
            sched.fail_all(&e.to_string());
        }
        let elapsed = started.elapsed().as_secs_f64();
        let mut stats = shared.stats.lock().expect("stats lock");
        if let Ok(Some(work)) = outcome {
            stats.steps += 1;
            stats.prefill_tokens += work.prefill_tokens as u64;
            stats.prefix_copied_tokens += work.prefix_copied as u64;
            stats.sampling_seconds += work.sampling_seconds;
            stats.peak_decode_rows = stats.peak_decode_rows.max(work.decode_rows as u64);
            if work.decode_rows > 0 {
                stats.decode_steps += 1;
                stats.decode_tokens += work.decode_rows as u64;
                stats.decode_seconds += elapsed;
            } else {
                stats.prefill_only_tokens += work.prefill_tokens as u64;
                stats.prefill_only_seconds += elapsed;
            }
        }
        (stats.preempted_samples, stats.evicted_prompts) = sched.preemptions();
        stats.samples.extend(sched.take_sample_timings());
        let (timings, channels) = sched.take_retired();
        stats.requests_finished += timings.len() as u64;
        // Kept only when asked for: a server finishes millions of requests.
        if setup.scheduler.record_sample_timings {
            stats.requests.extend(timings);
        }
        drop(stats);
        // Close finished requests' channels only now that their timings are published.
        drop(channels);
        let sent = sched.finished_total();
        shared
            .completed
            .fetch_add(sent - sent_before, Ordering::Relaxed);
        sent_before = sent;
    }
}

/// Marks the device failed after a panic: every request in flight or still queued gets an
/// error naming the panic, and later submissions are refused with it.
fn fail_device(
    setup: &WorkerSetup,
    shared: &WorkerShared,
    inbox: &Receiver<Command>,
    sched: &mut Scheduler,
    payload: &(dyn std::any::Any + Send),
) {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    let why = format!("the engine thread of {} panicked: {text}", setup.device);
    tracing::error!("{why}");
    *shared.failure.lock().expect("failure lock") = Some(why.clone());
    // The scheduler may be half-updated; failing its requests only sends on their channels.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sched.fail_all(&why)));
    while let Ok(command) = inbox.try_recv() {
        if let Command::Run(r) = command {
            let _ = r
                .reply
                .send(Err(lcb_core::generator::GenError::Failed(why.clone())));
        }
    }
}

/// What one step did.
struct StepWork {
    decode_rows: usize,
    prefill_tokens: usize,
    /// Prompt tokens whose cache was copied from another prompt instead of prefilled.
    prefix_copied: usize,
    sampling_seconds: f64,
}

/// Plans, runs and applies one step. `Ok(None)` when there was nothing to run.
fn step(
    model: &Qwen3Model,
    pool: &KvPool,
    sched: &mut Scheduler,
    setup: &WorkerSetup,
) -> Result<Option<StepWork>> {
    sched.drop_cancelled();
    sched.fill_slots();
    sched.reserve_blocks();
    let mut plan = sched.prefill_plan();
    let prefix_copied = plan.as_ref().map_or(0, |p| p.from_family);
    // A prompt admitted beside its family copies the family's head from a resident prompt
    // instead of computing it. A copy that fails (no memory for its staging) fails that
    // prompt alone.
    let copied = sched.take_head_copies().iter().try_for_each(|c| {
        let from = PromptKv {
            blocks: &c.from,
            len: c.len,
        };
        let to = PromptKv {
            blocks: &c.to,
            len: c.len,
        };
        pool.copy_prompt_head(from, to, c.len)
    });
    if let Err(e) = copied {
        if let Some(p) = plan.take() {
            let error = format!("cannot copy the cache of the prompt's shared head: {e}");
            tracing::error!(device = %setup.device, "{error}");
            sched.fail_prompt(p.prompt, &error);
        }
    }
    let decode_rows = sched.active().len();
    if decode_rows == 0 && plan.is_none() {
        return Ok(None);
    }
    let chunk_tokens: Vec<u32> = plan
        .as_ref()
        .map(|p| sched.prompt_tokens(p.prompt)[p.start..p.start + p.len].to_vec())
        .unwrap_or_default();
    let mut batch = decode_batch(sched);
    batch.prefill = plan.as_ref().map(|p| PrefillChunk {
        prefix: sched.cache(p.prompt).expect("a planned prompt is resident"),
        tokens: &chunk_tokens,
        start: p.start,
        want_logits: p.last,
    });
    let out = match forward(model, &batch, pool, setup) {
        Ok(out) => out,
        Err(e) => {
            drop(batch);
            return isolate_failure(model, pool, sched, setup, plan, e);
        }
    };
    drop(batch);
    if let Some(p) = &plan {
        let logits = out.prefill.map(|t| t.to_vec1::<f32>()).transpose()?;
        sched.prefill_done(p, logits);
    }
    let mut sampling_seconds = 0.0;
    if let Some(logits) = out.decode {
        sampling_seconds = sample_and_apply(sched, &logits)?;
    }
    // Blocks that came back holding non-finite values are zeroed before anyone reuses them.
    pool.clear_blocks(&sched.take_blocks_to_clear())?;
    Ok(Some(StepWork {
        decode_rows,
        prefill_tokens: plan.map_or(0, |p| p.len),
        prefix_copied,
        sampling_seconds,
    }))
}

/// The step's decode rows, grouped by prompt (no prefill chunk).
fn decode_batch(sched: &Scheduler) -> Batch<'_> {
    let (rows, groups) = sched.decode_batch();
    Batch {
        decode: rows,
        groups: groups
            .into_iter()
            .map(|(prefix, rows)| DecodeGroup { prefix, rows })
            .collect(),
        prefill: None,
    }
}

/// Samples every decode row's next token from `logits` `(rows, vocab)` where they are (only
/// tokens and log-probabilities come back) and applies them; returns the seconds spent
/// sampling.
fn sample_and_apply(sched: &mut Scheduler, logits: &candle_core::Tensor) -> Result<f64> {
    // The forward pass is queued, not done, on a GPU: wait for it so the time is sampling's.
    logits.device().synchronize()?;
    let t = Instant::now();
    let (params, keys) = sched.sampling_inputs();
    let sampled = sample_tensor_rows(logits, &params, &keys)?;
    let seconds = t.elapsed().as_secs_f64();
    sched.apply_tokens(&sampled);
    Ok(seconds)
}

/// The model's forward pass over `batch` (with the tests' injected faults).
fn forward(
    model: &Qwen3Model,
    batch: &Batch,
    pool: &KvPool,
    setup: &WorkerSetup,
) -> Result<crate::model::StepLogits> {
    #[cfg(test)]
    if batch.prefill.is_some() && setup.faults.fail_prefill.swap(false, Ordering::SeqCst) {
        return Err(Error::Invalid("a test failed this prefill chunk".into()));
    }
    #[cfg(test)]
    if !batch.decode.is_empty() && setup.faults.fail_decode.load(Ordering::SeqCst) {
        return Err(Error::Invalid("a test failed these decode rows".into()));
    }
    let _ = setup;
    model.forward(batch, pool)
}

/// After a failed forward pass, fails only the requests whose rows caused it, as far as that
/// can be told: a step of decode rows and a prefill chunk runs again without the chunk; if
/// that works, the chunk's prompt fails alone (and the decode rows' tokens are applied),
/// otherwise the decoding requests fail and the chunk is tried again next step. Writing a
/// row's key/value twice is harmless: it is the same value at the same place.
fn isolate_failure(
    model: &Qwen3Model,
    pool: &KvPool,
    sched: &mut Scheduler,
    setup: &WorkerSetup,
    plan: Option<crate::scheduler::PrefillPlan>,
    error: Error,
) -> Result<Option<StepWork>> {
    tracing::error!(device = %setup.device, "generation step failed: {error}");
    let decode_rows = sched.active().len();
    let Some(plan) = plan else {
        sched.fail_decoding(&error.to_string());
        return Ok(None);
    };
    let blame_chunk = |sched: &mut Scheduler| {
        let why = format!("prefilling the prompt failed: {error}");
        sched.fail_prompt(plan.prompt, &why);
    };
    if decode_rows == 0 {
        blame_chunk(sched);
        return Ok(None);
    }
    let batch = decode_batch(sched);
    let retried = forward(model, &batch, pool, setup);
    drop(batch);
    let logits = match retried.and_then(|out| {
        out.decode
            .ok_or_else(|| Error::Invalid("no decode logits".into()))
    }) {
        Ok(logits) => logits,
        Err(e) => {
            sched.fail_decoding(&e.to_string());
            return Ok(None);
        }
    };
    blame_chunk(sched);
    sample_and_apply(sched, &logits)?;
    pool.clear_blocks(&sched.take_blocks_to_clear())?;
    Ok(Some(StepWork {
        decode_rows,
        prefill_tokens: 0,
        prefix_copied: 0,
        sampling_seconds: 0.0,
    }))
}

/// Failures the tests inject into a worker's forward passes.
#[cfg(test)]
#[derive(Debug, Default)]
pub(super) struct Faults {
    /// Fail the next step that has a prefill chunk.
    pub fail_prefill: std::sync::atomic::AtomicBool,
    /// Fail every step that has decode rows.
    pub fail_decode: std::sync::atomic::AtomicBool,
}

#[cfg(test)]
mod tests {
    use candle_core::Device;
    use lcb_core::generator::{GenError, SampleGroup, SamplingParams};

    use super::super::{Engine, EngineConfig, EngineParts};
    use super::*;

    /// A one-layer model with a 64-token vocabulary: enough to run steps.
    fn small_engine() -> Engine {
        let cfg = Qwen3Config {
            vocab_size: 64,
            hidden_size: 32,
            intermediate_size: 64,
            num_hidden_layers: 1,
            num_attention_heads: 2,
            num_key_value_heads: 1,
            head_dim: 16,
            max_position_embeddings: 512,
            rope_theta: 1_000_000.0,
            rms_norm_eps: 1e-6,
            tie_word_embeddings: true,
            attention_bias: false,
            eos_token_id: vec![],
        };
        let weights = crate::synthetic::random_weights(&cfg, 3, DType::F32, &Device::Cpu).unwrap();
        Engine::start(
            EngineParts {
                name: "small".into(),
                config: cfg,
                weights: Weights::Tensors(weights),
                prompts: Default::default(),
                eos: vec![],
            },
            EngineConfig {
                kv_memory: 64 << 20,
                max_new_tokens: 400,
                max_prompt_tokens: 64,
                ..Default::default()
            },
        )
        .unwrap()
    }

    fn group(n: usize, max_tokens: usize) -> SampleGroup {
        SampleGroup {
            params: SamplingParams {
                temperature: 1.0,
                max_tokens,
                ignore_eos: true,
                ..Default::default()
            },
            n,
            stream: 0,
            skip: Vec::new(),
        }
    }

    /// Tells when a request's samples have started decoding.
    struct Started(Mutex<Option<crossbeam_channel::Sender<()>>>);

    impl crate::scheduler::RequestObserver for Started {
        fn token(&self, _: crate::scheduler::TokenEvent) {
            if let Some(tx) = self.0.lock().unwrap().take() {
                let _ = tx.send(());
            }
        }
        fn cancelled(&self) -> bool {
            false
        }
    }

    #[test]
    fn a_failing_step_fails_only_the_requests_whose_rows_caused_it() {
        let engine = small_engine();
        let faults = engine.workers[0].faults.clone();
        // A decodes; then B's prefill chunk fails in the step it shares with A's rows.
        let (tx, started) = crossbeam_channel::bounded(1);
        let observer = Arc::new(Started(Mutex::new(Some(tx))));
        let a = engine
            .submit_observed(vec![1, 2, 3], &[group(2, 300)], Some(observer))
            .unwrap();
        started.recv().unwrap();
        faults.fail_prefill.store(true, Ordering::SeqCst);
        let all = |tokens: Vec<u32>, n: usize, max_tokens: usize| -> Vec<_> {
            let rx = engine
                .submit_tokens(tokens, &[group(n, max_tokens)])
                .unwrap();
            rx.iter().collect()
        };
        let b = all(vec![4, 5, 6], 1, 3);
        assert!(
            matches!(&b[..], [Err(GenError::Failed(m))] if m.contains("prefilling the prompt failed: a test failed this prefill chunk")),
            "{b:?}"
        );
        let a: Vec<_> = a.iter().collect();
        assert!(
            a.len() == 2 && a.iter().all(|c| c.is_ok()),
            "A carries on: {a:?}"
        );
        // Decode rows that fail take their own requests down, not the device.
        faults.fail_decode.store(true, Ordering::SeqCst);
        let c = all(vec![7, 8], 2, 5);
        assert!(
            matches!(&c[..], [Err(GenError::Failed(m))] if m.contains("a test failed these decode rows")),
            "{c:?}"
        );
        faults.fail_decode.store(false, Ordering::SeqCst);
        let d = all(vec![7, 8], 2, 5);
        assert!(d.len() == 2 && d.iter().all(|c| c.is_ok()), "{d:?}");
        assert!(engine.failure().is_none());
    }

    #[test]
    fn a_panic_in_a_step_fails_the_requests_and_marks_the_device() {
        let engine = small_engine();
        // Works before.
        let ok: Vec<_> = engine
            .submit_tokens(vec![1, 2, 3], &[group(2, 3)])
            .unwrap()
            .iter()
            .collect();
        assert!(ok.iter().all(|c| c.is_ok()) && ok.len() == 2, "{ok:?}");
        // A long request in flight, then the worker panics.
        let rx = engine
            .submit_tokens(vec![1, 2, 3], &[group(4, 400)])
            .unwrap();
        engine.workers[0].commands.send(Command::Panic).unwrap();
        let got: Vec<_> = rx.iter().collect();
        let failed = got.iter().find_map(|c| match c {
            Err(GenError::Failed(m)) => Some(m.clone()),
            _ => None,
        });
        let message = failed.expect("the request in flight hears of the panic");
        assert!(
            message.contains("panicked: a test asked the worker to panic"),
            "{message}"
        );
        // Later submissions are refused with the reason instead of hanging.
        let err = engine
            .submit_tokens(vec![1, 2, 3], &[group(1, 3)])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("every device has failed") && err.contains("panicked"),
            "{err}"
        );
    }
}
