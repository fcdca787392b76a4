//! Finding the Python interpreter that runs candidate programs.
//!
//! LiveCodeBench recommends CPython 3.11; lcb uses, in order: an explicit path, `$LCB_PYTHON`,
//! the managed environment `lcb setup` made ([`crate::environment`]), `python3.11` on `PATH`,
//! then `python3`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A Python interpreter and what it reports about itself.
#[derive(Debug, Clone)]
pub struct Python {
    /// The executable.
    pub path: PathBuf,
    /// `major.minor.micro`.
    pub version: String,
    /// The directories the interpreter reads from: its prefixes (a virtual environment and
    /// the installation it was made from), where the executable really lives, and the
    /// existing entries of its module search path. The sandbox lets a worker read these and
    /// little else.
    pub tree: Vec<PathBuf>,
}

/// Resolves the interpreter to use; `explicit` wins over the environment and `PATH`.
pub fn find(explicit: Option<&Path>) -> Result<Python, String> {
    let candidates: Vec<PathBuf> = match explicit {
        Some(p) => vec![p.to_owned()],
        None => match std::env::var_os("LCB_PYTHON").filter(|v| !v.is_empty()) {
            Some(p) => vec![PathBuf::from(p)],
            None => crate::environment::managed_python()
                .into_iter()
                .chain(["python3.11".into(), "python3".into()])
                .collect(),
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
            "import os, sys; print('%d.%d.%d' % sys.version_info[:3]); \
             print('\\n'.join([sys.prefix, sys.base_prefix, sys.exec_prefix, \
             sys.base_exec_prefix, os.path.dirname(os.path.realpath(sys.executable))] \
             + [p for p in sys.path if os.path.exists(p)]))",
        ])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("exited with {}", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let version = lines.next().unwrap_or("").trim().to_owned();
    let mut tree: Vec<PathBuf> = lines.filter(|l| !l.is_empty()).map(PathBuf::from).collect();
    tree.sort();
    tree.dedup();
    let minor: Option<u32> = version
        .strip_prefix("3.")
        .and_then(|rest| rest.split('.').next())
        .and_then(|m| m.parse().ok());
    match minor {
        Some(m) if m >= 8 => Ok(Python {
            path: path.to_owned(),
            version,
            tree,
        }),
        _ => Err(format!(
            "version {version} is too old (need 3.8+, 3.11 recommended)"
        )),
    }
}
