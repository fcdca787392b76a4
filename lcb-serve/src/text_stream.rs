//! What of a streamed choice's text may be sent so far.
//!
//! The engine reports each token as it is drawn, but a token's text cannot always be sent at
//! once: it may be the start of a stop string (which the final text leaves out), or end in
//! the middle of a UTF-8 character. A [`ChoiceStream`] holds back the last `longest stop − 1`
//! bytes and any unfinished character, sends whole tokens only, and at the end sends what the
//! finished completion adds, so the concatenated deltas equal the completion's text exactly.

use lcb_core::generator::Completion;

/// A piece of a choice to send: text and the tokens it comes from.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Delta {
    /// The text this piece adds.
    pub text: String,
    /// The tokens it covers, with their log-probabilities.
    pub tokens: Vec<(u32, f32)>,
}

impl Delta {
    pub(crate) fn is_empty(&self) -> bool {
        self.text.is_empty() && self.tokens.is_empty()
    }
}

/// One choice's stream state.
#[derive(Debug, Default)]
pub(crate) struct ChoiceStream {
    bytes: Vec<u8>,
    /// Drawn tokens: id, log-probability, and where their bytes end.
    tokens: Vec<(u32, f32, usize)>,
    sent_tokens: usize,
    sent_bytes: usize,
    sent_text: String,
    holdback: usize,
    finished: bool,
}

/// Whether `bytes` ends inside a UTF-8 character (a lead byte whose continuation bytes have
/// not all arrived).
fn ends_mid_character(bytes: &[u8]) -> bool {
    for back in 1..=bytes.len().min(4) {
        let b = bytes[bytes.len() - back];
        if b & 0xC0 == 0x80 {
            continue; // a continuation byte: look further back for its lead
        }
        let expected = match b {
            0x00..=0x7F => 1,
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1, // not a lead byte: invalid, shown as U+FFFD whatever follows
        };
        return back < expected;
    }
    false
}

impl ChoiceStream {
    /// A stream for a choice whose longest stop string has `longest_stop` bytes.
    pub(crate) fn new(longest_stop: usize) -> Self {
        ChoiceStream {
            holdback: longest_stop.saturating_sub(1),
            ..Default::default()
        }
    }

    /// Whether the choice has ended.
    pub(crate) fn finished(&self) -> bool {
        self.finished
    }

    /// A token that did not end the choice; returns what may be sent now.
    pub(crate) fn push(&mut self, token: u32, logprob: f32, bytes: &[u8]) -> Delta {
        self.bytes.extend_from_slice(bytes);
        self.tokens.push((token, logprob, self.bytes.len()));
        // A stop string found later starts at most `longest - 1` bytes before today's end.
        let safe = self.bytes.len().saturating_sub(self.holdback);
        let mut upto = self.sent_tokens;
        for (i, &(_, _, end)) in self.tokens.iter().enumerate().skip(self.sent_tokens) {
            if end > safe {
                break;
            }
            if !ends_mid_character(&self.bytes[..end]) {
                upto = i + 1;
            }
        }
        if upto == self.sent_tokens {
            return Delta::default();
        }
        let end = self.tokens[upto - 1].2;
        let text = String::from_utf8_lossy(&self.bytes[self.sent_bytes..end]).into_owned();
        let tokens = self.tokens[self.sent_tokens..upto]
            .iter()
            .map(|&(t, l, _)| (t, l))
            .collect();
        self.sent_tokens = upto;
        self.sent_bytes = end;
        self.sent_text.push_str(&text);
        Delta { text, tokens }
    }

    /// The choice ended with `completion`: what is left to send. The text sent before is
    /// always a prefix of the completion's (see the module docs); were it not, nothing more
    /// is sent rather than text that contradicts it.
    pub(crate) fn finish(&mut self, completion: &Completion) -> Delta {
        self.finished = true;
        let text = match completion.text.strip_prefix(self.sent_text.as_str()) {
            Some(rest) => rest.to_owned(),
            None => {
                tracing::error!(
                    "a streamed choice's text is not a prefix of its completion (sent {:?})",
                    self.sent_text
                );
                String::new()
            }
        };
        let from = self.sent_tokens.min(completion.token_ids.len());
        let tokens = completion.token_ids[from..]
            .iter()
            .zip(&completion.logprobs[from..])
            .map(|(&t, &l)| (t, l))
            .collect();
        self.sent_tokens = completion.token_ids.len();
        self.sent_text.push_str(&text);
        Delta { text, tokens }
    }
}

#[cfg(test)]
mod tests {
    use lcb_core::generator::FinishReason;

    use super::*;

    fn completion(text: &str, tokens: &[u32]) -> Completion {
        Completion {
            group: 0,
            index: 0,
            text: text.to_owned(),
            token_ids: tokens.to_vec(),
            logprobs: vec![-1.0; tokens.len()],
            finish_reason: FinishReason::Stop,
            token_count: None,
        }
    }

    #[test]
    fn text_that_may_begin_a_stop_string_waits_and_the_deltas_add_up() {
        // Stop string "```\n\n" (5 bytes): hold back 4.
        let mut s = ChoiceStream::new(5);
        let mut sent = String::new();
        for (id, piece) in [(1, "print"), (2, "(1)\n"), (3, "``"), (4, "`\n")] {
            let d = s.push(id, -1.0, piece.as_bytes());
            sent.push_str(&d.text);
        }
        // 14 bytes drawn, 10 safe: "print" and "(1)\n" (9 bytes) are whole tokens within.
        assert_eq!(sent, "print(1)\n");
        // The next token completes the stop string: the engine cuts the text there.
        let d = s.finish(&completion("print(1)\n", &[1, 2, 3, 4, 5]));
        assert_eq!(d.text, "");
        assert_eq!(d.tokens.len(), 3, "the held-back tokens and the last one");
    }

    #[test]
    fn a_character_split_across_tokens_is_sent_whole() {
        let mut s = ChoiceStream::new(0);
        assert_eq!(s.push(1, 0.0, b"a\xC3").text, "");
        let d = s.push(2, 0.0, b"\xA9b");
        assert_eq!(d.text, "a\u{e9}b");
        assert_eq!(d.tokens.len(), 2);
        let d = s.push(3, 0.0, b"\xF0\x9F");
        assert!(d.is_empty());
        let d = s.finish(&completion("a\u{e9}b\u{fffd}", &[1, 2, 3]));
        assert_eq!(d.text, "\u{fffd}");
        assert!(s.finished());
    }

    #[test]
    fn invalid_bytes_do_not_hold_the_stream_back_forever() {
        let mut s = ChoiceStream::new(0);
        assert_eq!(s.push(1, 0.0, b"\xFFx").text, "\u{fffd}x");
    }
}
