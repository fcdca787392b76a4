//! A Qwen3 model's `config.json` and `generation_config.json`: the shape of the network and
//! the end-of-sequence ids.
//!
//! Only what the engine needs is read; options the engine does not implement (RoPE scaling,
//! sliding windows, other activations) are refused at load time rather than silently ignored.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A token id or a list of them (`eos_token_id` is either in Hugging Face files).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(u32),
    Many(Vec<u32>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<u32> {
        match self {
            OneOrMany::One(id) => vec![id],
            OneOrMany::Many(ids) => ids,
        }
    }
}

/// The fields of `config.json` as written by transformers (`Qwen3Config`).
#[derive(Debug, Deserialize)]
struct RawConfig {
    model_type: Option<String>,
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    #[serde(default = "default_max_positions")]
    max_position_embeddings: usize,
    rope_theta: Option<f64>,
    /// transformers ≥ 5 writes `{"rope_theta": …, "rope_type": "default"}` here instead.
    #[serde(default)]
    rope_parameters: Option<RopeParameters>,
    #[serde(default = "default_rms_eps")]
    rms_norm_eps: f64,
    // transformers' `PretrainedConfig` default; Qwen3-0.6B sets it to true explicitly.
    #[serde(default)]
    tie_word_embeddings: bool,
    #[serde(default)]
    attention_bias: bool,
    #[serde(default = "default_act")]
    hidden_act: String,
    #[serde(default)]
    use_sliding_window: bool,
    #[serde(default)]
    rope_scaling: Option<serde_json::Value>,
    eos_token_id: Option<OneOrMany>,
}

/// `rope_parameters` of transformers ≥ 5.
#[derive(Debug, Deserialize)]
struct RopeParameters {
    rope_theta: Option<f64>,
    rope_type: Option<String>,
}

fn default_max_positions() -> usize {
    32_768
}
fn default_rope_theta() -> f64 {
    10_000.0
}
fn default_rms_eps() -> f64 {
    1e-6
}
fn default_act() -> String {
    "silu".to_owned()
}

/// The shape and constants of a Qwen3 decoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Qwen3Config {
    /// Rows of the embedding and of the output projection.
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the SwiGLU MLP.
    pub intermediate_size: usize,
    /// Number of decoder layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (grouped-query attention: each serves
    /// `num_attention_heads / num_key_value_heads` query heads).
    pub num_key_value_heads: usize,
    /// Width of one head. Explicit in Qwen3 (128 for 0.6B, wider than
    /// `hidden_size / num_attention_heads`).
    pub head_dim: usize,
    /// Longest sequence (prompt + generated) the position table covers.
    pub max_position_embeddings: usize,
    /// RoPE base.
    pub rope_theta: f64,
    /// Epsilon of every RMSNorm.
    pub rms_norm_eps: f64,
    /// The output projection reuses the embedding matrix.
    pub tie_word_embeddings: bool,
    /// q/k/v/o projections have biases (false for Qwen3).
    pub attention_bias: bool,
    /// End-of-sequence ids from `config.json` (see [`eos_token_ids`] for the full set).
    pub eos_token_id: Vec<u32>,
}

