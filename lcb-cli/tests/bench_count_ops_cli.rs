//! `lcb bench --count-ops`: the tensor ops of one decode step on the tiny shape, on the
//! engine's path and on lcb's attention kernels' path (their CPU twins here).

mod common;

use common::*;

#[test]
fn count_ops_reports_the_step_per_layer_and_on_the_kernels_path() {
    let out = succeed(lcb().args([
        "bench",
        "--count-ops",
        "--shape",
        "tiny",
        "--samples",
        "8",
        "--prompt-tokens",
        "40",
    ]));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let n = |pointer: &str| {
        report
            .pointer(pointer)
            .and_then(|v| v.as_u64())
            .unwrap_or_else(|| panic!("{pointer} in {report}"))
    };
    assert_eq!(n("/decode_rows"), 8);
    assert_eq!(n("/prompt_tokens"), 40);
    let layers = n("/layers");
    let per_layer = n("/per_layer");
    // Every layer runs its ops; embedding, final norm and output projection come on top.
    assert!(per_layer > 10, "{report}");
    assert!(n("/forward") > layers * per_layer, "{report}");
    assert_eq!(n("/total"), n("/forward") + n("/sampling"));
    // The kernels' path runs fewer ops per layer and in all.
    assert!(n("/with_lcb_kernels/per_layer") < per_layer, "{report}");
    assert!(n("/with_lcb_kernels/total") < n("/total"), "{report}");
    // Counting replaces the timing: no throughput in the report.
    assert!(report.get("lcb").is_none(), "{report}");
    // It does not combine with an A/B run.
    fail(lcb().args(["bench", "--count-ops", "--ab", "/bin/true"]));
}
