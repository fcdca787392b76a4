//! Trains lcb's embedded offline model: a tiny Qwen3-architecture model that has memorised
//! short solutions to lcb's fixture problems, so that `lcb sweep` with no arguments draws a
//! real pass-rate-vs-temperature curve without downloading anything.
//!
//! ```text
//! cargo run --release -p lcb-examples --example train_tiny_qwen3 -- --seed 0 --out fixtures/model
//! cargo run --release -p lcb-examples --example train_tiny_qwen3 -- --check --out fixtures/model
//! ```
//!
//! Training (CPU, f32, deterministic for a given `--seed`):
//!
//! 1. a byte-level BPE tokenizer is trained on the fixture prompts and the training solutions,
//!    with Qwen3's normalizer, pre-tokenizer, decoder and its 26 added tokens (`<|endoftext|>`,
//!    `<|im_start|>`, `<|im_end|>`, …, `<think>`, `</think>`) in Qwen3's order, after the BPE
//!    vocabulary;
//! 2. each training example is LCB's generic chat prompt (`lcb_core::prompt::generic_messages`)
//!    rendered with the real Qwen3 chat template by lcb-engine's renderer, the one the sweep
//!    uses (`add_generation_prompt = true`, `enable_thinking = false`; checked byte for byte
//!    against transformers' renders), followed by the target
//!    ```` "```python\n" + variant + "\n```" ```` and `<|im_end|>`; the loss is on the target
//!    tokens only. Problems with `difficulty == "hard"` are held out entirely;
//! 3. the model is a standard Qwen3 (q/k RMSNorm, RoPE, GQA, SwiGLU, tied embeddings) written
//!    here with differentiable candle ops (candle-transformers' `qwen3` uses fused CPU kernels —
//!    RMSNorm, RoPE, softmax, flash attention — that have no backward pass), trained with AdamW;
//! 4. the Hugging Face layout is written to `--out`: `config.json`, `model.safetensors`,
//!    `tokenizer.json`, `tokenizer_config.json` (the Qwen3 chat template, eos `<|im_end|>`),
//!    `generation_config.json`.
//!
//! `--check` loads what was written with candle-transformers' own `qwen3` model (an independent
//! implementation), decodes every fixture prompt greedily and at a few temperatures, extracts
//! the code with LCB's rule and grades it with lcb's sandboxed LiveCodeBench grader.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, ensure, Context, Result};
use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use clap::Parser;
use lcb_core::evaluator::{Evaluator, GradeRequest};
use lcb_core::extract::extract_code;
use lcb_core::problem::{LcbProblem, Problem};
use lcb_core::prompt::generic_messages;
use lcb_engine::chat_template::{ChatTemplate, RenderOptions};
use serde_json::{json, Value};
use tokenizers::{AddedToken, Tokenizer};

#[derive(Parser, Debug)]
#[command(about = "Train (or --check) lcb's tiny embedded Qwen3 model")]
struct Args {
    /// Seed of the weight initialisation and of the data order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output directory (Hugging Face layout).
    #[arg(long, default_value = "fixtures/model")]
    out: PathBuf,
    /// LiveCodeBench-format fixture problems.
    #[arg(long, default_value = "fixtures/problems/lcb_fixtures.jsonl")]
    problems: PathBuf,
    /// `{"question_id", "variants": [...]}` per problem.
    #[arg(long, default_value = "fixtures/problems/solutions.jsonl")]
    solutions: PathBuf,
    /// The vendored real Qwen3 tokenizer (tokenizer.json.gz, tokenizer_config.json,
    /// chat_template_refs.json).
    #[arg(long, default_value = "fixtures/tokenizer/qwen3")]
    qwen3_tokenizer: PathBuf,
    /// Do not train: load the model in `--out`, decode every problem and grade the programs.
    #[arg(long)]
    check: bool,

    /// Total vocabulary (BPE tokens + Qwen3's 26 added tokens).
    #[arg(long, default_value_t = 1536)]
    vocab: usize,
    /// Minimum pair frequency for a BPE merge.
    #[arg(long, default_value_t = 2)]
    bpe_min_frequency: u64,
    #[arg(long, default_value_t = 128)]
    hidden: usize,
    #[arg(long, default_value_t = 2)]
    layers: usize,
    #[arg(long, default_value_t = 4)]
    heads: usize,
    #[arg(long, default_value_t = 2)]
    kv_heads: usize,
    #[arg(long, default_value_t = 32)]
    head_dim: usize,
    #[arg(long, default_value_t = 384)]
    intermediate: usize,
    #[arg(long, default_value_t = 4096)]
    max_position_embeddings: usize,

    #[arg(long, default_value_t = 40)]
    epochs: usize,
    #[arg(long, default_value_t = 4)]
    batch_size: usize,
    /// Peak learning rate (linear warm-up, cosine decay to 10%).
    #[arg(long, default_value_t = 3e-3)]
    lr: f64,
    #[arg(long, default_value_t = 20)]
    warmup_steps: usize,
    /// Global gradient-norm clip.
    #[arg(long, default_value_t = 1.0)]
    clip: f64,

    /// CPU threads for candle. 1 is fastest on a small, busy machine (candle's parallel
    /// kernels spin-wait on each other when cores are shared), and it is what the committed
    /// model was trained with.
    #[arg(long, default_value_t = 1)]
    threads: usize,

    /// `--check`: samples per problem at each temperature (0: greedy only).
    #[arg(long, default_value_t = 5)]
    samples: usize,
    /// `--check`: temperatures to sample at (greedy is always run).
    #[arg(long, value_delimiter = ',', default_value = "0.5,1.0,1.5,2.0")]
    temperatures: Vec<f64>,
    /// `--check`: print the greedy output of these problems (question ids).
    #[arg(long, value_delimiter = ',')]
    show: Vec<String>,
    /// `--check`: also write every rendered prompt, its token ids and the greedy output to
    /// this JSONL file.
    #[arg(long)]
    dump_prompts: Option<PathBuf>,
    /// `--check`: new-token limit per sample.
    #[arg(long, default_value_t = 512)]
    max_new_tokens: usize,
}

