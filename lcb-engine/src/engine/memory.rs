//! How much a device holds: the key/value cache's share of a GPU's memory, the cache blocks
//! it makes, how many samples decode at once in them (at the expected sample length and at
//! the worst case), and the working memory reserved for a step's logits and attention scores.
//! [`MemoryPlan::new`] turns an [`EngineConfig`] into the plan every device runs; the CLI's
//! `lcb info` uses the same arithmetic.

use candle_core::DType;

use super::EngineConfig;
use crate::config::Qwen3Config;
use crate::device::DeviceSpec;
use crate::error::{Error, Result};
use crate::model::{blocks_for, BLOCK_TOKENS};

/// Most rows one step decodes unless `--slots` says otherwise. The shared-prompt roofline
/// of a 0.6B model on an H100 needs about 2,000 samples decoding at once; past 4,096 a step's
/// logits (2.5 GB in f32 at Qwen3's 151,936-token vocabulary) grow for little gain.
pub const MAX_DECODE_ROWS: usize = 4096;

/// What a sample is expected to generate when the caller does not say: LiveCodeBench
/// samples of small code models average a few hundred tokens. Only admission and the plan's
/// estimate use it; a longer sample preempts younger ones instead of failing.
pub const DEFAULT_EXPECTED_NEW_TOKENS: usize = 300;

/// Why a memory size did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseMemorySizeError {
    /// The number part is not a number.
    #[error("`{text}` is not a memory size (e.g. 4GiB)")]
    InvalidNumber {
        /// The text given.
        text: String,
    },
    /// The unit is none of B, K, M, G, T (with optional `iB`/`B`).
    #[error("unknown memory unit `{unit}` in `{text}` (use B, KiB, MiB, GiB or TiB)")]
    UnknownUnit {
        /// The unit as given (lower-cased).
        unit: String,
        /// The text given.
        text: String,
    },
}

/// Parses a memory size: a byte count, or a number with a unit (`512MiB`, `4GiB`, `2G`,
/// `1.5GB`; binary units, `B`, `K`, `M`, `G`, `T` with optional `iB`/`B`).
pub fn parse_memory_size(text: &str) -> std::result::Result<u64, ParseMemorySizeError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| ParseMemorySizeError::InvalidNumber {
            text: text.to_owned(),
        })?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => {
            return Err(ParseMemorySizeError::UnknownUnit {
                unit: other.to_owned(),
                text: text.to_owned(),
            })
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
/// plan's own shapes need — a full prefill chunk or every row over the longest planned
/// prompt, every row over its own tokens. Work on longer prompts is split to fit (smaller
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

/// What one device holds, the same on every device of an engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryPlan {
    /// Bytes of key/value cache per device (given, or sized from the GPU with the least
    /// room).
    pub kv_memory: u64,
    /// Cache blocks of [`BLOCK_TOKENS`] positions in it (prompts and samples alike).
    pub kv_blocks: usize,
    /// Bytes of one block, all layers.
    pub block_bytes: u64,
    /// Most rows one step decodes: `--slots` if given, else the samples that fit at the
    /// expected length (at most [`MAX_DECODE_ROWS`]).
    pub max_rows: usize,
    /// Samples that decode at once beside the resident prompts when each generates the
    /// expected number of tokens.
    pub expected_samples: usize,
    /// The same when every sample runs to `max_new_tokens` (what a fixed slot per sample
    /// would allow).
    pub worst_case_samples: usize,
    /// Most query rows × keys one attention call may score ([`attention_budget`]).
    pub attention_budget: usize,
}

impl MemoryPlan {
    /// The blocks and concurrency that `config.kv_memory` gives on one device.
    pub fn new(cfg: &Qwen3Config, dtype: DType, config: &EngineConfig) -> Result<Self> {
        let per_token = cfg.kv_bytes_per_token(dtype.size_in_bytes()) as u64;
        let block_bytes = per_token * BLOCK_TOKENS as u64;
        let kv_blocks = (config.kv_memory / block_bytes.max(1)) as usize;
        let prompt = blocks_for(config.max_prompt_tokens.max(1));
        let one_sample = blocks_for(config.max_new_tokens);
        if kv_blocks < prompt + one_sample {
            return Err(Error::Invalid(format!(
                "kv memory of {} MiB ({kv_blocks} blocks of {BLOCK_TOKENS} tokens, {} KiB per \
                 token) cannot hold a {}-token prompt plus one sample of {} tokens: raise the KV \
                 memory or lower the token limits",
                config.kv_memory >> 20,
                per_token >> 10,
                config.max_prompt_tokens,
                config.max_new_tokens,
            )));
        }
        let prompts = config.resident_prompts.max(1) * prompt;
        let left = kv_blocks.saturating_sub(prompts);
        let expected = config.expected_new_tokens().min(config.max_new_tokens);
        let expected_samples = (left / blocks_for(expected.max(1))).max(1);
        let worst_case_samples = (left / one_sample).max(1);
        let max_rows = match config.max_slots {
            Some(cap) => cap.max(1),
            None => expected_samples.min(MAX_DECODE_ROWS),
        };
        Ok(MemoryPlan {
            kv_memory: config.kv_memory,
            kv_blocks,
            block_bytes,
            max_rows,
            expected_samples,
            worst_case_samples,
            attention_budget: attention_budget(config, max_rows),
        })
    }

