//! One grading worker: a sandboxed Python process (`python/worker.py`, the judge) whose zygote
//! forks a child per program. This module owns its lifetime and the JSON-lines protocol with
//! it.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use serde_json::{json, Value};

use crate::sandbox::launch::{self, Isolation};
use crate::sandbox::{Limits, WorkerDirs};

/// How a worker is started and what it enforces.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    /// The interpreter.
    pub python: PathBuf,
    /// Its directories.
    pub dirs: WorkerDirs,
    /// Resource limits.
    pub limits: Limits,
    /// Namespaces / Landlock.
    pub isolation: Isolation,
    /// Seccomp programs for the children (raw BPF), empty to disable.
    pub seccomp: Vec<Vec<u8>>,
    /// `"cpu"` or `"wall"` per-test timer (see `lcb_grader.configure_timer`).
    pub timer: &'static str,
    /// Wall-clock allowance as a multiple of the CPU limit in `"cpu"` mode.
    pub wall_factor: f64,
}

/// A problem as the worker needs it, serialised once and sent to each worker once.
#[derive(Debug)]
pub struct PreparedProblem {
    /// Unique key (problem id and content hash).
    pub key: String,
    /// The `{"op": "problem", ...}` line.
    pub message: String,
    /// Wall-clock seconds the worker allows one program on this problem (also in `message`).
    pub wall_limit: f64,
}

/// What the worker said about one program.
pub type Reply = serde_json::Map<String, Value>;

/// A running worker.
pub struct Worker {
    child: Child,
    stdin: ChildStdin,
    replies: Receiver<String>,
    known: HashSet<String>,
    known_bytes: usize,
    /// The worker's hello: Python version, numpy availability, whether it is PID 1.
    pub hello: Reply,
}

/// Forget remembered problems once this many bytes of tests were sent to one worker.
const PROBLEM_CACHE_BYTES: usize = 512 << 20;

impl Worker {
    /// Starts a worker and waits for its hello.
    pub fn start(spec: &WorkerSpec) -> Result<Worker, String> {
        std::fs::create_dir_all(&spec.dirs.scratch)
            .map_err(|e| format!("{}: {e}", spec.dirs.scratch.display()))?;
        let mut command = Command::new(&spec.python);
        command
            .arg("-I")
            .arg("-B")
            .arg(spec.dirs.lib.join("worker.py"))
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", &spec.dirs.scratch)
            .env("TMPDIR", spec.dirs.scratch.join("run"))
            .env("LANG", "C.UTF-8")
            .env("PYTHONIOENCODING", "utf-8")
            .env("OMP_NUM_THREADS", "1")
            .env("OPENBLAS_NUM_THREADS", "1")
            .env("MKL_NUM_THREADS", "1")
            .current_dir(&spec.dirs.scratch)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        launch::prepare(&mut command, &spec.dirs, &spec.limits, spec.isolation)?;
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", spec.python.display()))?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, replies) = crossbeam_channel::bounded(1);
        std::thread::Builder::new()
            .name("lcb-eval-reader".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        let mut worker = Worker {
            child,
            stdin,
            replies,
            known: HashSet::new(),
            known_bytes: 0,
            hello: Reply::new(),
        };
        let seccomp: Vec<String> = spec
            .seccomp
            .iter()
            .map(|p| base64::engine::general_purpose::STANDARD.encode(p))
            .collect();
        let config = json!({
            "op": "config",
            "rundir": spec.dirs.scratch.join("run"),
            "seccomp": seccomp,
            "timer": spec.timer,
            "wall_factor": spec.wall_factor,
        });
        worker.send(&config.to_string())?;
        worker.hello = worker.receive(Duration::from_secs(60))?;
        if worker.hello.get("ready") != Some(&Value::Bool(true)) {
            return Err(format!("worker did not start: {:?}", worker.hello));
        }
        Ok(worker)
    }

    fn send(&mut self, line: &str) -> Result<(), String> {
        self.stdin
            .write_all(line.as_bytes())
            .and_then(|_| self.stdin.write_all(b"\n"))
            .and_then(|_| self.stdin.flush())
            .map_err(|e| format!("worker pipe closed: {e}"))
    }

    fn receive(&mut self, wait: Duration) -> Result<Reply, String> {
        match self.replies.recv_timeout(wait) {
            Ok(line) => match serde_json::from_str(&line) {
                Ok(Value::Object(map)) => Ok(map),
                _ => Err(format!("worker sent an unreadable reply: {line:.200}")),
            },
            Err(RecvTimeoutError::Timeout) => Err("worker did not answer in time".into()),
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.try_wait().ok().flatten();
                Err(format!("worker exited ({status:?})"))
            }
        }
    }

    /// Grades `code` against `problem`; `wait` bounds how long lcb waits for the worker
    /// (which enforces its own, shorter, limits).
    pub fn grade(
        &mut self,
        problem: &PreparedProblem,
        code: &str,
        timeout: f64,
        wait: Duration,
    ) -> Result<Reply, String> {
        if !self.known.contains(&problem.key) {
            if self.known_bytes + problem.message.len() > PROBLEM_CACHE_BYTES {
                self.send(r#"{"op": "forget"}"#)?;
                self.known.clear();
                self.known_bytes = 0;
            }
            let message = problem.message.clone();
            self.send(&message)?;
            self.known.insert(problem.key.clone());
            self.known_bytes += problem.message.len();
        }
        let job = json!({"op": "grade", "problem": problem.key, "code": code, "timeout": timeout});
        self.send(&job.to_string())?;
        self.receive(wait)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Killing the launcher kills the worker (PDEATHSIG) and, with it, its PID namespace.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
