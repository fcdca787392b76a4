//! The engine's error type: every fallible function of this crate returns [`Result`].

use std::path::PathBuf;

/// What can go wrong while loading a model or generating.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said (in the message, not chained, so it prints once).
        error: std::io::Error,
    },
    /// A model file is present but not what the engine expects (bad JSON, unsupported option).
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The model source is not a directory, a hub id, or lacks a required file.
    #[error("{0}")]
    Model(String),
    /// Downloading from the hub failed.
    #[error("{0}")]
    Hub(lcb_core::Error),
    /// A tensor operation failed (shape bug, out of device memory, driver error).
    #[error("tensor operation failed: {0}")]
    Candle(candle_core::Error),
    /// The tokenizer failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// Rendering the chat template failed.
    #[error("chat template: {0}")]
    Template(String),
    /// A request or an option is invalid (a prompt too long, a value out of range).
    #[error("{0}")]
    Invalid(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error: source,
        }
    }

    /// An [`Error::Format`] for `path`.
    pub(crate) fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            message: message.into(),
        }
    }
}

// Manual `From` impls instead of `#[from]`: `#[from]` also marks the field as the error's
// source, and `anyhow`'s `{:#}` would then print the cause twice.
impl From<lcb_core::Error> for Error {
    fn from(e: lcb_core::Error) -> Self {
        Error::Hub(e)
    }
}

impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::Candle(e)
    }
}
