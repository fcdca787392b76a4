//! What the CLI tests share: where the repository and its fixtures are, the `lcb` binary,
//! running it to success or to a clean failure, and reading the JSON it writes.

// Each test binary includes this module and uses its own part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A path under `fixtures/`.
pub fn fixture(relative: &str) -> PathBuf {
    repo().join("fixtures").join(relative)
}

/// The `lcb` binary under test, run from the repository root, where the embedded default
/// finds its fixtures and relative fixture paths resolve.
pub fn lcb() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lcb"));
    command.current_dir(repo());
    command
}

/// Runs `command` to its end.
pub fn output(command: &mut Command) -> Output {
    command.output().expect("run lcb")
}

/// Runs `command`; panics, with its stderr, unless it succeeds.
pub fn succeed(command: &mut Command) -> Output {
    let out = output(command);
    assert!(out.status.success(), "{command:?} failed: {}", stderr(&out));
    out
}

/// Runs `command`; panics unless it fails cleanly (an error message, no panic). Returns its
/// stderr.
pub fn fail(command: &mut Command) -> String {
    let out = output(command);
    let err = stderr(&out);
    assert!(!out.status.success(), "{command:?} succeeded: {err}");
    assert!(!err.contains("panicked"), "{command:?} panicked: {err}");
    err
}

/// What a run printed on stdout.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What a run printed on stderr.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// One JSON value per line.
pub fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A JSON file.
pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A JSON Lines file.
pub fn read_json_lines(path: &Path) -> Vec<Value> {
    json_lines(&std::fs::read_to_string(path).unwrap())
}

pub mod server;
