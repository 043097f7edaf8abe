# A server that answers with something that is not HTTP (no status line, a
# status outside 100..999, a status line too long to keep) failed: the run is
# upstream/broken_response and `once` exits 1. It was bucket agent (curl says
# "unsupported protocol" or "out of memory" for these, the codes of a bad URL
# or of this host), so the outage was inconclusive (exit 3) and never escalated.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
H=http://127.0.0.1:$HTTP

for p in http09 bad-status long-status; do
    cat <<YAML
- probe: $p
  schedule: {every: 1m, timeout: 3s}
  steps:
    - {name: get, request: {url: "$H/$p"}, expect: {status: 200}}
YAML
done >"$WORK/garbage.yaml"
# A URL curl itself refuses is still this side's fault.
cat >"$WORK/badurl.yaml" <<YAML
probe: bad-url
vars: {base: "$H"}
steps:
  - {name: get, request: {url: "{{ base }}/ok"}, expect: {status: 200}}
YAML

set +e
"$B/tripline" once --json "$WORK/garbage.yaml" >"$WORK/out.json" 2>"$WORK/err.txt"
rc=$?
"$B/tripline" once --json --var 'base=http://[::1' "$WORK/badurl.yaml" >"$WORK/badurl.json" 2>>"$WORK/err.txt"
bad_rc=$?
set -e
[ "$rc" -eq 1 ] || fail "exit $rc, expected 1 (a probe failed): $(cat "$WORK/out.json" "$WORK/err.txt")"
python3 - "$WORK/out.json" "$WORK/badurl.json" "$bad_rc" <<'PY'
import json, sys
errors = []
runs = {}
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    r = json.loads(line)
    runs[r["probe"]] = r
for p in ("http09", "bad-status", "long-status"):
    r = runs.get(p)
    if not r:
        errors.append(f"{p}: no result"); continue
    if (r["bucket"], r["reason"]) != ("upstream", "broken_response"):
        errors.append(f"{p}: {r['bucket']}/{r['reason']}, want upstream/broken_response: {r['failures']}")
bad = [json.loads(l) for l in open(sys.argv[2])]
if sys.argv[3] != "3" or not bad or bad[0]["bucket"] != "agent":
    errors.append(f"bad URL: exit {sys.argv[3]}, {[(b['bucket'], b.get('reason')) for b in bad]}, want agent (exit 3)")
if errors:
    print("\n".join(errors)); sys.exit(1)
print("ok")
PY
