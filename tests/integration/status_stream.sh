#!/usr/bin/env bash
# /status goes out streamed (chunked, in slices between which the loop turns),
# with the same JSON as before: a large table no longer stalls the agent while
# the body is built, and /healthz answers while a slow client reads it. With
# endpoint.status_token_file it wants a bearer token.
set -euo pipefail
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

N=5000
gen_probes "$WORK/probes.yaml" "$N" "http://127.0.0.1:1/x" "{every: 1h, timeout: 1s}"
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

# with endpoint.status_token_file, /status wants the bearer token; the rest stays open
printf 'status-token-123\n' >"$WORK/status.token"
printf 'endpoint: {status_token_file: %s}\n' "$WORK/status.token" >"$WORK/cfg.yaml"
head -n 3 "$WORK/probes.yaml" >"$WORK/one.yaml"
start_agent t --config "$WORK/cfg.yaml" --spool-dir "$WORK/spool2" "$WORK/one.yaml"
code() { curl -sS -o "$WORK/body" -w '%{http_code}' "$@"; }
[ "$(code "$AGENT_URL/status")" = 401 ] || fail "/status without a token: not 401"
grep -q status-token "$WORK/body" && fail "the 401 shows the token"
[ "$(code -H 'Authorization: Bearer wrong' "$AGENT_URL/status")" = 401 ] || fail "/status with a wrong token: not 401"
[ "$(code -H 'Authorization: Bearer status-token-123' "$AGENT_URL/status")" = 200 ] || fail "/status with the token: not 200"
[ "$(code "$AGENT_URL/healthz")" = 200 ] || fail "/healthz wants a token"
[ "$(code "$AGENT_URL/metrics")" = 200 ] || fail "/metrics wants a token"
grep -q status-token "$WORK/t.log" && fail "the token is in the log"
stop_agent
echo "ok: /status of $N probes streamed ($(wc -c <"$WORK/status.json") bytes); /healthz during a slow read: ${t}s"
