//! Random-weight Qwen3 models of any shape, in memory or written as a real Hugging Face
//! directory (`config.json`, `generation_config.json`, `model.safetensors`): what the tests
//! load, and what `lcb bench` measures when no model is given.
//!
//! Weights are uniform with the variance of the usual `1/sqrt(fan_in)` initialisation, so
//! activations and logits stay in a realistic range through any number of layers.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::config::Qwen3Config;
use crate::error::{Error, Result};
use crate::rng::SplitMix64;

/// A small shape for tests and quick benchmarks: the real Qwen3 vocabulary (so the real
/// tokenizer works with it), four narrow layers.
pub fn tiny_config() -> Qwen3Config {
    Qwen3Config {
        vocab_size: 151_936,
        hidden_size: 256,
        intermediate_size: 768,
        num_hidden_layers: 4,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        head_dim: 64,
        max_position_embeddings: 4096,
        rope_theta: 1_000_000.0,
        rms_norm_eps: 1e-6,
        tie_word_embeddings: true,
        attention_bias: false,
        eos_token_id: vec![151_645],
    }
}

/// `count` uniform values in `[-bound, bound)`, filled in parallel, deterministic in `seed`.
fn uniform(count: usize, bound: f32, seed: u64) -> Vec<f32> {
    use rayon::prelude::*;
    const BLOCK: usize = 1 << 16;
    let mut out = vec![0f32; count];
    out.par_chunks_mut(BLOCK)
        .enumerate()
        .for_each(|(i, chunk)| {
            let mut rng = SplitMix64::new(seed ^ (i as u64).wrapping_mul(0xA076_1D64_78BD_642F));
            for x in chunk {
                *x = rng.next_symmetric() * bound;
            }
        });
    out
}

/// Random weights for `cfg` under Hugging Face names, as `dtype` tensors on `device`.
pub fn random_weights(
    cfg: &Qwen3Config,
    seed: u64,
    dtype: DType,
    device: &Device,
) -> Result<HashMap<String, Tensor>> {
    let mut next_seed = seed;
    let mut tensor = |shape: &[usize], bound: f32, offset: f32| -> Result<Tensor> {
        next_seed = next_seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let count = shape.iter().product();
        let mut values = uniform(count, bound, next_seed);
        if offset != 0.0 {
            values.iter_mut().for_each(|v| *v += offset);
        }
        Ok(Tensor::from_vec(values, shape, device)?.to_dtype(dtype)?)
    };
    // Uniform on [-a, a) has standard deviation a / sqrt(3).
    let linear = |fan_in: usize| (3.0 / fan_in as f32).sqrt();
    let (h, d, i) = (cfg.hidden_size, cfg.head_dim, cfg.intermediate_size);
    let (qh, kvh) = (cfg.num_attention_heads, cfg.num_key_value_heads);
    let mut w = HashMap::new();
    w.insert(
        "model.embed_tokens.weight".to_owned(),
        tensor(&[cfg.vocab_size, h], 1.0, 0.0)?,
    );
    for l in 0..cfg.num_hidden_layers {
        let p = format!("model.layers.{l}");
        let mut put = |name: &str, t: Tensor| {
            w.insert(format!("{p}.{name}"), t);
        };
        put("input_layernorm.weight", tensor(&[h], 0.1, 1.0)?);
        put("post_attention_layernorm.weight", tensor(&[h], 0.1, 1.0)?);
        put(
            "self_attn.q_proj.weight",
            tensor(&[qh * d, h], linear(h), 0.0)?,
        );
        put(
            "self_attn.k_proj.weight",
            tensor(&[kvh * d, h], linear(h), 0.0)?,
        );
        put(
            "self_attn.v_proj.weight",
            tensor(&[kvh * d, h], linear(h), 0.0)?,
        );
        put(
            "self_attn.o_proj.weight",
            tensor(&[h, qh * d], linear(qh * d), 0.0)?,
        );
        put("self_attn.q_norm.weight", tensor(&[d], 0.1, 1.0)?);
        put("self_attn.k_norm.weight", tensor(&[d], 0.1, 1.0)?);
        if cfg.attention_bias {
            put("self_attn.q_proj.bias", tensor(&[qh * d], 0.1, 0.0)?);
            put("self_attn.k_proj.bias", tensor(&[kvh * d], 0.1, 0.0)?);
            put("self_attn.v_proj.bias", tensor(&[kvh * d], 0.1, 0.0)?);
            put("self_attn.o_proj.bias", tensor(&[h], 0.1, 0.0)?);
        }
        put("mlp.gate_proj.weight", tensor(&[i, h], linear(h), 0.0)?);
        put("mlp.up_proj.weight", tensor(&[i, h], linear(h), 0.0)?);
        put("mlp.down_proj.weight", tensor(&[h, i], linear(i), 0.0)?);
    }
    w.insert("model.norm.weight".to_owned(), tensor(&[h], 0.1, 1.0)?);
    if !cfg.tie_word_embeddings {
        w.insert(
            "lm_head.weight".to_owned(),
            tensor(&[cfg.vocab_size, h], linear(h), 0.0)?,
        );
    }
    Ok(w)
}

/// Writes a loadable model directory: `config.json`, `generation_config.json` (EOS ids of
/// `cfg`) and `model.safetensors` with random f32 weights.
pub fn write_model_dir(cfg: &Qwen3Config, dir: &Path, seed: u64) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let write = |name: &str, value: &serde_json::Value| -> Result<()> {
        let path = dir.join(name);
        let text = serde_json::to_string_pretty(value).expect("JSON values serialize");
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
    };
    write("config.json", &cfg.to_hf_json())?;
    write(
        "generation_config.json",
        &serde_json::json!({ "eos_token_id": cfg.eos_token_id }),
    )?;
    let weights = random_weights(cfg, seed, DType::F32, &Device::Cpu)?;
    let path = dir.join("model.safetensors");
    candle_core::safetensors::save(&weights, &path)
        .map_err(|e| Error::Model(format!("{}: cannot write weights: {e}", path.display())))
}
