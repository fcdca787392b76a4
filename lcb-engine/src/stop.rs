//! When a sample ends, and its text: end-of-sequence tokens, stop strings and the token
//! budget, in that order of precedence (as vLLM checks them).
//!
//! Stop strings are matched on bytes, incrementally: each new token's bytes (from the
//! tokenizer's byte table) are appended and only the window that could hold a new match
//! (the new bytes plus the longest stop string's length minus one before them) is searched,
//! so a stop string split across tokens is found as soon as its last byte arrives and the
//! text is never re-decoded. The stop string is not part of the reported text; the tokens
//! that produced it are kept in `token_ids`.

use lcb_core::generator::FinishReason;

/// A sample's stop strings, as bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StopStrings {
    patterns: Vec<Vec<u8>>,
    longest: usize,
}

impl StopStrings {
    /// Compiles `stops`; empty strings are ignored.
    pub fn new(stops: &[String]) -> Self {
        let patterns: Vec<Vec<u8>> = stops
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| s.as_bytes().to_vec())
            .collect();
        let longest = patterns.iter().map(Vec::len).max().unwrap_or(0);
        StopStrings { patterns, longest }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Where the text is cut: the first match, in `text` from `new_from - (longest - 1)` on,
    /// of the first stop string in list order that has one there. Earlier matches would have
    /// ended the sample at an earlier token, so every match found ends at or after `new_from`
    /// (the first byte not searched before).
    ///
    /// List order, not position, decides when one token completes two stop strings: vLLM's
    /// stop checker (which the reference workload runs) returns the first stop string in the
    /// list that `find` locates in the new text.
    fn find_new(&self, text: &[u8], new_from: usize) -> Option<usize> {
        if self.patterns.is_empty() {
            return None;
        }
        let window = new_from.saturating_sub(self.longest - 1);
        self.patterns.iter().find_map(|p| {
            text[window..]
                .windows(p.len())
                .position(|w| w == p.as_slice())
                .map(|i| window + i)
        })
    }
}

/// What one sample has generated so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Generated {
    /// Generated token ids (including an end-of-sequence token that ended the sample).
    pub token_ids: Vec<u32>,
    /// `logprobs[j]` for `token_ids[j]`.
    pub logprobs: Vec<f32>,
    /// The decoded bytes of the tokens (special tokens contribute none).
    bytes: Vec<u8>,
    /// Where the text ends (the start of the stop string that ended it).
    cut: Option<usize>,
}

/// The limits a sample runs under.
#[derive(Debug, Clone, Copy)]
pub struct Limits<'a> {
    /// Token ids that end the sample (empty to ignore end-of-sequence).
    pub eos: &'a [u32],
    /// Stop strings.
    pub stops: &'a StopStrings,
    /// Most tokens to generate.
    pub max_tokens: usize,
}

impl Generated {
    /// Appends a token (its `bytes` from the byte table) and says whether the sample is over.
    pub fn push(
        &mut self,
        token: u32,
        logprob: f32,
        bytes: &[u8],
        limits: &Limits,
    ) -> Option<FinishReason> {
        self.token_ids.push(token);
        self.logprobs.push(logprob);
        if limits.eos.contains(&token) {
            return Some(FinishReason::Stop);
        }
        let before = self.bytes.len();
        self.bytes.extend_from_slice(bytes);
        if let Some(at) = limits.stops.find_new(&self.bytes, before) {
            self.cut = Some(at);
            return Some(FinishReason::Stop);
        }
        (self.token_ids.len() >= limits.max_tokens).then_some(FinishReason::Length)
    }

    /// Number of generated tokens.
    pub fn len(&self) -> usize {
        self.token_ids.len()
    }

    /// Whether nothing was generated yet.
    pub fn is_empty(&self) -> bool {
        self.token_ids.is_empty()
    }

    /// The last generated token.
    pub fn last(&self) -> Option<u32> {
        self.token_ids.last().copied()
    }