impl Qwen3Config {
    /// Parses `config.json` text; `path` names the file in errors.
    pub fn from_json(text: &str, path: &Path) -> Result<Self> {
        let raw: RawConfig = serde_json::from_str(text)
            .map_err(|e| Error::format(path, format!("not a Qwen3 config: {e}")))?;
        if let Some(kind) = &raw.model_type {
            if kind != "qwen3" {
                return Err(Error::format(
                    path,
                    format!("model_type is `{kind}`; lcb's engine runs `qwen3` models"),
                ));
            }
        }
        if raw.hidden_act != "silu" {
            return Err(Error::format(
                path,
                format!(
                    "hidden_act `{}` is not supported (only silu)",
                    raw.hidden_act
                ),
            ));
        }
        if raw.use_sliding_window {
            return Err(Error::format(
                path,
                "sliding-window attention is not supported",
            ));
        }
        if raw.rope_scaling.as_ref().is_some_and(|v| !v.is_null()) {
            return Err(Error::format(path, "rope_scaling is not supported"));
        }
        let mut rope_theta = raw.rope_theta;
        if let Some(params) = &raw.rope_parameters {
            if let Some(kind) = params.rope_type.as_deref().filter(|k| *k != "default") {
                return Err(Error::format(
                    path,
                    format!("rope_type `{kind}` is not supported (only default RoPE)"),
                ));
            }
            rope_theta = rope_theta.or(params.rope_theta);
        }
        let kv_heads = raw.num_key_value_heads.unwrap_or(raw.num_attention_heads);
        if raw.num_attention_heads == 0
            || kv_heads == 0
            || !raw.num_attention_heads.is_multiple_of(kv_heads)
        {
            return Err(Error::format(
                path,
                format!(
                    "num_attention_heads ({}) must be a positive multiple of num_key_value_heads ({kv_heads})",
                    raw.num_attention_heads
                ),
            ));
        }
        let head_dim = raw
            .head_dim
            .unwrap_or(raw.hidden_size / raw.num_attention_heads);
        if head_dim == 0 || !head_dim.is_multiple_of(2) {
            return Err(Error::format(
                path,
                format!("head_dim {head_dim} must be even"),
            ));
        }
        Ok(Qwen3Config {
            vocab_size: raw.vocab_size,
            hidden_size: raw.hidden_size,
            intermediate_size: raw.intermediate_size,
            num_hidden_layers: raw.num_hidden_layers,
            num_attention_heads: raw.num_attention_heads,
            num_key_value_heads: kv_heads,
            head_dim,
            max_position_embeddings: raw.max_position_embeddings,
            rope_theta: rope_theta.unwrap_or_else(default_rope_theta),
            rms_norm_eps: raw.rms_norm_eps,
            tie_word_embeddings: raw.tie_word_embeddings,
            attention_bias: raw.attention_bias,
            eos_token_id: raw
                .eos_token_id
                .map(OneOrMany::into_vec)
                .unwrap_or_default(),
        })
    }

    /// Reads and parses a `config.json` file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_json(&text, path)
    }

    /// The real shape of Qwen3-0.6B (`Qwen/Qwen3-0.6B`'s `config.json`).
    pub fn qwen3_0_6b() -> Self {
        Qwen3Config {
            vocab_size: 151_936,
            hidden_size: 1024,
            intermediate_size: 3072,
            num_hidden_layers: 28,
            num_attention_heads: 16,
            num_key_value_heads: 8,
            head_dim: 128,
            max_position_embeddings: 40_960,
            rope_theta: 1_000_000.0,
            rms_norm_eps: 1e-6,
            tie_word_embeddings: true,
            attention_bias: false,
            eos_token_id: vec![151_645],
        }
    }

    /// Query heads served by one key/value head.
    pub fn group_size(&self) -> usize {
        self.num_attention_heads / self.num_key_value_heads
    }

    /// Number of weights (embeddings counted once when tied).
    pub fn parameter_count(&self) -> usize {
        let (h, d, i) = (self.hidden_size, self.head_dim, self.intermediate_size);
        let attn = h * d * (2 * self.num_attention_heads + 2 * self.num_key_value_heads) + 2 * d;
        let layer = attn + 3 * h * i + 2 * h;
        let embed = self.vocab_size * h * if self.tie_word_embeddings { 1 } else { 2 };
        self.num_hidden_layers * layer + embed + h
    }

    /// Bytes of key + value cache one token takes across all layers, at `dtype_bytes` per
    /// element (112 KiB for Qwen3-0.6B in bf16).
    pub fn kv_bytes_per_token(&self, dtype_bytes: usize) -> usize {
        2 * self.num_hidden_layers * self.num_key_value_heads * self.head_dim * dtype_bytes
    }

    /// The `config.json` text transformers would accept for this shape (used to write test and
    /// benchmark models).
    pub fn to_hf_json(&self) -> serde_json::Value {
        serde_json::json!({
            "architectures": ["Qwen3ForCausalLM"],
            "model_type": "qwen3",
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "max_position_embeddings": self.max_position_embeddings,
            "max_window_layers": self.num_hidden_layers,
            "rope_theta": self.rope_theta,
            "rope_scaling": null,
            "rms_norm_eps": self.rms_norm_eps,
            "tie_word_embeddings": self.tie_word_embeddings,
            "attention_bias": self.attention_bias,
            "attention_dropout": 0.0,
            "hidden_act": "silu",
            "sliding_window": null,
            "use_sliding_window": false,
            "use_cache": true,
            "bos_token_id": 151_643,
            "eos_token_id": match self.eos_token_id.as_slice() {
                [one] => serde_json::json!(one),
                many => serde_json::json!(many),
            },
            "torch_dtype": "float32",
        })
    }
}

