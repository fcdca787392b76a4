//! The results tree of a sweep (layout compatible with the reference workflow):
//!
//! ```text
//! OUT/run_summary.json           settings, model, devices, start/end, totals, tool version
//! OUT/q{idx}/t{T}_n{n}.json      one (question, temperature): every completion and verdict
//! OUT/q{idx}/summary.json        pass rate per temperature
//! OUT/q{idx}/skipped.json        instead of the above when greedy decoding passed
//! OUT/q{idx}/partial.jsonl       while a question runs: its graded samples so far
//! ```
//!
//! Every `.json` file is written atomically, so a file that parses is complete; a resumed run
//! keeps files that are valid for the current settings, continues unfinished questions from
//! their journal ([`super::journal`]) and redoes the rest.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::scenario::Scenario;

use super::config::{temperature_label, SweepSettings};
use crate::atomic_file::write_atomic;
use crate::error::{Error, Result};
use crate::generator::FinishReason;
use crate::verdict::Verdict;

/// The version written into result files; trees from other versions are refused on resume.
///
/// Version 2: each question's samples come from random streams of their own (version 1
/// shared them across questions), and `run_summary.json` records the problem set and the
/// generator's output-defining settings.
pub const FORMAT_VERSION: u32 = 2;

/// The format versions `lcb report` reads: their files have the same fields (version 2 only
/// adds to `run_summary.json`), so older trees stay readable although they are not resumed.
pub const READABLE_FORMAT_VERSIONS: std::ops::RangeInclusive<u32> = 1..=FORMAT_VERSION;

/// One graded completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionRecord {
    /// Raw model output.
    pub raw: String,
    /// Whether it passed.
    pub passed: bool,
    /// Its verdict.
    pub verdict: Verdict,
    /// Why generation ended.
    pub finish_reason: FinishReason,
    /// Generated tokens.
    pub num_tokens: usize,
}

/// Sampling parameters as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedSampling {
    /// Temperature.
    pub temperature: f64,
    /// Nucleus mass.
    pub top_p: f32,
    /// Top-k, if any.
    pub top_k: Option<usize>,
    /// Maximum new tokens.
    pub max_tokens: usize,
    /// Stop strings.
    pub stop: Vec<String>,
    /// Seed.
    pub seed: u64,
}

/// `q{idx}/t{T}_n{n}.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemperatureResult {
    /// Model name.
    pub model: String,
    /// The full prompt text.
    pub prompt: String,
    /// Sampling parameters.
    pub sampling_params: RecordedSampling,
    /// Engine settings.
    pub model_config: serde_json::Value,
    /// Question index in benchmark order.
    pub question_idx: usize,
    /// Question id.
    pub question_id: String,
    /// Question title.
    pub question_title: String,
    /// Temperature.
    pub temperature: f64,
    /// Samples.
    pub n: usize,
    /// Samples that passed.
    pub passed: usize,
    /// Percentage that passed, of the samples lcb_runner counts (all but skipped
    /// code-execution predictions, unless all are skipped).
    pub pass_rate: f64,
    /// Generation throughput (tokens/s), see the README.
    pub gen_tps: f64,
    /// Grading throughput (tokens of graded completions per second of grading).
    pub eval_tps: f64,
    /// End-to-end throughput (tokens/s until the last verdict).
    pub pipeline_tps: f64,
    /// Every completion, by sample index.
    pub completions: Vec<CompletionRecord>,
    /// Result format version.
    pub format_version: u32,
}

/// One row of `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryRow {
    /// Temperature.
    pub temperature: f64,
    /// Samples.
    pub n: usize,
    /// Passed samples.
    pub passed: usize,
    /// Samples lcb_runner counts, when not all `n` are (skipped code-execution predictions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted: Option<usize>,
    /// Percentage passed, of the counted samples.
    pub pass_rate: f64,
    /// Generation throughput.
    pub gen_tps: f64,
}

