# A reply whose framing is broken (a Content-Length too big for any client,
# negative, two that disagree, one with Transfer-Encoding) fails as
# upstream/broken_response and `once` exits 1. curl read a 20-digit
# Content-Length as "until the close" and the probe passed; it took the last
# of two lengths and let chunked win over a length (the request-smuggling
# shape). Two equal lengths are well framed (RFC 9110 8.6) and pass.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
H=http://127.0.0.1:$HTTP

for c in huge negative conflict list te-cl same; do
    cat <<YAML
- probe: $c
  schedule: {every: 1m, timeout: 3s}
  steps:
    - {name: get, request: {url: "$H/framing?case=$c"}, expect: {status: 200, json: [{path: $.ok, equals: true}]}}
YAML
done >"$WORK/framing.yaml"

once_json "$WORK/framing.yaml" 1 # a probe failed
python3 - "$WORK/out.json" <<'PY'
import json, sys
errors = []
runs = {}
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    runs[r["probe"]] = r
for p in ("huge", "negative", "conflict", "list", "te-cl"):
    r = runs.get(p)
    if not r:
        errors.append(f"{p}: no result"); continue
    if (r.get('bucket'), r.get('reason')) != ("upstream", "broken_response"):
        errors.append(f"{p}: {r.get('bucket')}/{r.get('reason')}, want upstream/broken_response: {r.get('failures')}")
    elif not any("Content-Length" in f for f in r["failures"]):
        errors.append(f"{p}: the failure does not say what was broken: {r.get('failures')}")
r = runs.get("same")
if not r or not r["ok"]:
    errors.append(f"same: {r and (r.get('bucket'), r.get('reason'), r.get('failures'))}, want pass")
if errors:
    print("\n".join(errors)); sys.exit(1)
print("ok")
PY
