//! The orchestrator with a canned generator and a string-matching evaluator.

use std::sync::atomic::AtomicBool;

use super::*;
use crossbeam_channel::Receiver;

use crate::dataset::lcb::encode_private_tests;
use crate::dataset::ProblemSet;
use crate::evaluator::GradeRequest;
use crate::generator::{
    Completion, FinishReason, GenError, GenerationRequest, Prompt, SampleGroup,
};
use crate::problem::{LcbProblem, Problem, TestCase, TestType};
use crate::prompt::PromptStyle;
use crate::sweep::config::SweepSettings;
use crate::sweep::store::{QuestionSummary, TemperatureResult};
use crate::verdict::{Grade, Verdict};

/// Answers with "good" or "bad" code, chosen by hashing the random key the way a real
/// engine would sample: deterministic per (seed, stream, index).
#[derive(Default)]
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
                .flat_map(|(g, grp)| grp.indices().map(move |i| (g, i, grp)))
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
                    token_count: None,
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
    fn describe(&self) -> serde_json::Value {
        serde_json::json!({"grader": "Contains"})
    }

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
        cot: false,
        repair_from: None,
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
    }
}

/// Runs `generator` over `set` to the end, graded by [`Contains`].
fn sweep(
    generator: &dyn Generator,
    set: &ProblemSet,
    settings: SweepSettings,
    store: &ResultStore,
    observer: &dyn SweepObserver,
) -> Result<SweepReport, SweepError> {
    let cancel = AtomicBool::new(false);
    run(
        generator,
        &Contains,
        &plan(set, settings, false),
        store,
        observer,
        &cancel,
    )
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
    let report = sweep(&generator, &set, settings(), &store, &Silent).unwrap();
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
    let again = sweep(&generator, &set, settings(), &store, &Silent).unwrap();
    assert!(again
        .outcomes
        .iter()
        .all(|(_, o)| *o == QuestionOutcome::Resumed));
    assert_eq!(again.totals.tokens_generated, 0);

    // A missing file and a corrupt one are redone, giving the same content.
    std::fs::remove_file(store.temperature_path(0, 1.5, 6)).unwrap();
    std::fs::write(store.temperature_path(2, 0.5, 6), "{ truncated").unwrap();
    std::fs::remove_file(store.summary_path(2)).unwrap();
    sweep(&generator, &set, settings(), &store, &Silent).unwrap();
    assert_eq!(snapshot(out.path()), reference);
}

#[test]
fn refuses_a_tree_made_with_other_settings_unless_forced() {
    let set = problems();
    let out = tempfile::tempdir().unwrap();
    let store = ResultStore::new(out.path());
    let generator = Canned::default();
    let cancel = AtomicBool::new(false);
    sweep(&generator, &set, settings(), &store, &Silent).unwrap();
    let mut other = settings();
    other.n = 3;
    let err = sweep(&generator, &set, other.clone(), &store, &Silent).unwrap_err();
    assert!(err.to_string().contains("n: was 6, now 3"), "{err}");
    let warnings = Warnings::default();
    run(
        &generator,
        &Contains,
        &plan(&set, other, true),
        &store,
        &warnings,
        &cancel,
    )
    .unwrap();
    assert!(store.temperature_path(0, 0.5, 3).exists());
    // The replaced tree's files are gone, so the new tree does not mix settings.
    assert!(!store.temperature_path(0, 0.5, 6).exists());
    assert!(!store.temperature_path(2, 1.5, 6).exists());
    let said = warnings.0.lock().unwrap().join("\n");
    assert!(
        said.contains("n: was 6, now 3") && said.contains("deleted its"),
        "{said}"
    );
}

/// Records the warnings a sweep gives.
#[derive(Default)]
struct Warnings(std::sync::Mutex<Vec<String>>);
impl SweepObserver for Warnings {
    fn warn(&self, message: &str) {
        self.0.lock().unwrap().push(message.to_owned());
    }
}

