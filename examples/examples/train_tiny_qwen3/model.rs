//! The model: a standard Qwen3 decoder (q/k RMSNorm, RoPE, GQA, SwiGLU, tied embeddings)
//! written with differentiable candle ops, because candle-transformers' `qwen3` uses fused CPU
//! kernels (RMSNorm, RoPE, softmax, flash attention) that have no backward pass. Parameters
//! carry Hugging Face `Qwen3ForCausalLM` names and are saved as `model.safetensors`.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Result;
use candle_core::{DType, Device, Tensor, Var, D};

use crate::rng::Rng;

#[derive(Debug, Clone)]
pub struct ModelCfg {
    pub vocab: usize,
    pub hidden: usize,
    pub intermediate: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub rope_theta: f64,
    pub eps: f64,
    pub max_pos: usize,
}

/// A Qwen3 decoder built from differentiable candle ops, parameters named as in Hugging Face
/// `Qwen3ForCausalLM` (tied embeddings: no `lm_head.weight`).
pub struct TrainModel {
    cfg: ModelCfg,
    /// Creation order, which fixes the order of the initialisation draws, of the optimizer's
    /// variables and of the tensors in `model.safetensors`.
    names: Vec<String>,
    vars: HashMap<String, Var>,
    cos: Tensor,
    sin: Tensor,
}

impl TrainModel {
    /// Weights N(0, 0.02) and norms 1, drawn from stream 1 of `seed` in creation order.
    pub fn new(cfg: &ModelCfg, seed: u64, dev: &Device) -> Result<Self> {
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

    /// A parameter by its Hugging Face name.
    pub fn p(&self, name: &str) -> &Tensor {
        self.vars[name].as_tensor()
    }

    pub fn all_vars(&self) -> Vec<Var> {
        self.names.iter().map(|n| self.vars[n].clone()).collect()
    }

    pub fn num_params(&self) -> usize {
        self.vars.values().map(|v| v.elem_count()).sum()
    }

    /// Final hidden states of right-padded `ids` `(B, L)` at the query positions `qpos`
    /// (`B*T` positions, `T` per sequence, row-major), shape `(B*T, H)`.
    ///
    /// Only the loss positions need the last layer's queries, attention and MLP: that layer
    /// computes keys and values everywhere but everything else at `qpos` only (the result
    /// is the same as running it everywhere and selecting the rows afterwards).
    pub fn forward(&self, ids: &Tensor, qpos: &[u32]) -> Result<Tensor> {
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

    pub fn save_safetensors(&self, path: &Path) -> Result<()> {
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