    /// The plan for `config.devices`: with `gpu_memory_utilization`, the cache is sized from
    /// each GPU's memory and the device with the least room sets it for all (another process
    /// on `cuda:3` must not make `cuda:3` run out of memory); otherwise `config.kv_memory`.
    pub fn for_devices(cfg: &Qwen3Config, dtype: DType, config: &EngineConfig) -> Result<Self> {
        let Some(fraction) = config.gpu_memory_utilization else {
            return Self::new(cfg, dtype, config);
        };
        let weights = (cfg.parameter_count() * dtype.size_in_bytes()) as u64;
        let rows = config
            .max_slots
            .unwrap_or(MAX_DECODE_ROWS)
            .min(MAX_DECODE_ROWS);
        let reserve = gpu_reserve(cfg, config, rows);
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
        let Some((kv, total, device)) = budget else {
            return Self::new(cfg, dtype, config);
        };
        tracing::info!(
            "KV cache: {} MiB per device ({fraction} of {} MiB on {device}, the device \
             with the least room)",
            kv >> 20,
            total >> 20,
        );
        let sized = EngineConfig {
            kv_memory: kv,
            ..config.clone()
        };
        Self::new(cfg, dtype, &sized)
    }
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
        assert_eq!(
            parse_memory_size("lots"),
            Err(ParseMemorySizeError::InvalidNumber {
                text: "lots".into()
            })
        );
        let err = parse_memory_size("3 parsecs").unwrap_err();
        assert!(
            matches!(&err, ParseMemorySizeError::UnknownUnit { unit, .. } if unit == "parsecs")
        );
        assert!(
            err.to_string().contains("use B, KiB, MiB, GiB or TiB"),
            "{err}"
        );
    }

    #[test]
    fn memory_plans_count_blocks_and_samples_at_expected_and_worst_lengths() {
        let cfg = Qwen3Config::qwen3_0_6b();
        let config = EngineConfig {
            kv_memory: 16 << 30,
            max_new_tokens: 2048,
            max_prompt_tokens: 1024,
            resident_prompts: 2,
            max_slots: None,
            expected_new_tokens: Some(300),
            ..Default::default()
        };
        // bf16: 112 KiB per token, 1.75 MiB per block: 9,362 blocks; two prompts of 64.
        let plan = MemoryPlan::new(&cfg, DType::BF16, &config).unwrap();
        assert_eq!(plan.block_bytes, 16 * 112 * 1024);
        assert_eq!(plan.kv_blocks, (16usize << 30) / (16 * 112 * 1024));
        let left = plan.kv_blocks - 2 * 64;
        // 300 tokens take 19 blocks; 2,048 take 128.
        assert_eq!(plan.expected_samples, left / 19);
        assert_eq!(plan.worst_case_samples, left / 128);
        assert_eq!(plan.max_rows, plan.expected_samples);
        // --slots caps the rows, whatever the memory.
        let capped = EngineConfig {
            max_slots: Some(100),
            ..config.clone()
        };
        assert_eq!(
            MemoryPlan::new(&cfg, DType::BF16, &capped)
                .unwrap()
                .max_rows,
            100
        );
        // A prompt plus one sample must fit.
        let small = EngineConfig {
            kv_memory: (64 + 127) * 16 * 112 * 1024,
            ..config
        };
        let err = MemoryPlan::new(&cfg, DType::BF16, &small).unwrap_err();
        assert!(
            err.to_string().contains("cannot hold a 1024-token prompt"),
            "{err}"
        );
        let just = EngineConfig {
            kv_memory: (64 + 128) * 16 * 112 * 1024,
            ..small
        };
        assert_eq!(
            MemoryPlan::new(&cfg, DType::BF16, &just).unwrap().kv_blocks,
            192
        );
    }

    #[test]
    fn a_141_gb_gpu_decodes_two_thousand_reference_samples_at_once() {
        // The reference workload on an H200 (141 GB, idle), Qwen3-0.6B in bf16: one 561-token
        // prompt, samples averaging 300 tokens, up to 2,048.
        let cfg = Qwen3Config::qwen3_0_6b();
        let config = EngineConfig {
            max_new_tokens: 2048,
            max_prompt_tokens: 561,
            expected_new_tokens: Some(300),
            ..Default::default()
        };
        let total = 141_000_000_000u64;
        let weights = (cfg.parameter_count() * 2) as u64;
        let reserve = gpu_reserve(&cfg, &config, MAX_DECODE_ROWS);
        let kv = kv_budget_from_gpu(total, total, 0.9, weights, reserve).unwrap();
        let plan = MemoryPlan::new(
            &cfg,
            DType::BF16,
            &EngineConfig {
                kv_memory: kv,
                ..config
            },
        )
        .unwrap();
        assert!(plan.expected_samples >= 2000, "{plan:?}");
        assert!(
            plan.max_rows >= 2000 && plan.max_rows <= MAX_DECODE_ROWS,
            "{plan:?}"
        );
        // A slot reserved per sample for its longest case holds about a sixth as many.
        assert!(
            plan.worst_case_samples * 5 < plan.expected_samples,
            "{plan:?}"
        );
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
            max_slots: None,
            ..defaults
        };
        let rows = MemoryPlan::new(&cfg, DType::BF16, &config)
            .unwrap()
            .max_rows;
        assert!(rows > 256, "{rows}");
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
