//! The tokenizer: a byte-level BPE trained on the fixtures with Qwen3's own pipeline and added
//! tokens (read from the vendored real Qwen3 `tokenizer.json.gz`), and the encode / decode /
//! token-id helpers the trainer and `--check` share.

use std::path::Path;

use anyhow::{anyhow, ensure, Context, Result};
use serde_json::{json, Value};
use tokenizers::{AddedToken, Tokenizer};

/// The real Qwen3 `tokenizer.json` (vendored gzipped): the source of the pipeline settings and
/// added tokens that the trained tokenizer reuses.
pub fn read_qwen3_tokenizer_json(dir: &Path) -> Result<Value> {
    let path = dir.join("tokenizer.json.gz");
    let file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let reader = flate2::read::GzDecoder::new(std::io::BufReader::new(file));
    Ok(serde_json::from_reader(reader)?)
}

/// Trains a byte-level BPE with Qwen3's pipeline and appends Qwen3's added tokens.
pub fn train_tokenizer(
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

/// Token ids of `text` without added BOS/EOS: rendered prompts already carry their special
/// tokens as text, exactly as an engine encodes them.
pub fn encode(tok: &Tokenizer, text: &str) -> Result<Vec<u32>> {
    Ok(tok
        .encode(text, false)
        .map_err(|e| anyhow!("encode: {e}"))?
        .get_ids()
        .to_vec())
}

pub fn token_id(tok: &Tokenizer, s: &str) -> Result<u32> {
    tok.token_to_id(s)
        .with_context(|| format!("token {s} missing"))
}

/// Text of `ids`, special tokens skipped.
pub fn decode(tok: &Tokenizer, ids: &[u32]) -> Result<String> {
    tok.decode(ids, true).map_err(|e| anyhow!("decode: {e}"))
}
