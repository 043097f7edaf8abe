# The per-run log at log_level info: a healthy run writes nothing, a probe's
# first failure and a failure unlike the one before are one warning each,
# its recovery one info line; repeats of the same failure are debug only.
source "$TRIPLINE_SOURCE_DIR/tests/lib/incident.sh"

start_demo_api
line=$(start_fixture hostile_server)
H=http://127.0.0.1:$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')

cat >"$WORK/probes.yaml" <<YAML
- probe: api
  schedule: {every: 300ms, timeout: 280ms}
  steps: [{name: health, request: {url: "$DEMO/v1/health"}, expect: {status: 200}}]
- probe: steady
  schedule: {every: 300ms, timeout: 280ms}
  steps: [{name: get, request: {url: "$H/ok"}, expect: {status: 200}}]
YAML

fault '{"mode":"all","status":503}'
start_agent a --spool-dir "$WORK/spool" "$WORK/probes.yaml"
n=0
phase() { # phase FAULT: set the fault, then wait for five more runs of api
    fault "$1"
    n=$(($(probe_runs "$AGENT_URL" api) + 5))
    wait_until "five runs of api under $1" 30 runs_at_least "$AGENT_URL" api "$n"
}
wait_until "five runs of api" 30 runs_at_least "$AGENT_URL" api 5
phase '{"mode":"none"}'
phase '{"mode":"all","status":500}'
runs_at_least "$AGENT_URL" steady 5 || fail "steady did not run"
stop_agent

python3 - "$WORK/a.log" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
runs = [r for r in recs if "probe" in r and "ok" in r]
def fail(m):
    print("FAIL:", m, *(json.dumps(r) for r in runs), sep="\n"); sys.exit(1)
if any(r["probe"] == "steady" for r in runs): fail("a healthy probe logged runs at info")
if any(r["msg"] == "probe ok" for r in runs): fail("a passing run was logged at info")
api = [(r["level"], r["ok"], r["bucket"], r["reason"]) for r in runs if r["probe"] == "api"]
for a, b in zip(api, api[1:]):
    if a == b: fail("the same failure was logged twice in a row")
want = [("warn", False, "status_503"), ("info", True, ""), ("warn", False, "status_500")]
got = [(l, ok, reason) for l, ok, _, reason in api]
it = iter(got)
if not all(w in it for w in want): fail(f"expected {want} in order, got {got}")
rec = [r for r in runs if r["msg"] == "probe recovered"]
if len(rec) < 1 or rec[0]["level"] != "info": fail("no recovery line at info")
print("ok: api logged", len(api), "lines for 15 runs; steady none")
PY
