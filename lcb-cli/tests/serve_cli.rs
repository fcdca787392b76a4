//! `lcb serve` at the HTTP level, with `curl` and raw sockets: bad requests get OpenAI's
//! error object with the field named, slow clients hold up no one, a full queue answers 503
//! with Retry-After, a client that leaves cancels its samples, SIGTERM lets requests finish;
//! and `--endpoint` against it gives exactly the in-process results.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::server::{curl, post, post_json, Server};
use common::{lcb, read_json, succeed};
use lcb_core::sweep::ResultStore;
use serde_json::{json, Value};

fn completions(server: &Server) -> String {
    format!("{}/v1/completions", server.url)
}

/// A refused request: its status, and its error object's `param` and message.
fn refused(url: &str, body: &str) -> (u16, Value, String) {
    let (status, text) = post(url, body);
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let error = &v["error"];
    assert!(error["type"].is_string(), "not an OpenAI error object: {v}");
    (
        status,
        error["param"].clone(),
        error["message"].as_str().unwrap().to_owned(),
    )
}

/// After a client left: its request leaves the queue, and decoding stops well short of the
/// `requested` tokens.
fn assert_decoding_stops(server: &Server, requested: u64) {
    server.wait_for(30, "the request leaves", |s| {
        s["requests_in_flight"] == 0 && s["samples_in_flight"] == 0
    });
    // The engine notices at its next step.
    std::thread::sleep(Duration::from_millis(300));
    let decoded = server.stats()["decode_tokens"].as_u64().unwrap();
    assert!(
        decoded < requested / 2,
        "decoded {decoded} of {requested} tokens after the client left"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        server.stats()["decode_tokens"],
        decoded,
        "nothing decodes any more"
    );
}

