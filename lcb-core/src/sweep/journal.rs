//! A question's graded samples, one line each, appended as they are graded
//! (`q{idx}/partial.jsonl`), so that an interrupted question resumes where it stopped rather
//! than from its start. At the reference scale a question is tens of millions of tokens, and
//! all its temperatures are sampled together, so without this an interruption would lose
//! every question in flight.
//!
//! The first line names the question and a hash of its prompt; each further line is the
//! greedy check's failure or one graded sample. Lines are only ever appended, so a killed
//! process leaves at most a torn last line, which is dropped when the journal is read back.
//! The file is deleted once the question's `summary.json` is written. Resumed samples equal
//! regenerated ones because sample `j` depends only on its random stream and the prompt.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::store::CompletionRecord;
use crate::error::{Error, Result};

/// The journal's file name in a question's directory.
pub const JOURNAL_FILE: &str = "partial.jsonl";

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Line {
    /// The first line: which question, with which prompt.
    Question {
        question_id: String,
        prompt_blake3: String,
    },
    /// Greedy decoding did not solve the question (the check need not run again).
    GreedyFailed,
    /// One graded sample.
    Sample {
        temperature: f64,
        index: usize,
        completion: CompletionRecord,
    },
}

/// An open journal: what an earlier run recorded, and the file to append to.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    header: Line,
    file: Option<std::fs::File>,
    greedy_failed: bool,
    samples: HashMap<(u64, usize), CompletionRecord>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_owned();
    move |error| Error::Io { path, error }
}

impl Journal {
    /// Reads the journal at `path` for the question `question_id` with prompt `prompt_text`,
    /// or starts an empty one (nothing is written until something is recorded). A journal of
    /// another question or prompt is discarded, and lines after a torn one are dropped; both
    /// with a warning through `warn`.
    pub fn open(
        path: &Path,
        question_id: &str,
        prompt_text: &str,
        warn: &dyn Fn(&str),
    ) -> Result<Journal> {
        let header = Line::Question {
            question_id: question_id.to_owned(),
            prompt_blake3: blake3::hash(prompt_text.as_bytes()).to_hex().to_string(),
        };
        let mut journal = Journal {
            path: path.to_owned(),
            header,
            file: None,
            greedy_failed: false,
            samples: HashMap::new(),
        };
        let text = match std::fs::read(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(journal),
            Err(error) => {
                return Err(Error::Io {
                    path: path.to_owned(),
                    error,
                })
            }
            Ok(bytes) => bytes,
        };
        let mut lines = text.split(|&b| b == b'\n').filter(|l| !l.is_empty());
        let first: Option<Line> = lines.next().and_then(|l| serde_json::from_slice(l).ok());
        if first.as_ref() != Some(&journal.header) {
            warn(&format!(
                "{}: recorded for another question or prompt; discarding it",
                path.display()
            ));
            std::fs::remove_file(path).map_err(io(path))?;
            return Ok(journal);
        }
        let mut kept = 0;
        let mut torn = 0;
        for line in lines {
            if torn > 0 {
                torn += 1;
                continue;
            }
            match serde_json::from_slice::<Line>(line) {
                Ok(Line::GreedyFailed) => journal.greedy_failed = true,
                Ok(Line::Sample {
                    temperature,
                    index,
                    completion,
                }) if completion.passed == completion.verdict.passed() => {
                    journal
                        .samples
                        .entry((temperature.to_bits(), index))
                        .or_insert(completion);
                }
                _ => torn += 1,
            }
            kept += usize::from(torn == 0);
        }
        if torn > 0 {
            warn(&format!(
                "{}: dropped {torn} unreadable line(s) after {kept} good ones (a killed run's last write); those samples are redone",
                path.display()
            ));
            // Rewrite it without them, so that appended lines follow a whole line.
            let mut good = serde_json::to_string(&journal.header).expect("journal lines serialize");
            good.push('\n');
            if journal.greedy_failed {
                good.push_str(&serde_json::to_string(&Line::GreedyFailed).expect("serializes"));
                good.push('\n');
            }
            let mut entries: Vec<_> = journal.samples.iter().collect();
            entries.sort_by_key(|(k, _)| **k);
            for (&(t, index), completion) in entries {
                let line = Line::Sample {
                    temperature: f64::from_bits(t),
                    index,
                    completion: completion.clone(),
                };
                good.push_str(&serde_json::to_string(&line).expect("serializes"));
                good.push('\n');
            }
            crate::atomic_file::write_atomic(path, good.as_bytes())?;
        }
        Ok(journal)
    }

    /// Whether nothing was recorded yet.
    pub fn is_empty(&self) -> bool {
        !self.greedy_failed && self.samples.is_empty()
    }

