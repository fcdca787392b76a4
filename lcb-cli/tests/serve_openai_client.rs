//! `lcb serve` through the official `openai` Python client: `lcb-cli/tests/openai_client/test_serve.py`
//! against a real server with the fixture model (listing models, seeded completions and chat
//! equal to `lcb generate`'s samples, usage, greedy determinism, stop strings, streaming,
//! errors). The client lives in `.venv-openai`, which `make test` creates; `$LCB_OPENAI_PYTHON`
//! names another Python that has it.

mod common;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::repo;
use common::server::Server;

/// The script's own limit: it takes about a second on the fixture model.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

/// The Python with the `openai` package: `$LCB_OPENAI_PYTHON`, else the repository's
/// `.venv-openai`.
fn openai_python() -> PathBuf {
    let venv = repo().join(".venv-openai/bin/python");
    let python = match std::env::var_os("LCB_OPENAI_PYTHON") {
        Some(p) if PathBuf::from(&p).exists() => PathBuf::from(p),
        _ => venv.clone(),
    };
    assert!(
        python.exists(),
        "no Python with the openai client: neither $LCB_OPENAI_PYTHON nor {} exists; `make \
         test` (or `make .venv-openai/.ready`) creates it from lcb-cli/tests/openai_client/requirements.txt",
        venv.display()
    );
    let import = Command::new(&python)
        .args(["-c", "import openai"])
        .output()
        .expect("run the openai client's Python");
    assert!(
        import.status.success(),
        "{} cannot import openai (was it made offline?); `make test` installs \
         lcb-cli/tests/openai_client/requirements.txt into .venv-openai: {}",
        python.display(),
        String::from_utf8_lossy(&import.stderr)
    );
    python
}

/// A child process killed when dropped (the script, should the test panic while it runs).
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads a pipe to its end on its own thread, so a chatty child never blocks on it.
fn drain(pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::BufReader::new(pipe).read_to_string(&mut text);
        text
    })
}

#[test]
fn the_openai_python_client_gets_what_lcb_generate_gives() {
    let python = openai_python();
    // `Server` runs `lcb serve --model fixtures/model --port 0` from the repository root,
    // waits for its `listening on` line and kills it when dropped.
    let server = Server::start(&[]);
    let started = Instant::now();
    let mut script = KillOnDrop(
        Command::new(&python)
            .arg(repo().join("lcb-cli/tests/openai_client/test_serve.py"))
            .arg(&server.url)
            .arg(env!("CARGO_BIN_EXE_lcb"))
            .arg("fixtures/model")
            .current_dir(repo())
            .env("PYTHONUNBUFFERED", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run lcb-cli/tests/openai_client/test_serve.py"),
    );
    let stdout = drain(script.0.stdout.take().unwrap());
    let stderr = drain(script.0.stderr.take().unwrap());
    let status = loop {
        if let Some(status) = script.0.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > SCRIPT_TIMEOUT {
            let _ = script.0.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    println!(
        "test_serve.py ({:.1} s):\n{stdout}{stderr}",
        started.elapsed().as_secs_f64()
    );
    // Its output, printed above, names each failed check.
    let status = status.unwrap_or_else(|| {
        panic!(
            "test_serve.py ran past {SCRIPT_TIMEOUT:?}; server log:\n{}",
            server.log()
        )
    });
    assert!(
        status.success(),
        "test_serve.py failed ({status}); server log:\n{}",
        server.log()
    );
    assert!(
        stdout.contains("all checks passed"),
        "test_serve.py exited 0 without passing its checks"
    );
}
