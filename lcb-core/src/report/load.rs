//! Loading a results tree into per-question, per-temperature counts.
//!
//! The loader is lenient because `lcb report` is also used on a tree a sweep is still
//! writing: `run_summary.json` and `summary.json` may be missing, and a file that cannot be
//! read is skipped with a [`LoadWarning`] rather than stopping the report. Two things do stop
//! it: a directory that is not there, and a file written in another result format (its
//! numbers would be misread).
//!
//! Sample files are the source of truth. A question's `summary.json` is used only for
//! temperatures without a sample file (e.g. a tree whose large sample files were deleted to
//! save space); those cells have no verdict counts.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ReportError;
use crate::sweep::store::{
    QuestionSummary, RunSummary, Skipped, FORMAT_VERSION, READABLE_FORMAT_VERSIONS,
};
use crate::verdict::Verdict;

/// Samples per verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VerdictCounts {
    /// `passed`.
    pub passed: u64,
    /// `wrong_answer`.
    pub wrong_answer: u64,
    /// `runtime_error`.
    pub runtime_error: u64,
    /// `time_limit_exceeded`.
    pub time_limit_exceeded: u64,
    /// `compile_error`.
    pub compile_error: u64,
    /// `no_code`.
    pub no_code: u64,
    /// `skipped` (code-execution predictions that contain their input).
    pub skipped: u64,
}

impl VerdictCounts {
    /// Counts one more sample with `verdict`.
    pub fn add(&mut self, verdict: Verdict) {
        *self.slot(verdict) += 1;
    }

    /// The count for `verdict`.
    pub fn get(&self, verdict: Verdict) -> u64 {
        match verdict {
            Verdict::Passed => self.passed,
            Verdict::WrongAnswer => self.wrong_answer,
            Verdict::RuntimeError => self.runtime_error,
            Verdict::TimeLimitExceeded => self.time_limit_exceeded,
            Verdict::CompileError => self.compile_error,
            Verdict::NoCode => self.no_code,
            Verdict::Skipped => self.skipped,
        }
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &VerdictCounts) {
        for v in Verdict::ALL {
            *self.slot(v) += other.get(v);
        }
    }

    /// The verdicts a table of `counts` shows: all of them, but `skipped` only when some
    /// cell has one (only code execution skips).
    pub fn columns<'a>(counts: impl IntoIterator<Item = &'a VerdictCounts>) -> Vec<Verdict> {
        let skips = counts.into_iter().any(|c| c.skipped > 0);
        Verdict::ALL
            .into_iter()
            .filter(|&v| v != Verdict::Skipped || skips)
            .collect()
    }

    /// All samples counted.
    pub fn total(&self) -> u64 {
        Verdict::ALL.iter().map(|&v| self.get(v)).sum()
    }

    fn slot(&mut self, verdict: Verdict) -> &mut u64 {
        match verdict {
            Verdict::Passed => &mut self.passed,
            Verdict::WrongAnswer => &mut self.wrong_answer,
            Verdict::RuntimeError => &mut self.runtime_error,
            Verdict::TimeLimitExceeded => &mut self.time_limit_exceeded,
            Verdict::CompileError => &mut self.compile_error,
            Verdict::NoCode => &mut self.no_code,
            Verdict::Skipped => &mut self.skipped,
        }
    }
}

/// One question at one temperature.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    /// Temperature.
    pub temperature: f64,
    /// Samples (always > 0).
    pub n: u64,
    /// Samples that passed (`<= n`).
    pub passed: u64,
    /// Verdicts of the samples; `None` when the cell comes from `summary.json` only.
    pub verdicts: Option<VerdictCounts>,
}

impl Cell {
    /// `passed / n`.
    pub fn rate(&self) -> f64 {
        self.passed as f64 / self.n as f64
    }
}

/// The samples of one question.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuestionData {
    /// Index in benchmark order (`q{idx}`).
    pub idx: usize,
    /// Question id.
    pub id: String,
    /// Question title.
    pub title: String,
    /// One cell per temperature, by increasing temperature.
    pub cells: Vec<Cell>,
}

impl QuestionData {
    /// The cell at temperature `t`, if sampled.
    pub fn cell(&self, t: f64) -> Option<&Cell> {
        self.cells.iter().find(|c| c.temperature == t)
    }
}

/// A question solved by greedy decoding, so not sampled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkippedQuestion {
    /// Index in benchmark order.
    pub idx: usize,
    /// Question id.
    pub id: String,
    /// Question title.
    pub title: String,
    /// Why (`greedy_passed`).
    pub reason: String,
}