    /// Whether an earlier run found that greedy decoding does not solve the question.
    pub fn greedy_failed(&self) -> bool {
        self.greedy_failed
    }

    /// The recorded sample `index` at `temperature`, if any.
    pub fn sample(&self, temperature: f64, index: usize) -> Option<&CompletionRecord> {
        self.samples.get(&(temperature.to_bits(), index))
    }

    /// Records that greedy decoding does not solve the question.
    pub fn record_greedy_failed(&mut self) -> Result<()> {
        self.greedy_failed = true;
        self.append(&Line::GreedyFailed)
    }

    /// Records graded sample `index` at `temperature`.
    pub fn record(
        &mut self,
        temperature: f64,
        index: usize,
        completion: &CompletionRecord,
    ) -> Result<()> {
        self.append(&Line::Sample {
            temperature,
            index,
            completion: completion.clone(),
        })
    }

    /// Deletes the journal (its question is complete).
    pub fn remove(self) -> Result<()> {
        drop(self.file);
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other.map_err(io(&self.path)),
        }
    }

    /// Appends one line with a single write, so a kill leaves whole lines or a torn last one.
    fn append(&mut self, line: &Line) -> Result<()> {
        let mut text = String::new();
        if self.file.is_none() {
            let fresh = !self.path.exists();
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
            }
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(io(&self.path))?;
            self.file = Some(file);
            if fresh {
                text = serde_json::to_string(&self.header).expect("journal lines serialize");
                text.push('\n');
            }
        }
        text.push_str(&serde_json::to_string(line).expect("journal lines serialize"));
        text.push('\n');
        let file = self.file.as_mut().expect("opened above");
        file.write_all(text.as_bytes()).map_err(io(&self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::FinishReason;
    use crate::verdict::Verdict;

    fn record(raw: &str, verdict: Verdict) -> CompletionRecord {
        CompletionRecord {
            raw: raw.into(),
            passed: verdict.passed(),
            verdict,
            finish_reason: FinishReason::Stop,
            num_tokens: 7,
        }
    }

    fn no_warning(m: &str) {
        panic!("unexpected warning: {m}");
    }

    #[test]
    fn recorded_samples_read_back_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q3").join(JOURNAL_FILE);
        let mut j = Journal::open(&path, "abc", "prompt", &no_warning).unwrap();
        assert!(
            j.is_empty() && !path.exists(),
            "nothing written until recorded"
        );
        j.record_greedy_failed().unwrap();
        j.record(0.5, 2, &record("x = 1\n", Verdict::Passed))
            .unwrap();
        j.record(1.5, 0, &record("y\n", Verdict::WrongAnswer))
            .unwrap();
        drop(j);
        let j = Journal::open(&path, "abc", "prompt", &no_warning).unwrap();
        assert!(j.greedy_failed());
        assert_eq!(j.sample(0.5, 2), Some(&record("x = 1\n", Verdict::Passed)));
        assert_eq!(j.sample(1.5, 0).unwrap().verdict, Verdict::WrongAnswer);
        assert_eq!(j.sample(0.5, 0), None);
        drop(j);

        // A kill mid-write: half a line at the end.
        let whole = std::fs::read_to_string(&path).unwrap();
        let torn = &whole[..whole.len() - 10];
        std::fs::write(&path, torn).unwrap();
        let warnings = std::cell::RefCell::new(Vec::new());
        let mut j = Journal::open(&path, "abc", "prompt", &|m| {
            warnings.borrow_mut().push(m.to_owned())
        })
        .unwrap();
        assert!(
            warnings.borrow()[0].contains("dropped 1 unreadable line"),
            "{warnings:?}"
        );
        assert!(j.sample(0.5, 2).is_some() && j.sample(1.5, 0).is_none());
        // Appending after the repair gives whole lines again.
        j.record(1.5, 0, &record("y\n", Verdict::WrongAnswer))
            .unwrap();
        drop(j);
        let j = Journal::open(&path, "abc", "prompt", &no_warning).unwrap();
        assert!(j.sample(1.5, 0).is_some() && j.greedy_failed());
        j.remove().unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn a_journal_of_another_prompt_is_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(JOURNAL_FILE);
        let mut j = Journal::open(&path, "abc", "prompt", &no_warning).unwrap();
        j.record(0.5, 0, &record("x", Verdict::Passed)).unwrap();
        drop(j);
        let warned = std::cell::Cell::new(false);
        let j = Journal::open(&path, "abc", "another prompt", &|m| {
            assert!(m.contains("another question or prompt"), "{m}");
            warned.set(true)
        })
        .unwrap();
        assert!(warned.get() && j.is_empty() && !path.exists());
    }
}
