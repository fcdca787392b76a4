#!/usr/bin/env bash
# End-to-end test of lcb's scale-out on a real Slurm cluster: a single-node cluster
# (slurmctld + slurmd + munge, Debian packages) started by ../shared/tools/slurm-single-node.sh,
# the job array of examples/slurm/ on the embedded default (CPU, 2 shards), and every result
# compared with a single-process `lcb sweep` of the same settings, timing fields aside
# (lcb_core's ResultStore::timing_free_snapshot, through the compare_trees example).
#
#   bash examples/slurm/test_slurm.sh          # as root; about 2 minutes on 2 cores
#
# 1. array: submit.sh submits the array and a merge job with --dependency=afterok; the tasks
#    complete, the merge runs after them, each task and the merge have their own log, and the
#    merged tree equals the single-process sweep.
# 2. interrupted: the same two shards, each interrupted the ways Slurm interrupts jobs:
#    - shard 0 runs under a 1-minute time limit (Slurm's minimum) with --signal=B:TERM@50.
#      Slurm checks limits every 30 s, so the signal comes at the first check after the start,
#      0-30 s in; the task runs slowly on purpose (one thread, one decode slot: about 50 s for
#      its 23 questions) so that the signal always lands mid-sweep. lcb must receive it (the
#      script execs lcb, so the batch shell Slurm signals is lcb), finish its files and exit 143
#      before the limit (job state FAILED, exit 143, not TIMEOUT); resubmitting that one task
#      (`sbatch --array=0`) completes the shard.
#    - shard 1 is cancelled with plain `scancel` once some questions are done: Slurm sends
#      SIGTERM to every process of the job, lcb's grading workers included (what a time
#      limit without --signal and preemption do too), then SIGKILL after KillWait. lcb must
#      still stop cleanly; the task is resubmitted with --requeue, and that run is requeued with
#      `scontrol requeue` once it has made progress (as preemption in REQUEUE mode does): the
#      same job must start again (Slurm holds a requeued job for 2 minutes; the test releases
#      it at once with `scontrol update StartTime=now`), resume and complete.
#    - a merge job with afterok on the first submissions must be cancelled (its dependency can
#      never be met); one with afterok on the resubmissions must run, and its tree must equal
#      the single-process sweep (and each shard the same shard of part 1).
#
# Environment: LCB_BIN (default: target/release/lcb, built here), LCB_PYTHON (default:
# .venv/bin/python, made by `make test`; needs numpy), LCB_SLURM_SETUP (default:
# ../shared/tools/slurm-single-node.sh), LCB_KEEP=1 keeps the work directory.
# A cluster that was already running is left running (only this test's jobs are cancelled);
# one this test started is stopped at the end, also on failure.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$REPO/examples/slurm
T0=$(date +%s)
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "slurm: ok: $*"; }
bad() { failed=$((failed + 1)); echo "slurm: FAILED: $*" >&2; }
die() { bad "$*"; exit 1; }
check() { # check DESCRIPTION COMMAND...: ok if the command succeeds
  local what=$1; shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}
elapsed() { echo $(($(date +%s) - T0)); }

