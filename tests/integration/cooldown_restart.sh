# An action's cooldown goes on across a restart: the throttle runs at the
# first incident; the agent restarts; a second incident inside the cooldown
# skips it (and says so on its timeline) instead of running it again. Clocks
# older than the longest cooldown loaded leave the store at start.
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

# Clocks of probes long gone: one older than the longest cooldown loaded
# (1h) is dropped from the store at the next start, one inside it is kept.
python3 - "$WORK/spool/incidents.json" <<'PY'
import json, sys, time
p = sys.argv[1]
d = json.load(open(p))
now = int(time.time() * 1e6)
d.setdefault("cooldowns", []).extend([
    {"probe": "gone-long-ago", "action": "throttle", "lastRunAtUs": now - 2 * 3600 * 10**6},
    {"probe": "gone-lately", "action": "throttle", "lastRunAtUs": now - 600 * 10**6}])
json.dump(d, open(p, "w"))
PY

fail_api
start_agent b --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the second incident" 20 at_least "$WORK/events.jsonl" '"transition":"opened"' 2
wait_until "the skip logged" 20 has "$WORK/b.log" '"outcome":"skipped"'
stop_agent
grep -q gone-long-ago "$WORK/spool/incidents.json" && fail "a cooldown clock older than every cooldown was kept"
grep -q gone-lately "$WORK/spool/incidents.json" || fail "a cooldown clock inside the longest cooldown was dropped"
[ "$(count "$WORK/throttle.log" run)" = 1 ] || fail "the throttle ran again inside its cooldown after a restart"
grep '"transition":"opened"' "$WORK/events.jsonl" | tail -n1 | grep -q '"outcome":"skipped","detail":"cooldown: last ran' ||
    fail "the second incident's timeline does not show the skip: $(tail -n1 "$WORK/events.jsonl")"
echo "ok: the cooldown went on across a restart"
