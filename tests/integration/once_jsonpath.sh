# JSON path wildcards, `..`, filters, length and ranges, and issue patterns
# with "*" in any segment, through `tripline once --json` against the demo
# API: one probe whose checks pass, one whose checks fail with the failing
# match named.
source "$TRIPLINE_SOURCE_DIR/tests/lib/common.sh"

# /v1/quote answers 429 with one issue pricing.rate_limit.exceeded (severity error).
D=$(start_fixture demo_api --port 0 | sed 's/^listening on //')

cat >"$WORK/jsonpath.yaml" <<YAML
- probe: wildcards-pass
  steps:
    - name: quote
      request: {url: "$D/v1/quote"}
      expect:
        status: 429
        json:
          - {path: "\$.issues[*].severity", equals: error}
          - {path: "\$..issue", matches: "^[a-z_]+\\\\.[a-z_]+\\\\.[a-z_]+\$"}
          - {path: "\$.issues[?(@.severity == 'error')]", length: 1}
          - {path: "\$.issues", length: {gte: 1, lte: 5}}
          - {path: "\$..message.*", type: string}
          - {path: "\$.issues[?(@.severity == 'info')]", exists: false}
        issues: ["*.rate_limit.*", "pricing.*.exceeded"]
      capture:
        code: {json: "\$..issue"}
    - name: echo
      request: {url: "$D/v1/health?code={{ code }}"}
      expect:
        json: [{path: "\$.*", length: 1}, {path: "\$..status", equals: ok}]
- probe: wildcards-fail
  steps:
    - name: quote
      request: {url: "$D/v1/quote"}
      expect:
        status: 429
        json:
          - {path: "\$.issues[*].severity", equals: warning}
          - {path: "\$.issues[*]", length: {gte: 2}}
          - {path: "\$..links.documentation", matches: "^https://status\\\\."}
        issues: ["payment.*.declined"]
YAML

"$B/tripline" check "$WORK/jsonpath.yaml" >/dev/null || fail "check refused the file: $("$B/tripline" check "$WORK/jsonpath.yaml" 2>&1)"
set +e
"$B/tripline" once --json "$WORK/jsonpath.yaml" >"$WORK/out.json" 2>"$WORK/err.txt"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "exit code $rc, expected 1 (one probe fails); stderr: $(cat "$WORK/err.txt")"

python3 - "$WORK/out.json" <<'PY'
import json, sys
runs = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs[r["probe"]] = r
errors = []
p = runs.get("wildcards-pass")
if not p or p["ok"] is not True:
    errors.append(f"wildcards-pass: {p}")
elif len(p["steps"]) != 2 or not all(s["ok"] for s in p["steps"]):
    errors.append(f"wildcards-pass steps: {p['steps']}")
f = runs.get("wildcards-fail")
want = [
    '$.issues[*].severity: match 1 of 1 ($.issues[0].severity): "error", expected "warning"',
    "$.issues[*]: 1 match, expected >= 2",
    "$..links.documentation: match 1 of 1 ($.issues[0].links.documentation): ",
    'expected issue "payment.*.declined" not found; got pricing.rate_limit.exceeded',
]
if not f or f["ok"] is not False:
    errors.append(f"wildcards-fail: {f}")
else:
    got = f["steps"][0]["failures"]
    for w in want:
        if not any(w in g for g in got):
            errors.append(f"wildcards-fail: no failure like {w!r} in {got}")
    if f["bucket"] != "contract":
        errors.append(f"wildcards-fail: bucket {f['bucket']} != contract")
if errors:
    print("\n".join(errors)); sys.exit(1)
print("ok:", len(runs), "runs")
PY
