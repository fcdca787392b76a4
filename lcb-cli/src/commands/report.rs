//! `lcb report`: pass rate vs temperature, pass@k and verdicts of a results tree, in the
//! terminal, as PNG/SVG images or one HTML page; one question in detail; two trees compared.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use lcb_core::report::{Comparison, QuestionView, Report, ResultsTree};

use crate::charts::figure::{self, Figure};
use crate::charts::{html, terminal};

/// Show the results of `lcb sweep`: a chart of pass rate vs temperature with its 95%
/// confidence interval, a table of pass@1 and pass@k per temperature, the best temperature
/// per k, verdict counts, per-question pass rates and the questions skipped.
///
/// Works on a tree a sweep is still writing (files that cannot be read are listed as
/// warnings). With a second directory, shows B − A per temperature.
///
/// Examples:
///   lcb report results
///   lcb report results --png report.png --html report.html
///   lcb report results --question 12
///   lcb report results-base results-tuned
#[derive(clap::Args)]
pub struct ReportArgs {
    /// Results directory written by `lcb sweep`.
    pub dir: PathBuf,
    /// A second results directory to compare with the first (differences are second − first).
    pub compare: Option<PathBuf>,
    /// Also write the charts as a PNG image.
    #[arg(long, value_name = "FILE")]
    pub png: Option<PathBuf>,
    /// Also write the charts as an SVG image.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Also write one self-contained HTML page (inline SVG charts and the tables).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Show one question (its index, `q{IDX}` in the tree) instead of the whole tree.
    #[arg(long, value_name = "IDX", conflicts_with = "compare")]
    pub question: Option<usize>,
    /// Print the numbers as JSON instead of the terminal view (fractions in [0, 1]).
    #[arg(long)]
    pub json: bool,
}

/// Runs `lcb report`.
pub fn run(args: ReportArgs) -> Result<ExitCode> {
    // Refuse an impossible output path before printing anything.
    for path in [&args.png, &args.svg, &args.html].into_iter().flatten() {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            anyhow::bail!(
                "{}: no such directory for {}",
                dir.display(),
                path.display()
            );
        }
    }
    let tree = ResultsTree::load(&args.dir)?;
    let missing = tree.missing_grading_packages();
    if !missing.is_empty() {
        eprintln!(
            "lcb: warning: {} was graded without {} (--allow-partial-env): its pass rates are not \
             LiveCodeBench's",
            args.dir.display(),
            missing.join(", ")
        );
    }
    if let Some(other) = &args.compare {
        let other = ResultsTree::load(other)?;
        let (a, b) = (Report::new(&tree), Report::new(&other));
        let cmp = Comparison::new(&tree, &other);
        if args.json {
            print_json(&cmp)?;
        } else {
            eprint!("{}", terminal::warnings_text(&a.warnings));
            eprint!("{}", terminal::warnings_text(&b.warnings));
            print!("{}", terminal::comparison_text(&cmp, &a, &b));
        }
        let figure = Figure::Comparison {
            a: &a,
            b: &b,
            cmp: &cmp,
        };
        write_files(&args, &figure, || html::comparison_page(&cmp, &a, &b))?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(idx) = args.question {
        let view = QuestionView::new(&tree, idx)?;
        if args.json {
            print_json(&view)?;
        } else {
            eprint!("{}", terminal::warnings_text(&tree.warnings));
            print!("{}", terminal::question_text(&view));
        }
        write_files(&args, &Figure::Question(&view), || {
            html::question_page(&view)
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let report = Report::new(&tree);
    if args.json {
        print_json(&report)?;
    } else {
        eprint!("{}", terminal::warnings_text(&report.warnings));
        print!("{}", terminal::report_text(&report));
    }
    write_files(&args, &Figure::Report(&report), || {
        html::report_page(&report)
    })?;
    Ok(ExitCode::SUCCESS)
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).context("serializing the report")?;
    println!("{text}");
    Ok(())
}

/// Writes the images and page asked for; says where on stderr, so stdout stays the report.
fn write_files(
    args: &ReportArgs,
    figure: &Figure,
    page: impl FnOnce() -> Result<String>,
) -> Result<()> {
    let (w, h) = figure.size();
    if let Some(path) = &args.png {
        figure::write_png(figure, path)?;
        wrote(path, &format!("{w}x{h} PNG"));
    }
    if let Some(path) = &args.svg {
        figure::write_svg(figure, path)?;
        wrote(path, &format!("{w}x{h} SVG"));
    }
    if let Some(path) = &args.html {
        let text = page()?;
        lcb_core::atomic_file::write_atomic(path, text.as_bytes())?;
        wrote(path, "HTML page");
    }
    Ok(())
}

fn wrote(path: &Path, what: &str) {
    eprintln!("wrote {} ({what})", path.display());
}
