//! The grading environment: which Python and which packages graded programs run with, compared
//! with LiveCodeBench's own (the pinned list in `requirements-grader.txt`), and the managed
//! virtual environment `lcb setup` creates in the user's cache directory.
//!
//! A pass rate computed in an environment that lacks part of LCB's (numpy, today) is a
//! different benchmark: every correct solution that imports numpy fails. So the environment is
//! part of a result: it is recorded with it, and the CLI refuses to grade LCB problems in an
//! incomplete one unless told to.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

/// The packages graded programs may import, as pinned for LiveCodeBench's environment.
pub const REQUIREMENTS: &str = include_str!("../../requirements-grader.txt");

/// One pinned package of [`REQUIREMENTS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// Distribution and import name (`numpy`).
    pub name: String,
    /// The pinned version.
    pub version: String,
}

/// The pinned packages, in file order.
pub fn requirements() -> Vec<Requirement> {
    REQUIREMENTS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (name, version) = l.split_once("==")?;
            Some(Requirement {
                name: name.trim().to_owned(),
                version: version.trim().to_owned(),
            })
        })
        .collect()
}

/// What an interpreter offers graded programs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradingEnvironment {
    /// `major.minor.micro`.
    pub python: String,
    /// Installed version of each required package that can be imported.
    pub packages: BTreeMap<String, String>,
    /// Required packages that cannot be imported.
    pub missing: Vec<String>,
}

impl GradingEnvironment {
    /// Whether every required package can be imported.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }
}

/// Asks `python` what it offers (runs it once, outside any sandbox: only lcb's own probe).
pub fn probe(python: &Path) -> Result<GradingEnvironment, String> {
    let names: Vec<String> = requirements().into_iter().map(|r| r.name).collect();
    let script = format!(
        "import importlib.util, importlib.metadata, json, sys\n\
         names = {names:?}\n\
         found = {{}}\n\
         for n in names:\n\
         \x20   if importlib.util.find_spec(n) is not None:\n\
         \x20       try:\n\
         \x20           found[n] = importlib.metadata.version(n)\n\
         \x20       except importlib.metadata.PackageNotFoundError:\n\
         \x20           found[n] = 'unknown'\n\
         print(json.dumps({{'python': '%d.%d.%d' % sys.version_info[:3], 'packages': found}}))"
    );
    let out = Command::new(python)
        .args(["-I", "-c", &script])
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{}: exited with {} while listing its packages",
            python.display(),
            out.status
        ));
    }
    #[derive(Deserialize)]
    struct Found {
        python: String,
        packages: BTreeMap<String, String>,
    }
    let found: Found = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{}: unreadable package list: {e}", python.display()))?;
    let missing = names
        .into_iter()
        .filter(|n| !found.packages.contains_key(n))
        .collect();
    Ok(GradingEnvironment {
        python: found.python,
        packages: found.packages,
        missing,
    })
}

/// Why `lcb setup` could not make the managed environment.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// No base interpreter.
    #[error("no Python to build the grading environment from: {0}")]
    NoPython(String),
    /// `python -m venv` failed.
    #[error("cannot create the virtual environment {dir}: {message}")]
    Venv {
        /// Where.
        dir: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// `pip install` failed (offline, most often).
    #[error(
        "cannot install the grading packages into {dir} (offline?): {message}\n\
         install these into a Python 3.11 yourself and point lcb at it: {packages}"
    )]
    Install {
        /// Where.
        dir: PathBuf,
        /// pip's last lines.
        message: String,
        /// The pinned list, `name==version` separated by spaces.
        packages: String,
    },
    /// The environment was made but does not offer every package.
    #[error("the environment {dir} was made but still lacks {missing}")]
    Incomplete {
        /// Where.
        dir: PathBuf,
        /// What is missing.
        missing: String,
    },
}