/// The end-of-sequence ids generation stops on: those of `generation_config.json` (if present)
/// together with those of `config.json`, deduplicated, in first-seen order.
///
/// transformers' `generate` reads `generation_config.json` (Qwen3 lists both `<|im_end|>` and
/// `<|endoftext|>` there) and falls back to `config.json`; taking the union never misses one.
pub fn eos_token_ids(config: &Qwen3Config, generation_config: Option<&Path>) -> Result<Vec<u32>> {
    let mut ids = Vec::new();
    if let Some(path) = generation_config {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::format(path, format!("invalid JSON: {e}")))?;
        if let Some(eos) = value.get("eos_token_id").filter(|v| !v.is_null()) {
            let eos: OneOrMany = serde_json::from_value(eos.clone()).map_err(|e| {
                Error::format(path, format!("eos_token_id must be an id or a list: {e}"))
            })?;
            ids.extend(eos.into_vec());
        }
    }
    ids.extend(config.eos_token_id.iter().copied());
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(*id));
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QWEN3_06B: &str = r#"{
      "architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
      "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
      "hidden_size": 1024, "initializer_range": 0.02, "intermediate_size": 3072,
      "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
      "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8,
      "rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 1000000,
      "sliding_window": null, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
      "transformers_version": "4.51.0", "use_cache": true, "use_sliding_window": false,
      "vocab_size": 151936
    }"#;

    #[test]
    fn parses_the_real_qwen3_0_6b_config() {
        let cfg = Qwen3Config::from_json(QWEN3_06B, Path::new("config.json")).unwrap();
        assert_eq!(cfg, Qwen3Config::qwen3_0_6b());
        assert_eq!(cfg.group_size(), 2);
        // 112 KiB per token in bf16 (reference notes).
        assert_eq!(cfg.kv_bytes_per_token(2), 112 * 1024);
    }

    #[test]
    fn head_dim_defaults_to_hidden_over_heads_and_ties_default_off() {
        let text = r#"{"vocab_size": 10, "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 2, "num_attention_heads": 4, "eos_token_id": [1, 2]}"#;
        let cfg = Qwen3Config::from_json(text, Path::new("c.json")).unwrap();
        assert_eq!(cfg.head_dim, 16);
        assert_eq!(cfg.num_key_value_heads, 4);
        assert!(!cfg.tie_word_embeddings);
        assert_eq!(cfg.eos_token_id, vec![1, 2]);
    }

    #[test]
    fn reads_transformers_5_rope_parameters() {
        let text = r#"{"vocab_size": 10, "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 2, "num_attention_heads": 4,
            "rope_parameters": {"rope_theta": 1000000.0, "rope_type": "default"}}"#;
        let cfg = Qwen3Config::from_json(text, Path::new("c.json")).unwrap();
        assert_eq!(cfg.rope_theta, 1e6);
        let yarn = text.replace("\"default\"", "\"yarn\"");
        let err = Qwen3Config::from_json(&yarn, Path::new("c.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("yarn"), "{err}");
    }

    #[test]
    fn refuses_what_the_engine_does_not_implement() {
        for (patch, needle) in [
            (r#""model_type": "llama""#, "qwen3"),
            (r#""hidden_act": "gelu""#, "silu"),
            (r#""use_sliding_window": true"#, "sliding"),
            (
                r#""rope_scaling": {"type": "yarn", "factor": 4.0}"#,
                "rope_scaling",
            ),
        ] {
            let text = format!(
                r#"{{"vocab_size": 10, "hidden_size": 64, "intermediate_size": 128,
                "num_hidden_layers": 2, "num_attention_heads": 4, {patch}}}"#
            );
            let err = Qwen3Config::from_json(&text, Path::new("c.json"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn eos_ids_join_generation_config_and_config() {
        let dir = tempfile::tempdir().unwrap();
        let gen = dir.path().join("generation_config.json");
        std::fs::write(&gen, r#"{"eos_token_id": [151645, 151643], "top_k": 20}"#).unwrap();
        let cfg = Qwen3Config::qwen3_0_6b();
        assert_eq!(
            eos_token_ids(&cfg, Some(&gen)).unwrap(),
            vec![151645, 151643]
        );
        assert_eq!(eos_token_ids(&cfg, None).unwrap(), vec![151645]);
        std::fs::write(&gen, r#"{"eos_token_id": 7}"#).unwrap();
        assert_eq!(eos_token_ids(&cfg, Some(&gen)).unwrap(), vec![7, 151645]);
    }
}
