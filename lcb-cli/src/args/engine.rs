//! The engine's flags — devices, precision, KV-cache memory, GPU memory share, samples at
//! once and their expected length, CPU threads — shared by `lcb generate`, `lcb sweep` and `lcb bench`, and how they become
//! an [`EngineConfig`] and a loaded [`Engine`].

use anyhow::{Context, Result};
use candle_core::DType;
use lcb_core::hub::HubOptions;
use lcb_engine::device::{parse_dtype, DeviceList, DeviceSpec};
use lcb_engine::engine::parse_memory_size;
use lcb_engine::{Engine, EngineConfig};

/// `lcb generate` and `lcb bench` spell `--devices` as `--device`, as the contract does:
/// `#[command(mut_arg("devices", |a| singular_device(a, HELP)))]`.
pub fn singular_device(arg: clap::Arg, help: &'static str) -> clap::Arg {
    arg.long("device").value_name("DEVICE").help(help)
}

/// Engine settings. `--slots` has no default here: each command states its own.
#[derive(clap::Args)]
pub struct EngineFlags {
    /// Devices, e.g. `cpu` or `cuda:0,cuda:1` (one engine thread each).
    #[arg(long, default_value = "cpu")]
    pub devices: DeviceList,
    /// Weights and KV-cache precision: f32, bf16 or f16 [default: f32 on the CPU, bf16 on
    /// GPUs; bf16 on the CPU computes in f32].
    #[arg(long, value_name = "TYPE", value_parser = parse_dtype)]
    pub dtype: Option<DType>,
    /// KV-cache memory per device (e.g. 4GiB): bounds the samples decoded at once [default:
    /// 4GiB on the CPU; on GPUs, what --gpu-memory-utilization leaves].
    #[arg(long, value_name = "SIZE", value_parser = parse_memory_size)]
    pub kv_memory: Option<u64>,
    /// On GPUs without --kv-memory: the fraction of the device's memory the engine may use
    /// for weights, cache and work (memory other processes use counts against it).
    #[arg(long, value_name = "F", default_value_t = 0.9)]
    pub gpu_memory_utilization: f64,
    /// Most samples decoding at once per device (also bounded by --kv-memory) [default: as
    /// many as --kv-memory holds at --expected-tokens each, at most 4,096].
    #[arg(long, value_name = "N")]
    pub slots: Option<usize>,
    /// Tokens a sample is expected to generate: samples are admitted while the KV memory
    /// holds every decoding sample at this length. One that runs longer takes a younger
    /// sample's memory, and that sample runs again later, to the same tokens [default: 300,
    /// or --max-tokens if smaller].
    #[arg(long, value_name = "N", value_parser = super::at_least_one)]
    pub expected_tokens: Option<usize>,
    /// Prefill every prompt whole, even the head it shares with a prompt already in the
    /// cache (self-repair's question): only to measure what sharing saves, the samples are
    /// the same.
    #[arg(long)]
    pub no_prefix_sharing: bool,
    /// CPU threads for the engine's matrix work [default: $CANDLE_NUM_THREADS or
    /// $RAYON_NUM_THREADS, else one per core].
    #[arg(long, value_name = "N", value_parser = super::at_least_one)]
    pub threads: Option<usize>,
}

impl EngineFlags {
    /// Applies `--threads` (or its default) for the whole process; call it before any model
    /// is loaded, since candle sizes its thread pool once.
    ///
    /// `beside_grading`: the sweep grades on the same cores while it generates, so on the
    /// CPU it gives generation all cores but one unless told otherwise
    /// ([`lcb_engine::device::cpu_threads_beside_grading`]).
    pub fn apply_threads(&self, beside_grading: bool) {
        let threads = match self.threads {
            Some(n) => n,
            // What the environment asks for is what candle reads anyway.
            None if lcb_engine::device::cpu_threads_from_env().is_some() => return,
            None if beside_grading && self.devices.contains(&DeviceSpec::Cpu) => {
                lcb_engine::device::cpu_threads_beside_grading()
            }
            None => return,
        };
        lcb_engine::device::set_cpu_threads(threads);
        tracing::info!("engine CPU threads: {threads}");
    }

    /// The engine's configuration for samples of at most `max_new_tokens` tokens;
    /// `default_slots` is the command's `--slots` default (`None`: what the memory holds).
    pub fn engine_config(
        &self,
        max_new_tokens: usize,
        default_slots: Option<usize>,
    ) -> EngineConfig {
        EngineConfig {
            devices: self.devices.clone().into_vec(),
            dtype: self.dtype,
            kv_memory: self
                .kv_memory
                .unwrap_or_else(|| EngineConfig::default().kv_memory),
            // An explicit cache size wins over sizing from the GPU's memory.
            gpu_memory_utilization: self
                .kv_memory
                .is_none()
                .then_some(self.gpu_memory_utilization),
            max_new_tokens,
            max_slots: self.slots.or(default_slots).map(|n| n.max(1)),
            expected_new_tokens: self.expected_tokens,
            share_prefixes: !self.no_prefix_sharing,
            ..Default::default()
        }
    }
}

/// Loads `model` (a directory or hub id) on every device of `config`.
pub fn load_engine(model: &str, config: EngineConfig) -> Result<Engine> {
    Engine::load(model, &HubOptions::default(), config)
        .with_context(|| format!("cannot load the model `{model}`"))
}
