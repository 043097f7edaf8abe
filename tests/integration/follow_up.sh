# Events carry the outcomes of their actions, and a stuck mitigation is an
# event of its own:
# 1. an incident opens; its throttle ends after the `opened` event left: an
#    `updated` event (active) carries the throttle's outcome;
# 2. it resolves; its rollback fails: a `rollback_failed` event (active)
#    carries the failure;
# 3. the rollback retried succeeds: an `updated` event (not active) carries
#    it. Every event matches docs/events.schema.json.
source "$TRIPLINE_SOURCE_DIR/tests/lib/incident.sh"

start_demo_api

incident_probe "$WORK/probes.yaml" <<YAML
    throttle:
      command: [/bin/sh, -c, 'sleep 0.3; echo on >"\$0/throttle"', "$WORK"]
      rollback:
        command: [/bin/sh, -c, '[ ! -e "\$0/fail" ] && echo off >"\$0/throttle"', "$WORK"]
YAML
incident_config "$WORK/config.yaml" follow

touch "$WORK/fail"
fail_api
start_agent a --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the throttle's outcome" 20 has "$WORK/events.jsonl" '"transition":"updated"'
heal_api
wait_until "the failed rollback" 20 has "$WORK/events.jsonl" '"transition":"rollback_failed"'
rm "$WORK/fail"
wait_until "the mitigation lifted" 20 has "$WORK/throttle" off
lifted_sent() {
    python3 -c 'import json, sys; e = json.loads(open(sys.argv[1]).readlines()[-1])
sys.exit(0 if e["transition"] == "updated" and not e["active"] else 1)' "$WORK/events.jsonl"
}
wait_until "its outcome" 20 lifted_sent
stop_agent

python3 - "$WORK/events.jsonl" <<'PY' || fail "the events do not tell the outcomes"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
seq = [(e["transition"], e["active"]) for e in evs]
want = [("opened", True), ("updated", True), ("resolved", False), ("rollback_failed", True), ("updated", False)]
errors = []
if seq != want:
    errors.append(f"transitions {seq}, expected {want}")
if len({e["incidentId"] for e in evs}) != 1 or len({e["eventId"] for e in evs}) != len(evs):
    errors.append("one incident, one eventId per event expected")
def outcomes(e):
    return [(t["kind"], t["outcome"]) for t in e.get("timeline", [])]
by = {(e["transition"], e["active"]): e for e in evs}
if ("run", "ok") in outcomes(by.get(("opened", True), {})):
    errors.append("the opened event was sent after the throttle ended: the test proves nothing")
checks = [(("updated", True), [("run", "ok")]),
          (("rollback_failed", True), [("run", "ok"), ("rollback", "failed")]),
          (("updated", False), [("run", "ok"), ("rollback", "failed"), ("rollback", "ok")])]
for key, tl in checks:
    if key in by and outcomes(by[key]) != tl:
        errors.append(f"{key}: timeline {outcomes(by[key])}, expected {tl}")
if errors:
    print("\n".join(errors)); sys.exit(1)
PY
python3 "$S/tests/lib/check_schema.py" "$S/docs/events.schema.json" --events "$WORK/events.jsonl" ||
    fail "events do not match docs/events.schema.json"
echo "ok: follow-up events"
