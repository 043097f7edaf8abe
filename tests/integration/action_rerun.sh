# An action interrupted by a crash runs again, once, and the timeline says
# why; one whose outcome was kept does not:
# 1. the throttle starts; the agent is killed (kill -9) while it runs;
# 2. the next start resumes the incident and runs the throttle again despite
#    its cooldown, with an `unknown` entry on the timeline before the run;
# 3. a further restart, the outcome now kept, runs nothing.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture demo_api --port 0)
DEMO=${line#listening on }
fault() { curl -fsS --noproxy '*' -XPOST "$DEMO/_control/fault" -d "$1" >/dev/null; }
has() { [ -f "$1" ] && grep -q "$2" "$1"; }
count() { if [ -f "$1" ]; then grep -c "$2" "$1" || true; else echo 0; fi; }

# The throttle: logs its start, then waits for $WORK/go.
cat >"$WORK/throttle.sh" <<'SH'
echo "start $$" >>"$1/throttle.log"
while [ ! -e "$1/go" ]; do sleep 0.05; done
echo ok >>"$1/throttle.log"
SH
cat >"$WORK/probes.yaml" <<YAML
- probe: api
  schedule: {every: 100ms, timeout: 90ms}
  steps: [{name: health, request: {url: "$DEMO/v1/health"}, expect: {status: 200}}]
  escalation:
    ladder: [{level: warning, when: {consecutive_failures: 2}, actions: [throttle]}]
    resolve: {consecutive_successes: 2}
  actions:
    throttle:
      command: [/bin/sh, "$WORK/throttle.sh", "$WORK"]
      timeout: 30s
      cooldown: 1h
YAML
cat >"$WORK/config.yaml" <<YAML
region: rerun
name: edge-rerun
spool: {dir: $WORK/spool}
sinks: {file: $WORK/events.jsonl}
YAML
status_has_unknown() {
    curl -sf --noproxy '*' "$AGENT_URL/status" | grep -q '"outcome":"unknown"'
}

fault '{"mode":"all","status":503}'
start_agent a --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the throttle to start" 20 has "$WORK/throttle.log" start
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
# the killed agent's command dies with it here (its own process group)
kill "$(sed -n 's/^start //p' "$WORK/throttle.log" | head -n1)" 2>/dev/null || true

start_agent b --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the rerun" 10 has "$WORK/b.log" 'outcome unknown after a restart, running it again'
started_twice() { [ "$(count "$WORK/throttle.log" start)" = 2 ]; }
wait_until "the second start" 10 started_twice
wait_until "the unknown entry on the timeline" 10 status_has_unknown
touch "$WORK/go"
wait_until "the rerun to end" 20 has "$WORK/throttle.log" '^ok$'
wait_until "its outcome kept" 10 has "$WORK/spool/incidents.json" '"running":\[\]'
stop_agent

start_agent c --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the incident resumed" 10 has "$WORK/c.log" 'resumed an open incident'
fault '{"mode":"none"}'
wait_until "the incident resolved" 20 has "$WORK/events.jsonl" '"transition":"resolved"'
stop_agent
[ "$(count "$WORK/throttle.log" start)" = 2 ] || fail "the throttle ran again though its outcome was kept"
echo "ok: an interrupted action ran again once"
