//! `lcb setup`: the managed grading environment, a virtual environment in the user's cache
//! directory with LiveCodeBench's packages, which lcb then uses by default.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use lcb_eval::environment;

/// Create (or check) the managed grading environment.
///
/// Graded programs run with a Python that has what LiveCodeBench's environment has (numpy, pandas,
/// pinned in lcb's requirements list). This makes a virtual environment in
/// $XDG_CACHE_HOME/lcb/ (~/.cache/lcb/ by default) from the Python it finds (3.11 preferred, as
/// LiveCodeBench recommends), installs the pinned packages from PyPI, and verifies them;
/// afterwards `lcb eval` and `lcb sweep` use it when neither --python nor $LCB_PYTHON says
/// otherwise. Running it again reuses the environment. Offline, it says which packages to
/// install by hand.
#[derive(clap::Args)]
pub struct SetupArgs {
    /// Python to build the environment from [default: python3.11, else python3].
    #[arg(long, value_name = "PATH")]
    python: Option<PathBuf>,
}

/// Runs `lcb setup`.
pub fn run(args: SetupArgs) -> Result<ExitCode> {
    let base = match args.python {
        Some(p) => p,
        None => ["python3.11", "python3"]
            .iter()
            .map(PathBuf::from)
            .find(|p| environment::probe(p).is_ok())
            .context("no python3.11 or python3 on PATH; pass --python PATH")?,
    };
    let setup = environment::setup(&base)?;
    let env = &setup.environment;
    let packages: Vec<String> = env
        .packages
        .iter()
        .map(|(name, version)| format!("{name} {version}"))
        .collect();
    println!(
        "{} grading environment: {} (Python {}; {})",
        if setup.reused {
            "reusing the"
        } else {
            "created the"
        },
        setup.python.display(),
        env.python,
        packages.join(", ")
    );
    println!("lcb eval and lcb sweep use it unless --python or $LCB_PYTHON says otherwise");
    Ok(ExitCode::SUCCESS)
}
