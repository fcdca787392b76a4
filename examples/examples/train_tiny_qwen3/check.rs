//! `--check`: loads what training wrote with candle-transformers' own `qwen3` model (an
//! implementation independent of the trainer's), decodes every fixture prompt greedily and at
//! `--temperatures` with `lcb sweep`'s default stop strings, extracts the code with LCB's rule,
//! grades it with lcb's sandboxed LiveCodeBench grader and prints pass rates.

use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use candle_core::{DType, Device, Tensor};
use lcb_core::evaluator::{Evaluator, GradeRequest};
use lcb_core::extract::extract_code;
use serde_json::{json, Value};
use tokenizers::Tokenizer;

use crate::data::{check_template_refs, lcb_prompt, load_fixtures, load_template};
use crate::rng::Rng;
use crate::tokenizer::{decode, encode};
use crate::Args;

/// Decodes and grades every fixture problem with the model in `--out`.
pub fn run(args: &Args) -> Result<()> {
    let t0 = Instant::now();
    let dev = Device::Cpu;
    let out = &args.out;
    let fixtures = load_fixtures(&args.problems, &args.solutions)?;
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

/// The first index of the largest logit, so ties go to the lowest id.
fn argmax(row: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in row.iter().enumerate() {
        if x > row[best] {
            best = i;
        }
    }
    best as u32
}

/// A draw from softmax(logits / T) with top-p 1, in f64.
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