#[test]
fn bad_requests_get_the_openai_error_object_naming_the_field() {
    let server = Server::start(&["--max-body", "64KiB", "--max-tokens", "64"]);
    let url = completions(&server);
    let m = r#""model": "fixtures/model""#;
    let cases: Vec<(String, u16, Value, &str)> = vec![
        (
            format!("{{{m}, \"prompt\": \"x\","),
            400,
            Value::Null,
            "not valid JSON",
        ),
        ("[1, 2]".into(), 400, Value::Null, "a JSON object"),
        (
            format!("{{{m}, \"prompt\": \"x\", \"temprature\": 1}}"),
            400,
            json!("temprature"),
            "unknown field",
        ),
        (
            format!("{{{m}, \"prompt\": \"x\", \"temperature\": \"hot\"}}"),
            400,
            json!("temperature"),
            "invalid type",
        ),
        (
            format!("{{{m}, \"prompt\": \"x\", \"temperature\": -1}}"),
            400,
            json!("temperature"),
            "≥ 0",
        ),
        (
            format!("{{{m}, \"prompt\": \"x\", \"n\": 0}}"),
            400,
            json!("n"),
            "between 1",
        ),
        (
            format!("{{{m}, \"prompt\": \"x\", \"max_tokens\": 65}}"),
            400,
            json!("max_tokens"),
            "limit 64",
        ),
        (
            format!("{{{m}, \"prompt\": \"x\", \"logprobs\": 5}}"),
            400,
            json!("logprobs"),
            "alternatives",
        ),
        (
            format!("{{{m}, \"prompt\": \"x\", \"presence_penalty\": 0.5}}"),
            400,
            json!("presence_penalty"),
            "not supported",
        ),
        (
            format!("{{{m}, \"prompt\": \"x\", \"stop\": 3}}"),
            400,
            json!("stop"),
            "string or a list",
        ),
        (
            format!("{{{m}, \"prompt\": \"\"}}"),
            400,
            json!("prompt"),
            "empty",
        ),
        (
            format!("{{{m}, \"prompt\": [999999999]}}"),
            400,
            json!("prompt"),
            "vocabulary",
        ),
        (
            format!("{{{m}, \"prompt\": \"x\", \"n\": 2, \"lcb\": {{\"indices\": [1, 1]}}}}"),
            400,
            json!("lcb.indices"),
            "repeats",
        ),
        (
            r#"{"model": "gpt-4", "prompt": "x"}"#.into(),
            404,
            json!("model"),
            "does not exist",
        ),
        (
            format!("{{{m}, \"prompt\": \"{}\"}}", "x".repeat(70_000)),
            413,
            Value::Null,
            "length limit",
        ),
        (
            format!("{{{m}, \"prompt\": \"x\", \"lcb\": {{\"indices\": [10000000000000]}}}}"),
            400,
            json!("lcb.indices"),
            "below",
        ),
        (
            format!(
                "{{{m}, \"prompt\": \"x\", \"stop\": {}}}",
                json!(vec!["s"; 65])
            ),
            400,
            json!("stop"),
            "at most 64",
        ),
        (
            format!(
                "{{{m}, \"prompt\": \"x\", \"stop\": [\"{}\"]}}",
                "s".repeat(1025)
            ),
            400,
            json!("stop"),
            "at most 1024",
        ),
        (
            format!(
                "{{{m}, \"prompt\": {}, \"max_tokens\": 64}}",
                json!(vec![5; 4090])
            ),
            400,
            json!("max_tokens"),
            "room for 6",
        ),
        (
            format!("{{{m}, \"prompt\": \"x\", \"n\": 3, \"lcb\": {{\"groups\": [{{\"temperature\": 0.5, \"stream\": 1, \"indices\": [0, 1]}}]}}}}"),
            400,
            json!("lcb.groups"),
            "holds 2 samples but n is 3",
        ),
        (
            format!("{{{m}, \"prompt\": \"x\", \"n\": 2, \"temperature\": 1, \"lcb\": {{\"groups\": [{{\"temperature\": 0.5, \"stream\": 1, \"indices\": [0, 1]}}]}}}}"),
            400,
            json!("lcb.groups"),
            "leave out temperature",
        ),
        (
            format!("{{{m}, \"prompt\": \"x\", \"n\": 1, \"lcb\": {{\"groups\": [{{\"temperature\": -2, \"stream\": 1, \"indices\": [0]}}]}}}}"),
            400,
            json!("lcb.groups[0].temperature"),
            "≥ 0",
        ),
        (
            format!("{{{m}, \"prompt\": {}}}", json!(vec![vec![5]; 1025])),
            400,
            json!("prompt"),
            "at most 1024",
        ),
    ];
    for (body, status, param, message) in cases {
        let got = refused(&url, &body);
        let shown = &body[..body.len().min(80)];
        assert_eq!(got.0, status, "{shown}: {got:?}");
        assert_eq!(got.1, param, "{shown}: {got:?}");
        assert!(got.2.contains(message), "{shown}: {got:?}");
    }
    let chat = format!("{}/v1/chat/completions", server.url);
    let got = refused(
        &chat,
        &format!(r#"{{{m}, "messages": [{{"role": "robot", "content": "x"}}]}}"#),
    );
    assert_eq!(
        (got.0, &got.1),
        (400, &json!("messages[0].role")),
        "{got:?}"
    );
    let got = refused(&chat, &format!(r#"{{{m}, "messages": []}}"#));
    assert_eq!((got.0, &got.1), (400, &json!("messages")), "{got:?}");
    // Explicit nulls, as some SDKs send them, are the defaults.
    let (status, body) = post(
        &chat,
        &format!(
            r#"{{{m}, "messages": [{{"role": "user", "content": "x"}}], "logprobs": null, "stream": null, "max_tokens": 2}}"#
        ),
    );
    assert_eq!(status, 200, "{body}");
    // One model by its id (slashes included).
    let (status, body) = curl(&[&format!("{}/v1/models/fixtures/model", server.url)]);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"owned_by\":\"lcb\""), "{body}");
    let (status, _) = curl(&[&format!("{}/v1/models/other", server.url)]);
    assert_eq!(status, 404);
    // Unknown paths and methods answer in the same shape.
    let (status, body) = curl(&[&format!("{}/v2/nothing", server.url)]);
    assert_eq!(status, 404);
    assert!(body.contains("no such endpoint"), "{body}");
    let (status, body) = curl(&[&url]);
    assert_eq!(status, 405, "{body}");
    // And the server is still well.
    let (status, _) = curl(&[&format!("{}/health", server.url)]);
    assert_eq!(status, 200);
}

#[test]
fn completions_chat_and_streams_agree_with_each_other() {
    let server = Server::start(&[]);
    let url = completions(&server);
    let request = json!({"model": "fixtures/model", "prompt": "def add(a, b):", "n": 3,
        "seed": 5, "temperature": 0.9, "max_tokens": 30, "stop": ["\n\n"], "logprobs": 0,
        "return_tokens_as_token_ids": true});
    let (status, whole) = post_json(&url, &request);
    assert_eq!(status, 200, "{whole}");
    let choices = whole["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 3);
    let tokens: usize = choices
        .iter()
        .map(|c| c["logprobs"]["tokens"].as_array().unwrap().len())
        .sum();
    assert_eq!(whole["usage"]["completion_tokens"], tokens);
    // The same request streamed: per choice, the deltas add up to the whole text.
    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let (status, body) = post(&url, &streamed.to_string());
    assert_eq!(status, 200);
    let events: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(events.last(), Some(&"[DONE]"));
    let mut texts = [String::new(), String::new(), String::new()];
    let mut finished = [0; 3];
    let mut usage = Value::Null;
    for e in &events[..events.len() - 1] {
        let chunk: Value = serde_json::from_str(e).unwrap();
        if chunk["choices"].as_array().unwrap().is_empty() {
            usage = chunk["usage"].clone();
        }
        for c in chunk["choices"].as_array().unwrap() {
            let i = c["index"].as_u64().unwrap() as usize;
            texts[i].push_str(c["text"].as_str().unwrap());
            if !c["finish_reason"].is_null() {
                finished[i] += 1;
                assert_eq!(c["finish_reason"], choices[i]["finish_reason"]);
            }
        }
    }
    assert_eq!(finished, [1, 1, 1]);
    for (i, c) in choices.iter().enumerate() {
        assert_eq!(texts[i], c["text"].as_str().unwrap(), "choice {i}");
    }
    assert_eq!(usage, whole["usage"]);
    // Chat: the template renders as /tokenize says, and a seeded chat request repeats.
    let chat = json!({"model": "fixtures/model", "messages": [{"role": "user", "content": "hi"}],
        "chat_template_kwargs": {"enable_thinking": false}, "seed": 1, "max_tokens": 12, "n": 2});
    let a = post_json(&format!("{}/v1/chat/completions", server.url), &chat).1;
    let b = post_json(&format!("{}/v1/chat/completions", server.url), &chat).1;
    assert_eq!(a["choices"], b["choices"]);
    assert_eq!(a["choices"][0]["message"]["role"], "assistant");
    let (_, t) = post_json(
        &format!("{}/tokenize", server.url),
        &json!({"messages": chat["messages"], "chat_template_kwargs": {"enable_thinking": false}}),
    );
    assert_eq!(a["usage"]["prompt_tokens"], t["count"]);
    assert!(
        t["prompt"]
            .as_str()
            .unwrap()
            .ends_with("<think>\n\n</think>\n\n"),
        "{t}"
    );
}

#[test]
fn lcb_generate_over_http_equals_lcb_generate_in_process() {
    let server = Server::start(&[]);
    let args = [
        "--prompt",
        "def is_prime(n):",
        "-n",
        "4",
        "--seed",
        "3",
        "--temperature",
        "1.1",
        "--max-tokens",
        "40",
        "--stop",
        "\n\n",
    ];
    let local = succeed(
        lcb()
            .args(["generate", "--model", "fixtures/model"])
            .args(args),
    );
    let http = succeed(
        lcb()
            .args(["generate", "--endpoint", &format!("{}/v1", server.url)])
            .args(["--served-model", "fixtures/model"])
            .args(args),
    );
    assert_eq!(
        String::from_utf8_lossy(&local.stdout),
        String::from_utf8_lossy(&http.stdout),
        "same samples, token ids and log-probabilities"
    );
}

#[test]
fn a_slow_client_holds_up_no_one() {
    let server = Server::start(&[]);
    let address = server.url.trim_start_matches("http://").to_owned();
    // One client sends half its headers and stalls; another sends a body slower still.
    let mut stalled = TcpStream::connect(&address).unwrap();
    stalled
        .write_all(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Le")
        .unwrap();
    let mut trickle = TcpStream::connect(&address).unwrap();
    trickle
        .write_all(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n{\"mo")
        .unwrap();
    let started = Instant::now();
    let (status, body) = post_json(
        &completions(&server),
        &json!({"model": "fixtures/model", "prompt": "x", "max_tokens": 4}),
    );
    assert_eq!(status, 200, "{body}");
    assert!(started.elapsed() < Duration::from_secs(20));
    // The trickling client finishes its body (invalid JSON): it gets its 400 all the same.
    trickle.write_all(&[b' '; 196]).unwrap();
    let mut answer = String::new();
    trickle
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = trickle.read(&mut buf).unwrap();
    answer.push_str(&String::from_utf8_lossy(&buf[..n]));
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    drop(stalled);
}

#[test]
fn a_full_queue_answers_503_and_a_client_that_leaves_cancels_its_samples() {
    let server = Server::start(&["--max-requests", "1", "--max-tokens", "2048"]);
    // A long streamed request: 64 samples of 2,048 tokens, end-of-sequence ignored.
    let client = open_stream(
        &server,
        &json!({"model": "fixtures/model", "prompt": "def f(x):", "n": 64,
            "max_tokens": 2048, "ignore_eos": true, "stream": true, "seed": 1}),
    );
    server.wait_for(30, "the stream decodes", |s| {
        s["decode_tokens"].as_u64() > Some(0)
    });
    // The queue holds one request: the next is told to come back.
    let (status, text) = curl(&[
        "-D",
        "-",
        "-H",
        "content-type: application/json",
        "--data-binary",
        r#"{"model": "fixtures/model", "prompt": "x", "max_tokens": 2}"#,
        &completions(&server),
    ]);
    assert_eq!(status, 503, "{text}");
    assert!(
        text.to_ascii_lowercase().contains("retry-after: 1"),
        "{text}"
    );
    assert!(text.contains("server_overloaded"), "{text}");
    // The streaming client leaves: its samples are abandoned, not decoded to the end.
    drop(client);
    assert_decoding_stops(&server, 64 * 2048);
    let (status, _) = post(
        &completions(&server),
        r#"{"model": "fixtures/model", "prompt": "x", "max_tokens": 2}"#,
    );
    assert_eq!(status, 200, "room again");
}

#[test]
fn sigterm_lets_a_request_in_flight_finish_and_exits_zero() {
    let mut server = Server::start(&[]);
    let url = completions(&server);
    let request = std::thread::spawn(move || {
        post_json(
            &url,
            &json!({"model": "fixtures/model", "prompt": "def f(x):", "n": 4,
                "max_tokens": 400, "ignore_eos": true, "seed": 2}),
        )
    });
    server.wait_for(30, "the request runs", |s| s["requests_in_flight"] == 1);
    let status = server.terminate();
    let (code, answer) = request.join().unwrap();
    assert_eq!(code, 200, "{answer}");
    let choices = answer["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 4);
    assert!(choices.iter().all(|c| c["finish_reason"] == "length"));
    assert!(status.success(), "{status:?}: {}", server.log());
    assert!(
        server.log().contains("lcb serve: stopped"),
        "{}",
        server.log()
    );
}

/// The fixture problems, a few questions, two temperatures: small enough for a debug build.
fn sweep_args(out: &std::path::Path) -> Vec<String> {
    [
        "sweep",
        "--problems",
        "fixtures/problems/lcb_fixtures.jsonl",
        "--questions",
        "0..5",
        "--temperatures",
        "0.3,1.2",
        "-n",
        "6",
        "--max-tokens",
        "96",
        "--no-skip",
        "--allow-partial-env",
        "--output",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([out.display().to_string()])
    .collect()
}

/// A temporary directory holding the in-process sweep's tree (`local`), and where a tree
/// made over HTTP goes (`http`).
fn in_process_tree() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    let http = dir.path().join("http");
    succeed(
        lcb()
            .args(sweep_args(&local))
            .args(["--model", "fixtures/model"]),
    );
    (dir, local, http)
}

#[test]
fn a_sweep_over_http_equals_the_in_process_sweep_and_resumes_to_it() {
    let (_dir, local, http) = in_process_tree();
    let server = Server::start(&[]);
    let endpoint = format!("{}/v1", server.url);
    let over_http = || {
        succeed(lcb().args(sweep_args(&http)).args([
            "--endpoint",
            &endpoint,
            "--served-model",
            "fixtures/model",
        ]))
    };
    over_http();
    let snapshot = |p: &std::path::Path| ResultStore::new(p).timing_free_snapshot().unwrap();
    let expected = snapshot(&local);
    assert_eq!(
        expected.len(),
        5 * 3,
        "two temperature files and a summary per question"
    );
    assert_eq!(snapshot(&http), expected);
    let summary = read_json(&http.join("run_summary.json"));
    assert_eq!(summary["model_config"]["endpoint"], endpoint.as_str());
    assert_eq!(summary["model_config"]["served_model"], "fixtures/model");
    assert_eq!(
        summary["generator"],
        read_json(&local.join("run_summary.json"))["generator"]
    );
    // An interrupted run leaves files complete or absent: remove some, run again.
    std::fs::remove_file(http.join("q1/t1_2_n6.json")).unwrap();
    std::fs::remove_dir_all(http.join("q3")).unwrap();
    over_http();
    assert_eq!(
        snapshot(&http),
        expected,
        "resumed over HTTP to the same tree"
    );
    // A tree made over HTTP resumes in-process too: the server's engine is the same.
    std::fs::remove_file(http.join("q4/t0_3_n6.json")).unwrap();
    succeed(
        lcb()
            .args(sweep_args(&http))
            .args(["--model", "fixtures/model"]),
    );
    assert_eq!(snapshot(&http), expected);
}

#[test]
fn a_client_that_leaves_before_a_whole_answer_cancels_too() {
    let server = Server::start(&["--max-tokens", "2048"]);
    let client = send_request(
        &server,
        &json!({"model": "fixtures/model", "prompt": "def f(x):", "n": 64,
            "max_tokens": 2048, "ignore_eos": true, "seed": 1}),
    );
    server.wait_for(30, "the request decodes", |s| {
        s["requests_in_flight"] == 1 && s["decode_tokens"].as_u64() > Some(0)
    });
    drop(client);
    assert_decoding_stops(&server, 64 * 2048);
}

#[test]
fn the_standard_api_path_runs_a_sweep_and_resumes_it_to_the_same_tree() {
    // One request per sample with a derived seed, token counts from `usage`: how lcb talks
    // to servers that are not lcb serve. lcb serve is deterministic for a seed, so a resumed
    // run gives the same tree.
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("standard");
    let server = Server::start(&[]);
    let endpoint = format!("{}/v1", server.url);
    let run = || {
        succeed(
            lcb()
                .args(sweep_args(&tree))
                .args(["--endpoint", &endpoint, "--served-model", "fixtures/model"])
                .args(["--standard-api", "--concurrency", "8"]),
        )
    };
    run();
    let first = ResultStore::new(&tree).timing_free_snapshot().unwrap();
    assert_eq!(first.len(), 15);
    let file = &first["q0/t0_3_n6.json"];
    let completions = file["completions"].as_array().unwrap();
    assert_eq!(completions.len(), 6);
    assert!(completions
        .iter()
        .all(|c| c["num_tokens"].as_u64() > Some(0)));
    assert_eq!(file["model_config"]["engine"], "openai-endpoint");
    std::fs::remove_dir_all(tree.join("q2")).unwrap();
    run();
    assert_eq!(
        ResultStore::new(&tree).timing_free_snapshot().unwrap(),
        first
    );
    // The server saw one request per sample (and the two questions' prompts rendered).
    let stats = server.stats();
    assert!(
        stats["requests_finished"].as_u64() >= Some(5 * 2 * 6 + 3 * 2),
        "{stats}"
    );
}

#[test]
fn nothing_a_client_sends_crashes_the_server() {
    // Seeded mutations of valid requests: cut short, bytes replaced, fields given values of
    // every type. Every answer is a success or an OpenAI error object; the server stays up.
    let server = Server::start(&["--max-queued-samples", "64", "--max-tokens", "16"]);
    let valid = [
        (
            "/v1/completions",
            json!({"model": "fixtures/model", "prompt": "def f(x):", "max_tokens": 4, "n": 2,
                "stop": ["\n"], "seed": 1, "logprobs": 0, "stream": true}),
        ),
        (
            "/v1/chat/completions",
            json!({"model": "fixtures/model", "messages": [{"role": "user", "content": "hi"}],
                "max_tokens": 4, "logprobs": true, "stream_options": {"include_usage": true}}),
        ),
        ("/tokenize", json!({"prompt": "x y z"})),
        ("/detokenize", json!({"tokens": [1, 2, 3]})),
    ];
    let odd: Vec<Value> = vec![
        json!(null),
        json!(-1),
        json!(1e300),
        json!(u64::MAX),
        json!(""),
        json!("\u{0}\u{ffff}"),
        json!([]),
        json!([[[]]]),
        json!({}),
        json!({"a": {"b": []}}),
        json!(true),
        json!(0.5),
        json!([-5, 1e9]),
        json!([{"type": "image_url"}]),
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    let mut answered = std::collections::BTreeMap::new();
    for _ in 0..160 {
        let (path, body) = &valid[next(valid.len())];
        let mut body = body.clone();
        let text = match next(3) {
            0 => {
                let fields: Vec<String> = body.as_object().unwrap().keys().cloned().collect();
                let field = fields[next(fields.len())].clone();
                body[field] = odd[next(odd.len())].clone();
                body.to_string()
            }
            1 => {
                let t = body.to_string();
                t[..next(t.len())].to_owned()
            }
            _ => {
                let mut bytes = body.to_string().into_bytes();
                let at = next(bytes.len());
                bytes[at] = next(256) as u8;
                String::from_utf8_lossy(&bytes).into_owned()
            }
        };
        let (status, answer) = post(&format!("{}{path}", server.url), &text);
        *answered.entry(status).or_insert(0) += 1;
        match status {
            200 => {}
            400..=499 => {
                let v: Value = serde_json::from_str(&answer)
                    .unwrap_or_else(|e| panic!("{status} {e}: {answer} for {text}"));
                assert!(v["error"]["message"].is_string(), "{answer} for {text}");
            }
            _ => panic!("{status}: {answer} for {text}"),
        }
    }
    assert!(
        answered.len() >= 2,
        "both successes and refusals: {answered:?}"
    );
    let (status, _) = curl(&[&format!("{}/health", server.url)]);
    assert_eq!(status, 200, "{}", server.log());
    assert!(!server.log().contains("panicked"), "{}", server.log());
}

#[test]
fn a_sweep_waits_for_a_busy_server_and_still_equals_the_in_process_sweep() {
    // Two requests at a time: most of the sweep's ten group requests are turned away with
    // 503 and Retry-After, and come back.
    let (_dir, local, http) = in_process_tree();
    let server = Server::start(&["--max-requests", "2"]);
    succeed(lcb().args(sweep_args(&http)).args([
        "--endpoint",
        &format!("{}/v1", server.url),
        "--served-model",
        "fixtures/model",
        "--inflight",
        "5",
    ]));
    let turned_away = server.stats()["turned_away"].as_u64().unwrap();
    assert!(turned_away > 0, "the server was never busy");
    let snapshot = |p: &std::path::Path| ResultStore::new(p).timing_free_snapshot().unwrap();
    assert_eq!(snapshot(&http), snapshot(&local));
}

#[test]
fn a_server_that_never_answers_fails_the_command_with_the_reason() {
    // Accepts connections and says nothing.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let started = Instant::now();
    let err = common::fail(lcb().args([
        "generate",
        "--endpoint",
        &url,
        "--served-model",
        "m",
        "--prompt",
        "x",
        "--request-timeout",
        "1",
        "--retries",
        "1",
    ]));
    assert!(err.contains("cannot use the endpoint"), "{err}");
    assert!(err.contains("/v1/models"), "{err}");
    assert!(
        err.contains("timed out") && err.contains("after 1 retries"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    // Nothing listening at all: the same, at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", closed.local_addr().unwrap());
    drop(closed);
    let err = common::fail(lcb().args([
        "generate",
        "--endpoint",
        &url,
        "--served-model",
        "m",
        "--prompt",
        "x",
        "--retries",
        "0",
    ]));
    assert!(err.contains("Connection refused"), "{err}");
}

#[test]
fn a_sweep_survives_its_server_crashing_and_coming_back() {
    // The server is killed while streams are in flight and restarted on the same port: the
    // sweep retries what was cut off (never a sample twice) and ends with the in-process tree.
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    let http = dir.path().join("http");
    let args = |out: &std::path::Path| {
        let mut a = sweep_args(out);
        for (flag, value) in [("-n", "24"), ("--max-tokens", "160")] {
            let at = a.iter().position(|x| x == flag).unwrap();
            a[at + 1] = value.to_owned();
        }
        a
    };
    succeed(lcb().args(args(&local)).args(["--model", "fixtures/model"]));
    let mut server = Server::start(&[]);
    let port: u16 = server.url.rsplit(':').next().unwrap().parse().unwrap();
    let sweep = lcb()
        .args(args(&http))
        .args(["--endpoint", &format!("{}/v1", server.url)])
        .args(["--served-model", "fixtures/model", "--inflight", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    server.wait_for(60, "the sweep generates", |s| {
        s["decode_tokens"].as_u64() > Some(2000) && s["requests_in_flight"].as_u64() > Some(0)
    });
    server.kill();
    std::thread::sleep(Duration::from_millis(1500));
    let _restarted = Server::start_on(port, &[]);
    let out = sweep.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("retrying"),
        "the sweep never noticed the crash: {err}"
    );
    let snapshot = |p: &std::path::Path| ResultStore::new(p).timing_free_snapshot().unwrap();
    assert_eq!(snapshot(&http), snapshot(&local));
}

/// Sends a completions request on a raw socket (the answer left unread).
fn send_request(server: &Server, body: &Value) -> TcpStream {
    let address = server.url.trim_start_matches("http://").to_owned();
    let body = body.to_string();
    let mut client = TcpStream::connect(&address).unwrap();
    write!(
        client,
        "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    client
}

/// Opens a streamed request on a raw socket and returns it once the answer's headers came.
fn open_stream(server: &Server, body: &Value) -> TcpStream {
    let mut client = send_request(server, body);
    let mut first = [0u8; 64];
    let n = client.read(&mut first).unwrap();
    assert!(
        first[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&first[..n])
    );
    client
}

#[test]
fn a_client_that_leaves_while_text_is_held_back_cancels_too() {
    // A 1,000-byte stop string holds the text back: nothing is sent for a while, and the
    // server must notice the client leaving without a failed write.
    let server = Server::start(&["--max-tokens", "2048"]);
    let client = open_stream(
        &server,
        &json!({"model": "fixtures/model", "prompt": "def f(x):", "n": 64, "max_tokens": 2048,
            "ignore_eos": true, "stream": true, "seed": 1, "stop": ["z".repeat(1000)]}),
    );
    server.wait_for(30, "the stream decodes", |s| {
        s["decode_tokens"].as_u64() > Some(0)
    });
    drop(client);
    assert_decoding_stops(&server, 64 * 2048);
}

#[test]
fn a_client_that_stops_reading_has_its_samples_abandoned() {
    // The client keeps its connection but reads nothing: the server does not hold its
    // tokens without limit; the engine stops decoding for it.
    let server = Server::start(&["--max-tokens", "2048", "--max-unread-tokens", "3000"]);
    let _client = open_stream(
        &server,
        &json!({"model": "fixtures/model", "prompt": "def f(x):", "n": 64, "max_tokens": 2048,
            "ignore_eos": true, "stream": true, "seed": 1}),
    );
    let mut last = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        std::thread::sleep(Duration::from_millis(1000));
        let decoded = server.stats()["decode_tokens"].as_u64().unwrap();
        if decoded == last && decoded > 0 {
            break;
        }
        last = decoded;
        assert!(
            Instant::now() < deadline,
            "decoding never stopped ({decoded} tokens)"
        );
    }
    assert!(
        last < 64 * 2047,
        "decoded {last} tokens for a client that reads nothing"
    );
}

#[test]
fn a_stream_cut_by_shutdown_says_why() {
    // Past the grace period, a stream still open ends with an error event and [DONE].
    let mut server = Server::start(&["--max-tokens", "2048", "--shutdown-grace", "1"]);
    let url = completions(&server);
    let stream = std::thread::spawn(move || {
        post(
            &url,
            &json!({"model": "fixtures/model", "prompt": "def f(x):", "n": 64,
                "max_tokens": 2048, "ignore_eos": true, "stream": true, "seed": 1})
            .to_string(),
        )
    });
    server.wait_for(30, "the stream decodes", |s| {
        s["decode_tokens"].as_u64() > Some(0)
    });
    let status = server.terminate();
    assert!(status.success(), "{status:?}: {}", server.log());
    let (code, body) = stream.join().unwrap();
    assert_eq!(code, 200);
    let events: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(
        events.last(),
        Some(&"[DONE]"),
        "{}",
        &body[body.len().saturating_sub(300)..]
    );
    let last = events[events.len() - 2];
    assert!(last.contains("the server is shutting down"), "{last}");
}
