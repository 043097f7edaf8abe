# An action's cooldown goes on across a restart: the throttle runs at the
# first incident; the agent restarts; a second incident inside the cooldown
# skips it (and says so on its timeline) instead of running it again.
source "$TRIPLINE_SOURCE_DIR/tests/lib/incident.sh"

start_demo_api

incident_probe "$WORK/probes.yaml" <<YAML
    throttle:
      command: [/bin/sh, -c, 'echo run >>"\$0/throttle.log"', "$WORK"]
      cooldown: 1h
YAML
incident_config "$WORK/config.yaml" cool

fail_api
start_agent a --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the throttle" 20 has "$WORK/throttle.log" run
heal_api
wait_until "the first incident resolved" 20 has "$WORK/events.jsonl" '"transition":"resolved"'
stop_agent

fail_api
start_agent b --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the second incident" 20 at_least "$WORK/events.jsonl" '"transition":"opened"' 2
wait_until "the skip logged" 20 has "$WORK/b.log" '"outcome":"skipped"'
stop_agent
[ "$(count "$WORK/throttle.log" run)" = 1 ] || fail "the throttle ran again inside its cooldown after a restart"
grep '"transition":"opened"' "$WORK/events.jsonl" | tail -n1 | grep -q '"outcome":"skipped","detail":"cooldown: last ran' ||
    fail "the second incident's timeline does not show the skip: $(tail -n1 "$WORK/events.jsonl")"
echo "ok: the cooldown went on across a restart"
