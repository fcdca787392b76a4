//! The forward pass against candle-transformers' Qwen3 (the numerical oracle), on tiny random
//! models written to disk as real safetensors + config.json:
//!
//! * prefill in chunks and ragged decode (samples at different lengths, two prompts, a
//!   prefill chunk in the same step) give the oracle's logits (f32, 1e-4);
//! * shared-prefix (cascade) attention agrees with plain attention;
//! * a sample's logits do not depend on what else is in the batch, bit for bit on the CPU.

use candle_core::{DType, Device, Tensor};
use candle_transformers::models::qwen3 as oracle;
use lcb_engine::config::Qwen3Config;
use lcb_engine::loader::ModelFiles;
use lcb_engine::model::{
    Batch, DecodeAttention, DecodeGroup, DecodeRow, KvPool, PrefillChunk, PromptKv, Qwen3Model,
};
use lcb_engine::synthetic::write_model_dir;

fn small_config(tied: bool, bias: bool) -> Qwen3Config {
    Qwen3Config {
        vocab_size: 300,
        hidden_size: 64,
        intermediate_size: 128,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        // Explicit and wider than hidden / heads (16), as in Qwen3-0.6B.
        head_dim: 32,
        max_position_embeddings: 256,
        rope_theta: 1_000_000.0,
        rms_norm_eps: 1e-6,
        tie_word_embeddings: tied,
        attention_bias: bias,
        eos_token_id: vec![2],
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    files: ModelFiles,
    cfg: Qwen3Config,
}

fn fixture(cfg: Qwen3Config, seed: u64) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    write_model_dir(&cfg, dir.path(), seed).unwrap();
    let files = ModelFiles::in_dir(dir.path()).unwrap();
    assert_eq!(files.config().unwrap(), cfg);
    Fixture {
        _dir: dir,
        files,
        cfg,
    }
}

impl Fixture {
    fn ours(&self) -> Qwen3Model {
        let vb = self.files.var_builder(DType::F32, &Device::Cpu).unwrap();
        Qwen3Model::load(&self.cfg, vb).unwrap()
    }

    fn oracle(&self) -> oracle::ModelForCausalLM {
        let text = std::fs::read_to_string(&self.files.config).unwrap();
        let cfg: oracle::Config = serde_json::from_str(&text).unwrap();
        let vb = self.files.var_builder(DType::F32, &Device::Cpu).unwrap();
        oracle::ModelForCausalLM::new(&cfg, vb).unwrap()
    }

    /// The oracle's logits after each of `tokens` following `prompt`.
    fn oracle_logits(&self, prompt: &[u32], tokens: &[u32]) -> Vec<Vec<f32>> {
        let mut m = self.oracle();
        let input = Tensor::new(prompt, &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let mut out = vec![flat(&m.forward(&input, 0).unwrap())];
        for (i, &t) in tokens.iter().enumerate() {
            let input = Tensor::new(&[t], &Device::Cpu)
                .unwrap()
                .unsqueeze(0)
                .unwrap();
            out.push(flat(&m.forward(&input, prompt.len() + i).unwrap()));
        }
        out
    }
}

fn flat(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

fn row(t: &Tensor, i: usize) -> Vec<f32> {
    flat(&t.get(i).unwrap())
}

fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let worst = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(worst <= tol, "{what}: max |diff| {worst} > {tol}");
}

/// A prompt's cache: `len` positions in `blocks`.
fn kv(blocks: &[u32], len: usize) -> PromptKv<'_> {
    PromptKv { blocks, len }
}

/// Prefills `prompt` into `prefix` in chunks of `chunk`, returning the last token's logits.
fn prefill(
    model: &Qwen3Model,
    pool: &KvPool,
    prefix: PromptKv<'_>,
    prompt: &[u32],
    chunk: usize,
) -> Vec<f32> {
    let mut start = 0;
    let mut last = None;
    while start < prompt.len() {
        let end = (start + chunk).min(prompt.len());
        let batch = Batch {
            prefill: Some(PrefillChunk {
                prefix,
                tokens: &prompt[start..end],
                start,
                want_logits: end == prompt.len(),
            }),
            ..Default::default()
        };
        last = model.forward(&batch, pool).unwrap().prefill;
        start = end;
    }
    flat(&last.unwrap())
}

fn prompt(len: usize, salt: u32) -> Vec<u32> {
    (0..len as u32)
        .map(|i| (i * 37 + salt * 11 + 5) % 300)
        .collect()
}

