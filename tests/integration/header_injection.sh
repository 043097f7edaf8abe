# Header injection: a captured value holding CR LF and a header line, used in
# a request header, fails the step as a probe config error and never reaches
# the server (the hostile fixture counts requests carrying X-Injected).
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
H=http://127.0.0.1:$HTTP

cat >"$WORK/inject.yaml" <<YAML
- probe: inject
  schedule: {every: 1m, timeout: 5s}
  steps:
    - name: token
      request: {url: "$H/inject"}
      capture: {tok: {json: "\$.token"}}
    - name: use
      request:
        url: "$H/echo-headers"
        headers: {X-Tok: "{{ tok }}"}
YAML

rc=0
"$B/tripline" once --json "$WORK/inject.yaml" >"$WORK/out.json" 2>"$WORK/err.txt" || rc=$?
[ "$rc" = 1 ] || fail "exit $rc, expected 1: $(cat "$WORK/err.txt")"
python3 - "$WORK/out.json" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[0])
assert r["failed_step"] == "use", r
use = r["steps"][1]
assert use["ran"] and not use["ok"], use
# a captured value (the API's data) that would inject headers breaks the contract
assert use["bucket"] == "contract" and use["reason"] == "check", use
msg = " ".join(use["failures"])
assert "X-Tok" in msg and "header injection" in msg, msg
assert "X-Injected" not in json.dumps(r), "the hostile value reached the output"
PY
n=$(curl -fsS "$H/injected" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
[ "$n" = 0 ] || fail "the server received $n request(s) with an injected header"
echo ok
