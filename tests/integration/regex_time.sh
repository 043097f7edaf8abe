# A plain `matches` regex ("[a-z]+[0-9]") against a long run of letters with
# no digit (a hostile or just unlucky body, header or JSON string): glibc's
# regexec restarts at every offset and cost the square of the length, 8 s a
# 64 KB, so a 256 KB body held `once` (and the daemon's whole loop) for
# minutes past the probe's timeout. The one-pass form makes the work linear.
# Asserted without a clock: the body is 1000 KiB, where a search restarted at
# every offset needs half an hour of CPU and the one-pass form a fraction of
# a second, so a generous hang guard tells them apart on any machine under
# any load; what is asserted is the outcome of each check.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
H=http://127.0.0.1:$HTTP

cat >"$WORK/re.yaml" <<YAML
- probe: body
  schedule: {every: 1m, timeout: 5s}
  steps:
    - {name: get, request: {url: "$H/letters?kib=1000"}, expect: {body: {matches: "[a-z]+[0-9]"}}}
- probe: header
  schedule: {every: 1m, timeout: 5s}
  steps:
    - {name: get, request: {url: "$H/letters?kib=1000"}, expect: {headers: {X-Letters: {matches: "a+c"}}}}
- probe: json
  schedule: {every: 1m, timeout: 5s}
  steps:
    - {name: get, request: {url: "$H/letters?kib=1000"}, expect: {json: [{path: \$.s, matches: "(a|aa)*c"}]}}
- probe: found
  schedule: {every: 1m, timeout: 5s}
  steps:
    - name: get
      request: {url: "$H/letters?kib=1000"}
      expect: {body: {matches: "^\\\\{\"s\":\"a+\"}$"}, headers: {X-Letters: {matches: "^a{1000}"}},
               json: [{path: \$.s, matches: "a$"}]}
YAML
# the hang guard, not a bound: a search restarted at every offset would need 30 minutes
once_json "$WORK/re.yaml" 1
python3 - "$WORK/out.json" <<'PY'
import json, sys
runs = {r["probe"]: r for r in map(json.loads, open(sys.argv[1]))}
errors = []
for p in ("body", "header", "json"):
    r = runs[p]
    if r["ok"] or r["bucket"] != "contract":
        errors.append(f"{p}: ok={r['ok']} bucket={r['bucket']} {r['failures']}")
if not runs["found"]["ok"]:
    errors.append(f"found: {runs['found']['failures']}")
if errors:
    print("\n".join(errors)); sys.exit(1)
print("ok")
PY
