//! Hostile programs: each gets a verdict, the grader survives, nothing is left behind, nothing
//! is written outside the sandbox and nothing reaches the network.

mod common;

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use common::*;
use lcb_core::evaluator::{Evaluator, GradeRequest};
use lcb_core::verdict::Verdict;
use lcb_eval::SandboxEvaluator;

struct Case {
    name: &'static str,
    code: String,
    expected: Verdict,
}

fn case(name: &'static str, code: impl Into<String>, expected: Verdict) -> Case {
    Case {
        name,
        code: code.into(),
        expected,
    }
}

#[test]
fn hostile_programs_are_contained() {
    let workers = 2;
    let pool: SandboxEvaluator = pool(workers, 1.0);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let nonce = format!("lcb-hostile-{}", std::process::id());
    let repo_file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("{nonce}.txt"));
    let home_file =
        PathBuf::from(std::env::var("HOME").unwrap_or("/root".into())).join(format!("{nonce}.txt"));
    let tmp_file = std::env::temp_dir().join(format!("{nonce}.txt"));
    let write = |p: &Path| {
        format!(
            "open({:?}, 'w').write('pwned')\nprint(3)",
            p.to_str().unwrap()
        )
    };

    let cases = vec![
        case("fork bomb", "import posix\nwhile True:\n    posix.fork()", Verdict::RuntimeError),
        case("fork via os (nulled by the LCB guard)", "import os\nos.fork()", Verdict::RuntimeError),
        case("allocate 10 GB", "x = bytearray(10 * 1024**3)\nprint(3)", Verdict::RuntimeError),
        case("print forever", "while True:\n    print('x' * 1000)", Verdict::TimeLimitExceeded),
        case("sleep forever", "import time\ntime.sleep(10**6)", Verdict::TimeLimitExceeded),
        case("busy loop", "while True:\n    pass", Verdict::TimeLimitExceeded),
        case("uninterruptible C loop", "print(sum(range(10**13)))", Verdict::TimeLimitExceeded),
        // The child's parent is the zygote, which the child's own Landlock domain may not
        // signal: the kill fails with EPERM, the program raises, the grader goes on.
        case("kill parent", "import posix\nposix.kill(posix.getppid(), 9)\nprint(3)", Verdict::RuntimeError),
        case("kill own process group", "import posix\nposix.killpg(0, 9)\nprint(3)", Verdict::RuntimeError),
        // kill(-1) skips the caller and init, and every other process (the zygote) is outside
        // the child's signal scope: nothing dies, and the program goes on to print its answer.
        case("kill everything", "import posix\nposix.kill(-1, 9)\nprint(3)", Verdict::Passed),
        case("write into the repository", write(&repo_file), Verdict::RuntimeError),
        case("write into $HOME", write(&home_file), Verdict::RuntimeError),
        case("write into /tmp", write(&tmp_file), Verdict::RuntimeError),
        case("write own scratch dir", "open('scratch.txt', 'w').write('ok')\nprint(3)", Verdict::Passed),
        case(
            "connect to a local listener",
            format!("import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\nprint(3)"),
            Verdict::RuntimeError,
        ),
        case(
            "leave a daemon thread",
            "import threading, time\nthreading.Thread(target=lambda: time.sleep(1000)).start()\nprint(3)",
            Verdict::Passed,
        ),
        case("deep recursion", "def f(n):\n    return f(n + 1)\nf(0)", Verdict::RuntimeError),
        case("read stdin past EOF", "input()\ninput()\nprint(3)", Verdict::RuntimeError),
        case("sys.exit before printing", "import sys\nsys.exit(0)\nprint(3)", Verdict::WrongAnswer),
    ];
    let problem = stdin_problem("hostile", &[("1\n", "3\n")]);
    let requests: Vec<_> = cases
        .iter()
        .map(|c| GradeRequest {
            problem: &problem,
            code: &c.code,
        })
        .collect();
    let grades = pool
        .grade(&requests)
        .expect("the grader survives every hostile program");
    let mut wrong = vec![];
    for (c, g) in cases.iter().zip(&grades) {
        if g.verdict != c.expected {
            wrong.push(format!(
                "{}: expected {}, got {} ({:?})",
                c.name, c.expected, g.verdict, g.detail
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "unexpected verdicts:\n{}",
        wrong.join("\n")
    );

    // The grader still works.
    let ok = pool
        .grade(&[GradeRequest {
            problem: &problem,
            code: "print(3)",
        }])
        .unwrap();
    assert_eq!(ok[0].verdict, Verdict::Passed);
    // Nothing outside the sandbox was written, nothing connected.
    for f in [&repo_file, &home_file, &tmp_file] {
        assert!(!f.exists(), "{} was written", f.display());
    }
    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        ErrorKind::WouldBlock,
        "a program connected"
    );
    // Only the workers themselves remain (each a judge and its zygote); when the pool goes,
    // they go.
    let root = pool.scratch_root().to_owned();
    let alive = sandbox_processes(&root);
    assert!(alive.len() <= 2 * workers, "left behind: {alive:?}");
    drop(pool);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        sandbox_processes(&root),
        Vec::<u32>::new(),
        "processes survived the pool"
    );
}
