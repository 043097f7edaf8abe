# A `matches` regex with a back-reference cannot go into the one-pass form
# ("^.*(R)" would renumber its groups), so glibc searches it offset by offset
# at the cube of the length: against the 256 KB body of /letters it held
# `once` (and would hold the daemon's loop) without end. Like a capture's, it
# is searched only in a text of at most 256 bytes; past that the check fails
# as the probe's own configuration (agent/probe_config, "too costly"), never
# the API's. On a short text it matches as before.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
H=http://127.0.0.1:$HTTP

cat >"$WORK/re.yaml" <<YAML
- probe: body
  schedule: {every: 1m, timeout: 5s}
  steps:
    - {name: get, request: {url: "$H/letters"}, expect: {body: {matches: "(a)\\\\1x"}}}
- probe: header
  schedule: {every: 1m, timeout: 5s}
  steps:
    - {name: get, request: {url: "$H/letters"}, expect: {headers: {X-Letters: {matches: "(a)\\\\1c"}}}}
- probe: json
  schedule: {every: 1m, timeout: 5s}
  steps:
    - {name: get, request: {url: "$H/letters"}, expect: {json: [{path: \$.s, matches: "(aa)\\\\1b"}]}}
- probe: short
  schedule: {every: 1m, timeout: 5s}
  steps:
    - {name: get, request: {url: "$H/ok"}, expect: {body: {matches: "(\")[a-z]+\\\\1"},
                                                     json: [{path: \$.ok, matches: "^(t)r"}]}}
YAML
# the hang guard only: the work is bounded, the outcome is what is asserted
once_json "$WORK/re.yaml" 3 # the probe's own regex could not run
python3 - "$WORK/out.json" <<'PY'
import json, sys
runs = {r["probe"]: r for r in map(json.loads, open(sys.argv[1]))}
errors = []
for p in ("body", "header", "json"):
    r = runs[p]
    if (r["bucket"], r.get("reason")) != ("agent", "probe_config") or not any("too costly" in f for f in r["failures"]):
        errors.append(f"{p}: {r['bucket']}/{r.get('reason')} {r['failures']}")
if not runs["short"]["ok"]:
    errors.append(f"short: {runs['short']['failures']}")
if errors:
    print("\n".join(errors)); sys.exit(1)
print("ok")
PY
