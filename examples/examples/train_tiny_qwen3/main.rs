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
//!
//! One concern per file: `data` (fixtures, prompts, targets), `tokenizer`, `model`, `train`,
//! `check` and `rng`; see `README.md` next to this file.

mod check;
mod data;
mod model;
mod rng;
mod tokenizer;
mod train;

use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;

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

fn main() -> Result<()> {
    let args = Args::parse();
    // Read by candle's CPU kernels and by rayon's global pool; set before either starts.
    std::env::set_var("RAYON_NUM_THREADS", args.threads.max(1).to_string());
    if args.check {
        check::run(&args)
    } else {
        train::run(&args)
    }
}