// ------------------------------------------------------------------------------ random numbers

/// SplitMix64: a tiny, portable, seedable generator (no dependency on candle's CPU RNG, which
/// cannot be seeded).
struct Rng(u64);

impl Rng {
    fn new(seed: u64, stream: u64) -> Self {
        let mut r = Rng(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        r.next_u64();
        r
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

// ------------------------------------------------------------------------------ chat template

/// The chat template of a `tokenizer_config.json`, through lcb-engine's renderer (the one the
/// sweep uses, so training prompts and sweep prompts are the same bytes).
fn load_template(tokenizer_config: &Path) -> Result<ChatTemplate> {
    ChatTemplate::from_files(Some(tokenizer_config), None)?
        .with_context(|| format!("{}: no chat template", tokenizer_config.display()))
}

/// LCB's generic prompt for a problem, as `lcb sweep` renders it by default
/// (`add_generation_prompt = true`, thinking off).
fn lcb_prompt(tmpl: &ChatTemplate, problem: &LcbProblem) -> Result<String> {
    let options = RenderOptions {
        add_generation_prompt: true,
        enable_thinking: Some(false),
        tools: None,
    };
    Ok(tmpl.render_messages(&generic_messages(problem), &options)?)
}

/// Checks the renderer against transformers' renders of the same template, byte for byte.
fn check_template_refs(tmpl: &ChatTemplate, refs_path: &Path) -> Result<()> {
    let refs: Value = serde_json::from_str(&std::fs::read_to_string(refs_path)?)?;
    let cases = refs["cases"]
        .as_array()
        .context("chat_template_refs.json: no cases")?;
    let mut bad = Vec::new();
    for case in cases {
        let options = RenderOptions {
            add_generation_prompt: case["add_generation_prompt"].as_bool().unwrap_or(false),
            enable_thinking: case["enable_thinking"].as_bool(),
            tools: Some(case["tools"].clone()).filter(|t| !t.is_null()),
        };
        let text = tmpl.render(&case["messages"], &options)?;
        if text != case["text"].as_str().unwrap_or_default() {
            bad.push(case["name"].as_str().unwrap_or("?").to_owned());
        }
    }
    ensure!(
        bad.is_empty(),
        "chat template renders differ from transformers for {bad:?}"
    );
    println!(
        "chat template: all {} transformers reference renders match byte for byte",
        cases.len()
    );
    Ok(())
}

// ------------------------------------------------------------------------------ data

struct Fixture {
    problem: Problem,
    variants: Vec<String>,
}

impl Fixture {
    fn lcb(&self) -> &LcbProblem {
        self.problem.as_lcb().expect("LCB problem")
    }
    fn held_out(&self) -> bool {
        self.lcb().difficulty == "hard"
    }
}

fn load_fixtures(args: &Args) -> Result<Vec<Fixture>> {
    let set = lcb_core::dataset::load_files(std::slice::from_ref(&args.problems))
        .with_context(|| format!("loading {}", args.problems.display()))?;
    let mut variants: HashMap<String, Vec<String>> = HashMap::new();
    let text = std::fs::read_to_string(&args.solutions)
        .with_context(|| format!("reading {}", args.solutions.display()))?;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)?;
        let id = v["question_id"]
            .as_str()
            .context("solution without question_id")?;
        let codes = v["variants"]
            .as_array()
            .context("solution without variants")?
            .iter()
            .map(|c| {
                c.as_str()
                    .map(str::to_owned)
                    .context("variant is not a string")
            })
            .collect::<Result<Vec<_>>>()?;
        variants.insert(id.to_owned(), codes);
    }
    set.problems()
        .iter()
        .map(|p| {
            ensure!(
                p.as_lcb().is_some(),
                "{}: not a LiveCodeBench problem",
                p.id()
            );
            let v = variants
                .remove(p.id())
                .with_context(|| format!("{}: no solutions", p.id()))?;
            Ok(Fixture {
                problem: p.clone(),
                variants: v,
            })
        })
        .collect()
}

fn target_text(variant: &str) -> String {
    format!("```python\n{variant}\n```")
}

// ------------------------------------------------------------------------------ tokenizer

fn read_qwen3_tokenizer_json(dir: &Path) -> Result<Value> {
    let path = dir.join("tokenizer.json.gz");
    let file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let reader = flate2::read::GzDecoder::new(std::io::BufReader::new(file));
    Ok(serde_json::from_reader(reader)?)
}

/// Trains a byte-level BPE with Qwen3's pipeline and appends Qwen3's added tokens.
fn train_tokenizer(
    qwen: &Value,
    corpus: &[String],
    vocab_total: usize,
    min_frequency: u64,
) -> Result<Tokenizer> {
    use tokenizers::models::bpe::BpeTrainerBuilder;
    use tokenizers::models::TrainerWrapper;
    use tokenizers::pre_tokenizers::byte_level::ByteLevel;

    let added = qwen["added_tokens"].as_array().context("no added_tokens")?;
    let n_added = added.len();
    ensure!(vocab_total > 256 + n_added, "--vocab too small");
    let bpe_size = vocab_total - n_added;

    let skeleton = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [],
        "normalizer": qwen["normalizer"],
        "pre_tokenizer": qwen["pre_tokenizer"],
        "post_processor": qwen["post_processor"],
        "decoder": qwen["decoder"],
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null,
            "continuing_subword_prefix": "", "end_of_word_suffix": "",
            "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": {}, "merges": []
        }
    });
    let mut tok = Tokenizer::from_bytes(serde_json::to_vec(&skeleton)?)
        .map_err(|e| anyhow!("tokenizer skeleton: {e}"))?;
    let mut trainer: TrainerWrapper = BpeTrainerBuilder::new()
        .vocab_size(bpe_size)
        .min_frequency(min_frequency)
        .show_progress(false)
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build()
        .into();
    tok.train(&mut trainer, corpus.iter())
        .map_err(|e| anyhow!("BPE training: {e}"))?;
    let learned = tok.get_vocab_size(false);
    ensure!(
        learned == bpe_size,
        "BPE learned {learned} tokens, wanted {bpe_size}: lower --vocab"
    );
    // Qwen3's added tokens, in Qwen3's id order, right after the BPE vocabulary.
    let mut sorted: Vec<&Value> = added.iter().collect();
    sorted.sort_by_key(|t| t["id"].as_u64());
    for t in sorted {
        let content = t["content"].as_str().context("added token content")?;
        let special = t["special"].as_bool().unwrap_or(false);
        let token = AddedToken::from(content.to_owned(), special)
            .single_word(t["single_word"].as_bool().unwrap_or(false))
            .lstrip(t["lstrip"].as_bool().unwrap_or(false))
            .rstrip(t["rstrip"].as_bool().unwrap_or(false))
            .normalized(t["normalized"].as_bool().unwrap_or(false));
        if special {
            tok.add_special_tokens(&[token]);
        } else {
            tok.add_tokens(&[token]);
        }
    }
    ensure!(
        tok.get_vocab_size(true) == vocab_total,
        "vocabulary size mismatch"
    );
    for t in added {
        let content = t["content"].as_str().unwrap_or_default();
        ensure!(
            tok.token_to_id(content).is_some(),
            "added token {content} missing"
        );
    }
    Ok(tok)
}

