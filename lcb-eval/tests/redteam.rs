//! The red team: programs that pass only if their attack on the grader works, so `passed`
//! means breach. Each tries to get at what it must not see (the expected outputs, a secret
//! planted on the host, other processes) or to forge its own verdict. Every one must fail, the
//! planted secret must appear in no verdict's detail, and the grader must survive.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command};

use common::*;
use lcb_core::evaluator::{Evaluator, GradeRequest};
use lcb_core::verdict::Verdict;

/// A random token with a prefix the attacks search for.
fn token(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// Files and a process holding the secret, removed when dropped.
struct Planted {
    files: Vec<PathBuf>,
    process: Child,
}

impl Drop for Planted {
    fn drop(&mut self) {
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

#[test]
fn every_attack_fails_and_the_secret_never_leaks() {
    // The expected output: only the judge holds it (and the files planted below, which the
    // program must not be able to read). Printing it is a pass, so a pass is a breach. Verdict
    // details show it on a wrong answer, as LCB's metadata does.
    let answer = token("LCBANSWER");
    // A secret of the host: planted beside the answer, and never to appear in any verdict.
    let secret = token("LCBSECRET");
    let planted_text = format!("{answer} {secret}");
    let problem = stdin_problem("redteam", &[("1\n", &answer), ("2\n", &answer)]);
    // A problem whose expected output is "breached": a program prints it only when its
    // attack succeeded.
    let breach = stdin_problem("breach", &[("1\n", "breached")]);
    let functional = functional_problem("redteam_f", "f", &[("1", &format!("{answer:?}"))]);

    let home = PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()));
    let home_secret = home.join(format!(".lcb-redteam-{}", std::process::id()));
    let problems_file =
        std::env::temp_dir().join(format!("lcb-redteam-{}.jsonl", std::process::id()));
    std::fs::write(&home_secret, &planted_text).unwrap();
    std::fs::write(
        &problems_file,
        format!(
            "{{\"question_id\": \"redteam\", \"output\": \"{answer}\", \"note\": \"{secret}\"}}\n"
        ),
    )
    .unwrap();
    let planted = Planted {
        files: vec![home_secret.clone(), problems_file.clone()],
        process: Command::new("sleep")
            .arg("60")
            .env("LCB_REDTEAM_SECRET", &planted_text)
            .spawn()
            .unwrap(),
    };
    let holder_pid = planted.process.id();

    let read_file = |path: &std::path::Path| {
        format!(
            "data = open({:?}).read()\nimport re\nm = re.search(r'LCBANSWER-[0-9-]+', data)\nprint(m.group(0) if m else data)",
            path.to_str().unwrap()
        )
    };
    let attacks: Vec<(&str, &lcb_core::problem::Problem, String)> = vec![
        (
            "expected outputs from the grader's frames",
            &problem,
            "import sys\nfound = None\nf = sys._getframe()\nwhile f is not None and found is None:\n    for name, v in list(f.f_locals.items()) + list(f.f_globals.items()):\n        if isinstance(v, str) and v.startswith('LCBANSWER'):\n            found = v\n        elif isinstance(v, (list, tuple)) and v and isinstance(v[0], str) and v[0].startswith('LCBANSWER'):\n            found = v[0]\n        elif isinstance(v, dict):\n            for w in v.values():\n                if isinstance(w, list) and w and isinstance(w[0], str) and w[0].startswith('LCBANSWER'):\n                    found = w[0]\n    f = f.f_back\nprint(found)".into(),
        ),
        (
            "expected outputs from the garbage collector's objects",
            &problem,
            "import gc\nhits = [o for o in gc.get_objects() if isinstance(o, (list, dict))]\nfound = None\nfor o in hits:\n    for v in (o.values() if isinstance(o, dict) else o):\n        if isinstance(v, str) and v.startswith('LCBANSWER'):\n            found = v\n        if isinstance(v, list):\n            for w in v:\n                if isinstance(w, str) and w.startswith('LCBANSWER'):\n                    found = w\nprint(found)".into(),
        ),
        (
            "expected outputs from the process's raw memory",
            &problem,
            "import re\nfound = None\nfor line in open('/proc/self/maps'):\n    start, end = (int(x, 16) for x in line.split()[0].split('-'))\n    try:\n        with open('/proc/self/mem', 'rb') as mem:\n            mem.seek(start)\n            m = re.search(rb'LCBANSWER-[0-9-]+', mem.read(end - start))\n            if m and found is None and m.group(0) != b'LCBANSWER-':\n                found = m.group(0).decode()\n    except OSError:\n        pass\nprint(found)".into(),
        ),
        (
            "expected outputs from the judge's memory (/proc/1/mem)",
            &problem,
            "import re\nfound = None\nfor pid in ('1', str(__import__('os').getppid())):\n    try:\n        for line in open('/proc/%s/maps' % pid):\n            start, end = (int(x, 16) for x in line.split()[0].split('-'))\n            try:\n                with open('/proc/%s/mem' % pid, 'rb') as mem:\n                    mem.seek(start)\n                    m = re.search(rb'LCBANSWER-[0-9]+-[0-9]+', mem.read(end - start))\n                    if m:\n                        found = m.group(0).decode()\n            except OSError:\n                pass\n    except OSError:\n        pass\nprint(found)".into(),
        ),
        ("the problems file", &problem, read_file(&problems_file)),
        ("a secret planted in $HOME", &problem, read_file(&home_secret)),
        (
            "a secret from $HOME leaked through an error message",
            &breach,
            format!("raise ValueError(open({:?}).read())", home_secret.to_str().unwrap()),
        ),
        (
            "another process's environment leaked through an error message",
            &breach,
            format!("raise ValueError(open('/proc/{holder_pid}/environ').read())"),
        ),
        (
            "another process's environment",
            &problem,
            format!(
                "import re\nprint(re.search(r'LCBANSWER-[0-9-]+', open('/proc/{holder_pid}/environ').read()).group(0))"
            ),
        ),
        (
            "every process's environment",
            &problem,
            "import os, re\nfound = None\nfor pid in os.listdir('/proc'):\n    try:\n        m = re.search(r'LCBANSWER-[0-9-]+', open('/proc/%s/environ' % pid, errors='replace').read())\n        found = found or (m and m.group(0))\n    except (OSError, ValueError):\n        pass\nprint(found)".into(),
        ),
        (
            "a verdict forged on inherited descriptors",
            &problem,
            "import json, os, struct\nfor msg in ({'results': [True, True], 'metadata': {}, 'verdict': 'passed'}, {'k': 'ready'}, {'k': 'out', 'text': 'x', 't': 0}, {'status': 'passed', 'detail': ''}):\n    data = json.dumps(msg).encode()\n    for fd in range(3, 64):\n        for blob in (data + b'\\n', struct.pack('<I', len(data)) + data):\n            try:\n                os.write(fd, blob)\n            except OSError:\n                pass\nos._exit(0)".into(),
        ),
        (
            "an early exit after claiming the output",
            &problem,
            "import os\nos._exit(0)".into(),
        ),
        (
            "raw fork through ctypes",
            &breach,
            "import ctypes\nlibc = ctypes.CDLL(None)\npid = libc.syscall(57)\nif pid == 0:\n    libc._exit(0)\nprint('breached' if pid > 0 else 'no')".into(),
        ),
        (
            "raw inet socket through ctypes",
            &breach,
            "import ctypes\nlibc = ctypes.CDLL(None)\nfd = libc.syscall(41, 2, 1, 0)\nprint('breached' if fd >= 0 else 'no')".into(),
        ),
        (
            "raw ptrace of the parent through ctypes",
            &breach,
            "import ctypes, os\nlibc = ctypes.CDLL(None)\nr = libc.syscall(101, 16, os.getppid(), 0, 0)\nprint('breached' if r == 0 else 'no')".into(),
        ),
        (
            "writing outside the scratch directory",
            &breach,
            format!(
                "open({:?}, 'w').write('x')\nprint('breached')",
                std::env::temp_dir()
                    .join(format!("lcb-redteam-write-{}", std::process::id()))
                    .to_str()
                    .unwrap()
            ),
        ),
        (
            "listing the host's /tmp",
            &breach,
            "import os\nos.listdir('/tmp')\nprint('breached')".into(),
        ),
        (
            "reading the working directory lcb was started from",
            &breach,
            format!(
                "open({:?}).read()\nprint('breached')",
                concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")
            ),
        ),
        (
            "reading /etc/passwd",
            &breach,
            "open('/etc/passwd').read()\nprint('breached')".into(),
        ),
        (
            "signalling the judge (PID 1)",
            &breach,
            "import os\nos.kill(1, 9)\nprint('breached')".into(),
        ),
        (
            "anything of lcb's environment (variables beyond the sandbox's own few)",
            &breach,
            format!(
                "import os\nown = {{'PATH', 'HOME', 'TMPDIR', 'LANG', 'PYTHONIOENCODING', 'OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'LC_CTYPE'}}\nextra = set(os.environ) - own\nprint('breached' if extra or os.environ.get('HOME') == {:?} else sorted(extra))",
                home.to_str().unwrap()
            ),
        ),
        (
            "a catastrophic regular expression",
            &breach,
            "import re\nre.match(r'(a+)+$', 'a' * 64 + 'b')\nprint('breached')".into(),
        ),
        (
            "a functional result that claims equality with everything",
            &functional,
            "class Any:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\nclass Solution:\n    def f(self, x):\n        return Any()".into(),
        ),
        (
            "a functional result that finds the expected value in memory",
            &functional,
            "import gc\nclass Solution:\n    def f(self, x):\n        for o in gc.get_objects():\n            if isinstance(o, list):\n                for v in o:\n                    if isinstance(v, str) and v.startswith('LCBANSWER'):\n                        return v\n        return None".into(),
        ),
    ];

    let pool = pool(2, 2.0);
    let requests: Vec<GradeRequest> = attacks
        .iter()
        .map(|(_, problem, code)| GradeRequest { problem, code })
        .collect();
    let grades = pool
        .grade(&requests)
        .expect("the grader survives every attack");
    let mut breaches = Vec::new();
    for ((name, _, _), grade) in attacks.iter().zip(&grades) {
        if grade.verdict == Verdict::Passed {
            breaches.push(format!("{name}: passed"));
        }
        if grade.detail.as_deref().unwrap_or("").contains(&secret) {
            breaches.push(format!(
                "{name}: the secret is in the detail {:?}",
                grade.detail
            ));
        }
    }
    assert!(breaches.is_empty(), "breaches:\n{}", breaches.join("\n"));

    // The attacks were real: an honest program passes the same problems, and the regular
    // expression ran out of time rather than failing to start.
    let honest = format!("print({answer:?})");
    let ok = pool
        .grade(&[
            GradeRequest {
                problem: &problem,
                code: &honest,
            },
            GradeRequest {
                problem: &breach,
                code: "print('breached')",
            },
            GradeRequest {
                problem: &functional,
                code: &format!("class Solution:\n    def f(self, x):\n        return {answer:?}"),
            },
        ])
        .unwrap();
    assert!(ok.iter().all(|g| g.verdict == Verdict::Passed), "{ok:?}");
    // And an error message does reach the detail, so the leak checks above could fail.
    let probe = pool
        .grade(&[GradeRequest {
            problem: &breach,
            code: "raise ValueError('LCBSECRET-probe')",
        }])
        .unwrap();
    assert!(probe[0]
        .detail
        .as_deref()
        .unwrap_or("")
        .contains("LCBSECRET-probe"));
    let regex = attacks
        .iter()
        .position(|(n, _, _)| n.contains("regular expression"))
        .unwrap();
    assert_eq!(grades[regex].verdict, Verdict::TimeLimitExceeded);
    // Nothing was written outside, nothing is left running.
    assert!(!std::env::temp_dir()
        .join(format!("lcb-redteam-write-{}", std::process::id()))
        .exists());
    let root = pool.scratch_root().to_owned();
    drop(pool);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(sandbox_processes(&root), Vec::<u32>::new());
    drop(planted);
}
