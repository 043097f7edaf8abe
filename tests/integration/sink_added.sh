# A sink added to the config of an agent that has run for a while (a new
# escalation service, a new Alertmanager) is not sent the history the other
# sinks were sent: it starts at the end of the spool and gets the current
# state, a renotified event for each incident still open, then what happens
# from there. A restart before it acknowledged anything does not skip what
# it was owed.
source "$TRIPLINE_SOURCE_DIR/tests/lib/incident.sh"

start_demo_api
line=$(start_fixture escalation_service --port 0 --record "$WORK/service.jsonl")
SVC=${line#listening on }

# "api" opens and resolves an incident (history); "down" stays failing.
incident_probe "$WORK/probes.yaml" <<YAML
    throttle: {command: [/bin/true]}
- probe: down
  schedule: {every: 100ms, timeout: 90ms}
  steps: [{name: get, request: {url: "$DEMO/v1/no-such-path"}, expect: {status: 200}}]
  escalation:
    ladder: [{level: warning, when: {consecutive_failures: 1}}]
    resolve: {consecutive_successes: 1}
YAML
incident_config "$WORK/config.yaml" added

fail_api
start_agent a --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "both incidents" 20 at_least "$WORK/events.jsonl" '"transition":"opened"' 2
heal_api
wait_until "api resolved" 20 has "$WORK/events.jsonl" '"transition":"resolved"'
wait_until "the spool delivered" 20 spool_empty
stop_agent
history=$(count "$WORK/events.jsonl" '"eventId"')

# The escalation service joins; it was down for the first start after that.
cat >>"$WORK/config.yaml" <<YAML
sinks:
  file: $WORK/events.jsonl
  service: {url: "$SVC/events", timeout: 2s}
YAML
sed -i '/^sinks: {file/d' "$WORK/config.yaml"
curl -fsS --noproxy '*' -XPOST "$SVC/_control" -d '{"mode":"down"}' >/dev/null
start_agent b --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the renotified event in the file" 20 has "$WORK/events.jsonl" '"transition":"renotified"'
wait_until "a failed send" 20 has "$WORK/b.log" '"sink":"service"'
stop_agent
[ ! -s "$WORK/service.jsonl" ] || fail "the service was down but has events: $(cat "$WORK/service.jsonl")"

# It is back: it gets the renotified event it was owed across the restart,
# and nothing of the history.
curl -fsS --noproxy '*' -XPOST "$SVC/_control" -d '{"mode":"ok"}' >/dev/null
start_agent c --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "the service has the open incident" 20 has "$WORK/service.jsonl" '"transition":"renotified"'
wait_until "the spool delivered" 20 spool_empty
stop_agent
python3 - "$WORK" "$history" <<'PY'
import json, sys
w, history = sys.argv[1], int(sys.argv[2])
file_events = [json.loads(l) for l in open(f"{w}/events.jsonl") if l.strip()]
old = {e["eventId"] for e in file_events[:history]}
got = [json.loads(l) for l in open(f"{w}/service.jsonl") if l.strip()]
flood = [e for e in got if e["eventId"] in old]
if flood:
    sys.exit(f"the new sink was sent {len(flood)} events of the history: "
             f"{sorted({e['transition'] for e in flood})}")
down = [e for e in got if e["probe"] == "down" and e["transition"] == "renotified"]
if not down:
    sys.exit(f"no renotified event of the open incident: {[(e['probe'], e['transition']) for e in got]}")
if any(e["probe"] == "api" for e in got):
    sys.exit("the resolved incident of the history reached the new sink")
print(f"ok: {history} events of history kept from the new sink; it got {len(got)}: "
      f"{sorted({(e['probe'], e['transition']) for e in got})}")
PY
