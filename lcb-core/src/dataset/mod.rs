//! Loading problem sets: from a local `.jsonl` / `.jsonl.gz` / `.parquet` file or directory
//! of shards, or a hub dataset reference such as
//! `livecodebench/code_generation_lite@release_v6` or `livecodebench/execution-v2`.
//!
//! Row families are detected from the first row (LiveCodeBench, HumanEval, code execution or
//! test output prediction); every row must be of that family. Problems are put in
//! lcb_runner's benchmark order so indices match its own: LiveCodeBench by `question_id` as a
//! string, code execution by the number in `id`, test output prediction by
//! (`question_id`, `test_id`); HumanEval keeps file order.

pub mod humaneval;
pub mod lcb;
mod parquet_rows;
pub mod prediction;
pub mod selection;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::hub::{self, HubOptions, HubRepo, RepoKind};
use crate::jsonl;
use crate::problem::Problem;
pub use selection::{DateError, DateWindow, VersionTagError};

/// Where problems come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemSource {
    /// A `.jsonl` / `.jsonl.gz` file, or a directory of LCB shards (`test.jsonl`, `test2.jsonl`…).
    Path(PathBuf),
    /// A hub dataset, with a LiveCodeBench version tag (`release_v6`, `v6`, `v4_v5`…) for
    /// `code_generation_lite` (the prediction datasets have none: `release_latest`).
    Hub {
        /// `owner/name`.
        repo: String,
        /// The version tag; selects shard files.
        tag: String,
    },
}

impl ProblemSource {
    /// Interprets a command-line value: an existing path, else `owner/name[@tag]` on the hub
    /// (tag defaults to `release_latest`).
    pub fn parse(text: &str) -> Result<Self> {
        let path = Path::new(text);
        if path.exists() {
            return Ok(ProblemSource::Path(path.to_owned()));
        }
        let (repo, tag) = text.split_once('@').unwrap_or((text, "release_latest"));
        let file_like = [".jsonl", ".gz", ".parquet"]
            .iter()
            .any(|e| text.ends_with(e));
        if hub::looks_like_repo_id(repo) && !file_like {
            hub_files(repo, tag)?;
            return Ok(ProblemSource::Hub {
                repo: repo.to_owned(),
                tag: tag.to_owned(),
            });
        }
        Err(Error::Io {
            path: path.to_owned(),
            error: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        })
    }
}

/// A loaded, ordered set of problems with lookup by id.
#[derive(Debug, Clone, Default)]
pub struct ProblemSet {
    problems: Vec<Problem>,
    by_id: HashMap<String, usize>,
}

impl ProblemSet {
    /// Builds a set from problems, putting LCB problems in benchmark order.
    /// Duplicate ids are an error.
    pub fn new(mut problems: Vec<Problem>) -> Result<Self> {
        // Stable sorts: rows with equal keys keep file order, as Python's `sorted` does.
        if problems.iter().all(|p| matches!(p, Problem::Lcb(_))) {
            problems.sort_by(|a, b| a.id().cmp(b.id()));
        } else if problems.iter().all(|p| matches!(p, Problem::Execution(_))) {
            problems.sort_by_key(|p| match p {
                Problem::Execution(e) => e.order(),
                _ => unreachable!("all rows are code-execution rows"),
            });
        } else if problems.iter().all(|p| matches!(p, Problem::TestOutput(_))) {
            problems.sort_by(|a, b| match (a, b) {
                (Problem::TestOutput(a), Problem::TestOutput(b)) => {
                    (&a.question_id, a.test_id).cmp(&(&b.question_id, b.test_id))
                }
                _ => unreachable!("all rows are test-output rows"),
            });
        }
        let mut by_id = HashMap::with_capacity(problems.len());
        for (index, problem) in problems.iter().enumerate() {
            if by_id.insert(problem.id().to_owned(), index).is_some() {
                return Err(Error::Invalid(format!(
                    "problem id `{}` appears more than once",
                    problem.id()
                )));
            }
        }
        Ok(ProblemSet { problems, by_id })
    }

    /// The problems, in benchmark order.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The problem with this id and its index in benchmark order.
    pub fn get(&self, id: &str) -> Option<(usize, &Problem)> {
        self.by_id.get(id).map(|&i| (i, &self.problems[i]))
    }

