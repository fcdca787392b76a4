//! Fidelity first: the commands that grade LiveCodeBench problems stop before any work when the
//! grading Python lacks part of LiveCodeBench's environment (numpy and pandas, today), because a pass rate
//! graded there is a different benchmark; `--allow-partial-env` grades anyway, and the results
//! record what was missing.

use std::path::Path;

use anyhow::{bail, Result};
use lcb_eval::environment::{self, GradingEnvironment};

/// Checks the Python `lcb_eval` will grade with (the same search: `python`, `$LCB_PYTHON`,
/// the managed environment, `python3.11`, `python3`). `grades_lcb`: the problems include
/// LiveCodeBench ones (HumanEval's tests need nothing beyond the standard library).
pub fn check(
    python: Option<&Path>,
    grades_lcb: bool,
    allow_partial: bool,
) -> Result<GradingEnvironment> {
    let found = lcb_eval::python::find(python).map_err(anyhow::Error::msg)?;
    let env = environment::probe(&found.path).map_err(anyhow::Error::msg)?;
    if !grades_lcb || env.is_complete() {
        return Ok(env);
    }
    let missing = env.missing.join(", ");
    if allow_partial {
        eprintln!(
            "lcb: warning: grading without {missing} (--allow-partial-env): programs that \
             import it fail; the results record that the environment was partial"
        );
        return Ok(env);
    }
    let pins: Vec<String> = environment::requirements()
        .iter()
        .map(|r| format!("{}=={}", r.name, r.version))
        .collect();
    bail!(
        "the grading Python {} (Python {}) cannot import {missing}, which LiveCodeBench's \
         environment has: every correct solution that uses it would fail, so the pass rate \
         would not be LiveCodeBench's.\n\
         Ways out:\n  \
         --python PATH        a Python (3.11 recommended) with {pins}\n  \
         LCB_PYTHON=PATH      the same, for every command\n  \
         lcb setup            a managed environment in your cache directory, used by default \
         afterwards\n\
         or --allow-partial-env to grade anyway (the results then say so)",
        found.path.display(),
        env.python,
        pins = pins.join(" "),
    )
}
