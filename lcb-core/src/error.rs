//! The error type of lcb-core: every variant names the file (and line, and field) it is about,
//! so a user can fix bad input without guessing.

use std::path::PathBuf;

/// Errors raised while loading problems, samples or other input files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened or read.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said (shown in the message, not chained, so it is
        /// printed once).
        error: std::io::Error,
    },
    /// A line of a JSON Lines file is not valid JSON.
    #[error("{path}:{line}: invalid JSON: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The parser's message.
        message: String,
    },
    /// A record lacks a field or has a field of the wrong type or value.
    #[error("{path}:{line}: field `{field}`: {message}")]
    Field {
        /// The file.
        path: PathBuf,
        /// 1-based line number (0 when the file is a single JSON document).
        line: usize,
        /// The field's name.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A file holds no records.
    #[error("{path}: no records (the file is empty)")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A LiveCodeBench version tag that names no release.
    #[error(transparent)]
    VersionTag(#[from] crate::dataset::selection::VersionTagError),
    /// Any other problem with an input, described in words.
    #[error("{0}")]
    Invalid(String),
    /// Downloading from the Hugging Face hub failed.
    #[error("hub: {0}")]
    Hub(String),
}

/// Result alias for lcb-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A field error for `path:line`.
    pub fn field(
        path: impl Into<PathBuf>,
        line: usize,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Field {
            path: path.into(),
            line,
            field: field.into(),
            message: message.into(),
        }
    }
}