/// A file that was left out of the report, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadWarning {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub message: String,
}

impl std::fmt::Display for LoadWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

/// A results tree as far as it has been written.
#[derive(Debug, Clone)]
pub struct ResultsTree {
    /// The directory.
    pub root: PathBuf,
    /// `run_summary.json`, if present and readable.
    pub run: Option<RunSummary>,
    /// Questions with at least one sampled temperature, by index.
    pub questions: Vec<QuestionData>,
    /// Questions solved greedily and not sampled, by index. A question that has samples is
    /// listed in `questions` only, even with a `skipped.json` (a later `--no-skip` run).
    pub skipped: Vec<SkippedQuestion>,
    /// Files left out.
    pub warnings: Vec<LoadWarning>,
}

/// The fields of `q{idx}/t{T}_n{n}.json` ([`TemperatureResult`]) that a report needs. The
/// completions' raw text is not kept: a full sweep's files hold gigabytes of it.
///
/// [`TemperatureResult`]: crate::sweep::store::TemperatureResult
#[derive(Deserialize)]
struct SampleFile {
    question_idx: usize,
    question_id: String,
    question_title: String,
    temperature: f64,
    n: u64,
    passed: u64,
    completions: Vec<CompletionVerdict>,
    format_version: u32,
}

#[derive(Deserialize)]
struct CompletionVerdict {
    passed: bool,
    verdict: Verdict,
}

/// Just the version, to tell "another format" from "broken file" when parsing fails.
#[derive(Deserialize)]
struct VersionProbe {
    format_version: Option<serde_json::Value>,
}

/// What reading one file gave.
enum Read<T> {
    Ok(T),
    /// Left out, with a reason (already recorded as a warning).
    Skipped,
}

impl ResultsTree {
    /// What the tree's grading environment lacked of LiveCodeBench's (packages graded
    /// programs could not import: a run made with `--allow-partial-env`), from
    /// `run_summary.json`. Empty for a faithful tree and for trees that did not record it.
    pub fn missing_grading_packages(&self) -> Vec<String> {
        self.run
            .as_ref()
            .and_then(|r| r.evaluator.pointer("/environment/missing"))
            .and_then(|m| m.as_array())
            .map(|m| {
                m.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Reads the tree at `root`.
    ///
    /// Errors: `root` missing or not a directory, a file of another result format, or no
    /// readable result at all. Unreadable files are listed in [`warnings`](Self::warnings).
    pub fn load(root: &Path) -> Result<ResultsTree, ReportError> {
        match std::fs::metadata(root) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ReportError::MissingDirectory {
                    path: root.to_owned(),
                })
            }
            Err(error) => {
                return Err(ReportError::Io {
                    path: root.to_owned(),
                    error,
                })
            }
            Ok(m) if !m.is_dir() => {
                return Err(ReportError::NotADirectory {
                    path: root.to_owned(),
                })
            }
            Ok(_) => {}
        }
        let mut loader = Loader {
            warnings: Vec::new(),
            unreadable: 0,
        };
        let run = match loader.read_json::<RunSummary>(&root.join("run_summary.json"))? {
            Some(Read::Ok(run)) => Some(run),
            _ => None,
        };
        let mut question_dirs: Vec<(usize, PathBuf)> = list_dir(root)?
            .into_iter()
            .filter_map(|path| {
                let name = path.file_name()?.to_str()?;
                let idx = name.strip_prefix('q')?.parse::<usize>().ok()?;
                path.is_dir().then_some((idx, path))
            })
            .collect();
        question_dirs.sort();
        let mut questions = Vec::new();
        let mut skipped = Vec::new();
        for (idx, dir) in question_dirs {
            match loader.question(idx, &dir)? {
                Some(Loaded::Sampled(q)) => questions.push(q),
                Some(Loaded::Skipped(s)) => skipped.push(s),
                None => {}
            }
        }
        if questions.is_empty() && skipped.is_empty() {
            return Err(ReportError::EmptyTree {
                path: root.to_owned(),
                unreadable: loader.unreadable,
            });
        }
        Ok(ResultsTree {
            root: root.to_owned(),
            run,
            questions,
            skipped,
            warnings: loader.warnings,
        })
    }

    /// The question with index `idx`, sampled or skipped.
    pub fn find(&self, idx: usize) -> Option<Result<&QuestionData, &SkippedQuestion>> {
        if let Some(q) = self.questions.iter().find(|q| q.idx == idx) {
            return Some(Ok(q));
        }
        self.skipped.iter().find(|s| s.idx == idx).map(Err)
    }

