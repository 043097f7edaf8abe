# Start-up as the man page says: a probe file with errors is left out and the
# others run, shown in /status (files.rejected) and /metrics; no probe at all,
# or a listen address in use, is exit 2.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
printf -- '- probe: good\n  schedule: {every: 200ms, timeout: 150ms}\n  steps: [{name: get, request: {url: "http://127.0.0.1:%s/ok"}}]\n' \
    "$HTTP" >"$WORK/good.yaml"
printf -- '- probe: broken\n  schedule: {every: 200ms, timout: 150ms}\n  steps: [{name: get, request: {url: "http://127.0.0.1:1/"}}]\n' \
    >"$WORK/bad.yaml"

start_agent s --spool-dir "$WORK/spool" "$WORK/good.yaml" "$WORK/bad.yaml"
curl -fsS "$AGENT_URL/status" >"$WORK/status.json"
curl -fsS "$AGENT_URL/metrics" >"$WORK/metrics.txt"
PORT=${AGENT_URL##*:}

# The same address again: exit 2, naming the address.
rc=0
"$B/tripline" run --listen "127.0.0.1:$PORT" --spool-dir "$WORK/spool2" "$WORK/good.yaml" \
    >/dev/null 2>"$WORK/inuse.log" || rc=$?
[ "$rc" -eq 2 ] || fail "listen address in use: exit $rc, expected 2: $(cat "$WORK/inuse.log")"
grep -q "127.0.0.1:$PORT" "$WORK/inuse.log" || fail "the address is not named: $(cat "$WORK/inuse.log")"
stop_agent

grep -q '^tripline_probe_files_rejected 1$' "$WORK/metrics.txt" ||
    fail "rejected files not on /metrics: $(grep rejected "$WORK/metrics.txt")"
grep -q 'bad.yaml: rejected; its probes are not monitored' "$WORK/s.log" || fail "no rejection in the log"
python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
st = json.load(open(f"{w}/status.json"))
errors = []
if [p["probe"] for p in st["probes"]] != ["good"]: errors.append(f"probes: {[p['probe'] for p in st['probes']]}")
rej = st.get("files", {}).get("rejected")
if not rej or len(rej) != 1: errors.append(f"files.rejected: {rej}")
else:
    r = rej[0]
    if not r["file"].endswith("/bad.yaml") or r["last_good"] is not False: errors.append(f"rejected: {r}")
    if "bad.yaml:2:" not in r["error"] or "timout" not in r["error"]: errors.append(f"first error: {r['error']}")
if errors: print("FAIL:", errors, file=sys.stderr); sys.exit(1)
PY

# An address that does not parse: exit 2, naming it and why.
rc=0
"$B/tripline" run --listen localhost:9999 --spool-dir "$WORK/spool4" "$WORK/good.yaml" >/dev/null 2>"$WORK/parse.log" || rc=$?
[ "$rc" -eq 2 ] || fail "unparsable listen address: exit $rc, expected 2: $(cat "$WORK/parse.log")"
grep -q 'cannot listen on localhost:9999 (the address does not parse)' "$WORK/parse.log" ||
    fail "unparsable address message: $(cat "$WORK/parse.log")"

# Nothing to run at all: exit 2.
rc=0
"$B/tripline" run --listen 127.0.0.1:0 --spool-dir "$WORK/spool3" "$WORK/bad.yaml" >/dev/null 2>"$WORK/none.log" || rc=$?
[ "$rc" -eq 2 ] || fail "no loadable probe: exit $rc, expected 2: $(cat "$WORK/none.log")"
echo "ok: a broken file at start-up is listed and the rest run; no probe or an address in use is exit 2"