#[test]
fn chunked_prefill_and_ragged_decode_match_candle_transformers() {
    for (tied, bias) in [(true, false), (false, true)] {
        let fx = fixture(small_config(tied, bias), 1);
        let mut model = fx.ours();
        let dev = Device::Cpu;
        let pool = KvPool::new(&fx.cfg, 8, DType::F32, &dev).unwrap();
        let (pa, pb) = (prompt(21, 1), prompt(7, 2));
        // Samples' blocks in no particular order; A's prompt spans a run of two.
        let (ta, tb, t0, t1, t2) = ([5u32, 6], [2u32], [7u32], [3u32], [0u32]);
        let (a, b) = (kv(&ta, pa.len()), kv(&tb, pb.len()));
        // Samples: s0 and s1 from prompt A (s1 joins a step later), s2 from prompt B.
        // Rows: s0 → 0, s2 → 1, s1 → 2, so A's rows are not contiguous.
        let s0 = [5u32, 9, 11, 17, 3];
        let s1 = [7u32, 7, 2];
        let s2 = [1u32, 2, 3, 4];
        let want0 = fx.oracle_logits(&pa, &s0);
        let want1 = fx.oracle_logits(&pa, &s1);
        let want2 = fx.oracle_logits(&pb, &s2);

        let logits_a = prefill(&model, &pool, a, &pa, 5);
        assert_close(&logits_a, &want0[0], 1e-4, "prompt A last logits");

        // Step: s0's first token together with the whole of prompt B's prefill.
        let batch = Batch {
            decode: vec![DecodeRow {
                token: s0[0],
                suffix_pos: 0,
                blocks: &t0,
            }],
            groups: vec![DecodeGroup {
                prefix: a,
                rows: vec![0],
            }],
            prefill: Some(PrefillChunk {
                prefix: b,
                tokens: &pb,
                start: 0,
                want_logits: true,
            }),
        };
        let out = model.forward(&batch, &pool).unwrap();
        assert_close(
            &row(out.decode.as_ref().unwrap(), 0),
            &want0[1],
            1e-4,
            "s0 step 0",
        );
        assert_close(
            &flat(&out.prefill.unwrap()),
            &want2[0],
            1e-4,
            "prompt B last logits",
        );

        // Then all three together, at different lengths, until they run out.
        for step in 1..s0.len() {
            let mut decode = vec![DecodeRow {
                token: s0[step],
                suffix_pos: step,
                blocks: &t0,
            }];
            let mut rows_a = vec![0];
            let mut rows_b = vec![];
            let mut expect = vec![(0usize, &want0[step + 1])];
            let j2 = step - 1;
            if j2 < s2.len() {
                decode.push(DecodeRow {
                    token: s2[j2],
                    suffix_pos: j2,
                    blocks: &t2,
                });
                rows_b.push(1);
                expect.push((1, &want2[j2 + 1]));
            }
            let j1 = step - 1;
            if j1 < s1.len() && decode.len() == 2 {
                decode.push(DecodeRow {
                    token: s1[j1],
                    suffix_pos: j1,
                    blocks: &t1,
                });
                rows_a.push(2);
                expect.push((2, &want1[j1 + 1]));
            }
            let mut groups = vec![DecodeGroup {
                prefix: a,
                rows: rows_a,
            }];
            if !rows_b.is_empty() {
                groups.push(DecodeGroup {
                    prefix: b,
                    rows: rows_b,
                });
            }
            let batch = Batch {
                decode,
                groups,
                prefill: None,
            };
            // Budget 1: each decode row attends over its prompt in a call of its own.
            for (mode, budget) in [
                (DecodeAttention::Shared, usize::MAX),
                (DecodeAttention::Naive, usize::MAX),
                (DecodeAttention::Kernels, usize::MAX),
                (DecodeAttention::Shared, 1),
            ] {
                model.set_decode_attention(mode);
                model.set_attention_budget(budget);
                // Re-running a step rewrites the same keys/values: idempotent.
                let out = model.forward(&batch, &pool).unwrap();
                let logits = out.decode.unwrap();
                for (r, want) in &expect {
                    assert_close(
                        &row(&logits, *r),
                        want,
                        1e-4,
                        &format!("{mode:?} budget {budget} step {step} row {r}"),
                    );
                }
            }
            model.set_decode_attention(DecodeAttention::Shared);
            model.set_attention_budget(usize::MAX);
        }
    }
}

