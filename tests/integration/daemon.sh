# `tripline run`: schedules, the endpoint (/metrics through promtool,
# /status, /healthz), events on stdout, the per-host limit, SIGTERM drain.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
H=http://127.0.0.1:$HTTP

cat >"$WORK/probes.yaml" <<YAML
- probe: fast-a
  schedule: {every: 200ms, timeout: 150ms}
  steps: [{name: get, request: {url: "$H/ok"}, expect: {status: 200}}]
- probe: fast-b
  schedule: {every: 200ms, timeout: 150ms}
  steps: [{name: get, request: {url: "$H/ok"}, expect: {status: 200}}]
- probe: broken-api
  runbook: https://runbooks.example.test/broken-api
  schedule: {every: 200ms, timeout: 150ms}
  steps: [{name: report, request: {url: "$H/status?code=500"}, expect: {status: 200}}]
  escalation:
    ladder:
      - {level: warning, when: {consecutive_failures: 2}}
      - {level: critical, when: {consecutive_failures: 5}}
- probe: silenced
  schedule: {every: 200ms, timeout: 150ms}
  steps: [{name: report, request: {url: "$H/status?code=500"}, expect: {status: 200}}]
  escalation:
    ladder: [{level: critical, when: {consecutive_failures: 1}}]
    maintenance: [{cron: "* * * * *", duration: 2m}]
- probe: elsewhere
  regions: [mars]
  steps: [{name: get, request: {url: "$H/ok"}}]
YAML

start_agent a --region earth --spool-dir "$WORK/spool" "$WORK/probes.yaml"
broken_critical() {
    curl -fsS --noproxy '*' "$AGENT_URL/status" | grep -q '"probe":"broken-api".*"level":"critical"' &&
        runs_at_least "$AGENT_URL" silenced 2 && runs_at_least "$AGENT_URL" fast-b 2
}
wait_until "broken-api at critical" 60 broken_critical
# The rate of runs: between two snapshots, compared with the time between the
# last runs' starts as the agent measured it, not with the test's wall clock.
status_to "$AGENT_URL" "$WORK/status0.json"
wait_until "ten more runs of fast-a" 60 runs_at_least "$AGENT_URL" fast-a \
    $(($(probe_runs "$AGENT_URL" fast-a) + 10))
curl -fsS "$AGENT_URL/healthz" | grep -q ok || fail "/healthz"
curl -fsS "$AGENT_URL/metrics" >"$WORK/metrics.txt"
promtool check metrics <"$WORK/metrics.txt" >"$WORK/promtool.txt" 2>&1 || fail "promtool: $(cat "$WORK/promtool.txt")"
[ -s "$WORK/promtool.txt" ] && fail "promtool complained: $(cat "$WORK/promtool.txt")"
curl -fsS "$AGENT_URL/status" >"$WORK/status.json"
stop_agent
grep -q '"msg":"drained: stopping"' "$WORK/a.log" || fail "no drain in the log"

python3 - "$WORK" <<'PY'
import json, sys, re, datetime
w = sys.argv[1]
st = json.load(open(f"{w}/status.json"))
errors = []
probes = {p["probe"]: p for p in st["probes"]}
st0 = {p["probe"]: p for p in json.load(open(f"{w}/status0.json"))["probes"]}
def at(last):
    return datetime.datetime.fromisoformat(last["started_at"].replace("Z", "+00:00")).timestamp()
if "elsewhere" in probes: errors.append("a probe of region mars ran in region earth")
for pid in ("fast-a", "fast-b", "broken-api", "silenced"):
    p = probes.get(pid)
    if not p: errors.append(f"{pid} missing from /status"); continue
    if p["last"] is None: errors.append(f"{pid}: no last result"); continue
    p0 = st0.get(pid)
    runs, secs = p["runs"] - p0["runs"], at(p["last"]) - at(p0["last"])
    # every 200 ms: n runs span about n intervals; one late start may shorten it
    if runs < 1 or (runs - 2) * 0.2 > secs + 0.01:
        errors.append(f"{pid}: {runs} runs started within {secs:.3f} s at 200 ms")
if probes.get("broken-api", {}).get("last", {}).get("bucket") != "server":
    errors.append(f"broken-api last bucket: {probes.get('broken-api', {}).get('last')}")
