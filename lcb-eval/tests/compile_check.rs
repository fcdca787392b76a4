//! The worker answers programs that do not compile without forking a child
//! (`python/worker.py`, `Worker._without_child`). `python/test_compile_check.py` compares that
//! answer with grading the same program entirely in a child, for syntax errors of every kind,
//! valid programs and the cases the check must leave to the child; run here with the Python
//! lcb grades with.

use std::process::Command;

#[test]
fn compile_check_answers_exactly_as_the_child_would() {
    let python = lcb_eval::python::find(None).expect("a Python for grading");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/test_compile_check.py");
    let out = Command::new(&python.path)
        .arg(script)
        .output()
        .expect("run the compile-check test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "N programs, M answered without a child, 0 mismatches": the check must really answer
    // (most of the programs are syntax errors), or this test would prove nothing.
    let last = stdout.lines().last().unwrap_or_default();
    let numbers: Vec<usize> = last
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(numbers.len(), 3, "unexpected summary: {last}");
    let (programs, answered, mismatches) = (numbers[0], numbers[1], numbers[2]);
    assert_eq!(mismatches, 0, "{stdout}");
    assert!(programs >= 40, "{last}");
    assert!(answered >= 30, "the check answered only {answered}: {last}");
}
