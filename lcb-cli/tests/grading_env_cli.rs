//! The grading environment is LiveCodeBench's, or lcb says no: a Python without numpy is
//! refused for LCB problems (with the three ways out), `--allow-partial-env` grades and says
//! so, and `lcb setup` makes a managed environment (from PyPI) that later runs use, reuses it,
//! and names the packages when it cannot install them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `lcb` with no inherited grading Python (`make test` exports one) and `cache` as the cache
/// directory.
fn lcb(cache: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lcb"));
    command
        .env_remove("LCB_PYTHON")
        .env("XDG_CACHE_HOME", cache)
        // pip's downloads stay in the user's own cache between runs.
        .env(
            "PIP_CACHE_DIR",
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/pip"))
                .unwrap_or_else(|| cache.join("pip")),
        );
    command
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A Python without numpy: a fresh virtual environment of the machine's Python.
fn bare_python(dir: &Path) -> PathBuf {
    let base = ["python3.11", "python3"]
        .into_iter()
        .find(|p| Command::new(p).arg("--version").output().is_ok())
        .expect("a python3");
    let venv = dir.join("bare");
    let status = Command::new(base)
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(status.success());
    venv.join("bin/python")
}

/// Samples for one fixture problem: one program that passes nothing, so the run is quick.
fn samples(dir: &Path) -> PathBuf {
    let path = dir.join("samples.jsonl");
    std::fs::write(
        &path,
        "{\"question_id\": \"lcbfx_a01\", \"completion\": \"```python\\nprint(0)\\n```\"}\n",
    )
    .unwrap();
    path
}

fn eval(cache: &Path, dir: &Path, extra: &[&str]) -> Output {
    lcb(cache)
        .arg("eval")
        .arg("--problems")
        .arg(repo().join("fixtures/problems/lcb_fixtures.jsonl"))
        .arg("--samples")
        .arg(samples(dir))
        .args(["--workers", "1", "--json"])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn a_python_without_numpy_is_refused_unless_partial_grading_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let bare = bare_python(dir.path());
    let bare = bare.to_str().unwrap();

    let refused = eval(&cache, dir.path(), &["--python", bare]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    let message = text(&refused);
    for part in [
        "cannot import numpy",
        "--python PATH",
        "LCB_PYTHON",
        "lcb setup",
        "--allow-partial-env",
    ] {
        assert!(message.contains(part), "missing {part:?} in {message}");
    }
    assert!(
        !dir.path().join("samples.jsonl_results.jsonl").exists(),
        "nothing graded"
    );

    let allowed = eval(
        &cache,
        dir.path(),
        &["--python", bare, "--allow-partial-env"],
    );
    assert!(allowed.status.success(), "{}", text(&allowed));
    let summary: serde_json::Value = serde_json::from_slice(&allowed.stdout).unwrap();
    assert_eq!(summary["partial_environment"], true, "{summary}");
    assert_eq!(
        summary["environment"]["missing"],
        serde_json::json!(["numpy", "pandas"])
    );
    assert!(text(&allowed).contains("--allow-partial-env"));
}

#[test]
fn lcb_setup_makes_reuses_and_is_used_and_offline_it_names_the_packages() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");

    // Offline first (pip may not reach an index): a clear failure with the pinned list.
    let offline = lcb(&dir.path().join("offline-cache"))
        .arg("setup")
        .env("PIP_NO_INDEX", "1")
        .output()
        .unwrap();
    assert!(!offline.status.success());
    let message = text(&offline);
    assert!(message.contains("numpy=="), "{message}");
    assert!(message.contains("offline"), "{message}");

    let made = lcb(&cache).arg("setup").output().unwrap();
    assert!(made.status.success(), "{}", text(&made));
    assert!(
        text(&made).contains("created the grading environment"),
        "{}",
        text(&made)
    );
    let python = std::fs::read_dir(cache.join("lcb"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("bin/python");
    let numpy = Command::new(&python)
        .args(["-c", "import numpy; print(numpy.__version__)"])
        .output()
        .unwrap();
    assert!(numpy.status.success(), "{}", text(&numpy));

    let again = lcb(&cache).arg("setup").output().unwrap();
    assert!(again.status.success());
    assert!(text(&again).contains("reusing the grading environment"));

    // Without --python or $LCB_PYTHON, grading uses it: a complete environment.
    let graded = eval(&cache, dir.path(), &[]);
    assert!(graded.status.success(), "{}", text(&graded));
    let summary: serde_json::Value = serde_json::from_slice(&graded.stdout).unwrap();
    assert_eq!(summary["partial_environment"], false, "{summary}");
    assert!(summary["environment"]["packages"]["numpy"].is_string());
}

#[test]
fn a_sweep_in_a_partial_environment_is_refused_or_recorded_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let bare = bare_python(dir.path());
    let out = dir.path().join("results");
    let sweep = |extra: &[&str]| {
        lcb(&cache)
            .current_dir(repo())
            .args([
                "sweep",
                "--questions",
                "0..1",
                "-n",
                "1",
                "--max-tokens",
                "8",
            ])
            .arg("--python")
            .arg(&bare)
            .arg("--output")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    let refused = sweep(&[]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(text(&refused).contains("cannot import numpy"));
    assert!(
        !out.join("run_summary.json").exists(),
        "refused before any work"
    );

    let allowed = sweep(&["--allow-partial-env"]);
    assert!(allowed.status.success(), "{}", text(&allowed));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run_summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["evaluator"]["environment"]["missing"],
        serde_json::json!(["numpy", "pandas"])
    );
    let report = lcb(&cache).arg("report").arg(&out).output().unwrap();
    assert!(report.status.success(), "{}", text(&report));
    assert!(
        String::from_utf8_lossy(&report.stderr).contains("graded without numpy"),
        "{}",
        text(&report)
    );
}