if probes.get("broken-api", {}).get("escalation", {}).get("level") != "critical":
    errors.append(f"broken-api escalation: {probes.get('broken-api', {}).get('escalation')}")
m = open(f"{w}/metrics.txt").read()
for needle in ('tripline_probe_success{probe="fast-a",region="earth"} 1',
               'tripline_probe_success{probe="broken-api",region="earth"} 0',
               'tripline_probe_failures_total{probe="broken-api",region="earth",bucket="server"}',
               'tripline_schedule_lateness_seconds_bucket', 'tripline_probe_phase_duration_seconds{probe="fast-a",region="earth",phase="ttfb"}',
               'tripline_phase_duration_seconds_bucket{region="earth",phase="connect",le="0.001"}',
               'tripline_runs_in_flight', 'tripline_probe_escalation_level{probe="broken-api",region="earth"} 3'):
    if needle not in m: errors.append(f"/metrics lacks {needle}")
# events: JSON lines on stdout (the default sink), in the issue schema
events = [json.loads(l) for l in open(f"{w}/a.out") if l.strip()]
kinds = [(e["transition"], e["level"]) for e in events if e["probe"] == "broken-api"]
if kinds[:2] != [("opened", "warning"), ("escalated", "critical")]:
    errors.append(f"events: {kinds}")
for e in events:
    if not re.fullmatch(r"[a-z0-9_]+(\.[a-z0-9_]+){2,}", e["issue"]): errors.append(f"bad issue code {e['issue']}")
    if e["severity"] not in ("error", "warning", "info"): errors.append(f"severity {e['severity']}")
    for k in ("eventId", "incidentId", "correlationId", "dateTime", "region", "evidence", "links"):
        if k not in e: errors.append(f"event lacks {k}")
    if e.get("region") != "earth": errors.append("event region")
# maintenance silences escalation, not measurement
if any(e["probe"] == "silenced" for e in events): errors.append("events from a probe in maintenance")
if probes.get("silenced", {}).get("escalation", {}).get("maintenance") is not True: errors.append("silenced not in maintenance")
if 'tripline_probe_failures_total{probe="silenced",region="earth",bucket="server"}' not in m: errors.append("silenced failures not measured")
if len({e["eventId"] for e in events}) != len(events): errors.append("duplicate event ids")
if len({e["incidentId"] for e in events if e["probe"] == "broken-api"}) != 1: errors.append("one incident expected")
if events and events[0]["issue"] != "broken_api.server.status_500": errors.append(f"issue code {events[0]['issue']}")
if errors:
    print("\n".join(errors)); sys.exit(1)
print("ok:", {k: v["runs"] for k, v in probes.items()}, len(events), "events")
PY

# The per-host limit: ten probes on one host, two at a time at most. The
# timeout is far above the delay: a run cut by its timeout frees its slot while
# the server still counts its connection, which would blur what is measured.
cat >"$WORK/limits.yaml" <<YAML
limits: {per_host: 2, concurrency: 64}
spool: {dir: $WORK/spool2}
YAML
: >"$WORK/many.yaml"
for i in $(seq 10); do
    cat >>"$WORK/many.yaml" <<YAML
- probe: slow-$i
  schedule: {every: 1s, timeout: 900ms}
  steps: [{name: get, request: {url: "$H/delay?ms=250"}}]
YAML
done
curl -fsS "$H/count?reset=1" >/dev/null
start_agent b --config "$WORK/limits.yaml" "$WORK/many.yaml"
server_max() { curl -fsS "$H/count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["max"])'; }
overlapped() { [ "$(server_max)" -ge 2 ]; }
# twenty runs queue behind the limit: enough for it to be tested
wait_until "twenty runs started" 60 metric_at_least "$AGENT_URL" tripline_schedule_lateness_seconds_count 20
wait_until "two runs at once" 30 overlapped
# the /count request itself is one open connection
max=$(server_max)
queued=$(curl -fsS "$AGENT_URL/metrics" | sed -n 's/^tripline_schedule_lateness_seconds_count //p')
stop_agent
[ "$max" -le 3 ] || fail "per-host limit 2 broken: the server saw $max connections at once"
[ "$max" -ge 2 ] || fail "runs did not overlap at all ($max): the test proves nothing"
echo "ok: per-host max $max, runs started $queued"
