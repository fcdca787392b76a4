//! A grading worker killed from outside (the OOM killer, an operator's `kill`) costs one retry
//! on a fresh worker, not the sweep.

mod common;

use common::*;
use lcb_core::evaluator::{Evaluator, GradeRequest};
use lcb_core::verdict::Verdict;

#[test]
fn a_worker_killed_from_outside_is_replaced_and_the_program_graded() {
    let pool = pool(1, 2.0);
    let problem = stdin_problem("add", &[("1 2\n", "3\n"), ("5 7\n", "12\n")]);
    let good = "a, b = map(int, input().split())\nprint(a + b)";
    let wrong = "a, b = map(int, input().split())\nprint(a - b)";
    let grade = |code: &str| {
        pool.grade(&[GradeRequest {
            problem: &problem,
            code,
        }])
        .expect("grading survives a dead worker")
        .remove(0)
        .verdict
    };
    assert_eq!(grade(good), Verdict::Passed);

    let workers = sandbox_processes(pool.scratch_root());
    assert!(!workers.is_empty(), "the pool's worker is running");
    for pid in &workers {
        // SAFETY: plain kill(2) on a pid we just read from /proc.
        unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
    }
    // Not cached (a different program), so it must reach a worker: the dead one first.
    assert_eq!(grade(wrong), Verdict::WrongAnswer);
    let replaced = sandbox_processes(pool.scratch_root());
    assert!(
        !replaced.is_empty() && replaced.iter().all(|p| !workers.contains(p)),
        "a fresh worker replaced the killed one: before {workers:?}, after {replaced:?}"
    );
}
