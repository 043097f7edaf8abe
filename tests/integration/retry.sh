# retry: {attempts, delay}: a step that fails for a reason about the API is
# tried again after the delay; a pass on a retry is a pass that stays
# visible (attempts, failed_attempts, /metrics, /status); a failure carries
# every try; the agent's own fault and a retry the deadline leaves no room
# for are not tried again.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
H=http://127.0.0.1:$HTTP
unset RETRY_UNSET_VAR || true

cat >"$WORK/once.yaml" <<YAML
- probe: flaky
  schedule: {every: 1m, timeout: 10s}
  retry: {attempts: 3, delay: 300ms}
  steps:
    - name: get
      request: {url: "$H/flaky?key=once&fail=1"}
- probe: always
  schedule: {every: 1m, timeout: 10s}
  steps:
    - name: get
      retry: {attempts: 2, delay: 100ms}
      request: {url: "$H/flaky?key=always&fail=1000"}
- probe: agent-fault
  schedule: {every: 1m, timeout: 10s}
  retry: {attempts: 3, delay: 100ms}
  vars: {t: "{{ env.RETRY_UNSET_VAR }}"}
  steps:
    - name: get
      request: {url: "$H/ok?t={{ t }}"}
- probe: no-room
  schedule: {every: 1m, timeout: 1s}
  steps:
    - name: slow
      retry: {attempts: 2, delay: 800ms}
      request: {url: "$H/delay?ms=300"}
      expect: {status: 201}
YAML

set +e
"$B/tripline" once --json --junit "$WORK/report.xml" "$WORK/once.yaml" >"$WORK/once.json" 2>"$WORK/once.err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "once exited $rc, expected 1: $(cat "$WORK/once.err")"
python3 - "$WORK/once.json" <<'PY'
import json, sys
runs = {r["probe"]: r for r in map(json.loads, open(sys.argv[1]))}
errors = []
def want(c, m):
    if not c: errors.append(m)
f = runs["flaky"]; s = f["steps"][0]
want(f["ok"] and s["ok"], f"flaky did not pass on its retry: {f}")
want(s["attempts"] == 2, f"flaky attempts {s.get('attempts')}")
fa = s.get("failed_attempts", [])
want(len(fa) == 1 and fa[0]["reason"] == "status_503" and fa[0]["bucket"] == "upstream", f"flaky failed_attempts {fa}")
want(f["duration_ms"] >= 300, f"flaky took {f['duration_ms']} ms: the 300ms delay was not waited")
a = runs["always"]; s = a["steps"][0]
want(not a["ok"] and a["bucket"] == "upstream", f"always: {a['ok']} {a.get('bucket')}")
want(s["attempts"] == 2 and len(s.get("failed_attempts", [])) == 1, f"always attempts {s.get('attempts')}")
ev = s.get("evidence", {})
want(ev.get("attempts") == 2 and len(ev.get("failed_attempts", [])) == 1, f"evidence lacks the tries: {ev.keys()}")
want(ev.get("failed_attempts", [{}])[0].get("correlation_id") != s["correlation_id"], "both tries share an id")
g = runs["agent-fault"]
want(g["bucket"] == "agent", f"agent-fault bucket {g.get('bucket')}")
want(all(st.get("attempts", 1) == 1 and "failed_attempts" not in st for st in g["steps"]), "an agent fault was retried")
n = runs["no-room"]; s = n["steps"][0]
want(not n["ok"] and s["attempts"] == 1, f"no-room retried past its deadline: attempts {s.get('attempts')}")
if errors:
    print("\n".join(errors)); sys.exit(1)
PY
if command -v xmllint >/dev/null; then
    xmllint --noout --schema "$S/tests/data/junit.xsd" "$WORK/report.xml" || fail "the JUnit report does not validate"
    grep -q "step get: ok status=200 .* attempts=2" "$WORK/report.xml" || fail "the pass on a retry is not shown"
fi
echo "ok: once retries API failures only, within the deadline"

# The daemon: the first run passes on its retry, later runs on the first try.
cat >"$WORK/agent.yaml" <<YAML
probe: flaky-daemon
schedule: {every: 1s, timeout: 1s}
steps:
  - name: get
    retry: {attempts: 2, delay: 100ms}
    request: {url: "$H/flaky?key=daemon&fail=1"}
YAML
start_agent a --region earth --spool-dir "$WORK/spool" "$WORK/agent.yaml"
two_runs() { [ "$(probe_runs "$AGENT_URL" flaky-daemon)" -ge 2 ]; }
wait_until "two runs" 30 two_runs
curl -fsS --noproxy '*' "$AGENT_URL/metrics" >"$WORK/metrics.txt"
curl -fsS --noproxy '*' "$AGENT_URL/status" >"$WORK/status.json"
stop_agent
grep -q '^tripline_step_retries_total{probe="flaky-daemon",region="earth",step="get"} 1$' "$WORK/metrics.txt" ||
    fail "step retries: $(grep retries "$WORK/metrics.txt")"
grep -q '^tripline_runs_passed_after_retry_total{probe="flaky-daemon",region="earth"} 1$' "$WORK/metrics.txt" ||
    fail "passed after retry: $(grep after_retry "$WORK/metrics.txt")"
python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["probes"][0]; sys.exit(0 if p["retried"] == 1 and p["failures"] == 0 else 1)' \
    "$WORK/status.json" || fail "/status: $(head -c 600 "$WORK/status.json")"
echo "ok: the daemon counts the retry on /metrics and /status"