/// Floats read back from result files are the floats written (serde_json's
/// `float_roundtrip`; settings compared as structs): a tree with awkward temperatures and
/// top-p values resumes without redoing anything.
#[test]
fn a_tree_with_a_top_p_that_binary_floats_cannot_hold_resumes() {
    let set = problems();
    let out = tempfile::tempdir().unwrap();
    let generator = Canned::default();
    let cancel = AtomicBool::new(false);
    for top_p in [0.95f32, 0.9, 0.8] {
        let mut s = settings();
        s.top_p = top_p;
        s.temperatures = vec![0.1 + 0.2, 1.234_567_890_123_456_7, 0.000_015];
        let store = ResultStore::new(out.path().join(format!("p{top_p}")));
        let p = plan(&set, s, false);
        run(&generator, &Contains, &p, &store, &Silent, &cancel).unwrap();
        let again = run(&generator, &Contains, &p, &store, &Silent, &cancel)
            .unwrap_or_else(|e| panic!("top_p {top_p}: {e}"));
        assert_eq!(
            again.totals.tokens_generated, 0,
            "top_p {top_p}: something was redone"
        );
        assert!(store
            .temperature_path(0, 0.000_015, 6)
            .ends_with("t1_5e-05_n6.json"));
    }
}

#[test]
fn a_tree_for_another_problem_set_or_generator_is_refused() {
    let set = problems();
    let out = tempfile::tempdir().unwrap();
    let store = ResultStore::new(out.path());
    let generator = Canned::default();
    sweep(&generator, &set, settings(), &store, &Silent).unwrap();
    // The same indices name other problems in another set.
    let mut other = set.problems().to_vec();
    other.swap(0, 1);
    let renamed: Vec<Problem> = other
        .into_iter()
        .map(|p| match p {
            Problem::Lcb(mut p) => {
                p.question_id = format!("x{}", p.question_id);
                Problem::Lcb(p)
            }
            other => other,
        })
        .collect();
    let other_set = ProblemSet::new(renamed).unwrap();
    let err = sweep(&generator, &other_set, settings(), &store, &Silent).unwrap_err();
    assert!(
        err.to_string().contains("problem set: was 3 problems"),
        "{err}"
    );
    // Another precision is another generator.
    let err = sweep(
        &Wrapper {
            fingerprint: serde_json::json!({"dtype": "bf16"}),
            ..Wrapper::new(generator)
        },
        &set,
        settings(),
        &store,
        &Silent,
    )
    .unwrap_err();
    assert!(err.to_string().contains("generator: was null"), "{err}");
}