/// Runs decode steps of sample X (prompt P, tokens `xs`), alone or with companions, in
/// different blocks each way; returns X's logits at each step.
fn run_x(fx: &Fixture, companions: bool) -> Vec<Vec<f32>> {
    let model = fx.ours();
    let dev = Device::Cpu;
    let pool = KvPool::new(&fx.cfg, 6, DType::F32, &dev).unwrap();
    let (pp, pq) = (prompt(11, 3), prompt(9, 4));
    // Alone: P in block 0, X in block 1. With companions: P in 4, Q in 2, X in 5.
    let (tp, tx) = if companions {
        ([4u32], [5u32])
    } else {
        ([0], [1])
    };
    let (tq, tc0, tc1, tc3) = ([2u32], [1u32], [3u32], [0u32]);
    let (p, q) = (kv(&tp, pp.len()), kv(&tq, pq.len()));
    prefill(&model, &pool, p, &pp, 4);
    let xs = [3u32, 30, 60, 90, 120, 150];
    let mut out = Vec::new();
    if !companions {
        for (j, &t) in xs.iter().enumerate() {
            let batch = Batch {
                decode: vec![DecodeRow {
                    token: t,
                    suffix_pos: j,
                    blocks: &tx,
                }],
                groups: vec![DecodeGroup {
                    prefix: p,
                    rows: vec![0],
                }],
                prefill: None,
            };
            out.push(row(
                &model.forward(&batch, &pool).unwrap().decode.unwrap(),
                0,
            ));
        }
        return out;
    }
    // Companions: two other samples of P (ahead of X), two of Q; Q prefilled while X runs.
    for (j, &t) in xs.iter().enumerate() {
        let mut decode = vec![
            DecodeRow {
                token: 8,
                suffix_pos: j + 2,
                blocks: &tc0,
            },
            DecodeRow {
                token: 9,
                suffix_pos: j,
                blocks: &tc1,
            },
            DecodeRow {
                token: t,
                suffix_pos: j,
                blocks: &tx,
            },
        ];
        let mut groups = vec![DecodeGroup {
            prefix: p,
            rows: vec![0, 2],
        }];
        let mut prefill = None;
        if j == 0 {
            prefill = Some(PrefillChunk {
                prefix: q,
                tokens: &pq,
                start: 0,
                want_logits: true,
            });
            groups[0].rows = vec![0, 1, 2];
        } else {
            decode.push(DecodeRow {
                token: 10 + j as u32,
                suffix_pos: j - 1,
                blocks: &tc3,
            });
            groups.push(DecodeGroup {
                prefix: q,
                rows: vec![1, 3],
            });
        }
        let batch = Batch {
            decode,
            groups,
            prefill,
        };
        out.push(row(
            &model.forward(&batch, &pool).unwrap().decode.unwrap(),
            2,
        ));
    }
    out
}

#[test]
fn a_samples_logits_do_not_depend_on_the_batch_or_its_blocks() {
    let fx = fixture(small_config(true, false), 2);
    let alone = run_x(&fx, false);
    let crowded = run_x(&fx, true);
    for (j, (a, c)) in alone.iter().zip(&crowded).enumerate() {
        assert!(
            a == c,
            "step {j}: logits differ with companions (max diff {})",
            a.iter()
                .zip(c)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max)
        );
    }
}

#[test]
fn a_sample_spanning_blocks_keeps_its_cache_when_they_are_copied_elsewhere() {
    let fx = fixture(small_config(true, false), 3);
    let model = fx.ours();
    let dev = Device::Cpu;
    let pool = KvPool::new(&fx.cfg, 6, DType::F32, &dev).unwrap();
    let pp = prompt(6, 5);
    let tp = [4u32];
    prefill(&model, &pool, kv(&tp, pp.len()), &pp, 6);
    // 20 tokens: the sample's own cache crosses from its first block into its second.
    let xs: Vec<u32> = (0..20).map(|i| (i * 13 + 4) % 300).collect();
    let want = fx.oracle_logits(&pp, &xs);
    let step = |blocks: &[u32], j: usize| {
        let batch = Batch {
            decode: vec![DecodeRow {
                token: xs[j],
                suffix_pos: j,
                blocks,
            }],
            groups: vec![DecodeGroup {
                prefix: kv(&tp, pp.len()),
                rows: vec![0],
            }],
            prefill: None,
        };
        row(&model.forward(&batch, &pool).unwrap().decode.unwrap(), 0)
    };
    // Blocks 2 then 0 for the first 18 tokens; then copied to 1 and 3, and on from there.
    for j in 0..18 {
        assert_close(&step(&[2, 0], j), &want[j + 1], 1e-4, &format!("token {j}"));
    }
    for layer in 0..fx.cfg.num_hidden_layers {
        let (k, v) = pool.layer(layer);
        for t in [k, v] {
            for (from, to) in [(2, 1), (0, 3)] {
                let block = t.narrow(0, from, 1).unwrap().affine(1.0, 0.0).unwrap();
                t.slice_set(&block, 0, to).unwrap();
            }
        }
    }
    pool.clear_blocks(&[2, 0]).unwrap();
    for j in 18..20 {
        assert_close(
            &step(&[1, 3], j),
            &want[j + 1],
            1e-4,
            &format!("moved, token {j}"),
        );
    }
}