fn encode(tok: &Tokenizer, text: &str) -> Result<Vec<u32>> {
    Ok(tok
        .encode(text, false)
        .map_err(|e| anyhow!("encode: {e}"))?
        .get_ids()
        .to_vec())
}

fn token_id(tok: &Tokenizer, s: &str) -> Result<u32> {
    tok.token_to_id(s)
        .with_context(|| format!("token {s} missing"))
}

// ------------------------------------------------------------------------------ model

#[derive(Debug, Clone)]
struct ModelCfg {
    vocab: usize,
    hidden: usize,
    intermediate: usize,
    layers: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    rope_theta: f64,
    eps: f64,
    max_pos: usize,
}

/// A Qwen3 decoder built from differentiable candle ops, parameters named as in Hugging Face
/// `Qwen3ForCausalLM` (tied embeddings: no `lm_head.weight`).
struct TrainModel {
    cfg: ModelCfg,
    names: Vec<String>,
    vars: HashMap<String, Var>,
    cos: Tensor,
    sin: Tensor,
}

impl TrainModel {
    fn new(cfg: &ModelCfg, seed: u64, dev: &Device) -> Result<Self> {
        let mut rng = Rng::new(seed, 1);
        let mut names = Vec::new();
        let mut vars = HashMap::new();
        let std = 0.02;
        let mut add = |name: String, shape: &[usize], normal: bool| -> Result<()> {
            let n: usize = shape.iter().product();
            let data: Vec<f32> = if normal {
                (0..n).map(|_| (rng.normal() * std) as f32).collect()
            } else {
                vec![1.0; n]
            };
            let t = Tensor::from_vec(data, shape, dev)?;
            vars.insert(name.clone(), Var::from_tensor(&t)?);
            names.push(name);
            Ok(())
        };
        let (h, hd) = (cfg.hidden, cfg.head_dim);
        add("model.embed_tokens.weight".into(), &[cfg.vocab, h], true)?;
        for i in 0..cfg.layers {
            let p = format!("model.layers.{i}.");
            add(format!("{p}input_layernorm.weight"), &[h], false)?;
            add(
                format!("{p}self_attn.q_proj.weight"),
                &[cfg.heads * hd, h],
                true,
            )?;
            add(
                format!("{p}self_attn.k_proj.weight"),
                &[cfg.kv_heads * hd, h],
                true,
            )?;
            add(
                format!("{p}self_attn.v_proj.weight"),
                &[cfg.kv_heads * hd, h],
                true,
            )?;
            add(
                format!("{p}self_attn.o_proj.weight"),
                &[h, cfg.heads * hd],
                true,
            )?;
            add(format!("{p}self_attn.q_norm.weight"), &[hd], false)?;
            add(format!("{p}self_attn.k_norm.weight"), &[hd], false)?;
            add(format!("{p}post_attention_layernorm.weight"), &[h], false)?;
            add(
                format!("{p}mlp.gate_proj.weight"),
                &[cfg.intermediate, h],
                true,
            )?;
            add(
                format!("{p}mlp.up_proj.weight"),
                &[cfg.intermediate, h],
                true,
            )?;
            add(
                format!("{p}mlp.down_proj.weight"),
                &[h, cfg.intermediate],
                true,
            )?;
        }
        add("model.norm.weight".into(), &[h], false)?;

        // RoPE tables exactly as candle-transformers / transformers compute them.
        let inv_freq: Vec<f32> = (0..hd)
            .step_by(2)
            .map(|i| 1f32 / cfg.rope_theta.powf(i as f64 / hd as f64) as f32)
            .collect();
        let n_freq = inv_freq.len();
        let inv_freq = Tensor::from_vec(inv_freq, (1, n_freq), dev)?;
        let t = Tensor::arange(0u32, cfg.max_pos as u32, dev)?
            .to_dtype(DType::F32)?
            .reshape((cfg.max_pos, 1))?;
        let freqs = t.matmul(&inv_freq)?;
        Ok(TrainModel {
            cfg: cfg.clone(),
            names,
            vars,
            cos: Tensor::cat(&[&freqs.cos()?, &freqs.cos()?], 1)?,
            sin: Tensor::cat(&[&freqs.sin()?, &freqs.sin()?], 1)?,
        })
    }