/// `q{idx}/summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionSummary {
    /// Question index.
    pub question_idx: usize,
    /// Question id.
    pub question_id: String,
    /// Question title.
    pub question_title: String,
    /// Samples per temperature.
    pub n: usize,
    /// Temperatures.
    pub temperatures: Vec<f64>,
    /// Seconds spent on this question in the run that finished it.
    pub total_time: f64,
    /// One row per temperature.
    pub results: Vec<SummaryRow>,
    /// Result format version.
    pub format_version: u32,
}

/// `q{idx}/skipped.json`: greedy decoding already solves the question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// Question index.
    pub question_idx: usize,
    /// Question id.
    pub question_id: String,
    /// Question title.
    pub question_title: String,
    /// Why: always `greedy_passed`.
    pub reason: String,
    /// The greedy completion.
    pub greedy: CompletionRecord,
    /// Result format version.
    pub format_version: u32,
}

/// `run_summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// lcb version.
    pub tool_version: String,
    /// Result format version.
    pub format_version: u32,
    /// The settings (must match to resume).
    pub settings: SweepSettings,
    /// Problems source.
    pub problems: String,
    /// The LiveCodeBench scenario the problems belong to (absent for code generation, as in
    /// trees made before the other scenarios existed).
    #[serde(default, skip_serializing_if = "Scenario::is_code_generation")]
    pub scenario: Scenario,
    /// Which problems the question indices refer to: see [`problem_set_id`] (empty in
    /// trees of format version 1).
    #[serde(default)]
    pub problem_set: String,
    /// The generator's settings that change its outputs ([`Generator::fingerprint`]).
    ///
    /// [`Generator::fingerprint`]: crate::generator::Generator::fingerprint
    #[serde(default)]
    pub generator: serde_json::Value,
    /// Engine description.
    pub model_config: serde_json::Value,
    /// Grader description.
    pub evaluator: serde_json::Value,
    /// Questions selected (after shard).
    pub questions: Vec<usize>,
    /// Shard `I/N`, if any.
    pub shard: Option<String>,
    /// Start time of the latest run into this tree (RFC 3339 UTC).
    pub started: String,
    /// End time of the latest run, once it finished every question (not when it was
    /// interrupted or some question failed).
    pub finished: Option<String>,
    /// Totals over the latest run (a resumed run counts only what it did itself).
    pub totals: serde_json::Value,
}

impl RunSummary {
    /// How this tree's results differ in definition from `other`'s, if they do: the first
    /// differing field among the format version, the settings, the problem set, the
    /// generator's fingerprint and the grading environment, as `field: was X, now Y` (`self`
    /// is the old tree).
    pub fn difference(&self, other: &RunSummary) -> Option<String> {
        let changed = |field: &str, old: &dyn std::fmt::Display, new: &dyn std::fmt::Display| {
            Some(format!("{field}: was {old}, now {new}"))
        };
        if self.format_version != other.format_version {
            return changed("result format", &self.format_version, &other.format_version);
        }
        if self.settings != other.settings {
            // Both sides come from the same struct, so equal fields serialize equally (an f32
            // read back from JSON is the same f32).
            let old = serde_json::to_value(&self.settings).expect("settings serialize");
            let new = serde_json::to_value(&other.settings).expect("settings serialize");
            let null = serde_json::Value::Null;
            return new.as_object().and_then(|new| {
                new.iter().find_map(|(k, v)| {
                    let was = old.get(k).unwrap_or(&null);
                    (was != v).then(|| format!("{k}: was {was}, now {v}"))
                })
            });
        }
        if self.problem_set != other.problem_set {
            return changed("problem set", &self.problem_set, &other.problem_set);
        }
        if self.generator != other.generator {
            return changed("generator", &self.generator, &other.generator);
        }
        // The grading environment (Python, packages) changes verdicts; trees from before it
        // was recorded say nothing and are not refused for it.
        let environment = |s: &RunSummary| s.evaluator.get("environment").cloned();
        if let (Some(old), Some(new)) = (environment(self), environment(other)) {
            if old != new {
                return changed("grading environment", &old, &new);
            }
        }
        None
    }
}