/// [`Contains`] in a stated grading environment.
struct ContainsIn(&'static str);
impl Evaluator for ContainsIn {
    fn describe(&self) -> serde_json::Value {
        serde_json::json!({"grader": "ContainsIn", "workers": 2,
            "environment": {"python": self.0, "packages": {}, "missing": []}})
    }

    fn grade(
        &self,
        requests: &[GradeRequest<'_>],
    ) -> Result<Vec<Grade>, crate::evaluator::EvalError> {
        Contains.grade(requests)
    }
}

#[test]
fn a_tree_graded_in_another_environment_is_refused_unless_forced() {
    let set = problems();
    let out = tempfile::tempdir().unwrap();
    let store = ResultStore::new(out.path());
    let generator = Canned::default();
    let cancel = AtomicBool::new(false);
    let run_in = |python: &'static str, force: bool| {
        run(
            &generator,
            &ContainsIn(python),
            &plan(&set, settings(), force),
            &store,
            &Silent,
            &cancel,
        )
    };
    run_in("3.11.7", false).unwrap();
    // The same environment resumes (the worker count is not part of it).
    assert_eq!(run_in("3.11.7", false).unwrap().totals.tokens_generated, 0);
    let err = run_in("3.12.1", false).unwrap_err();
    assert!(matches!(err, SweepError::Incompatible { .. }), "{err}");
    assert!(err.to_string().contains("grading environment"), "{err}");
    assert!(run_in("3.12.1", true).unwrap().totals.tokens_generated > 0);
}

#[test]
fn samples_of_different_questions_use_different_random_streams() {
    let a = sample_stream("abc301_a", 0.5);
    assert_eq!(a, sample_stream("abc301_a", 0.5), "stable");
    assert_ne!(a, sample_stream("abc301_b", 0.5));
    assert_ne!(a, sample_stream("abc301_a", 0.6));
    // Pinned: a change here changes every sweep's samples (bump FORMAT_VERSION with it).
    assert_eq!(a, sample_stream("abc301_a", 0.5));
    let pinned = sample_stream("q", 1.0);
    assert_eq!(format!("{pinned:016x}"), PINNED_STREAM);
}

/// `sample_stream("q", 1.0)`, recorded when the stream definition was written.
const PINNED_STREAM: &str = "48576c294c50d999";

/// Fails the programs of question "c" (the grader broke), grades the rest.
struct BrokenFor(&'static str, bool);
impl Evaluator for BrokenFor {
    fn describe(&self) -> serde_json::Value {
        serde_json::json!({"grader": "BrokenFor"})
    }

    fn grade(
        &self,
        requests: &[GradeRequest<'_>],
    ) -> Result<Vec<Grade>, crate::evaluator::EvalError> {
        if requests.iter().any(|r| r.problem.id() == self.0) {
            if self.1 {
                panic!("grader bug");
            }
            return Err(crate::evaluator::EvalError::Failed(
                "worker died twice".into(),
            ));
        }
        Contains.grade(requests)
    }
}

#[test]
fn a_grader_that_fails_or_panics_fails_its_question_and_the_sweep_ends() {
    for panics in [false, true] {
        let set = problems();
        let out = tempfile::tempdir().unwrap();
        let store = ResultStore::new(out.path());
        let mut s = settings();
        s.skip_greedy_solved = false;
        let err = run(
            &Canned::default(),
            &BrokenFor("c", panics),
            &SweepPlan {
                grading_threads: 1,
                ..plan(&set, s, false)
            },
            &store,
            &Silent,
            &AtomicBool::new(false),
        )
        .unwrap_err();
        // A failed grading call fails every question with a program in its batch (which
        // program broke the grader is unknown): q2, and maybe others batched with it.
        let text = err.to_string();
        assert!(
            text.contains("question(s) failed") && text.contains("grading failed"),
            "{text}"
        );
        if !panics {
            assert!(text.contains("worker died twice"), "{text}");
        }
        assert!(!store.summary_path(2).exists());
        let summary: RunSummary = store.read(&store.run_summary_path()).unwrap().unwrap();
        assert_eq!(
            summary.finished, None,
            "a run with a failed question is not finished"
        );
        let failed = summary.totals["questions_failed"].as_u64().unwrap();
        let done = summary.totals["questions_done"].as_u64().unwrap();
        assert!(failed >= 1 && failed + done == 3, "{:?}", summary.totals);
        // A question that did not fail is complete.
        let complete = (0..3).filter(|&q| store.summary_path(q).exists()).count();
        assert_eq!(complete as u64, done);
    }
}

/// [`Canned`] with knobs: another fingerprint, every sample sent twice, and a count of the
/// samples it was asked for.
struct Wrapper {
    inner: Canned,
    fingerprint: serde_json::Value,
    stutter: bool,
    asked: AtomicUsize,
}

impl Wrapper {
    fn new(inner: Canned) -> Self {
        Wrapper {
            inner,
            fingerprint: serde_json::Value::Null,
            stutter: false,
            asked: AtomicUsize::new(0),
        }
    }
}

impl Generator for Wrapper {
    fn submit(
        &self,
        request: GenerationRequest,
    ) -> Result<Receiver<Result<Completion, GenError>>, GenError> {
        let wanted: usize = request.groups.iter().map(SampleGroup::wanted).sum();
        self.asked.fetch_add(wanted, Ordering::SeqCst);
        let inner = self.inner.submit(request)?;
        if !self.stutter {
            return Ok(inner);
        }
        let (tx, rx) = crossbeam_channel::unbounded();
        std::thread::spawn(move || {
            for c in inner {
                match c {
                    Ok(c) => {
                        let _ = tx.send(Ok(c.clone()));
                        let _ = tx.send(Ok(c));
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            }
        });
        Ok(rx)
    }
    fn prompt_text(&self, prompt: &Prompt) -> Result<String, GenError> {
        self.inner.prompt_text(prompt)
    }
    fn model_name(&self) -> String {
        self.inner.model_name()
    }
    fn describe(&self) -> serde_json::Value {
        self.inner.describe()
    }
    fn fingerprint(&self) -> serde_json::Value {
        self.fingerprint.clone()
    }
}

#[test]
fn a_generator_that_repeats_a_sample_fails_the_question() {
    let set = problems();
    let out = tempfile::tempdir().unwrap();
    let mut s = settings();
    s.skip_greedy_solved = false;
    let err = sweep(
        &Wrapper {
            stutter: true,
            ..Wrapper::new(Canned::default())
        },
        &set,
        s,
        &ResultStore::new(out.path()),
        &Silent,
    )
    .unwrap_err();
    assert!(err.to_string().contains("twice"), "{err}");
}

#[test]
fn a_tree_being_written_is_locked() {
    let out = tempfile::tempdir().unwrap();
    let store = ResultStore::new(out.path());
    let held = store.lock().unwrap();
    let set = problems();
    let err = sweep(&Canned::default(), &set, settings(), &store, &Silent).unwrap_err();
    assert!(err.to_string().contains("another lcb process"), "{err}");
    let err = crate::sweep::merge(out.path(), &[out.path().join("nope")]).unwrap_err();
    assert!(err.to_string().contains("no run_summary.json"), "{err}");
    drop(held);
    assert!(store.lock().is_ok(), "released when dropped");
}

#[test]
fn corrupt_summary_and_skipped_files_are_redone_with_a_warning() {
    let set = problems();
    let out = tempfile::tempdir().unwrap();
    let store = ResultStore::new(out.path());
    let generator = Canned {
        greedy_good: vec!["content of b".into()],
        delay: Default::default(),
    };
    sweep(&generator, &set, settings(), &store, &Silent).unwrap();
    let reference = snapshot(out.path());
    std::fs::write(store.skipped_path(1), "{\"question_idx\": 1,").unwrap();
    std::fs::write(store.summary_path(0), "not json").unwrap();
    let warnings = Warnings::default();
    sweep(&generator, &set, settings(), &store, &warnings).unwrap();
    assert_eq!(snapshot(out.path()), reference);
    let said = warnings.0.lock().unwrap().join("\n");
    assert!(
        said.contains("skipped.json") && said.contains("summary.json"),
        "{said}"
    );
}

#[test]
fn cancelled_runs_write_only_complete_files() {
    let set = problems();
    let out = tempfile::tempdir().unwrap();
    let store = ResultStore::new(out.path());
    let cancel = AtomicBool::new(true);
    let report = run(
        &Canned::default(),
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
    sweep(
        &generator,
        &set,
        settings(),
        &ResultStore::new(whole.path()),
        &Silent,
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
    let report = crate::sweep::merge(merged.path(), &shard_dirs).unwrap();
    assert_eq!(report.questions, 3);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(snapshot(merged.path()), snapshot(whole.path()));
    let summary: RunSummary = ResultStore::new(merged.path())
        .read(&ResultStore::new(merged.path()).run_summary_path())
        .unwrap()
        .unwrap();
    assert_eq!(summary.questions, vec![0, 1, 2]);
    assert_eq!(summary.shard, None);
    // Merging again into the same tree copies nothing and changes nothing.
    let again = crate::sweep::merge(merged.path(), &shard_dirs).unwrap();
    assert_eq!(again.files_copied, 0);
    assert_eq!(snapshot(merged.path()), snapshot(whole.path()));

    // Shards made with other settings are refused.
    let other = tempfile::tempdir().unwrap();
    let mut s = settings();
    s.seed = 99;
    sweep(
        &generator,
        &set,
        s,
        &ResultStore::new(other.path()),
        &Silent,
    )
    .unwrap();
    let err = crate::sweep::merge(
        tempfile::tempdir().unwrap().path(),
        &[parts[0].path().to_owned(), other.path().to_owned()],
    )
    .unwrap_err();
    assert!(err.to_string().contains("seed: was 7, now 99"), "{err}");
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
    sweep(
        &generator,
        &set,
        settings(),
        &ResultStore::new(out),
        &Silent,
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
    sweep(
        &generator,
        &set,
        settings(),
        &ResultStore::new(reference.path()),
        &Silent,
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
        let resumed = sweep(
            &generator,
            &set,
            settings(),
            &ResultStore::new(out.path()),
            &Silent,
        )
        .unwrap();
        interrupted += usize::from(resumed.totals.tokens_generated > 0);
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
    fn describe(&self) -> serde_json::Value {
        serde_json::json!({"grader": "SlowContains"})
    }

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
    let generator = Canned::default();
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

/// Runs shard `i` of `count` of the test sweep into a new directory.
fn shard_tree(set: &ProblemSet, i: usize, count: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let shard = crate::sweep::Shard { index: i, count };
    let mut p = plan(set, settings(), false);
    p.questions.retain(|&q| shard.contains(q));
    p.shard = Some(shard);
    let generator = Canned::default();
    run(
        &generator,
        &Contains,
        &p,
        &ResultStore::new(dir.path()),
        &Silent,
        &AtomicBool::new(false),
    )
    .unwrap();
    dir
}

#[test]
fn merge_refuses_inconsistent_shard_sets_and_warns_about_missing_shards() {
    let set = problems();
    let s0 = shard_tree(&set, 0, 3);
    let s1 = shard_tree(&set, 1, 3);
    let s0_of_2 = shard_tree(&set, 0, 2);
    let out = tempfile::tempdir().unwrap();
    let merge = |dirs: &[&tempfile::TempDir]| {
        let dirs: Vec<_> = dirs.iter().map(|d| d.path().to_owned()).collect();
        crate::sweep::merge(&out.path().join("merged"), &dirs)
    };
    let err = merge(&[&s0, &s0_of_2]).unwrap_err();
    assert!(
        err.to_string()
            .contains("shard 0/2, but other trees are shards of 3"),
        "{err}"
    );
    let err = merge(&[&s0, &s0]).unwrap_err();
    assert!(err.to_string().contains("named twice"), "{err}");
    assert!(
        !out.path().join("merged").exists(),
        "nothing written by refused merges"
    );

    let report = merge(&[&s0, &s1]).unwrap();
    assert_eq!(report.questions, 2);
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(
        report.warnings[0].contains("2/3 not named"),
        "{:?}",
        report.warnings
    );
}

#[test]
fn merge_checks_everything_before_writing_and_copies_only_result_files() {
    let set = problems();
    let s0 = shard_tree(&set, 0, 2);
    let s1 = shard_tree(&set, 1, 2);
    // A killed run's temporary file and a file of the user's are not results.
    std::fs::write(s0.path().join("q0/.lcb-tmp-abc"), "partial").unwrap();
    std::fs::write(s0.path().join("q0/notes.txt"), "mine").unwrap();
    // A shard whose file disagrees with another's for the same question.
    let s1_again = tempfile::tempdir().unwrap();
    copy_tree(s1.path(), s1_again.path());
    let path = s1_again.path().join("q1/t0_5_n6.json");
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    value["passed"] = serde_json::json!(99);
    std::fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
    let mut summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s1_again.path().join("run_summary.json")).unwrap())
            .unwrap();
    summary["shard"] = serde_json::json!(null);
    std::fs::write(
        s1_again.path().join("run_summary.json"),
        serde_json::to_vec(&summary).unwrap(),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let merged = out.path().join("merged");
    let err = crate::sweep::merge(&merged, &[s0.path().to_owned(), s1_again.path().to_owned()])
        .unwrap_err();
    assert!(err.to_string().contains("not a shard"), "{err}");

    // Same, with both labelled shards of one set: the conflict is caught before any copy.
    let s1_other = tempfile::tempdir().unwrap();
    copy_tree(s1.path(), s1_other.path());
    std::fs::write(
        s1_other.path().join("q1/t0_5_n6.json"),
        serde_json::to_vec(&value).unwrap(),
    )
    .unwrap();
    crate::sweep::merge(&merged, &[s0.path().to_owned(), s1.path().to_owned()]).unwrap();
    let before = snapshot(&merged);
    let err = crate::sweep::merge(&merged, &[s1_other.path().to_owned()]).unwrap_err();
    assert!(err.to_string().contains("hold different results"), "{err}");
    assert_eq!(snapshot(&merged), before, "a refused merge changes nothing");
    let q0: Vec<String> = std::fs::read_dir(merged.join("q0"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        q0.iter().all(|n| n.ends_with(".json")),
        "only result files are copied: {q0:?}"
    );

    // A tree made with other settings is not merged into.
    let other = tempfile::tempdir().unwrap();
    let mut s = settings();
    s.n = 2;
    sweep(
        &Canned::default(),
        &set,
        s,
        &ResultStore::new(other.path()),
        &Silent,
    )
    .unwrap();
    let err = crate::sweep::merge(other.path(), &[s0.path().to_owned()]).unwrap_err();
    assert!(
        err.to_string()
            .contains("already holds a tree made with different settings"),
        "{err}"
    );
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dst = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            copy_tree(&entry.path(), &dst);
        } else {
            std::fs::copy(entry.path(), dst).unwrap();
        }
    }
}

/// Interrupts the sweep (as Ctrl-C does) once `after` samples are graded.
struct InterruptAfter<'a> {
    after: usize,
    graded: AtomicUsize,
    cancel: &'a AtomicBool,
}
impl SweepObserver for InterruptAfter<'_> {
    fn sample_graded(&self) {
        if self.graded.fetch_add(1, Ordering::SeqCst) + 1 == self.after {
            self.cancel.store(true, Ordering::SeqCst);
        }
    }
}

#[test]
fn an_interrupted_question_resumes_from_its_journal() {
    let set = problems();
    let mut s = settings();
    s.n = 20;
    s.skip_greedy_solved = true;
    let one_question = |p: SweepPlan<'static>| SweepPlan {
        questions: vec![0],
        inflight: 1,
        ..p
    };
    let set: &'static ProblemSet = Box::leak(Box::new(set));
    let canned = || Canned {
        greedy_good: vec![],
        delay: std::time::Duration::from_millis(1),
    };
    let reference = tempfile::tempdir().unwrap();
    let full = Wrapper::new(canned());
    run(
        &full,
        &Contains,
        &one_question(plan(set, s.clone(), false)),
        &ResultStore::new(reference.path()),
        &Silent,
        &AtomicBool::new(false),
    )
    .unwrap();
    let full_samples = full.asked.load(Ordering::SeqCst);
    assert_eq!(
        full_samples,
        1 + 2 * 20,
        "greedy check + 2 temperatures × 20"
    );

    let out = tempfile::tempdir().unwrap();
    let store = ResultStore::new(out.path());
    let cancel = AtomicBool::new(false);
    let stop = InterruptAfter {
        after: 25,
        graded: AtomicUsize::new(0),
        cancel: &cancel,
    };
    let first = run(
        &Wrapper::new(canned()),
        &Contains,
        &one_question(plan(set, s.clone(), false)),
        &store,
        &stop,
        &cancel,
    )
    .unwrap();
    assert!(first.cancelled);
    let journal = store.journal_path(0);
    assert!(
        journal.exists(),
        "the interrupted question keeps its journal"
    );
    let recorded = std::fs::read_to_string(&journal).unwrap().lines().count();
    assert!(
        recorded >= 2 + 25,
        "header, greedy failure and 25+ samples: {recorded} lines"
    );

    let resumed = Wrapper::new(canned());
    run(
        &resumed,
        &Contains,
        &one_question(plan(set, s, false)),
        &store,
        &Silent,
        &AtomicBool::new(false),
    )
    .unwrap();
    let asked = resumed.asked.load(Ordering::SeqCst);
    assert!(
        asked <= 2 * 20 - 25,
        "the resumed run asked for {asked} samples; the journal had at least 25 (and the greedy check is not redone)"
    );
    assert_eq!(snapshot(out.path()), snapshot(reference.path()));
    assert!(!journal.exists(), "a finished question leaves no journal");
}