/// The managed environment's directory: `$XDG_CACHE_HOME/lcb/python-<major.minor>-<hash of the
/// requirements>` (`~/.cache` when `XDG_CACHE_HOME` is unset), so a changed pin list gets a
/// new environment instead of a half-updated one.
pub fn managed_dir(python_minor: &str) -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    let hash = blake3::hash(REQUIREMENTS.as_bytes()).to_hex();
    Some(
        cache
            .join("lcb")
            .join(format!("python-{python_minor}-{}", &hash[..12])),
    )
}

/// The managed environment's interpreter, if `lcb setup` made one that is complete.
pub fn managed_python() -> Option<PathBuf> {
    ["3.11", "3"].iter().find_map(|minor| {
        let dir = managed_dir(minor)?;
        let python = dir.join("bin").join("python");
        dir.join(READY_MARKER).exists().then_some(python)
    })
}

/// Written last by [`setup`]: the directory holds a verified environment.
const READY_MARKER: &str = "lcb-ready";

/// What [`setup`] did.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The environment's interpreter.
    pub python: PathBuf,
    /// What it offers.
    pub environment: GradingEnvironment,
    /// Whether an existing environment was reused.
    pub reused: bool,
}

/// Creates (or reuses) the managed environment from `base` (a Python 3.11 preferably, as
/// LiveCodeBench recommends), installs [`REQUIREMENTS`] with pip, and verifies it.
pub fn setup(base: &Path) -> Result<Setup, SetupError> {
    let base_env = probe(base).map_err(SetupError::NoPython)?;
    let minor = base_env
        .python
        .rsplit_once('.')
        .map_or("3", |(major_minor, _)| major_minor)
        .to_owned();
    let dir = managed_dir(&minor)
        .ok_or_else(|| SetupError::NoPython("neither XDG_CACHE_HOME nor HOME is set".into()))?;
    let python = dir.join("bin").join("python");
    if dir.join(READY_MARKER).exists() {
        if let Ok(environment) = probe(&python) {
            if environment.is_complete() {
                return Ok(Setup {
                    python,
                    environment,
                    reused: true,
                });
            }
        }
    }
    let venv_error = |message: String| SetupError::Venv {
        dir: dir.clone(),
        message,
    };
    let status = Command::new(base)
        .args(["-m", "venv", "--clear"])
        .arg(&dir)
        .output()
        .map_err(|e| venv_error(e.to_string()))?;
    if !status.status.success() {
        return Err(venv_error(last_lines(&status.stderr)));
    }
    let pins = dir.join("requirements-grader.txt");
    std::fs::write(&pins, REQUIREMENTS).map_err(|e| venv_error(e.to_string()))?;
    let install = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--retries",
            "1",
            "--timeout",
            "15",
            "-r",
        ])
        .arg(&pins)
        .output()
        .map_err(|e| venv_error(e.to_string()))?;
    if !install.status.success() {
        return Err(SetupError::Install {
            dir,
            message: last_lines(&install.stderr),
            packages: requirements()
                .iter()
                .map(|r| format!("{}=={}", r.name, r.version))
                .collect::<Vec<_>>()
                .join(" "),
        });
    }
    let environment = probe(&python).map_err(venv_error)?;
    if !environment.is_complete() {
        return Err(SetupError::Incomplete {
            dir,
            missing: environment.missing.join(", "),
        });
    }
    std::fs::write(dir.join(READY_MARKER), b"").map_err(|e| venv_error(e.to_string()))?;
    Ok(Setup {
        python,
        environment,
        reused: false,
    })
}

fn last_lines(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_list_is_read_from_the_requirements_file() {
        let reqs = requirements();
        assert!(reqs
            .iter()
            .any(|r| r.name == "numpy" && !r.version.is_empty()));
        assert!(reqs.iter().all(|r| !r.name.starts_with('#')));
    }

    #[test]
    fn the_managed_directory_names_the_python_and_the_pins() {
        let dir = managed_dir("3.11").unwrap();
        let name = dir.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("python-3.11-"), "{name}");
        assert_eq!(dir.parent().unwrap().file_name().unwrap(), "lcb");
    }
}
