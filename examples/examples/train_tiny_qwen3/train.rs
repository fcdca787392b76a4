//! Training: prepares the data and the tokenizer, trains the model with AdamW (linear warm-up
//! then cosine decay, global gradient-norm clipping) on the target tokens only, and writes the
//! Hugging Face layout to `--out`.

use std::path::Path;
use std::time::Instant;

use anyhow::{anyhow, ensure, Context, Result};
use candle_core::{Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use serde_json::{json, Value};
use tokenizers::Tokenizer;

use crate::data::{
    check_template_refs, lcb_prompt, load_fixtures, load_template, tokenizer_corpus,
    training_examples,
};
use crate::model::{ModelCfg, TrainModel};
use crate::rng::Rng;
use crate::tokenizer::{encode, read_qwen3_tokenizer_json, token_id, train_tokenizer};
use crate::Args;

/// Trains the model and writes it, with its tokenizer and configs, to `--out`.
pub fn run(args: &Args) -> Result<()> {
    let t_start = Instant::now();
    let dev = Device::Cpu;
    let fixtures = load_fixtures(&args.problems, &args.solutions)?;
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

    let qwen_tok = read_qwen3_tokenizer_json(qdir)?;
    let corpus = tokenizer_corpus(&fixtures, &train_set);
    let tok = train_tokenizer(&qwen_tok, &corpus, args.vocab, args.bpe_min_frequency)?;
    let im_end = token_id(&tok, "<|im_end|>")?;
    let endoftext = token_id(&tok, "<|endoftext|>")?;

    let examples = training_examples(&tok, &fixtures, &prompts, &train_set, im_end)?;
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

    write_outputs(&args.out, &cfg, &model, &tok, &qwen_cfg, im_end, endoftext)?;
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

/// Learning rate at `step`: linear warm-up to `peak`, then cosine decay to 10% of it.
fn lr_at(step: usize, total: usize, warmup: usize, peak: f64) -> f64 {
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let progress = (step - warmup) as f64 / (total.saturating_sub(warmup)).max(1) as f64;
    let floor = 0.1 * peak;
    floor + (peak - floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos())
}

/// Scales all gradients together so that their global L2 norm is at most `max`.
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

/// The Hugging Face layout: `config.json`, `generation_config.json`, `model.safetensors`,
/// `tokenizer.json` and `tokenizer_config.json` (Qwen3's, with the chat template).
fn write_outputs(
    out: &Path,
    cfg: &ModelCfg,
    model: &TrainModel,
    tok: &Tokenizer,
    qwen_cfg: &Value,
    im_end: u32,
    endoftext: u32,
) -> Result<()> {
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
