# Escalation end to end: a probe against the demo API whose health endpoint we
# fail and heal, a ladder (warning at 2 failures, critical at 4, resolved after
# 2 successes), a command action with a rollback, and the service sink to the
# escalation_service fixture (bearer token, HMAC signature) beside a file sink.
#
# 1. opened(warning), escalated(critical), resolved reach the service in order,
#    signed, one incident id, valid issues with evidence; the action and its
#    rollback ran once each with the event in their environment; the action is
#    on the timeline of a later event and in /status.
# 2. the service down while an incident runs, then back: nothing lost, nothing
#    extra after dedup by eventId.
# 3. 503 with Retry-After: the events come after the Retry-After, not before.
# 4. 400: the batch goes to the dead-letter file in the spool dir, the rest flows.
# Every event and batch recorded validates against docs/events.schema.json.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture demo_api --port 0)
DEMO=${line#listening on }
printf 'tok-e2e-7f3a\n' >"$WORK/token"
printf 'hmac key: no newline' >"$WORK/hmac.key"
line=$(start_fixture escalation_service --port 0 --token tok-e2e-7f3a --key-file "$WORK/hmac.key" \
    --record "$WORK/service.jsonl" --batches-record "$WORK/batches.jsonl")
SVC=${line#listening on }
: >"$WORK/service.jsonl"
SPOOL=$WORK/spool

# The action writes its TRIPLINE_* environment as one line; so does the rollback.
cat >"$WORK/probes.yaml" <<YAML
- probe: health-api
  runbook: https://runbooks.example.test/health-api
  schedule: {every: 200ms, timeout: 190ms}
  steps: [{name: health, request: {url: "$DEMO/v1/health"}, expect: {status: 200}}]
  escalation:
    ladder:
      - {level: warning, when: {consecutive_failures: 2}, actions: [record]}
      - {level: critical, when: {consecutive_failures: 4}}
    resolve: {consecutive_successes: 2}
  actions:
    record:
      command: [/bin/sh, -c, 'env | grep ^TRIPLINE_ | sort | tr "\\n" " " >>"\$0"; echo >>"\$0"', "$WORK/action.txt"]
      rollback:
        command: [/bin/sh, -c, 'env | grep ^TRIPLINE_ | sort | tr "\\n" " " >>"\$0"; echo >>"\$0"', "$WORK/rollback.txt"]
YAML
cat >"$WORK/config.yaml" <<YAML
region: eu-west
name: edge-e2e-1
spool: {dir: $SPOOL}
drain_timeout: 30s
sinks:
  file: $WORK/events.jsonl
  service:
    url: $SVC/events
    token_file: $WORK/token
    hmac_key_file: $WORK/hmac.key
    timeout: 2s
YAML
"$B/tripline" check --config "$WORK/config.yaml" "$WORK/probes.yaml" >/dev/null || fail "config does not check"

fault() { curl -fsS --noproxy '*' -XPOST "$DEMO/_control/fault" -d "$1" >/dev/null; }
service_mode() { curl -fsS --noproxy '*' -XPOST "$SVC/_control" -d "$1" >/dev/null; }
svc_stat() { curl -fsS --noproxy '*' "$SVC/_stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
count() { if [ -f "$1" ]; then grep -c "$2" "$1" || true; else echo 0; fi; }
lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
at_least() { [ "$(count "$1" "$2")" -ge "$3" ]; }
lines_at_least() { [ "$(lines "$1")" -ge "$2" ]; }

# incident N: fail the target until the file sink (the local copy of the spool)
# has the Nth escalated event, then heal it until the Nth resolved one.
incident() {
    fault '{"mode":"all","status":503}'
    wait_until "escalated event #$1" 30 at_least "$WORK/events.jsonl" '"transition":"escalated"' "$1"
    fault '{"mode":"none"}'
    wait_until "resolved event #$1" 30 at_least "$WORK/events.jsonl" '"transition":"resolved"' "$1"
}

start_agent e2e --config "$WORK/config.yaml" "$WORK/probes.yaml"
# five healthy runs: twice what it takes to open an incident
wait_until "five healthy runs" 30 runs_at_least "$AGENT_URL" health-api 5
[ "$(lines "$WORK/events.jsonl")" = 0 ] || fail "events while the target is healthy"

# --- 1. one incident, delivered in order -----------------------------------
incident 1
wait_until "the resolved event at the service" 30 at_least "$WORK/service.jsonl" '"transition":"resolved"' 1
wait_until "the rollback" 30 lines_at_least "$WORK/rollback.txt" 1
curl -fsS --noproxy '*' "$AGENT_URL/status" >"$WORK/status1.json"
# nothing more may run once the incident is over: five more healthy runs
wait_until "five runs after the incident" 30 runs_at_least "$AGENT_URL" health-api \
    $(($(probe_runs "$AGENT_URL" health-api) + 5))
[ "$(lines "$WORK/action.txt")" = 1 ] || fail "action ran $(lines "$WORK/action.txt") times: $(cat "$WORK/action.txt")"
[ "$(lines "$WORK/rollback.txt")" = 1 ] || fail "rollback ran $(lines "$WORK/rollback.txt") times"
curl -fsS --noproxy '*' "$SVC/_stats" >"$WORK/stats1.json"

python3 - "$WORK" <<'PY' || fail "incident 1"
import json, re, sys
w = sys.argv[1]
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
errors = []
seen, events = set(), []
for line in open(f"{w}/service.jsonl"):
    e = json.loads(line)
    if e["eventId"] not in seen:  # at least once: dedup by eventId
        seen.add(e["eventId"]); events.append(e)
# follow-ups carry the outcomes of the actions once they have ended
follow = [e for e in events if e["transition"] in ("updated", "rollback_failed")]
events = [e for e in events if e not in follow]
if [(e["transition"], e["active"]) for e in follow][-1:] != [("updated", False)] or \
        [(x["kind"], x["outcome"]) for x in follow[-1].get("timeline", [])] != [("run", "ok"), ("rollback", "ok")]:
    errors.append(f"follow-up events: {follow}")
kinds = [(e["transition"], e["level"], e["previousLevel"]) for e in events]
if kinds != [("opened", "warning", "none"), ("escalated", "critical", "warning"), ("resolved", "critical", "critical")]:
    errors.append(f"transitions at the service: {kinds}")
if len({e["incidentId"] for e in events}) != 1:
    errors.append("more than one incident id")
for e in events:
    t = e["transition"]
    if not re.fullmatch(r"[a-z0-9_]+(\.[a-z0-9_]+){2,}", e["issue"]): errors.append(f"{t}: issue {e['issue']}")
    if e["issue"] != "health_api.upstream.status_503": errors.append(f"{t}: issue {e['issue']}")
    want_sev = {"warning": "warning", "critical": "error"}[e["level"]]
    if e["severity"] != want_sev: errors.append(f"{t}: severity {e['severity']} at {e['level']}")
    for k in ("correlationId", "eventId", "incidentId"):
        if not re.fullmatch(UUID, e.get(k, "")): errors.append(f"{t}: {k} {e.get(k)!r} is not a UUID")
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", e["dateTime"]): errors.append(f"{t}: dateTime {e['dateTime']}")
    if e["active"] != (t != "resolved"): errors.append(f"{t}: active {e['active']}")
    if e["region"] != "eu-west" or e["agent"] != "edge-e2e-1": errors.append(f"{t}: region/agent")
    if e.get("links", {}).get("documentation") != "https://runbooks.example.test/health-api": errors.append(f"{t}: links")
    if t != "resolved":
        ev = e.get("evidence") or {}
        if ev.get("response", {}).get("status") != 503 or "demo.upstream.injected" not in ev.get("response", {}).get("issues", []):
            errors.append(f"{t}: evidence {json.dumps(ev)[:300]}")
        if ev.get("request", {}).get("url", "").split("/", 3)[-1] != "v1/health": errors.append(f"{t}: evidence request")
        if ev.get("correlation_id") != e["correlationId"]: errors.append(f"{t}: evidence correlation id")
        if e["impact"]["consecutiveFailures"] != {"opened": 2, "escalated": 4}[t]: errors.append(f"{t}: impact {e['impact']}")
# The action runs asynchronously: it is on the timeline of a later event.
later = [x for e in events[1:] for x in e.get("timeline", [])]
if not any(x["action"] == "record" and x["kind"] == "run" and x["outcome"] == "ok" for x in later):
    errors.append(f"action not on a later event's timeline: {[e.get('timeline') for e in events]}")
by = {e["transition"]: e for e in events}
def env_of(path):
    lines = open(path).read().splitlines()
    return dict(kv.split("=", 1) for kv in lines[0].split())
act, rb = env_of(f"{w}/action.txt"), env_of(f"{w}/rollback.txt")
inc = events[0]["incidentId"] if events else ""
want_act = {"TRIPLINE_TRANSITION": "opened", "TRIPLINE_LEVEL": "warning", "TRIPLINE_PROBE": "health-api",
            "TRIPLINE_REGION": "eu-west", "TRIPLINE_BUCKET": "upstream", "TRIPLINE_REASON": "status_503",
            "TRIPLINE_STEP": "health", "TRIPLINE_INCIDENT_ID": inc,
            "TRIPLINE_EVENT_ID": by.get("opened", {}).get("eventId")}
for k, v in want_act.items():
    if act.get(k) != v: errors.append(f"action env {k}={act.get(k)!r}, want {v!r}")
if rb.get("TRIPLINE_TRANSITION") != "resolved" or rb.get("TRIPLINE_INCIDENT_ID") != inc or \
        rb.get("TRIPLINE_EVENT_ID") != by.get("resolved", {}).get("eventId"):
    errors.append(f"rollback env {rb}")
st = json.load(open(f"{w}/status1.json"))
esc = st["probes"][0]["escalation"]
tl = esc.get("incident") or {}
kinds_tl = [(x["action"], x["kind"], x["outcome"]) for x in tl.get("timeline", [])]
if tl.get("incident_id") != inc or kinds_tl != [("record", "run", "ok"), ("record", "rollback", "ok")]:
    errors.append(f"/status incident: {tl}")
stats = json.load(open(f"{w}/stats1.json"))
if stats["unauthorized"] or stats["verified"] != stats["batches"] or stats["batches"] < 1:
    errors.append(f"signatures: {stats}")
if stats["last_idempotency_key"] not in seen: errors.append(f"Idempotency-Key {stats['last_idempotency_key']}")
if errors:
    print("\n".join(errors)); sys.exit(1)
print("ok: incident 1:", [k[0] for k in kinds], "incident", inc)
PY

# --- 2. the service down for a while, then up ------------------------------
before=$(lines "$WORK/service.jsonl")
service_mode '{"mode":"down"}'
incident 2
service_tried() { [ "$(svc_stat downs)" -ge 1 ]; }
wait_until "the agent trying the service while it is down" 30 service_tried
wait_until "a retry logged for the service sink" 30 grep -q 'retry: .*"sink":"service"' "$WORK/e2e.log"
[ "$(lines "$WORK/service.jsonl")" = "$before" ] || fail "the service recorded events while down"
service_mode '{"mode":"ok"}'
same_ids() {
    python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
made = {json.loads(l)["eventId"] for l in open(f"{w}/events.jsonl")}
got = {json.loads(l)["eventId"] for l in open(f"{w}/service.jsonl")}
sys.exit(0 if made == got else 1)
PY
}
# the retry backoff has grown while the service was down: a generous deadline
wait_until "every event at the service after it came back" 90 same_ids
echo "ok: service down then up: nothing lost, nothing extra"


# --- 3. 503 with Retry-After: 3 --------------------------------------------
# The counters are read before the 503 is armed: a post that meets it at once
# (an event still in flight) must count as the 503, not as the baseline.
base_503=$(curl -fsS --noproxy '*' "$SVC/_stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["unavailable"])')
base_opened=$(grep -c '"transition":"opened"' "$WORK/service.jsonl" || true)
service_mode '{"mode":"503","retry_after":3,"count":1}'
fault '{"mode":"all","status":503}'
python3 - "$WORK" "$SVC" "$base_503" "$base_opened" <<'PY' || fail "Retry-After not honoured"
import datetime, json, sys, time, urllib.request
w, svc = sys.argv[1], sys.argv[2]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
def stats():
    return json.load(opener.open(f"{svc}/_stats"))
def opened_ids():
    return [json.loads(l)["eventId"] for l in open(f"{w}/service.jsonl") if '"transition":"opened"' in l]
def at(iso):
    return datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
base = int(sys.argv[3])
n_opened = int(sys.argv[4])
# generous deadlines only bound a failure: the load may be heavy
deadline = time.monotonic() + 60
while stats()["unavailable"] == base or len(opened_ids()) == n_opened:
    if time.monotonic() > deadline: sys.exit(f"no 503 answered, or no event after it: {stats()}")
    time.sleep(0.05)
new_id = opened_ids()[n_opened]
# Both times are the agent's own: when its sink got the 503 (the log line,
# ms) and when it sent the batch that delivered the event (sentAt, whole s).
t503 = max(at(json.loads(l)["ts"]) for l in open(f"{w}/e2e.log")
           if '"sink":"service"' in l and "retry: HTTP 503" in l)
sent = min(at(b["sentAt"]) for b in map(json.loads, open(f"{w}/batches.jsonl"))
           if any(e["eventId"] == new_id for e in b["issues"]))
# honoured: sent >= floor(t503 + 3) > t503 + 2; the 1 s backoff would give about 1
if sent - t503 <= 2.0: sys.exit(f"sent {sent - t503:.2f}s after a 503 with Retry-After: 3")
print(f"ok: 503 Retry-After 3: sent again {sent - t503:.2f}s later (sentAt in whole seconds)")
PY
fault '{"mode":"none"}'
wait_until "resolved event #3" 30 at_least "$WORK/events.jsonl" '"transition":"resolved"' 3
wait_until "every event at the service after the 503" 60 same_ids

# --- 4. 400: dead letter -----------------------------------------------------
service_mode '{"mode":"400","count":1}'
incident 4
DL=$SPOOL/dead-letter-service.jsonl
wait_until "the dead-letter file" 30 test -s "$DL"
wait_until "the resolved event #4 at the service" 30 at_least "$WORK/service.jsonl" '"transition":"resolved"' 4
python3 - "$WORK" "$DL" <<'PY' || fail "dead letter"
import json, sys
w, dl = sys.argv[1], sys.argv[2]
lines = [json.loads(l) for l in open(dl)]
if len(lines) != 1: sys.exit(f"{len(lines)} dead-letter lines, want 1")
d = lines[0]
if d["sink"] != "service" or d["status"] != 400 or "400" not in d["reason"]: sys.exit(f"dead letter {d}")
dead = {e["eventId"] for e in d["events"]}
if len(d["seqs"]) != len(d["events"]) or not dead: sys.exit(f"dead letter seqs/events {d}")
made = {json.loads(l)["eventId"] for l in open(f"{w}/events.jsonl")}
got = {json.loads(l)["eventId"] for l in open(f"{w}/service.jsonl")}
if dead & got: sys.exit("a dead-lettered event was delivered too")
if made != got | dead: sys.exit(f"lost: {made - got - dead}, extra: {(got | dead) - made}")
if "tok-e2e-7f3a" in open(dl).read() or "hmac key" in open(dl).read(): sys.exit("a secret in the dead-letter file")
json.dump(d["events"], open(f"{w}/dead-events.json", "w"))
print("ok: 400 dead-lettered", len(dead), "event(s), the rest delivered")
PY
python3 -c 'import json,sys; [print(json.dumps(e)) for e in json.load(open(sys.argv[1]))]' \
    "$WORK/dead-events.json" >"$WORK/dead-events.jsonl"

# /metrics counts per sink what happened (docs/sinks.md)
wait_until "the spool delivered to every sink" 30 spool_empty
curl -fsS --noproxy '*' "$AGENT_URL/metrics" >"$WORK/metrics.txt"
promtool check metrics <"$WORK/metrics.txt" >"$WORK/promtool.txt" 2>&1 || fail "promtool: $(cat "$WORK/promtool.txt")"
python3 - "$WORK" <<'PY' || fail "sink metrics"
import json, re, sys
w = sys.argv[1]
m = open(f"{w}/metrics.txt").read()
def val(name, sink):
    x = re.search(rf'^{name}{{sink="{sink}"}} (\S+)$', m, re.M)
    if not x: sys.exit(f"/metrics lacks {name}{{sink={sink}}}")
    return float(x.group(1))
made = len({json.loads(l)["eventId"] for l in open(f"{w}/events.jsonl")})
got = len({json.loads(l)["eventId"] for l in open(f"{w}/service.jsonl")})
dead = len(open(f"{w}/dead-events.jsonl").read().splitlines())
want = {("tripline_sink_dead_lettered_events_total", "service"): dead,
        ("tripline_sink_dead_lettered_events_total", "file"): 0,
        ("tripline_sink_delivered_events_total", "file"): made,
        ("tripline_sink_consecutive_failures", "service"): 0}
for (name, sink), v in want.items():
    if val(name, sink) != v: sys.exit(f"{name}{{sink={sink}}} = {val(name, sink)}, want {v}")
# a batch resent after a lost answer counts again: at least the unique ones
if val("tripline_sink_delivered_events_total", "service") < got: sys.exit("service delivered count")
if val("tripline_sink_retries_total", "service") < 2: sys.exit("service retries (down, 503) not counted")
if val("tripline_sink_retries_total", "file") != 0: sys.exit("file sink retried")
print("ok: sink metrics")
PY

stop_agent
# one run and one rollback per incident (cooldown 0s)
[ "$(lines "$WORK/action.txt")" = 4 ] || fail "action ran $(lines "$WORK/action.txt") times in 4 incidents"
[ "$(lines "$WORK/rollback.txt")" = 4 ] || fail "rollback ran $(lines "$WORK/rollback.txt") times in 4 incidents"
[ "$(svc_stat unauthorized)" = 0 ] || fail "the service refused a token or a signature"

python3 "$S/tests/lib/check_schema.py" "$S/docs/events.schema.json" --min 24 \
    --events "$WORK/service.jsonl" --events "$WORK/events.jsonl" --events "$WORK/dead-events.jsonl" \
    --batches "$WORK/batches.jsonl" || fail "events do not match docs/events.schema.json"
echo "ok: escalation end to end"
