# Steps of other kinds escalate like HTTP steps: a tcp probe against a closed
# port and a dns probe against a server answering SERVFAIL open incidents whose
# events (file sink) carry the kind's bucket and reason, the step's target and
# the exchange's facts in the evidence, and validate against the events schema;
# /status shows the same verdicts.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

PY=/usr/bin/python3
"$PY" -c 'import dns.message' 2>/dev/null || { echo "python3-dnspython is not installed: skipped" >&2; exit 77; }

"$S/tests/fixtures/dns_fault.py" servfail >"$WORK/dns.out" 2>"$WORK/dns.err" &
PIDS+=($!)
wait_until "the SERVFAIL fixture to answer" 30 grep -qs '^[0-9]' "$WORK/dns.out"
DNS=127.0.0.1:$(head -n1 "$WORK/dns.out")
# a port nothing listens on: bound, then closed
CLOSED=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')

cat >"$WORK/probes.yaml" <<YAML
- probe: db-port
  schedule: {every: 300ms, timeout: 250ms}
  steps: [{name: connect, tcp: {host: 127.0.0.1, port: $CLOSED}}]
  escalation:
    ladder: [{level: warning, when: {consecutive_failures: 2}}]
- probe: zone
  schedule: {every: 300ms, timeout: 250ms}
  steps: [{name: lookup, dns: {name: api.example.test, server: "$DNS"}}]
  escalation:
    ladder: [{level: warning, when: {consecutive_failures: 2}}]
YAML
cat >"$WORK/config.yaml" <<YAML
region: kinds
name: edge-kinds
spool: {dir: $WORK/spool}
sinks: {file: $WORK/events.jsonl}
YAML
"$B/tripline" check --config "$WORK/config.yaml" "$WORK/probes.yaml" >/dev/null || fail "the probes do not check"

opened() { [ -f "$WORK/events.jsonl" ] && [ "$(grep -c '"transition":"opened"' "$WORK/events.jsonl")" -ge 2 ]; }
start_agent kinds --config "$WORK/config.yaml" "$WORK/probes.yaml"
wait_until "both incidents opened" 30 opened
status_to "$AGENT_URL" "$WORK/status.json"
stop_agent

python3 - "$WORK/events.jsonl" "$WORK/status.json" "$S/docs/events.schema.json" <<'PY' || fail "events of kind steps"
import json, sys
import jsonschema
events = [json.loads(l) for l in open(sys.argv[1])]
schema = json.load(open(sys.argv[3]))
# probe: bucket, reason, evidence method, target prefix, facts the answer must show
want = {"db-port": ("upstream", "connect", "tcp", "tcp://127.0.0.1:", None),
        "zone": ("upstream", "dns_servfail", "dns", "dns://127.0.0.1:", ("rcode", "SERVFAIL"))}
seen = set()
for e in events:
    jsonschema.validate(e, schema)
    if e.get("transition") != "opened":
        continue
    bucket, reason, method, target, fact = want[e["probe"]]
    assert (e["bucket"], e["reason"]) == (bucket, reason), e
    assert e["issue"].endswith(f'.{bucket}.{reason}'), e["issue"]
    ev = e["evidence"]
    assert ev["request"]["method"] == method, ev["request"]
    assert ev["request"]["url"].startswith(target), ev["request"]
    if fact:
        assert ev["response"]["facts"][fact[0]] == fact[1], ev["response"]
    seen.add(e["probe"])
assert seen == set(want), seen
status = json.load(open(sys.argv[2]))
text = json.dumps(status)
for probe, (bucket, reason, *_) in want.items():
    assert f'"{reason}"' in text, (probe, "reason missing from /status")
PY
echo "ok: tcp and dns verdicts reach events and /status"
