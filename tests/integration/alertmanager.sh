# The Alertmanager sink against the real Alertmanager: an opened event must
# reach a webhook receiver as a firing notification with our labels, and the
# resolved event as a resolved one.
source "$(dirname "$0")/../lib/common.sh"

AM=/usr/bin/prometheus-alertmanager
[ -x "$AM" ] || fail "$AM is missing (Debian package prometheus-alertmanager)"

line=$(start_fixture escalation_service --port 0 --am-record "$WORK/webhooks.jsonl")
FX=${line#listening on }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
AM_PORT=$(free_port)
cat >"$WORK/alertmanager.yml" <<YAML
global:
  resolve_timeout: 5m
route:
  receiver: fixture
  group_by: [alertname, probe, region]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: fixture
    webhook_configs:
      - url: $FX/alertmanager
        send_resolved: true
YAML
mkdir -p "$WORK/am-data"
"$AM" --config.file="$WORK/alertmanager.yml" --storage.path="$WORK/am-data" \
    --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= \
    >"$WORK/am.log" 2>&1 &
PIDS+=($!)
ready=0
for _ in $(seq 150); do
    if curl -sf --noproxy '*' "http://127.0.0.1:$AM_PORT/-/ready" >/dev/null; then ready=1; break; fi
    sleep 0.2
done
[ "$ready" = 1 ] || fail "alertmanager did not become ready: $(tail -5 "$WORK/am.log")"

# An opened and a resolved event of one incident, dated now.
python3 - "$WORK" <<'PY'
import json, sys, uuid, datetime
work = sys.argv[1]
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
incident = str(uuid.uuid4())
def event(transition, active):
    return {"issue": "checkout.upstream.timeout", "severity": "warning", "active": active,
            "correlationId": str(uuid.uuid4()), "dateTime": now,
            "message": {"title": "checkout failing in eu-west: upstream timeout",
                        "detail": "step pay: Operation timed out after 1000 milliseconds"},
            "links": {"documentation": "https://runbooks.example.test/checkout"},
            "eventId": str(uuid.uuid4()), "incidentId": incident, "transition": transition,
            "level": "warning", "previousLevel": "none", "probe": "checkout", "step": "pay",
            "region": "eu-west", "agent": "edge-eu-1", "bucket": "upstream", "reason": "timeout"}
json.dump(event("opened", True), open(f"{work}/opened.json", "w"))
json.dump(event("resolved", False), open(f"{work}/resolved.json", "w"))
PY

# wait_webhook STATUS: until a notification with that status and our labels arrives.
wait_webhook() {
    for _ in $(seq 150); do
        if python3 - "$WORK/webhooks.jsonl" "$1" <<'PY'
import json, sys
path, status = sys.argv[1], sys.argv[2]
want = {"alertname": "TriplineProbeFailing", "probe": "checkout", "region": "eu-west",
        "bucket": "upstream", "level": "warning", "severity": "warning", "agent": "edge-eu-1"}
try:
    lines = open(path).read().splitlines()
except FileNotFoundError:
    sys.exit(1)
for line in lines:
    n = json.loads(line)
    if n.get("status") != status:
        continue
    for a in n.get("alerts", []):
        if a.get("status") == status and all(a["labels"].get(k) == v for k, v in want.items()):
            ann = a.get("annotations", {})
            assert ann.get("runbook_url") == "https://runbooks.example.test/checkout", ann
            assert ann.get("incident_id"), ann
            sys.exit(0)
sys.exit(1)
PY
        then return 0; fi
        sleep 0.2
    done
    fail "no $1 notification: $(cat "$WORK/webhooks.jsonl" 2>/dev/null)"
}

out=$("$B/sink_send" --alertmanager "http://127.0.0.1:$AM_PORT" "$WORK/opened.json") ||
    fail "opened event not delivered: $out"
wait_webhook firing
grep -q '"status":"resolved"' "$WORK/webhooks.jsonl" && fail "resolved before the resolved event"

out=$("$B/sink_send" --alertmanager "http://127.0.0.1:$AM_PORT" "$WORK/resolved.json") ||
    fail "resolved event not delivered: $out"
wait_webhook resolved

# Alertmanager itself no longer holds the alert as active.
active=$(curl -sf --noproxy '*' "http://127.0.0.1:$AM_PORT/api/v2/alerts?active=true&silenced=false&inhibited=false" |
    python3 -c 'import json,sys; print(len([a for a in json.load(sys.stdin) if a["labels"].get("probe")=="checkout"]))')
[ "$active" = 0 ] || fail "alert still active after resolution"
echo "ok: firing then resolved through the real Alertmanager"