    fn p(&self, name: &str) -> &Tensor {
        self.vars[name].as_tensor()
    }

    fn all_vars(&self) -> Vec<Var> {
        self.names.iter().map(|n| self.vars[n].clone()).collect()
    }

    fn num_params(&self) -> usize {
        self.vars.values().map(|v| v.elem_count()).sum()
    }

    /// Final hidden states of right-padded `ids` `(B, L)` at the query positions `qpos`
    /// (`B*T` positions, `T` per sequence, row-major), shape `(B*T, H)`.
    ///
    /// Only the loss positions need the last layer's queries, attention and MLP: that layer
    /// computes keys and values everywhere but everything else at `qpos` only (the result
    /// is the same as running it everywhere and selecting the rows afterwards).
    fn forward(&self, ids: &Tensor, qpos: &[u32]) -> Result<Tensor> {
        let c = &self.cfg;
        let (b, l) = ids.dims2()?;
        let t = qpos.len() / b;
        let dev = ids.device();
        let (nh, nkv, hd) = (c.heads, c.kv_heads, c.head_dim);
        let scale = 1.0 / (hd as f64).sqrt();
        // Full-length layers: causal mask (L, L) and RoPE tables (L, D).
        let mask: Vec<f32> = (0..l)
            .flat_map(|i| (0..l).map(move |j| if j > i { -1e9 } else { 0.0 }))
            .collect();
        let mask = Tensor::from_vec(mask, (l, l), dev)?;
        let cos = self.cos.narrow(0, 0, l)?;
        let sin = self.sin.narrow(0, 0, l)?;
        // Last layer: queries at `qpos` only.
        let qmask: Vec<f32> = qpos
            .iter()
            .flat_map(|&p| (0..l).map(move |j| if j > p as usize { -1e9 } else { 0.0 }))
            .collect();
        let qmask = Tensor::from_vec(qmask, (b, 1, t, l), dev)?;
        let qpos_t = Tensor::from_vec(qpos.to_vec(), b * t, dev)?;
        let qcos = self.cos.index_select(&qpos_t, 0)?.reshape((b, 1, t, hd))?;
        let qsin = self.sin.index_select(&qpos_t, 0)?.reshape((b, 1, t, hd))?;
        let rows: Vec<u32> = qpos
            .iter()
            .enumerate()
            .map(|(r, &p)| (r / t * l) as u32 + p)
            .collect();
        let rows = Tensor::from_vec(rows, b * t, dev)?;

        let mut x = self
            .p("model.embed_tokens.weight")
            .index_select(&ids.flatten_all()?, 0)?; // (B*L, H)
        for i in 0..c.layers {
            let last = i + 1 == c.layers;
            let p = |s: &str| self.p(&format!("model.layers.{i}.{s}"));
            let h = rms_norm(&x, p("input_layernorm.weight"), c.eps)?;
            let k = h.matmul(&p("self_attn.k_proj.weight").t()?)?;
            let v = h.matmul(&p("self_attn.v_proj.weight").t()?)?;
            let k = rms_norm(
                &k.reshape((b, l, nkv, hd))?,
                p("self_attn.k_norm.weight"),
                c.eps,
            )?
            .transpose(1, 2)?
            .contiguous()?;
            let v = v.reshape((b, l, nkv, hd))?.transpose(1, 2)?.contiguous()?;
            let k = rope(&k, &cos, &sin)?;
            let k = candle_transformers::utils::repeat_kv(k, nh / nkv)?.contiguous()?;
            let v = candle_transformers::utils::repeat_kv(v, nh / nkv)?.contiguous()?;
            let (h, lq) = if last {
                x = x.index_select(&rows, 0)?;
                (h.index_select(&rows, 0)?, t)
            } else {
                (h, l)
            };
            let q = h.matmul(&p("self_attn.q_proj.weight").t()?)?;
            let q = rms_norm(
                &q.reshape((b, lq, nh, hd))?,
                p("self_attn.q_norm.weight"),
                c.eps,
            )?
            .transpose(1, 2)?
            .contiguous()?;
            let q = if last {
                rope(&q, &qcos, &qsin)?
            } else {
                rope(&q, &cos, &sin)?
            };
            let att = (q.matmul(&k.t()?)? * scale)?;
            let att = if last {
                att.broadcast_add(&qmask)?
            } else {
                att.broadcast_add(&mask)?
            };
            let att = candle_nn::ops::softmax(&att, D::Minus1)?;
            let o = att
                .matmul(&v)?
                .transpose(1, 2)?
                .reshape((b * lq, nh * hd))?
                .matmul(&p("self_attn.o_proj.weight").t()?)?;
            x = (x + o)?;
            let h = rms_norm(&x, p("post_attention_layernorm.weight"), c.eps)?;
            let g = h.matmul(&p("mlp.gate_proj.weight").t()?)?.silu()?;
            let u = h.matmul(&p("mlp.up_proj.weight").t()?)?;
            x = (x + (g * u)?.matmul(&p("mlp.down_proj.weight").t()?)?)?;
        }
        Ok(rms_norm(&x, self.p("model.norm.weight"), c.eps)?)
    }

