//! Finding the Python interpreter that runs candidate programs.
//!
//! LiveCodeBench recommends CPython 3.11; lcb uses, in order: an explicit path (`--python`),
//! `$LCB_PYTHON`, `python3.11` on `PATH`, then `python3`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A Python interpreter and what it reports about itself.
#[derive(Debug, Clone)]
pub struct Python {
    /// The executable.
    pub path: PathBuf,
    /// `major.minor.micro`.
    pub version: String,
}

/// Resolves the interpreter to use; `explicit` wins over the environment and `PATH`.
pub fn find(explicit: Option<&Path>) -> Result<Python, String> {
    let candidates: Vec<PathBuf> = match explicit {
        Some(p) => vec![p.to_owned()],
        None => match std::env::var_os("LCB_PYTHON").filter(|v| !v.is_empty()) {
            Some(p) => vec![PathBuf::from(p)],
            None => vec!["python3.11".into(), "python3".into()],
        },
    };
    let mut tried = Vec::new();
    for candidate in &candidates {
        match probe(candidate) {
            Ok(python) => return Ok(python),
            Err(e) => tried.push(format!("{}: {e}", candidate.display())),
        }
    }
    // The caller's own way of naming an interpreter (a flag, a setting) is the caller's to
    // mention; the environment variable is this crate's.
    let remedy = if explicit.is_some() {
        "name another interpreter"
    } else {
        "install CPython 3.11 or point $LCB_PYTHON at one"
    };
    Err(format!(
        "no usable Python interpreter ({}); {remedy}",
        tried.join("; ")
    ))
}

fn probe(path: &Path) -> Result<Python, String> {
    let out = Command::new(path)
        .args([
            "-I",
            "-c",
            "import sys; print('%d.%d.%d' % sys.version_info[:3])",
        ])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("exited with {}", out.status));
    }
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let minor: Option<u32> = version
        .strip_prefix("3.")
        .and_then(|rest| rest.split('.').next())
        .and_then(|m| m.parse().ok());
    match minor {
        Some(m) if m >= 8 => Ok(Python {
            path: path.to_owned(),
            version,
        }),
        _ => Err(format!(
            "version {version} is too old (need 3.8+, 3.11 recommended)"
        )),
    }
}
