# An action interrupted by a crash runs again, once, and the timeline says
# why; one whose outcome was kept does not:
# 1. the throttle starts; the agent is killed (kill -9) while it runs;
# 2. the next start resumes the incident and runs the throttle again despite
#    its cooldown, with an `unknown` entry on the timeline before the run;
# 3. a further restart, the outcome now kept, runs nothing.
source "$TRIPLINE_SOURCE_DIR/tests/lib/incident.sh"

start_demo_api

# The throttle: logs its start, then waits for $WORK/go.
cat >"$WORK/throttle.sh" <<'SH'
echo "start $$" >>"$1/throttle.log"
while [ ! -e "$1/go" ] && [ -d "$1" ]; do sleep 0.05; done # gone with the test
echo ok >>"$1/throttle.log"
SH
incident_probe "$WORK/probes.yaml" <<YAML
    throttle:
      command: [/bin/sh, "$WORK/throttle.sh", "$WORK"]
      timeout: 30s
      cooldown: 1h
YAML
incident_config "$WORK/config.yaml" rerun
status_has_unknown() {
    curl -sf --noproxy '*' "$AGENT_URL/status" | grep -q '"outcome":"unknown"'
}

fail_api
start_agent a --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the throttle to start" 20 has "$WORK/throttle.log" start
kill_agent
# its command lives on in its own process group: the next start kills it

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
heal_api
wait_until "the incident resolved" 20 has "$WORK/events.jsonl" '"transition":"resolved"'
stop_agent
[ "$(count "$WORK/throttle.log" start)" = 2 ] || fail "the throttle ran again though its outcome was kept"
echo "ok: an interrupted action ran again once"