    /// The text (up to the stop string, if one ended it); invalid UTF-8 (a character cut by
    /// the token budget) becomes U+FFFD, as transformers' decoding does.
    pub fn text(&self) -> String {
        let end = self.cut.unwrap_or(self.bytes.len());
        String::from_utf8_lossy(&self.bytes[..end]).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        tokens: &[(&str, u32)],
        stops: &[&str],
        eos: &[u32],
        max: usize,
    ) -> (Generated, Option<FinishReason>) {
        let stops = StopStrings::new(&stops.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let limits = Limits {
            eos,
            stops: &stops,
            max_tokens: max,
        };
        let mut g = Generated::default();
        for (text, id) in tokens {
            if let Some(reason) = g.push(*id, -0.5, text.as_bytes(), &limits) {
                return (g, Some(reason));
            }
        }
        (g, None)
    }

    #[test]
    fn a_stop_string_across_tokens_ends_the_sample_and_is_cut() {
        let (g, r) = run(
            &[
                ("print", 1),
                ("(1)\n", 2),
                ("``", 3),
                ("`\n\n", 4),
                ("more", 5),
            ],
            &["```\n\n", "\n\n\n"],
            &[],
            100,
        );
        assert_eq!(r, Some(FinishReason::Stop));
        assert_eq!(g.text(), "print(1)\n");
        assert_eq!(g.token_ids, vec![1, 2, 3, 4]);
        assert_eq!(g.logprobs.len(), 4);
    }

    #[test]
    fn the_first_listed_stop_string_wins_and_bytes_split_characters() {
        // "é" is split over two tokens; the third token completes both "b" and "ab" (which
        // starts first): as in vLLM, the one listed first decides where the text ends.
        for (stops, want) in [(["b", "ab"], "éa"), (["ab", "b"], "é")] {
            let stops = StopStrings::new(&stops.map(String::from));
            let limits = Limits {
                eos: &[],
                stops: &stops,
                max_tokens: 10,
            };
            let mut g = Generated::default();
            assert_eq!(g.push(1, 0.0, &[0xC3], &limits), None);
            assert_eq!(g.push(2, 0.0, &[0xA9, b'a'], &limits), None);
            assert_eq!(g.push(3, 0.0, b"bc", &limits), Some(FinishReason::Stop));
            assert_eq!(g.text(), want);
        }
    }

    #[test]
    fn eos_precedes_stop_strings_and_length() {
        let (g, r) = run(&[("x", 1), ("", 9)], &["x"], &[9], 2);
        // "x" is a stop string: it ends the sample at the first token.
        assert_eq!(r, Some(FinishReason::Stop));
        assert_eq!(g.token_ids, vec![1]);
        assert_eq!(g.text(), "");
        let (g, r) = run(&[("a", 1), ("", 9)], &[], &[9], 2);
        assert_eq!((r, g.token_ids.len()), (Some(FinishReason::Stop), 2));
        let (g, r) = run(&[("a", 1), ("b", 2), ("c", 3)], &[], &[], 2);
        assert_eq!(
            (r, g.text()),
            (Some(FinishReason::Length), "ab".to_string())
        );
        // A stop string completed by the last allowed token is a stop, not a length.
        let (_, r) = run(&[("a", 1), ("b", 2)], &["ab"], &[], 2);
        assert_eq!(r, Some(FinishReason::Stop));
    }

    #[test]
    fn a_truncated_character_becomes_a_replacement_character() {
        let stops = StopStrings::new(&[]);
        let limits = Limits {
            eos: &[],
            stops: &stops,
            max_tokens: 1,
        };
        let mut g = Generated::default();
        assert_eq!(
            g.push(1, 0.0, &[b'a', 0xC3], &limits),
            Some(FinishReason::Length)
        );
        assert_eq!(g.text(), "a\u{FFFD}");
    }
}
