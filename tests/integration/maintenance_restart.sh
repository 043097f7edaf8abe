# A restart inside a maintenance window does not page: the incident
# resumes under its id, silently. (Outside a window a restart sends
# `renotified` at once, so Alertmanager fires the alert again: cooldown and
# crash tests cover that.)
# The window is a cron time of day: it opens at the next whole minute at
# least 20 s away, after the incident has opened, and the agent restarts
# inside it. The test waits for that minute (at most 80 s).
source "$TRIPLINE_SOURCE_DIR/tests/lib/incident.sh"

start_demo_api
read -r AT CRON < <(python3 -c '
import time
now = time.time()
at = (int(now) // 60 + 1) * 60
if at - now < 20:
    at += 60
t = time.gmtime(at)
print(at, f"{t.tm_min} {t.tm_hour} {t.tm_mday} {t.tm_mon} *")')
cat >"$WORK/probes.yaml" <<YAML
- probe: api
  schedule: {every: 100ms, timeout: 90ms}
  steps: [{name: health, request: {url: "$DEMO/v1/health"}, expect: {status: 200}}]
  escalation:
    ladder: [{level: warning, when: {consecutive_failures: 2}}]
    resolve: {consecutive_successes: 2}
    maintenance: [{cron: "$CRON", duration: 10m}]
YAML
incident_config "$WORK/config.yaml" quiet

fail_api
start_agent a --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the incident" 20 has "$WORK/events.jsonl" '"transition":"opened"'
python3 -c "import time, sys; sys.exit(time.time() >= $AT)" || fail "the window opened before the incident: the test proves nothing"
stop_agent

in_window() { python3 -c "import time, sys; sys.exit(time.time() < $AT)"; }
wait_until "the maintenance window to open (at $(date -u -d "@$AT" +%H:%M:%S) UTC)" 90 in_window
events=$(count "$WORK/events.jsonl" '"transition"')
start_agent b --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the incident resumed" 20 has "$WORK/b.log" 'resumed an open incident'
wait_until "the window seen" 20 has "$WORK/b.log" 'maintenance window opened'
runs=$(probe_runs "$AGENT_URL" api)
wait_until "a few runs in the window" 20 runs_at_least "$AGENT_URL" api $((runs + 5))
stop_agent
! has "$WORK/events.jsonl" '"transition":"renotified"' ||
    fail "the restart inside a maintenance window paged: $(grep '"transition":"renotified"' "$WORK/events.jsonl" | head -c 300)"
[ "$(count "$WORK/events.jsonl" '"transition"')" = "$events" ] || fail "events were sent from inside the window"
echo "ok: a restart inside a maintenance window resumed the incident without paging"
