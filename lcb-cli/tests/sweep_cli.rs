//! `lcb sweep` end to end with the real parts: the embedded tiny Qwen3 (`fixtures/model`),
//! lcb's engine on the CPU, the fixture problems and the sandboxed grader.
//!
//! * The embedded default, at a small n, reproduces the model's recorded greedy pass rate
//!   exactly (34 of 45; `fixtures/model/README.md`) and writes a valid tree.
//! * With the greedy check on, exactly the greedily solved questions are skipped.
//! * A sweep killed with SIGKILL at several points and then resumed writes the same files as
//!   an uninterrupted one (apart from timing fields).
//! * Ctrl-C and SIGTERM stop a sweep with complete files only; the run resumes.
//! * The engine's CPU thread count changes nothing in the results.
//! * Bad input is refused before any work starts (nothing is created).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{fail, lcb, read_json as read, stderr, stdout, succeed};
use serde_json::Value;

/// The greedy pass count of the fixture model on the 45 fixture problems
/// (`fixtures/model/README.md`, "Greedy: 34 of 45 problems pass").
const RECORDED_GREEDY_PASSED: usize = 34;

fn run(args: &[&str]) -> Output {
    succeed(lcb().args(args))
}

/// Every result file of a tree, timing fields removed, by path.
fn snapshot(root: &Path) -> BTreeMap<String, Value> {
    lcb_core::sweep::ResultStore::new(root)
        .timing_free_snapshot()
        .unwrap()
}

/// Checks one `t{T}_n{n}.json` against its own completions and returns (passed, n).
fn check_temperature_file(path: &Path, temperature: f64, n: usize) -> (usize, usize) {
    let v = read(path);
    assert_eq!(
        v["temperature"].as_f64(),
        Some(temperature),
        "{}",
        path.display()
    );
    assert_eq!(v["n"].as_u64(), Some(n as u64));
    let completions = v["completions"].as_array().unwrap();
    assert_eq!(completions.len(), n);
    let passed = completions
        .iter()
        .filter(|c| {
            let ok = c["passed"].as_bool().unwrap();
            assert_eq!(ok, c["verdict"] == "passed", "{}: {c}", path.display());
            assert!(c["num_tokens"].as_u64().unwrap() > 0);
            ok
        })
        .count();
    assert_eq!(v["passed"].as_u64(), Some(passed as u64));
    let rate = v["pass_rate"].as_f64().unwrap();
    assert!((rate - 100.0 * passed as f64 / n as f64).abs() < 1e-9);
    assert_eq!(
        v["sampling_params"]["temperature"].as_f64(),
        Some(temperature)
    );
    assert!(v["prompt"]
        .as_str()
        .unwrap()
        .ends_with("<think>\n\n</think>\n\n"));
    for k in ["gen_tps", "eval_tps", "pipeline_tps"] {
        assert!(v[k].as_f64().unwrap() > 0.0, "{k} in {}", path.display());
    }
    (passed, n)
}

#[test]
fn embedded_default_reproduces_the_recorded_greedy_pass_rate() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let output = run(&[
        "sweep",
        "--temperatures",
        "0,1.5",
        "-n",
        "2",
        "--eval-workers",
        "2",
        "--output",
        dir,
    ]);
    let stdout = stdout(&output);
    // Without a terminal, progress is one log line per question.
    let stderr = stderr(&output);
    for q in [0, 44] {
        assert!(
            stderr.contains(&format!("q{q}: mean pass rate")),
            "q{q} in {stderr}"
        );
    }
    assert!(stdout.contains("sweep done: 45 questions"), "{stdout}");
    assert!(stdout.contains(&format!("results: {dir}")), "{stdout}");

    let summary = read(&out.path().join("run_summary.json"));
    assert_eq!(summary["settings"]["n"], 2);
    assert_eq!(summary["settings"]["skip_greedy_solved"], false);
    let mut greedy_passed = 0;
    let mut hot_passed = 0;
    for q in 0..45 {
        let qdir = out.path().join(format!("q{q}"));
        assert!(
            !qdir.join("skipped.json").exists(),
            "the default samples every question"
        );
        let (p0, n0) = check_temperature_file(&qdir.join("t0_0_n2.json"), 0.0, 2);
        // Greedy: both samples are the same text.
        let t0 = read(&qdir.join("t0_0_n2.json"));
        assert_eq!(t0["completions"][0]["raw"], t0["completions"][1]["raw"]);
        greedy_passed += p0 / n0;
        hot_passed += check_temperature_file(&qdir.join("t1_5_n2.json"), 1.5, 2).0;
        let s = read(&qdir.join("summary.json"));
        assert_eq!(s["question_idx"], q);
        let rows = s["results"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["passed"], t0["passed"]);
    }
    assert_eq!(greedy_passed, RECORDED_GREEDY_PASSED);
    // The curve falls with temperature (the README's measurement: about 15% at T = 1.5).
    assert!(
        hot_passed < 2 * RECORDED_GREEDY_PASSED,
        "{hot_passed} of 90 passed at T=1.5"
    );

    // `lcb report` reads the tree.
    let report = run(&["report", dir, "--json"]).stdout;
    let report: Value = serde_json::from_slice(&report).unwrap();
    let greedy_rate = report["temperatures"][0]["pass_rate"].as_f64().unwrap();
    assert!((greedy_rate - RECORDED_GREEDY_PASSED as f64 / 45.0).abs() < 1e-12);
}

