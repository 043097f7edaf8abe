# JSON checks are exact where cJSON is not: an integer beyond 2^53 is held
# by its decimal text (9007199254740993 equalled 9007199254740992, a capture
# sent the rounded id on), and a string holding \u0000 is not its prefix
# ("abc\u0000def" equalled "abc", matched /^abc$/, and an issue code cut by
# it passed the issue schema).
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

line=$(start_fixture hostile_server)
HTTP=$(echo "$line" | sed -n 's/.*http=\([0-9]*\).*/\1/p')
H=http://127.0.0.1:$HTTP

probe() { # NAME EXPECT-JSON-ITEM: one step on /exact
    cat <<YAML
- probe: $1
  schedule: {every: 1m, timeout: 3s}
  steps:
    - {name: get, request: {url: "$H/exact"}, expect: {status: 200, json: [$2]}}
YAML
}
{
    probe id-rounded '{path: $.id, equals: 9007199254740992}'
    probe id-exact '{path: $.id, equals: 9007199254740993}'
    probe big-rounded '{path: "$.big[0]", equals: 12345678901234567891}'
    probe big-exact '{path: "$.big[0]", equals: 12345678901234567890}'
    probe id-gt '{path: $.id, gt: 9007199254740992}'
    probe id-lte '{path: $.id, lte: 9007199254740992}'
    probe filter-rounded '{path: "$.big[?(@ == 12345678901234567891)]", exists: true}'
    probe name-prefix '{path: $.name, equals: abc}'
    probe name-matches '{path: $.name, matches: "^abc$"}'
    cat <<YAML
- probe: schema
  schedule: {every: 1m, timeout: 3s}
  steps:
    - {name: get, request: {url: "$H/exact?code=500"}, expect: {status: 500}}
- probe: capture
  schedule: {every: 1m, timeout: 3s}
  steps:
    - {name: get, request: {url: "$H/exact"}, expect: {status: 200}, capture: {id: {json: $.id}}}
    - {name: echo, request: {url: "$H/echo-headers", headers: {Xid: "{{ id }}"}},
       expect: {status: 200, json: [{path: $.Xid, equals: "9007199254740993"}]}}
YAML
} >"$WORK/exact.yaml"

once_json "$WORK/exact.yaml" 1 # a probe failed
python3 - "$WORK/out.json" <<'PY'
import json, sys
errors = []
runs = {}
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    runs[r["probe"]] = r
want = {
    "id-rounded": ("contract", "check", "9007199254740993, expected 9007199254740992"),
    "id-exact": None,
    "big-rounded": ("contract", "check", "12345678901234567890, expected 12345678901234567891"),
    "big-exact": None,
    "id-gt": None,
    "id-lte": ("contract", "check", "9007199254740993, expected <= 9007199254740992"),
    "filter-rounded": ("contract", "check", "no match"),
    "name-prefix": ("contract", "check", "U+0000"),
    "name-matches": ("contract", "check", "U+0000"),
    "schema": ("contract", "schema", "U+0000"),
    "capture": None,
}
for p, w in want.items():
    r = runs.get(p)
    if not r:
        errors.append(f"{p}: no result"); continue
    got = (r.get("bucket"), r.get("reason"), r.get("failures"))
    if w is None:
        if not r["ok"]:
            errors.append(f"{p}: {got}, want pass")
    elif (got[0], got[1]) != w[:2] or not any(w[2] in f for f in r["failures"]):
        errors.append(f"{p}: {got}, want {w[0]}/{w[1]} with a failure holding {w[2]!r}")
if errors:
    print("\n".join(errors)); sys.exit(1)
print("ok")
PY

# A range bound a double cannot hold is refused where it is written.
cat >"$WORK/bound.yaml" <<YAML
probe: bound
steps:
  - {name: get, request: {url: "$H/exact"}, expect: {json: [{path: $.id, gt: 9007199254740993}]}}
YAML
set +e
"$B/tripline" check "$WORK/bound.yaml" >"$WORK/check.out" 2>&1
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "check of an inexact bound: exit $rc, want 1: $(cat "$WORK/check.out")"
grep -q "bound.yaml:3:[0-9]*: .*gt: 9007199254740993 is beyond 2^53" "$WORK/check.out" ||
    fail "check of an inexact bound: $(cat "$WORK/check.out")"
