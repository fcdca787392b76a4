//! A local HTTP server that serves files on the Hugging Face hub's download routes, so hub
//! loading is tested for real (through `hf-hub`) on machines that cannot reach the hub.
//!
//! It implements what `hf-hub`'s downloader uses: `GET /{repo}/resolve/{revision}/{file}` (and
//! `/datasets/{repo}/...`) with `Range` requests, answering with `ETag`, `X-Repo-Commit` and
//! `Content-Range` as the hub does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::hub::RepoKind;

type Files = Arc<Mutex<HashMap<String, Vec<u8>>>>;

/// A running mock hub; it stops when dropped.
pub struct MockHub {
    server: Arc<tiny_http::Server>,
    files: Files,
    requests: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The commit hash every file is served at.
pub const MOCK_COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

impl MockHub {
    /// Starts a server on an ephemeral port of 127.0.0.1.
    pub fn start() -> Self {
        let server =
            Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind a loopback port"));
        let files: Files = Arc::default();
        let requests = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (server, files, requests) = (server.clone(), files.clone(), requests.clone());
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    requests.fetch_add(1, Ordering::SeqCst);
                    let files = files.lock().expect("mock hub lock").clone();
                    let _ = respond(request, &files);
                }
            })
        };
        MockHub {
            server,
            files,
            requests,
            thread: Some(thread),
        }
    }

    /// The endpoint URL to pass as `HubOptions::endpoint` / `HF_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.server.server_addr())
    }

    /// Serves `content` as `file` of `repo` at revision `main`.
    pub fn add_file(&self, repo: &str, kind: RepoKind, file: &str, content: Vec<u8>) {
        let prefix = match kind {
            RepoKind::Model => "",
            RepoKind::Dataset => "datasets/",
        };
        let route = format!("/{prefix}{repo}/resolve/main/{file}");
        self.files
            .lock()
            .expect("mock hub lock")
            .insert(route, content);
    }

    /// How many HTTP requests the server has answered.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for MockHub {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn respond(request: tiny_http::Request, files: &HashMap<String, Vec<u8>>) -> std::io::Result<()> {
    let header = |name: &str, value: &str| {
        tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
    };
    let Some(content) = files.get(request.url()) else {
        return request
            .respond(tiny_http::Response::from_string("not found").with_status_code(404));
    };
    let size = content.len();
    let range = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Range"))
        .map(|h| h.value.as_str().to_owned());
    let (start, end) = match range.as_deref().and_then(|r| r.strip_prefix("bytes=")) {
        Some(spec) => {
            let (a, b) = spec.split_once('-').unwrap_or((spec, ""));
            let start = a.parse::<usize>().unwrap_or(0).min(size);
            let end = b.parse::<usize>().map(|e| e + 1).unwrap_or(size).min(size);
            (start, end.max(start))
        }
        None => (0, size),
    };
    let etag = format!("\"{}\"", blake3::hash(content).to_hex());
    let body = content[start..end].to_vec();
    let status = if range.is_some() { 206 } else { 200 };
    let last = end.saturating_sub(1).max(start);
    let response = tiny_http::Response::from_data(body)
        .with_status_code(status)
        .with_header(header("ETag", &etag))
        .with_header(header("X-Repo-Commit", MOCK_COMMIT))
        .with_header(header(
            "Content-Range",
            &format!("bytes {start}-{last}/{size}"),
        ));
    request.respond(response)
}
