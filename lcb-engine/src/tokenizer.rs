//! Text ⇄ token ids with the `tokenizers` crate, plus a table of the exact bytes each token id
//! stands for, so generated text and stop strings are handled on bytes, token by token,
//! without ever re-decoding a whole sequence.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// A model's tokenizer and its token → bytes table.
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    /// `bytes[id]`: the bytes token `id` contributes to decoded text (empty for special
    /// tokens, which decoding skips, and for ids past the tokenizer's vocabulary).
    bytes: Vec<Box<[u8]>>,
    special: Vec<bool>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("ids", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

impl Tokenizer {
    /// Loads `tokenizer.json` (or a gzip-compressed `tokenizer.json.gz`). The byte table covers
    /// ids `0..max(vocab_size, tokenizer ids)`; pass the model's `vocab_size`, which is often
    /// larger than the tokenizer's (151,936 vs 151,669 for Qwen3).
    pub fn from_file(path: &Path, vocab_size: usize) -> Result<Self> {
        let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let json = if path.extension().is_some_and(|e| e == "gz") {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut out)
                .map_err(|e| Error::io(path, e))?;
            out
        } else {
            raw
        };
        let inner = tokenizers::Tokenizer::from_bytes(&json)
            .map_err(|e| Error::format(path, format!("not a tokenizer.json: {e}")))?;
        Ok(Self::new(inner, vocab_size))
    }

    /// Wraps a `tokenizers` tokenizer and builds the byte table.
    pub fn new(inner: tokenizers::Tokenizer, vocab_size: usize) -> Self {
        let added = inner.get_added_tokens_decoder();
        let size = vocab_size.max(inner.get_vocab_size(true));
        let byte_level = matches!(
            inner.get_decoder(),
            Some(tokenizers::DecoderWrapper::ByteLevel(_))
        );
        let char_bytes = byte_level.then(gpt2_char_to_byte);
        let mut bytes = Vec::with_capacity(size);
        let mut special = vec![false; size];
        for id in 0..size as u32 {
            let token_bytes: Vec<u8> = if let Some(token) = added.get(&id) {
                special[id as usize] = token.special;
                if token.special {
                    Vec::new()
                } else {
                    decode_piece(&token.content, char_bytes.as_ref())
                }
            } else if let Some(token) = inner.id_to_token(id) {
                match &char_bytes {
                    Some(table) => decode_piece(&token, Some(table)),
                    // Not byte-level: decode the id alone. Exact for whole-character tokens,
                    // which is what such vocabularies hold apart from byte-fallback pieces.
                    None => inner
                        .decode(&[id], false)
                        .map(String::into_bytes)
                        .unwrap_or_default(),
                }
            } else {
                Vec::new()
            };
            bytes.push(token_bytes.into_boxed_slice());
        }
        Tokenizer {
            inner,
            bytes,
            special,
        }
    }

    /// Token ids of `text`, with no special tokens added (special-token text such as
    /// `<|im_start|>` in `text` still maps to its id, as in transformers).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.inner
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| Error::Tokenizer(e.to_string()))
    }

    /// Text of `ids` as the `tokenizers` decoder gives it.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        self.inner
            .decode(ids, skip_special_tokens)
            .map_err(|e| Error::Tokenizer(e.to_string()))
    }

    /// The bytes token `id` adds to decoded text (special tokens skipped).
    pub fn token_bytes(&self, id: u32) -> &[u8] {
        self.bytes.get(id as usize).map_or(&[], |b| b)
    }

    /// The whole byte table, indexed by token id.
    pub fn byte_table(&self) -> &[Box<[u8]>] {
        &self.bytes
    }

    /// Whether `id` is a special token (skipped in decoded text).
    pub fn is_special(&self, id: u32) -> bool {
        self.special.get(id as usize).copied().unwrap_or(false)
    }

    /// The id of a token by its text (`<|im_end|>`), if it exists.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Decodes by concatenating byte-table entries: the text generation reports.
    /// Equal to `decode(ids, true)` for byte-level tokenizers.
    pub fn decode_bytes(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids
            .iter()
            .flat_map(|&id| self.token_bytes(id).iter().copied())
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// GPT-2's byte ⇄ printable-character map, inverted (character → byte).
fn gpt2_char_to_byte() -> std::collections::HashMap<char, u8> {
    let mut printable: Vec<u8> = (b'!'..=b'~').collect();
    printable.extend(0xA1..=0xAC);
    printable.extend(0xAE..=0xFF);
    let mut map: std::collections::HashMap<char, u8> =
        printable.iter().map(|&b| (char::from(b), b)).collect();
    let mut next = 256u32;
    for b in 0..=255u8 {
        if !printable.contains(&b) {
            // 256 + n for n < 256 is always a valid scalar value.
            map.insert(char::from_u32(next).expect("valid char"), b);
            next += 1;
        }
    }
    map
}

/// Bytes of one vocabulary piece. As `tokenizers`' byte-level decoder does: if every character
/// maps to a byte, those bytes; otherwise the piece's own UTF-8.
fn decode_piece(piece: &str, table: Option<&std::collections::HashMap<char, u8>>) -> Vec<u8> {
    let Some(table) = table else {
        return piece.as_bytes().to_vec();
    };
    piece
        .chars()
        .map(|c| table.get(&c).copied())
        .collect::<Option<Vec<u8>>>()
        .unwrap_or_else(|| piece.as_bytes().to_vec())
}