    /// Every temperature sampled for some question, increasing.
    pub fn temperatures(&self) -> Vec<f64> {
        let mut temps: Vec<f64> = self
            .questions
            .iter()
            .flat_map(|q| q.cells.iter().map(|c| c.temperature))
            .collect();
        temps.sort_by(f64::total_cmp);
        temps.dedup();
        temps
    }
}

enum Loaded {
    Sampled(QuestionData),
    Skipped(SkippedQuestion),
}

struct Loader {
    warnings: Vec<LoadWarning>,
    unreadable: usize,
}

impl Loader {
    fn warn(&mut self, path: &Path, message: impl Into<String>) {
        self.warnings.push(LoadWarning {
            path: path.to_owned(),
            message: message.into(),
        });
    }

    /// Parses `path` as `T`: `None` if absent; a warning and `Read::Skipped` if unreadable;
    /// an error if it declares another format version.
    fn read_json<T: for<'de> Deserialize<'de> + Versioned>(
        &mut self,
        path: &Path,
    ) -> Result<Option<Read<T>>, ReportError> {
        let bytes = match std::fs::read(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                self.unreadable += 1;
                self.warn(path, format!("cannot read: {e}"));
                return Ok(Some(Read::Skipped));
            }
            Ok(bytes) => bytes,
        };
        match serde_json::from_slice::<T>(&bytes) {
            Ok(value) => {
                let version = value.format_version();
                if !READABLE_FORMAT_VERSIONS.contains(&version) {
                    return Err(ReportError::FormatVersion {
                        path: path.to_owned(),
                        found: version.to_string(),
                        expected: FORMAT_VERSION,
                    });
                }
                Ok(Some(Read::Ok(value)))
            }
            Err(parse_error) => {
                // A file of another format version would fail here too: say so, not "invalid".
                if let Ok(VersionProbe {
                    format_version: Some(v),
                }) = serde_json::from_slice(&bytes)
                {
                    let readable = v
                        .as_u64()
                        .and_then(|v| u32::try_from(v).ok())
                        .is_some_and(|v| READABLE_FORMAT_VERSIONS.contains(&v));
                    if !readable {
                        return Err(ReportError::FormatVersion {
                            path: path.to_owned(),
                            found: v.to_string(),
                            expected: FORMAT_VERSION,
                        });
                    }
                }
                self.unreadable += 1;
                self.warn(
                    path,
                    format!("skipped, not a valid result file: {parse_error}"),
                );
                Ok(Some(Read::Skipped))
            }
        }
    }

    fn question(&mut self, idx: usize, dir: &Path) -> Result<Option<Loaded>, ReportError> {
        let mut id = None;
        let mut title = String::new();
        let mut cells: Vec<Cell> = Vec::new();
        // Which file each cell came from, to name both when two files claim one temperature.
        let mut sources: Vec<PathBuf> = Vec::new();
        let mut entries = list_dir(dir)?;
        entries.sort();
        for path in &entries {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            // Anything else (`.lcb-tmp-*` of a write in progress, notes) is not ours to judge.
            if !(name.starts_with('t') && name.ends_with(".json") && name.contains("_n")) {
                continue;
            }
            let file = match self.read_json::<SampleFile>(path)? {
                Some(Read::Ok(file)) => file,
                _ => continue,
            };
            let Some(cell) = self.sample_cell(path, idx, &file) else {
                continue;
            };
            id.get_or_insert(file.question_id);
            title = file.question_title;
            match cells.iter().position(|c| c.temperature == cell.temperature) {
                None => {
                    cells.push(cell);
                    sources.push(path.clone());
                }
                Some(i) => {
                    // Left by a run with another `-n`: keep the larger sample.
                    let (keep, drop) = if cell.n > cells[i].n {
                        let old = std::mem::replace(&mut sources[i], path.clone());
                        cells[i] = cell;
                        (path.clone(), old)
                    } else {
                        (sources[i].clone(), path.clone())
                    };
                    self.warn(
                        &drop,
                        format!(
                            "skipped: {} has more samples at the same temperature",
                            keep.display()
                        ),
                    );
                }
            }
        }
        let summary_path = dir.join("summary.json");
        if let Some(Read::Ok(summary)) = self.read_json::<QuestionSummary>(&summary_path)? {
            if summary.question_idx != idx {
                self.warn(
                    &summary_path,
                    format!(
                        "skipped: it is about question {}, not {idx}",
                        summary.question_idx
                    ),
                );
            } else {
                for row in &summary.results {
                    if cells.iter().any(|c| c.temperature == row.temperature) {
                        continue;
                    }
                    if row.n == 0 || row.passed > row.n {
                        self.warn(
                            &summary_path,
                            format!(
                                "row for temperature {} skipped: {} passed of n = {}",
                                row.temperature, row.passed, row.n
                            ),
                        );
                        continue;
                    }
                    cells.push(Cell {
                        temperature: row.temperature,
                        n: row.counted.unwrap_or(row.n) as u64,
                        passed: row.passed as u64,
                        verdicts: None,
                    });
                }
                id.get_or_insert(summary.question_id);
                if title.is_empty() {
                    title = summary.question_title;
                }
            }
        }
        if !cells.is_empty() {
            cells.sort_by(|a, b| a.temperature.total_cmp(&b.temperature));
            return Ok(Some(Loaded::Sampled(QuestionData {
                idx,
                id: id.unwrap_or_default(),
                title,
                cells,
            })));
        }
        let skipped_path = dir.join("skipped.json");
        if let Some(Read::Ok(s)) = self.read_json::<Skipped>(&skipped_path)? {
            return Ok(Some(Loaded::Skipped(SkippedQuestion {
                idx,
                id: s.question_id,
                title: s.question_title,
                reason: s.reason,
            })));
        }
        Ok(None)
    }

    /// Checks a sample file against its place in the tree and itself.
    fn sample_cell(&mut self, path: &Path, idx: usize, file: &SampleFile) -> Option<Cell> {
        let problem = if file.question_idx != idx {
            Some(format!("it is about question {}", file.question_idx))
        } else if file.n == 0 {
            Some("it has n = 0 samples".to_owned())
        } else if file.completions.len() as u64 != file.n {
            Some(format!(
                "n = {} but it holds {} completions",
                file.n,
                file.completions.len()
            ))
        } else if !file.temperature.is_finite() {
            Some(format!("temperature {} is not a number", file.temperature))
        } else {
            None
        };
        let mut verdicts = VerdictCounts::default();
        for c in &file.completions {
            verdicts.add(c.verdict);
        }
        let passed_flags = file.completions.iter().filter(|c| c.passed).count() as u64;
        let problem = problem.or_else(|| {
            (verdicts.passed != file.passed || passed_flags != file.passed).then(|| {
                format!(
                    "passed = {} but {} completions have verdict `passed`",
                    file.passed, verdicts.passed
                )
            })
        });
        if let Some(problem) = problem {
            self.unreadable += 1;
            self.warn(path, format!("skipped, inconsistent: {problem}"));
            return None;
        }
        // lcb_runner's count: skipped predictions leave n (unless all are skipped).
        let (n, passed) = crate::verdict::counted(file.completions.iter().map(|c| c.verdict));
        Some(Cell {
            temperature: file.temperature,
            n,
            passed,
            verdicts: Some(verdicts),
        })
    }
}

