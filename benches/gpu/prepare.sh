#!/usr/bin/env bash
# Prepares .device/ for check.sh, on the build machine (no GPU, no network needed after the
# toolchain's first install): the CUDA build of `lcb` and the engine's GPU test binaries
# (kernel vs CPU twin: the library's unit tests; tests/gpu.rs), stripped and gzipped, plus the
# shared launcher and transformers peer. Cold: about 11 min for lcb, a few more for the tests,
# on 2 cores. Run from anywhere; prints the sizes (the device tool carries 64 MiB at most).
set -euo pipefail
cd "$(dirname "$0")/../.."
SHARED=${LCB_SHARED:-../shared}
# shellcheck disable=SC1091
source "$SHARED/tools/cuda-toolchain.sh"
# PTX for compute 8.0 runs on A100, RTX 30xx, RTX 4090/L40S and H100/H200 alike.
export CUDA_COMPUTE_CAP=80
cargo build --release -p lcb-cli --features cuda
grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >>.git/info/exclude
rm -rf .device && mkdir -p .device/tests
strip -o .device/lcb target/release/lcb && gzip -9f .device/lcb
# `cargo test --no-run` names each test executable: "Executable unittests src/lib.rs (path)"
# and "Executable tests/gpu.rs (path)".
log=$(mktemp)
cargo test --release -p lcb-engine --features cuda --lib --test gpu --no-run >"$log" 2>&1 ||
    { cat "$log" >&2; exit 1; }
cat "$log" >&2
built=$(cat "$log")
for pair in "src/lib.rs engine-unit" "tests/gpu.rs engine-gpu"; do
    set -- $pair
    path=$(printf '%s\n' "$built" | sed -n "s|.*Executable .*$1 (\(.*\))|\1|p" | tail -1)
    test -n "$path" || { echo "prepare: cargo did not name the test binary of $1" >&2; exit 1; }
    strip -o ".device/tests/$2" "$path" && gzip -9f ".device/tests/$2"
done
cp "$SHARED/tools/cuda-gpu-run.sh" "$SHARED/tools/gpu/hf_peer.py" .device/
du -ah .device
