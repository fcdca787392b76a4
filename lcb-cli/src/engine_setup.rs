//! Builds lcb's candle engine from command-line settings, for the commands that generate.

use anyhow::{Context, Result};
use lcb_core::generator::Generator;
use lcb_core::hub::HubOptions;
use lcb_engine::device::{parse_dtype, DeviceList, DeviceSpec};
use lcb_engine::engine::{parse_memory_size, Engine, EngineConfig};

/// The `--threads` help shared by the commands that generate.
pub const THREADS_HELP: &str = "CPU threads for the engine's matrix work [default: $CANDLE_NUM_THREADS or $RAYON_NUM_THREADS, else one per core]";

/// Applies `--threads` (or, for the sweep, its default) before any model is loaded.
///
/// `leave_one_for_grading`: the sweep grades on the same cores while it generates, so on the
/// CPU it gives generation all cores but one unless told otherwise
/// ([`lcb_engine::device::cpu_threads_beside_grading`]).
/// Returns the thread count now in force, `None` when nothing was chosen (candle's default).
pub fn configure_cpu_threads(
    flag: Option<usize>,
    devices: &str,
    leave_one_for_grading: bool,
) -> Result<Option<usize>> {
    let chosen = match flag {
        Some(0) => anyhow::bail!("--threads must be at least 1"),
        Some(n) => Some(n),
        None => {
            let on_cpu = devices
                .parse::<DeviceList>()
                .map(|list| list.contains(&DeviceSpec::Cpu))
                .unwrap_or(false);
            if let Some(n) = lcb_engine::device::cpu_threads_from_env() {
                return Ok(Some(n));
            }
            (leave_one_for_grading && on_cpu).then(lcb_engine::device::cpu_threads_beside_grading)
        }
    };
    if let Some(n) = chosen {
        lcb_engine::device::set_cpu_threads(n);
        tracing::info!("engine CPU threads: {n}");
    }
    Ok(chosen)
}

/// The `--kv-memory` help shared by the commands that generate.
pub const KV_MEMORY_HELP: &str = "KV-cache memory per device (e.g. 4GiB): bounds the samples decoded at once [default: 4GiB on the CPU; on GPUs, what --gpu-memory-utilization leaves]";

/// Engine settings as the commands take them (strings straight from the command line).
pub struct EngineArgs<'a> {
    /// A local Hugging Face directory or a hub id.
    pub model: &'a str,
    /// `cpu`, `cuda:N` or a comma list.
    pub devices: &'a str,
    /// `f32`, `bf16`, `f16`, or `None` for the device's default.
    pub dtype: Option<&'a str>,
    /// KV-cache memory per device (`4GiB`, `512MiB`, bytes); `None`: 4 GiB on the CPU, and on
    /// GPUs whatever `gpu_memory_utilization` leaves.
    pub kv_memory: Option<&'a str>,
    /// Fraction of a GPU's memory the engine may use (weights, cache, work) when
    /// `kv_memory` is not given.
    pub gpu_memory_utilization: f64,
    /// Most tokens one sample may generate.
    pub max_new_tokens: usize,
    /// Most samples decoding at once per device.
    pub max_slots: usize,
}

/// Loads the model on every device and returns the engine.
pub fn engine(args: &EngineArgs) -> Result<Engine> {
    let devices = args
        .devices
        .parse::<DeviceList>()
        .with_context(|| format!("--devices `{}`", args.devices))?
        .into_vec();
    let dtype = args.dtype.map(parse_dtype).transpose().context("--dtype")?;
    let config = EngineConfig {
        devices,
        dtype,
        kv_memory: match args.kv_memory {
            Some(size) => parse_memory_size(size).context("--kv-memory")?,
            None => EngineConfig::default().kv_memory,
        },
        gpu_memory_utilization: args
            .kv_memory
            .is_none()
            .then_some(args.gpu_memory_utilization),
        max_new_tokens: args.max_new_tokens,
        max_slots: args.max_slots.max(1),
        ..Default::default()
    };
    Engine::load(args.model, &HubOptions::default(), config)
        .with_context(|| format!("cannot load the model `{}`", args.model))
}

/// The engine behind the [`Generator`] seam, for the sweep.
pub fn generator(args: &EngineArgs) -> Result<Box<dyn Generator>> {
    Ok(Box::new(engine(args)?))
}
