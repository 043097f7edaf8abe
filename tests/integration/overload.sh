# Overload honesty: the agent's loop stalled on purpose (TRIPLINE_TEST_STALL_MS,
# a test-only hook) against a healthy fixture. Runs that could not start in
# time are skipped as late; runs that timed out during a stall are agent
# faults (overloaded), never failures; no incident opens; the loop lag and
# the shedding are on /metrics. Verdicts only, no timed assertion.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
for i in $(seq 40); do
    printf -- '- probe: p%s\n  schedule: {every: 500ms, timeout: 400ms}\n' "$i"
    printf -- '  steps: [{name: get, request: {url: "http://127.0.0.1:%s/delay?ms=50"}, expect: {status: 200}}]\n' "$HTTP"
    printf -- '  escalation:\n    ladder: [{level: critical, when: {consecutive_failures: 1}}]\n'
done >"$WORK/many.yaml"

TRIPLINE_TEST_STALL_MS=800 start_agent o --spool-dir "$WORK/spool" "$WORK/many.yaml"
shed_and_overloaded() {
    curl -fsS "$AGENT_URL/metrics" >"$WORK/m.txt" || return 1
    grep -q '^tripline_runs_skipped_total{reason="late"} [1-9]' "$WORK/m.txt" &&
        grep -q '^tripline_agent_faults_total{reason="overloaded"} [1-9]' "$WORK/m.txt"
}
wait_until "late skips and overloaded runs counted" 60 shed_and_overloaded
curl -fsS "$AGENT_URL/status" >"$WORK/status.json"
stop_agent

grep -q '^tripline_loop_lag_seconds_bucket{le="+Inf"} [1-9]' "$WORK/m.txt" || fail "no loop lag histogram"
grep -q 'TRIPLINE_TEST_STALL_MS' "$WORK/o.log" || fail "the test hook does not announce itself"
if grep -q '^tripline_probe_failures_total' "$WORK/m.txt"; then
    fail "a stall was blamed on the API: $(grep probe_failures "$WORK/m.txt" | head -3)"
fi
python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
st = json.load(open(f"{w}/status.json"))
errors = []
for p in st["probes"]:
    if p["failures"] != 0: errors.append(f"{p['probe']}: failures {p['failures']}: {p.get('last')}")
    if p["escalation"]["level"] != "none": errors.append(f"{p['probe']}: escalation {p['escalation']}")
if st["scheduler"].get("skipped_late", 0) < 1: errors.append(f"scheduler: {st['scheduler']}")
events = [l for l in open(f"{w}/o.out") if l.strip()]
if events: errors.append(f"{len(events)} events: {events[0][:300]}")
if errors: print("FAIL:", errors[:5], file=sys.stderr); sys.exit(1)
print("ok: overloaded agent opened no incident;", st["scheduler"])
PY
