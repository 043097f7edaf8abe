#!/usr/bin/env bash
# A second agent started on a spool folder another agent holds (the same
# config run twice, a unit and a manual `tripline run`) must leave the state
# of the first alone: it refuses to start, says why, kills none of the first
# agent's running commands and does not rewrite its incidents.
source "$TRIPLINE_SOURCE_DIR/tests/lib/incident.sh"
[ -d /proc/self ] || { echo "skip: needs /proc"; exit 77; }

start_demo_api
# The throttle: logs its start and waits for $WORK/go.
cat >"$WORK/throttle.sh" <<'SH'
echo "start $$" >>"$1/throttle.log"
while [ ! -e "$1/go" ] && [ -d "$1" ]; do sleep 0.05; done # gone with the test
echo done >>"$1/throttle.log"
SH
incident_probe "$WORK/probes.yaml" <<YAML
    throttle:
      command: [/bin/sh, "$WORK/throttle.sh", "$WORK"]
      timeout: 60s
YAML
incident_config "$WORK/config.yaml" shared

fail_api
start_agent a --config "$WORK/config.yaml" "$WORK/probes.yaml"
first=$AGENT_PID
wait_until "the throttle to start" 20 has "$WORK/throttle.log" '^start '
pid=$(sed -n 's/^start //p' "$WORK/throttle.log")
wait_until "the running throttle on disk" 10 has "$WORK/spool/incidents.json" '"running":\["throttle"\]'
before=$(cat "$WORK/spool/incidents.json")

# the same config again, on another port
"$B/tripline" run --listen 127.0.0.1:0 --config "$WORK/config.yaml" "$WORK/probes.yaml" \
    >"$WORK/b.out" 2>"$WORK/b.log" &
second=$!
PIDS+=("$second")
b_settled() { ! kill -0 "$second" 2>/dev/null || has "$WORK/b.log" '"msg":"tripline started"'; }
wait_until "the second agent to exit or start" 30 b_settled
rc=0
if kill -0 "$second" 2>/dev/null; then
    kill -TERM "$second"
    wait "$second" || true
    started=1
else
    wait "$second" || rc=$?
    started=0
fi
alive "$pid" || fail "the second agent killed the first agent's running throttle: $(grep -i 'still running' "$WORK/b.log")"
[ "$(cat "$WORK/spool/incidents.json")" = "$before" ] ||
    fail "the second agent rewrote the first agent's incidents: $(cat "$WORK/spool/incidents.json")"
[ "$started" = 0 ] && [ "$rc" != 0 ] || fail "the second agent ran on a spool another agent holds"
has "$WORK/b.log" 'in use by another process' || fail "the refusal does not say why: $(cat "$WORK/b.log")"

# the first agent goes on: its throttle ends and its outcome is kept
AGENT_PID=$first
touch "$WORK/go"
wait_until "the throttle to end" 20 has "$WORK/throttle.log" '^done$'
wait_until "its outcome kept" 10 has "$WORK/spool/incidents.json" '"running":\[\]'
stop_agent
echo "ok: a second agent on the same spool left the first agent's state alone"
