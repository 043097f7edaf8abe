#!/usr/bin/env bash
# A spool folder that cannot be created or opened does not stop the agent:
# it measures, serves /metrics, holds its events in memory and says so (a
# log line at start, tripline_spool_up 0, /healthz "degraded").
set -euo pipefail
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture demo_api --port 0)
D=${line#listening on }
curl -fsS -XPOST "$D/_control/fault" -d '{"mode":"all","status":503}' >/dev/null
# a file where a folder should be: mkdir fails even for root
: >"$WORK/not-a-folder"
cat >"$WORK/cfg.yaml" <<YAML
spool: {dir: $WORK/not-a-folder/spool}
sinks: {file: $WORK/events.jsonl}
YAML
cat >"$WORK/probes.yaml" <<YAML
- probe: down
  schedule: {every: 100ms, timeout: 90ms}
  steps: [{name: get, request: {url: "$D/v1/health"}, expect: {status: 200}}]
  escalation:
    ladder: [{level: warning, when: {consecutive_failures: 1}}]
YAML
start_agent u --config "$WORK/cfg.yaml" "$WORK/probes.yaml"
grep -q 'spool: cannot create.*measuring goes on.*NOT delivered' "$WORK/u.log" \
    || fail "no loud start-up line about the spool: $(cat "$WORK/u.log")"
held=0
for _ in $(seq 100); do
    m=$(curl -fsS "$AGENT_URL/metrics")
    runs=$(echo "$m" | sed -n 's/^tripline_probe_runs_total{[^}]*probe="down"[^}]*} \([0-9]*\).*/\1/p' | head -n1)
    held=$(echo "$m" | sed -n 's/^tripline_events_unspooled \([0-9]*\).*/\1/p')
    [ "${runs:-0}" -ge 3 ] && [ "${held:-0}" -ge 1 ] && break
    sleep 0.1
done
[ "${runs:-0}" -ge 3 ] || fail "the agent is not measuring: $runs runs"
[ "${held:-0}" -ge 1 ] || fail "no event held in memory: $held"
echo "$m" | grep -qx 'tripline_spool_up 0' || fail "tripline_spool_up is not 0"
h=$(curl -sS -w ' %{http_code}' "$AGENT_URL/healthz")
case $h in degraded:*spool*" 200") ;; *) fail "/healthz: $h" ;; esac
[ ! -s "$WORK/events.jsonl" ] || fail "events reached the sink without a spool"
stop_agent
echo "ok: measured $runs runs and held $held events without a spool"
