# A cooldown clock stamped in the future (the wall clock was stepped back
# since the action ran) is taken as "ran just now", not as no cooldown: a
# new incident after the restart skips the action, and the stamp kept on
# disk is clamped to the restart's time, so the cooldown ends one cooldown
# after it instead of growing with every restart.
source "$TRIPLINE_SOURCE_DIR/tests/lib/incident.sh"

start_demo_api

incident_probe "$WORK/probes.yaml" <<YAML
    throttle:
      command: [/bin/sh, -c, 'echo run >>"\$0/throttle.log"', "$WORK"]
      cooldown: 1h
YAML
incident_config "$WORK/config.yaml" future

fail_api
start_agent a --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the throttle" 20 has "$WORK/throttle.log" run
heal_api
wait_until "the first incident resolved" 20 has "$WORK/events.jsonl" '"transition":"resolved"'
stop_agent

# the clock steps back two hours: the last run is now two hours ahead
python3 - "$WORK/spool/incidents.json" <<'PY'
import json, sys, time
p = sys.argv[1]
d = json.load(open(p))
c = [c for c in d["cooldowns"] if c["probe"] == "api" and c["action"] == "throttle"]
assert len(c) == 1, d
c[0]["lastRunAtUs"] = int(time.time() * 1e6) + 2 * 3600 * 10**6
json.dump(d, open(p, "w"))
PY

fail_api
start_agent b --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the second incident" 20 at_least "$WORK/events.jsonl" '"transition":"opened"' 2
decided() { has "$WORK/b.log" '"action":"throttle","kind":"run","outcome":"' && has "$WORK/b.log" '"msg":"action '; }
wait_until "the throttle run or skipped" 20 decided
stop_agent
[ "$(count "$WORK/throttle.log" run)" = 1 ] || fail "the throttle ran again: a cooldown stamped in the future counted as none"
has "$WORK/b.log" '"outcome":"skipped"' || fail "the skip was not logged"
python3 - "$WORK/spool/incidents.json" <<'PY' || fail "the future stamp was kept: $(cat "$WORK/spool/incidents.json")"
import json, sys, time
d = json.load(open(sys.argv[1]))
c = [c for c in d["cooldowns"] if c["probe"] == "api" and c["action"] == "throttle"]
assert len(c) == 1 and c[0]["lastRunAtUs"] <= time.time() * 1e6, c
PY
echo "ok: a cooldown stamped in the future was clamped to now and held the throttle back"