#[test]
fn greedy_check_skips_exactly_the_greedily_solved_questions() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    run(&[
        "sweep",
        "--model",
        "fixtures/model",
        "--problems",
        "fixtures/problems/lcb_fixtures.jsonl",
        "--temperatures",
        "0.7",
        "-n",
        "2",
        "--max-tokens",
        "200",
        "--eval-workers",
        "2",
        "--output",
        dir,
    ]);
    let skipped: Vec<usize> = (0..45)
        .filter(|q| out.path().join(format!("q{q}/skipped.json")).exists())
        .collect();
    assert_eq!(skipped.len(), RECORDED_GREEDY_PASSED, "{skipped:?}");
    for q in 0..45 {
        let qdir = out.path().join(format!("q{q}"));
        if skipped.contains(&q) {
            let s = read(&qdir.join("skipped.json"));
            assert_eq!(s["reason"], "greedy_passed");
            assert_eq!(s["greedy"]["passed"], true);
            assert!(!qdir.join("t0_7_n2.json").exists());
        } else {
            check_temperature_file(&qdir.join("t0_7_n2.json"), 0.7, 2);
        }
    }
}

#[test]
fn killed_sweeps_resume_to_identical_files() {
    let args = |dir: &str| -> Vec<String> {
        [
            "sweep",
            "--questions",
            "0..8",
            "--temperatures",
            "0.6,1.2",
            "-n",
            "6",
            "--eval-workers",
            "2",
            "--inflight",
            "1",
            "--output",
            dir,
        ]
        .map(String::from)
        .to_vec()
    };
    let reference = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    run(&args(reference.path().to_str().unwrap())
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    let full = started.elapsed();
    let expected = snapshot(reference.path());
    assert_eq!(expected.len(), 8 * 3);

    let mut interrupted = 0;
    for fraction in [0.15, 0.4, 0.7] {
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().to_str().unwrap().to_owned();
        let mut child = lcb()
            .args(args(&dir))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(full.mul_f64(fraction));
        let finished_early = child.try_wait().unwrap().is_some();
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        if !finished_early && snapshot(out.path()).len() < expected.len() {
            interrupted += 1;
        }
        // Resuming completes the tree and leaves no temporary file behind.
        run(&args(&dir).iter().map(String::as_str).collect::<Vec<_>>());
        let leftovers: Vec<_> = std::fs::read_dir(out.path())
            .unwrap()
            .map(|d| d.unwrap().path())
            .filter(|d| d.is_dir())
            .flat_map(|d| {
                std::fs::read_dir(d)
                    .unwrap()
                    .map(|f| f.unwrap().file_name())
            })
            .filter(|name| name.to_string_lossy().starts_with(".lcb-tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        assert_eq!(
            snapshot(out.path()),
            expected,
            "after a kill at {:.0}% of a full run",
            100.0 * fraction
        );
    }
    assert!(interrupted >= 2, "only {interrupted} kills landed mid-run");
}

/// The arguments of the sweep the signal tests interrupt, writing to `dir`.
fn interruptible_sweep(dir: &str) -> Vec<String> {
    [
        "sweep",
        "--questions",
        "0..6",
        "--temperatures",
        "0.8,1.6",
        "-n",
        "8",
        "--eval-workers",
        "2",
        "--output",
        dir,
    ]
    .map(String::from)
    .to_vec()
}

/// Starts the interruptible sweep in `dir`, sends it `signal` (a `kill` name such as "INT")
/// once the first question's files are written, and checks how it ended: with `status` and an
/// "interrupted" message, or successfully if it finished before the signal arrived.
fn signal_after_first_question(dir: &Path, signal: &str, status: i32) {
    let child = lcb()
        .args(interruptible_sweep(dir.to_str().unwrap()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let first = dir.join("q0/summary.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !first.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let sent = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = child.wait_with_output().unwrap();
    let stderr = stderr(&output);
    if output.status.code() == Some(status) {
        assert!(stderr.contains("interrupted"), "{stderr}");
    } else {
        // It finished before the signal arrived: nothing to check about interruption.
        assert!(output.status.success(), "{stderr}");
    }
}

#[test]
fn ctrl_c_stops_cleanly_and_the_run_resumes() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap().to_owned();
    signal_after_first_question(out.path(), "INT", 130);
    // Every file left behind is complete and valid JSON.
    let partial = snapshot(out.path());
    assert!(partial.contains_key("q0/summary.json"));
    // Resuming completes the tree exactly as an uninterrupted run writes it.
    run(&interruptible_sweep(&dir)
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    let reference = tempfile::tempdir().unwrap();
    run(&interruptible_sweep(reference.path().to_str().unwrap())
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert_eq!(snapshot(out.path()), snapshot(reference.path()));
    for (path, value) in &partial {
        assert_eq!(
            snapshot(out.path())[path],
            *value,
            "{path} changed on resume"
        );
    }
}

/// SIGTERM (what Slurm sends at a job's time limit) stops a sweep as Ctrl-C does, with the
/// shell's status for it, and leaves only complete files.
#[test]
fn sigterm_stops_cleanly() {
    let out = tempfile::tempdir().unwrap();
    signal_after_first_question(out.path(), "TERM", 143);
    // Whatever is there parses and is complete.
    assert!(snapshot(out.path()).contains_key("q0/summary.json"));
}

#[test]
fn results_do_not_depend_on_the_engine_thread_count() {
    let sweep = |threads: &str| {
        let out = tempfile::tempdir().unwrap();
        run(&[
            "sweep",
            "--questions",
            "0..6",
            "--temperatures",
            "0.7,1.5",
            "-n",
            "4",
            "--threads",
            threads,
            "--output",
            out.path().to_str().unwrap(),
        ]);
        let tree = snapshot(out.path());
        assert_eq!(tree.len(), 6 * 3, "{threads} threads");
        tree
    };
    let one = sweep("1");
    assert!(
        one == sweep("2"),
        "1 and 2 engine threads gave different results"
    );
    assert!(
        one == sweep("3"),
        "1 and 3 engine threads gave different results"
    );
}

#[test]
fn bad_input_is_refused_before_any_work() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("res");
    let dir = dir.to_str().unwrap();
    let cases: [(&[&str], &str); 12] = [
        (&["--temperatures", "0.5,x"], "`x` is not a temperature"),
        (&["--threads", "0"], "'--threads <N>': must be at least 1"),
        (&["--shard", "3/2"], "shard"),
        (&["--model", "no/such/dir/x"], "no/such/dir/x"),
        (&["--problems", "missing.jsonl"], "missing.jsonl"),
        (&["--questions", "40..99"], "out of range"),
        (&["--questions", "1,4,1"], "listed twice"),
        (&["--top-p", "1.5"], "'--top-p <P>': 1.5 is outside (0, 1]"),
        (&["--top-k", "0"], "--top-k must be at least 1"),
        (
            &["--devices", "gpu0"],
            "invalid value 'gpu0' for '--devices",
        ),
        (&["--inflight", "0"], "'--inflight <N>': must be at least 1"),
        (
            &["--problems", "fixtures/humaneval/HumanEval.jsonl.gz"],
            "is not a LiveCodeBench problem",
        ),
    ];
    for (extra, needle) in cases {
        let err = fail(lcb().args(["sweep", "--output", dir]).args(extra));
        assert!(err.contains(needle), "{extra:?}: {err}");
        assert!(!Path::new(dir).exists(), "{extra:?} created the output");
    }
    let file = out.path().join("file");
    std::fs::write(&file, "").unwrap();
    let err = fail(lcb().args(["sweep", "--output", file.join("x").to_str().unwrap()]));
    assert!(err.contains("output directory"), "{err}");
}
