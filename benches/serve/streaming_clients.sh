#!/usr/bin/env bash
# lcb serve under many concurrent streaming clients vs the in-process engine, on the same
# workload: each client is one `curl -N` streaming a /v1/completions request (token-id
# prompt, end-of-sequence ignored, so every sample has exactly NEW tokens), all started at
# once; the in-process side is `lcb bench` with the same prompts, samples and token counts.
#
#   benches/serve/streaming_clients.sh [LCB_BIN]      (default: target/release/lcb)
#
# Environment: MODEL (default fixtures/model), VOCAB (prompt ids are drawn below it,
# default 1000). Prints one JSON object per workload; docs/benchmarks.md records them.
set -euo pipefail
LCB=${1:-target/release/lcb}
MODEL=${MODEL:-fixtures/model}
VOCAB=${VOCAB:-1000}
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
SERVER=

# workload NAME CLIENTS N_PER_CLIENT PROMPT_TOKENS NEW_TOKENS SHARED(1: one prompt for all)
#          STREAM(1: server-sent events, 0: one answer per request)
#          [GROUPS: the client's samples as lcb.groups of that many temperatures, as
#          `lcb sweep --endpoint` sends a question; the in-process side is then one request]
workload() {
  local name=$1 clients=$2 n=$3 ptoks=$4 new=$5 shared=$6 stream=$7 groups=${8:-0}
  python3 - "$WORK" "$clients" "$n" "$ptoks" "$new" "$shared" "$VOCAB" "$MODEL" "$stream" "$groups" <<'PY'
import json, random, sys
work, clients, n, ptoks, new, shared, vocab, model, stream, groups = sys.argv[1:]
rng = random.Random(0)
prompt = [rng.randrange(int(vocab)) for _ in range(int(ptoks))]
for c in range(int(clients)):
    if shared != "1":
        prompt = [rng.randrange(int(vocab)) for _ in range(int(ptoks))]
    body = {"model": model, "prompt": prompt, "n": int(n), "max_tokens": int(new),
            "ignore_eos": True, "temperature": 1.0, "seed": c}
    if stream == "1":
        body.update({"stream": True, "stream_options": {"include_usage": True}})
    g = int(groups)
    if g:
        per = int(n) // g
        del body["temperature"]
        body["lcb"] = {"groups": [
            {"temperature": 0.1 * (k + 1), "stream": k, "indices": list(range(per))}
            for k in range(g)]}
        body["n"] = per * g
    open(f"{work}/body{c}.json", "w").write(json.dumps(body))
PY
  "$LCB" serve --model "$MODEL" --port 0 --max-prompts "$clients" --slots 256 \
    --max-tokens "$new" --max-prompt-tokens "$ptoks" 2> "$WORK/serve.err" &
  SERVER=$!
  local url=
  for _ in $(seq 600); do
    url=$(grep -so 'http://[0-9.:]*' "$WORK/serve.err" | head -1 || true)
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { cat "$WORK/serve.err" >&2; exit 1; }
  # Warm-up, outside the measurement.
  curl -sS -o /dev/null "$url/v1/completions" -H 'content-type: application/json' \
    -d "{\"model\": \"$MODEL\", \"prompt\": [1, 2, 3], \"max_tokens\": 2}"
  local start end
  start=$(date +%s.%N)
  for c in $(seq 0 $((clients - 1))); do
    curl -sSN -o "$WORK/out$c.txt" "$url/v1/completions" -H 'content-type: application/json' \
      --data-binary "@$WORK/body$c.json" &
  done
  wait $(jobs -p | grep -v "^$SERVER\$")
  end=$(date +%s.%N)
  kill -TERM "$SERVER"; wait "$SERVER" || true; SERVER=
  # In-process, the same requests (one per client) ...
  local inprocess merged
  inprocess=$("$LCB" bench --model "$MODEL" --prompts "$clients" --samples "$n" \
    --prompt-tokens "$ptoks" --new-tokens "$new" --slots 256 --max-prompts "$clients" 2>/dev/null)
  # (lcb bench spreads each request's samples over its 16 temperatures, as lcb.groups does.)
  # ... and, when the clients share one prompt, as one request (how a sweep submits in-process).
  merged=null
  if [ "$shared" = 1 ]; then
    merged=$("$LCB" bench --model "$MODEL" --prompts 1 --samples $((clients * n)) \
      --prompt-tokens "$ptoks" --new-tokens "$new" --slots 256 2>/dev/null)
  fi
  python3 - "$WORK" "$clients" "$start" "$end" "$name" "$n" "$ptoks" "$new" "$shared" "$stream" "$groups" <<PY
import glob, json, sys
work, clients, start, end, name, n, ptoks, new, shared, stream, groups = sys.argv[1:]
tokens, chunks, done = 0, 0, 0
for path in glob.glob(f"{work}/out*.txt"):
    if stream != "1":
        answer = json.load(open(path))
        tokens += answer["usage"]["completion_tokens"]
        done += 1
        continue
    for line in open(path):
        if not line.startswith("data: "):
            continue
        data = line[6:].strip()
        if data == "[DONE]":
            done += 1
            continue
        chunk = json.loads(data)
        chunks += 1
        if chunk.get("usage"):
            tokens += chunk["usage"]["completion_tokens"]
wall = float(end) - float(start)
bench = json.loads('''$inprocess''')
merged = json.loads('''$merged''')
def side(b):
    return b and {"output_tokens": b["lcb"]["output_tokens"], "wall_s": b["lcb"]["wall_s"],
                  "output_tokens_per_s": b["lcb"]["output_tokens_per_s"]}
expected = int(clients) * int(n) * int(new)
print(json.dumps({
    "workload": name, "clients": int(clients), "n_per_client": int(n),
    "prompt_tokens": int(ptoks), "new_tokens": int(new), "shared_prompt": shared == "1",
    "streamed": stream == "1", "lcb_groups": int(groups),
    "serve": {"output_tokens": tokens, "expected_tokens": expected, "streams_done": done,
              "chunks": chunks, "wall_s": round(wall, 3),
              "output_tokens_per_s": round(tokens / wall, 1)},
    "in_process_same_requests": side(bench),
    "in_process_one_request": side(merged),
    "serve_over_in_process_same_requests":
        round(tokens / wall / bench["lcb"]["output_tokens_per_s"], 3),
}))
PY
  rm -f "$WORK"/out*.txt "$WORK"/body*.json
}

echo "# $(date -u +%FT%TZ) $(uname -n) $(nproc) CPUs; $LCB; model $MODEL" >&2
# The sweep's shape over HTTP: one request per temperature group of one prompt.
workload sweep-groups 16 16 512 128 1 1
# The same, answers whole: what server-sent events cost.
workload sweep-groups 16 16 512 128 1 0
# How `lcb sweep --endpoint` sends a question to lcb serve: its 16 temperatures in one
# request (lcb.groups), one prefill.
workload sweep-one-request 1 256 512 128 1 1 16
# Chat-style serving: many clients, one sample each, each its own prompt.
workload chat-clients 64 1 128 128 0 1
