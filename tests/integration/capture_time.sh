# A `capture: {regex: ...}` against a long run of letters (hostile_server
# /letters: 256 KB of "a", no digit): glibc's regexec restarts the regex at
# every offset, the square of the length, so "([a-z]+)[0-9]" held `once`
# (and the daemon's whole loop, every other probe) for minutes, far past the
# probe's 5 s timeout. Captures now find the leftmost match in one pass over
# the reversed body, then take its groups from there. A regex that cannot be
# reversed (a back-reference, $) on a body past the cap fails as the probe's
# own configuration, never the API's, and at once.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
H=http://127.0.0.1:$HTTP

cat >"$WORK/cap.yaml" <<YAML
- probe: nomatch
  schedule: {every: 1m, timeout: 5s}
  steps:
    - {name: get, request: {url: "$H/letters"}, capture: {v: {regex: "([a-z]+)[0-9]"}}}
- probe: late
  schedule: {every: 1m, timeout: 5s}
  steps:
    - name: get
      request: {url: "$H/letters"}
      capture: {v: {regex: '([a-z]+)[0-9]|(a)"}', group: 2}, w: {regex: '"s":"(a{3})'}}
    - name: use
      request: {url: "$H/echo-headers", headers: {X-V: "{{ v }}", X-W: "{{ w }}"}}
      expect: {json: [{path: "\$[\"X-V\"]", equals: a}, {path: "\$[\"X-W\"]", equals: aaa}]}
- probe: backref
  schedule: {every: 1m, timeout: 5s}
  steps:
    - {name: get, request: {url: "$H/letters"}, capture: {v: {regex: '(a)\\1[0-9]'}}}
YAML
rc=0
timeout 120 "$B/tripline" once --json "$WORK/cap.yaml" >"$WORK/out.json" 2>"$WORK/err.txt" || rc=$?
[ "$rc" -ne 124 ] || fail "once still searching capture regexes after 120 s (each probe's timeout is 5 s)"
[ "$rc" -eq 1 ] || [ "$rc" -eq 3 ] || fail "exit $rc: $(cat "$WORK/err.txt")"
python3 - "$WORK/out.json" <<'PY'
import json, sys
runs = {r["probe"]: r for r in map(json.loads, open(sys.argv[1]))}
errors = []
def want(p, ok, bucket, reason, text=None):
    r = runs[p]
    got = (r["ok"], r["bucket"], r.get("reason"))
    if got != (ok, bucket, reason):
        errors.append(f"{p}: got {got}, want {(ok, bucket, reason)}: {r['failures']} {r['steps']}")
    if text and not any(text in f for s in r["steps"] for f in s.get("failures", [])) \
            and not any(text in f for f in r["failures"]):
        errors.append(f"{p}: no failure says {text!r}: {r['steps']}")
    # each run ends within its own timeout: the search is linear now
    if r["duration_ms"] >= 5000:
        errors.append(f"{p}: ran {r['duration_ms']} ms, past its 5 s timeout")
want("nomatch", False, "contract", "check", "did not match")
want("late", True, None, None)
want("backref", False, "agent", "probe_config", "too costly on a body of")
if errors:
    print("\n".join(errors)); sys.exit(1)
print("ok")
PY