/// A name for the question indices' meaning: how many problems the set holds and a hash of
/// their ids in benchmark order (after any date window). Two runs with equal ids number their
/// questions alike; another file, version tag or date window usually does not.
pub fn problem_set_id(ids: &[&str]) -> String {
    let mut hasher = blake3::Hasher::new();
    for id in ids {
        hasher.update(id.as_bytes());
        hasher.update(b"\n");
    }
    let hex = hasher.finalize().to_hex();
    format!("{} problems, blake3 {}", ids.len(), &hex[..16])
}

/// An exclusive lock on a results tree, held while a sweep or a merge writes it; released
/// when dropped (or when the process dies).
#[derive(Debug)]
pub struct TreeLock {
    _file: std::fs::File,
}

/// The lock file in a tree's root.
const LOCK_FILE: &str = ".lcb-lock";

/// Paths and file I/O of one results tree.
#[derive(Debug, Clone)]
pub struct ResultStore {
    root: PathBuf,
}

impl ResultStore {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ResultStore { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `OUT/q{idx}`.
    pub fn question_dir(&self, idx: usize) -> PathBuf {
        self.root.join(format!("q{idx}"))
    }

    /// `OUT/q{idx}/t{T}_n{n}.json`.
    pub fn temperature_path(&self, idx: usize, t: f64, n: usize) -> PathBuf {
        self.question_dir(idx)
            .join(format!("t{}_n{n}.json", temperature_label(t)))
    }

    /// `OUT/q{idx}/summary.json`.
    pub fn summary_path(&self, idx: usize) -> PathBuf {
        self.question_dir(idx).join("summary.json")
    }

    /// `OUT/q{idx}/skipped.json`.
    pub fn skipped_path(&self, idx: usize) -> PathBuf {
        self.question_dir(idx).join("skipped.json")
    }

    /// `OUT/q{idx}/partial.jsonl`: the graded samples of a question not finished yet
    /// ([`super::journal`]).
    pub fn journal_path(&self, idx: usize) -> PathBuf {
        self.question_dir(idx).join(super::journal::JOURNAL_FILE)
    }

    /// `OUT/run_summary.json`.
    pub fn run_summary_path(&self) -> PathBuf {
        self.root.join("run_summary.json")
    }

    /// Deletes temporary files a killed run left in a question's directory (atomic writes
    /// that never reached their rename).
    pub fn remove_stale_temp_files(&self, idx: usize) {
        remove_temp_files_in(&self.question_dir(idx));
    }

