#!/usr/bin/env bash
# /status goes out streamed (chunked, in slices between which the loop turns),
# with the same JSON as before: a large table no longer stalls the agent while
# the body is built, and /healthz answers while a slow client reads it.
set -euo pipefail
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

N=5000
python3 - "$WORK/probes.yaml" "$N" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(f'- probe: p{i}\n  schedule: {{every: 1h, timeout: 1s}}\n'
                f'  steps: [{{name: get, request: {{url: "http://127.0.0.1:1/x"}}, expect: {{status: 200}}}}]\n')
PY
start_agent s --spool-dir "$WORK/spool" "$WORK/probes.yaml"
curl -fsS -D "$WORK/status.h" -o "$WORK/status.json" "$AGENT_URL/status"
grep -qi '^transfer-encoding: chunked' "$WORK/status.h" || fail "/status is not streamed: $(cat "$WORK/status.h")"
python3 - "$WORK/status.json" "$N" <<'PY' || fail "/status body"
import json, sys
st = json.load(open(sys.argv[1]))
for k in ("agent", "region", "version", "started_at", "draining", "scheduler", "spool", "probes"):
    if k not in st: sys.exit(f"no {k}")
ids = [p["probe"] for p in st["probes"]]
if len(ids) != int(sys.argv[2]) or len(set(ids)) != len(ids): sys.exit(f"{len(ids)} probes")
PY
# a client reading /status slowly holds the body open; /healthz answers meanwhile
curl -fsS --limit-rate 200k -o /dev/null "$AGENT_URL/status" &
SLOW=$!
PIDS+=($SLOW)
t=$(curl -fsS -o /dev/null -w '%{time_total}' --max-time 20 "$AGENT_URL/healthz") || fail "/healthz did not answer during a slow /status"
wait "$SLOW" || fail "the slow /status read failed"
stop_agent
echo "ok: /status of $N probes streamed ($(wc -c <"$WORK/status.json") bytes); /healthz during a slow read: ${t}s"
