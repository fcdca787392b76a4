#!/usr/bin/env bash
# Submit an lcb sweep as a Slurm job array (one shard per task) plus a merge job that runs
# when every task has ended well (--dependency=afterok). Run it on a login node, from the
# directory the results and logs/ should go to (shared storage).
#
#   examples/slurm/submit.sh --shards 8 --gpus 1 --cpus 16 -- \
#       --model Qwen/Qwen3-0.6B --problems livecodebench/code_generation_lite@v6
#   examples/slurm/submit.sh --shards 3 --cpus 2 --max-running 1     # embedded default, CPU
#
# Options (before `--`; after it: `lcb sweep`'s settings, the same for every shard):
#   --shards N        shards (default 8); the array is 0..N-1
#   --gpus G          GPUs per task (default 0: CPU nodes, no gres requested)
#   --cpus C          CPUs per task (default 8): the engine's threads and the grading workers
#   --max-running M   at most M tasks at once (the array's %M)
#   --time T          each task's time limit (default: the script's 24:00:00)
#   --out DIR         shards go to DIR-shard-I, the merged tree to DIR (default: results)
#   --lcb PATH        the lcb binary (default: $LCB_BIN, else lcb on PATH)
#   --sbatch ARG      any other sbatch option, for both jobs (repeat: --sbatch --partition=gpu)
#   --no-prefetch     do not fill the Hugging Face cache here first
#   --parsable        print only "ARRAY_JOB_ID MERGE_JOB_ID"
#
# Hugging Face cache: jobs use $HF_HOME (default ~/.cache/huggingface), which must be on
# storage the compute nodes see. Hub models and problem sets are fetched here first, then the
# tasks run with HF_HUB_OFFLINE=1: nodes need no network, and every shard reads the same files
# (a problem set updated on the hub mid-run would otherwise split the shards; `lcb merge`
# refuses shards of different problem sets).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
shards=8 gpus=0 cpus=8 max_running="" time_limit="" out=results parsable=0 prefetch=1
lcb=${LCB_BIN:-lcb}
sbatch_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --shards) shards=$2; shift 2 ;;
    --gpus) gpus=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --max-running) max_running=$2; shift 2 ;;
    --time) time_limit=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --lcb) lcb=$2; shift 2 ;;
    --sbatch) sbatch_args+=("$2"); shift 2 ;;
    --no-prefetch) prefetch=0; shift ;;
    --parsable) parsable=1; shift ;;
    --) shift; break ;;
    *) echo "submit.sh: unknown option $1 (sweep settings go after --)" >&2; exit 2 ;;
  esac
done
sweep_args=("$@")  # arrays expand as ${a[@]+"${a[@]}"}: bash < 4.4 calls an empty one unset
say() { [ "$parsable" = 1 ] || echo "$@"; }

# The binary as an absolute path: jobs do not run in this shell's PATH necessarily.
if [[ $lcb != */* ]]; then
  lcb=$(command -v "$lcb") || { echo "submit.sh: no lcb on PATH (use --lcb or LCB_BIN)" >&2; exit 2; }
fi
lcb=$(cd "$(dirname "$lcb")" && pwd)/$(basename "$lcb")
[ -x "$lcb" ] || { echo "submit.sh: $lcb is not executable" >&2; exit 2; }

# Prefetch what the settings name on the hub (a local path is read where it is).
model="" problems=""
for ((i = 0; i < ${#sweep_args[@]}; i++)); do
  case ${sweep_args[i]} in
    --model) model=${sweep_args[i + 1]:-} ;;
    --model=*) model=${sweep_args[i]#--model=} ;;
    --problems) problems=${sweep_args[i + 1]:-} ;;
    --problems=*) problems=${sweep_args[i]#--problems=} ;;
  esac
done
export HF_HOME=${HF_HOME:-$HOME/.cache/huggingface}
on_hub() { [ -n "$1" ] && [ ! -e "$1" ]; }
if [ "$prefetch" = 1 ] && { on_hub "$model" || on_hub "$problems"; }; then
  say "prefetching into HF_HOME=$HF_HOME"
  # Problems, tokenizer and config (no weights), then the weights with a one-token generation.
  "$lcb" info --model "${model:-$repo/fixtures/model}" --problems "${problems:-$repo/fixtures/problems/lcb_fixtures.jsonl}" --max-tokens 1 >/dev/null
  if on_hub "$model"; then
    "$lcb" generate --model "$model" --prompt hi --max-tokens 1 >/dev/null
  fi
  export HF_HUB_OFFLINE=1
fi

export LCB_SHARDS=$shards LCB_OUT=$out LCB_BIN=$lcb
mkdir -p logs
array="0-$((shards - 1))${max_running:+%$max_running}"
task_args=(--array="$array" --cpus-per-task="$cpus")
[ "$gpus" -gt 0 ] && task_args+=(--gres="gpu:$gpus")
[ -n "$time_limit" ] && task_args+=(--time="$time_limit")

array_id=$(sbatch --parsable ${sbatch_args[@]+"${sbatch_args[@]}"} "${task_args[@]}" "$here/sweep_array.sbatch" ${sweep_args[@]+"${sweep_args[@]}"})
array_id=${array_id%%;*}
merge_id=$(sbatch --parsable ${sbatch_args[@]+"${sbatch_args[@]}"} --dependency="afterok:$array_id" --kill-on-invalid-dep=yes \
  "$here/merge.sbatch")
merge_id=${merge_id%%;*}

if [ "$parsable" = 1 ]; then echo "$array_id $merge_id"; exit 0; fi
quoted=""
[ ${#sweep_args[@]} -eq 0 ] || quoted=$(printf ' %q' "${sweep_args[@]}")
cat <<EOF
array job $array_id: shards 0..$((shards - 1)) of $shards -> $out-shard-I (logs/lcb-sweep-${array_id}_I.log)
merge job $merge_id: $out once every task has ended well (logs/lcb-merge-$merge_id.log)
If a task fails or is cancelled, the merge job is cancelled too: resubmit the task alone, then
the merge after it. For task 3:
  export LCB_SHARDS=$shards LCB_OUT=$out LCB_BIN=$lcb HF_HOME=$HF_HOME${HF_HUB_OFFLINE:+ HF_HUB_OFFLINE=1}
  sbatch --array=3 ${task_args[*]:1} $here/sweep_array.sbatch$quoted
  sbatch --dependency=afterok:NEW_JOB_ID $here/merge.sbatch
EOF
