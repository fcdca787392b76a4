//! `lcb bench --ab`: two binaries alternately on one workload, each figure's spread per side
//! and the ratio with its interval. Here both sides are this build (a copy of the binary), so
//! the report must compare every figure the benchmark prints and find them comparable.

mod common;

use common::*;

#[test]
fn ab_runs_both_binaries_and_reports_spreads_and_ratios() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("lcb-other");
    std::fs::copy(env!("CARGO_BIN_EXE_lcb"), &other).unwrap();
    let out = succeed(lcb().args([
        "bench",
        "--shape",
        "tiny",
        "--samples",
        "4",
        "--new-tokens",
        "3",
        "--prompt-tokens",
        "8",
        "--rounds",
        "2",
        "--ab",
        other.to_str().unwrap(),
    ]));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let ab = &report["ab"];
    assert_eq!(ab["a"], other.to_str().unwrap());
    assert_eq!(ab["report"]["rounds"], 2);
    let figures = ab["report"]["figures"].as_array().unwrap();
    let pointers: Vec<&str> = figures
        .iter()
        .map(|f| f["figure"]["pointer"].as_str().unwrap())
        .collect();
    for wanted in ["/lcb/output_tokens_per_s", "/lcb/ttft_percentiles_s/p90"] {
        assert!(pointers.contains(&wanted), "{pointers:?}");
    }
    for f in figures {
        let (a, b, r) = (&f["a"], &f["b"], &f["ratio"]);
        assert!(
            a["min"].as_f64() <= a["median"].as_f64() && a["median"].as_f64() <= a["max"].as_f64(),
            "{f}"
        );
        assert!(b["min"].as_f64().unwrap() > 0.0, "{f}");
        assert!(r["low"].as_f64() <= r["high"].as_f64(), "{f}");
        assert!(f["verdict"].is_string());
    }
    // On the CPU there is no energy counter: that figure is listed as missing, not compared.
    assert!(ab["report"]["missing"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m == "/lcb/joules_per_output_token"));
}

#[test]
fn ab_with_a_broken_other_binary_fails_clearly() {
    let message = fail(lcb().args([
        "bench",
        "--shape",
        "tiny",
        "--samples",
        "2",
        "--new-tokens",
        "2",
        "--ab",
        "/nonexistent/lcb",
    ]));
    assert!(
        message.contains("side A, round 0") && message.contains("/nonexistent/lcb"),
        "{message}"
    );
}