# Whatever happens: cancel this test's jobs, stop the cluster it started, print the summary.
cluster_was_running=0 cluster_started=0 WORK=""
JOBS=() # every job this test submitted, to cancel on the way out
finish() {
  local rc=$?
  set +e
  [ "$rc" = 0 ] || [ "$failed" -gt 0 ] || bad "stopped unexpectedly (exit status $rc)"
  [ ${#JOBS[@]} -eq 0 ] || scancel "${JOBS[@]}" 2>/dev/null
  if [ "$cluster_started" = 1 ] && [ "$cluster_was_running" = 0 ]; then
    "$SETUP" stop >"$WORK/cluster-stop.log" 2>&1 || echo "slurm: could not stop the cluster (see $WORK/cluster-stop.log)" >&2
  fi
  if [ -z "$WORK" ]; then :
  elif [ "$failed" -gt 0 ] || [ "${LCB_KEEP:-0}" = 1 ]; then
    echo "slurm: work directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  echo "slurm: $passed passed, $failed failed in $(elapsed) s"
  [ "$failed" = 0 ] && exit 0 || exit 1
}
trap finish EXIT
trap 'exit 130' INT TERM

# ---- prerequisites --------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "must run as root (the cluster's daemons and the jobs run as root)"
SETUP=${LCB_SLURM_SETUP:-$REPO/../shared/tools/slurm-single-node.sh}
[ -f "$SETUP" ] || SETUP=/work/shared/tools/slurm-single-node.sh
[ -f "$SETUP" ] || die "no slurm-single-node.sh (set LCB_SLURM_SETUP)"
export LCB_PYTHON=${LCB_PYTHON:-$REPO/.venv/bin/python}
"$LCB_PYTHON" -c 'import numpy' 2>/dev/null ||
  die "$LCB_PYTHON cannot import numpy (run \`make setup\` or set LCB_PYTHON)"

WORK=$(mktemp -d /tmp/lcb-slurm-test.XXXXXX)
mkdir -p "$WORK/bin"
if [ -z "${LCB_BIN:-}" ]; then
  echo "slurm: building lcb and the compare_trees example (release)"
  (cd "$REPO" && cargo build --release --quiet -p lcb-cli)
  LCB_BIN=$REPO/target/release/lcb
fi
[ -x "$LCB_BIN" ] || die "no lcb binary at $LCB_BIN"
(cd "$REPO" && cargo build --release --quiet -p lcb-examples --example compare_trees)
# Private copies: a rebuild of the shared target directory must not change them mid-test.
cp "$LCB_BIN" "$WORK/bin/lcb"
cp "$REPO/target/release/examples/compare_trees" "$WORK/bin/compare_trees"
LCB=$WORK/bin/lcb
COMPARE=$WORK/bin/compare_trees
echo "slurm: binaries ready after $(elapsed) s; the test's own time starts now"
T0=$(date +%s)

# ---- the cluster -----------------------------------------------------------------------------
status=$("$SETUP" status 2>/dev/null || true)
[[ $status == *"slurmctld.pid: running"* ]] && cluster_was_running=1
cluster_started=1
[ "$cluster_was_running" = 0 ] || echo "slurm: a cluster was already running; it is left running"

echo "slurm: starting the single-node cluster ($SETUP)"
"$SETUP" start >"$WORK/cluster-start.log" 2>&1 || { cat "$WORK/cluster-start.log" >&2; die "the cluster did not start"; }
ok "cluster up ($(sinfo -h -o '%N %c CPUs %m MiB %T'))"
# slurmctld restores the jobs in its state files: a cluster this test started may come up with
# jobs left from an earlier lifetime (a run killed before its clean-up), holding the node so that
# this test's jobs would wait behind them. They are nobody's now; cancel them and say so.
if [ "$cluster_was_running" = 0 ] && [ -n "$(squeue -h -o %i)" ]; then
  echo "slurm: jobs restored from an earlier run of the cluster, cancelled:"
  squeue -o '%i %j %T %M' | sed 's/^/slurm:   /'
  scancel $(squeue -h -o %i) || true
  no_jobs() { [ -z "$(squeue -h -o %i)" ]; }
  wait_until_idle=$(($(date +%s) + 60))
  until no_jobs; do [ "$(date +%s)" -lt "$wait_until_idle" ] || die "restored jobs still queued after 60 s"; sleep 0.5; done
  ok "restored jobs cancelled; node $(sinfo -h -o %T)"
fi

# ---- helpers --------------------------------------------------------------------------------
field() { # field JOB NAME: one field of `scontrol show job` ("" once Slurm has forgotten it)
  scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}
declare -A FINAL # job -> "STATE EXITCODE" once it has ended
final_state() { case $1 in COMPLETED | FAILED | CANCELLED | TIMEOUT | OUT_OF_MEMORY | NODE_FAIL | PREEMPTED | DEADLINE | BOOT_FAIL) return 0 ;; *) return 1 ;; esac; }
wait_end() { # wait_end SECONDS JOB...: until every job has ended; records FINAL
  local limit=$(($(date +%s) + $1)) job state; shift
  while :; do
    local pending=0
    for job in "$@"; do
      [ -n "${FINAL[$job]:-}" ] && continue
      state=$(field "$job" JobState)
      if [ -z "$state" ]; then FINAL[$job]="FORGOTTEN ?"
      elif final_state "$state"; then FINAL[$job]="$state $(field "$job" ExitCode)"
      else pending=1; fi
    done
    [ "$pending" = 0 ] && return 0
    [ "$(date +%s)" -lt "$limit" ] || return 1
    sleep 0.5
  done
}
wait_until() { # wait_until SECONDS COMMAND...: until the command succeeds
  local limit=$(($(date +%s) + $1)); shift
  until "$@"; do [ "$(date +%s)" -lt "$limit" ] || return 1; sleep 0.2; done
}
questions_done() { find "$1" -path "$1/q*/summary.json" 2>/dev/null | wc -l; }
more_done_than() { [ "$(questions_done "$1")" -gt "$2" ]; }
state_is() { [ "$(field "$1" JobState)" = "$2" ]; }
submit() { # submit VAR ARGS...: sbatch ARGS, the job id into VAR, remembered for cleanup
  local var=$1 id; shift
  id=$(sbatch --parsable "$@") || die "sbatch $* was refused"
  id=${id%%;*}
  JOBS+=("$id")
  printf -v "$var" %s "$id"
}
show_log() { echo "--- $1" >&2; tail -n 15 "$1" >&2 2>/dev/null || echo "(no log)" >&2; }
stuck() { # stuck MESSAGE JOB...: why the jobs have not ended (state, reason, node, logs), then die
  local msg=$1 job; shift
  {
    echo "slurm: $(date -Is): $msg"
    for job in "$@"; do
      echo "--- job $job: $(scontrol show job -o "$job" 2>&1 | tr ' ' '\n' |
        grep -E '^(JobState|Reason|RunTime|StartTime|Dependency|ExitCode|NodeList|StdOut)=' | tr '\n' ' ')"
    done
    echo "--- sinfo"; sinfo -N -o '%N %T %C %m %e %E' 2>&1
    echo "--- squeue"; squeue -o '%i %T %r %M %j' 2>&1
    echo "--- processes"; ps -eo pid,ppid,stat,etime,time,rss,args | grep -E '[l]cb|[p]ython|[s]lurm' | head -20
    for f in logs/*.log; do [ -f "$f" ] && show_log "$f"; done 2>&1
    echo "--- slurmctld.log"; tail -n 25 /var/log/slurm/slurmctld.log 2>&1
    echo "--- slurmd.log"; tail -n 25 /var/log/slurm/slurmd.log 2>&1
  } >&2
  die "$msg"
}
ends_as() { # ends_as JOB "STATE EXIT" LOG: the recorded final state
  [ "${FINAL[$1]:-}" = "$2" ] && return 0
  echo "slurm: job $1 ended ${FINAL[$1]:-(not ended)}, expected $2" >&2; show_log "$3"; return 1
}
same_tree() { # same_tree A B: compare_trees, its verdict shown
  local out
  out=$("$COMPARE" "$1" "$2" 2>&1) && { echo "slurm:   $out"; return 0; }
  echo "slurm:   $out" >&2; return 1
}

# ---- 0. what the scripts ask for, GPU and CPU (no cluster needed) ----------------------------
# This cluster has no GPUs, so the GPU variant is checked by what it would submit and run:
# a stand-in sbatch records submit.sh's requests, a stand-in lcb prints the task's command.
mkdir -p "$WORK/dry/bin" && cd "$WORK/dry"
cat >bin/sbatch <<'EOF'
#!/bin/sh
echo "sbatch $*" >>requests; echo 1000
EOF
printf '#!/bin/sh\necho "$@"\n' >bin/lcb && chmod +x bin/sbatch bin/lcb
PATH=$WORK/dry/bin:$PATH "$HERE/submit.sh" --shards 4 --gpus 1 --cpus 16 --lcb bin/lcb --no-prefetch -- -n 100 >/dev/null
PATH=$WORK/dry/bin:$PATH "$HERE/submit.sh" --shards 4 --cpus 2 --max-running 1 --lcb bin/lcb --no-prefetch >/dev/null
requests_ok() {
  local r; r=$(cat requests)
  grep -q -- "^sbatch --parsable --array=0-3 --cpus-per-task=16 --gres=gpu:1 .*sweep_array.sbatch -n 100$" <<<"$r" &&
    grep -q -- "^sbatch --parsable --array=0-3%1 --cpus-per-task=2 .*sweep_array.sbatch$" <<<"$r" &&
    ! grep -- "--cpus-per-task=2" <<<"$r" | grep -q gres &&
    [ "$(grep -c -- "--dependency=afterok:1000 --kill-on-invalid-dep=yes .*merge.sbatch$" <<<"$r")" = 2 ]
}
check "submit.sh: gres only for the GPU variant, %M, afterok merge job" requests_ok
task() { # task ENV... -- ARGS...: the lcb command line sweep_array.sbatch runs
  local envs=(); while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
  env -i PATH="$PATH" LCB_BIN="$WORK/dry/bin/lcb" "${envs[@]}" bash "$HERE/sweep_array.sbatch" "$@" 2>&1 | tail -n 1
}
task_ok() {
  [ "$(task SLURM_ARRAY_TASK_ID=3 SLURM_GPUS_ON_NODE=2 SLURM_CPUS_PER_TASK=16 LCB_SHARDS=8 LCB_OUT=r -- --model M)" = \
    "sweep --model M --devices cuda:0,cuda:1 --threads 15 --eval-workers 16 --shard 3/8 --output r-shard-3" ] &&
    [ "$(task SLURM_ARRAY_TASK_ID=1 SLURM_CPUS_PER_TASK=2 LCB_SHARDS=2 --)" = \
      "sweep --devices cpu --threads 1 --eval-workers 2 --shard 1/2 --output results-shard-1" ] &&
    [ "$(task SLURM_ARRAY_TASK_ID=0 SLURM_GPUS_ON_NODE=1 -- --devices cuda:1 --threads 3)" = \
      "sweep --devices cuda:1 --threads 3 --eval-workers 1 --shard 0/8 --output results-shard-0" ] &&
    [[ $(task SLURM_ARRAY_TASK_ID=8 --) == *"outside the 8 shards"* ]]
}
check "sweep_array.sbatch: cuda:0.. for the task's GPUs, else cpu; threads and graders per task" task_ok
cd "$WORK"

# ---- the single-process reference -----------------------------------------------------------
# The embedded default (fixtures model, 45 problems, 16 temperatures, n = 8): what every shard
# runs. Outside Slurm, one process, no shards.
echo "slurm: single-process reference sweep ($(elapsed) s)"
"$LCB" sweep --output "$WORK/reference" >"$WORK/reference.log" 2>&1 || { show_log "$WORK/reference.log"; die "the reference sweep failed"; }
QUESTIONS=$(find "$WORK/reference" -maxdepth 1 -name 'q*' -type d | wc -l)
[ "$QUESTIONS" = 45 ] || die "the reference has $QUESTIONS questions, expected 45"
ok "reference: 45 questions in $(elapsed) s"

# ---- 1. the job array, its dependent merge, logs --------------------------------------------
echo "slurm: 1. job array + dependent merge ($(elapsed) s)"
mkdir -p "$WORK/array" && cd "$WORK/array"
# Two CPUs per task on a 2-CPU node, at most one task at a time: no oversubscription.
ids=$("$HERE/submit.sh" --parsable --shards 2 --cpus 2 --max-running 1 --lcb "$LCB") || die "submit.sh failed"
read -r ARRAY MERGE <<<"$ids"
JOBS+=("$ARRAY" "$MERGE")
wait_end 300 "${ARRAY}_0" "${ARRAY}_1" "$MERGE" ||
  stuck "array $ARRAY / merge $MERGE did not end in 300 s" "${ARRAY}_0" "${ARRAY}_1" "$MERGE"
for k in 0 1; do
  check "array task $k completed" ends_as "${ARRAY}_$k" "COMPLETED 0:0" "logs/lcb-sweep-${ARRAY}_$k.log"
done
check "merge job completed" ends_as "$MERGE" "COMPLETED 0:0" "logs/lcb-merge-$MERGE.log"
logs_ok() {
  grep -q "^lcb-sweep: job .* shard 0/2" "logs/lcb-sweep-${ARRAY}_0.log" &&
    grep -q "^lcb-sweep: job .* shard 1/2" "logs/lcb-sweep-${ARRAY}_1.log" &&
    grep -q "^merged 2 shards into results" "logs/lcb-merge-$MERGE.log"
}
check "one log per task and one for the merge" logs_ok
merge_after_tasks() { # the merge started only after both tasks had ended (afterok)
  local merge_start; merge_start=$(date -d "$(field "$MERGE" StartTime)" +%s)
  for k in 0 1; do
    [ "$merge_start" -ge "$(date -d "$(field "${ARRAY}_$k" EndTime)" +%s)" ] || return 1
  done
}
check "the merge job started after every task had ended (--dependency=afterok)" merge_after_tasks
check "merged tree = single-process sweep" same_tree "$WORK/reference" results

# ---- 2. time limit, scancel, requeue, resubmission --------------------------------------------
echo "slurm: 2. interrupted tasks ($(elapsed) s)"
mkdir -p "$WORK/interrupted/logs" && cd "$WORK/interrupted"
export LCB_SHARDS=2 LCB_OUT=results LCB_BIN=$LCB
SLOW=(--slots 1 --inflight 1) # with --cpus-per-task=1: one engine thread, one grading worker
# Shard 0: a time limit far too short for it, with the example's signal (sooner: @50).
submit TL --array=0 --cpus-per-task=1 --time=1 --signal=B:TERM@50 "$HERE/sweep_array.sbatch" "${SLOW[@]}"
TL_LOG=logs/lcb-sweep-${TL}_0.log
# Shard 1, to be cancelled.
submit SC --array=1 --cpus-per-task=1 "$HERE/sweep_array.sbatch" "${SLOW[@]}"
SC_LOG=logs/lcb-sweep-${SC}_1.log
# A merge waiting for both first submissions: it can never run.
submit DOOMED --dependency="afterok:$TL:$SC" --kill-on-invalid-dep=yes "$HERE/merge.sbatch"

# scancel shard 1 once it has finished a few questions.
wait_until 120 more_done_than results-shard-1 2 || { show_log "$SC_LOG"; die "shard 1 finished no questions in 120 s"; }
at_cancel=$(questions_done results-shard-1)
scancel "${SC}_1"
wait_end 60 "${SC}_1" || stuck "cancelled task ${SC}_1 did not end in 60 s" "${SC}_1"
# Exit code 143 is lcb's own (SIGTERM handled, files finished), not a SIGKILL after KillWait.
check "scancel: task ended CANCELLED, lcb exiting 143 by itself" ends_as "${SC}_1" "CANCELLED 143:0" "$SC_LOG"
check "scancel: lcb stopped cleanly on SIGTERM (its graders signalled too)" \
  grep -q "^interrupted: complete results are kept" "$SC_LOG"
cancelled_mid_sweep() {
  local n; n=$(questions_done results-shard-1)
  echo "slurm:   shard 1 had $n of 22 questions when cancelled ($at_cancel when scancel was sent)"
  [ "$n" -ge "$at_cancel" ] && [ "$n" -lt 22 ]
}
check "scancel: shard 1 left mid-sweep with its finished questions kept" cancelled_mid_sweep

# Resubmit shard 1 (the script asks for --requeue) and requeue it once it has made progress.
submit RQ --array=1 --cpus-per-task=1 "$HERE/sweep_array.sbatch"
RQ_LOG=logs/lcb-sweep-${RQ}_1.log
before_requeue=$(questions_done results-shard-1)
wait_until 120 more_done_than results-shard-1 "$before_requeue" || { show_log "$RQ_LOG"; die "resubmitted shard 1 made no progress"; }
scontrol requeue "${RQ}_1" || die "scontrol requeue ${RQ}_1 refused"
at_requeue=$(questions_done results-shard-1)
wait_until 60 state_is "${RQ}_1" PENDING || die "requeued task ${RQ}_1 did not return to PENDING"
requeued_mid_sweep() {
  echo "slurm:   shard 1 had $at_requeue of 22 questions when requeued"
  [ "$at_requeue" -lt 22 ] && grep -q "^interrupted: complete results are kept" "$RQ_LOG"
}
check "requeue: the running task stopped cleanly mid-sweep and went back to PENDING" requeued_mid_sweep
# Slurm holds a requeued batch job for 2 minutes (Reason=BeginTime); release it now.
scontrol update JobId="${RQ}_1" StartTime=now || die "could not release requeued task ${RQ}_1"

# Shard 0: the time limit's signal.
wait_end 150 "${TL}_0" || stuck "time-limited task ${TL}_0 did not end in 150 s" "${TL}_0"
check "time limit: Slurm's --signal=B:TERM reached lcb, which exited 143 (FAILED), not TIMEOUT" \
  ends_as "${TL}_0" "FAILED 143:0" "$TL_LOG"
signalled_mid_sweep() {
  local n run; n=$(questions_done results-shard-0); run=$(field "${TL}_0" RunTime)
  echo "slurm:   shard 0 had $n of 23 questions after $run of its 1-minute limit"
  [ "$n" -lt 23 ] && grep -q "^interrupted: complete results are kept" "$TL_LOG"
}
check "time limit: lcb finished its files and stopped mid-sweep before the limit" signalled_mid_sweep
wait_end 60 "$DOOMED" || stuck "merge job $DOOMED with an unmet dependency is still waiting" "$DOOMED"
check "the merge job depending on the failed tasks was cancelled, not run" \
  ends_as "$DOOMED" "CANCELLED 0:0" "logs/lcb-merge-$DOOMED.log"

# Resubmit shard 0 on its own; merge after both resubmissions.
submit RS --array=0 --cpus-per-task=1 "$HERE/sweep_array.sbatch"
RS_LOG=logs/lcb-sweep-${RS}_0.log
submit MERGE2 --dependency="afterok:$RS:$RQ" --kill-on-invalid-dep=yes "$HERE/merge.sbatch"
wait_end 300 "${RS}_0" "${RQ}_1" "$MERGE2" ||
  stuck "resubmitted tasks / merge did not end in 300 s" "${RS}_0" "${RQ}_1" "$MERGE2"
check "resubmit: task ${RS}_0 (--array=0) completed shard 0" ends_as "${RS}_0" "COMPLETED 0:0" "$RS_LOG"
requeue_completed() {
  ends_as "${RQ}_1" "COMPLETED 0:0" "$RQ_LOG" &&
    [ "$(field "${RQ}_1" Restarts)" = 1 ] &&
    grep -q "^lcb-sweep: job .*restart 1" "$RQ_LOG"
}
check "requeue: the same job ran again (restart 1, same log) and completed shard 1" requeue_completed
check "merge after the resubmissions completed" ends_as "$MERGE2" "COMPLETED 0:0" "logs/lcb-merge-$MERGE2.log"
check "shard 0 (time limit + resubmit) = shard 0 of part 1" same_tree "$WORK/array/results-shard-0" results-shard-0
check "shard 1 (scancel + resubmit + requeue) = shard 1 of part 1" same_tree "$WORK/array/results-shard-1" results-shard-1
check "merged tree after interruptions = single-process sweep" same_tree "$WORK/reference" results
# Whether Slurm's SIGTERM caught a grading worker mid-program depends on timing; say when it did.
killed=$(cat logs/lcb-sweep-*.log | grep -c "grading worker failed" || true)
echo "slurm:   grading workers killed by Slurm's SIGTERM in these runs: $killed (lcb regrades on a fresh worker)"
