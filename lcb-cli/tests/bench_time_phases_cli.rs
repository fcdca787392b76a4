//! `lcb bench --time-phases`: where a decode step's time goes, phase by phase, on the tiny
//! shape, on the engine's path and on lcb's attention kernels' path (their CPU twins here).

mod common;

use common::*;

#[test]
fn time_phases_reports_every_phase_of_both_paths() {
    let out = succeed(lcb().args([
        "bench",
        "--time-phases",
        "--shape",
        "tiny",
        "--samples",
        "8",
        "--prompt-tokens",
        "40",
        "--new-tokens",
        "20",
    ]));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["decode_rows"], 8, "{report}");
    assert_eq!(report["own_tokens"], 20, "{report}");
    for path in ["engine", "with_lcb_kernels"] {
        let at = &report[path];
        let ms = |v: &serde_json::Value| v.as_f64().unwrap_or_else(|| panic!("{path}: {at}"));
        let phases = at["phases_ms"]
            .as_object()
            .unwrap_or_else(|| panic!("{path}: {at}"));
        // Every phase of a decode step ran and took time (a prefill phase would be a bug:
        // the step has no prefill chunk).
        let names: Vec<&str> = phases.keys().map(String::as_str).collect();
        for phase in [
            "inputs",
            "embedding",
            "q/k/v",
            "cache write",
            "attention: own tokens",
            "attention: prompt + merge",
            "output + norm",
            "MLP + norm",
            "output projection",
            "sampling",
        ] {
            assert!(names.contains(&phase), "{path}: no {phase} in {names:?}");
        }
        assert!(!names.contains(&"prefill attention"), "{path}: {names:?}");
        let total: f64 = phases.values().map(ms).sum();
        assert!(phases.values().all(|v| ms(v) > 0.0), "{path}: {at}");
        assert!(
            (ms(&at["phases_total_ms"]) - total).abs() < 1e-6,
            "{path}: {at}"
        );
        let step = ms(&at["step_ms"]);
        assert!(step > 0.0, "{path}: {at}");
        let rate = ms(&at["output_tokens_per_s"]);
        assert!((rate * step / 1e3 - 8.0).abs() < 1e-6, "{path}: {at}");
    }
    // It replaces the workload's timing, and combines with neither --count-ops nor --ab.
    assert!(report.get("lcb").is_none(), "{report}");
    fail(lcb().args(["bench", "--time-phases", "--count-ops"]));
    fail(lcb().args(["bench", "--time-phases", "--ab", "/bin/true"]));
}
