//! A real `lcb serve` for tests: started on a free port with the fixture model, its stderr
//! kept, stopped (SIGTERM, or killed) when the test is done; and `curl` to talk to it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running `lcb serve`.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `lcb serve --model fixtures/model --port 0 EXTRA…` and waits until it listens.
    pub fn start(extra: &[&str]) -> Server {
        Self::start_on(0, extra)
    }

    /// [`Server::start`] on a given port (0: any free one).
    pub fn start_on(port: u16, extra: &[&str]) -> Server {
        let port = port.to_string();
        let mut child = super::lcb()
            .args(["serve", "--model", "fixtures/model", "--port", &port])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start lcb serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("listening on http://") {
                    let _ = tx.send(line[at + "listening on ".len()..].trim().to_owned());
                }
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("lcb serve did not start: {}", log.lock().unwrap());
            }
        };
        Server { child, url, log }
    }

    /// What the server printed on stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// `GET /stats`.
    pub fn stats(&self) -> Value {
        let (status, body) = curl(&[&format!("{}/stats", self.url)]);
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Waits until `/stats` satisfies `ready`, or panics after `secs` seconds.
    pub fn wait_for(&self, secs: u64, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let stats = self.stats();
            if ready(&stats) {
                return stats;
            }
            assert!(Instant::now() < deadline, "{what}: stats stayed {stats}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "lcb serve ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Server {
    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `curl -sS ARGS…`; returns the HTTP status and the body.
pub fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (status.trim().parse().unwrap_or(0), body.to_owned())
}

/// POSTs a JSON body; returns the status and the body.
pub fn post(url: &str, body: &str) -> (u16, String) {
    curl(&[
        "-H",
        "content-type: application/json",
        "--data-binary",
        body,
        url,
    ])
}

/// POSTs a JSON body and parses the answer as JSON.
pub fn post_json(url: &str, body: &Value) -> (u16, Value) {
    let (status, text) = post(url, &body.to_string());
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, value)
}
