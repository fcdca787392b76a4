//! Reading a sweep's results tree (see [`sweep::store`](crate::sweep::store)) and summarising
//! it: pass rate per temperature with a confidence interval, pass@k, the best temperature,
//! verdict counts, per-question rates, one question in detail, and two trees side by side.
//!
//! * [`load`]: [`ResultsTree::load`] reads a tree, also one a sweep is still writing;
//! * [`stats`]: the confidence intervals;
//! * [`summary`]: [`Report`], [`QuestionView`];
//! * [`compare`]: [`Comparison`] of two trees.
//!
//! All rates here are fractions in `[0, 1]` (the tree's files store percentages).
//!
//! The overall pass rate at a temperature is LCB's pass@1: the mean over questions of each
//! question's pass rate `c / n`. Questions solved greedily (`skipped.json`) have no samples
//! and take part in no mean; they are listed separately.

pub mod compare;
pub mod load;
pub mod stats;
pub mod summary;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use compare::{Comparison, ComparisonRow};
pub use load::{Cell, LoadWarning, QuestionData, ResultsTree, SkippedQuestion, VerdictCounts};
pub use stats::Interval;
pub use summary::{
    BestTemperature, Heatmap, HeatmapRow, PassAtK, QuestionTemperature, QuestionView, Report,
    TemperatureStats,
};

/// Why a results tree cannot be reported on. Files that merely fail to parse are not errors:
/// they become [`LoadWarning`]s, so a tree a sweep is still writing can be looked at.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The directory does not exist.
    #[error("{path}: no such directory (expected the output directory of `lcb sweep`)")]
    MissingDirectory {
        /// The directory asked for.
        path: PathBuf,
    },
    /// The path exists but is not a directory.
    #[error("{path}: not a directory (expected the output directory of `lcb sweep`)")]
    NotADirectory {
        /// The path asked for.
        path: PathBuf,
    },
    /// A directory could not be listed.
    #[error("{path}: {error}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// Nothing to report: no question directory holds a readable result.
    #[error(
        "{path}: no results yet (no readable q*/t*_n*.json, summary.json or skipped.json){}",
        unreadable_note(.unreadable)
    )]
    EmptyTree {
        /// The directory.
        path: PathBuf,
        /// Result files that were found but could not be read.
        unreadable: usize,
    },
    /// A file was written by an lcb with another result format.
    #[error(
        "{path}: result format version {found}, but this lcb reads versions 1 to {expected}; \
         report on it with the lcb version that wrote it"
    )]
    FormatVersion {
        /// The file.
        path: PathBuf,
        /// The version in the file, as written there.
        found: String,
        /// [`FORMAT_VERSION`](crate::sweep::store::FORMAT_VERSION).
        expected: u32,
    },
    /// `--question IDX` names a question the tree does not have.
    #[error("{root}: question {idx} is not in this results tree (it has {available})")]
    UnknownQuestion {
        /// The tree.
        root: PathBuf,
        /// The index asked for.
        idx: usize,
        /// The indices present, in words (e.g. `q0..q9, q12`).
        available: String,
    },
}

fn unreadable_note(unreadable: &usize) -> String {
    match *unreadable {
        0 => String::new(),
        1 => "; 1 result file could not be read".into(),
        n => format!("; {n} result files could not be read"),
    }
}