    /// Number of problems.
    pub fn len(&self) -> usize {
        self.problems.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    /// Keeps only problems whose contest date is inside `window` (HumanEval has no dates).
    pub fn filter_dates(self, window: &DateWindow) -> Result<Self> {
        let kept = self
            .problems
            .into_iter()
            .filter(|p| match p.contest_date() {
                Some(date) => selection::parse_contest_date(date)
                    .map(|d| window.contains(d))
                    .unwrap_or(false),
                None => true,
            })
            .collect();
        ProblemSet::new(kept)
    }
}

/// Loads problems from `source` (downloading hub shards through the cache if needed).
pub fn load(source: &ProblemSource, hub_options: &HubOptions) -> Result<ProblemSet> {
    match source {
        ProblemSource::Path(path) if path.is_dir() => {
            let files = selection::shards_for_tag("release_latest")?;
            let present: Vec<PathBuf> = files
                .iter()
                .map(|f| path.join(f))
                .filter(|p| p.exists())
                .collect();
            if present.is_empty() {
                return Err(Error::Invalid(format!(
                    "{}: directory holds no LiveCodeBench shard (test.jsonl, test2.jsonl, …)",
                    path.display()
                )));
            }
            load_files(&present)
        }
        ProblemSource::Path(path) => load_files(std::slice::from_ref(path)),
        ProblemSource::Hub { repo, tag } => {
            let shards = hub_files(repo, tag)?;
            let names: Vec<&str> = shards.iter().map(String::as_str).collect();
            let paths = hub::fetch(
                &HubRepo::new(repo.clone(), RepoKind::Dataset),
                &names,
                hub_options,
            )?;
            load_files(&paths)
        }
    }
}

/// The files of a hub dataset to load: the parquet file of LiveCodeBench's code-execution and
/// test-output-prediction datasets (which have no release versions), or the
/// `code_generation_lite` shards a version tag selects.
pub fn hub_files(repo: &str, tag: &str) -> Result<Vec<String>> {
    let name = repo.rsplit('/').next().unwrap_or(repo);
    let single = match name {
        "execution-v2" => Some("data/test-00000-of-00001.parquet"),
        "test_generation" => Some("test.parquet"),
        _ => None,
    };
    match single {
        Some(_) if tag != "release_latest" => Err(Error::Invalid(format!(
            "{repo} has no release versions (`@{tag}`); name it without a tag"
        ))),
        Some(file) => Ok(vec![file.to_owned()]),
        None => Ok(selection::shards_for_tag(tag)?),
    }
}

/// Loads and concatenates problem files (rows in file order), then orders them.
pub fn load_files(paths: &[PathBuf]) -> Result<ProblemSet> {
    let mut problems = Vec::new();
    let mut family: Option<&'static str> = None;
    for path in paths {
        let records = if path.extension().is_some_and(|e| e == "parquet") {
            parquet_rows::read_rows(path)?
        } else {
            jsonl::read_objects(path)?
        };
        for record in records {
            // Test-output rows also carry `question_id` and `question_content`: asked first.
            let (this, problem) = if prediction::is_test_output_row(&record) {
                (
                    "test output prediction",
                    Problem::TestOutput(prediction::parse_test_output_row(path, &record)?),
                )
            } else if prediction::is_execution_row(&record) {
                (
                    "code execution",
                    Problem::Execution(prediction::parse_execution_row(path, &record)?),
                )
            } else if lcb::is_lcb_row(&record) {
                (
                    "LiveCodeBench",
                    Problem::Lcb(lcb::parse_row(path, &record)?),
                )
            } else if humaneval::is_humaneval_row(&record) {
                (
                    "HumanEval",
                    Problem::HumanEval(humaneval::parse_row(path, &record)?),
                )
            } else {
                return Err(Error::field(
                    path,
                    record.line,
                    "question_id",
                    "not a LiveCodeBench row (question_id, question_content, …), \
                     a HumanEval row (task_id, prompt, test, entry_point, …), \
                     a code-execution row (id, code, input, output, …) \
                     nor a test-output-prediction row (question_id, test, test_id, …)",
                ));
            };
            match family {
                Some(f) if f != this => {
                    return Err(Error::Invalid(format!(
                        "{}:{}: a {this} row in a file of {f} rows",
                        path.display(),
                        record.line
                    )))
                }
                _ => family = Some(this),
            }
            problems.push(problem);
        }
    }
    ProblemSet::new(problems)
}

#[cfg(test)]
mod tests;
