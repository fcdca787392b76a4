#!/usr/bin/env bash
# The repository's GPU check: run from the project's root on a lent GPU machine, with .device/
# carried (benches/gpu/prepare.sh makes it; see README.md beside this file). Every step has
# its own timeout, the most telling first: together they could pass the device's 10 minutes
# for one call (usually the steps take far less), and a call cut short still returns what
# the steps before wrote.
# Writes one JSON file per measurement under $OUT, plus log.txt and smi.csv.
set -u
D=$PWD/.device
W=/tmp/lcb-gpu-check
mkdir -p "$W"
exec > >(tee "$OUT/log.txt") 2>&1
step() { echo; echo "=== $(date +%T) [$SECONDS s] $*"; }

step machine
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
gunzip -c "$D/lcb.gz" >"$W/lcb" && chmod +x "$W/lcb"
eval "$(bash "$D/cuda-gpu-run.sh" --print)"
nvidia-smi --query-gpu=timestamp,memory.used,utilization.gpu,power.draw \
    --format=csv -lms 500 >"$OUT/smi.csv" &
SMI=$!
export LCB_PYTHON=$(command -v python3) RUST_BACKTRACE=1
# The test binaries were built elsewhere: they find fixtures/ through LCB_REPO.
export LCB_REPO=$PWD
for t in "$D"/tests/*.gz; do gunzip -c "$t" >"$W/$(basename "$t" .gz)"; done
chmod +x "$W"/engine-* 2>/dev/null

# Correctness first: a wrong kernel makes every figure below meaningless.
step "GPU tests: lcb's kernels against their CPU twins (suffix and prompt attention, sampling, fused ops)"
timeout 90 "$W/engine-unit" cuda --nocapture 2>&1 | tee "$OUT/test-kernel-vs-cpu-twin.txt"
echo "rc=${PIPESTATUS[0]}"

step "GPU tests with lcb's kernel: greedy vs CPU (f32, bf16), seeded sampling on 1 and 2 engine threads"
LCB_CUDA_KERNELS=1 timeout 90 "$W/engine-gpu" --nocapture --test-threads 1 2>&1 |
    tee "$OUT/test-gpu-kernels.txt"
echo "rc=${PIPESTATUS[0]}"

# Tensor ops (kernel launches, views aside) of one decode step, engine's path and lcb's kernels.
step "ops per decode step, Qwen3-0.6B shape, 512 rows"
timeout 60 "$W/lcb" bench --count-ops --device cuda:0 --shape 0.6b --samples 512 \
    >"$OUT/count-ops-0.6b-512.json"
echo "rc=$?"; cat "$OUT/count-ops-0.6b-512.json"

# lcb bench reports energy (NVML) and TTFT/TPOT percentiles beside the throughput.
step "lcb bench, Qwen3-0.6B shape, bf16, 512 samples x 128 new tokens (candle's attention)"
timeout 90 "$W/lcb" bench --device cuda:0 --shape 0.6b --samples 512 --new-tokens 128 \
    >"$OUT/bench-0.6b-512x128.json"
echo "rc=$?"; cat "$OUT/bench-0.6b-512x128.json"

step "the same with lcb's own suffix-attention kernel (LCB_CUDA_KERNELS=1)"
LCB_CUDA_KERNELS=1 timeout 90 "$W/lcb" bench --device cuda:0 --shape 0.6b --samples 512 \
    --new-tokens 128 >"$OUT/bench-0.6b-512x128-kernels.json"
echo "rc=$?"; cat "$OUT/bench-0.6b-512x128-kernels.json"

# The ratio to transformers is one of the figures the GPU issue asks for: before the extras.
step "transformers' batched generate on the same workload (the peer)"
PYTHONUNBUFFERED=1 timeout 100 python3 "$D/hf_peer.py" 512 128 "$OUT/hf-0.6b-512x128.json"
echo "rc=$?"

# Where a step's time goes: each phase alone, device synchronised around it (METHOD.md's
# "time variants"), rows 256 tokens into their answers, both attention paths.
step "time per phase of a decode step, Qwen3-0.6B shape, bf16, 512 rows at own token 256"
timeout 60 "$W/lcb" bench --time-phases --device cuda:0 --shape 0.6b --samples 512 \
    --new-tokens 256 >"$OUT/time-phases-0.6b-512-at-256.json"
echo "rc=$?"; cat "$OUT/time-phases-0.6b-512-at-256.json"

# The paged cache decides how many of 2,048 samples decode at once (the report's
# peak_decode_rows, kv_blocks and preempted_samples say what it did).
step "2,048 samples x 128 new tokens, kernel on, as many at once as the memory holds"
LCB_CUDA_KERNELS=1 timeout 120 "$W/lcb" bench --device cuda:0 --shape 0.6b --samples 2048 \
    --new-tokens 128 >"$OUT/bench-0.6b-2048x128-kernels.json"
echo "rc=$?"; cat "$OUT/bench-0.6b-2048x128-kernels.json"

# The sweep records joules per generated sample and per solved problem in run_summary.json.
step "the embedded default sweep on the GPU"
timeout 60 "$W/lcb" sweep --devices cuda:0 --output "$W/sweep" 2>&1 | tail -25
cp "$W/sweep/run_summary.json" "$OUT/sweep-embedded-run_summary.json" 2>/dev/null

step "GPU tests with candle's attention (last: the figures above matter more)"
timeout 60 "$W/engine-gpu" --nocapture --test-threads 1 2>&1 | tee "$OUT/test-gpu-candle.txt"
echo "rc=${PIPESTATUS[0]}"

kill "$SMI" 2>/dev/null
step done