    fn save_safetensors(&self, path: &Path) -> Result<()> {
        let mut bufs: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for name in &self.names {
            let t = self.p(name);
            let data: Vec<f32> = t.flatten_all()?.to_vec1()?;
            let bytes: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
            bufs.push((name.clone(), t.dims().to_vec(), bytes));
        }
        let views = bufs
            .iter()
            .map(|(n, shape, bytes)| {
                Ok((
                    n.clone(),
                    safetensors::tensor::TensorView::new(
                        safetensors::Dtype::F32,
                        shape.clone(),
                        bytes,
                    )?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let metadata = HashMap::from([("format".to_owned(), "pt".to_owned())]);
        safetensors::serialize_to_file(views, Some(metadata), path)?;
        // Same permissions as the other files (the writer creates it owner-only).
        let mut perms = std::fs::metadata(path)?.permissions();
        #[cfg(unix)]
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o644);
        std::fs::set_permissions(path, perms)?;
        Ok(())
    }
}

/// HF `apply_rotary_pos_emb` (non-interleaved halves): `x * cos + rotate_half(x) * sin`,
/// `cos`/`sin` full-width (`[freqs, freqs]`) and broadcastable to `x` `(B, H, L, D)`.
fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> candle_core::Result<Tensor> {
    let d = x.dim(D::Minus1)?;
    let x1 = x.narrow(D::Minus1, 0, d / 2)?;
    let x2 = x.narrow(D::Minus1, d / 2, d / 2)?;
    let rotated = Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)?;
    x.broadcast_mul(cos)? + rotated.broadcast_mul(sin)?
}

/// `x / sqrt(mean(x^2) + eps) * w` over the last dimension (HF `Qwen3RMSNorm`).
fn rms_norm(x: &Tensor, w: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
    let ms = x.sqr()?.mean_keepdim(D::Minus1)?;
    x.broadcast_div(&(ms + eps)?.sqrt()?)?.broadcast_mul(w)
}

// ------------------------------------------------------------------------------ training

struct Example {
    ids: Vec<u32>,
    prompt_len: usize,
}

fn train(args: &Args) -> Result<()> {
    let t_start = Instant::now();
    let dev = Device::Cpu;
    let fixtures = load_fixtures(args)?;
    let qdir = &args.qwen3_tokenizer;
    let qwen_cfg: Value = serde_json::from_str(&std::fs::read_to_string(
        qdir.join("tokenizer_config.json"),
    )?)?;
    let tmpl = load_template(&qdir.join("tokenizer_config.json"))?;
    check_template_refs(&tmpl, &qdir.join("chat_template_refs.json"))?;

    let prompts: Vec<String> = fixtures
        .iter()
        .map(|f| lcb_prompt(&tmpl, f.lcb()))
        .collect::<Result<_>>()?;
    let train_set: Vec<usize> = (0..fixtures.len())
        .filter(|&i| !fixtures[i].held_out())
        .collect();
    let held: Vec<&str> = fixtures
        .iter()
        .filter(|f| f.held_out())
        .map(|f| f.problem.id())
        .collect();
    println!(
        "{} problems: training on {}, holding out {} hard ones {:?}",
        fixtures.len(),
        train_set.len(),
        held.len(),
        held
    );

    // Tokenizer corpus: every prompt's message texts (the special tokens are added tokens),
    // and the training targets. Held-out solutions are never seen.
    let qwen_tok = read_qwen3_tokenizer_json(qdir)?;
    let mut corpus: Vec<String> = Vec::new();
    for f in &fixtures {
        for m in generic_messages(f.lcb()) {
            corpus.push(m.content);
        }
    }
    for &i in &train_set {
        for v in &fixtures[i].variants {
            corpus.push(target_text(v));
        }
    }
    let tok = train_tokenizer(&qwen_tok, &corpus, args.vocab, args.bpe_min_frequency)?;
    let im_end = token_id(&tok, "<|im_end|>")?;
    let endoftext = token_id(&tok, "<|endoftext|>")?;

    let mut examples = Vec::new();
    for &i in &train_set {
        let prompt_ids = encode(&tok, &prompts[i])?;
        for v in &fixtures[i].variants {
            let mut ids = prompt_ids.clone();
            ids.extend(encode(&tok, &target_text(v))?);
            ids.push(im_end);
            examples.push(Example {
                ids,
                prompt_len: prompt_ids.len(),
            });
        }
    }
    let lens: Vec<usize> = examples.iter().map(|e| e.ids.len()).collect();
    let targets: usize = examples.iter().map(|e| e.ids.len() - e.prompt_len).sum();
    let all_prompt_lens: Vec<usize> = prompts
        .iter()
        .map(|p| encode(&tok, p).map(|v| v.len()))
        .collect::<Result<_>>()?;
    println!(
        "tokenizer: {} tokens; prompts {}..{} tokens; {} examples, {}..{} tokens, {} target tokens",
        tok.get_vocab_size(true),
        all_prompt_lens.iter().min().unwrap(),
        all_prompt_lens.iter().max().unwrap(),
        examples.len(),
        lens.iter().min().unwrap(),
        lens.iter().max().unwrap(),
        targets
    );

    let cfg = ModelCfg {
        vocab: args.vocab,
        hidden: args.hidden,
        intermediate: args.intermediate,
        layers: args.layers,
        heads: args.heads,
        kv_heads: args.kv_heads,
        head_dim: args.head_dim,
        rope_theta: 1_000_000.0,
        eps: 1e-6,
        max_pos: args.max_position_embeddings,
    };
    ensure!(
        cfg.heads.is_multiple_of(cfg.kv_heads),
        "heads must be a multiple of kv_heads"
    );
    ensure!(
        *lens.iter().max().unwrap() <= cfg.max_pos,
        "sequence longer than max_position_embeddings"
    );
    let model = TrainModel::new(&cfg, args.seed, &dev)?;
    println!("model: {} parameters", model.num_params());

    let vars = model.all_vars();
    let mut opt = AdamW::new(
        vars.clone(),
        ParamsAdamW {
            lr: args.lr,
            beta1: 0.9,
            beta2: 0.98,
            eps: 1e-8,
            weight_decay: 0.0,
        },
    )?;
    let steps_per_epoch = examples.len().div_ceil(args.batch_size);
    let total_steps = steps_per_epoch * args.epochs;
    let mut rng = Rng::new(args.seed, 2);
    let mut step = 0usize;
    let t_train = Instant::now();
    for epoch in 0..args.epochs {
        // Shuffle, then sort windows of 4 batches by length (less padding).
        let mut order: Vec<usize> = (0..examples.len()).collect();
        rng.shuffle(&mut order);
        for w in order.chunks_mut(args.batch_size * 4) {
            w.sort_by_key(|&i| (examples[i].ids.len(), i));
        }
        let mut batches: Vec<&[usize]> = order.chunks(args.batch_size).collect();
        rng.shuffle(&mut batches);
        let (mut loss_sum, mut tok_sum) = (0f64, 0usize);
        for chunk in batches {
            let lr = lr_at(step, total_steps, args.warmup_steps, args.lr);
            opt.set_learning_rate(lr);
            let lmax = chunk.iter().map(|&i| examples[i].ids.len()).max().unwrap();
            let tmax = chunk
                .iter()
                .map(|&i| examples[i].ids.len() - examples[i].prompt_len)
                .max()
                .unwrap();
            let mut input = vec![endoftext; chunk.len() * lmax];
            let (mut qpos, mut keep, mut tgt) = (Vec::new(), Vec::new(), Vec::new());
            for (b, &i) in chunk.iter().enumerate() {
                let e = &examples[i];
                input[b * lmax..b * lmax + e.ids.len()].copy_from_slice(&e.ids);
                for j in 0..tmax {
                    // Position whose output predicts token `pos + 1`; padding rows repeat
                    // the last real one and are dropped by `keep`.
                    let pos = (e.prompt_len - 1 + j).min(e.ids.len() - 2);
                    qpos.push(pos as u32);
                    if pos == e.prompt_len - 1 + j {
                        keep.push((b * tmax + j) as u32);
                        tgt.push(e.ids[pos + 1]);
                    }
                }
            }
            let n = tgt.len();
            let input = Tensor::from_vec(input, (chunk.len(), lmax), &dev)?;
            let keep = Tensor::from_vec(keep, n, &dev)?;
            let tgt = Tensor::from_vec(tgt, n, &dev)?;
            let hidden = model.forward(&input, &qpos)?.index_select(&keep, 0)?;
            let logits = hidden.matmul(&model.p("model.embed_tokens.weight").t()?)?;
            let loss = candle_nn::loss::cross_entropy(&logits, &tgt)?;
            let mut grads = loss.backward()?;
            clip_grads(&vars, &mut grads, args.clip)?;
            opt.step(&grads)?;
            loss_sum += loss.to_scalar::<f32>()? as f64 * n as f64;
            tok_sum += n;
            step += 1;
        }
        let epoch_loss = loss_sum / tok_sum as f64;
        let secs = t_train.elapsed().as_secs_f64();
        println!(
            "epoch {:3}/{}  loss {:.4}  lr {:.2e}  {:.0}s",
            epoch + 1,
            args.epochs,
            epoch_loss,
            lr_at(
                step.saturating_sub(1),
                total_steps,
                args.warmup_steps,
                args.lr
            ),
            secs
        );
    }

    write_outputs(args, &cfg, &model, &tok, &qwen_cfg, im_end, endoftext)?;
    let total = t_start.elapsed().as_secs_f64();
    println!(
        "wrote {} ({} steps, training {:.0}s, total {:.0}s)",
        args.out.display(),
        total_steps,
        t_train.elapsed().as_secs_f64(),
        total
    );
    Ok(())
}

fn lr_at(step: usize, total: usize, warmup: usize, peak: f64) -> f64 {
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let progress = (step - warmup) as f64 / (total.saturating_sub(warmup)).max(1) as f64;
    let floor = 0.1 * peak;
    floor + (peak - floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos())
}

fn clip_grads(vars: &[Var], grads: &mut candle_core::backprop::GradStore, max: f64) -> Result<()> {
    let mut sq = 0f64;
    for v in vars {
        if let Some(g) = grads.get(v.as_tensor()) {
            sq += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
        }
    }
    let norm = sq.sqrt();
    if norm > max {
        let s = max / norm;
        for v in vars {
            if let Some(g) = grads.get(v.as_tensor()) {
                let g = (g * s)?;
                grads.insert(v.as_tensor(), g);
            }
        }
    }
    Ok(())
}

fn write_json(path: &Path, v: &Value) -> Result<()> {
    let mut text = serde_json::to_string_pretty(v)?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn write_outputs(
    args: &Args,
    cfg: &ModelCfg,
    model: &TrainModel,
    tok: &Tokenizer,
    qwen_cfg: &Value,
    im_end: u32,
    endoftext: u32,
) -> Result<()> {
    let out = &args.out;
    std::fs::create_dir_all(out)?;
    write_json(
        &out.join("config.json"),
        &json!({
            "architectures": ["Qwen3ForCausalLM"],
            "attention_bias": false,
            "attention_dropout": 0.0,
            "bos_token_id": endoftext,
            "eos_token_id": im_end,
            "head_dim": cfg.head_dim,
            "hidden_act": "silu",
            "hidden_size": cfg.hidden,
            "initializer_range": 0.02,
            "intermediate_size": cfg.intermediate,
            "max_position_embeddings": cfg.max_pos,
            "max_window_layers": cfg.layers,
            "model_type": "qwen3",
            "num_attention_heads": cfg.heads,
            "num_hidden_layers": cfg.layers,
            "num_key_value_heads": cfg.kv_heads,
            "rms_norm_eps": cfg.eps,
            "rope_scaling": null,
            "rope_theta": cfg.rope_theta,
            "sliding_window": null,
            "tie_word_embeddings": true,
            "torch_dtype": "float32",
            "use_cache": true,
            "use_sliding_window": false,
            "vocab_size": cfg.vocab
        }),
    )?;
    write_json(
        &out.join("generation_config.json"),
        &json!({
            "bos_token_id": endoftext,
            "eos_token_id": [im_end, endoftext],
            "pad_token_id": endoftext
        }),
    )?;
    model.save_safetensors(&out.join("model.safetensors"))?;
    tok.save(out.join("tokenizer.json"), true)
        .map_err(|e| anyhow!("saving tokenizer.json: {e}"))?;

    // tokenizer_config.json: Qwen3's, with the added tokens renumbered.
    let mut tc = qwen_cfg.clone();
    let mut decoder = serde_json::Map::new();
    let old = qwen_cfg["added_tokens_decoder"]
        .as_object()
        .context("added_tokens_decoder")?;
    for (_, entry) in old {
        let content = entry["content"].as_str().context("added token content")?;
        decoder.insert(token_id(tok, content)?.to_string(), entry.clone());
    }
    tc["added_tokens_decoder"] = Value::Object(decoder);
    tc["model_max_length"] = json!(cfg.max_pos);
    write_json(&out.join("tokenizer_config.json"), &tc)?;
    Ok(())
}

// ------------------------------------------------------------------------------ check

struct Generated {
    /// Decoded text (special tokens skipped), cut before the first stop string.
    text: String,
    /// Generated ids, without the EOS token.
    ids: Vec<u32>,
    /// `eos`, `stop` or `length`.
    finish: &'static str,
    tokens: usize,
}

/// Decodes `n` continuations of `prompt` in one batch with candle-transformers' Qwen3.
#[allow(clippy::too_many_arguments)]
fn generate(
    model: &mut candle_transformers::models::qwen3::ModelForCausalLM,
    tok: &Tokenizer,
    prompt: &[u32],
    n: usize,
    temperature: f64,
    eos: &[u32],
    stops: &[&str],
    max_new: usize,
    rngs: &mut [Rng],
) -> Result<Vec<Generated>> {
    let dev = Device::Cpu;
    model.clear_kv_cache();
    let input: Vec<u32> = (0..n).flat_map(|_| prompt.iter().copied()).collect();
    let mut logits = model.forward(&Tensor::from_vec(input, (n, prompt.len()), &dev)?, 0)?;
    let mut gen: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut done: Vec<Option<(String, &'static str)>> = vec![None; n];
    for step in 0..max_new {
        let rows: Vec<Vec<f32>> = logits.squeeze(1)?.to_vec2()?;
        let mut next = Vec::with_capacity(n);
        for (r, row) in rows.iter().enumerate() {
            let t = if temperature <= 0.0 {
                argmax(row)
            } else {
                sample(row, temperature, &mut rngs[r])
            };
            next.push(t);
            if done[r].is_some() {
                continue;
            }
            if eos.contains(&t) {
                done[r] = Some((decode(tok, &gen[r])?, "eos"));
                continue;
            }
            gen[r].push(t);
            let text = decode(tok, &gen[r])?;
            if let Some(cut) = stops.iter().filter_map(|s| text.find(s)).min() {
                done[r] = Some((text[..cut].to_owned(), "stop"));
            }
        }
        if done.iter().all(Option::is_some) || step + 1 == max_new {
            break;
        }
        let pos = prompt.len() + step;
        logits = model.forward(&Tensor::from_vec(next, (n, 1), &dev)?, pos)?;
    }
    gen.iter()
        .zip(done)
        .map(|(g, d)| {
            let (text, finish) = match d {
                Some(done) => done,
                None => (decode(tok, g)?, "length"),
            };
            Ok(Generated {
                text,
                ids: g.clone(),
                finish,
                tokens: g.len(),
            })
        })
        .collect()
}

fn decode(tok: &Tokenizer, ids: &[u32]) -> Result<String> {
    tok.decode(ids, true).map_err(|e| anyhow!("decode: {e}"))
}

fn argmax(row: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in row.iter().enumerate() {
        if x > row[best] {
            best = i;
        }
    }
    best as u32
}

fn sample(row: &[f32], temperature: f64, rng: &mut Rng) -> u32 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let w: Vec<f64> = row
        .iter()
        .map(|&x| ((x as f64 - max) / temperature).exp())
        .collect();
    let total: f64 = w.iter().sum();
    let mut u = rng.uniform() * total;
    for (i, &x) in w.iter().enumerate() {
        if u < x {
            return i as u32;
        }
        u -= x;
    }
    (w.len() - 1) as u32
}

fn check(args: &Args) -> Result<()> {
    let t0 = Instant::now();
    let dev = Device::Cpu;
    let out = &args.out;
    let fixtures = load_fixtures(args)?;
    let cfg: candle_transformers::models::qwen3::Config =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json"))?)?;
    let vb = unsafe {
        candle_nn::VarBuilder::from_mmaped_safetensors(
            &[out.join("model.safetensors")],
            DType::F32,
            &dev,
        )?
    };
    let mut model = candle_transformers::models::qwen3::ModelForCausalLM::new(&cfg, vb)?;
    let tok = Tokenizer::from_file(out.join("tokenizer.json"))
        .map_err(|e| anyhow!("loading tokenizer.json: {e}"))?;
    let tmpl = load_template(&out.join("tokenizer_config.json"))?;
    check_template_refs(&tmpl, &args.qwen3_tokenizer.join("chat_template_refs.json"))?;
    let gc: Value = serde_json::from_str(&std::fs::read_to_string(
        out.join("generation_config.json"),
    )?)?;
    let eos: Vec<u32> = gc["eos_token_id"]
        .as_array()
        .context("eos_token_id")?
        .iter()
        .filter_map(|v| v.as_u64().map(|x| x as u32))
        .collect();
    // `lcb sweep`'s default stop strings.
    let stops = ["```\n```", "```\n\n", "\n\n\n"];

    // (fixture, column, sample) -> output; column 0 = greedy, 1.. = temperatures.
    let mut temps = vec![0.0];
    temps.extend(args.temperatures.iter().copied());
    let mut outputs: Vec<(usize, usize, Generated)> = Vec::new();
    let mut dump: Vec<Value> = Vec::new();
    for (fi, f) in fixtures.iter().enumerate() {
        let prompt = lcb_prompt(&tmpl, f.lcb())?;
        let ids = encode(&tok, &prompt)?;
        dump.push(json!({"question_id": f.problem.id(), "prompt": prompt, "ids": ids}));
        if fi == 0 {
            println!(
                "--- rendered prompt of {} ({} tokens) ---\n{prompt}--- end ---",
                f.problem.id(),
                ids.len()
            );
        }
        for (ci, &t) in temps.iter().enumerate() {
            let n = if t == 0.0 { 1 } else { args.samples };
            if n == 0 {
                continue;
            }
            let mut rngs: Vec<Rng> = (0..n)
                .map(|s| Rng::new(args.seed, ((fi * 64 + ci) * 1024 + s) as u64 + 17))
                .collect();
            let gens = generate(
                &mut model,
                &tok,
                &ids,
                n,
                t,
                &eos,
                &stops,
                args.max_new_tokens,
                &mut rngs,
            )?;
            for g in gens {
                outputs.push((fi, ci, g));
            }
        }
    }
    if let Some(path) = &args.dump_prompts {
        let mut text = String::new();
        for (fi, mut row) in dump.into_iter().enumerate() {
            if let Some(o) = outputs.iter().find(|o| o.0 == fi && o.1 == 0) {
                row["greedy"] = json!(o.2.text);
                row["greedy_ids"] = json!(o.2.ids);
                row["greedy_finish"] = json!(o.2.finish);
            }
            text.push_str(&serde_json::to_string(&row)?);
            text.push('\n');
        }
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    let gen_secs = t0.elapsed().as_secs_f64();
    let total_tokens: usize = outputs.iter().map(|o| o.2.tokens).sum();
    println!(
        "generated {} samples, {} tokens in {:.0}s",
        outputs.len(),
        total_tokens,
        gen_secs
    );

    let codes: Vec<String> = outputs.iter().map(|o| extract_code(&o.2.text)).collect();
    let evaluator = lcb_eval::SandboxEvaluator::new(lcb_eval::SandboxConfig::default())?;
    let requests: Vec<GradeRequest<'_>> = outputs
        .iter()
        .zip(&codes)
        .map(|(o, code)| GradeRequest {
            problem: &fixtures[o.0].problem,
            code,
        })
        .collect();
    let grades = evaluator.grade(&requests)?;

    // passed[fixture][column] = (passed, total)
    let mut passed = vec![vec![(0usize, 0usize); temps.len()]; fixtures.len()];
    for ((o, g), code) in outputs.iter().zip(&grades).zip(&codes) {
        let cell = &mut passed[o.0][o.1];
        cell.1 += 1;
        if g.passed() {
            cell.0 += 1;
        }
        if o.1 == 0 && args.show.iter().any(|id| id == fixtures[o.0].problem.id()) {
            println!(
                "--- greedy output of {} ({}) ---\n{}\n--- end ---",
                fixtures[o.0].problem.id(),
                g.verdict,
                o.2.text
            );
        }
        if o.1 == 0 && !g.passed() {
            let f = &fixtures[o.0];
            println!(
                "greedy {} ({}{}): {} — {}",
                f.problem.id(),
                f.lcb().difficulty,
                if f.held_out() { ", held out" } else { "" },
                g.verdict,
                code.lines().next().unwrap_or("<no code>")
            );
        }
    }
    println!();
    print!("{:<12} {:<7} {:>6}", "problem", "diff", "greedy");
    for t in &temps[1..] {
        print!(" {:>7}", format!("T={t}"));
    }
    println!();
    for (fi, f) in fixtures.iter().enumerate() {
        print!(
            "{:<12} {:<7} {:>6}",
            f.problem.id(),
            f.lcb().difficulty,
            if passed[fi][0].0 == 1 { "pass" } else { "FAIL" }
        );
        for c in &passed[fi][1..] {
            print!(" {:>7}", format!("{}/{}", c.0, c.1));
        }
        println!();
    }
    println!();
    println!(
        "| temperature | samples | passed | pass rate | pass rate (trained problems) | mean tokens |"
    );
    println!("|---|---|---|---|---|---|");
    for (ci, &t) in temps.iter().enumerate() {
        let lens: Vec<usize> = outputs
            .iter()
            .filter(|o| o.1 == ci)
            .map(|o| o.2.tokens)
            .collect();
        let mean_tokens = lens.iter().sum::<usize>() as f64 / lens.len().max(1) as f64;
        let (mut p, mut n, mut pt, mut nt) = (0, 0, 0, 0);
        for (fi, f) in fixtures.iter().enumerate() {
            let c = passed[fi][ci];
            p += c.0;
            n += c.1;
            if !f.held_out() {
                pt += c.0;
                nt += c.1;
            }
        }
        println!(
            "| {} | {} | {} | {:.1}% | {:.1}% | {:.0} |",
            if t == 0.0 {
                "greedy".to_owned()
            } else {
                format!("{t}")
            },
            n,
            p,
            100.0 * p as f64 / n.max(1) as f64,
            100.0 * pt as f64 / nt.max(1) as f64,
            mean_tokens
        );
    }
    println!("check took {:.0}s", t0.elapsed().as_secs_f64());
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    // Read by candle's CPU kernels and by rayon's global pool; set before either starts.
    std::env::set_var("RAYON_NUM_THREADS", args.threads.max(1).to_string());
    if args.check {
        check(&args)
    } else {
        train(&args)
    }
}