/// Result files that carry a format version.
trait Versioned {
    fn format_version(&self) -> u32;
}

impl Versioned for SampleFile {
    fn format_version(&self) -> u32 {
        self.format_version
    }
}

impl Versioned for QuestionSummary {
    fn format_version(&self) -> u32 {
        self.format_version
    }
}

impl Versioned for Skipped {
    fn format_version(&self) -> u32 {
        self.format_version
    }
}

impl Versioned for RunSummary {
    fn format_version(&self) -> u32 {
        self.format_version
    }
}

fn list_dir(dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let io = |error| ReportError::Io {
        path: dir.to_owned(),
        error,
    };
    std::fs::read_dir(dir)
        .map_err(io)?
        .map(|entry| entry.map(|e| e.path()).map_err(io))
        .collect()
}

/// Question indices in words: runs of consecutive indices as `q3..q7`.
pub(super) fn describe_indices(indices: &[usize]) -> String {
    if indices.is_empty() {
        return "no questions".into();
    }
    let mut parts = Vec::new();
    let mut start = indices[0];
    let mut prev = start;
    for &i in &indices[1..] {
        if i != prev + 1 {
            parts.push(range_text(start, prev));
            start = i;
        }
        prev = i;
    }
    parts.push(range_text(start, prev));
    parts.join(", ")
}

fn range_text(a: usize, b: usize) -> String {
    if a == b {
        format!("q{a}")
    } else {
        format!("q{a}..q{b}")
    }
}
