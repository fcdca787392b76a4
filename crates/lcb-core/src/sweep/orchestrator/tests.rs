//! The orchestrator with a canned generator and a string-matching evaluator.

use std::sync::atomic::AtomicBool;

use super::*;
use crate::dataset::lcb::encode_private_tests;
use crate::generator::{FinishReason, GenError};
use crate::problem::{LcbProblem, TestCase, TestType};
use crate::prompt::PromptStyle;
use crate::sweep::config::SweepSettings;
use crate::verdict::Verdict;

/// Answers with "good" or "bad" code, chosen by hashing the random key the way a real
/// engine would sample: deterministic per (seed, stream, index).
struct Canned {
    greedy_good: Vec<String>,
    /// Time to "generate" each sample, so a child process can be killed mid-run.
    delay: std::time::Duration,
}

impl Generator for Canned {
    fn submit(
        &self,
        request: GenerationRequest,
    ) -> Result<Receiver<Result<Completion, GenError>>, GenError> {
        let Prompt::Chat { messages, .. } = &request.prompt else {
            unreachable!("chat prompts")
        };
        let greedy_good = self
            .greedy_good
            .iter()
            .any(|q| messages[1].content.contains(q.as_str()));
        let (tx, rx) = crossbeam_channel::unbounded();
        let delay = self.delay;
        std::thread::spawn(move || {
            // Finish samples in a scrambled order, as a real batch would.
            let mut all: Vec<(usize, usize, &SampleGroup)> = request
                .groups
                .iter()
                .enumerate()
                .flat_map(|(g, grp)| (0..grp.n).map(move |i| (g, i, grp)))
                .collect();
            all.reverse();
            for (g, i, grp) in all {
                let h =
                    blake3::hash(format!("{}-{}-{}", grp.params.seed, grp.stream, i).as_bytes());
                let good = if grp.params.temperature == 0.0 {
                    greedy_good
                } else {
                    (h.as_bytes()[0] as f32) < 255.0 * (1.0 - grp.params.temperature / 2.0)
                };
                let text = format!(
                    "```python\nprint('{}')\n```",
                    if good { "good" } else { "bad" }
                );
                let c = Completion {
                    group: g,
                    index: i,
                    text,
                    token_ids: vec![1; 3 + i % 2],
                    logprobs: vec![-0.5; 3 + i % 2],
                    finish_reason: FinishReason::Stop,
                };
                std::thread::sleep(delay);
                let _ = tx.send(Ok(c));
            }
        });
        Ok(rx)
    }
    fn prompt_text(&self, prompt: &Prompt) -> Result<String, GenError> {
        Ok(format!("{prompt:?}"))
    }
    fn model_name(&self) -> String {
        "canned".into()
    }
    fn describe(&self) -> serde_json::Value {
        serde_json::json!({"engine": "canned"})
    }
}

struct Contains;
impl Evaluator for Contains {
    fn grade(
        &self,
        requests: &[GradeRequest<'_>],
    ) -> Result<Vec<Grade>, crate::evaluator::EvalError> {
        Ok(requests
            .iter()
            .map(|r| {
                Grade::new(if r.code.contains("good") {
                    Verdict::Passed
                } else {
                    Verdict::WrongAnswer
                })
            })
            .collect())
    }
}

fn problems() -> ProblemSet {
    let p = |id: &str| {
        Problem::Lcb(LcbProblem {
            question_title: format!("title {id}"),
            question_content: format!("content of {id}"),
            platform: "atcoder".into(),
            question_id: id.into(),
            contest_id: "c".into(),
            contest_date: "2024-01-01T00:00:00".into(),
            starter_code: String::new(),
            difficulty: "easy".into(),
            public_tests: vec![TestCase {
                input: "1\n".into(),
                output: "1\n".into(),
                testtype: TestType::Stdin,
            }],
            private_tests: vec![],
            func_name: None,
            metadata: serde_json::json!({}),
        })
    };
    let _ = encode_private_tests;
    ProblemSet::new(vec![p("a"), p("b"), p("c")]).unwrap()
}

fn settings() -> SweepSettings {
    SweepSettings {
        model: "canned".into(),
        temperatures: vec![0.5, 1.5],
        n: 6,
        max_tokens: 16,
        stop: vec![],
        top_p: 1.0,
        top_k: None,
        prompt_style: PromptStyle::Chat,
        thinking: false,
        seed: 7,
        skip_greedy_solved: true,
    }
}

fn plan<'a>(set: &'a ProblemSet, settings: SweepSettings, force: bool) -> SweepPlan<'a> {
    SweepPlan {
        problems: set,
        problems_source: "test".into(),
        questions: vec![0, 1, 2],
        shard: None,
        settings,
        force,
        inflight: 2,
        grading_threads: 2,
        evaluator_description: serde_json::json!({}),
    }
}

