# A body that is a JSON value followed by more bytes (a PHP warning printed
# after the JSON, two documents written into one response) is not JSON: a
# client's JSON.parse throws on it. JSON checks and the issue schema failed
# nothing for it: the parser stopped after the first value.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
H=http://127.0.0.1:$HTTP

cat >"$WORK/strict.yaml" <<YAML
- probe: json-check
  steps:
    - name: get
      request: {url: "$H/trailing-json"}
      expect: {status: 200, json: [{path: \$.ok, equals: true}]}
- probe: issue-schema
  steps:
    - name: get
      request: {url: "$H/trailing-json?code=500"}
      expect: {status: 500}
- probe: clean
  steps:
    - name: get
      request: {url: "$H/ok"}
      expect: {status: 200, json: [{path: \$.ok, equals: true}]}
YAML
set +e
"$B/tripline" once --json "$WORK/strict.yaml" >"$WORK/out.json" 2>"$WORK/err.txt"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "exit $rc, expected 1: $(cat "$WORK/out.json" "$WORK/err.txt")"
python3 - "$WORK/out.json" <<'PY'
import json, sys
runs = {r["probe"]: r for r in map(json.loads, open(sys.argv[1]))}
errors = []
want = {"json-check": "$.ok: body is not JSON", "issue-schema": "body: not JSON"}
for probe, text in want.items():
    r = runs[probe]
    f = " | ".join(r["failures"])
    if r["ok"] or r["bucket"] != "contract" or text not in f:
        errors.append(f"{probe}: ok={r['ok']} bucket={r['bucket']} failures: {f}")
if not runs["clean"]["ok"]:
    errors.append(f"clean failed: {runs['clean']['failures']}")
if errors:
    print("\n".join(errors)); sys.exit(1)
print("ok")
PY