    /// Creates the root if needed and takes its lock, so that two sweeps (a requeued job and
    /// the job it replaces, say) never write one tree at once. Fails at once if another
    /// process holds it. Also deletes temporary files a killed run left in the root.
    pub fn lock(&self) -> Result<TreeLock> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |error| Error::Io { path, error }
        };
        std::fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        let path = self.root.join(LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        // A lock released a moment ago can still be held for a few milliseconds by a child
        // that another thread of this process forked before exec closed its copy of the
        // descriptor: try for half a second before calling it another writer.
        let mut tries = 0;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if tries < 10 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(Error::Invalid(format!(
                        "{}: another lcb process is writing this results tree (it holds {}); wait for it or choose another output",
                        self.root.display(),
                        path.display()
                    )))
                }
                Err(std::fs::TryLockError::Error(error)) => {
                    return Err(Error::Io { path, error })
                }
            }
        }
        remove_temp_files_in(&self.root);
        Ok(TreeLock { _file: file })
    }

    /// Deletes every result file of the tree (`run_summary.json`; in each `q{idx}`
    /// directory `t*_n*.json`, `summary.json`, `skipped.json`, the journal of an unfinished
    /// question and temporary files, then the
    /// directory if nothing else is left in it). Other files are kept. Returns how many
    /// files were deleted.
    pub fn remove_results(&self) -> Result<usize> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |error| Error::Io { path, error }
        };
        let mut removed = 0;
        let summary = self.run_summary_path();
        if summary.exists() {
            std::fs::remove_file(&summary).map_err(io(&summary))?;
            removed += 1;
        }
        let entries = match std::fs::read_dir(&self.root) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            other => other.map_err(io(&self.root))?,
        };
        for entry in entries {
            let dir = entry.map_err(io(&self.root))?.path();
            let is_question = dir
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix('q'))
                .is_some_and(|n| n.parse::<usize>().is_ok());
            if !is_question || !dir.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&dir).map_err(io(&dir))? {
                let file = file.map_err(io(&dir))?.path();
                let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if is_result_file(name)
                    || name == super::journal::JOURNAL_FILE
                    || name.starts_with(crate::atomic_file::TEMP_PREFIX)
                {
                    std::fs::remove_file(&file).map_err(io(&file))?;
                    removed += 1;
                }
            }
            // Fails (and is left alone) when the user keeps other files there.
            let _ = std::fs::remove_dir(&dir);
        }
        Ok(removed)
    }

    /// Writes `value` as pretty JSON, atomically, creating the directory.
    pub fn write<T: Serialize>(&self, path: &Path, value: &T) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|error| Error::Io {
                path: dir.to_owned(),
                error,
            })?;
        }
        let mut text = serde_json::to_string_pretty(value).expect("result types serialize");
        text.push('\n');
        write_atomic(path, text.as_bytes())
    }

    /// Reads a JSON file: `Ok(None)` if absent, `Err` with a reason if unreadable or invalid.
    pub fn read<T: for<'de> Deserialize<'de>>(&self, path: &Path) -> Result<Option<T>> {
        match std::fs::read(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(Error::Io {
                path: path.to_owned(),
                error,
            }),
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::Json {
                    path: path.to_owned(),
                    line: e.line(),
                    message: e.to_string(),
                }),
        }
    }

    /// Every question file of the tree (`q{idx}/*.json`, keyed by their relative path) with
    /// the timing fields ([`TIMING_FIELDS`]) removed: two runs with the same settings and
    /// seed give equal snapshots, however they were interrupted and resumed.
    pub fn timing_free_snapshot(
        &self,
    ) -> Result<std::collections::BTreeMap<String, serde_json::Value>> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |error| Error::Io { path, error }
        };
        let mut files = std::collections::BTreeMap::new();
        for dir in std::fs::read_dir(&self.root).map_err(io(&self.root))? {
            let dir = dir.map_err(io(&self.root))?.path();
            if !dir.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&dir).map_err(io(&dir))? {
                let file = file.map_err(io(&dir))?.path();
                if file.extension().is_none_or(|e| e != "json") {
                    continue;
                }
                let key = file.strip_prefix(&self.root).unwrap_or(&file);
                files.insert(key.display().to_string(), timing_free_file(&file)?);
            }
        }
        Ok(files)
    }
}

/// A result file's JSON with the timing fields ([`TIMING_FIELDS`]) removed, also from
/// `summary.json`'s rows: what two runs with the same settings and seed agree on.
pub fn timing_free_file(path: &Path) -> Result<serde_json::Value> {
    let bytes = std::fs::read(path).map_err(|error| Error::Io {
        path: path.to_owned(),
        error,
    })?;
    let mut value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| Error::Json {
        path: path.to_owned(),
        line: e.line(),
        message: e.to_string(),
    })?;
    strip_timing(&mut value);
    if let Some(rows) = value.get_mut("results").and_then(|r| r.as_array_mut()) {
        rows.iter_mut().for_each(strip_timing);
    }
    Ok(value)
}

/// Whether `name` is one of the files a sweep writes in a question's directory:
/// `t{T}_n{n}.json`, `summary.json` or `skipped.json`.
pub fn is_result_file(name: &str) -> bool {
    name == "summary.json"
        || name == "skipped.json"
        || (name.starts_with('t') && name.contains("_n") && name.ends_with(".json"))
}

fn remove_temp_files_in(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(crate::atomic_file::TEMP_PREFIX)
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The fields of result files that measure time rather than results.
pub const TIMING_FIELDS: [&str; 4] = ["gen_tps", "eval_tps", "pipeline_tps", "total_time"];

fn strip_timing(value: &mut serde_json::Value) {
    if let Some(object) = value.as_object_mut() {
        for key in TIMING_FIELDS {
            object.remove(key);
        }
    }
}