/// The tree's files with timing fields removed, for identity checks.
fn snapshot(root: &std::path::Path) -> std::collections::BTreeMap<String, serde_json::Value> {
    ResultStore::new(root).timing_free_snapshot().unwrap()
}

#[test]
fn writes_the_tree_and_resumes_to_identical_results() {
    let set = problems();
    let out = tempfile::tempdir().unwrap();
    let store = ResultStore::new(out.path());
    let generator = Canned {
        greedy_good: vec!["content of b".into()],
        delay: Default::default(),
    };
    let cancel = AtomicBool::new(false);
    let report = run(
        &generator,
        &Contains,
        &plan(&set, settings(), false),
        &store,
        &Silent,
        &cancel,
    )
    .unwrap();
    let outcome = |q: usize| {
        report
            .outcomes
            .iter()
            .find(|(i, _)| *i == q)
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(outcome(1), QuestionOutcome::Skipped);
    assert!(matches!(outcome(0), QuestionOutcome::Done(_)));
    assert!(store.skipped_path(1).exists() && !store.summary_path(1).exists());

    // Pass rates agree with the completions' verdicts, completions are in index order.
    let r: TemperatureResult = store
        .read(&store.temperature_path(0, 0.5, 6))
        .unwrap()
        .unwrap();
    let passed = r.completions.iter().filter(|c| c.passed).count();
    assert_eq!(r.passed, passed);
    assert!((r.pass_rate - 100.0 * passed as f64 / 6.0).abs() < 1e-9);
    assert!(r
        .completions
        .iter()
        .all(|c| c.passed == (c.verdict == Verdict::Passed)));
    let summary: QuestionSummary = store.read(&store.summary_path(0)).unwrap().unwrap();
    assert_eq!(summary.results.len(), 2);
    assert_eq!(summary.results[0].passed, passed);
    assert!(store
        .temperature_path(2, 1.5, 6)
        .ends_with("q2/t1_5_n6.json"));

    let reference = snapshot(out.path());
    // A complete tree resumes without generating anything.
    let again = run(
        &generator,
        &Contains,
        &plan(&set, settings(), false),
        &store,
        &Silent,
        &cancel,
    )
    .unwrap();
    assert!(again
        .outcomes
        .iter()
        .all(|(_, o)| *o == QuestionOutcome::Resumed));
    assert_eq!(again.tokens, 0);

    // A missing file and a corrupt one are redone, giving the same content.
    std::fs::remove_file(store.temperature_path(0, 1.5, 6)).unwrap();
    std::fs::write(store.temperature_path(2, 0.5, 6), "{ truncated").unwrap();
    std::fs::remove_file(store.summary_path(2)).unwrap();
    run(
        &generator,
        &Contains,
        &plan(&set, settings(), false),
        &store,
        &Silent,
        &cancel,
    )
    .unwrap();
    assert_eq!(snapshot(out.path()), reference);
}

#[test]
fn refuses_a_tree_made_with_other_settings_unless_forced() {
    let set = problems();
    let out = tempfile::tempdir().unwrap();
    let store = ResultStore::new(out.path());
    let generator = Canned {
        greedy_good: vec![],
        delay: Default::default(),
    };
    let cancel = AtomicBool::new(false);
    run(
        &generator,
        &Contains,
        &plan(&set, settings(), false),
        &store,
        &Silent,
        &cancel,
    )
    .unwrap();
    let mut other = settings();
    other.n = 3;
    let err = run(
        &generator,
        &Contains,
        &plan(&set, other.clone(), false),
        &store,
        &Silent,
        &cancel,
    )
    .unwrap_err();
    assert!(err.to_string().contains("n: was 6, now 3"), "{err}");
    run(
        &generator,
        &Contains,
        &plan(&set, other, true),
        &store,
        &Silent,
        &cancel,
    )
    .unwrap();
    assert!(store.temperature_path(0, 0.5, 3).exists());
}

#[test]
fn cancelled_runs_write_only_complete_files() {
    let set = problems();
    let out = tempfile::tempdir().unwrap();
    let store = ResultStore::new(out.path());
    let cancel = AtomicBool::new(true);
    let report = run(
        &Canned {
            greedy_good: vec![],
            delay: Default::default(),
        },
        &Contains,
        &plan(&set, settings(), false),
        &store,
        &Silent,
        &cancel,
    )
    .unwrap();
    assert!(report.cancelled);
    assert!(!store.question_dir(0).exists());
}

#[test]
fn shards_partition_and_merge_into_the_unsharded_tree() {
    let set = problems();
    let cancel = AtomicBool::new(false);
    let generator = Canned {
        greedy_good: vec!["content of b".into()],
        delay: Default::default(),
    };
    let whole = tempfile::tempdir().unwrap();
    run(
        &generator,
        &Contains,
        &plan(&set, settings(), false),
        &ResultStore::new(whole.path()),
        &Silent,
        &cancel,
    )
    .unwrap();
    let parts: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    for (i, dir) in parts.iter().enumerate() {
        let shard = crate::sweep::Shard { index: i, count: 2 };
        let mut p = plan(&set, settings(), false);
        p.questions.retain(|&q| shard.contains(q));
        p.shard = Some(shard);
        run(
            &generator,
            &Contains,
            &p,
            &ResultStore::new(dir.path()),
            &Silent,
            &cancel,
        )
        .unwrap();
    }
    let merged = tempfile::tempdir().unwrap();
    let shard_dirs: Vec<_> = parts.iter().map(|d| d.path().to_owned()).collect();
    assert_eq!(crate::sweep::merge(merged.path(), &shard_dirs).unwrap(), 3);
    assert_eq!(snapshot(merged.path()), snapshot(whole.path()));

    // Shards made with other settings are refused.
    let other = tempfile::tempdir().unwrap();
    let mut s = settings();
    s.seed = 99;
    run(
        &generator,
        &Contains,
        &plan(&set, s, false),
        &ResultStore::new(other.path()),
        &Silent,
        &cancel,
    )
    .unwrap();
    let err = crate::sweep::merge(
        tempfile::tempdir().unwrap().path(),
        &[parts[0].path().to_owned(), other.path().to_owned()],
    )
    .unwrap_err();
    assert!(err.to_string().contains("field `seed`"), "{err}");
}

const CHILD_ENV: &str = "LCB_SWEEP_TEST_CHILD_OUT";

/// Runs a slow sweep into `$LCB_SWEEP_TEST_CHILD_OUT` when started as the child of
/// `killed_runs_resume_to_identical_results`; does nothing otherwise.
#[test]
fn sweep_child_process() {
    let Ok(out) = std::env::var(CHILD_ENV) else {
        return;
    };
    let set = problems();
    let generator = Canned {
        greedy_good: vec!["content of b".into()],
        delay: std::time::Duration::from_millis(4),
    };
    run(
        &generator,
        &Contains,
        &plan(&set, settings(), false),
        &ResultStore::new(out),
        &Silent,
        &AtomicBool::new(false),
    )
    .unwrap();
}

#[test]
fn killed_runs_resume_to_identical_results() {
    let set = problems();
    let generator = Canned {
        greedy_good: vec!["content of b".into()],
        delay: Default::default(),
    };
    let reference = tempfile::tempdir().unwrap();
    let cancel = AtomicBool::new(false);
    run(
        &generator,
        &Contains,
        &plan(&set, settings(), false),
        &ResultStore::new(reference.path()),
        &Silent,
        &cancel,
    )
    .unwrap();
    let expected = snapshot(reference.path());
    let exe = std::env::current_exe().unwrap();
    let child = |out: &std::path::Path| {
        std::process::Command::new(&exe)
            .args([
                "--exact",
                "sweep::orchestrator::tests::sweep_child_process",
                "--test-threads",
                "1",
            ])
            .env(CHILD_ENV, out)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    // Kill points are fractions of an uninterrupted child run, timed on this machine now.
    let started = std::time::Instant::now();
    let timing = tempfile::tempdir().unwrap();
    assert!(child(timing.path()).wait().unwrap().success());
    let full = started.elapsed();
    let mut interrupted = 0;
    for fraction in [0.1, 0.25, 0.4, 0.6, 0.8] {
        let kill_after = full.mul_f64(fraction);
        let out = tempfile::tempdir().unwrap();
        // Kill twice at the same point, then let a run in this process finish the tree.
        for _ in 0..2 {
            let mut running = child(out.path());
            std::thread::sleep(kill_after);
            let _ = running.kill(); // SIGKILL
            running.wait().unwrap();
        }
        let resumed = run(
            &generator,
            &Contains,
            &plan(&set, settings(), false),
            &ResultStore::new(out.path()),
            &Silent,
            &cancel,
        )
        .unwrap();
        interrupted += usize::from(resumed.tokens > 0);
        assert_eq!(
            snapshot(out.path()),
            expected,
            "after a kill at {kill_after:?} of {full:?}"
        );
    }
    // The kills really landed mid-run (the resumed run had work left) at least twice.
    assert!(
        interrupted >= 2,
        "only {interrupted} kill points interrupted the child"
    );
}

/// Grades like [`Contains`], slowly: each call takes 200 ms, as a sandbox running real tests.
struct SlowContains;
impl Evaluator for SlowContains {
    fn grade(
        &self,
        requests: &[GradeRequest<'_>],
    ) -> Result<Vec<Grade>, crate::evaluator::EvalError> {
        std::thread::sleep(std::time::Duration::from_millis(200));
        Contains.grade(requests)
    }
}

const WAIT_CHILD_ENV: &str = "LCB_SWEEP_WAIT_CHILD";

/// CPU seconds this process has used (user + system), from `/proc/self/stat`.
#[cfg(target_os = "linux")]
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name (which may hold spaces) start at field 3; utime and stime
    // are fields 14 and 15, in clock ticks of 1/100 s (USER_HZ on Linux).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

/// When started by `questions_waiting_for_grading_do_not_spin`: runs a sweep whose grading is
/// slow and generation instant, then prints the CPU and wall seconds it took.
#[cfg(target_os = "linux")]
#[test]
fn grading_wait_child() {
    if std::env::var(WAIT_CHILD_ENV).is_err() {
        return;
    }
    let set = problems();
    let out = tempfile::tempdir().unwrap();
    let generator = Canned {
        greedy_good: vec![],
        delay: Default::default(),
    };
    let cpu = process_cpu_seconds();
    let started = std::time::Instant::now();
    run(
        &generator,
        &SlowContains,
        &plan(&set, settings(), false),
        &ResultStore::new(out.path()),
        &Silent,
        &AtomicBool::new(false),
    )
    .unwrap();
    println!(
        "LCB_WAIT {} {}",
        process_cpu_seconds() - cpu,
        started.elapsed().as_secs_f64()
    );
}

/// A question whose samples are all generated waits for its verdicts without using the CPU:
/// grading and generation need every core. (A disconnected channel in the wait loop once made
/// each waiting question spin at 100% of a core.) Measured in a child process so that other
/// tests' threads do not count.
#[cfg(target_os = "linux")]
#[test]
fn questions_waiting_for_grading_do_not_spin() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sweep::orchestrator::tests::grading_wait_child",
            "--test-threads",
            "1",
            "--nocapture",
        ])
        .env(WAIT_CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("LCB_WAIT ").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no measurement in the child's output: {stdout}"));
    let numbers: Vec<f64> = line
        .split_whitespace()
        .take(2)
        .map(|w| w.parse().unwrap())
        .collect();
    let (cpu, wall) = (numbers[0], numbers[1]);
    // Grading alone takes a few 200 ms calls; waiting costs next to nothing, spinning would
    // cost about a core for the whole run.
    assert!(wall >= 0.4, "the sweep took only {wall} s");
    assert!(
        cpu < 0.25 * wall,
        "{cpu:.2} CPU-seconds over {wall:.2} s: waiting questions are busy-waiting"
    );
}
